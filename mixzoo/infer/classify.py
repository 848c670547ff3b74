"""Cluster assignments by ``infer_discrete``: MAP (temperature 0) or sampled (temperature 1)."""

from __future__ import annotations

import jax
import numpy as np
from numpyro import handlers
from numpyro.contrib.funsor import infer_discrete

from .._constraints import validated
from .result import Result, evaluate


@validated("classify")
def classify(result, data=None, *, temperature: int = 0, seed: int = 0) -> np.ndarray:
    """Assign each point of ``data`` (training or new data) to a component.

    :param result: any mixzoo result: point values (a MAP fit, the variational median of an
        SVI fit) or posterior draws (a NUTS fit).
    :param data: shape (M,) or (M, D) as the model expects (a single point is fine), or
        ``None`` for the data the result was fitted to.
    :param temperature: 0 for the most probable assignment given the globals, 1 to sample it
        from its conditional posterior.
    :returns: int array (M,) for point values; (S, M), one row per posterior draw, for draws
        (S = chains x draws). Compiled once per model, padded data size and number of draws.
    """
    if not isinstance(result, Result):
        raise TypeError(f"result must be a mixzoo result (MAPResult, SVIResult, NUTSResult); got {type(result).__name__}")
    spec = result.problem.spec
    first_dim = -(spec.structure.max_plate_nesting + 1)
    model = spec.model_fn("enumerated")

    def assign(latent, data, hyper, key):
        conditioned = handlers.substitute(model, data=latent)
        inferred = infer_discrete(conditioned, first_available_dim=first_dim, temperature=temperature, rng_key=key)
        trace = handlers.trace(handlers.seed(inferred, key)).get_trace(data, None, hyper)
        return trace[spec.structure.enum_site]["value"]

    return evaluate(result, data, ("classify", temperature), assign, key=jax.random.PRNGKey(seed))
