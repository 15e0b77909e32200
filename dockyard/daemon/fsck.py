# SPDX-License-Identifier: Apache-2.0
"""`dockyard system fsck`: check that the store is consistent; with `repair`, fix what can
be fixed without losing anything that is still right.

What is checked, and what a repair does:

- the database: SQLite's integrity and foreign-key checks (reported only);
- blobs: every blob's bytes hash to its name (not with `quick`). A corrupt blob is
  removed: content-addressed data is either exactly right or useless, and serving it
  (push, save) would spread the damage. Images needing it then show up as broken;
- layers: each recorded layer has its parent, its blob and its unpacked directory. A
  missing or corrupt directory is unpacked again from the blob; a missing blob only
  stops `save`/`push` of the images using it (reported);
- layer directories no layer record names (a crash between unpack and record): removed;
- images: the config blob is there and parses, every layer is recorded (reported: `pull`
  or `rmi` is the fix, and only the user can choose);
- containers: the image and the rw layer directory are there (reported); a stopped
  container whose root filesystem is still mounted is unmounted; a container directory
  without a record (the daemon removes those when it starts) is removed; a network
  namespace no container holds is reported (the daemon removes those when it starts);
- volumes: each record has its data directory and each directory a record (reported
  only: fsck never deletes volume data);
- scratch space: half-written blobs and layers of interrupted work: removed.

The image store's garbage-collection lock is held exclusively for the store checks, so
pulls and builds wait while fsck runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard import snapshots

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon

CHUNK = 1 << 20


@dataclass
class Finding:
    Kind: str          # database | blob | layer | image | container | volume | scratch
    Name: str
    Problem: str
    Repair: str = ""   # what fsck did about it; "" when it was left as it is


async def fsck(daemon: Daemon, *, repair: bool = False, quick: bool = False) -> dict[str, Any]:
    """Check (and with `repair`, fix) the daemon's store; the `/dockyard/system/fsck` answer."""
    check = _Check(daemon, repair, quick)
    await asyncio.to_thread(check.store)
    await check.containers()
    await asyncio.to_thread(check.volumes)
    findings = [asdict(f) for f in check.findings]
    return {"Checked": check.counts, "Findings": findings,
            "Clean": all(f["Repair"] for f in findings)}


