"""The load `poolkit calibrate` puts on a live database: pgbench runs, and the scratch schema
they write to. Processes, connections and signals live here; what to run and how to read
its output are the pure functions of `poolkit.pgbench`.

Untested against a live server by the unit tests (they cover the plan and the parsing).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from poolkit import PoolkitError
from poolkit.measurements import Point
from poolkit.pgbench import (
    DROP_SQL,
    RUN_OVERHEAD,
    SCHEMA,
    Plan,
    on_this_host,
    parse_tps,
    pgbench_argv,
    scratch_script,
    scratch_setup_sql,
)

#: Seconds a run may exceed its duration before it counts as stalled.
STALL_GRACE = 30
CONNECT_TIMEOUT = 10


def require_pgbench() -> str:
    path = shutil.which("pgbench")
    if path is None:
        raise PoolkitError(
            "pgbench: not found on PATH; install the Debian package postgresql-client "
            "(apt-get install postgresql-client), or fit saved measurements with --replay FILE"
        )
    return path


def split_password(dsn: str) -> tuple[str, str | None]:
    """(connection string without its password, the password): the password goes to pgbench
    through PGPASSWORD, not its command line, which every local user can read."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = conninfo_to_dict(dsn)
    except Exception as exc:  # psycopg.ProgrammingError, with libpq's reason
        raise PoolkitError(f"DSN {_redact(dsn)!r}: not a connection string ({exc})") from None
    password = params.pop("password", None)
    return make_conninfo("", **params), None if password is None else str(password)


def describe(conninfo: str) -> str:
    """host:port/dbname of a connection string, for messages and calibration.source."""
    from psycopg.conninfo import conninfo_to_dict

    p = conninfo_to_dict(conninfo)
    return f"{p.get('host', 'local socket')}:{p.get('port', 5432)}/{p.get('dbname', '(default)')}"


def shares_host(conninfo: str) -> str | None:
    """on_this_host for a connection string: names resolved, and an address counted as this
    host's when the kernel would send to it from that same address (no packet is sent).
    What the string leaves out comes from libpq's own defaults (PGHOST, PGHOSTADDR, the
    host of PGSERVICE's entry). A service named in the string without a host is not judged
    (None): its entry is libpq's to read when it connects."""
    from psycopg import pq
    from psycopg.conninfo import conninfo_to_dict

    params = {k: str(v) for k, v in conninfo_to_dict(conninfo).items()}
    if "service" in params and not params.keys() & {"host", "hostaddr"}:
        return None
    defaults = {o.keyword.decode(): o.val.decode() for o in pq.Conninfo.get_defaults() if o.val}
    for key in ("host", "hostaddr"):
        if key not in params and key in defaults:
            params[key] = defaults[key]
    return on_this_host(params, _resolve, _is_own)


def _resolve(name: str) -> set[str]:
    try:
        return {info[4][0] for info in socket.getaddrinfo(name, None)}
    except OSError:
        return set()


def _is_own(address: str) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((address, 9))  # UDP: picks a route and source, sends nothing
            return probe.getsockname()[0] == address
    except OSError:
        return False


def _redact(dsn: str) -> str:
    return "..." if "password" in dsn or "@" in dsn else dsn


def _connect(conninfo: str, password: str | None):
    import psycopg

    try:
        return psycopg.connect(
            conninfo, password=password, connect_timeout=CONNECT_TIMEOUT, autocommit=True
        )
    except psycopg.Error as exc:
        raise PoolkitError(f"{describe(conninfo)}: cannot connect ({exc})".strip()) from None


def refuse_standby(conninfo: str, password: str | None) -> None:
    with _connect(conninfo, password) as conn:
        (recovering,) = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    if recovering:
        raise PoolkitError(
            f"{describe(conninfo)} is a standby (pg_is_in_recovery() is true): the scratch "
            f"schema {SCHEMA} cannot be written there; point the DSN at the primary, or give "
            f"a read-only workload with --sql FILE"
        )


