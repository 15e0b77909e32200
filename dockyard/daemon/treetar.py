# SPDX-License-Identifier: Apache-2.0
"""Tar streams out of and into a container's files, through directory file descriptors.

`TarWriter.add` writes a file or a whole tree as tar entries named under a prefix (`docker
cp` out, `export`); with `overlay=True` it reads an overlay upper directory and writes
deletions the OCI way (`commit`). `extract` unpacks a tar (plain or compressed) into a
directory of a container (`docker cp` in) the way Docker's chrooted untar does:

* an entry's name is taken relative to the destination (a leading `/` is dropped) and
  may not climb out of it with `..`; nor may a hard link, nor a relative symlink;
* the entry's parent directories are looked up inside the container's root (a symlink
  there, old or just extracted, is followed as the container would follow it, never to
  the host) and made 0755 when missing;
* owners, modes (setuid included), times and xattrs are kept; device nodes are made when
  the kernel lets us (skipped where it does not, as Docker does without privileges);
* extended headers are bounded, so a hostile archive cannot make us buffer gigabytes.

Files are opened with `O_NOFOLLOW` relative to their directory, so neither reading nor
writing can be redirected by a symlink the container (which may be running) plants.

Archives carry the container's view of owners. With --userns-remap the files on the host
belong to shifted IDs: `TarWriter(idmap=…)` maps them back (an ID outside the range
becomes the overflow ID the container sees; a whiteout's, 0), and `extract` maps entries
to the host with its `Root`'s mapping, refusing IDs the range does not cover.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
import tarfile
from collections.abc import Callable
from typing import BinaryIO

from dockyard.daemon.rootpath import Location, Root
from dockyard.errors import InvalidParameter
from dockyard.idmap import IDENTITY, IDMap, IDMapError
from dockyard.snapshots.diskguard import DiskGuard

CHUNK = 1 << 20
# Long names, link targets and PAX records (xattrs) are read whole by tarfile; real ones
# are a few kilobytes.
MAX_EXTENDED_HEADER = 1 << 20
WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
# Host-specific or overlay-internal attributes that mean nothing inside a container.
_SKIPPED_XATTRS = ("trusted.overlay.", "security.selinux")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

# skip(rel, st): leave this entry (and what is below it) out of the archive.
Skip = Callable[[str, os.stat_result], bool]


class TarWriter:
    """A tar stream being written to `out` (a blocking file; use from a worker thread)."""

    def __init__(self, out: BinaryIO, *, overlay: bool = False, skip: Skip | None = None,
                 idmap: IDMap = IDENTITY):
        # A large buffer: `out` may be an HTTP response crossing threads on every write.
        self.tf = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT,  # type: ignore[call-overload]
                               bufsize=1 << 18)
        self.overlay = overlay
        self.skip = skip
        self.idmap = idmap
        self.links: dict[tuple[int, int], str] = {}

    def add(self, dir_fd: int, name: str, arcname: str, *, rel: str = "",
            st: os.stat_result | None = None) -> None:
        """Write `name` in `dir_fd` (whose lstat is `st`, if known) as `arcname` and, for a
        directory, everything below it (`rel` is its path relative to the tree's top,
        handed to `skip`)."""
        if st is None:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if self.skip is not None and rel and self.skip(rel, st):
            return
        if stat.S_ISDIR(st.st_mode):
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                    return  # replaced since the stat (a running container): nothing to read
                raise
            try:
                self.add_children(fd, arcname, rel=rel, st=st, top=True)
            finally:
                os.close(fd)
            return
        self._add_entry(dir_fd, name, arcname, st)

    def add_children(self, fd: int, arcname: str, *, rel: str = "", st: os.stat_result | None = None,
                     top: bool = False) -> None:
        """Write the directory open as `fd`: itself (when `top`, as `arcname`) and then its
        entries, named `arcname/<name>` (or just `<name>` for an empty `arcname`)."""
        if top:
            info = _header(arcname, st or os.fstat(fd), self.idmap)
            info.type = tarfile.DIRTYPE
            self._xattrs(info, fd)
            self._write(info)
            if self.overlay and _getxattr(fd, OPAQUE_XATTR) == b"y":
                self._write(_empty(_join(arcname, WHITEOUT_OPAQUE), st or os.fstat(fd), self.idmap))
        with os.scandir(fd) as it:
            names = sorted(entry.name for entry in it)
        for child in names:
            child_rel = f"{rel}/{child}" if rel else child
            child_arc = _join(arcname, child)
            try:
                st_child = os.stat(child, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while we listed (a running container)
            if self.overlay and stat.S_ISCHR(st_child.st_mode) and st_child.st_rdev == 0:
                self._write(_empty(_join(arcname, WHITEOUT_PREFIX + child), st_child, self.idmap))
                continue
            self.add(fd, child, child_arc, rel=child_rel, st=st_child)

    def close(self) -> None:
        self.tf.close()

    def _add_entry(self, dir_fd: int, name: str, arcname: str, st: os.stat_result) -> None:
        mode = st.st_mode
        info = _header(arcname, st, self.idmap)
        if stat.S_ISREG(mode):
            self._add_file(dir_fd, name, info, st)
            return
        if stat.S_ISLNK(mode):
            info.type = tarfile.SYMTYPE
            try:
                info.linkname = os.readlink(name, dir_fd=dir_fd)
            except OSError:
                return  # replaced since the stat
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            info.type = tarfile.FIFOTYPE
        else:
            return  # sockets: tar has no such entry; Docker leaves them out too
        self._write(info)

    def _add_file(self, dir_fd: int, name: str, info: tarfile.TarInfo, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.links:
            info.type, info.linkname = tarfile.LNKTYPE, self.links[key]
            self._write(info)
            return
        try:
            # O_NONBLOCK: if it became a FIFO since the stat, opening must not hang.
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOENT, errno.ENXIO):
                return
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return
            info = _header(info.name, st, self.idmap)
            info.size = st.st_size
            self._xattrs(info, fd)
            if st.st_nlink > 1:
                self.links[(st.st_dev, st.st_ino)] = info.name
            with os.fdopen(fd, "rb", closefd=False) as f:
                self.tf.addfile(info, _Exactly(f, info.size))
            self.tf.members = []
        finally:
            os.close(fd)

    def _xattrs(self, info: tarfile.TarInfo, fd: int) -> None:
        try:
            names = os.listxattr(fd)
        except OSError:
            return
        for key in sorted(names):
            if key.startswith(_SKIPPED_XATTRS):
                continue
            value = _getxattr(fd, key)
            if value is not None:
                info.pax_headers[f"SCHILY.xattr.{key}"] = value.decode("utf-8", "surrogateescape")

    def _write(self, info: tarfile.TarInfo) -> None:
        self.tf.addfile(info)
        # Stream mode keeps every header in `members`; we never look back.
        self.tf.members = []


def extract(root: Root, dest: str, stream: BinaryIO, *, no_overwrite_dir_non_dir: bool = False,
            owner: tuple[int, int] | None = None) -> None:
    """Unpack the tar `stream` into the existing directory `dest` (a resolved container
    path) of `root`. `owner` replaces every entry's uid/gid. Raises InvalidParameter with
    Docker's messages for a bad archive or an entry that would escape `dest`."""
    _Extractor(root, dest, no_overwrite_dir_non_dir, owner).run(stream)


