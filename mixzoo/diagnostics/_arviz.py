"""The ArviZ bridge: a NUTS or SVI fit as an ``InferenceData`` with a marginal log-likelihood group.

``arviz.from_numpyro`` cannot build the ``log_likelihood`` group of an enumerated model
(``numpyro.infer.log_likelihood`` does not sum the enumerated assignment out). Every mixzoo
model takes ``marginal=True``, which replaces the enumerated assignment by
``MixtureSameFamily`` with the same global sites, so the pointwise marginal log-likelihood
log p(x_i | globals) = logsumexp_k (log w_k + log N(x_i | mu_k, sigma_k)) is the observed
site's log-density in that formulation, evaluated at the NUTS draws.
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
from numpyro import handlers
from numpyro.infer.util import potential_energy

from .._constraints import validated
from ..infer import NUTSResult, SVIResult, _programs
from ..infer.problem import check_new_data, n_draws

#: Name of the component dimension in every InferenceData built by :func:`to_arviz`.
COMPONENT_DIM = "component"
#: Name of the data-dimension dimension (D-dimensional models).
DATA_DIM = "dim"
#: Name of the second data dimension of (K, D, D) sites (full_gmm's ``scale_tril`` and
#: ``corr_cholesky``: rows ``dim``, columns ``dim2``).
DATA_DIM_2 = "dim2"
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


@validated("to_arviz")
def to_arviz(result, data=None, *, posterior_predictive: bool = False, seed: int = 0):
    """Convert a :func:`mixzoo.fit_nuts` or :func:`mixzoo.fit_svi` result to an ``arviz.InferenceData``.

    :param result: a result with posterior draws: a :class:`mixzoo.infer.NUTSResult` (C chains
        of S draws) or a :class:`mixzoo.infer.SVIResult` (its S variational draws, as C = 1
        chain); it carries its problem, so nothing else is needed.
    :param data: ``None`` (the data the result was fitted to) or other points of the same
        event shape to evaluate the pointwise log-likelihood at.
    :param posterior_predictive: also add a ``posterior_predictive`` group with one replicate
        data set per draw, shape (C, S, N) or (C, S, N, D).
    :returns: ``InferenceData`` with groups

        * ``posterior``: every global and deterministic site, dims (chain, draw, ...); an axis
          of length K at the front of a site's shape is named ``component``, the last axis of
          a D-dimensional site ``dim``, the last two axes of a (K, D, D) site (``full_gmm``'s
          ``scale_tril`` and ``corr_cholesky``) ``dim`` and ``dim2`` (row, column), an axis
          from another plate takes the plate's name;
        * ``sample_stats`` (NUTS only): ``diverging``, ``energy``, ``n_steps``, ``tree_depth``,
          ``acceptance_rate``, ``step_size`` and ``lp`` (minus the potential energy, the log
          joint in unconstrained space, as ``arviz.from_numpyro`` defines it), each (C, S);
        * ``log_likelihood``: the observed site's pointwise marginal log-likelihood, (C, S, N);
        * ``observed_data``: the data.

        ``arviz.loo``, ``arviz.waic`` and :func:`mixzoo.diagnostics.compare` work on it.
    """
    if not isinstance(result, (NUTSResult, SVIResult)):
        raise TypeError(f"result must be a NUTSResult from fit_nuts or an SVIResult from fit_svi; got {type(result).__name__}")
    problem = result.problem
    spec, structure = problem.spec, problem.structure
    if isinstance(result, NUTSResult):
        n_chains, per_chain = np.shape(result.diverging)
        draws = {name: np.asarray(v) for name, v in result.samples.items()}
        latent = {s: np.asarray(result.params[s]) for s in structure.global_sites}
    else:  # the variational draws as one chain
        draws = {name: np.asarray(v)[None] for name, v in result.samples.items()}
        latent = {s: np.asarray(result.samples[s]) for s in structure.global_sites}
        n_chains, per_chain = 1, n_draws(latent)
    if n_chains * per_chain != n_draws(latent):
        raise ValueError("result must be an unmodified NUTSResult: its params and diverging disagree in size")
    host = problem.data if data is None else check_new_data(problem, data)
    obs = spec.observed
    loglik = pointwise_log_likelihood(problem, latent, host)

    def grouped(x):
        x = np.asarray(x)
        return x.reshape((n_chains, per_chain) + x.shape[1:])

    k, event = structure.n_components, tuple(host.shape[1:])
    dims = {name: _site_dims(name, v.shape[2:], structure.trace.get(name), k, event) for name, v in draws.items()}
    dims[obs] = [OBS_DIM] + ([DATA_DIM] if event else [])
    groups = dict(posterior=draws, log_likelihood={obs: grouped(loglik)}, observed_data={obs: np.asarray(host)})
    if isinstance(result, NUTSResult):
        stats = {SAMPLE_STATS_NAMES[n]: np.asarray(v) for n, v in result.sample_stats.items() if n in SAMPLE_STATS_NAMES}
        stats["tree_depth"] = np.log2(np.maximum(stats["n_steps"], 1)).astype(int) + 1
        stats["lp"] = grouped(log_joint(problem, latent))
        groups["sample_stats"] = stats
    if posterior_predictive:
        groups["posterior_predictive"] = {obs: grouped(replicates(problem, latent, host, seed))}
    coords = {COMPONENT_DIM: np.arange(k), OBS_DIM: np.arange(host.shape[0])}
    if event:
        coords[DATA_DIM] = np.arange(event[0])
    if any(DATA_DIM_2 in d for d in dims.values()):
        coords[DATA_DIM_2] = np.arange(event[0])
    az = import_arviz()
    return az.from_dict(
        **groups,
        coords=coords,
        dims=dims,
        attrs={"inference_library": "numpyro", "mixzoo_model": getattr(result.model, "__name__", str(result.model))},
    )


def _observed_fn(spec, latent, data, hyper):
    """The observed site's distribution of the marginal model at one value of the globals."""
    model = handlers.substitute(handlers.seed(spec.model_fn("marginal"), 0), data=latent)
    return handlers.trace(model).get_trace(data, None, hyper)[spec.observed]["fn"]


