"""mixzoo: Bayesian Gaussian mixture models on NumPyro.

The models (:mod:`mixzoo.models`) and drivers (:mod:`mixzoo.infer`) are available at the top
level (``from mixzoo import dp_gmm, fit_map``). Submodules load on first use, so that
``mixzoo.datasets`` and the command-line checks do not pay for importing JAX.
"""

import importlib
import importlib.util

__version__ = "0.1.0"

_SUBMODULES = ("datasets", "diagnostics", "infer", "io", "models", "plotting")
_MODEL_NAMES = ("MODELS", "diag_gmm", "dirichlet_gmm", "dp_gmm", "full_gmm")


def __getattr__(name):
    if name in _SUBMODULES or importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f".{name}", __name__)
    if name in _MODEL_NAMES:
        return getattr(importlib.import_module(".models", __name__), name)
    infer = importlib.import_module(".infer", __name__)
    if name in infer.__all__:
        return getattr(infer, name)
    raise AttributeError(f"module 'mixzoo' has no attribute {name!r}")


def __dir__():
    return sorted(
        set(globals()) | set(_SUBMODULES) | set(_MODEL_NAMES) | set(importlib.import_module(".infer", __name__).__all__)
    )


__all__ = [
    *_MODEL_NAMES,
    "bind",
    "classify",
    "ComponentSelection",
    "ConvergenceWarning",
    "DegenerateMAPWarning",
    "fit_map",
    "fit_nuts",
    "fit_svi",
    "fit_svi_enum",
    "MAPResult",
    "NUTSResult",
    "Problem",
    "Result",
    "SVIEnumResult",
    "SVIResult",
    "select_components",
]
