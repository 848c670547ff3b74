"""A scikit-learn estimator for mixzoo's Bayesian Gaussian mixtures: :class:`MixzooGaussianMixture`.

Needs scikit-learn (``pip install 'mixzoo[sklearn]'``); ``import mixzoo`` does not load this
module or scikit-learn (``mixzoo.sklearn`` loads on first use).

>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from mixzoo.sklearn import MixzooGaussianMixture
>>> pipe = make_pipeline(StandardScaler(), MixzooGaussianMixture(n_components=3, random_state=0))
>>> labels = pipe.fit(X).predict(X)                     # doctest: +SKIP
>>> pipe.score(X_test)                                  # mean log density of new points  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, DensityMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - the optional extra is missing
    raise ImportError("mixzoo.sklearn needs scikit-learn: pip install 'mixzoo[sklearn]'") from exc

from ._constraints import ESTIMATOR_PARAMETERS, MAX_SEED, check_arguments
from ._mixture_numpy import (
    components,
    mean_responsibilities,
    merge_rows,
    precision_cholesky,
    predictive_log_density,
    predictive_sample,
)

#: The model hyperparameters each weight prior takes (the others belong to the other prior).
PRIOR_HYPERPARAMETERS = {
    "dirichlet": ("weight_concentration",),
    "dirichlet_process": ("concentration_shape", "concentration_rate"),
}
#: Hyperparameters of the component locations and scales, shared by every model.
LOC_SCALE_HYPERPARAMETERS = ("loc_mean", "loc_sd", "scale_median", "scale_log_sd")
#: The driver options each inference uses (given as ``None``, the driver's default applies;
#: the options of the other drivers are not used).
DRIVER_OPTIONS = {
    "map": ("n_restarts", "n_best", "n_screen", "init", "method", "max_iter", "tol", "num_steps", "learning_rate"),
    "svi": ("n_restarts", "num_steps", "learning_rate", "batch_size", "init_scale", "num_samples"),
    "nuts": ("num_warmup", "num_samples", "num_chains", "target_accept_prob", "max_tree_depth", "chain_method"),
}
#: Up to this many distinct rows the data are padded to a power of two, at least ``SMALL_ROWS``
#: (``mixzoo.bind``'s ``bucket_bits=1, min_bucket=SMALL_ROWS``): small data sets of any size
#: up to ``SMALL_ROWS`` (and nearby larger sizes: cross-validation folds, a grid search) share
#: their compiled programs, which cost far more than the padded passes; larger data are padded
#: by at most 12.5%. The padding is masked out: the fit does not depend on it.
POWER_OF_TWO_ROWS = 2**12
SMALL_ROWS = 128
#: ``converged_`` of an SVI or Adam fit: the mean loss of the last tenth of the steps is within
#: this fraction of the mean loss of the tenth before.
SVI_SETTLED = 1e-3


class DiagonalFallbackWarning(UserWarning):
    """``covariance_type="full"`` fitted diagonal covariances: too few distinct samples for
    ``full_gmm`` (see :class:`MixzooGaussianMixture`)."""


class MixzooGaussianMixture(DensityMixin, BaseEstimator):
    """Bayesian Gaussian mixture with diagonal or full covariances, fitted by mixzoo's MAP (EM), SVI or NUTS.

    The name says whose model it is: scikit-learn's ``BayesianGaussianMixture`` is a
    variational fit of another prior (Normal-Wishart components, its own weight priors), and a
    name one word away from it would invite confusing the two in one script. This estimator
    wraps the models of :mod:`mixzoo.models` (data-derived, scale-free priors; see
    :mod:`mixzoo.models._common`) and the drivers of :mod:`mixzoo.infer`:

    * ``weight_prior="dirichlet"``: a finite mixture with Dirichlet weights,
      :func:`mixzoo.dirichlet_gmm` on one feature and :func:`mixzoo.diag_gmm` (or, with
      ``covariance_type="full"``, :func:`mixzoo.full_gmm`) on several;
    * ``weight_prior="dirichlet_process"``: :func:`mixzoo.dp_gmm` truncated at
      ``n_components`` (one feature or several; ``covariance_type="full"`` on several:
      :func:`mixzoo.full_gmm` with ``weights_prior="dp"``). With ``n_components=1`` both
      priors are the same single Gaussian (a DP truncated at one component has no sticks): the
      finite model fits it.

    ``covariance_type="full"`` (per-component covariances from per-feature LogNormal scales and
    an LKJ correlation factor, ``full_gmm``) follows scikit-learn's ``GaussianMixture`` on
    small data, which fits any ``n_samples >= n_components`` (its ``reg_covar`` keeps the
    covariances invertible):

    * one feature: a full covariance is one variance, the 1-D model fits it exactly and
      ``covariances_`` has shape (K, 1, 1);
    * fewer distinct samples (with a positive weight) than ``full_gmm`` takes (its number of
      free parameters, (K - 1) + 2 K D + K D (D - 1) / 2; for the Dirichlet process those of
      one component, D (D + 3) / 2; :func:`mixzoo.models.full_gmm.min_points`), which
      scikit-learn's checks fit (e.g. 20 samples of 5 or 10 features): ``full_gmm`` refuses
      them, with reason: with D >= 3 a component on m points, 3 <= m <= D, has an unbounded
      posterior density (its covariance shrinks onto their span: the likelihood grows as
      det(R)^(-m/2), the LKJ density falls only as det(R)^(corr_concentration - 1)). The fit
      falls back to diagonal covariances (the full model with its correlations at 0, whose
      posterior the LogNormal scale prior bounds), returns them as diagonal (K, D, D)
      matrices and says so with a :class:`DiagonalFallbackWarning` naming n_samples and the
      rule; ``bic`` and ``aic`` then count diagonal parameters.

    ``inference``: ``"map"`` (:func:`mixzoo.fit_map`, EM: a point estimate, the fitted
    attributes are its values), ``"svi"`` (:func:`mixzoo.fit_svi`: mean-field posterior draws)
    or ``"nuts"`` (:func:`mixzoo.fit_nuts`: posterior draws, relabelled by
    :func:`mixzoo.diagnostics.relabel` so that component k means the same in every draw). With
    draws, ``predict_proba`` averages the responsibilities over the draws, ``score_samples`` is
    the posterior predictive log density (log-mean-exp over the draws), ``sample`` draws from
    the posterior predictive, and ``weights_``, ``means_``, ``covariances_`` are posterior means.

    Every parameter is stored as given and checked by ``fit`` against the table
    ``mixzoo._constraints.ESTIMATOR_PARAMETERS`` (errors name the parameter, the rule and the
    value). ``None`` means the model's or the driver's own default.

    :param n_components: K (the truncation T of the Dirichlet process).
    :param weight_prior: ``"dirichlet"`` or ``"dirichlet_process"``.
    :param covariance_type: ``"diag"`` or ``"full"`` (scikit-learn's ``"tied"`` and
        ``"spherical"`` are not supported).
    :param inference: ``"map"``, ``"svi"`` or ``"nuts"``.
    :param weight_concentration: Dirichlet concentration (``"dirichlet"`` only; model default 1).
    :param concentration_shape, concentration_rate: Gamma prior of the DP concentration
        (``"dirichlet_process"`` only; model defaults 1, 1).
    :param corr_concentration: LKJ concentration of the correlations (``"full"`` only; model
        default 2; unused where the fit has no correlations: one feature, or the fallback).
    :param loc_mean, loc_sd, scale_median, scale_log_sd: component priors in data units, a
        number or one per feature (model defaults: derived from the data's weighted mean and
        spread).
    :param n_restarts: initialisations (``"map"``, ``"svi"``).
    :param n_best, n_screen, init, method: :func:`mixzoo.fit_map`'s candidates optimised to the
        end, starts screened, start rule (``"data"`` or ``"kmeans++"``) and optimiser (``"em"``
        or ``"adam"``) (``"map"``). The NUTS chains start at the prior median, as
        :func:`mixzoo.fit_nuts` does by default (starts at data points, as the MAP's, were
        measured to leave chains in different modes on iris).
    :param max_iter, tol: EM's iteration limit and relative tolerance (``"map"``).
    :param num_steps, learning_rate: SVI's (``"svi"``) or Adam's (``"map"`` with
        ``method="adam"``) steps and learning rate.
    :param batch_size, init_scale: SVI's minibatch size (over the distinct rows) and initial
        posterior spread (``"svi"``).
    :param num_warmup, num_chains, target_accept_prob, max_tree_depth, chain_method: NUTS's
        warm-up transitions, chains and sampler options (``"nuts"``).
    :param num_samples: posterior draws (``"svi"``: in all; ``"nuts"``: per chain).
    :param random_state: ``None``, an integer seed or a ``numpy.random.RandomState``: the seed of
        the fit is drawn from it (an integer is the seed itself), and ``sample`` draws from it
        as scikit-learn's mixtures do.

    ``fit(X, y=None, sample_weight=None)``: ``sample_weight`` multiplies each point's
    log-likelihood term (scikit-learn's own mixtures' fit takes no sample_weight), in every
    inference (EM reads the weighted statistics; SVI and NUTS the weighted log density), and
    the data-derived prior defaults are the weighted ones. The fit depends on the data only
    through their weighted empirical distribution: rows of weight 0 are dropped and repeated
    rows merged (their weights summed) before fitting, so an integer weight is exactly a
    repeated row and the row order does not matter. (``result_`` holds the merged rows, in
    sorted order.) The fit binds the rows with their weights (always, so that weighted and
    unweighted fits share their compiled programs) and pads them as ``POWER_OF_TWO_ROWS`` and
    ``SMALL_ROWS`` say: small data sets of any size share one set of programs per number of
    components and features.

    Fitted attributes: ``weights_`` (K,), ``means_`` (K, n_features), ``covariances_`` (K,
    n_features) for ``covariance_type="diag"``, (K, n_features, n_features) for ``"full"``,
    ``precisions_cholesky_`` and ``precisions_`` (the same shapes; scikit-learn's definitions,
    from ``covariances_``: for ``"full"`` the upper-triangular P = L^-T of the Cholesky factor L
    of each covariance, P P^T its inverse; for ``"diag"`` 1 / sqrt(covariances_) and
    1 / covariances_); ``n_iter_`` (EM
    iterations; SVI steps; NUTS transitions per chain), ``converged_`` (EM met ``tol``; SVI's or
    Adam's loss settled, see ``SVI_SETTLED``; NUTS: no divergence and every R-hat of the relabelled
    component parameters below 1.01), ``lower_bound_`` (the log posterior at the MAP, up to its
    constant; the ELBO estimate of the last tenth of the SVI steps; NaN for NUTS, a sampler
    has no bound), ``lower_bounds_`` (per iteration or step; MAP and SVI),
    ``fitted_covariance_type_`` (``"full"`` where the fit has correlations; ``"diag"`` for one
    feature, and for the diagonal fallback of ``covariance_type="full"``),
    ``n_features_in_``, ``feature_names_in_`` (when ``X`` is a DataFrame), ``result_`` (the
    :class:`mixzoo.infer.Result`) and, for SVI and NUTS, ``posterior_draws_`` (``weights``
    (S, K), ``means`` (S, K, n_features), ``covariances`` (S, K, n_features) or, ``"full"``,
    (S, K, n_features, n_features)); with draws, ``covariances_`` is their posterior mean and
    the precisions are its inverse's (not the posterior mean of the precisions).

    Predictions are computed in NumPy (float64) from the fitted values or draws (full
    covariances through their Cholesky factors, no inverse): no program is compiled after the
    fit, and a point's prediction does not depend on the other points given with it.
    """

    def __init__(
        self,
        n_components=3,
        *,
        weight_prior="dirichlet",
        covariance_type="diag",
        inference="map",
        weight_concentration=None,
        concentration_shape=None,
        concentration_rate=None,
        corr_concentration=None,
        loc_mean=None,
        loc_sd=None,
        scale_median=None,
        scale_log_sd=None,
        n_restarts=None,
        n_best=None,
        n_screen=None,
        init=None,
        method=None,
        max_iter=None,
        tol=None,
        num_steps=None,
        learning_rate=None,
        batch_size=None,
        init_scale=None,
        num_warmup=None,
        num_samples=None,
        num_chains=None,
        target_accept_prob=None,
        max_tree_depth=None,
        chain_method=None,
        random_state=None,
    ):
        self.n_components = n_components
        self.weight_prior = weight_prior
        self.covariance_type = covariance_type
        self.inference = inference
        self.weight_concentration = weight_concentration
        self.concentration_shape = concentration_shape
        self.concentration_rate = concentration_rate
        self.corr_concentration = corr_concentration
        self.loc_mean = loc_mean
        self.loc_sd = loc_sd
        self.scale_median = scale_median
        self.scale_log_sd = scale_log_sd
        self.n_restarts = n_restarts
        self.n_best = n_best
        self.n_screen = n_screen
        self.init = init
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.num_steps = num_steps
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.init_scale = init_scale
        self.num_warmup = num_warmup
        self.num_samples = num_samples
        self.num_chains = num_chains
        self.target_accept_prob = target_accept_prob
        self.max_tree_depth = max_tree_depth
        self.chain_method = chain_method
        self.random_state = random_state

    # ---------------------------------------------------------------- fitting

    def _checked_params(self) -> dict:
        """The parameters, checked against ``ESTIMATOR_PARAMETERS`` and against each other."""
        params = check_arguments(ESTIMATOR_PARAMETERS, self.get_params(deep=False))
        prior = params["weight_prior"]
        other = [p for name, names in PRIOR_HYPERPARAMETERS.items() if name != prior for p in names]
        given = [p for p in other if params[p] is not None]
        if given:
            raise ValueError(
                f"{given[0]} belongs to the other weight prior: weight_prior={prior!r} takes "
                f"{' and '.join(PRIOR_HYPERPARAMETERS[prior])}; got {given[0]}={params[given[0]]!r}"
            )
        if params["covariance_type"] == "diag" and params["corr_concentration"] is not None:
            raise ValueError(
                "corr_concentration belongs to covariance_type='full' (the LKJ prior of the correlations); "
                f"covariance_type='diag' has no correlations; got corr_concentration={params['corr_concentration']!r}"
            )
        return params

    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture to ``X`` (n_samples, n_features); ``y`` is ignored;
        ``sample_weight`` (n_samples,) >= 0 multiplies each point's log-likelihood term.
        Returns the fitted estimator."""
        import mixzoo

        params = self._checked_params()
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("_")]:
            delattr(self, name)  # a refit (e.g. with another inference) keeps nothing of the last fit
        X = _validated(self, X, ensure_min_samples=2)
        k = params["n_components"]
        if X.shape[0] < k:
            raise ValueError(f"Expected n_samples >= n_components but got n_components = {k}, n_samples = {X.shape[0]}")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        rows, weights = merge_rows(X, sample_weight)
        if rows.shape[0] < 2:
            raise ValueError(
                f"X must hold at least 2 distinct samples with a positive weight; got {rows.shape[0]} (n_samples = {X.shape[0]})"
            )
        model, model_kwargs = self._model(params, rows.shape[0], rows.shape[1])
        data = rows[:, 0] if rows.shape[1] == 1 else rows
        inference = params["inference"]
        problem = mixzoo.bind(
            model,
            data,
            sample_weight=weights,  # always weighted (the rows' counts): one set of programs
            shard_data=False if inference == "nuts" else None,
            **(dict(bucket_bits=1, min_bucket=SMALL_ROWS) if rows.shape[0] <= POWER_OF_TWO_ROWS else {}),
            **model_kwargs,
        )
        seed = _seed(params["random_state"])
        options = {o: params[o] for o in DRIVER_OPTIONS[inference] if params[o] is not None}
        if inference == "map":
            result = mixzoo.fit_map(problem, seed=seed, **options)
            self._set_point(result)
        elif inference == "svi":
            result = mixzoo.fit_svi(problem, seed=seed, **options)
            self._set_draws(result, result.info.samples)
        else:
            result = mixzoo.fit_nuts(problem, seed=seed, **options)
            relabelled = mixzoo.diagnostics.relabel(result)
            self._set_draws(result, relabelled.params)
            warmup = options.get("num_warmup", _nuts_default("num_warmup"))
            self.n_iter_ = int(warmup) + int(np.shape(result.info.diverging)[1])
        self.result_ = result
        self.fitted_covariance_type_ = "full" if model is mixzoo.full_gmm else "diag"
        return self

    def _model(self, params: dict, n_rows: int, n_features: int):
        """The model function and its keywords for ``n_rows`` distinct rows of ``n_features``
        features: ``full_gmm`` where the fit has correlations (``covariance_type="full"``, more
        than one feature and enough rows), else the diagonal model."""
        from .models import diag_gmm, dirichlet_gmm, dp_gmm, full_gmm
        from .models.full_gmm import min_points

        k = params["n_components"]
        dp = params["weight_prior"] == "dirichlet_process" and k > 1
        full = params["covariance_type"] == "full" and n_features > 1
        if full:
            needed = min_points(k, n_features, "dp" if dp else "dirichlet")
            if n_rows < needed:
                full = False
                rule = "one component of the DP: D (D + 3) / 2" if dp else "(K - 1) + 2 K D + K D (D - 1) / 2"
                warnings.warn(
                    f"covariance_type='full' needs n_samples >= {needed} distinct samples with a positive weight for "
                    f"n_components={k} and {n_features} features (full_gmm's rule: at least its free parameters, {rule}); "
                    f"got n_samples = {n_rows}: fitted diagonal covariances instead (covariances_ holds them as diagonal "
                    "matrices)",
                    DiagonalFallbackWarning,
                    stacklevel=3,
                )
        kwargs = {}
        for name in LOC_SCALE_HYPERPARAMETERS:
            value = params[name]
            if value is not None and n_features == 1 and np.size(value) == 1:
                value = float(np.reshape(value, -1)[0])  # one feature: the 1-D models take numbers
            if value is not None:
                kwargs[name] = value
        if full and params["corr_concentration"] is not None:
            kwargs["corr_concentration"] = float(params["corr_concentration"])
        if dp:
            kwargs.update({p: float(params[p]) for p in PRIOR_HYPERPARAMETERS["dirichlet_process"] if params[p] is not None})
            if full:
                return full_gmm, dict(kwargs, n_components=k, weights_prior="dp")
            return dp_gmm, dict(kwargs, truncation=k)
        kwargs.update(n_components=k)
        if params["weight_concentration"] is not None:
            kwargs["weight_concentration"] = float(params["weight_concentration"])
        return (full_gmm if full else dirichlet_gmm if n_features == 1 else diag_gmm), kwargs

    def _set_precisions(self) -> None:
        """scikit-learn's ``precisions_cholesky_`` and ``precisions_`` of ``covariances_``."""
        self.precisions_cholesky_ = precision_cholesky(self.covariances_)
        p = self.precisions_cholesky_
        self.precisions_ = p**2 if p.ndim == 2 else np.einsum("kij,klj->kil", p, p)

    def _set_point(self, result) -> None:
        full = self.covariance_type == "full"
        self.weights_, self.means_, self.covariances_ = components(result.params, self.n_features_in_, full=full)
        self._set_precisions()
        info = result.info
        self.n_iter_ = int(info.n_iter)
        self.lower_bounds_ = -np.asarray(result.losses, dtype=np.float64)
        self.lower_bound_ = float(self.lower_bounds_[-1])
        self.converged_ = bool(info.converged) if info.converged is not None else _settled(result.losses)  # EM; Adam

    def _set_draws(self, result, draws: dict) -> None:
        full = self.covariance_type == "full"
        weights, means, covariances = components(draws, self.n_features_in_, batched=True, full=full)
        self.posterior_draws_ = {"weights": weights, "means": means, "covariances": covariances}
        self.weights_, self.means_, self.covariances_ = weights.mean(0), means.mean(0), covariances.mean(0)
        self._set_precisions()
        if self.inference == "svi":
            losses = np.asarray(result.losses, dtype=np.float64)
            self.n_iter_ = int(losses.size)
            self.converged_ = _settled(losses)
            self.lower_bounds_ = -losses
            self.lower_bound_ = float(-losses[-max(1, losses.size // 10) :].mean())
        else:
            chains = np.shape(result.info.diverging)[0]
            self.converged_ = bool(result.num_divergences == 0 and _max_rhat(self.posterior_draws_, chains) < 1.01)
            self.lower_bound_ = float("nan")

    # ------------------------------------------------------------- prediction

    def _draws(self):
        """(weights (S, K), means (S, K, D), covariances (S, K, D) or (S, K, D, D)): the draws, or
        the point as one draw."""
        if hasattr(self, "posterior_draws_"):
            d = self.posterior_draws_
            return d["weights"], d["means"], d["covariances"]
        return self.weights_[None], self.means_[None], self.covariances_[None]

    def _check_X(self, X):
        check_is_fitted(self)
        return _validated(self, X, reset=False)

    def predict_proba(self, X):
        """Responsibilities p(component k | x) for each row of ``X``: (n_samples, K); at the
        MAP, or averaged over the posterior draws."""
        return mean_responsibilities(self._check_X(X), *self._draws())

    def predict(self, X):
        """The most probable component of each row of ``X`` (the argmax of ``predict_proba``)."""
        return np.argmax(self.predict_proba(X), axis=1)

    def fit_predict(self, X, y=None, sample_weight=None):
        """``fit(X, sample_weight=sample_weight).predict(X)``."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def score_samples(self, X):
        """Log density of each row of ``X``: (n_samples,); the plug-in density at the MAP, or
        the posterior predictive density (log-mean-exp over the draws)."""
        return predictive_log_density(self._check_X(X), *self._draws())

    def score(self, X, y=None):
        """The mean log density of the rows of ``X`` (the mean of ``score_samples``)."""
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1):
        """``(X, y)``: ``n_samples`` points and their components, from the fitted mixture (MAP)
        or from the posterior predictive (a draw of the posterior per point), grouped by
        component as scikit-learn's mixtures return them."""
        check_is_fitted(self)
        if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples must be an integer >= 1; got {n_samples!r}")
        return predictive_sample(check_random_state(self.random_state), n_samples, *self._draws())

    # --------------------------------------------------------- model choice

    def _n_parameters(self) -> int:
        """Free parameters of the fitted mixture, as scikit-learn counts them: K - 1 weights, K x D
        means and K x D variances (diagonal covariances, also those of the fallback of
        ``covariance_type="full"``) or K x D (D + 1) / 2 covariance entries (full covariances)."""
        k, d = self.means_.shape
        covariance = k * d * (d + 1) // 2 if self.fitted_covariance_type_ == "full" else k * d
        return (k - 1) + k * d + covariance

    def _require_map(self, what: str) -> None:
        check_is_fitted(self)
        if self.inference != "map":
            raise ValueError(
                f"{what} needs inference='map' (a point estimate); this fit has inference={self.inference!r}: compare "
                "posterior fits by their held-out score, or by LOO (to_arviz() and mixzoo.diagnostics.compare)"
            )

    def bic(self, X):
        """Bayesian information criterion of the MAP fit on ``X``: -2 log L + p log n (lower is
        better; scikit-learn's convention, with its parameter count for the fitted covariances,
        see ``_n_parameters``)."""
        self._require_map("bic")
        n = self._check_X(X).shape[0]
        return -2 * self.score(X) * n + self._n_parameters() * np.log(n)

    def aic(self, X):
        """Akaike information criterion of the MAP fit on ``X``: -2 log L + 2 p (lower is better)."""
        self._require_map("aic")
        n = self._check_X(X).shape[0]
        return -2 * self.score(X) * n + 2 * self._n_parameters()

    def to_arviz(self):
        """The posterior as an ``arviz.InferenceData`` (inference ``"svi"`` or ``"nuts"``):
        :func:`mixzoo.diagnostics.to_arviz` of ``result_`` (NUTS: C chains of raw draws, relabel
        them with :func:`mixzoo.diagnostics.relabel` before reading components; SVI: the
        variational draws as one chain), with the pointwise log-likelihood (chain, draw, obs_id)
        of the fitted rows (repeats merged, see the class docstring)."""
        check_is_fitted(self)
        if self.inference == "map":
            raise ValueError("to_arviz needs posterior draws (inference='svi' or 'nuts'); this fit has inference='map'")
        from .diagnostics import to_arviz

        return to_arviz(self.result_)


#: The rule for ``X`` that prefixes scikit-learn's own messages (which its estimator checks match).
X_RULE = "X must be an array of finite real numbers, shape (n_samples, n_features)"


def _validated(estimator, X, **options) -> np.ndarray:
    """``X`` checked by scikit-learn's ``validate_data`` (float64 or float32); its errors keep
    their type and message (scikit-learn's checks match them), prefixed by :data:`X_RULE`, so
    that each names the argument, the rule and the value."""
    try:
        return validate_data(estimator, X, dtype=[np.float64, np.float32], **options)
    except (TypeError, ValueError) as exc:
        if type(exc) not in (TypeError, ValueError):
            raise
        raise type(exc)(f"{X_RULE}: {exc}") from exc


def _seed(random_state) -> int:
    """The fit's seed: an integer ``random_state`` itself, else a draw from the RandomState
    (``None``: NumPy's global one)."""
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(MAX_SEED, dtype=np.int64))


def _nuts_default(option: str):
    """:func:`mixzoo.fit_nuts`'s default of ``option``."""
    from .infer.nuts import fit_nuts

    return inspect.signature(fit_nuts).parameters[option].default


def _settled(losses) -> bool:
    """An optimiser's run (SVI, Adam) settled: the mean loss of the last tenth of the steps is
    within ``SVI_SETTLED`` (relative) of the mean of the tenth before (False with fewer than 2
    steps)."""
    losses = np.asarray(losses, dtype=np.float64)
    tenth = max(1, losses.size // 10)
    if losses.size < 2 * tenth:
        return False
    last, before = losses[-tenth:].mean(), losses[-2 * tenth : -tenth].mean()
    return bool(abs(last - before) <= SVI_SETTLED * abs(last))


def _max_rhat(draws: dict, chains: int) -> float:
    """The largest R-hat (``arviz.rhat``: rank-normalised split R-hat) over the relabelled
    component parameters; ``draws``: name -> (C*S, ...). ArviZ needs two chains: one chain
    counts as its two halves. A parameter constant over all draws (the weight of a single
    component) counts as 1; fewer than 4 draws per chain give infinity (no estimate)."""
    from .diagnostics._arviz import import_arviz

    size = next(iter(draws.values())).shape[0]
    if chains == 1:
        chains, size = 2, size - size % 2
    if size // chains < 4:
        return float("inf")
    grouped = {name: np.reshape(v[:size], (chains, size // chains) + np.shape(v)[1:]) for name, v in draws.items()}
    with np.errstate(divide="ignore", invalid="ignore"):  # constant parameters: 0 / 0
        rhat = import_arviz().rhat(grouped)
    worst = 1.0
    for name, values in grouped.items():
        r = np.asarray(rhat[name])
        constant = np.ptp(values.reshape((-1,) + r.shape), axis=0) == 0
        worst = max(worst, float(np.max(np.where(constant, 1.0, np.nan_to_num(r, nan=np.inf)))))
    return worst


__all__ = ["DiagonalFallbackWarning", "MixzooGaussianMixture", "merge_rows"]
