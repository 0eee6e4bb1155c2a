"""The pooling bounds under more clients than server connections: PgBouncer never opens more
than pool_size server connections for a pool, Pgpool-II never more than num_init_children x
max_pool; every client is served in the end (they queue). The peak is sampled on PostgreSQL
(pg_stat_activity, by application_name) and, for PgBouncer, on its console (SHOW SERVERS)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
from conftest import wait_for

POOL_SIZE = 2  # converge.yml: pgbouncer_default_pool_size, no reserve
NUM_INIT_CHILDREN = 3  # converge.yml: pgpool_num_init_children
MAX_POOL = 1  # converge.yml: pgpool_max_pool
CLIENTS = 8
HOLD = 1.0  # seconds each client's query sleeps


class Peak:
    """Sample counters every 50 ms in a thread; the highest value of each, and how many
    rounds were sampled. A sampler that fails fails the test (its error is raised on exit):
    a peak read from a few samples only must not pass."""

    def __init__(self, **counters):
        self.counters = counters
        self.peaks = dict.fromkeys(counters, 0)
        self.rounds = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            while not self._stop.is_set():
                for name, count in self.counters.items():
                    self.peaks[name] = max(self.peaks[name], count())
                self.rounds += 1
                time.sleep(0.05)
        except BaseException as error:  # raised again in the test's thread
            self.error = error

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        if self.error is not None and exc[0] is None:
            raise self.error


def run_clients(connect):
    """CLIENTS clients at once, each one query of HOLD seconds; their answers."""

    def client(n):
        with connect(connect_timeout=30) as conn:
            return conn.execute("SELECT %s::int FROM pg_sleep(%s)", (n, HOLD)).fetchone()[0]

    with ThreadPoolExecutor(CLIENTS) as pool:
        return sorted(pool.map(client, range(CLIENTS)))


def activity(postgres, application_name):
    return lambda: postgres.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
        (application_name,),
    ).fetchone()[0]


def test_pgbouncer_never_opens_more_than_pool_size(bouncer, postgres, console):
    def show_servers():
        cur = console.execute("SHOW SERVERS")
        database = [c.name for c in cur.description].index("database")
        return sum(1 for row in cur.fetchall() if row[database] == "app")

    # pool_app: the application_name PgBouncer gives the pool's server connections.
    with Peak(postgres=activity(postgres, "pool_app"), servers=show_servers) as peak:
        answers = run_clients(bouncer)
    print(f"\n{CLIENTS} clients, pool_size {POOL_SIZE}: peak {peak.peaks} in {peak.rounds} rounds")
    assert answers == list(range(CLIENTS))
    assert peak.rounds >= 10  # sampled through the whole load, not a moment of it
    # At the bound, not below it (the load filled the pool) and never above it.
    assert peak.peaks == {"postgres": POOL_SIZE, "servers": POOL_SIZE}


def test_pgpool_never_opens_more_than_children_x_max_pool(pgpool, postgres):
    # app's sessions that are not PgBouncer's (pool_app) nor this sampler's: Pgpool-II's,
    # cached ones included (a cached connection keeps its first client's application_name).
    def pgpool_sessions():
        return postgres.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'"
            " AND application_name <> 'pool_app' AND pid <> pg_backend_pid()"
        ).fetchone()[0]

    with Peak(postgres=pgpool_sessions) as peak:
        answers = run_clients(pgpool)
    print(
        f"\n{CLIENTS} clients, {NUM_INIT_CHILDREN} children x max_pool {MAX_POOL}: "
        f"peak {peak.peaks} in {peak.rounds} rounds"
    )
    assert answers == list(range(CLIENTS))
    assert peak.rounds >= 10
    assert peak.peaks["postgres"] == NUM_INIT_CHILDREN * MAX_POOL


def test_a_waiting_client_is_told_after_query_wait_notify(bouncer):
    """query_wait_notify = 3 (converge.yml, PgBouncer 1.25+): with both server connections
    held in transactions, a third client's query waits and gets PgBouncer's NOTICE after
    3 s (measured 4.1: PgBouncer looks once a second), before the default 5 s would send
    it, then its answer once a holder commits."""
    holders = [bouncer(autocommit=False) for _ in range(POOL_SIZE)]
    notices: list[tuple[float, str]] = []
    try:
        for conn in holders:
            conn.execute("SELECT 1")  # a transaction: the server connection stays assigned
        waiter = bouncer()
        start = time.monotonic()
        waiter.add_notice_handler(
            lambda diag: notices.append((time.monotonic() - start, diag.message_primary or ""))
        )
        release = threading.Timer(6.5, holders[0].commit)
        release.start()
        answer = waiter.execute("SELECT 42").fetchone()[0]
        waited = time.monotonic() - start
        release.join()
        waiter.close()
    finally:
        for conn in holders:
            conn.close()
    print(f"\nwaited {waited:.1f} s; notices {notices}")
    assert answer == 42
    assert waited >= 6
    assert len(notices) == 1, notices
    at, message = notices[0]
    assert 3 <= at < 5, notices
    assert "client being queued" in message, message


def test_max_user_client_connections_refuses_the_next_client(bouncer):
    """pgbouncer_user_settings: app's max_user_client_connections 20 (PgBouncer 1.24+)."""
    conns = []
    try:
        for _ in range(20):
            conns.append(bouncer())
        try:
            extra = bouncer()
        except psycopg.OperationalError as error:
            refusal = str(error)
        else:
            extra.close()
            refusal = ""
    finally:
        for conn in conns:
            conn.close()
    print(f"\nthe 21st client of app: {refusal!r}")
    assert "max_user_client_connections" in refusal, refusal
    # The slots are given back: a new client gets in once the 20 closed.
    assert wait_for(lambda: _can_connect(bouncer), 10)


def _can_connect(bouncer) -> bool:
    try:
        with bouncer() as conn:
            return conn.execute("SELECT 1").fetchone()[0] == 1
    except psycopg.OperationalError:
        return False
