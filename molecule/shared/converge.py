"""Shared by the scenarios' conftest.py: re-run the scenario's converge.yml from a test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def converge(limit: str, extra_vars: str | None = None) -> subprocess.CompletedProcess:
    """Run converge.yml again on the host `limit` (molecule's inventory and environment),
    with optional extra variables (JSON). Molecule's ansible.cfg sends failures to stderr:
    read stdout + stderr."""
    project = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    cmd = [
        "ansible-playbook",
        "-i",
        os.environ["MOLECULE_INVENTORY_FILE"],
        str(Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / "converge.yml"),
        "--limit",
        limit,
    ]
    if extra_vars:
        cmd += ["-e", extra_vars]
    env = dict(
        os.environ,
        ANSIBLE_ROLES_PATH=str(project / "roles"),
        ANSIBLE_FILTER_PLUGINS=str(project / "filter_plugins"),
        ANSIBLE_NOCOLOR="1",
    )
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
