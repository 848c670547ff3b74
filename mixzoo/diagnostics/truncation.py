"""Is the truncation of a stick-breaking (Dirichlet-process) mixture large enough?

The truncated DP puts all the stick left after T-1 breaks on the last component, so the
posterior weight of that component measures the mass the truncation cuts off. When it is
not negligible the fit is a finite mixture of T components rather than an approximation
of the DP, and the truncation should be raised.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from .._constraints import validated
from ..infer import Result
from ._arviz import import_arviz

#: Default threshold on the posterior mean weight of the last component.
DEFAULT_THRESHOLD = 0.01


class TruncationWarning(UserWarning):
    """The last component of a truncated stick-breaking mixture holds non-negligible weight."""


class TruncationCheck(NamedTuple):
    """``last_weight`` (S,) draws (or (1,) for a MAP fit) of the last component's weight;
    ``mean`` and ``upper`` (95% quantile) of it; ``truncation`` T; ``threshold``; ``ok``:
    ``mean <= threshold``."""

    last_weight: np.ndarray
    mean: float
    upper: float
    truncation: int
    threshold: float
    ok: bool


@validated("check_truncation")
def check_truncation(x, *, threshold: float = DEFAULT_THRESHOLD, warn: bool = True) -> TruncationCheck:
    """Posterior of the weight left in the last component of a stick-breaking mixture
    (``dp_gmm``); a :class:`TruncationWarning` saying what to change when its posterior mean
    exceeds ``threshold``.

    :param x: a NUTS result, an ``InferenceData`` from :func:`to_arviz` (raw, not relabelled:
        relabelling breaks the stick order) or a MAP result of a model with ``sticks`` and
        ``weights`` sites.
    :param threshold: in (0, 1); 0.01 by default.
    """
    weights = _weights(x)
    last = weights[..., -1].reshape(-1)
    t = weights.shape[-1]
    mean, upper = float(last.mean()), float(np.quantile(last, 0.95))
    ok = mean <= threshold
    if warn and not ok:
        warnings.warn(
            f"the last of the {t} stick-breaking components holds posterior mean weight {mean:.3g} "
            f"(95% quantile {upper:.3g}), above {threshold:g}: the truncation cuts off part of the "
            f"Dirichlet process. Refit with a larger truncation (e.g. truncation={2 * t}) until the "
            "last component's weight is negligible.",
            TruncationWarning,
            stacklevel=3,  # past check_truncation and its @validated wrapper
        )
    return TruncationCheck(last_weight=last, mean=mean, upper=upper, truncation=t, threshold=float(threshold), ok=ok)


def _weights(x) -> np.ndarray:
    """The stick-breaking ``weights`` draws of ``x``, shape (..., T)."""
    if isinstance(x, Result):
        values = x.params
        if "sticks" not in values or "weights" not in values:
            raise ValueError("x must be a fit of a stick-breaking model (sites 'sticks' and 'weights', e.g. dp_gmm)")
        return np.asarray(values["weights"])
    az = import_arviz()
    if isinstance(x, az.InferenceData) and hasattr(x, "posterior"):
        post = x.posterior
        if "sticks" not in post or "weights" not in post:
            raise ValueError("x must be a fit of a stick-breaking model (sites 'sticks' and 'weights', e.g. dp_gmm)")
        if post.attrs.get("relabelled"):
            raise ValueError("x must hold the raw draws: relabelling permutes the weights out of stick order")
        return post["weights"].values
    raise TypeError(f"x must be a NUTSResult, MAPResult or InferenceData; got {type(x).__name__}")
