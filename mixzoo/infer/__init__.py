"""Inference drivers; each takes the model function as its first argument and works on every
model of :mod:`mixzoo.models` (and on any model with one enumerated assignment site).

=================  ==========================================================  ===============
driver             what it does                                                result
=================  ==========================================================  ===============
``fit_map``        MAP, best of many vmapped restarts, analytic or enumerated  ``MAPResult``
``fit_svi``        minibatch mean-field SVI of the globals (millions of points) ``SVIResult``
``fit_svi_enum``   per-datum assignment guide, globals at the MAP              ``SVIEnumResult``
``fit_nuts``       collapsed NUTS, several chains                              ``NUTSResult``
``classify``       ``infer_discrete`` assignments (MAP or sampled), new data   array
=================  ==========================================================  ===============
"""

from .classify import classify
from .map import MAPResult, fit_map
from .nuts import NUTSResult, fit_nuts
from .svi import SVIResult, fit_svi
from .svi_enum import SVIEnumResult, fit_svi_enum

__all__ = [
    "MAPResult",
    "NUTSResult",
    "SVIEnumResult",
    "SVIResult",
    "classify",
    "fit_map",
    "fit_nuts",
    "fit_svi",
    "fit_svi_enum",
]
