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
from numpyro.distributions.transforms import biject_to

from .._validation import check_bool, check_int, check_positive
from ._data import full_data_hyperparameters, marginal_kwargs, place_data, resolve_marginalise
from ._init import initial_values, prior_spread
from ._objective import global_guide, negative_log_joint  # noqa: F401  (global_guide re-exported)
from ._structure import inspect_model, mixture_weights, site_values

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
    scored in one vectorised loss evaluation. The ``n_best`` with the lowest initial loss (half
    from each half) are optimised side by side (one vmapped ``lax.scan``) with Adam
    for ``num_steps`` steps (cosine-decayed learning rate; each site's step scaled by its prior
    spread in unconstrained space, so the optimisation does not depend on the data's units).
    The result is the optimised candidate with the lowest final loss among those in which no
    component collapsed (weight < ``COLLAPSE_WEIGHT``; with a weight concentration below 1 the
    MAP objective is unbounded at the edge of the simplex, so a collapsed fit can have the
    lowest loss). If every candidate collapsed, the best is returned with a ``RuntimeWarning``.
    ``n_best=1`` is close to the NumPyro tutorial's rule (optimise the best initial value only).

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
    num_steps = check_int(num_steps, name="num_steps", minimum=1)
    check_positive(learning_rate, name="learning_rate")
    if init not in ("data", "kmeans++"):
        raise ValueError(f"init must be 'data' or 'kmeans++'; got {init!r}")
    if shard_data is not None:
        check_bool(shard_data, name="shard_data")
    marginalise = resolve_marginalise(model, marginalise)
    structure = inspect_model(model, data, model_kwargs)  # the enumerated form; validates data
    host_data = np.asarray(data, dtype=np.dtype(jnp.result_type(float)))
    # the data-derived priors of the full data, so that padded or sharded data change nothing
    fit_kwargs = full_data_hyperparameters(model, host_data, model_kwargs)
    form_kwargs = marginal_kwargs(fit_kwargs, marginalise)
    key_init, key_spread = jax.random.split(jax.random.PRNGKey(seed))
    local = jnp.asarray(host_data)
    placed, mask = place_data(host_data, shard_data)

    loss = negative_log_joint(model, local, fit_kwargs, structure, marginalise)
    starts = initial_values(model, local, form_kwargs, structure, key_init, n_restarts, init)
    init_losses = _score(loss, starts, placed, mask, structure.n_components)
    candidates = _candidates(np.asarray(init_losses), n_best)

    supports = {site: structure.trace[site]["fn"].support for site in structure.global_sites}
    to_unconstrained = {s: biject_to(supports[s]).inv for s in supports}
    to_constrained = {s: biject_to(supports[s]) for s in supports}
    u0 = {s: to_unconstrained[s](starts[s][candidates]) for s in supports}
    spread = prior_spread(model, local, form_kwargs, structure, key_spread, to_unconstrained)
    optimiser = preconditioned_adam(spread, learning_rate, num_steps)
    losses, grad_norms, u = _optimise(
        lambda u, data, mask: loss({s: to_constrained[s](v) for s, v in u.items()}, data, mask),
        u0,
        placed,
        mask,
        optimiser,
        num_steps,
    )
    fits = [{s: to_constrained[s](v[i]) for s, v in u.items()} for i in range(len(candidates))]
    collapsed = [_collapsed_components(model, host_data, model_kwargs, fit, structure) for fit in fits]
    final = np.nan_to_num(np.asarray(losses[:, -1]), nan=np.inf)
    intact = [i for i in range(len(fits)) if not collapsed[i].size]
    chosen = min(intact or range(len(fits)), key=lambda i: final[i])
    if collapsed[chosen].size:
        weights = np.asarray(mixture_weights(model, host_data, model_kwargs, fits[chosen], structure))
        warnings.warn(
            f"fit_map: component(s) {collapsed[chosen].tolist()} collapsed to weight < {COLLAPSE_WEIGHT} "
            f"in all {len(fits)} optimised restarts (weights {np.round(weights, 4).tolist()}). The fit uses "
            "fewer components than asked; with a weight (or DP) concentration below 1 the MAP objective is "
            "unbounded at the edge of the simplex. Use weight_concentration >= 1, fewer components, more "
            "n_best candidates, or fit_nuts.",
            RuntimeWarning,
            stacklevel=2,
        )
    return MAPResult(
        params=site_values(model, host_data, model_kwargs, fits[chosen]),
        losses=losses[chosen],
        grad_norms={s: g[chosen] for s, g in grad_norms.items()},
        init_losses=init_losses,
        best_restart=int(candidates[chosen]),
        model=model,
        model_kwargs=dict(model_kwargs),
    )


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


@functools.partial(jax.jit, static_argnums=(0, 4, 5))
def _score_jit(loss, starts, data, mask, chunk, scale):
    return jax.lax.map(lambda start: loss(start, data, mask, scale), starts, batch_size=chunk)


def _score(loss, starts, data, mask, n_components, scale=1.0):
    """Loss of every start (leading axis R of ``starts``) in one compiled call: vmapped in
    chunks, so that memory stays bounded by ``SCORE_CHUNK_ELEMENTS`` for large N. ``scale``
    multiplies the likelihood (N / n when ``data`` is a subsample of n points)."""
    n_restarts = jax.tree_util.tree_leaves(starts)[0].shape[0]
    per_restart = int(np.prod(data.shape)) * n_components
    chunk = int(max(1, min(n_restarts, SCORE_CHUNK_ELEMENTS // per_restart)))
    return _score_jit(loss, starts, data, mask, chunk, float(scale))


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


@functools.partial(jax.jit, static_argnums=(0, 4, 5))
def _optimise(loss_fn, u0, data, mask, optimiser, num_steps):
    """Run ``num_steps`` optimiser steps in one compiled ``lax.scan`` for each start in ``u0``
    (leading axis: candidates, optimised side by side with ``vmap``); ``loss_fn(u, data, mask)``."""

    def step(carry, _):
        u, state = carry
        value, grads = jax.value_and_grad(loss_fn)(u, data, mask)
        updates, state = optimiser.update(grads, state, u)
        norms = {s: jnp.sqrt(jnp.sum(g**2)) for s, g in grads.items()}
        return (optax.apply_updates(u, updates), state), (value, norms)

    def run(u0):
        (u, _), (losses, norms) = jax.lax.scan(step, (u0, optimiser.init(u0)), None, length=num_steps)
        return losses, norms, u

    return jax.vmap(run)(u0)


def _collapsed_components(model, data, model_kwargs, latent, structure) -> np.ndarray:
    """Indices of collapsed components: in a finite mixture (one whose weights are a
    simplex-valued site) those below ``COLLAPSE_WEIGHT``; in any mixture with K > 1, all but
    one when a single component holds more than 1 - ``COLLAPSE_WEIGHT`` of the weight (the
    run-off of a truncated DP whose concentration fell below 1: its stick density is unbounded
    at 1). The empty tail of a truncated DP is not a collapse."""
    weights = np.asarray(mixture_weights(model, data, model_kwargs, latent, structure))
    if weights.size > 1 and weights.max() > 1 - COLLAPSE_WEIGHT:
        return np.flatnonzero(np.arange(weights.size) != weights.argmax())
    finite = any(structure.trace[s]["fn"].support is constraints.simplex for s in structure.global_sites)
    if not finite:
        return np.array([], dtype=int)
    return np.flatnonzero(weights < COLLAPSE_WEIGHT)
