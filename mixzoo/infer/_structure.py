"""Read what a driver needs from a model's trace, so that no driver hard-codes site names."""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from numpyro import handlers
from numpyro.distributions import constraints
from numpyro.distributions.transforms import biject_to

from .._validation import is_concrete


class ModelStructure(NamedTuple):
    """What one trace of ``model(data, **model_kwargs)`` says about the model.

    ``enum_site``: the discrete site marked ``infer={"enumerate": "parallel"}`` (the assignment);
    ``n_components``: its number of categories K; ``global_sites``: the continuous latent
    sample sites, in model order; ``deterministic_sites``: the deterministic sites;
    ``location_sites``: global sites with real support and shape (K,) + event shape of the data;
    ``data_frames``: the plates the enumerated site sits in; ``max_plate_nesting``;
    ``trace``: the trace itself, read abstractly (see :func:`_abstract_trace`: site values are
    ``jax.ShapeDtypeStruct`` objects, distributions give shapes and supports).
    """

    enum_site: str
    n_components: int
    global_sites: tuple
    deterministic_sites: tuple
    location_sites: tuple
    data_frames: tuple
    max_plate_nesting: int
    trace: dict


def _is_enumerated(site) -> bool:
    return site["type"] == "sample" and site.get("infer", {}).get("enumerate") == "parallel"


def _categorical(fn):
    """The Categorical under plate expansion (``ExpandedDistribution`` and friends)."""
    while not hasattr(fn, "probs") and hasattr(fn, "base_dist"):
        fn = fn.base_dist
    return fn


def origin(site):
    """``substitute_fn`` giving each latent sample site a value in its support without running
    its sampler: the image of 0 under ``biject_to(support)`` (zeros for a discrete site), with
    the site's full shape; ``None`` (no substitution) for every other site and for sites that
    already have a value (set by an inner handler)."""
    if site["type"] != "sample" or site["is_observed"] or site["value"] is not None:
        return None
    fn = site["fn"]
    shape = fn.shape(site["kwargs"].get("sample_shape", ()))
    if fn.support.is_discrete:
        return jnp.zeros(shape, jnp.int32)
    transform = biject_to(fn.support)
    return transform(jnp.zeros(transform.inverse_shape(shape)))


def _abstract_trace(model, data, model_kwargs: dict) -> dict:
    """The trace of ``model(data, **model_kwargs)`` with every latent site at :func:`origin`,
    recorded while JAX traces the model abstractly (``jax.make_jaxpr``): no operation is
    compiled or run. The data stay concrete, so the model's own checks of them run as usual.
    Each site's ``value`` is a ``jax.ShapeDtypeStruct``; its ``fn`` gives shapes and support
    only (its parameters are tracers of the finished trace). A model whose supports depend on
    computed values (``Uniform(0, data.max())``) is traced again with concrete values, which
    compiles its operations one by one."""

    def at_origin():  # seeded inside the abstract trace: no eager PRNGKey program
        return handlers.seed(handlers.substitute(model, substitute_fn=origin), 0)

    recorded = {}

    def record():
        recorded.update(handlers.trace(at_origin()).get_trace(data, **model_kwargs))

    jax.make_jaxpr(record)()
    if not all(
        is_concrete(getattr(site["fn"].support, "__dict__", {})) for site in recorded.values() if site["type"] == "sample"
    ):
        return handlers.trace(at_origin()).get_trace(data, **model_kwargs)
    trace = {}
    for name, site in recorded.items():
        value = site["value"]
        shape = jax.ShapeDtypeStruct(jnp.shape(value), jnp.result_type(value)) if value is not None else None
        trace[name] = dict(site, value=shape, args=(), kwargs=dict(site.get("kwargs", {}), rng_key=None))
    return trace


