"""roles/postgresql: the server runs as configured and SCRAM logins work for real."""

import psycopg
import pytest


def test_service_is_running(host, hostvars):
    service = host.service(f"postgresql@{hostvars['test_expected_major']}-main")
    assert service.is_running
    assert service.is_enabled


def test_listens_on_every_interface(host):
    assert host.socket("tcp://0.0.0.0:5432").is_listening


def test_version_is_the_distributions(dsn, hostvars):
    with psycopg.connect(dsn()) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
    assert version.startswith(hostvars["test_expected_major"])


def test_max_connections_from_variable(dsn):
    with psycopg.connect(dsn()) as conn:
        assert conn.execute("SHOW max_connections").fetchone()[0] == "50"


@pytest.mark.parametrize("role", ["app", "replicator"])
def test_password_is_stored_as_scram(host, role):
    cmd = host.run(
        f"sudo -u postgres psql -Atc \"SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'\""
    )
    assert cmd.rc == 0, cmd.stderr
    assert cmd.stdout.startswith("SCRAM-SHA-256$4096:")


def test_scram_login_with_right_password(dsn):
    """On the replicas too: the login role came from the primary."""
    with psycopg.connect(dsn()) as conn:
        row = conn.execute("SELECT current_user, current_database()").fetchone()
    assert row == ("app", "app")


def test_login_with_wrong_password_fails(dsn):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(dsn(password="not-the-password"))


def test_hba_does_not_trust_anyone(host, hostvars):
    hba = host.file(f"/etc/postgresql/{hostvars['test_expected_major']}/main/pg_hba.conf")
    assert hba.mode == 0o640
    assert "trust" not in hba.content_string
