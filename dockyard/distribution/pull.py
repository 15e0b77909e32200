# SPDX-License-Identifier: Apache-2.0
"""Pulling an image: manifest (list) → platform → config → layers, streamed and unpacked.

Each missing layer is fetched by its own worker thread (three at once, as Docker) and goes
socket → sha256 of the compressed bytes → gzip/zstd inflate → sha256 of the tar (the diff
ID, stored as the layer's blob) → tar unpack, in one pass with no temporary copy. A layer
whose chain ID is already stored is not downloaded ("Already exists"). Layers are unpacked
in parallel, before their parents, under their final chain IDs (the config names all diff
IDs up front); nothing is recorded until every layer and the config have been verified,
and then the image, its layers, its tag and its digest reference go into the metadata DB
in one transaction. A failed or interrupted pull leaves no image and its half-made layers
are collected.

Progress goes to `emit` as Docker's JSON messages (`Pulling fs layer`, `Downloading`
with progressDetail, `Download complete`, `Pull complete`, `Digest:`, `Status:`).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dockyard.distribution import reference
from dockyard.distribution.client import Registry, RegistryError, pull_push
from dockyard.distribution.credentials import AuthConfig
from dockyard.distribution.hosts import RegistryHosts
from dockyard.distribution.reference import Reference
from dockyard.errors import InvalidParameter, NotFound
from dockyard.images.archive import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from dockyard.images.platform import host_arch, host_variant
from dockyard.metadata.db import LayerRecord
from dockyard.snapshots.archive import chain_ids

Emit = Callable[[dict[str, Any]], None]

SCHEMA1_TYPES = ("application/vnd.docker.distribution.manifest.v1+json",
                 "application/vnd.docker.distribution.manifest.v1+prettyjws")
ACCEPT = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
LAYER_KIND = "distribution.layer"  # metadata objects: diff ID → where its compressed form is
MAX_DOWNLOADS = 3
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def pull(service: Any, ref: Reference, *, hosts: RegistryHosts, auth: AuthConfig,
         platform: str | None = None, emit: Emit = lambda message: None) -> str:
    """Pull `ref` (a tag or digest reference) into `service`; returns the image ID."""
    registry = Registry(ref.domain, hosts, auth)
    try:
        return _Pull(service, registry, ref, platform, emit).run()
    finally:
        registry.close()


def pull_all_tags(service: Any, ref: Reference, *, hosts: RegistryHosts, auth: AuthConfig,
                  platform: str | None = None, emit: Emit = lambda message: None) -> list[str]:
    """`docker pull -a`: every tag of the repository."""
    registry = Registry(ref.domain, hosts, auth)
    try:
        tags = list_tags(registry, ref.path)
    finally:
        registry.close()
    return [pull(service, ref.with_tag(tag), hosts=hosts, auth=auth, platform=platform, emit=emit)
            for tag in tags]


def list_tags(registry: Registry, repo: str) -> list[str]:
    tags: list[str] = []
    path = f"/v2/{repo}/tags/list"
    while path:
        doc, resp = registry.get_json(path, pull_push(repo, False))
        tags.extend((doc or {}).get("tags") or [])
        link = resp.header("Link")
        path = link[link.index("<") + 1:link.index(">")] if link.startswith("<") else ""
    return tags


def select_platform(entries: list[dict[str, Any]], platform: str | None) -> dict[str, Any]:
    """The manifest-list entry for `os/arch[/variant]` (default: the host's)."""
    want_os, want_arch, want_variant = parse_platform(platform)
    candidates = []
    for entry in entries:
        p = entry.get("platform") or {}
        if p.get("os") != want_os or p.get("architecture") != want_arch:
            continue
        variant = p.get("variant") or ""
        if want_variant and variant and variant != want_variant:
            continue
        # Prefer an exact variant match, then a variant-less entry.
        candidates.append((0 if variant == want_variant else 1, entry))
    if not candidates:
        shown = "/".join(x for x in (want_os, want_arch, want_variant) if x)
        raise NotFound(f"no matching manifest for {shown} in the manifest list entries")
    candidates.sort(key=lambda c: c[0])
    return candidates[0][1]


def parse_platform(platform: str | None) -> tuple[str, str, str]:
    if not platform:
        return "linux", host_arch(), host_variant()
    parts = platform.lower().split("/")
    if len(parts) == 1 or len(parts) > 3:
        raise InvalidParameter(f"invalid platform {platform!r}: expected os/arch[/variant]")
    os_, arch = parts[0], {"x86_64": "amd64", "aarch64": "arm64"}.get(parts[1], parts[1])
    variant = parts[2] if len(parts) == 3 else ("v8" if arch == "arm64" else "")
    return os_, arch, variant


def remember_layer(db: Any, diff_id: str, info: dict[str, Any]) -> None:
    """Record where a layer's compressed form lives (digest, media type, registry, repo)."""
    known = db.get_object(LAYER_KIND, diff_id) or []
    key = (info["digest"], info["registry"], info["repository"])
    known = [k for k in known if (k["digest"], k["registry"], k["repository"]) != key]
    known.insert(0, info)
    db.put_object(LAYER_KIND, diff_id, known[:16])


def known_layers(db: Any, diff_id: str) -> list[dict[str, Any]]:
    return db.get_object(LAYER_KIND, diff_id) or []


class _Pull:
    def __init__(self, service: Any, registry: Registry, ref: Reference, platform: str | None, emit: Emit):
        self.service, self.registry, self.ref, self.platform = service, registry, ref, platform
        self.repo = ref.path
        self.scope = pull_push(self.repo, False)
        self.emit_lock = threading.Lock()
        self._emit = emit

    def emit(self, message: dict[str, Any]) -> None:
        with self.emit_lock:
            self._emit(message)

    def run(self) -> str:
        ref = self.ref
        manifest, top_digest, media_type = self._manifest(ref.digest or ref.tag or "latest", ref.digest)
        # After the manifest: a name that does not resolve fails without any progress.
        self.emit({"status": f"Pulling from {_familiar_path(ref)}", "id": ref.digest or ref.tag or "latest"})
        if media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST) or "manifests" in manifest:
            entry = select_platform(manifest.get("manifests") or [], self.platform)
            manifest, _, media_type = self._manifest(entry["digest"], entry["digest"])
        if media_type in SCHEMA1_TYPES or manifest.get("schemaVersion") == 1:
            raise InvalidParameter(
                f"[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, "
                f"schema 1 support is disabled by default: {reference.familiar(ref)}")
        config_desc = manifest.get("config") or {}
        layers = manifest.get("layers") or []
        image_id = config_desc.get("digest", "")
        # Docker's RepoDigest is the digest the name resolved to (a list's, for a list).
        refs = [_key(ref)] if ref.digest else [_key(ref), f"{ref.name}@{top_digest}"]
        from dockyard.images.service import PendingImage

        record = self.service.db.get_image(image_id)
        if record is not None:
            # Up to date only if this name already meant this image; else the name is new.
            up_to_date = self.service.db.get_ref(_key(ref)) == image_id
            existing = [self.service.layer_record(c) for c in record.chain_ids]
            self.service.register([(PendingImage(image_id, self.service.config_of(image_id), existing,
                                                 record.parent), refs)])
            self._finish(top_digest, up_to_date=up_to_date)
            return image_id

        config_bytes = self._small_blob(config_desc)
        config = json.loads(config_bytes)
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        if len(diff_ids) != len(layers):
            raise InvalidParameter(
                f"invalid manifest: {len(layers)} layers but the config has {len(diff_ids)} diff IDs")
        chains = chain_ids(diff_ids)
        with self.service.ingesting() as made:
            records = self._layers(layers, diff_ids, chains, made)
            self.service.store_blob(config_bytes, image_id, made)
            pending = PendingImage(image_id, config, records, "")
            self.service.register([(pending, refs)])
        domain = self.registry.domain
        for desc, diff_id in zip(layers, diff_ids, strict=True):
            if desc.get("mediaType", "").endswith(("gzip", "zstd")):
                remember_layer(self.service.db, diff_id, {
                    "digest": desc["digest"], "mediaType": desc["mediaType"], "size": desc.get("size", 0),
                    "registry": domain, "repository": self.repo})
        self._finish(top_digest, up_to_date=False)
        return image_id

    def _finish(self, digest: str, up_to_date: bool) -> None:
        self.emit({"status": f"Digest: {digest}"})
        shown = reference.familiar(self.ref.with_default_tag() if not self.ref.digest else self.ref)
        if up_to_date:
            self.emit({"status": f"Status: Image is up to date for {shown}"})
        else:
            self.emit({"status": f"Status: Downloaded newer image for {shown}"})

    def _manifest(self, tag_or_digest: str, digest: str | None) -> tuple[dict[str, Any], str, str]:
        path = f"/v2/{self.repo}/manifests/{tag_or_digest}"
        try:
            resp = self.registry.request("GET", path, scope=self.scope,
                                         headers={"Accept": ", ".join(ACCEPT)}, expect=(200,))
        except NotFound as e:
            raise NotFound(f"manifest for {reference.familiar(self.ref)} not found: {e.message}") from e
        except Exception as e:
            if getattr(e, "status", 0) in (401, 403):
                raise NotFound(
                    f"pull access denied for {self.ref.familiar_name}, repository does not exist or "
                    f"may require 'docker login': {getattr(e, 'message', e)}") from e
            raise
        actual = "sha256:" + hashlib.sha256(resp.body).hexdigest()
        if digest is not None and actual != digest:
            raise InvalidParameter(f"manifest digest mismatch: expected {digest}, got {actual}")
        try:
            doc = json.loads(resp.body)
        except ValueError as e:
            raise InvalidParameter(f"invalid manifest: {e}") from e
        media_type = doc.get("mediaType") or resp.header("Content-Type").split(";")[0]
        return doc, actual, media_type

    def _small_blob(self, desc: dict[str, Any]) -> bytes:
        reader = self.registry.open_blob(self.repo, desc["digest"], desc.get("size"))
        chunks = []
        while chunk := reader.read(1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)

    def _layers(self, layers: list[dict[str, Any]], diff_ids: list[str], chains: list[str],
                made: list[str]) -> list[LayerRecord]:
        service = self.service
        records: list[LayerRecord | None] = [None] * len(layers)
        todo = []
        for i, (desc, _diff_id, chain) in enumerate(zip(layers, diff_ids, chains, strict=True)):
            short = desc["digest"].split(":", 1)[-1][:12]
            existing = service.db.get_layer(chain)
            if existing is not None and service.layers.exists(chain):
                records[i] = existing
                self.emit({"status": "Already exists", "progressDetail": {}, "id": short})
            else:
                self.emit({"status": "Pulling fs layer", "progressDetail": {}, "id": short})
                todo.append(i)
        if todo:
            with ThreadPoolExecutor(MAX_DOWNLOADS, thread_name_prefix="pull") as pool:
                futures = {i: pool.submit(self._layer, layers[i], chains[i - 1] if i else None,
                                          diff_ids[i], made) for i in todo}
                for i, future in futures.items():
                    records[i] = future.result()
        return [r for r in records if r is not None]

    def _layer(self, desc: dict[str, Any], parent: str | None, diff_id: str, made: list[str]) -> LayerRecord:
        service = self.service
        short = desc["digest"].split(":", 1)[-1][:12]
        total = int(desc.get("size") or 0)
        reader = self.registry.open_blob(self.repo, desc["digest"], total or None)
        last = [0.0]

        def progress(current: int) -> None:
            now = time.monotonic()
            if now - last[0] < 0.1 and current < total:
                return
            last[0] = now
            self.emit({"status": "Downloading", "progressDetail": {"current": current, "total": total},
                       "progress": _bar(current, total), "id": short})

        reader.on_progress = progress
        stream = Inflater(reader)
        try:
            with service.content.ingest() as ingest:
                chain, got_diff_id, size = service.layers.apply(
                    parent, stream, expected_diff_id=diff_id, sink=ingest, check_parent=False)
                made.append(chain)
                ingest.commit(got_diff_id)
            if ingest.created:
                made.append(got_diff_id)
        finally:
            reader.close()
        self.emit({"status": "Download complete", "progressDetail": {}, "id": short})
        self.emit({"status": "Pull complete", "progressDetail": {}, "id": short})
        return LayerRecord(chain_id=chain, diff_id=got_diff_id, parent=parent, size=size,
                           blob_digest=got_diff_id, media_type="application/vnd.oci.image.layer.v1.tar")


