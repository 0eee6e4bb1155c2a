"""The collection's filters: each has its side-car documentation (plugins/filter/NAME.yml,
what `ansible-doc -t filter poolkit.poolkit.NAME` shows), and each says what to install
when the controller's Python cannot import the poolkit package."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from poolkit import verifiers

ROOT = Path(__file__).resolve().parents[2]
FILTER_DIR = ROOT / "plugins" / "filter"
PLUGINS = sorted(FILTER_DIR.glob("poolkit_*.py"))


def _filters(path: Path) -> dict:
    spec = importlib.util.spec_from_file_location(f"{path.stem}_docs_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FilterModule().filters()


FILTERS = {name: path for path in PLUGINS for name in _filters(path)}


def _sidecar(name: str) -> dict:
    return yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text(encoding="utf-8"))


def test_every_side_car_documents_a_filter_of_the_collection():
    assert {p.stem for p in FILTER_DIR.glob("*.yml")} == set(FILTERS)


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_side_car_has_documentation_examples_and_return(name):
    docs = _sidecar(name)
    assert docs["DOCUMENTATION"]["name"] == name
    assert docs["DOCUMENTATION"]["short_description"]
    assert "_input" in docs["DOCUMENTATION"]["options"]
    assert yaml.safe_load(docs["EXAMPLES"])
    assert "_value" in docs["RETURN"]


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_examples_call_filters_by_their_full_name(name):
    examples = _sidecar(name)["EXAMPLES"]
    bare = [other for other in FILTERS if f"| {other}" in examples]
    assert bare == [], f"{name}.yml: use poolkit.poolkit.{bare[0]}"


@pytest.mark.parametrize("name", ["poolkit_verifier", "poolkit_userlist"])
def test_documented_iterations_default_is_the_package_default(name):
    options = _sidecar(name)["DOCUMENTATION"]["options"]
    assert options["iterations"]["default"] == verifiers.DEFAULT_ITERATIONS


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_without_poolkit_a_filter_loads_and_its_call_names_what_to_install(plugin, tmp_path):
    # -S skips site-packages and its .pth files (the editable install of poolkit); ansible
    # and the collection's own plugin_utils stay importable.
    name = next(n for n, p in FILTERS.items() if p == plugin)
    code = (
        "import sys, importlib.util\n"
        f"sys.path += [{sysconfig.get_paths()['purelib']!r}, {str(ROOT / 'collections')!r}]\n"
        "try:\n"
        "    import poolkit\n"
        "except ImportError:\n"
        "    pass\n"
        "else:\n"
        "    sys.exit('poolkit is importable: the test proves nothing')\n"
        "from ansible.errors import AnsibleFilterError\n"
        f"spec = importlib.util.spec_from_file_location('plugin', {str(plugin)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "try:\n"
        f"    module.FilterModule().filters()[{name!r}]('x')\n"
        "except AnsibleFilterError as exc:\n"
        "    print(exc.message)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    pin = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert f"poolkit.poolkit.{name} needs the Python package poolkit" in done.stdout
    assert "poolkit==" in pin
    assert f"-m pip install '{pin.split()[-1]}'" in done.stdout
    assert "No module named 'poolkit'" in done.stdout
