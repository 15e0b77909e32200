# SPDX-License-Identifier: Apache-2.0
"""The volume service: Docker's volume verbs (create, ls, inspect, rm, prune) and the
container lifecycle hook that gives containers their volumes, binds and tmpfs mounts.

A volume's life, as a container sees it::

    on_create     parse Binds/Mounts/VolumesFrom/Tmpfs/Config.Volumes (specs.plan), create
                  missing named and new anonymous volumes, take a reference for the
                  container, fill record["Mounts"], copy the image's files into empty
                  volumes (copy-up, unless nocopy)
    before_start  mount volumes made with driver options (first user), create missing
                  `-v` bind sources, hand the OCI mounts to the spec
    after_exit    unmount option volumes nobody runs with any more
    on_remove     drop the references; with `rm -v` / `--rm` delete the anonymous volumes
                  no other container refers to

References are derived from the container records (a volume is in use while any
container, running or not, mounts it) and rebuilt by `restore` at daemon start, after
the store's crash reconciliation. Metadata changes happen under one asyncio lock; disk
work runs in threads.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard import snapshots
from dockyard.errors import Conflict, InvalidParameter, NotFound, check_filter_keys
from dockyard.snapshots import _sys
from dockyard.volumes import copyup, specs
from dockyard.volumes.specs import ANONYMOUS_LABEL, BIND, LOCAL_DRIVER, TMPFS, VOLUME, MountSpec
from dockyard.volumes.store import LocalStore, validate_options

if TYPE_CHECKING:
    from dockyard.config import DaemonConfig
    from dockyard.daemon.events import Events
    from dockyard.images import ImageService
    from dockyard.metadata.db import MetadataDB

log = logging.getLogger("dockyard.volumes")

_TRUE = ("true", "1")
# The user ID copy-up holds a volume under while it fills it (not a container).
_COPY_UP = "copy-up:"
_FALSE = ("false", "0")


class VolumeService:
    """Volumes of the local driver, and the lifecycle hook that mounts them.

    `containers` is anything with `get(ref) -> record` raising NotFound (the container
    service), used to resolve VolumesFrom."""

    def __init__(self, config: DaemonConfig, db: MetadataDB, images: ImageService,
                 containers: Any, events: Events):
        self._config = config
        self._store = LocalStore(config.volumes_dir, db,
                                 None if config.id_map.empty else config.id_map.root)
        self._images = images
        self._containers = containers
        self._events = events
        self._lock = asyncio.Lock()
        self._docs: dict[str, dict[str, Any]] = {d["Name"]: d for d in self._store.list()}
        self._refs: dict[str, dict[str, None]] = {}     # volume → containers (in order)
        self._active: dict[str, set[str]] = {}          # volume → running containers
        self._copy_locks: dict[str, asyncio.Lock] = {}

    # ── the Engine API's volume verbs ─────────────────────────────────────────────────

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /volumes/create`: a new volume, or the existing one of that name."""
        name = body.get("Name") or ""
        driver = body.get("Driver") or LOCAL_DRIVER
        options = body.get("DriverOpts") or {}
        labels = body.get("Labels")
        if not isinstance(name, str) or not isinstance(options, dict) or not (labels is None or isinstance(labels, dict)):
            raise InvalidParameter("invalid volume create request")
        if name:
            specs.validate_name(name)
        else:
            name = secrets.token_hex(32)
        _check_driver(name, driver)
        validate_options(name, {str(k): str(v) for k, v in options.items()})
        async with self._lock:
            existing = self._docs.get(name)
            if existing is not None:
                return dict(existing)
            return await self._create_locked(name, {str(k): str(v) for k, v in options.items()}, labels)

    def inspect(self, name: str) -> dict[str, Any]:
        doc = self._docs.get(name)
        if doc is None:
            raise NotFound(f"get {name}: no such volume")
        return dict(doc)

    def list(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """`GET /volumes`, with Docker's filters: dangling, name (a regular expression),
        driver, label."""
        filters = filters or {}
        for key in filters:
            if key not in ("dangling", "name", "driver", "label"):
                raise InvalidParameter(f"Invalid filter '{key}'")
        for value in filters.get("dangling", []):
            if value.lower() not in _TRUE + _FALSE:
                raise InvalidParameter(f"Invalid filter 'dangling=[{value}]'")
        volumes = [dict(doc) for doc in self._docs.values() if self._matches(doc, filters)]
        return {"Volumes": volumes, "Warnings": None}

    async def remove(self, name: str, force: bool = False) -> None:
        """`DELETE /volumes/{name}`: refused while a container refers to the volume;
        `force` only makes a missing volume no error."""
        async with self._lock:
            if name not in self._docs:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = list(self._refs.get(name) or ())
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{' '.join(users)}]")
            await self._remove_locked(name)

    async def prune(self, filters: dict[str, list[str]] | None = None, *,
                    all_by_default: bool = False) -> dict[str, Any]:
        """`POST /volumes/prune`: unused anonymous volumes, or every unused one with the
        `all` filter (what API versions before 1.42 always did)."""
        filters = filters or {}
        check_filter_keys(filters, ("label", "label!", "all"))
        prune_all = all_by_default
        for value in filters.get("all", []):
            if value.lower() in _TRUE:
                prune_all = True
            elif value.lower() in _FALSE:
                prune_all = False
            else:
                raise InvalidParameter(f"Invalid filter 'all={value}'")
        deleted: list[str] = []
        reclaimed = 0
        async with self._lock:
            for name, doc in list(self._docs.items()):
                if self._refs.get(name):
                    continue
                labels = doc.get("Labels") or {}
                if not prune_all and ANONYMOUS_LABEL not in labels:
                    continue
                if not all(_label_matches(labels, v) for v in filters.get("label", [])):
                    continue
                if any(_label_matches(labels, v) for v in filters.get("label!", [])):
                    continue
                size = await asyncio.to_thread(self._store.size, doc)
                await self._remove_locked(name)
                deleted.append(name)
                reclaimed += size
        return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}

    async def usage(self) -> list[dict[str, Any]]:
        """Every volume with Docker's `UsageData` (bytes used, containers referring)."""
        result = []
        for name, doc in list(self._docs.items()):
            entry = dict(doc)
            entry["UsageData"] = {"Size": await asyncio.to_thread(self._store.size, doc),
                                  "RefCount": len(self._refs.get(name) or ())}
            result.append(entry)
        return result

    def users(self, name: str) -> list[str]:
        """IDs of the containers that refer to the volume `name`."""
        return list(self._refs.get(name) or ())

    # ── lifecycle hook ────────────────────────────────────────────────────────────────

    async def on_create(self, record: dict[str, Any]) -> None:
        plan = specs.plan(record, self._containers.get)
        new_names = {s.source for s in plan if s.type == VOLUME and s.source and s.source not in self._docs}
        for spec in plan:
            if spec.type == VOLUME and spec.source in new_names:
                specs.validate_name(spec.source)
                validate_options(spec.source, spec.driver_opts)
        await asyncio.to_thread(_check_bind_sources, plan)
        cid = record["Id"]
        made: list[str] = []
        async with self._lock:
            try:
                for spec in plan:
                    if spec.type != VOLUME:
                        continue
                    if spec.anonymous:
                        spec.source = secrets.token_hex(32)
                        spec.labels = {**(spec.labels or {}), ANONYMOUS_LABEL: ""}
                    if spec.source not in self._docs:
                        await self._create_locked(spec.source, spec.driver_opts, spec.labels)
                        made.append(spec.source)
            except BaseException:
                for name in made:
                    await self._remove_locked(name)
                raise
            for spec in plan:
                if spec.type == VOLUME:
                    self._refs.setdefault(spec.source, {})[cid] = None
        record["Mounts"] = [s.mount_point(self._docs[s.source]["Mountpoint"] if s.type == VOLUME else "")
                            for s in plan]
        wanted = [s for s in plan if s.type == VOLUME and s.copy and not s.subpath]
        try:
            if wanted:
                await self._copy_up(record, wanted)
        except BaseException:
            async with self._lock:
                self._drop_refs(record)
                for name in made:
                    if not self._refs.get(name):
                        await self._remove_locked(name)
            record["Mounts"] = []
            raise

    async def before_start(self, record: dict[str, Any]) -> dict[str, Any]:
        cid = record["Id"]
        details = self._details(record)
        mounts: list[dict[str, Any]] = []
        activated: list[str] = []
        try:
            for point in record.get("Mounts") or []:
                dest = point["Destination"]
                detail = details.get(dest)
                if point["Type"] == VOLUME:
                    name = point["Name"]
                    await self._activate(name, cid)
                    activated.append(name)
                    source = await asyncio.to_thread(
                        _volume_source, self._docs[name], detail.subpath if detail else "")
                    options = ["rbind", "rprivate"]
                    self._events.publish("volume", "mount", name, {
                        "container": cid, "destination": dest, "driver": LOCAL_DRIVER,
                        "propagation": "", "read/write": str(bool(point["RW"])).lower()})
                elif point["Type"] == BIND:
                    create = detail.create_source if detail else True
                    await asyncio.to_thread(_ensure_bind_source, point["Source"], create, self._store.owner)
                    source = point["Source"]
                    recursive = not (detail and detail.non_recursive)
                    options = ["rbind" if recursive else "bind", point.get("Propagation") or specs.DEFAULT_PROPAGATION]
                elif point["Type"] == TMPFS:
                    spec = detail or MountSpec(TMPFS, dest, rw=bool(point["RW"]))
                    mounts.append({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                                   "options": ["noexec", "nosuid", "nodev", "rprivate", *specs.tmpfs_options(spec)]})
                    continue
                else:
                    continue
                if not point["RW"]:
                    options.append("ro")
                mounts.append({"destination": dest, "type": "bind", "source": source, "options": options})
        except BaseException:
            for name in activated:
                await self._deactivate(name, cid)
            raise
        # Parents before children, so a mount under another one is not hidden by it.
        mounts.sort(key=lambda m: m["destination"].rstrip("/").count("/"))
        return {"mounts": mounts}

    async def after_exit(self, record: dict[str, Any]) -> None:
        for point in record.get("Mounts") or []:
            if point["Type"] == VOLUME:
                await self._deactivate(point["Name"], record["Id"])

    async def on_remove(self, record: dict[str, Any], volumes: bool) -> None:
        async with self._lock:
            names = self._drop_refs(record)
            if not volumes:
                return
            for name in names:
                doc = self._docs.get(name)
                if doc is None or self._refs.get(name):
                    continue
                if ANONYMOUS_LABEL not in (doc.get("Labels") or {}):
                    continue  # named volumes never go implicitly
                try:
                    await self._remove_locked(name)
                except OSError as e:
                    log.warning("removing anonymous volume %s of %s: %s", name, record["Id"][:12], e)

    async def restore(self, records: list[dict[str, Any]]) -> None:
        """Repair the store after a crash, then rebuild references and mounts from the
        container records."""
        await asyncio.to_thread(self._store.reconcile)
        docs = await asyncio.to_thread(self._store.list)
        async with self._lock:
            self._docs = {d["Name"]: d for d in docs}
            self._refs.clear()
            self._active.clear()
            for record in records:
                for point in record.get("Mounts") or []:
                    if point.get("Type") != VOLUME or point.get("Name") not in self._docs:
                        continue
                    self._refs.setdefault(point["Name"], {})[record["Id"]] = None
                    if (record.get("State") or {}).get("Running"):
                        self._active.setdefault(point["Name"], set()).add(record["Id"])
            for name, doc in self._docs.items():
                if not self._store.needs_mount(doc):
                    continue
                try:
                    if self._active.get(name):
                        await asyncio.to_thread(self._store.mount, doc)
                    else:
                        await asyncio.to_thread(self._store.unmount, doc)
                except (OSError, InvalidParameter) as e:
                    # One broken device must not keep the daemon from starting.
                    log.warning("volume %s: %s", name, e)

    # ── internals ─────────────────────────────────────────────────────────────────────

    async def _create_locked(self, name: str, options: dict[str, str] | None,
                             labels: dict[str, str] | None) -> dict[str, Any]:
        doc = await asyncio.to_thread(self._store.create, name, options, labels)
        self._docs[name] = doc
        self._events.publish("volume", "create", name, {"driver": LOCAL_DRIVER})
        return dict(doc)

    async def _remove_locked(self, name: str) -> None:
        await asyncio.to_thread(self._store.remove, name)
        self._docs.pop(name, None)
        self._refs.pop(name, None)
        self._active.pop(name, None)
        self._copy_locks.pop(name, None)
        self._events.publish("volume", "destroy", name, {"driver": LOCAL_DRIVER})

    def _drop_refs(self, record: dict[str, Any]) -> list[str]:
        names = []
        for point in record.get("Mounts") or []:
            if point.get("Type") == VOLUME:
                users = self._refs.get(point["Name"])
                if users is not None:
                    users.pop(record["Id"], None)
                names.append(point["Name"])
        return names

    async def _activate(self, name: str, cid: str) -> None:
        async with self._lock:
            doc = self._docs.get(name)
            if doc is None:
                raise NotFound(f"get {name}: no such volume")
            users = self._active.setdefault(name, set())
            if not users and self._store.needs_mount(doc):
                await asyncio.to_thread(self._store.mount, doc)
            users.add(cid)

    async def _deactivate(self, name: str, cid: str) -> None:
        async with self._lock:
            users = self._active.get(name)
            if users is None or cid not in users:
                return
            users.discard(cid)
            doc = self._docs.get(name)
            if not users and doc is not None:
                if self._store.needs_mount(doc):
                    await asyncio.to_thread(self._store.unmount, doc)
                if not cid.startswith(_COPY_UP):
                    self._events.publish("volume", "unmount", name, {"container": cid, "driver": LOCAL_DRIVER})

    async def _copy_up(self, record: dict[str, Any], wanted: list[MountSpec]) -> None:
        """Fill each empty volume of `wanted` from the image, seen through a temporary
        mount of the container's (still untouched) root filesystem."""
        cid = record["Id"]
        rootfs = self._config.exec_root / "rootfs" / f"{cid}.copyup"
        lowerdirs = await asyncio.to_thread(self._images.lowerdirs, record["Image"])
        await asyncio.to_thread(snapshots.mount_rootfs, lowerdirs,
                                self._config.containers_dir / cid, rootfs)
        try:
            for spec in wanted:
                lock = self._copy_locks.setdefault(spec.source, asyncio.Lock())
                async with lock:
                    await self._activate(spec.source, _COPY_UP + cid)
                    try:
                        doc = self._docs[spec.source]
                        # A volume some running container has mounted is filled in place:
                        # renaming a new _data over it would hide the files from that one.
                        in_place = self._store.needs_mount(doc) or len(self._active[spec.source]) > 1
                        await asyncio.to_thread(_fill, doc, rootfs, spec.destination, in_place)
                    finally:
                        await self._deactivate(spec.source, _COPY_UP + cid)
        finally:
            await asyncio.to_thread(snapshots.unmount, rootfs)
            await asyncio.to_thread(shutil.rmtree, rootfs, True)

    def _details(self, record: dict[str, Any]) -> dict[str, MountSpec]:
        """What record["Mounts"] does not keep (tmpfs sizes, subpaths, whether a bind
        source may be created), from the HostConfig.Mounts of the container or of the
        containers it takes volumes from."""
        found: dict[str, MountSpec] = {}
        sources = []
        for ref in (record.get("HostConfig") or {}).get("VolumesFrom") or []:
            try:
                sources.append(self._containers.get(specs.parse_volumes_from(ref)[0]))
            except (NotFound, InvalidParameter):
                continue
        for owner in [*sources, record]:
            for raw in (owner.get("HostConfig") or {}).get("Mounts") or []:
                try:
                    spec = specs.parse_mount(raw)
                except (InvalidParameter, NotFound):
                    continue
                if owner is not record:
                    spec.create_source = True
                found[spec.destination] = spec
        return found

    def _matches(self, doc: dict[str, Any], filters: dict[str, list[str]]) -> bool:
        name = doc["Name"]
        for value in filters.get("dangling", []):
            dangling = value.lower() in _TRUE
            if bool(self._refs.get(name)) == dangling:
                return False
        names = filters.get("name", [])
        if names and not any(_search(pattern, name) for pattern in names):
            return False
        drivers = filters.get("driver", [])
        if drivers and doc.get("Driver") not in drivers:
            return False
        labels = doc.get("Labels") or {}
        return all(_label_matches(labels, v) for v in filters.get("label", []))


