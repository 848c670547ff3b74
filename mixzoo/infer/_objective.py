"""The MAP objective, the negative log joint of the global sites, in its two equal forms.

* ``"analytic"``: ``log_density`` of the model called with ``marginal=True``, where
  ``MixtureSameFamily`` sums the assignment out (one logsumexp over K per point).
* ``"enumerate"``: ``TraceEnum_ELBO`` of the model with the global sites conditioned on their
  values and an empty guide, the assignment enumerated in parallel (what ``infer_discrete``
  and guide-side enumeration use): the ELBO of a Delta guide, which has zero entropy.

Both return the same number and the same gradients; the analytic form skips the enumeration
machinery and is about as fast as a hand-written kernel.
"""

from __future__ import annotations

import jax
from numpyro import handlers
from numpyro.infer import TraceEnum_ELBO
from numpyro.infer.util import log_density


def _empty_guide(*args, **kwargs):
    return None


def negative_log_joint(spec):
    """``loss(constrained, data, mask, hyper, scale=None) -> ()``: minus the log joint density
    of ``spec``'s model at the constrained global values ``constrained`` (site name -> value),
    in the form ``spec.marginalise`` names. ``mask`` (N,) bool drops points (padding),
    ``scale`` multiplies the likelihood (N / B for a minibatch of B points); both traced."""
    if spec.marginalise == "analytic":
        model = spec.model_fn("marginal")

        def loss(constrained, data, mask, hyper, scale=None):
            return -log_density(model, (data, mask, hyper, scale), {}, constrained)[0]

        return loss

    model = spec.model_fn("enumerated")
    elbo = TraceEnum_ELBO(max_plate_nesting=spec.structure.max_plate_nesting)

    def loss(constrained, data, mask, hyper, scale=None):
        conditioned = handlers.condition(model, data=constrained)
        return elbo.loss(jax.random.PRNGKey(0), {}, conditioned, _empty_guide, data, mask, hyper, scale)

    return loss
