# SPDX-License-Identifier: Apache-2.0
"""The one error type of compose: anything wrong with the files or the request, found
before a single resource is created. str() is the whole user-facing message."""

from __future__ import annotations


class ComposeError(Exception):
    """A compose file or command that cannot be carried out; `status` is the exit code."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message
