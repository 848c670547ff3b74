"""Initial values for the MAP restarts and the prior spread used to precondition Adam."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from numpyro import handlers
from numpyro.distributions import constraints
from numpyro.infer import init_to_median

#: Number of prior draws used to measure each parameter's spread in unconstrained space.
SPREAD_DRAWS = 64


def _median_or_uniform(site):
    """Simplex sites start uniform (their mean); every other site at its prior median."""
    if site["type"] == "sample" and not site["is_observed"] and site["fn"].support is constraints.simplex:
        return site["fn"].mean
    return init_to_median(site, num_samples=15)


def _data_points(key, data, k):
    """k distinct data points (with repeats only if N < k); shape (k,) + data.shape[1:]."""
    n = data.shape[0]
    return data[jax.random.choice(key, n, (k,), replace=n < k)]


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


def initial_values(model, data, model_kwargs, structure, key, n_restarts: int, init: str) -> dict:
    """Constrained initial values of every global site, each with a leading (n_restarts,) axis,
    computed in one compiled call (see :func:`_initial_values`)."""
    run = functools.partial(_initial_values, model, model_kwargs, structure, n_restarts, init)
    return jax.jit(run)(data, key)


def _initial_values(model, model_kwargs, structure, n_restarts: int, init: str, data, key) -> dict:
    """Constrained initial values of every global site, each with a leading (n_restarts,) axis.

    Location sites (see :class:`ModelStructure`) start at data points (``init="data"``) or at a
    k-means++ seeding. Simplex sites start uniform. The other sites (scales, stick fractions,
    concentration) start at their prior median in the even-numbered restarts and at a draw from
    the prior in the odd-numbered ones, so that the restarts also explore, for instance, the
    concentration of a Dirichlet process.
    """
    key_base, key_locs, key_prior = jax.random.split(key, 3)
    hidden = {structure.enum_site: jnp.zeros(data.shape[0], jnp.int32)}
    unobserved = handlers.substitute(model, data=hidden)
    median = handlers.trace(
        handlers.substitute(handlers.seed(unobserved, key_base), substitute_fn=_median_or_uniform)
    ).get_trace(data, **model_kwargs)

    def prior_draw(k):
        trace = handlers.trace(handlers.seed(unobserved, k)).get_trace(data, **model_kwargs)
        return {s: trace[s]["value"] for s in structure.global_sites}

    drawn = jax.vmap(prior_draw)(jax.random.split(key_prior, n_restarts))
    odd = jnp.arange(n_restarts) % 2 == 1
    draw = _data_points if init == "data" else _kmeans_pp
    keys = jax.random.split(key_locs, n_restarts)
    values = {}
    for site in structure.global_sites:
        if site in structure.location_sites:
            values[site] = jax.vmap(lambda k: draw(k, data, structure.n_components))(keys)
            continue
        value = jnp.broadcast_to(median[site]["value"], (n_restarts,) + jnp.shape(median[site]["value"]))
        if structure.trace[site]["fn"].support is not constraints.simplex:
            value = jnp.where(odd.reshape((-1,) + (1,) * (value.ndim - 1)), drawn[site], value)
        values[site] = value
    return values


def prior_spread(model, data, model_kwargs, structure, key, to_unconstrained: dict) -> dict:
    """Robust spread (1.4826 x median absolute deviation) of each global site's prior draws,
    mapped to unconstrained space; same shapes as the sites. Degenerate spreads become 1.
    One compiled call."""
    run = functools.partial(_prior_spread, model, model_kwargs, structure, to_unconstrained)
    return jax.jit(run)(data, key)


def _prior_spread(model, model_kwargs, structure, to_unconstrained, data, key) -> dict:
    hidden = {structure.enum_site: jnp.zeros(data.shape[0], jnp.int32)}

    def one(k):
        trace = handlers.trace(handlers.seed(handlers.substitute(model, data=hidden), k)).get_trace(
            data, **model_kwargs
        )
        return {s: to_unconstrained[s](trace[s]["value"]) for s in structure.global_sites}

    draws = jax.vmap(one)(jax.random.split(key, SPREAD_DRAWS))

    def mad(x):
        spread = 1.4826 * jnp.median(jnp.abs(x - jnp.median(x, axis=0)), axis=0)
        return jnp.where(jnp.isfinite(spread) & (spread > 0), spread, 1.0)

    return {s: mad(v) for s, v in draws.items()}
