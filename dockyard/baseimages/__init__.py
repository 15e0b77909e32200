# SPDX-License-Identifier: Apache-2.0
"""Offline base images built without any registry: scratch, busybox (Debian's busybox-static), hello-world."""

from dockyard.baseimages.catalog import SCRATCH, SCRATCH_MESSAGE, build, is_scratch, names

__all__ = ["SCRATCH", "SCRATCH_MESSAGE", "build", "is_scratch", "names"]
