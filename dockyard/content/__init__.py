# SPDX-License-Identifier: Apache-2.0
"""Blobs by digest (blobs/sha256/<hex>), verified on write."""

from dockyard.content.store import ContentStore, Ingest

__all__ = ["ContentStore", "Ingest"]
