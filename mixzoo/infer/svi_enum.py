"""SVI with the assignments enumerated in the guide (the globals held at their MAP values)."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
import optax
from numpyro import handlers
from numpyro.distributions import constraints
from numpyro.infer import SVI, TraceEnum_ELBO

from .._validation import check_int, check_positive
from ._structure import inspect_model
from .map import MAPResult


class SVIEnumResult(NamedTuple):
    """Result of :func:`fit_svi_enum`.

    ``assignment_probs``: (N, K) variational posterior of each point's assignment.
    ``losses``: (num_steps,) ELBO loss. ``params``: the MAP globals the fit was conditioned on.
    """

    assignment_probs: jnp.ndarray
    losses: jnp.ndarray
    params: dict
    model: Callable
    model_kwargs: dict


def fit_svi_enum(
    model,
    data,
    map_result: MAPResult,
    *,
    num_steps: int = 200,
    learning_rate: float = 0.2,
    seed: int = 0,
) -> SVIEnumResult:
    """Fit a per-datum categorical guide ``assignment_probs`` (N, K) by SVI, enumerating the
    assignment in the guide, with the global sites held at ``map_result``'s values.

    The model keywords are taken from ``map_result``.
    """
    if not isinstance(map_result, MAPResult):
        raise TypeError(f"map_result must be a MAPResult from fit_map; got {type(map_result).__name__}")
    num_steps = check_int(num_steps, name="num_steps", minimum=1)
    check_positive(learning_rate, name="learning_rate")
    model_kwargs = map_result.model_kwargs
    structure = inspect_model(model, data, model_kwargs)
    data = jnp.asarray(data, dtype=jnp.result_type(float))
    n, k = data.shape[0], structure.n_components
    globals_ = {s: map_result.params[s] for s in structure.global_sites}
    conditioned = handlers.condition(model, data=globals_)

    def guide(data, **kwargs):
        with ExitStack() as stack:
            for frame in structure.data_frames:
                stack.enter_context(numpyro.plate(frame.name, data.shape[0], dim=frame.dim))
            probs = numpyro.param("assignment_probs", jnp.full((n, k), 1.0 / k), constraint=constraints.simplex)
            numpyro.sample(structure.enum_site, dist.Categorical(probs), infer={"enumerate": "parallel"})

    optimiser = optax.adam(learning_rate, b1=0.8, b2=0.99)
    svi = SVI(conditioned, guide, optimiser, loss=TraceEnum_ELBO(max_plate_nesting=structure.max_plate_nesting))
    out = svi.run(jax.random.PRNGKey(seed), num_steps, data, progress_bar=False, **model_kwargs)
    return SVIEnumResult(
        assignment_probs=out.params["assignment_probs"],
        losses=out.losses,
        params=dict(map_result.params),
        model=model,
        model_kwargs=dict(model_kwargs),
    )
