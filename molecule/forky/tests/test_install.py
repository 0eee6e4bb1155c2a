"""Installed from scratch from Debian forky's own packages: PgBouncer 1.26.1, Pgpool-II
4.7.3 and PostgreSQL 18, each answering a query (through each pooler to PostgreSQL 18)."""

from __future__ import annotations

import pytest
from conftest import PGBOUNCER_UNIT, PGPOOL_UNIT


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pgbouncer --version", "PgBouncer 1.26.1"),
        ("pgpool --version", "pgpool-II version 4.7.3"),
    ],
)
def test_the_pooler_binaries_are_forkys(host, command, expected):
    run = host.run(command)  # pgpool prints its version on stderr
    assert run.rc == 0
    assert expected in run.stdout + run.stderr, run.stdout + run.stderr


@pytest.mark.parametrize("unit", [PGBOUNCER_UNIT, PGPOOL_UNIT])
def test_the_poolers_run_and_start_at_boot(host, unit):
    service = host.service(unit)
    assert service.is_running
    assert service.is_enabled


def test_no_package_source_pins_pgbouncer(host):
    # forky's own PgBouncer: the role's apt source and pin (pgbouncer_package_source) absent.
    policy = host.check_output("apt-cache policy pgbouncer")
    assert "Installed: 1.26.1" in policy, policy
    assert not host.run("ls /etc/apt/preferences.d/ | grep -i poolkit").stdout.strip()


@pytest.mark.parametrize("pooler", ["bouncer", "pgpool"])
def test_a_query_through_each_pooler_reaches_postgresql_18(host, request, pooler):
    with request.getfixturevalue(pooler)() as conn:
        number = conn.execute("SHOW server_version_num").fetchone()[0]
        row = conn.execute("SELECT current_user, current_database(), 6 * 7").fetchone()
    print(f"\nthrough {pooler}: server_version_num {number}")
    assert int(number) // 10000 == 18
    assert row == ("app", "app", 42)
