"""Label-invariant test quantities for simulation-based calibration.

A test quantity maps the global sites of a mixture to numbers that do not change when the
components are relabelled (a component-indexed site such as ``locs`` is not one: its k-th
entry is a different component in every posterior mode). Each quantity is a callable
``fn(sites, problem) -> (S, m)`` array: ``sites`` maps site name -> values with a leading
draw axis (S, ...) (the model's global and deterministic sites), ``problem`` is the bound
:class:`~mixzoo.infer.problem.Problem` of the simulated data set (its data, hyperparameters
and compiled programs). ``m`` is the number of scalar quantities it returns (one column each).

:func:`default_quantities` gives, for a mixzoo model: the sorted component locations (per
dimension), the sorted scales (or the shared scale), the largest weight, the number of
components with weight above 1/N, the DP concentration, and the log-likelihood of the data.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer.util import log_likelihood as numpyro_log_likelihood

from .._constraints import validated
from ..infer import _programs


def _columns(values, name: str) -> tuple:
    """(S, m) columns and their names: a (S,) array is one column ``name``, (S, K) gives
    ``name[k]``, (S, K, D) gives ``name[k,d]``."""
    v = np.asarray(values, dtype=float)
    flat = v.reshape(v.shape[0], -1)
    if v.ndim == 1:
        return flat, [name]
    return flat, [f"{name}[{','.join(map(str, idx))}]" for idx in np.ndindex(*v.shape[1:])]


def sorted_site(site: str):
    """The values of the component-indexed ``site`` ((S, K) or (S, K, D)) sorted over the
    components, each dimension on its own: (S, K) or (S, K * D) columns."""

    def fn(sites, problem):
        return np.sort(np.asarray(sites[site]), axis=1)

    fn.__name__ = f"sorted_{site}"
    return fn


def site_value(site: str):
    """A global site that is label-invariant as it is (``scale``, ``concentration``)."""

    def fn(sites, problem):
        return np.asarray(sites[site])

    fn.__name__ = site
    return fn


def heaviest(site: str):
    """``site`` ((S, K) or (S, K, D)) of the component with the largest weight: (S,) or (S, D)."""

    def fn(sites, problem):
        top = np.argmax(np.asarray(sites["weights"]), axis=-1)
        return np.take_along_axis(np.asarray(sites[site]), top.reshape((-1,) + (1,) * (np.ndim(sites[site]) - 1)), 1)[:, 0]

    fn.__name__ = f"heaviest_{site}"
    return fn


def largest_weight(sites, problem):
    """The largest component weight, (S,)."""
    return np.max(np.asarray(sites["weights"]), axis=-1)


def n_active(sites, problem):
    """The number of components with weight above 1/N, (S,) (an integer: its ties are broken
    at random when ranked)."""
    return np.sum(np.asarray(sites["weights"]) > 1.0 / problem.n, axis=-1).astype(float)


def log_likelihood(sites, problem):
    """log p(data | globals) of the simulated data set, (S,): the model's marginal form
    (assignments summed out) summed over the points, padding masked; one compiled program per
    problem signature and number of draws (the data and hyperparameters are arguments)."""
    spec = problem.spec
    model = spec.model_fn("marginal")
    latent = {s: jnp.asarray(sites[s]) for s in spec.structure.global_sites}
    n = int(next(iter(latent.values())).shape[0])

    def run(latent, data, mask, hyper):
        pointwise = numpyro_log_likelihood(model, latent, data, mask, hyper, batch_ndims=1)[spec.observed]
        return jnp.sum(jnp.where(mask, pointwise, 0.0), axis=-1)

    program = _programs.jitted((spec, "sbc_log_likelihood", n), run)
    return np.asarray(jax.device_get(program(latent, problem.placed, problem.mask, problem.hyper)))


@validated("default_quantities")
def default_quantities(sites) -> dict:
    """Name -> quantity for a mixzoo model whose fitted sites are ``sites`` (site names, or a
    dict keyed by them): ``locs`` and ``scales`` sorted (or the shared ``scale``), ``concentration`` (DP),
    ``max_weight``, ``n_active`` (weights above 1/N), ``log_lik``. A DP's components beyond
    those the data use are draws from the prior, so for a DP the sorted locations and scales
    are left out; its concentration, largest weight and active count carry the clustering."""
    if isinstance(sites, str) or not all(isinstance(k, str) for k in sites):
        raise TypeError(
            f"sites must be the site names of a mixzoo model's fit (a list or dict of str); got {type(sites).__name__}"
        )
    sites = set(sites)
    missing = {"weights", "locs"} - sites
    if missing:
        raise ValueError(f"sites must include 'weights' and 'locs' (a mixzoo mixture); missing {sorted(missing)}")
    out = {}
    dp = "concentration" in sites
    if not dp:
        out["locs"] = sorted_site("locs")
        out["scales" if "scales" in sites else "scale"] = sorted_site("scales") if "scales" in sites else site_value("scale")
    else:
        out["concentration"] = site_value("concentration")
        out["top_loc"] = heaviest("locs")
        out["top_scale"] = heaviest("scales")
    out["max_weight"] = largest_weight
    out["n_active"] = n_active
    out["log_lik"] = log_likelihood
    return out


def evaluate_quantities(quantities: dict, sites: dict, problem) -> tuple:
    """``(values, names)``: the (S, Q) matrix of all quantities' columns on ``sites`` (draws
    (S, ...)) and the Q column names."""
    blocks, names = [], []
    for name, fn in quantities.items():
        values = np.asarray(fn(sites, problem), dtype=float)
        if values.ndim == 0 or values.shape[0] != next(iter(sites.values())).shape[0]:
            raise ValueError(
                f"quantities[{name!r}] must return an array with one row per draw, shape (S,) or (S, m); "
                f"got shape {values.shape} for S = {next(iter(sites.values())).shape[0]}"
            )
        cols, col_names = _columns(values, name)
        blocks.append(cols)
        names.extend(col_names)
    return np.concatenate(blocks, axis=1), names
