#!/bin/sh
# PID 1 of the systemd containers. Docker makes every mount of a container private; systemd
# on a real host boots with them shared, and what it mounts for a unit in a helper namespace
# relies on that: without it, the credentials of LoadCredentialEncrypted= (the exporters'
# passwords) never appear in the unit's $CREDENTIALS_DIRECTORY.
mount --make-rshared /
exec /lib/systemd/systemd "$@"
