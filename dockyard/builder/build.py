# SPDX-License-Identifier: Apache-2.0
"""One build: the stages of a parsed Dockerfile run against the daemon's services.

    plan      the target stage and the stages it needs (FROM <stage>, COPY --from=<stage>)
    run       each needed stage is a task; independent stages run concurrently, their
              output is released in stage order so the stream reads like Docker's
    step      per instruction: cache lookup (parent image + instruction text with args +
              content checksum) → on a miss, execute and commit an image
                config-only  a new image config, no layer
                RUN          a real container (same runtime as `run`), its rw layer committed
                             (`runmounts`: its --mount flags, and their mount points
                             taken out of the layer)
                COPY/ADD     an overlay over the parent's layers, files extracted into it
                WORKDIR      the same overlay, to make the directory
    finish    `--label` (one more config-only image), `--squash` (`squash`)

Every step leaves an image whose parent is the step before (Docker's classic builder
does the same); those images are the cache, found again through the `buildcache` objects
in the metadata DB, so the cache survives restarts. With `--cache-from`, the given
images stand in for it (`cachefrom`). Intermediate containers and overlay work
directories are removed whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import logging
import os
import posixpath
import re
import shutil
import stat
import tarfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard import baseimages, snapshots
from dockyard.builder import runmounts, steps
from dockyard.builder.cachefrom import CacheSources
from dockyard.builder.context import BuildContext, Entry, clean
from dockyard.builder.dockerignore import Matcher
from dockyard.builder.parser import (
    Dockerfile,
    Heredoc,
    Instruction,
    ParseError,
    Stage,
    parse_instruction,
)
from dockyard.builder.shell import expand_word
from dockyard.builder.squash import squash
from dockyard.daemon import rwlayer
from dockyard.daemon.commit import image_config
from dockyard.daemon.rootpath import Root
from dockyard.daemon.treetar import TarWriter, extract
from dockyard.errors import DockyardError, InvalidParameter, NotFound
from dockyard.idmap import IDENTITY, IDMap, IDMapError
from dockyard.images.changes import env_map
from dockyard.images.platform import host_arch, host_variant
from dockyard.oci.user import resolve_user
from dockyard.snapshots.pipe import pipe_reader

if TYPE_CHECKING:
    from dockyard.builder.service import BuildService

log = logging.getLogger("dockyard.builder")

PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
              "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
# Where RUN steps see the host's CA bundle: inside the container's /dev tmpfs, so the
# mount point never lands in the rw layer (and so never in a commit).
CA_BUNDLE_HOST = "/etc/ssl/certs/ca-certificates.crt"
CA_BUNDLE_CONTAINER = "/dev/dockyard-ca-certificates.crt"
_CA_ENV = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO",
           "NODE_EXTRA_CA_CERTS")


class BuildError(DockyardError):
    """A build that failed in a step: shown in the stream's errorDetail."""

    status = 400


@dataclass
class BuildOptions:
    tags: list[str] = field(default_factory=list)
    dockerfile: str = "Dockerfile"
    buildargs: dict[str, str | None] = field(default_factory=dict)
    nocache: bool = False
    pull: bool = False
    rm: bool = True
    forcerm: bool = False
    quiet: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    target: str = ""
    network_mode: str = ""
    extra_hosts: list[str] = field(default_factory=list)
    cache_from: list[str] = field(default_factory=list)
    platform: str = ""
    squash: bool = False


@dataclass
class StageState:
    stage: Stage
    image_id: str = ""                # "" while on scratch with nothing committed
    config: dict[str, Any] = field(default_factory=dict)
    parent_cfg: dict[str, Any] = field(default_factory=dict)  # the whole image config
    args: dict[str, str | None] = field(default_factory=dict)  # declared in this stage
    author: str = ""
    cmd_set: bool = False


Emit = Callable[[dict[str, Any]], None]


