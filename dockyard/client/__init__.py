# SPDX-License-Identifier: Apache-2.0
"""Engine API client over a unix socket or TCP, standard library only: requests, streams, hijacked attach connections, version negotiation.

`APIClient` (client/api.py) is the low-level client, one method per endpoint. The names
below are loaded on first use so that importing a small part (stdcopy, hosts) does not
pay for http.client.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["APIClient", "APIError", "ClientError", "DaemonUnavailable"]

_LAZY = {
    "APIClient": "dockyard.client.api",
    "APIError": "dockyard.client.errors",
    "ClientError": "dockyard.client.errors",
    "DaemonUnavailable": "dockyard.client.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.client' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
