#!/usr/bin/env bash
# Provide the Debian base images every FROM line uses (debian:trixie, debian:bookworm,
# debian:forky). A registry pull first; where no registry answers, build the same tag locally
# with debootstrap from this machine's Debian mirror, so the Dockerfiles work unchanged on
# machines with and without a registry. Safe to re-run: an existing image is kept.
set -euo pipefail
say() { printf '==> %s\n' "$*"; }
die() { printf 'poolkit setup: %s\n' "$*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
suites=("$@")
[ "${#suites[@]}" -gt 0 ] || suites=(trixie bookworm forky)

# A testing suite's Release file carries a Valid-Until date a week ahead; a snapshot mirror
# keeps serving it after that date, and apt then refuses the whole suite ("is expired").
# Past that date, the image gets this file so apt inside it (the Dockerfiles, the roles'
# apt tasks) still reads the suite; pgbouncer_package_source's check_valid_until is the same
# switch for one apt source.
valid_until_conf=/etc/apt/apt.conf.d/99poolkit-check-valid-until

for suite in "${suites[@]}"; do
  case "$suite" in trixie|bookworm|forky) ;; *) die "unknown Debian suite '$suite': expected trixie, bookworm or forky" ;; esac
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
  # Debian 12's debootstrap (1.0.128) has no script for forky: forky is bootstrapped like
  # sid (the script Debian's own debootstrap links testing suites to).
  script=()
  if [ ! -e "/usr/share/debootstrap/scripts/$suite" ]; then
    [ -e /usr/share/debootstrap/scripts/sid ] || die "this debootstrap knows neither $suite nor sid: install a newer debootstrap"
    script=(/usr/share/debootstrap/scripts/sid)
  fi
  say "debootstrap --variant=minbase $suite from $mirror${script:+ (with the sid script)}"
  if ! debootstrap --variant=minbase "$suite" "$root" "$mirror" "${script[@]}" >"$root.log" 2>&1; then
    tail -n 20 "$root.log" >&2
    die "debootstrap of $suite from $mirror failed (log above)"
  fi
  rm -f "$root.log"
  valid_until=$(sed -n 's/^Valid-Until: //p' "$root"/var/lib/apt/lists/*_dists_"${suite}"_*Release 2>/dev/null | head -n 1)
  if [ -n "$valid_until" ] && [ "$(date -d "$valid_until" +%s)" -lt "$(date +%s)" ]; then
    say "$mirror serves $suite's Release past its Valid-Until ($valid_until): apt in $tag will not check that date ($valid_until_conf)"
    printf '%s\n' "// poolkit (scripts/base-images.sh): $mirror served $suite's Release past its" \
      "// Valid-Until ($valid_until); without this apt refuses the suite as expired." \
      'Acquire::Check-Valid-Until "false";' >"$root$valid_until_conf"
  fi
  # Same shape as the registry image: no apt caches, sources pointing at the mirror.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "$tag" >/dev/null
  rm -rf "$root"
  trap - EXIT
  say "Built $tag locally"
done
