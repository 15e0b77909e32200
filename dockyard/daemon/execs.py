# SPDX-License-Identifier: Apache-2.0
"""`docker exec`: exec instances in running containers.

An exec is created (its config checked, an ID handed out), then started once: attached
(the caller relays its attach connection) or detached. Its exit code is kept for
`GET /exec/{id}/json` until the container is removed. The process is started by the
runtime's exec helper (runtime.Runtime.exec) with its stdio already in the daemon's
hands, so no output is lost between start and attach.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, DockyardError, InvalidParameter, NotFound
from dockyard.oci.spec import build_exec_process
from dockyard.runtime import RuntimeFailure

if TYPE_CHECKING:
    from dockyard.daemon.containers import ContainerService
    from dockyard.daemon.events import Events
    from dockyard.runtime import ExecSession, Runtime

log = logging.getLogger("dockyard.exec")

# Docker reports a process that could not be started at all as 126.
EXEC_START_FAILED = 126


@dataclass
class ExecInstance:
    id: str
    container_id: str
    config: dict[str, Any]
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    session: ExecSession | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def inspect(self) -> dict[str, Any]:
        command = list(self.config.get("Cmd") or [])
        return {
            "ID": self.id,
            "Running": self.running,
            "ExitCode": self.exit_code,
            "ProcessConfig": {
                "tty": bool(self.config.get("Tty")),
                "entrypoint": command[0] if command else "",
                "arguments": command[1:],
                "privileged": bool(self.config.get("Privileged")),
                "user": self.config.get("User") or "",
            },
            "OpenStdin": bool(self.config.get("AttachStdin")),
            "OpenStderr": bool(self.config.get("AttachStderr")),
            "OpenStdout": bool(self.config.get("AttachStdout")),
            "CanRemove": False,
            "ContainerID": self.container_id,
            "DetachKeys": self.config.get("DetachKeys") or "",
            "Pid": self.pid,
        }


class ExecService:
    def __init__(self, containers: ContainerService, runtime: Runtime, events: Events):
        self._containers = containers
        self._runtime = runtime
        self._events = events
        self._execs: dict[str, ExecInstance] = {}

    async def create(self, ref: str, body: dict[str, Any]) -> str:
        record = self._containers.get(ref)
        if not isinstance(body.get("Cmd"), list) or not body["Cmd"] or not all(isinstance(a, str) for a in body["Cmd"]):
            raise InvalidParameter("No exec command specified")
        _require_running(record, ref)
        instance = ExecInstance(secrets.token_hex(32), record["Id"], body)
        self._execs[instance.id] = instance
        record["ExecIDs"] = (record.get("ExecIDs") or []) + [instance.id]
        self._emit(instance, record, "exec_create: " + " ".join(body["Cmd"]))
        return instance.id

    def get(self, exec_id: str) -> ExecInstance:
        instance = self._execs.get(exec_id)
        if instance is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return instance

    async def start(self, exec_id: str, *, detach: bool, tty: bool | None = None,
                    console_size: list[int] | None = None) -> ExecSession:
        """Start the exec; returns its session (whose `attach` is open unless `detach`).
        Raises InvalidParameter with the runtime's message if the process cannot start,
        after recording exit code 126 as Docker does."""
        instance = self.get(exec_id)
        if instance.started:
            raise Conflict(f"Error: Exec command {exec_id} has already run")
        record = self._containers.get(instance.container_id)
        _require_running(record, instance.container_id)
        config = dict(instance.config)
        if tty is not None:
            config["Tty"] = tty
        if console_size:
            config["ConsoleSize"] = console_size
        instance.started = True
        try:
            async with self._containers.rootfs(record["Id"]) as (_, rootfs):
                base = (await self._runtime.read_spec(record["Id"]))["process"]
                process = build_exec_process(base, record, config, rootfs=str(rootfs))
            session = await self._runtime.exec(
                record["Id"], process, tty=bool(config.get("Tty")),
                stdin=bool(config.get("AttachStdin")) and not detach, attach=not detach,
                exec_id=instance.id)
        except (RuntimeFailure, DockyardError) as e:
            # Never started (no such user, no such binary…): Docker's 126.
            instance.exit_code = EXEC_START_FAILED
            instance.done.set()
            self._forget_running(instance)
            if isinstance(e, RuntimeFailure):
                raise InvalidParameter(f"OCI runtime exec failed: {e}: unknown") from None
            raise
        instance.session = session
        instance.pid = session.pid
        instance.running = True
        self._emit(instance, record, "exec_start: " + " ".join(config["Cmd"]))
        asyncio.create_task(self._reap(instance))
        return session

    async def resize(self, exec_id: str, height: int, width: int) -> None:
        instance = self.get(exec_id)
        if instance.session is None or not instance.running:
            raise Conflict(f"Exec {exec_id} is not running")
        await instance.session.resize(height, width)

    async def wait(self, exec_id: str) -> int | None:
        instance = self.get(exec_id)
        await instance.done.wait()
        return instance.exit_code

    async def on_remove(self, record: dict[str, Any], volumes: bool) -> None:
        """Lifecycle hook: a removed container's execs go with it."""
        for exec_id in [e.id for e in self._execs.values() if e.container_id == record["Id"]]:
            del self._execs[exec_id]

    async def _reap(self, instance: ExecInstance) -> None:
        assert instance.session is not None
        try:
            instance.exit_code = await instance.session.wait()
        except Exception:  # noqa: BLE001 - the container went away under the exec
            log.exception("exec %s: lost its exit status", instance.id[:12])
            instance.exit_code = 137
        instance.running = False
        instance.done.set()
        self._forget_running(instance)
        try:
            record = self._containers.get(instance.container_id)
        except NotFound:
            return
        self._emit(instance, record, "exec_die", exitCode=str(instance.exit_code))

    def _forget_running(self, instance: ExecInstance) -> None:
        try:
            record = self._containers.get(instance.container_id)
        except NotFound:
            return
        ids = [i for i in (record.get("ExecIDs") or []) if i != instance.id]
        record["ExecIDs"] = ids or None

    def _emit(self, instance: ExecInstance, record: dict[str, Any], action: str, **extra: str) -> None:
        attributes = dict(record["Config"].get("Labels") or {})
        attributes.update(image=record["Config"].get("Image", ""), name=record["Name"][1:],
                          execID=instance.id, **extra)
        self._events.publish("container", action, record["Id"], attributes)


def _require_running(record: dict[str, Any], ref: str) -> None:
    if record["State"]["Paused"]:
        raise Conflict(f"Container {ref} is paused, unpause the container before exec")
    if not record["State"]["Running"]:
        raise Conflict(f"Container {record['Id']} is not running")
