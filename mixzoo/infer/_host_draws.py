"""Prior draws made by NumPy on the host, called from inside a compiled program.

The restart values (:mod:`mixzoo.infer._restarts`) need a few dozen joint prior draws once per fit.
JAX's Gamma sampler (behind Gamma, Beta and Dirichlet) is a rejection loop whose compilation
costs about a second on 2 CPU cores, far more than the draws themselves. NumPy draws the same
distributions exactly in microseconds; :func:`host_sample` hands a site's parameters to NumPy
through ``jax.pure_callback``, so nothing but the callback is compiled. Distributions without a
NumPy counterpart here fall back to their own JAX sampler.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.distributions.transforms import biject_to


def _dirichlet(rng, concentration, size):
    gammas = rng.gamma(concentration, size=size)
    return gammas / gammas.sum(axis=-1, keepdims=True)


#: numpyro class -> (names of its parameters, NumPy sampler(rng, *parameters, size)).
SAMPLERS = {
    dist.Normal: (("loc", "scale"), lambda rng, loc, scale, size: rng.normal(loc, scale, size)),
    dist.LogNormal: (("loc", "scale"), lambda rng, loc, scale, size: rng.lognormal(loc, scale, size)),
    dist.HalfNormal: (("scale",), lambda rng, scale, size: np.abs(rng.normal(0.0, scale, size))),
    dist.Gamma: (("concentration", "rate"), lambda rng, a, b, size: rng.gamma(a, 1.0 / b, size)),
    dist.InverseGamma: (("concentration", "rate"), lambda rng, a, b, size: b / rng.gamma(a, 1.0, size)),
    dist.Exponential: (("rate",), lambda rng, rate, size: rng.exponential(1.0 / rate, size)),
    dist.Beta: (("concentration1", "concentration0"), lambda rng, a, b, size: rng.beta(a, b, size)),
    dist.Uniform: (("low", "high"), lambda rng, low, high, size: rng.uniform(low, high, size)),
    dist.Dirichlet: (("concentration",), _dirichlet),
}


def _interior(x: np.ndarray, support) -> np.ndarray:
    """``x`` kept off the boundary of ``support`` after rounding to its dtype, as numpyro's own
    samplers do (``clamp_probs``): a Beta(1, 0.01) draw rounds to 1 in float32, a Gamma(0.1)
    draw to 0, and either would be infinite in unconstrained space."""
    info = np.finfo(x.dtype)
    if support in (constraints.unit_interval, constraints.simplex):
        return np.clip(x, info.tiny, 1 - info.eps)
    if support is constraints.positive:
        return np.clip(x, info.tiny, info.max)
    return x


def _base(fn):
    """The distribution under plate expansion and ``to_event`` (which change no values)."""
    while isinstance(fn, (dist.ExpandedDistribution, dist.Independent)):
        fn = fn.base_dist
    return fn


def host_sample(fn, seed, sample_shape=()):
    """A draw from ``fn`` of shape ``sample_shape + fn.batch_shape + fn.event_shape``, made by
    NumPy when ``fn`` (possibly expanded or made independent) is one of :data:`SAMPLERS`.
    ``seed``: uint32 array (4,) that seeds NumPy's generator (reproducible draws). Works under
    ``jit`` and ``vmap`` (the callback receives the whole vmapped batch at once). Other
    distributions are drawn by their own JAX sampler, keyed by ``seed``."""
    base = _base(fn)
    if type(base) not in SAMPLERS:
        return fn.sample(seed[:2], sample_shape)  # a raw threefry key
    names, sampler = SAMPLERS[type(base)]
    shape = tuple(sample_shape) + fn.batch_shape + fn.event_shape
    dtype = jnp.result_type(float)
    # the parameters, right-aligned with the draw's shape
    params = [jnp.asarray(getattr(base, name), dtype) for name in names]

    def draw(seed, *params):
        # NumPy arrays: array methods of JAX arrays would compile one program per operation
        seed, params = np.asarray(seed), [np.asarray(p) for p in params]
        levels = seed.ndim - 1  # vmapped axes come first, size 1 where an argument is not batched
        batch = np.broadcast_shapes(seed.shape[:-1], *(p.shape[:levels] for p in params))
        rng = np.random.default_rng(np.asarray(seed, dtype=np.uint64).ravel().tolist())
        aligned = [np.reshape(p, p.shape[:levels] + (1,) * (len(shape) - (p.ndim - levels)) + p.shape[levels:]) for p in params]
        return _interior(np.asarray(sampler(rng, *aligned, size=batch + shape), dtype=dtype), base.support)

    return jax.pure_callback(draw, jax.ShapeDtypeStruct(shape, dtype), seed, *params, vmap_method="expand_dims")


def init_to_host_median(site=None, num_samples: int = 15):
    """NumPyro's ``init_to_median`` with the prior draws made by NumPy (:func:`host_sample`):
    the median, in unconstrained space, of ``num_samples`` prior draws of each latent site. The
    same strategy as NumPyro's, without compiling JAX's rejection samplers (Gamma, Beta,
    Dirichlet) into the program that starts the chains; usable as ``NUTS(model,
    init_strategy=init_to_host_median)``. The site's ``rng_key`` seeds the draws."""
    if site is None:
        return partial(init_to_host_median, num_samples=num_samples)
    if site["type"] != "sample" or site["is_observed"] or site["fn"].support.is_discrete:
        return None
    if site["value"] is not None:
        return site["value"]
    key = jnp.asarray(site["kwargs"]["rng_key"], dtype=jnp.uint32)
    seed = jnp.concatenate([key, key])  # a raw key for the JAX fallback, four words for NumPy
    samples = host_sample(site["fn"], seed, (num_samples,) + tuple(site["kwargs"].get("sample_shape", ())))
    transform = biject_to(site["fn"].support)
    return transform(jnp.median(transform.inv(samples), axis=0))
