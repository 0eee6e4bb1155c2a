"""poolkit.apppool: the pure parts (locations, the tracker, psycopg_pool's figures, the
metric families), and a real SQLAlchemy QueuePool on an SQLite file whose leaked checkout
is reported with this file's line. PostgreSQL pools under load: molecule/security
(test_clients.py)."""

from __future__ import annotations

import sys

import pytest

from poolkit import PoolkitError
from poolkit.apppool import (
    MAX_LOCATIONS,
    UNKNOWN,
    CheckoutTracker,
    Figures,
    Location,
    LongCheckouts,
    first_caller,
    hold_bound_seconds,
    metric_families,
    psycopg_pool_figures,
)

sqlalchemy = pytest.importorskip("sqlalchemy")


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_first_caller_skips_the_pool_machinery():
    frames = [
        ("poolkit.apppool", "/x/apppool.py", 10, "_checkout"),
        ("sqlalchemy.pool.base", "/x/base.py", 20, "_checkout"),
        ("contextlib", "/x/contextlib.py", 30, "__enter__"),
        ("app.views", "/app/views.py", 42, "orders"),
        ("app.main", "/app/main.py", 7, "main"),
    ]
    assert first_caller(frames) == Location("/app/views.py", 42, "orders")
    assert str(first_caller(frames)) == "/app/views.py:42 in orders"


def test_first_caller_matches_whole_module_names_only():
    """A module named like a library (sqlalchemy_utils) is the app's, not the machinery."""
    frames = [("sqlalchemy_utils.x", "/u.py", 3, "f"), ("app", "/a.py", 1, "g")]
    assert first_caller(frames) == Location("/u.py", 3, "f")


def test_first_caller_is_unknown_when_every_frame_is_machinery():
    assert first_caller([("sqlalchemy", "/s.py", 1, "f")]) == UNKNOWN
    assert first_caller([]) == UNKNOWN


@pytest.mark.parametrize("bad", [0, -1, "soon", None, float("nan"), float("inf"), True])
def test_a_hold_bound_that_is_not_seconds_above_0_is_refused(bad):
    with pytest.raises(PoolkitError, match="hold_bound: expected seconds above 0"):
        hold_bound_seconds(bad)


def test_hold_bound_reads_numbers_and_numeric_text():
    assert hold_bound_seconds("2.5") == 2.5
    assert hold_bound_seconds(30) == 30.0


def test_tracker_reports_only_checkouts_held_past_the_bound_by_location_oldest_first():
    clock = Clock()
    tracker = CheckoutTracker(10, clock=clock)
    views, jobs = Location("/a/views.py", 5, "orders"), Location("/a/jobs.py", 9, "run")
    tracker.checked_out(1, views)
    clock.now += 5
    tracker.checked_out(2, views)
    tracker.checked_out(3, jobs)
    clock.now += 6  # 1 is 11 s old, 2 and 3 are 6 s old
    assert tracker.long_checkouts() == [LongCheckouts(views, 1, 11.0)]
    clock.now += 5  # 1: 16 s, 2 and 3: 11 s
    assert tracker.long_checkouts() == [
        LongCheckouts(views, 2, 16.0),
        LongCheckouts(jobs, 1, 11.0),
    ]
    tracker.checked_in(1)
    tracker.checked_in(3)
    tracker.checked_in(99)  # never checked out: ignored
    assert tracker.long_checkouts() == [LongCheckouts(views, 1, 11.0)]
    assert tracker.checkouts == 3


def test_psycopg_pool_figures_from_get_stats():
    stats = {
        "pool_min": 2,
        "pool_max": 8,
        "pool_size": 5,
        "pool_available": 1,
        "requests_waiting": 3,
        "requests_queued": 7,
        "requests_wait_ms": 1500,
        "requests_errors": 2,
    }
    assert psycopg_pool_figures(stats, min_size=2) == Figures(
        max_connections=8,
        connections=5,
        checked_out=4,
        overflow=3,
        waiting=3,
        waits=7,
        wait_seconds=1.5,
        timeouts=2,
    )
    # psycopg_pool leaves out the counters that are 0.
    empty = psycopg_pool_figures({"pool_max": 4, "pool_size": 1, "pool_available": 1}, 1)
    assert (empty.checked_out, empty.waits, empty.timeouts, empty.overflow) == (0, 0, 0, 0)


