"""The ArviZ bridge: a NUTS fit as an ``InferenceData`` with a marginal log-likelihood group.

``arviz.from_numpyro`` cannot build the ``log_likelihood`` group of an enumerated model
(``numpyro.infer.log_likelihood`` does not sum the enumerated assignment out). Every mixzoo
model takes ``marginal=True``, which replaces the enumerated assignment by
``MixtureSameFamily`` with the same global sites, so the pointwise marginal log-likelihood
log p(x_i | globals) = logsumexp_k (log w_k + log N(x_i | mu_k, sigma_k)) is the observed
site's log-density in that formulation, evaluated at the NUTS draws.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers
from numpyro.infer import log_likelihood
from numpyro.infer.util import potential_energy, unconstrain_fn

from ..infer import NUTSResult
from ..infer._structure import inspect_model

#: Name of the component dimension in every InferenceData built by :func:`to_arviz`.
COMPONENT_DIM = "component"
#: Name of the data-dimension dimension (D-dimensional models).
DATA_DIM = "dim"
#: Name of the observation dimension.
OBS_DIM = "obs_id"

#: NumPyro extra field -> ArviZ sample_stats name (as ``arviz.from_numpyro`` maps them).
SAMPLE_STATS_NAMES = {
    "diverging": "diverging",
    "energy": "energy",
    "num_steps": "n_steps",
    "accept_prob": "acceptance_rate",
    "step_size": "step_size",
}


def import_arviz():
    """``import arviz`` without its FutureWarning about the coming refactor (arviz 0.23)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz

    return arviz


def to_arviz(result: NUTSResult, data, *, posterior_predictive: bool = False, seed: int = 0):
    """Convert a :func:`mixzoo.fit_nuts` result to an ``arviz.InferenceData``.

    :param result: a :class:`mixzoo.infer.NUTSResult` with C chains of S draws.
    :param data: the data the result was fitted to, shape (N,) or (N, D) (a NUTS result does
        not keep it).
    :param posterior_predictive: also add a ``posterior_predictive`` group with one replicate
        data set per draw, shape (C, S, N) or (C, S, N, D).
    :returns: ``InferenceData`` with groups

        * ``posterior``: every global and deterministic site, dims (chain, draw, ...); an axis
          of length K at the front of a site's shape is named ``component``, the last axis of
          a D-dimensional site ``dim``, an axis from another plate takes the plate's name;
        * ``sample_stats``: ``diverging``, ``energy``, ``n_steps``, ``tree_depth``,
          ``acceptance_rate``, ``step_size`` and ``lp`` (minus the potential energy, the log
          joint in unconstrained space, as ``arviz.from_numpyro`` defines it), each (C, S);
        * ``log_likelihood``: the observed site's pointwise marginal log-likelihood, (C, S, N);
        * ``observed_data``: the data.

        ``arviz.loo``, ``arviz.waic`` and :func:`mixzoo.diagnostics.compare` work on it.
    """
    if not isinstance(result, NUTSResult):
        raise TypeError(f"result must be a NUTSResult from fit_nuts; got {type(result).__name__}")
    if not isinstance(posterior_predictive, (bool, np.bool_)):
        raise TypeError(f"posterior_predictive must be True or False; got {posterior_predictive!r}")
    structure = inspect_model(result.model, data, result.model_kwargs)  # validates the data
    data = jnp.asarray(data, dtype=jnp.result_type(float))
    n_chains, n_draws = np.shape(result.diverging)
    if n_chains * n_draws != next(iter(result.params.values())).shape[0]:
        raise ValueError("result must be an unmodified NUTSResult: its params and diverging disagree in size")
    observed = [n for n, s in structure.trace.items() if s["type"] == "sample" and s["is_observed"]]
    if len(observed) != 1:
        raise ValueError(f"the model must have exactly one observed sample site; got {observed}")
    obs = observed[0]
    marginal = functools.partial(result.model, marginal=True)
    latent = {s: result.params[s] for s in structure.global_sites}

    loglik = pointwise_log_likelihood(marginal, latent, data, result.model_kwargs, obs)
    lp = jax.jit(jax.vmap(functools.partial(_log_joint, marginal, result.model_kwargs), (0, None)))(latent, data)

    def grouped(x):
        x = np.asarray(x)
        return x.reshape((n_chains, n_draws) + x.shape[1:])

    k, event = structure.n_components, tuple(data.shape[1:])
    posterior = {name: np.asarray(v) for name, v in result.samples.items()}
    dims = {name: _site_dims(name, v.shape[2:], structure.trace.get(name), k, event) for name, v in posterior.items()}
    dims[obs] = [OBS_DIM] + ([DATA_DIM] if event else [])
    stats = {SAMPLE_STATS_NAMES[n]: np.asarray(v) for n, v in result.sample_stats.items() if n in SAMPLE_STATS_NAMES}
    stats["tree_depth"] = np.log2(np.maximum(stats["n_steps"], 1)).astype(int) + 1
    stats["lp"] = grouped(lp)
    groups = dict(
        posterior=posterior,
        sample_stats=stats,
        log_likelihood={obs: grouped(loglik)},
        observed_data={obs: np.asarray(data)},
    )
    if posterior_predictive:
        keys = jax.random.split(jax.random.PRNGKey(seed), n_chains * n_draws)
        replicate = jax.jit(jax.vmap(functools.partial(_replicate, marginal, result.model_kwargs, obs), (0, None, 0)))
        groups["posterior_predictive"] = {obs: grouped(replicate(latent, data, keys))}
    coords = {COMPONENT_DIM: np.arange(k), OBS_DIM: np.arange(data.shape[0])}
    if event:
        coords[DATA_DIM] = np.arange(event[0])
    az = import_arviz()
    return az.from_dict(
        **groups,
        coords=coords,
        dims=dims,
        attrs={"inference_library": "numpyro", "mixzoo_model": getattr(result.model, "__name__", str(result.model))},
    )


