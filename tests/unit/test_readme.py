"""The README's commands and names cannot drift: what it shows `poolkit size` printing is what
it prints, and every playbook, make target, repository path and playbook variable it names
exists (docs/sizing.md's worked example is checked in test_sizing.py)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from poolkit.cli import main
from poolkit.render_size import render
from poolkit.sizing import size
from poolkit.topology import parse_topology

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
#: Top-level entries of the repository a README path may start with.
TOP = sorted(p.name for p in REPO.iterdir() if p.name not in (".git", ".venv"))


def block_after(marker: str) -> list[str]:
    """The lines of the fenced block that follows the block holding `marker`."""
    closing = README.index("```", README.index(marker))  # the marker's block ends
    opening = README.index("```", closing + 3)  # the next block starts
    start = README.index("\n", opening) + 1
    return README[start : README.index("\n```", start)].splitlines()


def test_the_size_table_in_the_readme_is_what_poolkit_size_prints():
    """The README shows an excerpt: each of its lines is in the real table, in order."""
    topology = yaml.safe_load((REPO / "examples" / "topology.yml").read_text(encoding="utf-8"))
    lines = render(size(parse_topology(topology)), "table").splitlines()
    shown = [line for line in block_after(".venv/bin/poolkit size examples/topology.yml ") if line]
    assert shown, "no block after the poolkit size command"
    positions = [lines.index(line) for line in shown]  # ValueError names a drifted line
    assert positions == sorted(positions), "the README's lines are out of order"


def test_the_clients_output_in_the_readme_is_what_poolkit_clients_prints(capsys, monkeypatch):
    """The README's `poolkit clients` command runs as written (from the repository); each
    line it shows is in the output, in order."""
    monkeypatch.chdir(REPO)
    command = re.search(r"(?m)^\.venv/bin/poolkit (clients .*)$", README)
    assert command, "no poolkit clients command in the README"
    assert main(shlex.split(command.group(1))) == 0
    lines = capsys.readouterr().out.splitlines()
    shown = [line for line in block_after(command.group(0)) if line]
    assert shown, "no block after the poolkit clients command"
    positions = [lines.index(line) for line in shown]  # ValueError names a drifted line
    assert positions == sorted(positions), "the README's lines are out of order"


@pytest.mark.parametrize(
    "playbook",
    sorted(set(re.findall(r"ansible-playbook (?:[^\n`]* )?(playbooks/[\w.-]+)", README))),
)
def test_every_playbook_the_readme_runs_exists(playbook):
    assert (REPO / playbook).is_file()


@pytest.mark.parametrize(
    "target", sorted(set(re.findall(r"(?m)(?:^|`)make ([a-z][\w-]*)", README)))
)
def test_every_make_target_the_readme_names_exists(target):
    assert re.search(rf"(?m)^{re.escape(target)}:", (REPO / "Makefile").read_text()), target


@pytest.mark.parametrize(
    "path",
    sorted(
        {
            p.rstrip("/.,")
            for p in re.findall(r"`([\w.-]+/[\w./-]*)`", README)
            # lab/.state/ is what `make demo` writes, not part of the repository; a role's
            # meta/argument_specs.yml is not the collection's meta/
            if p.split("/")[0] in TOP
            and p.split("/")[0] != ".cache"  # runs write .cache/
            and not {"...", "*", ".state"} & set(re.split(r"/|(?=\*)", p))
            and p != "meta/argument_specs.yml"
        }
    ),
)
def test_every_repository_path_the_readme_names_exists(path):
    assert (REPO / path).exists(), path


@pytest.mark.parametrize(
    ("playbook", "variable"),
    sorted(set(re.findall(r"ansible-playbook (playbooks/[\w.-]+)[^\n]* -e (\w+)=", README))),
)
def test_every_variable_the_readme_passes_to_a_playbook_is_read_by_it(playbook, variable):
    assert variable in (REPO / playbook).read_text(), f"{playbook} does not read {variable}"