class Build:
    def __init__(self, service: BuildService, dockerfile: Dockerfile, context: BuildContext,
                 options: BuildOptions, emit: Emit):
        self.svc = service
        self.df = dockerfile
        self.ctx = context
        self.opts = options
        self.emit_raw = emit
        self.escape = dockerfile.escape
        self.results: dict[int, asyncio.Future[str]] = {}
        self.bases: dict[int, str] = {}   # stage → the image its FROM named ("" for scratch)
        self.sources: CacheSources | None = None
        self.used_args: set[str] = set()
        self.platform = options.platform or f"linux/{host_arch()}" + (f"/{host_variant()}" if host_variant() else "")
        self.auto_args = _platform_args(self.platform)
        self.meta = self._meta_args()
        self.total = len(dockerfile.meta_args) + sum(1 + len(s.instructions) for s in dockerfile.stages)
        self.step_numbers: dict[int, int] = {}
        self._outputs: dict[int, list[dict[str, Any]]] = {}
        self.cleanups: list[Callable[[], None]] = []
        n = len(dockerfile.meta_args)
        for stage in dockerfile.stages:
            self.step_numbers[stage.index] = n + 1
            n += 1 + len(stage.instructions)

    # ── the whole build ───────────────────────────────────────────────────────────────

    async def run(self) -> str:
        """Build the target stage; returns the final image ID."""
        target = self.df.stage(self.opts.target) if self.opts.target else self.df.stages[-1]
        needed = self._needed(target)
        for i, ins in enumerate(self.df.meta_args):
            self.emit_raw({"stream": f"Step {i + 1}/{self.total} : {ins.original}\n"})
        if self.opts.cache_from and not self.opts.nocache:
            self.sources = await asyncio.to_thread(CacheSources, self.svc.images, self.opts.cache_from)
        loop = asyncio.get_running_loop()
        for index in needed:
            self.results[index] = loop.create_future()
            self._outputs[index] = []
        tasks = {i: asyncio.create_task(self._stage_task(self.df.stages[i])) for i in needed}
        try:
            # Release each stage's output in order: the first unfinished stage streams
            # live, later ones are held until it is done.
            for index in needed:
                await self._drain(index, tasks)
            image_id = tasks[target.index].result()
            if self.opts.labels:
                image_id = await self._label(image_id)
            if self.opts.squash:
                image_id = await self._squash(image_id, self.bases[target.index])
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            for cleanup in reversed(self.cleanups):
                await asyncio.to_thread(cleanup)
        return image_id

    async def _drain(self, index: int, tasks: dict[int, asyncio.Task[str]]) -> None:
        """Stream stage `index`'s output until it is done; raise its error, or the
        first error of a later stage (which stops this one: a build stops at its first
        failure, and a sequential build would have failed there too)."""
        task = tasks[index]
        self._live = index
        while True:
            self._release(index)
            if task.done():
                if not self._outputs[index]:
                    task.result()  # raises the stage's error
                    return
                continue
            failed = next((i for i, t in tasks.items()
                           if t.done() and not t.cancelled() and t.exception() is not None), None)
            if failed is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                self._release(index)
                self._release(failed)
                tasks[failed].result()
            await asyncio.wait([task], timeout=0.05)

    def _release(self, index: int) -> None:
        buffered, self._outputs[index] = self._outputs[index], []
        for message in buffered:
            self.emit_raw(message)

    def emit(self, stage: Stage, message: dict[str, Any]) -> None:
        if getattr(self, "_live", None) == stage.index and not self._outputs[stage.index]:
            self.emit_raw(message)
        else:
            self._outputs[stage.index].append(message)

    def say(self, stage: Stage, text: str) -> None:
        self.emit(stage, {"stream": text})

    def _needed(self, target: Stage) -> list[int]:
        names = {s.name: s.index for s in self.df.stages if s.name}
        needed: set[int] = set()

        def visit(stage: Stage) -> None:
            if stage.index in needed:
                return
            needed.add(stage.index)
            refs = [expand_word(stage.base, self.meta, self.escape)]
            for ins in stage.instructions:
                if ins.cmd in ("copy", "add") and ins.flag("from"):
                    refs.append(expand_word(ins.flag("from") or "", self.meta, self.escape))
                for spec in ins.flags.get("mount", []):
                    m = re.search(r"(?:^|,)from=([^,]+)", spec)
                    if m:
                        refs.append(m.group(1))
            for ref in refs:
                ref = ref.lower()
                if ref in names and names[ref] < stage.index:
                    visit(self.df.stages[names[ref]])
                elif ref.isdigit() and int(ref) < stage.index:
                    visit(self.df.stages[int(ref)])

        visit(target)
        return sorted(needed)

    def _stage_ref(self, ref: str, before: int) -> int | None:
        lowered = ref.lower()
        for s in self.df.stages[:before]:
            if s.name and s.name == lowered:
                return s.index
        if lowered.isdigit() and int(lowered) < before:
            return int(lowered)
        return None

    # ── args ──────────────────────────────────────────────────────────────────────────

    def _meta_args(self) -> dict[str, str]:
        values: dict[str, str] = dict(self.auto_args)
        for ins in self.df.meta_args:
            for word in ins.args:
                name, eq, default = word.partition("=")
                if name in self.opts.buildargs and self.opts.buildargs[name] is not None:
                    values[name] = self.opts.buildargs[name] or ""
                    self.used_args.add(name)
                elif eq:
                    values[name] = expand_word(default, values, self.escape)
                else:
                    values.setdefault(name, "")
        return values

    def _expand_env(self, st: StageState) -> dict[str, str]:
        """What `$name` means in a stage: declared args, overridden by ENV."""
        env = {k: v for k, v in st.args.items() if v is not None}
        env.update(env_map(st.config))
        return env

    def _run_env(self, st: StageState) -> tuple[list[str], list[str]]:
        """(the RUN container's Env, the `k=v` args Docker prefixes to created_by)."""
        env = list(st.config.get("Env") or [])
        names = {e.partition("=")[0] for e in env}
        declared = sorted((k, v) for k, v in st.args.items() if v is not None)
        recorded = []
        for key, value in declared:
            recorded.append(f"{key}={value}")
            if key not in names:
                env.append(f"{key}={value}")
                names.add(key)
        for key in PROXY_ARGS:
            value = self.svc.proxy_value(key, self.opts.buildargs)
            if value is not None and key not in names:
                env.append(f"{key}={value}")
                if key in self.opts.buildargs:
                    self.used_args.add(key)
        return env, recorded

    # ── a stage ───────────────────────────────────────────────────────────────────────

    async def _stage_task(self, stage: Stage) -> str:
        try:
            image_id = await self._stage(stage)
        except BaseException as e:
            self.results[stage.index].set_exception(e)
            self.results[stage.index].exception()  # mark retrieved: the caller reports it
            raise
        self.results[stage.index].set_result(image_id)
        return image_id

    async def _stage(self, stage: Stage) -> str:
        st = StageState(stage)
        number = self.step_numbers[stage.index]
        self.say(stage, f"Step {number}/{self.total} : {stage.original}\n")
        base = expand_word(stage.base, self.meta, self.escape)
        if not base:
            raise BuildError(f"base name ({stage.base}) should not be blank")
        source_stage = self._stage_ref(base, stage.index)
        if source_stage is not None:
            st.image_id = await self.results[source_stage]
        elif baseimages.is_scratch(base):
            st.image_id = ""
        else:
            st.image_id = await self.svc.resolve_base(base, self.opts.pull, lambda m: self.emit(stage, m))
        self.bases[stage.index] = st.image_id
        if st.image_id:
            st.parent_cfg = await asyncio.to_thread(self.svc.images.config_of, st.image_id)
            st.config = copy.deepcopy(st.parent_cfg.get("config") or {})
            self.say(stage, f" ---> {_short(st.image_id)}\n")
        triggers = list(st.config.get("OnBuild") or [])
        if triggers:
            st.config["OnBuild"] = None
            self.say(stage, f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
            for text in triggers:
                ins = parse_instruction(text, stage.line, self.escape)
                await self._step(st, ins, None)
        for i, ins in enumerate(stage.instructions):
            await self._step(st, ins, number + 1 + i)
        if not st.image_id:
            # `FROM scratch` and nothing else: Docker refuses it the same way.
            raise BuildError("No image was generated. Is your Dockerfile empty?")
        return st.image_id

    async def _step(self, st: StageState, ins: Instruction, number: int | None) -> None:
        stage = st.stage
        if number is not None:
            self.say(stage, f"Step {number}/{self.total} : {ins.original}\n")
        started = time.monotonic()
        cmd = ins.cmd
        if cmd == "arg":
            # The Dockerfile's defaults (expanded), as dockerd records them: a --build-arg
            # value shows in the RUN steps that use it, not here.
            env = self._expand_env(st)
            nop_text = "ARG " + " ".join(
                name + ("=" + expand_word(default, env, self.escape) if eq else "")
                for name, eq, default in (w.partition("=") for w in ins.args))
            self._arg(st, ins)
            await self._config_step(st, nop_text, steps.nop(st.config, nop_text), {})
            return
        if cmd == "maintainer":
            st.author = ins.text
        if cmd == "entrypoint" and not st.cmd_set:
            st.config["Cmd"] = None
        if cmd == "cmd":
            st.cmd_set = True
        if cmd == "run":
            await self._run(st, ins)
        elif cmd in ("copy", "add"):
            await self._copy(st, ins)
        elif cmd == "workdir":
            await self._workdir(st, ins)
        else:
            config = copy.deepcopy(st.config)
            created_by, text = steps.apply_config(ins, config, self._expand_env(st), self.escape)
            await self._config_step(st, text, created_by, config)
        log.debug("step %s took %.3fs", ins.original, time.monotonic() - started)

    def _arg(self, st: StageState, ins: Instruction) -> None:
        for word in ins.args:
            name, eq, default = word.partition("=")
            value: str | None
            if name in self.opts.buildargs:
                value = self.opts.buildargs[name]
                self.used_args.add(name)
                if value is None:  # `--build-arg NAME` without a value and no such env
                    value = expand_word(default, self._expand_env(st), self.escape) if eq else None
            elif eq:
                value = expand_word(default, self._expand_env(st), self.escape)
            elif name in self.auto_args:
                value = self.auto_args[name]
            elif name in self.meta:
                value = self.meta[name]
            else:
                value = None
            st.args[name] = value

    async def _config_step(self, st: StageState, text: str, created_by: str,
                           config: dict[str, Any]) -> None:
        new_config = config if config else copy.deepcopy(st.config)
        key = self.svc.cache_key(st.image_id, ["config", text, _config_key(new_config)])
        if await self._from_cache(st, key, created_by, new_config):
            return
        image_id = await asyncio.to_thread(self._commit, st, new_config, created_by, None, [])
        await self._committed(st, key, image_id, new_config)

    # ── cache ─────────────────────────────────────────────────────────────────────────

    async def _from_cache(self, st: StageState, key: str, created_by: str, config: dict[str, Any]) -> bool:
        """Take the step's image from the cache if it is there; `created_by` and
        `config` (the config the step results in) are what --cache-from matches."""
        image_id = await asyncio.to_thread(self._cached, st.image_id, key, created_by, config)
        if not image_id:
            return False
        self.say(st.stage, " ---> Using cache\n")
        await self._advance(st, image_id)
        return True

    def _cached(self, parent: str, key: str, created_by: str, config: dict[str, Any]) -> str | None:
        """The cached image for a step (blocking): the local step cache, else (or, with
        --cache-from, unless the hit belongs to a source) a --cache-from image."""
        if self.opts.nocache:
            return None
        image_id = self.svc.cache_lookup(key)
        if self.sources is None or (image_id and self.sources.accepts(image_id)):
            return image_id
        image_id = self.sources.match(parent, created_by, config)
        if image_id:
            self.svc.cache_store(key, image_id, parent)
        return image_id

    async def _label(self, image_id: str) -> str:
        """`--label`: one more config-only image carrying the labels, as Docker adds them."""
        labels = self.opts.labels

        def store() -> str:
            parent_cfg = self.svc.images.config_of(image_id)
            config = dict(parent_cfg.get("config") or {})
            config["Labels"] = {**(config.get("Labels") or {}), **labels}
            text = "LABEL " + " ".join(f"{k}={v}" for k, v in sorted(labels.items()))
            created_by = steps.nop(config, text)
            key = self.svc.cache_key(image_id, ["label", text])
            cached = self._cached(image_id, key, created_by, config)
            if cached:
                return cached
            cfg = image_config(parent_cfg, config, author=parent_cfg.get("author", ""), comment="",
                               created_by=created_by, empty_layer=True)
            new_id = self.svc.images.create_from_layers(cfg, [], [], base_image=image_id, parent=image_id)
            self.svc.cache_store(key, new_id, image_id)
            return new_id

        return await asyncio.to_thread(store)

    async def _squash(self, image_id: str, base_id: str) -> str:
        """`--squash`, remembered in the step cache so a rebuild gives the same image."""
        key = self.svc.cache_key(image_id, ["squash", base_id])

        def store() -> str:
            cached = None if self.opts.nocache else self.svc.cache_lookup(key)
            if cached:
                return cached
            new_id = squash(self.svc.images, image_id, base_id)
            self.svc.cache_store(key, new_id, image_id)
            return new_id

        return await asyncio.to_thread(store)

    async def _committed(self, st: StageState, key: str, image_id: str, config: dict[str, Any]) -> None:
        await asyncio.to_thread(self.svc.cache_store, key, image_id, st.image_id)
        await self._advance(st, image_id)

    async def _advance(self, st: StageState, image_id: str) -> None:
        st.image_id = image_id
        st.parent_cfg = await asyncio.to_thread(self.svc.images.config_of, image_id)
        st.config = copy.deepcopy(st.parent_cfg.get("config") or {})
        self.say(st.stage, f" ---> {_short(image_id)}\n")

    def _commit(self, st: StageState, config: dict[str, Any], created_by: str,
                upper: Path | None, lowers: list[Path]) -> str:
        """Store the step's image (blocking). `upper`: an rw layer to commit, if any."""
        images = self.svc.images
        config = dict(config)
        config["Image"] = st.image_id
        empty = upper is None or not rwlayer.has_changes(upper, lowers)
        cfg = image_config(st.parent_cfg or {"architecture": self.auto_args["TARGETARCH"]},
                           config, author=st.author, comment="", created_by=created_by, empty_layer=empty)
        if st.author:
            cfg["author"] = st.author
        base = st.image_id or None
        if empty:
            return images.create_from_layers(cfg, [], [], base_image=base, parent=st.image_id)
        assert upper is not None
        idmap = self.svc.config.id_map
        with pipe_reader(lambda out: rwlayer.write_layer(upper, lowers, out, idmap)) as layer:
            return images.create_from_layers(cfg, [layer], [], base_image=base, parent=st.image_id)

    # ── RUN ───────────────────────────────────────────────────────────────────────────

    async def _run(self, st: StageState, ins: Instruction) -> None:
        env, recorded = self._run_env(st)
        if ins.json:
            command = list(ins.args)
        else:
            script = ins.text
            if ins.heredocs:
                script = _heredoc_script(ins, script)
            command = [*steps.shell_of(st.config), script]
        created_by = " ".join(command)
        if recorded:
            created_by = f"|{len(recorded)} {' '.join(recorded)} {created_by}"
        network = ins.flag("network") or ""
        mounts = ins.flags.get("mount", [])
        key = self.svc.cache_key(st.image_id, ["run", created_by, network, *mounts])
        if await self._from_cache(st, key, created_by, st.config):
            return
        if not st.image_id:
            await self._materialize_scratch(st)
        image_id = await self._run_container(st, ins, command, env, created_by, network, mounts)
        await self._committed(st, key, image_id, st.config)

    async def _materialize_scratch(self, st: StageState) -> None:
        """RUN on `FROM scratch` needs an image to make a container from: an empty one."""
        st.image_id = await asyncio.to_thread(self._commit, st, st.config, "", None, [])

    async def _run_container(self, st: StageState, ins: Instruction, command: list[str],
                             env: list[str], created_by: str, network: str, mounts: list[str]) -> str:
        containers = self.svc.containers
        mode = {"": self.opts.network_mode, "default": self.opts.network_mode, "none": "none",
                "host": "host"}.get(network)
        if mode is None:
            raise BuildError(f"dockerfile parse error line {ins.line}: unsupported network mode {network!r}")
        step_mounts = await runmounts.prepare(
            mounts, ins.line, st.config.get("WorkingDir") or "/", secrets=self.ctx.secrets,
            cache_dir=self.svc.cache_mount_dir, scratch=self.svc.scratch_dir,
            materialize=lambda origin, source: self._materialize(st, origin, source),
            idmap=self.svc.config.id_map)
        binds = list(step_mounts.binds)
        env = env + step_mounts.env
        ca = self.svc.ca_bundle()
        if ca:
            binds.append(f"{ca}:{CA_BUNDLE_CONTAINER}:ro")
            names = {e.partition("=")[0] for e in env}
            env += [f"{k}={CA_BUNDLE_CONTAINER}" for k in _CA_ENV if k not in names]
        body: dict[str, Any] = {
            "Image": st.image_id,
            "Entrypoint": command[:1],
            "Cmd": command[1:],
            "Env": env,
            "WorkingDir": st.config.get("WorkingDir") or "",
            "User": st.config.get("User") or "",
            "Healthcheck": {"Test": ["NONE"]},
            "Labels": {},
            "HostConfig": {"NetworkMode": mode or self.svc.default_network(),
                           "ExtraHosts": list(self.opts.extra_hosts) or None,
                           "Binds": binds or None, "Tmpfs": step_mounts.tmpfs or None},
        }
        try:
            cid = (await containers.create(body, None))["Id"]
        except BaseException:
            step_mounts.close()
            raise
        self.say(st.stage, f" ---> Running in {cid[:12]}\n")
        success = False
        try:
            waiter = await containers.wait(cid, "next-exit")
            await containers.start(cid)
            lines: list[str] = []
            async for batch in containers.logs(cid, follow=True, since=None, until=None, tail=None,
                                               with_time=False):
                text = b"".join(r.data for r in batch).decode("utf-8", errors="replace")
                if text:
                    lines.append(text)
                    if not self.opts.quiet:
                        self.emit(st.stage, {"stream": text})
            result = await waiter
            code = result.get("StatusCode", 0)
            if code != 0:
                shown = " ".join(command) if not ins.json else json.dumps(command)
                raise BuildError(f"The command '{shown}' returned a non-zero code: {code}")
            record = containers.get(cid)
            upper = containers.container_dir(cid) / "diff"
            lowers = await asyncio.to_thread(self.svc.images.lowerdirs, record["Image"])
            await asyncio.to_thread(runmounts.remove_stubs, upper, lowers, step_mounts.targets)
            image_id = await asyncio.to_thread(self._commit, st, st.config, created_by, upper, lowers)
            success = True
            return image_id
        finally:
            if self.opts.forcerm or (self.opts.rm and success) or self.opts.rm:
                with contextlib.suppress(DockyardError):
                    await containers.remove(cid, force=True, volumes=True)
                    self.say(st.stage, f"Removing intermediate container {cid[:12]}\n")
            step_mounts.close()

    async def _materialize(self, st: StageState, origin: str | None, source: str) -> tuple[Path, Path]:
        """`source` from the context or a stage, copied for a bind mount: (what to
        mount, a directory or the one file in it; the directory, to remove after)."""
        path = self.svc.scratch_dir("bind")
        path.mkdir(parents=True)
        try:
            # Not an ADD: an archive is mounted as it is, never unpacked.
            plan = await self._copy_plan(st, origin, [source], "/", False, None, None, [], "RUN --mount", 0)
            await asyncio.to_thread(_apply_plan_to_dir, plan, path, self.svc.config.id_map)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, path, True)
            raise
        if plan.description.startswith("file:"):
            (name,) = os.listdir(path)
            return path / name, path
        return path, path

    # ── COPY / ADD / WORKDIR ──────────────────────────────────────────────────────────

    async def _copy(self, st: StageState, ins: Instruction) -> None:
        name = ins.cmd.upper()
        env = self._expand_env(st)
        words = [expand_word(w, env, self.escape) for w in ins.args]
        heredocs = {h.name: h for h in ins.heredocs}
        sources, dest = words[:-1], words[-1]
        if not sources and not heredocs:
            raise BuildError(f"{name} requires at least two arguments")
        workdir = st.config.get("WorkingDir") or "/"
        dest_path = posixpath.normpath(dest if dest.startswith("/") else posixpath.join(workdir, dest))
        if dest.endswith(("/", "/.", "/..")) or dest in (".", ".."):
            dest_path = dest_path.rstrip("/") + "/"
        origin = expand_word(ins.flag("from") or "", env, self.escape) or None
        chown, chmod = ins.flag("chown"), ins.flag("chmod")
        if chown:
            chown = expand_word(chown, env, self.escape)
        excludes = ins.flags.get("exclude", [])
        if len(sources) > 1 and not dest_path.endswith("/"):
            raise BuildError(f"When using {name} with more than one source file, the destination must be a directory and end with a /")
        plan = await self._copy_plan(st, origin, sources, dest_path, ins.cmd == "add", heredocs,
                                     ins.flag("checksum"), excludes, name, ins.line)
        flags = " ".join(f"--{k}={v}" for k, values in sorted(ins.flags.items()) for v in values)
        # dockerd's history text, down to its missing space after --chown's value.
        chown_comment = f"--chown={chown}" if chown else ""
        created_by = steps.nop(st.config, f"{name} {chown_comment}{plan.description} in {dest} ", spaces=1)
        key = self.svc.cache_key(st.image_id, ["copy", created_by, flags, plan.checksum])
        if await self._from_cache(st, key, created_by, st.config):
            return
        mode = int(chmod, 8) if chmod else None
        image_id = await self._in_overlay(st, created_by, lambda root: plan.apply(root, chown, mode))
        await self._committed(st, key, image_id, st.config)

    async def _workdir(self, st: StageState, ins: Instruction) -> None:
        config = copy.deepcopy(st.config)
        path = steps.workdir(ins, config, self._expand_env(st), self.escape)
        created_by = steps.nop(config, f"WORKDIR {path}", spaces=1)
        key = self.svc.cache_key(st.image_id, ["workdir", created_by, _config_key(config)])
        if await self._from_cache(st, key, created_by, config):
            return
        old = st.config
        st.config = config
        try:
            image_id = await self._in_overlay(st, created_by, lambda root: _mkdir(root, path, config.get("User") or ""))
        except BaseException:
            st.config = old
            raise
        await self._committed(st, key, image_id, config)

    async def _in_overlay(self, st: StageState, created_by: str, work: Callable[[Root], None]) -> str:
        """Mount the stage's image with a fresh rw layer, run `work` on it (in a thread),
        commit the layer as the step's image."""
        layer_dir = self.svc.scratch_dir("layer")
        target = self.svc.scratch_dir("mnt")
        lowers = await asyncio.to_thread(self.svc.images.lowerdirs, st.image_id) if st.image_id else []

        def run() -> str:
            snapshots.mount_rootfs(lowers, layer_dir, target)
            try:
                with Root(target, self.svc.config.id_map) as root:
                    work(root)
            finally:
                snapshots.unmount(target)
            return self._commit(st, st.config, created_by, layer_dir / "diff", lowers)

        try:
            return await asyncio.to_thread(run)
        finally:
            await asyncio.to_thread(_remove_tree, layer_dir)
            await asyncio.to_thread(shutil.rmtree, target, True)

    async def _copy_plan(self, st: StageState, origin: str | None, sources: list[str], dest: str,
                         is_add: bool, heredocs: dict[str, Heredoc] | None, checksum: str | None,
                         excludes: list[str], name: str, line: int) -> CopyPlan:
        plan = CopyPlan(dest)
        exclude = Matcher(excludes) if excludes else None
        parts: list[str] = []
        kinds: list[str] = []
        image_root: Path | None = None
        if origin:
            stage_index = self._stage_ref(origin, st.stage.index)
            if stage_index is not None:
                source_image = await self.results[stage_index]
            else:
                source_image = await self.svc.resolve_base(origin, False, lambda m: self.emit(st.stage, m))
            image_root = await self.svc.image_view(source_image, self.cleanups)
            parts.append(source_image)
        for source in sources:
            if heredocs and source.startswith("<<"):
                doc = heredocs.get(re.sub(r"^<<-?['\"]?|['\"]?$", "", source))
                if doc is not None:
                    content = doc.content
                    if doc.expand:
                        content = expand_word(content.replace('"', '\\"'), self._expand_env(st), "\\") \
                            if "$" in content else content
                    plan.add_bytes(doc.name, content.encode())
                    parts.append("heredoc:" + hashlib.sha256(content.encode()).hexdigest())
                    kinds.append("file")
                    continue
            if is_add and re.match(r"^https?://", source):
                try:
                    path, digest = await self.svc.fetch_url(source, checksum, self.cleanups)
                except BuildError as e:
                    raise BuildError(f"line {line}: {e.message}") from None
                plan.add_url(source, path)
                parts.append("url:" + digest)
                kinds.append("file")
                continue
            if image_root is not None:
                found = await asyncio.to_thread(_image_sources, image_root, source, name)
                for rel, host in found:
                    plan.add_host(rel, host, exclude)
                    parts.append(f"{origin}:{rel}")
                    kinds.append("dir" if os.path.isdir(host) and not os.path.islink(host) else "file")
                continue
            for entry in self.ctx.sources(source, name):
                extract_archive = is_add and entry.info.isreg() and await asyncio.to_thread(_is_archive, self.ctx, entry)
                plan.add_entry(self.ctx, entry, exclude, extract_archive)
                parts.append(self.ctx.checksum(entry) + (":x" if extract_archive else ""))
                kinds.append("dir" if entry.is_dir else "file")
        digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
        plan.checksum = digest
        plan.description = f"{'multi' if len(kinds) > 1 else (kinds[0] if kinds else 'file')}:{digest}"
        return plan


