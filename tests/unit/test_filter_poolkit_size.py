"""plugins/filter/poolkit_size.py: called directly, and as poolkit.poolkit.poolkit_size
inside a real ansible-playbook run (tests/unit/playbooks/poolkit_size_filter.yml)."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from poolkit import PoolkitError
from poolkit.sizing import size_dict

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "filter" / "poolkit_size.py"
PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "poolkit_size_filter.yml"
EXAMPLE = yaml.safe_load((REPO / "examples" / "topology.yml").read_text(encoding="utf-8"))


def _load_plugin():
    spec = importlib.util.spec_from_file_location("poolkit_size_filter_under_test", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plugin = _load_plugin()
poolkit_size = plugin.FilterModule().filters()["poolkit_size"]


def _ansible_playbook() -> str | None:
    beside_python = Path(sys.executable).parent / "ansible-playbook"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("ansible-playbook")


ANSIBLE_PLAYBOOK = _ansible_playbook()
needs_ansible_playbook = pytest.mark.skipif(
    ANSIBLE_PLAYBOOK is None, reason="ansible-playbook is not installed (make setup)"
)


def test_filter_module_exposes_poolkit_size():
    assert set(plugin.FilterModule().filters()) == {"poolkit_size"}


def test_filter_returns_the_sizing_dict():
    assert poolkit_size(EXAMPLE) == size_dict(EXAMPLE)


def test_filter_explain_adds_derivations():
    assert poolkit_size(EXAMPLE, explain=True)["explain"] == size_dict(EXAMPLE, True)["explain"]


def test_filter_error_is_an_ansible_filter_error_with_the_same_message():
    bad = copy.deepcopy(EXAMPLE)
    bad["poolers"]["spare_hosts"] = 2
    with pytest.raises(PoolkitError) as expected:
        size_dict(bad)
    with pytest.raises(AnsibleFilterError) as excinfo:
        poolkit_size(bad)
    assert excinfo.value.message == str(expected.value)


def _run_playbook(tmp_path: Path, extra_vars: dict) -> subprocess.CompletedProcess[str]:
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(extra_vars), encoding="utf-8")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(tmp_path / "no-ansible.cfg"),  # ignore the repository's
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / "collections"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    }
    return subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            "localhost,",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "-e",
            f"@{vars_file}",
            str(PLAYBOOK),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=180,
        check=False,
    )


@needs_ansible_playbook
def test_playbook_sizes_like_the_library_and_explicit_variables_win(tmp_path):
    out = tmp_path / "sizing.json"
    done = _run_playbook(
        tmp_path,
        {"pooler_topology": EXAMPLE, "sizing_out": str(out), "pgbouncer_max_client_conn": 1000},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    expected = size_dict(EXAMPLE)
    assert result["sizing"] == expected
    assert result["effective_default_pool_size"] == expected["pgbouncer"]["default_pool_size"]
    assert result["effective_max_client_conn"] == 1000


@needs_ansible_playbook
def test_playbook_fails_on_a_bad_topology_with_the_message(tmp_path):
    bad = copy.deepcopy(EXAMPLE)
    bad["database"]["max_conections"] = bad["database"].pop("max_connections")
    done = _run_playbook(tmp_path, {"pooler_topology": bad, "sizing_out": str(tmp_path / "x")})
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "database.max_conections: unknown key; expected one of" in output
    assert "(did you mean max_connections?)" in output
    assert not (tmp_path / "x").exists()
