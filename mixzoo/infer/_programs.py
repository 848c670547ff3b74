"""The compiled programs of every driver, reused across calls and bounded in number.

A program is built (traced and compiled) the first time its key is asked for and kept in a
least-recently-used table of at most ``MIXZOO_MAX_PROGRAMS`` entries (default
:data:`MAX_PROGRAMS`); the least recently used program is dropped when the table is full, so
a sweep over many data sizes or model options cannot exhaust the process (every compiled
executable holds memory mappings; the kernel allows 65,530 per process). A key is a
:class:`mixzoo.infer.problem.Spec` (model, static options, padded data shape) plus the
driver's static options (numbers of steps, restarts, chains): never data values,
hyperparameters, learning rates or seeds, which are the programs' arguments.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Callable

import jax

#: Default size of the program table.
MAX_PROGRAMS = 128

_TABLE: OrderedDict = OrderedDict()
_LOCK = threading.Lock()


def max_programs() -> int:
    try:
        return max(1, int(os.environ.get("MIXZOO_MAX_PROGRAMS", MAX_PROGRAMS)))
    except ValueError:
        return MAX_PROGRAMS


def program(key, build: Callable[[], Callable]) -> Callable:
    """The program stored under ``key``, built by ``build()`` (returning a ``jax.jit``-ed or
    compiled callable) if absent; marks it most recently used."""
    with _LOCK:
        fn = _TABLE.pop(key, None)
    if fn is None:
        fn = build()
    with _LOCK:
        _TABLE[key] = fn
        limit = max_programs()
        while len(_TABLE) > limit:
            _TABLE.popitem(last=False)
    return fn


def jitted(key, fn: Callable, **jit_options) -> Callable:
    """``jax.jit(fn, **jit_options)`` stored under ``key`` (``fn`` is only used when absent)."""
    return program(key, lambda: jax.jit(fn, **jit_options))


def compiled(key, fn: Callable, *args, options: dict | None = None) -> Callable:
    """``fn`` lowered for ``args`` and compiled with the XLA ``options``, stored under ``key``
    (which must determine the shapes and dtypes of ``args``)."""
    return program(key, lambda: jax.jit(fn).lower(*args).compile(options))


def clear() -> None:
    """Drop every stored program (their executables are freed once unreferenced)."""
    with _LOCK:
        _TABLE.clear()


def size() -> int:
    return len(_TABLE)


#: The JAX monitoring event recorded once per program lowered for compilation (whether the
#: executable then comes from XLA or from the persistent cache).
LOWERING_EVENT = "/jax/core/compile/jaxpr_to_mlir_module_duration"
_LOGS: list = []
_LISTENING = False


def _listen(event: str, duration: float, **kwargs) -> None:
    if event == LOWERING_EVENT:
        for log in _LOGS:
            log.append(duration)


class compilation_log:
    """Context manager recording every program JAX lowers for compilation inside it (jitted
    programs, and the one-op programs of eager operations):

    >>> with compilation_log() as log:
    ...     fit_map(dirichlet_gmm, x, n_components=4)
    >>> len(log)  # 0 on a refit of data of the same padded size

    ``log`` is a list of lowering times (s), one per program."""

    def __enter__(self) -> list:
        global _LISTENING
        if not _LISTENING:
            jax.monitoring.register_event_duration_secs_listener(_listen)
            _LISTENING = True
        self.log = []
        _LOGS.append(self.log)
        return self.log

    def __exit__(self, *exc) -> None:
        _LOGS.remove(self.log)
