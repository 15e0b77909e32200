# SPDX-License-Identifier: Apache-2.0
"""Unpacked layers by chain ID, container rw layers, overlay mounts, tar apply with whiteouts."""

from dockyard.snapshots.archive import chain_id, chain_ids
from dockyard.snapshots.diff import diff_reader, diff_tar, tree_tar
from dockyard.snapshots.layers import LayerStore
from dockyard.snapshots.mount import mount_rootfs, prepare_rw, remove_rw, unmount

__all__ = [
    "LayerStore", "chain_id", "chain_ids", "diff_reader", "diff_tar", "mount_rootfs", "prepare_rw",
    "remove_rw", "tree_tar", "unmount",
]
