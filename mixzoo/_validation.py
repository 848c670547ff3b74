"""Argument checks shared by the models and the drivers.

Every check raises ``ValueError`` or ``TypeError`` with a message that names the
argument, says what it must be and shows what it got. Checks run on concrete
values only (never on JAX tracers), so they happen before any tracing.
"""

from __future__ import annotations

import numbers

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


def check_data(data, *, ndim: int, name: str = "data", min_points: int = 2) -> np.ndarray:
    """Check training data: real numbers, ``ndim`` dimensions, finite, at least ``min_points``
    points. (New data for a fitted model have their own rules:
    :func:`mixzoo.infer.problem.check_new_data`.)

    Returns the data as a float ``numpy`` array. Shapes: ``(N,)`` for ``ndim=1`` and
    ``(N, D)`` for ``ndim=2``.
    """
    arr = real_array(data, name)
    if arr.ndim != ndim:
        want = "a 1-D array of shape (N,)" if ndim == 1 else "a 2-D array of shape (N, D)"
        raise ValueError(f"{name} must be {want}; got an array of shape {arr.shape}")
    if ndim == 2 and arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column; got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(arr[tuple(idx)]) else "inf"
        raise ValueError(
            f"{name} must contain only finite numbers; got {kind} at index "
            f"{tuple(int(i) for i in idx) if ndim > 1 else int(idx[0])} ({int(bad.sum())} non-finite value(s))"
        )
    if arr.shape[0] < min_points:
        raise ValueError(f"{name} must have at least {min_points} points; got {arr.shape[0]}")
    return arr


def check_int(value, *, name: str, minimum: int) -> int:
    """Check that ``value`` is an integer (not bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def check_positive(value, *, name: str):
    """Check a hyperparameter: finite and strictly positive (scalar or array)."""
    if value is None or not is_concrete(value):
        return value
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive number; got {value!r}") from None
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return value


def check_finite(value, *, name: str):
    """Check a hyperparameter that may be any finite real number."""
    if value is None or not is_concrete(value):
        return value
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a finite number; got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return value


def check_bool(value, *, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)