def pointwise_log_likelihood(problem, latent: dict, data=None) -> np.ndarray:
    """log p(x_i | globals), the assignment summed out, for every draw and point: (S, M) from
    ``latent`` values with a leading (S,) axis, at ``data`` (M, ...) (``None``: the problem's
    data). One program per problem signature, S and padded M."""
    spec = problem.spec
    host, placed, _ = problem.place(problem.data if data is None else data)
    n = n_draws(latent)

    def run(latent, data, hyper):
        return jax.lax.map(lambda one: _observed_fn(spec, one, data, hyper).log_prob(data), latent, batch_size=64)

    out = _programs.jitted((spec, "loglik", n, placed.shape), run)(latent, placed, problem.hyper)
    return np.asarray(out)[:, : host.shape[0]]


def log_joint(problem, latent: dict) -> np.ndarray:
    """(S,) minus the potential energy (the log joint density in unconstrained space) of the
    marginal model on the problem's data at each draw of ``latent``."""
    spec = problem.spec
    model = spec.model_fn("marginal")
    n = n_draws(latent)

    def run(latent, data, mask, hyper):
        one = lambda v: -potential_energy(model, (data, mask, hyper), {}, spec.unconstrain(v))  # noqa: E731
        return jax.lax.map(one, latent, batch_size=64)

    return np.asarray(_programs.jitted((spec, "log_joint", n), run)(latent, problem.placed, problem.mask, problem.hyper))


def replicates(problem, latent: dict, data, seed: int) -> np.ndarray:
    """(S, M, ...) one replicate data set per draw, from the observed site's distribution."""
    spec = problem.spec
    host, placed, _ = problem.place(data)
    n = n_draws(latent)

    def run(latent, data, hyper, keys):
        return jax.lax.map(lambda a: _observed_fn(spec, a[0], data, hyper).sample(a[1]), (latent, keys), batch_size=64)

    keys = jax.random.split(jax.random.PRNGKey(seed), n)
    out = _programs.jitted((spec, "replicates", n, placed.shape), run)(latent, placed, problem.hyper, keys)
    return np.asarray(out)[:, : host.shape[0]]


@validated("compare")
def compare(fits: dict, *, ic: str = "loo", **kwargs):
    """``arviz.compare`` of named ``InferenceData`` (from :func:`to_arviz`), without the
    FutureWarning / pandas deprecation warnings arviz 0.23 emits. Returns its DataFrame, best
    model first (column ``elpd_loo`` or ``elpd_waic``)."""
    if not isinstance(fits, dict) or len(fits) < 2:
        raise TypeError(
            f"fits must be a dict name -> InferenceData with at least two entries; got {type(fits).__name__}"
            + (f" of length {len(fits)}" if isinstance(fits, dict) else "")
        )
    az = import_arviz()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return az.compare(fits, ic=ic, **kwargs)


def _site_dims(name, shape, site, k, event) -> list:
    """Dimension names of one posterior variable of shape ``shape`` (draw axes excluded)."""
    plates = {} if site is None else {f.size: f.name for f in site["cond_indep_stack"]}
    dims = []
    square = event and len(shape) >= 3 and shape[-2:] == (event[0], event[0])  # (K, D, D): a covariance factor
    for axis, size in enumerate(shape):
        if axis == 0 and size == k:
            dims.append(COMPONENT_DIM)
        elif square and axis == len(shape) - 2:
            dims.append(DATA_DIM)
        elif square and axis == len(shape) - 1:
            dims.append(DATA_DIM_2)
        elif event and axis == len(shape) - 1 and axis > 0 and size == event[0]:
            dims.append(DATA_DIM)
        elif axis == 0 and size in plates:
            dims.append(plates[size])
        else:
            dims.append(f"{name}_dim_{axis}")
    return dims