class _Check:
    def __init__(self, daemon: Daemon, repair: bool, quick: bool):
        self.daemon = daemon
        self.images = daemon.images
        self.db = daemon.db
        self.repair = repair
        self.quick = quick
        self.findings: list[Finding] = []
        self.counts = {"Blobs": 0, "Layers": 0, "Images": 0, "Containers": 0, "Volumes": 0}

    def found(self, kind: str, name: str, problem: str, fix: Any = None, done: str = "") -> None:
        """Record a problem; with `repair` and a `fix`, run it and record `done`."""
        repaired = ""
        if self.repair and fix is not None:
            try:
                fix()
                repaired = done
            except Exception as e:  # a failed repair is itself a finding's outcome
                repaired = ""
                problem += f" (repair failed: {e})"
        self.findings.append(Finding(kind, name, problem, repaired))

    # ── images, layers, blobs ─────────────────────────────────────────────────────────

    def store(self) -> None:
        self._database()
        with self.images.exclusive():
            self._scratch()
            bad_blobs = self._blobs()
            self._layers(bad_blobs)
            self._images(bad_blobs)

    def _database(self) -> None:
        for problem in self.db.check():
            self.found("database", str(self.db.path), problem)

    def _scratch(self) -> None:
        content, layers = self.images.content, self.images.layers
        leftovers = [p for d in (content.ingest_dir, layers.tmp) if d.is_dir() for p in d.iterdir()]
        for path in leftovers:
            self.found("scratch", str(path), "left over from interrupted work",
                       lambda p=path: _remove(p), "removed")

    def _blobs(self) -> set[str]:
        """Verify every blob; returns the digests found corrupt (removed when repairing)."""
        bad: set[str] = set()
        for digest in list(self.images.content.list()):
            self.counts["Blobs"] += 1
            if self.quick:
                continue
            if _sha256(self.images.content.path(digest)) != digest:
                bad.add(digest)
                self.found("blob", digest, "content does not match its digest",
                           lambda d=digest: self.images.content.delete(d), "removed")
        return bad

    def _layers(self, bad_blobs: set[str]) -> None:
        records = {layer.chain_id: layer for layer in self.db.list_layers()}
        layer_store = self.images.layers
        for chain, layer in records.items():
            self.counts["Layers"] += 1
            if layer.parent and layer.parent not in records:
                self.found("layer", chain, f"its parent layer {layer.parent} is not recorded")
            blob_ok = bool(layer.blob_digest) and self.images.content.exists(layer.blob_digest) \
                and layer.blob_digest not in bad_blobs
            if not blob_ok:
                self.found("layer", chain, f"its blob {layer.blob_digest} is missing or corrupt: "
                                           "save and push of images using it will fail")
            if not layer_store.exists(chain):
                fix = (lambda c=chain, lr=layer: self._unpack_again(c, lr)) if blob_ok else None
                self.found("layer", chain, "its unpacked directory is missing", fix, "unpacked again from its blob")
        for chain in layer_store.list():
            if chain not in records:
                self.found("layer", chain, "unpacked directory without a layer record",
                           lambda c=chain: layer_store.remove(c), "removed")

    def _unpack_again(self, chain: str, layer: Any) -> None:
        with self.images.content.open(layer.blob_digest) as stream:
            made, _, _ = self.images.layers.apply(layer.parent, stream, expected_diff_id=layer.diff_id)
        if made != chain:
            raise RuntimeError(f"the blob unpacks to {made}")

    def _images(self, bad_blobs: set[str]) -> None:
        known_layers = {layer.chain_id for layer in self.db.list_layers()}
        for image in self.db.list_images():
            self.counts["Images"] += 1
            names = ", ".join(image.refs) or image.id
            if image.id in bad_blobs or not self.images.content.exists(image.id):
                self.found("image", names, "its config blob is missing or corrupt: pull it again or remove it")
            else:
                try:
                    json.loads(self.images.content.read(image.id))
                except ValueError:
                    self.found("image", names, "its config is not JSON")
            for chain in image.chain_ids:
                if chain not in known_layers:
                    self.found("image", names, f"its layer {chain} is not recorded: pull it again or remove it")

    # ── containers and volumes ────────────────────────────────────────────────────────

    async def containers(self) -> None:
        service = self.daemon.containers
        for summary in service.list(all=True):
            self.counts["Containers"] += 1
            try:
                record = service.get(summary["Id"])
            except Exception:
                continue  # removed meanwhile
            cid, name = record["Id"], record.get("Name", "").lstrip("/")
            if not await asyncio.to_thread(self.images.exists, record["Image"]):
                self.found("container", name, f"its image {record['Image']} is gone: it cannot start again")
            if not await asyncio.to_thread(service.container_dir(cid).joinpath("diff").is_dir):
                self.found("container", name, "its rw layer directory is missing")
            rootfs = self.daemon.config.exec_root / "rootfs" / cid
            if not record["State"]["Running"] and await asyncio.to_thread(os.path.ismount, rootfs):
                self.found("container", name, f"stopped, but its root filesystem is still mounted at {rootfs}",
                           lambda p=rootfs: snapshots.unmount(p), "unmounted")

        for path in await asyncio.to_thread(service.orphans):
            self.found("container", path.name, f"directory {path} has no container record",
                       lambda p=path: _remove(p), "removed")
        # Reported only: one may be a container's, still being started; the daemon
        # removes the leftovers when it starts.
        for path in await asyncio.to_thread(self.daemon.networks.orphan_namespaces):
            self.found("container", path.name, f"network namespace {path} is held by no container")

    def volumes(self) -> None:
        root = self.daemon.config.volumes_dir
        docs = {doc["Name"]: doc for doc in self.db.list_objects("volume")}
        for name, doc in docs.items():
            self.counts["Volumes"] += 1
            if not Path(doc.get("Mountpoint", "")).is_dir():
                self.found("volume", name, "its data directory is missing")
        if root.is_dir():
            for entry in sorted(os.listdir(root)):
                if not entry.startswith(".") and entry not in docs:
                    self.found("volume", entry, f"directory {root / entry} has no volume record (left as it is)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
