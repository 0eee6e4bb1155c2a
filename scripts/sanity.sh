#!/usr/bin/env bash
# ansible-test sanity on the collection poolkit.poolkit as users get it: the tarball of
# `ansible-galaxy collection build`, unpacked at .../ansible_collections/poolkit/poolkit in a
# temporary directory (ansible-test needs that path; src/, tests/ and molecule/ are not part
# of the collection). It runs on this venv's Python, without containers (`--local`); each
# test's own requirements go into virtualenvs ansible-test keeps in .cache/ansible-test.
# What it skips and why: tests/sanity/ignore-2.19.txt; README "Tests".
#   scripts/sanity.sh [ansible-test sanity options...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build "$root" --output-path "$work" >/dev/null
collection="$work/ansible_collections/poolkit/poolkit"
mkdir -p "$collection"
tar -xzf "$work"/poolkit-poolkit-*.tar.gz -C "$collection"

# ansible-test's home: its virtualenvs and caches stay in the checkout's .cache/, reused by
# the next run. pip keeps the usual download cache.
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-$HOME/.cache/pip}
export HOME="$root/.cache/ansible-test"
# ansible-test bootstraps pip in each virtualenv with a get-pip script it downloads from
# ci-files.testing.ansible.com, which this network does not reach. In its place: the pip
# that ships with Python (ensurepip), then `pip install` of what the script would install
# (the pinned pip, from PyPI).
bootstrap="$HOME/.ansible/test/cache/get_pip_$(python -c 'import ansible_test._internal.python_requirements as r; print(r.PIP_VERSION.replace(".", "_"))' 2>/dev/null || echo 24_2).py"
if [ ! -f "$bootstrap" ]; then
  mkdir -p "$(dirname "$bootstrap")"
  cat >"$bootstrap" <<'PY'
"""Stand-in for ansible-test's get-pip script: ensurepip, then pip install ARGS."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
PY
fi
python=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
cd "$collection"
ansible-test sanity --local --python "$python" --color no "$@"
