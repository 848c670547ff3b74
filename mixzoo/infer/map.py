"""MAP estimation, best of many vectorised initialisations; the assignment summed out analytically
(``MixtureSameFamily``) or by enumeration (AutoDelta + ``TraceEnum_ELBO``)."""

from __future__ import annotations

import functools
import warnings
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro.distributions import constraints

from .._validation import check_bool, check_int, check_positive
from ._data import full_data_hyperparameters, marginal_kwargs, place_data, resolve_marginalise
from ._init import restart_values, run_once
from ._objective import global_guide, negative_log_joint  # noqa: F401  (global_guide re-exported)
from ._structure import ModelStructure, fitted_sites, inspect_model, site_transforms

#: A fitted component whose weight falls below this is reported as collapsed.
COLLAPSE_WEIGHT = 1e-3


class MAPResult(NamedTuple):
    """Result of :func:`fit_map`.

    ``params``: constrained MAP value of every global and deterministic site, by site name
    (e.g. ``weights`` (K,), ``locs`` (K,) or (K, D)). ``losses``: (num_steps,) negative log
    joint (the ELBO of a Delta guide) at each step. ``grad_norms``: site name -> (num_steps,)
    gradient norm in unconstrained space. ``init_losses``: (n_restarts,) loss of each
    initialisation; ``best_restart`` is the one optimised. ``model`` and ``model_kwargs``
    are kept for :func:`mixzoo.infer.classify` and the diagnostics.
    """

    params: dict
    losses: jnp.ndarray
    grad_norms: dict
    init_losses: jnp.ndarray
    best_restart: int
    model: Callable
    model_kwargs: dict