class CopyPlan:
    """What a COPY/ADD puts where; applied to a mounted root in a worker thread."""

    def __init__(self, dest: str):
        self.dest = dest
        self.items: list[tuple[str, Any]] = []
        self.checksum = ""
        self.description = ""
        self.cleanups: list[Callable[[], None]] = []

    def add_entry(self, ctx: BuildContext, entry: Entry, exclude: Matcher | None, extract_archive: bool) -> None:
        self.items.append(("ctx", (ctx, entry, exclude, extract_archive)))

    def add_bytes(self, name: str, data: bytes) -> None:
        self.items.append(("bytes", (name, data)))

    def add_url(self, url: str, path: Path) -> None:
        self.items.append(("url", (url, path)))

    def add_host(self, rel: str, host: Path, exclude: Matcher | None) -> None:
        self.items.append(("host", (rel, host, exclude)))

    def apply(self, root: Root, chown: str | None, chmod: int | None) -> None:
        owner = _owner(root, chown) if chown else (0, 0)
        many = len(self.items) > 1
        for kind, item in self.items:
            if kind == "ctx":
                ctx, entry, exclude, extract_archive = item
                if extract_archive:
                    dest_dir = self.dest.rstrip("/") or "/"
                    _open_dir(root, dest_dir, owner)
                    with ctx.open(entry) as f:
                        extract(root, dest_dir, f)  # type: ignore[arg-type]
                    continue
                if entry.is_dir:
                    dest_dir, members = self.dest.rstrip("/") or "/", _ctx_members(ctx, entry, "", exclude)
                else:
                    dest_dir, name = self._file_target(root, posixpath.basename(entry.path), many)
                    members = _ctx_members(ctx, entry, name, None)
                self._extract(root, dest_dir, members, owner, chmod)
            elif kind == "bytes":
                name, data = item
                dest_dir, fname = self._file_target(root, name, many)
                info = tarfile.TarInfo(fname)
                info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
                self._extract(root, dest_dir, iter([(info, lambda d=data: _bytes_reader(d))]), owner, chmod)
            elif kind == "url":
                url, path = item
                name = posixpath.basename(urllib.parse.urlparse(url).path) or "__unnamed__"
                dest_dir, fname = self._file_target(root, name, many)
                st = os.stat(path)
                info = tarfile.TarInfo(fname)
                info.size, info.mode, info.mtime = st.st_size, 0o600, int(st.st_mtime)
                self._extract(root, dest_dir, iter([(info, lambda p=path: open(p, "rb"))]), owner, chmod)
            elif kind == "host":
                rel, host, exclude = item
                if os.path.isdir(host) and not os.path.islink(host):
                    dest_dir = self.dest.rstrip("/") or "/"
                    self._extract_host_dir(root, dest_dir, host, owner, chmod, exclude)
                else:
                    dest_dir, fname = self._file_target(root, posixpath.basename(rel), many)
                    self._extract_host_file(root, dest_dir, fname, host, owner, chmod)

    def _file_target(self, root: Root, name: str, many: bool) -> tuple[str, str]:
        if self.dest.endswith("/") or many:
            return self.dest.rstrip("/") or "/", name
        # A single file to a path without a trailing slash: into it if it is an existing
        # directory, else that path is the file.
        try:
            with root.resolve(self.dest, follow=True) as loc:
                if stat.S_ISDIR(loc.lstat().st_mode):
                    return self.dest, name
        except (FileNotFoundError, NotADirectoryError):
            pass
        parent, base = posixpath.split(self.dest)
        return parent or "/", base

    def _extract(self, root: Root, dest_dir: str, members: Iterator[tuple[tarfile.TarInfo, Callable[[], BinaryIO] | None]],
                 owner: tuple[int, int], chmod: int | None) -> None:
        _open_dir(root, dest_dir, owner)

        def produce(out: BinaryIO) -> None:
            tf = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
            for info, opener in members:
                if chmod is not None and not info.issym():
                    info.mode = chmod
                if opener is not None and info.isreg():
                    with contextlib.closing(opener()) as f:
                        tf.addfile(info, f)
                else:
                    tf.addfile(info)
            tf.close()

        with pipe_reader(produce) as stream:
            extract(root, dest_dir, stream, owner=owner)

    def _extract_host_dir(self, root: Root, dest_dir: str, host: Path, owner: tuple[int, int],
                          chmod: int | None, exclude: Matcher | None) -> None:
        _open_dir(root, dest_dir, owner)

        def produce(out: BinaryIO) -> None:
            fd = os.open(host, os.O_RDONLY | os.O_DIRECTORY)
            try:
                skip = (lambda rel, st: exclude.excluded(rel)) if exclude else None
                # Files of an image on this host: their owners as the container sees them.
                writer = TarWriter(out, skip=skip, idmap=root.idmap)
                writer.add_children(fd, "")
                writer.close()
            finally:
                os.close(fd)

        with pipe_reader(produce) as stream:
            extract(root, dest_dir, _rechmod(stream, chmod) if chmod is not None else stream, owner=owner)

    def _extract_host_file(self, root: Root, dest_dir: str, name: str, host: Path,
                           owner: tuple[int, int], chmod: int | None) -> None:
        st = os.lstat(host)
        info = tarfile.TarInfo(name)
        info.mode, info.mtime = stat.S_IMODE(st.st_mode), int(st.st_mtime)
        if stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(host)
            opener = None
        else:
            info.size = st.st_size
            opener = lambda: open(host, "rb")  # noqa: E731
        self._extract(root, dest_dir, iter([(info, opener)]), owner, chmod)


