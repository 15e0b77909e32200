# SPDX-License-Identifier: Apache-2.0
"""A container's files through the API: `docker cp` both ways (archive stat, get, put),
`export`, `diff` (the change list) and `commit`.

Every path is resolved inside the container's root (`rootpath.Root`): a symlink in the
container, absolute or full of `..`, leads somewhere in the container, never to the host.
The container's lock is held while its files are read or written (`ContainerService.rootfs`):
`cp` of a path inside a volume, a bind mount or /etc/hosts (…) reaches a running container
through its own view of its files (`/proc/<pid>/root`); other paths through its live
overlay mount (a copy in is visible at once). A stopped container is mounted for the time
of the request, without its mounts. `export`, `diff` and
`commit` see the container's own layers only, as Docker's do.

The path rules are Docker's: a path is made absolute and cleaned (`..` lexically, never
above `/`); a trailing `/` or `/.` means "follow the last component" and, with `/.`, "the
contents"; the archive names entries after the last component of the path as asked
(`data/…`, `./…`, `/…`), and the stat header is `X-Docker-Container-Path-Stat`.

With --userns-remap, archives carry the container's IDs (root is 0) both ways: the
daemon's mapping shifts them back on the way out and forward on the way in.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import posixpath
import stat
import tempfile
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard.daemon import commit as commit_verb
from dockyard.daemon import rwlayer, treetar
from dockyard.daemon.rootpath import Location, Root
from dockyard.errors import Forbidden, InvalidParameter, NotFound
from dockyard.idmap import IDENTITY, IDMap
from dockyard.images.platform import format_rfc3339
from dockyard.oci.user import resolve_user

if TYPE_CHECKING:
    from dockyard.daemon.containers import ContainerService
    from dockyard.daemon.events import Events
    from dockyard.images import ImageService

STAT_HEADER = "X-Docker-Container-Path-Stat"

# Go's os.FileMode bits, which Docker's stat header carries as `mode`.
_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_PIPE = 1 << 31, 1 << 27, 1 << 26, 1 << 25
_GO_SOCKET, _GO_SETUID, _GO_SETGID, _GO_CHAR, _GO_STICKY = 1 << 24, 1 << 23, 1 << 22, 1 << 21, 1 << 20

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

# Writes the archive to a blocking file; call it in a worker thread.
ArchiveWriter = Callable[[BinaryIO], None]


class ContainerFiles:
    """The filesystem verbs of one daemon, on top of its container and image services."""

    def __init__(self, containers: ContainerService, images: ImageService, events: Events):
        self._containers = containers
        self._images = images
        self._events = events

    async def stat(self, ref: str, path: str) -> dict[str, Any]:
        """Docker's stat of `path` in the container (`HEAD …/archive`)."""
        async with self._containers.rootfs(ref, with_mounts=self._in_mount(ref, path)) as (_record, rootfs):
            return await asyncio.to_thread(_stat_path, rootfs, path, ref)

    @contextlib.asynccontextmanager
    async def archive(self, ref: str, path: str) -> AsyncIterator[tuple[dict[str, Any], ArchiveWriter]]:
        """The stat of `path` and a writer of its tar, valid inside the block (the
        container's lock is held and a stopped container stays mounted until it ends).
        What was looked up stays open, so the tar is of what the stat described."""
        async with self._containers.rootfs(ref, with_mounts=self._in_mount(ref, path)) as (record, rootfs):
            target = await asyncio.to_thread(_Target.open, rootfs, path, ref, self._idmap)
            try:
                yield target.info, target.write
            finally:
                target.close()
            self._emit(record, "archive-path")

    async def extract(self, ref: str, path: str, stream: BinaryIO, *, no_overwrite_dir_non_dir: bool = False,
                      copy_uid_gid: bool = False) -> None:
        """Unpack the tar `stream` (a blocking file, read in a worker thread) into the
        directory `path` of the container (`PUT …/archive`)."""
        in_mount = self._in_mount(ref, path)  # (an empty path is refused here)
        async with self._containers.rootfs(ref, with_mounts=in_mount) as (record, rootfs):
            if record["HostConfig"].get("ReadonlyRootfs") and not in_mount:
                raise Forbidden("container rootfs is marked read-only")
            await asyncio.to_thread(_extract, rootfs, path, ref, stream, no_overwrite_dir_non_dir,
                                    record["Config"].get("User") if copy_uid_gid else None, self._idmap)
            self._emit(record, "extract-to-dir")

    @contextlib.asynccontextmanager
    async def export(self, ref: str) -> AsyncIterator[ArchiveWriter]:
        """A writer of the container's whole filesystem as a tar, valid inside the block."""
        async with self._containers.rootfs(ref) as (record, rootfs):
            def write(out: BinaryIO) -> None:
                with Root(rootfs) as root:
                    writer = treetar.TarWriter(out, idmap=self._idmap)
                    try:
                        writer.add_children(root.fd, "")
                    finally:
                        writer.close()

            yield write
            self._emit(record, "export")

    async def changes(self, ref: str) -> list[dict[str, Any]] | None:
        """Docker's change list of the container's rw layer; None (`null`) when empty."""
        record = self._containers.get(ref)
        upper = self._containers.container_dir(record["Id"]) / "diff"
        lowers = await asyncio.to_thread(self._images.lowerdirs, record["Image"])
        try:
            found = await asyncio.to_thread(rwlayer.changes, upper, lowers)
        except FileNotFoundError:
            raise NotFound(f"No such container: {ref}") from None  # removed meanwhile
        return found or None

    async def commit(self, ref: str, **options: Any) -> str:
        """A new image from the container (see `commit.commit`); returns its ID."""
        return await commit_verb.commit(self._containers, self._images, self._events, ref, **options)

    def _in_mount(self, ref: str, path: str) -> bool:
        """Whether `path` (as asked, before symlinks) lies in something mounted into the
        container (a volume, a bind mount, /etc/hosts…): then a running container is read
        through its own view; otherwise through its layers, which keeps the runtime's
        /proc, /sys and /dev out of an archive of `/`, as in Docker's."""
        record = self._containers.get(ref)
        cleaned = split_request_path(path)[0]
        mounts = [m.get("Destination") or "" for m in record.get("Mounts") or []]
        mounts += ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"]
        return any(m and (cleaned == m or cleaned.startswith(m.rstrip("/") + "/")) for m in mounts)

    @property
    def _idmap(self) -> IDMap:
        return self._images.daemon_config.id_map

    def _emit(self, record: dict[str, Any], action: str) -> None:
        attributes = dict(record["Config"].get("Labels") or {})
        attributes.update(image=record["Config"].get("Image", ""), name=record["Name"].lstrip("/"))
        self._events.publish("container", action, record["Id"], attributes)


