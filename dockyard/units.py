# SPDX-License-Identifier: Apache-2.0
"""Times and sizes the way Docker writes them: RFC 3339 timestamps with nanoseconds,
human durations ("About a minute", "Up 5 seconds") and decimal sizes ("4.26MB").

Standard library only: both the daemon and the CLI use it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(ns: int | None = None) -> str:
    """`ns` (default: now) as `2024-05-01T12:00:00.123456789Z`."""
    if ns is None:
        ns = time.time_ns()
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch for an RFC 3339 timestamp (nanosecond fractions allowed);
    0.0 for Docker's zero time."""
    if not text or text.startswith("0001-01-01"):
        return 0.0
    main, _, rest = text.partition(".")
    frac = "0"
    zone = "Z"
    if rest:
        digits = 0
        while digits < len(rest) and rest[digits].isdigit():
            digits += 1
        frac, zone = rest[:digits] or "0", rest[digits:] or "Z"
    else:
        for sign in ("Z", "+", "-"):
            idx = main.find(sign, 10)
            if idx != -1:
                main, zone = main[:idx], main[idx:]
                break
    if zone == "Z":
        zone = "+00:00"
    base = datetime.fromisoformat(main + zone).timestamp()
    return base + float("0." + frac)


def human_duration(seconds: float) -> str:
    """go-units' HumanDuration: "Less than a second", "About a minute", "3 weeks"."""
    secs = int(seconds)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


_SIZE_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]


def human_size(size: float, precision: int = 3) -> str:
    """go-units' HumanSizeWithPrecision: decimal units, `precision` significant digits
    (Docker's tables use 3: "4.26MB")."""
    value = float(size)
    unit = 0
    while value >= 1000 and unit < len(_SIZE_UNITS) - 1:
        value /= 1000
        unit += 1
    return f"{value:.{precision}g}{_SIZE_UNITS[unit]}"