# ── helpers ───────────────────────────────────────────────────────────────────────────

def _ctx_members(ctx: BuildContext, top: Entry, rename: str, exclude: Matcher | None
                 ) -> Iterator[tuple[tarfile.TarInfo, Callable[[], BinaryIO] | None]]:
    """Tar headers (renamed relative to the destination) and data openers for `top`."""
    for entry in ctx.walk(top):
        if top.is_dir:
            rel = entry.path[len(top.path):].lstrip("/") if top.path else entry.path
            if not rel:
                continue  # the directory itself: its contents go into the destination
            if exclude is not None and exclude.excluded(rel):
                continue
        else:
            rel = rename
        info = copy.copy(entry.info)
        info.name = rel
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if info.islnk():
            # A hard link inside the copied tree keeps pointing at its renamed target.
            target = clean(info.linkname)
            if top.path and target.startswith(top.path + "/"):
                info.linkname = target[len(top.path) + 1:]
        opener = (lambda e=entry: ctx.open(e)) if entry.info.isreg() else None
        yield info, opener


def _apply_plan_to_dir(plan: CopyPlan, path: Path, idmap: IDMap = IDENTITY) -> None:
    with Root(path, idmap) as root:
        plan.apply(root, None, None)


def _image_sources(root: Path, source: str, name: str) -> list[tuple[str, Path]]:
    """(container path, host path) of what `source` names inside a mounted image."""
    rel = clean(source)
    parent, last = posixpath.split(rel)
    found: list[tuple[str, Path]] = []
    if any(ch in last for ch in "*?["):
        import fnmatch

        with Root(root) as r:
            resolved = r.resolve_text("/" + parent)
        directory = root / resolved.lstrip("/")
        for candidate in sorted(os.listdir(directory)) if directory.is_dir() else []:
            if fnmatch.fnmatchcase(candidate, last):
                found.append((posixpath.join(parent, candidate), directory / candidate))
    else:
        with Root(root) as r:
            resolved = r.resolve_text("/" + rel)
        host = root / resolved.lstrip("/")
        if os.path.lexists(host):
            found.append((rel, host))
    if not found:
        raise BuildError(f"{name} failed: stat {source}: file does not exist")
    return found


