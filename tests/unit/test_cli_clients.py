"""`poolkit clients`: formats, options, standard input, and bad input as one line on stderr
with exit status 2."""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import pytest
from topologies import MIXED

from poolkit.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = str(REPO / "examples" / "topology.yml")
COMPOSE = str(REPO / "compose" / "topology.yml")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["clients", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_text_is_the_default_format(capsys):
    code, default, err = run(capsys, EXAMPLE)
    _, text, _ = run(capsys, EXAMPLE, "--format", "text")
    assert (code, err) == (0, "")
    assert default == text
    assert "create_engine(pool_size=10, max_overflow=0" in default


def test_json_format_is_json(capsys):
    code, out, _ = run(capsys, COMPOSE, "--format", "json")
    assert code == 0
    assert json.loads(out)["apps"][0]["libraries"]["asyncpg"]["settings"]["max_size"] == 10


def test_env_format_prints_an_env_file_per_app(capsys):
    code, out, _ = run(capsys, EXAMPLE, "--format", "env")
    assert code == 0
    assert {line.split(".env:")[0] for line in out.splitlines() if ".env:" in line} == {
        "# web",
        "# jobs",
        "# api-fn",
    }


def test_snippets_format_is_python(capsys):
    code, out, _ = run(capsys, EXAMPLE, "--format", "snippets")
    assert code == 0
    ast.parse(out)


def test_options_reach_the_plan(capsys):
    code, out, _ = run(
        capsys,
        EXAMPLE,
        "--format",
        "json",
        "--pgbouncer-version",
        "1.20.1",
        "--server-lifetime",
        "600",
        "--app",
        "web",
        "--library",
        "asyncpg",
    )
    data = json.loads(out)
    assert code == 0
    assert data["pooler"]["version"] == "1.20.1"
    assert data["connection_lifetime"]["seconds"] == 540
    assert [a["name"] for a in data["apps"]] == ["web"]
    assert data["apps"][0]["libraries"]["asyncpg"]["settings"]["statement_cache_size"] == 0


def test_pgpool_pooler(capsys):
    code, out, _ = run(capsys, EXAMPLE, "--pooler", "pgpool")
    assert code == 0
    assert out.startswith(f"poolkit clients {EXAMPLE}: Pgpool-II")
    assert "create_engine(pool_size=1, max_overflow=9" in out


def test_serverless_option(capsys):
    code, out, _ = run(capsys, EXAMPLE, "--serverless", "jobs", "--app", "jobs")
    assert code == 0
    assert "create_engine(poolclass=NullPool" in out


def test_dash_reads_standard_input(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(Path(COMPOSE).read_text(encoding="utf-8")))
    code, out, _ = run(capsys, "-")
    assert code == 0
    assert out.startswith("poolkit clients <stdin>: PgBouncer version unknown")


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["--pooler", "haproxy"], "poolkit clients: --pooler: expected one of pgbouncer, pgpool"),
        (["--pgbouncer-version", "one.two"], "poolkit clients: --pgbouncer-version: "),
        (["--pool-mode", "statement"], "poolkit clients: --pool-mode: statement pooling"),
        (["--app", "nope"], "poolkit clients: --app 'nope': no such application"),
        (["--library", "pg8000"], "poolkit clients: --library 'pg8000': no such library"),
        (["--server-lifetime", "soon"], "poolkit clients: --server-lifetime: expected an integer"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, start):
    code, out, err = run(capsys, EXAMPLE, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(start), err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_a_bad_topology_is_one_line_and_exit_2(capsys, tmp_path):
    topology = tmp_path / "topology.yml"
    topology.write_text("database: {max_conections: 10, cpu_cores: 2}\napps: []\n")
    code, _, err = run(capsys, str(topology))
    assert code == 2
    assert err.startswith("poolkit clients: database.max_conections: unknown key")


def test_pgpool_without_a_pgpool_section_is_one_line_and_exit_2(capsys, tmp_path):
    topology = tmp_path / "topology.json"
    topology.write_text(json.dumps(MIXED))
    code, _, err = run(capsys, str(topology), "--pooler", "pgpool")
    assert code == 2
    assert err.startswith("poolkit clients: --pooler pgpool: the topology has no pgpool section")
