"""d90 ∝ D^slope: the fit recovers a known power law, from points and from a store of simulated searches."""

import numpy as np
import pytest

from raydim.analysis import power_law_fit, scaling_table
from raydim.store import d90_table
from tests.analysis.stores import scaling_store


def test_exact_power_law_is_recovered():
    params = np.array([1e6, 1e7, 1e8])
    slope, intercept, r2 = power_law_fit(params, 5e5 * params ** -0.5)
    assert slope == pytest.approx(-0.5) and 10 ** intercept == pytest.approx(5e5) and r2 == pytest.approx(1.0)


def test_slope_of_a_store_with_d90_proportional_to_params_to_the_minus_half(tmp_path):
    d90s = d90_table(scaling_store(tmp_path).rows())
    assert list(d90s["status"]) == ["found"] * 4
    [fit] = scaling_table(d90s).itertuples()
    assert (fit.task, fit.method, fit.checkpoint, fit.models) == ("mrpc", "said", "final", 4)
    assert fit.slope == pytest.approx(-0.5, abs=0.03) and fit.r2 > 0.99


def test_a_single_model_size_gives_no_fit(tmp_path):
    d90s = d90_table(scaling_store(tmp_path).rows())
    assert scaling_table(d90s[d90s["D"] == 10**7]).empty
