# SPDX-License-Identifier: Apache-2.0
"""The build context: the tar a client sends, kept once on disk and indexed.

The body (plain, gzip, bzip2 or xz) is read in one pass: decompressed, written as it
arrives to one uncompressed tar file, and every regular file's bytes are hashed on the
way (each byte is read, written and hashed exactly once). Nothing is unpacked: COPY and
ADD read a file's bytes straight from that tar at the offset recorded here, so a fully
cached rebuild never writes the context out as files.

`.dockerignore` (or `<Dockerfile>.dockerignore`) is applied to the index, as Docker's
daemon does; the Dockerfile and the ignore file stay readable by the builder itself.

Build secrets (`buildsecrets`) open the stream; they are read off it before the rest is
written to disk and are kept in memory (`secrets`), never in the index.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import lzma
import os
import posixpath
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dockyard import tarstream
from dockyard.builder.buildsecrets import is_secret_member, read_leading
from dockyard.builder.dockerignore import Matcher, read_patterns
from dockyard.errors import InvalidParameter

CHUNK = 1 << 20


@dataclass
class Entry:
    path: str                 # relative, slash-separated, no leading "./"
    info: tarfile.TarInfo
    offset: int = -1          # of the data in the context tar (regular files)
    digest: str = ""          # sha256 hex of the content (regular files)
    children: list[str] = field(default_factory=list)
    pack: Path | None = None  # the file holding the data, when not the context tar

    @property
    def is_dir(self) -> bool:
        return self.info.isdir()

    def header_key(self) -> str:
        """What the cache compares for this entry: content and metadata, not mtime."""
        i = self.info
        return f"{self.path}\0{i.type!r}\0{i.mode:o}\0{i.uid}\0{i.gid}\0{i.linkname}\0{self.digest}"


class BuildContext:
    """An indexed build context on disk; `close()` deletes it."""

    def __init__(self, tar_path: Path, entries: dict[str, Entry], secrets: dict[str, bytes] | None = None,
                 release: Callable[[], None] | None = None):
        self.tar_path = tar_path
        self.entries = entries
        self.secrets: dict[str, bytes] = secrets or {}
        # A context assembled by the context cache hands its files back there on close.
        self._release = release
        self._files: dict[Path, BinaryIO] = {}
        self._dir_sums: dict[str, str] = {}
        self._matcher: Matcher | None = None

    @classmethod
    def receive(cls, body: BinaryIO, tmp_dir: Path) -> BuildContext:
        """Read the whole context from `body` (blocking; run in a thread)."""
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="build-context-", suffix=".tar", dir=tmp_dir)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                secrets, entries, _ = read_context(body, out)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return cls(path, entries, secrets)

    def close(self) -> None:
        self.secrets = {}
        for f in self._files.values():
            f.close()
        self._files = {}
        if self._release is not None:
            self._release()
            self._release = None
        else:
            self.tar_path.unlink(missing_ok=True)

    # ── reading ───────────────────────────────────────────────────────────────────────

    def read_file(self, name: str) -> bytes | None:
        """The bytes of a regular file (symlinks inside the context followed), or None."""
        entry = self.lookup(name, follow=True)
        if entry is None or not entry.info.isreg():
            return None
        return self.open(entry).read()

    def open(self, entry: Entry) -> BinaryIO:
        path = entry.pack or self.tar_path
        if entry.info.size >= CHUNK:
            return _Slice(path, entry.offset, entry.info.size)  # type: ignore[return-value]
        f = self._files.get(path)
        if f is None:
            f = self._files[path] = open(path, "rb")
        f.seek(entry.offset)
        return io.BytesIO(f.read(entry.info.size))

    def lookup(self, name: str, follow: bool = False) -> Entry | None:
        rel = clean(name)
        for _ in range(40):
            entry = self.entries.get(rel)
            if entry is None or not follow or not entry.info.issym():
                return entry
            target = entry.info.linkname
            rel = clean(posixpath.join(posixpath.dirname(rel), target) if not target.startswith("/") else target)
        return None

    # ── .dockerignore ─────────────────────────────────────────────────────────────────

    def apply_dockerignore(self, dockerfile: str) -> None:
        """Drop the entries `.dockerignore` (or `<Dockerfile>.dockerignore`) excludes;
        the Dockerfile and the ignore file themselves are kept for the builder."""
        own = self.read_file(dockerfile + ".dockerignore")
        text = own if own is not None else self.read_file(".dockerignore")
        if not text:
            return
        matcher = Matcher(read_patterns(text))
        self._matcher = matcher
        keep = {clean(dockerfile), ".dockerignore", clean(dockerfile) + ".dockerignore"}
        for path in [p for p in self.entries if p and p not in keep]:
            if matcher.excluded(path):
                entry = self.entries.pop(path)
                parent = self.entries.get(posixpath.dirname(path))
                if parent is not None and path in parent.children:
                    parent.children.remove(path)
                del entry

    # ── selecting sources ─────────────────────────────────────────────────────────────

    def sources(self, pattern: str, instruction: str) -> list[Entry]:
        """The entries a COPY/ADD source names: a path, or a wildcard pattern matched
        against whole paths (`*` does not cross `/`)."""
        rel = clean(pattern)
        if any(ch in rel for ch in "*?["):
            regex = fnmatch.translate(rel).replace(".*", "[^/]*")
            import re

            compiled = re.compile(regex)
            matches = [e for p, e in sorted(self.entries.items()) if p and compiled.match(p)]
            if not matches:
                raise InvalidParameter(f"{instruction} failed: no source files were specified")
            return matches
        entry = self.lookup(rel, follow=True) if rel else self.entries[""]
        if entry is None:
            raise InvalidParameter(
                f"{instruction} failed: file not found in build context or excluded by .dockerignore: "
                f"stat {pattern.lstrip('/') or '.'}: file does not exist")
        return [entry]

    def walk(self, entry: Entry) -> Iterator[Entry]:
        """`entry` and, for a directory, everything below it, parents first."""
        yield entry
        if entry.is_dir:
            for child in sorted(entry.children):
                sub = self.entries.get(child)
                if sub is not None:
                    yield from self.walk(sub)

    def checksum(self, entry: Entry) -> str:
        """A content checksum of an entry (a directory: of its whole tree), hashed from
        the per-file digests computed on receipt; directories are memoised per build."""
        if not entry.is_dir:
            return hashlib.sha256(entry.header_key().encode()).hexdigest()
        cached = self._dir_sums.get(entry.path)
        if cached is None:
            h = hashlib.sha256()
            for sub in self.walk(entry):
                rel = sub.path[len(entry.path):].lstrip("/") if entry.path else sub.path
                h.update(rel.encode() + b"\0" + sub.header_key().encode() + b"\n")
            cached = self._dir_sums[entry.path] = h.hexdigest()
        return cached


def clean(name: str) -> str:
    """A context path in the index's form: relative, normalized, never above the root."""
    rel = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
    return "" if rel == "." else rel


