# SPDX-License-Identifier: Apache-2.0
"""Query-string and body parsing shared by the routers, with Docker's 400 messages."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from dockyard.errors import InvalidParameter, json_input

_TRUE = {"1", "true", "True", "TRUE", "yes"}


def boolean(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    return value in _TRUE


def integer(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {value!r} is not an integer") from None


def number(request: web.Request, name: str, default: float | None = None) -> float | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {value!r} is not a number") from None


def filters(request: web.Request) -> dict[str, list[str]]:
    """Docker's `filters` parameter: `{"key": ["v1", "v2"]}`, or the legacy
    `{"key": {"v1": true}}` map form."""
    raw = request.query.get("filters")
    if not raw:
        return {}
    parsed: dict[str, Any] = json_input(raw, dict, "invalid filter")  # type: ignore[assignment]
    result: dict[str, list[str]] = {}
    for key, value in parsed.items():
        if isinstance(value, dict):
            result[key] = [k for k, on in value.items() if on]
        elif isinstance(value, list):
            result[key] = [str(v) for v in value]
        else:
            raise InvalidParameter(f"invalid filter: value of {key!r} must be a list")
    return result


async def json_body(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        if required:
            raise InvalidParameter("invalid JSON: request body is empty")
        return {}
    if raw.strip() == b"null" and not required:
        return {}
    return json_input(raw, dict, "invalid JSON")  # type: ignore[return-value]


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data).encode(), status=status, content_type="application/json"
    )
