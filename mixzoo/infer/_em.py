"""MAP by expectation-maximisation, for models whose marginal form is a mixture of Normal components.

When the observed site of a problem's marginal form is a ``MixtureSameFamily`` of ``Normal``
components (possibly ``Independent`` over a data dimension D) with global weights, locations
and scales, the expected complete-data log joint depends on the data only through per-component
sufficient statistics. One EM iteration is then

* **E-step**: one pass over the data (in chunks of at most :data:`CHUNK_ELEMENTS` numbers, one
  ``lax.scan``; split over the devices with ``shard_map`` and summed when the data are sharded)
  giving, per component k and dimension d, ``n_k = sum_i r_ik``, ``S1_kd = sum_i r_ik (x_id -
  a_kd)`` and ``S2_kd = sum_i r_ik (x_id - a_kd)^2`` about the current locations ``a``, and the
  marginal log-likelihood; no (N, K) array is kept beyond one chunk;
* **M-step**: maximise (as its gain over the current point, see :func:`expected_log_joint_gain`)
  ``Q(theta) = log prior(theta) + sum_k n_k log w_k + sum_kd [-n_k log
  s_kd - (S2 + 2 (a - m) S1 + n (a - m)^2) / (2 s^2)]`` (constants dropped) over the global
  sites in unconstrained space, the priors exact (``log_prob`` of every global site, read from
  the model: no site name is used), by Newton's method on the flattened parameters (an O(P^3)
  solve, P the number of unconstrained parameters: a few dozen for these models) with the
  Hessian's eigenvalues made negative (an ascent direction even where Q is not concave) and a
  backtracking line search; a step that does not increase Q is not taken.

For ``MultivariateNormal`` components (full covariances Sigma_k = L_k L_k^T, ``full_gmm``)
the statistics are ``n_k``, ``S1_k`` (D,) and the outer products ``S2_k = sum_i r_ik (x_i -
a_k)(x_i - a_k)^T`` (D, D), the log densities come from triangular solves with ``L_k``, and Q's
quadratic term is ``tr(Sigma_k^-1 (S2 + S1 delta^T + delta S1^T + n delta delta^T))`` with
``delta = a_k - mu_k`` (:func:`_full_gain`); the diagonal path is untouched.

The EM steps are accelerated by SQUAREM (:func:`em_run`): where plain EM crawls (overlapping
components, a weight draining slowly), an extrapolation along the last two steps is tried and
kept only when it does not lower the log posterior.

So the log posterior never decreases (the usual EM argument: ``log p(theta | x) - log p(theta_old
| x) >= Q(theta) - Q(theta_old) >= 0``), up to float rounding. The objective is the one of the
gradient path (:func:`mixzoo.infer._objective.negative_log_joint`): the log joint density of the
constrained values, no Jacobian.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from jax.flatten_util import ravel_pytree
from jax.sharding import PartitionSpec
from numpyro import handlers

from ._data import DATA_AXIS, data_mesh
from ._structure import SITE_POINTS

#: The E-step works through the data in chunks of at most this many (points x components) numbers.
CHUNK_ELEMENTS = 2**20
#: Newton iterations per M-step (each with its line search); fewer when the Newton decrement vanishes.
NEWTON_STEPS = 8
#: Halvings of the Newton step tried by the line search before the step is given up.
LINE_SEARCH_HALVINGS = 30


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped at its iteration limit before meeting its tolerance."""


class NormalMixture(NamedTuple):
    """The mixture of the observed site: ``log_weights`` (K,), ``locs`` and ``scales`` (K, D)
    (D = 1 for 1-D data)."""

    log_weights: jnp.ndarray
    locs: jnp.ndarray
    scales: jnp.ndarray


def _unwrap(fn):
    while isinstance(fn, (dist.ExpandedDistribution, dist.MaskedDistribution)):
        fn = fn.base_dist
    return fn


class FullNormalMixture(NamedTuple):
    """A mixture of ``MultivariateNormal`` components: ``log_weights`` (K,), ``locs`` (K, D),
    ``scale_tril`` (K, D, D) (lower Cholesky factors of the covariances)."""

    log_weights: jnp.ndarray
    locs: jnp.ndarray
    scale_tril: jnp.ndarray


