# SPDX-License-Identifier: Apache-2.0
"""Signal names and numbers as Docker accepts them: `KILL`, `SIGKILL`, `9`."""

from __future__ import annotations

import signal

from dockyard.errors import InvalidParameter


def parse_signal(value: str | int | None, default: int = signal.SIGKILL) -> int:
    if value is None or value == "":
        return int(default)
    if isinstance(value, int) or str(value).isdigit():
        number = int(value)
        if not 0 < number < 65:
            raise InvalidParameter(f"Invalid signal: {value}")
        return number
    name = str(value).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidParameter(f"Invalid signal: {value}") from None
