# SPDX-License-Identifier: Apache-2.0
"""Layer tarballs: decompression by magic number, hashing while streaming, and a safe unpack.

`unpack()` turns one layer tar into an overlay lower directory:

* OCI whiteouts become overlay whiteouts: `.wh.<name>` → a 0/0 character device `<name>`,
  `.wh..wh..opq` → the `trusted.overlay.opaque=y` xattr on the directory;
* owners, modes (setuid included), mtimes, xattrs (PAX `SCHILY.xattr.*`), hard links,
  symbolic links, device nodes and FIFOs are kept;
* nothing is written outside the root: names are cleaned, `..` escapes and absolute names
  are refused, and so is any entry whose parent path goes through a symbolic link.

The unpack writes into a private temporary directory that nobody else touches (see
`LayerStore.apply`), which is what makes checking a parent path and then using it safe.

With an ID mapping (`--userns-remap`) every owner is shifted to the host IDs the
container's user namespace maps it to, and an owner outside the mapped range fails the
layer: no user in the container could own that file.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import urllib.parse
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, Protocol

from dockyard import tarstream
from dockyard.errors import InvalidParameter
from dockyard.idmap import IDENTITY, IDMap, IDMapError
from dockyard.snapshots.diskguard import DiskGuard

CHUNK = 1 << 20
WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"



class HashSink(Protocol):
    """Where the uncompressed bytes of a layer go; it hashes them (a content Ingest)."""

    def write(self, data: bytes) -> int: ...

    @property
    def digest(self) -> str: ...


def chain_id(parent: str | None, diff_id: str) -> str:
    """OCI ChainID: the bottom layer's is its DiffID; above it, sha256("<parent> <diff_id>")."""
    if parent is None:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(chain_id(out[-1] if out else None, diff_id))
    return out


def decompressed(stream: BinaryIO) -> BinaryIO:
    """The layer stream itself if it is a plain tar, else a decompressing reader."""
    return tarstream.decompressed(stream, "layer")


class HashingReader:
    """Reads a stream and hashes every byte exactly once, itself or through a sink."""

    def __init__(self, stream: BinaryIO, sink: HashSink | None = None):
        self._stream = stream
        self._sink = sink
        self._hash = None if sink is not None else hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._stream.read(n)
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as e:
            # gzip/bz2/lzma report corrupt input as these; it is the caller's bad data.
            raise InvalidParameter(f"invalid compressed layer: {e}") from e
        if data:
            if self._sink is not None:
                self._sink.write(data)
            else:
                assert self._hash is not None
                self._hash.update(data)
            self.size += len(data)
        return data

    def drain(self) -> None:
        """Hash whatever follows the end-of-archive marker: the diff ID covers all bytes."""
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        if self._sink is not None:
            return self._sink.digest
        assert self._hash is not None
        return "sha256:" + self._hash.hexdigest()


def unpack(stream: HashingReader | BinaryIO, root: Path, idmap: IDMap = IDENTITY) -> int:
    """Unpack a layer tar into the existing directory `root`; returns the content size.

    The size is the sum of regular file sizes, as Docker reports for a layer. Owners are
    mapped to the host by `idmap`; one it does not cover is an InvalidParameter.
    """
    try:
        return _Unpacker(root, idmap).run(stream)
    except tarfile.TarError as e:
        raise InvalidParameter(f"invalid tar archive: {e}") from e


def scan(stream: HashingReader | BinaryIO) -> int:
    """Read a layer tar without unpacking it; returns the content size (as `unpack`)."""
    size = 0
    try:
        for member in _iterate(_open_stream(stream)):
            _clean_name(member.name)
            if member.isreg():
                size += member.size
    except tarfile.TarError as e:
        raise InvalidParameter(f"invalid tar archive: {e}") from e
    return size


def iter_tar(stream: HashingReader | BinaryIO) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Walk a tar stream once: (member, tarfile) pairs; `tarfile.extractfile(member)` reads
    the member's data until the next step. Raises InvalidParameter for a broken header."""
    tf = _open_stream(stream)
    for member in _iterate(tf):
        yield member, tf