def encode_stat(info: dict[str, Any]) -> str:
    """The `X-Docker-Container-Path-Stat` header value: base64 of the JSON stat."""
    return base64.b64encode(json.dumps(info, separators=(",", ":")).encode()).decode()


def go_file_mode(mode: int) -> int:
    """A Unix st_mode as Go's os.FileMode (what Docker's stat header carries)."""
    out = stat.S_IMODE(mode) & 0o777
    kind = stat.S_IFMT(mode)
    out |= {stat.S_IFDIR: _GO_DIR, stat.S_IFLNK: _GO_SYMLINK, stat.S_IFBLK: _GO_DEVICE,
            stat.S_IFCHR: _GO_DEVICE | _GO_CHAR, stat.S_IFIFO: _GO_PIPE,
            stat.S_IFSOCK: _GO_SOCKET}.get(kind, 0)
    if mode & stat.S_ISUID:
        out |= _GO_SETUID
    if mode & stat.S_ISGID:
        out |= _GO_SETGID
    if mode & stat.S_ISVTX:
        out |= _GO_STICKY
    return out


def split_request_path(path: str) -> tuple[str, bool, str]:
    """(cleaned absolute path, follow the last component, the name entries are rebased
    to) for an archive path as a client sends it."""
    if not path:
        raise InvalidParameter("path cannot be empty")
    cleaned = "/" + posixpath.normpath("/" + path).lstrip("/")
    dot = path == "." or path.endswith("/.")
    follow = dot or path.endswith("/")
    if dot:
        name = "."
    elif cleaned == "/":
        name = "/"
    else:
        name = posixpath.basename(cleaned)
    return cleaned, follow, name


# ── workers (run in threads) ──────────────────────────────────────────────────────────

def _stat_path(rootfs: Any, path: str, ref: str) -> dict[str, Any]:
    target = _Target.open(rootfs, path, ref)
    target.close()
    return target.info


