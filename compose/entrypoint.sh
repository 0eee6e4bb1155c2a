#!/bin/sh
# poolkit-entrypoint: runs one component of the local stack (docker-compose.yml).
#   render            apply the roles to render every configuration file (the `config` service)
#   postgres          the primary: initialise the volume once, apply roles.sql, run
#   postgres-replica  the streaming replica: clone the primary once, run
#   pgbouncer         PgBouncer on /etc/pgbouncer/pgbouncer-1.ini
#   pgpool            Pgpool-II on /etc/pgpool2/pgpool.conf
#   pgbouncer-exporter, pgpool-exporter, prometheus    the `monitoring` profile
# Anything else runs as a command (e.g. `docker compose run --rm pgbouncer bash`).
# Every server runs as the postgres user in the foreground, as PID 1, logging to stderr.
set -eu

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGDATA=/var/lib/postgresql/data
CONF=/etc/poolkit/postgres
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
say() { echo "poolkit-entrypoint: $*" >&2; }

runtime_dirs() {
  install -d -o postgres -g postgres -m 2775 /var/run/postgresql
  install -d -o postgres -g postgres -m 0755 "$@"
}

postgres_args() {
  echo "-D $PGDATA -c config_file=$PGDATA/postgresql.conf -c hba_file=$CONF/pg_hba.conf"
}

# Apply the rendered roles and database (verifiers only) with a server that listens on
# the unix socket alone, so no client reaches it half-configured.
apply_roles() {
  # shellcheck disable=SC2046
  as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -w -s start \
    -o "$(postgres_args) -c listen_addresses=''"
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -d postgres -f "$CONF/roles.sql"
  as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -w -s stop -m fast
}

case "${1:-}" in
render)
  cd /poolkit
  # The checkout is the collection poolkit.poolkit (ansible.cfg: collections/) and its
  # filters import the poolkit package from it: the controller's Python here is Debian's.
  export ANSIBLE_LOCAL_TEMP=/tmp/ansible ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
  export PYTHONPATH=/poolkit/src
  exec ansible-playbook -i localhost, compose/render.yml
  ;;
postgres)
  runtime_dirs "$PGDATA"
  chmod 0700 "$PGDATA"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    say "initialising $PGDATA"
    as_postgres "$PGBIN/initdb" -D "$PGDATA" --auth-local=peer --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    echo "include = '$CONF/poolkit.conf'" >> "$PGDATA/postgresql.conf"
  fi
  apply_roles
  # shellcheck disable=SC2046
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$PGBIN/postgres" $(postgres_args)
  ;;
postgres-replica)
  runtime_dirs "$PGDATA"
  chmod 0700 "$PGDATA"
  # The replication password lives in a tmpfs passfile, never on a disk or in postgresql.auto.conf.
  passfile=/var/run/postgresql/.pgpass
  umask 077
  printf '%s:%s:*:%s:%s\n' "$POOLKIT_PRIMARY_HOST" 5432 "$POOLKIT_REPLICATION_USER" \
    "$POOLKIT_REPLICATION_PASSWORD" > "$passfile"
  chown postgres:postgres "$passfile"
  umask 022
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    say "cloning the primary $POOLKIT_PRIMARY_HOST into $PGDATA"
    as_postgres pg_basebackup -h "$POOLKIT_PRIMARY_HOST" -p 5432 -U "$POOLKIT_REPLICATION_USER" \
      -d "passfile=$passfile" -D "$PGDATA" -X stream -R --no-password
  fi
  # shellcheck disable=SC2046
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$PGBIN/postgres" $(postgres_args)
  ;;
pgbouncer)
  runtime_dirs /run/pgbouncer /run/pgbouncer/1
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- \
    pgbouncer /etc/pgbouncer/pgbouncer-1.ini
  ;;
pgpool)
  # -D: forget node states of an earlier run (a container starts from scratch).
  runtime_dirs /var/log/postgresql
  rm -f /var/run/postgresql/pgpool.pid
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- \
    pgpool -n -D -f /etc/pgpool2/pgpool.conf -F /etc/pgpool2/pcp.conf -a /etc/pgpool2/pool_hba.conf
  ;;
# The monitoring profile. The exporters log in as the monitoring role (a stats_users member
# of PgBouncer, never an admin) with the password from their environment (libpq and lib/pq
# read PGPASSWORD), so it is in no file and on no command line.
pgbouncer-exporter)
  export PGPASSWORD="$POOLKIT_MONITOR_PASSWORD"
  exec setpriv --reuid=prometheus --regid=prometheus --init-groups -- \
    prometheus-pgbouncer-exporter --web.listen-address=:9127 \
    "--pgBouncer.connectionString=postgres://$POOLKIT_MONITOR_USER@pgbouncer:6432/pgbouncer?sslmode=disable"
  ;;
pgpool-exporter)
  export PGPASSWORD="$POOLKIT_MONITOR_PASSWORD" PYTHONPATH=/poolkit/src PYTHONDONTWRITEBYTECODE=1
  exec setpriv --reuid=prometheus --regid=prometheus --init-groups -- \
    python3 -m poolkit pgpool-exporter --listen 0.0.0.0:9719 \
    --pgpool "host=pgpool port=9999 dbname=$POOLKIT_DATABASE user=$POOLKIT_MONITOR_USER"
  ;;
prometheus)
  install -d -o prometheus -g prometheus -m 0755 /prometheus
  exec setpriv --reuid=prometheus --regid=prometheus --init-groups -- \
    prometheus --config.file=/poolkit/compose/prometheus.yml --storage.tsdb.path=/prometheus \
    --web.listen-address=:9090 --storage.tsdb.retention.time=7d
  ;;
*)
  exec "$@"
  ;;
esac
