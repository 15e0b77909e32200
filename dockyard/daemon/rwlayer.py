# SPDX-License-Identifier: Apache-2.0
"""A container's rw layer read back: Docker's change list (`docker diff`) and the layer
tar a commit stores.

Both read the overlay upper directory (`containers/<id>/diff`) against the image's layers
merged the way overlay merges them (`LowerView`). The change list follows what Docker
reports for the same steps:

* an entry not in the image is added (1) and so is everything below an added directory;
  an entry the image has is modified (0) when its type, mode, owner or device differ, or
  for a non-directory also its size, mtime or file capabilities; a copied-up entry that
  is still the same is not a change;
* a whiteout is a deletion (2) of what the image had there, only the top of a deleted
  tree is listed; in an opaque directory (removed and made again) every name the image
  had and the container no longer has is a deletion;
* a directory with a change somewhere below it is listed as modified, before its entries.

Docker keeps the mount points it makes (`/etc/hosts`, `/proc`, …) in a separate "init"
layer, so they never show up as changes nor in a commit. runc makes them in our rw layer
when the image lacks them; `InitLayer` recognises them and leaves them out of both.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from dockyard.daemon.treetar import OPAQUE_XATTR, TarWriter
from dockyard.idmap import IDENTITY, IDMap

MODIFIED, ADDED, DELETED = 0, 1, 2
# What Docker's init layer holds: files and directories that are mount points.
INIT_FILES = frozenset({".dockerenv", "dev/console", "etc/hostname", "etc/hosts", "etc/mtab",
                        "etc/resolv.conf"})
INIT_DIRS = frozenset({"dev", "dev/pts", "dev/shm", "etc", "proc", "sys"})
_CAPABILITY_XATTR = "security.capability"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def add_init_files(upper: Path, lowers: list[Path], owner: tuple[int, int] | None = None) -> None:
    """Put in a new container's upper directory what Docker's init layer gives every
    container the image does not have: `/.dockerenv` (scripts test for it to know they
    run in a container) and `/etc/mtab` → `/proc/mounts`. Both are placeholders here,
    left out of diff and commit like runc's mount points."""
    view = LowerView(lowers)
    made: list[Path] = []
    if view.lstat(".dockerenv") is None:
        path = upper / ".dockerenv"
        path.touch(mode=0o755)
        made.append(path)
    etc = view.lstat("etc")
    if view.lstat("etc/mtab") is None and (etc is None or stat.S_ISDIR(etc.st_mode)):
        if not (upper / "etc").exists():
            # Over the image's /etc, the upper directory shows with its own mode and owner.
            (upper / "etc").mkdir()
            if etc is not None:
                os.chmod(upper / "etc", stat.S_IMODE(etc.st_mode))
                os.chown(upper / "etc", etc.st_uid, etc.st_gid)
            else:
                os.chmod(upper / "etc", 0o755)
                made.append(upper / "etc")
        os.symlink("/proc/mounts", upper / "etc" / "mtab")
        made.append(upper / "etc" / "mtab")
    if owner is not None:
        for path in made:
            os.lchown(path, *owner)


def upper_size(upper: Path) -> int:
    """The bytes of the container's own changes (Docker's SizeRw): the upper directory
    without the init files `add_init_files` put there."""
    from dockyard.diskusage import tree_size

    total = tree_size(upper)
    mtab = upper / "etc" / "mtab"
    if mtab.is_symlink() and os.readlink(mtab) == "/proc/mounts":
        total -= mtab.lstat().st_size
    return max(total, 0)  # (/.dockerenv is empty)


def changes(upper: Path, lowers: list[Path]) -> list[dict[str, Any]]:
    """Docker's `[{"Path": "/etc", "Kind": 0}, …]` for an upper directory over `lowers`
    (top-most first)."""
    view = LowerView(lowers)
    init = InitLayer(view)
    fd = os.open(upper, _DIR_FLAGS)
    try:
        return [{"Path": "/" + rel, "Kind": kind}
                for rel, kind in _Differ(view, init).directory(fd, "", added=False, opaque=False)]
    finally:
        os.close(fd)


def has_changes(upper: Path, lowers: list[Path]) -> bool:
    """Whether a commit of this upper directory would store a layer (Docker stores none,
    only a history entry, when the container changed nothing)."""
    init = InitLayer(LowerView(lowers))
    fd = os.open(upper, _DIR_FLAGS)
    try:
        return any(True for _ in init.significant(fd, ""))
    finally:
        os.close(fd)