class _Target:
    """What an archive path names, looked up once and held open: a directory by its own
    descriptor, anything else by its name in its open parent."""

    def __init__(self, root: Root, location: Location, dir_fd: int | None, info: dict[str, Any]):
        self.root = root
        self.idmap = root.idmap
        self.location = location
        self.dir_fd = dir_fd
        self.info = info

    @classmethod
    def open(cls, rootfs: Any, path: str, ref: str, idmap: IDMap = IDENTITY) -> _Target:
        cleaned, follow, name = split_request_path(path)
        root = Root(rootfs, idmap)
        try:
            location = _lookup(root, cleaned, follow, path, ref)
        except BaseException:
            root.close()
            raise
        target = cls(root, location, None, {})
        try:
            st = location.lstat()
            if stat.S_ISDIR(st.st_mode):
                target.dir_fd = os.open(location.name, _DIR_FLAGS, dir_fd=location.dir_fd)
                st = os.fstat(target.dir_fd)
            elif follow:
                raise InvalidParameter(f"lstat {path}: not a directory")
            link_target = _link_target(root, cleaned) if stat.S_ISLNK(st.st_mode) else ""
        except FileNotFoundError:
            target.close()
            raise NotFound(f"Could not find the file {path} in container {ref}") from None
        except BaseException:
            target.close()
            raise
        target.info = {"name": name, "size": st.st_size, "mode": go_file_mode(st.st_mode),
                       "mtime": format_rfc3339(st.st_mtime_ns), "linkTarget": link_target}
        return target

    def write(self, out: BinaryIO) -> None:
        writer = treetar.TarWriter(out, idmap=self.idmap)
        try:
            if self.dir_fd is not None:
                writer.add_children(self.dir_fd, self.info["name"], top=True)
            else:
                writer.add(self.location.dir_fd, self.location.name, self.info["name"])
        finally:
            writer.close()

    def close(self) -> None:
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None
        self.location.close()
        self.root.close()


def _link_target(root: Root, cleaned: str) -> str:
    """Where a symlink leads in the container, fully resolved; a loop is not an error for
    a stat, so it answers with where the walk stopped instead."""
    try:
        return root.resolve_text(cleaned)
    except OSError:
        with root.resolve(cleaned, follow=False) as location:
            target = os.readlink(location.name, dir_fd=location.dir_fd)
        return posixpath.normpath(posixpath.join(posixpath.dirname(cleaned), target))


def _lookup(root: Root, cleaned: str, follow: bool, path: str, ref: str) -> Location:
    try:
        return root.resolve(cleaned, follow=follow)
    except FileNotFoundError:
        raise NotFound(f"Could not find the file {path} in container {ref}") from None
    except OSError as e:
        raise InvalidParameter(f"lstat {path}: {e.strerror}") from None


def _extract(rootfs: Any, path: str, ref: str, stream: BinaryIO, no_overwrite: bool,
             user: str | None, idmap: IDMap = IDENTITY) -> None:
    cleaned = "/" + posixpath.normpath("/" + path).lstrip("/")
    # `cp -a` with a container user: everything belongs to that user, as in Docker.
    with Root(rootfs, idmap) as root:
        owner = _user_ids(root, user) if user else None
        with _lookup(root, cleaned, True, path, ref) as location:
            try:
                st = location.lstat()
            except FileNotFoundError:
                raise NotFound(f"Could not find the file {path} in container {ref}") from None
            dest = location.path
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidParameter("extraction point is not a directory")
        treetar.extract(root, dest, stream, no_overwrite_dir_non_dir=no_overwrite, owner=owner)
    _drain(stream)


def _user_ids(root: Root, user: str) -> tuple[int, int]:
    """uid and gid of the container's `Config.User`, from its own passwd and group files.
    They are read through `root` (a running container may swap them for symlinks) into a
    private copy that the shared resolver then parses."""
    with tempfile.TemporaryDirectory(prefix="dockyard-user-") as scratch:
        os.mkdir(os.path.join(scratch, "etc"))
        for name in ("passwd", "group"):
            data = _read_small(root, f"/etc/{name}")
            if data is not None:
                with open(os.path.join(scratch, "etc", name), "wb") as f:
                    f.write(data)
        found = resolve_user(scratch, user)
    return found.uid, found.gid


def _read_small(root: Root, path: str, limit: int = 4 << 20) -> bytes | None:
    try:
        with root.resolve(path, follow=True) as location:
            fd = os.open(location.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=location.dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit)
    finally:
        os.close(fd)


def _drain(stream: BinaryIO) -> None:
    """Read what follows the end of the archive, so the client's upload completes."""
    while stream.read(1 << 16):
        pass