def inspect_model(model, data, model_kwargs: dict) -> ModelStructure:
    """Trace ``model(data, **model_kwargs)`` once with concrete data (this also runs the
    model's own argument checks) and classify its sites. The trace is abstract (see
    :func:`_abstract_trace`): nothing is compiled, no sampler runs."""
    trace = _abstract_trace(model, data, model_kwargs)
    enum = [name for name, site in trace.items() if _is_enumerated(site)]
    if len(enum) != 1:
        raise ValueError(
            f"model must have exactly one sample site marked infer={{'enumerate': 'parallel'}} "
            f"(the assignment); got {len(enum)}: {enum}. Do not pass marginal=True to the drivers."
        )
    enum_site = trace[enum[0]]
    n_components = int(_categorical(enum_site["fn"]).probs.shape[-1])
    global_sites = tuple(
        name for name, site in trace.items() if site["type"] == "sample" and not site["is_observed"] and not _is_enumerated(site)
    )
    for name in global_sites:
        if trace[name]["fn"].support.is_discrete:
            raise ValueError(f"model site {name!r} is discrete but not enumerated; only the assignment may be")
    event_shape = tuple(jnp.shape(data)[1:])
    location_sites = tuple(
        name
        for name in global_sites
        if trace[name]["fn"].support in (constraints.real, constraints.real_vector)
        and jnp.shape(trace[name]["value"]) == (n_components,) + event_shape
    )
    nesting = [-frame.dim for site in trace.values() if site["type"] == "sample" for frame in site["cond_indep_stack"]]
    return ModelStructure(
        enum_site=enum[0],
        n_components=n_components,
        global_sites=global_sites,
        deterministic_sites=tuple(n for n, s in trace.items() if s["type"] == "deterministic"),
        location_sites=location_sites,
        data_frames=tuple(enum_site["cond_indep_stack"]),
        max_plate_nesting=max(nesting, default=0),
        trace=trace,
    )


def site_transforms(structure: ModelStructure) -> tuple[Callable, Callable]:
    """``(constrain, unconstrain)``: map a dict of global site values (site name -> value) to
    and from unconstrained space, with ``biject_to`` of each site's support."""
    bijections = {s: biject_to(structure.trace[s]["fn"].support) for s in structure.global_sites}
    inverses = {s: b.inv for s, b in bijections.items()}
    return functools.partial(_apply, bijections), functools.partial(_apply, inverses)


def _apply(transforms: dict, values: dict) -> dict:
    """``{s: transforms[s](values[s])}``."""
    return {s: transforms[s](v) for s, v in values.items()}


#: Data points the model sees in :func:`fitted_sites` (the site values do not depend on them).
SITE_POINTS = 16


def fitted_sites(spec, data, hyper: dict, latent: dict, model=None):
    """``(values, weights)`` of ``spec``'s model with the global sites set to ``latent``:
    ``values`` maps every global and deterministic site (e.g. the stick-breaking ``weights`` of
    ``dp_gmm``) to its value, ``weights`` (K,) are the probabilities of the enumerated site's
    Categorical. ``latent``: global site name -> value (unbatched); ``data``: (N, ...), of
    which the model sees the first ``SITE_POINTS``; ``hyper``: the problem's traced keywords
    (the full data's hyperparameters); ``model``: the model as ``spec.model_fn("enumerated")``
    (the default) or another form of it with other latent sites (a sampler's coordinates, see
    :mod:`mixzoo.infer._coordinates`). Runs no sampler; traced inside the drivers' programs.
    """
    model = spec.model_fn("enumerated") if model is None else model
    enum_site = spec.structure.enum_site
    fixed = handlers.substitute(handlers.substitute(model, data=latent), substitute_fn=origin)
    trace = handlers.trace(fixed).get_trace(data[:SITE_POINTS], None, hyper)
    values = {
        name: site["value"]
        for name, site in trace.items()
        if (site["type"] == "deterministic")
        or (site["type"] == "sample" and not site["is_observed"] and not _is_enumerated(site))
    }
    return values, _categorical(trace[enum_site]["fn"]).probs
