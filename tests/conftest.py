import os
import tempfile

#: The cores this process may run on (before any pinning below).
CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))

if os.environ.get("PYTEST_XDIST_WORKER") and hasattr(os, "sched_setaffinity"):
    # pytest-xdist: each worker gets its own share of the cores (worker i: cores i, i + n, ...),
    # before JAX starts its thread pools; notebook kernels and command-line subprocesses inherit
    # it. Workers whose XLA thread pools span the same cores slow each other down ~3x, and so
    # does XLA's single-thread mode (--xla_cpu_multi_thread_eigen=false) on this code.
    _worker = int(os.environ["PYTEST_XDIST_WORKER"].lstrip("gw"))
    _count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if _count <= len(CORES):
        os.sched_setaffinity(0, CORES[_worker % _count :: _count])

import jax
import numpy as np
import pytest

# Many tests compile the same computations (same model, same shapes) through fresh closures;
# JAX's persistent compilation cache turns those recompilations into cache hits.
_CACHE = os.environ.get("MIXZOO_TEST_JAX_CACHE", os.path.join(tempfile.gettempdir(), "mixzoo-test-jax-cache"))
jax.config.update("jax_compilation_cache_dir", _CACHE)
# command-line subprocesses and notebook kernels use the same folder, not the user's cache
os.environ.setdefault("MIXZOO_CACHE_DIR", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

from mixzoo import datasets

#: Test modules that share expensive fits (module or session fixtures, the lru-cached NUTS fits
#: of diagnostics_fits.py) run on one pytest-xdist worker (``--dist loadgroup``), so that the
#: fits are computed once; the other tests are spread over the workers one by one.
XDIST_GROUPS = {
    "test_diagnostics": "nuts_fits",
    "test_diagnostics_validation": "nuts_fits",
    "test_constraints": "nuts_fits",
    "test_plotting": "nuts_fits",
    "test_report": "nuts_fits",
    "test_tutorial": "nuts_fits",
    "test_recovery": "recovery",
    "test_full_gmm_recovery": "full_recovery",  # the simulated and Old Faithful MAP fits, shared by the module's tests
    "test_performance": "performance",
    "test_problem": "problem",  # its tests share compiled programs (same model, options and sizes)
    "test_select": "select",
    "test_sklearn_full": "sklearn_full",  # the module's Old Faithful, SVI and NUTS fits (module fixtures)
    "test_calibration": "calibration",  # its studies share one model's compiled NUTS programs  # the galaxy selection, and the command that repeats it (its programs cached)
}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the group marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        group = XDIST_GROUPS.get(module)
        callspec = getattr(item, "callspec", None)
        if module == "test_smoke_grid" and callspec is not None and "case" in callspec.params:
            # one worker per model: its drivers share the lru-cached MAP and NUTS fits of the case
            group = f"grid_{callspec.params['case']}"
        if module == "test_sklearn" and callspec is not None and "estimator" in callspec.params:
            # scikit-learn's checks of one estimator on one worker: they fit the same shapes again and again
            estimator = callspec.params["estimator"]
            group = f"sklearn_{estimator.weight_prior}_{estimator.inference}_{estimator.covariance_type}"
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per core, at most 4 (each worker holds its own JAX runtime)."""
    return max(1, min(4, len(CORES)))


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
    """The tutorial's MAP by EM (the default)."""
    from mixzoo import dirichlet_gmm, fit_map

    return fit_map(dirichlet_gmm, tutorial_data, **TUTORIAL_KWARGS)


@pytest.fixture(scope="session")
def tutorial_map_adam(tutorial_data):
    """The tutorial's MAP by 500 Adam steps (the NumPyro tutorial's optimiser)."""
    from mixzoo import dirichlet_gmm, fit_map

    return fit_map(dirichlet_gmm, tutorial_data, method="adam", num_steps=500, **TUTORIAL_KWARGS)


def sorted_by(values, key):
    """Rows of ``values`` in the order of ``key`` (label-invariant comparisons)."""
    return np.asarray(values)[np.argsort(np.asarray(key))]


# MIXZOO_COMPILE_REPORT=<folder>: each worker writes, per test, the seconds XLA spent compiling
# (cold-cache suite time is mostly compilation; this says where it goes)
if os.environ.get("MIXZOO_COMPILE_REPORT"):
    import json

    _COMPILE = {"test": None, "seconds": {}}

    def _on_compile(event, duration, **kwargs):
        if event == "/jax/compilation_cache/compile_time_saved_sec" or "backend_compile" not in event:
            return
        test = _COMPILE["test"] or "<collection>"
        _COMPILE["seconds"][test] = _COMPILE["seconds"].get(test, 0.0) + duration

    jax.monitoring.register_event_duration_secs_listener(_on_compile)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        _COMPILE["test"] = item.nodeid
        yield

    def pytest_sessionfinish(session):
        folder = os.environ["MIXZOO_COMPILE_REPORT"]
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"compile-{os.getpid()}.json"), "w") as fh:
            json.dump(_COMPILE["seconds"], fh)
