"""molecule/shared/xdist_groups.py with pytest-xdist's --dist loadgroup: every test of one
host runs in one worker. (pytest 9.2 with pytest-xdist 3.8 silently ignored the groups, and
two workers then ran the same host's tests at once: hence pytest <9.2 in pyproject.toml.)"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "molecule" / "shared"

CONFTEST = f"""
import sys
sys.path.insert(0, {str(SHARED)!r})
from xdist_groups import pytest_collection_modifyitems  # noqa: F401
"""

# A stand-in for testinfra: a module-scoped, indirectly parametrized `_testinfra_host`
# whose values answer like testinfra's Host (backend id, inventory variables).
TESTS = """
import os, time
import pytest

class Backend:
    def __init__(self, name):
        self.name = name
    def get_pytest_id(self):
        return "ansible://" + self.name

class Ansible:
    def __init__(self, group):
        self.group = group
    def get_variables(self):
        return {"test_xdist_group": self.group} if self.group else {}

class Host:
    def __init__(self, name, group=None):
        self.backend, self.ansible = Backend(name), Ansible(group)

HOSTS = [Host("a"), Host("b"), Host("c", group="shared-server"), Host("d", group="shared-server")]

@pytest.fixture(scope="module")
def _testinfra_host(request):
    return request.param

def pytest_generate_tests(metafunc):
    if "_testinfra_host" in metafunc.fixturenames:
        ids = [h.backend.get_pytest_id() for h in HOSTS]
        metafunc.parametrize("_testinfra_host", HOSTS, ids=ids, scope="module", indirect=True)

@pytest.mark.parametrize("i", range(6))
def test_x(_testinfra_host, i):
    time.sleep(0.02)
    print("RAN", _testinfra_host.backend.name, os.environ["PYTEST_XDIST_WORKER"])
"""


def test_each_host_and_each_shared_group_runs_in_one_worker(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_hosts.py").write_text(TESTS)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p",
         "no:cacheprovider", "-p", "no:pytest11.testinfra", "-rP", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    workers = defaultdict(set)
    for line in run.stdout.splitlines():
        if line.startswith("RAN "):
            _, host, worker = line.split()
            workers[host].add(worker)
    assert sorted(workers) == ["a", "b", "c", "d"]
    assert all(len(w) == 1 for w in workers.values()), dict(workers)
    assert workers["c"] == workers["d"]
