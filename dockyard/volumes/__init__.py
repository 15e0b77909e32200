# SPDX-License-Identifier: Apache-2.0
"""Volumes: the local driver (`store`), `-v`/`--mount`/`--volumes-from`/`--tmpfs` parsing
(`specs`), copy-up from the image (`copyup`), and the service that ties them to the
container lifecycle (`service`)."""

from dockyard.volumes.service import VolumeService

__all__ = ["VolumeService"]
