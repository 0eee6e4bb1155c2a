"""What the filters need on the controller: the poolkit Python package.

The filters are thin adapters over poolkit (pip package ``poolkit``, the wheel built from
this repository). When the Python that runs ansible-playbook cannot import it, every filter
of the collection still loads, and a call fails with one message that names the package,
the version this collection is made for (its requirements.txt) and the command that
installs it into that Python.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

#: requirements.txt at the collection's root names the package, pinned to this release.
REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"


def requirement() -> str:
    """The pin from requirements.txt (``poolkit==0.1.0``), or ``poolkit`` when unreadable."""
    try:
        lines = REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    except OSError:
        return "poolkit"
    pins = [line.strip() for line in lines if line.strip().startswith("poolkit")]
    return pins[0] if pins else "poolkit"


def missing_message(filter_name: str, error: ImportError) -> str:
    """The message of a filter called while the controller's Python lacks poolkit."""
    pin = requirement()
    return (
        f"the filter poolkit.poolkit.{filter_name} needs the Python package poolkit "
        f"({pin}) in the Python that runs ansible-playbook ({sys.executable}), which cannot "
        f"import it ({error}). Install it there: {sys.executable} -m pip install '{pin}' "
        f"(or the wheel: {sys.executable} -m pip install poolkit-VERSION-py3-none-any.whl); "
        "the collection's requirements.txt names it"
    )


def _missing(filter_name: str, error: ImportError) -> Callable[..., Any]:
    def missing(*_args: Any, **_kwargs: Any) -> Any:
        raise AnsibleFilterError(missing_message(filter_name, error))

    missing.__name__ = filter_name
    return missing


def poolkit_filters(
    filters: dict[str, Callable[..., Any]], error: ImportError | None
) -> dict[str, Callable[..., Any]]:
    """``filters`` as they are when poolkit imported, else each replaced by a function that
    fails with :func:`missing_message` when called."""
    if error is None:
        return filters
    return {name: _missing(name, error) for name in filters}
