import os
import tempfile

import jax
import numpy as np
import pytest

# Many tests compile the same computations (same model, same shapes) through fresh closures;
# JAX's persistent compilation cache turns those recompilations into cache hits.
jax.config.update(
    "jax_compilation_cache_dir", os.environ.get("MIXZOO_TEST_JAX_CACHE", os.path.join(tempfile.gettempdir(), "mixzoo-test-jax-cache"))
)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

from mixzoo import datasets

# The NumPyro tutorial's priors: Dirichlet(0.5), LogNormal(0, 2), Normal(0, 10), one shared scale.
TUTORIAL_KWARGS = dict(
    n_components=2,
    shared_scale=True,
    weight_concentration=0.5,
    loc_mean=0.0,
    loc_sd=10.0,
    scale_median=1.0,
    scale_log_sd=2.0,
)


@pytest.fixture(scope="session")
def tutorial_data():
    return datasets.tutorial_data()


@pytest.fixture(scope="session")
def tutorial_map(tutorial_data):
    from mixzoo import dirichlet_gmm, fit_map

    return fit_map(dirichlet_gmm, tutorial_data, num_steps=500, **TUTORIAL_KWARGS)


def sorted_by(values, key):
    """Rows of ``values`` in the order of ``key`` (label-invariant comparisons)."""
    return np.asarray(values)[np.argsort(np.asarray(key))]
