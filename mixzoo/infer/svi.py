"""Minibatch SVI: a mean-field Normal posterior over the global sites (in unconstrained space),
the assignments summed out analytically in the model, the data subsampled.

Each step draws B indices with ``jax.random.randint`` in the driver (not with the plate's
``subsample_size``, whose shuffle is a B-step scan), gathers the batch and multiplies the
log-likelihood of the sites in the data plate by N / B: an unbiased estimate of the full-data
ELBO. The data-derived prior defaults are computed once on the full data and passed to the
model explicitly, so the batch never changes the prior. Memory per step is O(B K); the only
O(N) array is the data.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro.infer.util import potential_energy

from .._validation import check_bool, check_int, check_positive
from ._data import DataPlateWeights, full_data_hyperparameters, marginal_kwargs, place_data, resolve_marginalise
from ._init import restart_values
from ._objective import negative_log_joint
from ._structure import fitted_sites, inspect_model, site_transforms
from .map import MAPResult, _score, preconditioned_adam

#: The default start is the best of ``n_restarts`` initial values scored on this many points.
INIT_POINTS = 10_000


class SVIResult(NamedTuple):
    """Result of :func:`fit_svi`.

    ``params``: every global and deterministic site at the variational median (the Normal's
    mean mapped to the constrained space), by site name, shapes as in the model; this is what
    :func:`mixzoo.infer.classify` uses. ``guide_params``: ``{"loc": ..., "scale": ...}``, site
    name -> mean and standard deviation of the mean-field Normal in unconstrained space.
    ``samples``: site name -> (num_samples, ...) draws from the variational posterior (global
    and deterministic sites). ``losses``: (num_steps,) negative ELBO estimate of each step (for
    the full data). ``model_kwargs``: the keywords the model was fitted with, including the
    data-derived hyperparameters resolved on the full data.
    """

    params: dict
    guide_params: dict
    samples: dict
    losses: jnp.ndarray
    batch_size: int
    model: Callable
    model_kwargs: dict


def fit_svi(
    model,
    data,
    *,
    batch_size: int | None = None,
    num_steps: int = 2000,
    learning_rate: float = 0.05,
    num_samples: int = 1000,
    init=None,
    n_restarts: int = 100,
    init_scale: float = 0.01,
    seed: int = 0,
    shard_data: bool | None = None,
    **model_kwargs,
) -> SVIResult:
    """Mean-field SVI of ``model(data, **model_kwargs)`` with minibatches of ``batch_size``.

    The variational posterior of each global site is a Normal in unconstrained space (as
    ``AutoNormal``: Normal locs, LogNormal scales, logistic-normal weights and sticks). The
    assignments are summed out in the model (``marginal=True``, ``MixtureSameFamily``), so
    the model needs a ``marginal`` keyword. Adam steps are scaled by each site's prior spread
    (unit-free, as in :func:`fit_map`), with a cosine-decayed learning rate; all steps run in one
    compiled ``lax.scan``.

    :param data: shape (N,) or (N, D) as the model expects.
    :param batch_size: points per step, 1 <= B <= N; ``None`` (or N) uses all points every step
        (full batch; then the data are sharded over the devices, see ``shard_data``).
    :param num_samples: draws from the fitted posterior returned in ``samples``.
    :param init: ``None`` (the best of ``n_restarts`` :func:`fit_map`-style initial values,
        scored on ``INIT_POINTS`` random points) or a :class:`MAPResult` to start from.
    :param init_scale: initial posterior standard deviation as a fraction of the prior spread.
    :param shard_data: full batch only: split the data over all devices (``None``: when there
        are several). Minibatches are drawn from one unsharded copy.
    :returns: :class:`SVIResult`.
    """
    num_steps = check_int(num_steps, name="num_steps", minimum=1)
    check_positive(learning_rate, name="learning_rate")
    num_samples = check_int(num_samples, name="num_samples", minimum=1)
    n_restarts = check_int(n_restarts, name="n_restarts", minimum=1)
    check_positive(init_scale, name="init_scale")
    seed = check_int(seed, name="seed", minimum=0)
    if shard_data is not None:
        check_bool(shard_data, name="shard_data")
    if init is not None and not isinstance(init, MAPResult):
        raise TypeError(f"init must be None or a MAPResult from fit_map; got {type(init).__name__}")
    if batch_size is not None:
        batch_size = check_int(batch_size, name="batch_size", minimum=1)
    resolve_marginalise(model, "analytic")  # needs the marginal keyword
    structure = inspect_model(model, data, model_kwargs)  # the enumerated form; validates data
    host_data = np.asarray(data, dtype=np.dtype(jnp.result_type(float)))
    n = host_data.shape[0]
    if batch_size is not None and batch_size > n:
        raise ValueError(f"batch_size must be an integer between 1 and the number of points ({n}) or None; got {batch_size}")
    batch_size = n if batch_size is None else batch_size
    fit_kwargs = full_data_hyperparameters(model, host_data, model_kwargs)
    form_kwargs = marginal_kwargs(fit_kwargs, "analytic")

    rng = np.random.default_rng(seed)
    few = jnp.asarray(host_data[rng.choice(n, min(n, INIT_POINTS), replace=False)])
    starts, spread = restart_values(model, few, form_kwargs, structure, seed, n_restarts if init is None else 1, "data")
    if init is None:
        objective = negative_log_joint(model, few, fit_kwargs, structure, "analytic")
        scores = np.nan_to_num(np.asarray(_score(objective, starts, few, None, structure.n_components, n / few.shape[0])), nan=np.inf)
        start = {s: np.asarray(v)[int(np.argmin(scores))] for s, v in starts.items()}
    else:
        start = {s: np.asarray(init.params[s]) for s in structure.global_sites}

    if batch_size < n:
        placed, mask = jnp.asarray(host_data), None
    else:
        placed, mask = place_data(host_data, shard_data)
    constrain, unconstrain = site_transforms(structure)
    steps = _Steps(
        unconstrain=unconstrain,
        neg_elbo=functools.partial(_negative_elbo, model, form_kwargs, structure.data_frames),
        sites=lambda u, data: fitted_sites(model, data, fit_kwargs, constrain(u), structure.enum_site)[0],
        optimiser=preconditioned_adam(
            {"loc": spread, "log_scale": jax.tree_util.tree_map(jnp.ones_like, spread)}, learning_rate, num_steps
        ),
        n=n,
        batch_size=batch_size,
        num_steps=num_steps,
        num_samples=num_samples,
    )
    log_scale = {s: jnp.log(init_scale * v) for s, v in spread.items()}
    loc, sd, losses, params, samples = _run(steps, start, log_scale, placed, mask, jax.random.PRNGKey(seed))
    return SVIResult(
        params=params,
        guide_params={"loc": loc, "scale": sd},
        samples=samples,
        losses=losses,
        batch_size=batch_size,
        model=model,
        model_kwargs=fit_kwargs,
    )


class _Steps(NamedTuple):
    """The static part of :func:`_run` (hashable: functions and numbers). ``unconstrain``:
    constrained site values -> unconstrained; ``neg_elbo``: see :func:`_negative_elbo`;
    ``sites(u, data)``: every global and deterministic site at unconstrained values ``u``."""

    unconstrain: Callable
    neg_elbo: Callable
    sites: Callable
    optimiser: optax.GradientTransformation
    n: int
    batch_size: int
    num_steps: int
    num_samples: int


def _standard_normal(key, like: dict, shape=()) -> dict:
    """Independent N(0, 1) draws shaped ``shape + like[s].shape`` for every site ``s``."""
    keys = jax.random.split(key, len(like))
    return {s: jax.random.normal(k, shape + jnp.shape(v)) for k, (s, v) in zip(keys, sorted(like.items()))}


def _negative_elbo(model, model_kwargs, plates, variational, data, mask, key, scale):
    """One-draw reparameterised estimate of -ELBO for the mean-field Normal ``variational``
    (``loc`` and ``log_scale``, unconstrained) on ``data`` (a batch of B points, likelihood
    multiplied by ``scale`` = N / B). The entropy term is exact."""
    loc, log_scale = variational["loc"], variational["log_scale"]
    eps = _standard_normal(key, loc)
    u = {s: loc[s] + jnp.exp(log_scale[s]) * eps[s] for s in loc}
    weighted = DataPlateWeights(model, plates=plates, scale=scale, mask=mask)
    energy = potential_energy(weighted, (data,), model_kwargs, u)  # -log p(data, T(u)) - log|J|
    entropy = sum(jnp.sum(v) + 0.5 * v.size * (1.0 + math.log(2 * math.pi)) for v in log_scale.values())
    return energy - entropy


@functools.partial(jax.jit, static_argnums=0)
def _run(steps: _Steps, start, log_scale, data, mask, key):
    """The whole fit in one compiled call: ``steps.num_steps`` SVI steps in a ``lax.scan`` from
    the variational means at ``start`` (constrained) and log standard deviations ``log_scale``;
    each step draws ``steps.batch_size`` of the ``steps.n`` points with replacement
    (``randint``) unless the batch is the full data. Returns the fitted means and standard
    deviations (unconstrained), the (num_steps,) losses, the site values at the variational
    median and ``steps.num_samples`` draws from the variational posterior."""
    n, batch_size, optimiser = steps.n, steps.batch_size, steps.optimiser
    scale = n / batch_size
    key_fit, key_draw = jax.random.split(key)

    def step(carry, i):
        variational, state = carry
        key_batch, key_eps = jax.random.split(jax.random.fold_in(key_fit, i))
        if batch_size < n:
            batch = data[jax.random.randint(key_batch, (batch_size,), 0, n)]
        else:
            batch = data
        value, grads = jax.value_and_grad(steps.neg_elbo)(variational, batch, mask, key_eps, scale)
        updates, state = optimiser.update(grads, state, variational)
        return (jax.tree_util.tree_map(jnp.add, variational, updates), state), value

    variational = {"loc": steps.unconstrain(start), "log_scale": log_scale}
    carry = (variational, optimiser.init(variational))
    (variational, _), losses = jax.lax.scan(step, carry, jnp.arange(steps.num_steps))
    loc, sd = variational["loc"], jax.tree_util.tree_map(jnp.exp, variational["log_scale"])
    eps = _standard_normal(key_draw, loc, (steps.num_samples,))
    draws = {s: loc[s] + sd[s] * eps[s] for s in loc}
    return loc, sd, losses, steps.sites(loc, data), jax.vmap(steps.sites, (0, None))(draws, data)

