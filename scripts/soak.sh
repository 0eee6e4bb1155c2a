#!/usr/bin/env bash
# Soak the timing-sensitive tests: run a converged molecule scenario's tests that match a
# pytest -k expression ROUNDS times, and print each test's pass rate (a benchmark-style
# script: it prints figures and exits non-zero when any round failed; it is not part of
# `make test`). Run it while other scenarios run (`make molecule SCENARIOS=ha` in another
# shell) to see whether the tests hold side by side.
#   molecule converge -s pgbouncer
#   scripts/soak.sh pgbouncer "pause_window or query_wait_timeout or lifetime" 5
#   molecule destroy -s pgbouncer
# SCENARIO `compose` soaks tests/compose instead (each round brings its stack up and down):
#   scripts/soak.sh compose "exhaustion" 5
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: scripts/soak.sh SCENARIO PYTEST_K_EXPRESSION [ROUNDS (5)]" >&2
  exit 2
fi
scenario=$1
expression=$2
rounds=${3:-5}
case $rounds in
  '' | *[!0-9]* | 0)
    echo "soak.sh: ROUNDS is '$rounds': expected a whole number above 0" >&2
    exit 2
    ;;
esac
export PATH="$PWD/.venv/bin:$PATH"
run_round() {
  pytest -p no:cacheprovider --connection=ansible --ansible-inventory="$inventory" \
    --hosts="ansible://$hosts" -k "$expression" -rA -q $workers "molecule/$scenario/tests"
}
if [ "$scenario" = compose ]; then
  run_round() { pytest -p no:cacheprovider -k "$expression" -rA -q tests/compose; }
elif [ ! -d "molecule/$scenario/tests" ]; then
  echo "soak.sh: no scenario '$scenario' (expected molecule/$scenario/tests)" >&2
  exit 2
fi
if [ "$scenario" != compose ]; then
# Molecule 26's ephemeral directory: ~/.ansible/tmp/molecule.<checksum of the checkout's
# name>.<scenario> (molecule/scenario.py).
ephemeral=$(.venv/bin/python -c 'import sys; from pathlib import Path; from molecule.text import checksum
print(Path.home() / ".ansible/tmp" / f"molecule.{checksum(Path.cwd().name, 4)}.{sys.argv[1]}")' "$scenario")
inventory="$ephemeral/inventory/ansible_inventory.yml"
if [ ! -f "$inventory" ]; then
  echo "soak.sh: scenario '$scenario' is not converged (no $inventory):" \
    "run 'molecule converge -s $scenario' first" >&2
  exit 2
fi
# The tests' own playbook runs use molecule's ansible.cfg, as in `make test` (the scenario's
# strategy: Mitogen's, or Ansible's own in `security`).
# The verifier's hosts (molecule.yml verifier.options.hosts), else every host, and its
# pytest-xdist workers (n, dist), so the hosts' tests run side by side as in `make test`.
read -r hosts workers < <(python3 -c 'import sys, yaml
options = (yaml.safe_load(open(sys.argv[1])).get("verifier") or {}).get("options") or {}
n, dist = options.get("n"), options.get("dist", "load")
print(options.get("hosts", "all"), f"-n {n} --dist {dist}" if n else "")' "molecule/$scenario/molecule.yml")
export MOLECULE_PROJECT_DIRECTORY="$PWD" MOLECULE_SCENARIO_NAME="$scenario" \
  MOLECULE_SCENARIO_DIRECTORY="$PWD/molecule/$scenario" MOLECULE_EPHEMERAL_DIRECTORY="$ephemeral" \
  MOLECULE_INVENTORY_FILE="$inventory" ANSIBLE_CONFIG="$ephemeral/ansible.cfg" \
  ANSIBLE_COLLECTIONS_PATH="$PWD/collections:$HOME/.ansible/collections" ANSIBLE_PIPELINING=true
fi
results=$(mktemp)
trap 'rm -f "$results"' EXIT
failed_rounds=0
for round in $(seq 1 "$rounds"); do
  started=$SECONDS
  if ! run_round >"$results.$round" 2>&1; then
    failed_rounds=$((failed_rounds + 1))
  fi
  grep -E '^(PASSED|FAILED|ERROR) ' "$results.$round" | sed -E 's/ - .*//' >>"$results" || true
  echo "round $round/$rounds: $(tail -n 1 "$results.$round") ($((SECONDS - started)) s)"
done
echo
echo "pass rate per test over $rounds rounds ($scenario, -k '$expression'):"
awk '{ total[$2]++; if ($1 == "PASSED") passed[$2]++ }
  END { for (t in total) printf "  %d/%d  %s\n", passed[t], total[t], t }' "$results" | sort -k2
if [ "$failed_rounds" -gt 0 ]; then
  echo "$failed_rounds of $rounds rounds failed; their output: $results.N (kept)" >&2
  trap - EXIT
  exit 1
fi
rm -f "$results".*
