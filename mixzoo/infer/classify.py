"""Cluster assignments by ``infer_discrete``: MAP (temperature 0) or sampled (temperature 1)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from numpyro import handlers
from numpyro.contrib.funsor import infer_discrete

from .._validation import check_int
from ._structure import inspect_model
from .map import MAPResult
from .nuts import NUTSResult
from .svi import SVIResult


def classify(result, data, *, temperature: int = 0, seed: int = 0) -> jnp.ndarray:
    """Assign each point of ``data`` (training or new data) to a component.

    :param result: a :class:`MAPResult` or :class:`SVIResult` (point values: the MAP, or the
        variational median of the globals) or a :class:`NUTSResult` (posterior draws).
    :param data: shape (N,) or (N, D), as the model expects.
    :param temperature: 0 for the most probable assignment given the globals, 1 to sample it
        from its conditional posterior.
    :returns: int array (N,) for a MAP or SVI result; (S, N), one row per posterior draw, for a
        NUTS result (S = chains x draws).
    """
    if temperature not in (0, 1):
        raise ValueError(f"temperature must be 0 (MAP) or 1 (sampled); got {temperature!r}")
    check_int(seed, name="seed", minimum=0)
    if not isinstance(result, (MAPResult, SVIResult, NUTSResult)):
        raise TypeError(f"result must be a MAPResult, SVIResult or NUTSResult; got {type(result).__name__}")
    structure = inspect_model(result.model, data, result.model_kwargs)  # validates the new data
    data = jnp.asarray(data, dtype=jnp.result_type(float))
    latent = {s: result.params[s] for s in structure.global_sites}
    run = functools.partial(
        _assign,
        result.model,
        result.model_kwargs,
        structure.enum_site,
        -(structure.max_plate_nesting + 1),
        temperature,
    )
    key = jax.random.PRNGKey(seed)
    if not isinstance(result, NUTSResult):
        return jax.jit(run)(latent, data, key)
    n_draws = jax.tree_util.tree_leaves(latent)[0].shape[0]
    return jax.jit(jax.vmap(run, in_axes=(0, None, 0)))(latent, data, jax.random.split(key, n_draws))


def _assign(model, model_kwargs, enum_site, first_available_dim, temperature, latent, data, key):
    conditioned = handlers.substitute(model, data=latent)
    inferred = infer_discrete(conditioned, first_available_dim=first_available_dim, temperature=temperature, rng_key=key)
    trace = handlers.trace(handlers.seed(inferred, key)).get_trace(data, **model_kwargs)
    return trace[enum_site]["value"]
