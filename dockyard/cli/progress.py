# SPDX-License-Identifier: Apache-2.0
"""Showing the daemon's JSON progress streams (pull, load, import), as Docker does.

On a terminal each layer gets one line that is rewritten in place (cursor up, clear
line) as its status and progress bar change. Elsewhere — a log file, a pipe — only
status changes are printed, one per line, without progress bars, so that CI logs stay
readable. An `error` message ends the stream with that error.
"""

from __future__ import annotations

from collections.abc import Iterable

from dockyard.cli.command import StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO


class StreamError(StatusError):
    """The daemon reported an error in the middle of a progress stream."""


def check_stream(messages: Iterable[dict[str, Any]]) -> None:
    """Consume `messages` silently, raising the first error among them."""
    for message in messages:
        _raise_error(message)


def display_stream(
    messages: Iterable[dict[str, Any]], out: TextIO, tty: bool | None = None
) -> list[dict[str, Any]]:
    """Print `messages` to `out`; return the `aux` payloads (image IDs and the like)."""
    if tty is None:
        isatty = getattr(out, "isatty", None)
        tty = bool(isatty and isatty())
    lines: dict[str, int] = {}  # layer id → its line, counted from the top of our output
    total = 0
    aux: list[dict[str, Any]] = []
    for message in messages:
        _raise_error(message)
        if "aux" in message:
            aux.append(message["aux"])
            continue
        if "stream" in message:
            out.write(str(message["stream"]))
            out.flush()
            continue
        status = message.get("status")
        if status is None:
            continue
        ident = message.get("id")
        progress = message.get("progress") or ""
        if not tty and (message.get("progressDetail") or {}).get("current") is not None:
            # A progress tick: only meaningful with a cursor to redraw the line.
            continue
        text = f"{ident}: {status}" if ident else str(status)
        if tty and progress:
            text = f"{text} {progress}"
        if not tty or not ident:
            out.write(text + "\n")
            if tty:
                total += 1
            out.flush()
            continue
        if ident not in lines:
            lines[ident] = total
            total += 1
            out.write(text + "\n")
        else:
            up = total - lines[ident]
            # Up to the layer's line, clear it, write, and come back down.
            out.write(f"\x1b[{up}A\x1b[2K\r{text}\r\x1b[{up}B")
        out.flush()
    return aux


def _raise_error(message: dict[str, Any]) -> None:
    if message.get("error") or message.get("errorDetail"):
        detail = message.get("errorDetail") or {}
        text = message.get("error") or detail.get("message") or "unknown error"
        raise StreamError(str(text), 1)
