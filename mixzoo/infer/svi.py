"""Minibatch SVI: a mean-field Normal posterior over the global sites (in unconstrained space),
the assignments summed out analytically in the model, the data subsampled.

Each step draws B indices with ``jax.random.randint`` in the driver (not with the plate's
``subsample_size``, whose shuffle is a B-step scan), gathers the batch and multiplies the
log-likelihood of the sites in the data plate by N / B: an unbiased estimate of the full-data
ELBO. The data-derived prior defaults are computed once on the full data (the bound problem's
hyperparameters), so the batch never changes the prior. Memory per step is O(B K); the only
O(N) array is the data.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer.util import potential_energy

from .._constraints import validated
from . import _programs
from ._data import resolve_marginalise
from ._objective import negative_log_joint
from ._optim import preconditioned_adam, scan_steps
from ._restarts import restart_values, score
from ._structure import fitted_sites
from .problem import Problem, as_problem
from .result import Result

#: The default start is the best of ``n_restarts`` initial values scored on this many points.
INIT_POINTS = 10_000


class SVIInfo(NamedTuple):
    """Extras of an SVI fit. ``guide_params``: ``{"loc": ..., "scale": ...}``, site name ->
    mean and standard deviation of the mean-field Normal in unconstrained space;
    ``samples``: site name -> (num_samples, ...) draws from the variational posterior (global
    and deterministic sites); ``batch_size``: points per step."""

    guide_params: dict
    samples: dict
    batch_size: int


@dataclasses.dataclass(frozen=True, repr=False)
class SVIResult(Result):
    """Result of :func:`fit_svi`. ``params``: every global and deterministic site at the
    variational median (the Normal's mean mapped to the constrained space), by site name, shapes
    as in the model; this is what :func:`mixzoo.infer.classify` uses. ``losses``: (num_steps,)
    negative ELBO estimate of each step (for the full data). ``info``: :class:`SVIInfo`
    (``guide_params``, ``samples``, ``batch_size`` are also attributes)."""


@validated("fit_svi")
def fit_svi(
    model,
    data=None,
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
    compiled ``lax.scan``, compiled once per problem signature, ``batch_size``, ``num_steps``
    and ``num_samples`` (a refit on new data of the same size compiles nothing).

    :param model: a model function, or a :class:`~mixzoo.infer.problem.Problem` (then no
        ``data``, model keywords or ``shard_data``).
    :param data: shape (N,) or (N, D) as the model expects.
    :param batch_size: points per step, 1 <= B <= N; ``None`` (or N) uses all points every step
        (full batch; then the data are sharded over the devices, see ``shard_data``).
    :param num_samples: draws from the fitted posterior returned in ``samples``.
    :param init: ``None`` (the best of ``n_restarts`` :func:`fit_map`-style initial values,
        scored on ``INIT_POINTS`` random points) or a :class:`MAPResult` to start from.
    :param init_scale: initial posterior standard deviation as a fraction of the prior spread.
    :param shard_data: full batch only: split the data over all devices (``None``: when there
        are several and at least ``mixzoo.infer.problem.SHARD_MIN_POINTS`` points). Minibatches
        are drawn from one unsharded copy.
    :returns: :class:`SVIResult`.
    """
    resolve_marginalise(model.model if isinstance(model, Problem) else model, "analytic")  # needs the marginal keyword
    problem = as_problem(model, data, model_kwargs, shard_data=shard_data)
    n = problem.n
    if batch_size is not None and batch_size > n:
        raise ValueError(f"batch_size must be an integer between 1 and the number of points ({n}) or None; got {batch_size}")
    batch_size = n if batch_size is None else batch_size
    minibatch = batch_size < n
    if minibatch and problem.spec.sharded:
        problem = problem.with_data(problem.data, shard=False, weights=problem.weights)

    rng = np.random.default_rng(seed)
    few = problem.subset(rng.choice(n, min(n, INIT_POINTS), replace=False))
    starts, spread = restart_values(few, seed, n_restarts if init is None else 1, "data")
    if init is None:
        scores = np.nan_to_num(score(few, negative_log_joint(few.spec), starts, n / few.n), nan=np.inf)
        start = {s: np.asarray(v)[int(np.argmin(scores))] for s, v in starts.items()}
    else:
        start = {s: np.asarray(init.params[s]) for s in problem.structure.global_sites}

    run = _program(problem.spec, batch_size if minibatch else None, num_steps, num_samples)
    log_scale = {s: jnp.log(init_scale * v) for s, v in spread.items()}
    loc, sd, losses, params, samples = jax.device_get(
        run(
            start,
            log_scale,
            problem.placed,
            problem.mask,
            problem.hyper,
            spread,
            np.float32(learning_rate),
            jax.random.PRNGKey(seed),
            np.int32(n),
        )
    )
    return SVIResult(
        problem=problem,
        params=params,
        losses=losses,
        info=SVIInfo(guide_params={"loc": loc, "scale": sd}, samples=samples, batch_size=batch_size),
    )


def _standard_normal(key, like: dict, shape=()) -> dict:
    """Independent N(0, 1) draws shaped ``shape + like[s].shape`` for every site ``s``."""
    keys = jax.random.split(key, len(like))
    return {s: jax.random.normal(k, shape + jnp.shape(v)) for k, (s, v) in zip(keys, sorted(like.items()))}


def _negative_elbo(model, variational, data, mask, hyper, key, scale):
    """One-draw reparameterised estimate of -ELBO for the mean-field Normal ``variational``
    (``loc`` and ``log_scale``, unconstrained) on ``data`` (a batch of B points, likelihood
    multiplied by ``scale`` = N / B). The entropy term is exact."""
    loc, log_scale = variational["loc"], variational["log_scale"]
    eps = _standard_normal(key, loc)
    u = {s: loc[s] + jnp.exp(log_scale[s]) * eps[s] for s in loc}
    energy = potential_energy(model, (data, mask, hyper, scale), {}, u)  # -log p(data, T(u)) - log|J|
    entropy = sum(jnp.sum(v) + 0.5 * v.size * (1.0 + math.log(2 * math.pi)) for v in log_scale.values())
    return energy - entropy


def _program(spec, batch_size: int | None, num_steps: int, num_samples: int):
    """The whole fit as one compiled program ``run(start, log_scale, data, mask, hyper, spread,
    learning_rate, key, n)``: ``num_steps`` SVI steps in one ``lax.scan`` from the variational
    means at ``start`` (constrained) and log standard deviations ``log_scale``; each step draws
    ``batch_size`` of the ``n`` (traced) points with replacement (``randint``), or uses all
    points (``batch_size=None``, padding masked by ``mask``). Returns the fitted means and
    standard deviations (unconstrained), the (num_steps,) losses, the site values at the
    variational median and ``num_samples`` draws from the variational posterior."""
    model = spec.model_fn("marginal")

    def sites(u, data, hyper):
        return fitted_sites(spec, data, hyper, spec.constrain(u))[0]

    def run(start, log_scale, data, mask, hyper, spread, learning_rate, key, n):
        optimiser = preconditioned_adam(
            {"loc": spread, "log_scale": jax.tree_util.tree_map(jnp.ones_like, spread)}, learning_rate, num_steps
        )
        key_fit, key_draw = jax.random.split(key)

        def objective(variational, i):
            key_batch, key_eps = jax.random.split(jax.random.fold_in(key_fit, i))
            if batch_size is None:
                return _negative_elbo(model, variational, data, mask, hyper, key_eps, None)
            index = jax.random.randint(key_batch, (batch_size,), 0, n)
            weights = None if mask.dtype == jnp.bool_ else mask[index]  # a weighted problem's weights
            return _negative_elbo(model, variational, data[index], weights, hyper, key_eps, n / batch_size)

        variational = {"loc": spec.unconstrain(start), "log_scale": log_scale}
        carry = (variational, optimiser.init(variational))
        (variational, _), losses = scan_steps(objective, optimiser, carry, num_steps, 0, num_steps, lambda v, g: v)
        loc, sd = variational["loc"], jax.tree_util.tree_map(jnp.exp, variational["log_scale"])
        eps = _standard_normal(key_draw, loc, (num_samples,))
        draws = {s: loc[s] + sd[s] * eps[s] for s in loc}
        return loc, sd, losses, sites(loc, data, hyper), jax.vmap(sites, (0, None, None))(draws, data, hyper)

    return _programs.jitted((spec, "svi", batch_size, num_steps, num_samples), run)
