# SPDX-License-Identifier: Apache-2.0
"""The image service: names → images, inspect and list shapes, tag, delete, import, create.

An image is a Docker/OCI image config (JSON) stored as a blob; its ID is `sha256:` + the
sha256 of those bytes. Each layer is kept twice, on purpose: its uncompressed tar in the
content store (digest == diff ID, so `save` reproduces the exact bytes) and its unpacked
form in the layer store (an overlay lowerdir). The metadata DB records which images use
which layers and which names (normalized references) point at which image.

Lifecycle and locking::

    ingest (create_from_layers / import_image / load)     delete (remove / prune)
      shared gc lock: unpack layers, store blobs            mutex: untag, forget the image
      one DB transaction: layers, image, tags               exclusive gc lock: drop layers and
      on failure: garbage-collect what it made                blobs no image refers to any more

The gc lock keeps a layer from being collected between the moment an ingest finds it on
disk and the moment the ingest's transaction records an image that uses it.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from dockyard.config import DaemonConfig
from dockyard.content.store import ContentStore
from dockyard.distribution import reference
from dockyard.distribution.reference import Reference
from dockyard.errors import Conflict, InvalidParameter, NotFound, check_filter_keys
from dockyard.images.changes import apply_changes
from dockyard.images.platform import (
    ZERO_TIME,
    host_arch,
    host_variant,
    now_rfc3339,
    parse_rfc3339,
    unix_seconds,
)
from dockyard.metadata.db import ImageRecord, LayerRecord, MetadataDB
from dockyard.snapshots.archive import chain_id as make_chain_id
from dockyard.snapshots.layers import LayerStore

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
GRAPH_DRIVER = "overlay2"

# What `containers_using` may return for each container: its ID (taken as stopped), an
# (ID, running) pair, or its ContainerInspect document.
ContainerUse = str | tuple[str, bool] | dict[str, Any]
ContainersUsing = Callable[[str], Iterable[ContainerUse]]

_HEX_RE = re.compile(r"[a-f0-9]+")
_IMAGE_FILTERS = ("dangling", "label", "before", "since", "reference", "until")


@dataclass
class Image:
    id: str
    config: dict[str, Any]
    repo_tags: list[str]
    repo_digests: list[str]
    chain_ids: list[str]
    size: int
    created: str
    parent: str = ""
    last_tag_time: str = ""
    refs: list[str] = field(default_factory=list)  # normalized, as stored

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])


@dataclass
class PendingImage:
    """An image whose blobs and layers are stored but which no DB row names yet."""

    id: str
    config: dict[str, Any]
    layers: list[LayerRecord]
    parent: str = ""


class ImageService:
    def __init__(self, config: DaemonConfig, db: MetadataDB):
        self.daemon_config = config
        self.db = db
        self.content = ContentStore(config.blobs_dir, config.tmp_dir)
        self.layers = LayerStore(config.layers_dir, config.tmp_dir, config.id_map)
        self.tmp_dir = Path(config.tmp_dir)
        self._gc_lock = _SharedLock()
        self._mutex = threading.RLock()  # tag moves and deletes: check-then-act sequences
        self._configs: dict[str, dict[str, Any]] = {}

    # ── lookups ─────────────────────────────────────────────────────────────────

    def get(self, ref_or_id: str) -> Image:
        """Resolve a name, a digest reference, a full or short ID; NotFound like Docker."""
        image_id, _ = self.resolve(ref_or_id)
        image = self._image(image_id)
        if image is None:
            raise NotFound(f"No such image: {ref_or_id}")
        return image

    def resolve(self, ref_or_id: str) -> tuple[str, Reference | None]:
        """(image ID, the reference it was found by, or None when found by ID)."""
        value = ref_or_id.strip()
        if reference.is_image_id(value):
            image_id = value if value.startswith("sha256:") else "sha256:" + value
            if self.db.get_image(image_id) is not None:
                return image_id, None
            raise NotFound(f"No such image: {image_id}")
        ref = reference.parse(value)
        image_id = self.db.get_ref(_ref_key(ref))
        if image_id is not None:
            return image_id, ref
        term = value[len("sha256:"):] if value.startswith("sha256:") else value
        if _HEX_RE.fullmatch(term):
            matches = self.db.search_image_ids(term)
            if len(matches) == 1:
                return matches[0], None
        raise NotFound(f"No such image: {ref.with_default_tag().familiar()}")

    def exists(self, ref_or_id: str) -> bool:
        try:
            self.resolve(ref_or_id)
        except (NotFound, InvalidParameter):
            return False
        return True

    def lowerdirs(self, image_id: str) -> list[Path]:
        """The image's layer directories, top-most first (overlay's order)."""
        record = self.db.get_image(image_id)
        if record is None:
            raise NotFound(f"No such image: {image_id}")
        return [self.layers.path(c) for c in reversed(record.chain_ids)]

    def config_of(self, image_id: str) -> dict[str, Any]:
        """The parsed image config (cached: configs are immutable)."""
        cached = self._configs.get(image_id)
        if cached is None:
            cached = json.loads(self.content.read(image_id))
            self._configs[image_id] = cached
        return cached

    # ── API shapes ──────────────────────────────────────────────────────────────

    def inspect(self, ref_or_id: str) -> dict[str, Any]:
        """The Engine API `ImageInspect` document."""
        image = self.get(ref_or_id)
        cfg = image.config
        doc: dict[str, Any] = {
            "Id": image.id,
            "RepoTags": image.repo_tags,
            "RepoDigests": image.repo_digests,
            "Parent": image.parent,
            "Comment": cfg.get("comment") or "",
            "Created": cfg.get("created") or ZERO_TIME,
            "DockerVersion": cfg.get("docker_version") or "",
            "Author": cfg.get("author") or "",
            "Config": container_config(cfg.get("config")),
            "Architecture": cfg.get("architecture") or "",
        }
        if cfg.get("variant"):
            doc["Variant"] = cfg["variant"]
        doc["Os"] = cfg.get("os") or ""
        if cfg.get("os.version"):
            doc["OsVersion"] = cfg["os.version"]
        doc.update(
            {
                "Size": image.size,
                "GraphDriver": {"Name": GRAPH_DRIVER, "Data": self._graph_data(image.chain_ids)},
                "RootFS": {"Type": "layers", "Layers": image.diff_ids},
                "Metadata": {"LastTagTime": image.last_tag_time or ZERO_TIME},
            }
        )
        return doc

    def history(self, ref_or_id: str) -> list[dict[str, Any]]:
        """The Engine API `ImageHistoryResponseItem` list, newest first."""
        image = self.get(ref_or_id)
        entries = list(image.config.get("history") or [])
        sizes = [self._layer_size(c) for c in image.chain_ids]
        out: list[dict[str, Any]] = []
        layer_index = 0
        for entry in entries:
            empty = bool(entry.get("empty_layer"))
            size = 0
            if not empty and layer_index < len(sizes):
                size = sizes[layer_index]
                layer_index += 1
            out.append(
                {
                    "Id": "<missing>",
                    "Created": unix_seconds(entry.get("created")),
                    "CreatedBy": entry.get("created_by") or "",
                    "Tags": None,
                    "Size": size,
                    "Comment": entry.get("comment") or "",
                }
            )
        out.reverse()
        if out:
            out[0]["Id"] = image.id
            out[0]["Tags"] = image.repo_tags or None
        return out

    def list(
        self,
        all: bool = False,
        filters: dict[str, list[str]] | None = None,
        digests: bool = False,
    ) -> list[dict[str, Any]]:
        """Engine API `ImageSummary` list, newest first (`docker images`).

        `digests` only changes what the CLI prints; RepoDigests is always filled in.
        """
        show_all = all  # the parameter keeps the Engine API's name and shadows the builtin
        filters = {k: list(v) for k, v in (filters or {}).items() if v}
        for key in filters:
            if key not in _IMAGE_FILTERS:
                raise InvalidParameter(f"Invalid filter '{key}'")
        dangling = _bool_filter(filters, "dangling")
        bounds = self._time_bounds(filters)
        patterns = filters.get("reference", [])
        labels = filters.get("label", [])

        records = self.db.list_images()
        parents = {r.parent for r in records if r.parent}
        summaries = []
        for record in records:
            try:
                config = self.config_of(record.id)
            except NotFound:
                continue  # deleted since the listing began
            created_ns = parse_rfc3339(config.get("created")) or 0
            if not _within(created_ns, bounds):
                continue
            image_labels = (config.get("config") or {}).get("Labels") or {}
            if not _labels_match(image_labels, labels):
                continue
            tags = [r for r in record.refs if "@" not in r]
            digests_ = [r for r in record.refs if "@" in r]
            if dangling is True and record.refs:
                continue
            if dangling is False and not record.refs:
                continue
            if not record.refs and not show_all and record.id in parents:
                continue  # an intermediate image: only `docker images -a` shows those
            if patterns:
                tags = [t for t in tags if any(_reference_matches(p, t) for p in patterns)]
                digests_ = [d for d in digests_ if any(_reference_matches(p, d) for p in patterns)]
                if not tags and not digests_:
                    continue
            summaries.append(
                {
                    "Id": record.id,
                    "ParentId": record.parent,
                    "RepoTags": [reference.familiar(t) for t in tags],
                    "RepoDigests": [reference.familiar(d) for d in digests_],
                    "Created": created_ns // 1_000_000_000,
                    "Size": record.size,
                    "SharedSize": -1,
                    "Labels": image_labels,
                    "Containers": -1,
                    "_created_ns": created_ns,
                }
            )
        summaries.sort(key=lambda s: (s["_created_ns"], s["Id"]), reverse=True)
        for s in summaries:
            del s["_created_ns"]
        return summaries

    # ── names ───────────────────────────────────────────────────────────────────

    def tag(self, source: str, repo: str, tag: str | None = None) -> str:
        """Point `repo[:tag]` at the image `source`; returns the familiar new name."""
        image_id, _ = self.resolve(source)
        target = _tag_reference(repo, tag)
        with self._mutex, self.db.transaction():
            self.db.set_ref(str(target), image_id)
            self.db.set_last_tag_time(image_id, now_rfc3339())
        return target.familiar()

    def remove(
        self,
        ref_or_id: str,
        force: bool = False,
        prune: bool = True,
        containers_using: ContainersUsing = lambda image_id: [],
    ) -> list[dict[str, str]]:
        """`docker rmi`: untag, and delete the image when nothing names or uses it.

        Returns Docker's records: `[{"Untagged": "busybox:latest"}, {"Deleted": "sha256:…"}]`
        (deleted layers are listed by chain ID after the image). Raises Conflict with
        Docker's messages when a container uses the image or several names point at it.
        """
        records: list[dict[str, str]] = []
        released: dict[str, list[str]] = {}  # deleted image → its layers, top first
        with self._mutex:
            image_id, found_by = self.resolve(ref_or_id)
            refs = self.db.refs_for_image(image_id)
            by_name = found_by is not None and not _is_id_prefix(image_id, ref_or_id)
            quiet = False
            if by_name:
                assert found_by is not None
                if not force and _single_reference(refs):
                    users = _uses(containers_using(image_id))
                    if users:
                        raise Conflict(
                            f'conflict: unable to remove repository reference "{ref_or_id}" '
                            f"(must force) - container {_short(users[0][0])} is using its "
                            f"referenced image {_short(image_id)}"
                        )
                removed = _ref_key(found_by)
                self.db.delete_ref(removed)
                records.append({"Untagged": reference.familiar(removed)})
                refs = self.db.refs_for_image(image_id)
                if "@" not in removed:
                    # The last tag of a repository takes that repository's digests with it.
                    name = _ref_name(removed)
                    if not any("@" not in r and _ref_name(r) == name for r in refs):
                        for r in refs:
                            if "@" in r and _ref_name(r) == name:
                                self.db.delete_ref(r)
                                records.append({"Untagged": reference.familiar(r)})
                        refs = self.db.refs_for_image(image_id)
                if refs:
                    return records
                quiet = True
            elif _single_reference(refs):
                conflict = self._conflict(
                    image_id, containers_using, hard=True, soft_stopped=not force, soft_refs=False
                )
                if conflict is not None:
                    raise Conflict(conflict[0])
                for r in refs:
                    self.db.delete_ref(r)
                    records.append({"Untagged": reference.familiar(r)})
            self._delete(image_id, records, released, force, prune, quiet, containers_using)
        candidates = [c for image, chains in released.items() for c in (image, *chains)]
        removed = set(self._collect(candidates))
        # Docker lists each deleted image's released layers (top first) right after it,
        # each layer once (a parent pruned with its child shares the child's lower layers).
        out: list[dict[str, str]] = []
        listed: set[str] = set()
        for item in records:
            out.append(item)
            if "Deleted" in item:
                for chain in released.get(item["Deleted"], []):
                    if chain in removed and chain not in listed:
                        listed.add(chain)
                        out.append({"Deleted": chain})
        return out

    def prune(
        self,
        filters: dict[str, list[str]] | None = None,
        containers_using: ContainersUsing = lambda image_id: [],
    ) -> dict[str, Any]:
        """`docker image prune`: dangling images (all unused ones with dangling=false)."""
        filters = {k: list(v) for k, v in (filters or {}).items() if v}
        check_filter_keys(filters, ("dangling", "label", "label!", "until"))
        dangling_only = _bool_filter(filters, "dangling") is not False
        _, until = self._time_bounds({"until": filters.get("until", [])})
        deleted: list[dict[str, str]] = []
        reclaimed = 0
        for record in self.db.list_images():
            if dangling_only and record.refs:
                continue
            config = self.config_of(record.id)
            labels = (config.get("config") or {}).get("Labels") or {}
            if not all(_label_matches(labels, f) for f in filters.get("label", [])):
                continue
            if any(_label_matches(labels, f) for f in filters.get("label!", [])):
                continue
            created_ns = parse_rfc3339(config.get("created")) or 0
            if not all(created_ns < hi for hi in until):
                continue
            if list(containers_using(record.id)):
                continue
            if self.db.image_children(record.id):
                continue
            try:
                result = self.remove(record.id, force=True, containers_using=containers_using)
            except (Conflict, NotFound):
                continue
            deleted.extend(result)
            reclaimed += record.size
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # ── creating images ─────────────────────────────────────────────────────────

    def create_from_layers(
        self,
        config: dict[str, Any],
        layer_tars: Iterable[BinaryIO],
        repo_tags: Iterable[str] = (),
        *,
        base_image: str | None = None,
        parent: str = "",
    ) -> str:
        """Make an image from an image config and layer tars (plain or compressed).

        The layers go on top of `base_image`'s (if given); `config["rootfs"]` is set from
        the layers actually stored, and a history entry is added for each new layer the
        config's history does not account for. Returns the image ID.
        """
        tags = [_normalize_tag(t) for t in repo_tags]
        base_layers: list[LayerRecord] = []
        base_diff_ids: list[str] = []
        if base_image is not None:
            base_id, _ = self.resolve(base_image)
            base_diff_ids = list((self.config_of(base_id).get("rootfs") or {}).get("diff_ids") or [])
            record = self.db.get_image(base_id)
            assert record is not None
            for chain in record.chain_ids:
                layer = self.db.get_layer(chain)
                if layer is None:
                    raise NotFound(f"layer {chain}: not found")
                base_layers.append(layer)
        made: list[str] = []
        try:
            with self._gc_lock.shared():
                for layer in base_layers:
                    # A concurrent rmi may have collected the base between lookup and lock.
                    if not self.layers.exists(layer.chain_id):
                        raise NotFound(f"No such image: {base_image}")
                layers = list(base_layers)
                for tar in layer_tars:
                    layers.append(self._ingest_layer(layers[-1].chain_id if layers else None, tar, None, made))
                cfg = dict(config)
                new_diff_ids = [layer.diff_id for layer in layers[len(base_layers):]]
                cfg["rootfs"] = {"type": "layers", "diff_ids": base_diff_ids + new_diff_ids}
                cfg["history"] = _complete_history(cfg, len(layers))
                image_id = self._store_blob(json.dumps(cfg, separators=(",", ":")).encode(), None, made)
                pending = PendingImage(image_id, cfg, layers, parent)
                self.register([(pending, tags)])
                made.clear()
                return image_id
        finally:
            if made:
                self._collect(made)

    def import_image(
        self,
        stream: BinaryIO,
        repo: str | None = None,
        tag: str | None = None,
        changes: list[str] | None = None,
        message: str = "",
        *,
        source: str = "-",
    ) -> str:
        """`docker import`: a filesystem tarball (plain or compressed) as a one-layer image."""
        tags: list[str] = []
        if repo:
            ref = reference.parse(repo)
            if ref.digest:
                raise InvalidParameter("cannot import digest reference")
            if tag:
                ref = ref.with_tag(tag)
            tags.append(str(ref.with_default_tag()))
        container_cfg = apply_changes({}, changes or [])
        created = now_rfc3339()
        comment = message or f"Imported from {source}"
        config: dict[str, Any] = {"architecture": host_arch()}
        if host_variant():
            config["variant"] = host_variant()
        config.update(
            {
                "comment": comment,
                "config": container_cfg,
                "created": created,
                "history": [{"created": created, "comment": comment}],
                "os": "linux",
            }
        )
        return self.create_from_layers(config, [stream], tags)

    def load(self, stream: BinaryIO) -> list[str]:
        """`docker load`: a docker-archive or OCI layout tar, plain or compressed.

        Returns Docker's messages ("Loaded image: busybox:latest", "Loaded image ID: …").
        Raises InvalidParameter naming the problem; a failed load leaves nothing behind.
        """
        from dockyard.images.archive import load_archive

        return load_archive(self, stream)

    def save(self, names: list[str], out: BinaryIO) -> None:
        """`docker save`: write a docker-archive that is also an OCI image layout."""
        from dockyard.images.archive import save_archive

        save_archive(self, names, out, self._gc_lock.shared)

    # ── building blocks shared with images.archive ──────────────────────────────

    @contextmanager
    def ingesting(self) -> Iterator[list[str]]:
        """Hold off garbage collection while storing layers and blobs for new images.

        Yields a list to which the caller appends what it stores (chain IDs, blob
        digests); if the block fails, those that no image uses are collected.
        """
        made: list[str] = []
        try:
            with self._gc_lock.shared():
                yield made
                made.clear()
        finally:
            if made:
                self._collect(made)

    def store_blob(self, data: bytes, expected_digest: str | None, made: list[str]) -> str:
        """Store a small blob (a config); caller is inside `ingesting()`."""
        return self._store_blob(data, expected_digest, made)

    def ingest_layer(
        self, parent: str | None, stream: BinaryIO, expected_diff_id: str | None, made: list[str]
    ) -> LayerRecord:
        """Store one layer (blob and unpacked copy); caller is inside `ingesting()`."""
        return self._ingest_layer(parent, stream, expected_diff_id, made)

    def register(self, images: list[tuple[PendingImage, list[str]]]) -> list[tuple[str, str]]:
        """Record stored images and point their normalized tags at them, atomically.

        Returns the (ref, previous image ID) pairs for tags taken from another image.
        """
        moved: list[tuple[str, str]] = []
        now = now_rfc3339()
        with self._mutex, self.db.transaction():
            for pending, tags in images:
                for layer in pending.layers:
                    self.db.put_layer(layer)
                self.db.put_image(
                    ImageRecord(
                        id=pending.id,
                        chain_ids=[layer.chain_id for layer in pending.layers],
                        size=sum(layer.size for layer in pending.layers),
                        parent=pending.parent,
                        created=str(pending.config.get("created") or ""),
                        added=now,
                    )
                )
                self._configs[pending.id] = pending.config
                for ref in tags:
                    previous = self.db.set_ref(ref, pending.id)
                    if previous is not None and previous != pending.id:
                        moved.append((ref, previous))
                if tags:
                    self.db.set_last_tag_time(pending.id, now)
        return moved

    def refs_by_name(self, name: str) -> list[tuple[str, str]]:
        """(normalized tag ref, image ID) for every tag of the repository `name`."""
        return [(r, i) for r, i in self.db.list_refs() if "@" not in r and _ref_name(r) == name]

    def layer_record(self, chain_id: str) -> LayerRecord:
        layer = self.db.get_layer(chain_id)
        if layer is None:
            raise NotFound(f"layer {chain_id}: not found")
        return layer

    def exclusive(self) -> Any:
        """Hold off every pull, build, load and removal (store maintenance: fsck)."""
        return self._gc_lock.exclusive()

    def reconcile(self) -> None:
        """Startup clean-up: half-made ingests and layers no image records.

        Call once, before the daemon serves requests (in-flight work would be lost).
        """
        self.content.cleanup()
        self.layers.cleanup()
        shutil.rmtree(self.tmp_dir / "load", ignore_errors=True)
        with self._gc_lock.exclusive():
            known = {layer.chain_id for layer in self.db.list_layers()}
            for chain in self.layers.list():
                if chain not in known:
                    self.layers.remove(chain)

    # ── internals ───────────────────────────────────────────────────────────────

    def _ingest_layer(
        self, parent: str | None, stream: BinaryIO, expected: str | None, made: list[str]
    ) -> LayerRecord:
        if (
            expected is not None
            and self.content.exists(expected)
            and self.layers.exists(make_chain_id(parent, expected))
        ):
            # Already here in both forms: read the stream once to check it, store nothing.
            chain, diff_id, size = self.layers.apply(parent, stream, expected_diff_id=expected)
            made.append(chain)
        else:
            with self.content.ingest() as ingest:
                chain, diff_id, size = self.layers.apply(
                    parent, stream, expected_diff_id=expected, sink=ingest
                )
                made.append(chain)
                ingest.commit(diff_id)
            if ingest.created:
                made.append(diff_id)
        return LayerRecord(
            chain_id=chain, diff_id=diff_id, parent=parent, size=size,
            blob_digest=diff_id, media_type=LAYER_MEDIA_TYPE,
        )

    def _store_blob(self, data: bytes, expected: str | None, made: list[str]) -> str:
        with self.content.ingest() as ingest:
            ingest.write(data)
            digest, _ = ingest.commit(expected)
        if ingest.created:
            made.append(digest)
        return digest

    def _image(self, image_id: str) -> Image | None:
        record = self.db.get_image(image_id)
        if record is None:
            return None
        try:
            config = self.config_of(image_id)
        except NotFound:
            return None  # deleted between the two reads
        return Image(
            id=record.id,
            config=config,
            repo_tags=[reference.familiar(r) for r in record.refs if "@" not in r],
            repo_digests=[reference.familiar(r) for r in record.refs if "@" in r],
            chain_ids=record.chain_ids,
            size=record.size,
            created=config.get("created") or "",
            parent=record.parent,
            last_tag_time=record.last_tag_time,
            refs=record.refs,
        )

    def _graph_data(self, chain_ids: list[str]) -> dict[str, str]:
        if not chain_ids:
            return {}
        top = self.layers.path(chain_ids[-1])
        data = {}
        if len(chain_ids) > 1:
            data["LowerDir"] = ":".join(str(self.layers.path(c)) for c in reversed(chain_ids[:-1]))
        data.update(
            {
                "MergedDir": str(top.parent / "merged"),
                "UpperDir": str(top),
                "WorkDir": str(top.parent / "work"),
            }
        )
        return data

    def _layer_size(self, chain: str) -> int:
        layer = self.db.get_layer(chain)
        return layer.size if layer else 0

    def _time_bounds(self, filters: dict[str, list[str]]) -> tuple[list[int], list[int]]:
        """Lower and upper creation-time bounds (ns) from before/since/until filters."""
        lower, upper = [], []
        for value in filters.get("since", []):
            lower.append(self._created_ns(value))
        for value in filters.get("before", []):
            upper.append(self._created_ns(value))
        for value in filters.get("until", []):
            upper.append(_until_ns(value))
        return lower, upper

    def _created_ns(self, ref_or_id: str) -> int:
        image_id, _ = self.resolve(ref_or_id)
        return parse_rfc3339(self.config_of(image_id).get("created")) or 0

    def _conflict(
        self,
        image_id: str,
        containers_using: ContainersUsing,
        *,
        hard: bool,
        soft_stopped: bool,
        soft_refs: bool,
    ) -> tuple[str, bool] | None:
        """Docker's delete conflicts, in its order: (message, used by a container)."""
        users = None
        if hard:
            if self.db.image_children(image_id):
                return self._conflict_message(image_id, True, "image has dependent child images"), False
            users = _uses(containers_using(image_id))
            running = [cid for cid, is_running in users if is_running]
            if running:
                return self._conflict_message(
                    image_id, True, f"image is being used by running container {_short(running[0])}"
                ), True
        if soft_refs and self.db.refs_for_image(image_id):
            return self._conflict_message(image_id, False, "image is referenced in multiple repositories"), False
        if soft_stopped:
            if users is None:
                users = _uses(containers_using(image_id))
            stopped = [cid for cid, is_running in users if not is_running]
            if stopped:
                return self._conflict_message(
                    image_id, False, f"image is being used by stopped container {_short(stopped[0])}"
                ), True
        return None

    @staticmethod
    def _conflict_message(image_id: str, hard: bool, why: str) -> str:
        how = "cannot be forced" if hard else "must be forced"
        return f"conflict: unable to delete {_short(image_id)} ({how}) - {why}"

    def _delete(
        self,
        image_id: str,
        records: list[dict[str, str]],
        released: dict[str, list[str]],
        force: bool,
        prune: bool,
        quiet: bool,
        containers_using: ContainersUsing,
    ) -> None:
        # Caller holds self._mutex.
        conflict = self._conflict(
            image_id, containers_using, hard=True, soft_stopped=not force, soft_refs=not force
        )
        if conflict is not None:
            message, used = conflict
            if quiet and (used or self.db.refs_for_image(image_id) or self.db.image_children(image_id)):
                return  # untagging was the job; the image stays for its other users
            raise Conflict(message)
        record = self.db.get_image(image_id)
        if record is None:
            return
        for r in self.db.refs_for_image(image_id):
            records.append({"Untagged": reference.familiar(r)})
        self.db.delete_image(image_id)
        self._configs.pop(image_id, None)
        records.append({"Deleted": image_id})
        released[image_id] = list(reversed(record.chain_ids))
        if prune and record.parent and self.db.get_image(record.parent) is not None:
            self._delete(record.parent, records, released, False, True, True, containers_using)

    def _collect(self, candidates: list[str]) -> list[str]:
        """Remove candidate layers and blobs nothing records any more; returns layer IDs."""
        removed: list[str] = []
        with self._gc_lock.exclusive():
            for item in candidates:
                layer = self.db.get_layer(item)
                if layer is not None:
                    if self.db.layer_in_use(item):
                        continue
                    self.db.delete_layer(item)
                    self.layers.remove(item)
                    removed.append(item)
                    if layer.blob_digest and not self.db.blob_in_use(layer.blob_digest):
                        self.content.delete(layer.blob_digest)
                    continue
                # Not a recorded layer: a blob, or a layer a failed ingest left unrecorded.
                if self.layers.exists(item):
                    self.layers.remove(item)
                if not self.db.blob_in_use(item):
                    self.content.delete(item)
        return removed


