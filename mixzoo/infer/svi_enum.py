"""SVI with the assignments enumerated in the guide (the globals held at their MAP values)."""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import optax
from numpyro import handlers
from numpyro.distributions import constraints
from numpyro.infer import SVI, TraceEnum_ELBO

from .._constraints import validated
from . import _programs
from ._data import DataPlateWeights
from .map import MAPResult
from .result import Result


class SVIEnumInfo(NamedTuple):
    """Extras of :func:`fit_svi_enum`: ``assignment_probs`` (N, K), the variational posterior
    of each point's assignment."""

    assignment_probs: np.ndarray


@dataclasses.dataclass(frozen=True, repr=False)
class SVIEnumResult(Result):
    """Result of :func:`fit_svi_enum`. ``params``: the MAP globals the fit was conditioned on;
    ``losses``: (num_steps,) ELBO loss; ``info``: :class:`SVIEnumInfo` (``assignment_probs``
    is also an attribute)."""


@validated("fit_svi_enum")
def fit_svi_enum(
    model,
    data=None,
    map_result: MAPResult | None = None,
    *,
    num_steps: int = 200,
    learning_rate: float = 0.2,
    seed: int = 0,
) -> SVIEnumResult:
    """Fit a per-datum categorical guide ``assignment_probs`` (N, K) by SVI, enumerating the
    assignment in the guide, with the global sites held at ``map_result``'s values.

    The problem (model, hyperparameters, data) is ``map_result``'s; ``model`` and ``data`` may
    be given for the old call style ``fit_svi_enum(model, data, map_result)`` and must then be
    that problem's model and data. ``fit_svi_enum(map_result)`` is the short form. All steps
    run in one compiled ``lax.scan``, compiled once per problem signature and ``num_steps``.
    """
    if map_result is None and isinstance(model, MAPResult):
        map_result, model = model, None
    if not isinstance(map_result, MAPResult):
        raise TypeError(f"map_result must be a MAPResult from fit_map; got {type(map_result).__name__}")
    problem = map_result.problem
    if problem.weights is not None:
        raise ValueError(
            "map_result must be a fit of a problem bound without sample_weight: fit_svi_enum enumerates the "
            "assignment, and sample weights need the analytic form"
        )
    if model is not None and getattr(model, "spec", model) is not problem.model and model is not problem:
        raise ValueError("model must be the model map_result was fitted with (or omitted)")
    if data is not None:
        given = np.asarray(data, dtype=problem.data.dtype)
        if given.shape != problem.data.shape or not np.array_equal(given, problem.data):
            raise ValueError(
                f"data must be the {problem.n} points map_result was fitted to (or omitted); got shape {given.shape}"
            )
    spec = problem.spec
    globals_ = {s: np.asarray(map_result.params[s]) for s in spec.structure.global_sites}
    run = _program(spec, num_steps)
    probs, losses = jax.device_get(
        run(globals_, problem.placed, problem.mask, problem.hyper, np.float32(learning_rate), jax.random.PRNGKey(seed))
    )
    return SVIEnumResult(
        problem=problem, params=dict(map_result.params), losses=losses, info=SVIEnumInfo(assignment_probs=probs[: problem.n])
    )


def _program(spec, num_steps: int):
    structure = spec.structure
    model = spec.model_fn("enumerated")
    plates = structure.data_frames
    k = structure.n_components

    def guide(data, mask=None, hyper=None, scale=None):
        with ExitStack() as stack:
            for frame in plates:
                stack.enter_context(numpyro.plate(frame.name, data.shape[0], dim=frame.dim))
            probs = numpyro.param("assignment_probs", jnp.full((data.shape[0], k), 1.0 / k), constraint=constraints.simplex)
            numpyro.sample(structure.enum_site, dist.Categorical(probs), infer={"enumerate": "parallel"})

    def run(globals_, data, mask, hyper, learning_rate, key):
        conditioned = handlers.condition(model, data=globals_)
        masked_guide = DataPlateWeights(guide, plates=plates, mask=mask)
        optimiser = optax.adam(learning_rate, b1=0.8, b2=0.99)
        svi = SVI(conditioned, masked_guide, optimiser, loss=TraceEnum_ELBO(max_plate_nesting=structure.max_plate_nesting))
        state = svi.init(key, data, mask, hyper)

        def step(state, _):
            state, loss = svi.update(state, data, mask, hyper)
            return state, loss

        state, losses = jax.lax.scan(step, state, None, length=num_steps)
        return svi.get_params(state)["assignment_probs"], losses

    return _programs.jitted((spec, "svi_enum", num_steps), run)
