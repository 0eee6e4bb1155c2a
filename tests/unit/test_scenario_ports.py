"""Molecule scenarios run side by side (scripts/lanes.sh, LANES in the Makefile): no two
scenarios may publish the same host port, or the later one fails to start its containers
("port is already allocated"), depending on which lane reaches it first."""

from __future__ import annotations

import shlex
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

MOLECULE = Path(__file__).resolve().parents[2] / "molecule"


def published_ports() -> dict[str, set[str]]:
    """Host address:port -> the scenarios that publish it."""
    ports: dict[str, set[str]] = defaultdict(set)
    for config in sorted(MOLECULE.glob("*/molecule.yml")):
        scenario = config.parent.name
        for platform in yaml.safe_load(config.read_text()).get("platforms", []):
            for mapping in platform.get("published_ports", []):
                ports[str(mapping).rsplit(":", 1)[0]].add(scenario)
    return ports


def test_scenarios_publish_ports_of_their_own():
    shared = {port: sorted(names) for port, names in published_ports().items() if len(names) > 1}
    assert shared == {}


def test_the_scenarios_publish_ports_at_all():
    """The check above reads something: the scenarios with published ports are found."""
    scenarios = set().union(*published_ports().values())
    assert {"ha", "ha-bookworm", "pgbouncer", "pgpool", "security"} <= scenarios


def lanes(target: str) -> list[list[str]]:
    """The lanes `make <target>` gives scripts/lanes.sh (make -n: nothing runs)."""
    run = subprocess.run(
        ["make", "-n", target], cwd=MOLECULE.parent, capture_output=True, text=True, check=True
    )
    line = next(line for line in run.stdout.splitlines() if "scripts/lanes.sh" in line)
    return [lane.split() for lane in shlex.split(line)[1:]]


CHECKS = {"lint", "unit", "compose", "collection"}


@pytest.mark.parametrize("target", ["test", "molecule"])
def test_every_scenario_runs_once(target):
    """A scenario left out of the lanes would never run in CI; one in two lanes would run
    twice at once and fail on its own containers' names."""
    scenarios = [name for lane in lanes(target) for name in lane if name not in CHECKS]
    assert sorted(scenarios) == sorted(p.parent.name for p in MOLECULE.glob("*/molecule.yml"))
