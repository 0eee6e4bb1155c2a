"""The `concurrency,tps` CSV of `poolkit calibrate --replay` / `--out-csv`, and the summary
per level (poolkit.measurements)."""

from __future__ import annotations

import math

import pytest

from poolkit import PoolkitError
from poolkit.measurements import Point, Step, format_csv, parse_csv, spread, summarise


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("1,100\n2\n", "runs.csv:2: expected 2 comma-separated values", id="short"),
        pytest.param("1,100,3\n", "runs.csv:1: expected 2 comma-separated values", id="long"),
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
