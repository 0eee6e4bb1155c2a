"""Bad input changes nothing: each invalid variable below makes the role fail before the
host changes (configuration files, unit file and PIDs identical before and after), with a
message that names the variable. Cases that depend on the release run on its host (1.24:
Debian 13, 1.18: Debian 12); the checks that do not (ANY) run on the Debian 12 host, whose
worker has fewer tests, so the two hosts' tests take about as long side by side.

The cases of a host run in one ansible-playbook run (bad-input.yml), each as an inventory
alias of the container with its own variables: about 20 s of Ansible start-up per case
saved on a busy machine. Each case must fail with no task changed; the host is compared
before and after the run. A case that writes to the host before it fails (ALONE) runs on
its own, as a user would run it."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from batch import Outcome, run_cases
from conftest import PASSWORDS, back_to_converge_yml, main_pid_of

DB = {"name": "app", "host": "pgb-pg-trixie", "dbname": "app"}
# converge.yml's console users, so a case replacing pgbouncer_users fails on its own entry.
CONSOLE_USERS = [{"name": user, "password": PASSWORDS[user]} for user in ("pgb_admin", "pgb_stats")]
TOPOLOGY = {
    "database": {"max_connections": 60, "cpu_cores": 2},
    "pools": [{"database": "app", "user": "app"}],
    "apps": [{"name": "web", "instances": 1, "processes": 2, "connections_per_process": 5}],
}

# Two users of one database sized 3:1: [users] lines, which need PgBouncer 1.23/1.24.
MIXED = {
    **TOPOLOGY,
    "pools": [
        {"database": "app", "user": "web", "share": 3},
        {"database": "app", "user": "batch", "share": 1},
    ],
}

# A check the role makes the same way on every release.
ANY = "any"

# package_source.yml writes the apt source, then takes it out again when apt cannot read
# it; every other case's run would remove that file first (no pgbouncer_package_source).
ALONE = {"package-source-unknown-suite"}

# (id, extra variables, the variable the message must name, PgBouncer release or ANY)
CASES = [
    ("pool-mode-enum", {"pgbouncer_pool_mode": "transactions"}, "pgbouncer_pool_mode", ANY),
    ("auth-type-enum", {"pgbouncer_auth_type": "password1"}, "pgbouncer_auth_type", ANY),
    (
        "password-method-enum",
        {"pgbouncer_password_method": "sha1"},
        "pgbouncer_password_method",
        ANY,
    ),
    (
        "pool-size-negative",
        {"pgbouncer_default_pool_size": -1},
        "pgbouncer_default_pool_size",
        ANY,
    ),
    (
        "pool-size-text",
        {"pgbouncer_default_pool_size": "lots"},
        "pgbouncer_default_pool_size",
        ANY,
    ),
    (
        "reserve-negative",
        {"pgbouncer_reserve_pool_size": -2},
        "pgbouncer_reserve_pool_size",
        ANY,
    ),
    ("min-above-pool", {"pgbouncer_min_pool_size": 50}, "pgbouncer_min_pool_size", ANY),
    ("max-client-conn-zero", {"pgbouncer_max_client_conn": 0}, "pgbouncer_max_client_conn", ANY),
    ("processes-zero", {"pgbouncer_processes": 0}, "pgbouncer_processes", ANY),
    ("port-out-of-range", {"pgbouncer_listen_port": 70000}, "pgbouncer_listen_port", ANY),
    ("nofile-too-low", {"pgbouncer_limit_nofile": 10}, "pgbouncer_limit_nofile", ANY),
    (
        "database-without-host",
        {"pgbouncer_databases": [{"name": "app"}]},
        "pgbouncer_databases[0]",
        ANY,
    ),
    (
        "database-pool-mode-enum",
        {"pgbouncer_databases": [{**DB, "pool_mode": "bogus"}]},
        "pgbouncer_databases[0]",
        ANY,
    ),
    (
        "database-unknown-key",
        {"pgbouncer_databases": [{**DB, "pool_sizee": 3}]},
        "pgbouncer_databases[0]",
        ANY,
    ),
    (
        "database-negative-pool",
        {"pgbouncer_databases": [{**DB, "pool_size": -3}]},
        "pgbouncer_databases[0]",
        ANY,
    ),
    (
        "unknown-setting",
        {"pgbouncer_extra_settings": {"pool_sizes": 3}},
        "pgbouncer_extra_settings",
        ANY,
    ),
    (
        "setting-has-a-variable",
        {"pgbouncer_extra_settings": {"pool_mode": "session"}},
        "pgbouncer_extra_settings",
        ANY,
    ),
    (
        "user-without-password",
        {"pgbouncer_users": [{"name": "app"}, *CONSOLE_USERS]},
        "pgbouncer_users",
        "1.24",
    ),
    (
        "user-malformed-verifier",
        {
            "pgbouncer_users": [
                {"name": "app", "verifier": "SCRAM-SHA-256$nonsense"},
                *CONSOLE_USERS,
            ]
        },
        "pgbouncer_users[0]",
        "1.24",
    ),
    ("admin-not-a-user", {"pgbouncer_admin_users": ["nobody"]}, "pgbouncer_admin_users", "1.24"),
    ("hba-without-rules", {"pgbouncer_auth_type": "hba"}, "pgbouncer_auth_hba_rules", "1.24"),
    (
        "auth-query-without-user",
        {"pgbouncer_auth_query": "SELECT 1"},
        "pgbouncer_auth_user",
        "1.24",
    ),
    (
        "tls-without-certificate",
        {"pgbouncer_client_tls_sslmode": "require"},
        "pgbouncer_client_tls_cert_file",
        "1.24",
    ),
    (
        "tls-file-missing",
        {
            "pgbouncer_client_tls_sslmode": "require",
            "pgbouncer_client_tls_cert_file": "/etc/ssl/certs/ssl-cert-snakeoil.pem",
            "pgbouncer_client_tls_key_file": "/etc/poolkit/tls/missing.key",
        },
        "pgbouncer_client_tls_key_file",
        "1.24",
    ),
    (
        "server-tls-verify-without-ca",
        {"pgbouncer_server_tls_sslmode": "verify-full"},
        "pgbouncer_server_tls_ca_file",
        "1.24",
    ),
    (
        "topology-unknown-key",
        {"pgbouncer_topology": {**TOPOLOGY, "database": {"max_conections": 60}}},
        "database.max_conections",
        "1.24",
    ),
    (
        "topology-without-budget",
        {"pgbouncer_topology": {**TOPOLOGY, "database": {"max_connections": 3, "cpu_cores": 2}}},
        "database.max_connections",
        "1.24",
    ),
    (
        "pools-above-max-connections",
        {"pgbouncer_topology": TOPOLOGY, "pgbouncer_databases": [{**DB, "pool_size": 80}]},
        "pgbouncer_databases[0]",
        "1.24",
    ),
    (
        "exporter-as-admin",
        {"pgbouncer_exporter_user": "pgb_admin"},
        "pgbouncer_exporter_user",
        "1.24",
    ),
    # Known advisories (src/poolkit/advisories.py): Debian 13's 1.24.1 without the ones
    # molecule.yml accepts, the old ignore list that lets one packet spin 1.24.1, a packet
    # limit past 2^31, an id that is no advisory, an apt source apt cannot read.
    ("advisory-not-accepted", {"pgbouncer_accepted_advisories": []}, "CVE-2026-107350", "1.24"),
    (
        "ignore-list-spins",
        {"pgbouncer_ignore_startup_parameters": ["extra_float_digits"]},
        "CVE-2026-107349",
        "1.24",
    ),
    (
        "packet-limit-overflows",
        {"pgbouncer_max_packet_size": 2147483649},
        "CVE-2026-107348",
        "1.24",
    ),
    (
        "accepted-unknown-id",
        {"pgbouncer_accepted_advisories": ["CVE-2026-1"]},
        "pgbouncer_accepted_advisories",
        "1.24",
    ),
    (
        "package-source-unknown-suite",
        {"pgbouncer_package_source": {"suite": "no-such-suite"}},
        "pgbouncer_package_source",
        "1.24",
    ),
    (
        "advisory-not-accepted-1.18",
        {"pgbouncer_accepted_advisories": ["CVE-2026-107350", "CVE-2026-19888", "CVE-2026-6669"]},
        "CVE-2026-6664",
        "1.18",
    ),
    # Debian 12's prometheus-pgbouncer-exporter is another program: refused there.
    (
        "exporter-on-debian-12",
        {"pgbouncer_exporter_enabled": True},
        "pgbouncer_exporter_enabled",
        "1.18",
    ),
    # Settings the installed version does not know (PgBouncer 1.18 on Debian 12).
    (
        "setting-too-new",
        {"pgbouncer_max_db_client_connections": 5},
        "pgbouncer_max_db_client_connections",
        "1.18",
    ),
    (
        "per-user-pools-too-new",
        {"pgbouncer_topology": MIXED, "pgbouncer_databases": [DB]},
        "pooler_topology (user web: pool_size",
        "1.18",
    ),
    (
        "prepared-statements-too-new",
        {"pgbouncer_max_prepared_statements": 10},
        "pgbouncer_max_prepared_statements",
        "1.18",
    ),
]


def apt_sources(host) -> str:
    """The apt sources and pins: a refused package source must leave none behind."""
    return host.run("ls /etc/apt/sources.list.d /etc/apt/preferences.d 2>/dev/null").stdout


def release(host) -> str:
    return "1.18" if "bookworm" in host.backend.host else "1.24"


def runs_on(applies_to: str) -> str:
    return "1.18" if applies_to == ANY else applies_to


def snapshot(host) -> dict[str, str]:
    """What a change would touch: every file the role writes, the running PID and the apt
    sources."""
    files = host.run(
        "sha256sum /etc/pgbouncer/* /etc/systemd/system/pgbouncer@.service"
        " /etc/tmpfiles.d/pgbouncer-poolkit.conf /etc/logrotate.d/pgbouncer-poolkit"
        " /etc/poolkit/credentials/* /etc/poolkit/pgbouncer-exporter/*"
        " /etc/systemd/system/poolkit-pgbouncer-exporter@.service 2>/dev/null"
    ).stdout
    return {"files": files, "pid": main_pid_of(host), "apt sources": apt_sources(host)}


def failure_message(output: str) -> str:
    """The failure Ansible reported (task names above it may name any variable)."""
    match = re.search(r"(fatal: |\[ERROR\]|ERROR!)", output)
    assert match, f"no failure in the output:\n{output[-3000:]}"
    return output[match.start() :]


@dataclass
class Batch:
    outcomes: dict[str, Outcome]
    before: dict[str, str]
    after: dict[str, str]
    output_tail: str


@pytest.fixture(scope="module")
def batch(host):
    """Every case of this host's release but the ALONE ones, in one run of bad-input.yml."""
    name = host.backend.host
    back_to_converge_yml(name)
    cases = {
        case: extra
        for case, extra, _, applies_to in CASES
        if case not in ALONE and runs_on(applies_to) == release(host)
    }
    before = snapshot(host)
    playbook = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / "bad-input.yml"
    found, tail = run_cases(playbook, name, "pgbouncer", cases)
    if found is None:
        pytest.fail(f"bad-input.yml printed no JSON document:\n{tail}")
    return Batch(found, before, snapshot(host), tail)


