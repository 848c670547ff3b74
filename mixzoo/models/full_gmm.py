"""D-dimensional Gaussian mixture with full covariances (Cholesky-factored), Dirichlet or stick-breaking weights."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from .._constraints import validated
from .._validation import is_concrete
from ._common import loc_scale_priors, point_shape, prepare_data, sample_locs_scales
from .dp_gmm import sample_sticks


def n_parameters(n_components: int, n_dims: int) -> int:
    """Free parameters of a K-component full-covariance mixture in D dimensions:
    K - 1 weights, K D locations, K D scales and K D (D - 1) / 2 correlations."""
    k, d = n_components, n_dims
    return (k - 1) + k * d + k * d + k * d * (d - 1) // 2


def min_points(n_components: int, n_dims: int, weights_prior: str = "dirichlet") -> int:
    """The fewest data points ``full_gmm`` takes: its free parameters (:func:`n_parameters`); for
    the DP (``"dp"``), whose truncation is a bound and not the number of clusters, those of one
    component, D (D + 3) / 2."""
    return n_parameters(n_components if weights_prior == "dirichlet" else 1, n_dims)


def _check_shape(data, n_components: int, weights_prior: str) -> None:
    """Full covariances need D >= 2 and at least as many points as free parameters (concrete
    data only); for the DP, whose truncation is a bound and not the number of clusters, those
    of one component."""
    if data is None or not is_concrete(data):
        return
    shape = np.shape(data)
    if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
        raise ValueError(
            "data must have D >= 2 columns for full_gmm (a 1-D covariance is one scale: use dirichlet_gmm or "
            f"dp_gmm for 1-D data); got an array of shape {shape}"
        )
    if len(shape) == 2:
        k = n_components if weights_prior == "dirichlet" else 1
        p = min_points(n_components, shape[1], weights_prior)
        if shape[0] < p:
            what = f"n_components={k}" if weights_prior == "dirichlet" else "one component of the DP"
            raise ValueError(
                f"data must have at least as many points as the model has free parameters ({p} for "
                f"{what} full covariances in D={shape[1]} dimensions); got {shape[0]} points "
                "(use fewer components, or diag_gmm)"
            )


@validated("full_gmm")
def full_gmm(
    data=None,
    *,
    n_components: int = 2,
    weights_prior: str = "dirichlet",
    n_dims: int | None = None,
    weight_concentration: float = 1.0,
    concentration_shape: float = 1.0,
    concentration_rate: float = 1.0,
    corr_concentration: float = 2.0,
    loc_mean=None,
    loc_sd=None,
    scale_median=None,
    scale_log_sd=None,
    n_obs: int | None = None,
    marginal: bool = False,
):
    """Finite (or truncated stick-breaking) GMM on D-dimensional data, D >= 2, with a full
    covariance per component given by its Cholesky factor.

    weights ~ Dirichlet(weight_concentration * 1_K)                 weights_prior="dirichlet"
    (concentration ~ Gamma(concentration_shape, concentration_rate),
     sticks[t] ~ Beta(1, concentration), weights = stick_breaking(sticks))   weights_prior="dp"
    locs[k, d] ~ Normal(loc_mean[d], loc_sd[d])                     ("components" plate, event dim D)
    scales[k, d] ~ LogNormal(log scale_median[d], scale_log_sd)     per-dimension standard deviations
    corr_cholesky[k] ~ LKJCholesky(D, corr_concentration)           Cholesky factor of a correlation matrix
    scale_tril[k] = diag(scales[k]) @ corr_cholesky[k]              (deterministic site)
    assignment[i] ~ Categorical(weights)                             (enumerated)
    obs[i, :] ~ MultivariateNormal(locs[z_i], scale_tril=scale_tril[z_i])

    Covariance[k] = scale_tril[k] scale_tril[k]^T, so ``scales[k, d]`` is the standard
    deviation of dimension d and the correlation matrix is ``corr_cholesky[k] corr_cholesky[k]^T``.
    No covariance is ever inverted: densities use triangular solves with ``scale_tril``.
    The data-derived defaults are those of :mod:`mixzoo.models._common`; the correlations are
    unit-free (the default LKJ concentration 2 is weakly regularising: it keeps a component on a
    few nearly collinear points from becoming singular).

    :param data: observations, shape (N, D) with D >= 2 and N at least the number of free
        parameters (:func:`n_parameters`; for ``"dp"`` those of one component, D (D + 3) / 2),
        or ``None`` to simulate ``n_obs`` points.
    :param n_components: K >= 1 (``"dirichlet"``) or the truncation T >= 2 (``"dp"``).
    :param weights_prior: ``"dirichlet"`` (finite mixture) or ``"dp"`` (truncated
        stick-breaking Dirichlet process with a learned concentration, as :func:`dp_gmm`).
    :param n_dims: D >= 2; only needed when ``data`` is ``None`` (default 2).
    :param corr_concentration: LKJ concentration (> 0; 1 is uniform over correlation matrices).
    Other hyperparameters as in :func:`mixzoo.models.diag_gmm` (scalars or arrays of shape (D,)).
    Sites: ``weights`` (K,) (deterministic for ``"dp"``, with ``concentration`` () and
    ``sticks`` (K-1,)), ``locs`` (K, D), ``scales`` (K, D), ``corr_cholesky`` (K, D, D),
    ``scale_tril`` (K, D, D), ``assignment`` (N,), ``obs`` (N, D).
    """
    if weights_prior == "dp" and n_components < 2:
        raise ValueError(f"n_components must be >= 2 with weights_prior='dp' (it is the truncation); got {n_components}")
    _check_shape(data, n_components, weights_prior)
    data, n = prepare_data(data, n_obs, ndim=2)
    k = n_components
    event = point_shape(data, n_dims, default=(2,))
    d = event[0]
    prior = loc_scale_priors(data, loc_mean=loc_mean, loc_sd=loc_sd, scale_median=scale_median, scale_log_sd=scale_log_sd)
    dtype = jnp.result_type(float)

    if weights_prior == "dp":
        weights = sample_sticks(concentration_shape, concentration_rate, k)
    else:
        weights = numpyro.sample("weights", dist.Dirichlet(jnp.full(k, weight_concentration, dtype=dtype)))
    with numpyro.plate("components", k):
        locs, scales = sample_locs_scales(prior, event)
        corr = numpyro.sample("corr_cholesky", dist.LKJCholesky(d, jnp.asarray(corr_concentration, dtype=dtype)))
    scale_tril = numpyro.deterministic("scale_tril", scales[..., :, None] * corr)
    with numpyro.plate("data", n):
        if marginal:
            components = dist.MultivariateNormal(locs, scale_tril=scale_tril)
            numpyro.sample("obs", dist.MixtureSameFamily(dist.Categorical(weights), components), obs=data)
        else:
            assignment = numpyro.sample("assignment", dist.Categorical(weights), infer={"enumerate": "parallel"})
            numpyro.sample("obs", dist.MultivariateNormal(locs[assignment], scale_tril=scale_tril[assignment]), obs=data)
