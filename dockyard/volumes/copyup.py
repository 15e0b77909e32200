# SPDX-License-Identifier: Apache-2.0
"""Docker's copy-up: a fresh volume is first filled with what the image has at the path
it is mounted on, keeping owners, modes, timestamps, extended attributes (file
capabilities included), hard links, symlinks and device nodes.

`copy_tree` copies a directory's contents and its own metadata; `resolve_in_root` finds
the image's directory for a container path without letting a symlink lead out of the
root filesystem. Both block: callers run them in a thread.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("dockyard.volumes")

# Attributes that belong to the filesystem below, not to the file.
_SKIP_XATTR_PREFIXES = ("trusted.overlay.", "security.selinux")


def copy_tree(source: Path, target: Path) -> None:
    """Copy everything under the directory `source` into the existing directory `target`,
    then give `target` the owner, mode, attributes and times of `source`."""
    links: dict[tuple[int, int], str] = {}
    _copy_children(str(source), str(target), links)
    _copy_metadata(str(source), str(target), os.lstat(source))


def resolve_in_root(root: Path, path: str) -> Path | None:
    """`path` (absolute, in the container) inside `root`, with symlinks followed as the
    container would see them (an absolute link starts again at `root`, `..` stops at
    it); None when a component is missing or the link chain loops."""
    root_str = os.path.realpath(root)
    parts = [p for p in path.split("/") if p and p != "."]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root_str, *resolved, part)
        try:
            st = os.lstat(candidate)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > 40:
                return None
            link = os.readlink(candidate)
            if link.startswith("/"):
                resolved = []
            parts = [p for p in link.split("/") if p and p != "."] + parts
            continue
        resolved.append(part)
    return Path(root_str, *resolved) if resolved else Path(root_str)


def is_empty_dir(path: Path) -> bool:
    with os.scandir(path) as entries:
        return next(entries, None) is None


# ── helpers ───────────────────────────────────────────────────────────────────────────

def _copy_children(src_dir: str, dst_dir: str, links: dict[tuple[int, int], str]) -> None:
    with os.scandir(src_dir) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        src = entry.path
        dst = os.path.join(dst_dir, entry.name)
        st = os.lstat(src)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(dst, 0o700)
            _copy_children(src, dst, links)
            _copy_metadata(src, dst, st)
            continue
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and not stat.S_ISDIR(mode) and key in links:
            os.link(links[key], dst, follow_symlinks=False)
            continue
        if stat.S_ISREG(mode):
            _copy_file(src, dst)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            os.mknod(dst, stat.S_IFMT(mode) | 0o600, st.st_rdev)
        else:
            log.warning("copy-up: skipping %s of unknown type", src)
            continue
        _copy_metadata(src, dst, st)
        if st.st_nlink > 1:
            links[key] = dst


def _copy_file(src: str, dst: str) -> None:
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        size = os.fstat(fin.fileno()).st_size
        copied = 0
        try:
            # In-kernel copy (and reflinks where the filesystem has them).
            while copied < size:
                n = os.copy_file_range(fin.fileno(), fout.fileno(), size - copied)
                if n == 0:
                    break
                copied += n
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            fin.seek(copied)
            fout.seek(copied)
            while chunk := fin.read(1 << 20):
                fout.write(chunk)
            return
        # A file that grew meanwhile (or a size the kernel reported short): finish plainly.
        while chunk := fin.read(1 << 20):
            fout.write(chunk)


def _copy_metadata(src: str, dst: str, st: os.stat_result) -> None:
    is_link = stat.S_ISLNK(st.st_mode)
    # Owner first: chown clears setuid bits and file capabilities set before it.
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not is_link:
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    _copy_xattrs(src, dst)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EPERM):
            return
        raise
    for name in names:
        if name.startswith(_SKIP_XATTR_PREFIXES):
            continue
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False),
                        follow_symlinks=False)
        except OSError as e:
            # As Docker: a filesystem that refuses an attribute does not stop the copy.
            if e.errno not in (errno.ENOTSUP, errno.EPERM, errno.EACCES):
                raise
            log.debug("copy-up: %s keeps no %s: %s", dst, name, e.strerror)