@pytest.mark.parametrize(
    ("case", "extra", "variable", "applies_to"),
    [pytest.param(*spec, id=spec[0]) for spec in CASES],
)
def test_bad_input_fails_before_any_change(
    request, host, converge, case, extra, variable, applies_to
):
    if release(host) != runs_on(applies_to):
        pytest.skip(f"runs on the PgBouncer {runs_on(applies_to)} host")
    if case in ALONE:
        before = snapshot(host)
        run = converge(json.dumps(extra))
        output = run.stdout + run.stderr  # molecule's ansible.cfg sends failures to stderr
        assert run.returncode != 0, output[-3000:]
        message = failure_message(output)
        assert variable in message, message[:3000]
        assert snapshot(host) == before
        return
    batch = request.getfixturevalue("batch")
    outcome = batch.outcomes[case]
    assert outcome.failures, f"{case} did not fail: {outcome.stats}\n{batch.output_tail}"
    assert any(variable in message for message in outcome.failures), outcome.failures
    assert outcome.stats.get("changed") == 0, (outcome.stats, outcome.failures)
    assert batch.after == batch.before


def test_the_table_has_twenty_cases():
    assert len({case for case, *_ in CASES}) == len(CASES)
    assert sum(1 for *_, version in CASES if version in ("1.24", ANY)) >= 20
