"""Collapsed NUTS: the assignment is summed out (analytically or by enumeration), the globals are sampled."""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from numpyro.distributions.transforms import biject_to
from numpyro.infer import MCMC, NUTS, init_to_median, init_to_value

from .._validation import check_int, check_positive
from ._data import marginal_kwargs, resolve_marginalise
from ._structure import inspect_model
from .map import MAPResult


class NUTSResult(NamedTuple):
    """Result of :func:`fit_nuts`.

    ``samples``: site name -> draws grouped by chain, shape (C, S, ...), for every global and
    deterministic site. ``params``: the same draws flattened over chains, shape (C*S, ...).
    ``diverging``: (C, S) bool. ``sample_stats``: NumPyro's extra fields grouped by chain
    (``energy``, ``num_steps``, ``accept_prob``, ``step_size``, ``diverging``).
    ``mcmc``: the NumPyro ``MCMC`` object (``print_summary`` etc.).
    """

    samples: dict
    params: dict
    diverging: jnp.ndarray
    sample_stats: dict
    model: Callable
    model_kwargs: dict
    mcmc: MCMC

    @property
    def num_divergences(self) -> int:
        return int(self.diverging.sum())


def fit_nuts(
    model,
    data,
    *,
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 4,
    init=None,
    seed: int = 0,
    chain_method: str | None = None,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    progress_bar: bool = False,
    marginalise: str | None = None,
    **model_kwargs,
) -> NUTSResult:
    """Collapsed NUTS on ``model(data, **model_kwargs)``.

    :param init: ``None`` (every chain from the prior median), a :class:`MAPResult` (every
        chain from the MAP values), or a dict site name -> constrained values of shape
        (num_chains, ...) for the global sites (one start per chain, e.g. in different modes).
    :param chain_method: ``"parallel"`` (one chain per device), ``"vectorized"`` or
        ``"sequential"``; default parallel when there are at least ``num_chains`` devices,
        else vectorized. With several devices (GPUs, or CPU devices forced with
        ``XLA_FLAGS=--xla_force_host_platform_device_count=4``) the chains run in parallel.
    :param marginalise: ``"analytic"`` (the model called with ``marginal=True``, about twice as
        fast), ``"enumerate"`` (enumerated assignment site) or ``None``: analytic when the model
        has a ``marginal`` keyword. Same posterior over the global sites.
    :returns: :class:`NUTSResult`.
    """
    num_warmup = check_int(num_warmup, name="num_warmup", minimum=0)
    num_samples = check_int(num_samples, name="num_samples", minimum=1)
    num_chains = check_int(num_chains, name="num_chains", minimum=1)
    check_positive(target_accept_prob, name="target_accept_prob")
    if chain_method is None:
        chain_method = "parallel" if jax.local_device_count() >= num_chains else "vectorized"
    if chain_method not in ("parallel", "vectorized", "sequential"):
        raise ValueError(f"chain_method must be 'parallel', 'vectorized' or 'sequential'; got {chain_method!r}")
    marginalise = resolve_marginalise(model, marginalise)
    structure = inspect_model(model, data, model_kwargs)
    data = jnp.asarray(data, dtype=jnp.result_type(float))

    init_params = None
    if init is None:
        strategy = init_to_median
    elif isinstance(init, MAPResult):
        strategy = init_to_value(values={s: init.params[s] for s in structure.global_sites})
    elif isinstance(init, dict):
        strategy = init_to_median
        missing = [s for s in structure.global_sites if s not in init]
        if missing:
            raise ValueError(f"init must give a value for every global site {list(structure.global_sites)}; missing {missing}")
        init_params = {}
        for s in structure.global_sites:
            value = jnp.asarray(init[s])
            want = (num_chains,) + jnp.shape(structure.trace[s]["value"])
            if value.shape != want:
                raise ValueError(f"init[{s!r}] must have shape {want} (num_chains, ...); got {value.shape}")
            init_params[s] = biject_to(structure.trace[s]["fn"].support).inv(value)
    else:
        raise TypeError(f"init must be None, a MAPResult or a dict of per-chain values; got {type(init).__name__}")

    kernel = NUTS(
        model,
        init_strategy=strategy,
        target_accept_prob=target_accept_prob,
        max_tree_depth=max_tree_depth,
    )
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method=chain_method,
        progress_bar=progress_bar,
    )
    mcmc.run(
        jax.random.PRNGKey(seed),
        data,
        init_params=init_params,
        extra_fields=("diverging", "energy", "num_steps", "accept_prob", "adapt_state.step_size"),
        **marginal_kwargs(model_kwargs, marginalise),
    )
    samples = jax.block_until_ready(mcmc.get_samples(group_by_chain=True))
    keep = set(structure.global_sites) | set(structure.deterministic_sites)
    samples = {k: v for k, v in samples.items() if k in keep}
    extra = mcmc.get_extra_fields(group_by_chain=True)
    stats = {("step_size" if k == "adapt_state.step_size" else k): v for k, v in extra.items()}
    return NUTSResult(
        samples=samples,
        params={k: v.reshape((-1,) + v.shape[2:]) for k, v in samples.items()},
        diverging=stats["diverging"],
        sample_stats=stats,
        model=model,
        model_kwargs=dict(model_kwargs),
        mcmc=mcmc,
    )
