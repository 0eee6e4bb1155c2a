#!/usr/bin/env bash
# Make sure a Docker Engine with compose v2 answers on this machine.
# Uses the user's engine when one answers; otherwise installs Debian's docker.io and
# docker-compose (compose v2 comes from trixie, pinned low so nothing else upgrades)
# and starts dockerd in the background (no systemd on the host). Safe to re-run, and
# copes with what a killed daemon leaves behind (stale pid file, dead containerd socket).
set -euo pipefail

say() { printf '==> %s\n' "$*"; }
die() { printf 'poolkit setup: %s\n' "$*" >&2; exit 1; }

DOCKER_LOG=${DOCKER_LOG:-/var/log/poolkit-dockerd.log}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }
compose_answers() { timeout 10 docker compose version >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_answers && compose_answers; then
  say "Docker Engine $(docker version --format '{{.Server.Version}}' 2>/dev/null) with $(docker compose version --short 2>/dev/null | sed 's/^/compose /') already answers: using it"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v docker >/dev/null 2>&1; then
    die "docker is installed but no engine answers (docker info failed) and this is not root, so poolkit cannot start one. Start your Docker Engine (e.g. 'sudo systemctl start docker') and add yourself to the docker group, or run 'make setup' as root."
  fi
  die "Docker is not installed and this is not root. Install a Docker Engine with compose v2 (e.g. 'sudo apt-get install docker.io docker-compose') or run 'make setup' as root."
fi

command -v apt-get >/dev/null 2>&1 || die "no Docker Engine answers and this machine has no apt-get: install a Docker Engine with compose v2 yourself, then re-run 'make setup'."

need_install=0
command -v dockerd >/dev/null 2>&1 || need_install=1
[ -x /usr/libexec/docker/cli-plugins/docker-compose ] || [ -x /usr/lib/docker/cli-plugins/docker-compose ] || need_install=1
if [ "$need_install" -eq 1 ]; then
  . /etc/os-release
  if [ "${VERSION_CODENAME:-}" = "bookworm" ]; then
    # bookworm's docker-compose is v1; trixie's 2.x installs cleanly here. A low pin keeps
    # every other package on bookworm.
    if ! grep -rqs 'trixie' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      mirror=$("$(dirname "$0")/debian-mirror.sh")
      say "Adding Debian trixie to the apt sources (pinned at priority 100) for compose v2, from $mirror"
      printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" \
        > /etc/apt/sources.list.d/poolkit-trixie.sources
    fi
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/poolkit-trixie
    say "apt-get update"
    apt-get update -qq
    # Name the release per package (not -t trixie): only containerd, docker.io, docker-cli
    # and docker-compose come from trixie, every dependency stays on bookworm.
    say "Installing docker.io, docker-cli and docker-compose (compose v2) from trixie"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io/trixie docker-cli/trixie docker-compose/trixie >/dev/null
  else
    say "apt-get update"
    apt-get update -qq
    say "Installing docker.io and docker-compose from ${VERSION_CODENAME:-the distribution}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io docker-compose >/dev/null
    command -v docker >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-cli >/dev/null
  fi
fi

# A docker client elsewhere on PATH (e.g. /usr/local/bin) must find Debian's compose plugin.
if ! compose_answers; then
  for dir in /usr/libexec/docker/cli-plugins /usr/lib/docker/cli-plugins; do
    if [ -x "$dir/docker-compose" ]; then
      mkdir -p /usr/local/lib/docker/cli-plugins
      ln -sf "$dir/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose
      break
    fi
  done
fi

if ! engine_answers; then
  # A killed daemon leaves its pid files and sockets; dockerd refuses to start over them.
  for pidfile in /var/run/docker.pid /run/docker/containerd/containerd.pid; do
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
      say "Removing stale $pidfile"
      rm -f "$pidfile"
    fi
  done
  pgrep -x dockerd >/dev/null 2>&1 && { say "dockerd runs but does not answer: stopping it"; pkill -x dockerd || true; sleep 2; }
  rm -f /var/run/docker.sock
  say "Starting dockerd in the background (log: $DOCKER_LOG)"
  nohup dockerd >"$DOCKER_LOG" 2>&1 &
  for _ in $(seq 1 60); do
    engine_answers && break
    sleep 1
  done
  engine_answers || { tail -n 20 "$DOCKER_LOG" >&2; die "dockerd did not answer within 60 s; its log is $DOCKER_LOG"; }
fi

compose_answers || die "the Docker Engine answers but 'docker compose' (v2) does not: install Debian's docker-compose package (2.x)."
say "Docker Engine $(docker version --format '{{.Server.Version}}') and compose $(docker compose version --short) answer"
