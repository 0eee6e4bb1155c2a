"""App-side pool health: a SQLAlchemy pool's or a psycopg_pool pool's figures as Prometheus
metrics, and the code location of every checkout held longer than a bound.

`poolkit status` shows at the pooler that client connections stay active (a leak: a
checkout never returned, a transaction left open); these metrics say which code path of
which process holds them:

    from poolkit.apppool import instrument_sqlalchemy, instrument_psycopg_pool
    health = instrument_sqlalchemy(engine, name="web", hold_bound=30)   # or AsyncEngine
    health = instrument_psycopg_pool(pool, name="jobs", hold_bound=30)
    prometheus_client.start_http_server(9300)   # or the app's own /metrics

Optional: prometheus_client, SQLAlchemy and psycopg_pool are imported only by the function
that needs them. The pure parts (`first_caller`, `CheckoutTracker`, `psycopg_pool_figures`,
`metric_families`) take plain values and are unit-tested (tests/unit/test_apppool.py).

Metrics, each labelled with pool=NAME:

- poolkit_app_pool_max_connections: the most the pool opens (SQLAlchemy pool_size +
  max_overflow, psycopg_pool max_size)
- poolkit_app_pool_connections: open connections; poolkit_app_pool_checked_out: in use;
  poolkit_app_pool_overflow: open beyond pool_size / min_size
- poolkit_app_pool_waiting: callers waiting for a connection now
- poolkit_app_pool_waits_total, poolkit_app_pool_wait_seconds_total,
  poolkit_app_pool_timeouts_total: checkouts that found no connection free and no room to
  open one, the time they waited, and those that gave up (pool_timeout / timeout)
- poolkit_app_pool_checkouts_total
- poolkit_app_pool_long_checkouts{file,line,function}: checkouts held longer than
  hold_bound, by the code location that took them (the first frame outside the pool
  library), and poolkit_app_pool_long_checkout_seconds{...}: the oldest of them
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from poolkit import PoolkitError

#: Modules whose frames are the pool machinery, not the app: a checkout's location is the
#: first frame (from the innermost) outside them.
MACHINERY = (
    "poolkit.apppool",
    "sqlalchemy",
    "psycopg_pool",
    "psycopg",
    "asyncpg",
    "contextlib",
    "greenlet",
    "asyncio",
)
#: Label values a scrape carries at most per pool: the long checkouts' locations beyond
#: this are summed under file="(other)" so a bug cannot flood the metrics.
MAX_LOCATIONS = 20


@dataclass(frozen=True, order=True)
class Location:
    """Where a checkout was taken."""

    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"


UNKNOWN = Location("(unknown)", 0, "(unknown)")


def _is_machinery(module: str, machinery: tuple[str, ...]) -> bool:
    return any(module == m or module.startswith(m + ".") for m in machinery)


def first_caller(
    frames: Iterable[tuple[str, str, int, str]], machinery: tuple[str, ...] = MACHINERY
) -> Location:
    """The first of `frames` (module, file, line, function), innermost first, whose module
    is not pool machinery; UNKNOWN when all are."""
    for module, file, line, function in frames:
        if not _is_machinery(module, machinery):
            return Location(file, line, function)
    return UNKNOWN


def _frames(frame: FrameType | None) -> Iterator[tuple[str, str, int, str]]:
    """The live stack from `frame` outwards; under SQLAlchemy's asyncio (a greenlet per
    await_only) it continues in the parent greenlet, where the app's coroutine waits."""
    glet = None
    while True:
        while frame is not None:
            code = frame.f_code
            yield (
                frame.f_globals.get("__name__", ""),
                code.co_filename,
                frame.f_lineno,
                code.co_name,
            )
            frame = frame.f_back
        greenlet = sys.modules.get("greenlet")
        if greenlet is None:
            return
        glet = (glet or greenlet.getcurrent()).parent
        if glet is None:
            return
        frame = glet.gr_frame


def caller_location(machinery: tuple[str, ...] = MACHINERY) -> Location:
    """The code location that is taking a checkout now (called from inside the pool)."""
    return first_caller(_frames(sys._getframe(1)), machinery)


