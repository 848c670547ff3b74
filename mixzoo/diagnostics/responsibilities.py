"""Posterior assignment probabilities p(z_i = k | x_i, globals) of a fit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers

from .._constraints import validated
from ..infer.result import evaluate


@validated("responsibilities")
def responsibilities(result, data=None) -> np.ndarray:
    """p(z_i = k | x_i, globals) for ``data`` (training or new points).

    :param result: any mixzoo result: point values (MAP, SVI median) or posterior draws (NUTS;
        relabel it first, see :func:`mixzoo.diagnostics.relabel`, before averaging over draws).
    :param data: shape (M,) or (M, D), or ``None`` for the data the result was fitted to.
    :returns: (M, K) for point values, (S, M, K) for draws.
    """
    return evaluate(result, data, "responsibilities", lambda latent, x, hyper: _one(result.problem.spec, latent, x, hyper))


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