def write_layer(upper: Path, lowers: list[Path], out: BinaryIO, idmap: IDMap = IDENTITY) -> None:
    """The upper directory as an OCI layer tar (whiteouts as `.wh.` entries), without the
    mount points Docker keeps in its init layer; owners as the container sees them
    (`idmap`, --userns-remap)."""
    init = InitLayer(LowerView(lowers))
    fd = os.open(upper, _DIR_FLAGS)
    try:
        writer = TarWriter(out, overlay=True, skip=lambda rel, st: init.skipped(fd, rel, st), idmap=idmap)
        try:
            writer.add_children(fd, "")
        finally:
            writer.close()
    finally:
        os.close(fd)


class LowerView:
    """The image's layer directories merged as overlay merges them, for lookups by path
    relative to the root. Layers are immutable and every directory used is checked to be a
    real directory (not a symlink), so host path strings are safe here."""

    def __init__(self, lowers: list[Path]):
        self.layers = [str(p) for p in lowers]
        self._dirs: dict[str, list[str]] = {"": list(self.layers)}

    def lstat(self, rel: str) -> os.stat_result | None:
        """The entry at `rel` in the merged image, or None when there is none."""
        parent, _, name = rel.rpartition("/")
        for directory in self.dirs(parent):
            st = _lstat(os.path.join(directory, name))
            if st is None:
                continue
            return None if _is_whiteout(st) else st
        return None

    def host_path(self, rel: str) -> str | None:
        """The layer file that provides `rel`, or None."""
        parent, _, name = rel.rpartition("/")
        for directory in self.dirs(parent):
            path = os.path.join(directory, name)
            st = _lstat(path)
            if st is None:
                continue
            return None if _is_whiteout(st) else path
        return None

    def names(self, rel: str) -> set[str]:
        """The entries of the merged directory `rel`."""
        seen: set[str] = set()
        hidden: set[str] = set()
        for directory in self.dirs(rel):
            with os.scandir(directory) as it:
                for entry in it:
                    if entry.name in seen or entry.name in hidden:
                        continue
                    st = entry.stat(follow_symlinks=False)
                    (hidden if _is_whiteout(st) else seen).add(entry.name)
        return seen

    def dirs(self, rel: str) -> list[str]:
        """The layer directories that make up the merged directory `rel`, top-most first;
        empty when `rel` is not a directory in the image."""
        cached = self._dirs.get(rel)
        if cached is not None:
            return cached
        parent, _, name = rel.rpartition("/")
        out: list[str] = []
        for directory in self.dirs(parent):
            path = os.path.join(directory, name)
            st = _lstat(path)
            if st is None:
                continue
            if not stat.S_ISDIR(st.st_mode):
                break  # a whiteout or a non-directory ends the merge here
            out.append(path)
            if _path_xattr(path, OPAQUE_XATTR) == b"y":
                break
        self._dirs[rel] = out
        return out


class InitLayer:
    """Tells the container's own changes from what only looks like one: the mount points
    runc made that Docker's init layer would hold (an empty file, or the `/etc/mtab` link,
    at a known path; a known directory) where the image has nothing, and directories that
    were copied up unchanged because something was made inside them."""

    def __init__(self, view: LowerView):
        self.view = view

    def is_init_dir(self, rel: str, st: os.stat_result) -> bool:
        return rel in INIT_DIRS and stat.S_ISDIR(st.st_mode) and self.view.lstat(rel) is None

    def is_placeholder(self, rel: str, st: os.stat_result) -> bool:
        if rel not in INIT_FILES or self.view.lstat(rel) is not None:
            return False
        return (stat.S_ISREG(st.st_mode) and st.st_size == 0) or stat.S_ISLNK(st.st_mode)

    def skipped(self, top_fd: int, rel: str, st: os.stat_result) -> bool:
        """For the committed layer (`rel` relative to the upper directory open as
        `top_fd`): placeholders, and directories with nothing of the container's in them."""
        if self.is_placeholder(rel, st):
            return True
        if not stat.S_ISDIR(st.st_mode):
            return False
        try:
            fd = _open_at_rel(top_fd, rel)
        except OSError:
            return True  # gone meanwhile
        try:
            return not self._dir_matters(fd, rel, st)
        finally:
            os.close(fd)

    def significant(self, dir_fd: int, rel_dir: str) -> Iterator[str]:
        """Entries under the open directory `dir_fd` that a commit must keep (lazily:
        callers usually need only the first)."""
        for name in _listdir(dir_fd):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            st = _stat_at(dir_fd, name)
            if st is None or self.is_placeholder(rel, st):
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                except OSError:
                    continue
                try:
                    if not self._dir_matters(fd, rel, st):
                        continue
                finally:
                    os.close(fd)
            yield rel

    def _dir_matters(self, fd: int, rel: str, st: os.stat_result) -> bool:
        image = self.view.lstat(rel)
        if image is None and rel not in INIT_DIRS:
            return True  # made by the container
        if image is not None and (not stat.S_ISDIR(image.st_mode) or image.st_mode != st.st_mode
                                  or image.st_uid != st.st_uid or image.st_gid != st.st_gid
                                  or _getxattr(fd, OPAQUE_XATTR) == b"y"):
            return True
        return any(True for _ in self.significant(fd, rel))


