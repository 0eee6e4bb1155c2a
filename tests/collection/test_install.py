"""poolkit used the way an Ansible user uses it, from a directory of their own.

Outside the checkout: the collection tarball (`ansible-galaxy collection build`) and the
wheel (`pip wheel`) are built into a new directory; a fresh virtualenv gets ansible-core and
the wheel, a collections path of that directory gets the tarball; the directory's own
ansible.cfg, inventory and playbook deploy PostgreSQL (the collection's lab role), then
poolkit.poolkit.pgbouncer and poolkit.poolkit.pgpool into one systemd container
(poolkit-collection-*, from the image molecule uses); then a query goes through each pooler.
The runs see no path of the checkout: no PYTHONPATH, no ANSIBLE_* from this process, HOME in
the new directory, the checkout's path absent from the configuration they print.

Galaxy is not reachable here: the collections poolkit.poolkit depends on (ansible.posix,
community.postgresql, community.crypto) and the docker connection (community.docker) are
copied into the new collections path from this machine's `ansible` package, as
`ansible-galaxy collection install` would place them. PyPI (or pip's cache) provides
ansible-core and poolkit's dependencies.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "poolkit/systemd:trixie"
LABEL = "io.poolkit.collection-test"
#: What the collection's roles and this test's inventory need besides poolkit.poolkit.
DEPENDENCIES = ("ansible.posix", "community.postgresql", "community.crypto", "community.docker")

PLAYBOOK = """\
---
# A user's playbook: PostgreSQL (the collection's lab role), then both poolers in front.
- name: PostgreSQL
  hosts: databases
  become: true
  roles:
    - role: poolkit.poolkit.postgresql

- name: PgBouncer in front of it
  hosts: poolers
  become: true
  roles:
    - role: poolkit.poolkit.pgbouncer

- name: Pgpool-II in front of it
  hosts: poolers
  become: true
  roles:
    - role: poolkit.poolkit.pgpool
"""

ANSIBLE_CFG = """\
[defaults]
inventory = inventory.yml
collections_path = ./collections
interpreter_python = auto_silent
retry_files_enabled = false
stdout_callback = default
callback_result_format = yaml

[connection]
pipelining = true
"""

MISSING_PACKAGE_PLAY = """\
---
- name: Size a topology with the collection's filter
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Compute the sizing
      ansible.builtin.debug:
        msg: "{{ topology | poolkit.poolkit.poolkit_size }}"
      vars:
        topology:
          database: {max_connections: 100}
          poolers: {hosts: 1}
          pools: [{database: app, user: app, share: 1}]
          apps: [{name: web, instances: 1, processes: 1, connections_per_process: 5}]