def _is_archive(ctx: BuildContext, entry: Entry) -> bool:
    with ctx.open(entry) as f:
        head = f.read(512)
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def _heredoc_script(ins: Instruction, script: str) -> str:
    # `RUN <<EOF` alone: the body is the script. Otherwise the shell gets the heredocs
    # back, so `RUN python3 <<EOF` feeds the body to python3's stdin as a shell would.
    if re.fullmatch(r"\s*<<-?['\"]?[A-Za-z_][A-Za-z0-9_]*['\"]?\s*", script):
        return ins.heredocs[0].content
    return script + "\n" + "".join(h.content + h.name + "\n" for h in ins.heredocs)


def _mkdir(root: Root, path: str, user: str) -> None:
    os.close(root.open_dir(path, make_dirs=True))


def _open_dir(root: Root, path: str, owner: tuple[int, int]) -> None:
    """Make the missing directories of a COPY/ADD destination: 0755 and owned by the
    --chown owner, as Docker's MkdirAllAndChownNew makes them (existing ones untouched)."""
    current = "/"
    for part in (p for p in path.split("/") if p and p != "."):
        current = posixpath.join(current, part)
        with root.resolve(current, follow=True) as loc:
            try:
                os.mkdir(loc.name, 0o755, dir_fd=loc.dir_fd)
            except FileExistsError:
                continue
            try:
                host_owner = root.idmap.to_host(*owner)
            except IDMapError as e:
                raise BuildError(f"--chown: {e}") from None
            os.chown(loc.name, *host_owner, dir_fd=loc.dir_fd, follow_symlinks=False)
            os.chmod(loc.name, 0o755, dir_fd=loc.dir_fd)
    os.close(root.open_dir(path))


