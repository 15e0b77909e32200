# SPDX-License-Identifier: Apache-2.0
"""The container service: Docker's container verbs and their state machine.

    created ──start──▶ running ──(process exits)──▶ exited ──start──▶ running …
       │                  │ stop/kill: signal, then the exit is observed like any other
       └──────rm──────────┴──rm -f: SIGKILL, wait for the exit, then remove

Each container has a `_Live` entry holding its lock, the monitor task that waits on the
runtime for its exit, the futures of `wait` callers, and attach sessions queued until the
next start. State changes happen with the container's lock held; waiting for an exit never
holds it (the monitor needs it to record the exit). Records are persisted after every
change, so a new daemon restores them and reattaches to containers still running.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard import snapshots
from dockyard.daemon import cgroups, etcfiles, logrotate, names, rwlayer, stats, userns
from dockyard.daemon.create import (
    log_size_limit,
    new_record,
    validate_resources,
    validate_restart_policy,
)
from dockyard.daemon.hooks import Hooks
from dockyard.daemon.signals import parse_signal
from dockyard.errors import (
    Conflict,
    DockyardError,
    InvalidParameter,
    NotFound,
    NotModified,
    check_filter_keys,
)
from dockyard.oci import build_spec
from dockyard.oci.spec import resources_of
from dockyard.runtime import RuntimeFailure, read_log_batches
from dockyard.units import ZERO_TIME, human_duration, parse_rfc3339, rfc3339

if TYPE_CHECKING:
    from dockyard.config import DaemonConfig
    from dockyard.daemon.events import Events
    from dockyard.images import ImageService
    from dockyard.metadata.db import MetadataDB
    from dockyard.runtime import Runtime

log = logging.getLogger("dockyard.containers")

DEFAULT_STOP_TIMEOUT = 10


@dataclass
class _Live:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    monitor: asyncio.Task[None] | None = None
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    exit_waiters: list[asyncio.Future[dict[str, Any]]] = field(default_factory=list)
    removed_waiters: list[asyncio.Future[dict[str, Any]]] = field(default_factory=list)
    pending_attaches: list[asyncio.Future[Any]] = field(default_factory=list)
    restart_task: asyncio.Task[None] | None = None
    restart_delay: float = 0.0

    def __post_init__(self) -> None:
        self.exited.set()


class ContainerService:
    def __init__(self, config: DaemonConfig, db: MetadataDB, images: ImageService,
                 runtime: Runtime, events: Events):
        self._config = config
        self._db = db
        self._images = images
        self._runtime = runtime
        self._events = events
        self._records: dict[str, dict[str, Any]] = {}
        self._live: dict[str, _Live] = {}
        self.hooks = Hooks()

    # ── lifecycle of the service ──────────────────────────────────────────────────────

    async def restore(self) -> None:
        """Load every record; reattach to containers that kept running while no daemon
        was up, and record the exits of those that ended meanwhile."""
        records = await asyncio.to_thread(self._db.list_containers)
        await self.hooks.restore(records)
        for record in records:
            cid = record["Id"]
            self._records[cid] = record
            live = self._live[cid] = _Live()
            state = record["State"]
            if state["Running"]:
                live.exited.clear()
                if await self._runtime.is_alive(cid):
                    log.info("reattached to running container %s", cid[:12])
                else:
                    log.info("container %s exited while the daemon was down", cid[:12])
                live.monitor = asyncio.create_task(self._monitor(cid))
            elif await self._runtime.state(cid) is not None or \
                    await asyncio.to_thread(os.path.ismount, self._rootfs_dir(cid)):
                # Exit recorded, but the daemon stopped before releasing the run's resources;
                # or it died while starting, between mounting the root filesystem and runc.
                await self._release(record)
                if state["Status"] == "removing":
                    await self._remove(cid)
            elif state["Restarting"]:
                # The daemon died during a restart back-off: start_by_policy decides anew.
                state.update(Restarting=False, Status="exited")
            elif state["Status"] == "removing":
                await self._remove(cid)
        await asyncio.to_thread(self._remove_orphans)

    def orphans(self) -> list[Path]:
        """Container directories no record names: a daemon killed between making the
        directory and storing the record (create), or between the two (rm)."""
        root = self._config.containers_dir
        return [root / name for name in sorted(os.listdir(root))
                if name not in self._records and re.fullmatch(r"[0-9a-f]{64}", name)] if root.is_dir() else []

    def _remove_orphans(self) -> None:
        for path in self.orphans():
            log.warning("removing %s: a container directory without a container", path)
            rootfs = self._rootfs_dir(path.name)
            if os.path.ismount(rootfs):
                snapshots.unmount(rootfs)
            shutil.rmtree(path, ignore_errors=True)

    async def shutdown(self) -> None:
        """Stop watching; containers keep running under their monitors."""
        monitors = [live.monitor for live in self._live.values() if live.monitor]
        for monitor in monitors:
            monitor.cancel()
        await asyncio.gather(*monitors, return_exceptions=True)

    # ── lookups ───────────────────────────────────────────────────────────────────────

    def get(self, ref: str) -> dict[str, Any]:
        """The record of the container `ref` names: full ID, name, or unique ID prefix."""
        if ref in self._records:
            return self._records[ref]
        wanted = ref if ref.startswith("/") else "/" + ref
        for record in self._records.values():
            if record["Name"] == wanted:
                return record
        if ref and re.fullmatch(r"[0-9a-f]+", ref):
            matches = [r for cid, r in self._records.items() if cid.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        record = {k: copy.deepcopy(v) for k, v in self.get(ref).items() if not k.startswith("_")}
        if size:
            record["SizeRw"], record["SizeRootFs"] = self._sizes(record)
        return record

    def list(self, *, all: bool = False, limit: int | None = None,
             filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """`GET /containers/json` summaries (in memory; `add_sizes` and `show_image_ids`
        finish them where asked, off the event loop)."""
        records = sorted(self._records.values(), key=lambda r: r["Created"], reverse=True)
        filters = filters or {}
        check_list_filters(filters)
        if not all and not limit and not ({"status", "exited"} & filters.keys()):
            records = [r for r in records if r["State"]["Running"]]
        records = [r for r in records if self._matches(r, filters)]
        if limit and limit > 0:
            records = records[:limit]
        return [self._summary(r) for r in records]

    def add_sizes(self, summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """SizeRw and SizeRootFs on listing summaries (blocking: walks each rw layer)."""
        for summary in summaries:
            record = self._records.get(summary["Id"])
            if record is not None:
                summary["SizeRw"], summary["SizeRootFs"] = self._sizes(record)
        return summaries

    def show_image_ids(self, summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """dockerd's `Image` of a listing: the name a container was made with while it
        still names the container's image, its image ID once the name was removed or
        moved on (blocking: it looks the names up)."""
        resolved: dict[str, str | None] = {}
        for summary in summaries:
            ref = summary["Image"]
            if ref not in resolved:
                try:
                    resolved[ref] = self._images.resolve(ref)[0]
                except DockyardError:
                    resolved[ref] = None
            if resolved[ref] != summary["ImageID"]:
                summary["Image"] = summary["ImageID"]
        return summaries

    def in_use(self, image_id: str) -> list[dict[str, Any]]:
        """Records of the containers made from `image_id` (the image service reads their
        State to refuse removing an image a running container uses)."""
        return [r for r in self._records.values() if r["Image"] == image_id]

    # ── verbs ─────────────────────────────────────────────────────────────────────────

    async def create(self, body: dict[str, Any], name: str | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidParameter("invalid create request: expected a JSON object")
        image_ref = body.get("Image")
        if not image_ref or not isinstance(image_ref, str):
            raise InvalidParameter("Config cannot be empty in order to create a container")
        for key in ("Cmd", "Entrypoint"):
            if isinstance(body.get(key), str):
                body[key] = [body[key]]  # old clients send a string
            if body.get(key) is not None and not all(isinstance(a, str) for a in body[key]):
                raise InvalidParameter(f"invalid {key}: expected a list of strings")
        image = await asyncio.to_thread(self._images.get, image_ref)
        taken = {r["Name"] for r in self._records.values()}
        if name:
            full_name = names.validate(name)
            if full_name in taken:
                holder = next(cid for cid, r in self._records.items() if r["Name"] == full_name)
                raise Conflict(f'Conflict. The container name "{full_name}" is already in use by container "{holder}". You have to remove (or rename) that container to be able to reuse that name.')
        else:
            full_name = names.generate(taken)
        record = new_record(body, name=full_name, image_id=image.id,
                            image_config=image.config.get("config") or {},
                            container_dir=str(self._config.containers_dir))
        userns.check_host_config(self._config, record["HostConfig"])
        cid = record["Id"]
        try:
            await asyncio.to_thread(self._prepare_dirs, record)
            try:
                await self.hooks.on_create(record)
            except NotFound as e:
                # A network, container or volume the request names is missing: a 400, as
                # dockerd answers. Only a missing image may be a 404 here: the docker CLI
                # takes any 404 from create for one and goes to pull the image.
                raise InvalidParameter(e.message) from None
            await asyncio.to_thread(self._write_files, record)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, self._container_dir(cid), True)
            raise
        self._records[cid] = record
        self._live[cid] = _Live()
        self._emit(record, "create")
        warnings = []
        if record["HostConfig"].get("NetworkMode") == "host" and record["HostConfig"].get("PortBindings"):
            warnings.append("Published ports are discarded when using host network mode")
        return {"Id": cid, "Warnings": warnings}

    async def start(self, ref: str) -> None:
        record = self.get(ref)
        cid = record["Id"]
        live = self._live[cid]
        async with live.lock:
            state = record["State"]
            if state["Paused"]:
                raise Conflict("cannot start a paused container, try unpause instead")
            if state["Running"]:
                raise NotModified("container already started")
            if state["Status"] == "removing":
                raise Conflict("container is marked for removal and cannot be started")
            record.pop(MANUALLY_STOPPED, None)
            try:
                await self._start_locked(record, live)
                return
            except InvalidParameter as e:
                if not record["HostConfig"].get("AutoRemove"):
                    raise
                failure = e
        # Docker removes an --rm container whose start failed; `run --rm` waits on that.
        await self._remove(cid)
        raise failure

    async def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None:
        record = self.get(ref)
        live = self._live[record["Id"]]
        record[MANUALLY_STOPPED] = True
        if await self._cancel_restart(record, live):
            return
        if not record["State"]["Running"]:
            raise NotModified("container already stopped")
        config = record["Config"]
        stop_signal = parse_signal(sig or config.get("StopSignal") or "SIGTERM")
        if timeout is None:
            timeout = config.get("StopTimeout")
            if timeout is None:
                timeout = DEFAULT_STOP_TIMEOUT
        await self._signal(record, stop_signal)
        try:
            await asyncio.wait_for(live.exited.wait(), None if timeout < 0 else timeout)
        except TimeoutError:
            log.info("container %s did not exit within %ss; killing it", record["Id"][:12], timeout)
            await self._signal(record, signal.SIGKILL)
            await live.exited.wait()
        self._emit(record, "stop")

    async def restart(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None:
        record = self.get(ref)
        try:
            await self.stop(ref, timeout, sig)
        except NotModified:
            pass
        await self.start(record["Id"])
        self._emit(record, "restart")

    async def kill(self, ref: str, sig: str | None = None) -> None:
        try:
            record = self.get(ref)
        except NotFound as e:
            raise NotFound(f"Cannot kill container: {ref}: {e.message}") from None
        number = parse_signal(sig, signal.SIGKILL)
        if number in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            record[MANUALLY_STOPPED] = True
        if not record["State"]["Running"]:
            raise Conflict(f"Cannot kill container: {ref}: Container {record['Id']} is not running")
        await self._signal(record, number)

    async def pause(self, ref: str) -> None:
        record = self.get(ref)
        live = self._live[record["Id"]]
        async with live.lock:
            state = record["State"]
            if not state["Running"]:
                raise Conflict(f"Container {record['Id']} is not running")
            if state["Paused"]:
                raise Conflict(f"Container {record['Id']} is already paused")
            await self._runtime.pause(record["Id"])
            state.update(Paused=True, Status="paused")
            await self._persist(record)
        self._emit(record, "pause")

    async def unpause(self, ref: str) -> None:
        record = self.get(ref)
        live = self._live[record["Id"]]
        async with live.lock:
            if not record["State"]["Paused"]:
                raise Conflict(f"Container {record['Id']} is not paused")
            await self._runtime.resume(record["Id"])
            record["State"].update(Paused=False, Status="running")
            await self._persist(record)
        self._emit(record, "unpause")

    async def rename(self, ref: str, new_name: str) -> None:
        record = self.get(ref)
        if not new_name:
            raise InvalidParameter("Neither old nor new names may be empty")
        full_name = names.validate(new_name)
        old_name = record["Name"]
        if full_name == old_name:
            raise InvalidParameter("Renaming a container with the same name as its current name")
        for cid, other in self._records.items():
            if other["Name"] == full_name:
                raise Conflict(f'Error when allocating new name: Conflict. The container name "{full_name}" is already in use by container "{cid}". You have to remove (or rename) that container to be able to reuse that name.')
        async with self._live[record["Id"]].lock:
            record["Name"] = full_name
            try:
                await self._persist(record)
            except BaseException:
                record["Name"] = old_name
                raise
        self._emit(record, "rename", oldName=old_name)

    async def update(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        """`docker update`: new resource limits (applied at once to a running container)
        and restart policy."""
        record = self.get(ref)
        if not isinstance(body, dict):
            raise InvalidParameter("invalid update request: expected a JSON object")
        # Docker's CLI sends every Resources field; only those carrying a value count.
        unknown = {k for k, v in body.items() if k not in _UPDATABLE and k != "RestartPolicy"
                   and v not in (None, 0, "", [], {}, False)}
        if unknown:
            raise InvalidParameter(f"unsupported update field(s): {', '.join(sorted(unknown))}")
        live = self._live[record["Id"]]
        async with live.lock:
            host_config = record["HostConfig"]
            previous = copy.deepcopy(host_config)
            for key in _UPDATABLE:
                if body.get(key) not in (None, 0, "") or (key in body and key in ("CpusetCpus", "CpusetMems") and body[key] == ""):
                    host_config[key] = body[key]
            policy = body.get("RestartPolicy")
            if policy and policy.get("Name") not in (None, ""):
                if host_config.get("AutoRemove") and policy["Name"] != "no":
                    raise InvalidParameter("Restart policy cannot be updated because AutoRemove is enabled for the container")
                host_config["RestartPolicy"] = validate_restart_policy(policy)
            try:
                validate_resources(host_config)
            except InvalidParameter:
                record["HostConfig"] = previous
                raise
            try:
                if record["State"]["Running"]:
                    await self._runtime.update(record["Id"], resources_of(record))
                await self._persist(record)
            except RuntimeFailure as e:
                record["HostConfig"] = previous
                raise InvalidParameter(f"Cannot update container {record['Id']}: {e}") from None
        self._emit(record, "update")
        return {"Warnings": []}

    async def top(self, ref: str, ps_args: str | None = None) -> dict[str, Any]:
        """`docker top`: the host's `ps` output for the container's processes."""
        record = self.get(ref)
        if not record["State"]["Running"]:
            raise Conflict(f"Container {record['Id']} is not running")
        spec = await self._runtime.read_spec(record["Id"])
        members = set(await asyncio.to_thread(cgroups.pids, spec["linux"].get("cgroupsPath", "")))
        args = (ps_args or "-ef").split()
        proc = await asyncio.create_subprocess_exec(
            "ps", *args, *self._ps_selection(members), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0 and self._ps_selection(members):
            # As dockerd: some options (`f`) cannot be combined with -q; try without.
            proc = await asyncio.create_subprocess_exec(
                "ps", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await proc.communicate()
        if proc.returncode != 0:
            raise InvalidParameter(f"Error running ps: {err.decode().strip() or 'exit status ' + str(proc.returncode)}")
        lines = out.decode(errors="replace").splitlines()
        if not lines:
            raise InvalidParameter("Error running ps: no output")
        titles = lines[0].split()
        if "PID" not in titles:
            raise InvalidParameter("Couldn't find PID field in ps output")
        pid_index = titles.index("PID")
        processes = []
        for line in lines[1:]:
            fields = line.split(None, len(titles) - 1)
            if len(fields) > pid_index and fields[pid_index].isdigit() and int(fields[pid_index]) in members:
                processes.append(fields)
        return {"Titles": titles, "Processes": processes}

    def _ps_selection(self, members: set[int]) -> list[str]:
        """With --userns-remap the container's processes run as other users than the
        daemon, whom ps leaves out unless asked for them: name them (`-q`), as dockerd
        does."""
        if self._config.id_map.empty or not members:
            return []
        return ["-q" + ",".join(str(pid) for pid in sorted(members))]

    async def stats(self, ref: str, *, stream: bool) -> AsyncIterator[dict[str, Any]]:
        """`docker stats`: one message, or one a second while the container runs."""
        record = self.get(ref)
        previous = None
        while True:
            cgroups_path = None
            if record["State"]["Running"]:
                with contextlib.suppress(Exception):
                    cgroups_path = (await self._runtime.read_spec(record["Id"]))["linux"].get("cgroupsPath")
            current = await asyncio.to_thread(stats.sample, record, cgroups_path)
            if stream or previous is not None or not record["State"]["Running"]:
                yield stats.with_previous(current, previous)
                if not stream:
                    return
            previous = current
            if record["Id"] not in self._records:
                return
            # The one-shot answer also needs two samples for a CPU percentage.
            await asyncio.sleep(1.0 if stream else 0.1)

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        """`docker container prune`: remove stopped containers matching `filters`
        (`until`, `label`, `label!`)."""
        check_filter_keys(filters, ("until", "label", "label!"))
        cutoff = None
        if filters.get("until"):
            cutoff = _until_cutoff(filters["until"][0])
        deleted: list[str] = []
        reclaimed = 0
        for record in list(self._records.values()):
            if record["State"]["Running"] or record["State"]["Status"] == "removing":
                continue
            labels = record["Config"].get("Labels") or {}
            if not all(_label_matches(labels, v) for v in filters.get("label", [])):
                continue
            if any(_label_matches(labels, v) for v in filters.get("label!", [])):
                continue
            if cutoff is not None and parse_rfc3339(record["Created"]) >= cutoff:
                continue
            size = await asyncio.to_thread(rwlayer.upper_size, self._container_dir(record["Id"]) / "diff")
            try:
                await self._remove(record["Id"])
            except KeyError:
                continue
            deleted.append(record["Id"])
            reclaimed += size
        self._events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    async def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        record = self.get(ref)
        cid = record["Id"]
        live = self._live[cid]
        if record["State"]["Restarting"]:
            if not force:
                raise Conflict(f"cannot remove container \"{record['Name']}\": container is restarting: stop the container before removing or force remove")
            await self._cancel_restart(record, live)
        if record["State"]["Running"]:
            if not force:
                if record["State"]["Paused"]:
                    raise Conflict(f"cannot remove container \"{record['Name']}\": container is paused and must be unpaused first")
                raise Conflict(f"cannot remove container \"{record['Name']}\": container is running: stop the container before removing or force remove")
            await self._signal(record, signal.SIGKILL)
            await live.exited.wait()
        if record["State"]["Status"] == "removing":
            # AutoRemove (or another rm) is already at it: wait for it to finish.
            future = asyncio.get_running_loop().create_future()
            live.removed_waiters.append(future)
            await future
            return
        await self._remove(cid, volumes)

    async def wait(self, ref: str, condition: str = "not-running") -> asyncio.Future[dict[str, Any]]:
        """A future that resolves to `{"StatusCode": n, "Error": None}` when `condition`
        holds. Registered before this returns, so a later start cannot be missed."""
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidParameter(f"invalid condition: {condition!r}")
        record = self.get(ref)
        live = self._live[record["Id"]]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if condition == "not-running" and not record["State"]["Running"]:
            future.set_result(_wait_result(record))
        elif condition == "removed":
            live.removed_waiters.append(future)
        else:
            live.exit_waiters.append(future)
        return future

    async def attach(self, ref: str, *, logs: bool = False) -> Any:
        """An attach connection to the container's stdio (see runtime.Runtime.open_attach),
        opened now if it runs, else when it next starts (Docker's `run` attaches first)."""
        record = self.get(ref)
        cid = record["Id"]
        live = self._live[cid]
        async with live.lock:
            if record["State"]["Running"]:
                return await self._runtime.open_attach(cid)
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            live.pending_attaches.append(future)
        self._emit(record, "attach")
        return await future

    async def resize(self, ref: str, height: int, width: int) -> None:
        record = self.get(ref)
        if not record["State"]["Running"]:
            raise Conflict(f"Container {record['Id']} is not running")
        await self._runtime.resize(record["Id"], height, width)

    async def logs(self, ref: str, *, follow: bool, since: float | None, until: float | None,
                   tail: int | None, with_time: bool = True) -> AsyncIterator[list[Any]]:
        """The container's log records (runtime.LogRecord), in batches."""
        record = self.get(ref)
        if not record["LogPath"]:
            raise InvalidParameter("configured logging driver does not support reading")
        live = self._live[record["Id"]]
        stop = asyncio.Event()
        if follow and record["State"]["Running"]:
            async def stop_on_exit() -> None:
                await live.exited.wait()
                stop.set()
            watcher = asyncio.create_task(stop_on_exit())
        else:
            stop.set()
            watcher = None
        try:
            files = await asyncio.to_thread(logrotate.log_files, record)
            if tail is not None and len(files) > 1:
                # The last `tail` lines may reach back into rotated files.
                kept: collections.deque[Any] = collections.deque(maxlen=max(tail, 0))
                for path in files[:-1]:
                    async for batch in read_log_batches(path, since=since, until=until, with_time=with_time):
                        kept.extend(batch)
                async for batch in read_log_batches(files[-1], since=since, until=until, tail=tail,
                                                    with_time=with_time):
                    kept.extend(batch)
                if kept:
                    yield list(kept)
                if not follow:
                    return
                tail = 0
                files = files[-1:]
            for path in files[:-1]:
                async for batch in read_log_batches(path, since=since, until=until, with_time=with_time):
                    yield batch
            async for batch in read_log_batches(files[-1], follow=follow, since=since,
                                                until=until, tail=tail, stop=stop, with_time=with_time):
                yield batch
        finally:
            if watcher:
                watcher.cancel()

    @contextlib.asynccontextmanager
    async def rootfs(self, ref: str, *, with_mounts: bool = False) -> AsyncIterator[tuple[dict[str, Any], Path]]:
        """The container's merged root filesystem as the host sees it, with the container's
        lock held: the live mount of a running container, or a temporary overlay mount of a
        stopped one (unmounted afterwards). Mounts inside the container (volumes, binds,
        /etc/hosts…) are not part of it, unless `with_mounts` and the container runs: then
        it is the container's own view (`/proc/<pid>/root`, which `docker cp` needs)."""
        record = self.get(ref)
        cid = record["Id"]
        live = self._live[cid]
        async with live.lock:
            if record["State"]["Running"]:
                pid = record["State"].get("Pid") or 0
                yield record, Path(f"/proc/{pid}/root") if with_mounts and pid > 0 else self._rootfs_dir(cid)
                return
            target = self._config.exec_root / "rootfs" / f"{cid}.view"
            lowerdirs = await asyncio.to_thread(self._images.lowerdirs, record["Image"])
            await asyncio.to_thread(snapshots.mount_rootfs, lowerdirs, self._container_dir(cid), target,
                                    self._rw_owner)
            try:
                yield record, target
            finally:
                await asyncio.to_thread(snapshots.unmount, target)
                await asyncio.to_thread(shutil.rmtree, target, True)

    async def save(self, record: dict[str, Any]) -> None:
        """Persist a record another part of the daemon changed (health state, …)."""
        if record["Id"] in self._records:
            await self._persist(record)

    def container_dir(self, cid: str) -> Path:
        """Where the container's persistent files live (diff/ is its rw layer)."""
        return self._container_dir(cid)

    # ── internals ─────────────────────────────────────────────────────────────────────

    async def _start_locked(self, record: dict[str, Any], live: _Live) -> None:
        cid = record["Id"]
        rootfs = self._rootfs_dir(cid)
        image_id = record["Image"]
        lowerdirs = await asyncio.to_thread(self._images.lowerdirs, image_id)
        await asyncio.to_thread(snapshots.mount_rootfs, lowerdirs, self._container_dir(cid), rootfs,
                                self._rw_owner)
        try:
            options = await self.hooks.before_start(record)
            if self._rw_owner is not None:
                await asyncio.to_thread(self._give_etc_files, record)
                options["idmap"] = self._config.id_map
            spec = await asyncio.to_thread(
                build_spec, record, rootfs=str(rootfs), hostname_path=record["HostnamePath"],
                hosts_path=record["HostsPath"], resolv_path=record["ResolvConfPath"], **options)
            config = record["Config"]
            pid = await self._runtime.create(cid, spec, tty=bool(config.get("Tty")),
                                       stdin=bool(config.get("OpenStdin")),
                                       stdin_once=bool(config.get("StdinOnce")),
                                       log_path=Path(record["LogPath"]) if record["LogPath"] else None,
                                       log_size_max=log_size_limit(record["HostConfig"]))
        except BaseException as e:
            await self.hooks.after_exit(record)
            await asyncio.to_thread(snapshots.unmount, rootfs)
            if isinstance(e, RuntimeFailure):
                await self._record_start_failure(record, str(e))
            raise
        # The process has not run yet: attach sessions connected now miss no output.
        pending, live.pending_attaches = live.pending_attaches, []
        for future in pending:
            if not future.done():
                try:
                    future.set_result(await self._runtime.open_attach(cid))
                except Exception as e:  # noqa: BLE001 - handed to the attach caller
                    future.set_exception(e)
        try:
            await self._runtime.start(cid)
        except RuntimeFailure as e:
            await self._runtime.delete(cid, force=True)
            await self.hooks.after_exit(record)
            await asyncio.to_thread(snapshots.unmount, rootfs)
            await self._record_start_failure(record, str(e))
        state = record["State"]
        state.update(Status="running", Running=True, Paused=False, Restarting=False,
                     OOMKilled=False, Dead=False, Pid=pid or 0, ExitCode=0, Error="",
                     StartedAt=rfc3339(), FinishedAt=ZERO_TIME)
        live.exited.clear()
        await self._persist(record)
        live.monitor = asyncio.create_task(self._monitor(cid))
        self._emit(record, "start")

    async def _record_start_failure(self, record: dict[str, Any], message: str) -> None:
        """Docker keeps the failure in State.Error, with 127/126 for a missing or
        non-executable command, and answers 400 (the CLI turns that into its exit code)."""
        code = 128
        if "executable file not found" in message or "no such file or directory" in message:
            code = 127
        elif "permission denied" in message or "is a directory" in message:
            code = 126
        record["State"].update(Status="exited" if record["State"]["StartedAt"] != ZERO_TIME else "created",
                               ExitCode=code, Error=message)
        await self._persist(record)
        raise InvalidParameter(
            f"failed to create task for container: OCI runtime create failed: {message}: unknown")

    async def _monitor(self, cid: str) -> None:
        status = await self._runtime.wait(cid)
        # Once the exit is known it must be recorded even if the daemon is shutting down:
        # the runtime's delete removes the exit file this status came from.
        await asyncio.shield(self._record_exit(cid, status))

    async def _record_exit(self, cid: str, status: Any) -> None:
        record = self._records.get(cid)
        live = self._live.get(cid)
        if record is None or live is None:
            return
        async with live.lock:
            exited = {"Status": "exited", "Running": False, "Paused": False, "Pid": 0,
                      "ExitCode": status.code, "OOMKilled": status.oom_killed,
                      "FinishedAt": status.finished_at or rfc3339()}
            auto_remove = record["HostConfig"].get("AutoRemove")
            if auto_remove:
                exited["Status"] = "removing"
            # On disk before the exit file goes (crash safety); in memory only once the run's
            # resources are released, so nobody sees it stopped with its mounts still held.
            stored = copy.deepcopy(record)
            stored["State"].update(exited)
            await asyncio.to_thread(self._db.put_container, stored)
            await self._release(record)
            record["State"].update(exited)
            restart_in = self._restart_delay(record, live, status.code)
            if restart_in is not None:
                record["State"].update(Restarting=True, Status="restarting")
                live.restart_task = asyncio.create_task(self._restart_later(cid, restart_in))
                await self._persist(record)
            live.monitor = None
            live.exited.set()
            if status.oom_killed:
                self._emit(record, "oom")
            self._emit(record, "die", exitCode=str(status.code))
            result = _wait_result(record)
            waiters, live.exit_waiters = live.exit_waiters, []
            for future in waiters:
                if not future.done():
                    future.set_result(result)
        if auto_remove:
            await self._remove(cid)

    async def _release(self, record: dict[str, Any]) -> None:
        """Let go of what a run of the container held: runtime state, hook resources
        (network endpoints…), the rootfs mount. Safe to repeat."""
        await self._runtime.delete(record["Id"], force=True)
        await self.hooks.after_exit(record)
        await asyncio.to_thread(snapshots.unmount, self._rootfs_dir(record["Id"]))

    async def _remove(self, cid: str, volumes: bool = False) -> None:
        record = self._records[cid]
        live = self._live[cid]
        async with live.lock:
            record["State"]["Status"] = "removing"
            await self._persist(record)
            await self._runtime.delete(cid, force=True)
            await asyncio.to_thread(snapshots.unmount, self._rootfs_dir(cid))
            # `run --rm` drops the container's anonymous volumes, as `rm -v` does.
            await self.hooks.on_remove(record, volumes or bool(record["HostConfig"].get("AutoRemove")))
            await asyncio.to_thread(self._delete_files, cid)
            await asyncio.to_thread(self._db.delete_container, cid)
            del self._records[cid]
            del self._live[cid]
        self._emit(record, "destroy")
        result = _wait_result(record)
        for future in live.removed_waiters + live.exit_waiters:
            if not future.done():
                future.set_result(result)
        for future in live.pending_attaches:
            if not future.done():
                future.set_exception(NotFound(f"No such container: {cid}"))

    async def _signal(self, record: dict[str, Any], number: int) -> None:
        try:
            await self._runtime.kill(record["Id"], number)
            if record["State"]["Paused"]:
                # A frozen process only acts on the signal once thawed, as with Docker
                # (a SIGKILL may already have ended it, leaving nothing to resume).
                with contextlib.suppress(RuntimeFailure):
                    await self._runtime.resume(record["Id"])
                record["State"].update(Paused=False, Status="running")
        except RuntimeFailure as e:
            if record["State"]["Running"] and "not running" not in str(e) and "does not exist" not in str(e):
                raise Conflict(f"Cannot kill container {record['Id']}: {e}") from None
        self._emit(record, "kill", signal=str(number))

    def _restart_delay(self, record: dict[str, Any], live: _Live, code: int) -> float | None:
        """Seconds until the restart policy restarts this exited container, or None.
        Docker's back-off: 100 ms doubling to a minute, reset after 10 s of running."""
        policy = record["HostConfig"].get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if name == "no" or record.get(MANUALLY_STOPPED) or record["HostConfig"].get("AutoRemove"):
            return None
        if name == "on-failure":
            limit = int(policy.get("MaximumRetryCount") or 0)
            if code == 0 or (limit and record["RestartCount"] >= limit):
                return None
        ran = time.time() - parse_rfc3339(record["State"]["StartedAt"])
        if ran >= 10 or live.restart_delay == 0:
            live.restart_delay = 0.1
        else:
            live.restart_delay = min(live.restart_delay * 2, 60.0)
        return live.restart_delay

    async def _restart_later(self, cid: str, delay: float) -> None:
        await asyncio.sleep(delay)
        record = self._records.get(cid)
        live = self._live.get(cid)
        if record is None or live is None:
            return
        async with live.lock:
            live.restart_task = None
            if not record["State"]["Restarting"]:
                return
            record["RestartCount"] += 1
            try:
                await self._start_locked(record, live)
            except Exception as e:  # noqa: BLE001 - recorded in the container's state
                log.warning("restarting %s failed: %s", cid[:12], e)
                record["State"].update(Restarting=False, Status="exited")
                await self._persist(record)

    async def _cancel_restart(self, record: dict[str, Any], live: _Live) -> bool:
        """Stop a pending policy restart; True if one was pending."""
        if not record["State"]["Restarting"]:
            return False
        if live.restart_task:
            live.restart_task.cancel()
            live.restart_task = None
        async with live.lock:
            record["State"].update(Restarting=False, Status="exited")
            await self._persist(record)
        return True

    async def start_by_policy(self) -> None:
        """At daemon start: bring up stopped containers whose policy is `always`, or
        `unless-stopped` without a manual stop, as Docker does."""
        for record in list(self._records.values()):
            name = (record["HostConfig"].get("RestartPolicy") or {}).get("Name")
            if record["State"]["Running"] or record["State"]["Status"] == "removing":
                continue
            if name == "always" or (name == "unless-stopped" and not record.get(MANUALLY_STOPPED)):
                if record["State"]["Restarting"] or record["State"]["StartedAt"] != ZERO_TIME:
                    record["State"].update(Restarting=False)
                    try:
                        await self.start(record["Id"])
                    except Exception as e:  # noqa: BLE001 - one container must not stop the boot
                        log.warning("could not restart %s: %s", record["Id"][:12], e)

    async def _persist(self, record: dict[str, Any]) -> None:
        await asyncio.to_thread(self._db.put_container, copy.deepcopy(record))

    def _prepare_dirs(self, record: dict[str, Any]) -> None:
        directory = self._container_dir(record["Id"])
        snapshots.prepare_rw(directory, self._rw_owner)
        rwlayer.add_init_files(directory / "diff", self._images.lowerdirs(record["Image"]), self._rw_owner)

    @property
    def _rw_owner(self) -> tuple[int, int] | None:
        """The host IDs of the containers' root with --userns-remap (their rw layers
        belong to it, as Docker's do), else None."""
        idmap = self._config.id_map
        return None if idmap.empty else idmap.root

    def _give_etc_files(self, record: dict[str, Any]) -> None:
        """/etc/hostname, hosts and resolv.conf belong to the container's root, as without
        remapping: it may edit them (they are rewritten, so this is done at every start)."""
        for key in ("HostnamePath", "HostsPath", "ResolvConfPath"):
            with contextlib.suppress(FileNotFoundError):
                os.chown(record[key], *self._config.id_map.root)

    def _write_files(self, record: dict[str, Any]) -> None:
        etcfiles.write_all(record)
        if record["LogPath"]:
            Path(record["LogPath"]).touch()
        self._db.put_container(copy.deepcopy(record))

    def _delete_files(self, cid: str) -> None:
        directory = self._container_dir(cid)
        snapshots.remove_rw(directory)
        shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(self._rootfs_dir(cid), ignore_errors=True)

    def _container_dir(self, cid: str) -> Path:
        return self._config.containers_dir / cid

    def _rootfs_dir(self, cid: str) -> Path:
        return self._config.exec_root / "rootfs" / cid

    def _emit(self, record: dict[str, Any], action: str, **extra: str) -> None:
        attributes = dict(record["Config"].get("Labels") or {})
        attributes.update(image=record["Config"].get("Image", ""), name=record["Name"][1:], **extra)
        self._events.publish("container", action, record["Id"], attributes)

    def _sizes(self, record: dict[str, Any]) -> tuple[int, int]:
        rw = rwlayer.upper_size(self._container_dir(record["Id"]) / "diff")
        try:
            image_size = self._images.get(record["Image"]).size
        except NotFound:
            image_size = 0
        return rw, rw + image_size

    def _summary(self, record: dict[str, Any]) -> dict[str, Any]:
        config = record["Config"]
        summary = {
            "Id": record["Id"],
            "Names": [record["Name"]],
            "Image": config.get("Image", ""),
            "ImageID": record["Image"],
            # Docker quotes the arguments holding spaces (not the path), and only those.
            "Command": " ".join([record["Path"]] + [f"'{a}'" if " " in a else a for a in record["Args"]]),
            "Created": int(parse_rfc3339(record["Created"])),
            "Ports": summary_ports(record),
            "Labels": config.get("Labels") or {},
            "State": record["State"]["Status"],
            "Status": status_text(record["State"]),
            "HostConfig": {"NetworkMode": record["HostConfig"].get("NetworkMode", "default")},
            "NetworkSettings": {"Networks": record["NetworkSettings"].get("Networks") or {}},
            "Mounts": record.get("Mounts") or [],
        }
        return summary

    def _matches(self, record: dict[str, Any], filters: dict[str, list[str]]) -> bool:
        """Whether a container passes `ps` filters (values checked by `check_list_filters`)."""
        state = record["State"]
        for key, values in filters.items():
            if not values:
                continue
            if key == "id":
                ok = any(record["Id"].startswith(v) for v in values)
            elif key == "name":
                ok = any(re.search(v.lstrip("/"), record["Name"][1:]) for v in values)
            elif key == "status":
                ok = state["Status"] in values
            elif key == "exited":
                ok = state["Status"] == "exited" and state["ExitCode"] in [int(v) for v in values]
            elif key == "label":
                labels = record["Config"].get("Labels") or {}
                ok = all(_label_matches(labels, v) for v in values)
            elif key == "health":
                ok = ((state.get("Health") or {}).get("Status") or "none") in values
            elif key == "ancestor":
                ok = any(self._is_ancestor(record, v) for v in values)
            elif key in ("before", "since"):
                pivot = self.get(values[0])
                ok = (record["Created"] < pivot["Created"]) if key == "before" else (record["Created"] > pivot["Created"])
            elif key == "volume":
                ok = any(v in (m.get("Name"), m.get("Source"), m.get("Destination"))
                         for m in record.get("Mounts") or [] for v in values)
            elif key == "network":
                networks = record["NetworkSettings"].get("Networks") or {}
                ok = any(v == name or (n.get("NetworkID") or "").startswith(v)
                         for name, n in networks.items() for v in values)
            elif key in ("publish", "expose"):
                ports = set(record["HostConfig"].get("PortBindings") or {}) if key == "publish" \
                    else set(record["Config"].get("ExposedPorts") or {})
                ok = any(port in ports for v in values for port in _filter_ports(v))
            elif key == "is-task":
                ok = values[0] == "false"  # no swarm tasks here
            else:
                raise InvalidParameter(f"Invalid filter '{key}'")
            if not ok:
                return False
        return True

    def _is_ancestor(self, record: dict[str, Any], ref: str) -> bool:
        if record["Config"].get("Image") == ref:
            return True
        try:
            return self._images.get(ref).id == record["Image"]
        except NotFound:
            return False


def status_text(state: dict[str, Any]) -> str:
    """The human `Status` column of `docker ps`."""
    now = time.time()
    if state.get("Restarting"):  # waiting out a restart policy's back-off
        since = now - parse_rfc3339(state["FinishedAt"])
        return f"Restarting ({state['ExitCode']}) {human_duration(since)} ago"
    if state["Running"]:
        text = "Up " + human_duration(now - parse_rfc3339(state["StartedAt"]))
        if state["Paused"]:
            return text + " (Paused)"
        health = (state.get("Health") or {}).get("Status")
        if health == "starting":
            return text + " (health: starting)"
        return f"{text} ({health})" if health in ("healthy", "unhealthy") else text
    status = state["Status"]
    if status == "removing":
        return "Removal In Progress"
    if status == "dead":
        return "Dead"
    if status == "created":
        return "Created"
    finished = parse_rfc3339(state["FinishedAt"])
    if not finished:
        return ""
    return f"Exited ({state['ExitCode']}) {human_duration(now - finished)} ago"


def summary_ports(record: dict[str, Any]) -> list[dict[str, Any]]:
    """`ps`'s Ports: each published binding, and exposed ports with no binding."""
    ports = []
    for key, bindings in sorted((record["NetworkSettings"].get("Ports") or {}).items()):
        number, _, proto = key.partition("/")
        if not number.isdigit():
            continue
        if not bindings:
            ports.append({"PrivatePort": int(number), "Type": proto or "tcp"})
            continue
        for binding in bindings:
            entry: dict[str, Any] = {"PrivatePort": int(number), "Type": proto or "tcp"}
            if binding.get("HostIp") is not None:
                entry["IP"] = binding["HostIp"]
            if str(binding.get("HostPort") or "").isdigit():
                entry["PublicPort"] = int(binding["HostPort"])
            ports.append(entry)
    return ports


def _wait_result(record: dict[str, Any]) -> dict[str, Any]:
    return {"StatusCode": record["State"]["ExitCode"], "Error": None}


def _label_matches(labels: dict[str, str], wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


# HostConfig fields `docker update` may change.
_UPDATABLE = ("BlkioWeight", "CpuShares", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod",
              "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "Memory", "MemoryReservation",
              "MemorySwap", "KernelMemory", "NanoCpus", "PidsLimit", "CpuCount", "CpuPercent")

# A private record key (kept out of API answers): the user stopped the container, so
# `unless-stopped` and `always` leave it alone until it is started again.
MANUALLY_STOPPED = "_ManuallyStopped"


def _until_cutoff(value: str) -> float:
    """Docker's `until` filter: a timestamp, RFC 3339 time, or a Go duration before now."""
    import re as _re

    match = _re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", value)
    if match:
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[match[2]]
        return time.time() - float(match[1]) * scale
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise InvalidParameter(f"invalid until filter: {value}") from None


_STATES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
_HEALTH = ("starting", "healthy", "unhealthy", "none")


def check_list_filters(filters: dict[str, list[str]]) -> None:
    """Refuse `ps` filter values Docker refuses, before anything is listed."""
    for value in filters.get("status", []):
        if value not in _STATES:
            raise InvalidParameter(f"Invalid filter 'status={value}'")
    for value in filters.get("health", []):
        if value not in _HEALTH:
            raise InvalidParameter(f"Unrecognised filter value for health: {value}")
    for value in filters.get("exited", []):
        if not value.lstrip("-").isdigit():
            raise InvalidParameter(f'strconv.Atoi: parsing "{value}": invalid syntax')
    for key in ("publish", "expose"):
        for value in filters.get(key, []):
            _filter_ports(value)
    for value in filters.get("is-task", []):
        if value not in ("true", "false"):
            raise InvalidParameter(f"Invalid filter 'is-task=[{value}]'")


def _filter_ports(value: str) -> list[str]:
    """`80`, `80/udp`, `8000-8080/tcp` as the `port/proto` keys they name."""
    spec, _, proto = value.partition("/")
    start, _, end = spec.partition("-")
    try:
        first, last = int(start), int(end or start)
    except ValueError:
        raise InvalidParameter(f"Invalid filter '{value}'") from None
    return [f"{port}/{proto or 'tcp'}" for port in range(first, last + 1)]
