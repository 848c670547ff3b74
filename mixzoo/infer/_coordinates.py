"""The coordinates a sampler runs in: the model's global sites, with each site that declares
sampler coordinates (``infer={"reparam": ...}``, :mod:`mixzoo._reparam`) replaced by its base
site. Read from the model's trace, so that the NUTS driver applies any model's declarations
without naming its sites; a model that declares none runs in its own coordinates.
"""

from __future__ import annotations

import functools

from numpyro import handlers
from numpyro.distributions.transforms import biject_to

from .._reparam import declared
from ._structure import SITE_POINTS, _abstract_trace, _apply, _is_enumerated, fitted_sites, origin


class SamplerCoordinates:
    """For a bound problem: ``global_sites`` (the sampled sites, in model order), ``model_fn(form)``
    (the spec's model with the declarations applied), ``constrain`` / ``unconstrain`` (dicts of
    those sites to and from unconstrained space), :meth:`from_model` (values of the model's
    global sites -> values of the sampled ones) and :meth:`sites` (sampled values -> the model's
    global and deterministic sites). ``reparameterised``: the model sites that declare
    coordinates (empty: every method is the identity on the model's own sites)."""

    def __init__(self, problem):
        spec = problem.spec
        structure = spec.structure
        self.spec = spec
        self.reparameterised = tuple(s for s in structure.global_sites if declared(structure.trace[s]) is not None)
        if self.reparameterised:
            trace = _abstract_trace(self.model_fn("enumerated"), problem.data, dict(hyper=problem.hyper))
            sites = tuple(
                name
                for name, site in trace.items()
                if site["type"] == "sample" and not site["is_observed"] and not _is_enumerated(site)
            )
        else:
            trace, sites = structure.trace, structure.global_sites
        self.global_sites = sites
        self.model_sites = tuple(structure.global_sites) + tuple(structure.deterministic_sites)
        bijections = {s: biject_to(trace[s]["fn"].support) for s in sites}
        self.constrain = functools.partial(_apply, bijections)
        self.unconstrain = functools.partial(_apply, {s: b.inv for s, b in bijections.items()})

    def model_fn(self, form: str):
        model = self.spec.model_fn(form)
        return handlers.reparam(model, config=declared) if self.reparameterised else model

    def from_model(self, values: dict, data, hyper: dict) -> dict:
        """Constrained values of the model's global sites (unbatched) -> those of the sampled
        sites: each declared site's value mapped to its base (its distribution read with the
        other sites at ``values``). Traced inside the driver's programs."""
        if not self.reparameterised:
            return dict(values)
        fixed = handlers.substitute(handlers.substitute(self.spec.model_fn("enumerated"), data=values), substitute_fn=origin)
        trace = handlers.trace(fixed).get_trace(data[:SITE_POINTS], None, hyper)
        out = {s: v for s, v in values.items() if s not in self.reparameterised}
        for s in self.reparameterised:
            out.update(declared(trace[s]).base_value(s, trace[s]["fn"], values[s]))
        return out

    def sites(self, latent: dict, data, hyper: dict) -> dict:
        """The model's global and deterministic sites at sampled values ``latent`` (unbatched)."""
        values, _ = fitted_sites(self.spec, data, hyper, latent, model=self.model_fn("enumerated"))
        return {s: values[s] for s in self.model_sites}
