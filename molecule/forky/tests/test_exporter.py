"""prometheus-pgbouncer-exporter 0.12.0, forky's package, beside PgBouncer 1.26.1: every
metric name poolkit's generated alert rules and dashboard read (poolkit.monitoring.METRICS)
is on its page. The SHOW STATS counters are read under both names (the exporter renamed them
pgbouncer_stats_totals_* in 0.11.0): one of each pair must be there."""

from __future__ import annotations

import re
import time

from poolkit.monitoring import METRICS

FETCH = (
    "python3 -c 'import sys, urllib.request; "
    'sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:9127/metrics", timeout=5)'
    ".read().decode())'"
)


def metrics(host, timeout: float = 30) -> str:
    """The exporter's page once it answers with pgbouncer_up 1."""
    deadline = time.monotonic() + timeout
    while True:
        run = host.run(FETCH)
        if run.rc == 0 and re.search(r"^pgbouncer_up 1$", run.stdout, re.M):
            return run.stdout
        assert time.monotonic() < deadline, (
            f"no pgbouncer_up 1: {run.stdout[-500:]}{run.stderr[-500:]}"
        )
        time.sleep(1)


def exported(page: str) -> set[str]:
    return set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", page, re.M))


def missing(names: set[str], page_names: set[str]) -> list[str]:
    """The names not on the page; a stats counter counts as there under either name."""
    gone = []
    for name in sorted(names):
        suffix = name.removeprefix("pgbouncer_stats_totals_").removeprefix("pgbouncer_stats_")
        pair = {f"pgbouncer_stats_{suffix}", f"pgbouncer_stats_totals_{suffix}"}
        if name in page_names or (name.startswith("pgbouncer_stats_") and pair & page_names):
            continue
        gone.append(name)
    return gone


def test_the_exporter_is_forkys_0_12_0(host):
    version = host.check_output("dpkg-query -W -f='${Version}' prometheus-pgbouncer-exporter")
    assert re.fullmatch(r"(\d+:)?0\.12\.0-.*", version), version


def test_every_metric_the_rules_and_dashboard_read_is_exported(host, bouncer):
    with bouncer() as client:
        client.execute("SELECT 1")
        page = metrics(host)
    names = {name for name in METRICS if name.startswith("pgbouncer_")}
    on_page = exported(page)
    stats = sorted(n for n in on_page if n.startswith("pgbouncer_stats_"))
    print(f"\n{len(names)} pgbouncer_* names read, {len(on_page)} exported; stats: {stats}")
    assert names and not missing(names, on_page), missing(names, on_page)
    pool = r'^pgbouncer_pools_client_active_connections\{database="app",user="app"\} (\d+)$'
    assert re.search(pool, page, re.M), page[-2000:]
