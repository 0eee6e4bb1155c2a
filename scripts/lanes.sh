#!/usr/bin/env bash
# Molecule scenarios in lanes: the scenarios of one lane run one after another, the lanes side
# by side (their containers mostly wait on each other, and each scenario has its own
# containers, networks and ports). `compose` in a lane is the compose tests (`make smoke`,
# project poolkit-smoke, ports of their own); `collection` is tests/collection (the collection
# tarball and the wheel used outside the checkout, containers poolkit-collection-*). Each
# stage's output is in .cache/test-logs/; the terminal shows when each starts and ends, and a
# failing one's summary (scripts/stage.sh).
# `lint` and `unit` in a lane are `make lint` and `make unit` (`make test` runs them as a third,
# short lane beside the first minutes of the others, which mostly wait on Docker then).
#   scripts/lanes.sh "lint unit compose collection forky" "pgbouncer security" "ha pgpool"
set -uo pipefail
here=$(dirname "$0")
lane() {
  local scenario
  for scenario in $1; do
    if [ "$scenario" = lint ] || [ "$scenario" = unit ]; then
      POOLKIT_STAGE_QUIET=1 make --no-print-directory "$scenario" || return 1
      continue
    fi
    if [ "$scenario" = compose ]; then
      echo "==> pytest tests/compose (log: .cache/test-logs/compose.log)"
      POOLKIT_STAGE_QUIET=1 "$here/stage.sh" compose pytest tests/compose || return 1
      continue
    fi
    if [ "$scenario" = collection ]; then
      echo "==> pytest tests/collection (log: .cache/test-logs/collection.log)"
      POOLKIT_STAGE_QUIET=1 "$here/stage.sh" collection pytest tests/collection || return 1
      continue
    fi
    echo "==> molecule test -s $scenario (log: .cache/test-logs/molecule-$scenario.log)"
    POOLKIT_STAGE_QUIET=1 "$here/stage.sh" "molecule-$scenario" molecule test -s "$scenario" \
      || return 1
  done
}
pids=()
for spec in "$@"; do
  lane "$spec" &
  pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do
  wait "$pid" || rc=1
done
exit "$rc"
