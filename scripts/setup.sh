#!/usr/bin/env bash
# `make setup`: everything poolkit needs on this machine, safe to re-run, saying what it does.
#   1. .venv/ with poolkit (editable), its calibrate extra and the pinned tools of [dev]
#   2. promtool, which checks the alert rules `poolkit alerts` writes (tests/unit)
#   3. a Docker Engine with compose v2 (the user's, or Debian's started in the background)
#   4. the Debian base images trixie, bookworm and forky (registry pull, or a local
#      debootstrap build with the same tag)
#   5. the compose stack's images (docker-compose.yml), built beside
#   6. the systemd images the lab and molecule run (images/systemd), one per release
#   7. the `ha` scenarios' Patroni member images (images/patroni: systemd plus its packages)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '==> %s\n' "$*"; }
die() { printf 'poolkit setup: %s\n' "$*" >&2; exit 1; }

# 1. Python virtualenv
command -v python3 >/dev/null 2>&1 || die "python3 is missing: install Python 3.11 or newer (e.g. 'apt-get install python3 python3-venv')."
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "python3 is $(python3 -V 2>&1 | cut -d' ' -f2); poolkit needs 3.11 or newer."
if [ ! -x .venv/bin/python ]; then
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "python3 cannot create virtualenvs: install python3-venv (sudo apt-get install python3-venv) and re-run 'make setup'."
    say "Installing python3-venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  say "Creating .venv with $(python3 -V)"
  python3 -m venv .venv
fi
# pip runs in the background while the Docker Engine and the images are set up (apt and
# docker do not touch .venv); its output is in .cache/setup-pip.log, shown if it fails.
# A step that fails stops the background jobs too; each job's output is in .cache/setup-*.log.
trap 'kill ${pip_pid:-} ${compose_pid:-} 2>/dev/null || true' EXIT
mkdir -p .cache
await_job() {  # PID LOG WHAT: wait for a background job; when it failed, show its log's end
  wait "$1" && return 0
  grep -v '^WARNING: Location' "$2" | tail -n 20 >&2
  die "$3 failed (log above, whole log in $2)"
}
stamp=.venv/.poolkit-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
pip_pid=
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "Installing poolkit (editable, with [calibrate]) and its pinned tools into .venv, in the background (log: .cache/setup-pip.log)"
  (
    .venv/bin/pip install -q --disable-pip-version-check --upgrade pip \
      && .venv/bin/pip install -q --disable-pip-version-check -e '.[dev,calibrate]' \
      && echo "$want" > "$stamp"
  ) > .cache/setup-pip.log 2>&1 &
  pip_pid=$!
else
  say ".venv is up to date with pyproject.toml"
fi

# 2. promtool. Only the binary, into .venv/bin: installing Debian's package prometheus, which
#    ships it, would also start a Prometheus server on port 9090.
install_promtool() {
  local tmp
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
    [ "$(id -u)" -eq 0 ] || die "cannot download the Debian package prometheus (for promtool): run 'sudo apt-get update' and re-run 'make setup', or install promtool yourself."
    apt-get update -qq
    (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) \
      || die "cannot download the Debian package prometheus (for promtool): check the apt sources, or install promtool yourself."
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
  install -m 0755 "$tmp/root/usr/bin/promtool" .venv/bin/promtool
  rm -rf "$tmp"
}
if command -v promtool >/dev/null 2>&1 || [ -x .venv/bin/promtool ]; then
  say "promtool is installed"
else
  say "Installing promtool into .venv/bin (from the Debian package prometheus, without its server)"
  install_promtool
fi

# 3. Docker Engine and compose v2
scripts/setup-docker.sh

# 4. Base images for every FROM line
scripts/base-images.sh trixie bookworm forky

# 5. The compose stack's images (docker-compose.yml, its monitoring profile too), in the
#    background beside the systemd images: `docker compose up --build` then finds them cached.
say "Building the compose stack's images in the background (log: .cache/setup-compose-build.log)"
docker compose --profile monitoring build > .cache/setup-compose-build.log 2>&1 &
compose_pid=$!

# 6. systemd images for the lab and molecule
for release in trixie bookworm forky; do
  say "Building poolkit/systemd:$release (images/systemd; cached after the first time)"
  docker build -q -t "poolkit/systemd:$release" --build-arg "DEBIAN_RELEASE=$release" images/systemd >/dev/null
done
# 7. The `ha` scenarios' Patroni members: the systemd image with roles/patroni's packages
#    (PostgreSQL 17 on trixie for `ha`, 15 on bookworm for `ha-bookworm`)
for release in trixie:17 bookworm:15; do
  say "Building poolkit/patroni:${release%:*} (images/patroni; cached after the first time)"
  docker build -q -t "poolkit/patroni:${release%:*}" --build-arg "DEBIAN_RELEASE=${release%:*}" \
    --build-arg "PG_MAJOR=${release#*:}" images/patroni >/dev/null
done
await_job "$compose_pid" .cache/setup-compose-build.log "docker compose building the stack's images"
say "The compose stack's images are built"
if [ -n "$pip_pid" ]; then
  await_job "$pip_pid" .cache/setup-pip.log "pip installing poolkit into .venv"
  say "poolkit and its tools are installed in .venv"
fi
say "Setup done: .venv/bin/poolkit, .venv/bin/ansible-playbook and .venv/bin/molecule are ready"
