# SPDX-License-Identifier: Apache-2.0
"""Errors the client raises: the daemon's answers (`APIError`) and failures to reach it."""

from __future__ import annotations


class ClientError(Exception):
    """Base class for everything the client raises on purpose."""


class APIError(ClientError):
    """The daemon answered with an error status; `message` is its `{"message": ...}` text."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        # The wording Docker's client uses, which users and scripts match on.
        return f"Error response from daemon: {self.message}"

    @property
    def is_not_found(self) -> bool:
        return self.status == 404

    @property
    def is_conflict(self) -> bool:
        return self.status == 409


class DaemonUnavailable(ClientError):
    """Nothing answered at the host address."""

    def __init__(self, host: str, detail: str = ""):
        self.host = host
        self.detail = detail
        super().__init__(
            f"Cannot connect to the dockyard daemon at {host}. Is the dockyard daemon running?"
        )
