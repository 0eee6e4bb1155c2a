"""End of `make demo`: print how to connect to the lab and prove a query goes through.

Reads the lab inventory (the same files Ansible reads), so the ports and credentials shown
are the ones deployed. Exit status 1 when an endpoint that should answer does not.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import psycopg
import yaml

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = ROOT / "inventories" / "local"
# The lab CA (roles/lab_pki, lab_pki_dir in inventories/local/group_vars/lab.yml): clients
# check every lab certificate against it, and the name they connect to (127.0.0.1).
CA_FILE = ROOT / "lab" / ".state" / "pki" / "ca.crt"

# Container port -> what listens there in the lab, and the inventory group that deploys it.
SERVICES = {
    5432: ("PostgreSQL (direct, for comparison)", "postgres"),
    6432: ("PgBouncer (transaction pooling)", "pgbouncer"),
    9999: ("Pgpool-II (load balancing)", "pgpool"),
}


# Container port -> the exporter there, its group, and the sample that proves it reads.
EXPORTERS = {
    9127: ("PgBouncer exporter", "pgbouncer", "pgbouncer_up 1"),
    9719: ("Pgpool-II exporter", "pgpool", "pgpool2_up 1.0"),
}

TLS = f"sslmode=verify-full&sslrootcert={CA_FILE}"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {} if path.exists() else {}


def endpoints() -> list[tuple[str, str, int]]:
    found = []
    for host_file in sorted((INVENTORY / "host_vars").glob("*.yml")):
        for mapping in load(host_file).get("lab_published_ports", []):
            address, host_port, container_port = str(mapping).split(":")
            if int(container_port) in SERVICES or int(container_port) in EXPORTERS:
                found.append((host_file.stem, address, int(host_port), int(container_port)))
    return found


def members(group: dict | None) -> set[str]:
    """Hosts of an inventory group, its children's included."""
    group = group or {}
    found = set(group.get("hosts") or {})
    for child in (group.get("children") or {}).values():
        found |= members(child)
    return found


def main() -> int:
    creds = load(INVENTORY / "group_vars" / "all.yml")
    user, dbname = creds["lab_app_user"], creds["lab_app_database"]
    password = creds["lab_app_password"]
    groups = load(INVENTORY / "hosts.yml")["all"]["children"]
    failed = False
    print("\nThe lab answers on 127.0.0.1 only. Password of the demo role:")
    print("  lab_app_password in inventories/local/group_vars/all.yml\n")
    for host, address, port, container_port in endpoints():
        if container_port in EXPORTERS:
            continue
        name, group = SERVICES[container_port]
        if host not in members(groups.get(group)):
            continue
        dsn = f"postgresql://{user}@{address}:{port}/{dbname}?{TLS}"
        print(f"  {name + ' on ' + host:44} {dsn}")
        try:
            with psycopg.connect(dsn, password=password, connect_timeout=5) as conn:
                row = conn.execute(
                    "SELECT current_user, current_database(), pg_backend_pid(),"
                    " split_part(version(), ' ', 2),"
                    " CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END,"
                    " (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid())"
                ).fetchone()
                client_tls = "TLS" if conn.pgconn.ssl_in_use else "no TLS"
        except psycopg.Error as exc:
            failed = True
            print(f"    FAILED: {str(exc).strip().splitlines()[-1]}")
            continue
        print(
            f"    proof: SELECT went through as {row[0]} on {row[1]}, "
            f"backend pid {row[2]} on the {row[4]}, PostgreSQL {row[3]}; "
            f"certificate verified, {client_tls} to the endpoint; PostgreSQL's side of its "
            f"connection: {row[5] or 'no TLS'}"
        )
    for host, address, port, container_port in endpoints():
        name, group, proof = EXPORTERS.get(container_port, (None, None, None))
        if name is None or host not in members(groups.get(group)):
            continue
        url = f"http://{address}:{port}/metrics"
        print(f"  {name + ' on ' + host:44} {url}")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                page = response.read().decode()
        except OSError as exc:
            failed = True
            print(f"    FAILED: {exc}")
            continue
        if proof not in page.splitlines():
            failed = True
            print(f"    FAILED: no '{proof}' in the page")
            continue
        samples = sum(1 for line in page.splitlines() if line and not line.startswith("#"))
        print(f"    proof: '{proof}' ({samples} samples), logged in as the monitor role")
    print(f"\nTry it:  psql 'postgresql://app@127.0.0.1:16432/app?{TLS}'   (through PgBouncer)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
