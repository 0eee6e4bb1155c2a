"""Pooling semantics, proven through real connections: transaction pooling bounds and
shares server connections, session mode pins them, the reserve pool and the timeouts act
as configured, and what transaction mode does with session state."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

POOL = 3  # converge.yml: pgbouncer_default_pool_size for the `app` database


class Peak:
    """Polls a callable in the background and keeps the largest value it returned."""

    def __init__(self, probe, interval=0.02):
        self.probe, self.interval, self.peak = probe, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.probe())
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_clients(bouncer, count, work, dbname="app", **connect_kwargs):
    """Run `work(conn)` in `count` concurrent clients; returns their results."""
    barrier = threading.Barrier(count)

    def client(_):
        with bouncer(dbname=dbname, **connect_kwargs) as conn:
            barrier.wait(timeout=30)
            return work(conn)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(client, range(count)))


def transactions(conn, n=6):
    pids = []
    for _ in range(n):
        with conn.transaction():
            pids.append(conn.execute("SELECT pg_backend_pid(), pg_sleep(0.03)").fetchone()[0])
        time.sleep(0.01)  # between transactions the server goes back to the pool
    return pids


def test_transaction_pooling_bounds_server_connections(bouncer, server_count, wait_pool_drained):
    wait_pool_drained("pool_app")
    with Peak(lambda: server_count("pool_app")) as peak:
        results = run_clients(bouncer, 5 * POOL, transactions)
    assert len(results) == 5 * POOL  # every client finished all its transactions
    assert 1 <= peak.peak <= POOL


def test_show_pools_never_exceeds_pool_size(bouncer):
    def server_conns():
        with bouncer(dbname="pgbouncer", user="pgb_stats") as console:
            cur = console.execute("SHOW POOLS")
            cols = [c.name for c in cur.description]
            for row in cur.fetchall():
                pool = dict(zip(cols, row, strict=True))
                if pool["database"] == "app" and pool["user"] == "app":
                    return sum(pool[k] for k in ("sv_active", "sv_idle", "sv_used", "sv_tested"))
            return 0

    with Peak(server_conns, interval=0.05) as peak:
        run_clients(bouncer, 5 * POOL, transactions)
    assert 1 <= peak.peak <= POOL


def test_clients_share_backends(bouncer, server_count):
    """15 clients on a pool of 3: some backend served two different clients. (Bounded by
    the peak of server connections held at once, not by distinct PIDs: server_lifetime
    8 s may replace a connection during the run.)"""
    with Peak(lambda: server_count("pool_app")) as peak:
        results = run_clients(bouncer, 5 * POOL, transactions)
    backends_per_client = [set(pids) for pids in results]
    all_backends = set().union(*backends_per_client)
    assert 1 <= peak.peak <= POOL
    shared = [b for b in all_backends if sum(b in s for s in backends_per_client) >= 2]
    assert shared


def test_consecutive_transactions_can_change_backend(bouncer):
    results = run_clients(bouncer, 2 * POOL, lambda conn: transactions(conn, n=15))
    assert any(len(set(pids)) > 1 for pids in results)


def test_session_mode_keeps_the_backend(bouncer):
    def work(conn):
        return transactions(conn, n=8)

    results = run_clients(bouncer, 2, work, dbname="app_session")
    assert all(len(set(pids)) == 1 for pids in results)
    assert results[0][0] != results[1][0]


def test_reserve_pool_opens_extra_connections_and_no_more(bouncer, server_count, wait_pool_drained):
    # app_reserve: pool_size 2, reserve_pool_size 2, reserve_pool_timeout 1 s. Clients that
    # wait over 1 s open the reserve. 6 clients: the last 2 wait one hold (2.5 s), well inside
    # query_wait_timeout (4 s); with 8 the last waited until the reserve's holds ended too
    # (about 3.5 s), and on a loaded machine two passed 4 s (make test 2026-12-03, 1.18).
    wait_pool_drained("pool_reserve")

    def hold(conn):
        with conn.transaction():
            conn.execute("SELECT pg_sleep(2.5)")
        return True

    with Peak(lambda: server_count("pool_reserve")) as peak:
        assert all(run_clients(bouncer, 6, hold, dbname="app_reserve"))
    assert peak.peak == 4


def test_query_wait_timeout_disconnects_a_waiting_client(bouncer):
    # app_tiny has one server connection; query_wait_timeout is 4 s.
    with bouncer(dbname="app_tiny", autocommit=False) as holder:
        holder.execute("SELECT 1")  # holds the only server connection, in a transaction
        with bouncer(dbname="app_tiny") as waiter:
            started = time.monotonic()
            with pytest.raises(psycopg.OperationalError, match="query_wait_timeout"):
                waiter.execute("SELECT 1")
            waited = time.monotonic() - started
        holder.rollback()
    assert 3 <= waited <= 12


def test_max_client_conn_refuses_the_next_client(bouncer):
    """Console sessions count too: this test's own, and the exporter's on the Debian 13
    host (pgbouncer_exporter_enabled), so the test fills what is left of the 60."""
    conns = []
    try:
        with bouncer(dbname="pgbouncer", user="pgb_stats") as console:
            present = len(console.execute("SHOW CLIENTS").fetchall())
            for _ in range(60 - present):  # converge.yml: pgbouncer_max_client_conn = 60
                conns.append(bouncer())
            with pytest.raises(psycopg.OperationalError, match="max_client_conn"):
                conns.append(bouncer())
    finally:
        for conn in conns:
            conn.close()


def test_server_idle_timeout_closes_idle_server_connections(bouncer, postgres):
    with bouncer(dbname="app_tiny") as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    deadline = time.monotonic() + 15  # server_idle_timeout 4 s + PgBouncer's janitor
    alive = True
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = postgres.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (backend,)
        ).fetchone()[0]
    assert not alive


def test_server_lifetime_replaces_busy_server_connections(bouncer):
    # server_lifetime 8 s: a connection in steady use is replaced once released after that.
    backends = set()
    with bouncer(dbname="app_tiny") as conn:
        deadline = time.monotonic() + 14
        while time.monotonic() < deadline and len(backends) < 2:
            backends.add(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
            time.sleep(0.3)
    assert len(backends) >= 2


def test_prepared_statements_across_backends(bouncer, hostvars):
    # PgBouncer 1.21+ keeps protocol-level prepared statements working across backends
    # (prepare everything: threshold 0); on 1.18 the documented client setting is to
    # prepare nothing (None).
    prepare_threshold = 0 if hostvars["test_max_prepared_statements"] else None

    def work(conn):
        pids = []
        for i in range(20):
            with conn.transaction():
                row = conn.execute(
                    "SELECT pg_backend_pid(), %s::int + 1, pg_sleep(0.02)", (i,), prepare=None
                ).fetchone()
                assert row[1] == i + 1
                pids.append(row[0])
            time.sleep(0.01)
        return pids

    results = run_clients(bouncer, 3 * POOL, work, prepare_threshold=prepare_threshold)
    assert any(len(set(pids)) > 1 for pids in results)


def test_session_set_leaks_to_the_next_client_in_transaction_mode(bouncer):
    """Documented behaviour (README, Session state): a session-level SET of a parameter
    PgBouncer does not track stays on the server connection, and the next client that
    gets that connection sees it. server_reset_query only runs in session mode."""
    with bouncer(dbname="app_tiny") as first:
        first.execute("SET work_mem = '77MB'")
    with bouncer(dbname="app_tiny") as second:
        assert second.execute("SHOW work_mem").fetchone()[0] == "77MB"
        second.execute("RESET work_mem")


def test_tracked_parameters_do_not_leak(bouncer):
    """TimeZone is tracked per client: PgBouncer restores each client's own value."""
    with bouncer(dbname="app_tiny") as first:
        default = first.execute("SHOW TimeZone").fetchone()[0]
        first.execute("SET TimeZone = 'Asia/Tokyo'")
        with bouncer(dbname="app_tiny") as second:
            assert second.execute("SHOW TimeZone").fetchone()[0] == default
