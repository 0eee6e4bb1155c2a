"""Pgpool-II follows Patroni's decisions without promoting anything: no failover command; its
primary is Patroni's leader (poolkit pgpool-follow tells it through PCP when its own view
differs), members that stream are balanced over, and a member it detached comes back once it
streams again (auto_failback). This module runs after test_crash, test_cluster,
test_failover and test_follow, whose crash, switchovers and failover Pgpool-II went through
unattended; then it measures a switchover of its own under 20 ledger clients and a timed
writer."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import psycopg
from conftest import MEMBERS, PASSWORDS, Writer, api
from psycopg.rows import dict_row

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from load import Load


def connect(pooler, **kwargs):
    kwargs.setdefault("connect_timeout", 5)
    kwargs.setdefault("autocommit", True)
    return psycopg.connect(
        host="127.0.0.1",
        port=pooler.ansible.get_variables()["test_pgpool_port"],
        dbname="app",
        user="app",
        password=PASSWORDS["app"],
        sslmode="require",
        **kwargs,
    )


def children(pooler) -> str:
    """What each Pgpool-II process does (ps), counted: for a failure's message."""
    return pooler.check_output("ps -eo args | grep '[p]gpool:' | sort | uniq -c")


# Pgpool-II's log lines that tell what it decided at a switchover (for a failure's message).
_EVENTS = (
    "main pid|degenerate|failback|Update main node|kind does not match|segmentation"
    "|find_primary_node:|failed to create a backend"
)


def pgpool_events(pooler, since: str) -> str:
    """Pgpool-II's failover decisions logged since `since` (HH:MM:SS) and the follower's
    journal lines: what a failed switchover test shows."""
    log = pooler.run(
        f"awk '$2 >= \"{since}\"' /var/log/pgpool2/pgpool.log | grep -E '{_EVENTS}' "
        "| grep -v 'standby node is' | tail -n 40"
    ).stdout
    journal = pooler.run(
        f"journalctl -u poolkit-pgpool-follow --since {since} --no-pager -o cat | tail -n 15"
    ).stdout
    return f"Pgpool-II's log:\n{log}\nthe follower's journal:\n{journal}"


def pool_nodes(pooler) -> dict[str, dict]:
    """SHOW POOL_NODES by host name: status (up, waiting, down), role (Pgpool-II's view),
    pg_role (the member's own answer)."""
    with connect(pooler, row_factory=dict_row) as conn:
        return {row["hostname"]: row for row in conn.execute("SHOW POOL_NODES").fetchall()}


def following(pooler, leader: str) -> bool:
    """Pgpool-II's primary is `leader` and every other member is attached as a standby."""
    try:
        nodes = pool_nodes(pooler)
    except psycopg.Error:
        return False
    return all(
        node["status"] in ("up", "waiting")
        and node["role"] == ("primary" if name == leader else "standby")
        for name, node in nodes.items()
    )


