"""A load generator that proves nothing was lost (shared by the scenarios' fault tests).

Each client thread runs transactions through the pooler; each transaction inserts one row
(client, seq) into a ledger table and increments a counter row. The client records every
transaction it saw commit and every one it saw fail. Afterwards, straight on PostgreSQL:

* lost: committed as far as the client knows, but not in the ledger — must be empty;
* phantom: in the ledger, but the client saw it fail — must be empty, except a failure
  during COMMIT itself, whose outcome the client cannot know ("in doubt", counted apart);
* the counter equals the ledger's row count (no partial transaction);
* every client committed something and no client thread died (a thread that stopped early
  would otherwise make a run look quieter than it was).

A connection attempt that timed out is closed at once (``release_abandoned``): psycopg 3.3
leaves it open until the garbage collector runs, and Pgpool-II with TLS keeps a child waiting
on such a socket forever (docs/ha.md, "A client that gives up mid-handshake").

Usage:
    with Load(connect, clients=50) as load:   # connect() -> a new psycopg connection
        ...do the risky operation...
    report = load.verify(direct_connection)    # figures, and the lost/phantom lists
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass, field

import psycopg

SCHEMA = """
CREATE TABLE IF NOT EXISTS poolkit_ledger (
    run text NOT NULL, client int NOT NULL, seq int NOT NULL, PRIMARY KEY (run, client, seq));
