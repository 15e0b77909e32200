# SPDX-License-Identifier: Apache-2.0
"""The image service: names → image configs, list, inspect, tag, delete, import, save/load (docker-archive)."""

from dockyard.images.service import Image, ImageService

__all__ = ["Image", "ImageService"]
