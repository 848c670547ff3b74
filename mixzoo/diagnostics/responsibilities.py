"""Posterior assignment probabilities p(z_i = k | x_i, globals) of a fit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers

from ..infer import Result
from ..infer import _programs


def responsibilities(result, data=None) -> np.ndarray:
    """p(z_i = k | x_i, globals) for ``data`` (training or new points).

    :param result: any mixzoo result: point values (MAP, SVI median) or posterior draws (NUTS;
        relabel it first, see :func:`mixzoo.diagnostics.relabel`, before averaging over draws).
    :param data: shape (M,) or (M, D), or ``None`` for the data the result was fitted to.
    :returns: (M, K) for point values, (S, M, K) for draws.
    """
    if not isinstance(result, Result):
        raise TypeError(f"result must be a mixzoo result (MAPResult, SVIResult, NUTSResult); got {type(result).__name__}")
    problem = result.problem
    spec = problem.spec
    host, placed, _ = problem.place(problem.data if data is None else data)
    latent = {s: np.asarray(result.params[s]) for s in spec.structure.global_sites}
    one = lambda latent, data, hyper: _one(spec, latent, data, hyper)  # noqa: E731
    if result.has_draws:
        n = jax.tree_util.tree_leaves(latent)[0].shape[0]
        run = _programs.jitted((spec, "responsibilities", n, placed.shape), jax.vmap(one, (0, None, None)))
        return np.asarray(run(latent, placed, problem.hyper))[:, : host.shape[0]]
    run = _programs.jitted((spec, "responsibilities", None, placed.shape), one)
    return np.asarray(run(latent, placed, problem.hyper))[: host.shape[0]]


def _one(spec, latent, data, hyper):
    """(N, K) responsibilities at one value of the globals: the joint log p(x_i, z_i = k) of
    the model with the assignment fixed to k, normalised over k."""
    model = spec.model_fn("enumerated")
    enum_site = spec.structure.enum_site

    def joint(label):
        fixed = {**latent, enum_site: jnp.full(data.shape[0], label)}
        trace = handlers.trace(handlers.substitute(handlers.seed(model, 0), data=fixed)).get_trace(data, None, hyper)
        return sum(
            site["fn"].log_prob(site["value"])
            for site in trace.values()
            if site["type"] == "sample" and (site["is_observed"] or site["name"] == enum_site)
        )

    logp = jax.vmap(joint)(jnp.arange(spec.structure.n_components)).T  # (N, K)
    return jax.nn.softmax(logp, axis=-1)