def _normal_mixture(fn, event_shape: tuple) -> NormalMixture | FullNormalMixture | None:
    """The :class:`NormalMixture` (Normal components, independent over the data dimension) or
    :class:`FullNormalMixture` (``MultivariateNormal`` components) of an observed site's
    distribution ``fn`` (one point's), or ``None`` if it is not a ``MixtureSameFamily`` of such
    components with global parameters."""
    fn = _unwrap(fn)
    if not isinstance(fn, dist.MixtureSameFamily) or fn.batch_shape != ():
        return None
    comp = fn.component_distribution
    while isinstance(comp, (dist.Independent, dist.ExpandedDistribution)):
        comp = comp.base_dist
    logits = fn.mixing_distribution.logits
    k = logits.shape[-1]
    shape = (k,) + tuple(event_shape)
    if logits.shape != (k,) or fn.component_distribution.batch_shape + fn.component_distribution.event_shape != shape:
        return None
    if type(comp) is dist.MultivariateNormal and len(event_shape) == 1:
        d = event_shape[0]
        loc, tril = jnp.broadcast_to(comp.loc, shape), jnp.broadcast_to(comp.scale_tril, shape + (d,))
        return FullNormalMixture(jax.nn.log_softmax(logits), loc, tril)
    if type(comp) is not dist.Normal:
        return None
    loc, scale = jnp.broadcast_to(comp.loc, shape), jnp.broadcast_to(comp.scale, shape)
    return NormalMixture(jax.nn.log_softmax(logits), loc.reshape(k, -1), scale.reshape(k, -1))


def _site_terms(spec, latent: dict, data, hyper: dict):
    """``(log prior, NormalMixture or None)`` of ``spec``'s marginal form at the constrained
    global values ``latent`` (unbatched); ``data``: the first few points (the terms do not
    depend on them)."""
    model = spec.model_fn("marginal")
    trace = handlers.trace(handlers.substitute(model, data=latent)).get_trace(data[:SITE_POINTS], None, hyper)
    log_prior = sum(jnp.sum(trace[s]["fn"].log_prob(trace[s]["value"])) for s in spec.structure.global_sites)
    return log_prior, _normal_mixture(trace[spec.observed]["fn"], spec.event_shape)


def supports_em(spec) -> bool:
    """True if ``spec``'s marginal form observes a ``MixtureSameFamily`` of Normal (or
    MultivariateNormal) components with global weights, locations and scales (read from one
    abstract trace)."""
    return em_form(spec) is not None


@functools.lru_cache(maxsize=256)
def em_form(spec) -> str | None:
    """``"diagonal"`` (Normal components), ``"full"`` (MultivariateNormal components) or
    ``None`` (no EM) for ``spec``'s marginal form, read from one abstract trace."""
    if spec.objective_form != "marginal":
        return None
    found = []
    latent = {s: spec.structure.trace[s]["value"] for s in spec.structure.global_sites}
    data = jax.ShapeDtypeStruct((min(SITE_POINTS, spec.data_shape[0]),) + spec.event_shape, spec.dtype)
    hyper = {k: jax.ShapeDtypeStruct(shape, dtype) for k, shape, dtype in spec.hyper_shapes}

    def probe(latent, data, hyper):
        found.append(_site_terms(spec, latent, data, hyper)[1])
        return 0.0

    try:
        jax.eval_shape(probe, latent, data, hyper)
    except Exception:  # a model that cannot be read this way takes the gradient path
        return None
    if not found or found[0] is None:
        return None
    return "full" if isinstance(found[0], FullNormalMixture) else "diagonal"


class Stats(NamedTuple):
    """Sufficient statistics of one E-step: ``n`` (K,), ``s1`` and ``s2`` (K, D) about ``anchor``
    (K, D), and the marginal log-likelihood ``loglik`` of the data."""

    n: jnp.ndarray
    s1: jnp.ndarray
    s2: jnp.ndarray
    anchor: jnp.ndarray
    loglik: jnp.ndarray


def _chunk_size(n: int, k: int) -> int:
    """Points per E-step chunk: all ``n`` when n x k fits in :data:`CHUNK_ELEMENTS`, else the
    largest power of two dividing ``n`` with at most that many numbers (bucketed sizes are
    m x 2^e with m < 16, so chunks are large)."""
    if n * k <= CHUNK_ELEMENTS:
        return n
    size = n & -n  # largest power of two dividing n
    while size * k > CHUNK_ELEMENTS and size > 1:
        size //= 2
    return size


