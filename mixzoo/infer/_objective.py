"""The MAP objective, the negative log joint of the global sites, in its two equal forms.

* ``"analytic"``: ``log_density`` of the model called with ``marginal=True``, where
  ``MixtureSameFamily`` sums the assignment out (one logsumexp over K per point).
* ``"enumerate"``: ``TraceEnum_ELBO`` with an ``AutoDelta`` guide over the global sites, the
  assignment enumerated in parallel (what ``infer_discrete`` and guide-side enumeration use).

Both return the same number (a Delta guide has zero entropy) and the same gradients; the
analytic form skips the enumeration machinery and is about as fast as a hand-written kernel.
"""

from __future__ import annotations

import jax
from numpyro import handlers
from numpyro.infer import TraceEnum_ELBO, init_to_median
from numpyro.infer.autoguide import AutoDelta
from numpyro.infer.util import log_density

from ._data import DataPlateWeights, marginal_kwargs


def global_guide(model, structure):
    """An AutoDelta over the global sites of ``model`` (the enumerated site stays in the model)."""
    visible = set(structure.global_sites) | {
        frame.name for site in structure.global_sites for frame in structure.trace[site]["cond_indep_stack"]
    }
    blocked = handlers.block(handlers.seed(model, 0), hide_fn=lambda site: site.get("name") not in visible)
    return AutoDelta(blocked, init_loc_fn=init_to_median)


def negative_log_joint(model, data, model_kwargs: dict, structure, marginalise: str):
    """``loss(constrained, data, mask=None, scale=1.0) -> ()``: minus the log joint density of
    ``model`` at the constrained global values ``constrained`` (site name -> value).

    ``data`` here only builds the guide of the enumerated form; ``mask`` (N,) bool drops
    points (padding), ``scale`` multiplies the likelihood (N / B for a minibatch of B points).
    """
    plates = structure.data_frames
    if marginalise == "analytic":
        kwargs = marginal_kwargs(model_kwargs, "analytic")

        def loss(constrained, data, mask=None, scale=1.0):
            weighted = DataPlateWeights(model, plates=plates, scale=scale, mask=mask)
            return -log_density(weighted, (data,), kwargs, constrained)[0]

        return loss

    guide = global_guide(model, structure)
    handlers.seed(guide, 0)(data, **model_kwargs)  # build the guide's prototype once
    elbo = TraceEnum_ELBO(max_plate_nesting=structure.max_plate_nesting)
    names = {site: f"{site}_auto_loc" for site in structure.global_sites}

    def loss(constrained, data, mask=None, scale=1.0):
        params = {names[s]: v for s, v in constrained.items()}
        weighted = DataPlateWeights(model, plates=plates, scale=scale, mask=mask)
        return elbo.loss(jax.random.PRNGKey(0), params, weighted, guide, data, **model_kwargs)

    return loss
