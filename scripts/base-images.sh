#!/usr/bin/env bash
# Provide the Debian base images every FROM line uses (debian:trixie, debian:bookworm).
# A registry pull first; where no registry answers, build the same tag locally with
# debootstrap from this machine's Debian mirror, so the Dockerfiles work unchanged on
# machines with and without a registry. Safe to re-run: an existing image is kept.
set -euo pipefail
say() { printf '==> %s\n' "$*"; }
die() { printf 'poolkit setup: %s\n' "$*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
suites=("$@")
[ "${#suites[@]}" -gt 0 ] || suites=(trixie bookworm)

for suite in "${suites[@]}"; do
  case "$suite" in trixie|bookworm) ;; *) die "unknown Debian suite '$suite': expected trixie or bookworm" ;; esac
  tag="debian:$suite"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    say "$tag is present"
    continue
  fi
  say "Pulling $tag"
  if timeout 120 docker pull -q "$tag" >/dev/null 2>&1; then
    continue
  fi
  say "No registry answered for $tag: building it with debootstrap"
  [ "$(id -u)" -eq 0 ] || die "building $tag with debootstrap needs root (no registry answered for 'docker pull $tag'). Run 'make setup' as root, or pull $tag on a machine with a registry and 'docker load' it here."
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "Installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  mirror=$("$here/debian-mirror.sh")
  root=$(mktemp -d "/var/tmp/poolkit-$suite.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  say "debootstrap --variant=minbase $suite from $mirror"
  if ! debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1; then
    tail -n 20 "$root.log" >&2
    die "debootstrap of $suite from $mirror failed (log above)"
  fi
  rm -f "$root.log"
  # Same shape as the registry image: no apt caches, sources pointing at the mirror.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "$tag" >/dev/null
  rm -rf "$root"
  trap - EXIT
  say "Built $tag locally"
done
