# SPDX-License-Identifier: Apache-2.0
"""Docker's human-readable output: durations, sizes, truncation, port lists and tables.

These reproduce what Docker prints because people compare outputs and scripts parse
them: `About a minute`, `4.26MB` (decimal units, 3 significant digits), 12-character
IDs, `"docker-entrypoint.s…"`, and columns padded as Go's tabwriter does (minimum
width 10, padding 3).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from dockyard.units import human_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

ELLIPSIS = "\u2026"


def since(timestamp: float, now: float | None = None) -> str:
    """ "5 minutes ago" for a unix timestamp, as in the CREATED columns."""
    current = time.time() if now is None else now
    return human_duration(current - timestamp) + " ago"


def ellipsis(text: str, width: int) -> str:
    """Cut `text` to `width` characters, the last one being "…" when something was cut."""
    if len(text) <= width:
        return text
    if width <= 0:
        return ""
    return text[: width - 1] + ELLIPSIS


def short_id(identifier: str, no_trunc: bool = False) -> str:
    """12 hex characters without the `sha256:` prefix, unless --no-trunc."""
    if no_trunc:
        return identifier
    if identifier.startswith("sha256:"):
        identifier = identifier[len("sha256:") :]
    return identifier[:12]


def go_time(timestamp: float) -> str:
    """Go's time.Time.String() in the local zone: `2024-05-01 10:00:00 +0000 UTC`."""
    local = datetime.fromtimestamp(timestamp, UTC).astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S %z ") + (local.tzname() or "")


def parse_timestamp(text: str) -> float | None:
    """Seconds since the epoch from the API's RFC 3339 times (nanoseconds allowed)."""
    if not text or text.startswith("0001-01-01"):
        return None
    body = text.strip()
    if body.endswith("Z"):
        body = body[:-1] + "+00:00"
    # Python wants at most 6 fractional digits; the daemon may send 9.
    main, dot, rest = body.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        body = f"{main}.{digits[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(body)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def display_ports(ports: Iterable[dict[str, Any]] | None) -> str:
    """The PORTS column: consecutive same-address ports folded into ranges.

    `80/tcp` is exposed only; `0.0.0.0:7000-7001->7000-7001/tcp` publishes a range on
    the same numbers; ports published on a different host port are listed last,
    one by one, as `0.0.0.0:8080->80/tcp` (IPv6 hosts in brackets).
    """
    ordered = sorted(
        ports or [],
        key=lambda p: (
            p.get("PrivatePort", 0),
            p.get("IP", ""),
            p.get("PublicPort", 0),
            p.get("Type", ""),
        ),
    )
    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    mappings: list[str] = []
    for port in ordered:
        private = int(port.get("PrivatePort", 0))
        kind = port.get("Type", "tcp")
        ip = port.get("IP") or ""
        key = kind
        if ip:
            public = int(port.get("PublicPort", 0))
            if public != private:
                mappings.append(f"{_host_port(ip, public)}->{private}/{kind}")
                continue
            key = f"{ip}/{kind}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
            order.append(key)
        elif private == group[1] + 1:
            group[1] = private
        else:
            result.append(_port_group(key, group))
            groups[key] = [private, private]
    result.extend(_port_group(key, groups[key]) for key in order)
    return ", ".join(result + mappings)


def _host_port(ip: str, port: int | str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _port_group(key: str, group: list[int]) -> str:
    first, last = group
    span = str(first) if first == last else f"{first}-{last}"
    ip, _, kind = key.rpartition("/")
    if ip:
        return f"{_host_port(ip, span)}->{span}/{kind}"
    return f"{span}/{kind}"


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Align tab-separated cells into columns as Go's tabwriter (as Docker configures it).

    A cell ended by a tab belongs to a column; the text after a line's last tab is not
    aligned. Column widths are computed over runs of consecutive lines that have that
    column, like tabwriter's blocks.
    """
    lines = text.split("\n")
    cells = [line.split("\t") for line in lines]
    widths: list[list[int]] = [[0] * (len(row) - 1) for row in cells]
    max_cols = max((len(row) - 1 for row in cells), default=0)
    for col in range(max_cols):
        start = 0
        while start < len(cells):
            if len(cells[start]) - 1 <= col:
                start += 1
                continue
            end = start
            width = 0
            while end < len(cells) and len(cells[end]) - 1 > col:
                width = max(width, len(cells[end][col]) + padding)
                end += 1
            width = max(width, minwidth)
            for row in range(start, end):
                widths[row][col] = width
            start = end
    out = []
    for row, row_widths in zip(cells, widths, strict=True):
        parts = [cell.ljust(w) for cell, w in zip(row, row_widths, strict=False)]
        parts.append(row[-1])
        out.append("".join(parts))
    return "\n".join(out)
