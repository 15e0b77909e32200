# SPDX-License-Identifier: Apache-2.0
"""Health checks: Config.Healthcheck probes run inside running containers on the daemon's
timers, driving `State.Health` (starting → healthy/unhealthy), `health_status` events and
the `(healthy)` suffix of `docker ps`.

Docker's rules: probes every Interval (StartInterval during the StartPeriod), each bounded
by Timeout; failures during the start period do not count; Retries consecutive failures
make the container unhealthy, one success makes it healthy; the last 5 results are kept,
their output cut at 4 KiB. Registered as a container lifecycle hook: checks begin when a
container starts and end when it exits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from dockyard.oci.spec import build_exec_process
from dockyard.units import rfc3339

if TYPE_CHECKING:
    from dockyard.daemon.containers import ContainerService
    from dockyard.daemon.events import Events
    from dockyard.runtime import Runtime

log = logging.getLogger("dockyard.health")

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_INTERVAL = 5 * SECOND
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096


class HealthMonitor:
    def __init__(self, containers: ContainerService, runtime: Runtime, events: Events):
        self._containers = containers
        self._runtime = runtime
        self._events = events
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # ── lifecycle hooks ──

    async def before_start(self, record: dict[str, Any]) -> dict[str, Any]:
        check = probe_config(record)
        if check is None:
            record["State"].pop("Health", None)
            return {}
        record["State"]["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": []}
        self._schedule(record, check)
        return {}

    async def after_exit(self, record: dict[str, Any]) -> None:
        task = self._tasks.pop(record["Id"], None)
        if task:
            task.cancel()
        health = record["State"].get("Health")
        if health:
            health["Status"] = "unhealthy" if health["Status"] != "healthy" else health["Status"]

    async def restore(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            check = probe_config(record)
            if check is not None and record["State"]["Running"]:
                record["State"].setdefault("Health", {"Status": "starting", "FailingStreak": 0, "Log": []})
                self._schedule(record, check)

    # ── probing ──

    def _schedule(self, record: dict[str, Any], check: dict[str, Any]) -> None:
        old = self._tasks.pop(record["Id"], None)
        if old:
            old.cancel()
        self._tasks[record["Id"]] = asyncio.create_task(self._loop(record["Id"], check))

    async def _loop(self, cid: str, check: dict[str, Any]) -> None:
        started = time.monotonic()
        while True:
            in_start_period = time.monotonic() - started < check["StartPeriod"] / SECOND
            delay = check["StartInterval"] if in_start_period and check["StartPeriod"] else check["Interval"]
            await asyncio.sleep(delay / SECOND)
            try:
                record = self._containers.get(cid)
            except Exception:  # noqa: BLE001 - the container is gone
                return
            if not record["State"]["Running"]:
                return
            if record["State"]["Paused"]:
                continue
            result = await self._probe(record, check)
            in_start_period = time.monotonic() - started < check["StartPeriod"] / SECOND
            await self._record(record, check, result, in_start_period)

    async def _probe(self, record: dict[str, Any], check: dict[str, Any]) -> dict[str, Any]:
        start = rfc3339()
        try:
            base = (await self._runtime.read_spec(record["Id"]))["process"]
            async with self._containers.rootfs(record["Id"]) as (_, rootfs):
                process = build_exec_process(base, record, {"Cmd": check["Cmd"]}, rootfs=str(rootfs))
            session = await self._runtime.exec(record["Id"], process, tty=False, stdin=False)
        except Exception as e:  # noqa: BLE001 - a probe that cannot start fails
            return {"Start": start, "End": rfc3339(), "ExitCode": -1, "Output": str(e)}
        output = bytearray()

        async def collect() -> int:
            assert session.attach is not None
            while (item := await session.attach.read()) is not None:
                if len(output) < MAX_OUTPUT:
                    output.extend(item[1][: MAX_OUTPUT - len(output)])
            return await session.wait()

        try:
            code = await asyncio.wait_for(collect(), check["Timeout"] / SECOND)
            text = output.decode(errors="replace")
        except TimeoutError:
            if session.pid:
                await self._kill_quietly(session.pid)
            code = -1
            text = f"Health check exceeded timeout ({check['Timeout'] / SECOND:g}s)"
        finally:
            session.close()
        return {"Start": start, "End": rfc3339(), "ExitCode": code, "Output": text}

    async def _record(self, record: dict[str, Any], check: dict[str, Any], result: dict[str, Any],
                      in_start_period: bool) -> None:
        health = record["State"].setdefault("Health", {"Status": "starting", "FailingStreak": 0, "Log": []})
        health["Log"] = (health.get("Log") or [])[-(MAX_LOG_ENTRIES - 1):] + [result]
        before = health["Status"]
        if result["ExitCode"] == 0:
            health["FailingStreak"] = 0
            health["Status"] = "healthy"
        elif not in_start_period or before != "starting":
            health["FailingStreak"] += 1
            if health["FailingStreak"] >= check["Retries"]:
                health["Status"] = "unhealthy"
        await self._containers.save(record)
        if health["Status"] != before:
            attributes = dict(record["Config"].get("Labels") or {})
            attributes.update(image=record["Config"].get("Image", ""), name=record["Name"][1:])
            self._events.publish("container", f"health_status: {health['Status']}", record["Id"], attributes)

    @staticmethod
    async def _kill_quietly(pid: int) -> None:
        import os
        import signal

        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def probe_config(record: dict[str, Any]) -> dict[str, Any] | None:
    """The container's health check with Docker's defaults filled in, or None."""
    check = record["Config"].get("Healthcheck") or {}
    test = check.get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        cmd = list(test[1:])
    elif test[0] == "CMD-SHELL":
        shell = record["Config"].get("Shell") or ["/bin/sh", "-c"]
        cmd = list(shell) + [" ".join(test[1:])]
    else:
        return None
    if not cmd:
        return None
    return {
        "Cmd": cmd,
        "Interval": int(check.get("Interval") or DEFAULT_INTERVAL),
        "Timeout": int(check.get("Timeout") or DEFAULT_TIMEOUT),
        "StartPeriod": int(check.get("StartPeriod") or 0),
        "StartInterval": int(check.get("StartInterval") or DEFAULT_START_INTERVAL),
        "Retries": int(check.get("Retries") or DEFAULT_RETRIES),
    }
