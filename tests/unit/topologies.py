"""Topologies the unit tests share (molecule/pgbouncer/tests/test_topology.py deploys MIXED)."""

#: Two users of one database with different shares (3:1): `poolkit size` gives each its own
#: [users] line, which the roles must deploy.
MIXED = {
    "database": {"max_connections": 60, "cpu_cores": 2},
    "pools": [
        {"database": "app", "user": "web", "share": 3},
        {"database": "app", "user": "batch", "share": 1},
    ],
    "apps": [{"name": "web", "instances": 1, "processes": 4, "connections_per_process": 5}],
}
