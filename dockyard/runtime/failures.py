# SPDX-License-Identifier: Apache-2.0
"""The errors the runtime wrapper raises: the runtime's own refusals, with its message."""

from __future__ import annotations

from dockyard.errors import DockyardError


class RuntimeFailure(DockyardError):
    """runc or conmon refused; the message is the runtime's own (e.g. `runc create
    failed: unable to start container process: exec: "x": executable file not found in
    $PATH`)."""


class NoSuchContainer(RuntimeFailure):
    """runc does not know the container (`container does not exist`)."""
