"""Mitogen's linear strategy, found by the name `mitogen_linear` on the strategy path that
.config/molecule/config.yml gives molecule's plays (and the tests' own ansible-playbook
runs, which use molecule's ansible.cfg). Mitogen is a Python package in .venv; its plugin
directory moves with the Python version, this file does not."""

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # noqa: F401
