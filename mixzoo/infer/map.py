"""MAP estimation, best of many vectorised initialisations; the assignment summed out analytically
(``MixtureSameFamily``) or by enumeration (``TraceEnum_ELBO``)."""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions import constraints

from .._validation import check_int, check_positive
from . import _programs
from ._objective import negative_log_joint
from ._optim import preconditioned_adam, scan_steps
from ._restarts import candidates, restart_values, score, screen, screen_width
from ._structure import fitted_sites
from .problem import as_problem
from .result import Result

#: A fitted component whose weight falls below this is reported as collapsed.
COLLAPSE_WEIGHT = 1e-3
#: The optimisation runs in this many chunks of steps; screening is the first chunk.
SCREEN_CHUNKS = 10


class MAPInfo(NamedTuple):
    """Extras of a MAP fit. ``grad_norms``: site name -> (num_steps,) gradient norm in
    unconstrained space; ``init_losses``: (n_restarts,) loss of each initialisation;
    ``best_restart``: the one returned."""

    grad_norms: dict
    init_losses: np.ndarray
    best_restart: int


@dataclasses.dataclass(frozen=True, repr=False)
class MAPResult(Result):
    """Result of :func:`fit_map`. ``params``: constrained MAP value of every global and
    deterministic site, by site name (e.g. ``weights`` (K,), ``locs`` (K,) or (K, D));
    ``losses``: (num_steps,) negative log joint at each step; ``info``: :class:`MAPInfo`
    (``grad_norms``, ``init_losses``, ``best_restart`` are also attributes)."""


def fit_map(
    model,
    data=None,
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
    from each half) are screened: optimised, all side by side on small data (``n_best`` side
    by side when memory requires, see :func:`~mixzoo.infer._restarts.screen_width`), for the first
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

    Every program is compiled once per problem signature (model, static options, padded data
    size, ``n_restarts``, ``n_best``, ``n_screen``, ``num_steps``): a second fit on new data of
    the same size, other hyperparameter values, another learning rate or seed compiles nothing.

    :param model: a model function, or a :class:`~mixzoo.infer.problem.Problem` from
        :func:`mixzoo.bind` (then no ``data``, model keywords, ``marginalise`` or ``shard_data``).
    :param data: shape (N,) or (N, D) as the model expects.
    :param marginalise: how the assignment is summed out: ``"analytic"`` (the model called with
        ``marginal=True``, ``MixtureSameFamily``), ``"enumerate"`` (``TraceEnum_ELBO``), or
        ``None``: analytic when the model has a ``marginal`` keyword, else enumerate. Both give
        the same objective and gradients; analytic is faster.
    :param shard_data: split the data over all devices along N (``jax.sharding``, 1-D mesh);
        ``None`` shards when there is more than one device and at least
        ``mixzoo.infer.problem.SHARD_MIN_POINTS`` (16,384) points. Same result as one device up to
        float rounding.
    :returns: :class:`MAPResult`.
    """
    n_restarts = check_int(n_restarts, name="n_restarts", minimum=1)
    n_best = check_int(n_best, name="n_best", minimum=1)
    n_screen = check_int(n_screen, name="n_screen", minimum=1)
    num_steps = check_int(num_steps, name="num_steps", minimum=1)
    seed = check_int(seed, name="seed", minimum=0)
    check_positive(learning_rate, name="learning_rate")
    if init not in ("data", "kmeans++"):
        raise ValueError(f"init must be 'data' or 'kmeans++'; got {init!r}")
    problem = as_problem(model, data, model_kwargs, marginalise=marginalise, shard_data=shard_data)
    spec, structure = problem.spec, problem.structure

    starts, spread = restart_values(problem, seed, n_restarts, "data" if init == "data" else init)
    loss = negative_log_joint(spec)
    init_losses = score(problem, loss, starts)
    width = min(n_best, n_restarts)
    screened = candidates(init_losses, max(n_screen, width))
    chunk = -(-num_steps // SCREEN_CHUNKS)
    group = screen_width(len(screened), width, spec)
    begin, advance, finish = _programs_for(problem, width, chunk, num_steps)
    begin_group, advance_group, _ = _programs_for(problem, group, chunk, num_steps)
    lr = np.float32(learning_rate)
    start = {s: np.asarray(v)[screened] for s, v in starts.items()}

    def step(carry, offset):
        run = advance if jax.tree_util.tree_leaves(carry)[0].shape[0] == width else advance_group
        return run(carry, problem.placed, problem.mask, problem.hyper, spread, lr, np.int32(offset))

    kept, carry, losses, grad_norms = screen(lambda g: begin_group(g, spread), step, start, (group, width), chunk, num_steps)
    sites, weights = jax.device_get(finish(carry[0], problem.placed, problem.hyper))
    chosen_from = screened[kept]
    collapsed = [_collapsed_components(w, structure) for w in weights]
    final = np.nan_to_num(losses[:, -1], nan=np.inf)
    intact = [i for i in range(len(chosen_from)) if not collapsed[i].size]
    chosen = min(intact or range(len(chosen_from)), key=lambda i: final[i])
    if collapsed[chosen].size:
        warnings.warn(
            f"fit_map: component(s) {collapsed[chosen].tolist()} collapsed to weight < {COLLAPSE_WEIGHT} "
            f"in all {len(chosen_from)} optimised restarts (weights {np.round(weights[chosen], 4).tolist()}). The fit "
            "uses fewer components than asked; with a weight (or DP) concentration below 1 the MAP objective is "
            "unbounded at the edge of the simplex. Use weight_concentration >= 1, fewer components, more "
            "n_best candidates, or fit_nuts.",
            RuntimeWarning,
            stacklevel=2,
        )
    pick = functools.partial(jax.tree_util.tree_map, lambda v: np.asarray(v[chosen]))
    return MAPResult(
        problem=problem,
        params=pick(sites),
        losses=pick(losses),
        info=MAPInfo(grad_norms=pick(grad_norms), init_losses=init_losses, best_restart=int(chosen_from[chosen])),
    )


def _programs_for(problem, width: int, chunk: int, num_steps: int):
    """The three compiled programs of the optimisation: ``begin(start, spread)`` (unconstrained
    values and optimiser state of each start), ``advance(carry, data, mask, hyper, spread,
    learning_rate, offset)`` (``chunk`` steps of ``width`` candidates side by side) and
    ``finish(u, data, hyper)`` (site values and mixture weights of each candidate)."""
    spec = problem.spec
    key = (spec, "map", width, chunk, num_steps)
    loss = negative_log_joint(spec)

    def optimiser(spread, learning_rate):
        return preconditioned_adam(spread, learning_rate, num_steps)

    def begin(start, spread):
        u = jax.vmap(spec.unconstrain)(start)
        return u, jax.vmap(optimiser(spread, 1.0).init)(u)

    def advance(carry, data, mask, hyper, spread, learning_rate, offset):
        opt = optimiser(spread, learning_rate)

        def run(carry):
            return scan_steps(
                lambda u, i: loss(spec.constrain(u), data, mask, hyper),
                opt, carry, chunk, offset, num_steps,
                lambda value, grads: (value, {s: jnp.sqrt(jnp.sum(g**2)) for s, g in grads.items()}),
            )

        return jax.vmap(run)(carry)

    def finish(u, data, hyper):
        one = lambda u: fitted_sites(spec, data, hyper, spec.constrain(u))  # noqa: E731
        return jax.vmap(one)(u)

    return (
        _programs.jitted(key + ("begin",), begin),
        _programs.jitted(key + ("advance",), advance),
        _programs.jitted(key + ("finish",), finish),
    )


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