def hold_bound_seconds(value: Any) -> float:
    """A hold bound in seconds: a number above 0; PoolkitError otherwise."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds <= 0:
        raise PoolkitError(
            f"hold_bound: expected seconds above 0 (how long a checkout may be held before "
            f"it is reported with its code location), got {value!r}"
        )
    return seconds


@dataclass(frozen=True)
class LongCheckouts:
    """The checkouts held longer than the bound that one code location took."""

    location: Location
    count: int
    oldest_seconds: float


class CheckoutTracker:
    """The checkouts out now, by key (a connection), with where and when each was taken.
    Thread-safe; `clock` is injectable for tests."""

    def __init__(self, hold_bound: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.hold_bound = hold_bound_seconds(hold_bound)
        self._clock = clock
        self._lock = threading.Lock()
        self._out: dict[int, tuple[Location, float]] = {}
        self.checkouts = 0

    def checked_out(self, key: int, location: Location) -> None:
        with self._lock:
            self._out[key] = (location, self._clock())
            self.checkouts += 1

    def checked_in(self, key: int) -> None:
        with self._lock:
            self._out.pop(key, None)

    def long_checkouts(self) -> list[LongCheckouts]:
        """Per location, the checkouts held longer than hold_bound; the oldest first."""
        now = self._clock()
        with self._lock:
            taken = list(self._out.values())
        by_location: dict[Location, list[float]] = {}
        for location, since in taken:
            age = now - since
            if age > self.hold_bound:
                by_location.setdefault(location, []).append(age)
        rows = [LongCheckouts(loc, len(ages), max(ages)) for loc, ages in by_location.items()]
        return sorted(rows, key=lambda r: (-r.oldest_seconds, r.location))


@dataclass(frozen=True)
class Figures:
    """A pool's figures at one moment (counters since it was instrumented or opened)."""

    max_connections: int | None  # None: no limit (SQLAlchemy max_overflow=-1)
    connections: int
    checked_out: int
    overflow: int
    waiting: int
    waits: int
    wait_seconds: float
    timeouts: int


def psycopg_pool_figures(stats: dict[str, int], min_size: int) -> Figures:
    """Figures from psycopg_pool's get_stats() (pool_max, pool_size, pool_available,
    requests_waiting, requests_queued, requests_wait_ms, requests_errors)."""
    size = stats.get("pool_size", 0)
    return Figures(
        max_connections=stats.get("pool_max", 0),
        connections=size,
        checked_out=max(0, size - stats.get("pool_available", 0)),
        overflow=max(0, size - min_size),
        waiting=stats.get("requests_waiting", 0),
        waits=stats.get("requests_queued", 0),
        wait_seconds=stats.get("requests_wait_ms", 0) / 1000.0,
        timeouts=stats.get("requests_errors", 0),
    )


def metric_families(
    name: str, figures: Figures, checkouts: int, long: list[LongCheckouts]
) -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
    """The metrics of one pool as (name, type, help, [(labels, value)]): what the
    collector turns into prometheus_client families. Long checkouts beyond MAX_LOCATIONS
    locations are summed under file="(other)"."""
    pool = {"pool": name}

    def one(value: float | None) -> list[tuple[dict[str, str], float]]:
        return [] if value is None else [(pool, float(value))]

    shown, rest = long[:MAX_LOCATIONS], long[MAX_LOCATIONS:]
    counts = [
        (
            {
                **pool,
                "file": r.location.file,
                "line": str(r.location.line),
                "function": r.location.function,
            },
            r.count,
            r.oldest_seconds,
        )
        for r in shown
    ]
    if rest:
        other = {**pool, "file": "(other)", "line": "0", "function": "(other)"}
        counts.append((other, sum(r.count for r in rest), max(r.oldest_seconds for r in rest)))
    prefix = "poolkit_app_pool_"
    return [
        (
            prefix + "max_connections",
            "gauge",
            "The most connections the pool opens",
            one(figures.max_connections),
        ),
        (prefix + "connections", "gauge", "Open connections", one(figures.connections)),
        (prefix + "checked_out", "gauge", "Connections checked out now", one(figures.checked_out)),
        (
            prefix + "overflow",
            "gauge",
            "Connections open beyond pool_size / min_size",
            one(figures.overflow),
        ),
        (prefix + "waiting", "gauge", "Callers waiting for a connection now", one(figures.waiting)),
        (
            prefix + "waits",
            "counter",
            "Checkouts that found no connection free and no room to open one",
            one(figures.waits),
        ),
        (prefix + "wait_seconds", "counter", "Seconds checkouts waited", one(figures.wait_seconds)),
        (prefix + "timeouts", "counter", "Checkouts that gave up waiting", one(figures.timeouts)),
        (prefix + "checkouts", "counter", "Checkouts taken", one(checkouts)),
        (
            prefix + "long_checkouts",
            "gauge",
            "Checkouts held longer than the bound, by the code location that took them",
            [(labels, float(count)) for labels, count, _ in counts],
        ),
        (
            prefix + "long_checkout_seconds",
            "gauge",
            "The oldest checkout held longer than the bound, by code location",
            [(labels, oldest) for labels, _, oldest in counts],
        ),
    ]


