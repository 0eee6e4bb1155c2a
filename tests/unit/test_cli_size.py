"""`poolkit size`: formats, standard input, and bad input as one line on stderr, exit 2."""

from __future__ import annotations

import configparser
import io
import json
from pathlib import Path

import pytest
import yaml

from poolkit.cli import main
from poolkit.sizing import size_dict

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_PATH = REPO / "examples" / "topology.yml"
EXAMPLE_TEXT = EXAMPLE_PATH.read_text(encoding="utf-8")
EXAMPLE = yaml.safe_load(EXAMPLE_TEXT)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["size", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_example_prints_a_table(capsys):
    code, out, err = run(capsys, str(EXAMPLE_PATH))
    assert (code, err) == (0, "")
    assert "max_client_conn" in out
    assert "num_init_children" in out


def test_table_is_the_default_format(capsys):
    _, default, _ = run(capsys, str(EXAMPLE_PATH))
    _, table, _ = run(capsys, str(EXAMPLE_PATH), "--format", "table")
    assert default == table


def test_json_format_is_the_sizing_dict(capsys):
    code, out, _ = run(capsys, str(EXAMPLE_PATH), "--format", "json")
    assert code == 0
    assert json.loads(out) == size_dict(EXAMPLE)


def test_yaml_format_is_the_sizing_dict(capsys):
    code, out, _ = run(capsys, str(EXAMPLE_PATH), "--format", "yaml")
    assert code == 0
    assert yaml.safe_load(out) == size_dict(EXAMPLE)


def test_ini_format_is_pgbouncer_ini(capsys):
    code, out, _ = run(capsys, str(EXAMPLE_PATH), "--format", "ini")
    assert code == 0
    parser = configparser.ConfigParser()
    parser.read_string(out)
    assert set(parser.sections()) == {"pgbouncer", "databases"}
    assert parser["pgbouncer"]["pool_mode"] == "transaction"


@pytest.mark.parametrize("fmt", ["table", "json", "yaml", "ini"])
def test_explain_works_in_every_format(capsys, fmt):
    code, out, err = run(capsys, str(EXAMPLE_PATH), "--format", fmt, "--explain")
    assert (code, err) == (0, "")
    assert "cpu_cores x 2 + effective_spindle_count" in out or fmt == "ini"
    if fmt == "ini":
        assert "; min(pool_size over pools)" in out


def test_json_explain_carries_derivations(capsys):
    _, out, _ = run(capsys, str(EXAMPLE_PATH), "--format", "json", "--explain")
    names = {entry["name"] for entry in json.loads(out)["explain"]}
    assert {"budget.server_connections", "limits.nofile", "pgpool.num_init_children"} <= names


def test_dash_reads_standard_input(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(EXAMPLE_TEXT))
    code, out, _ = run(capsys, "-", "--format", "json")
    assert code == 0
    assert json.loads(out) == size_dict(EXAMPLE)


def test_standard_input_accepts_json(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(EXAMPLE)))
    code, out, _ = run(capsys, "-", "--format", "json")
    assert code == 0
    assert json.loads(out)["pgbouncer"]["max_client_conn"] == 368


def test_json_file(capsys, tmp_path):
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(EXAMPLE), encoding="utf-8")
    code, out, _ = run(capsys, str(path), "--format", "json")
    assert code == 0
    assert json.loads(out) == size_dict(EXAMPLE)


BAD = [
    pytest.param(
        "topology.yml",
        EXAMPLE_TEXT.replace("max_connections: 400", "max_conections: 400"),
        "database.max_conections: unknown key; expected one of",
        id="typo",
    ),
    pytest.param(
        "topology.yml",
        EXAMPLE_TEXT.replace("spare_hosts: 1 ", "spare_hosts: 2 "),
        "poolers.spare_hosts: expected an integer < poolers.hosts (2)",
        id="spare_hosts",
    ),
    pytest.param(
        "topology.yml",
        EXAMPLE_TEXT.replace("cpu_cores: 16", "cpu_cores: sixteen"),
        "database.cpu_cores: expected an integer >= 1 (cores of the database host), "
        "got 'sixteen' (a string)",
        id="wrong-type",
    ),
    pytest.param(
        "topology.yml",
        EXAMPLE_TEXT.replace("instances: 6,", "instances: -6,"),
        "apps[0].instances: expected an integer >= 1",
        id="negative",
    ),
    pytest.param(
        "topology.yml",
        EXAMPLE_TEXT.replace("max_connections: 400", "max_connections: 20"),
        "database.max_connections: 20 leaves 7 server connection(s)",
        id="budget-too-small",
    ),
    pytest.param(
        "topology.yml",
        "database:\n  max_connections: 400\n   cpu_cores: 16\n",
        "topology.yml:3:13: invalid YAML: mapping values are not allowed here",
        id="unparseable-yaml",
    ),
    pytest.param(
        "topology.yml",
        "database: [unclosed\n",
        "topology.yml:2:1: invalid YAML:",
        id="unclosed-flow",
    ),
    pytest.param(
        "topology.yml",
        "database:\n  max_connections: 400\n  max_connections: 500\n",
        "topology.yml:3:3: invalid YAML: duplicate key 'max_connections' (first on line 2)",
        id="duplicate-yaml-key",
    ),
    pytest.param(
        "topology.json",
        '{"database": {"max_connections": 400,}}',
        "topology.json:1:38: invalid JSON: Expecting property name",
        id="unparseable-json",
    ),
    pytest.param(
        "topology.json",
        '{"apps": [], "apps": []}',
        "topology.json: invalid JSON: duplicate key 'apps'",
        id="duplicate-json-key",
    ),
    pytest.param("topology.yml", "", "topology: empty; expected a mapping", id="empty-file"),
    pytest.param(
        "topology.yml",
        "- database\n",
        "topology: expected a mapping with keys apps, calibration, database",
        id="list-document",
    ),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, str(path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n")
    assert err.startswith("poolkit size: ")
    assert message.replace("topology.yml", str(path)).replace("topology.json", str(path)) in err
    assert "Traceback" not in err


def test_missing_file_is_one_line_and_exit_2(capsys, tmp_path):
    missing = tmp_path / "nope.yml"
    code, _, err = run(capsys, str(missing))
    assert code == 2
    assert err == (
        f"poolkit size: {missing}: cannot read the topology file (No such file or directory); "
        "expected a readable YAML or JSON file, or - for standard input\n"
    )


def test_binary_file_is_one_line_and_exit_2(capsys, tmp_path):
    path = tmp_path / "topology.yml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    code, _, err = run(capsys, str(path))
    assert code == 2
    assert err.startswith(f"poolkit size: {path}: not UTF-8 text")


def test_bad_standard_input_names_stdin(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("database: {max_connections: [}\n"))
    code, _, err = run(capsys, "-")
    assert code == 2
    assert err.startswith("poolkit size: <stdin>:1:")


def test_unknown_format_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["size", str(EXAMPLE_PATH), "--format", "toml"])
    assert excinfo.value.code == 2
    assert "invalid choice: 'toml'" in capsys.readouterr().err
