"""The bound problem: a model, its data and its hyperparameters, read once.

:func:`bind` is to mixzoo what ``numpyro.infer.util.initialize_model`` is to NumPyro: it traces
the model once (abstractly, nothing compiled) and returns a :class:`Problem` holding everything
a driver needs, so that no driver, diagnostic or plot traces a fitted model again:

* ``spec`` (:class:`Spec`): the static part, hashable, the key of every compiled program:
  the model function, its static keywords (ints, bools, strings: ``n_components``,
  ``shared_scale``), the model's structure (enumerated, global, deterministic, location
  sites, plates), the observed site, the form of the objective, the padded data shape and
  the hyperparameter shapes;
* ``hyper``: the traced part of the model keywords (every float or array hyperparameter,
  the data-derived defaults resolved once on the full data), site name -> array;
* ``data`` (N, ...) on the host, and ``placed`` (N_padded, ...) on the devices with its
  ``mask`` (N_padded,): N is padded up to :func:`bucket_size` so that data sets of nearby
  sizes share one set of compiled programs; the padding is masked out of the likelihood;
* ``weights``: ``None``, or the (N,) ``sample_weight`` the problem was bound with; then the
  ``mask`` is a float array, each point's weight (0 on the padding), which multiplies the
  point's log-likelihood term in every driver (MAP by EM or Adam, SVI, NUTS).

Two problems of the same model and options, on data whose sizes fall in the same bucket, have
equal specs: every program compiled for the first is reused by the second.
"""

from __future__ import annotations

import numbers
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from .._constraints import check_arguments, validated
from .._validation import real_array, require_finite
from ._data import DATA_AXIS, DataPlateWeights, data_mesh, full_data_hyperparameters, resolve_marginalise
from ._structure import ModelStructure, inspect_model, site_transforms

#: Smallest padded data size.
MIN_BUCKET = 16
#: Significant binary digits kept by :func:`bucket_size` (4: at most 1/8 = 12.5% padding).
BUCKET_BITS = 4
#: With several devices, data of at least this many points are sharded over them by default.
#: Measured on 2 CPU host devices (``fit_map(dp_gmm, truncation=20)`` refits): 82 points 0.30 s
#: sharded against 0.12 s not; 20,000 points 2.3 s against 2.5 s; 100,000 points 12.1 s against
#: 15.9 s. Below this size the collectives cost more than the split saves.
SHARD_MIN_POINTS = 2**14


