"""The leader's PostgreSQL killed hard (SIGKILL to its postmaster) under 20 ledger clients
through PgBouncer and 20 through Pgpool-II. Patroni, still holding the leader lock, starts it
again in place. Both poolers must be back on it with no human step: PgBouncer's target never
moved; Pgpool-II, which detaches the primary at its shutdown message, must not have lost it
for good: its search ends (search_primary_node_timeout) and poolkit pgpool-follow attaches
Patroni's leader (docs/ha.md; measured without the follower: Pgpool-II searched the standbys
for a primary forever). No acknowledged commit is lost."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psycopg
from conftest import Writer
from test_follow import points_at
from test_pgpool import connect as through_pgpool
from test_pgpool import pgpool_events, pool_nodes, wait_following

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from load import Load

CLIENTS = 20
DATA_DIR = "/var/lib/postgresql/17/patroni"


def test_the_leader_restarted_in_place_after_a_crash_is_used_again_by_both_poolers(
    leader, pooler, bouncer, wait_healthy, direct
):
    name, host = leader
    since = pooler.check_output("date +%H:%M:%S")
    with bouncer() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS pgpool_probe (at timestamptz DEFAULT now())")
    writer = Writer(lambda: through_pgpool(pooler, connect_timeout=2), "pgpool_probe", 0.1)
    through_bouncer = Load(lambda: bouncer(autocommit=False, connect_timeout=2), clients=CLIENTS)
    through_pool = Load(
        lambda: through_pgpool(pooler, autocommit=False, connect_timeout=10), clients=CLIENTS
    )
    with through_bouncer, through_pool:
        writer.start()
        through_bouncer.wait_for(200)
        through_pool.wait_for(200)
        killed = time.monotonic()
        try:
            host.run_expect([0], f"kill -KILL $(head -1 {DATA_DIR}/postmaster.pid)")
            through_bouncer.wait_for(through_bouncer.committed() + 200, timeout=60)
            through_pool.wait_for(through_pool.committed() + 200, timeout=60)
            time.sleep(2)
        finally:
            writer.stop.set()
            writer.join(10)
    state = wait_healthy()
    now_leader = next(m["name"] for m in state["members"] if m["role"] == "leader")
    with direct(now_leader) as conn:
        bouncer_report = through_bouncer.verify(conn)
        pool_report = through_pool.verify(conn)
    back_bouncer = through_bouncer.first_commit_after(killed + 0.5)
    back_pool = through_pool.first_commit_after(killed + 0.5)
    journal = pooler.check_output(
        "journalctl -u poolkit-pgpool-follow --no-pager -o cat --since '-3min' | tail -5"
    )
    print(
        f"\n{name}'s PostgreSQL killed (leader after: {now_leader}); first commit after the "
        f"kill through PgBouncer {(back_bouncer - killed) if back_bouncer else float('nan'):.1f}"
        f" s, through Pgpool-II {(back_pool - killed) if back_pool else float('nan'):.1f} s;"
        f"\nPgBouncer ledger, {CLIENTS} clients: {bouncer_report}"
        f"\nPgpool-II ledger, {CLIENTS} clients: {pool_report}"
        f"\npgpool-follow journal:\n{journal}"
    )
    for report in (bouncer_report, pool_report):
        assert not report.lost and not report.phantom and report.counter_matches, report
        assert not report.stuck_clients, report
    assert points_at(pooler) == now_leader
    took = wait_following(pooler, now_leader, timeout=60)
    assert took is not None, pgpool_view(pooler, since)
    # Writes through Pgpool-II work again without a human step (the timed writer's last).
    assert writer.results and not writer.results[-1][1], (
        f"{writer.results[-3:]}\n{pgpool_view(pooler, since)}"
    )


def pgpool_view(pooler, since: str) -> str:
    """What a failure here needs: Pgpool-II's nodes (or why SHOW POOL_NODES failed), its
    failover decisions since `since` and the follower's journal."""
    try:
        nodes = str(pool_nodes(pooler))
    except psycopg.Error as exc:
        nodes = f"SHOW POOL_NODES failed: {exc}"
    return f"Pgpool-II's nodes: {nodes}\n{pgpool_events(pooler, since)}"