# ── helpers ─────────────────────────────────────────────────────────────────────


def container_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """An image's container config in the full shape `docker image inspect` shows."""
    config = config or {}
    out: dict[str, Any] = {
        "Hostname": "",
        "Domainname": "",
        "User": "",
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
    }
    if config.get("ExposedPorts"):
        out["ExposedPorts"] = config["ExposedPorts"]
    out.update(
        {
            "Tty": False,
            "OpenStdin": False,
            "StdinOnce": False,
            "Env": None,
            "Cmd": None,
        }
    )
    if config.get("Healthcheck"):
        out["Healthcheck"] = config["Healthcheck"]
    if config.get("ArgsEscaped"):
        out["ArgsEscaped"] = True
    out.update(
        {
            "Image": "",
            "Volumes": None,
            "WorkingDir": "",
            "Entrypoint": None,
            "OnBuild": None,
            "Labels": None,
        }
    )
    for key, value in config.items():
        if key in out or value not in (None, "", [], {}):
            out[key] = value
    return out


def _complete_history(cfg: dict[str, Any], layer_count: int) -> list[dict[str, Any]]:
    history = [dict(h) for h in cfg.get("history") or []]
    accounted = sum(1 for h in history if not h.get("empty_layer"))
    created = cfg.get("created") or now_rfc3339()
    for _ in range(max(0, layer_count - accounted)):
        history.append({"created": created})
    return history


