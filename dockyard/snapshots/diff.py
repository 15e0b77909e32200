# SPDX-License-Identifier: Apache-2.0
"""Writing layers: a container's changes as an OCI layer tar (commit, build), or a tree.

`diff_tar` reads an overlay upper directory, where the kernel records deletions as 0/0
character devices and replaced directories with `trusted.overlay.opaque=y`, and writes
them the OCI way (`.wh.<name>` and `.wh..wh..opq`), which `unpack` turns back. `tree_tar`
writes any directory as it is (`docker export` of a mounted root filesystem).

Entries are sorted, hard links within the tree are kept as links, and overlay's own
xattrs never leave the host. `diff_reader` runs `diff_tar` in a thread behind a pipe, so a
commit can stream the layer straight into `ImageService.create_from_layers`.
"""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO

from dockyard.snapshots.archive import OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX
from dockyard.snapshots.pipe import open_pipe_reader

CHUNK = 1 << 20
# Host-specific or overlay-internal attributes that mean nothing inside an image.
_SKIPPED_XATTRS = ("trusted.overlay.", "security.selinux")


def diff_tar(upperdir: Path, out: BinaryIO) -> None:
    """Write the changes in an overlay upper directory to `out` as a layer tar."""
    _TreeWriter(Path(upperdir), out, overlay=True).run()


def tree_tar(root: Path, out: BinaryIO) -> None:
    """Write the directory tree under `root` to `out` as a tar (no whiteout handling)."""
    _TreeWriter(Path(root), out, overlay=False).run()


def diff_reader(upperdir: Path) -> BinaryIO:
    """A readable stream of `diff_tar(upperdir)`, produced by a thread as it is read.

    Close it when done; an error in the producer is raised from `read()`.
    """
    return open_pipe_reader(lambda sink: diff_tar(upperdir, sink), name="diff-tar")  # type: ignore[return-value]


class _TreeWriter:
    def __init__(self, root: Path, out: BinaryIO, overlay: bool):
        self.root = root
        self.overlay = overlay
        self.tf = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
        self.links: dict[tuple[int, int], str] = {}

    def run(self) -> None:
        try:
            self._walk("")
        finally:
            self.tf.close()

    def _walk(self, rel_dir: str) -> None:
        directory = os.path.join(self.root, rel_dir) if rel_dir else str(self.root)
        with os.scandir(directory) as it:
            names = sorted(entry.name for entry in it)
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            path = os.path.join(directory, name)
            st = os.lstat(path)
            if self.overlay and stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                self._add_empty(f"{rel_dir}/{WHITEOUT_PREFIX}{name}" if rel_dir else WHITEOUT_PREFIX + name, st)
                continue
            if stat.S_ISSOCK(st.st_mode):
                continue  # tar has no sockets; Docker skips them too
            self._add(rel, path, st)
            if stat.S_ISDIR(st.st_mode):
                if self.overlay and _xattr(path, OPAQUE_XATTR) == b"y":
                    self._add_empty(f"{rel}/{WHITEOUT_OPAQUE}", st)
                self._walk(rel)

    def _add(self, rel: str, path: str, st: os.stat_result) -> None:
        info = _header(rel, st)
        for name in _list_xattrs(path):
            value = _xattr(path, name)
            if value is not None:
                info.pax_headers[f"SCHILY.xattr.{name}"] = value.decode("utf-8", "surrogateescape")
        mode = st.st_mode
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                info.type, info.linkname = tarfile.LNKTYPE, self.links[key]
                self.tf.addfile(info)
                return
            if st.st_nlink > 1:
                self.links[key] = rel
            info.size = st.st_size
            with open(path, "rb") as f:
                self.tf.addfile(info, f)
            return
        if stat.S_ISDIR(mode):
            info.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            info.type = tarfile.FIFOTYPE
        self.tf.addfile(info)

    def _add_empty(self, rel: str, st: os.stat_result) -> None:
        info = _header(rel, st)
        info.mode = stat.S_IMODE(st.st_mode) & 0o777
        self.tf.addfile(info)


def _header(rel: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(rel)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = int(st.st_mtime)
    return info


def _list_xattrs(path: str) -> list[str]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return []
    return sorted(n for n in names if not n.startswith(_SKIPPED_XATTRS))


def _xattr(path: str, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None
