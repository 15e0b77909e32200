# SPDX-License-Identifier: Apache-2.0
"""What every command gets: the streams, the daemon client (made on first use) and errors.

`StatusError` ends a command with an exit status and an optional message; the daemon's
own errors (`APIError`, `DaemonUnavailable`) propagate to main, which prints them the
way Docker does and exits 1.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from dockyard.client.api import APIClient


class StatusError(Exception):
    """Exit with `status`, printing `message` to stderr if there is one."""

    def __init__(self, message: str = "", status: int = 1):
        super().__init__(message)
        self.message = message
        self.status = status


class Cli:
    """The command-line session: global options, streams, and the API client."""

    def __init__(
        self,
        host: str | None = None,
        debug: bool = False,
        stdin: Any = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ):
        self.host = host
        self.debug = debug
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self._client: APIClient | None = None

    @property
    def client(self) -> APIClient:
        if self._client is None:
            from dockyard.client.api import APIClient

            # Only the CLI starts a daemon on demand; library users get an error instead.
            self._client = APIClient(self.host, autostart=True)
        return self._client

    def out(self, text: str = "") -> None:
        """Write a line to stdout."""
        self.stdout.write(text + "\n")

    def err(self, text: str) -> None:
        """Write a line to stderr."""
        self.stderr.write(text + "\n")

    def out_bytes(self, data: bytes) -> None:
        """Raw bytes to stdout (container output is not necessarily text)."""
        self.stdout.flush()
        buffer = getattr(self.stdout, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            self.stdout.write(data.decode("utf-8", "replace"))

    def err_bytes(self, data: bytes) -> None:
        self.stderr.flush()
        buffer = getattr(self.stderr, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            self.stderr.write(data.decode("utf-8", "replace"))


def parse_filters(values: list[str]) -> dict[str, list[str]]:
    """`--filter key=value` flags as the API's filter map."""
    filters: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise StatusError(f"bad format of filter (expected name=value): {item}", 125)
        filters.setdefault(key.strip().lower(), []).append(value)
    return filters
