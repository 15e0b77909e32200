# SPDX-License-Identifier: Apache-2.0
"""The registry server's storage: blobs in a content store, repositories as link files.

Layout under the registry root::

    blobs/sha256/<hex>                          every blob and manifest (content/store.py)
    repositories/<name>/_layers/<hex>           the repository may serve this blob
    repositories/<name>/_manifests/<hex>        a manifest of the repository: its media type
    repositories/<name>/_tags/<tag>             a tag: the manifest digest it points at
    uploads/<uuid>                              an upload in progress (bytes so far)

A blob is visible in a repository only through its link, so a client cannot read a blob
by guessing its digest in a repository it may not pull; a cross-repository mount is a new
link. Uploads keep their running sha256 in memory; after a server restart the bytes on
disk are hashed again when the upload completes. Blocking; the HTTP layer runs it in threads.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
from pathlib import Path

from dockyard.content.store import ContentStore, fsync_dir
from dockyard.errors import InvalidParameter, NotFound

_NAME_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*")
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}")
_UUID_RE = re.compile(r"[a-f0-9]{32}")


class RegistryStorage:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.content = ContentStore(self.root / "blobs", self.root)
        self.uploads_dir = self.root / "uploads"
        self.repos_dir = self.root / "repositories"
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self.repos_dir.mkdir(parents=True, exist_ok=True)
        self._hashes: dict[str, tuple[int, object]] = {}  # uuid → (offset, running sha256)
        self._lock = threading.Lock()

    # ── blobs ───────────────────────────────────────────────────────────────────

    def blob_path(self, name: str, digest: str) -> Path:
        """The blob's file if repository `name` links it; NotFound otherwise."""
        path = self.content.path(digest)
        if not self._link(name, "_layers", digest).exists() or not path.exists():
            raise NotFound("blob unknown to registry")
        return path

    def has_blob(self, name: str, digest: str) -> bool:
        try:
            self.blob_path(name, digest)
        except (NotFound, InvalidParameter):
            return False
        return True

    def mount(self, name: str, digest: str, source: str) -> bool:
        if not self.has_blob(source, digest):
            return False
        self._write_link(self._link(name, "_layers", digest), "")
        return True

    def delete_blob(self, name: str, digest: str) -> None:
        link = self._link(name, "_layers", digest)
        if not link.exists():
            raise NotFound("blob unknown to registry")
        link.unlink()

    # ── uploads ─────────────────────────────────────────────────────────────────

    def start_upload(self, name: str) -> str:
        check_name(name)
        uuid = secrets.token_hex(16)
        (self.uploads_dir / uuid).touch()
        with self._lock:
            self._hashes[uuid] = (0, hashlib.sha256())
        return uuid

    def upload_size(self, uuid: str) -> int:
        return self._upload_file(uuid).stat().st_size

    def append(self, uuid: str, chunks, start: int | None = None) -> int:
        """Append chunks (an iterator of bytes) to an upload; returns the new size.

        `start` is the offset the client claims (Content-Range); it must be the current end.
        """
        path = self._upload_file(uuid)
        size = path.stat().st_size
        if start is not None and start != size:
            raise RangeError(size)
        with self._lock:
            offset, hasher = self._hashes.get(uuid, (None, None))
        if offset != size:
            hasher = None  # restarted server or a gap: rehash at the end
        with open(path, "ab") as f:
            for chunk in chunks:
                f.write(chunk)
                if hasher is not None:
                    hasher.update(chunk)  # type: ignore[attr-defined]
                size += len(chunk)
        with self._lock:
            if hasher is not None:
                self._hashes[uuid] = (size, hasher)
            else:
                self._hashes.pop(uuid, None)
        return size

    def finish_upload(self, name: str, uuid: str, digest: str) -> None:
        """Check the upload against `digest` and make it the repository's blob."""
        path = self._upload_file(uuid)
        target = self.content.path(digest)  # validates the digest's form
        with self._lock:
            offset, hasher = self._hashes.pop(uuid, (None, None))
        size = path.stat().st_size
        if hasher is None or offset != size:
            hasher = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    hasher.update(chunk)
        actual = "sha256:" + hasher.hexdigest()  # type: ignore[attr-defined]
        if actual != digest:
            path.unlink(missing_ok=True)
            raise DigestInvalid(f"provided digest did not match uploaded content: {digest} != {actual}")
        with open(path, "rb+") as f:
            os.fsync(f.fileno())
        if target.exists():
            path.unlink()
        else:
            os.chmod(path, 0o644)
            os.replace(path, target)
            fsync_dir(target.parent)
        self._write_link(self._link(name, "_layers", digest), "")

    def cancel_upload(self, uuid: str) -> None:
        self._upload_file(uuid).unlink()
        with self._lock:
            self._hashes.pop(uuid, None)

    def _upload_file(self, uuid: str) -> Path:
        path = self.uploads_dir / uuid
        if not _UUID_RE.fullmatch(uuid) or not path.exists():
            raise NotFound("blob upload unknown to registry")
        return path

    # ── manifests and tags ──────────────────────────────────────────────────────

    def put_manifest(self, name: str, reference: str, body: bytes, media_type: str,
                     referenced: list[str]) -> str:
        check_name(name)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and reference != digest:
            raise DigestInvalid(f"manifest digest {digest} does not match {reference}")
        missing = [d for d in referenced if not self.has_blob(name, d) and not self._has_manifest(name, d)]
        if missing:
            raise BlobUnknown(missing[0])
        self.content.write(body, digest)
        self._write_link(self._link(name, "_manifests", digest), media_type)
        if not reference.startswith("sha256:"):
            if not _TAG_RE.fullmatch(reference):
                raise InvalidParameter("invalid tag")
            self._write_link(self.repos_dir / name / "_tags" / reference, digest)
        return digest

    def get_manifest(self, name: str, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, digest) by tag or digest."""
        digest = reference
        if not reference.startswith("sha256:"):
            try:
                digest = (self.repos_dir / name / "_tags" / reference).read_text()
            except (FileNotFoundError, NotADirectoryError):
                raise NotFound("manifest unknown") from None
        link = self._link(name, "_manifests", digest)
        try:
            media_type = link.read_text()
            return self.content.read(digest), media_type, digest
        except (FileNotFoundError, NotFound):
            raise NotFound("manifest unknown") from None

    def delete_manifest(self, name: str, reference: str) -> None:
        if not reference.startswith("sha256:"):
            tag = self.repos_dir / name / "_tags" / reference
            if not tag.exists():
                raise NotFound("manifest unknown")
            tag.unlink()
            return
        link = self._link(name, "_manifests", reference)
        if not link.exists():
            raise NotFound("manifest unknown")
        link.unlink()
        tags = self.repos_dir / name / "_tags"
        for tag in tags.iterdir() if tags.exists() else []:
            if tag.read_text() == reference:
                tag.unlink()

    def tags(self, name: str) -> list[str]:
        tags = self.repos_dir / name / "_tags"
        if not (self.repos_dir / name / "_manifests").is_dir():
            raise NotFound("repository name not known to registry")
        return sorted(t.name for t in tags.iterdir()) if tags.exists() else []

    def catalog(self) -> list[str]:
        out = []
        for dirpath, dirnames, _ in os.walk(self.repos_dir):
            if "_manifests" in dirnames:
                out.append(os.path.relpath(dirpath, self.repos_dir))
            dirnames[:] = [d for d in dirnames if not d.startswith("_")]
        return sorted(out)

    def cleanup(self) -> None:
        """Drop ingests a crashed server left (uploads stay: clients may resume them)."""
        self.content.cleanup()

    def _has_manifest(self, name: str, digest: str) -> bool:
        try:
            return self._link(name, "_manifests", digest).exists()
        except InvalidParameter:
            return False

    def _link(self, name: str, kind: str, digest: str) -> Path:
        check_name(name)
        self.content.path(digest)  # validates the digest
        return self.repos_dir / name / kind / digest.split(":", 1)[1]

    def _write_link(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        tmp.write_text(text)
        os.replace(tmp, path)


class RangeError(Exception):
    def __init__(self, size: int):
        super().__init__(f"upload is at offset {size}")
        self.size = size


class DigestInvalid(InvalidParameter):
    code = "DIGEST_INVALID"


class BlobUnknown(InvalidParameter):
    code = "MANIFEST_BLOB_UNKNOWN"

    def __init__(self, digest: str):
        super().__init__(f"blob unknown to registry: {digest}")
        self.digest = digest


def check_name(name: str) -> None:
    if not _NAME_RE.fullmatch(name) or len(name) > 255:
        raise NameInvalid(f"invalid repository name: {name}")


class NameInvalid(InvalidParameter):
    code = "NAME_INVALID"
