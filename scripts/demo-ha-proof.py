"""End of `make demo-ha`: show the Patroni cluster as the pooler host sees it, prove a query
goes through PgBouncer (the leader and the read-only pool) and Pgpool-II, and say how to try a
failover. Reads molecule/ha/molecule.yml (the ports and the throwaway test password the lab
was deployed with). Exit status 1 when an endpoint that should answer does not.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import psycopg
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = yaml.safe_load((ROOT / "molecule" / "ha" / "molecule.yml").read_text())
POOLER = "ha-pooler-trixie"
FOLLOW_STATE = "/var/lib/poolkit/pgbouncer-follow.json"
QUERY = "SELECT host(inet_server_addr()), pg_is_in_recovery()"


def pooler_vars() -> dict:
    inventory = SCENARIO["provisioner"]["inventory"]
    return {**inventory["group_vars"]["poolers"], **inventory["host_vars"][POOLER]}


def members() -> list[str]:
    return [p["name"] for p in SCENARIO["platforms"] if "patroni" in p.get("groups", [])]


def status() -> int:
    command = (
        "PYTHONPATH=/opt/poolkit/lib python3 -m poolkit status"
        " --patroni-ca /etc/poolkit/tls/ca.crt "
        + " ".join(f"--patroni https://{m}:8008" for m in members())
        + f" --follow-state {FOLLOW_STATE}"
    )
    run = subprocess.run(
        ["docker", "exec", POOLER, "bash", "-c", command], capture_output=True, text=True
    )
    print(f"==> poolkit status on {POOLER}:\n{run.stdout}{run.stderr}")
    return run.returncode


def query(label: str, port: int, dbname: str, password: str) -> bool:
    dsn = f"postgresql://app@127.0.0.1:{port}/{dbname}"
    try:
        with psycopg.connect(dsn, password=password, connect_timeout=10) as conn:
            server, in_recovery = conn.execute(QUERY).fetchone()
    except psycopg.Error as exc:
        print(f"  {label:38} {dsn}: FAILED: {str(exc).strip()}")
        return False
    role = "a replica" if in_recovery else "the primary"
    print(f"  {label:38} {dsn} -> {server} ({role})")
    return True


def main() -> int:
    pooler = pooler_vars()
    password = next(u["password"] for u in pooler["pgbouncer_users"] if u["name"] == "app")
    failed = status() not in (0, 1)  # 1: a warning (e.g. a replica lagging), 2: critical
    print("==> Queries from this machine (user app, password in molecule/ha/molecule.yml):")
    bouncer, pgpool = pooler["test_bouncer_port"], pooler["test_pgpool_port"]
    for label, port, dbname in (
        ("PgBouncer, app (follows the leader)", bouncer, "app"),
        ("PgBouncer, app_ro (the replicas)", bouncer, "app_ro"),
        ("Pgpool-II, app", pgpool, "app"),
        ("PgBouncer, app_pgpool (via Pgpool-II)", bouncer, "app_pgpool"),
    ):
        failed |= not query(label, port, dbname, password)
    journal = f"docker exec {POOLER} journalctl -fu poolkit-pgbouncer-follow"
    print(
        "\nTry a failover: docker kill the leader named above, watch the follower with\n"
        f"  {journal}\n"
        "and run this script again (python scripts/demo-ha-proof.py); `docker start` the\n"
        "member and it rejoins as a replica. playbooks/switchover.yml switches over with no\n"
        "client error through app and app_pgpool (molecule/ha/tests/test_switchover.py runs\n"
        "it). `make demo-ha-down` removes the lab."
    )
    print(f"(members: {', '.join(shlex.quote(m) for m in members())})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
