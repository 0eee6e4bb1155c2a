"""The test images that bake a role's packages in (images/patroni) stay what the role makes."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def role_task(role: str, tasks_file: str, name: str) -> dict:
    tasks = yaml.safe_load((ROOT / "roles" / role / "tasks" / tasks_file).read_text())
    return next(task for task in tasks if task.get("name") == name)


def test_the_patroni_image_keeps_postgresql_common_from_creating_a_cluster_as_the_role_does():
    task = role_task(
        "patroni", "install.yml", "Keep the PostgreSQL package from creating its main cluster"
    )
    copy = task["ansible.builtin.copy"]
    baked = ROOT / "images" / "patroni" / Path(copy["dest"]).name
    assert baked.read_text() == copy["content"]
    dockerfile = (ROOT / "images" / "patroni" / "Dockerfile").read_text()
    assert f"COPY {baked.name} {copy['dest']}" in dockerfile


def test_the_patroni_image_installs_every_package_the_role_does():
    packages = yaml.safe_load((ROOT / "roles" / "patroni" / "vars" / "main.yml").read_text())[
        "__patroni_packages"
    ]
    dockerfile = (ROOT / "images" / "patroni" / "Dockerfile").read_text()
    for package in packages:
        baked = package.replace("{{ __patroni_pg_major }}", "${PG_MAJOR}")
        assert baked in dockerfile, f"{package} is not in images/patroni/Dockerfile"
    lab_pki = role_task(
        "lab_pki", "main.yml", "Install what the host needs to make keys and signing requests"
    )
    for package in lab_pki["ansible.builtin.apt"]["name"]:
        assert package in dockerfile, (
            f"{package} (roles/lab_pki) is not in images/patroni/Dockerfile"
        )