def pool_name(name: Any) -> str:
    """The pool label's value: non-empty text; PoolkitError otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise PoolkitError(f"name: expected the pool's name for the pool label, got {name!r}")
    return name


class PoolHealth:
    """One instrumented pool: its figures, its long checkouts, and a prometheus_client
    collector (registered by the instrument_* functions)."""

    def __init__(self, name: str, figures: Callable[[], Figures], tracker: CheckoutTracker):
        self.name = pool_name(name)
        self._figures = figures
        self.tracker = tracker

    def figures(self) -> Figures:
        return self._figures()

    def long_checkouts(self) -> list[LongCheckouts]:
        return self.tracker.long_checkouts()

    def collect(self):
        """prometheus_client's Collector protocol."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        families = metric_families(
            self.name, self.figures(), self.tracker.checkouts, self.long_checkouts()
        )
        for metric, kind, text, samples in families:
            labels = sorted({k for labels, _ in samples for k in labels}) or ["pool"]
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            family = cls(metric, text, labels=labels)
            for sample_labels, value in samples:
                family.add_metric([sample_labels[k] for k in labels], value)
            yield family

    def register(self, registry=None) -> PoolHealth:
        if registry is None:
            from prometheus_client import REGISTRY

            registry = REGISTRY
        registry.register(self)
        return self


def instrument_sqlalchemy(engine: Any, *, name: str, hold_bound: Any, registry=None) -> PoolHealth:
    """Instrument a SQLAlchemy Engine's, AsyncEngine's or Pool's QueuePool: checkout and
    checkin events record each checkout's location; its _do_get is wrapped (on this pool
    object only) to count waits, wait time and timeouts. engine.dispose() makes a new pool:
    instrument again after it."""
    from sqlalchemy import event, exc
    from sqlalchemy.pool import QueuePool

    pool_name(name)
    pool = getattr(getattr(engine, "sync_engine", engine), "pool", engine)
    if not isinstance(pool, QueuePool):
        raise PoolkitError(
            f"instrument_sqlalchemy: expected an Engine, AsyncEngine or pool using QueuePool "
            f"(or AsyncAdaptedQueuePool), got {type(pool).__name__}; NullPool holds no "
            "connections to report"
        )
    tracker = CheckoutTracker(hold_bound)  # checked before the pool is touched
    counts = {"waiting": 0, "waits": 0, "wait_seconds": 0.0, "timeouts": 0}
    lock = threading.Lock()
    do_get = pool._do_get

    def counted_do_get():
        full = pool.checkedin() == 0 and 0 <= pool._max_overflow <= pool.overflow()
        if not full:
            return do_get()
        start = time.monotonic()
        with lock:
            counts["waiting"] += 1
            counts["waits"] += 1
        try:
            return do_get()
        except exc.TimeoutError:
            with lock:
                counts["timeouts"] += 1
            raise
        finally:
            with lock:
                counts["waiting"] -= 1
                counts["wait_seconds"] += time.monotonic() - start

    pool._do_get = counted_do_get

    @event.listens_for(pool, "checkout")
    def _checkout(dbapi_connection, record, proxy):
        tracker.checked_out(id(record), caller_location())

    @event.listens_for(pool, "checkin")
    def _checkin(dbapi_connection, record):
        tracker.checked_in(id(record))

    def figures() -> Figures:
        size = pool.size()
        limit = None if pool._max_overflow < 0 else size + pool._max_overflow
        with lock:
            snapshot = dict(counts)
        return Figures(
            max_connections=limit,
            connections=max(0, size + pool.overflow()),
            checked_out=pool.checkedout(),
            overflow=max(0, pool.overflow()),
            waiting=snapshot["waiting"],
            waits=snapshot["waits"],
            wait_seconds=snapshot["wait_seconds"],
            timeouts=snapshot["timeouts"],
        )

    return PoolHealth(name, figures, tracker).register(registry)


def instrument_psycopg_pool(pool: Any, *, name: str, hold_bound: Any, registry=None) -> PoolHealth:
    """Instrument a psycopg_pool.ConnectionPool: its getconn / putconn (which connection()
    calls) are wrapped on this pool object to record each checkout's location; the other
    figures are psycopg_pool's own get_stats()."""
    from psycopg_pool import ConnectionPool

    pool_name(name)
    if not isinstance(pool, ConnectionPool):
        raise PoolkitError(
            f"instrument_psycopg_pool: expected a psycopg_pool.ConnectionPool, got "
            f"{type(pool).__name__}"
        )
    tracker = CheckoutTracker(hold_bound)
    getconn, putconn = pool.getconn, pool.putconn

    def tracked_getconn(timeout=None):
        conn = getconn(timeout=timeout)
        tracker.checked_out(id(conn), caller_location())
        return conn

    def tracked_putconn(conn):
        tracker.checked_in(id(conn))
        return putconn(conn)

    pool.getconn, pool.putconn = tracked_getconn, tracked_putconn

    def figures() -> Figures:
        return psycopg_pool_figures(pool.get_stats(), pool.min_size)

    return PoolHealth(name, figures, tracker).register(registry)
