# SPDX-License-Identifier: Apache-2.0
"""The bootstrapper: makes offline base images in a daemon, on request or when a pull finds
no registry.

`ensure()` makes a recipe's image (its bases first): an image already here from the same
recipe is kept; else the machine-wide cache (cache.py) is loaded; else it is built —
busybox and hello-world from the host, debian with mmdebstrap, the others by the builder
from their Dockerfiles (so the builder's step cache applies) — tagged with every name the
recipe answers to, and stored in the machine cache.

`offline()` is what a pull does when no registry answered: busybox, hello-world and
images in the machine cache are made straight away; the others only when the pull or the
daemon allows it (`pull --bootstrap`, `dockyardd --bootstrap`), since they take minutes
and download packages. Otherwise the error says how to ask for them.
"""

from __future__ import annotations

import asyncio
import io
import tarfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dockyard.baseimages import catalog, rootfs
from dockyard.baseimages.cache import MachineCache
from dockyard.baseimages.recipes import Recipe, dependencies, find
from dockyard.distribution import reference
from dockyard.errors import DockyardError, NotFound
from dockyard.images.platform import host_arch, host_variant, now_rfc3339

if TYPE_CHECKING:
    from dockyard.builder import BuildService
    from dockyard.distribution.reference import Reference
    from dockyard.images.service import ImageService

Emit = Callable[[dict[str, Any]], None]
# The label a recipe's image carries: `<recipe>@<key prefix>`; tells "made from this recipe".
LABEL = "org.dockyard.base-image"


class BootstrapError(DockyardError):
    status = 404