def bucket_size(n: int, multiple: int = 1, bits: int = BUCKET_BITS, minimum: int = MIN_BUCKET) -> int:
    """The padded size of ``n`` data points: the smallest number >= max(n, ``minimum``)
    whose binary form has at most ``bits`` significant digits (``BUCKET_BITS`` = 4: 8 sizes per
    doubling: 16, 18, 20, ..., 30, 32, 36, ..., 60, 64, 72, ...), rounded up to a multiple of
    ``multiple`` (the device count). Powers of two (``bits=1``) would waste up to half of every
    pass over the data (at N = 1e7, 67%); the default ladder wastes at most 12.5% and still
    bounds the number of distinct programs a sweep over data sizes compiles to 8 per doubling
    of N."""
    n = max(int(n), minimum)
    step = 1 << max(0, n.bit_length() - bits)
    size = -(-n // step) * step
    return -(-size // multiple) * multiple


def _is_static(value) -> bool:
    """Keyword values that select a program rather than feed it: Python ints, bools, strings,
    ``None`` (``n_components``, ``shared_scale``, ``n_dims``). Floats and arrays are traced."""
    return (
        value is None
        or isinstance(value, (bool, np.bool_, str))
        or (isinstance(value, numbers.Integral) and not isinstance(value, np.ndarray))
    )


class Spec:
    """The static part of a :class:`Problem`: what its compiled programs depend on.

    Equal (and equally hashed) for problems of the same model function, static keywords,
    objective form, padded data shape and dtype, device layout, hyperparameter shapes and
    weighting (``weighted``: the mask holds per-point weights, see :class:`Problem`).
    ``model_fn(form)`` gives the model as a function of the traced arguments
    ``(data, mask, hyper, scale=None)``: ``form`` ``"marginal"`` (``marginal=True``,
    ``MixtureSameFamily``) or ``"enumerated"`` (the assignment site enumerated); the mask and
    the likelihood scale apply to the sites in the data plates only.
    """

    def __init__(
        self,
        model,
        static_kwargs: dict,
        marginalise: str,
        structure: ModelStructure,
        observed: str,
        data_shape: tuple,
        dtype,
        hyper_shapes: tuple,
        sharded: bool,
        weighted: bool = False,
    ):
        self.model = model
        self.static_kwargs = dict(static_kwargs)
        self.marginalise = marginalise
        self.structure = structure
        self.observed = observed
        self.data_shape = tuple(data_shape)
        self.dtype = np.dtype(dtype)
        self.sharded = sharded
        self.weighted = bool(weighted)
        self.hyper_shapes = hyper_shapes
        self.key = (
            model,
            tuple(sorted(self.static_kwargs.items())),
            marginalise,
            self.data_shape,
            str(self.dtype),
            hyper_shapes,
            sharded,
            self.weighted,
        )
        self.constrain, self.unconstrain = site_transforms(structure)
        self._model_fns = {}

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, Spec) and self.key == other.key

    def __repr__(self):
        name = getattr(self.model, "__name__", type(self.model).__name__)
        return f"Spec({name}, {self.static_kwargs}, {self.marginalise}, data {self.data_shape})"

    @property
    def event_shape(self) -> tuple:
        return self.data_shape[1:]

    def model_fn(self, form: str) -> Callable:
        """The model of ``form`` as ``f(data, mask, hyper, scale=None)`` (see the class docstring)."""
        if form not in ("marginal", "enumerated"):
            raise ValueError(f"form must be 'marginal' or 'enumerated'; got {form!r}")
        if form not in self._model_fns:
            self._model_fns[form] = self._build_model_fn(form)
        return self._model_fns[form]

    def _build_model_fn(self, form: str) -> Callable:
        model, static, plates = self.model, self.static_kwargs, self.structure.data_frames
        marginal = form == "marginal"

        def run(data, mask=None, hyper=None, scale=None):
            kwargs = dict(static, **(hyper or {}))
            if marginal:
                kwargs["marginal"] = True
            return DataPlateWeights(model, plates=plates, scale=scale, mask=mask)(data, **kwargs)

        run.__name__ = f"{getattr(model, '__name__', 'model')}_{form}"
        return run

    @property
    def objective_form(self) -> str:
        """The form the MAP and NUTS objectives use: ``"marginal"`` (analytic) or ``"enumerated"``."""
        return "marginal" if self.marginalise == "analytic" else "enumerated"


class Problem:
    """A model bound to its data: see the module docstring. Build it with :func:`bind`.

    Attributes: ``spec`` (:class:`Spec`), ``model``, ``model_kwargs`` (as given),
    ``fit_kwargs`` (with the data-derived defaults filled in), ``hyper`` (traced keywords,
    name -> array), ``data`` (N, ...) host float array, ``n`` (N), ``placed``
    (N_padded, ...) device array, ``mask`` (N_padded,) bool device array (False on padding),
    or with ``weights`` (the (N,) host ``sample_weight``, else ``None``) a float device array
    of the weights (0 on padding).

    A problem pickles as its model, data, weights and keywords, and is bound again (traced,
    nothing compiled) when unpickled; results pickle with it.
    """

    def __init__(
        self,
        spec: Spec,
        model_kwargs: dict,
        fit_kwargs: dict,
        hyper: dict,
        data: np.ndarray,
        placed,
        mask,
        weights=None,
        buckets: tuple = (BUCKET_BITS, MIN_BUCKET),
    ):
        self.spec = spec
        self.buckets = tuple(buckets)
        self.model_kwargs = dict(model_kwargs)
        self.fit_kwargs = dict(fit_kwargs)
        self.hyper = hyper
        self.data = data
        self.placed = placed
        self.mask = mask
        self.weights = weights

    model = property(lambda self: self.spec.model)
    structure = property(lambda self: self.spec.structure)
    n = property(lambda self: int(self.data.shape[0]))

    def __repr__(self):
        name = getattr(self.model, "__name__", type(self.model).__name__)
        return f"Problem({name}, N={self.n} (padded to {self.spec.data_shape[0]}), {self.model_kwargs})"

    def place(self, data) -> tuple:
        """Other data (new points, a grid) for this problem's programs: ``(host, placed, mask)``
        with ``host`` (M, ...) checked as new data (see :func:`check_new_data`), ``placed``
        padded to ``bucket_size(M)`` (with this problem's ``buckets``), unsharded."""
        host = check_new_data(self, data)
        placed, mask = pad(host, bucket_size(host.shape[0], 1, *self.buckets))
        return host, jnp.asarray(placed), jnp.asarray(mask)

    def with_data(self, data: np.ndarray, *, shard: bool | None = None, weights=None) -> "Problem":
        """The same model and hyperparameters (those of this problem's full data) on other
        points, e.g. a subsample: no re-tracing. ``shard``: place them over the devices
        (``None``: as this problem's data); ``weights``: ``None`` (unweighted) or one weight per
        point (e.g. ``problem.weights[index]`` for ``problem.data[index]``)."""
        host = np.asarray(data, dtype=self.data.dtype)
        if weights is not None:
            weights = np.asarray(weights, dtype=host.dtype)
        sharded = self.spec.sharded if shard is None else bool(shard) and jax.device_count() > 1
        placed, mask = _place(host, sharded, weights, self.buckets)
        spec = _respec(self.spec, placed.shape, sharded, weights is not None)
        return Problem(spec, self.model_kwargs, self.fit_kwargs, self.hyper, host, placed, mask, weights, self.buckets)

    def subset(self, index, *, shard: bool | None = None) -> "Problem":
        """:meth:`with_data` on ``data[index]``, with ``weights[index]`` when weighted."""
        weights = None if self.weights is None else self.weights[index]
        return self.with_data(self.data[index], shard=shard, weights=weights)

    def __reduce__(self):
        spec = self.spec
        bits, minimum = self.buckets
        options = dict(marginalise=spec.marginalise, shard_data=spec.sharded, bucket_bits=bits, min_bucket=minimum)
        return (_rebind, (self.model, self.data, self.weights, self.model_kwargs, self.fit_kwargs, options))


def _rebind(model, data, weights, model_kwargs, fit_kwargs, options) -> "Problem":
    """An unpickled :class:`Problem`: bound again with the data-derived hyperparameters it had
    (those of its full data, which a subsample's problem does not hold)."""
    problem = bind(model, data, sample_weight=weights, **options, **fit_kwargs)
    problem.model_kwargs = dict(model_kwargs)
    return problem


def check_new_data(problem: Problem, data, name: str = "data") -> np.ndarray:
    """New data for a fitted problem (to classify, score, plot): real, finite, of the
    problem's event shape, at least one point. A single point, or repeated points, are valid
    new data (the training data's rules, such as not being constant, do not apply)."""
    event = problem.spec.event_shape
    arr = real_array(data, name, problem.data.dtype)
    if arr.ndim == len(event):  # one point
        arr = arr[None]
    if arr.shape[1:] != event:
        want = "(M,)" if not event else f"(M, {event[0]})"
        raise ValueError(f"{name} must have shape {want} like the data the model was fitted to; got shape {np.shape(data)}")
    if arr.shape[0] < 1:
        raise ValueError(f"{name} must have at least 1 point; got 0")
    require_finite(arr, name)
    return arr


def pad(host: np.ndarray, size: int) -> tuple:
    """``(padded, mask)``: ``host`` (N, ...) followed by copies of its first point up to
    ``size`` points, and the (size,) bool mask that is False on the copies."""
    n = host.shape[0]
    extra = size - n
    padded = np.concatenate([host, np.repeat(host[:1], extra, axis=0)]) if extra else host
    return padded, np.arange(size) < n


def _place(host: np.ndarray, sharded: bool, weights=None, buckets: tuple = (BUCKET_BITS, MIN_BUCKET)) -> tuple:
    """Pad ``host`` to its bucket and put it on the devices (split along N over all devices
    when ``sharded``, with ``make_array_from_callback``: under ``jax.distributed`` each
    process keeps only its own shards). With ``weights`` (N,), the mask is the weights padded
    with zeros (see :class:`Problem`). ``buckets``: ``(bits, minimum)`` of :func:`bucket_size`."""
    devices = jax.device_count() if sharded else 1
    padded, mask = pad(host, bucket_size(host.shape[0], devices, *buckets))
    if weights is not None:
        mask = np.concatenate([weights, np.zeros(mask.size - weights.size, weights.dtype)])
    if not sharded:
        return jax.device_put(padded), jax.device_put(mask)  # a transfer; jnp.asarray compiles a copy
    mesh = data_mesh()

    def put(x):
        sharding = NamedSharding(mesh, PartitionSpec(DATA_AXIS, *([None] * (x.ndim - 1))))
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return put(padded), put(mask)


def _respec(spec: Spec, shape: tuple, sharded: bool, weighted: bool) -> Spec:
    if tuple(shape) == spec.data_shape and sharded == spec.sharded and weighted == spec.weighted:
        return spec
    return Spec(
        spec.model,
        spec.static_kwargs,
        spec.marginalise,
        spec.structure,
        spec.observed,
        shape,
        spec.dtype,
        spec.hyper_shapes,
        sharded,
        weighted,
    )


@validated("bind")
def bind(
    model,
    data,
    *,
    marginalise: str | None = None,
    shard_data: bool | None = None,
    sample_weight=None,
    bucket_bits: int = BUCKET_BITS,
    min_bucket: int = MIN_BUCKET,
    **model_kwargs,
) -> Problem:
    """Bind ``model`` to ``data`` and its keywords: trace it once, resolve the data-derived
    hyperparameters on the full data, validate and place the data.

    :param model: a model function following the mixzoo contract (one enumerated assignment
        site; a ``marginal`` keyword for the analytic form).
    :param data: (N,) or (N, D) as the model expects; the model's own checks run here.
    :param marginalise: ``"analytic"``, ``"enumerate"`` or ``None`` (analytic when the model
        has a ``marginal`` keyword): the form of the MAP and NUTS objectives.
    :param shard_data: split the data along N over all devices (``None``: when there are
        several and the data have at least ``SHARD_MIN_POINTS`` points).
    :param sample_weight: ``None`` or (N,) finite weights >= 0, not all 0: each point's
        log-likelihood term is multiplied by its weight in every driver (EM reads the weighted
        sufficient statistics; Adam, SVI and NUTS the weighted log density), and the
        data-derived prior defaults are the weighted ones, so that an integer weight is a
        repeated point and a weight of 0 a removed one. Needs the analytic form
        (``marginalise="analytic"``, the default of the built-in models). Weighted problems
        compile their own programs.
    :param bucket_bits: the padded data size keeps this many significant binary digits (see
        :func:`bucket_size`): the default 4 pads by at most 12.5% (8 sizes per doubling of N);
        1 pads to powers of two (one size per doubling), up to twice the work per pass but far
        fewer compiled programs when small data sets of many sizes are fitted (cross-validation
        folds, a grid search). The padding is masked out: the fit does not depend on it.
    :param min_bucket: the smallest padded size (``MIN_BUCKET`` = 16): all smaller data sets
        share the programs of this size.
    :param model_kwargs: the model's keywords. Ints, bools and strings select the compiled
        programs (``n_components=4`` and ``n_components=5`` compile separately); floats and
        arrays are passed to the programs as arguments (a new ``weight_concentration`` or new
        data of the same size compiles nothing).
    :returns: :class:`Problem`.
    """
    if not callable(model):
        raise TypeError(f"model must be a callable model function such as mixzoo.dirichlet_gmm; got {type(model).__name__}")
    if isinstance(data, Problem):
        raise TypeError("data must be an array; got a Problem (pass the problem itself to the driver instead)")
    marginalise = resolve_marginalise(model, marginalise)
    check_arguments(getattr(model, "constraints", {}), model_kwargs)  # a mixzoo model's own table, before tracing
    if data is not None:  # real numbers, converted once (the model checks the shape and the values)
        data = real_array(data, dtype=np.dtype(jnp.result_type(float)))
    structure = inspect_model(model, data, model_kwargs)  # the enumerated form; the model validates the data
    host = np.asarray(data)
    weights = _check_sample_weight(sample_weight, host, marginalise)
    fit_kwargs = full_data_hyperparameters(model, host, model_kwargs, weights)
    static = {k: v for k, v in fit_kwargs.items() if _is_static(v)}
    # host arrays (jnp.asarray would compile a conversion per value in a new process)
    hyper = {k: np.asarray(v, dtype=host.dtype) for k, v in fit_kwargs.items() if not _is_static(v)}
    observed = [name for name, site in structure.trace.items() if site["type"] == "sample" and site["is_observed"]]
    if len(observed) != 1:
        raise ValueError(f"model must have exactly one observed sample site; got {observed}")
    sharded = jax.device_count() > 1 and (host.shape[0] >= SHARD_MIN_POINTS if shard_data is None else shard_data)
    placed, mask = _place(host, sharded, weights, (bucket_bits, min_bucket))
    hyper_shapes = tuple((k, tuple(v.shape), str(v.dtype)) for k, v in sorted(hyper.items()))
    spec = Spec(
        model, static, marginalise, structure, observed[0], placed.shape, host.dtype, hyper_shapes, sharded, weights is not None
    )
    return Problem(spec, model_kwargs, fit_kwargs, hyper, host, placed, mask, weights, (bucket_bits, min_bucket))


def _check_sample_weight(sample_weight, data: np.ndarray, marginalise: str):
    """``sample_weight`` as an (N,) array of the data's dtype, or ``None``; refuses what is not
    one finite weight >= 0 per point with at least one above 0."""
    if sample_weight is None:
        return None
    if marginalise != "analytic":
        raise ValueError(
            "sample_weight needs the analytic form (marginalise='analytic', for a model with a 'marginal' keyword); "
            f"got marginalise={marginalise!r}"
        )
    weights = real_array(sample_weight, "sample_weight", np.float64)
    if weights.shape != data.shape[:1]:
        raise ValueError(
            f"sample_weight must have shape ({data.shape[0]},), one weight per data point; got shape {weights.shape}"
        )
    require_finite(weights, "sample_weight")
    if np.any(weights < 0):
        raise ValueError(f"sample_weight must be >= 0; got {weights[weights < 0][0]:g} at index {int(np.argmax(weights < 0))}")
    if not np.any(weights > 0):
        raise ValueError("sample_weight must hold at least one weight above zero; got all zero")
    return weights.astype(data.dtype)


def as_problem(model, data, model_kwargs: dict, **bind_options) -> Problem:
    """The drivers' entry: ``model`` is a :class:`Problem` (then ``data`` must be ``None`` and
    no model keywords or binding options may be given) or a model function bound here."""
    if isinstance(model, Problem):
        if data is not None:
            raise TypeError("data must be None when a Problem is given (the problem holds its data)")
        given = sorted(k for k, v in bind_options.items() if v is not None) + sorted(model_kwargs)
        if given:
            raise TypeError(f"model keywords and binding options belong to bind(); got {given} with a Problem")
        return model
    if data is None:
        raise TypeError("data must be an array of shape (N,) or (N, D); got None")
    return bind(model, data, **bind_options, **model_kwargs)


def n_draws(tree) -> int:
    """Leading-axis length of a dict of draws (site name -> (S, ...))."""
    return int(jax.tree_util.tree_leaves(tree)[0].shape[0])


__all__ = ["Problem", "Spec", "bind", "bucket_size", "check_new_data"]
