# SPDX-License-Identifier: Apache-2.0
"""`docker commit`: a new image from a container's rw layer on top of its image.

The new image's container config follows Docker's rules: start from the Config in the
request body (or, without one, the container's Config), apply the `--change` lines, then
fill what is still unset from the container's Config (`merge_config`). The image config
keeps the parent's platform and history and adds one history entry (`created_by` is the
container's command, `empty_layer` when the container changed nothing, in which case no
layer is stored, as Docker does). `Parent` is the container's image.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import TYPE_CHECKING, Any

from dockyard import __version__
from dockyard.daemon import rwlayer
from dockyard.distribution import reference
from dockyard.errors import Conflict, InvalidParameter
from dockyard.images.changes import apply_changes
from dockyard.images.platform import host_arch, now_rfc3339
from dockyard.snapshots.pipe import pipe_reader

if TYPE_CHECKING:
    from dockyard.daemon.containers import ContainerService
    from dockyard.daemon.events import Events
    from dockyard.images import ImageService

log = logging.getLogger("dockyard.commit")

# Platform keys a child image inherits from its parent's config.
_PLATFORM_KEYS = ("variant", "os.version", "os.features")


async def commit(containers: ContainerService, images: ImageService, events: Events, ref: str, *,
                 repo: str | None = None, tag: str | None = None, author: str = "",
                 comment: str = "", pause: bool = True, changes: list[str] | None = None,
                 config: dict[str, Any] | None = None) -> str:
    """Commit container `ref`; returns the new image ID. The container is paused meanwhile
    when `pause` is set, it runs and the container service can pause."""
    record = containers.get(ref)
    cid = record["Id"]
    state = record["State"]
    if state.get("Dead") or state.get("Status") == "dead":
        raise Conflict(f"You cannot commit container {cid} which is Dead")
    if state.get("Status") == "removing":
        raise Conflict(f"You cannot commit container {cid} which is being removed")
    tags = [image_tag(repo, tag)] if repo else []
    new_config = merge_config(apply_changes(config or record["Config"], changes or []), record["Config"])

    paused_here = await _pause(containers, record, pause)
    try:
        async with containers.rootfs(cid) as (record, _merged):
            upper = containers.container_dir(cid) / "diff"
            lowers = await asyncio.to_thread(images.lowerdirs, record["Image"])
            image_id = await asyncio.to_thread(
                _store, images, record, upper, lowers, new_config, tags, author, comment)
        # Before the unpause, as Docker orders them: pause, commit, unpause.
        attributes = dict(record["Config"].get("Labels") or {})
        attributes.update(image=record["Config"].get("Image", ""), name=record["Name"].lstrip("/"),
                          comment=comment, imageID=image_id, imageRef=tags[0] if tags else "")
        events.publish("container", "commit", cid, attributes)
    finally:
        if paused_here:
            await containers.unpause(cid)  # type: ignore[attr-defined]
    return image_id


def image_tag(repo: str, tag: str | None) -> str:
    """The normalized `repo:tag` a commit names its image with (`latest` by default)."""
    ref = reference.parse(repo)
    if ref.digest:
        raise InvalidParameter("cannot commit to digest reference")
    if tag:
        ref = ref.with_tag(tag)
    return str(ref.with_default_tag())


def merge_config(user: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """Docker's commit merge: fields of `user` left unset are filled from the container's
    Config; Env, ExposedPorts, Volumes and Labels gain the container's entries they lack."""
    cfg = copy.deepcopy(user)
    if not cfg.get("User"):
        cfg["User"] = container.get("User") or ""
    for key in ("ExposedPorts", "Volumes"):
        theirs = container.get(key) or {}
        if not cfg.get(key):
            cfg[key] = copy.deepcopy(container.get(key))
        else:
            for item, value in theirs.items():
                cfg[key].setdefault(item, value)
    env = list(cfg.get("Env") or [])
    if not env:
        cfg["Env"] = list(container.get("Env") or []) or cfg.get("Env")
    else:
        names = {entry.split("=", 1)[0] for entry in env}
        cfg["Env"] = env + [e for e in container.get("Env") or [] if e.split("=", 1)[0] not in names]
    labels = dict(cfg.get("Labels") or {})
    for key, value in (container.get("Labels") or {}).items():
        labels.setdefault(key, value)
    cfg["Labels"] = labels
    if not cfg.get("Entrypoint"):
        if not cfg.get("Cmd"):
            cfg["Cmd"] = copy.deepcopy(container.get("Cmd"))
        if cfg.get("Entrypoint") is None:
            cfg["Entrypoint"] = copy.deepcopy(container.get("Entrypoint"))
    theirs_check = container.get("Healthcheck")
    if not cfg.get("Healthcheck"):
        cfg["Healthcheck"] = copy.deepcopy(theirs_check)
    elif theirs_check:
        check = cfg["Healthcheck"]
        for key in ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
            if not check.get(key) and theirs_check.get(key):
                check[key] = copy.deepcopy(theirs_check[key])
    for key in ("WorkingDir", "StopSignal"):
        if not cfg.get(key) and container.get(key):
            cfg[key] = container[key]
    return {k: v for k, v in cfg.items() if v is not None or k in _KEEP_NULL}


