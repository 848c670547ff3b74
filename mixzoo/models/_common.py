"""Pieces shared by the three mixture models: data handling, default priors, likelihood.

Default priors are *data-derived* so that the models are scale-free: with ``m`` and ``s``
the per-dimension mean and standard deviation of the data,

* component locations ~ Normal(``loc_mean`` = m, ``loc_sd`` = 2 s),
* component scales ~ LogNormal(log ``scale_median``, ``scale_log_sd``) with
  ``scale_median`` = s / 4 and ``scale_log_sd`` = 1.

Multiplying the data by ``c`` multiplies every default location and spread by ``c``, so
the posterior (and the MAP partition) is the same in any unit. With ``data=None`` (when the
model simulates) the defaults refer to standardised units: m = 0, s = 1. Any hyperparameter
given explicitly is used as is, in data units.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from .._validation import check_data, is_concrete

#: Factors that turn the data's spread into the default prior spreads (see module docstring).
DEFAULT_LOC_SD_FACTOR = 2.0
DEFAULT_SCALE_MEDIAN_FACTOR = 0.25
DEFAULT_SCALE_LOG_SD = 1.0


def prepare_data(data, n_obs, *, ndim: int | tuple):
    """Validate ``data`` (when concrete) and return ``(data, n)``.

    ``data`` is ``None`` (simulate ``n_obs`` points) or an array of shape ``(N,)``
    (``ndim=1``) or ``(N, D)`` (``ndim=2``); ``ndim=(1, 2)`` accepts either.
    """
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if data is None:
        if n_obs is None:
            raise ValueError("n_obs must be given (an integer >= 1) when data is None; got None")
        return None, n_obs
    if is_concrete(data):
        arr = check_data(data, ndim=ndims)
        if np.all(arr.std(axis=0) == 0):
            raise ValueError(
                f"data must not be constant (the default priors are scaled by its spread); "
                f"got {arr.shape[0]} copies of {arr[0].tolist()}"
            )
        data = jnp.asarray(arr, dtype=jnp.result_type(float))
    elif jnp.ndim(data) not in ndims:
        raise ValueError(f"data must have {' or '.join(map(str, ndims))} dimension(s); got shape {jnp.shape(data)}")
    if n_obs is not None and n_obs != data.shape[0]:
        raise ValueError(f"n_obs must equal the number of data points ({data.shape[0]}) or be None; got {n_obs}")
    return data, data.shape[0]


def point_shape(data, n_dims, *, default: tuple) -> tuple:
    """The shape of one data point: ``()`` for data of shape (N,), ``(D,)`` for (N, D); with
    ``data=None`` (simulation) ``(n_dims,)``, or ``default`` when ``n_dims`` is None. Checks
    ``n_dims`` against the data (it is only needed to simulate)."""
    if data is None:
        return default if n_dims is None else (n_dims,)
    if jnp.ndim(data) == 1:
        if n_dims is not None:
            raise ValueError(f"n_dims must be None for 1-D data of shape (N,) (it is read from the data); got {n_dims}")
        return ()
    d = data.shape[1]
    if n_dims is not None and n_dims != d:
        raise ValueError(f"n_dims must equal the number of data columns ({d}) or be None; got {n_dims}")
    return (d,)


class LocScalePriors(NamedTuple):
    """Resolved prior hyperparameters; each a scalar or an array of shape ``(D,)``."""

    loc_mean: jnp.ndarray
    loc_sd: jnp.ndarray
    scale_log_median: jnp.ndarray
    scale_log_sd: jnp.ndarray


def loc_scale_priors(data, *, loc_mean, loc_sd, scale_median, scale_log_sd) -> LocScalePriors:
    """Fill in the data-derived defaults described in the module docstring."""
    if data is None:
        center, spread = 0.0, 1.0
    else:
        center, spread = jnp.mean(data, axis=0), jnp.std(data, axis=0)
        spread = jnp.where(spread > 0, spread, jnp.max(spread))  # a constant column borrows the others' spread
    return LocScalePriors(
        loc_mean=jnp.asarray(center if loc_mean is None else loc_mean, dtype=float),
        loc_sd=jnp.asarray(DEFAULT_LOC_SD_FACTOR * spread if loc_sd is None else loc_sd, dtype=float),
        scale_log_median=jnp.log(
            jnp.asarray(DEFAULT_SCALE_MEDIAN_FACTOR * spread if scale_median is None else scale_median, dtype=float)
        ),
        scale_log_sd=jnp.asarray(DEFAULT_SCALE_LOG_SD if scale_log_sd is None else scale_log_sd, dtype=float),
    )


#: The hyperparameters whose defaults are derived from the data (see :func:`default_hyperparameters`).
DATA_DERIVED_HYPERPARAMETERS = ("loc_mean", "loc_sd", "scale_median")


def default_hyperparameters(data, weights=None) -> dict:
    """The data-derived defaults of the module docstring as explicit values, computed in
    float64 from concrete data of shape (N,) or (N, D): ``loc_mean`` and ``loc_sd`` and
    ``scale_median`` are floats (1-D data) or arrays of shape (D,).

    Passing them to a model together with a subset of the data gives the model the priors of
    the full data: this is how the minibatch and sharded drivers keep the priors of the full
    data set while the model only sees a batch (or a padded copy) of it.

    ``weights``: ``None`` or (N,) weights >= 0 (see :func:`mixzoo.bind`'s ``sample_weight``):
    the weighted mean and standard deviation, so that an integer weight is a repeated point and a
    zero weight a removed one.
    """
    arr = np.asarray(data, dtype=np.float64)
    if weights is None:
        center, spread = arr.mean(axis=0), arr.std(axis=0)
    else:
        w = np.asarray(weights, dtype=np.float64).reshape((-1,) + (1,) * (arr.ndim - 1))
        center = np.sum(w * arr, axis=0) / np.sum(w)
        spread = np.sqrt(np.sum(w * (arr - center) ** 2, axis=0) / np.sum(w))
    spread = np.where(spread > 0, spread, np.max(spread))
    values = {
        "loc_mean": center,
        "loc_sd": DEFAULT_LOC_SD_FACTOR * spread,
        "scale_median": DEFAULT_SCALE_MEDIAN_FACTOR * spread,
    }
    return {k: (float(v) if np.ndim(v) == 0 else v.astype(np.float32)) for k, v in values.items()}


def sample_locs_scales(prior: LocScalePriors, event: tuple):
    """The ``locs`` and ``scales`` sites of one component (call inside the components plate):
    ``locs ~ Normal(loc_mean, loc_sd)``, ``scales ~ LogNormal(log scale_median, scale_log_sd)``;
    for 1-D data (``event=()``) one number each, for D-dimensional data (``event=(D,)``) a
    vector each, independent over d (``.to_event(1)``, a diagonal covariance), every
    hyperparameter a scalar or an array of shape (D,)."""
    if not event:
        locs = numpyro.sample("locs", dist.Normal(prior.loc_mean, prior.loc_sd))
        scales = numpyro.sample("scales", dist.LogNormal(prior.scale_log_median, prior.scale_log_sd))
        return locs, scales
    locs = numpyro.sample("locs", dist.Normal(jnp.broadcast_to(prior.loc_mean, event), prior.loc_sd).to_event(1))
    scales = numpyro.sample(
        "scales", dist.LogNormal(jnp.broadcast_to(prior.scale_log_median, event), prior.scale_log_sd).to_event(1)
    )
    return locs, scales


def observe(weights, locs, scales, data, n: int, *, marginal: bool) -> None:
    """The likelihood shared by all models.

    Shapes: ``weights`` (K,), ``locs`` (K,) or (K, D), ``scales`` broadcastable to ``locs``;
    ``data`` (N,) or (N, D) or ``None``. With ``marginal=False`` each point gets an
    ``assignment`` site (Categorical, marked for parallel enumeration); with ``marginal=True``
    the assignment is summed out analytically by ``MixtureSameFamily`` and there is no
    ``assignment`` site (same posterior over the globals, faster for NUTS and MAP).
    """
    event_dim = jnp.ndim(locs) - 1
    scales = jnp.broadcast_to(scales, jnp.shape(locs))
    with numpyro.plate("data", n):
        if marginal:
            components = dist.Normal(locs, scales).to_event(event_dim)
            numpyro.sample("obs", dist.MixtureSameFamily(dist.Categorical(weights), components), obs=data)
        else:
            assignment = numpyro.sample("assignment", dist.Categorical(weights), infer={"enumerate": "parallel"})
            numpyro.sample("obs", dist.Normal(locs[assignment], scales[assignment]).to_event(event_dim), obs=data)
