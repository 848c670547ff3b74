"""Bundled real data sets and the simulators of the seed documents.

Real data (``load(name)`` returns a float array; 1-D for one column, (N, D) otherwise):

======================  ====  ==================================================================
name                    N     description
======================  ====  ==================================================================
``galaxy``              82    galaxy velocities, 1000 km/s (Roeder 1990; Richardson & Green 1997)
``galaxy_kms``          82    the same in km/s, as in R's MASS::galaxies (obs 78 = 26690, a typo)
``enzyme``              245   enzymatic activity in blood, raw scale (Richardson & Green 1997)
``acidity``             155   log acidity index of 155 lakes (Richardson & Green 1997)
``faithful``            272   Old Faithful: eruption time and waiting time, minutes
======================  ====  ==================================================================

Simulators (fixed seed -> fixed data; each returns ``(data, labels)``): :func:`seed_000`
(four 1-D components hidden in two modes), :func:`seed_001` (two 1-D components, 1:5),
:func:`seed_004` (three 2-D clusters); :func:`tutorial_data` is the NumPyro tutorial's
five points.
"""

from __future__ import annotations

import csv
from importlib import resources
from typing import NamedTuple

import numpy as np

from .._constraints import validated
from .._validation import real_array


class DatasetInfo(NamedTuple):
    file: str
    columns: tuple
    units: str
    description: str


DATASETS = {
    "galaxy": DatasetInfo(
        "galaxy_rg1997.csv",
        ("velocity_1000kms",),
        "1000 km/s",
        "velocities of 82 galaxies in the Corona Borealis region (Roeder 1990), Richardson & Green (1997) version",
    ),
    "galaxy_kms": DatasetInfo(
        "galaxies_mass.csv",
        ("velocity_kms",),
        "km/s",
        "the galaxy velocities in km/s as in R's MASS::galaxies (obs 78 = 26690, a documented typo of 26960)",
    ),
    "enzyme": DatasetInfo(
        "enzyme_rg1997.csv",
        ("enzyme_activity",),
        "activity units",
        "enzymatic activity in the blood of 245 individuals (Richardson & Green 1997)",
    ),
    "acidity": DatasetInfo(
        "acidity_rg1997.csv",
        ("log_acidity",),
        "log acidity index",
        "log acidity index of 155 lakes in north-central Wisconsin (Richardson & Green 1997)",
    ),
    "faithful": DatasetInfo(
        "faithful.csv",
        ("eruptions", "waiting"),
        "minutes",
        "Old Faithful geyser: eruption time and waiting time to the next eruption (272 eruptions)",
    ),
}


@validated("available")
def available() -> dict:
    """Name -> one-line description with units of every bundled data set."""
    return {name: f"{info.description} [{', '.join(info.columns)}; {info.units}]" for name, info in DATASETS.items()}


@validated("load")
def load(name: str, columns=None) -> np.ndarray:
    """Load a bundled data set as floats: shape (N,) for one column, (N, D) for several.

    :param columns: column names to keep (default: all the set's columns).
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {sorted(DATASETS)}; got {name!r}")
    info = DATASETS[name]
    with resources.files(__package__).joinpath("data", info.file).open() as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    wanted = list(info.columns if columns is None else ([columns] if isinstance(columns, str) else columns))
    unknown = [c for c in wanted if c not in header]
    if unknown:
        raise ValueError(f"columns must be among {header} for {name!r}; got unknown {unknown}")
    idx = [header.index(c) for c in wanted]
    values = np.array([[float(row[i]) for i in idx] for row in body])
    return values[:, 0] if values.shape[1] == 1 else values


def _simulate(seed, sizes, draw):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    data = draw(rng, labels)
    order = rng.permutation(labels.size)
    return data[order], labels[order]


#: Seed 000/002 truth: weights 2:10:1:6, locs, scales.
SEED_000 = {
    "weights": np.array([2, 10, 1, 6]) / 19,
    "locs": np.array([-2.0, -5.0, 3.0, 8.0]),
    "scales": np.array([1.1, 2.0, 1.0, 1.5]),
}
#: Seed 001 truth.
SEED_001 = {"weights": np.array([1, 5]) / 6, "locs": np.array([-2.0, 5.0]), "scales": np.array([1.1, 2.0])}
#: Seed 004 truth (2-D, unit variances).
SEED_004 = {"weights": np.full(3, 1 / 3), "locs": np.array([[2.0, 0.0], [-2.0, -4.0], [-2.0, 4.0]]), "scales": np.ones((3, 2))}


@validated("seed_000")
def seed_000(seed: int = 42, base: int = 1000):
    """Seed 000: four 1-D components with ``base`` x (2, 10, 1, 6) points (19,000 by default).
    Returns ``(data (N,), labels (N,))``."""
    sizes = base * np.array([2, 10, 1, 6])
    return _simulate(seed, sizes, lambda rng, z: rng.normal(SEED_000["locs"][z], SEED_000["scales"][z]))


@validated("seed_001")
def seed_001(seed: int = 0, n: int = 6000):
    """Seed 001: N(-2, 1.1) and N(5, 2) in proportions 1:5 (1,000 + 5,000 points by default)."""
    sizes = np.array([n // 6, n - n // 6])
    return _simulate(seed, sizes, lambda rng, z: rng.normal(SEED_001["locs"][z], SEED_001["scales"][z]))


@validated("seed_004")
def seed_004(seed: int = 0, n: int = 3000):
    """Seed 004: three unit-variance 2-D clusters at (2, 0), (-2, -4), (-2, 4), equal sizes.
    Returns ``(data (N, 2), labels (N,))``."""
    sizes = np.array([n // 3, n // 3, n - 2 * (n // 3)])
    return _simulate(seed, sizes, lambda rng, z: rng.normal(SEED_004["locs"][z], SEED_004["scales"][z]))


@validated("tutorial_data")
def tutorial_data() -> np.ndarray:
    """The NumPyro GMM tutorial's five points [0, 1, 10, 11, 12]."""
    return np.array([0.0, 1.0, 10.0, 11.0, 12.0])


@validated("true_log_density")
def true_log_density(x, truth) -> np.ndarray:
    """Pointwise log density, shape (N,), of a 1-D normal mixture ``truth`` (dict of weights,
    locs, scales, each (K,)) at ``x`` (N,). Components of weight 0 contribute nothing (their log
    weight is -inf, without a warning)."""
    x = real_array(x, "x")
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D points of shape (N,); got shape {x.shape}")
    if not isinstance(truth, dict) or any(np.ndim(truth.get(k)) != 1 for k in ("weights", "locs", "scales")):
        raise ValueError(
            "truth must be a dict of 'weights', 'locs' and 'scales', each of shape (K,); got "
            + (f"keys {sorted(truth)}" if isinstance(truth, dict) else type(truth).__name__)
        )
    x = x[:, None]
    comp = -0.5 * ((x - truth["locs"]) / truth["scales"]) ** 2 - np.log(truth["scales"] * np.sqrt(2 * np.pi))
    with np.errstate(divide="ignore"):
        log_weights = np.log(truth["weights"])
    return np.logaddexp.reduce(log_weights + comp, axis=1)
