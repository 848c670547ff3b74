"""The restart values: NumPy prior draws inside the compiled call, distinct data points."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest

from mixzoo.infer._host_draws import SAMPLERS, host_sample
from mixzoo.infer._restarts import _data_indices, _median

DRAWS = 4000
SEEDS = jnp.asarray(np.random.default_rng(0).integers(0, 2**32, (DRAWS, 4), dtype=np.uint32))

# every distribution with a NumPy sampler, with its analytic mean and variance
CASES = [
    (dist.Normal(jnp.array([-1.0, 3.0]), jnp.array([0.5, 2.0])), [-1.0, 3.0], [0.25, 4.0]),
    (dist.LogNormal(0.3, 0.5), np.exp(0.3 + 0.125), (np.exp(0.25) - 1) * np.exp(0.6 + 0.25)),
    (dist.HalfNormal(2.0), 2.0 * np.sqrt(2 / np.pi), 4.0 * (1 - 2 / np.pi)),
    (dist.Gamma(jnp.array([0.5, 3.0]), 2.0), [0.25, 1.5], [0.125, 0.75]),
    (dist.InverseGamma(5.0, 2.0), 0.5, 4.0 / (16 * 3)),
    (dist.Exponential(4.0), 0.25, 1 / 16),
    (dist.Beta(2.0, jnp.array([1.0, 6.0])), [2 / 3, 0.25], [2 / 36, 12 / (64 * 9)]),
    (dist.Uniform(-1.0, 3.0), 1.0, 16 / 12),
    (dist.Dirichlet(jnp.array([0.5, 1.0, 2.5])), [0.125, 0.25, 0.625], [0.125 * 0.875 / 5, 0.25 * 0.75 / 5, 0.625 * 0.375 / 5]),
]


def test_every_numpy_sampler_is_tested():
    assert {type(fn) for fn, _, _ in CASES} == set(SAMPLERS)


@pytest.mark.parametrize("fn,mean,var", CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_host_sample_moments_under_vmap(fn, mean, var):
    x = np.asarray(jax.jit(jax.vmap(lambda s: host_sample(fn, s)))(SEEDS))
    assert x.shape == (DRAWS,) + fn.batch_shape + fn.event_shape
    # the mean of 4,000 draws is within 4.5 standard errors of the true mean
    np.testing.assert_array_less(np.abs(x.mean(0) - mean), 4.5 * np.sqrt(np.asarray(var) / DRAWS))
    np.testing.assert_allclose(x.var(0), var, rtol=0.15)


def test_host_sample_follows_batched_parameters_and_plates():
    # sticks ~ Beta(1, concentration) in a plate of 19, the concentration varying with the draw
    concentration = jnp.array([0.5, 2.0, 10.0])
    one = lambda c, s: host_sample(dist.Beta(1.0, c).expand([19]), s)  # noqa: E731
    x = np.asarray(jax.jit(jax.vmap(jax.vmap(one, (None, 0)), (0, None)))(concentration, SEEDS))
    assert x.shape == (3, DRAWS, 19)
    mean = 1 / (1 + np.asarray(concentration))
    np.testing.assert_allclose(x.mean(axis=(1, 2)), mean, rtol=0.02)
    assert abs(np.corrcoef(x[0, :, 0], x[0, :, 1])[0, 1]) < 0.06  # independent across the plate


def test_host_sample_is_reproducible_and_falls_back_to_jax():
    fn = dist.Gamma(2.0, 1.0).expand([5])
    draw = jax.jit(lambda s: host_sample(fn, s))
    np.testing.assert_array_equal(draw(SEEDS[0]), draw(SEEDS[0]))
    assert not np.array_equal(draw(SEEDS[0]), draw(SEEDS[1]))
    student = np.asarray(jax.vmap(lambda s: host_sample(dist.StudentT(5.0), s))(SEEDS))  # no NumPy sampler here
    assert abs(student.mean()) < 4.5 * np.sqrt(5 / 3 / DRAWS)


@pytest.mark.parametrize("n", [1, 2, 63, 64])
def test_median_by_sort_is_jnp_median_bit_for_bit(n):
    # the restart values' medians (one sort) must give jnp.median's numbers exactly, for odd and
    # even lengths (the even case averages the two middle values)
    x = jnp.asarray(np.random.default_rng(n).standard_t(3, size=(n, 5, 2)), dtype=jnp.float32)
    np.testing.assert_array_equal(np.asarray(_median(x)), np.asarray(jnp.median(x, axis=0)))


@pytest.mark.parametrize("n,k", [(10, 10), (50, 7), (1_000_000, 20)])
def test_data_indices_distinct_and_uniform(n, k):
    idx = _data_indices(np.random.default_rng(1), n, k, 3000)
    assert idx.shape == (3000, k) and idx.min() >= 0 and idx.max() < n
    assert all(len(set(row)) == k for row in idx)
    if n == 50:  # each point is chosen with probability k / n: counts ~ Binomial(3000, 7/50)
        counts = np.bincount(idx.ravel(), minlength=n)
        p = k / n
        np.testing.assert_array_less(np.abs(counts - 3000 * p), 4.5 * np.sqrt(3000 * p * (1 - p)))


def test_host_draws_stay_inside_the_support():
    # Beta(1, 0.01) rounds to 1 and Gamma(0.02) to 0 in float32 for most draws; both must stay
    # finite in unconstrained space, as numpyro's samplers keep them (clamp_probs)
    sticks = np.asarray(jax.vmap(lambda s: host_sample(dist.Beta(1.0, 0.01).expand([19]), s))(SEEDS))
    gammas = np.asarray(jax.vmap(lambda s: host_sample(dist.Gamma(0.02, 1.0), s))(SEEDS))
    weights = np.asarray(jax.vmap(lambda s: host_sample(dist.Dirichlet(jnp.full(5, 0.01)), s))(SEEDS))
    assert 0 < sticks.min() and sticks.max() < 1 and np.mean(sticks > 0.999) > 0.9
    assert gammas.min() > 0 and np.isfinite(np.log(gammas)).all()
    assert 0 < weights.min() and weights.max() < 1