def _estep_local(mix: NormalMixture | FullNormalMixture, data, mask) -> Stats:
    """:class:`Stats` of the points ``data`` (M, ...) with ``mask`` (M,), in chunks: a bool mask
    drops the padding; a float mask (a problem bound with ``sample_weight``) weights each
    point's responsibilities and log-likelihood (the weighted E-step). Diagonal components give
    ``s2`` (K, D), the squared deviations; full ones (K, D, D), the outer products, with the
    Mahalanobis distances from triangular solves with the Cholesky factors (no inverse)."""
    x = data.reshape(data.shape[0], -1)
    (k, d), dtype = mix.locs.shape, x.dtype
    if isinstance(mix, FullNormalMixture):
        tril = mix.scale_tril
        log_det = jnp.sum(jnp.log(jnp.diagonal(tril, axis1=-2, axis2=-1)), axis=-1)  # (K,) log |L_k|

        def squares(dev):  # (B, K, D) -> (B, K)
            white = jax.scipy.linalg.solve_triangular(tril, jnp.transpose(dev, (1, 2, 0)), lower=True)  # (K, D, B)
            return jnp.sum(white**2, axis=1).T

        def second(r, dev):
            return jnp.einsum("bk,bkd,bke->kde", r, dev, dev)

        s2_shape, size = (k, d, d), _chunk_size(x.shape[0], k * d)
    else:
        inv, log_det = 1.0 / mix.scales, jnp.sum(jnp.log(mix.scales), axis=1)

        def squares(dev):
            return jnp.sum((dev * inv) ** 2, axis=-1)

        def second(r, dev):
            return jnp.einsum("bk,bkd->kd", r, dev**2)

        s2_shape, size = (k, d), _chunk_size(x.shape[0], k)
    norm = mix.log_weights - log_det - 0.5 * d * jnp.log(2 * jnp.pi)

    def chunk(xc, mc):
        dev = xc[:, None, :] - mix.locs[None]  # (B, K, D)
        lp = norm - 0.5 * squares(dev)  # (B, K)
        top = jnp.max(lp, axis=1)
        e = jnp.exp(lp - top[:, None])  # the one exp per point and component
        total = jnp.sum(e, axis=1)
        lse = top + jnp.log(total)
        r = e * (mc / total)[:, None]
        # the mask: bool (padding), or each point's weight (0 on padding) multiplying its terms
        terms = jnp.where(mc, lse, 0.0) if mc.dtype == jnp.bool_ else jnp.where(mc > 0, mc * lse, 0.0)
        return jnp.sum(r, 0), jnp.einsum("bk,bkd->kd", r, dev), second(r, dev), jnp.sum(terms)

    if size == x.shape[0]:
        n, s1, s2, loglik = chunk(x, mask)
    else:

        def body(total, c):
            return jax.tree_util.tree_map(jnp.add, total, chunk(*c)), None

        zero = (jnp.zeros(k, dtype), jnp.zeros((k, d), dtype), jnp.zeros(s2_shape, dtype), jnp.zeros((), dtype))
        chunks = (x.reshape(-1, size, d), mask.reshape(-1, size))
        (n, s1, s2, loglik), _ = jax.lax.scan(body, zero, chunks)
    return Stats(n, s1, s2, mix.locs, loglik)


def estep(mix: NormalMixture | FullNormalMixture, data, mask, sharded: bool) -> Stats:
    """:class:`Stats` of all the data; with ``sharded`` data each device passes over its own
    points (``shard_map``) and the statistics are summed over the devices."""
    if not sharded:
        return _estep_local(mix, data, mask)

    def local(mix, data, mask):
        stats = _estep_local(mix, data, mask)
        summed = jax.lax.psum((stats.n, stats.s1, stats.s2, stats.loglik), DATA_AXIS)
        return Stats(summed[0], summed[1], summed[2], stats.anchor, summed[3])

    spec = PartitionSpec(DATA_AXIS, *([None] * (data.ndim - 1)))
    return jax.shard_map(
        local,
        mesh=data_mesh(),
        in_specs=(PartitionSpec(), spec, PartitionSpec(DATA_AXIS)),
        out_specs=PartitionSpec(),
        check_vma=False,
    )(mix, data, mask)