def fit_map(
    model,
    data,
    *,
    n_restarts: int = 100,
    n_best: int = 4,
    n_screen: int = 32,
    init: str = "data",
    num_steps: int = 1000,
    learning_rate: float = 0.1,
    seed: int = 0,
    marginalise: str | None = None,
    shard_data: bool | None = None,
    **model_kwargs,
) -> MAPResult:
    """MAP fit of ``model(data, **model_kwargs)`` with the assignment marginalised.

    ``n_restarts`` initialisations (component locations at random data points for
    ``init="data"``, at a k-means++ seeding for ``init="kmeans++"``; the other sites at their prior
    median in half of them, drawn from the prior in the other half, simplex sites uniform) are
    scored in one vectorised loss evaluation. The ``n_screen`` with the lowest initial loss (half
    from each half) are screened: optimised, ``n_best`` side by side, for the first
    ``1 / SCREEN_CHUNKS`` of the ``num_steps`` steps. The ``n_best`` with the lowest loss after
    screening continue (one vmapped ``lax.scan`` per chunk of steps, compiled once) to
    ``num_steps`` steps of Adam (cosine-decayed learning rate; each site's step scaled by its
    prior spread in unconstrained space, so the optimisation does not depend on the data's
    units). The initial loss is a poor guide to the basin a start ends in (a truncated DP
    started with many similar weights settles at a high concentration); a short optimisation
    is a much better one. The result is the optimised candidate with the lowest final loss among those in which no
    component collapsed (weight < ``COLLAPSE_WEIGHT``; with a weight concentration below 1 the
    MAP objective is unbounded at the edge of the simplex, so a collapsed fit can have the
    lowest loss). If every candidate collapsed, the best is returned with a ``RuntimeWarning``.
    ``n_best=1, n_screen=1`` is the NumPyro tutorial's rule (optimise the best initial value
    only).

    :param data: shape (N,) or (N, D) as the model expects.
    :param marginalise: how the assignment is summed out: ``"analytic"`` (the model called with
        ``marginal=True``, ``MixtureSameFamily``), ``"enumerate"`` (``TraceEnum_ELBO``), or
        ``None``: analytic when the model has a ``marginal`` keyword, else enumerate. Both give
        the same objective and gradients; analytic is faster.
    :param shard_data: split the data over all devices along N (``jax.sharding``, 1-D mesh);
        ``None`` shards when there is more than one device. Same result as one device up to
        float rounding.
    :returns: :class:`MAPResult`.
    """
    n_restarts = check_int(n_restarts, name="n_restarts", minimum=1)
    n_best = check_int(n_best, name="n_best", minimum=1)
    n_screen = check_int(n_screen, name="n_screen", minimum=1)
    num_steps = check_int(num_steps, name="num_steps", minimum=1)
    check_positive(learning_rate, name="learning_rate")
    if init not in ("data", "kmeans++"):
        raise ValueError(f"init must be 'data' or 'kmeans++'; got {init!r}")
    if shard_data is not None:
        check_bool(shard_data, name="shard_data")
    phase = restart_phase(model, data, model_kwargs, n_restarts, init, seed, marginalise, shard_data)
    structure, fit_kwargs, loss, placed, mask = phase.structure, phase.fit_kwargs, phase.loss, phase.data, phase.mask
    width = min(n_best, n_restarts)
    screened = _candidates(np.asarray(phase.init_losses), max(n_screen, width))

    constrain, unconstrain = site_transforms(structure)
    steps = _Steps(
        unconstrain=unconstrain,
        loss=lambda u, data, mask: loss(constrain(u), data, mask),
        finish=lambda u, data: fitted_sites(model, data, fit_kwargs, constrain(u), structure.enum_site),
        optimiser=preconditioned_adam(phase.spread, learning_rate, num_steps),
        num_steps=num_steps,
        chunk=-(-num_steps // SCREEN_CHUNKS),
    )
    start = {s: np.asarray(v)[screened] for s, v in phase.starts.items()}
    kept, losses, grad_norms, (sites, weights) = _screen_and_optimise(steps, start, placed, mask, width)
    candidates = screened[kept]
    collapsed = [_collapsed_components(w, structure) for w in weights]
    final = np.nan_to_num(losses[:, -1], nan=np.inf)
    intact = [i for i in range(len(candidates)) if not collapsed[i].size]
    chosen = min(intact or range(len(candidates)), key=lambda i: final[i])
    if collapsed[chosen].size:
        warnings.warn(
            f"fit_map: component(s) {collapsed[chosen].tolist()} collapsed to weight < {COLLAPSE_WEIGHT} "
            f"in all {len(candidates)} optimised restarts (weights {np.round(weights[chosen], 4).tolist()}). The fit "
            "uses fewer components than asked; with a weight (or DP) concentration below 1 the MAP objective is "
            "unbounded at the edge of the simplex. Use weight_concentration >= 1, fewer components, more "
            "n_best candidates, or fit_nuts.",
            RuntimeWarning,
            stacklevel=2,
        )
    pick = functools.partial(jax.tree_util.tree_map, lambda v: jnp.asarray(v[chosen]))
    return MAPResult(
        params=pick(sites),
        losses=pick(losses),
        grad_norms=pick(grad_norms),
        init_losses=phase.init_losses,
        best_restart=int(candidates[chosen]),
        model=model,
        model_kwargs=dict(model_kwargs),
    )


class RestartPhase(NamedTuple):
    """What :func:`restart_phase` prepares for the optimisation. ``structure``: see
    :func:`inspect_model`; ``fit_kwargs``: the model keywords with the full data's
    hyperparameters; ``data``, ``mask``: the data as placed on the devices (see
    :func:`place_data`); ``loss(constrained, data, mask)``; ``starts``: site name ->
    (n_restarts, ...) constrained initial values; ``spread``: site name -> prior spread in
    unconstrained space; ``init_losses``: (n_restarts,) loss of each start."""

    structure: ModelStructure
    fit_kwargs: dict
    data: jnp.ndarray
    mask: jnp.ndarray | None
    loss: Callable
    starts: dict
    spread: dict
    init_losses: jnp.ndarray


def restart_phase(model, data, model_kwargs, n_restarts, init, seed, marginalise, shard_data) -> RestartPhase:
    """Everything :func:`fit_map` does before optimising (arguments checked by the caller): read
    the model's structure, draw the ``n_restarts`` initial values and the prior spread (one
    compiled call, see :func:`restart_values`) and score the starts (one compiled call)."""
    marginalise = resolve_marginalise(model, marginalise)
    structure = inspect_model(model, data, model_kwargs)  # the enumerated form; validates data
    host_data = np.asarray(data, dtype=np.dtype(jnp.result_type(float)))
    # the data-derived priors of the full data, so that padded or sharded data change nothing
    fit_kwargs = full_data_hyperparameters(model, host_data, model_kwargs)
    local = jnp.asarray(host_data)
    placed, mask = place_data(host_data, shard_data)
    loss = negative_log_joint(model, local, fit_kwargs, structure, marginalise)
    form_kwargs = marginal_kwargs(fit_kwargs, marginalise)
    starts, spread = restart_values(model, local, form_kwargs, structure, seed, n_restarts, init)
    init_losses = _score(loss, starts, placed, mask, structure.n_components)
    return RestartPhase(structure, fit_kwargs, placed, mask, loss, starts, spread, init_losses)


def preconditioned_adam(spread: dict, learning_rate: float, num_steps: int) -> optax.GradientTransformation:
    """Adam in coordinates standardised by the prior spread: gradients are multiplied by the
    spread before Adam and the step by the spread after it, so that Adam (and its eps) sees
    the same numbers whatever the units of the data. Cosine-decayed learning rate."""
    return optax.chain(
        _scale_by(spread),
        optax.scale_by_adam(b1=0.8, b2=0.99),
        optax.scale_by_schedule(optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.01)),
        optax.scale(-1.0),
        _scale_by(spread),
    )


