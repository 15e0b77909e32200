# SPDX-License-Identifier: Apache-2.0
"""SQLite (WAL) schema and migrations: images, tags, layers, containers."""

from dockyard.metadata.db import ImageRecord, LayerRecord, MetadataDB

__all__ = ["ImageRecord", "LayerRecord", "MetadataDB"]