class _Differ:
    def __init__(self, view: LowerView, init: InitLayer):
        self.view = view
        self.init = init

    def directory(self, fd: int, rel_dir: str, *, added: bool, opaque: bool) -> list[tuple[str, int]]:
        """The changes below the upper directory open as `fd`. `added`: the directory is
        new, so everything in it is; `opaque`: its image entries are hidden, so every one
        the container lacks is a deletion."""
        out: list[tuple[str, int]] = []
        names = _listdir(fd)
        present = set(names)
        if opaque and not added:
            names = sorted(present | (self.view.names(rel_dir) - present))
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            st = _stat_at(fd, name) if name in present else None
            if st is None:
                if not added and self.view.lstat(rel) is not None:
                    out.append((rel, DELETED))  # hidden by the opaque directory
                continue
            if _is_whiteout(st):
                if not added and self.view.lstat(rel) is not None:
                    out.append((rel, DELETED))
                continue
            if self.init.is_placeholder(rel, st):
                continue
            out.extend(self._entry(fd, name, rel, st, added=added, opaque=opaque))
        return out

    def _entry(self, fd: int, name: str, rel: str, st: os.stat_result, *, added: bool,
               opaque: bool) -> list[tuple[str, int]]:
        image = None if added else self.view.lstat(rel)
        if image is None and self.init.is_init_dir(rel, st):
            own: int | None = None  # Docker's init layer has it: only what is inside counts
            child_added = False
        elif image is None:
            own, child_added = ADDED, True
        else:
            own = MODIFIED if self._different(image, st, fd, name, rel) else None
            child_added = not stat.S_ISDIR(image.st_mode)
        if not stat.S_ISDIR(st.st_mode):
            return [(rel, own)] if own is not None else []
        try:
            child_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
        except OSError:
            return [(rel, own)] if own is not None else []  # replaced meanwhile
        try:
            child_opaque = opaque or _getxattr(child_fd, OPAQUE_XATTR) == b"y"
            below = self.directory(child_fd, rel, added=child_added, opaque=child_opaque)
        finally:
            os.close(child_fd)
        if own is None and below:
            own = MODIFIED
        return ([(rel, own)] if own is not None else []) + below

    def _different(self, image: os.stat_result, st: os.stat_result, fd: int, name: str, rel: str) -> bool:
        if (image.st_mode != st.st_mode or image.st_uid != st.st_uid or image.st_gid != st.st_gid
                or image.st_rdev != st.st_rdev):
            return True
        if stat.S_ISDIR(st.st_mode):
            return False  # a directory's size and mtime say nothing about a change
        if image.st_size != st.st_size or not _same_time(image.st_mtime_ns, st.st_mtime_ns):
            return True
        if stat.S_ISREG(st.st_mode):
            host = self.view.host_path(rel)
            before = _path_xattr(host, _CAPABILITY_XATTR) if host else None
            return before != _path_xattr(f"/proc/self/fd/{fd}/{name}", _CAPABILITY_XATTR)
        return False


# ── helpers ───────────────────────────────────────────────────────────────────────────

def _same_time(a_ns: int, b_ns: int) -> bool:
    """Equal, or equal seconds where one side has no sub-second part (a filesystem or an
    archive that keeps whole seconds), as Docker compares them."""
    a_s, a_frac = divmod(a_ns, 1_000_000_000)
    b_s, b_frac = divmod(b_ns, 1_000_000_000)
    return a_s == b_s and (a_frac == b_frac or a_frac == 0 or b_frac == 0)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _stat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None  # removed while we looked (a running container)


def _listdir(fd: int) -> list[str]:
    with os.scandir(fd) as it:
        return sorted(entry.name for entry in it)


def _open_at_rel(top_fd: int, rel: str) -> int:
    """Open the directory `rel` below `top_fd` without following any symlink."""
    fd = os.dup(top_fd)
    try:
        for part in rel.split("/"):
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _getxattr(fd: int, name: str) -> bytes | None:
    try:
        return os.getxattr(fd, name)
    except OSError:
        return None


def _path_xattr(path: str, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP, errno.ENOENT, errno.ENOTDIR, errno.EPERM):
            return None
        raise