# Keys Docker's Config always carries, null when unset (the rest are left out then).
_KEEP_NULL = frozenset({"Cmd", "Entrypoint", "Env", "Volumes", "OnBuild", "Labels", "Image"})


def image_config(parent: dict[str, Any], config: dict[str, Any], *, author: str, comment: str,
                 created_by: str, empty_layer: bool) -> dict[str, Any]:
    """The new image's config document (rootfs is filled in by the image service)."""
    created = now_rfc3339()
    cfg: dict[str, Any] = {"architecture": parent.get("architecture") or host_arch()}
    for key in _PLATFORM_KEYS:
        if parent.get(key):
            cfg[key] = parent[key]
    if author:
        cfg["author"] = author
    if comment:
        cfg["comment"] = comment
    entry: dict[str, Any] = {"created": created}
    if author:
        entry["author"] = author
    if created_by:
        entry["created_by"] = created_by
    if comment:
        entry["comment"] = comment
    if empty_layer:
        entry["empty_layer"] = True
    cfg.update(config=config, created=created, docker_version=__version__,
               history=[*(parent.get("history") or []), entry], os=parent.get("os") or "linux")
    return cfg


# ── helpers ───────────────────────────────────────────────────────────────────────────

async def _pause(containers: ContainerService, record: dict[str, Any], wanted: bool) -> bool:
    """Pause a running container for the commit if the service can; True if we did."""
    state = record["State"]
    if not wanted or not state.get("Running") or state.get("Paused"):
        return False
    pause = getattr(containers, "pause", None)
    if pause is None or getattr(containers, "unpause", None) is None:
        log.debug("no pause in the container service: committing %s while it runs", record["Id"][:12])
        return False
    await pause(record["Id"])
    return True


def _store(images: ImageService, record: dict[str, Any], upper: Any, lowers: list[Any],
           config: dict[str, Any], tags: list[str], author: str, comment: str) -> str:
    parent_id = record["Image"]
    empty = not rwlayer.has_changes(upper, lowers)
    cfg = image_config(images.config_of(parent_id), config, author=author, comment=comment,
                       created_by=" ".join(record["Config"].get("Cmd") or []), empty_layer=empty)
    if empty:
        return images.create_from_layers(cfg, [], tags, base_image=parent_id, parent=parent_id)
    # Owners go back to the container's IDs (--userns-remap): the image is portable, and
    # storing it maps them forward again.
    idmap = images.daemon_config.id_map
    with pipe_reader(lambda out: rwlayer.write_layer(upper, lowers, out, idmap)) as layer:
        return images.create_from_layers(cfg, [layer], tags, base_image=parent_id, parent=parent_id)
