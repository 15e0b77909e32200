# SPDX-License-Identifier: Apache-2.0
"""Unpacked image layers, one directory per chain ID, used as overlay lower directories.

Layout::

    <layers_dir>/<chain-id-hex>/diff/     the layer's files, whiteouts in overlay form
    <tmp_dir>/layers/layer-<random>/      a layer being unpacked (or removed)

A layer is unpacked into a private temporary directory, synced, and renamed into place
in one step, so `<chain-id-hex>` exists only once it is complete. Two threads applying
the same layer both unpack; the first rename wins and the other copy is dropped. The
store knows nothing of images: which layers are still needed is the metadata DB's
business, and the image service removes a layer only when no image refers to it.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import InvalidParameter, NotFound
from dockyard.idmap import IDENTITY, IDMap
from dockyard.snapshots._sys import fsync_dir, syncfs
from dockyard.snapshots.archive import HashingReader, HashSink, chain_id, decompressed, scan, unpack

_HEX_RE = re.compile(r"[a-f0-9]{64}")


class LayerStore:
    def __init__(self, layers_dir: Path, tmp_dir: Path, idmap: IDMap = IDENTITY):
        self.root = Path(layers_dir)
        self.tmp = Path(tmp_dir) / "layers"
        # Owners as the daemon's user namespaces map them (--userns-remap).
        self.idmap = idmap
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def apply(
        self,
        parent_chain_id: str | None,
        tar_stream: BinaryIO,
        *,
        expected_diff_id: str | None = None,
        sink: HashSink | None = None,
        check_parent: bool = True,
    ) -> tuple[str, str, int]:
        """Unpack a layer tar (plain, gzip, bzip2 or xz) on top of `parent_chain_id`.

        Returns (chain_id, diff_id, size). The diff ID is the sha256 of the uncompressed
        tar, hashed as it streams by; if `sink` is given, the uncompressed bytes are
        written to it and it does the hashing (so a content ingest stores the tar without
        hashing it a second time). When `expected_diff_id` is given and that layer is
        already here, the stream is only read and checked, not unpacked again. Raises
        InvalidParameter for a bad tar or a diff ID other than the expected one.
        """
        # A pull unpacks layers in parallel and records them together, so a layer may be
        # unpacked before its parent is (`check_parent=False`).
        if check_parent and parent_chain_id is not None and not self.exists(parent_chain_id):
            raise NotFound(f"layer {parent_chain_id}: not found")
        reader = HashingReader(decompressed(tar_stream), sink)

        if expected_diff_id is not None:
            known = chain_id(parent_chain_id, expected_diff_id)
            if self.exists(known):
                size = scan(reader)
                reader.drain()
                _check_diff_id(reader.digest, expected_diff_id)
                return known, expected_diff_id, size

        work = Path(tempfile.mkdtemp(dir=self.tmp, prefix="layer-"))
        try:
            diff_dir = work / "diff"
            diff_dir.mkdir()
            if not self.idmap.empty:
                os.chown(diff_dir, *self.idmap.root)
            diff_dir.chmod(0o755)
            size = unpack(reader, diff_dir, self.idmap)
            reader.drain()
            diff_id = reader.digest
            if expected_diff_id is not None:
                _check_diff_id(diff_id, expected_diff_id)
            new_chain_id = chain_id(parent_chain_id, diff_id)
            target = self._dir(new_chain_id)
            if not target.exists():
                # One syncfs instead of an fsync per file: the layer is durable before
                # it becomes visible under its name.
                syncfs(work)
                try:
                    os.rename(work, target)
                except OSError as e:
                    if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
                else:
                    fsync_dir(self.root)
            return new_chain_id, diff_id, size
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)

    def path(self, chain_id: str) -> Path:
        """The layer's `diff` directory, an overlay lowerdir."""
        return self._dir(chain_id) / "diff"

    def exists(self, chain_id: str) -> bool:
        return self.path(chain_id).is_dir()

    def remove(self, chain_id: str) -> None:
        """Delete a layer; a missing one is not an error."""
        src = self._dir(chain_id)
        if not src.exists():
            return
        # Rename out of the way first: a crash halfway through the delete then leaves
        # junk in tmp (cleaned at startup), never a half-empty layer under its name.
        trash = Path(tempfile.mkdtemp(dir=self.tmp, prefix="remove-"))
        try:
            os.rename(src, trash / "layer")
        except FileNotFoundError:
            pass
        shutil.rmtree(trash, ignore_errors=True)

    def list(self) -> list[str]:
        return [
            "sha256:" + entry.name
            for entry in os.scandir(self.root)
            if _HEX_RE.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False)
        ]

    def cleanup(self) -> None:
        """Remove layers half-made or half-removed by a crash. Call once at startup."""
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def _dir(self, chain_id: str) -> Path:
        algorithm, _, hexpart = chain_id.partition(":")
        if algorithm != "sha256" or not _HEX_RE.fullmatch(hexpart):
            raise InvalidParameter(f"invalid layer chain ID: {chain_id!r}")
        return self.root / hexpart


def _check_diff_id(actual: str, expected: str) -> None:
    if actual != expected:
        raise InvalidParameter(f"layer content does not match its diff ID: expected {expected}, got {actual}")