def expected_log_joint_gain(log_prior, mix, old_prior, old, stats: Stats):
    """Q(theta) - Q(theta_old), ``old`` being the mixture the statistics were taken at (their
    anchor is ``old.locs``), computed term by term as differences: Q itself is of the order of
    N nats, and in float32 its changes below ~1e-7 N would be lost to rounding (EM would stall
    short of the MAP on large data). ``mix`` and ``old``: both :class:`NormalMixture` or both
    :class:`FullNormalMixture` (see :func:`_full_gain`)."""
    if isinstance(mix, FullNormalMixture):
        return _full_gain(log_prior, mix, old_prior, old, stats)
    d_log_scale = jnp.log(mix.scales) - jnp.log(old.scales)
    delta = stats.anchor - mix.locs
    # S2 / s^2 - S2 / s_old^2 = S2 / s_old^2 * expm1(-2 d log s)
    squares = (stats.s2 / old.scales**2) * jnp.expm1(-2 * d_log_scale) + (
        2 * delta * stats.s1 + stats.n[:, None] * delta**2
    ) / mix.scales**2
    return (
        (log_prior - old_prior)
        + jnp.sum(stats.n * (mix.log_weights - old.log_weights))
        - jnp.sum(stats.n[:, None] * d_log_scale)
        - 0.5 * jnp.sum(squares)
    )


def _cho_solve(tril, b):
    """Sigma^-1 b for Sigma = L L^T, ``tril`` (K, D, D), ``b`` (K, D, M): two triangular solves."""
    y = jax.scipy.linalg.solve_triangular(tril, b, lower=True)
    return jax.scipy.linalg.solve_triangular(tril, y, lower=True, trans=1)


def _full_gain(log_prior, mix: FullNormalMixture, old_prior, old: FullNormalMixture, stats: Stats):
    """Q(theta) - Q(theta_old) for full covariances Sigma_k = L_k L_k^T, from the statistics
    ``n`` (K,), ``s1`` (K, D), ``s2`` (K, D, D) about ``a = old.locs``. Per component, with
    ``delta = a - mu`` and ``M = s2 + s1 delta^T + delta s1^T + n delta delta^T`` (the scatter
    about the new location ``mu``),

        Q_k - Q_k_old = n_k (log w_k - log w_k_old) - n_k (log|L_k| - log|L_k_old|)
                        - 1/2 [tr(Sigma_k^-1 M) - tr(Sigma_old^-1 s2)],

    the last bracket written as tr(Sigma^-1 [(Sigma_old - Sigma) Sigma_old^-1 s2 + M - s2]) with
    ``Sigma_old - Sigma = dL L_old^T + L dL^T`` (``dL = L_old - L``), so that no term of order N
    is subtracted from another; every Sigma^-1 is a pair of triangular solves."""
    tril, tril_old = mix.scale_tril, old.scale_tril
    diag, diag_old = (jnp.diagonal(t, axis1=-2, axis2=-1) for t in (tril, tril_old))
    d_log_det = jnp.sum(jnp.log(diag) - jnp.log(diag_old), axis=-1)  # (K,)
    d_tril = tril_old - tril
    d_cov = d_tril @ jnp.swapaxes(tril_old, -1, -2) + tril @ jnp.swapaxes(d_tril, -1, -2)
    delta = stats.anchor - mix.locs  # (K, D)
    cross = stats.s1[:, :, None] * delta[:, None, :]
    extra = cross + jnp.swapaxes(cross, -1, -2) + stats.n[:, None, None] * delta[:, :, None] * delta[:, None, :]
    change = d_cov @ _cho_solve(tril_old, stats.s2) + extra  # (K, D, D)
    quad = jnp.trace(_cho_solve(tril, change), axis1=-2, axis2=-1)  # (K,)
    return (
        (log_prior - old_prior)
        + jnp.sum(stats.n * (mix.log_weights - old.log_weights))
        - jnp.sum(stats.n * d_log_det)
        - 0.5 * jnp.sum(quad)
    )


