"""Inference drivers; each takes a model function and its data (or a bound problem from
:func:`bind`) and works on every model of :mod:`mixzoo.models` (and on any model with one
enumerated assignment site).

=================  ==========================================================  ===============
driver             what it does                                                result
=================  ==========================================================  ===============
``bind``           the model, its data and hyperparameters, read once          ``Problem``
``fit_map``        MAP, best of many vmapped restarts, analytic or enumerated  ``MAPResult``
``fit_svi``        minibatch mean-field SVI of the globals (millions of points) ``SVIResult``
``fit_svi_enum``   per-datum assignment guide, globals at the MAP              ``SVIEnumResult``
``fit_nuts``       collapsed NUTS, several chains                              ``NUTSResult``
``classify``       ``infer_discrete`` assignments (MAP or sampled), new data   array
``select_components``  MAP fits for each K, scored by BIC / AIC / ICL          ``ComponentSelection``
=================  ==========================================================  ===============

Every result is a :class:`Result` (``problem``, ``params``, ``losses``, ``info``).
"""

from .. import _cache

_cache.enable_persistent_cache()  # JAX's persistent compilation cache, on by default (see mixzoo._cache)

from ._em import ConvergenceWarning  # noqa: E402
from .classify import classify  # noqa: E402
from .map import DegenerateMAPWarning, MAPResult, fit_map  # noqa: E402
from .nuts import NUTSResult, fit_nuts  # noqa: E402
from .problem import Problem, bind  # noqa: E402
from .result import Result  # noqa: E402
from .select import ComponentSelection, select_components  # noqa: E402
from .svi import SVIResult, fit_svi  # noqa: E402
from .svi_enum import SVIEnumResult, fit_svi_enum  # noqa: E402

__all__ = [
    "ConvergenceWarning",
    "DegenerateMAPWarning",
    "MAPResult",
    "NUTSResult",
    "Problem",
    "Result",
    "SVIEnumResult",
    "SVIResult",
    "bind",
    "classify",
    "ComponentSelection",
    "fit_map",
    "fit_nuts",
    "fit_svi",
    "fit_svi_enum",
    "select_components",
]
