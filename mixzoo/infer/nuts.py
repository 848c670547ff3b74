"""Collapsed NUTS: the assignment is summed out (analytically or by enumeration), the globals are sampled.

The sampler is NumPyro's NUTS (``numpyro.infer.hmc.hmc(algo="NUTS")``: the same kernel, the
same initial values and the same random streams as ``MCMC(NUTS(model,
init_strategy=init_to_host_median), chain_method="vectorized")``: NumPyro's prior-median start
with NumPy's prior draws), run as programs compiled once per problem signature and sampler
options: the prior medians, the initialisation of all chains, and a chunk of transitions (a
``lax.scan``) called repeatedly. Data, hyperparameters, initial values, the
target acceptance probability and the seed are arguments, so a refit on new data of the same
size compiles nothing; between chunks Python shows the progress bar and Ctrl-C takes effect.

The chains move in the coordinates the model declares for samplers
(:mod:`mixzoo.infer._coordinates`: a site marked ``infer={"reparam": ...}``, such as the
stick-breaking models' non-centred sticks, is sampled through its base site), read from the
model's trace like every other site; the draws, initial values and results are the model's own
sites. Without declarations the chains run on the model as written.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec
from numpyro import handlers
from numpyro.infer.hmc import hmc
from numpyro.infer.util import potential_energy

from .._constraints import validated
from . import _programs
from ._coordinates import SamplerCoordinates
from ._host_draws import init_to_host_median
from .map import MAPResult
from .problem import Problem, as_problem
from .result import Result

#: The fields of NumPyro's HMCState collected per draw, by their NumPyro extra-field names.
FIELDS = ("diverging", "energy", "num_steps", "accept_prob", "step_size")
#: Transitions per compiled chunk: about this many chunks per run (a divisor of both phases).
CHUNKS = 20


class NUTSInfo(NamedTuple):
    """Extras of a NUTS fit. ``samples``: site name -> draws grouped by chain, (C, S, ...);
    ``diverging``: (C, S) bool; ``sample_stats``: NumPyro's extra fields grouped by chain
    (``energy``, ``num_steps``, ``accept_prob``, ``step_size``, ``diverging``);
    ``chain_method``; ``last_state``: NumPyro's ``HMCState`` after the last draw (its ``z`` in
    the sampler's coordinates: a declared site's base, e.g. ``sticks_base``, not the site)."""

    samples: dict
    diverging: np.ndarray
    sample_stats: dict
    chain_method: str
    last_state: object


@dataclasses.dataclass(frozen=True, repr=False)
class NUTSResult(Result):
    """Result of :func:`fit_nuts`. ``params``: every global and deterministic site, the draws
    of all chains one after the other, (C*S, ...); ``losses``: ``None``; ``info``:
    :class:`NUTSInfo` (``samples``, ``diverging``, ``sample_stats`` are also attributes)."""

    has_draws = True

    @property
    def num_divergences(self) -> int:
        return int(np.sum(self.info.diverging))

    @property
    def num_chains(self) -> int:
        return int(np.shape(self.info.diverging)[0])


@validated("fit_nuts")
def fit_nuts(
    model,
    data=None,
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

    :param model: a model function, or a :class:`~mixzoo.infer.problem.Problem` (then no
        ``data``, model keywords or ``marginalise``).
    :param init: ``None`` (every chain from the prior median), a :class:`MAPResult` (every
        chain from the MAP values), or a dict site name -> constrained values of shape
        (num_chains, ...) for the global sites (one start per chain, e.g. in different modes).
        Values of a site sampled in declared coordinates (the sticks) are mapped to them.
    :param chain_method: ``"parallel"`` (the chains split over the local devices, each device
        running its share one after the other in its own loops), ``"vectorized"`` (all chains in
        one program, stepping together) or ``"sequential"``; default parallel when the chains
        can be split over several devices (:func:`chain_devices`), else vectorized. On a CPU,
        ``numpyro.set_host_device_count(n)`` at the start of a program (or
        ``XLA_FLAGS=--xla_force_host_platform_device_count=n``) gives n devices, so that the
        chains run on n cores (the command line does this).
    :param progress_bar: show a progress bar (updated once per chunk of transitions).
    :param marginalise: ``"analytic"`` (the model called with ``marginal=True``, about twice as
        fast), ``"enumerate"`` (enumerated assignment site) or ``None``: analytic when the model
        has a ``marginal`` keyword. Same posterior over the global sites.
    :returns: :class:`NUTSResult`.

    A model site that declares sampler coordinates (``infer={"reparam": ...}``, see
    :mod:`mixzoo._reparam`) is sampled in them: the same posterior, another geometry. The
    stick-breaking models declare non-centred sticks, ``(1 - stick)^concentration ~ Uniform(0,
    1)``: in the sticks' own coordinates the chains do not reach small concentrations (a
    funnel; CALIBRATION.md).
    """
    if chain_method is None:
        chain_method = "parallel" if chain_devices(num_chains) > 1 else "vectorized"
    if chain_method == "parallel" and chain_devices(num_chains) == 1:
        raise ValueError(
            f"chain_method='parallel' needs num_chains ({num_chains}) to share a divisor > 1 with the "
            f"number of devices ({jax.local_device_count()}); use 'vectorized' or 'sequential'"
        )
    problem = as_problem(
        model, data, model_kwargs, marginalise=marginalise, shard_data=None if isinstance(model, Problem) else False
    )
    spec, structure = problem.spec, problem.structure

    key = jax.random.PRNGKey(seed)
    keys = jax.random.split(key, num_chains) if num_chains > 1 else key[None]
    if init is None:
        values = _prior_medians(spec, num_chains)(keys, problem.placed, problem.mask, problem.hyper)
    elif isinstance(init, MAPResult):  # every chain from the same values
        values = {s: np.broadcast_to(init.params[s], (num_chains,) + np.shape(init.params[s])) for s in structure.global_sites}
    elif isinstance(init, dict):
        missing = [s for s in structure.global_sites if s not in init]
        if missing:
            raise ValueError(f"init must give a value for every global site {list(structure.global_sites)}; missing {missing}")
        values = {}
        for s in structure.global_sites:
            value = np.asarray(init[s], dtype=problem.data.dtype)
            want = (num_chains,) + tuple(jnp.shape(structure.trace[s]["value"]))
            if value.shape != want:
                raise ValueError(f"init[{s!r}] must have shape {want} (num_chains, ...); got {value.shape}")
            values[s] = value
    else:
        raise TypeError(f"init must be None, a MAPResult or a dict of per-chain values; got {type(init).__name__}")

    total = num_warmup + num_samples
    chunk = math.gcd(num_warmup, num_samples, -(-total // CHUNKS))
    coordinates = SamplerCoordinates(problem)
    start, advance, finish = _programs_for(spec, coordinates, num_chains, num_warmup, max_tree_depth, chunk, chain_method)
    data_args = (problem.placed, problem.mask, problem.hyper)
    target = np.float32(target_accept_prob)
    state = start(keys, values, *data_args, target)
    draws, stats = [], []
    bar = _progress(total, progress_bar)
    try:
        for done in range(0, total, chunk):
            state, (z, fields) = advance(state, *data_args, target)
            if done >= num_warmup:
                draws.append(jax.device_get(z))
                stats.append(jax.device_get(fields))
            if bar is not None:
                bar.update(chunk)
    finally:
        if bar is not None:
            bar.close()
    concat = partial(jax.tree_util.tree_map, lambda *v: np.concatenate(v, axis=1))
    z, fields = concat(*draws), concat(*stats)  # (C, S, ...)
    flat_z = jax.tree_util.tree_map(lambda v: v.reshape((num_chains * num_samples,) + v.shape[2:]), z)
    params = jax.device_get(finish(flat_z, problem.placed, problem.hyper))
    samples = {s: v.reshape((num_chains, num_samples) + v.shape[1:]) for s, v in params.items()}
    return NUTSResult(
        problem=problem,
        params=params,
        losses=None,
        info=NUTSInfo(
            samples=samples, diverging=fields["diverging"], sample_stats=fields, chain_method=chain_method, last_state=state
        ),
    )


def _progress(total: int, show: bool):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="NUTS", unit="step", leave=False)


def _potential_gen(spec, coordinates):
    """NumPyro's ``potential_fn_gen`` for the problem's objective form: ``gen(data, mask,
    hyper)`` -> potential energy of the unconstrained globals in the sampler's ``coordinates``
    (``initialize_model``'s with ``dynamic_args=True``)."""
    model = coordinates.model_fn(spec.objective_form)
    enum = spec.objective_form == "enumerated"
    if enum:
        from numpyro.contrib.funsor import config_enumerate
        from numpyro.contrib.funsor import enum as enum_handler

        model = enum_handler(config_enumerate(model), -spec.structure.max_plate_nesting - 1)
    return lambda *args: partial(potential_energy, model, args, {}, enum=enum)


def _prior_medians(spec, num_chains: int):
    """``medians(keys, data, mask, hyper)`` -> site name -> (C, ...): each chain's start as
    ``MCMC(NUTS(model, init_strategy=init_to_host_median))`` draws it (the model traced with
    the chain's first initialisation key, as ``initialize_model`` does). A program of its own:
    the host draws' callback keeps it out of JAX's persistent cache, and it is small; the
    program that starts the chains from these values is cached."""
    model = spec.model_fn(spec.objective_form)
    sites = spec.structure.global_sites

    def medians(keys, data, mask, hyper):
        def one(key):
            init_key = jax.random.split(jax.random.split(key)[1])[1]
            seeded = handlers.substitute(handlers.seed(model, init_key), substitute_fn=init_to_host_median)
            tr = handlers.trace(seeded).get_trace(data, mask, hyper)
            return {s: tr[s]["value"] for s in sites}

        return jax.lax.map(one, keys)  # one host call per chain (a vmapped call would draw for all chains at once)

    return _programs.jitted((spec, "nuts_median", num_chains), medians)


def _programs_for(spec, coordinates, num_chains: int, num_warmup: int, max_tree_depth: int, chunk: int, chain_method: str):
    """``start(keys, values, data, mask, hyper, target_accept_prob) -> state`` (all chains
    initialised as ``MCMC(NUTS(...))`` does, from the per-chain constrained ``values`` of the
    global sites: the prior medians of :func:`_prior_medians`, a MAP's values or the user's),
    ``advance(state, data, mask, hyper, target_accept_prob) -> (state, (z, fields))`` (``chunk`` transitions, the
    draws (C, chunk, ...) unconstrained) and ``finish(z, data, hyper)`` (constrained global
    and deterministic sites of draws with a leading axis).

    The chains run in the :class:`~mixzoo.infer._coordinates.SamplerCoordinates` of the
    problem (a function of its spec): ``values`` are given for the model's global sites and
    mapped to the sampled ones, ``z`` holds the sampled sites, ``finish`` returns the model's."""
    key = (spec, "nuts", num_chains, num_warmup, max_tree_depth, chunk, chain_method)
    potential_gen = _potential_gen(spec, coordinates)

    def kernels():
        return hmc(potential_fn_gen=potential_gen, algo="NUTS")

    def init_chain(init_kernel, z, rng_key, args, target_accept_prob):
        # NumPyro's NUTS defaults, as HMC.init passes them
        return init_kernel(
            z,
            num_warmup,
            step_size=1.0,
            inverse_mass_matrix=None,
            adapt_step_size=True,
            adapt_mass_matrix=True,
            dense_mass=[],
            target_accept_prob=target_accept_prob,
            trajectory_length=None,
            max_tree_depth=max_tree_depth,
            find_heuristic_step_size=False,
            regularize_mass_matrix=True,
            model_args=args,
            rng_key=rng_key,
        )

    def start(keys, values, data, mask, hyper, target_accept_prob):
        args = (data, mask, hyper)
        rng_key = jax.vmap(jax.random.split)(keys)[:, 0]  # MCMC's: the other half keys initialize_model (the medians)
        z = jax.vmap(lambda v: coordinates.unconstrain(coordinates.from_model(v, data, hyper)))(values)
        init_kernel, _ = kernels()
        one = lambda chain, shared: init_chain(init_kernel, *chain, shared[:3], shared[3])  # noqa: E731
        return _over_chains(one, chain_method)((z, rng_key), (*args, target_accept_prob))

    def advance(state, data, mask, hyper, target_accept_prob):
        args = (data, mask, hyper)
        init_kernel, sample_kernel = kernels()
        # init_kernel sets the kernel's configuration (adaptation schedule and target, tree
        # depth), which sample_kernel reads; its value is unused and compiled away
        jax.eval_shape(
            lambda s: jax.vmap(lambda z, k: init_chain(init_kernel, z, k, args, target_accept_prob))(s.z, s.rng_key), state
        )

        def chain(state, args):
            def step(state, _):
                state = sample_kernel(state, model_args=args)
                fields = dict(
                    diverging=state.diverging,
                    energy=state.energy,
                    num_steps=state.num_steps,
                    accept_prob=state.accept_prob,
                    step_size=state.adapt_state.step_size,
                )
                return state, (state.z, fields)

            return jax.lax.scan(step, state, None, length=chunk)

        return _over_chains(chain, chain_method)(state, args)

    def finish(z, data, hyper):
        return jax.lax.map(lambda u: coordinates.sites(coordinates.constrain(u), data, hyper), z, batch_size=256)

    return (
        _programs.jitted(key + ("start",), start),
        _programs.jitted(key + ("advance",), advance),
        _programs.jitted((spec, "nuts_finish"), finish),
    )


def chain_devices(num_chains: int) -> int:
    """The number of local devices the chains are split over by ``chain_method="parallel"``:
    the largest divisor of ``num_chains`` that is at most the local device count (1: the
    chains cannot be split)."""
    devices = jax.local_device_count()
    return max(d for d in range(1, min(devices, num_chains) + 1) if num_chains % d == 0)


def _over_chains(fn, chain_method: str):
    """``fn(chain, shared)`` over the leading chain axis of ``chain`` (a pytree), ``shared``
    the same for every chain: ``vmap`` (vectorized: one program steps all chains together, so
    each NUTS transition waits for the longest trajectory), ``lax.map`` (sequential), or
    parallel: the chains split over :func:`chain_devices` devices with ``shard_map``, each
    device running its own chains one after the other (``lax.map``) in its own loops. (A
    vmapped chain axis merely sharded over the devices would keep one SPMD program whose NUTS
    loops wait for every device at every iteration: measured 4x slower than one device.)"""
    one_by_one = lambda chain, shared: jax.lax.map(lambda c: fn(c, shared), chain)  # noqa: E731

    def single(chain, shared):  # one chain: traced unbatched (vmap's batching of NUTS's loops takes seconds)
        out = fn(jax.tree_util.tree_map(lambda v: v[0], chain), shared)
        return jax.tree_util.tree_map(lambda v: v[None], out)

    if chain_method == "sequential":
        return one_by_one
    if chain_method == "vectorized":
        return lambda chain, shared: (single if _count(chain) == 1 else jax.vmap(fn, in_axes=(0, None)))(chain, shared)

    def parallel(chain, shared):
        devices = chain_devices(_count(chain))
        if devices == 1:
            return one_by_one(chain, shared)
        mesh = jax.sharding.Mesh(np.asarray(jax.local_devices()[:devices]), ("chains",))
        return jax.shard_map(
            one_by_one,
            mesh=mesh,
            in_specs=(PartitionSpec("chains"), PartitionSpec()),
            out_specs=PartitionSpec("chains"),
            check_vma=False,
        )(chain, shared)

    return parallel


def _count(chain) -> int:
    """The number of chains: the leading axis of the per-chain pytree."""
    return jax.tree_util.tree_leaves(chain)[0].shape[0]
