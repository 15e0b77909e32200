# SPDX-License-Identifier: Apache-2.0
"""Names inside a container's root filesystem, resolved the way the container sees them.

`Root` opens a container's root directory once and resolves paths below it one component
at a time through directory file descriptors, never through host path strings: a symlink
is read (`readlinkat`) and followed by hand, an absolute target starts again at the root,
and `..` never climbs above it. Every component is opened with `O_NOFOLLOW`, so a
container that swaps a directory for a symlink while we work (it may be running) can at
most send us elsewhere inside its own root, never to the host's files.

`resolve()` gives a `Location`: an open directory and a final name in it (not followed
unless asked), which callers use with the `*at` system calls (`dir_fd=`), plus the path
as the container sees it, e.g. for Docker's `linkTarget`. `resolve_text()` is the same
walk for a path that need not exist, as `oci.user.resolve_in_root` does with strings.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path

from dockyard.idmap import IDENTITY, IDMap

# Linux's own limit on symlinks followed in one lookup.
MAX_SYMLINKS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class Location:
    """`name` inside the open directory `dir_fd`; `path` is how the container names it.

    `name` is "." when the path is the directory itself (the root). The caller closes
    `dir_fd` (or uses the location as a context manager)."""

    dir_fd: int
    name: str
    path: str

    def lstat(self) -> os.stat_result:
        return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def __enter__(self) -> Location:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Root:
    """A container's root directory, open for confined lookups. `idmap` is how the
    container's IDs are the host's (--userns-remap): directories made here belong to its
    root, and `treetar.extract` maps owners with it."""

    def __init__(self, path: str | Path, idmap: IDMap = IDENTITY):
        # The root itself is the daemon's choice, never the container's, and may be the
        # /proc/<pid>/root link: followed. Nothing below it is (see _Walk).
        self.fd = os.open(path, _DIR_FLAGS & ~os.O_NOFOLLOW)
        self.idmap = idmap

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def resolve(self, path: str, *, follow: bool = True, make_dirs: bool = False,
                base: str = "/") -> Location:
        """Where `path` (relative paths start at `base`) lives: all components but the
        last must be directories (symlinks followed inside the root); the last is followed
        too when `follow` is set. Missing directories raise FileNotFoundError, or are made
        (0755, root-owned, as Docker makes them) with `make_dirs`. The last component
        need not exist."""
        walk = _Walk(self.fd, base, self.idmap.root)
        try:
            walk.run(path, follow=follow, make_dirs=make_dirs, tolerate_missing=False)
            return walk.location()
        finally:
            walk.close()

    def resolve_text(self, path: str, base: str = "/") -> str:
        """The container path `path` ends up at with every symlink followed, as far as it
        exists; the rest is appended as written (`..` applied to what is resolved)."""
        walk = _Walk(self.fd, base)
        try:
            walk.run(path, follow=True, make_dirs=False, tolerate_missing=True)
            return walk.text()
        finally:
            walk.close()

    def open_dir(self, path: str, *, make_dirs: bool = False) -> int:
        """An open directory fd for `path` (followed); NotADirectoryError if it is not one.
        With `make_dirs`, missing directories on the way and at the end are made."""
        with self.resolve(path, follow=True, make_dirs=make_dirs) as loc:
            if make_dirs and loc.name != ".":
                make_dir(loc.dir_fd, loc.name, self.idmap.root)
            return os.open(loc.name, _DIR_FLAGS, dir_fd=loc.dir_fd)


def resolve_in_root(root: str, path: str) -> str:
    """The host path `path` names inside `root` (symlinks followed, re-rooted), as
    `oci.user.resolve_in_root`; the part that does not exist is kept as written."""
    with Root(root) as opened:
        resolved = opened.resolve_text(path)
    return os.path.join(os.path.abspath(root), resolved.lstrip("/"))


def make_dir(dir_fd: int, name: str, owner: tuple[int, int] = (0, 0)) -> None:
    """`mkdir name` in `dir_fd` as Docker makes missing parents: 0755, owned by the
    container's root (`owner` on the host; whatever the daemon's umask). An existing
    entry is left alone."""
    try:
        os.mkdir(name, 0o755, dir_fd=dir_fd)
    except FileExistsError:
        return
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        os.fchown(fd, *owner)
        os.fchmod(fd, 0o755)
    finally:
        os.close(fd)


def split_components(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


class _Walk:
    """One lookup: a stack of open directories from the root down (the root's fd is
    borrowed, the others owned), and the components still to resolve."""

    def __init__(self, root_fd: int, base: str, owner: tuple[int, int] = (0, 0)):
        self.root_fd = root_fd
        self.owner = owner
        self.stack: list[tuple[int, str]] = []  # (fd, name) below the root
        self.final = "."
        self.missing: list[str] = []  # resolve_text: components past a missing one
        self.followed = 0
        self.base = base

    def run(self, path: str, *, follow: bool, make_dirs: bool, tolerate_missing: bool) -> None:
        pending = split_components(path if path.startswith("/") else posixpath.join(self.base, path))
        while pending:
            part = pending.pop(0)
            if part == "..":
                self._up()
                continue
            last = not pending
            if last and not follow:
                self.final = part
                return
            try:
                st = os.stat(part, dir_fd=self._top(), follow_symlinks=False)
            except FileNotFoundError:
                if last:
                    self.final = part
                    return
                if tolerate_missing:
                    self.missing = [part, *pending]
                    return
                if not make_dirs:
                    raise
                make_dir(self._top(), part, self.owner)
                st = os.stat(part, dir_fd=self._top(), follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                pending = self._follow(part) + pending
                continue
            if last:
                self.final = part
                return
            if not stat.S_ISDIR(st.st_mode):
                if tolerate_missing:
                    self.missing = [part, *pending]
                    return
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), self._text(part))
            self._enter(part, pending)

    def location(self) -> Location:
        """Hand the innermost directory to the caller (it then owns that fd)."""
        if self.final == "." and self.stack:
            # The path is a directory reached as the last component: name it from its parent.
            fd, name = self.stack.pop()
            os.close(fd)
            self.final = name
        path = self._text(self.final)
        parent = self.stack.pop()[0] if self.stack else os.dup(self.root_fd)
        return Location(parent, self.final, path)

    def text(self) -> str:
        names = [name for _, name in self.stack]
        for part in ([] if self.final == "." else [self.final]) + self.missing:
            if part == "..":
                if names:
                    names.pop()
            elif part != ".":
                names.append(part)
        return "/" + "/".join(names)

    def close(self) -> None:
        while self.stack:
            os.close(self.stack.pop()[0])

    def _top(self) -> int:
        return self.stack[-1][0] if self.stack else self.root_fd

    def _text(self, final: str) -> str:
        names = [name for _, name in self.stack]
        if final != ".":
            names.append(final)
        return "/" + "/".join(names)

    def _up(self) -> None:
        if self.stack:
            os.close(self.stack.pop()[0])

    def _follow(self, part: str) -> list[str]:
        self.followed += 1
        if self.followed > MAX_SYMLINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), self._text(part))
        target = os.readlink(part, dir_fd=self._top())
        if target.startswith("/"):
            self.close()
        return split_components(target)

    def _enter(self, part: str, pending: list[str]) -> None:
        try:
            fd = os.open(part, _DIR_FLAGS, dir_fd=self._top())
        except OSError as e:
            # Replaced (by a running container) between the stat and the open: look again.
            if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                pending.insert(0, part)
                self.followed += 1  # bounds the retries like symlinks
                if self.followed > MAX_SYMLINKS:
                    raise
                return
            raise
        self.stack.append((fd, part))
