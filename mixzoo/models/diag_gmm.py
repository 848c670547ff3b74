"""D-dimensional Gaussian mixture with diagonal covariances."""

from __future__ import annotations

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from .._constraints import validated
from ._common import loc_scale_priors, observe, point_shape, prepare_data, sample_locs_scales


@validated("diag_gmm")
def diag_gmm(
    data=None,
    *,
    n_components: int = 2,
    n_dims: int | None = None,
    weight_concentration: float = 1.0,
    loc_mean=None,
    loc_sd=None,
    scale_median=None,
    scale_log_sd=None,
    n_obs: int | None = None,
    marginal: bool = False,
):
    """Finite GMM on D-dimensional data with a diagonal covariance per component.

    weights ~ Dirichlet(weight_concentration * 1_K)
    locs[k, d] ~ Normal(loc_mean[d], loc_sd[d])                 ("components" plate, event dim D)
    scales[k, d] ~ LogNormal(log scale_median[d], scale_log_sd)
    assignment[i] ~ Categorical(weights)                         (enumerated)
    obs[i, :] ~ Normal(locs[assignment[i]], scales[assignment[i]])   (independent over d)

    :param data: observations, shape (N, D), or ``None`` to simulate ``n_obs`` points.
    :param n_components: K >= 1.
    :param n_dims: D; only needed when ``data`` is ``None`` (default 2), else read from data.
    Hyperparameters may be scalars or arrays of shape (D,); other keywords as in
    :func:`mixzoo.models.dirichlet_gmm`.
    Sites: ``weights`` (K,), ``locs`` (K, D), ``scales`` (K, D), ``assignment`` (N,), ``obs`` (N, D).
    """
    data, n = prepare_data(data, n_obs, ndim=2)
    k = n_components
    event = point_shape(data, n_dims, default=(2,))
    prior = loc_scale_priors(data, loc_mean=loc_mean, loc_sd=loc_sd, scale_median=scale_median, scale_log_sd=scale_log_sd)

    weights = numpyro.sample("weights", dist.Dirichlet(jnp.full(k, weight_concentration, dtype=jnp.result_type(float))))
    with numpyro.plate("components", k):
        locs, scales = sample_locs_scales(prior, event)
    observe(weights, locs, scales, data, n, marginal=marginal)