"""


def inventory(container: str, passwords: dict[str, str]) -> dict:
    """One container holding PostgreSQL, PgBouncer and Pgpool-II, reached by docker exec."""
    return {
        "all": {
            "hosts": {
                "db1": {
                    "ansible_connection": "community.docker.docker",
                    "ansible_host": container,
                }
            },
            "children": {"databases": {"hosts": {"db1": {}}}, "poolers": {"hosts": {"db1": {}}}},
            "vars": {
                "postgresql_max_connections": 60,
                "postgresql_hba_networks": ["127.0.0.1/32"],
                "postgresql_databases": [{"name": "app", "owner": "app"}],
                "postgresql_users": [
                    {"name": "app", "password": passwords["app"]},
                    {"name": "pool_check", "password": passwords["check"]},
                ],
                "pgbouncer_server_verifier_host": "db1",
                "pgbouncer_users": [{"name": "app", "password": passwords["app"]}],
                "pgbouncer_databases": [{"name": "app", "host": "127.0.0.1", "dbname": "app"}],
                "pgbouncer_default_pool_size": 5,
                # Debian 13's PgBouncer 1.24.1 in a throwaway container on 127.0.0.1, as in
                # molecule's pgbouncer scenario; a deployment installs 1.26.1 instead
                # (pgbouncer_package_source, README "Security").
                "pgbouncer_accepted_advisories": [
                    "CVE-2026-107350",
                    "CVE-2026-19888",
                    "CVE-2026-6669",
                ],
                "pgpool_backends": [{"hostname": "127.0.0.1", "port": 5432, "weight": 1}],
                "pgpool_backend_max_connections": 60,
                "pgpool_num_init_children": 8,
                "pgpool_max_pool": 2,
                "pgpool_health_check_user": "pool_check",
                "pgpool_sr_check_user": "pool_check",
                "pgpool_users": [
                    {"name": "app", "password": passwords["app"]},
                    {"name": "pool_check", "password": passwords["check"]},
                ],
                "pgpool_pool_key": passwords["pool_key"],
            },
        }
    }


class Phases:
    """Prints how long each phase took (the stage's log shows where the time goes)."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def done(self, what: str) -> None:
        now = time.monotonic()
        print(f"[collection] {what}: {now - self.last:.0f} s", flush=True)
        self.last = now


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{output[-4000:]}"
    return output


def clean_env(home: Path, venv: Path | None = None) -> dict[str, str]:
    """A user's shell: the new virtualenv first on PATH, HOME in the new directory, nothing
    of the checkout (no PYTHONPATH, no ANSIBLE_*, no VIRTUAL_ENV of this process)."""
    path = "/usr/local/bin:/usr/bin:/bin"
    env = {
        "PATH": f"{venv / 'bin'}:{path}" if venv else path,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "ANSIBLE_NOCOLOR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # pip's cache of this machine: the same downloads, not the checkout.
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
    }
    for key in ("DOCKER_HOST", "http_proxy", "https_proxy", "no_proxy", "PIP_INDEX_URL"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check:
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def has_image() -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", IMAGE], capture_output=True, check=False
        ).returncode
        == 0
    )


pytestmark = pytest.mark.skipif(
    shutil.which("docker") is None or not has_image(),
    reason=f"needs a Docker Engine and the image {IMAGE} (make setup)",
)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("poolkit-user")
    assert not work.resolve().is_relative_to(ROOT.resolve()), "the directory is in the checkout"
    return work


@pytest.fixture(scope="module")
def container(work):
    name = f"poolkit-collection-{os.getpid()}"
    docker("rm", "-f", name, check=False)
    docker(
        "run", "-d", "--name", name, "--label", f"{LABEL}=1", "--hostname", "db1",
        "--privileged", "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
        "-p", "127.0.0.1::6432", "-p", "127.0.0.1::9999",
        IMAGE, "/usr/local/sbin/poolkit-init",
    )  # fmt: skip
    try:
        yield name
    finally:
        docker("rm", "-f", "-v", name, check=False)


@pytest.fixture(scope="module")
def user_dir(work):
    """The new directory after a user's install: dist/ (tarball, wheel), venv/, collections/,
    and their own ansible.cfg. Returns (work, env)."""
    phases = Phases()
    dist = work / "dist"
    dev_bin = Path(sys.executable).parent
    build_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run(
        [str(dev_bin / "ansible-galaxy"), "collection", "build", str(ROOT), "--output-path",
         str(dist)],
        cwd=work, env=build_env,
    )  # fmt: skip
    phases.done("ansible-galaxy collection build")
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w",
         str(dist), str(ROOT)],
        cwd=work, env=build_env,
    )  # fmt: skip
    phases.done("pip wheel")
    (tarball,) = dist.glob("poolkit-poolkit-*.tar.gz")
    (wheel,) = dist.glob("poolkit-*-py3-none-any.whl")

    home = work / "home"
    home.mkdir()
    venv = work / "venv"
    env = clean_env(home)
    run(["/usr/bin/python3", "-m", "venv", str(venv)], cwd=work, env=env)
    env = clean_env(home, venv)
    core = f"ansible-core=={metadata.version('ansible-core')}"
    run([str(venv / "bin/pip"), "install", "-q", core], cwd=work, env=env)
    phases.done(f"python -m venv, pip install {core}")

    (work / "ansible.cfg").write_text(ANSIBLE_CFG)
    env["ANSIBLE_CONFIG"] = str(work / "ansible.cfg")
    collections = work / "collections" / "ansible_collections"
    for name in DEPENDENCIES:
        namespace, collection = name.split(".")
        shutil.copytree(
            Path(metadata.distribution("ansible").locate_file("ansible_collections"))
            / namespace
            / collection,
            collections / namespace / collection,
        )
    run(
        [str(venv / "bin/ansible-galaxy"), "collection", "install", str(tarball), "-p",
         str(work / "collections")],
        cwd=work, env=env,
    )  # fmt: skip
    phases.done("ansible-galaxy collection install (and the dependencies copied)")
    return work, env, wheel, venv


