"""The mixture models: plain NumPyro model functions with one shared contract.

``model(data=None, *, <n_components | truncation>, <hyperparameters>, n_obs=None, marginal=False)``

Each has sites ``weights``, ``locs``, ``scale``/``scales``, ``assignment`` (enumerated) and
``obs``; ``dp_gmm`` adds ``concentration`` and ``sticks``. With ``data=None`` a model
simulates ``n_obs`` points. Default priors are derived from the data (scale-free); see
:mod:`mixzoo.models._common`.
"""

from .diag_gmm import diag_gmm
from .dirichlet_gmm import dirichlet_gmm
from .dp_gmm import dp_gmm, stick_breaking

#: Name -> model function.
MODELS = {"dirichlet_gmm": dirichlet_gmm, "dp_gmm": dp_gmm, "diag_gmm": diag_gmm}

__all__ = ["MODELS", "diag_gmm", "dirichlet_gmm", "dp_gmm", "stick_breaking"]
