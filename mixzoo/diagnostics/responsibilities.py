"""Posterior assignment probabilities p(z_i = k | x_i, globals) of a fit."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from numpyro import handlers

from ..infer import MAPResult, NUTSResult
from ..infer._structure import inspect_model


def responsibilities(result, data) -> jnp.ndarray:
    """p(z_i = k | x_i, globals) for ``data`` (training or new points).

    :param result: a MAP result (point values) or NUTS result (every draw; relabel it first,
        see :func:`mixzoo.diagnostics.relabel`, before averaging over draws).
    :param data: shape (N,) or (N, D).
    :returns: (N, K) for a MAP result, (C*S, N, K) for a NUTS result.
    """
    if not isinstance(result, (MAPResult, NUTSResult)):
        raise TypeError(f"result must be a MAPResult or NUTSResult; got {type(result).__name__}")
    structure = inspect_model(result.model, data, result.model_kwargs)
    data = jnp.asarray(data, dtype=jnp.result_type(float))
    latent = {s: result.params[s] for s in structure.global_sites}
    one = functools.partial(_one, result.model, result.model_kwargs, structure.enum_site, structure.n_components)
    if isinstance(result, MAPResult):
        return jax.jit(one)(latent, data)
    return jax.jit(jax.vmap(one, (0, None)))(latent, data)


def _one(model, model_kwargs, enum_site, k, latent, data):
    """(N, K) responsibilities at one value of the globals: the joint log p(x_i, z_i = k) of
    the model with the assignment fixed to k, normalised over k."""

    def joint(label):
        fixed = {**latent, enum_site: jnp.full(data.shape[0], label)}
        trace = handlers.trace(handlers.substitute(handlers.seed(model, 0), data=fixed)).get_trace(data, **model_kwargs)
        return sum(
            site["fn"].log_prob(site["value"])
            for site in trace.values()
            if site["type"] == "sample" and (site["is_observed"] or site["name"] == enum_site)
        )

    logp = jax.vmap(joint)(jnp.arange(k)).T  # (N, K)
    return jax.nn.softmax(logp, axis=-1)