def _tag_reference(repo: str, tag: str | None) -> Reference:
    ref = reference.parse(repo)
    if ref.digest:
        raise InvalidParameter("refusing to create a tag with a digest reference")
    if tag:
        ref = ref.with_tag(tag)
    if ref.familiar_name == "sha256":
        raise InvalidParameter("refusing to create an ambiguous tag using digest algorithm as name")
    return ref.with_default_tag()


def _normalize_tag(name: str) -> str:
    return str(_tag_reference(name, None))


def _ref_key(ref: Reference) -> str:
    if ref.digest:
        return str(Reference(ref.domain, ref.path, None, ref.digest))
    return str(ref.with_default_tag())


def _ref_name(normalized: str) -> str:
    """`docker.io/library/busybox:latest` or `…@sha256:…` → `docker.io/library/busybox`."""
    name = normalized.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def _single_reference(refs: list[str]) -> bool:
    """Docker's isSingleReference: one tag, plus perhaps digests of that same repository."""
    if len(refs) <= 1:
        return len(refs) == 1
    tags = [r for r in refs if "@" not in r]
    digest_names = {_ref_name(r) for r in refs if "@" in r}
    if len(tags) > 1:
        return False
    single = tags[0] if tags else refs[0]
    return len(digest_names) == 1 and _ref_name(single) in digest_names


