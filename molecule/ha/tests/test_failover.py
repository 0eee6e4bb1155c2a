"""An unplanned failover: the leader's node dies at once (docker kill: PostgreSQL, Patroni and
etcd with it) under 40 ledger clients and a timed writer through PgBouncer, and 20 ledger
clients and a timed writer through Pgpool-II. Patroni promotes a synchronous standby after the
leader lock's ttl; PgBouncer follows with no human step, once the new leader is out of
recovery, and so does Pgpool-II (its own search, or poolkit pgpool-follow); no write through
either fails as read-only after its first commit on the new leader; no commit a client saw
acknowledged is lost (synchronous_mode, converge.yml); the old node comes back as a replica,
PgBouncer does not go back to it for writes, and its read-only pool points at a replica
again."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from conftest import MEMBERS, REPLICA_ROLE, Writer, api
from test_follow import points_at, reads_on, wait_reads_on
from test_pgpool import connect as through_pgpool

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from load import Load

#: 40 ledger clients: the load under which a follower that took the lock holder at once sent
#: writes to a leader still promoting (docs/ha.md).
LEDGER_CLIENTS = 40
#: Through Pgpool-II: the issue's 20 clients (24 children: the writer and the checks too).
PGPOOL_CLIENTS = 20


def new_leader(members, old, deadline):
    while time.monotonic() < deadline:
        for name, host in members.items():
            if name == old:
                continue
            status, state = api(host, "/cluster")
            if status != 200:
                continue
            for member in state["members"]:
                if (
                    member["role"] == "leader"
                    and member["state"] == "running"
                    and member["name"] != old
                ):
                    return member["name"], time.monotonic()
        time.sleep(0.2)
    raise AssertionError(f"no member took over from {old}")


def test_an_unplanned_failover_moves_pgbouncer_and_the_old_leader_rejoins_as_a_replica(
    leader, members, pooler, bouncer, wait_healthy, direct
):
    old, _ = leader
    with bouncer() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS follow_probe (at timestamptz DEFAULT now())")
        conn.execute("CREATE TABLE IF NOT EXISTS pgpool_probe (at timestamptz DEFAULT now())")
    writer = Writer(lambda: bouncer(connect_timeout=2), "follow_probe")
    # The same failover through Pgpool-II, which promotes nothing and finds the new primary.
    pgpool_writer = Writer(
        lambda: through_pgpool(pooler, connect_timeout=2), "pgpool_probe", retry_pause=0.1
    )
    load = Load(lambda: bouncer(autocommit=False, connect_timeout=2), clients=LEDGER_CLIENTS)
    pgpool_load = Load(
        lambda: through_pgpool(pooler, autocommit=False, connect_timeout=10),
        clients=PGPOOL_CLIENTS,
    )
    with load, pgpool_load:
        writer.start()
        pgpool_writer.start()
        load.wait_for(200)
        pgpool_load.wait_for(200)
        killed = time.monotonic()
        subprocess.run(["docker", "kill", old], check=True, capture_output=True)
        survivors = {n: h for n, h in members.items() if n != old}
        try:
            name, promoted = new_leader(survivors, old, time.monotonic() + 90)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (
                [t for t, err in writer.results if t > promoted and not err]
                and [t for t, err in pgpool_writer.results if t > promoted and not err]
            ):
                time.sleep(0.1)
            load.wait_for(load.committed() + 200)  # the ledger clients commit again too
            pgpool_load.wait_for(pgpool_load.committed() + 200, timeout=60)
            time.sleep(3)
        finally:
            for each in (writer, pgpool_writer):
                each.stop.set()
                each.join(10)
            # The node comes back whatever happened: the other tests need three members.
            subprocess.run(["docker", "start", old], check=True, capture_output=True)
    with direct(name) as conn:
        report = load.verify(conn)
        pgpool_report = pgpool_load.verify(conn)
    pgpool_ledger_first = pgpool_load.first_commit_after(promoted)
    first_commit = min((t for t, err in writer.results if t > promoted and not err), default=None)
    errors = [(t, err) for t, err in writer.results if err]
    read_only = [err for t, err in errors if "read-only" in err]
    read_only_ledger = [err for err in report.errors if "read-only" in err]
    pgpool_first = min(
        (t for t, err in pgpool_writer.results if t > promoted and not err), default=None
    )
    pgpool_errors = [(t, err) for t, err in pgpool_writer.results if err]
    pgpool_after = [err for t, err in pgpool_errors if pgpool_first and t > pgpool_first]
    journal = pooler.check_output(
        "journalctl -u poolkit-pgbouncer-follow --no-pager -o short-precise -n 40"
    )
    waited = [line for line in journal.splitlines() if "not out of recovery yet" in line]
    print(f"\nfollower: {waited[-1] if waited else 'the new leader was out of recovery when seen'}")
    print(
        f"\nfailover {old} -> {name}: Patroni reported the new leader {promoted - killed:.1f} s "
        f"after the kill (ttl 10 s); first commit through PgBouncer "
        f"{(first_commit - promoted) if first_commit else float('nan'):.1f} s after that; "
        f"{len(errors)} failed writes, {len(read_only)} of them read-only; "
        f"ledger, {LEDGER_CLIENTS} clients: {report}; through Pgpool-II: first write "
        f"{(pgpool_first - promoted) if pgpool_first else float('nan'):.1f} s after the new "
        f"leader, {len(pgpool_errors)} failed writes ({len(pgpool_after)} after the first "
        f"success): {sorted({err for _, err in pgpool_errors})[:3]}; its ledger, "
        f"{PGPOOL_CLIENTS} clients: first commit "
        f"{(pgpool_ledger_first - promoted) if pgpool_ledger_first else float('nan'):.1f} s "
        f"after the new leader; {pgpool_report}"
    )
    assert first_commit is not None, "no commit through PgBouncer after the failover"
    # The figure is printed above (0.0-1.4 s in make test's runs); the bound only tells a
    # follower that did not follow from one slowed by a host running three scenarios (5.5 s).
    assert first_commit - promoted < 15
    assert read_only == [], read_only[:3]
    assert not [err for t, err in errors if t > first_commit], "writes failed after the switch"
    assert points_at(pooler) == name
    # Synchronous replication: every commit a client saw acknowledged is on the new leader.
    assert not report.lost and not report.phantom and report.counter_matches, report
    assert not report.stuck_clients, report
    assert read_only_ledger == [], read_only_ledger[:3]
    assert pgpool_first is not None, "no write through Pgpool-II after the failover"
    assert pgpool_first - promoted < 15
    assert not [err for err in pgpool_after if "read-only" in err], pgpool_after
    assert not pgpool_report.lost and not pgpool_report.phantom, pgpool_report
    assert pgpool_report.counter_matches and not pgpool_report.stuck_clients, pgpool_report
    assert pgpool_ledger_first is not None and pgpool_ledger_first - promoted < 15

    state = wait_healthy(timeout=180)
    assert {m["name"]: m["role"] for m in state["members"]}[old] == REPLICA_ROLE, state
    assert points_at(pooler) == name, "PgBouncer went back to the old leader"
    assert set(MEMBERS) == {m["name"] for m in state["members"]}
    replicas = [m for m in MEMBERS if m != name]
    assert wait_reads_on(pooler, replicas) is not None, f"app_ro on {reads_on(pooler)}"
