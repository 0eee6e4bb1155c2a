#!/usr/bin/env bash
# Print the Debian mirror this machine's apt sources use (deb822 or one-line format),
# so debootstrap and the trixie suite come from the mirror the machine can reach.
set -uo pipefail
files=()
[ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] && files+=("$f")
done
mirror=""
if [ "${#files[@]}" -gt 0 ]; then
  mirror=$(awk '
    /^[[:space:]]*#/ { next }
    /^URIs:/ { for (i = 2; i <= NF; i++) print $i; next }
    /^deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; break } }
  ' "${files[@]}" | grep -E '/debian/?$' | head -n 1)
fi
echo "${mirror:-http://deb.debian.org/debian}"
