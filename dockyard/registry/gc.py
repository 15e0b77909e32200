# SPDX-License-Identifier: Apache-2.0
"""`dockyard registry gc`: delete the blobs no manifest of the registry needs any more.

Mark: every manifest a repository links (or, with `untagged`, only those a tag reaches),
following image indexes to their manifests, marks itself, its config and its layers.
Sweep: every blob in the store not marked goes, with the repositories' links to it; with
`untagged`, the unreached manifests' links go too. A blob younger than `grace` seconds is
kept whatever the marks say: it may belong to a push still in flight, whose manifest
comes last. Run it while the server takes no pushes for the surest result (as
Distribution's garbage-collect asks); the grace period covers the ordinary case.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

from dockyard.errors import NotFound
from dockyard.registry.storage import RegistryStorage

GRACE_SECONDS = 3600


@dataclass
class GCReport:
    marked: int = 0
    deleted: list[str] = field(default_factory=list)      # blob digests
    kept_young: list[str] = field(default_factory=list)   # unmarked, but within the grace period
    untagged: list[str] = field(default_factory=list)     # "repo@digest" manifests dropped
    freed: int = 0


def collect(storage: RegistryStorage, *, dry_run: bool = False, untagged: bool = False,
            grace: float = GRACE_SECONDS) -> GCReport:
    report = GCReport()
    marked: set[str] = set()
    for repo in storage.catalog():
        roots = _tagged(storage, repo) if untagged else _manifests(storage, repo)
        for digest in roots:
            _mark(storage, digest, marked)
        if untagged:
            for digest in _manifests(storage, repo) - roots:
                report.untagged.append(f"{repo}@{digest}")
                if not dry_run:
                    storage.delete_manifest(repo, digest)
    report.marked = len(marked)
    now = time.time()
    for digest in list(storage.content.list()):
        if digest in marked:
            continue
        path = storage.content.path(digest)
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if now - st.st_mtime < grace:
            report.kept_young.append(digest)
            continue
        report.deleted.append(digest)
        report.freed += st.st_size
        if not dry_run:
            storage.content.delete(digest)
            _unlink_everywhere(storage, digest)
    return report


def _manifests(storage: RegistryStorage, repo: str) -> set[str]:
    directory = storage.repos_dir / repo / "_manifests"
    return {"sha256:" + p.name for p in directory.iterdir() if not p.name.startswith(".")} \
        if directory.is_dir() else set()


def _tagged(storage: RegistryStorage, repo: str) -> set[str]:
    return {storage.get_manifest(repo, tag)[2] for tag in storage.tags(repo)}


def _mark(storage: RegistryStorage, digest: str, marked: set[str]) -> None:
    if digest in marked:
        return
    marked.add(digest)
    try:
        manifest = json.loads(storage.content.read(digest))
    except (NotFound, ValueError, UnicodeDecodeError):
        return  # a missing manifest marks nothing more; a blob is not JSON
    if not isinstance(manifest, dict):
        return
    for child in manifest.get("manifests") or []:       # an index: its manifests
        _mark(storage, child.get("digest", ""), marked)
    config = manifest.get("config") or {}
    if config.get("digest"):
        marked.add(config["digest"])
    for layer in manifest.get("layers") or []:
        if layer.get("digest"):
            marked.add(layer["digest"])


def _unlink_everywhere(storage: RegistryStorage, digest: str) -> None:
    hexpart = digest.split(":", 1)[1]
    for dirpath, dirnames, _ in os.walk(storage.repos_dir):
        for kind in ("_layers", "_manifests"):
            if kind in dirnames:
                link = os.path.join(dirpath, kind, hexpart)
                if os.path.lexists(link):
                    os.unlink(link)
        dirnames[:] = [d for d in dirnames if not d.startswith("_")]
