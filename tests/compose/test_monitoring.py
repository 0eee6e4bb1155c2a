"""The stack's `monitoring` profile: Prometheus scrapes the real exporters (Debian 13's
prometheus-pgbouncer-exporter and `poolkit pgpool-exporter`) and loads the rules the config
service rendered. Every query of the dashboard and every metric the rules read must return
data from that Prometheus (a typo or a metric an exporter lacks fails here), and an induced
exhaustion must fire PgBouncerClientsWaiting and make `poolkit status` exit 2 naming the pool
and its leak suspects; releasing it returns both to normal."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psycopg
import pytest
import yaml
from conftest import PORTS, dsn, in_container

from poolkit.monitoring import METRICS, dashboard_queries, rule_queries

PROMETHEUS = f"http://127.0.0.1:{PORTS['POOLKIT_PROMETHEUS_PORT']}"
POOLKIT = str(Path(sys.executable).with_name("poolkit"))
MONITOR_USER = "poolkit_monitor"
# The advisories compose/vars.yml accepts for the image's PgBouncer: `poolkit status` is told
# the same, so it exits 0 on a healthy stack.
ACCEPTED = yaml.safe_load((Path(__file__).parents[2] / "compose/vars.yml").read_text())[
    "pgbouncer_accepted_advisories"
]


def api(path: str, **params) -> dict:
    url = f"{PROMETHEUS}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def query(expr: str) -> list:
    return api("query", query=expr)["result"]


def wait_for(predicate, timeout: float, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def firing(alertname: str) -> list:
    return query(f'ALERTS{{alertname="{alertname}", alertstate="firing"}}')


@pytest.fixture(scope="module")
def rendered(stack):
    """The rules and dashboard the config service wrote (what Prometheus and Grafana load)."""
    rules = yaml.safe_load(in_container("prometheus", "cat", "/etc/poolkit/monitoring/alerts.yml"))
    board = json.loads(in_container("prometheus", "cat", "/etc/poolkit/monitoring/dashboard.json"))
    return rules, board


@pytest.fixture(scope="module")
def prometheus(stack):
    """Prometheus with both targets up and a few scrapes behind it (rates need two)."""
    both_up = wait_for(lambda: len(query("up == 1")) == 2 and query("pgpool2_up == 1"), 60)
    assert both_up, f"targets: {query('up')}"
    time.sleep(12)  # three scrapes at 5 s
    return stack


def status(stack, *extra):
    password = stack["POOLKIT_MONITOR_PASSWORD"]
    bouncer = dsn(stack, "POOLKIT_PGBOUNCER_PORT", user=MONITOR_USER, password=password)
    pgpool = dsn(stack, "POOLKIT_PGPOOL_PORT", user=MONITOR_USER, password=password)
    return subprocess.run(
        [POOLKIT, "status", "--pgbouncer", bouncer.replace(f"dbname={stack['POOLKIT_DATABASE']}",
         "dbname=pgbouncer"), "--pgpool", pgpool,
         *[f"--accept-advisory={cve}" for cve in ACCEPTED], *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip


def test_prometheus_scrapes_both_exporters(prometheus):
    jobs = {r["metric"]["job"]: r["value"][1] for r in query("up")}
    assert jobs == {"pgbouncer": "1", "pgpool": "1"}
    assert query("pgbouncer_up")[0]["value"][1] == "1"
    assert query("pgpool2_up")[0]["value"][1] == "1"


def test_prometheus_loaded_every_generated_rule(prometheus, rendered):
    rules, _ = rendered
    loaded = {g["name"]: g["rules"] for g in api("rules")["groups"]}
    expected = {g["name"]: g["rules"] for g in rules["groups"]}
    assert {name: len(r) for name, r in loaded.items()} == {
        name: len(r) for name, r in expected.items()
    }
    assert all(rule["health"] == "ok" for group in loaded.values() for rule in group)


def test_every_dashboard_query_returns_data(prometheus, rendered):
    _, board = rendered
    queries = dashboard_queries(board)

    def without_data() -> list[str]:
        return [q for q in queries if not query(q)]

    # Rates need a few scrapes: wait (up to 30 s) until every query has data, then look once
    # more so the assertion reads a fresh answer.
    wait_for(lambda: not without_data(), 30)
    empty = without_data()
    print(f"\n{len(queries)} dashboard queries, {len(queries) - len(empty)} with data")
    assert queries and not empty, empty


def test_every_metric_the_rules_read_exists(prometheus, rendered):
    rules, _ = rendered
    names = {
        name
        for expr in rule_queries(rules)
        for name in re.findall(r"[a-z_:][a-z0-9_:]*", expr)
        if name in METRICS
    }
    missing = [name for name in sorted(names) if not query(name)]
    print(f"\n{len(names)} metrics read by {len(rule_queries(rules))} rules, missing: {missing}")
    assert names and not missing


def test_exhaustion_fires_the_alert_and_status_names_the_leaks(prometheus):
    """Hold every server connection of the app pool (pool_size + reserve) in open
    transactions while more clients wait: PgBouncerClientsWaiting fires after its minute,
    `poolkit status` exits 2 naming the pool and the holders; then release."""
    stack = prometheus
    capacity = 6  # compose/topology.yml: pool_size 4 + reserve_pool_size 2
    holders = [
        psycopg.connect(dsn(stack, "POOLKIT_PGBOUNCER_PORT"), application_name=f"holder-{n}")
        for n in range(capacity)
    ]
    waiters: list[threading.Thread] = []
    done: list[float] = []

    def wait_for_a_server():
        with psycopg.connect(dsn(stack, "POOLKIT_PGBOUNCER_PORT"), autocommit=True) as conn:
            conn.execute("SELECT 1")
            done.append(time.monotonic())

    try:
        started = time.monotonic()
        opened = [threading.Thread(target=h.execute, args=("SELECT 1",)) for h in holders]
        for thread in opened:  # the last two wait reserve_pool_timeout for the reserve
            thread.start()
        for thread in opened:
            thread.join(timeout=30)
        waiters = [threading.Thread(target=wait_for_a_server) for _ in range(3)]
        for waiter in waiters:
            waiter.start()
        waiting_since = time.monotonic()
        fired = wait_for(lambda: firing("PgBouncerClientsWaiting"), timeout=150, interval=2)
        fired_after = time.monotonic() - waiting_since
        exhausted = status(stack)
        as_json = json.loads(status(stack, "--json").stdout)
    finally:
        for holder in holders:
            holder.commit()
        released = time.monotonic()
        for waiter in waiters:
            waiter.join(timeout=30)
        for holder in holders:
            holder.close()
    print(
        f"\nholders in place after {waiting_since - started:.1f} s; PgBouncerClientsWaiting "
        f"firing after {fired_after:.0f} s of waiting; waiters served within "
        f"{max(0.0, max(done) - released):.2f} s of the release"
        if done
        else "\nthe waiters were never served"
    )
    print(f"--- poolkit status, pool exhausted (exit {exhausted.returncode}):\n{exhausted.stdout}")
    assert fired, "PgBouncerClientsWaiting never fired"
    # for: 1m after the first evaluation that saw the waiters: one scrape and one evaluation
    # (5 s each, compose/prometheus.yml) and this test's 2 s polling later at most.
    assert 60 - 5 <= fired_after <= 60 + 5 + 5 + 2 + 3, fired_after
    assert fired[0]["metric"]["database"] == stack["POOLKIT_DATABASE"]
    assert exhausted.returncode == 2, exhausted.stdout + exhausted.stderr
    pool = f"pool {stack['POOLKIT_DATABASE']}/{stack['POOLKIT_APP_USER']}"
    assert f"CRITICAL  {pool}" in exhausted.stdout
    (suspects,) = [f for f in as_json["findings"] if "leak suspect" in f["message"]]
    assert suspects["subject"] == pool
    assert suspects["message"].startswith(f"{capacity} leak suspects")
    assert sorted(line.split()[1] for line in suspects["details"]) == [
        f"holder-{n}" for n in range(capacity)
    ]
    assert len(done) == 3, "the waiting clients were not served after the release"

    recovered = wait_for(lambda: status(stack).returncode == 0, timeout=30, interval=2)
    final = status(stack)
    print(f"--- after COMMIT (exit {final.returncode}):\n{final.stdout}")
    assert recovered, final.stdout
    resolved = wait_for(lambda: not firing("PgBouncerClientsWaiting"), timeout=60, interval=2)
    assert resolved, "PgBouncerClientsWaiting still firing after the release"
