# SPDX-License-Identifier: Apache-2.0
"""Validation of a compose document against the compose-spec JSON schema shipped in
`schema/compose-spec.json` (see schema/NOTICE.txt), with messages that name the path of
the offending value (`services.web.ports[0]: ...`) the way Docker Compose does."""

from __future__ import annotations

import functools
import json
import os

from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "schema", "compose-spec.json")


def validate(document: Any, source: str) -> None:
    """Raise ComposeError for the first (most specific) schema violation in `document`."""

    validator = _validator()
    errors = list(validator.iter_errors(document))
    if not errors:
        return
    error = min(errors, key=_rank)
    raise ComposeError(f"validating {source}: {_describe(error)}")


@functools.cache
def _validator() -> Any:
    import jsonschema

    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    # The file says draft-07 (with a `$schema` URL jsonschema does not recognise).
    return jsonschema.Draft7Validator(schema)


def _rank(error: Any) -> tuple[int, int]:
    # The deepest error says most; among equals prefer the first reported.
    return (-len(error.absolute_path), 0)


def format_path(parts: Any) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(error: Any) -> str:
    best = error
    # oneOf/anyOf: the branch whose error went deepest is the one the user meant.
    if error.context:
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) > len(error.absolute_path):
            best = deepest
    path = format_path(best.absolute_path)
    validator = best.validator
    if validator == "additionalProperties":
        extra = sorted(set(best.instance) - set(best.schema.get("properties", {})))
        unexpected = [k for k in extra if not _matches_pattern(k, best.schema)]
        names = ", ".join(repr(k) for k in unexpected) or "?"
        where = path or "(root)"
        return f"{where} additional properties {names} not allowed"
    if validator == "type":
        expected = best.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{path or '(root)'} must be a {expected}"
    if validator in ("oneOf", "anyOf"):
        return f"{path or '(root)'}: {_short(best.instance)} is not valid here"
    return f"{path or '(root)'}: {best.message}"


def _matches_pattern(key: str, schema: dict[str, Any]) -> bool:
    import re

    return any(re.search(p, key) for p in schema.get("patternProperties", {}))


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