# ── helpers (blocking ones run in threads) ────────────────────────────────────────────

def _check_driver(name: str, driver: str) -> None:
    if driver != LOCAL_DRIVER:
        raise NotFound(f'create {name}: error looking up volume plugin {driver}: plugin "{driver}" not found')


def _check_bind_sources(plan: list[MountSpec]) -> None:
    for spec in plan:
        if spec.type == BIND and not spec.create_source and not os.path.exists(spec.source):
            raise InvalidParameter(f'invalid mount config for type "bind": bind source path does not exist: {spec.source}')


def _ensure_bind_source(source: str, create: bool, owner: tuple[int, int] | None = None) -> None:
    if os.path.exists(source):
        return
    if not create:
        raise InvalidParameter(f'invalid mount config for type "bind": bind source path does not exist: {source}')
    # `-v /host/dir:/dst` makes a missing host directory, as Docker does; with
    # --userns-remap the directories it makes belong to the remapped root (dockerd's
    # MkdirAllAndChownNew), so the container's root can use them.
    made = []
    parent = source
    while owner is not None and not os.path.exists(parent):
        made.append(parent)
        parent = os.path.dirname(parent)
    try:
        os.makedirs(source, 0o755, exist_ok=True)
        if owner is not None:
            for path in made:
                os.chown(path, *owner)
    except OSError as e:
        raise InvalidParameter(f"error while creating mount source path '{source}': mkdir {source}: {e.strerror.lower()}") from None


