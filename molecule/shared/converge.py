"""Shared by the scenarios' conftest.py: re-run the scenario's converge.yml from a test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def converge(
    limit: str, extra_vars: str | None = None, verbosity: int = 0
) -> subprocess.CompletedProcess:
    """Run converge.yml again on the host `limit` (molecule's inventory and environment),
    with optional extra variables (JSON). Molecule's ansible.cfg sends failures to stderr:
    read stdout + stderr."""
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    return run_playbook(scenario / "converge.yml", limit, extra_vars, verbosity)


def run_playbook(
    playbook: Path, limit: str, extra_vars: str | None = None, verbosity: int = 0
) -> subprocess.CompletedProcess:
    """Run any playbook (e.g. playbooks/maintenance.yml) on the host `limit` of the
    scenario's inventory, with the repository's roles and filters."""
    project = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    cmd = [
        "ansible-playbook",
        "-i",
        os.environ["MOLECULE_INVENTORY_FILE"],
        str(project / playbook),
        "--limit",
        limit,
    ]
    if extra_vars:
        cmd += ["-e", extra_vars]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    env = dict(
        os.environ,
        ANSIBLE_ROLES_PATH=str(project / "roles"),
        ANSIBLE_FILTER_PLUGINS=str(project / "filter_plugins"),
        ANSIBLE_NOCOLOR="1",
    )
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
