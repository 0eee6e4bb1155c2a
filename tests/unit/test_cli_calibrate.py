"""`poolkit calibrate`: --replay end to end (table, JSON, YAML, CSV, plot), argument errors,
and the error naming the calibrate extra when its packages are missing. Live mode needs a
PostgreSQL server and is not run here (its plan and parsing are tests/unit/test_pgbench.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from poolkit import PoolkitError
from poolkit.cli import calibrate, main
from poolkit.measurements import Point, parse_csv
from poolkit.topology import parse_topology

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "calibration.csv"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["calibrate", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_replay_prints_the_fit_and_recommendation(capsys):
    code, out, err = run(capsys, "--replay", str(SAMPLE))
    assert (code, err) == (0, "")
    assert "Universal Scalability Law fit" in out
    assert "recommendation              17" in out


def test_replay_table_shows_every_level(capsys):
    _, out, _ = run(capsys, "--replay", str(SAMPLE))
    rows = [line.split() for line in out.splitlines()[2:9]]
    assert [int(row[0]) for row in rows] == [1, 2, 4, 8, 16, 32, 64]


def test_floor_is_shown_when_cores_are_given(capsys):
    _, out, _ = run(capsys, "--replay", str(SAMPLE), "--cpu-cores", "4", "--spindles", "1")
    assert "floor (for comparison)      9 = 4 cores x 2 + 1 spindles" in out


def test_json_carries_a_calibration_block_for_the_topology(capsys):
    code, out, _ = run(capsys, "--replay", str(SAMPLE), "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["calibration"]["useful_concurrency"] == data["recommendation"] == 17
    assert data["calibration"]["source"].startswith("poolkit calibrate ")


def test_calibration_block_is_a_valid_topology_key(capsys):
    _, out, _ = run(capsys, "--replay", str(SAMPLE), "--format", "yaml")
    block = yaml.safe_load(out)["calibration"]
    topology = {
        "database": {"max_connections": 100, "cpu_cores": 4},
        "apps": [{"name": "web", "instances": 2, "connections_per_process": 5}],
        "calibration": block,
    }
    assert parse_topology(topology).calibration.useful_concurrency == 17


def test_poor_fit_has_no_calibration_block(tmp_path, capsys):
    runs = tmp_path / "flat.csv"
    runs.write_text("".join(f"{n},{1000 + n % 3}\n" for n in (1, 2, 4, 8, 16)))
    code, out, _ = run(capsys, "--replay", str(runs), "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["recommendation"] is None
    assert "calibration" not in data


def test_poor_fit_table_keeps_the_floor(tmp_path, capsys):
    runs = tmp_path / "flat.csv"
    runs.write_text("".join(f"{n},{1000 + n % 3}\n" for n in (1, 2, 4, 8, 16)))
    _, out, _ = run(capsys, "--replay", str(runs))
    assert "none: keep the floor" in out


def test_plot_writes_a_png(tmp_path, capsys):
    plot = tmp_path / "fit.png"
    code, _, _ = run(capsys, "--replay", str(SAMPLE), "--plot", str(plot))
    assert code == 0
    assert plot.read_bytes().startswith(PNG_SIGNATURE)


def test_out_csv_saves_the_runs(tmp_path, capsys):
    saved = tmp_path / "runs.csv"
    run(capsys, "--replay", str(SAMPLE), "--out-csv", str(saved))
    assert parse_csv(saved.read_text(), "saved") == parse_csv(SAMPLE.read_text(), "sample")


def test_bad_csv_exits_2_naming_file_and_line(tmp_path, capsys):
    runs = tmp_path / "runs.csv"
    runs.write_text("concurrency,tps\n1,100\n2,lots\n")
    code, out, err = run(capsys, "--replay", str(runs))
    assert (code, out) == (2, "")
    assert err == f"poolkit calibrate: {runs}:3: tps 'lots' is not a number; expected " + (
        "transactions per second >= 0\n"
    )


def test_missing_replay_file_names_it(tmp_path, capsys):
    code, _, err = run(capsys, "--replay", str(tmp_path / "nope.csv"))
    assert code == 2
    assert f"--replay {tmp_path / 'nope.csv'}: cannot read (No such file or directory)" in err


def test_unwritable_plot_names_the_option(tmp_path, capsys):
    code, _, err = run(capsys, "--replay", str(SAMPLE), "--plot", str(tmp_path / "no" / "x.png"))
    assert code == 2
    assert "--plot" in err
    assert "cannot write" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param([], "expected a DSN to measure, or --replay FILE", id="nothing"),
        pytest.param(["host=db", "--replay", "x.csv"], "expected one of them", id="both"),
        pytest.param(
            ["--replay", "x.csv", "--sql", "t.sql"], "--sql only apply when measuring", id="sql"
        ),
        pytest.param(
            ["--replay", "x.csv", "--duration", "5"], "--duration only apply", id="duration"
        ),
        pytest.param(["host=db", "--max-clients", "0"], "--max-clients 0; expected", id="max"),
        pytest.param(["host=db", "--time-budget", "-1"], "--time-budget -1; expected", id="b"),
        pytest.param(["--replay", "x.csv", "--spindles", "-1"], "--spindles -1", id="spindles"),
    ],
)
def test_argument_errors_exit_2_naming_the_option(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err


def test_live_mode_without_pgbench_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setattr("shutil.which", lambda name: None)
    code, _, err = run(capsys, "host=db.invalid")
    assert code == 2
    assert "pgbench: not found on PATH" in err
    assert "postgresql-client" in err


def test_live_mode_plan_errors_come_before_any_connection(monkeypatch, capsys):
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/pgbench")
    code, _, err = run(capsys, "host=db.invalid", "--max-clients", "4")
    assert code == 2
    assert "--max-clients 4 measures only 3 concurrency levels" in err


def live_plan(monkeypatch, capsys, tmp_path, dsn: str) -> str:
    """What live mode says before its runs, with pgbench's runs replaced by a clean curve."""
    from poolkit.cli._load import PgbenchRunner

    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/pgbench")
    monkeypatch.setattr(
        PgbenchRunner,
        "run_all",
        lambda self, script, budget: [
            Point(n, 100.0 * n / (1 + 0.05 * (n - 1))) for n in (1, 2, 4, 8) for _ in range(3)
        ],
    )
    sql = tmp_path / "tx.sql"
    sql.write_text("SELECT 1;\n")
    code, _, err = run(capsys, dsn, "--sql", str(sql), "--max-clients", "8")
    assert code == 0, err
    return err


