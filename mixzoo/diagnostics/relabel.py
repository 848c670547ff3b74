"""Undo label switching: permute the components of every posterior draw to match a reference.

Each draw's components are matched to the reference components by an optimal assignment
(``scipy.optimize.linear_sum_assignment``, the Hungarian algorithm) on the squared distance
between their parameters, every parameter standardised by its posterior spread (pooled over
components, so the standardisation does not depend on the labels). With no reference given,
the pivot is the draw of highest ``lp`` (or the first draw) and the reference is then
iterated to the mean of the relabelled draws until no permutation changes (the k-means-like
relabelling of Stephens 2000 / Celeux et al. 2000; Marin, Mengersen & Robert 2005 for the
pivot). Component-indexed variables are found by their component axis: the ``component``
dimension of an InferenceData, or for a NUTS result every site whose first axis has the
length K of the contract's ``weights`` site.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy.optimize import linear_sum_assignment

from .._constraints import validated
from ..infer import Result
from ._arviz import COMPONENT_DIM, import_arviz, log_joint

#: Most alignment rounds when the reference is iterated to the mean of the relabelled draws.
MAX_ROUNDS = 20


@validated("relabel")
def relabel(x, reference=None):
    """Relabel the components of every draw of ``x`` consistently across draws and chains.

    :param x: an ``InferenceData`` from :func:`mixzoo.diagnostics.to_arviz` or a
        :class:`mixzoo.infer.NUTSResult`.
    :param reference: ``None`` (pivot draw, then the iterated mean of the relabelled draws;
        components are then numbered by decreasing mean weight),
        a :class:`mixzoo.infer.MAPResult` (labels of the MAP fit), a dict variable name ->
        (K, ...) values, or an int (the index of the pivot draw among the C*S draws, chains
        concatenated).
    :returns: the same kind as ``x``: a new ``InferenceData`` (posterior attribute
        ``relabelled = 1``) or ``NUTSResult`` whose component-indexed variables are permuted
        per draw; ``x`` itself is untouched (its draws stay the raw ones). Variables indexed by
        something else (e.g. the DP's ``sticks``) are not changed, so the relabelled DP
        ``weights`` are no longer in stick-breaking order.
    """
    values, lp = _component_values(x)
    perm = relabel_permutations(values, reference=_reference_values(reference, values), lp=lp)
    if reference is None and "weights" in values:  # free labels: largest mean weight first
        order = np.argsort(-_permute(values["weights"], perm).mean(axis=(0, 1)), kind="stable")
        perm = perm[..., order]
    return _apply(x, perm)


@validated("relabel_permutations")
def relabel_permutations(values: Mapping[str, np.ndarray], reference=None, lp=None) -> np.ndarray:
    """The permutation of each draw, shape (C, S, K): relabelled[c, s, k] = raw[c, s, perm[c, s, k]].

    :param values: name -> draws of a component-indexed variable, shape (C, S, K, ...).
    :param reference: ``None``, a dict name -> (K, ...), or an int pivot draw (see :func:`relabel`).
    :param lp: optional (C, S) log density; the pivot is its highest draw when ``reference``
        is ``None``.
    """
    if not values:
        raise ValueError("values must hold at least one component-indexed variable; got none")
    shapes = {name: np.shape(v)[:3] for name, v in values.items()}
    if len(set(shapes.values())) != 1 or len(next(iter(shapes.values()))) != 3:
        raise ValueError(f"values must all have shape (C, S, K, ...) with the same C, S, K; got {shapes}")
    c, s, k = next(iter(shapes.values()))
    if lp is not None and np.shape(lp) != (c, s):
        raise ValueError(f"lp must be None or an array of shape ({c}, {s}), the draws' log density; got shape {np.shape(lp)}")
    feats = np.concatenate([np.asarray(v, float).reshape(c * s, k, -1) for v in values.values()], axis=-1)
    spread = feats.std(axis=(0, 1))
    spread = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
    feats = feats / spread  # (C*S, K, F)
    if isinstance(reference, dict):
        missing = [n for n in values if n not in reference]
        if missing:
            raise ValueError(f"reference must give every component-indexed variable {list(values)}; missing {missing}")
        ref = np.concatenate([np.asarray(reference[n], float).reshape(k, -1) for n in values], axis=-1) / spread
        return _align(feats, ref).reshape(c, s, k)
    if reference is None:
        pivot = 0 if lp is None else int(np.nanargmax(np.asarray(lp).reshape(-1)))
    elif isinstance(reference, (int, np.integer)) and not isinstance(reference, bool) and 0 <= reference < c * s:
        pivot = int(reference)
    else:
        raise TypeError(
            f"reference must be None, a MAPResult, a dict of (K, ...) values or a draw index in [0, {c * s}); got {reference!r}"
        )
    ref, perm = feats[pivot], None
    for _ in range(MAX_ROUNDS):
        new = _align(feats, ref)
        if perm is not None and np.array_equal(new, perm):
            break
        perm = new
        ref = np.take_along_axis(feats, perm[:, :, None], axis=1).mean(axis=0)
    return perm.reshape(c, s, k)


def _align(feats: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Optimal permutation (S, K) of each draw's components (S, K, F) onto ``ref`` (K, F)."""
    cost = np.sum((ref[None, :, None, :] - feats[:, None, :, :]) ** 2, axis=-1)  # (S, K_ref, K_draw)
    return np.stack([linear_sum_assignment(one)[1] for one in cost])


def _component_values(x):
    """name -> (C, S, K, ...) draws of the component-indexed variables of ``x``, and the
    (C, S) log density (as ``to_arviz`` puts it in ``sample_stats.lp``) or None."""
    if isinstance(x, Result) and x.has_draws:
        if "weights" not in x.samples:
            raise ValueError("x must follow the model contract (a 'weights' site of shape (K,)); it has no 'weights'")
        k = x.samples["weights"].shape[-1]
        values = {n: np.asarray(v) for n, v in x.samples.items() if v.ndim >= 3 and v.shape[2] == k}
        latent = {s: np.asarray(x.params[s]) for s in x.problem.structure.global_sites}
        lp = log_joint(x.problem, latent).reshape(np.shape(x.diverging))
        return values, lp
    az = import_arviz()
    if isinstance(x, az.InferenceData) and hasattr(x, "posterior"):
        post = x.posterior
        values = {
            n: post[n].transpose("chain", "draw", COMPONENT_DIM, ...).values
            for n in post.data_vars
            if COMPONENT_DIM in post[n].dims
        }
        lp = x.sample_stats["lp"].values if hasattr(x, "sample_stats") and "lp" in x.sample_stats else None
        return values, lp
    raise TypeError(f"x must be an InferenceData (from to_arviz) or a NUTSResult; got {type(x).__name__}")


def _reference_values(reference, values):
    if isinstance(reference, Result) and not reference.has_draws:
        return {n: np.asarray(reference.params[n]) for n in values if n in reference.params}
    return reference


def _permute(v: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """v (C, S, K, ...) with its component axis permuted per draw by perm (C, S, K)."""
    index = perm.reshape(perm.shape + (1,) * (v.ndim - 3))
    return np.take_along_axis(v, np.broadcast_to(index, perm.shape + v.shape[3:]), axis=2)


def _apply(x, perm):
    if isinstance(x, Result) and x.has_draws:
        k = perm.shape[-1]
        samples = {
            n: (_permute(np.asarray(v), perm) if v.ndim >= 3 and v.shape[2] == k else np.asarray(v)) for n, v in x.samples.items()
        }
        params = {n: v.reshape((-1,) + v.shape[2:]) for n, v in samples.items()}
        return x._replace(params=params, info=x.info._replace(samples=samples))
    out = x.copy()
    post = out.posterior
    for n in post.data_vars:
        if COMPONENT_DIM in post[n].dims:
            da = post[n].transpose("chain", "draw", COMPONENT_DIM, ...)
            post[n] = da.copy(data=_permute(da.values, perm)).transpose(*post[n].dims)
    post.attrs["relabelled"] = 1
    return out
