"""Data checks shared by the models and the drivers (the other arguments are checked from the
table of :mod:`mixzoo._constraints`).

Every check raises ``ValueError`` or ``TypeError`` with a message that names the
argument, says what it must be and shows what it got. Checks run on concrete
values only (never on JAX tracers), so they happen before any tracing.
"""

from __future__ import annotations

import numpy as np


def is_concrete(x) -> bool:
    """True unless ``x`` is (or contains) a JAX tracer."""
    import jax  # imported here so that data checks alone do not load JAX

    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def real_array(data, name: str = "data", dtype=float) -> np.ndarray:
    """``data`` as a ``dtype`` array, refusing what is not an array of real numbers: ragged
    nesting, strings, objects that are not numbers, complex values (their imaginary part would
    be dropped) and booleans. The one conversion behind the training-data and new-data checks."""
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of numbers; got {type(data).__name__} ({exc})") from None
    if arr.dtype.kind in "cb":
        raise TypeError(f"{name} must be an array of real numbers; got dtype {arr.dtype}")
    if arr.dtype.kind == "O":
        if any(
            isinstance(v, (complex, np.complexfloating, bool, np.bool_)) or not isinstance(v, (int, float, np.number))
            for v in arr.ravel()
        ):
            raise TypeError(
                f"{name} must be an array of real numbers; got an object array holding "
                f"{sorted({type(v).__name__ for v in arr.ravel()})}"
            )
    elif arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of numbers; got {type(data).__name__} of dtype {arr.dtype}")
    return arr.astype(dtype)


def require_finite(arr: np.ndarray, name: str = "data") -> None:
    """Raise naming the first NaN or inf of ``arr`` (its index: an int for 1-D, else a tuple)
    and how many there are."""
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(arr[idx]) else "inf"
        where = idx[0] if len(idx) == 1 else idx
        raise ValueError(
            f"{name} must contain only finite numbers; got {kind} at index {where} ({int(bad.sum())} non-finite value(s))"
        )


def check_data(data, *, ndim: int | tuple, name: str = "data", min_points: int = 2) -> np.ndarray:
    """Check training data: real numbers, ``ndim`` dimensions (an int, or a tuple of the
    accepted ones), finite, at least ``min_points`` points. (New data for a fitted model have
    their own rules: :func:`mixzoo.infer.problem.check_new_data`.)

    Returns the data as a float ``numpy`` array. Shapes: ``(N,)`` for ``ndim=1`` and
    ``(N, D)`` for ``ndim=2``.
    """
    arr = real_array(data, name)
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in ndims:
        wants = {1: "a 1-D array of shape (N,)", 2: "a 2-D array of shape (N, D)"}
        want = " or ".join(wants[d] for d in ndims)
        raise ValueError(f"{name} must be {want}; got an array of shape {arr.shape}")
    if arr.ndim == 2 and arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column; got shape {arr.shape}")
    require_finite(arr, name)
    if arr.shape[0] < min_points:
        raise ValueError(f"{name} must have at least {min_points} points; got {arr.shape[0]}")
    return arr
