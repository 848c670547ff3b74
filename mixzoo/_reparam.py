"""Sampler coordinates a model declares for a site: a change of coordinates for NUTS only.

A model marks a latent site with ``infer={REPARAM: TransformedSite(...)}``. The site keeps its
distribution (the posterior, and every driver that reads the model as written: MAP by EM or
Adam, SVI, simulation, are unchanged); a sampler that applies the declarations
(:class:`mixzoo.infer._coordinates.SamplerCoordinates`, used by ``fit_nuts``) draws the site's
*base* value at ``"<name>_base"`` instead and computes the site from it, as NumPyro's
``TransformReparam`` does. The density is the same, so the posterior over the model's sites is
too; only the geometry NUTS moves in changes.

The declaration used by the stick-breaking models is :func:`beta_one_quantile`: the non-centred
form of ``sticks ~ Beta(1, a)``, ``v = (1 - stick)^a ~ Uniform(0, 1)`` independent of ``a``.
In the model's own unconstrained coordinate ``logit(stick)`` a Beta(1, a) stick has an
exponential tail of rate ``a``, a scale of about ``1 / a`` that shrinks and grows with the
concentration: a funnel (Neal's) in which NUTS does not reach small concentrations.

A MAP is not invariant under a change of coordinates (the density of ``v`` has no Jacobian of
``a`` in it, and a MAP in these coordinates runs off to concentration 0): the declaration is
for samplers only.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.distributions.transforms import Transform
from numpyro.distributions.util import clamp_probs
from numpyro.infer.reparam import Reparam, TransformReparam

from ._validation import is_concrete

#: The ``infer`` key of a site's declared sampler coordinates.
REPARAM = "reparam"


def declared(msg) -> "TransformedSite | None":
    """The :class:`TransformedSite` a latent sample site declares, else ``None`` (a
    ``config`` for ``numpyro.handlers.reparam``)."""
    if msg["type"] != "sample" or msg.get("is_observed"):
        return None
    return (msg.get("infer") or {}).get(REPARAM)


class TransformedSite(Reparam):
    """Sample a site as its base draw pushed through transforms: ``as_transformed(fn)`` must
    return a ``TransformedDistribution`` with exactly the density of ``fn`` (the site's
    distribution without its plates and ``to_event``). Applied by ``handlers.reparam``, the
    base is drawn at ``"<name>_base"`` and the site becomes deterministic (NumPyro's
    ``TransformReparam``); :meth:`base_value` maps a value of the site to its base value (to
    start a sampler from values given in the model's coordinates)."""

    def __init__(self, as_transformed):
        self.as_transformed = as_transformed

    def _transformed(self, fn):
        inner, expand_shape, event_dim = self._unwrap(fn)
        transformed = self.as_transformed(inner)
        if not isinstance(transformed, dist.TransformedDistribution):
            raise TypeError(f"as_transformed must return a TransformedDistribution; got {type(transformed).__name__}")
        return transformed, expand_shape, event_dim

    def __call__(self, name, fn, obs):
        transformed, expand_shape, event_dim = self._transformed(fn)
        return TransformReparam()(name, self._wrap(transformed, expand_shape, event_dim), obs)

    def base_value(self, name: str, fn, value) -> dict:
        """``{"<name>_base": base value}`` of the site's ``value`` under its distribution ``fn``."""
        transformed, _, _ = self._transformed(fn)
        for t in reversed(transformed.transforms):
            value = t.inv(value)
        return {f"{name}_base": value}


class BetaOneQuantileTransform(Transform):
    """``v -> 1 - v^(1/a)`` on (0, 1): pushes Uniform(0, 1) to Beta(1, a) (``v = (1 - x)^a`` is
    the Beta(1, a) survival function of ``x``). Computed as ``-expm1(log(v) / a)``, exact for
    small outputs, and kept inside (0, 1) in its float type as NumPyro's own Beta draws are
    (``clamp_probs``): at a small ``a`` a small ``v`` rounds ``1 - v^(1/a)`` to exactly 1, where
    the Beta(1, a) log density, and every log joint read from the model as written, is
    infinite."""

    domain = constraints.unit_interval
    codomain = constraints.unit_interval

    def __init__(self, concentration):
        self.concentration = concentration

    def __call__(self, v):
        return clamp_probs(-jnp.expm1(jnp.log(v) / self.concentration))

    def _inverse(self, x):
        return jnp.exp(self.concentration * jnp.log1p(-x))

    def log_abs_det_jacobian(self, v, x, intermediates=None):
        # dx/dv = v^(1/a - 1) / a
        return (1.0 / self.concentration - 1.0) * jnp.log(v) - jnp.log(self.concentration)

    def tree_flatten(self):
        return (self.concentration,), (("concentration",), {})


def _beta_one_as_transformed(fn):
    if not isinstance(fn, dist.Beta):
        raise TypeError(f"beta_one_quantile declares a Beta(1, a) site; got {type(fn).__name__}")
    if is_concrete(fn.concentration1) and not np.all(np.asarray(fn.concentration1) == 1):
        raise ValueError("beta_one_quantile declares a Beta(1, a) site; got a first concentration other than 1")
    a = fn.concentration0
    base = dist.Uniform(0.0, 1.0).expand(jnp.shape(a))  # constant bounds: a support read without tracing
    return dist.TransformedDistribution(base, BetaOneQuantileTransform(a))


def beta_one_quantile() -> TransformedSite:
    """The non-centred coordinates of a ``Beta(1, a)`` site (see the module docstring)."""
    return TransformedSite(_beta_one_as_transformed)
