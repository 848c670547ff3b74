"""Truncated stick-breaking Dirichlet-process Gaussian mixture (1-D, or D-dimensional with diagonal covariances)."""

from __future__ import annotations

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from .._constraints import validated
from .._reparam import REPARAM, beta_one_quantile
from ._common import loc_scale_priors, observe, point_shape, prepare_data, sample_locs_scales


def stick_breaking(sticks):
    """Weights (..., T) from stick fractions (..., T-1); the last weight takes the rest."""
    remaining = jnp.cumprod(1.0 - sticks, axis=-1)
    ones = jnp.ones(sticks.shape[:-1] + (1,), dtype=sticks.dtype)
    return jnp.concatenate([sticks, ones], axis=-1) * jnp.concatenate([ones, remaining], axis=-1)


def sample_sticks(concentration_shape, concentration_rate, t: int):
    """The ``concentration`` and ``sticks`` sites and the deterministic ``weights`` (T,) of a
    truncated stick-breaking prior (shared by :func:`dp_gmm` and ``full_gmm(weights_prior="dp")``).

    The sticks declare non-centred sampler coordinates (``infer={"reparam": ...}``, see
    :mod:`mixzoo._reparam`): NUTS draws ``v = (1 - stick)^concentration ~ Uniform(0, 1)`` at
    ``sticks_base`` and computes the sticks, which a Beta(1, a) stick's ``logit`` couples to the
    concentration in a funnel; every other driver (and the posterior) sees ``Beta(1, a)`` sticks."""
    concentration = numpyro.sample("concentration", dist.Gamma(concentration_shape, concentration_rate))
    with numpyro.plate("breaks", t - 1):
        sticks = numpyro.sample("sticks", dist.Beta(1.0, concentration), infer={REPARAM: beta_one_quantile()})
    return numpyro.deterministic("weights", stick_breaking(sticks))


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
    n_dims: int | None = None,
    n_obs: int | None = None,
    marginal: bool = False,
):
    """Dirichlet-process GMM on 1-D data, or on D-dimensional data with a diagonal covariance
    per component, truncated at T components.

    concentration ~ Gamma(concentration_shape, concentration_rate)
    sticks[t] ~ Beta(1, concentration)                    t = 1..T-1 ("breaks" plate)
    weights = stick_breaking(sticks)                      (deterministic site, shape (T,))
    (NUTS samples the sticks in non-centred coordinates, see :func:`sample_sticks`.)
    locs[k] ~ Normal(loc_mean, loc_sd)                    k = 1..T ("components" plate)
    scales[k] ~ LogNormal(log scale_median, scale_log_sd)
    assignment[i] ~ Categorical(weights)                   (enumerated)
    obs[i] ~ Normal(locs[assignment[i]], scales[assignment[i]])

    With data of shape (N, D), ``locs[k]`` and ``scales[k]`` are vectors of length D (event dim
    D, independent over d, as in :func:`mixzoo.models.diag_gmm`) and ``obs[i]`` is a point of
    length D; the data-derived defaults are per dimension.

    :param data: observations, shape (N,) or (N, D), or ``None`` to simulate ``n_obs`` points.
    :param truncation: T >= 2; check the weight left in the last component after fitting.
    :param concentration_shape, concentration_rate: Gamma prior on the concentration (> 0).
    :param n_dims: D; only used when ``data`` is ``None``: ``None`` (default) simulates 1-D
        data of shape (n_obs,), an integer D data of shape (n_obs, D). With data, ``None`` or
        the number of columns.
    Hyperparameters may be scalars, or arrays of shape (D,) for D-dimensional data; other
    keywords as in :func:`mixzoo.models.dirichlet_gmm`.
    Sites: ``concentration`` (), ``sticks`` (T-1,), ``weights`` (T,), ``locs`` (T,) or (T, D),
    ``scales`` (T,) or (T, D), ``assignment`` (N,), ``obs`` (N,) or (N, D).
    """
    data, n = prepare_data(data, n_obs, ndim=(1, 2))
    event = point_shape(data, n_dims, default=())
    t = truncation
    prior = loc_scale_priors(data, loc_mean=loc_mean, loc_sd=loc_sd, scale_median=scale_median, scale_log_sd=scale_log_sd)

    weights = sample_sticks(concentration_shape, concentration_rate, t)
    with numpyro.plate("components", t):
        locs, scales = sample_locs_scales(prior, event)
    observe(weights, locs, scales, data, n, marginal=marginal)