def _families(long, figures=None):
    figures = figures or Figures(10, 4, 3, 0, 0, 0, 0.0, 0)
    return {name: samples for name, _, _, samples in metric_families("web", figures, 9, long)}


def test_metric_families_label_long_checkouts_with_their_location():
    long = [LongCheckouts(Location("/a/views.py", 5, "orders"), 2, 31.5)]
    families = _families(long)
    labels = {"pool": "web", "file": "/a/views.py", "line": "5", "function": "orders"}
    assert families["poolkit_app_pool_long_checkouts"] == [(labels, 2.0)]
    assert families["poolkit_app_pool_long_checkout_seconds"] == [(labels, 31.5)]
    assert families["poolkit_app_pool_checked_out"] == [({"pool": "web"}, 3.0)]
    assert families["poolkit_app_pool_checkouts"] == [({"pool": "web"}, 9.0)]


def test_metric_families_sum_locations_past_the_limit_under_other():
    long = [
        LongCheckouts(Location("/a.py", line, "f"), 1, 100.0 - line)
        for line in range(MAX_LOCATIONS + 3)
    ]
    samples = _families(long)["poolkit_app_pool_long_checkouts"]
    assert len(samples) == MAX_LOCATIONS + 1
    assert samples[-1] == (
        {"pool": "web", "file": "(other)", "line": "0", "function": "(other)"},
        3.0,
    )


def test_metric_families_leave_out_an_unlimited_maximum():
    families = _families([], Figures(None, 4, 3, 0, 0, 0, 0.0, 0))
    assert families["poolkit_app_pool_max_connections"] == []


def test_sqlalchemy_leak_is_reported_with_this_line(tmp_path):
    """A real QueuePool (SQLite file): a checkout not returned shows with its file, line and
    function; the ones returned do not; the figures follow the pool."""
    from prometheus_client import CollectorRegistry, generate_latest

    from poolkit.apppool import instrument_sqlalchemy

    engine = sqlalchemy.create_engine(
        f"sqlite:///{tmp_path / 'db.sqlite'}", pool_size=2, max_overflow=1, pool_timeout=0.2
    )
    clock = Clock()
    registry = CollectorRegistry()
    health = instrument_sqlalchemy(engine, name="web", hold_bound=5, registry=registry)
    health.tracker._clock = clock
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text("SELECT 1"))
    line = sys._getframe().f_lineno + 1
    leaked = engine.connect()
    others = [engine.connect(), engine.connect()]
    with pytest.raises(sqlalchemy.exc.TimeoutError):
        engine.connect()  # pool_size + max_overflow are out: waits 0.2 s, then gives up
    for conn in others:
        conn.close()
    clock.now += 6
    text = generate_latest(registry).decode()
    where = f'file="{__file__}",function="test_sqlalchemy_leak_is_reported_with_this_line"'
    assert f'poolkit_app_pool_long_checkouts{{{where},line="{line}",pool="web"}} 1.0' in text
    assert text.count("poolkit_app_pool_long_checkouts{") == 1
    figures = health.figures()
    assert figures.max_connections == 3
    assert figures.checked_out == 1
    assert figures.connections == 3
    assert figures.overflow == 1
    assert (figures.waits, figures.timeouts) == (1, 1)
    assert figures.wait_seconds >= 0.2
    assert health.tracker.checkouts == 4
    leaked.close()
    assert health.long_checkouts() == []
    engine.dispose()


def test_sqlalchemy_nullpool_is_refused_with_the_reason():
    from sqlalchemy.pool import NullPool

    from poolkit.apppool import instrument_sqlalchemy

    engine = sqlalchemy.create_engine("sqlite://", poolclass=NullPool)
    with pytest.raises(PoolkitError, match="NullPool holds no connections"):
        instrument_sqlalchemy(engine, name="fn", hold_bound=1)


def test_an_empty_pool_name_is_refused():
    from prometheus_client import CollectorRegistry

    from poolkit.apppool import instrument_sqlalchemy

    engine = sqlalchemy.create_engine("sqlite:///:memory:", poolclass=sqlalchemy.pool.QueuePool)
    with pytest.raises(PoolkitError, match="name: expected the pool's name"):
        instrument_sqlalchemy(engine, name=" ", hold_bound=1, registry=CollectorRegistry())
