"""roles/postgresql streaming replication: each primary streams to its replica, which serves
reads, refuses writes, and keeps the replication password out of the PostgreSQL files."""

import time
import uuid

import psycopg
import pytest
from conftest import REPLICATION_PASSWORD

WAIT_SECONDS = 10


def poll(check, seconds=WAIT_SECONDS):
    """Call check() until it returns a truthy value or the time is up; return its last value."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def psql(host, sql):
    cmd = host.run("sudo -u postgres psql -Atc %s", sql)
    assert cmd.rc == 0, cmd.stderr
    return cmd.stdout.strip()


def test_recovery_state_matches_the_role(dsn, hostvars):
    with psycopg.connect(dsn()) as conn:
        in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    assert in_recovery is (hostvars["test_role"] == "replica")


@pytest.mark.only("replica")
def test_row_written_on_primary_is_read_on_replica(dsn, primary_dsn):
    token = str(uuid.uuid4())
    with psycopg.connect(primary_dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS replication_probe (token text PRIMARY KEY)")
        conn.execute("INSERT INTO replication_probe VALUES (%s)", (token,))

    def replicated():
        try:
            with psycopg.connect(dsn(), autocommit=True) as conn:
                sql = "SELECT count(*) FROM replication_probe WHERE token = %s"
                return conn.execute(sql, (token,)).fetchone()[0] == 1
        except psycopg.errors.UndefinedTable:  # the CREATE TABLE has not arrived yet
            return False

    assert poll(replicated), f"row {token} not on the replica after {WAIT_SECONDS}s"


@pytest.mark.only("replica")
def test_replica_refuses_writes(dsn):
    refused = pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="read-only transaction")
    with psycopg.connect(dsn()) as conn, refused:
        conn.execute("CREATE TABLE refused_on_replica (id int)")


@pytest.mark.only("primary")
def test_primary_streams_to_its_replica(host, hostvars):
    sql = "SELECT application_name || ' ' || state FROM pg_stat_replication"
    expected = f"{hostvars['test_replica']} streaming"
    assert poll(lambda: expected in psql(host, sql).splitlines()), psql(host, sql)


@pytest.mark.only("primary")
def test_replica_holds_the_slot(host, hostvars):
    slot = hostvars.get("postgresql_replication_slot", "")
    if not slot:
        pytest.skip("this pair streams without a slot")
    sql = f"SELECT slot_type, active FROM pg_replication_slots WHERE slot_name = '{slot}'"
    assert poll(lambda: psql(host, sql) == "physical|t"), psql(host, sql)


@pytest.mark.parametrize("directory", ["/etc/postgresql", "/var/lib/postgresql/{major}/main"])
def test_replication_password_not_in_plaintext(host, hostvars, directory):
    path = directory.format(major=hostvars["test_expected_major"])
    cmd = host.run("grep -rlF -e %s %s", REPLICATION_PASSWORD, path)
    assert cmd.rc == 1, f"found in: {cmd.stdout} {cmd.stderr}"


@pytest.mark.only("replica")
def test_primary_conninfo_carries_no_password(host, hostvars):
    auto_conf = host.file(
        f"/var/lib/postgresql/{hostvars['test_expected_major']}/main/postgresql.auto.conf"
    )
    assert auto_conf.user == "postgres"
    assert auto_conf.mode == 0o600
    content = auto_conf.content_string
    assert "primary_conninfo = 'host=" in content
    assert "passfile=''/var/lib/postgresql/.pgpass''" in content
    assert "password=" not in content
    assert REPLICATION_PASSWORD not in content


@pytest.mark.only("replica")
def test_passfile_is_private_to_postgres(host):
    passfile = host.file("/var/lib/postgresql/.pgpass")
    assert passfile.user == "postgres"
    assert passfile.mode == 0o600
