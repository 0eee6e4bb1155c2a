"""Mitogen's linear strategy, found by the name `mitogen_linear` on the strategy path that
.config/molecule/config.yml gives molecule's plays (and the tests' own ansible-playbook
runs, which use molecule's ansible.cfg). Mitogen is a Python package in .venv; its plugin
directory moves with the Python version, this file does not.

Mitogen takes over the containers' `docker` connection only. Plays on the controller keep
Ansible's own `local` connection: molecule's create and destroy poll async jobs
(`async_status`) that Mitogen's local transport left hanging (destroy waited forever)."""

import ansible_mitogen.strategy
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # noqa: F401

ansible_mitogen.strategy.REDIRECTED_CONNECTION_PLUGINS = tuple(
    name for name in ansible_mitogen.strategy.REDIRECTED_CONNECTION_PLUGINS if name != "local"
)
