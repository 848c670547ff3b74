"""Posterior diagnostics that stay meaningful for mixtures.

=========================  =============================================================
``to_arviz``               NUTS fit -> ``arviz.InferenceData`` with the pointwise marginal
                           log-likelihood (``az.loo``, ``az.waic``, ``compare`` work)
``compare``                ``arviz.compare`` without arviz's deprecation noise
``relabel``                undo label switching (optimal assignment to a reference)
``summarize_partitions``   co-clustering matrix, point partition, occupied-cluster count
``check_truncation``       weight left in the last stick of a truncated DP
``responsibilities``       p(z_i = k | x_i, globals) of a MAP or NUTS fit
=========================  =============================================================
"""

from ._arviz import compare, to_arviz
from .partition import (
    ClusterCounts,
    PartitionSummary,
    PointPartition,
    cluster_counts,
    coclustering,
    point_partition,
    summarize_partitions,
)
from .relabel import relabel, relabel_permutations
from .report import NUTSReport, report
from .responsibilities import responsibilities
from .truncation import TruncationCheck, TruncationWarning, check_truncation

__all__ = [
    "ClusterCounts",
    "NUTSReport",
    "PartitionSummary",
    "PointPartition",
    "TruncationCheck",
    "TruncationWarning",
    "check_truncation",
    "cluster_counts",
    "coclustering",
    "compare",
    "point_partition",
    "relabel",
    "relabel_permutations",
    "report",
    "responsibilities",
    "summarize_partitions",
    "to_arviz",
]