def newton_ascent(q, v0, steps: int = NEWTON_STEPS):
    """Maximise ``q`` (flat vector -> scalar) from ``v0`` by Newton steps with the Hessian's
    eigenvalues replaced by minus their absolute values (floored at 1e-6 of the largest) and a
    backtracking line search (Armijo, halving up to :data:`LINE_SEARCH_HALVINGS` times). Never
    returns a point with lower ``q`` than ``v0``."""
    value_and_grad = jax.value_and_grad(q)
    hessian = jax.hessian(q)

    def body(carry):
        v, value, i, _ = carry
        _, g = value_and_grad(v)
        w, basis = jnp.linalg.eigh(hessian(v))
        w = jnp.abs(w)
        w = jnp.maximum(w, 1e-6 * jnp.max(w) + 1e-30)
        step = basis @ ((basis.T @ g) / w)  # -H^-1 g with H negative definite: an ascent direction
        slope = jnp.dot(g, step)  # > 0 unless g = 0

        def shorter(c):
            t, _ = c
            return t * 0.5, q(v + t * 0.5 * step)

        def too_long(c):
            t, new = c
            return (t > 2.0**-LINE_SEARCH_HALVINGS) & ~(new >= value + 1e-4 * t * slope)

        t, new = jax.lax.while_loop(too_long, shorter, (jnp.ones((), v.dtype), q(v + step)))
        ok = jnp.isfinite(new) & (new >= value) & (slope > 0)
        v, new_value = jnp.where(ok, v + t * step, v), jnp.where(ok, new, value)
        # stop at a vanishing Newton decrement, or when no step helps
        done = ~ok | (0.5 * slope <= 1e-7 * (1.0 + jnp.abs(value)))
        return v, new_value, i + 1, done

    def more(carry):
        return (carry[2] < steps) & ~carry[3]

    v, value, _, _ = jax.lax.while_loop(more, body, (v0, q(v0), 0, False))
    return v, value


#: SQUAREM's first extrapolation bound, and the factor it grows by after a full step is accepted
#: (shrinks by after one is refused): Varadhan and Roland's defaults.
STEP_MAX0, STEP_FACTOR = 1.0, 4.0


