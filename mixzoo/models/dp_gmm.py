"""Truncated stick-breaking Dirichlet-process Gaussian mixture (1-D)."""

from __future__ import annotations

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from .._constraints import validated
from ._common import loc_scale_priors, observe, prepare_data


def stick_breaking(sticks):
    """Weights (..., T) from stick fractions (..., T-1); the last weight takes the rest."""
    remaining = jnp.cumprod(1.0 - sticks, axis=-1)
    ones = jnp.ones(sticks.shape[:-1] + (1,), dtype=sticks.dtype)
    return jnp.concatenate([sticks, ones], axis=-1) * jnp.concatenate([ones, remaining], axis=-1)


@validated("dp_gmm")
def dp_gmm(
    data=None,
    *,
    truncation: int = 20,
    concentration_shape: float = 1.0,
    concentration_rate: float = 1.0,
    loc_mean=None,
    loc_sd=None,
    scale_median=None,
    scale_log_sd=None,
    n_obs: int | None = None,
    marginal: bool = False,
):
    """Dirichlet-process GMM on 1-D data, truncated at T components.

    concentration ~ Gamma(concentration_shape, concentration_rate)
    sticks[t] ~ Beta(1, concentration)                    t = 1..T-1 ("breaks" plate)
    weights = stick_breaking(sticks)                      (deterministic site, shape (T,))
    locs[k] ~ Normal(loc_mean, loc_sd)                    k = 1..T ("components" plate)
    scales[k] ~ LogNormal(log scale_median, scale_log_sd)
    assignment[i] ~ Categorical(weights)                   (enumerated)
    obs[i] ~ Normal(locs[assignment[i]], scales[assignment[i]])

    :param data: observations, shape (N,), or ``None`` to simulate ``n_obs`` points.
    :param truncation: T >= 2; check the weight left in the last component after fitting.
    :param concentration_shape, concentration_rate: Gamma prior on the concentration (> 0).
    Other keywords as in :func:`mixzoo.models.dirichlet_gmm`.
    Sites: ``concentration`` (), ``sticks`` (T-1,), ``weights`` (T,), ``locs`` (T,),
    ``scales`` (T,), ``assignment`` (N,), ``obs`` (N,).
    """
    data, n = prepare_data(data, n_obs, ndim=1)
    t = truncation
    prior = loc_scale_priors(data, loc_mean=loc_mean, loc_sd=loc_sd, scale_median=scale_median, scale_log_sd=scale_log_sd)

    concentration = numpyro.sample("concentration", dist.Gamma(concentration_shape, concentration_rate))
    with numpyro.plate("breaks", t - 1):
        sticks = numpyro.sample("sticks", dist.Beta(1.0, concentration))
    weights = numpyro.deterministic("weights", stick_breaking(sticks))
    with numpyro.plate("components", t):
        locs = numpyro.sample("locs", dist.Normal(prior.loc_mean, prior.loc_sd))
        scales = numpyro.sample("scales", dist.LogNormal(prior.scale_log_median, prior.scale_log_sd))
    observe(weights, locs, scales, data, n, marginal=marginal)
