"""Fixtures for the security scenario: TLS connections through PgBouncer, Pgpool-II and
straight to PostgreSQL that verify the lab CA's certificates, and SQL as the postgres
superuser on the backend (to create and expire roles)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import psycopg
import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from journal import journal_hook

# converge.yml's throwaway test password (containers on 127.0.0.1 only).
APP_PASSWORD = "molecule-app-secret"


@pytest.fixture
def hostvars(host):
    return host.ansible.get_variables()


@pytest.fixture
def ca_file():
    """The lab CA certificate roles/lab_pki made on the controller."""
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "pki" / "ca.crt"
    assert path.is_file(), f"{path}: the lab CA certificate is missing"
    return str(path)


@pytest.fixture
def connect(host, hostvars, ca_file):
    """connect(service, ...): a connection to 'pgbouncer', 'pgpool' or 'postgres' of this
    release. By default sslmode=verify-full against the lab CA, checking the certificate
    for the server's inventory name (while connecting to its port on 127.0.0.1)."""
    ports = {
        "pgbouncer": (host.backend.host, hostvars["test_bouncer_port"]),
        "pgpool": (host.backend.host, hostvars.get("test_pgpool_port")),
        "postgres": (hostvars["test_pg_host"], hostvars["test_pg_port"]),
    }

    def open_(service, user="app", password=APP_PASSWORD, dbname="app", name=None, **kwargs):
        if service == "pgpool" and "pgpool" not in hostvars["group_names"]:
            pytest.skip(f"{host.backend.host} runs no Pgpool-II (molecule.yml groups)")
        server_name, port = ports[service]
        kwargs.setdefault("sslmode", "verify-full")
        kwargs.setdefault("sslrootcert", ca_file)
        kwargs.setdefault("connect_timeout", 10)
        kwargs.setdefault("autocommit", True)
        # PgBouncer 1.18 in transaction mode cannot carry prepared statements.
        kwargs.setdefault("prepare_threshold", None)
        return psycopg.connect(
            host=name or server_name,
            hostaddr="127.0.0.1",
            port=port,
            dbname=dbname,
            user=user,
            password=password,
            **kwargs,
        )

    return open_


@pytest.fixture
def superuser_sql(hostvars):
    """superuser_sql(query): run SQL as postgres on the backend of this release; stdout."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    pg = testinfra.get_host(f"ansible://{hostvars['test_pg_host']}?ansible_inventory={inventory}")

    def run(query, dbname="app"):
        result = pg.run(
            f"runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 -d {dbname} "
            f"-c {shlex.quote(query)}"
        )
        assert result.rc == 0, result.stderr
        return result.stdout.strip()

    return run


pytest_runtest_makereport = journal_hook("pgbouncer@*", "pgbouncer journal")
