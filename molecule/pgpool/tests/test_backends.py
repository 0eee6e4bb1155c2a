"""roles/postgresql, on the backends Pgpool-II stands in front of (a primary and a streaming
replica per release): the server runs as configured, SCRAM logins work for real, the primary
streams to its replica (through a physical slot on Debian 13, without one on Debian 12), the
replica serves reads and refuses writes, and the replication password is in no PostgreSQL
file. (These were the `postgresql` scenario's tests: the same role, the same hosts' kind,
without a second set of containers to create and converge.)"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from conftest import PASSWORDS, wait_for

REPLICATION_PASSWORD = "molecule-replication-secret"  # molecule.yml's test value
WAIT_SECONDS = 10
BACKENDS = ["primary", "replica"]


def poll(check):
    """conftest.wait_for with this file's bound: WAIT_SECONDS, asking every 0.2 s."""
    return wait_for(check, timeout=WAIT_SECONDS, interval=0.2)


def psql(host, sql):
    cmd = host.run("sudo -u postgres psql -Atc %s", sql)
    assert cmd.rc == 0, cmd.stderr
    return cmd.stdout.strip()


@pytest.fixture
def major(hostvars):
    return str(hostvars["test_expected_major"])


@pytest.mark.parametrize("which", BACKENDS)
def test_the_service_runs_and_listens_on_every_interface(other_host, major, which):
    backend = other_host(which)
    service = backend.service(f"postgresql@{major}-main")
    assert service.is_running and service.is_enabled
    assert backend.socket("tcp://0.0.0.0:5432").is_listening


@pytest.mark.parametrize("which", BACKENDS)
def test_version_and_max_connections_are_the_configured_ones(backend, hostvars, major, which):
    conn = backend(which)
    assert conn.execute("SHOW server_version_num").fetchone()[0].startswith(major)
    expected = str(hostvars["postgresql_max_connections"])
    assert conn.execute("SHOW max_connections").fetchone()[0] == expected


@pytest.mark.parametrize("role", ["app", "replicator"])
def test_passwords_are_stored_as_scram(other_host, role):
    stored = psql(
        other_host("primary"), f"SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'"
    )
    assert stored.startswith("SCRAM-SHA-256$4096:")


@pytest.mark.parametrize("which", BACKENDS)
def test_a_scram_login_needs_the_right_password(backend, hostvars, which):
    """On the replica too: the login role came from the primary."""
    row = backend(which).execute("SELECT current_user, current_database()").fetchone()
    assert row == ("app", "app")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host="127.0.0.1",
            port=hostvars[f"test_{which}_port"],
            dbname="app",
            user="app",
            password=PASSWORDS["app"] + "-wrong",
            connect_timeout=5,
        )


@pytest.mark.parametrize("which", BACKENDS)
def test_hba_trusts_no_one(other_host, major, which):
    hba = other_host(which).file(f"/etc/postgresql/{major}/main/pg_hba.conf")
    assert hba.mode == 0o640
    assert "trust" not in hba.content_string


@pytest.mark.parametrize("which", BACKENDS)
def test_recovery_state_matches_the_role(backend, which):
    in_recovery = backend(which).execute("SELECT pg_is_in_recovery()").fetchone()[0]
    assert in_recovery is (which == "replica")


def test_a_row_written_on_the_primary_is_read_on_the_replica(backend):
    token = str(uuid.uuid4())
    primary = backend("primary")
    primary.execute("CREATE TABLE IF NOT EXISTS replication_probe (token text PRIMARY KEY)")
    primary.execute("INSERT INTO replication_probe VALUES (%s)", (token,))
    replica = backend("replica")

    def replicated():
        try:
            sql = "SELECT count(*) FROM replication_probe WHERE token = %s"
            return replica.execute(sql, (token,)).fetchone()[0] == 1
        except psycopg.errors.UndefinedTable:  # the CREATE TABLE has not arrived yet
            return False

    assert poll(replicated), f"row {token} not on the replica after {WAIT_SECONDS}s"


def test_the_replica_refuses_writes(backend):
    refused = pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="read-only transaction")
    with refused:
        backend("replica").execute("CREATE TABLE refused_on_replica (id int)")


def test_the_primary_streams_to_its_replica_through_its_slot(other_host, hostvars):
    primary = other_host("primary")
    sql = "SELECT application_name || ' ' || state FROM pg_stat_replication"
    expected = f"{hostvars['test_replica_host']} streaming"
    assert poll(lambda: expected in psql(primary, sql).splitlines()), psql(primary, sql)
    slot = hostvars.get("test_replication_slot", "")
    if not slot:
        return  # this release's pair streams without a slot
    sql = f"SELECT slot_type, active FROM pg_replication_slots WHERE slot_name = '{slot}'"
    assert poll(lambda: psql(primary, sql) == "physical|t"), psql(primary, sql)


@pytest.mark.parametrize("which", BACKENDS)
@pytest.mark.parametrize("directory", ["/etc/postgresql", "/var/lib/postgresql/{major}/main"])
def test_the_replication_password_is_in_no_postgresql_file(other_host, major, which, directory):
    cmd = other_host(which).run(
        "grep -rlF -e %s %s", REPLICATION_PASSWORD, directory.format(major=major)
    )
    assert cmd.rc == 1, f"found in: {cmd.stdout} {cmd.stderr}"


def test_the_replicas_conninfo_names_a_private_passfile_and_no_password(other_host, major):
    replica = other_host("replica")
    auto_conf = replica.file(f"/var/lib/postgresql/{major}/main/postgresql.auto.conf")
    assert auto_conf.user == "postgres"
    assert auto_conf.mode == 0o600
    content = auto_conf.content_string
    assert "primary_conninfo = 'host=" in content
    assert "passfile=''/var/lib/postgresql/.pgpass''" in content
    assert "password=" not in content
    assert REPLICATION_PASSWORD not in content
    passfile = replica.file("/var/lib/postgresql/.pgpass")
    assert passfile.user == "postgres"
    assert passfile.mode == 0o600
