"""`python -m poolkit ...`: the `poolkit` command without its console script (e.g. from a
checkout on PYTHONPATH, as the compose stack's pgpool-exporter runs it)."""

import sys

from poolkit.cli import main

sys.exit(main())