def _volume_source(doc: dict[str, Any], subpath: str) -> str:
    data = doc["Mountpoint"]
    if not subpath:
        return data
    resolved = copyup.resolve_in_root(Path(data), "/" + subpath)
    if resolved is None or not resolved.exists():
        raise InvalidParameter(f"cannot access path {os.path.join(data, subpath)}: no such file or directory")
    return str(resolved)


def _fill(doc: dict[str, Any], rootfs: Path, destination: str, in_place: bool) -> None:
    source = copyup.resolve_in_root(rootfs, destination)
    if source is None or not source.is_dir():
        return
    data = Path(doc["Mountpoint"])
    if not copyup.is_empty_dir(data):
        return  # Docker copies only into an empty volume
    if in_place:
        copyup.copy_tree(source, data)
        return
    # Copy aside and rename over the empty _data: a crash leaves the volume empty or
    # filled, never half-filled (store.reconcile removes the stage directory).
    stage = data.parent / f".stage-{secrets.token_hex(4)}"
    stage.mkdir(mode=0o755)
    try:
        copyup.copy_tree(source, stage)
        _sys.syncfs(stage)
        os.rename(stage, data)
        _sys.fsync_dir(data.parent)
    except OSError as e:
        shutil.rmtree(stage, ignore_errors=True)
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        # Something wrote into the volume meanwhile: it is no longer fresh.


def _label_matches(labels: dict[str, str], wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def _search(pattern: str, name: str) -> bool:
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return pattern in name