# ── extraction ────────────────────────────────────────────────────────────────────────

class _BoundedTarInfo(tarfile.TarInfo):
    def _proc_member(self, tarfile_: tarfile.TarFile):  # type: ignore[override]
        extended = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                    tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
        if self.type in extended and self.size > MAX_EXTENDED_HEADER:
            raise tarfile.HeaderError(f"extended header of {self.size} bytes is too large")
        return super()._proc_member(tarfile_)  # type: ignore[misc]


class _Extractor:
    def __init__(self, root: Root, dest: str, no_overwrite: bool, owner: tuple[int, int] | None):
        self.root = root
        self.dest = dest
        self.no_overwrite = no_overwrite
        self.owner = owner
        self.dir_times: list[tuple[str, tarfile.TarInfo]] = []
        # The current entry's parent, kept for the next entries in the same directory. An
        # entry only ever replaces things inside it, so it stays the right directory.
        self._parent: tuple[str, Location] | None = None

    def run(self, stream: BinaryIO) -> None:
        guard = DiskGuard(self.root.fd, "archive")
        try:
            tf = tarfile.open(fileobj=stream, mode="r|*", tarinfo=_BoundedTarInfo)  # type: ignore[call-overload]
            while True:
                member = tf.next()
                if member is None:
                    break
                guard.take(member.size if member.isreg() else 0)
                tf.members = []
                self._member(member, tf)
            # Directory times last: creating their entries changed them.
            for path, member in reversed(self.dir_times):
                self._set_times(path, member)
        except (tarfile.TarError, EOFError) as e:
            raise InvalidParameter(f"Error processing tar file: {e}") from None
        finally:
            self._forget_parent()

    def _member(self, member: tarfile.TarInfo, tf: tarfile.TarFile) -> None:
        path = self._inside(member.name, member.name)
        if path == self.dest:
            return  # "." or "/": the destination itself keeps its own metadata
        parent_path, name = posixpath.split(path)
        parent = self._parent_dir(parent_path)
        try:
            existing = os.stat(name, dir_fd=parent.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None:
            if member.islnk() and self._same_inode(member, existing):
                return  # a hard link to itself: already in place
            if not self._make_room(parent, name, path, existing, member):
                # An existing directory stays (with what is in it); it takes the new metadata.
                self._apply_metadata(parent.dir_fd, name, member)
                self.dir_times.append((path, member))
                return
        if member.isdir():
            os.mkdir(name, 0o700, dir_fd=parent.dir_fd)
            self._apply_metadata(parent.dir_fd, name, member)
            self.dir_times.append((path, member))
            return
        if member.isreg():
            self._write_file(parent.dir_fd, name, member, tf)
        elif member.issym():
            self._check_symlink(path, member)
            os.symlink(member.linkname, name, dir_fd=parent.dir_fd)
        elif member.islnk():
            self._link(parent.dir_fd, name, member)
            return  # the target's inode: its metadata is already set
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            try:
                os.mknod(name, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=parent.dir_fd)
            except PermissionError:
                return  # an unprivileged daemon cannot make device nodes; Docker skips them
        elif member.isfifo():
            os.mkfifo(name, 0o600, dir_fd=parent.dir_fd)
        else:
            raise InvalidParameter(f"Error processing tar file: unhandled tar header type {member.type!r} for {member.name!r}")
        self._apply_metadata(parent.dir_fd, name, member)
        self._set_times(path, member, parent.dir_fd, name)

    def _inside(self, name: str, shown: str) -> str:
        """The container path of archive name `name`, refused if it leaves `dest`."""
        path = posixpath.normpath(posixpath.join(self.dest, name.lstrip("/")))
        if not _within(path, self.dest):
            raise InvalidParameter(f'Error processing tar file: "{shown}" is outside of "{self.dest}"')
        return path

    def _parent_dir(self, parent_path: str) -> Location:
        if self._parent is not None and self._parent[0] == parent_path:
            return self._parent[1]
        self._forget_parent()
        try:
            fd = self.root.open_dir(parent_path, make_dirs=True)
        except OSError as e:
            if e.errno in (errno.ENOTDIR, errno.ELOOP, errno.EEXIST):
                raise InvalidParameter(f"Error processing tar file: {parent_path}: {e.strerror}") from None
            raise
        opened = Location(fd, ".", parent_path)
        self._parent = (parent_path, opened)
        return opened

    def _forget_parent(self) -> None:
        if self._parent is not None:
            self._parent[1].close()
            self._parent = None

    def _make_room(self, parent: Location, name: str, path: str, existing: os.stat_result,
                   member: tarfile.TarInfo) -> bool:
        """Remove what is at `name` for `member`; False when an existing directory is kept."""
        is_dir = stat.S_ISDIR(existing.st_mode)
        if self.no_overwrite:
            if is_dir and not member.isdir():
                raise InvalidParameter(f'Error processing tar file: cannot overwrite directory "{path}" with non-directory "{self.dest}"')
            if not is_dir and member.isdir():
                raise InvalidParameter(f'Error processing tar file: cannot overwrite non-directory "{path}" with directory "{self.dest}"')
        if is_dir and member.isdir():
            return False
        if is_dir:
            shutil.rmtree(name, dir_fd=parent.dir_fd)
        else:
            os.unlink(name, dir_fd=parent.dir_fd)
        return True

    def _same_inode(self, member: tarfile.TarInfo, existing: os.stat_result) -> bool:
        try:
            with self.root.resolve(self._link_target(member), follow=False) as target:
                st = target.lstat()
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == (existing.st_dev, existing.st_ino)

    def _write_file(self, dir_fd: int, name: str, member: tarfile.TarInfo, tf: tarfile.TarFile) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=dir_fd)
        try:
            source = tf.extractfile(member)
            if source is not None:
                while chunk := source.read(CHUNK):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
        finally:
            os.close(fd)

    def _check_symlink(self, path: str, member: tarfile.TarInfo) -> None:
        target = member.linkname
        if target.startswith("/"):
            return  # resolved inside the container's root whenever it is followed
        if not _within(posixpath.normpath(posixpath.join(posixpath.dirname(path), target)), self.dest):
            raise InvalidParameter(f'Error processing tar file: invalid symlink "{path}" -> "{target}"')

    def _link_target(self, member: tarfile.TarInfo) -> str:
        target = posixpath.normpath(posixpath.join(self.dest, member.linkname.lstrip("/")))
        if not member.linkname or not _within(target, self.dest) or target == self.dest:
            raise InvalidParameter(f'Error processing tar file: invalid hardlink "{target}" -> "{member.linkname}"')
        return target

    def _link(self, dir_fd: int, name: str, member: tarfile.TarInfo) -> None:
        with self.root.resolve(self._link_target(member), follow=False) as target:
            try:
                st = target.lstat()
            except FileNotFoundError:
                raise InvalidParameter(f"Error processing tar file: hard link {member.name!r} to missing {member.linkname!r}") from None
            if stat.S_ISDIR(st.st_mode):
                raise InvalidParameter(f"Error processing tar file: hard link {member.name!r} to a directory")
            os.link(target.name, name, src_dir_fd=target.dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)

    def _apply_metadata(self, dir_fd: int, name: str, member: tarfile.TarInfo) -> None:
        uid, gid = self.owner if self.owner is not None else (member.uid, member.gid)
        try:
            uid, gid = self.root.idmap.to_host(uid, gid)
        except IDMapError as e:
            raise InvalidParameter(f"Error processing tar file: {member.name}: {e}") from None
        os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
        if member.issym():
            return  # a symlink's own mode means nothing; xattrs on it are refused anyway
        # An O_PATH descriptor pins the very inode we made: chmod and xattrs through it
        # cannot be diverted by a rename in a running container.
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                return
            proc = f"/proc/self/fd/{fd}"
            os.chmod(proc, member.mode & 0o7777)  # after chown: chown clears setuid bits
            for key, value in _xattrs(member):
                try:
                    os.setxattr(proc, key, value)
                except OSError as e:
                    # As Docker: an attribute the filesystem or kernel refuses (an SELinux
                    # label without SELinux, user.* on a device) does not fail the copy.
                    if e.errno not in (errno.ENOTSUP, errno.EPERM, errno.EACCES):
                        raise
        finally:
            os.close(fd)

    def _set_times(self, path: str, member: tarfile.TarInfo, dir_fd: int | None = None,
                   name: str | None = None) -> None:
        ns = int(member.mtime * 1_000_000_000)
        if dir_fd is not None and name is not None:
            os.utime(name, ns=(ns, ns), dir_fd=dir_fd, follow_symlinks=False)
            return
        try:
            with self.root.resolve(path, follow=False) as location:
                os.utime(location.name, ns=(ns, ns), dir_fd=location.dir_fd, follow_symlinks=False)
        except OSError:
            pass  # gone or replaced meanwhile: nothing left to date


