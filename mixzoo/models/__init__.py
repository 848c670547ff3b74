"""The mixture models: plain NumPyro model functions with one shared contract.

``model(data=None, *, <n_components | truncation>, <hyperparameters>, n_obs=None, marginal=False)``

Each has sites ``weights``, ``locs``, ``scale``/``scales``, ``assignment`` (enumerated) and
``obs``; ``dp_gmm`` adds ``concentration`` and ``sticks``; ``full_gmm`` adds ``corr_cholesky``
and the deterministic ``scale_tril`` (full covariances). With ``data=None`` a model
simulates ``n_obs`` points. Default priors are derived from the data (scale-free); see
:mod:`mixzoo.models._common`.
"""

from .diag_gmm import diag_gmm
from .dirichlet_gmm import dirichlet_gmm
from .dp_gmm import dp_gmm, stick_breaking
from .full_gmm import full_gmm

#: Name -> model function.
MODELS = {"dirichlet_gmm": dirichlet_gmm, "dp_gmm": dp_gmm, "diag_gmm": diag_gmm, "full_gmm": full_gmm}

__all__ = ["MODELS", "diag_gmm", "dirichlet_gmm", "dp_gmm", "full_gmm", "stick_breaking"]
