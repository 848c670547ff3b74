"""One result protocol for every driver.

Every result is a :class:`Result`: the :class:`~mixzoo.infer.problem.Problem` it was fitted
on, ``params`` (site name -> value: a point estimate, or draws with a leading (S,) axis when
``has_draws``), ``losses`` (the objective per step, or ``None`` for a sampler) and ``info``,
a NamedTuple of the driver's extras (BlackJAX's ``State``/``Info`` split). Diagnostics, plots
and classifiers read a result through this protocol only; the driver-specific attributes
(``MAPResult.grad_norms``, ``NUTSResult.samples`` ...) forward to ``info``.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True, repr=False)
class Result:
    """Base of every mixzoo result. ``problem``: the bound problem (model, hyperparameters,
    data); ``params``: site name -> constrained value, shapes as in the model, with a leading
    draw axis (S,) when ``has_draws``; ``losses``: (num_steps,) or ``None``; ``info``: the
    driver's extras (a NamedTuple)."""

    problem: Any
    params: dict
    losses: Any
    info: Any

    #: True when ``params`` holds posterior draws with a leading (S,) axis.
    has_draws = False

    @property
    def model(self):
        return self.problem.model

    @property
    def model_kwargs(self) -> dict:
        """The keywords the model was fitted with, data-derived hyperparameters included."""
        return self.problem.fit_kwargs

    @property
    def data(self):
        """(N, ...) the data the result was fitted to (host array)."""
        return self.problem.data

    def _replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def __getattr__(self, name):
        info = object.__getattribute__(self, "info")
        if name in getattr(type(info), "_fields", ()):
            return getattr(info, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self):
        sites = ", ".join(f"{k}{tuple(getattr(v, 'shape', ()))}" for k, v in self.params.items())
        return f"{type(self).__name__}({self.problem!r}; params: {sites})"


def evaluate(result, data, name, fn, key=None):
    """``fn(latent, data, hyper[, key])`` at the point values of ``result``, or at each of its
    draws (vmapped, one key per draw), on ``data`` (new points, or ``None`` for the fitted
    data) padded to their bucket; one program per ``name``, problem signature, number of draws
    and padded size. Returns the host array cut to the M given points: (M, ...) or (S, M, ...)."""
    import jax
    import numpy as np

    from . import _programs
    from .problem import n_draws

    if not isinstance(result, Result):
        raise TypeError(f"result must be a mixzoo result (MAPResult, SVIResult, NUTSResult); got {type(result).__name__}")
    problem = result.problem
    spec = problem.spec
    host, placed, _ = problem.place(problem.data if data is None else data)
    latent = {s: np.asarray(result.params[s]) for s in spec.structure.global_sites}
    args = (latent, placed, problem.hyper)
    n = n_draws(latent) if result.has_draws else None
    if key is not None:
        args += (jax.random.split(key, n) if n else key,)
    run = fn
    if n:
        run = jax.vmap(fn, in_axes=(0, None, None) + ((0,) if key is not None else ()))
    out = np.asarray(_programs.jitted((spec, name, n, placed.shape), run)(*args))
    return out[:, : host.shape[0]] if n else out[: host.shape[0]]
