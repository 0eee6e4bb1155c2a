"""The Universal Scalability Law fit: known curves are recovered, and data that cannot support
a number gets no recommendation (poolkit.usl)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from poolkit.measurements import Point
from poolkit.usl import MAX_MEAN_ERROR, MAX_SPREAD, MIN_R2, fit_usl, usl

LEVELS = (1, 2, 4, 8, 16, 32, 64)


def measured(curve, *, levels=LEVELS, repeats=3, noise=0.03, seed=1) -> list[Point]:
    """`repeats` runs per level of `curve(n)`, each off by seeded relative noise."""
    rng = np.random.default_rng(seed)
    return [
        Point(n, float(curve(n) * (1 + noise * rng.standard_normal())))
        for n in levels
        for _ in range(repeats)
    ]


def usl_curve(n):
    return usl(n, 0.05, 0.002, 1000.0)


TRUE_PEAK = math.sqrt((1 - 0.05) / 0.002)  # 21.8


def test_fit_recovers_alpha_and_beta():
    fit = fit_usl(measured(usl_curve))
    assert fit.alpha == pytest.approx(0.05, abs=0.01)
    assert fit.beta == pytest.approx(0.002, rel=0.1)


def test_fit_recovers_lambda():
    fit = fit_usl(measured(usl_curve))
    assert fit.lam == pytest.approx(1000, rel=0.05)


def test_fit_recovers_the_peak():
    fit = fit_usl(measured(usl_curve))
    assert fit.peak_concurrency == pytest.approx(TRUE_PEAK, rel=0.1)
    assert fit.peak_in_range


def test_good_fit_has_high_r2():
    assert fit_usl(measured(usl_curve)).r2 > 0.99


def test_recommendation_is_the_smallest_n_within_95_percent_of_the_peak():
    fit = fit_usl(measured(usl_curve))
    n = fit.recommendation
    assert fit.throughput(n) >= 0.95 * fit.peak_throughput
    assert fit.throughput(n - 1) < 0.95 * fit.peak_throughput
    assert n < TRUE_PEAK
    assert "95% of the fitted peak" in fit.reason


def test_one_run_per_level_recommends_but_says_the_noise_was_not_judged():
    fit = fit_usl(measured(usl_curve, repeats=1))
    assert fit.spread is None and fit.recommendation is not None
    assert "one run per level, so the runs' noise was not judged" in fit.reason


def test_repeated_runs_do_not_carry_that_caveat():
    assert "not judged" not in fit_usl(measured(usl_curve)).reason


def test_recommendation_is_reproducible_from_the_same_points():
    points = measured(usl_curve)
    assert fit_usl(points) == fit_usl(list(points))


def test_linear_scaling_has_no_peak():
    fit = fit_usl(measured(lambda n: 800.0 * n))
    assert fit.peak_concurrency is None or not fit.peak_in_range


def test_linear_scaling_recommends_the_top_measured_level_and_says_so():
    fit = fit_usl(measured(lambda n: 800.0 * n))
    assert fit.recommendation == 64
    assert "still scales at 64 clients" in fit.reason
    assert "--max-clients" in fit.reason


def test_amdahl_ceiling_recommends_where_throughput_flattens():
    # beta = 0: throughput approaches lam / alpha = 5000 tps without a peak.
    fit = fit_usl(measured(lambda n: usl(n, 0.2, 0.0, 1000.0)))
    assert fit.alpha == pytest.approx(0.2, abs=0.03)
    assert 16 <= fit.recommendation < 64
    assert "no peak within the measured range" in fit.reason


def test_hard_pool_cap_is_smoothed_but_never_recommends_below_it():
    # A pool of 8 connections in front of the database: flat beyond 8 clients. The USL has
    # no sharp knee, so it lands above the cap (docs/sizing.md: calibrate without one).
    fit = fit_usl(measured(lambda n: 900.0 * min(n, 8)))
    assert 8 <= fit.recommendation < 32


@pytest.mark.parametrize("levels", [(1,), (1, 2), (1, 2, 4)])
def test_fewer_than_four_levels_recommend_nothing(levels):
    fit = fit_usl(measured(usl_curve, levels=levels))
    assert fit.recommendation is None
    assert f"only {len(levels)} distinct concurrency levels" in fit.reason
    assert fit.alpha is None


def test_repeats_do_not_count_as_levels():
    fit = fit_usl(measured(usl_curve, levels=(1, 2, 4), repeats=10))
    assert fit.recommendation is None


def test_flat_throughput_recommends_nothing():
    fit = fit_usl(measured(lambda n: 1500.0))
    assert fit.recommendation is None
    assert "does not rise with concurrency" in fit.reason


def test_falling_throughput_recommends_nothing():
    fit = fit_usl(measured(lambda n: 2000.0 / n))
    assert fit.recommendation is None
    assert "does not rise with concurrency" in fit.reason


def test_noisy_runs_recommend_nothing():
    fit = fit_usl(measured(usl_curve, noise=0.6, seed=3))
    assert fit.spread > MAX_SPREAD
    assert fit.recommendation is None
    assert "too noisy" in fit.reason


def test_three_runs_spread_above_10_percent_are_too_noisy():
    fit = fit_usl(measured(usl_curve, noise=0.13, repeats=3, seed=5))
    assert 0.11 < fit.spread < 0.16
    assert fit.recommendation is None
    assert "so a mean of 3 runs is uncertain by" in fit.reason


def test_more_repeats_make_the_same_spread_precise_enough():
    fit = fit_usl(measured(usl_curve, noise=0.13, repeats=9, seed=5))
    assert 0.11 < fit.spread < 0.16
    assert fit.spread / math.sqrt(9) < MAX_MEAN_ERROR
    assert fit.recommendation is not None


def test_a_shape_the_usl_cannot_follow_fits_poorly():
    # Up and down at every level: little noise, but no scalability curve.
    zigzag = measured(lambda n: 1000.0 * (3 if int(math.log2(n)) % 2 else 1), noise=0.01)
    fit = fit_usl(zigzag)
    assert fit.r2 < MIN_R2
    assert fit.recommendation is None
    assert "fits poorly" in fit.reason


def test_scatter_between_repeats_does_not_count_against_the_curve():
    # 8% noise, within MAX_SPREAD: the means still follow the curve.
    fit = fit_usl(measured(usl_curve, noise=0.08, repeats=5, seed=4))
    assert fit.r2 > MIN_R2
    assert fit.recommendation is not None


def test_poor_fit_still_reports_its_parameters():
    fit = fit_usl(measured(usl_curve, noise=0.6, seed=3))
    assert fit.alpha is not None
    assert fit.beta is not None


def test_throughput_without_a_fit_is_an_error():
    fit = fit_usl(measured(usl_curve, levels=(1, 2)))
    with pytest.raises(ValueError, match="no fitted parameters"):
        fit.throughput(4)


def in_passes(curve, speeds, *, noise=0.03, seed=2, numbered=True) -> list[Point]:
    """One pass over LEVELS per entry of `speeds`, the machine running that much faster in
    it, each run also off by seeded relative noise; `numbered`: each run names its pass."""
    rng = np.random.default_rng(seed)
    return [
        Point(
            n,
            float(curve(n) * speed * (1 + noise * rng.standard_normal())),
            number if numbered else None,
        )
        for number, speed in enumerate(speeds, start=1)
        for n in LEVELS
    ]


SLOW_SPELL = (1.16, 0.88, 0.95)  # the passes of a TPC-B calibration on this lab, 2026-12-03


def test_a_pass_on_a_slower_machine_refuses_a_fit_without_pass_numbers():
    fit = fit_usl(in_passes(usl_curve, SLOW_SPELL, numbered=False))
    assert fit.spread > MAX_SPREAD
    assert fit.recommendation is None
    assert fit.pass_factors is None


def test_the_passes_speed_is_divided_out_before_the_fit():
    fit = fit_usl(in_passes(usl_curve, SLOW_SPELL))
    assert fit.spread < 0.05
    assert fit.peak_concurrency == pytest.approx(TRUE_PEAK, rel=0.1)
    assert fit.recommendation == fit_usl(measured(usl_curve)).recommendation


def test_the_fit_reports_each_pass_speed():
    fit = fit_usl(in_passes(usl_curve, SLOW_SPELL))
    middle = math.prod(SLOW_SPELL) ** (1 / 3)
    expected = [speed / middle for speed in SLOW_SPELL]
    assert fit.pass_factors == pytest.approx(expected, rel=0.03)
