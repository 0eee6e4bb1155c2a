"""`poolkit size TOPOLOGY`: read a topology (YAML or JSON, `-` for stdin), size, print.

All I/O of the sizing helper lives here; the model is in `poolkit.sizing`, the text
renderings in `poolkit.render_size`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from poolkit import PoolkitError
from poolkit.render_size import FORMATS, render
from poolkit.sizing import size
from poolkit.topology import parse_topology


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "size",
        help="size pools from an application topology",
        description=(
            "Compute PgBouncer and Pgpool-II pool sizes, max_client_conn and file "
            "descriptor limits from an application topology (docs/sizing.md)."
        ),
    )
    parser.add_argument(
        "topology",
        metavar="TOPOLOGY",
        help="topology file, YAML or JSON; - reads standard input",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="output format (default: table)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="show each figure's formula and source",
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    name, text = _read(args.topology)
    data = load_text(text, name)
    sizing = size(parse_topology(data))
    sys.stdout.write(render(sizing, args.format, explain=args.explain, source=name))
    return 0


def _read(argument: str) -> tuple[str, str]:
    if argument == "-":
        return "<stdin>", sys.stdin.read()
    path = Path(argument)
    try:
        return argument, path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PoolkitError(
            f"{argument}: not UTF-8 text (byte {exc.start}); expected a YAML or JSON topology"
        ) from None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise PoolkitError(
            f"{argument}: cannot read the topology file ({reason}); expected a readable "
            f"YAML or JSON file, or - for standard input"
        ) from None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of keeping the last one silently."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:
            continue  # unhashable: construct_mapping reports it with its position
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {first})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def load_text(text: str, name: str) -> Any:
    """Parse a topology document: JSON for *.json files, YAML (a JSON superset) otherwise."""
    if name.endswith(".json"):
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            raise PoolkitError(
                f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}; expected a JSON "
                f"object with database and apps"
            ) from None
        except ValueError as exc:
            raise PoolkitError(f"{name}: invalid JSON: {exc}; expected each key once") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # _StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PoolkitError(
            f"{where}: invalid YAML: {problem}; expected a YAML mapping with database and apps"
        ) from None
