#!/bin/sh
# PID 1 of the systemd containers. Docker makes every mount of a container private; systemd
# on a real host boots with them shared, and what it mounts for a unit in a helper namespace
# relies on that: without it, the credentials of LoadCredentialEncrypted= (the exporters'
# passwords) never appear in the unit's $CREDENTIALS_DIRECTORY.
# systemd 258 and newer (Debian forky) refuse to boot on a cgroup v1 host ("Detected
# unsupported legacy cgroup hierarchy, refusing execution"); older ones run there in hybrid
# mode, tracking their units in the host's cgroup2 hierarchy (/sys/fs/cgroup/unified) under
# this container's own cgroup. On such a host the newer systemd is given that same cgroup2
# hierarchy as /sys/fs/cgroup, and this container's cgroup in it, as the older ones use it.
# (This container's mounts are private: the host's /sys/fs/cgroup is left as it is.)
version=$(/lib/systemd/systemd --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
if [ "${version:-0}" -ge 258 ] && [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ] \
   && [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
  own=$(sed -n 's/^[0-9]*:name=systemd:\(.*\)$/\1/p' /proc/self/cgroup)
  [ -n "$own" ] && [ "$own" != / ] || { echo "poolkit-init: no cgroup of this container found in /proc/self/cgroup" >&2; exit 1; }
  # A step that fails leaves cgroup v1 in place: systemd then says why it refuses to boot.
  mkdir -p "/sys/fs/cgroup/unified$own" \
    && echo $$ >"/sys/fs/cgroup/unified$own/cgroup.procs" \
    && umount -l /sys/fs/cgroup \
    && mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
fi
mount --make-rshared /
exec /lib/systemd/systemd "$@"
