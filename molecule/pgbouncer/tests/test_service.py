"""The service as deployed: running, listening, sized, and holding no plaintext secret."""

import os

import psycopg
import pytest
import testinfra
from conftest import PASSWORDS

from poolkit import pgbouncer


def test_service_enabled_and_running(host):
    service = host.service("pgbouncer@1.service")
    assert service.is_running
    assert service.is_enabled


def test_packaged_unit_is_masked(host):
    assert host.run("systemctl is-enabled pgbouncer.service").stdout.strip() == "masked"


def test_port_listening(host):
    assert host.socket("tcp://0.0.0.0:6432").is_listening


def test_userlist_mode_and_owner(host):
    userlist = host.file("/etc/pgbouncer/userlist.txt")
    assert userlist.mode == 0o640
    assert userlist.user == "postgres"


@pytest.mark.parametrize("user", sorted(PASSWORDS))
def test_no_plaintext_password_under_etc_pgbouncer(host, user):
    found = host.run(f"grep -rlF -- '{PASSWORDS[user]}' /etc/pgbouncer")
    assert found.rc == 1, f"plaintext password of {user} in {found.stdout}"


@pytest.mark.parametrize("user", sorted(PASSWORDS))
def test_userlist_holds_scram_verifiers(host, user):
    content = host.file("/etc/pgbouncer/userlist.txt").content_string
    assert f'"{user}" "SCRAM-SHA-256$4096:' in content


def test_limit_nofile_as_sized(host, bouncer):
    # 60 clients; pools 3 + 2 + (2 + 2 reserve) + 1 per process: poolkit's formula.
    expected = pgbouncer.nofile(60, 3 + 2 + 4 + 1)
    pid = host.run("systemctl show -p MainPID --value pgbouncer@1.service").stdout.strip()
    limits = host.run(f"cat /proc/{pid}/limits").stdout
    line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert line.split()[3] == str(expected)


def test_scram_login_with_right_password(bouncer):
    with bouncer() as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "app"


def test_login_with_wrong_password_fails(bouncer):
    # PgBouncer answers a failed SCRAM exchange with "SASL authentication failed".
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        bouncer(password="not-the-password")


def test_server_role_holds_the_userlist_verifier(host, hostvars):
    pg = testinfra.get_host(
        f"ansible://{hostvars['test_pg_host']}?ansible_inventory={os.environ['MOLECULE_INVENTORY_FILE']}"
    )
    query = "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'"
    server = pg.run(f'sudo -u postgres psql -Atc "{query}"').stdout.strip()
    userlist = host.file("/etc/pgbouncer/userlist.txt").content_string
    assert server.startswith("SCRAM-SHA-256$")
    assert f'"app" "{server}"' in userlist


def test_stats_user_cannot_reload(bouncer):
    with bouncer(dbname="pgbouncer", user="pgb_stats") as console:
        assert console.execute("SHOW POOLS").fetchall()
        with pytest.raises(psycopg.Error, match="admin access needed"):
            console.execute("RELOAD")


def show_config(bouncer):
    with bouncer(dbname="pgbouncer", user="pgb_admin") as console:
        cur = console.execute("SHOW CONFIG")
        cols = [c.name for c in cur.description]
        return {row[cols.index("key")]: row for row in cur.fetchall()}, cols


def installed_version(host):
    return pgbouncer.parse_version(host.run("pgbouncer --version").stdout)


def test_known_settings_table_matches_the_installed_version(host, bouncer):
    config, _ = show_config(bouncer)
    expected = pgbouncer.keys_read_by(installed_version(host))
    # conffile and service_name are internal/Windows-only: poolkit never renders them.
    assert set(config) - {"conffile", "service_name"} == expected


def test_restart_keys_are_what_pgbouncer_cannot_reload(bouncer):
    config, cols = show_config(bouncer)
    fixed = {key for key, row in config.items() if row[cols.index("changeable")] == "no"}
    assert fixed - {"conffile", "service_name"} == pgbouncer.RESTART_KEYS & set(config)