class Bootstrapper:
    def __init__(self, images: ImageService, builder: BuildService, cache: MachineCache,
                 *, auto: bool = False):
        self.images = images
        self.builder = builder
        self.cache = cache
        self.auto = auto
        self.loop: asyncio.AbstractEventLoop | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    # ── entry points ──────────────────────────────────────────────────────────────────

    async def ensure(self, recipe: Recipe, emit: Emit, *, rebuild: bool = False) -> str:
        """The image ID of `recipe`, made if it is not here. `rebuild` builds it again
        (not its bases), bypassing the machine cache and the builder's step cache."""
        for base in dependencies(recipe):
            await self._make(base, emit, rebuild=False)
        return await self._make(recipe, emit, rebuild=rebuild)

    def offline(self, ref: Reference, emit: Emit, *, error: str, allow_build: bool) -> str:
        """From a pull thread, once no registry answered: make `ref`'s offline base image
        (see the module docstring for when), else raise an error saying how to ask."""
        familiar = reference.familiar(ref)
        recipe = find(str(ref))
        if recipe is None:
            raise BootstrapError(error)
        present = self.present(recipe)
        allowed = recipe.cheap or allow_build or self.auto or self.cache.has(recipe)
        if present and not allowed:
            emit({"status": f"Status: Image is up to date for {familiar} (offline base image)"})
            return present
        if not allowed:
            raise BootstrapError(
                f"{error}; dockyard can build {familiar} from Debian packages instead: run "
                f"'dockyard image bootstrap {recipe.name}' (or 'dockyard pull --bootstrap {familiar}')")
        emit({"status": f"Pulling from {ref.path}", "id": ref.tag or "latest"})
        before = self._image_id(familiar)
        image_id = self._blocking(self.ensure(recipe, emit))
        emit({"status": f"Digest: {image_id}"})
        verb = "Image is up to date" if before == image_id else "Built newer image (offline base image)"
        emit({"status": f"Status: {verb} for {familiar}"})
        return image_id

    def present(self, recipe: Recipe) -> str | None:
        """The ID of the image the recipe's primary name holds, if this recipe made it."""
        if recipe.cheap:
            return self._image_id(recipe.primary)
        try:
            config = self.images.config_of(self.images.get(recipe.primary).id)
        except NotFound:
            return None
        labels = (config.get("config") or {}).get("Labels") or {}
        return self.images.get(recipe.primary).id if labels.get(LABEL) == _mark(recipe) else None

    # ── making one image ──────────────────────────────────────────────────────────────

    async def _make(self, recipe: Recipe, emit: Emit, *, rebuild: bool) -> str:
        lock = self._locks.setdefault(recipe.name, asyncio.Lock())
        async with lock:
            if not rebuild:
                image_id = await asyncio.to_thread(self.present, recipe)
                if image_id:
                    await asyncio.to_thread(self._tag_all, recipe, image_id)
                    return image_id
                if not recipe.cheap and await asyncio.to_thread(self.cache.load, self.images, recipe):
                    emit({"stream": f"Loaded {recipe.primary} from the base-image cache ({self.cache.directory})\n"})
                    image_id = await asyncio.to_thread(self.present, recipe)
                    if image_id:
                        return image_id
            emit({"stream": f"Building {recipe.primary} ({_how(recipe)})\n"})
            if recipe.kind == "host":
                return await asyncio.to_thread(catalog.build, self.images, recipe.name)
            if recipe.kind == "rootfs":
                image_id = await asyncio.to_thread(self._bootstrap_rootfs, recipe)
            else:
                image_id = await self._build_dockerfile(recipe, emit, nocache=rebuild)
            await asyncio.to_thread(self._tag_all, recipe, image_id)
            await asyncio.to_thread(self.cache.store, self.images, recipe)
            emit({"stream": f"Made {', '.join(recipe.references)}\n"})
            return image_id

    def _bootstrap_rootfs(self, recipe: Recipe) -> str:
        mirror = rootfs.host_mirror()
        config: dict[str, Any] = {
            "architecture": host_arch(), "os": "linux", "created": now_rfc3339(),
            "config": {**rootfs.config(recipe.slim), "Labels": {LABEL: _mark(recipe)}},
            "history": [{"created": now_rfc3339(), "created_by": rootfs.created_by(recipe.slim, mirror)},
                        {"created": now_rfc3339(), "created_by": 'CMD ["bash"]', "empty_layer": True}],
        }
        if host_variant():
            config["variant"] = host_variant()
        with rootfs.layer_stream(recipe.slim, mirror) as stream:
            return self.images.create_from_layers(config, [stream], recipe.references)

    async def _build_dockerfile(self, recipe: Recipe, emit: Emit, *, nocache: bool) -> str:
        from dockyard.builder import BuildOptions

        context = await self.builder.receive_context(io.BytesIO(_context_tar(recipe)))
        options = BuildOptions(tags=[recipe.primary], labels={LABEL: _mark(recipe)},
                               nocache=nocache)
        try:
            dockerfile = await self.builder.prepare(context, options)
        except BaseException:
            await asyncio.to_thread(context.close)
            raise
        image_id = ""
        async for message in self.builder.build(context, dockerfile, options):
            if message.get("error"):
                raise DockyardError(f"building {recipe.primary} from its recipe: {message['error']}")
            if "aux" in message:
                image_id = message["aux"].get("ID", "")
            elif "stream" in message:
                emit({"stream": message["stream"]})
        if not image_id:
            raise DockyardError(f"building {recipe.primary} from its recipe gave no image")
        return image_id

    def _tag_all(self, recipe: Recipe, image_id: str) -> None:
        for name in recipe.references:
            if self._image_id(name) != image_id:
                self.images.tag(image_id, *name.rsplit(":", 1))

    def _image_id(self, name: str) -> str | None:
        try:
            return self.images.get(name).id
        except NotFound:
            return None

    def _blocking(self, coroutine: Any) -> Any:
        assert self.loop is not None, "the bootstrapper runs on the daemon's loop"
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


def _mark(recipe: Recipe) -> str:
    return f"{recipe.name}@{recipe.key[:16]}"


def _how(recipe: Recipe) -> str:
    if recipe.kind == "rootfs":
        return f"Debian {rootfs.SUITE} with mmdebstrap from {rootfs.host_mirror()}"
    if recipe.kind == "dockerfile":
        return f"from Debian packages, FROM {recipe.base}"
    return "from this host"


def _mode(recipe: Recipe, path: str) -> int:
    from dockyard.baseimages.recipes import RECIPES_DIR

    assert recipe.directory is not None
    source = recipe.directory / path
    if not source.exists():  # a shared file: _shared/... lives beside the recipes
        source = RECIPES_DIR / path
    return source.stat().st_mode & 0o777


def _context_tar(recipe: Recipe) -> bytes:
    """The recipe directory as a build context (modes from the files on disk)."""
    assert recipe.directory is not None
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, data in recipe.files:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = _mode(recipe, path)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
