"""Bad-input cases in one ansible-playbook run: each case is an inventory alias of one
container, with its own variables in a file the playbook's first play loads
(`bad_input_file`, included variables outrank play variables) before the scenario's play
runs. The cases only read the host before they fail, so they can share it: about 20 s of
Ansible start-up per case saved on a busy machine. The json callback's document tells each
case's failures and counts apart."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from converge import run_playbook


@dataclass
class Outcome:
    """One case of a shared run: its PLAY RECAP counts and its failed tasks' messages."""

    stats: dict[str, int]
    failures: list[str]


def failed_messages(result: dict) -> list[str]:
    """What a failed task reported (its message and stderr, per item for a loop), without
    the task's name, which may name any variable."""
    items = [r for r in result.get("results", []) if r.get("failed")] or [result]
    return [f"{item.get('msg', '')} {item.get('stderr', '')}".strip() for item in items]


def outcomes(doc: dict, aliases: dict[str, str]) -> dict[str, Outcome]:
    """The json callback's document, per case (aliases: inventory name -> case)."""
    found = {case: Outcome(doc["stats"].get(name, {}), []) for name, case in aliases.items()}
    for play in doc["plays"]:
        for task in play["tasks"]:
            for name, result in task["hosts"].items():
                if name in aliases and result.get("failed"):
                    found[aliases[name]].failures += failed_messages(result)
    return found


def run_cases(
    playbook: Path, container: str, group: str, cases: dict[str, dict]
) -> tuple[dict[str, Outcome] | None, str]:
    """Run `playbook` once for every case (name -> extra variables), each as an alias of the
    inventory host `container` in `group`. Returns the outcomes per case (None when the run
    printed no JSON document) and the output's tail."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"])
    host_vars_file = inventory.parent / "host_vars" / container
    host_vars = yaml.safe_load(host_vars_file.read_text()) if host_vars_file.exists() else {}
    aliases = {f"{container}--{case}": case for case in cases}
    workdir = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "bad-input"
    workdir.mkdir(exist_ok=True)
    hosts = {}
    for alias, case in aliases.items():
        variables = workdir / f"{alias}.json"
        variables.write_text(json.dumps(cases[case]))
        hosts[alias] = {
            **(host_vars or {}),
            # The short name, as molecule's inventory (.config/molecule/config.yml): Mitogen
            # takes over `docker`, not `community.docker.docker`.
            "ansible_connection": "docker",
            "ansible_host": container,
            "bad_input_file": str(variables),
        }
    more = workdir / f"{container}.yml"
    more.write_text(json.dumps({group: {"hosts": hosts}}))
    run = run_playbook(
        playbook,
        ",".join(aliases),
        more_inventory=more,
        stdout_callback="ansible.posix.json",
        timeout=900,
    )
    tail = (run.stdout + run.stderr)[-3000:]
    try:
        doc = json.loads(run.stdout[run.stdout.index("{") :])
    except ValueError:
        return None, tail
    return outcomes(doc, aliases), tail