CREATE TABLE IF NOT EXISTS poolkit_counter (run text PRIMARY KEY, n bigint NOT NULL);
"""


@dataclass
class ClientLog:
    committed: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    in_doubt: set[int] = field(default_factory=set)
    dropped_connections: int = 0
    errors: list[str] = field(default_factory=list)
    crashed: str | None = None  # what ended the client thread before the load stopped


@dataclass
class Report:
    transactions: int
    failures: int
    in_doubt: int
    dropped_connections: int
    longest_stall_s: float
    seconds: float
    lost: list[tuple[int, int]]
    phantom: list[tuple[int, int]]
    counter_matches: bool
    errors: list[str]
    stuck_clients: list[str] = field(default_factory=list)  # "client N: why"

    def __str__(self) -> str:
        return (
            f"{self.transactions} transactions committed in {self.seconds:.1f} s,"
            f" {self.failures} failed, {self.in_doubt} in doubt,"
            f" {self.dropped_connections} connections dropped,"
            f" longest stall {self.longest_stall_s:.2f} s, lost {len(self.lost)},"
            f" phantom {len(self.phantom)}"
            + (f"; stuck clients: {self.stuck_clients[:3]}" if self.stuck_clients else "")
            + (f"; first errors: {self.errors[:3]}" if self.errors else "")
        )


def release_abandoned() -> None:
    """Close the connections that timed-out attempts left open.

    psycopg 3.3.9 raises ConnectionTimeout but leaves its half-made libpq connection (and its
    socket) in a reference cycle until the garbage collector runs (measured: three timed-out
    attempts, three sockets still established; none after gc.collect()). Psycopg 3.1.10 fixed
    the same leak for a failed attempt (psycopg#565), not for a timed-out one. A server that
    accepted that socket waits on it: a Pgpool-II child that has answered the SSLRequest waits
    in SSL_accept with no timeout, so a client retrying every connect_timeout seconds could
    hold every child. Call this after a failed connect."""
    gc.collect()


class Load:
    """``clients`` threads running ledger transactions until stopped.

    ``reconnect_each``: a new connection for every transaction (serverless and PHP apps);
    otherwise one long-lived connection per client, re-opened after an error.
    ``pause_s``: think time between transactions.
    """

    def __init__(self, connect, clients=20, reconnect_each=False, pause_s=0.01, run=None):
        self.connect = connect
        self.clients = clients
        self.reconnect_each = reconnect_each
        self.pause_s = pause_s
        self.run = run or f"run-{time.time_ns()}"
        self.logs = [ClientLog() for _ in range(clients)]
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.longest_stall = 0.0
        self.lock = threading.Lock()
        self.commit_times: list[float] = []
        self.started = self.stopped = 0.0

    def __enter__(self) -> Load:
        with self.connect() as conn:
            conn.autocommit = True
            conn.execute(SCHEMA)
            conn.execute(
                "INSERT INTO poolkit_counter (run, n) VALUES (%s, 0) ON CONFLICT DO NOTHING",
                (self.run,),
            )
        self.started = time.monotonic()
        for client in range(self.clients):
            thread = threading.Thread(target=self._client, args=(client,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=120)
        self.stopped = time.monotonic()

    def committed(self) -> int:
        return sum(len(log.committed) for log in self.logs)

    def first_commit_after(self, moment: float) -> float | None:
        """The monotonic time of the first commit after `moment` (time.monotonic()), if any."""
        with self.lock:
            later = [t for t in self.commit_times if t > moment]
        return min(later, default=None)

    def wait_for(self, transactions: int, timeout: float = 30) -> None:
        """Block until at least ``transactions`` committed in total (the load is running)."""
        deadline = time.monotonic() + timeout
        while self.committed() < transactions:
            if time.monotonic() > deadline:
                raise AssertionError(f"load stalled: {self.committed()} transactions")
            time.sleep(0.05)

    def _client(self, client: int) -> None:
        try:
            self._transactions(client)
        except Exception as error:  # recorded: verify() reports the client
            self.logs[client].crashed = f"{type(error).__name__}: {error}"

    def _transactions(self, client: int) -> None:
        log, conn, seq = self.logs[client], None, 0
        while not self.stop_event.is_set():
            seq += 1
            began = time.monotonic()
            stage = "connect"
            try:
                if conn is None or conn.closed:
                    conn = self.connect()
                stage = "work"
                with conn.cursor() as cur:
                    cur.execute(
                        "INSERT INTO poolkit_ledger (run, client, seq) VALUES (%s, %s, %s)",
                        (self.run, client, seq),
                    )
                    cur.execute("UPDATE poolkit_counter SET n = n + 1 WHERE run = %s", (self.run,))
                stage = "commit"
                conn.commit()
                log.committed.add(seq)
                with self.lock:
                    self.commit_times.append(time.monotonic())
            except psycopg.Error as error:
                if stage == "connect":
                    release_abandoned()
                (log.in_doubt if stage == "commit" else log.failed).add(seq)
                log.errors.append(f"{stage}: {str(error).strip().splitlines()[0]}")
                if conn is not None and (conn.closed or conn.broken):
                    if stage != "connect":
                        log.dropped_connections += 1
                    conn = None
                elif conn is not None:
                    try:
                        conn.rollback()
                    except psycopg.Error:  # the connection broke meanwhile: a new one
                        conn.close()
                        conn = None
            finally:
                stall = time.monotonic() - began
                with self.lock:
                    self.longest_stall = max(self.longest_stall, stall)
            if self.reconnect_each and conn is not None:
                conn.close()
                conn = None
            time.sleep(self.pause_s)
        if conn is not None:
            conn.close()

    def verify(self, direct) -> Report:
        """Compare the clients' logs with the ledger, read on ``direct`` (no pooler)."""
        rows = direct.execute(
            "SELECT client, seq FROM poolkit_ledger WHERE run = %s", (self.run,)
        ).fetchall()
        (counter,) = direct.execute(
            "SELECT n FROM poolkit_counter WHERE run = %s", (self.run,)
        ).fetchone()
        in_table = set(rows)
        committed = {(c, s) for c, log in enumerate(self.logs) for s in log.committed}
        failed = {(c, s) for c, log in enumerate(self.logs) for s in log.failed}
        return Report(
            transactions=len(committed),
            failures=len(failed),
            in_doubt=sum(len(log.in_doubt) for log in self.logs),
            dropped_connections=sum(log.dropped_connections for log in self.logs),
            longest_stall_s=self.longest_stall,
            seconds=self.stopped - self.started,
            lost=sorted(committed - in_table),
            phantom=sorted(failed & in_table),
            counter_matches=counter == len(in_table),
            errors=[e for log in self.logs for e in log.errors],
            stuck_clients=[
                f"client {c}: {log.crashed or 'no transaction committed'}"
                for c, log in enumerate(self.logs)
                if log.crashed or not log.committed
            ],
        )
