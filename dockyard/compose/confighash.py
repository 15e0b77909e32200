# SPDX-License-Identifier: Apache-2.0
"""The configuration hash stored in each container's `com.docker.compose.config-hash`.

`up` recreates a service's containers exactly when this changes. Like Docker Compose it
hashes the canonical service with the fields that do not describe the container left
out: how the image is built or pulled, how many replicas run, dependencies and profiles
(changing `depends_on` must not recreate a running database). The JSON is canonical
(sorted keys, no spaces) so the hash does not depend on the order keys were written.
"""

from __future__ import annotations

import hashlib
import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_IGNORED = ("build", "pull_policy", "scale", "depends_on", "profiles", "develop", "extends")


def service_hash(service: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    """sha256 hex of the service's container-relevant configuration; `extra` adds what the
    file does not show but the container depends on (the resolved env_file contents)."""
    relevant = {k: v for k, v in service.items() if k not in _IGNORED}
    deploy = relevant.get("deploy")
    if isinstance(deploy, dict) and "replicas" in deploy:
        relevant["deploy"] = {k: v for k, v in deploy.items() if k != "replicas"}
    if extra:
        relevant["__extra__"] = extra
    text = json.dumps(relevant, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
