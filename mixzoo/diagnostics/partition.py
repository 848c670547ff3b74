"""Summaries of the posterior over partitions, from sampled assignments (S, N).

The draws come from ``mixzoo.classify(nuts_result, data, temperature=1)``: one sampled
assignment of every point per posterior draw. Partitions are label-invariant, so none of
this needs relabelling. The point partition is the candidate of least posterior expected
loss, the candidates being the sampled partitions and the cuts of an average-linkage tree on
1 - co-clustering (the ``"draws"`` and ``"avg"`` searches of R's ``mcclust``/``mcclust.ext``);
the loss is Binder's with equal costs (Dahl 2006) or the variation of information through the
lower bound of Wade & Ghahramani (2018), both computed from the co-clustering matrix.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.cluster.hierarchy import average, fcluster
from scipy.spatial.distance import squareform

from .._constraints import validated

#: Candidate partitions scored per matrix product (bounds the memory to N x CHUNK x K floats).
CHUNK = 256


class PointPartition(NamedTuple):
    """``partition`` (N,) labels 0..k-1 in order of first appearance; ``expected_loss`` its
    posterior expected loss; ``loss`` ``"binder"`` or ``"vi"``."""

    partition: np.ndarray
    expected_loss: float
    loss: str


class ClusterCounts(NamedTuple):
    """Posterior of the number of occupied clusters: ``values`` (M,) distinct counts,
    ``probs`` (M,) their posterior probabilities, ``per_draw`` (S,) the count in each draw."""

    values: np.ndarray
    probs: np.ndarray
    per_draw: np.ndarray


class PartitionSummary(NamedTuple):
    """``coclustering`` (N, N), ``point`` :class:`PointPartition`, ``counts`` :class:`ClusterCounts`."""

    coclustering: np.ndarray
    point: PointPartition
    counts: ClusterCounts


def check_assignments(z, name: str = "z") -> np.ndarray:
    """``z`` as an int array (S, N) of labels >= 0; raises naming ``name`` otherwise."""
    arr = np.asarray(z)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array (S draws, N points) of sampled assignments; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer component labels; got dtype {arr.dtype}")
    if arr.min() < 0:
        raise ValueError(f"{name} must hold labels >= 0; got minimum {arr.min()}")
    return arr


def canonical(z) -> np.ndarray:
    """Each row of ``z`` (S, N) relabelled 0, 1, ... in order of first appearance, so that
    equal partitions have equal rows."""
    z = check_assignments(z)
    s, n = z.shape
    first = np.full((s, z.max() + 1), n)
    np.minimum.at(first, (np.repeat(np.arange(s), n), z.ravel()), np.tile(np.arange(n), s))
    rank = np.argsort(np.argsort(first, axis=1), axis=1)
    return np.take_along_axis(rank, z, axis=1)


@validated("coclustering")
def coclustering(z) -> np.ndarray:
    """Posterior co-clustering (similarity) matrix (N, N): the fraction of draws of ``z``
    (S, N) in which points i and j share a cluster. Symmetric, unit diagonal."""
    z = canonical(z)
    p = np.zeros((z.shape[1],) * 2)
    for label in range(z.max() + 1):
        member = (z == label).astype(float)  # (S, N)
        p += member.T @ member
    return p / z.shape[0]


@validated("point_partition")
def point_partition(z, loss: str = "vi", coclust=None) -> PointPartition:
    """The partition of least posterior expected ``loss`` (``"binder"`` or ``"vi"``) among the
    sampled partitions and the cuts into 1..max(occupied clusters) of an average-linkage tree
    on 1 - co-clustering.

    :param z: sampled assignments (S, N).
    :param coclust: the co-clustering matrix of ``z`` if already computed.
    """
    z = canonical(z)
    if coclust is None:
        p = coclustering(z)
    else:
        p = np.asarray(coclust, float)
        n = z.shape[1]
        if p.shape != (n, n) or not np.all((p >= 0) & (p <= 1)):
            raise ValueError(
                f"coclust must be the ({n}, {n}) co-clustering matrix of z (values in [0, 1]) or None; "
                f"got an array of shape {p.shape}"
            )
    tree = average(squareform(1.0 - p, checks=False))
    cuts = [fcluster(tree, k, criterion="maxclust") - 1 for k in range(1, int(z.max()) + 2)]
    candidates = np.unique(np.concatenate([z, canonical(np.stack(cuts))]), axis=0)
    scores = np.concatenate([_expected_loss(candidates[i : i + CHUNK], p, loss) for i in range(0, len(candidates), CHUNK)])
    best = int(np.argmin(scores))
    return PointPartition(partition=candidates[best], expected_loss=float(scores[best]), loss=loss)


@validated("cluster_counts")
def cluster_counts(z) -> ClusterCounts:
    """Posterior of the number of occupied clusters (components with at least one point)."""
    z = np.sort(check_assignments(z), axis=1)
    per_draw = 1 + np.count_nonzero(np.diff(z, axis=1), axis=1)
    values, counts = np.unique(per_draw, return_counts=True)
    return ClusterCounts(values=values, probs=counts / per_draw.size, per_draw=per_draw)


@validated("summarize_partitions")
def summarize_partitions(z, loss: str = "vi") -> PartitionSummary:
    """Co-clustering matrix, point partition and cluster-count posterior of ``z`` (S, N)."""
    p = coclustering(z)
    return PartitionSummary(coclustering=p, point=point_partition(z, loss, coclust=p), counts=cluster_counts(z))


def _expected_loss(candidates: np.ndarray, p: np.ndarray, loss: str) -> np.ndarray:
    """Expected loss (U,) of each candidate partition (U, N) under co-clustering ``p`` (N, N).

    With A the candidate's co-clustering indicator: Binder = sum_{i<j} |A_ij - p_ij|;
    VI lower bound = mean_i [log2 sum_j A_ij + log2 sum_j p_ij - 2 log2 sum_j A_ij p_ij].
    """
    u, n = candidates.shape
    k = candidates.max() + 1
    onehot = (candidates[:, :, None] == np.arange(k)).astype(float)  # (U, N, K)
    same = np.einsum("uik,uik->ui", onehot, np.einsum("ij,ujk->uik", p, onehot))  # sum_j A_ij p_ij
    size = np.einsum("uik,uk->ui", onehot, onehot.sum(axis=1))  # sum_j A_ij
    if loss == "binder":
        return 0.5 * (size.sum(1) + p.sum() - 2 * same.sum(1))
    return np.mean(np.log2(size) + np.log2(p.sum(1))[None, :] - 2 * np.log2(same), axis=1)
