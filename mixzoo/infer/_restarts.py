"""Restarts: initial values, their scores, and the screening of candidates.

* :func:`restart_values`: initial values for many restarts and the prior spread used to
  precondition Adam, from one batch of prior draws in one compiled call. The randomness is
  drawn on the host (NumPy), so the call holds no random-number generator (except for
  k-means++ seeding).
* :func:`score`: the loss of every start in one vmapped call.
* :func:`candidates` and :func:`screen`: which starts to optimise, and the short optimisation
  that ranks them.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers
from numpyro.distributions import constraints
from numpyro.distributions.transforms import biject_to

from . import _programs
from ._host_draws import host_sample

#: Number of prior draws (at least) behind each site's median and spread.
SPREAD_DRAWS = 64
#: Compiler options of calls that run once on small inputs: no LLVM optimisation, which
#: halves the compilation of the rejection samplers (Gamma, Beta, Dirichlet) at no visible cost.
ONE_SHOT_OPTIONS = {"xla_backend_optimization_level": 0}


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


def _kmeans_pp(key, data, n, k):
    """k-means++ seeding: each next centre drawn with probability proportional to D^2, among
    the first ``n`` (traced) points of ``data`` (the rest is padding)."""
    flat = data.reshape(data.shape[0], -1)
    real = jnp.arange(flat.shape[0]) < n
    keys = jax.random.split(key, k)
    first = jax.random.randint(keys[0], (), 0, n)
    centres = jnp.zeros((k, flat.shape[1]), flat.dtype).at[0].set(flat[first])

    def body(i, centres):
        d2 = jnp.sum((flat[:, None, :] - centres[None, :, :]) ** 2, axis=-1)
        d2 = jnp.min(jnp.where(jnp.arange(k)[None, :] < i, d2, jnp.inf), axis=1)
        logits = jnp.where(real, jnp.log(jnp.maximum(d2, 1e-30)), -jnp.inf)
        idx = jax.random.categorical(keys[i], logits)
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


def restart_values(problem, seed: int, n_restarts: int, init: str) -> Restarts:
    """Initial values of every global site of ``problem`` for ``n_restarts`` restarts and the
    prior spread, in one call compiled once per problem signature without LLVM optimisation
    (see :func:`_restart_values`). ``seed`` (int) seeds the host's draws (prior draws, data
    points out of the problem's N) and k-means++."""
    spec = problem.spec
    structure = spec.structure
    rng = np.random.default_rng([seed, 0x5EED])
    n_draws = max(SPREAD_DRAWS, n_restarts // 2)
    seeds = rng.integers(0, 2**32, (n_draws, len(structure.global_sites), 4), dtype=np.uint32)
    if init == "data":
        locs = _data_indices(rng, problem.n, structure.n_components, n_restarts).astype(np.int32)
    else:
        locs = jax.random.split(jax.random.PRNGKey(int(rng.integers(2**31))), n_restarts)
    args = (problem.placed, np.int32(problem.n), problem.hyper, seeds, locs)
    run = functools.partial(_restart_values, spec, n_restarts, init)
    key = (spec, "restart_values", n_restarts, n_draws, init)
    return _programs.compiled(key, run, *args, options=ONE_SHOT_OPTIONS)(*args)


def _restart_values(spec, n_restarts: int, init: str, data, n, hyper, seeds, locs) -> Restarts:
    """``seeds.shape[0]`` joint prior draws of the global sites (NumPy on the host, see
    :func:`host_sample`; ``seeds``: uint32 (draws, sites, 4)) give the spread, the prior median
    and the prior draws of the restarts.

    Location sites (see :class:`ModelStructure`) start at data points (``init="data"``;
    ``locs``: (n_restarts, K) indices below ``n``) or at a k-means++ seeding (``locs``:
    n_restarts keys). Simplex sites start at their mean. The other sites (scales, stick
    fractions, concentration) start at their prior median (the median of the draws) in the
    even-numbered restarts and at a draw from the prior in the odd-numbered ones, so that the
    restarts also explore, for instance, the concentration of a Dirichlet process.
    """
    structure = spec.structure
    model = spec.model_fn(spec.objective_form)
    hidden = {structure.enum_site: jnp.zeros(data.shape[0], jnp.int32)}
    unobserved = handlers.substitute(model, data=hidden)
    supports = {s: structure.trace[s]["fn"].support for s in structure.global_sites}
    index = {s: i for i, s in enumerate(structure.global_sites)}

    def prior_draw(site_seeds):
        def draw(site):
            if site["type"] == "sample" and site["name"] in index and site["value"] is None:
                return host_sample(site["fn"], site_seeds[index[site["name"]]], site["kwargs"].get("sample_shape", ()))
            return None

        trace = handlers.trace(handlers.substitute(unobserved, substitute_fn=draw)).get_trace(data, None, hyper)
        return {s: trace[s]["value"] for s in structure.global_sites}

    drawn = jax.vmap(prior_draw)(seeds)
    spread = {s: _mad(biject_to(supports[s]).inv(v)) for s, v in drawn.items()}
    median = {s: _site_median(v, supports[s]) for s, v in drawn.items() if supports[s] is not constraints.simplex}
    # simplex sites at their mean, given the other sites at their median; no sampler runs
    at_median = handlers.substitute(handlers.substitute(unobserved, data=median), substitute_fn=_simplex_mean)
    centre = handlers.trace(at_median).get_trace(data, None, hyper)

    odd = jnp.arange(n_restarts) % 2 == 1
    starts = {}
    for site in structure.global_sites:
        if site in structure.location_sites:
            if init == "data":
                starts[site] = data[locs]
            else:
                starts[site] = jax.vmap(lambda k: _kmeans_pp(k, data, n, structure.n_components))(locs)
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


def _site_median(draws, support):
    """The median of a site's prior ``draws`` (leading axis): element by element where the
    support's bijection is (scales, locations), else in unconstrained space, mapped back (the
    element-wise median of Cholesky factors of correlation matrices is not one: its rows do not
    have unit length)."""
    transform = biject_to(support)
    site_shape = tuple(draws.shape[1:])
    if tuple(transform.inverse_shape(site_shape)) == site_shape:
        return _median(draws)
    return transform(_median(transform.inv(draws)))


def _mad(x):
    """1.4826 x the median absolute deviation along axis 0; 1 where not finite and positive."""
    spread = 1.4826 * _median(jnp.abs(x - _median(x)))
    return jnp.where(jnp.isfinite(spread) & (spread > 0), spread, 1.0)


#: Restarts are scored in chunks of at most this many (restarts x points x components) numbers.
SCORE_CHUNK_ELEMENTS = 2**25


def score(problem, loss, starts: dict, scale=None) -> np.ndarray:
    """Loss of every start (leading axis R of ``starts``) on ``problem``'s data in one call,
    compiled once per problem signature without LLVM optimisation (it runs once per fit: at
    N = 1e5 this cuts the compilation ~3x and costs less run time than it saves). Vmapped in
    chunks, so that memory stays bounded by ``SCORE_CHUNK_ELEMENTS`` for large N. ``scale``
    multiplies the likelihood (N / n when the problem's data are a subsample of n points).
    ``loss``: :func:`mixzoo.infer._objective.negative_log_joint` of the problem's spec.
    Returns (R,) host floats."""
    spec = problem.spec
    n_restarts = jax.tree_util.tree_leaves(starts)[0].shape[0]
    per_restart = int(np.prod(spec.data_shape)) * spec.structure.n_components
    chunk = int(max(1, min(n_restarts, SCORE_CHUNK_ELEMENTS // per_restart)))
    # the enumerated form (funsor) needs a Python scale; the analytic one takes it traced
    static = spec.marginalise == "enumerate"
    static_scale = (None if scale is None else float(scale)) if static else None
    scale = np.float32(1.0 if scale is None else scale)

    def run(starts, data, mask, hyper, scale):
        scale = static_scale if static else scale
        return jax.lax.map(lambda s: loss(s, data, mask, hyper, scale), starts, batch_size=chunk)

    args = (starts, problem.placed, problem.mask, problem.hyper, scale)
    key = (spec, "score", n_restarts, chunk, static, static_scale)
    return np.asarray(_programs.compiled(key, run, *args, options=ONE_SHOT_OPTIONS)(*args))


def candidates(init_losses: np.ndarray, n_best: int) -> np.ndarray:
    """The restarts to optimise: the best by initial loss, taken alternately from the restarts
    started at the prior median (even indices) and from a prior draw (odd indices)."""
    ranked = [
        r[np.argsort(np.nan_to_num(init_losses[r], nan=np.inf))]
        for r in (np.arange(0, init_losses.size, 2), np.arange(1, init_losses.size, 2))
    ]
    merged = [i for pair in zip(*ranked) for i in pair] + list(ranked[0][len(ranked[1]) :])
    return np.asarray(merged[:n_best])


def screen(begin, advance, start: dict, width: int, chunk: int, num_steps: int):
    """Screen the starts in ``start`` (site name -> constrained values, leading axis S) for one
    chunk of steps, ``width`` side by side, keep the ``width`` lowest and optimise them to
    ``num_steps`` steps. ``begin(start) -> carry``; ``advance(carry, offset) -> (carry, (losses
    (width, chunk), gradient norms))``: one compiled chunk, called with the same shapes every
    time (the last group of starts is padded with the first start). Returns the kept indices
    into the S starts (``width``,), the final carry, and the (width, num_steps) losses and
    gradient norms (site name -> (width, num_steps)), on the host."""
    n = jax.tree_util.tree_leaves(start)[0].shape[0]
    order = np.concatenate([np.arange(n), np.zeros(-n % width, dtype=int)])
    carries, first = [], []
    for group in order.reshape(-1, width):
        carry, history = advance(begin({s: v[group] for s, v in start.items()}), 0)
        carries.append(carry)
        first.append(jax.device_get(history))
    concat = functools.partial(jax.tree_util.tree_map, lambda *v: np.concatenate(v))
    carry, history = concat(*[jax.device_get(c) for c in carries]), concat(*first)
    screened = np.nan_to_num(history[0][:n, -1], nan=np.inf)
    kept = np.argsort(screened, kind="stable")[:width]
    carry = jax.tree_util.tree_map(lambda v: v[kept], carry)
    histories = [jax.tree_util.tree_map(lambda v: v[kept], history)]
    for offset in range(chunk, num_steps, chunk):
        carry, history = advance(carry, offset)
        histories.append(jax.device_get(history))
    losses, norms = jax.tree_util.tree_map(lambda *v: np.concatenate(v, axis=1)[:, :num_steps], *histories)
    return kept, carry, losses, norms
