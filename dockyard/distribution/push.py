# SPDX-License-Identifier: Apache-2.0
"""Pushing an image: layers (skipped, mounted or uploaded), config, then the manifest.

Layers are kept uncompressed locally, so a push must gzip them. For each layer, in
parallel (five at once, as Docker):

1. a compressed digest remembered from an earlier pull or push (metadata objects of
   kind `distribution.layer`, diff ID → digest, registry, repository) is checked at the
   target with HEAD ("Layer already exists") or mounted from another repository of the
   same registry (`POST …/blobs/uploads/?mount=&from=`, "Mounted from …");
2. otherwise the tar is read once from the content store, gzip-compressed once, and the
   compressed bytes are hashed and sent in the same pass (one chunked PATCH, then PUT
   with the digest); the digest is remembered for next time.

gzip here is deterministic (zlib, no timestamp), so the same layer always compresses to
the same digest and later pushes to other registries can be answered by HEAD or mount.
The manifest is Docker's schema2 (OCI when a layer is zstd), put under the tag; the
digest the registry confirms becomes the image's RepoDigest, as Docker records it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dockyard.distribution import reference
from dockyard.distribution.client import Registry, RegistryError, error_from, pull_push
from dockyard.distribution.credentials import AuthConfig
from dockyard.distribution.hosts import RegistryHosts
from dockyard.distribution.pull import _bar, known_layers, remember_layer
from dockyard.distribution.reference import Reference
from dockyard.errors import NotFound
from dockyard.images.archive import DOCKER_MANIFEST, OCI_MANIFEST

Emit = Callable[[dict[str, Any]], None]

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MAX_UPLOADS = 5
# zlib level 1: a push over a fast link is bound by compression, and level 1 is several
# times faster than 6 for a few percent more bytes.
GZIP_LEVEL = 1
CHUNK = 1 << 20
# A layer whose first megabyte deflates to more than this share of itself is stored.
INCOMPRESSIBLE = 0.95
SAMPLE = 64 << 10  # smaller layers are deflated whatever they hold


def push(service: Any, ref: Reference, *, hosts: RegistryHosts, auth: AuthConfig,
         emit: Emit = lambda message: None) -> list[dict[str, Any]]:
    """Push `ref`'s tag, or every tag of its repository when it has none.

    Returns the aux records (`{"Tag", "Digest", "Size"}`) Docker sends at the end.
    """
    if ref.tag is None:
        targets = [(reference.parse(r), image_id) for r, image_id in service.refs_by_name(ref.name)]
        if not targets:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
    else:
        try:
            image_id, _ = service.resolve(str(ref))
        except NotFound:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar()}") from None
        targets = [(ref, image_id)]
    emit({"status": f"The push refers to repository [{ref.name if ref.domain != 'docker.io' else 'docker.io/' + ref.path}]"})
    registry = Registry(ref.domain, hosts, auth, push=True)
    try:
        return [_Push(service, registry, target, image_id, emit).run() for target, image_id in targets]
    finally:
        registry.close()


class _Push:
    def __init__(self, service: Any, registry: Registry, ref: Reference, image_id: str, emit: Emit):
        self.service, self.registry, self.ref, self.image_id = service, registry, ref, image_id
        self.repo = ref.path
        self.scope = pull_push(self.repo, True)
        self._emit = emit
        self._lock = threading.Lock()

    def emit(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._emit(message)

    def run(self) -> dict[str, Any]:
        service = self.service
        record = service.db.get_image(self.image_id)
        if record is None:
            raise NotFound(f"No such image: {self.image_id}")
        layers = [service.layer_record(c) for c in record.chain_ids]
        for layer in layers:
            self.emit({"status": "Preparing", "progressDetail": {}, "id": _short(layer.diff_id)})
        # Top layer first, as Docker lists them; the registry does not mind the order.
        with ThreadPoolExecutor(MAX_UPLOADS, thread_name_prefix="push") as pool:
            futures = [pool.submit(self._layer, layer) for layer in reversed(layers)]
            descriptors = list(reversed([f.result() for f in futures]))
        config_bytes = service.content.read(self.image_id)
        oci = any(d["mediaType"] == OCI_LAYER_ZSTD for d in descriptors)
        config_type = OCI_CONFIG if oci else DOCKER_CONFIG
        self._upload_bytes(config_bytes, self.image_id)
        if not oci:
            for d in descriptors:
                d["mediaType"] = DOCKER_LAYER_GZIP
        else:
            for d in descriptors:
                if d["mediaType"] == DOCKER_LAYER_GZIP:
                    d["mediaType"] = OCI_LAYER_GZIP
        manifest_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
        manifest = {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "size": len(config_bytes), "digest": self.image_id},
            "layers": descriptors,
        }
        body = json.dumps(manifest, indent=3).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        tag = self.ref.tag or "latest"
        self.registry.request("PUT", f"/v2/{self.repo}/manifests/{tag}", scope=self.scope,
                              headers={"Content-Type": manifest_type}, body=body, expect=(201, 200))
        from dockyard.images.service import PendingImage

        pending = PendingImage(self.image_id, service.config_of(self.image_id), layers, record.parent)
        service.register([(pending, [f"{self.ref.name}@{digest}"])])
        self.emit({"status": f"{tag}: digest: {digest} size: {len(body)}"})
        aux = {"Tag": tag, "Digest": digest, "Size": len(body)}
        self.emit({"progressDetail": {}, "aux": aux})
        return aux

    # ── layers ──────────────────────────────────────────────────────────────────

    def _layer(self, layer: Any) -> dict[str, Any]:
        short = _short(layer.diff_id)
        domain = self.registry.domain
        for known in known_layers(self.service.db, layer.diff_id):
            if known.get("mediaType", "").endswith("zstd") and known["registry"] != domain:
                continue  # we could not reproduce those bytes; only reuse in place
            desc = {"mediaType": known["mediaType"], "size": known["size"], "digest": known["digest"]}
            if self.registry.blob_exists(self.repo, known["digest"]) is not None:
                self.emit({"status": "Layer already exists", "progressDetail": {}, "id": short})
                self._remember(layer.diff_id, desc)
                return desc
            if known["registry"] == domain and known["repository"] != self.repo:
                if self._mount(known["digest"], known["repository"]):
                    self.emit({"status": f"Mounted from {_familiar_repo(domain, known['repository'])}",
                               "progressDetail": {}, "id": short})
                    self._remember(layer.diff_id, desc)
                    return desc
        desc = self._upload_layer(layer, short)
        self.emit({"status": "Pushed", "progressDetail": {}, "id": short})
        self._remember(layer.diff_id, desc)
        return desc

    def _remember(self, diff_id: str, desc: dict[str, Any]) -> None:
        remember_layer(self.service.db, diff_id, {**desc, "registry": self.registry.domain,
                                                  "repository": self.repo})

    def _mount(self, digest: str, source: str) -> bool:
        query = urllib.parse.urlencode({"mount": digest, "from": source})
        scope = f"{self.scope} repository:{source}:pull"
        resp = self.registry.request("POST", f"/v2/{self.repo}/blobs/uploads/?{query}", scope=scope)
        if resp.status == 201:
            return True
        if resp.status == 202:
            # The registry started an upload instead: cancel it, we upload our own.
            location = resp.header("Location")
            if location:
                self.registry.request("DELETE", _path_of(location), scope=self.scope)
            return False
        raise error_from(resp, "POST", f"/v2/{self.repo}/blobs/uploads/")

    def _upload_layer(self, layer: Any, short: str) -> dict[str, Any]:
        if not layer.blob_digest or not self.service.content.exists(layer.blob_digest):
            raise NotFound(f"layer {layer.chain_id} has no stored content to push")
        total = self.service.content.size(layer.blob_digest)
        hasher = hashlib.sha256()
        sent = [0]
        last = [0.0]

        def body() -> Iterator[bytes]:
            read = 0
            with self.service.content.open(layer.blob_digest) as f:
                chunk = f.read(CHUNK)
                compressor, out = start_gzip(chunk)
                while True:
                    read += len(chunk)
                    if out:
                        hasher.update(out)
                        sent[0] += len(out)
                        yield out
                    now = time.monotonic()
                    if now - last[0] >= 0.1:
                        last[0] = now
                        self.emit({"status": "Pushing", "progressDetail": {"current": read, "total": total},
                                   "progress": _bar(read, total), "id": short})
                    chunk = f.read(CHUNK)
                    if not chunk:
                        break
                    out = compressor.compress(chunk)
            out = compressor.flush()
            hasher.update(out)
            sent[0] += len(out)
            yield out

        location = self._start_upload()
        resp = self.registry.request("PATCH", _path_of(location), scope=self.scope,
                                     headers={"Content-Type": "application/octet-stream"},
                                     body=body(), expect=(202, 204))
        digest = "sha256:" + hasher.hexdigest()
        self._finish_upload(resp.header("Location") or location, digest, None)
        return {"mediaType": DOCKER_LAYER_GZIP, "size": sent[0], "digest": digest}

    def _upload_bytes(self, data: bytes, digest: str) -> None:
        if self.registry.blob_exists(self.repo, digest) is not None:
            return
        location = self._start_upload()
        self._finish_upload(location, digest, data)

    def _start_upload(self) -> str:
        resp = self.registry.request("POST", f"/v2/{self.repo}/blobs/uploads/", scope=self.scope,
                                     expect=(202,))
        location = resp.header("Location")
        if not location:
            raise RegistryError("the registry started an upload without a Location")
        return location

    def _finish_upload(self, location: str, digest: str, data: bytes | None) -> None:
        path = _path_of(location)
        path += ("&" if "?" in path else "?") + urllib.parse.urlencode({"digest": digest})
        headers = {"Content-Type": "application/octet-stream"}
        self.registry.request("PUT", path, scope=self.scope, headers=headers,
                              body=data if data is not None else b"", expect=(201, 204))


def start_gzip(first: bytes) -> tuple[Any, bytes]:
    """A gzip compressor for a layer and its output for the layer's `first` bytes.

    Deflated at GZIP_LEVEL, unless those bytes do not compress: deflating compressed or
    random data costs most of a push's time and saves nothing, so such a layer is stored
    (level 0: still valid gzip). Decided by the content alone, so the same layer always
    gives the same digest; the first bytes are deflated once either way (the trial is the
    real stream when it is kept).
    """
    trial = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    out = trial.compress(first) + trial.flush(zlib.Z_SYNC_FLUSH)
    if len(first) < SAMPLE or len(out) <= len(first) * INCOMPRESSIBLE:
        return trial, out
    stored = zlib.compressobj(0, zlib.DEFLATED, 31)
    return stored, stored.compress(first)


def _path_of(location: str) -> str:
    """Upload locations may be absolute URLs or paths; we keep the same endpoint."""
    parts = urllib.parse.urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def _familiar_repo(domain: str, repo: str) -> str:
    if domain == "docker.io":
        return repo.removeprefix("library/")
    return repo