@contextmanager
def _signals_ignored() -> Iterator[None]:
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def scratch_schema(conninfo: str, password: str | None, branches: int) -> Iterator[str]:
    """Create and fill SCHEMA, yield the path of a pgbench script over it, and drop it
    afterwards: after an error, Ctrl-C or SIGTERM too (a second Ctrl-C does not interrupt
    the drop). An existing SCHEMA is not ours to drop: refused."""
    with _connect(conninfo, password) as conn:
        exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone()
        if exists:
            raise PoolkitError(
                f"{describe(conninfo)}: schema {SCHEMA} exists already (an interrupted run, "
                f"or someone else's); drop it (DROP SCHEMA {SCHEMA} CASCADE) if it is "
                f"poolkit's, then run again"
            )
    directory = tempfile.mkdtemp(prefix="poolkit-calibrate-")
    script = Path(directory, "tpcb.sql")
    script.write_text(scratch_script(branches), encoding="utf-8")
    create, *fill = scratch_setup_sql(branches)
    created = False
    try:
        with _connect(conninfo, password) as conn:
            conn.execute(create)
            created = True  # from here on the schema is ours to drop
            for statement in fill:
                conn.execute(statement)
        yield str(script)
    finally:
        with _signals_ignored():
            if created:
                with _connect(conninfo, password) as conn:
                    conn.execute(DROP_SQL)
            shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt, as Ctrl-C does, so cleanups run."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class PgbenchRunner:
    """Runs `plan` with pgbench against `conninfo`, reporting each level through `say`."""

    def __init__(
        self,
        conninfo: str,
        password: str | None,
        plan: Plan,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        progress: Callable[[int, int, float], None] = lambda done, total, left: None,
    ) -> None:
        self.conninfo = conninfo
        self.env = dict(os.environ, **({"PGPASSWORD": password} if password else {}))
        self.plan = plan
        self.say = say
        self.clock = clock
        self.progress = progress

    def run_all(self, script: str, budget: float) -> list[Point]:
        """Every planned run that fits in `budget` seconds from now, in passes over all the
        levels, up then down (1, 2, 4, ... 32, then 32, 16, ... 1, then up again), each run
        numbered with its pass. A change in the machine's speed between passes then moves
        every level of a pass alike, which the fit divides out (normalise_passes); a steady
        drift within passes bends the curve up in one pass and down in the next, not one way."""
        deadline = self.clock() + budget
        points: list[Point] = []
        pass_cost = len(self.plan.levels) * (self.plan.duration + RUN_OVERHEAD)
        for repeat in range(self.plan.repeats):
            # The plan fits the budget (plan_runs): the first pass always runs, the others
            # while they still fit (a slow setup or slow runs use some of it up).
            if repeat > 0 and self.clock() + pass_cost > deadline:
                self.say(
                    f"  time budget reached: {self.plan.repeats - repeat} of "
                    f"{self.plan.repeats} passes not measured"
                )
                break
            levels = self.plan.levels if repeat % 2 == 0 else self.plan.levels[::-1]
            tps = []
            for clients in levels:
                tps.append(self.run(clients, repeat, script))
                done = repeat * len(levels) + len(tps)
                left = (self.plan.runs - done) * (self.plan.duration + RUN_OVERHEAD)
                self.progress(done, self.plan.runs, left)
            points += [Point(c, v, repeat + 1) for c, v in zip(levels, tps, strict=True)]
            self.say(
                f"  pass {repeat + 1} of {self.plan.repeats}: "
                + ", ".join(f"{c}: {v:.1f}" for c, v in zip(levels, tps, strict=True))
                + " tps"
            )
        return points

    def run(self, clients: int, repeat: int, script: str) -> float:
        argv = pgbench_argv(self.conninfo, clients, self.plan.duration, script)
        name = f"pgbench -c {clients} -j {clients} (run {repeat + 1} of {self.plan.repeats})"
        try:
            done = subprocess.run(
                argv,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=self.plan.duration + STALL_GRACE,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PoolkitError(
                f"{name}: still running {STALL_GRACE} s after its {self.plan.duration} s; "
                f"clients stalled (a pooler making them wait longer than the run?)"
            ) from None
        return parse_tps(done.stdout + "\n" + done.stderr, name)
