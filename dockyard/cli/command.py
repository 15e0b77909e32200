# SPDX-License-Identifier: Apache-2.0
"""What every command gets: the streams, the daemon client (made on first use) and errors.

`StatusError` ends a command with an exit status and an optional message; the daemon's
own errors (`APIError`, `DaemonUnavailable`) propagate to main, which prints them the
way Docker does and exits 1.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

    from dockyard.client.api import APIClient
    from dockyard.client.hosts import TLSOptions


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
        tls: TLSOptions | None = None,
    ):
        self.host = host
        self.tls = tls
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
            try:
                self._client = APIClient(self.host, autostart=True, tls=self.tls)
            except ValueError as e:  # a malformed -H / DOCKER_HOST
                raise StatusError(f"error during connect: {e}", 1) from None
        return self._client

    def confirm(self, message: str, separator: str = "\n") -> bool:
        """Docker's prompt: the message, `Are you sure you want to continue? [y/N] ` (on
        its own line unless `separator` says otherwise); y or yes (any case) is yes,
        anything else (and no input at all) is no."""
        self.stdout.write(f"{message}{separator}Are you sure you want to continue? [y/N] ")
        self.stdout.flush()
        try:
            answer = self.stdin.readline() if self.stdin is not None else ""
        except (OSError, ValueError):
            answer = ""
        return answer.strip().lower() in ("y", "yes")

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


def parse_args(cli: Cli, spec: Any, argv: list[str]) -> tuple[Any, list[str]]:
    """`spec.parse(argv)`, printing the notes pflag prints (deprecated flag spellings)."""
    opts, args = spec.parse(argv)
    for note in getattr(opts, "_notices", ()):
        cli.out(note)
    return opts, args


def filter_value(value: str) -> tuple[str, str] | None:
    """A `--filter` value as Docker's FilterOpt reads it: (lowercased name, value)."""
    if value == "":
        return None
    name, sep, val = value.partition("=")
    if not sep:
        raise ValueError("bad format of filter (expected name=value)")
    return name.strip().lower(), val.strip()


def parse_filters(values: list[Any]) -> dict[str, list[str]]:
    """`--filter key=value` flags (raw strings or filter_value pairs) as the API's filter map."""
    filters: dict[str, list[str]] = {}
    for item in values:
        if item is None:
            continue
        if isinstance(item, tuple):
            key, value = item
        else:
            key, sep, value = item.partition("=")
            if not sep:
                raise StatusError(f"bad format of filter (expected name=value): {item}", 125)
            key = key.strip().lower()
        if value not in filters.setdefault(key, []):
            filters[key].append(value)
    return filters
