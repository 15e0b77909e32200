# SPDX-License-Identifier: Apache-2.0
"""Getting an image that is not here: from its registry, or, when no registry answers at
all, as one of the offline base images (see dockyard.baseimages).

Used by `POST /images/create` (pull) and by the builder for FROM. Runs in a worker
thread (registry I/O blocks); the bootstrapper it may fall back to runs on the loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockyard.distribution.credentials import AuthConfig

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon
    from dockyard.distribution.reference import Reference
    from dockyard.server.routers.distribution import Emit


def pull(daemon: Daemon, ref: Reference, *, emit: Emit, auth: AuthConfig | None = None,
         platform: str | None = None, bootstrap: bool = False) -> Any:
    """Pull `ref` (no tag and no digest: every tag); returns the image ID (a list for all
    tags). `bootstrap` allows building an offline base image that is not cached yet."""
    from dockyard.distribution.client import RegistryError
    from dockyard.distribution.pull import pull as registry_pull
    from dockyard.distribution.pull import pull_all_tags

    auth = auth or AuthConfig()
    hosts = daemon.registry_hosts
    try:
        if ref.tag is None and ref.digest is None:
            return pull_all_tags(daemon.images, ref, hosts=hosts, auth=auth, platform=platform, emit=emit)
        return registry_pull(daemon.images, ref, hosts=hosts, auth=auth, platform=platform, emit=emit)
    except RegistryError as e:
        if not unreachable(e) or ref.digest:
            raise
        return daemon.bootstrapper.offline(ref.with_default_tag(), emit, error=e.message,
                                           allow_build=bootstrap)


def unreachable(error: Exception) -> bool:
    """Only "nobody answered" (every endpoint failed to connect), not a registry's refusal."""
    text = str(getattr(error, "message", error))
    return text.startswith('Get "https://') and "/v2/" in text