# ── receiving ─────────────────────────────────────────────────────────────────────────

def decompressed(body: BinaryIO) -> BinaryIO:
    """A build context (a tar, plain or compressed) as the plain tar stream (the CLI uses
    it too)."""
    return tarstream.decompressed(body, "build context")


def new_index() -> dict[str, Entry]:
    """An index holding only the context's root directory."""
    root = tarfile.TarInfo("")
    root.type = tarfile.DIRTYPE
    root.mode = 0o755
    return {"": Entry("", root)}


def add_entry(entries: dict[str, Entry], entry: Entry) -> None:
    """Put `entry` in the index, under its parent (a later member of the same path
    replaces the earlier one, as extracting the tar would)."""
    if not entry.path:
        entries[""].info = entry.info
        return
    previous = entries.get(entry.path)
    if previous is not None:
        entry.children = previous.children
    else:
        _attach(entries, entry.path)
    entries[entry.path] = entry


def read_context(body: BinaryIO, out: BinaryIO, reserved: str | None = None
                 ) -> tuple[dict[str, bytes], dict[str, Entry], bytes | None]:
    """Read a context body (blocking): its leading secrets, the index of the rest (written
    to `out` on the way), and the data of the member named `reserved`, which is kept out
    of the index (None when absent)."""
    stream = decompressed(body)
    try:
        secrets, head = read_leading(stream)
    except ValueError as e:
        raise InvalidParameter(str(e)) from None
    entries, held = _index(tarstream.Prefixed(head, stream), out, reserved)  # type: ignore[arg-type]
    return secrets, entries, held


def _index(stream: BinaryIO, out: BinaryIO, reserved: str | None = None
           ) -> tuple[dict[str, Entry], bytes | None]:
    entries = new_index()
    held: bytes | None = None
    tee = _Tee(stream, out)
    try:
        tf = tarfile.open(fileobj=tee, mode="r|")  # type: ignore[call-overload]
        for member in tf:
            tf.members = []
            rel = clean(member.name)
            if is_secret_member(rel):
                continue  # the reserved directory: only leading members are secrets
            if reserved is not None and rel == reserved and member.isreg():
                data = tf.extractfile(member)
                assert data is not None
                held = data.read()
                continue
            entry = Entry(rel, member)
            if member.isreg():
                entry.offset = member.offset_data
                h = hashlib.sha256()
                data = tf.extractfile(member)
                assert data is not None
                while chunk := data.read(CHUNK):
                    h.update(chunk)
                entry.digest = h.hexdigest()
            add_entry(entries, entry)
        # tarfile stops at the end-of-archive marker; drain so nothing is left unread.
        while tee.read(CHUNK):
            pass
    except (tarfile.TarError, EOFError, OSError, lzma.LZMAError) as e:
        raise InvalidParameter(f"Error processing tar file: {e}") from None
    return entries, held


def _attach(entries: dict[str, Entry], rel: str) -> None:
    """Link `rel` into its parent's children, making implicit parent directories."""
    parent = posixpath.dirname(rel)
    if parent not in entries:
        info = tarfile.TarInfo(parent)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        entries[parent] = Entry(parent, info)
        _attach(entries, parent)
    entries[parent].children.append(rel)


class _Tee:
    """Reads from `src`, writing every byte read to `out` (the on-disk context)."""

    def __init__(self, src: BinaryIO, out: BinaryIO):
        self._src = src
        self._out = out

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n)
        if data:
            self._out.write(data)
        return data


class _Slice:
    """A file-like window on a large member's data."""

    def __init__(self, path: Path, offset: int, size: int):
        self._f = open(path, "rb")
        self._f.seek(offset)
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            self._f.close()
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._f.close()


def json_checksum(parts: list[str]) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()
