"""Bad follow input fails before the pooler host changes (its PgBouncer, Pgpool-II and
follower files and PIDs identical before and after), with a message that names the
variable. The PgBouncer cases share one run of the pooler's play (bad-input.yml imports
pooler.yml, which converge.yml imports), each case an inventory alias of the pooler
(molecule/shared/batch.py), with no task changed; the Pgpool-II case runs pgpool.yml."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from conftest import POOLER

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from batch import run_cases
from converge import run_playbook

BAD_INPUT_PLAY = Path(__file__).resolve().parents[1] / "bad-input.yml"
PGPOOL_PLAY = Path(__file__).resolve().parents[1] / "pgpool.yml"

CASES = [
    ("no-endpoints", {"pgbouncer_patroni_endpoints": []}, "pgbouncer_patroni_endpoints: empty"),
    (
        "endpoint-not-a-url",
        {"pgbouncer_patroni_endpoints": ["ha-pg1-trixie:8008"]},
        "pgbouncer_patroni_endpoints[0]",
    ),
    (
        "host-and-follow",
        {"pgbouncer_databases": [{"name": "app", "follow": "leader", "host": "ha-pg1-trixie"}]},
        "pgbouncer_databases[0] (app): both host and follow",
    ),
    (
        "follow-unknown",
        {"pgbouncer_databases": [{"name": "app", "follow": "primary"}]},
        "pgbouncer_databases[0] (app).follow",
    ),
    (
        "replica-lag-negative",
        {"pgbouncer_follow_max_replica_lag": -1},
        "pgbouncer_follow_max_replica_lag: expected a whole number >= 0",
    ),
    (
        "hold-not-a-boolean",
        {
            "pgbouncer_databases": [
                {"name": "app_pgpool", "host": "/var/run/postgresql", "hold_at_switchover": "yes"}
            ]
        },
        "pgbouncer_databases[0] (app_pgpool).hold_at_switchover: expected true or false",
    ),
    (
        "pgpool-local-trust-open-socket",
        {"pgpool_extra_settings": {"unix_socket_permissions": "0777"}},
        "pgpool_hba_rules[0]: local trust, but pgpool_extra_settings.unix_socket_permissions is",
    ),
    (
        "pgpool-endless-search",
        {"pgpool_extra_settings": {"search_primary_node_timeout": 0}},
        "pgpool_extra_settings.search_primary_node_timeout: 0 (search forever)",
    ),
]
#: Cases of the Pgpool-II role run its play alone (the PgBouncer role has nothing to check).
PGPOOL_CASES = {"pgpool-endless-search", "pgpool-local-trust-open-socket"}


def snapshot(pooler) -> str:
    return pooler.run(
        "sha256sum /etc/pgbouncer/* /etc/poolkit/pgbouncer-follow.json"
        " /etc/systemd/system/poolkit-pgbouncer-follow.service /etc/pgpool2/pgpool.conf"
        " /etc/poolkit/pgpool-follow.json /etc/systemd/system/poolkit-pgpool-follow.service;"
        " systemctl show -p MainPID --value pgbouncer@1 poolkit-pgbouncer-follow pgpool2"
        " poolkit-pgpool-follow"
    ).stdout


@pytest.fixture(scope="module")
def batch(pooler):
    """The PgBouncer cases in one run of bad-input.yml, with the pooler's snapshots around it."""
    cases = {case: extra for case, extra, _ in CASES if case not in PGPOOL_CASES}
    before = snapshot(pooler)
    found, tail = run_cases(BAD_INPUT_PLAY, POOLER, "poolers", cases)
    if found is None:
        pytest.fail(f"bad-input.yml printed no JSON document:\n{tail}")
    return found, before, snapshot(pooler), tail


@pytest.mark.parametrize(
    ("case", "extra", "message"), [pytest.param(*spec, id=spec[0]) for spec in CASES]
)
def test_bad_follow_input_fails_before_any_change(request, pooler, case, extra, message):
    if case in PGPOOL_CASES:
        before = snapshot(pooler)
        run = run_playbook(PGPOOL_PLAY, POOLER, json.dumps(extra))
        output = run.stdout + run.stderr
        assert run.returncode != 0, output[-3000:]
        failure = output[re.search(r"(fatal: |\[ERROR\]|ERROR!)", output).start() :]
        assert message in failure, failure[:3000]
        assert snapshot(pooler) == before
        return
    found, before, after, tail = request.getfixturevalue("batch")
    outcome = found[case]
    assert outcome.failures, f"{case} did not fail: {outcome.stats}\n{tail}"
    assert any(message in failure for failure in outcome.failures), outcome.failures
    assert outcome.stats.get("changed") == 0, (outcome.stats, outcome.failures)
    assert after == before
