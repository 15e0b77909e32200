# SPDX-License-Identifier: Apache-2.0
"""The content store: immutable blobs addressed by their sha256 digest.

Layout::

    <blobs_dir>/sha256/<hex>       a committed blob; its name is the hash of its bytes
    <tmp_dir>/ingest/<random>      an ingest in flight (removed by `cleanup()` at startup)

A blob is hashed while it is written, checked against the digest the caller expected,
fsync'd, and only then renamed into place, so a reader never sees a partial or wrong
blob. Committing a blob that already exists is not an error (content addressing makes
both copies identical). Every method is blocking and safe to call from many threads:
ingests never share a file, and a rename is atomic.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import InvalidParameter, NotFound

CHUNK = 1 << 20
_DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}")


class ContentStore:
    def __init__(self, blobs_dir: Path, tmp_dir: Path):
        self.root = Path(blobs_dir)
        self.ingest_dir = Path(tmp_dir) / "ingest"
        (self.root / "sha256").mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)

    def write(self, data: bytes | BinaryIO, expected_digest: str | None = None) -> tuple[str, int]:
        """Store bytes or a readable stream; returns (digest, size).

        Raises InvalidParameter if the content does not hash to `expected_digest`.
        """
        with self.ingest() as ingest:
            if isinstance(data, bytes | bytearray | memoryview):
                ingest.write(data)
            else:
                while chunk := data.read(CHUNK):
                    ingest.write(chunk)
            return ingest.commit(expected_digest)

    def ingest(self) -> Ingest:
        """A writer that hashes as it goes; `commit()` it or it is discarded on close."""
        return Ingest(self)

    def path(self, digest: str) -> Path:
        """Where the blob lives (whether or not it exists)."""
        check_digest(digest)
        return self.root / "sha256" / digest[len("sha256:"):]

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def delete(self, digest: str) -> bool:
        """Remove a blob; returns False if it was not there."""
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            return False
        return True

    def list(self) -> Iterator[str]:
        for entry in os.scandir(self.root / "sha256"):
            name = "sha256:" + entry.name
            if _DIGEST_RE.fullmatch(name):
                yield name

    def cleanup(self) -> None:
        """Drop ingests left by a crash. Call once at startup, before any ingest begins."""
        shutil.rmtree(self.ingest_dir, ignore_errors=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)


class Ingest:
    """One blob being written: hashes every byte once, on its way to a temp file."""

    def __init__(self, store: ContentStore):
        self._store = store
        fd, name = tempfile.mkstemp(dir=store.ingest_dir, prefix="blob-")
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._size = 0
        self._done = False
        self.created = False  # set by commit: this ingest put the blob in place

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._hash.update(data)
        self._file.write(data)
        self._size += len(data)
        return len(data)

    @property
    def digest(self) -> str:
        """The digest of what has been written so far."""
        return "sha256:" + self._hash.hexdigest()

    @property
    def size(self) -> int:
        return self._size

    def commit(self, expected_digest: str | None = None) -> tuple[str, int]:
        digest = self.digest
        if expected_digest is not None and expected_digest != digest:
            self.abort()
            raise InvalidParameter(
                f"content digest mismatch: expected {expected_digest}, got {digest}"
            )
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        target = self._store.path(digest)
        if target.exists():
            self._tmp.unlink(missing_ok=True)
        else:
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, target)
            fsync_dir(target.parent)
            self.created = True
        self._done = True
        return digest, self._size

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> Ingest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


def check_digest(digest: str) -> None:
    if not _DIGEST_RE.fullmatch(digest):
        raise InvalidParameter(f"invalid digest: {digest!r}")


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
