# SPDX-License-Identifier: Apache-2.0
"""Deterministic layer tars: the same entries always give the same bytes (and diff ID).

Entries are written sorted by path (a directory sorts before its contents), all with
one fixed mtime and numeric owners only. Hard links are grouped by the file they share:
the first path of a group in sorted order carries the data and the others link to it,
as tar requires the target to come first.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass

# 2024-01-01T00:00:00Z: any fixed instant will do; it only has to never change.
FIXED_MTIME = 1704067200


@dataclass
class _Entry:
    kind: bytes
    mode: int
    uid: int = 0
    gid: int = 0
    data: bytes = b""
    linkname: str = ""
    group: str = ""  # files sharing an inode share a group key


class LayerBuilder:
    def __init__(self, mtime: int = FIXED_MTIME):
        self.mtime = mtime
        self._entries: dict[str, _Entry] = {}

    def dir(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        parent = path.rpartition("/")[0]
        if parent and parent not in self._entries:
            self.dir(parent)
        self._entries[path] = _Entry(tarfile.DIRTYPE, mode, uid, gid)

    def file(self, path: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
        self._parent(path)
        self._entries[path] = _Entry(tarfile.REGTYPE, mode, uid, gid, data=data, group=path)

    def hardlink(self, path: str, target: str) -> None:
        """`path` becomes another name of the file added as `target`."""
        original = self._entries[target]
        self._parent(path)
        self._entries[path] = _Entry(
            tarfile.REGTYPE, original.mode, original.uid, original.gid, original.data,
            group=original.group,
        )

    def symlink(self, path: str, target: str) -> None:
        self._parent(path)
        self._entries[path] = _Entry(tarfile.SYMTYPE, 0o777, linkname=target)

    def build(self) -> bytes:
        out = io.BytesIO()
        first_of_group: dict[str, str] = {}
        with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
            for path in sorted(self._entries):
                entry = self._entries[path]
                info = tarfile.TarInfo(path)
                info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, self.mtime
                info.uname = info.gname = ""
                data = None
                if entry.kind == tarfile.REGTYPE and entry.group in first_of_group:
                    info.type = tarfile.LNKTYPE
                    info.linkname = first_of_group[entry.group]
                elif entry.kind == tarfile.REGTYPE:
                    first_of_group[entry.group] = path
                    info.size = len(entry.data)
                    data = io.BytesIO(entry.data)
                else:
                    info.type = entry.kind
                    info.linkname = entry.linkname
                tf.addfile(info, data)
        return out.getvalue()

    def _parent(self, path: str) -> None:
        parent = path.rpartition("/")[0]
        if parent and parent not in self._entries:
            self.dir(parent)