#: Restarts are scored in chunks of at most this many (restarts x points x components) numbers.
SCORE_CHUNK_ELEMENTS = 2**25


def _score(loss, starts, data, mask, n_components, scale=1.0):
    """Loss of every start (leading axis R of ``starts``) in one call, compiled without LLVM
    optimisation (it runs once: at N = 1e5 this cuts the compilation ~3x and costs less run
    time than it saves). Vmapped in chunks, so that memory stays bounded by
    ``SCORE_CHUNK_ELEMENTS`` for large N. ``scale`` multiplies the likelihood (N / n when
    ``data`` is a subsample of n points)."""
    n_restarts = jax.tree_util.tree_leaves(starts)[0].shape[0]
    per_restart = int(np.prod(data.shape)) * n_components
    chunk = int(max(1, min(n_restarts, SCORE_CHUNK_ELEMENTS // per_restart)))
    scale = float(scale)
    return run_once(lambda starts, data, mask: jax.lax.map(lambda s: loss(s, data, mask, scale), starts, batch_size=chunk), starts, data, mask)


def _candidates(init_losses: np.ndarray, n_best: int) -> np.ndarray:
    """The restarts to optimise: the best by initial loss, taken alternately from the restarts
    started at the prior median (even indices) and from a prior draw (odd indices)."""
    ranked = [r[np.argsort(np.nan_to_num(init_losses[r], nan=np.inf))] for r in (np.arange(0, init_losses.size, 2), np.arange(1, init_losses.size, 2))]
    merged = [i for pair in zip(*ranked) for i in pair] + list(ranked[0][len(ranked[1]) :])
    return np.asarray(merged[:n_best])


def _scale_by(spread: dict) -> optax.GradientTransformation:
    """Multiply each update by a fixed per-element factor (the prior spread)."""

    def update(updates, state, params=None):
        return jax.tree_util.tree_map(jnp.multiply, updates, spread), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


class _Steps(NamedTuple):
    """The static part of the optimisation (hashable: functions and numbers).
    ``unconstrain(constrained) -> u``; ``loss(u, data, mask) -> ()``; ``finish(u, data) ->
    (site values, mixture weights (K,))``; ``optimiser``; ``num_steps``; ``chunk``: steps per
    compiled call."""

    unconstrain: Callable
    loss: Callable
    finish: Callable
    optimiser: optax.GradientTransformation
    num_steps: int
    chunk: int


#: The optimisation runs in this many chunks of steps; screening is the first chunk.
SCREEN_CHUNKS = 10


def _screen_and_optimise(steps: _Steps, start, data, mask, width: int):
    """Screen the starts in ``start`` (site name -> constrained values, leading axis S) for one
    chunk of steps, ``width`` side by side, keep the ``width`` lowest and optimise them to
    ``steps.num_steps`` steps. Every call of the compiled chunk has the same shapes (the last
    group of starts is padded with the first start), so it compiles once. Returns the kept
    indices into the S starts (``width``,), their (width, num_steps) losses, gradient norms
    (site name -> (width, num_steps)) and ``steps.finish`` of each optimum (site values with
    a leading axis, mixture weights (width, K))."""
    n = jax.tree_util.tree_leaves(start)[0].shape[0]
    order = np.concatenate([np.arange(n), np.zeros(-n % width, dtype=int)])
    carries, first = [], []
    for group in order.reshape(-1, width):
        carry, history = _chunk(steps, _begin(steps, {s: v[group] for s, v in start.items()}), data, mask, 0)
        carries.append(carry)
        first.append(history)
    carry, history = jax.tree_util.tree_map(lambda *v: np.concatenate(v), *carries), jax.tree_util.tree_map(lambda *v: np.concatenate(v), *first)
    screened = np.nan_to_num(history[0][: n, -1], nan=np.inf)
    kept = np.argsort(screened, kind="stable")[:width]
    carry, histories = jax.tree_util.tree_map(lambda v: v[kept], carry), [jax.tree_util.tree_map(lambda v: v[kept], history)]
    for offset in range(steps.chunk, steps.num_steps, steps.chunk):
        carry, history = _chunk(steps, carry, data, mask, offset)
        histories.append(history)
    losses, norms = jax.tree_util.tree_map(lambda *v: np.concatenate(v, axis=1)[:, : steps.num_steps], *histories)
    return kept, losses, norms, jax.tree_util.tree_map(np.asarray, _finish(steps, carry[0], data))


@functools.partial(jax.jit, static_argnums=0)
def _begin(steps: _Steps, start):
    """Unconstrained values and optimiser state of each start (leading axis)."""
    u = jax.vmap(steps.unconstrain)(start)
    return u, jax.vmap(steps.optimiser.init)(u)


@functools.partial(jax.jit, static_argnums=0)
def _finish(steps: _Steps, u, data):
    return jax.vmap(steps.finish, in_axes=(0, None))(u, data)


@functools.partial(jax.jit, static_argnums=0)
def _chunk(steps: _Steps, carry, data, mask, offset):
    """``steps.chunk`` optimiser steps (a ``lax.scan``) of each start (leading axis, ``vmap``)
    from ``carry = (u, optimiser state)``, global step numbers ``offset, offset + 1, ...``;
    steps past ``steps.num_steps`` leave the carry unchanged. Returns the new carry and the
    (losses (C, chunk), gradient norms site name -> (C, chunk))."""
    optimiser = steps.optimiser

    def step(carry, i):
        u, state = carry
        value, grads = jax.value_and_grad(steps.loss)(u, data, mask)
        updates, new_state = optimiser.update(grads, state, u)
        norms = {s: jnp.sqrt(jnp.sum(g**2)) for s, g in grads.items()}
        active = offset + i < steps.num_steps
        new = (optax.apply_updates(u, updates), new_state)
        carry = jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new, carry)
        return carry, (value, norms)

    def run(carry):
        return jax.lax.scan(step, carry, jnp.arange(steps.chunk))

    return jax.vmap(run)(carry)


def _collapsed_components(weights: np.ndarray, structure) -> np.ndarray:
    """Indices of collapsed components: in a finite mixture (one whose weights are a
    simplex-valued site) those below ``COLLAPSE_WEIGHT``; in any mixture with K > 1, all but
    one when a single component holds more than 1 - ``COLLAPSE_WEIGHT`` of the weight (the
    run-off of a truncated DP whose concentration fell below 1: its stick density is unbounded
    at 1). The empty tail of a truncated DP is not a collapse. ``weights``: (K,)."""
    if weights.size > 1 and weights.max() > 1 - COLLAPSE_WEIGHT:
        return np.flatnonzero(np.arange(weights.size) != weights.argmax())
    finite = any(structure.trace[s]["fn"].support is constraints.simplex for s in structure.global_sites)
    if not finite:
        return np.array([], dtype=int)
    return np.flatnonzero(weights < COLLAPSE_WEIGHT)
