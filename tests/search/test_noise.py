"""The noise prior from the dev set's size, and κ pooled from replicated trials."""

import math

import pytest

from raydim.search.keys import SearchKey
from raydim.search.noise import MIN_FACTOR, PRIOR_DF, noise_factor, sampling_sd
from raydim.search.trials import COMPLETED, TrialRecord, TrialRequest

KEY = SearchKey("mrpc", "m", method="said")


def records(*scores, censored=False):
    return [TrialRecord(TrialRequest(f"t{i}", KEY, 1000, 0.1, i), COMPLETED, s, censored=censored)
            for i, s in enumerate(scores)]


def test_accuracy_prior_is_its_binomial_sampling_sd():
    assert sampling_sd("accuracy", 0.7, 408, fallback=1.0) == pytest.approx(math.sqrt(0.7 * 0.3 / 408))


def test_correlation_prior_goes_through_fishers_z():
    assert sampling_sd("pearson", 0.8, 1500, fallback=1.0) == pytest.approx((1 - 0.64) / math.sqrt(1497))
    assert sampling_sd("matthews_correlation", 0.5, 1043, 1.0) < sampling_sd("matthews_correlation", 0.0, 1043, 1.0)


def test_unknown_size_or_metric_falls_back_to_the_setting():
    assert sampling_sd(None, 0.7, 408, fallback=0.01) == 0.01 == sampling_sd("accuracy", 0.7, None, fallback=0.01)


def test_no_replicates_leave_the_prior_alone():
    assert noise_factor([(0.02, records(0.7))]) == (1.0, PRIOR_DF)


def test_replicates_scale_the_prior_by_what_they_show():
    kappa, df = noise_factor([(0.01, records(0.70, 0.74, 0.66)), (0.02, records(0.5, 0.5))])
    ss = (0.0016 + 0.0 + 0.0016) / 0.01**2
    assert (kappa, df) == (pytest.approx(math.sqrt((PRIOR_DF + ss) / (PRIOR_DF + 3))), PRIOR_DF + 3)


def test_trials_stopped_early_are_not_replicates():
    assert noise_factor([(0.01, records(0.70, 0.90, censored=True))]) == (1.0, PRIOR_DF)


def test_identical_replicates_do_not_claim_zero_noise():
    kappa, _ = noise_factor([(0.01, records(*[0.7] * 100))])
    assert kappa == MIN_FACTOR
