"""Initial values for the MAP restarts and the prior spread used to precondition Adam, from
one batch of prior draws in one compiled call. The randomness is drawn on the host (NumPy), so
the compiled call holds no random-number generator (except for k-means++ seeding)."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers
from numpyro.distributions import constraints
from numpyro.distributions.transforms import biject_to

from ._host_draws import host_sample

#: Number of prior draws (at least) behind each site's median and spread.
SPREAD_DRAWS = 64
#: Compiler options of calls that run once on small inputs: no LLVM optimisation, which
#: halves the compilation of the rejection samplers (Gamma, Beta, Dirichlet) at no visible cost.
ONE_SHOT_OPTIONS = {"xla_backend_optimization_level": 0}


def run_once(fn, *args, options=ONE_SHOT_OPTIONS):
    """``jax.jit(fn)(*args)`` compiled with the XLA compiler ``options`` (for a call made once)."""
    return jax.jit(fn).lower(*args).compile(options)(*args)


def _data_indices(rng: np.random.Generator, n: int, k: int, r: int) -> np.ndarray:
    """(r, k) indices of k distinct data points out of n for each of r restarts, uniform over the
    k-subsets (with repeats only if n < k). Floyd's algorithm on the host, O(r k^2) whatever n
    (the order within a restart is not uniform; the components are exchangeable).
    (``jax.random.choice(replace=False)`` permutes all n points: minutes for 100 restarts at
    n = 1e6.)"""
    if n < k:
        return rng.integers(0, n, (r, k))
    chosen = np.full((r, k), -1, dtype=np.int64)
    for i in range(k):
        j = n - k + i
        t = rng.integers(0, j + 1, r)
        chosen[:, i] = np.where((chosen[:, :i] == t[:, None]).any(axis=1), j, t)
    return chosen


def _kmeans_pp(key, data, k):
    """k-means++ seeding: each next centre drawn with probability proportional to D^2."""
    flat = data.reshape(data.shape[0], -1)
    keys = jax.random.split(key, k)
    first = jax.random.randint(keys[0], (), 0, flat.shape[0])
    centres = jnp.zeros((k, flat.shape[1]), flat.dtype).at[0].set(flat[first])

    def body(i, centres):
        d2 = jnp.sum((flat[:, None, :] - centres[None, :, :]) ** 2, axis=-1)
        d2 = jnp.min(jnp.where(jnp.arange(k)[None, :] < i, d2, jnp.inf), axis=1)
        idx = jax.random.categorical(keys[i], jnp.log(jnp.maximum(d2, 1e-30)))
        return centres.at[i].set(flat[idx])

    centres = jax.lax.fori_loop(1, k, body, centres)
    return centres.reshape((k,) + data.shape[1:])


class Restarts(NamedTuple):
    """Output of :func:`restart_values`. ``starts``: site name -> constrained initial values,
    shape (n_restarts,) + site shape. ``spread``: site name -> robust spread (1.4826 x median
    absolute deviation) of the site's prior draws in unconstrained space, shape of the
    unconstrained site; degenerate spreads are 1."""

    starts: dict
    spread: dict


def restart_values(model, data, model_kwargs, structure, seed: int, n_restarts: int, init: str) -> Restarts:
    """Initial values of every global site for ``n_restarts`` restarts and the prior spread,
    in one call compiled without LLVM optimisation (see :func:`_restart_values`). ``seed``
    (int) seeds the host's draws (prior draws, data points) and k-means++."""
    rng = np.random.default_rng([seed, 0x5EED])
    n_draws = max(SPREAD_DRAWS, n_restarts // 2)
    seeds = rng.integers(0, 2**32, (n_draws, len(structure.global_sites), 4), dtype=np.uint32)
    if init == "data":
        locs = _data_indices(rng, data.shape[0], structure.n_components, n_restarts)
    else:
        locs = jax.random.split(jax.random.PRNGKey(int(rng.integers(2**31))), n_restarts)
    run = functools.partial(_restart_values, model, model_kwargs, structure, n_restarts, init)
    return run_once(run, data, seeds, locs)


def _restart_values(model, model_kwargs, structure, n_restarts: int, init: str, data, seeds, locs) -> Restarts:
    """``seeds.shape[0]`` joint prior draws of the global sites (NumPy on the host, see
    :func:`host_sample`; ``seeds``: uint32 (draws, sites, 4)) give the spread, the prior median
    and the prior draws of the restarts.

    Location sites (see :class:`ModelStructure`) start at data points (``init="data"``;
    ``locs``: (n_restarts, K) indices) or at a k-means++ seeding (``locs``: n_restarts keys).
    Simplex sites start at their mean. The other sites (scales, stick fractions, concentration)
    start at their prior median (the median of the draws) in the even-numbered restarts and at a
    draw from the prior in the odd-numbered ones, so that the restarts also explore, for
    instance, the concentration of a Dirichlet process.
    """
    hidden = {structure.enum_site: jnp.zeros(data.shape[0], jnp.int32)}
    unobserved = handlers.substitute(model, data=hidden)
    supports = {s: structure.trace[s]["fn"].support for s in structure.global_sites}
    index = {s: i for i, s in enumerate(structure.global_sites)}

    def prior_draw(site_seeds):
        def draw(site):
            if site["type"] == "sample" and site["name"] in index and site["value"] is None:
                return host_sample(site["fn"], site_seeds[index[site["name"]]], site["kwargs"].get("sample_shape", ()))
            return None

        trace = handlers.trace(handlers.substitute(unobserved, substitute_fn=draw)).get_trace(data, **model_kwargs)
        return {s: trace[s]["value"] for s in structure.global_sites}

    drawn = jax.vmap(prior_draw)(seeds)
    spread = {s: _mad(biject_to(supports[s]).inv(v)) for s, v in drawn.items()}
    median = {s: _median(v) for s, v in drawn.items() if supports[s] is not constraints.simplex}
    # simplex sites at their mean, given the other sites at their median; no sampler runs
    at_median = handlers.substitute(handlers.substitute(unobserved, data=median), substitute_fn=_simplex_mean)
    centre = handlers.trace(at_median).get_trace(data, **model_kwargs)

    odd = jnp.arange(n_restarts) % 2 == 1
    starts = {}
    for site in structure.global_sites:
        if site in structure.location_sites:
            if init == "data":
                starts[site] = data[locs]
            else:
                starts[site] = jax.vmap(lambda k: _kmeans_pp(k, data, structure.n_components))(locs)
            continue
        value = centre[site]["value"]
        value = jnp.broadcast_to(value, (n_restarts,) + jnp.shape(value))
        if supports[site] is not constraints.simplex:
            # restart 2j + 1 takes draw j
            picked = jnp.take(drawn[site], jnp.arange(n_restarts) // 2, axis=0)
            value = jnp.where(odd.reshape((-1,) + (1,) * (value.ndim - 1)), picked, value)
        starts[site] = value
    return Restarts(starts=starts, spread=spread)


def _simplex_mean(site):
    if site["type"] == "sample" and not site["is_observed"] and site["fn"].support is constraints.simplex:
        return site["fn"].mean
    return None


def _median(x):
    """``jnp.median(x, axis=0)`` (the mean of the two middle values when the length is even) by
    one sort: it compiles in about half the time of ``jnp.median``'s general quantile code."""
    ordered = jnp.sort(x, axis=0)
    n = x.shape[0]
    return 0.5 * (ordered[(n - 1) // 2] + ordered[n // 2])


def _mad(x):
    """1.4826 x the median absolute deviation along axis 0; 1 where not finite and positive."""
    spread = 1.4826 * _median(jnp.abs(x - _median(x)))
    return jnp.where(jnp.isfinite(spread) & (spread > 0), spread, 1.0)
