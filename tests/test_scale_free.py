"""Default priors are derived from the data: changing units must not change the clustering."""

import numpy as np
import pytest

from mixzoo import classify, datasets, dirichlet_gmm, dp_gmm, fit_map


@pytest.mark.parametrize("model,kwargs", [(dirichlet_gmm, {"n_components": 4}), (dp_gmm, {"truncation": 8})])
def test_galaxy_partition_same_in_km_s_and_1000_km_s(model, kwargs):
    v = datasets.load("galaxy")  # 1000 km/s
    in_1000 = fit_map(model, v, num_steps=500, **kwargs)
    in_kms = fit_map(model, v * 1000.0, num_steps=500, **kwargs)
    np.testing.assert_array_equal(classify(in_1000, v), classify(in_kms, v * 1000.0))
    np.testing.assert_allclose(in_kms.params["locs"] / 1000.0, in_1000.params["locs"], rtol=1e-3, atol=1e-3)
    # a non-trivial partition: the fit finds more than one cluster
    assert len(np.unique(classify(in_1000, v))) > 1
