# SPDX-License-Identifier: Apache-2.0
"""Container lifecycle hooks: how networking, volumes and other subsystems take part in a
container's life without the state machine knowing them.

A hook is any object with some of these coroutine methods; `ContainerService` calls them
in registration order (and `on_remove`/`after_exit` in reverse):

    on_create(record)              may fill parts of the record (Mounts, NetworkSettings)
                                   or refuse with a DockyardError; a refusal undoes the
                                   hooks that already ran (their on_remove is called)
    before_start(record) -> dict   extra keyword arguments for oci.build_spec
                                   (netns_path, mounts, namespace_paths, …); lists are
                                   concatenated across hooks, other values must not clash
    after_exit(record)             release what before_start took (also after a failed start)
    on_remove(record, volumes)     drop what on_create made; `volumes` is `rm -v`
    restore(records)               once at daemon start, with every record, before serving

The caller holds the container's lock for all but `restore`.
"""

from __future__ import annotations

from typing import Any


class Hooks:
    """The registered hooks, called in order."""

    def __init__(self) -> None:
        self._hooks: list[Any] = []

    def register(self, hook: Any) -> None:
        self._hooks.append(hook)

    async def on_create(self, record: dict[str, Any]) -> None:
        done: list[Any] = []
        try:
            for hook in self._hooks:
                if hasattr(hook, "on_create"):
                    await hook.on_create(record)
                done.append(hook)
        except BaseException:
            for hook in reversed(done):
                if hasattr(hook, "on_remove"):
                    await hook.on_remove(record, volumes=True)
            raise

    async def before_start(self, record: dict[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for hook in self._hooks:
            if not hasattr(hook, "before_start"):
                continue
            for key, value in (await hook.before_start(record) or {}).items():
                if isinstance(value, list):
                    options.setdefault(key, []).extend(value)
                elif isinstance(value, dict):
                    options.setdefault(key, {}).update(value)
                elif key in options and options[key] != value:
                    raise RuntimeError(f"lifecycle hooks disagree on {key!r}")
                else:
                    options[key] = value
        return options

    async def after_exit(self, record: dict[str, Any]) -> None:
        for hook in reversed(self._hooks):
            if hasattr(hook, "after_exit"):
                await hook.after_exit(record)

    async def on_remove(self, record: dict[str, Any], volumes: bool) -> None:
        for hook in reversed(self._hooks):
            if hasattr(hook, "on_remove"):
                await hook.on_remove(record, volumes=volumes)

    async def restore(self, records: list[dict[str, Any]]) -> None:
        for hook in self._hooks:
            if hasattr(hook, "restore"):
                await hook.restore(records)
