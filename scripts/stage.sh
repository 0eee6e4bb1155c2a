#!/usr/bin/env bash
# One stage of `make test`: run a command, keep its whole output in .cache/test-logs/NAME.log
# (and show it as it runs, unless POOLKIT_STAGE_QUIET=1: stages running side by side), say
# how long it took, and when it fails end with a summary that a cut log still shows: the
# stage, the failing tests' FAILED lines, the first error lines, and where the log is.
#   scripts/stage.sh NAME COMMAND [ARG...]
set -uo pipefail
name=$1
shift
logs=${POOLKIT_TEST_LOGS:-.cache/test-logs}
mkdir -p "$logs"
log="$logs/$name.log"
start=$SECONDS
if [ "${POOLKIT_STAGE_QUIET:-0}" = 1 ]; then
  # Side by side: each line of the log starts with the seconds since the stage started, so a
  # slow step can be found afterwards ("[ 123s] ...").
  "$@" 2>&1 | while IFS= read -r line || [ -n "$line" ]; do printf '[%4ds] %s\n' $((SECONDS - start)) "$line"; done >"$log"
  rc=${PIPESTATUS[0]}
else
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
fi
took=$((SECONDS - start))
took=$(printf '%dm%02ds' $((took / 60)) $((took % 60)))
if [ "$rc" -eq 0 ]; then
  echo "==> stage '$name' passed in $took"
else
  {
    echo
    echo "==> make test FAILED in stage '$name' (exit $rc, after $took); its whole output: $log"
    # The log without the side-by-side stages' "[ 123s] " prefixes.
    plain=$(sed -E 's/^\[ *[0-9]+s\] //' "$log")
    failed=$(grep -E '^(FAILED|ERROR) [^ ]+::' <<<"$plain" | sort -u | head -n 25)
    if [ -n "$failed" ]; then
      echo "$failed" | sed 's/^/    /'
    fi
    echo "    first errors:"
    # Molecule 26 says "CRITICAL 'molecule/default/molecule.yml' glob failed" at every start
    # when there is no default scenario: not an error of the run.
    grep -E '^E +[^ ]|fatal: \[|\[ERROR\]|^ERROR|CRITICAL|Error:|error:' <<<"$plain" \
      | grep -v "molecule/default/molecule.yml' glob failed" | head -n 8 \
      | cut -c1-300 | sed 's/^/      /'
    echo "==> make test FAILED in stage '$name'"
  } >&2
fi
exit "$rc"
