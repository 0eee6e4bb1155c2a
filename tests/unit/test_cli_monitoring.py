"""`poolkit alerts` and `poolkit dashboard`: output, files, standard input, one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from poolkit.cli import main
from poolkit.monitoring import alert_rules, dashboard, monitoring_spec
from poolkit.sizing import size_dict

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY_PATH = REPO / "compose" / "topology.yml"
TOPOLOGY_TEXT = TOPOLOGY_PATH.read_text(encoding="utf-8")
SPEC = monitoring_spec(size_dict(yaml.safe_load(TOPOLOGY_TEXT)))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_alerts_prints_the_rules(capsys):
    code, out, err = run(capsys, "alerts", str(TOPOLOGY_PATH))
    assert (code, err) == (0, "")
    assert yaml.safe_load(out) == alert_rules(SPEC)


def test_alerts_file_starts_with_where_it_came_from(capsys):
    _, out, _ = run(capsys, "alerts", str(TOPOLOGY_PATH))
    assert out.startswith(
        f"# Prometheus alerting rules for PgBouncer and Pgpool-II: `poolkit "
        f"alerts {TOPOLOGY_PATH}`.\n"
    )


def test_alerts_writes_the_output_file(capsys, tmp_path):
    path = tmp_path / "poolers.rules.yml"
    code, out, _ = run(capsys, "alerts", str(TOPOLOGY_PATH), "-o", str(path))
    assert (code, out) == (0, "")
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == alert_rules(SPEC)


def test_alerts_takes_the_deployed_query_wait_timeout(capsys):
    _, out, _ = run(capsys, "alerts", str(TOPOLOGY_PATH), "--query-wait-timeout", "30")
    exprs = [r["expr"] for g in yaml.safe_load(out)["groups"] for r in g["rules"]]
    assert "pgbouncer_pools_client_maxwait_seconds > 15" in exprs


def test_alerts_reads_standard_input(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(TOPOLOGY_TEXT))
    code, out, _ = run(capsys, "alerts", "-")
    assert code == 0
    assert yaml.safe_load(out) == alert_rules(SPEC)


def test_dashboard_without_topology_is_the_generic_dashboard(capsys):
    code, out, err = run(capsys, "dashboard")
    assert (code, err) == (0, "")
    assert json.loads(out) == dashboard()


def test_dashboard_with_topology_is_sized(capsys):
    code, out, _ = run(capsys, "dashboard", str(TOPOLOGY_PATH))
    assert code == 0
    assert json.loads(out) == dashboard(SPEC)


def test_dashboard_writes_the_output_file(capsys, tmp_path):
    path = tmp_path / "poolers.json"
    code, out, _ = run(capsys, "dashboard", "-o", str(path))
    assert (code, out) == (0, "")
    assert json.loads(path.read_text(encoding="utf-8")) == dashboard()


@pytest.mark.parametrize("command", ["alerts", "dashboard"])
def test_bad_topology_is_one_line_and_exit_2(capsys, tmp_path, command):
    path = tmp_path / "topology.yml"
    path.write_text(TOPOLOGY_TEXT.replace("cpu_cores: 2", "cpu_cores: two"), encoding="utf-8")
    code, out, err = run(capsys, command, str(path))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith(f"poolkit {command}: database.cpu_cores: expected an integer >= 1")


@pytest.mark.parametrize("command", ["alerts", "dashboard"])
def test_missing_topology_is_one_line_and_exit_2(capsys, tmp_path, command):
    missing = tmp_path / "nope.yml"
    code, _, err = run(capsys, command, str(missing))
    assert code == 2
    assert err.startswith(f"poolkit {command}: {missing}: cannot read the topology file")


@pytest.mark.parametrize("command", ["alerts", "dashboard"])
def test_unwritable_output_is_one_line_and_exit_2(capsys, tmp_path, command):
    target = tmp_path / "no-such-dir" / "out"
    code, out, err = run(capsys, command, str(TOPOLOGY_PATH), "-o", str(target))
    assert (code, out) == (2, "")
    assert err == (
        f"poolkit {command}: {target}: cannot write the "
        f"{'rule file' if command == 'alerts' else 'dashboard'} (No such file or directory); "
        "expected a writable file path, or - for standard output\n"
    )


def test_alerts_needs_a_topology(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["alerts"])
    assert excinfo.value.code == 2
    assert "TOPOLOGY" in capsys.readouterr().err