class Inflater:
    """A reader of a layer's tar from its compressed stream (gzip, zstd, or plain).

    Reads the source to its very end (so a BlobReader gets to check the digest before
    the tar reader's last read returns) and serves small reads from a buffer, since the
    tar reader asks for 10 KiB at a time.
    """

    def __init__(self, source: Any):
        self.source = source
        head = b""
        while len(head) < 4:
            chunk = source.read(4 - len(head))
            if not chunk:
                break
            head += chunk
        self._pending = head
        if head.startswith(_GZIP_MAGIC):
            self._kind = "gzip"
            self._d: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif head.startswith(_ZSTD_MAGIC):
            self._kind = "zstd"
            import zstandard

            self._zstd = zstandard.ZstdDecompressor()
            self._d = self._zstd.decompressobj()
        else:
            self._kind = "plain"
        self._buf = b""
        self._pos = 0
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 30
        while self._pos >= len(self._buf):
            if self._eof:
                return b""
            self._fill()
        data = self._buf[self._pos:self._pos + n]
        self._pos += len(data)
        return data

    def _fill(self) -> None:
        raw = self._pending or self.source.read(1 << 20)
        self._pending = b""
        self._pos = 0
        if not raw:
            self._eof = True
            self._buf = self._flush()
            return
        if self._kind == "plain":
            self._buf = raw
            return
        out = []
        while raw:
            try:
                out.append(self._d.decompress(raw))
            except (zlib.error, Exception) as e:
                raise InvalidParameter(f"invalid compressed layer: {e}") from e
            raw = self._next_member()
        self._buf = b"".join(out)

    def _next_member(self) -> bytes:
        # Concatenated gzip members / zstd frames: start again on what follows.
        if self._kind == "gzip" and self._d.eof and self._d.unused_data:
            rest = self._d.unused_data
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            return rest
        if self._kind == "zstd" and self._d.eof and self._d.unused_data:
            rest = self._d.unused_data
            self._d = self._zstd.decompressobj()
            return rest
        return b""

    def _flush(self) -> bytes:
        if self._kind == "gzip":
            tail = self._d.flush()
            if not self._d.eof:
                raise InvalidParameter("invalid compressed layer: unexpected end of gzip stream")
            return tail
        return b""


def _bar(current: int, total: int) -> str:
    if not total:
        return ""
    width = 50
    filled = min(width, current * width // total)
    arrow = ">" if filled < width else ""
    return f"[{'=' * max(0, filled - (1 if arrow else 0))}{arrow}{' ' * (width - filled)}] {_human(current)}/{_human(total)}"


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n}"


def _familiar_path(ref: Reference) -> str:
    return ref.path


def _key(ref: Reference) -> str:
    if ref.digest:
        return str(Reference(ref.domain, ref.path, None, ref.digest))
    return str(ref.with_default_tag())


__all__ = ["pull", "pull_all_tags", "select_platform", "RegistryError"]