def pointwise_log_likelihood(marginal_model, latent: dict, data, model_kwargs: dict, obs: str = "obs"):
    """log p(x_i | globals) for every draw and datum: (S, N) from ``latent`` values with a leading
    (S,) axis, computed on ``marginal_model`` (the model with ``marginal=True``)."""
    return log_likelihood(marginal_model, latent, data, parallel=True, **model_kwargs)[obs]


def compare(fits: dict, *, ic: str = "loo", **kwargs):
    """``arviz.compare`` of named ``InferenceData`` (from :func:`to_arviz`), without the
    FutureWarning / pandas deprecation warnings arviz 0.23 emits. Returns its DataFrame, best
    model first (column ``elpd_loo`` or ``elpd_waic``)."""
    if not isinstance(fits, dict) or len(fits) < 2:
        raise TypeError(f"fits must be a dict name -> InferenceData with at least two entries; got {type(fits).__name__}"
                        + (f" of length {len(fits)}" if isinstance(fits, dict) else ""))
    if ic not in ("loo", "waic"):
        raise ValueError(f"ic must be 'loo' or 'waic'; got {ic!r}")
    az = import_arviz()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return az.compare(fits, ic=ic, **kwargs)


def _log_joint(marginal_model, model_kwargs, latent, data):
    """Minus the potential energy (log joint density in unconstrained space) at one draw."""
    unconstrained = unconstrain_fn(marginal_model, (data,), model_kwargs, latent)
    return -potential_energy(marginal_model, (data,), model_kwargs, unconstrained)


def _replicate(marginal_model, model_kwargs, obs, latent, data, key):
    """One replicate data set drawn from the observed site's distribution at one draw."""
    trace = handlers.trace(handlers.substitute(handlers.seed(marginal_model, 0), data=latent)).get_trace(
        data, **model_kwargs
    )
    return trace[obs]["fn"].sample(key)


def _site_dims(name, shape, site, k, event) -> list:
    """Dimension names of one posterior variable of shape ``shape`` (draw axes excluded)."""
    plates = {} if site is None else {f.size: f.name for f in site["cond_indep_stack"]}
    dims = []
    for axis, size in enumerate(shape):
        if axis == 0 and size == k:
            dims.append(COMPONENT_DIM)
        elif event and axis == len(shape) - 1 and axis > 0 and size == event[0]:
            dims.append(DATA_DIM)
        elif axis == 0 and size in plates:
            dims.append(plates[size])
        else:
            dims.append(f"{name}_dim_{axis}")
    return dims