class _Unpacker:
    def __init__(self, root: Path, idmap: IDMap = IDENTITY):
        self.root = root
        self.idmap = idmap
        self.dirs: set[str] = {""}  # cleaned paths known to be real directories (not links)
        self.dir_times: list[tuple[str, tarfile.TarInfo]] = []
        self.guard = DiskGuard(root, "layer")

    def run(self, stream: HashingReader | BinaryIO) -> int:
        size = 0
        tf = _open_stream(stream)
        for member in _iterate(tf):
            self.guard.take(member.size if member.isreg() else 0)
            rel = _clean_name(member.name)
            if rel == "":
                if member.isdir():
                    self._apply_metadata(rel, member)
                    self.dir_times.append((rel, member))
                continue
            parent, base = posixpath.split(rel)
            self._ensure_dir(parent)
            if base.startswith(WHITEOUT_PREFIX):
                self._whiteout(parent, base, member)
                continue
            if member.isreg():
                size += member.size
            self._create(rel, member, tf)
        # Directory mtimes last: creating their children changed them.
        for rel, member in reversed(self.dir_times):
            _set_times(self._abs(rel), member)
        return size

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else str(self.root)

    def _ensure_dir(self, rel: str) -> None:
        """Make sure every component of `rel` is a real directory, creating missing ones."""
        if rel in self.dirs:
            return
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if prefix in self.dirs:
                continue
            path = self._abs(prefix)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                # Tars may omit parents; Docker creates them 0755 root-owned (chmod: the
                # daemon's umask must not decide a layer's permissions).
                os.mkdir(path)
                if not self.idmap.empty:
                    os.chown(path, *self.idmap.root)
                os.chmod(path, 0o755)
            else:
                if stat.S_ISLNK(st.st_mode):
                    raise InvalidParameter(
                        f"invalid layer: {prefix!r} is a symbolic link; refusing to write through it"
                    )
                if not stat.S_ISDIR(st.st_mode):
                    raise InvalidParameter(f"invalid layer: {prefix!r} is not a directory")
            self.dirs.add(prefix)

    def _whiteout(self, parent: str, base: str, member: tarfile.TarInfo) -> None:
        if base == WHITEOUT_OPAQUE:
            os.setxattr(self._abs(parent), OPAQUE_XATTR, b"y", follow_symlinks=False)
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk, …): meaningless for overlay
        name = base[len(WHITEOUT_PREFIX):]
        if not name or name in (".", ".."):
            raise InvalidParameter(f"invalid layer: bad whiteout {member.name!r}")
        rel = posixpath.join(parent, name)
        path = self._abs(rel)
        self._remove_existing(rel, path)
        os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
        os.chown(path, *self._owner(member), follow_symlinks=False)

    def _create(self, rel: str, member: tarfile.TarInfo, tf: tarfile.TarFile) -> None:
        path = self._abs(rel)
        if member.isdir():
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o700)
            else:
                if not stat.S_ISDIR(st.st_mode):
                    self._remove_existing(rel, path)
                    os.mkdir(path, 0o700)
            self.dirs.add(rel)
            self._apply_metadata(rel, member)
            self.dir_times.append((rel, member))
            return

        self._remove_existing(rel, path)
        if member.isreg():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                src = tf.extractfile(member)
                assert src is not None
                while chunk := src.read(CHUNK):
                    _write_all(fd, chunk)
            finally:
                os.close(fd)
        elif member.islnk():
            target_rel = _clean_name(member.linkname)
            self._ensure_dir(posixpath.dirname(target_rel))
            target = self._abs(target_rel)
            if not target_rel or not os.path.lexists(target):
                raise InvalidParameter(f"invalid layer: hard link {member.name!r} to missing {member.linkname!r}")
            if stat.S_ISDIR(os.lstat(target).st_mode):
                raise InvalidParameter(f"invalid layer: hard link {member.name!r} to a directory")
            os.link(target, path, follow_symlinks=False)
            return  # same inode as its target: its metadata is already set
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, member.mode & 0o7777)
        else:
            raise InvalidParameter(f"invalid layer: unsupported entry type for {member.name!r}")
        self._apply_metadata(rel, member)
        _set_times(path, member)

    def _remove_existing(self, rel: str, path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)
            prefix = rel + "/"
            self.dirs = {d for d in self.dirs if d != rel and not d.startswith(prefix)}
        else:
            os.unlink(path)

    def _apply_metadata(self, rel: str, member: tarfile.TarInfo) -> None:
        path = self._abs(rel)
        os.chown(path, *self._owner(member), follow_symlinks=False)
        if not member.issym():
            # After chown: chown clears setuid/setgid bits.
            os.chmod(path, member.mode & 0o7777)
        for name, value in _xattrs(member):
            try:
                os.setxattr(path, name, value, follow_symlinks=False)
            except OSError as e:
                # As Docker: a filesystem or kernel that refuses an xattr (SELinux labels
                # on a host without SELinux, user.* on symlinks) does not fail the layer.
                if e.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise


    def _owner(self, member: tarfile.TarInfo) -> tuple[int, int]:
        try:
            return self.idmap.to_host(member.uid, member.gid)
        except IDMapError as e:
            raise InvalidParameter(f"invalid layer: {member.name!r}: {e}") from None


def _open_stream(stream: HashingReader | BinaryIO) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=stream, mode="r|")  # type: ignore[call-overload]
    except tarfile.ReadError as e:
        raise InvalidParameter(f"invalid tar archive: {e}") from e


def _iterate(tf: tarfile.TarFile):
    while True:
        try:
            member = tf.next()
        except tarfile.ReadError as e:
            raise InvalidParameter(f"invalid tar archive: {e}") from e
        if member is None:
            return
        # Stream mode appends every header to `members`; we never look back, so keep
        # memory flat on layers with hundreds of thousands of entries.
        tf.members = []
        yield member


def _clean_name(name: str) -> str:
    if name.startswith("/"):
        raise InvalidParameter(f"invalid layer: absolute path {name!r}")
    cleaned = posixpath.normpath(name)
    if cleaned == ".." or cleaned.startswith("../"):
        raise InvalidParameter(f"invalid layer: path {name!r} escapes the root")
    return "" if cleaned == "." else cleaned


def _xattrs(member: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    out = []
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            name, data = key[len("SCHILY.xattr."):], value.encode("utf-8", "surrogateescape")
        elif key.startswith("LIBARCHIVE.xattr."):
            name = urllib.parse.unquote(key[len("LIBARCHIVE.xattr."):])
            data = base64.b64decode(value + "=" * (-len(value) % 4))
        else:
            continue
        # Overlay's own attributes come only from whiteouts we convert; one arriving in
        # a tar could redirect lookups to paths outside the layer.
        if name.startswith("trusted.overlay."):
            continue
        out.append((name, data))
    return out


def _set_times(path: str, member: tarfile.TarInfo) -> None:
    mtime = _nanoseconds(member.pax_headers.get("mtime"), member.mtime)
    atime = _nanoseconds(member.pax_headers.get("atime"), None) or mtime
    os.utime(path, ns=(atime, mtime), follow_symlinks=False)


def _nanoseconds(pax_value: str | None, fallback: float | None) -> int:
    if pax_value is not None:
        try:
            return int(Decimal(pax_value) * 1_000_000_000)
        except ArithmeticError:
            pass
    return int((fallback or 0) * 1_000_000_000)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