def em_run(spec, max_iter: int):
    """``run(u, data, mask, hyper, spread, tol, limit, scale) -> (u, log_posts, n_iter, converged)``
    for one candidate (vmap it): accelerated EM from the unconstrained values ``u`` (site name ->
    value) for at most ``limit`` (<= ``max_iter``, traced) iterations, stopping when the log
    posterior changes by at most ``tol`` (relative); the likelihood's statistics are multiplied by
    ``scale`` (N / M when ``data`` are a subsample of M of N points, else 1). ``log_posts`` (max_iter,): the log posterior
    at the start of each iteration (NaN past ``n_iter``); the returned ``u`` is the point of the
    last entry.

    One iteration is a SQUAREM cycle (Varadhan and Roland 2008, scheme S3, with their
    monotone safeguard): two EM steps ``theta1 = M(theta0)``, ``theta2 = M(theta1)``, the
    extrapolation ``theta' = theta0 + 2 a r + a^2 v`` (``r = theta1 - theta0``, ``v = theta2 - 2
    theta1 + theta0``, ``a = |r| / |v|`` clipped to [1, step bound], norms in prior-spread
    units), and a stabilising EM step from ``theta'``; when ``theta'`` is not finite or its log
    posterior is below ``theta1``'s, the cycle ends at ``theta2`` instead (a plain EM step) and
    the bound shrinks. Three passes over the data per iteration; the log posterior never
    decreases from one iteration to the next, and where EM converges linearly and slowly (many
    overlapping components), the cycle moves as far as many EM steps."""

    def log_post_terms(u, data, hyper):
        return _site_terms(spec, spec.constrain(u), data, hyper)

    def run(u, data, mask, hyper, spread, tol, limit, scale):
        flat0, unravel = ravel_pytree(u)
        spread_flat, _ = ravel_pytree(spread)

        def update(flat):
            """(log posterior at ``flat``, one EM step from it)."""
            log_prior, mix = log_post_terms(unravel(flat), data, hyper)
            stats = estep(mix, data, mask, spec.sharded)
            stats = stats._replace(n=stats.n * scale, s1=stats.s1 * scale, s2=stats.s2 * scale, loglik=stats.loglik * scale)

            def q(v):
                terms = log_post_terms(unravel(flat + v * spread_flat), data, hyper)
                return expected_log_joint_gain(terms[0], terms[1], log_prior, mix, stats)

            step, _ = newton_ascent(q, jnp.zeros_like(flat))
            return log_prior + stats.loglik, flat + step * spread_flat

        # One pass over the data per loop step, ``update`` traced once: the cycle is a state
        # machine. Phase 0 updates theta1 (giving theta2 and the extrapolation), phase 1 the
        # extrapolated point (accepted or not), phase 2 the cycle's end point, which starts the
        # next cycle (the loop starts there, at the start point).
        def step(carry):
            phase, x, flat, flat1, value1, flat2, bound, full, prev, i, _, trace = carry
            value, mx = update(x)
            # phase 0: x = theta1
            r, v = (x - flat) / spread_flat, (mx - 2 * x + flat) / spread_flat
            a = jnp.clip(jnp.sqrt(jnp.sum(r**2) / jnp.maximum(jnp.sum(v**2), jnp.finfo(x.dtype).tiny)), 1.0, bound)
            jump = flat + (2 * a * r + a**2 * v) * spread_flat
            # phase 1: x = the extrapolated point, kept when its log posterior is at least theta1's
            ok = jnp.isfinite(value) & (value >= value1) & jnp.all(jnp.isfinite(mx))
            # a step at the bound: the bound grows when the step is kept, shrinks when it is not
            resized = jnp.where(full, jnp.where(ok, bound * STEP_FACTOR, jnp.maximum(STEP_MAX0, bound / STEP_FACTOR)), bound)
            # phase 2: x = the cycle's end point
            converged = (i > 0) & (jnp.abs(value - prev) <= tol * jnp.abs(value))
            zero, one, two = phase == 0, phase == 1, phase == 2
            return (
                (phase + 1) % 3,
                jnp.where(zero, jump, jnp.where(one, jnp.where(ok, mx, flat2), mx)),
                jnp.where(two, x, flat),
                jnp.where(two, mx, flat1),
                jnp.where(zero, value, value1),
                jnp.where(zero, mx, flat2),
                jnp.where(one, resized, bound),
                jnp.where(zero, a >= bound, full),
                jnp.where(two, value, prev),
                jnp.where(two, i + 1, i),
                two & converged,
                jnp.where(two, trace.at[i].set(value), trace),
            )

        def more(carry):
            phase, i, converged = carry[0], carry[9], carry[10]
            return (phase != 0) | ((i < limit) & ~converged)

        dtype = flat0.dtype
        trace = jnp.full((max_iter,), jnp.nan, dtype)
        nan = jnp.array(jnp.nan, dtype)
        start = (
            jnp.int32(2),
            flat0,
            flat0,
            flat0,
            nan,
            flat0,
            jnp.array(STEP_MAX0, dtype),
            jnp.array(False),
            nan,
            jnp.int32(0),
            jnp.array(False),
            trace,
        )
        _, _, flat, _, _, _, _, _, _, n_iter, converged, trace = jax.lax.while_loop(more, step, start)
        return unravel(flat), trace, n_iter, converged

    return run


def check_em(spec, method: str) -> str:
    """The optimiser ``fit_map`` uses: ``method`` (already checked to be ``"em"``, ``"adam"`` or
    ``None``) with ``None`` resolved (EM where the model's marginal form allows it, else Adam);
    ``"em"`` is refused for a model EM cannot read."""
    if method is None:
        return "em" if supports_em(spec) else "adam"
    if method == "em" and not supports_em(spec):
        name = getattr(spec.model, "__name__", type(spec.model).__name__)
        raise ValueError(
            f"method='em' needs a model whose marginal form (marginal=True) observes a MixtureSameFamily of Normal "
            f"or MultivariateNormal components with global weights, locations and scales; got model {name} (use method='adam')"
        )
    return method


__all__ = [
    "ConvergenceWarning",
    "FullNormalMixture",
    "NormalMixture",
    "Stats",
    "check_em",
    "em_form",
    "em_run",
    "estep",
    "expected_log_joint_gain",
    "newton_ascent",
    "supports_em",
]
