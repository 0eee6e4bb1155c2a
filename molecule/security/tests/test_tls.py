"""TLS end to end: clients verify the poolers' certificates (verify-full), the poolers
refuse clients without TLS, and their connections to PostgreSQL are encrypted
(pg_stat_ssl), PgBouncer's verified against the server's name."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization

from poolkit.pgbouncer import host_lists_connect, parse_version

SSL_ROW = "SELECT ssl, version, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@pytest.mark.parametrize("service", ["pgbouncer", "pgpool", "postgres"])
def test_verify_full_client_connects(connect, service):
    with connect(service) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("service", ["pgbouncer", "pgpool"])
def test_verify_full_client_refuses_a_name_the_certificate_lacks(connect, service):
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        connect(service, name="not-the-pooler")


@pytest.mark.parametrize(
    ("service", "refusal"),
    [
        ("pgbouncer", "SSL required"),
        ("pgpool", "no pool_hba.conf entry"),
        ("postgres", "no pg_hba.conf entry"),
    ],
)
def test_client_without_tls_is_refused(connect, service, refusal):
    with pytest.raises(psycopg.OperationalError, match=refusal):
        connect(service, sslmode="disable")


def test_pgbouncer_server_connections_are_encrypted_with_its_client_certificate(connect):
    with connect("pgbouncer") as conn:
        ssl, version, client_dn = conn.execute(SSL_ROW).fetchone()
    print(f"\nPgBouncer -> PostgreSQL: ssl={ssl} {version}, client certificate {client_dn}")
    assert ssl is True
    assert version.startswith("TLSv1.")
    assert client_dn == "/CN=pgbouncer_auth"


def test_pgpool_backend_connections_are_encrypted(connect):
    with connect("pgpool") as conn:
        # Pgpool-II may send a read to any backend; this release has one.
        ssl, version, _ = conn.execute(SSL_ROW).fetchone()
    print(f"\nPgpool-II -> PostgreSQL: ssl={ssl} {version}")
    assert ssl is True


def test_pgbouncer_refuses_a_server_whose_certificate_lacks_the_name(host, connect):
    """app_by_address reaches the same server by IP address, which its certificate does not
    carry: with server_tls_sslmode verify-full PgBouncer must not log in."""
    start = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        connect("pgbouncer", dbname="app_by_address", connect_timeout=5)
    print(f"\napp_by_address refused after {time.monotonic() - start:.1f} s")
    log = host.file("/var/log/pgbouncer/pgbouncer-1.log").content_string
    assert "not present in server certificate" in log


def test_a_verify_full_host_list_connects_exactly_where_poolkit_says_it_can(host, connect):
    """app_list names the server twice (host=sec-pg-trixie,sec-pg-trixie). PgBouncer before
    1.25 checks the certificate against the whole list (pgbouncer#1300), so with verify-full
    it never logs in; 1.25 and later check each host. poolkit.pgbouncer.host_lists_connect
    says which, and `poolkit follow` writes a read-only pool's replicas as a host list only
    where it is true (one replica otherwise: docs/ha.md)."""
    version = parse_version(host.check_output("pgbouncer --version"))
    if tuple(int(part) for part in version.split(".")[:2]) < (1, 24):
        pytest.skip(f"PgBouncer {version} has no host lists (molecule.yml: no app_list)")
    if host_lists_connect(version, "verify-full"):
        with connect("pgbouncer", dbname="app_list") as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("app",)
        print(f"\nPgBouncer {version}: app_list (a host list) logs in with verify-full")
        return
    start = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        connect("pgbouncer", dbname="app_list", connect_timeout=5)
    log = host.file("/var/log/pgbouncer/pgbouncer-1.log").content_string
    lines = [line for line in log.splitlines() if "sec-pg-trixie,sec-pg-trixie" in line]
    print(f"\nPgBouncer {version}: app_list refused after {time.monotonic() - start:.1f} s")
    print("\n".join(lines[-3:]))
    assert lines, "no log line names the host list"


def test_private_keys_are_readable_by_root_and_ssl_cert_only(host):
    for name in ("server", "pgbouncer_auth"):
        key = host.file(f"/etc/poolkit/tls/{name}.key")
        assert (key.user, key.group, key.mode) == ("root", "ssl-cert", 0o640), name
    assert "ssl-cert" in host.user("postgres").groups


def test_ca_key_on_the_controller_is_encrypted(ca_file):
    key = Path(ca_file).with_name("ca.key")
    assert key.stat().st_mode & 0o777 == 0o600
    with pytest.raises(TypeError, match="encrypted"):
        serialization.load_pem_private_key(key.read_bytes(), password=None)
