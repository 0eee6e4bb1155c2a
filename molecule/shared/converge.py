"""Shared by the scenarios' conftest.py: re-run the scenario's converge.yml from a test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# What `docker exec` prints when runc fails to start the process (an engine fault).
DOCKER_EXEC_FLAKE = "OCI runtime exec failed"


def converge(
    limit: str, extra_vars: str | None = None, verbosity: int = 0
) -> subprocess.CompletedProcess:
    """Run converge.yml again on the host `limit` (molecule's inventory and environment),
    with optional extra variables (JSON). Molecule's ansible.cfg sends failures to stderr:
    read stdout + stderr."""
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    return run_playbook(scenario / "converge.yml", limit, extra_vars, verbosity)


def run_playbook(
    playbook: Path,
    limit: str,
    extra_vars: str | None = None,
    verbosity: int = 0,
    *,
    more_inventory: Path | None = None,
    stdout_callback: str | None = None,
    timeout: int = 300,
) -> subprocess.CompletedProcess:
    """Run any playbook (e.g. playbooks/maintenance.yml) on the host `limit` of the
    scenario's inventory (plus `more_inventory`), with the repository's collection."""
    project = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"]]
    if more_inventory:
        cmd += ["-i", str(more_inventory)]
    cmd += [str(project / playbook), "--limit", limit]
    if extra_vars:
        cmd += ["-e", extra_vars]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=f"{project / 'collections'}:~/.ansible/collections",
        ANSIBLE_NOCOLOR="1",
    )
    if stdout_callback:
        env["ANSIBLE_STDOUT_CALLBACK"] = stdout_callback
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0 and DOCKER_EXEC_FLAKE in run.stdout + run.stderr:
        # runc, not the playbook: `docker exec` itself failed to start under load (seen once
        # in ~2,000 execs of a -vvv run). Tasks are idempotent: run the play again, once.
        print(f"\n{DOCKER_EXEC_FLAKE!r} in a run of {playbook}: running it again")
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return run


def secrets_in_output(run: subprocess.CompletedProcess, secrets: dict[str, str]) -> list[str]:
    """The names of ``secrets`` whose value appears in a verbose run's output (stdout and
    stderr). The run must have succeeded and really been verbose (-vvv)."""
    output = run.stdout + run.stderr
    failures = [line for line in output.splitlines() if "fatal:" in line or "[ERROR]" in line]
    assert run.returncode == 0, "\n".join(failures)[-3000:] or output[-3000:]
    assert len(output) > 10_000, "the run was not verbose"
    return [name for name, value in secrets.items() if value in output]
