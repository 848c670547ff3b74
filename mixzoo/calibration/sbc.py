"""Simulation-based calibration (Talts et al. 2018, "Validating Bayesian inference algorithms
with simulation-based calibration"; Modrák et al. 2023 for the test quantities).

For each simulation the model draws its globals and a data set from the prior (every mixzoo
model is its own simulator: ``data=None``; all simulations in one ``numpyro.infer.Predictive``
call), the driver fits the data with the same, explicit, hyperparameters, and each test
quantity's true value is ranked among near-independent draws of the fitted posterior. If the
driver's posteriors are the model's, every rank is uniform.

Compile once: every simulated data set has ``n_obs`` points and is bound with the same explicit
hyperparameters, so all problems have one :class:`~mixzoo.infer.problem.Spec` and every fit
reuses the driver's programs compiled for the first (the data, hyperparameters and seeds are
their arguments); so do the log-likelihood quantity's programs.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import time
import warnings

import jax
import numpy as np

from .._constraints import validated
from ..infer import fit_nuts
from ..infer.nuts import NUTSResult
from ..infer.problem import bind
from ..infer.result import Result
from ..models._common import DEFAULT_LOC_SD_FACTOR, DEFAULT_SCALE_LOG_SD, DEFAULT_SCALE_MEDIAN_FACTOR
from . import uniformity
from .quantities import default_quantities, evaluate_quantities
from .ranks import ranks, thin_by_ess

#: The simulated data's site (the mixzoo model contract).
DATA_SITE = "obs"
#: The prior a mixzoo model simulates from when a hyperparameter is not given (``data=None``:
#: standardised units, m = 0 and s = 1), made explicit so that the fits use it too.
SIMULATION_PRIOR = {
    "loc_mean": 0.0,
    "loc_sd": DEFAULT_LOC_SD_FACTOR,
    "scale_median": DEFAULT_SCALE_MEDIAN_FACTOR,
    "scale_log_sd": DEFAULT_SCALE_LOG_SD,
}
#: Keywords of ``bind`` (not of the model or the driver).
BIND_OPTIONS = ("marginalise", "shard_data")


@dataclasses.dataclass(frozen=True, repr=False)
class SBCResult:
    """The ranks of a calibration study. Q test quantities (scalar columns), n simulations.

    ``names`` (Q,); ``ranks`` (n, Q) integers in [0, L_i]; ``n_draws`` (n,) L_i, the
    near-independent draws each simulation was ranked among; ``pit`` (n, Q) randomised PIT
    values (rank + V) / (L_i + 1), uniform under calibration; ``truth`` (n, Q) the true values;
    ``ess`` (n,) the smallest ESS of the fit's draws (``inf`` for independent draws, ``nan``
    for a point estimate); ``divergences`` (n,) NUTS divergences (0 otherwise);
    ``seconds`` (n,) wall time of each simulation (fit, quantities, ranks); ``compile_seconds``
    XLA compilation time during the study; ``wall_seconds`` the whole study;
    ``all_tied`` (n, Q) True where the true value equals every draw (its rank is then pure
    tie-breaking noise); ``n_specs`` distinct problem signatures (1: every fit reused the first fit's programs);
    ``posterior``: ``"mcmc"`` (thinned by ESS), ``"independent"`` (an approximation's draws)
    or ``"point"`` (a point estimate, ranked among L copies of itself); ``settings``: the model,
    driver, keywords, ``n_obs`` and seed of the study.
    """

    names: list
    ranks: np.ndarray
    n_draws: np.ndarray
    pit: np.ndarray
    truth: np.ndarray
    ess: np.ndarray
    all_tied: np.ndarray
    divergences: np.ndarray
    seconds: np.ndarray
    compile_seconds: float
    wall_seconds: float
    n_specs: int
    posterior: str
    settings: dict

    alpha = 0.05

    @property
    def n_simulations(self) -> int:
        return int(self.ranks.shape[0])

    @functools.cached_property
    def pvalues(self) -> np.ndarray:
        """(Q,) p-values of the simultaneous ECDF test of each quantity's PIT values."""
        return np.array([uniformity.ecdf_pvalue(self.pit[:, q], seed=q) for q in range(self.pit.shape[1])])

    @property
    def informative(self) -> np.ndarray:
        """(Q,) bool: quantities whose true value ties with every draw in at most half of the
        simulations. The others (e.g. the number of active components of a K = 2 mixture with
        Dirichlet(3) weights: 2 in every truth and every draw) test only the tie-breaking random
        numbers; they are reported but left out of the verdict."""
        return np.mean(self.all_tied, axis=0) <= 0.5

    @property
    def calibrated(self) -> bool:
        """Every informative quantity's p-value >= alpha / Q (Q: the informative quantities;
        Bonferroni, family-wise level alpha)."""
        return uniformity.verdict(self.pvalues[self.informative], self.alpha)

    def summary(self):
        """A pandas DataFrame, one row per quantity: ``pvalue``, ``pvalue_bonferroni``
        (min(1, Q p)), ``coverage90`` (share of truths inside the central 90% interval; 0.9
        expected), ``mean_pit`` (0.5 expected: above, the posterior sits below the truth),
        ``all_tied`` (share of simulations whose truth ties with every draw), ``tested``
        (informative: in the verdict)."""
        import pandas as pd

        p, tested = self.pvalues, self.informative
        return pd.DataFrame(
            {
                "pvalue": p,
                "pvalue_bonferroni": np.where(tested, np.minimum(1.0, p * max(1, tested.sum())), np.nan),
                "coverage90": [uniformity.coverage(self.pit[:, q]) for q in range(p.size)],
                "mean_pit": self.pit.mean(axis=0),
                "all_tied": self.all_tied.mean(axis=0),
                "tested": tested,
            },
            index=pd.Index(self.names, name="quantity"),
        )

    def __str__(self):
        s = self.settings
        head = (
            f"SBC of {s['model']} by {s['driver']}: {self.n_simulations} simulations of {s['n_obs']} points, "
            f"ranks among {int(np.median(self.n_draws))} draws (median); "
            f"{'calibrated' if self.calibrated else 'NOT calibrated'} "
            f"(every tested p >= {self.alpha:g} / {int(self.informative.sum())}: Bonferroni); "
            f"{self.wall_seconds:.1f} s, {self.compile_seconds:.1f} s compiling"
        )
        return head + "\n" + self.summary().to_string(float_format=lambda v: f"{v:.3f}")

    __repr__ = __str__


class _CompileClock:
    """Seconds XLA spends compiling (JAX monitoring events) while active."""

    seconds = 0.0
    active = 0
    registered = False

    @classmethod
    def listen(cls, event, duration, **kwargs):
        if cls.active and "backend_compile" in event:
            cls.seconds += duration

    def __enter__(self):
        if not _CompileClock.registered:
            jax.monitoring.register_event_duration_secs_listener(_CompileClock.listen)
            _CompileClock.registered = True
        _CompileClock.active += 1
        self.start = _CompileClock.seconds
        return self

    def __exit__(self, *exc):
        _CompileClock.active -= 1
        self.seconds = _CompileClock.seconds - self.start


def _split_kwargs(model, driver, kwargs: dict) -> tuple:
    """``(model_kwargs, driver_kwargs, bind_kwargs)``: the driver's own keywords (by its
    signature), ``bind``'s, and the rest for the model."""
    driver_names = set(inspect.signature(driver).parameters) - {"model", "data", "seed", *BIND_OPTIONS}
    driver_kwargs = {k: v for k, v in kwargs.items() if k in driver_names}
    bind_kwargs = {k: v for k, v in kwargs.items() if k in BIND_OPTIONS}
    model_kwargs = {k: v for k, v in kwargs.items() if k not in driver_kwargs and k not in bind_kwargs}
    if "n_obs" in model_kwargs or "data" in model_kwargs:
        raise ValueError("n_obs is sbc's own argument and data are simulated: pass neither as a model keyword")
    params = inspect.signature(model).parameters
    for name, value in SIMULATION_PRIOR.items():  # explicit: the fits must use the simulating prior
        if name in params and model_kwargs.get(name) is None:
            model_kwargs[name] = value
    return model_kwargs, driver_kwargs, bind_kwargs


def posterior_draws(result: Result) -> tuple:
    """``(draws, kind)``: site name -> (C, S, ...) draws of the fitted posterior, and
    ``"mcmc"`` (NUTS chains), ``"independent"`` (an approximation's draws: ``SVIResult.samples``)
    or ``"point"`` (a point estimate, C = S = 1)."""
    if isinstance(result, NUTSResult):
        return dict(result.info.samples), "mcmc"
    samples = getattr(result.info, "samples", None)
    if isinstance(samples, dict) and samples:
        return {s: np.asarray(v)[None] for s, v in samples.items()}, "independent"
    return {s: np.asarray(v)[None, None] for s, v in result.params.items()}, "point"


def simulate(model, n_simulations: int, n_obs: int, seed: int, model_kwargs: dict) -> dict:
    """All simulations in one call of ``numpyro.infer.Predictive`` on the prior: site name ->
    (n_simulations, ...) host arrays, the data under ``DATA_SITE`` (n_simulations, n_obs, ...)."""
    from numpyro.infer import Predictive

    draws = Predictive(model, num_samples=n_simulations)(jax.random.PRNGKey(seed), n_obs=n_obs, **model_kwargs)
    if DATA_SITE not in draws:
        raise ValueError(f"model must simulate its data at a site named {DATA_SITE!r} when data is None; got {sorted(draws)}")
    return {k: np.asarray(v, dtype=np.float64) if k == DATA_SITE else np.asarray(v) for k, v in draws.items()}


@validated("sbc")
def sbc(
    model,
    driver=fit_nuts,
    *,
    n_simulations: int = 100,
    n_obs: int = 50,
    seed: int = 0,
    quantities=None,
    max_draws: int = 100,
    fit_overrides=None,
    progress: bool = False,
    **kwargs,
) -> SBCResult:
    """Simulation-based calibration of ``driver`` on ``model``.

    :param model: a model function with the mixzoo contract (``data=None`` simulates ``n_obs``
        points at site ``obs``).
    :param driver: ``fit_nuts`` (default), ``fit_svi``, ``fit_map`` or any callable
        ``driver(problem, seed=..., **driver_kwargs)`` returning a mixzoo result.
    :param n_simulations: data sets simulated and fitted.
    :param n_obs: points per data set (N).
    :param seed: seeds the simulations, the fits (one seed each) and the ranks' tie-breaking.
    :param quantities: ``None`` (:func:`~mixzoo.calibration.quantities.default_quantities`) or
        a dict name -> ``fn(sites, problem)`` returning (S,) or (S, m) label-invariant values
        for draws ``sites`` (site name -> (S, ...)).
    :param max_draws: most near-independent draws a true value is ranked among (L).
    :param fit_overrides: ``None``, or model keywords that the fits use instead of the
        simulation's (a deliberately wrong prior: the study must then fail).
    :param progress: a progress bar over the simulations.
    :param kwargs: the model's keywords (``n_components``, hyperparameters: those the
        simulation uses and the fits get explicitly; ``loc_mean``, ``loc_sd``, ``scale_median``,
        ``scale_log_sd`` default to the simulating prior of ``SIMULATION_PRIOR``, never to the
        data-derived empirical-Bayes defaults), the driver's keywords (by its signature, e.g.
        ``num_warmup``, ``num_chains``, ``num_steps``) and ``bind``'s (``marginalise``).
    :returns: :class:`SBCResult` (ranks (n_simulations, Q), p-values, plots).
    """
    if not callable(model):
        raise TypeError(f"model must be a callable model function such as mixzoo.dirichlet_gmm; got {type(model).__name__}")
    if not callable(driver):
        raise TypeError(f"driver must be a mixzoo driver such as fit_nuts; got {type(driver).__name__}")
    if quantities is not None and not (isinstance(quantities, dict) and quantities and all(map(callable, quantities.values()))):
        shown = (
            {k: type(v).__name__ for k, v in quantities.items()} if isinstance(quantities, dict) else type(quantities).__name__
        )
        raise TypeError(f"quantities must be None or a dict name -> callable; got {shown}".replace("'int'", "int"))
    if fit_overrides is not None and not isinstance(fit_overrides, dict):
        raise TypeError(f"fit_overrides must be None or a dict of model keywords; got {type(fit_overrides).__name__}")
    model_kwargs, driver_kwargs, bind_kwargs = _split_kwargs(model, driver, kwargs)
    fit_kwargs = dict(model_kwargs, **(fit_overrides or {}))
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    fit_seeds = rng.integers(0, 2**31 - 1, size=n_simulations)
    rank_rng = np.random.default_rng([seed, 1])
    rows = []
    specs = set()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_simulations, desc="SBC", unit="fit")
    with _CompileClock() as clock:
        sims = simulate(model, n_simulations, n_obs, seed, model_kwargs)
        sites_of = [k for k in sims if k != DATA_SITE]
        for i in range(n_simulations):
            tick = time.perf_counter()
            problem = bind(model, sims[DATA_SITE][i], **bind_kwargs, **fit_kwargs)
            specs.add(problem.spec)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a study of many small fits: warnings are per fit
                result = driver(problem, seed=int(fit_seeds[i]), **driver_kwargs)
            draws, kind = posterior_draws(result)
            chosen = quantities if quantities is not None else default_quantities(draws)
            c, s = next(iter(draws.values())).shape[:2]
            flat = {k: np.reshape(v, (c * s,) + np.shape(v)[2:]) for k, v in draws.items()}
            values, names = evaluate_quantities(chosen, flat, problem)
            truth_sites = {k: sims[k][i][None] for k in sites_of if k in draws}
            truth, _ = evaluate_quantities(chosen, truth_sites, problem)
            values = values.reshape(c, s, -1)
            if kind == "mcmc":
                kept, ess = thin_by_ess(values, max_draws)
            elif kind == "independent":
                idx = np.linspace(0, s - 1, min(s, max_draws)).round().astype(int)
                kept, ess = values[0, idx], np.inf
            else:
                kept, ess = np.repeat(values[0], max_draws, axis=0), np.nan
            rank, pit = ranks(truth[0], kept, rank_rng)
            divergences = int(np.sum(result.info.diverging)) if kind == "mcmc" else 0
            tied = np.all(kept == truth[0], axis=0)
            rows.append((rank, kept.shape[0], pit, truth[0], ess, tied, divergences, time.perf_counter() - tick))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    rank, n_draws, pit, truth, ess, tied, div, secs = (np.array(col) for col in zip(*rows))
    return SBCResult(
        names=names,
        ranks=rank,
        n_draws=n_draws,
        pit=pit,
        truth=truth,
        ess=ess.astype(float),
        all_tied=tied,
        divergences=div,
        seconds=secs,
        compile_seconds=clock.seconds,
        wall_seconds=time.perf_counter() - started,
        n_specs=len(specs),
        posterior=kind,
        settings=dict(
            model=getattr(model, "__name__", type(model).__name__),
            driver=getattr(driver, "__name__", type(driver).__name__),
            model_kwargs=model_kwargs,
            fit_overrides=dict(fit_overrides or {}),
            driver_kwargs=driver_kwargs,
            n_obs=n_obs,
            seed=seed,
        ),
    )
