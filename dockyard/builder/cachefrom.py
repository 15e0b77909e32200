# SPDX-License-Identifier: Apache-2.0
"""`build --cache-from`: steps satisfied from given images by their history, with the
rule of Docker's classic builder (moby image/cache/cache.go, `ImageCache.GetCache`).

For a step on top of `parent` whose history line would be `created_by`:

1. a hit in the local step cache counts only when that image is an ancestor of one of
   the sources (Docker's `isParent`): with --cache-from, the local cache of unrelated
   builds is not used;
2. otherwise a source matches when the parent's history and layers are a prefix of the
   source's (entry for entry, the `created` times included) and the source's next
   history entry has exactly this `created_by`;
3. when that entry is the source's last, the step's image *is* the source (same ID);
   otherwise an image is made for the step from the parent plus that one history
   entry and, unless it is an empty layer, the source's layer for it (no bytes are
   copied: the layer is already stored). From then on only that source is considered,
   as Docker does, so a build never jumps between sources.

Sources are looked up locally; a name that is not here is skipped (logged), as the
classic builder skips it. A made image has the same ID every time (its config only
holds what the source and the step fix), so a repeat makes nothing new.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from dockyard.daemon.commit import image_config
from dockyard.errors import InvalidParameter, NotFound

if TYPE_CHECKING:
    from dockyard.images import ImageService

log = logging.getLogger("dockyard.builder")


class CacheSources:
    """The --cache-from images of one build (blocking methods: call from a thread)."""

    def __init__(self, images: ImageService, names: list[str]):
        self.images = images
        self.sources: list[str] = []
        for name in names:
            try:
                self.sources.append(images.get(name).id)
            except (NotFound, InvalidParameter) as e:
                log.warning("Could not look up %s for cache resolution, skipping: %s", name, e)

    def __bool__(self) -> bool:
        return bool(self.sources)

    def accepts(self, image_id: str) -> bool:
        """Whether a local cache hit may be used: it is an ancestor of a source."""
        for source in self.sources:
            seen: set[str] = set()
            current = self._parent(source)
            while current and current not in seen:
                if current == image_id:
                    return True
                seen.add(current)
                current = self._parent(current)
        return False

    def match(self, parent: str, created_by: str, config: dict[str, Any]) -> str | None:
        """The image a source gives for this step, or None. `config` is the container
        config the step results in (for an image made here)."""
        parent_cfg = self.images.config_of(parent) if parent else None
        depth = len(parent_cfg.get("history") or []) if parent_cfg else 0
        for source in self.sources:
            target = self.images.config_of(source)
            history = target.get("history") or []
            if not _valid_parent(target, parent_cfg) or depth >= len(history):
                continue
            if (history[depth].get("created_by") or "") != created_by:
                continue
            if depth == len(history) - 1:
                return source
            image_id = self._restore(parent, parent_cfg, source, target, depth, config)
            self.sources = [source]
            return image_id
        return None

    def _restore(self, parent: str, parent_cfg: dict[str, Any] | None, source: str,
                 target: dict[str, Any], depth: int, config: dict[str, Any]) -> str:
        """An image for history entry `depth` of `target`, on top of `parent`."""
        from dockyard.images.service import PendingImage

        entry = dict(target["history"][depth])
        platform = {k: v for k, v in target.items()
                    if k in ("architecture", "os", "variant", "os.version", "os.features")}
        cfg = image_config({**platform, "history": (parent_cfg or {}).get("history") or []},
                           {**config, "Image": parent}, author=target.get("author") or "",
                           comment="", created_by="", empty_layer=False)
        cfg["history"][-1] = entry
        cfg["created"] = entry.get("created") or cfg["created"]
        diff_ids = list(((parent_cfg or {}).get("rootfs") or {}).get("diff_ids") or [])
        chains = list(self.images.db.get_image(parent).chain_ids) if parent else []
        if not entry.get("empty_layer"):
            index = len(diff_ids)
            diff_ids.append(target["rootfs"]["diff_ids"][index])
            record = self.images.db.get_image(source)
            if record is None:
                raise NotFound(f"No such image: {source}")
            chains.append(record.chain_ids[index])
        cfg["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
        with self.images.ingesting() as made:
            layers = [self.images.layer_record(chain) for chain in chains]
            image_id = self.images.store_blob(json.dumps(cfg, separators=(",", ":")).encode(), None, made)
            self.images.register([(PendingImage(image_id, cfg, layers, parent), [])])
        return image_id

    def _parent(self, image_id: str) -> str:
        record = self.images.db.get_image(image_id)
        return record.parent if record is not None else ""


def _valid_parent(target: dict[str, Any], parent: dict[str, Any] | None) -> bool:
    """Docker's isValidParent: the parent's history and layers begin the target's."""
    history = target.get("history") or []
    if not history:
        return False
    if parent is None:
        return True
    parent_history = parent.get("history") or []
    parent_layers = (parent.get("rootfs") or {}).get("diff_ids") or []
    if not parent_history and not parent_layers:
        return True
    layers = (target.get("rootfs") or {}).get("diff_ids") or []
    if len(parent_history) >= len(history) or len(parent_layers) > len(layers):
        return False
    return history[:len(parent_history)] == parent_history and layers[:len(parent_layers)] == parent_layers