def _owner(root: Root, chown: str) -> tuple[int, int]:
    user, _, group = chown.partition(":")
    rootfs = f"/proc/self/fd/{root.fd}"
    if user.isdigit() and (not group or group.isdigit()):
        return int(user), int(group) if group else int(user)
    resolved = resolve_user(rootfs, f"{user}:{group}" if group else user)
    return resolved.uid, resolved.gid


def _rechmod(stream: BinaryIO, mode: int) -> BinaryIO:
    def produce(out: BinaryIO) -> None:
        src = tarfile.open(fileobj=stream, mode="r|")  # type: ignore[call-overload]
        dst = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
        for member in src:
            if not member.issym():
                member.mode = mode
            dst.addfile(member, src.extractfile(member) if member.isreg() else None)
        dst.close()

    return contextlib.ExitStack().enter_context(pipe_reader(produce))


def _bytes_reader(data: bytes) -> BinaryIO:
    import io

    return io.BytesIO(data)


def _remove_tree(path: Path) -> None:
    snapshots.remove_rw(path)
    shutil.rmtree(path, ignore_errors=True)


def _config_key(config: dict[str, Any]) -> str:
    # "Image" names the step before, which the key holds already as the parent.
    return json.dumps({k: v for k, v in config.items() if k != "Image"}, sort_keys=True)


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _platform_args(platform: str) -> dict[str, str]:
    parts = platform.split("/")
    os_name = parts[0] if parts else "linux"
    arch = parts[1] if len(parts) > 1 else host_arch()
    variant = parts[2] if len(parts) > 2 else ""
    build_variant = host_variant()
    build = f"linux/{host_arch()}" + (f"/{build_variant}" if build_variant else "")
    return {"TARGETPLATFORM": platform, "TARGETOS": os_name, "TARGETARCH": arch,
            "TARGETVARIANT": variant, "BUILDPLATFORM": build, "BUILDOS": "linux",
            "BUILDARCH": host_arch(), "BUILDVARIANT": build_variant}


def url_fetch(url: str, dest: Path, checksum: str | None) -> str:
    """Download `url` to `dest` (blocking); mtime from Last-Modified; returns the sha256."""
    h = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "dockyard-builder"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response, open(dest, "wb") as out:  # noqa: S310 - http(s) only, checked by the caller
            while chunk := response.read(1 << 20):
                h.update(chunk)
                out.write(chunk)
            modified = response.headers.get("Last-Modified")
    except OSError as e:
        raise BuildError(f"failed to GET {url}: {e}") from None
    if modified:
        with contextlib.suppress(TypeError, ValueError):
            stamp = parsedate_to_datetime(modified).timestamp()
            os.utime(dest, (stamp, stamp))
    digest = h.hexdigest()
    if checksum:
        algo, _, want = checksum.partition(":")
        if algo != "sha256" or not want:
            raise BuildError(f"unsupported checksum {checksum!r}: use sha256:<hex>")
        if want != digest:
            raise BuildError(f"digest mismatch for {url}: expected sha256:{want}, got sha256:{digest}")
    return digest


__all__ = ["Build", "BuildError", "BuildOptions", "NotFound", "InvalidParameter", "ParseError"]
