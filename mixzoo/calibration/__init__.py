"""Simulation-based calibration of mixzoo's drivers on its models (or your own).

=========================  ==========================================================
``sbc``                    simulate from the prior, fit, rank the truths: ``SBCResult``
``default_quantities``     the label-invariant test quantities of a mixzoo model
``plot_ranks``             rank histograms with the expected band
``plot_ecdf_difference``   ECDF minus uniform with the simultaneous band (ArviZ)
=========================  ==========================================================

Modules: :mod:`.sbc` (the study), :mod:`.quantities` (test quantities), :mod:`.ranks`
(thinning by ESS, ranks), :mod:`.uniformity` (the ECDF test, bands, Bonferroni verdict),
:mod:`.plots`.
"""

from .plots import plot_ecdf_difference, plot_ranks
from .quantities import default_quantities
from .sbc import SIMULATION_PRIOR, SBCResult, sbc

__all__ = [
    "SBCResult",
    "SIMULATION_PRIOR",
    "default_quantities",
    "plot_ecdf_difference",
    "plot_ranks",
    "sbc",
]
