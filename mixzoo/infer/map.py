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
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.distributions import constraints

from .._constraints import validated
from . import _programs
from ._em import ConvergenceWarning, _unwrap, check_em, em_run
from ._objective import negative_log_joint
from ._optim import preconditioned_adam, scan_steps
from ._restarts import candidates, restart_values, score, screen
from ._structure import SITE_POINTS, fitted_sites
from .problem import as_problem
from .result import Result

#: A fitted component whose weight falls below this is reported as collapsed.
COLLAPSE_WEIGHT = 1e-3
#: A stick-breaking MAP with a concentration below 1 and fewer points than this per occupied
#: component gets a :class:`DegenerateMAPWarning`.
MIN_POINTS_PER_COMPONENT = 100


class DegenerateMAPWarning(UserWarning):
    """A MAP fit that sits on a climb of an unbounded objective rather than at a mode."""


#: The optimisation runs in this many chunks of steps; screening is the first chunk.
SCREEN_CHUNKS = 10


class MAPInfo(NamedTuple):
    """Extras of a MAP fit. ``grad_norms``: site name -> (num_steps,) gradient norm in
    unconstrained space (``None`` for EM); ``init_losses``: (n_restarts,) loss of each
    initialisation; ``best_restart``: the one returned; ``method``: ``"adam"`` or ``"em"``;
    ``n_iter``: Adam steps of the returned fit, or for EM the number of log-posterior values in
    ``losses`` (the start and one per SQUAREM cycle; screening included, except when it ran on
    a subsample of the data);
    ``converged``: EM met ``tol`` before ``max_iter`` (Adam: ``None``, it runs ``num_steps``)."""

    grad_norms: dict | None
    init_losses: np.ndarray
    best_restart: int
    method: str = "adam"
    n_iter: int | None = None
    converged: bool | None = None


@dataclasses.dataclass(frozen=True, repr=False)
class MAPResult(Result):
    """Result of :func:`fit_map`. ``params``: constrained MAP value of every global and
    deterministic site, by site name (e.g. ``weights`` (K,), ``locs`` (K,) or (K, D));
    ``losses``: (num_steps,) negative log joint at each step; ``info``: :class:`MAPInfo`
    (``grad_norms``, ``init_losses``, ``best_restart`` are also attributes)."""


