# SPDX-License-Identifier: Apache-2.0
"""Reading and writing compose YAML with the YAML 1.2 core schema Compose uses.

PyYAML speaks YAML 1.1, where `yes`/`no`/`on`/`off` are booleans and `22:22` is a
base-60 integer (1342): a port mapping or an environment value would silently change.
The loader here resolves only what YAML 1.2's core schema resolves (null, true/false,
decimal/octal/hex integers, floats), keeps anchors, aliases and `<<` merge keys, and
reports syntax errors with their file, line and column. Duplicate keys are errors.
"""

from __future__ import annotations

import re

import yaml

from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _Loader(yaml.SafeLoader):
    pass


# Replace PyYAML's 1.1 implicit resolvers with the 1.2 core schema.
_Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+0123456789."),
    ),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
):
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"mapping key {key!r} already defined", mark
            )
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def load_yaml(text: str, source: str) -> Any:
    """Parse one YAML document; syntax errors name `source`, line and column (1-based)."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = exc.problem or exc.context or "invalid YAML"
        raise ComposeError(f"{source}: yaml: {where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"{source}: yaml: {exc}") from None


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # Quote strings a YAML 1.1 reader would take for something else ("yes", "22:22").
    style = None
    if "\n" in data:
        style = "|"
    elif re.fullmatch(r"(?i:y|n|yes|no|on|off|true|false|null|~)|[-+0-9.:_]+|", data):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(value: Any) -> str:
    """YAML for `config` output: keys in the order given, block style."""
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1 << 20)