def wait_following(pooler, leader: str, timeout: float) -> float | None:
    """Seconds until `following`, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if following(pooler, leader):
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def test_pgpool_promotes_nothing(pooler):
    assert pooler.service("pgpool2").is_running
    conf = pooler.file("/etc/pgpool2/pgpool.conf").content_string
    settings = {
        key.strip(): value.strip().strip("'")
        for key, _, value in (line.partition("=") for line in conf.splitlines())
        if value and not key.lstrip().startswith("#")
    }
    assert settings.get("failover_command", "") == ""
    assert settings.get("follow_primary_command", "") == ""
    assert settings["auto_failback"] == "on"


def test_the_follower_runs_and_says_pgpool_is_on_the_leader(pooler, leader):
    """poolkit-pgpool-follow's state: Patroni's leader, and Pgpool-II's primary on it."""
    assert pooler.service("poolkit-pgpool-follow").is_running
    deadline = time.monotonic() + 30
    while True:
        state = json.loads(pooler.file("/var/lib/poolkit/pgpool-follow.json").content_string)
        if state["healthy"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert state["healthy"], state
    assert state["leader_host"] == leader[0], state
    assert state["pgpool_primary"].startswith(f"{leader[0]}:"), state
    assert not pooler.file("/run/poolkit-pgpool-follow/pcppass").mode & 0o077


def test_after_every_earlier_switch_pgpool_follows_the_leader_with_every_member_up(pooler, leader):
    """The switchovers and the failover of the tests before this one, the killed member back
    as a replica: Pgpool-II's primary is Patroni's leader and all three members are up."""
    name, _ = leader
    took = wait_following(pooler, name, timeout=60)
    assert took is not None, pool_nodes(pooler)
    assert set(pool_nodes(pooler)) == set(MEMBERS)


def test_reads_are_balanced_over_the_replicas_and_writes_reach_the_leader(pooler, leader):
    name, _ = leader
    with connect(pooler) as conn:  # a write succeeds: it went to the leader
        conn.execute("CREATE TABLE IF NOT EXISTS pgpool_probe (at timestamptz DEFAULT now())")
        conn.execute("INSERT INTO pgpool_probe DEFAULT VALUES")
    before = {host: int(node["select_cnt"]) for host, node in pool_nodes(pooler).items()}
    for _ in range(30):  # each session gets its load-balance node when it starts
        with connect(pooler) as conn:
            # A plain SELECT: Pgpool-II sends volatile functions to the primary.
            conn.execute("SELECT 1").fetchone()
    after = {host: int(node["select_cnt"]) for host, node in pool_nodes(pooler).items()}
    print(f"\n30 sessions' SELECTs by member: { {h: after[h] - before[h] for h in after} }")
    assert [h for h in after if h != name and after[h] > before[h]], "no read reached a replica"


def test_a_switchover_moves_pgpool_writes_to_the_new_leader(pooler, leader, wait_healthy, direct):
    """Patroni switches over while 20 ledger clients and a timed writer write through
    Pgpool-II: writes fail only until Pgpool-II finds the new primary (it drops its sessions
    when it detaches the old one: a client sees errors, not a hang; Pgpool-II has no PAUSE),
    none fails as read-only after that, no acknowledged commit is lost, and the old leader
    is balanced over again once it streams."""
    old, host = leader
    new = next(m for m in MEMBERS if m != old)
    since = pooler.check_output("date +%H:%M:%S")
    writer = Writer(lambda: connect(pooler), "pgpool_probe", retry_pause=0.1)
    load = Load(lambda: connect(pooler, autocommit=False, connect_timeout=10), clients=20)
    with load:
        writer.start()
        load.wait_for(200)
        started = time.monotonic()
        try:
            status, payload = api(
                host, "/switchover", "POST", {"leader": old, "candidate": new}, True
            )
            reported = time.monotonic()
            assert status == 200, payload
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not [
                t for t, err in writer.results if t > reported and not err
            ]:
                time.sleep(0.1)
            load.wait_for(load.committed() + 200, timeout=60)
            time.sleep(3)
        finally:
            writer.stop.set()
            writer.join(10)
    with direct(new) as conn:
        report = load.verify(conn)
    processes = children(pooler)
    first = min((t for t, err in writer.results if t > reported and not err), default=None)
    errors = [(t, err) for t, err in writer.results if t > started and err]
    after = [err for t, err in errors if first and t > first]
    wait_healthy()
    back = wait_following(pooler, new, timeout=90)
    kinds = sorted({err for _, err in errors})
    print(
        f"\nswitchover {old} -> {new} through Pgpool-II: Patroni answered after "
        f"{reported - started:.1f} s; first write after it "
        f"{(first - reported) if first else float('nan'):.1f} s later; {len(errors)} failed "
        f"writes ({len(after)} after the first success): {kinds[:4]}; old leader balanced "
        f"over again {back if back is not None else float('nan'):.1f} s after the cluster "
        f"was healthy; ledger, 20 clients: {report}"
    )
    events = (
        pgpool_events(pooler, since)
        if (
            first is None
            or first - reported >= 15
            or [err for err in after + report.errors if "read-only" in err]
            or report.lost
            or back is None
        )
        else ""
    )
    assert first is not None, f"no write through Pgpool-II after the switchover\n{events}"
    assert first - reported < 15, events
    assert not [err for err in after if "read-only" in err], f"{after}\n{events}"
    assert not report.lost and not report.phantom and report.counter_matches, f"{report}\n{events}"
    assert not report.stuck_clients, f"{report}\nPgpool-II's processes then:\n{processes}"
    assert not [err for err in report.errors if "read-only" in err], f"{report}\n{events}"
    assert back is not None, f"{old} not attached again\n{events}"