def _is_id_prefix(image_id: str, value: str) -> bool:
    return image_id.startswith(value) or image_id[len("sha256:"):].startswith(value)


def _short(image_or_container_id: str) -> str:
    return image_or_container_id.split(":", 1)[-1][:12]


def _uses(items: Iterable[ContainerUse]) -> list[tuple[str, bool]]:
    out = []
    for item in items:
        if isinstance(item, str):
            out.append((item, False))
        elif isinstance(item, tuple):
            out.append((item[0], bool(item[1])))
        else:
            state = item.get("State") or {}
            out.append((item.get("Id", ""), bool(state.get("Running"))))
    return out


def _is_digest(value: str) -> bool:
    return bool(re.fullmatch(r"sha256:[a-f0-9]{64}", value))


def _bool_filter(filters: dict[str, list[str]], key: str) -> bool | None:
    values = {v.lower() for v in filters.get(key, [])}
    if not values:
        return None
    result = set()
    for v in values:
        if v in ("true", "1"):
            result.add(True)
        elif v in ("false", "0"):
            result.add(False)
        else:
            raise InvalidParameter(f"Invalid filter '{key}={v}'")
    if len(result) > 1:
        raise InvalidParameter(f"Invalid filter '{key}': conflicting values")
    return result.pop()


def _within(created_ns: int, bounds: tuple[list[int], list[int]]) -> bool:
    lower, upper = bounds
    return all(lo < created_ns for lo in lower) and all(created_ns < hi for hi in upper)


