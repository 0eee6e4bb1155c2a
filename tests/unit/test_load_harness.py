"""molecule/shared/load.py's own bookkeeping: a client thread that dies, or that never
commits, is reported instead of making a run look quieter than it was."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "molecule" / "shared"))
from load import Load


class Ledger:
    """Stands in for PostgreSQL's answer in verify(): the rows the clients committed."""

    def __init__(self, load):
        self.load = load

    def execute(self, query, params):
        committed = [(c, s) for c, log in enumerate(self.load.logs) for s in log.committed]
        rows = committed if "poolkit_ledger" in query else [(len(committed),)]
        return type("Cursor", (), {"fetchall": lambda _: rows, "fetchone": lambda _: rows[0]})()


class Connection:
    """Commits every transaction; rollback() raises when asked to (a broken connection)."""

    def __init__(self, fail_work=False, fail_rollback=False):
        self.fail_work, self.fail_rollback = fail_work, fail_rollback
        self.closed = self.broken = False
        self.autocommit = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True

    def execute(self, *args):
        return None

    def cursor(self):
        conn = self

        class Cursor:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return None

            def execute(self, *args):
                if conn.fail_work:
                    raise psycopg.OperationalError("server closed the connection")

        return Cursor()

    def commit(self):
        return None

    def rollback(self):
        if self.fail_rollback:
            raise psycopg.OperationalError("the connection is lost")

    def close(self):
        self.closed = True


def run(connect, clients=2, seconds=0.3):
    with Load(connect, clients=clients, pause_s=0.01) as load:
        time.sleep(seconds)
    return load, load.verify(Ledger(load))


def test_clients_that_commit_are_not_stuck():
    _, report = run(lambda: Connection())
    assert report.transactions > 0
    assert report.stuck_clients == []


def test_a_client_whose_rollback_raises_keeps_running_on_a_new_connection():
    opened = []

    def connect():
        # After the schema's connection, the clients' first two fail work and rollback.
        conn = Connection(fail_work=len(opened) in (1, 2), fail_rollback=True)
        opened.append(conn)
        return conn

    _, report = run(connect)
    assert report.failures >= 2
    assert report.stuck_clients == [], report
    assert len(opened) > 2


def test_a_client_thread_that_dies_is_reported():
    calls = []

    def connect():
        calls.append(1)
        if len(calls) > 1:  # the schema connection works, the clients' do not
            raise RuntimeError("a bug in the test's connect()")
        return Connection()

    _, report = run(connect, clients=1)
    assert report.stuck_clients == ["client 0: RuntimeError: a bug in the test's connect()"]
    assert "stuck clients" in str(report)
