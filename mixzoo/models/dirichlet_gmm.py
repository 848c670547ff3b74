"""Finite 1-D Gaussian mixture with a Dirichlet prior on the weights."""

from __future__ import annotations

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from .._constraints import validated
from ._common import loc_scale_priors, observe, prepare_data


@validated("dirichlet_gmm")
def dirichlet_gmm(
    data=None,
    *,
    n_components: int = 2,
    shared_scale: bool = False,
    weight_concentration: float = 1.0,
    loc_mean=None,
    loc_sd=None,
    scale_median=None,
    scale_log_sd=None,
    n_obs: int | None = None,
    marginal: bool = False,
):
    """Finite GMM on 1-D data.

    weights ~ Dirichlet(weight_concentration * 1_K)
    locs[k] ~ Normal(loc_mean, loc_sd)                          k = 1..K ("components" plate)
    scale ~ LogNormal(log scale_median, scale_log_sd)           if shared_scale
    scales[k] ~ LogNormal(log scale_median, scale_log_sd)       otherwise
    assignment[i] ~ Categorical(weights)                         i = 1..N ("data" plate, enumerated)
    obs[i] ~ Normal(locs[assignment[i]], scale(s)[assignment[i]])

    :param data: observations, shape (N,), or ``None`` to simulate ``n_obs`` points.
    :param n_components: K >= 1.
    :param shared_scale: one ``scale`` for all components (site ``scale``, shape ()) or one per
        component (site ``scales``, shape (K,)).
    :param weight_concentration: Dirichlet concentration (> 0). Below 1 the MAP objective is
        unbounded at the edge of the simplex; the default 1 is uniform on the simplex.
    :param loc_mean, loc_sd, scale_median, scale_log_sd: prior hyperparameters in data units;
        ``None`` means the data-derived default of :mod:`mixzoo.models._common`.
    :param marginal: sum the assignment out analytically (no ``assignment`` site).
    Sites: ``weights`` (K,), ``locs`` (K,), ``scale`` () or ``scales`` (K,),
    ``assignment`` (N,), ``obs`` (N,).
    """
    data, n = prepare_data(data, n_obs, ndim=1)
    k = n_components
    prior = loc_scale_priors(data, loc_mean=loc_mean, loc_sd=loc_sd, scale_median=scale_median, scale_log_sd=scale_log_sd)

    weights = numpyro.sample("weights", dist.Dirichlet(jnp.full(k, weight_concentration, dtype=jnp.result_type(float))))
    scale_prior = dist.LogNormal(prior.scale_log_median, prior.scale_log_sd)
    if shared_scale:
        scales = numpyro.sample("scale", scale_prior)
    with numpyro.plate("components", k):
        locs = numpyro.sample("locs", dist.Normal(prior.loc_mean, prior.loc_sd))
        if not shared_scale:
            scales = numpyro.sample("scales", scale_prior)
    observe(weights, locs, scales, data, n, marginal=marginal)