def _labels_match(labels: dict[str, str], specs: list[str]) -> bool:
    return all(_label_matches(labels, spec) for spec in specs)


def _label_matches(labels: dict[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def _reference_matches(pattern: str, normalized: str) -> bool:
    """Docker's FamiliarMatch: the pattern against `name:tag`, then against `name`."""
    ref = reference.parse(normalized)
    full = ref.familiar()
    if _path_match(pattern, full):
        return True
    return _path_match(pattern, ref.familiar_name)


def _path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: `*` and `?` do not cross "/", `[...]` classes with `^` negation."""
    return re.fullmatch(_glob_regex(pattern), name) is not None


def _glob_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                raise InvalidParameter(f"invalid reference filter pattern: {pattern!r}")
            body = pattern[i + 1:end]
            negate = body.startswith("^")
            if negate:
                body = body[1:]
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append(f"[{'^/' if negate else ''}{body}]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _until_ns(value: str) -> int:
    """`until` filter values: RFC 3339 time, unix seconds, or a Go duration ago."""
    import time

    from dockyard.images.changes import parse_duration

    ns = parse_rfc3339(value)
    if ns is not None:
        return ns
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return int(float(value) * 1_000_000_000)
    try:
        return time.time_ns() - parse_duration(value)
    except InvalidParameter:
        raise InvalidParameter(f"Invalid filter 'until={value}'") from None


class _SharedLock:
    """Many holders in shared mode or one in exclusive mode; shared never waits for a
    waiting exclusive holder, so code holding it shared may take it shared again."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                if self._shared == 0:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive or self._shared:
                self._cond.wait()
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()
