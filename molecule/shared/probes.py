"""Small probes the scenarios' tests share: polling for a condition, and one setting of
PgBouncer's SHOW CONFIG."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float, interval: float = 0.5):
    """Poll `predicate` until it returns a true value (returned) or `timeout` seconds pass
    (then its last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def show_config(console, key) -> str:
    """One setting's value in PgBouncer's SHOW CONFIG (`console`: a connection to its admin
    console)."""
    cur = console.execute("SHOW CONFIG")
    cols = [c.name for c in cur.description]
    for row in cur.fetchall():
        entry = dict(zip(cols, row, strict=True))
        if entry["key"] == key:
            return entry["value"]
    raise AssertionError(f"{key} not in SHOW CONFIG")
