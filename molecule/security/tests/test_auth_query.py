"""auth_query through poolkit's lookup function: roles created after deployment log in
without a redeploy, and a role whose password expired cannot, even while a server
connection for it is pooled (CVE-2025-2291)."""

from __future__ import annotations

import secrets

import psycopg
import pytest


@pytest.fixture
def late_role(superuser_sql):
    """A login role created after deployment (not in userlist.txt); dropped afterwards."""
    name = f"late_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    superuser_sql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    yield name, password
    superuser_sql(f"DROP ROLE IF EXISTS {name}")


def test_role_created_after_deployment_logs_in(host, connect, late_role):
    name, password = late_role
    assert f'"{name}"' not in host.file("/etc/pgbouncer/userlist.txt").content_string
    with connect("pgbouncer", user=name, password=password) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (name,)


def test_expired_password_is_refused_while_a_server_connection_is_pooled(
    connect, superuser_sql, late_role
):
    name, password = late_role
    with connect("pgbouncer", user=name, password=password) as pooled:
        pooled.execute("SELECT 1")  # the pool (app, name) now holds an idle server connection
        superuser_sql(f"ALTER ROLE {name} VALID UNTIL '2000-01-01'")
        with pytest.raises(psycopg.OperationalError, match=r"authentication failed|no such user"):
            connect("pgbouncer", user=name, password=password)
    superuser_sql(f"ALTER ROLE {name} VALID UNTIL 'infinity'")
    with connect("pgbouncer", user=name, password=password) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_role_that_cannot_log_in_is_refused(connect, superuser_sql, late_role):
    name, password = late_role
    superuser_sql(f"ALTER ROLE {name} NOLOGIN")
    with pytest.raises(psycopg.OperationalError, match=r"authentication failed|no such user"):
        connect("pgbouncer", user=name, password=password)


def test_wrong_password_of_a_looked_up_role_is_refused(connect, late_role):
    name, _ = late_role
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        connect("pgbouncer", user=name, password="not-the-password")


def test_lookup_function_is_executable_by_auth_user_only(superuser_sql):
    query = "SELECT has_function_privilege('{0}', 'pgbouncer.user_lookup(text)', 'EXECUTE')"
    assert superuser_sql(query.format("pgbouncer_auth")) == "t"
    assert superuser_sql(query.format("app")) == "f"


def test_auth_user_has_no_password_anywhere(host, superuser_sql):
    """pgbouncer_auth logs in with its certificate: no password on the server, none in
    userlist.txt."""
    assert (
        superuser_sql("SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'pgbouncer_auth'")
        == "t"
    )
    assert "pgbouncer_auth" not in host.file("/etc/pgbouncer/userlist.txt").content_string
