"""poolkit: size, deploy and prove PgBouncer and Pgpool-II in front of PostgreSQL.

The package holds the pure logic (pool sizing, password verifiers); the command line
(`poolkit.cli`) and the Ansible filter plugins (`plugins/filter/`) are thin adapters.
"""

# The version of the package and of the collection poolkit.poolkit (galaxy.yml).
__version__ = "0.1.0"


class PoolkitError(ValueError):
    """An input a user can fix: the message names the input and what would be right."""