def test_tarball_holds_the_collection_and_nothing_of_the_development(user_dir):
    work, _env, _wheel, _venv = user_dir
    (tarball,) = (work / "dist").glob("poolkit-poolkit-*.tar.gz")
    listing = subprocess.run(
        ["tar", "-tzf", str(tarball)], capture_output=True, text=True, check=True
    ).stdout.split()
    top = {entry.split("/")[0] for entry in listing}
    assert {"roles", "plugins", "meta", "MANIFEST.json", "FILES.json", "README.md"} <= top
    assert {"requirements.txt", "CHANGELOG.md"} <= top
    assert not top & {"src", "molecule", "collections", ".venv", ".cache", "lab", "bench"}
    # tests/ holds ansible-test's ignore file at most, never the checkout's tests.
    assert {e for e in listing if e.startswith("tests/")} <= {"tests/", "tests/sanity/"} | {
        e for e in listing if e.startswith("tests/sanity/")
    }
    assert tarball.stat().st_size < 1_000_000, f"{tarball.stat().st_size} bytes"


def test_without_the_wheel_a_filter_says_what_to_install(user_dir):
    work, env, _wheel, venv = user_dir
    (work / "size.yml").write_text(MISSING_PACKAGE_PLAY)
    done = subprocess.run(
        [str(venv / "bin/ansible-playbook"), "-i", "localhost,", "size.yml"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "poolkit.poolkit.poolkit_size needs the Python package poolkit" in output, output
    assert "-m pip install 'poolkit==" in output, output


def test_playbook_of_its_own_deploys_both_poolers_and_queries_go_through(user_dir, container):
    work, env, wheel, venv = user_dir
    phases = Phases()
    run([str(venv / "bin/pip"), "install", "-q", str(wheel)], cwd=work, env=env)
    phases.done("pip install the wheel")

    # Nothing of the checkout on any path the run uses.
    where = run(
        [str(venv / "bin/python"), "-c", "import poolkit, sys; print(poolkit.__file__, sys.path)"],
        cwd=work, env=env,
    )  # fmt: skip
    assert where.startswith(str(venv)), where
    listed = run([str(venv / "bin/ansible-galaxy"), "collection", "list"], cwd=work, env=env)
    assert str(work / "collections" / "ansible_collections") in listed, listed
    config = run(
        [str(venv / "bin/ansible-config"), "dump", "--only-changed", "-t", "all"],
        cwd=work, env=env,
    )  # fmt: skip
    for text in (where, listed, config, json.dumps(env)):
        assert str(ROOT) not in text, text

    passwords = {k: secrets.token_urlsafe(18) for k in ("app", "check", "pool_key")}
    (work / "inventory.yml").write_text(json.dumps(inventory(container, passwords), indent=2))
    (work / "site.yml").write_text(PLAYBOOK)
    run([str(venv / "bin/ansible-playbook"), "site.yml"], cwd=work, env=env, timeout=1200)
    phases.done("ansible-playbook site.yml (PostgreSQL, PgBouncer, Pgpool-II)")

    for port, pooler in ((6432, "PgBouncer"), (9999, "Pgpool-II")):
        address = docker("port", container, f"{port}/tcp").splitlines()[0]
        host, published = address.rsplit(":", 1)
        dsn = f"host={host} port={published} dbname=app user=app connect_timeout=10"
        with psycopg.connect(dsn, password=passwords["app"], prepare_threshold=None) as conn:
            row = conn.execute("SELECT current_user, 40 + 2").fetchone()
        assert row == ("app", 42), f"through {pooler}: {row}"
        print(f"[collection] a query through {pooler} ({address}): {row}")
    phases.done("queries through both poolers")
