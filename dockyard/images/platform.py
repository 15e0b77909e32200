# SPDX-License-Identifier: Apache-2.0
"""The host's platform in OCI terms, and the RFC 3339 timestamps image configs carry."""

from __future__ import annotations

import calendar
import platform as _platform
import re
import time

# uname machine → (GOARCH, variant), the names images use.
_ARCH = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
}

ZERO_TIME = "0001-01-01T00:00:00Z"

_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})"
)


def host_arch() -> str:
    machine = _platform.machine()
    return _ARCH.get(machine, (machine, ""))[0]


def host_variant() -> str:
    return _ARCH.get(_platform.machine(), ("", ""))[1]


def now_rfc3339() -> str:
    """The current UTC time as Go's RFC3339Nano prints it."""
    return format_rfc3339(time.time_ns())


def format_rfc3339(ns: int) -> str:
    seconds, nanos = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


def parse_rfc3339(text: str | None) -> int | None:
    """Unix nanoseconds of an RFC 3339 timestamp, or None if it is not one."""
    if not text:
        return None
    m = _RFC3339_RE.fullmatch(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, zone = m.group(7) or "", m.group(8)
    try:
        seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return seconds * 1_000_000_000 + nanos


def unix_seconds(text: str | None) -> int:
    ns = parse_rfc3339(text)
    return 0 if ns is None else ns // 1_000_000_000