# ── helpers ───────────────────────────────────────────────────────────────────────────

def _within(path: str, top: str) -> bool:
    return top == "/" or path == top or path.startswith(top.rstrip("/") + "/")


def _join(prefix: str, name: str) -> str:
    if not prefix:
        return name
    return prefix + name if prefix.endswith("/") else f"{prefix}/{name}"


def _header(name: str, st: os.stat_result, idmap: IDMap = IDENTITY) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = idmap.to_container(st.st_uid, st.st_gid)
    info.uname = info.gname = ""
    info.mtime = int(st.st_mtime)  # whole seconds, as Docker writes them
    return info


def _empty(name: str, st: os.stat_result, idmap: IDMap = IDENTITY) -> tarfile.TarInfo:
    info = _header(name, st, idmap)
    info.mode = stat.S_IMODE(st.st_mode) & 0o777
    if not idmap.covers_host(st.st_uid, st.st_gid):
        # Overlay makes whiteouts as its mounter, the daemon: a marker, nobody's file.
        info.uid = info.gid = 0
    return info


def _getxattr(fd: int, name: str) -> bytes | None:
    try:
        return os.getxattr(fd, name)
    except OSError:
        return None


def _xattrs(member: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    out = []
    for key, value in member.pax_headers.items():
        if not key.startswith("SCHILY.xattr."):
            continue
        name = key[len("SCHILY.xattr."):]
        # Overlay's own attributes could redirect lookups or hide files in the container.
        if name.startswith("trusted.overlay."):
            continue
        out.append((name, value.encode("utf-8", "surrogateescape")))
    return out


class _Exactly:
    """Exactly `size` bytes of `f`: a file a running container shrinks while we read it
    is padded with zeros, one it grows is cut, so the tar stays well formed."""

    def __init__(self, f: BinaryIO, size: int):
        self._f = f
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n) or b"\0" * n
        self._left -= len(data)
        return data
