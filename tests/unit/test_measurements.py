"""The `concurrency,tps[,pass]` CSV of `poolkit calibrate --replay` / `--out-csv`, the summary
per level, and the passes' speed divided out (poolkit.measurements)."""

from __future__ import annotations

import math

import pytest

from poolkit import PoolkitError
from poolkit.measurements import (
    Point,
    Step,
    format_csv,
    normalise_passes,
    parse_csv,
    spread,
    summarise,
)


def test_rows_become_points():
    assert parse_csv("1,100\n2,190.5\n", "runs.csv") == (Point(1, 100.0), Point(2, 190.5))


def test_header_is_optional():
    assert parse_csv("concurrency,tps\n1,100\n", "runs.csv") == (Point(1, 100.0),)


def test_blank_lines_comments_and_spaces_are_skipped():
    text = "# pgbench, 2 cores\n\n 1 , 100 \r\n\n"
    assert parse_csv(text, "runs.csv") == (Point(1, 100.0),)


def test_format_csv_reads_back_unchanged():
    points = (Point(1, 100.25), Point(1, 99.0), Point(8, 612.123456789))
    assert parse_csv(format_csv(points), "x.csv") == points


def test_format_csv_keeps_the_passes():
    points = (Point(1, 100.25, 1), Point(8, 612.5, 1), Point(8, 600.0, 2), Point(1, 99.0, 2))
    text = format_csv(points)
    assert text.startswith("concurrency,tps,pass\n")
    assert parse_csv(text, "x.csv") == points


def test_csv_rows_may_name_their_pass():
    assert parse_csv("concurrency,tps,pass\n1,100,2\n", "runs.csv") == (Point(1, 100.0, 2),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("1,100\n2\n", "runs.csv:2: expected 2 or 3 comma-separated", id="short"),
        pytest.param("1,100,3,4\n", "runs.csv:1: expected 2 or 3 comma-separated", id="long"),
        pytest.param("1,100,0\n", "runs.csv:1: pass '0'; expected the number of the pass", id="p0"),
        pytest.param("1,100,x\n", "runs.csv:1: pass 'x'; expected", id="word-pass"),
        pytest.param(
            "1,100,1\n2,190\n", "runs.csv:2: 2 values where the first row has 3", id="mixed"
        ),
        pytest.param("1.5,100\n", "runs.csv:1: concurrency '1.5' is not a whole", id="float-n"),
        pytest.param("0,100\n", "runs.csv:1: concurrency 0; expected an integer >= 1", id="n0"),
        pytest.param("1,fast\n", "runs.csv:1: tps 'fast' is not a number", id="word-tps"),
        pytest.param("1,-3\n", "runs.csv:1: tps -3; expected a finite number >= 0", id="neg"),
        pytest.param("1,nan\n", "runs.csv:1: tps nan; expected a finite number", id="nan"),
        pytest.param("1,100\nconcurrency,tps\n", "runs.csv:2: concurrency", id="late-header"),
        pytest.param("concurrency,tps\n", "runs.csv: no measurements", id="header-only"),
        pytest.param("", "runs.csv: no measurements", id="empty"),
    ],
)
def test_bad_csv_names_file_line_and_problem(text, message):
    with pytest.raises(PoolkitError) as excinfo:
        parse_csv(text, "runs.csv")
    assert message in str(excinfo.value)


def test_summary_has_one_step_per_level_in_order():
    points = [Point(4, 30.0), Point(1, 10.0), Point(4, 50.0), Point(1, 12.0)]
    assert summarise(points) == (Step(1, 2, 11.0, 10.0, 12.0), Step(4, 2, 40.0, 30.0, 50.0))


def test_spread_is_the_repeats_pooled_relative_deviation():
    points = [Point(1, 90.0), Point(1, 110.0), Point(2, 200.0), Point(2, 200.0)]
    assert spread(points) == pytest.approx(math.sqrt((0.1**2 + 0.1**2) / 2))


def test_single_runs_have_no_spread():
    assert spread([Point(n, 100.0 * n) for n in (1, 2, 4, 8)]) is None


def passes(factors, curve=lambda n: 100.0 * n, levels=(1, 2, 4, 8)) -> list[Point]:
    """Complete passes over `levels`, pass i running `factors[i]` times as fast."""
    return [
        Point(n, curve(n) * factor, number)
        for number, factor in enumerate(factors, start=1)
        for n in levels
    ]


def test_normalise_passes_recovers_each_pass_speed():
    result = normalise_passes(passes((1.2, 0.8, 1.0)))
    assert result is not None
    # relative to the passes' geometric mean, (1.2 x 0.8 x 1.0) ** (1/3)
    middle = (1.2 * 0.8) ** (1 / 3)
    assert result.factors == pytest.approx((1.2 / middle, 0.8 / middle, 1.0 / middle))


def test_normalise_passes_leaves_no_spread_when_speed_was_the_only_difference():
    result = normalise_passes(passes((1.2, 0.8, 1.0)))
    assert result is not None
    assert spread(result.points, removed=2) == pytest.approx(0.0, abs=1e-12)
    assert spread(passes((1.2, 0.8, 1.0))) > 0.15


def test_normalise_passes_keeps_each_run_level_and_pass():
    runs = passes((1.1, 0.9))
    result = normalise_passes(runs)
    assert result is not None
    assert [(p.concurrency, p.pass_number) for p in result.points] == [
        (p.concurrency, p.pass_number) for p in runs
    ]


@pytest.mark.parametrize(
    "runs",
    [
        pytest.param([Point(n, 100.0 * n) for n in (1, 2, 4, 8)] * 2, id="no-pass-numbers"),
        pytest.param(passes((1.0,)), id="one-pass"),
        pytest.param(passes((1.0, 1.1))[:-1], id="incomplete-pass"),
        pytest.param([*passes((1.0, 1.1)), Point(8, 800.0, 2)], id="level-twice-in-a-pass"),
        pytest.param([Point(1, 0.0, 1), *passes((1.0, 1.1))[1:]], id="zero-tps"),
    ],
)
def test_runs_that_are_not_complete_passes_are_left_alone(runs):
    assert normalise_passes(runs) is None


def test_spread_loses_a_degree_of_freedom_per_removed_factor():
    points = [Point(1, 90.0), Point(1, 110.0), Point(2, 200.0), Point(2, 200.0)]
    assert spread(points, removed=1) == pytest.approx(math.sqrt(0.1**2 + 0.1**2))
    assert spread(points, removed=2) is None
