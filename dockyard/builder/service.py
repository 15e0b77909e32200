# SPDX-License-Identifier: Apache-2.0
"""The build service: `POST /build` and `POST /build/prune` behind the router.

It owns what outlives one build: the step cache (metadata DB objects of kind
`buildcache`, key = sha256 of parent image + step text + content checksum → the step's
image), `RUN --mount=type=cache` directories, and the host settings builds inherit (proxy
variables as predefined args, the CA bundle RUN steps see). A `Build` (build.py) runs
one Dockerfile with it.

Proxies and TLS: HTTP(S)_PROXY, NO_PROXY, FTP_PROXY, ALL_PROXY (both cases) come from
`--build-arg` or else the daemon's environment, are set in every RUN step's environment
and are never written to the image config or history unless the Dockerfile declares them
with ARG. The host's CA bundle (/etc/ssl/certs/ca-certificates.crt, if present) is
bind-mounted read-only at /dev/dockyard-ca-certificates.crt in each RUN container (/dev
is a tmpfs there, so no mount point lands in the layer) and SSL_CERT_FILE,
REQUESTS_CA_BUNDLE, PIP_CERT, CURL_CA_BUNDLE, GIT_SSL_CAINFO and NODE_EXTRA_CA_CERTS
point at it (unless the step's environment sets them), so pip, curl, git, node and
OpenSSL-based tools trust what the host trusts; the image's own bundle is left as is.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard import snapshots
from dockyard.builder.build import (
    CA_BUNDLE_HOST,
    PROXY_ARGS,
    Build,
    BuildError,
    BuildOptions,
    url_fetch,
)
from dockyard.builder.context import BuildContext
from dockyard.builder.contextcache import ContextCache
from dockyard.builder.parser import parse
from dockyard.diskusage import tree_size
from dockyard.distribution import reference
from dockyard.errors import (
    DockyardError,
    InvalidParameter,
    NotFound,
    check_filter_keys,
    stream_error,
)
from dockyard.images.platform import now_rfc3339

if TYPE_CHECKING:
    from dockyard.config import DaemonConfig
    from dockyard.daemon.containers import ContainerService
    from dockyard.daemon.events import Events
    from dockyard.images import ImageService
    from dockyard.metadata.db import MetadataDB

log = logging.getLogger("dockyard.builder")

CACHE_KIND = "buildcache"


class BuildService:
    def __init__(self, config: DaemonConfig, db: MetadataDB, images: ImageService,
                 containers: ContainerService, events: Events):
        self.config = config
        self.db = db
        self.images = images
        self.containers = containers
        self.events = events
        self.root = Path(config.data_root) / "builder"
        self.work = Path(config.exec_root) / "builder"
        self._base_locks: dict[str, asyncio.Lock] = {}
        self.contexts = ContextCache(self.root / "contexts")
        # How a missing base image is fetched: daemon/pulling.pull, set by the daemon.
        self.pull: Callable[..., Any] = _no_registry

    # ── entry points ──────────────────────────────────────────────────────────────────

    async def receive_context(self, body: BinaryIO, key: str = "") -> BuildContext:
        """The build's context from the request body: a whole context tar, or with `key`
        an incremental one (contextsync.py) completed from the context cache."""
        if key:
            return await asyncio.to_thread(self.contexts.receive, key, body)
        return await asyncio.to_thread(BuildContext.receive, body, Path(self.config.tmp_dir))

    async def context_needs(self, key: str, manifest: bytes) -> list[str]:
        """The files of an incremental context's manifest the daemon must be sent."""
        return await asyncio.to_thread(self.contexts.needed, key, manifest)

    async def prepare(self, context: BuildContext, options: BuildOptions) -> Any:
        """Read and parse the Dockerfile; raises InvalidParameter (HTTP 400, before the
        stream starts) for what Docker also refuses up front."""
        name = options.dockerfile or "Dockerfile"
        data = await asyncio.to_thread(context.read_file, name)
        if data is None and name == "Dockerfile":
            data = await asyncio.to_thread(context.read_file, "dockerfile")
        if data is None:
            raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}")
        if not data.strip():
            raise InvalidParameter(f"the Dockerfile ({name}) cannot be empty")
        await asyncio.to_thread(context.apply_dockerignore, name)
        dockerfile = parse(data)
        if options.target:
            dockerfile.stage(options.target)
        return dockerfile

    async def build(self, context: BuildContext, dockerfile: Any, options: BuildOptions
                    ) -> AsyncIterator[dict[str, Any]]:
        """The build's JSON messages, ending in success or an errorDetail."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        build = Build(self, dockerfile, context, options, queue.put_nowait)
        for warning in dockerfile.warnings:
            queue.put_nowait({"stream": warning + "\n"})
        started = time.monotonic()

        async def run() -> None:
            try:
                image_id = await build.run()
                unused = sorted(set(options.buildargs) - build.used_args - set(PROXY_ARGS))
                if unused:
                    queue.put_nowait({"stream": f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n"})
                queue.put_nowait({"aux": {"ID": image_id}})
                if options.quiet:
                    queue.put_nowait({"stream": image_id + "\n"})
                else:
                    queue.put_nowait({"stream": f"Successfully built {image_id.removeprefix('sha256:')[:12]}\n"})
                for tag in options.tags:
                    await asyncio.to_thread(self._tag, image_id, tag)
                    if not options.quiet:
                        queue.put_nowait({"stream": f"Successfully tagged {reference.familiar(reference.parse(tag).with_default_tag())}\n"})
                self.events.publish("image", "build", image_id)
                log.info("built %s in %.2fs", image_id[:19], time.monotonic() - started)
            except Exception as e:
                if not isinstance(e, DockyardError):  # our bug: logged in full
                    log.exception("build failed")
                queue.put_nowait(stream_error(e))
            finally:
                queue.put_nowait(None)

        task = asyncio.create_task(run())
        held: list[dict[str, Any]] = []  # what -q keeps back, shown if the build fails (as dockerd)
        try:
            while (message := await queue.get()) is not None:
                if options.quiet and "stream" in message and not message["stream"].startswith("sha256:"):
                    held.append(message)
                    continue
                if "errorDetail" in message:
                    for kept in held:
                        yield kept
                    held = []
                yield message
        finally:
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.to_thread(context.close)

    async def prune(self, *, all: bool = False, filters: dict[str, list[str]] | None = None,
                    keep_storage: int = 0) -> dict[str, Any]:
        """`docker builder prune`: forget cache records (oldest first, keeping
        `keep_storage` bytes), remove the cache mounts, and delete the untagged
        intermediate images nothing else uses. Without `all`, only records whose image
        is no longer the parent chain of a tagged image are pruned (Docker keeps the
        cache of images in use unless -a). Cache records carry no labels: a `label`
        filter (`system prune --filter label=…` passes it on) matches none of them."""
        filters = filters or {}
        check_filter_keys(filters, ("until", "label", "label!"))
        if filters.get("label"):
            return {"CachesDeleted": None, "SpaceReclaimed": 0}
        cutoff = None
        if filters.get("until"):
            from dockyard.units import parse_rfc3339

            value = filters["until"][0]
            try:
                cutoff = time.time() - _go_duration_seconds(value)
            except ValueError:
                cutoff = parse_rfc3339(value)
        records = await asyncio.to_thread(self.db.list_objects, CACHE_KIND)
        records.sort(key=lambda r: r.get("last_used") or 0)
        in_use = await asyncio.to_thread(self._images_in_use) if not all else set()
        sizes = {r["key"]: r.get("size", 0) for r in records}
        total = sum(sizes.values())
        deleted: list[str] = []
        reclaimed = 0
        candidates: list[str] = []
        for record in records:
            if keep_storage and total <= keep_storage:
                break
            if cutoff is not None and (record.get("last_used") or 0) >= cutoff:
                continue
            if record["image"] in in_use:
                continue
            await asyncio.to_thread(self.db.delete_object, CACHE_KIND, record["key"])
            deleted.append(record["key"][:25])
            total -= sizes[record["key"]]
            candidates.append(record["image"])
        reclaimed += await asyncio.to_thread(self._remove_images, candidates)
        if not filters and not keep_storage:
            reclaimed += await asyncio.to_thread(self.contexts.prune)
        if all or not keep_storage:
            cache_dir = self.root / "cache-mounts"
            if cache_dir.exists() and all:
                reclaimed += await asyncio.to_thread(tree_size, cache_dir)
                await asyncio.to_thread(shutil.rmtree, cache_dir, True)
        return {"CachesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # ── what a Build asks for ─────────────────────────────────────────────────────────

    async def resolve_base(self, name: str, pull: bool, emit: Callable[[dict[str, Any]], None]) -> str:
        """The image ID of a FROM/--from reference: the local image, else (or with `pull`)
        pulled through the daemon (`self.pull`, see daemon/pulling.py), which falls back
        to the offline base images when no registry answers."""
        try:
            ref = reference.parse(name)
        except InvalidParameter as e:
            raise BuildError(f"invalid reference format: {e.message}") from None
        if not pull:
            try:
                return (await asyncio.to_thread(self.images.get, name)).id
            except NotFound:
                pass
        lock = self._base_locks.setdefault(str(ref.with_default_tag()), asyncio.Lock())
        async with lock:
            if not pull and await asyncio.to_thread(self.images.exists, name):
                return (await asyncio.to_thread(self.images.get, name)).id
            loop = asyncio.get_running_loop()

            def threadsafe_emit(message: dict[str, Any]) -> None:
                loop.call_soon_threadsafe(emit, message)

            try:
                await asyncio.to_thread(self.pull, ref if ref.digest else ref.with_default_tag(),
                                        emit=threadsafe_emit)
            except DockyardError as e:
                if not (pull and await asyncio.to_thread(self.images.exists, name)):
                    raise BuildError(e.message) from None
            return (await asyncio.to_thread(self.images.get, name)).id

    def cache_key(self, parent: str, parts: list[str]) -> str:
        return hashlib.sha256(json.dumps([parent or "scratch", *parts]).encode()).hexdigest()

    def cache_lookup(self, key: str) -> str | None:
        record = self.db.get_object(CACHE_KIND, key)
        if not record or not self.images.exists(record["image"]):
            return None
        record["last_used"] = time.time()
        self.db.put_object(CACHE_KIND, key, record)
        return record["image"]

    def cache_store(self, key: str, image_id: str, parent: str) -> None:
        size = 0
        try:
            image = self.images.get(image_id)
            parent_size = self.images.get(parent).size if parent else 0
            size = max(0, image.size - parent_size)
        except NotFound:
            pass
        now = time.time()
        self.db.put_object(CACHE_KIND, key, {"key": key, "image": image_id, "parent": parent,
                                             "created": now_rfc3339(), "last_used": now, "size": size})

    def proxy_value(self, name: str, buildargs: dict[str, str | None]) -> str | None:
        if name in buildargs:
            value = buildargs[name]
            return value if value is not None else os.environ.get(name)
        return os.environ.get(name)

    def ca_bundle(self) -> str | None:
        return CA_BUNDLE_HOST if os.path.isfile(CA_BUNDLE_HOST) else None

    def default_network(self) -> str:
        return "default"

    def cache_mount_dir(self, cache_id: str) -> Path:
        path = self.root / "cache-mounts" / hashlib.sha256(cache_id.encode()).hexdigest()[:32]
        if self.config.id_map.empty:
            path.mkdir(parents=True, exist_ok=True)
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir()
        except FileExistsError:
            return path
        # A cache mount belongs to the step's root (--userns-remap), as BuildKit's do.
        os.chown(path, *self.config.id_map.root)
        return path

    def scratch_dir(self, kind: str) -> Path:
        self.work.mkdir(parents=True, exist_ok=True)
        return self.work / f"{kind}-{secrets.token_hex(8)}"

    async def image_view(self, image_id: str, cleanups: list[Callable[[], None]]) -> Path:
        """A read-only-by-convention merged view of an image (COPY --from), unmounted
        when the build ends."""
        layer_dir = self.scratch_dir("view")
        target = self.scratch_dir("viewmnt")
        lowers = await asyncio.to_thread(self.images.lowerdirs, image_id)
        await asyncio.to_thread(snapshots.mount_rootfs, lowers, layer_dir, target)

        def cleanup() -> None:
            snapshots.unmount(target)
            shutil.rmtree(target, ignore_errors=True)
            snapshots.remove_rw(layer_dir)
            shutil.rmtree(layer_dir, ignore_errors=True)

        cleanups.append(cleanup)
        return target

    async def fetch_url(self, url: str, checksum: str | None, cleanups: list[Callable[[], None]]
                        ) -> tuple[Path, str]:
        """ADD <url>: the download (removed when the build ends) and its sha256."""
        path = self.scratch_dir("url")
        path.mkdir(parents=True)
        cleanups.append(lambda: shutil.rmtree(path, ignore_errors=True))
        dest = path / "download"
        digest = await asyncio.to_thread(url_fetch, url, dest, checksum)
        return dest, digest

    # ── helpers ───────────────────────────────────────────────────────────────────────

    def _tag(self, image_id: str, tag: str) -> None:
        ref = reference.parse(tag)
        if ref.digest:
            raise InvalidParameter(f"invalid reference format: {tag} (a tag may not carry a digest)")
        self.images.tag(image_id, ref.name, ref.tag)

    def _images_in_use(self) -> set[str]:
        """Images in the parent chain of a tagged image or a container's image."""
        keep: set[str] = set()
        for summary in self.images.list(True):
            if summary.get("RepoTags") and summary["RepoTags"] != ["<none>:<none>"]:
                self._chain(summary["Id"], keep)
        for record in self.containers.list(all=True):
            self._chain(record["ImageID"], keep)
        return keep

    def _chain(self, image_id: str, keep: set[str]) -> None:
        while image_id and image_id not in keep:
            keep.add(image_id)
            record = self.db.get_image(image_id)
            image_id = record.parent if record is not None else ""

    def _remove_images(self, candidates: list[str]) -> int:
        """Delete untagged cache images nothing uses, children first; returns bytes."""
        reclaimed = 0
        for image_id in reversed(candidates):
            try:
                image = self.images.get(image_id)
            except NotFound:
                continue
            if image.repo_tags or self.db.image_children(image_id) or self.containers.in_use(image_id):
                continue
            try:
                self.images.remove(image_id, containers_using=self.containers.in_use)
                reclaimed += image.size
            except DockyardError as e:
                log.debug("not pruning %s: %s", image_id[:19], e.message)
        return reclaimed


def _go_duration_seconds(value: str) -> float:
    from dockyard.images.changes import parse_duration

    try:
        return parse_duration(value) / 1e9
    except InvalidParameter:
        raise ValueError(value) from None


__all__ = ["BuildService", "BuildOptions", "BuildError"]


def _no_registry(ref: Any, **_: Any) -> Any:
    raise NotFound(f"no such image: {reference.familiar(ref)}")
