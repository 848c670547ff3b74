"""mixzoo: Bayesian Gaussian mixture models on NumPyro."""

from . import datasets, infer, models
from .infer import *  # noqa: F401,F403
from .models import MODELS, diag_gmm, dirichlet_gmm, dp_gmm

__version__ = "0.1.0"
