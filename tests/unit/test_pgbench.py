"""What `poolkit calibrate` asks of pgbench and reads back (poolkit.pgbench): the plan of runs
within the time budget, the command line, the scratch schema, and the tps of its output.

tests/unit/pgbench/pg15-*.txt are pgbench 15.18's own output (Debian 15.18-0+deb12u1),
captured against a scratch PostgreSQL 15 server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from poolkit import PoolkitError
from poolkit.pgbench import (
    MAX_DURATION,
    MIN_DURATION,
    SCHEMA,
    concurrency_levels,
    on_this_host,
    parse_tps,
    pgbench_argv,
    plan_runs,
    scratch_script,
    scratch_setup_sql,
    shared_host_note,
)

SAMPLES = Path(__file__).parent / "pgbench"

# pgbench 17's report has the same lines as 15's (PostgreSQL 17 docs, pgbench, "Typical
# output"); no pgbench 17 binary was at hand to capture one, so this follows the docs.
PG17 = """\
pgbench (17.2 (Debian 17.2-1.pgdg120+1), server 16.6 (Debian 16.6-1.pgdg120+1))
transaction type: /tmp/poolkit-calibrate-x/tpcb.sql
scaling factor: 1
query mode: simple
number of clients: 16
number of threads: 16
maximum number of tries: 1
duration: 5 s
number of transactions actually processed: 41873
number of failed transactions: 0 (0.000%)
latency average = 1.906 ms
initial connection time = 14.129 ms
tps = 8393.415207 (without initial connection time)
"""

# pgbench 13 and older report tps twice (PostgreSQL 13 docs, pgbench).
PG13 = """\
number of transactions actually processed: 10000/10000
tps = 85.184871 (including connections establishing)
tps = 85.296346 (excluding connections establishing)
"""


def test_pgbench_15_tps():
    text = (SAMPLES / "pg15-tpcb.txt").read_text(encoding="utf-8")
    assert parse_tps(text, "run") == 1058.245513


def test_pgbench_17_tps():
    assert parse_tps(PG17, "run") == 8393.415207


def test_pgbench_13_tps_excludes_connection_time():
    assert parse_tps(PG13, "run") == 85.296346


def test_aborted_run_is_an_error_quoting_pgbench():
    text = (SAMPLES / "pg15-aborted.txt").read_text(encoding="utf-8")
    with pytest.raises(PoolkitError) as excinfo:
        parse_tps(text, "pgbench -c 1 -j 1 (run 1 of 3)")
    message = str(excinfo.value)
    assert message.startswith("pgbench -c 1 -j 1 (run 1 of 3): pgbench aborted the run")
    assert 'relation "nope" does not exist' in message


def test_failed_connection_is_an_error_quoting_pgbench():
    text = (SAMPLES / "pg15-no-connection.txt").read_text(encoding="utf-8")
    with pytest.raises(PoolkitError, match=r"no 'tps = \.\.\.' line.*connection to server"):
        parse_tps(text, "run")


def test_empty_output_is_an_error():
    with pytest.raises(PoolkitError, match=r"run: no 'tps = \.\.\.' line .*\(no output\)"):
        parse_tps("", "run")


@pytest.mark.parametrize(
    ("max_clients", "levels"),
    [(8, (1, 2, 4, 8)), (64, (1, 2, 4, 8, 16, 32, 64)), (12, (1, 2, 4, 8, 12))],
)
def test_levels_double_up_to_max_clients(max_clients, levels):
    assert concurrency_levels(max_clients) == levels


def test_default_plan_fits_the_default_budget():
    plan = plan_runs(64, 120)
    assert plan.seconds <= 120
    assert (plan.repeats, plan.duration) == (3, 4)


@pytest.mark.parametrize("budget", [45, 60, 120, 300, 3600])
def test_automatic_plans_stay_within_budget(budget):
    plan = plan_runs(16, budget)
    assert plan.seconds <= budget
    assert MIN_DURATION <= plan.duration <= MAX_DURATION


def test_short_budget_takes_fewer_repeats_before_giving_up():
    plan = plan_runs(64, 60)
    assert plan.repeats == 2
    assert plan.seconds <= 60


def test_the_automatic_plan_keeps_two_runs_per_level_so_the_noise_is_judged():
    # 7 levels x 1 run of 4 s would fit 40 s; 2 runs of the shortest 2 s would not.
    with pytest.raises(PoolkitError, match=r"7 levels x 2 repeats .*give --repeats 1"):
        plan_runs(64, 40)


def test_one_repeat_when_asked_for():
    plan = plan_runs(64, 40, repeats=1)
    assert (plan.repeats, plan.duration) == (1, 3)


def test_budget_too_short_for_anything_names_the_option():
    with pytest.raises(PoolkitError, match=r"--time-budget 15 s is too short .*about 52 s"):
        plan_runs(64, 15)


def test_explicit_duration_beyond_budget_names_the_options():
    with pytest.raises(PoolkitError, match=r"--time-budget 120 s .*--duration 10 s"):
        plan_runs(64, 120, duration=10)


def test_explicit_duration_and_repeats_are_kept():
    plan = plan_runs(8, 600, duration=7, repeats=5)
    assert (plan.repeats, plan.duration) == (5, 7)


def test_without_scratch_schema_no_setup_time():
    assert plan_runs(8, 120, scratch=False).setup_seconds == 0


def test_too_few_levels_name_max_clients():
    with pytest.raises(PoolkitError, match=r"--max-clients 4 measures only 3 .*at least 8"):
        plan_runs(4, 120)


@pytest.mark.parametrize("option", ["duration", "repeats"])
def test_zero_duration_or_repeats_is_an_error(option):
    with pytest.raises(PoolkitError, match=f"--{option} 0; expected an integer >= 1"):
        plan_runs(8, 120, **{option: 0})


def test_argv_uses_one_thread_per_client():
    argv = pgbench_argv("host=db", 16, 5, "/tmp/s.sql")
    assert argv[argv.index("-c") + 1] == argv[argv.index("-j") + 1] == "16"


def test_argv_skips_vacuum_of_pgbench_tables():
    assert "-n" in pgbench_argv("host=db", 1, 5, "/tmp/s.sql")


def test_scratch_schema_is_created_first_and_qualifies_every_table():
    create, *fill = scratch_setup_sql(8)
    assert create == f"CREATE SCHEMA {SCHEMA}"
    assert all(f"{SCHEMA}." in statement for statement in fill)


def test_scratch_script_touches_only_the_scratch_schema():
    sql = [line for line in scratch_script(8).splitlines() if line[:6] in ("UPDATE", "INSERT")]
    assert sql
    assert all(f" {SCHEMA}." in line for line in sql)


# ----------------------------------------------------------------- where pgbench runs

NAMES = {"db1.example": {"192.0.2.10"}, "self.example": {"198.51.100.7", "fe80::1%eth0"}}
OWN = {"198.51.100.7"}


def where(**params):
    return on_this_host(params, lambda name: NAMES.get(name, set()), OWN.__contains__)


@pytest.mark.parametrize("host", ["", "/var/run/postgresql", "@abstract"])
def test_a_unix_socket_is_this_host(host):
    assert where(host=host).startswith("a Unix socket")


def test_no_host_at_all_is_the_default_socket():
    assert where() == "a Unix socket (the default directory)"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.1.1", "::1"])
def test_loopback_is_this_host(host):
    assert where(host=host) == f"{host} (loopback)"


def test_a_name_resolving_to_an_own_address_is_this_host():
    assert where(host="self.example") == "self.example (this host's address 198.51.100.7)"


def test_an_own_address_is_this_host():
    assert where(host="198.51.100.7") == "198.51.100.7 (this host's address 198.51.100.7)"


@pytest.mark.parametrize("host", ["db1.example", "192.0.2.10", "unresolvable.example"])
def test_another_host_is_not(host):
    assert where(host=host) is None


def test_hostaddr_wins_over_host():
    assert where(host="localhost", hostaddr="192.0.2.10") is None


def test_any_of_several_hosts_counts():
    assert where(host="db1.example,localhost") == "localhost (loopback)"


def test_the_note_names_the_host_and_the_way_out():
    note = shared_host_note("localhost (loopback)")
    assert "localhost (loopback)" in note and "from another host" in note