def test_live_mode_notes_pgbench_on_the_host_it_loads(monkeypatch, capsys, tmp_path):
    err = live_plan(monkeypatch, capsys, tmp_path, "host=localhost dbname=app")
    assert "note: pgbench runs on the host it connects to, localhost (loopback)" in err


def test_live_mode_against_another_host_has_no_such_note(monkeypatch, capsys, tmp_path):
    err = live_plan(monkeypatch, capsys, tmp_path, "host=db.invalid dbname=app")
    assert "poolkit calibrate: db.invalid:5432/app" in err
    assert "note: pgbench runs" not in err


@pytest.mark.parametrize(
    ("dsn", "environ", "said"),
    [
        ("dbname=app", {}, "a Unix socket (the default directory)"),
        ("dbname=app", {"PGHOST": "127.0.0.1"}, "127.0.0.1 (loopback)"),
        ("dbname=app", {"PGHOST": "203.0.113.10"}, None),
        ("dbname=app", {"PGHOSTADDR": "::1"}, "::1 (loopback)"),
        ("host=localhost", {"PGHOST": "203.0.113.10"}, "localhost (loopback)"),
        ("host=localhost", {"PGHOSTADDR": "203.0.113.10"}, None),
        ("service=app", {"PGHOST": "127.0.0.1"}, None),
        ("dbname=app", {"PGSERVICE": "remote"}, None),
        ("dbname=app", {"PGSERVICE": "here"}, "127.0.0.1 (loopback)"),
    ],
)
def test_where_pgbench_connects_follows_libpqs_defaults(dsn, environ, said, monkeypatch, tmp_path):
    from poolkit.cli._load import shares_host

    services = tmp_path / "pg_service.conf"
    services.write_text("[remote]\nhost=203.0.113.5\n[here]\nhost=127.0.0.1\n")
    for variable in ("PGHOST", "PGHOSTADDR", "PGSERVICE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)
    assert shares_host(dsn) == said


def test_missing_packages_name_them_and_the_extra():
    with pytest.raises(PoolkitError) as excinfo:
        calibrate.require_packages(("numpy", "scipy"), find=lambda name: name != "scipy")
    assert str(excinfo.value) == (
        "needs the Python package scipy, which is not installed; install them with "
        "pip install 'poolkit[calibrate]'"
    )


def test_poolkit_size_does_not_import_the_calibrate_packages():
    code = (
        "import sys; from poolkit.cli import main; "
        "main(['size', 'examples/topology.yml']); "
        "print(sorted(m for m in ('numpy', 'scipy', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == "[]"


def test_progress_line_shows_runs_done_and_time_left():
    assert calibrate.progress_line(7, 21, 84, width=21) == (
        "[#######..............]  7/21 runs, about 84 s left"
    )


def test_live_runs_go_in_passes_over_every_level_up_then_down():
    from poolkit.cli._load import PgbenchRunner
    from poolkit.pgbench import Plan

    order: list[int] = []

    class Recorded(PgbenchRunner):
        def run(self, clients, repeat, script):
            order.append(clients)
            return 100.0 * clients

    plan = Plan(levels=(1, 2, 4, 8), repeats=3, duration=1, setup_seconds=0)
    points = Recorded("host=db", None, plan, lambda line: None).run_all("tx.sql", 60)
    assert order == [1, 2, 4, 8, 8, 4, 2, 1, 1, 2, 4, 8]
    assert len(points) == 12


def test_live_runs_name_their_pass():
    from poolkit.cli._load import PgbenchRunner
    from poolkit.pgbench import Plan

    class Recorded(PgbenchRunner):
        def run(self, clients, repeat, script):
            return 100.0 * clients

    plan = Plan(levels=(1, 2), repeats=2, duration=1, setup_seconds=0)
    points = Recorded("host=db", None, plan, lambda line: None).run_all("tx.sql", 60)
    assert [(p.concurrency, p.pass_number) for p in points] == [(1, 1), (2, 1), (2, 2), (1, 2)]


def test_a_pass_that_does_not_fit_the_budget_is_not_started():
    from poolkit.cli._load import PgbenchRunner
    from poolkit.pgbench import Plan

    said: list[str] = []
    now = [0.0]

    class Recorded(PgbenchRunner):
        def run(self, clients, repeat, script):
            now[0] += 5  # the run's 4 s and a second to start pgbench
            return 100.0

    plan = Plan(levels=(1, 2, 4, 8), repeats=3, duration=4, setup_seconds=0)
    # 4 runs x (4 + 1) s per pass: 45 s hold two passes, not three.
    runner = Recorded("host=db", None, plan, said.append, clock=lambda: now[0])
    points = runner.run_all("tx", 45)
    assert len(points) == 8
    assert "1 of 3 passes not measured" in said[-1]


def test_the_first_pass_runs_when_the_plan_fills_the_budget_exactly():
    # --repeats 1 --time-budget 30: the scratch schema's 10 s left 20 s for one pass of 4
    # runs x (4 + 1) s; the clock had moved on by the time the pass was checked (seen live).
    from poolkit.cli._load import PgbenchRunner
    from poolkit.pgbench import Plan

    now = [0.0]

    def clock():
        now[0] += 0.001
        return now[0]

    class Recorded(PgbenchRunner):
        def run(self, clients, repeat, script):
            now[0] += 5
            return 100.0

    plan = Plan(levels=(1, 2, 4, 8), repeats=1, duration=4, setup_seconds=10)
    points = Recorded("host=db", None, plan, lambda line: None, clock=clock).run_all("tx", 20)
    assert len(points) == 4


PASSES = REPO / "examples" / "calibration-passes.csv"


def test_replay_with_pass_numbers_divides_each_pass_speed_out(capsys):
    code, out, _ = run(capsys, "--replay", str(PASSES))
    assert code == 0
    assert "Measured throughput (tps), each pass's speed divided out" in out
    assert "passes' speed (divided out)  x1.17, x0.89, x0.96 (pass 1, 2, 3)" in out


def test_replay_without_pass_numbers_refuses_the_same_runs_as_too_noisy(tmp_path, capsys):
    rows = PASSES.read_text().splitlines()[2:]
    bare = tmp_path / "bare.csv"
    bare.write_text("\n".join(row.rsplit(",", 1)[0] for row in rows) + "\n")
    code, out, _ = run(capsys, "--replay", str(bare), "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["recommendation"] is None
    assert "too noisy" in data["reason"]
    assert data["fit"]["pass_factors"] is None


def test_json_carries_the_pass_factors(capsys):
    _, out, _ = run(capsys, "--replay", str(PASSES), "--format", "json")
    factors = json.loads(out)["fit"]["pass_factors"]
    assert factors == pytest.approx([1.17, 0.89, 0.96], abs=0.01)