@validated("fit_map")
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
    method: str | None = None,
    max_iter: int = 300,
    tol: float = 1e-6,
    marginalise: str | None = None,
    shard_data: bool | None = None,
    **model_kwargs,
) -> MAPResult:
    """MAP fit of ``model(data, **model_kwargs)`` with the assignment marginalised.

    ``n_restarts`` initialisations (component locations at random data points for
    ``init="data"``, at a k-means++ seeding for ``init="kmeans++"``; the other sites at their prior
    median in half of them, drawn from the prior in the other half, simplex sites uniform) are
    scored in one vectorised loss evaluation. The ``n_screen`` with the lowest initial loss (half
    from each half) are screened by a short optimisation, ``n_best`` side by side, and the
    ``n_best`` with the lowest loss after screening are optimised to the end, side by side, by
    the same compiled program (one program per problem signature and ``n_best``: screening all
    the starts side by side would compile a second one, which costs more than it saves on every
    size of data measured):

    * **EM** (``method="em"``, the default for every model whose marginal form observes a
      ``MixtureSameFamily`` of Normal components: all built-in models): expectation-maximisation
      (:mod:`mixzoo.infer._em`). An EM step is one pass over the data for the per-component
      sufficient statistics and a Newton M-step on the O(K) global parameters, the priors exact;
      an iteration is one SQUAREM cycle (two EM steps, an extrapolation and a stabilising EM
      step: three passes), and the log posterior never decreases. Screening is ``SCREEN_ITERS``
      iterations (on a random subsample of ``SCREEN_POINTS`` points when there are more, the
      likelihood scaled by N / M); the candidates kept run on all the data to ``max_iter``
      iterations or until the log posterior changes by at most ``tol`` (relative), else a
      :class:`~mixzoo.ConvergenceWarning` saying what to change. ``losses`` holds minus the log
      posterior at each iteration; ``n_iter`` and ``converged`` are in ``info``.
    * **Adam** (``method="adam"``; the default for a model EM cannot read, e.g. one with
      non-Normal components, and for ``marginalise="enumerate"``): ``num_steps`` steps of Adam
      (cosine-decayed learning rate; each site's step scaled by its prior spread in unconstrained
      space, so the optimisation does not depend on the data's units), screening being the first
      ``1 / SCREEN_CHUNKS`` of them (one vmapped ``lax.scan`` per chunk of steps, compiled once).
      ``losses`` holds the loss at each step, ``grad_norms`` the gradient norm of each site.

    The initial loss is a poor guide to the basin a start ends in (a truncated DP
    started with many similar weights settles at a high concentration); a short optimisation
    is a much better one. The result is the optimised candidate with the lowest final loss among those in which no
    component collapsed (weight < ``COLLAPSE_WEIGHT``; with a weight concentration below 1 the
    MAP objective is unbounded at the edge of the simplex, so a collapsed fit can have the
    lowest loss). If every candidate collapsed, the best is returned with a ``RuntimeWarning``.
    A stick-breaking model (``dp_gmm``) has no MAP when its concentration can fall below 1 (the
    Beta(1, a) stick density is then unbounded; README, "The DP's MAP"): EM stops at a mode
    (concentration above 1), Adam climbs towards a concentration of 0; a fit that ends below 1
    with fewer than ``MIN_POINTS_PER_COMPONENT`` points per occupied component gets a
    :class:`DegenerateMAPWarning` (use ``fit_nuts``, or a finite mixture for a point fit).
    ``n_best=1, n_screen=1`` is the NumPyro tutorial's rule (optimise the best initial value
    only). ``init=fit`` (a :class:`MAPResult` of the same model and options) starts one
    optimisation at its values instead, e.g. to refine an Adam fit by EM.

    Every program is compiled once per problem signature (model, static options, padded data
    size, ``n_restarts``, ``n_best``, ``n_screen``, ``num_steps``; ``max_iter`` above 512 by its
    power of two): a second fit on
    new data of the same size, other hyperparameter values, another learning rate, tolerance or
    seed compiles nothing.

    :param model: a model function, or a :class:`~mixzoo.infer.problem.Problem` from
        :func:`mixzoo.bind` (then no ``data``, model keywords, ``marginalise`` or ``shard_data``).
    :param data: shape (N,) or (N, D) as the model expects.
    :param method: ``"em"``, ``"adam"`` or ``None`` (EM where the model allows it, else Adam);
        ``"em"`` for a model EM cannot read is refused.
    :param num_steps, learning_rate: Adam's steps and learning rate (``method="adam"`` only).
    :param max_iter, tol: EM's iteration limit and relative tolerance (``method="em"`` only).
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
    given = init if isinstance(init, MAPResult) else None
    problem = as_problem(model, data, model_kwargs, marginalise=marginalise, shard_data=shard_data)
    spec, structure = problem.spec, problem.structure
    method = check_em(spec, method)

    starts, spread = restart_values(problem, seed, n_restarts, "data" if given is not None else init)
    if given is not None:  # one start: the given fit's values (the restarts give the prior spread only)
        starts = _start_at(given, structure)
        n_restarts = 1
    loss = negative_log_joint(spec)
    init_losses = score(problem, loss, starts)
    width = min(n_best, n_restarts)
    screened = candidates(init_losses, max(n_screen, width))
    start = {s: np.asarray(v)[screened] for s, v in starts.items()}
    if method == "em":
        kept, sites, weights, losses, n_iter, converged = _em_candidates(problem, start, spread, width, max_iter, tol, seed)
        grad_norms = None
    else:
        kept, sites, weights, losses, grad_norms = _adam_candidates(problem, start, spread, width, num_steps, learning_rate)
        n_iter, converged = np.full(len(kept), num_steps), np.full(len(kept), None)
    chosen_from = screened[kept]
    collapsed = [_collapsed_components(w, structure) for w in weights]
    # the loss after each candidate's last step or iteration (EM's rows are NaN past n_iter)
    final = np.nan_to_num(losses[np.arange(len(kept)), np.asarray(n_iter) - 1], nan=np.inf)
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
            stacklevel=3,  # past fit_map and its @validated wrapper: the caller's line
        )
    pick = functools.partial(jax.tree_util.tree_map, lambda v: np.asarray(v[chosen]))
    params = pick(sites)
    _warn_if_degenerate_sticks(problem, params, np.asarray(weights[chosen]))
    if method == "em" and not converged[chosen]:
        warnings.warn(
            f"fit_map: EM stopped at max_iter={max_iter} iterations before the log posterior changed by less than "
            f"tol={tol:g} (relative); the fit may not be at the MAP yet. Increase max_iter, or loosen tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return MAPResult(
        problem=problem,
        params=params,
        losses=losses[chosen, : n_iter[chosen]],
        info=MAPInfo(
            grad_norms=None if grad_norms is None else pick(grad_norms),
            init_losses=init_losses,
            best_restart=int(chosen_from[chosen]),
            method=method,
            n_iter=int(n_iter[chosen]),
            converged=None if method == "adam" else bool(converged[chosen]),
        ),
    )


def stick_concentration(problem, params: dict) -> float | None:
    """The smallest second concentration ``a`` of the model's Beta(1, a) stick sites (the DP
    concentration of a stick-breaking model) at the fitted ``params``, or ``None`` when the
    model has no such sites (read from the distributions of one trace, not from site names).
    The trace runs in a small program compiled once per problem signature, on the first
    ``SITE_POINTS`` points as a traced argument: the model's checks of concrete training data
    (e.g. full_gmm's one point per parameter) do not apply to them, and nothing is compiled
    again for other data of the same bucket."""
    spec = problem.spec
    latent = {s: np.asarray(params[s]) for s in spec.structure.global_sites}
    pairs = _programs.jitted((spec, "stick_concentration"), functools.partial(_beta_concentrations, spec))(
        latent, problem.data[:SITE_POINTS], problem.hyper
    )
    found = [float(np.min(c0)) for c1, c0 in jax.device_get(pairs) if np.all(c1 == 1)]
    return min(found) if found else None


def _beta_concentrations(spec, latent, data, hyper) -> list:
    """``[(concentration1, concentration0)]`` of every Beta-distributed global site of
    ``spec``'s model at ``latent``."""
    model = spec.model_fn(spec.objective_form)
    trace = handlers.trace(handlers.substitute(model, data=latent)).get_trace(data, None, hyper)
    return [
        (jnp.asarray(fn.concentration1), jnp.asarray(fn.concentration0))
        for s in spec.structure.global_sites
        if isinstance(fn := _unwrap(trace[s]["fn"]), dist.Beta)
    ]


def _warn_if_degenerate_sticks(problem, params: dict, weights: np.ndarray) -> None:
    """One-line :class:`DegenerateMAPWarning` when a stick-breaking fit ends with a
    concentration below 1 (the stick density, and so the MAP objective, is unbounded: the fit is
    a point on a climb, not a mode) and fewer than ``MIN_POINTS_PER_COMPONENT`` points per
    occupied component (there the prior's pull decides the fit)."""
    if _is_finite_mixture(problem.structure):
        return  # the collapse rule covers it
    concentration = stick_concentration(problem, params)
    occupied = int(np.sum(weights >= COLLAPSE_WEIGHT))
    if concentration is None or concentration >= 1 or problem.n >= MIN_POINTS_PER_COMPONENT * occupied:
        return
    warnings.warn(
        f"fit_map: the stick-breaking concentration ended at {concentration:.3g} < 1, where the MAP objective is unbounded, "
        f"with {problem.n / occupied:.0f} points per occupied component ({occupied} of {weights.size}); the fit is a point on "
        "a climb, not a mode. Use fit_nuts for the posterior, or a finite mixture (dirichlet_gmm, diag_gmm) for a point fit.",
        DegenerateMAPWarning,
        stacklevel=4,  # past this helper, fit_map and its @validated wrapper
    )


def _start_at(fit, structure) -> dict:
    """The global site values of ``fit`` as one start, (1, ...) per site, checked against ``structure``."""
    start = {}
    for site in structure.global_sites:
        want = tuple(structure.trace[site]["value"].shape)
        value = np.asarray(fit.params.get(site, np.empty(0)), dtype=np.float32)
        if value.shape != want:
            raise ValueError(
                f"init must be a MAPResult of the same model and options: its {site!r} has shape "
                f"{value.shape}, this problem's {want}"
            )
        start[site] = value[None]
    return start


def _adam_candidates(problem, start: dict, spread: dict, width: int, num_steps: int, learning_rate: float):
    """Screen the starts by the first chunk of Adam steps, ``width`` side by side, and optimise
    the ``width`` best to the end: kept indices, their site values and weights, losses (kept,
    num_steps) and gradient norms."""
    chunk = -(-num_steps // SCREEN_CHUNKS)
    begin, advance, finish = _programs_for(problem, width, chunk, num_steps)
    lr = np.float32(learning_rate)

    def step(carry, offset):
        return advance(carry, problem.placed, problem.mask, problem.hyper, spread, lr, np.int32(offset))

    kept, carry, losses, grad_norms = screen(lambda g: begin(g, spread), step, start, width, chunk, num_steps)
    sites, weights = jax.device_get(finish(carry[0], problem.placed, problem.hyper))
    return kept, sites, weights, losses, grad_norms


#: EM iterations (SQUAREM cycles, three passes over the data each) that screen the starts.
SCREEN_ITERS = 4
#: On more points than this, EM screens the starts on a random subsample of this many points
#: (the likelihood scaled by N / M); the kept candidates then run on all the data.
SCREEN_POINTS = 2**14


def _em_candidates(problem, start: dict, spread: dict, width: int, max_iter: int, tol: float, seed: int):
    """Screen the starts by ``SCREEN_ITERS`` EM iterations (``width`` side by side; on a random
    subsample of ``SCREEN_POINTS`` points when there are more), run the ``width`` best to
    convergence on all the data with the same program (on a subsample, the program of the whole
    data): kept indices, their site values and weights, losses (kept, <= max_iter) (minus the
    log posterior per iteration, NaN past the end; the subsample's iterations are left out),
    numbers of iterations and convergence flags.

    Screening ``width`` at a time, in several calls, compiles nothing beyond the program that
    runs the kept candidates. Screening all the starts in one wider call compiled a second
    program: measured (2 cores), a first fit of full_gmm (DP, 200 x 3) took 18.5 s against 12.2 s
    (8.6 s against 6.0 s with a warm persistent cache), select_components on galaxy (K = 1..9)
    92 s against 68 s, and its second run in the same process 94 s against 1.1 s (the extra
    programs overflowed the program table); a refit of a DP with T = 20 on galaxy costs 1.5 s
    against 1.2 s, and finite mixtures refit equally fast either way."""
    args = (problem.placed, problem.mask, problem.hyper, spread, np.float32(tol))
    screen_iters = min(SCREEN_ITERS, max_iter)
    n = jax.tree_util.tree_leaves(start)[0].shape[0]
    subsampled = problem.n > SCREEN_POINTS
    if subsampled:
        pick = np.sort(np.random.default_rng(seed).choice(problem.n, SCREEN_POINTS, replace=False))
        screening = problem.subset(pick, shard=False)
        screen_args = (screening.placed, screening.mask, screening.hyper, spread, np.float32(tol))
        screen_scale = np.float32(problem.n / SCREEN_POINTS)
    else:
        screening, screen_args, screen_scale = problem, args, np.float32(1)
    order = np.concatenate([np.arange(n), np.zeros(-n % width, dtype=int)])  # padded with the first start
    results = []
    run = _em_program(screening.spec, width, max_iter)
    for g in order.reshape(-1, width):
        chunk = {s: v[g] for s, v in start.items()}
        results.append(jax.device_get(run(chunk, *screen_args, np.int32(screen_iters), screen_scale)))
    theta, trace, n_done, settled = jax.tree_util.tree_map(lambda *v: np.concatenate(v)[:n], *results)
    last = trace[np.arange(n), n_done - 1]
    kept = np.argsort(-np.nan_to_num(last, nan=-np.inf), kind="stable")[:width]
    theta = {s: v[kept] for s, v in theta.items()}
    limit = np.int32(max_iter if subsampled else max_iter - screen_iters + 1)
    run = _em_program(problem.spec, width, max_iter)  # the screening program itself unless subsampled
    theta, more, n_more, converged = jax.device_get(run(theta, *args, limit, np.float32(1)))
    losses = np.full((width, max_iter), np.nan, np.float32)
    for i, k in enumerate(kept):
        path = more[i, : n_more[i]] if subsampled else np.concatenate([trace[k, : n_done[k]], more[i, 1 : n_more[i]]])
        losses[i, : path.size] = -path
    n_iter = n_more if subsampled else n_done[kept] + n_more - 1
    if not subsampled:
        converged = converged | settled[kept]  # a start that converged while screened stays converged
    sites, weights = jax.device_get(_finish_program(problem, width)(theta, problem.placed, problem.hyper))
    return kept, sites, weights, losses, n_iter, converged


#: EM programs record the log posterior in a trace of at least this many iterations (more: the
#: next power of two above ``max_iter``), so that the ``max_iter`` values up to it share one program.
EM_TRACE_CAPACITY = 512


def _em_program(spec, width: int, max_iter: int):
    """``run(theta, data, mask, hyper, spread, tol, limit, scale) -> (theta, log_posts, n_iter,
    converged)`` for ``width`` candidates side by side (constrained values in and out);
    ``log_posts`` (width, capacity), capacity >= ``max_iter`` (:data:`EM_TRACE_CAPACITY`)."""
    max_iter = max(EM_TRACE_CAPACITY, 1 << (max_iter - 1).bit_length())
    one = em_run(spec, max_iter)

    def run(theta, data, mask, hyper, spread, tol, limit, scale):
        def single(theta):
            u, trace, n_iter, converged = one(spec.unconstrain(theta), data, mask, hyper, spread, tol, limit, scale)
            return spec.constrain(u), trace, n_iter, converged

        return jax.vmap(single)(theta)

    return _programs.jitted((spec, "em", width, max_iter), run)


def _finish_program(problem, width: int):
    """``finish(theta, data, hyper)``: site values and mixture weights of ``width`` candidates
    given their constrained global values."""
    spec = problem.spec

    def finish(theta, data, hyper):
        return jax.vmap(lambda t: fitted_sites(spec, data, hyper, t))(theta)

    return _programs.jitted((spec, "map_finish_constrained", width), finish)


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
                opt,
                carry,
                chunk,
                offset,
                num_steps,
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


def _is_finite_mixture(structure) -> bool:
    """True if the weights are a simplex-valued site (a Dirichlet), not built from sticks."""
    return any(structure.trace[s]["fn"].support is constraints.simplex for s in structure.global_sites)


def _collapsed_components(weights: np.ndarray, structure) -> np.ndarray:
    """Indices of collapsed components: in a finite mixture (one whose weights are a
    simplex-valued site) those below ``COLLAPSE_WEIGHT``; in any mixture with K > 1, all but
    one when a single component holds more than 1 - ``COLLAPSE_WEIGHT`` of the weight (the
    run-off of a truncated DP whose concentration fell below 1: its stick density is unbounded
    at 1). The empty tail of a truncated DP is not a collapse. ``weights``: (K,)."""
    if weights.size > 1 and weights.max() > 1 - COLLAPSE_WEIGHT:
        return np.flatnonzero(np.arange(weights.size) != weights.argmax())
    if not _is_finite_mixture(structure):
        return np.array([], dtype=int)
    return np.flatnonzero(weights < COLLAPSE_WEIGHT)
