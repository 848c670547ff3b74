"""Where the data goes: analytic marginalisation, full-data priors, minibatch weights, devices.

* :func:`marginal_kwargs`: the model keywords of the analytic (``MixtureSameFamily``) form.
* :func:`full_data_hyperparameters`: the data-derived prior defaults computed once on the
  full data and passed explicitly, so a model that only sees a batch keeps the full data's priors.
* :class:`DataPlateWeights`: scales (minibatch: N / B) and masks (padding) the sites inside
  the data plates only; the priors of the global sites are untouched.
* :func:`data_mesh`: the 1-D device mesh the data are sharded over (see
  :mod:`mixzoo.infer.problem`, which pads and places the data).
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from numpyro.primitives import Messenger

from ..models._common import DATA_DERIVED_HYPERPARAMETERS, default_hyperparameters

#: Mesh axis name of the data dimension.
DATA_AXIS = "data"


def accepts(model, keyword: str) -> bool:
    """True if ``model``'s signature names ``keyword``: the one probe of what mixzoo may pass a
    model unasked (``marginal=True``, data-derived prior defaults). A ``**kwargs`` catch-all
    does not count: such a model is handed only what the user gives it."""
    try:
        params = inspect.signature(model).parameters
    except (TypeError, ValueError):
        return False
    return keyword in params and params[keyword].kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def supports_marginal(model) -> bool:
    """True if ``model`` takes a ``marginal`` keyword (the mixzoo model contract)."""
    return accepts(model, "marginal")


def resolve_marginalise(model, marginalise) -> str:
    """``None`` -> ``"analytic"`` when the model supports it, else ``"enumerate"``."""
    if marginalise is None:
        return "analytic" if supports_marginal(model) else "enumerate"
    if marginalise == "analytic" and not supports_marginal(model):
        name = getattr(model, "__name__", type(model).__name__)
        raise ValueError(
            f"marginalise='analytic' needs a model with a 'marginal' keyword; got model {name} without one "
            "(use marginalise='enumerate')"
        )
    return marginalise


def marginal_kwargs(model_kwargs: dict, marginalise: str) -> dict:
    """The model keywords of the form that ``marginalise`` names."""
    return dict(model_kwargs, marginal=True) if marginalise == "analytic" else dict(model_kwargs)


def full_data_hyperparameters(model, data, model_kwargs: dict, weights=None) -> dict:
    """``model_kwargs`` with every data-derived hyperparameter the model accepts and the user
    left unset filled in from the full ``data`` (see
    :func:`mixzoo.models._common.default_hyperparameters`; with ``weights``, the weighted ones)."""
    missing = [k for k in DATA_DERIVED_HYPERPARAMETERS if model_kwargs.get(k) is None and accepts(model, k)]
    if not missing:
        return dict(model_kwargs)
    defaults = default_hyperparameters(data, weights)
    return dict(model_kwargs, **{k: defaults[k] for k in missing})


class DataPlateWeights(Messenger):
    """Scale and mask the sample sites that sit in one of the plates ``plates`` (by name).

    ``scale``: ``None`` or a number, possibly traced (N / B for a minibatch of B out of N
    points). ``mask``: ``None``, a bool array (N,) over the data plate (False for padding), or
    a float array (N,) of per-point weights (a problem bound with ``sample_weight``, 0 on the
    padding): each point's log-density term is multiplied by its weight (``msg["scale"]``, as
    ``numpyro.handlers.scale`` does with an array) and the points of weight 0 are masked out.
    """

    def __init__(self, fn=None, *, plates=(), scale=None, mask=None):
        self.plates = {frame.name: frame.dim for frame in plates}
        self.scale = None if isinstance(scale, (int, float)) and scale == 1 else scale
        self.mask = mask
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] != "sample":
            return
        dims = [f.dim for f in msg["cond_indep_stack"] if f.name in self.plates]
        if not dims:
            return
        if self.scale is not None:
            msg["scale"] = self.scale if msg.get("scale") is None else self.scale * msg["scale"]
        if self.mask is not None:
            shape = (-1,) + (1,) * (-dims[0] - 1)
            if jnp.result_type(self.mask) == jnp.bool_:
                msg["fn"] = msg["fn"].mask(jnp.reshape(self.mask, shape))
            else:  # per-point weights
                weights = jnp.reshape(self.mask, shape)
                msg["fn"] = msg["fn"].mask(weights > 0)
                msg["scale"] = weights if msg.get("scale") is None else weights * msg["scale"]


def data_mesh(devices=None) -> Mesh:
    """A 1-D mesh over ``devices`` (default: all devices of all processes)."""
    return Mesh(np.asarray(jax.devices() if devices is None else devices), (DATA_AXIS,))
