# SPDX-License-Identifier: Apache-2.0
"""The compose verbs, carried out over the Engine API client only.

Everything compose knows about running resources it reads back from the daemon through
labels (`com.docker.compose.project` and friends), never from local state: `ps`, `down`
or `up` from another shell, or after a crash, see the same project. That is also why it
drives a real Docker engine unchanged.

`up` runs one thread per service: each waits for its dependencies (started, healthy or
completed successfully, as `depends_on` asks), then creates, recreates or starts its
containers; independent services proceed in parallel. Progress lines go to `err`
(`Container p-web-1  Started`), as Compose's plain progress does.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from dockyard.client.errors import APIError
from dockyard.compose import convert
from dockyard.compose.confighash import service_hash
from dockyard.compose.errors import ComposeError
from dockyard.compose.planner import (
    ONEOFF_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    container_number,
    dependencies,
    dependency_order,
    plan_service,
    with_dependencies,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from dockyard.client.api import APIClient
    from dockyard.compose.loader import Project

_WORKERS = 16


class Compose:
    """One project on one daemon."""

    def __init__(self, client: APIClient, project: Project, err: Callable[[str], None]):
        self.client = client
        self.project = project
        self.err = err
        self._lock = threading.Lock()

    # --- reading state ----------------------------------------------------------------

    def containers(
        self, services: Iterable[str] | None = None, *, all: bool = True, oneoff: bool | None = False
    ) -> list[dict[str, Any]]:
        """The project's containers (from `GET /containers/json`), by service then number."""
        labels = [f"{PROJECT_LABEL}={self.project.name}"]
        if oneoff is not None:
            labels.append(f"{ONEOFF_LABEL}={'True' if oneoff else 'False'}")
        found = self.client.containers(all=all, filters={"label": labels})
        wanted = set(services) if services else None
        if wanted is not None:
            found = [c for c in found if _service_of(c) in wanted]
        return sorted(found, key=lambda c: (_service_of(c), container_number(c), _name(c)))

    def orphans(self) -> list[dict[str, Any]]:
        known = set(self.project.services) | set(self.project.disabled)
        return [c for c in self.containers(oneoff=None) if _service_of(c) not in known]

    def selected(self, services: list[str], deps: bool = False) -> list[str]:
        for name in services:
            self.project.service(name)
        if not services:
            return list(self.project.services)
        if deps:
            return sorted(with_dependencies(self.project.services, services))
        return list(services)

    # --- up / create --------------------------------------------------------------------

    def up(
        self,
        services: list[str],
        *,
        start: bool = True,
        build: bool = False,
        no_build: bool = False,
        pull: str | None = None,
        force_recreate: bool = False,
        no_recreate: bool = False,
        no_deps: bool = False,
        scale: dict[str, int] | None = None,
        remove_orphans: bool = False,
        renew_anon_volumes: bool = False,
        timeout: int | None = None,
        wait: bool = False,
        wait_timeout: float | None = None,
    ) -> None:
        project = self.project
        for name in services:
            project.service(name)
        names = self.selected(services, deps=not no_deps)
        scale = dict(scale or {})
        for name in scale:
            project.service(name)
        convert.check_services(project, names)

        orphans = self.orphans()
        if orphans:
            if remove_orphans:
                self._parallel(lambda c: self._remove(c, timeout, stop=True), orphans)
            else:
                self.err(
                    f"WARN Found orphan containers ({', '.join(_name(c) for c in orphans)}) for this "
                    "project. If you removed or renamed this service in your compose file, you can "
                    "run this command with the --remove-orphans flag to clean it up."
                )
        self.ensure_networks(names)
        self.ensure_volumes(names)
        images = self.ensure_images(names, build=build, no_build=no_build, pull=pull)

        existing = self.containers(names)
        by_service: dict[str, list[dict[str, Any]]] = {}
        for c in existing:
            by_service.setdefault(_service_of(c), []).append(c)
        done: dict[str, threading.Event] = {n: threading.Event() for n in names}
        failed: dict[str, str] = {}
        recreated: set[str] = set()
        first_container: dict[str, str] = {}

        def run_service(name: str) -> None:
            svc = project.services[name]
            try:
                for dep in svc.get("depends_on") or {}:
                    if dep in done:
                        done[dep].wait()
                        if dep in failed:
                            raise ComposeError(f"dependency failed to start: {failed[dep]}")
                for dep in dependencies(svc):
                    if dep in done:
                        done[dep].wait()
                if start:
                    for dep, spec in (svc.get("depends_on") or {}).items():
                        if dep in project.services:
                            self._await_condition(dep, spec.get("condition", "service_started"), spec.get("required", True))
                restart_for = any(
                    spec.get("restart") and dep in recreated
                    for dep, spec in (svc.get("depends_on") or {}).items()
                )
                ids = self._converge(
                    name, by_service.get(name, []), images.get(name, ""),
                    scale=scale.get(name), force=force_recreate, no_recreate=no_recreate,
                    renew=renew_anon_volumes, start=start, timeout=timeout,
                    first=first_container, recreated=recreated, restart=restart_for,
                )
                if ids:
                    first_container[name] = ids[0]
            except (ComposeError, APIError) as exc:
                failed[name] = str(exc)
            finally:
                done[name].set()

        order = dependency_order({n: project.services[n] for n in names})
        with ThreadPoolExecutor(max_workers=max(1, len(order))) as pool:
            list(pool.map(run_service, order))
        if failed:
            first = next(n for n in order if n in failed)
            raise ComposeError(failed[first])
        if wait and start:
            self.wait_healthy(names, wait_timeout)

    def _converge(
        self,
        name: str,
        containers: list[dict[str, Any]],
        image_id: str,
        *,
        scale: int | None,
        force: bool,
        no_recreate: bool,
        renew: bool,
        start: bool,
        timeout: int | None,
        first: dict[str, str],
        recreated: set[str],
        restart: bool,
    ) -> list[str]:
        project = self.project
        svc = project.services[name]
        want = convert.service_scale(svc) if scale is None else scale
        if svc.get("container_name") and want > 1:
            raise ComposeError(f'service "{name}" has container_name set and cannot be scaled beyond 1')
        expected = self.config_hash(name)
        image_changed = any(
            image_id and (c.get("ImageID") or "") not in ("", image_id) for c in containers
        )
        plan = plan_service(name, expected, want, containers, force_recreate=force,
                            no_recreate=no_recreate, image_changed=image_changed)
        self._parallel(lambda c: self._remove(c, timeout, stop=True), plan.remove)
        network_containers = dict(first)

        def recreate(c: dict[str, Any]) -> str:
            return self._recreate(name, c, image_id, expected, network_containers, renew, start, timeout)

        def create(n: int) -> str:
            cid = self._create(name, n, image_id, expected, network_containers, {})
            if start:
                self._start(cid, convert.container_name(project, name, n))
            return cid

        def keep(c: dict[str, Any]) -> str:
            if start:
                if c.get("State") == "paused":
                    pass
                elif c.get("State") != "running":
                    self._start(c["Id"], _name(c))
                elif restart:
                    self._progress("Container", _name(c), "Restarting")
                    self.client.restart(c["Id"], timeout=timeout)
                    self._progress("Container", _name(c), "Started")
                else:
                    self._progress("Container", _name(c), "Running")
            return c["Id"]

        ids = self._parallel(keep, plan.keep) + self._parallel(recreate, plan.recreate)
        ids += self._parallel(create, plan.create)
        if plan.recreate or plan.create:
            recreated.add(name)
        return ids

    def _create(
        self,
        name: str,
        number: int,
        image_id: str,
        config_hash: str,
        network_containers: dict[str, str],
        anon: dict[str, str],
        *,
        container_name: str | None = None,
        oneoff: bool = False,
        overrides: dict[str, Any] | None = None,
        auto_remove: bool = False,
    ) -> str:
        project = self.project
        body, connect = convert.create_body(
            project, name, number, config_hash=config_hash, image_id=image_id, oneoff=oneoff,
            network_containers=network_containers, anon_volumes=anon, overrides=overrides,
        )
        if auto_remove:  # `compose run --rm -d`: the daemon removes it when it exits
            body.setdefault("HostConfig", {})["AutoRemove"] = True
        cname = container_name or convert.container_name(project, name, number)
        self._progress("Container", cname, "Creating")
        result = self.client.create_container(body, name=cname, platform=project.services[name].get("platform"))
        cid = result["Id"]
        for network, endpoint in connect:
            self.client.connect_network(network, cid, endpoint)
        self._inject_files(name, cid)
        self._progress("Container", cname, "Created")
        return cid

    def _recreate(
        self,
        name: str,
        old: dict[str, Any],
        image_id: str,
        config_hash: str,
        network_containers: dict[str, str],
        renew: bool,
        start: bool,
        timeout: int | None,
    ) -> str:
        cname = _name(old)
        self._progress("Container", cname, "Recreate")
        anon: dict[str, str] = {}
        if not renew:
            anon = _anonymous_volumes(self.client.inspect_container(old["Id"]))
        if old.get("State") in ("running", "paused", "restarting"):
            self.client.stop(old["Id"], timeout=timeout)
        # Out of the way first, so the new container can take the name.
        self.client.rename(old["Id"], f"{old['Id'][:12]}_{cname}")
        cid = self._create(name, container_number(old), image_id, config_hash, network_containers,
                           anon, container_name=cname)
        self.client.remove_container(old["Id"], force=True)
        self._progress("Container", cname, "Recreated")
        if start:
            self._start(cid, cname)
        return cid

    def _start(self, cid: str, cname: str) -> None:
        self._progress("Container", cname, "Starting")
        self.client.start(cid)
        self._progress("Container", cname, "Started")

    def _inject_files(self, service: str, cid: str) -> None:
        """Secrets and configs from `environment` or `content` sources are copied into the
        container (a file source is bind-mounted by convert instead)."""
        import io
        import os
        import tarfile

        svc = self.project.services[service]
        for kind, directory in (("secrets", convert.SECRETS_DIR), ("configs", "/")):
            for ref in svc.get(kind) or []:
                spec = getattr(self.project, kind)[ref["source"]]
                if "file" in spec:
                    continue
                if "environment" in spec:
                    data = self.project.environment.get(spec["environment"], "")
                elif "content" in spec:
                    data = spec["content"]
                else:
                    continue
                target = ref.get("target") or ref["source"]
                if not target.startswith("/"):
                    target = os.path.join(directory, target)
                raw = str(data).encode()
                buf = io.BytesIO()
                with tarfile.open(fileobj=buf, mode="w") as tar:
                    info = tarfile.TarInfo(target.lstrip("/"))
                    info.size = len(raw)
                    info.mode = int(str(ref.get("mode", "0444")), 8) if isinstance(ref.get("mode"), str) else int(ref.get("mode", 0o444))
                    info.uid = int(ref.get("uid", 0) or 0)
                    info.gid = int(ref.get("gid", 0) or 0)
                    info.mtime = int(time.time())
                    tar.addfile(info, io.BytesIO(raw))
                self.client.put_archive(cid, "/", buf.getvalue())

    def _await_condition(self, dep: str, condition: str, required: bool) -> None:
        containers = [c for c in self.containers([dep]) if c.get("State") != "removing"]
        if not containers and required and condition != "service_started":
            raise ComposeError(f"service {dep!r} has no container to wait for")
        for c in containers:
            if condition == "service_healthy":
                self._progress("Container", _name(c), "Waiting")
                while True:
                    info = self.client.inspect_container(c["Id"])
                    state = info.get("State") or {}
                    health = (state.get("Health") or {}).get("Status")
                    if health is None and not ((info.get("Config") or {}).get("Healthcheck") or {}).get("Test"):
                        raise ComposeError(f"container {_name(c)} has no healthcheck configured")
                    if health == "healthy":
                        self._progress("Container", _name(c), "Healthy")
                        break
                    if health == "unhealthy":
                        raise ComposeError(f"dependency failed to start: container {_name(c)} is unhealthy")
                    if not state.get("Running"):
                        raise ComposeError(f"dependency failed to start: container {_name(c)} exited ({state.get('ExitCode')})")
                    time.sleep(0.1)
            elif condition == "service_completed_successfully":
                self._progress("Container", _name(c), "Waiting")
                code = (self.client.wait(c["Id"]) or {}).get("StatusCode", 0)
                if code != 0:
                    raise ComposeError(f"service {dep!r} didn't complete successfully: exit {code}")
                self._progress("Container", _name(c), "Exited")

    def wait_healthy(self, services: list[str], timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for c in self.containers(services):
            while True:
                info = self.client.inspect_container(c["Id"])
                state = info.get("State") or {}
                health = (state.get("Health") or {}).get("Status")
                if state.get("Running") and health in (None, "healthy"):
                    self._progress("Container", _name(c), "Healthy" if health else "Running")
                    break
                if health == "unhealthy" or (not state.get("Running") and state.get("Status") == "exited"):
                    if state.get("ExitCode") == 0 and health is None:
                        break
                    raise ComposeError(f"container {_name(c)} is {health or 'exited'}")
                if deadline is not None and time.monotonic() > deadline:
                    raise ComposeError("timeout waiting for the project to be running and healthy")
                time.sleep(0.1)

    def config_hash(self, service: str) -> str:
        svc = self.project.services[service]
        resolved = convert.service_environment(svc) if svc.get("env_file") else None
        return service_hash(svc, {"env": resolved} if resolved is not None else None)

    # --- networks, volumes, images ------------------------------------------------------

    def ensure_networks(self, services: Iterable[str]) -> None:
        used: set[str] = set()
        for name in services:
            used.update((self.project.services[name].get("networks") or {}).keys())
        for key, spec in self.project.networks.items():
            if key not in used:
                continue
            name = spec["name"]
            if spec.get("external"):
                try:
                    self.client.inspect_network(name)
                except APIError as exc:
                    if exc.is_not_found:
                        raise ComposeError(f"network {name} declared as external, but could not be found") from None
                    raise
                continue
            found = [n for n in self.client.networks({"name": [name]}) if n.get("Name") == name]
            if found:
                labels = found[0].get("Labels") or {}
                if labels.get(PROJECT_LABEL) != self.project.name:
                    self.err(f'WARN a network with name {name} exists but was not created by compose.')
                continue
            body: dict[str, Any] = {
                "Name": name,
                "Driver": spec.get("driver") or "bridge",
                "Options": spec.get("driver_opts") or {},
                "Labels": convert.resource_labels(self.project, "networks", key, spec),
                "Internal": bool(spec.get("internal")),
                "Attachable": bool(spec.get("attachable")),
                "EnableIPv6": bool(spec.get("enable_ipv6")),
                "CheckDuplicate": True,
            }
            ipam = spec.get("ipam")
            if ipam:
                body["IPAM"] = {
                    "Driver": ipam.get("driver") or "default",
                    "Config": [
                        {k2: v for k, v in cfg.items() if (k2 := _IPAM_KEYS.get(k))}
                        for cfg in ipam.get("config") or []
                    ],
                    "Options": ipam.get("options") or {},
                }
            self._progress("Network", name, "Creating")
            try:
                self.client.create_network(body)
            except APIError as exc:
                if not exc.is_conflict:
                    raise
            self._progress("Network", name, "Created")

    def ensure_volumes(self, services: Iterable[str]) -> None:
        used: set[str] = set()
        for name in services:
            for vol in self.project.services[name].get("volumes") or []:
                if vol.get("type") == "volume" and vol.get("source"):
                    used.add(vol["source"])
        for key, spec in self.project.volumes.items():
            if key not in used:
                continue
            name = spec["name"]
            try:
                current = self.client.inspect_volume(name)
            except APIError as exc:
                if not exc.is_not_found:
                    raise
                current = None
            if spec.get("external"):
                if current is None:
                    raise ComposeError(f"external volume {name!r} not found")
                continue
            if current is not None:
                if (current.get("Labels") or {}).get(PROJECT_LABEL) != self.project.name:
                    self.err(f'WARN volume "{name}" already exists but was not created by Docker Compose. Use `external: true` to use an existing volume')
                continue
            self._progress("Volume", f'"{name}"', "Creating")
            self.client.create_volume({
                "Name": name,
                "Driver": spec.get("driver") or "local",
                "DriverOpts": spec.get("driver_opts") or {},
                "Labels": convert.resource_labels(self.project, "volumes", key, spec),
            })
            self._progress("Volume", f'"{name}"', "Created")

    def ensure_images(
        self, services: Iterable[str], *, build: bool = False, no_build: bool = False, pull: str | None = None
    ) -> dict[str, str]:
        """Image IDs by service, pulling or building what is missing (per pull_policy)."""
        services = list(services)
        result: dict[str, str] = {}
        to_build: list[str] = []
        lock = threading.Lock()
        # Services sharing an image pull it once: the first takes the image's lock.
        image_locks: dict[str, threading.Lock] = {}
        for name in services:
            image_locks.setdefault(convert.image_name(self.project, name), threading.Lock())

        def check(name: str) -> None:
            with image_locks[convert.image_name(self.project, name)]:
                check_locked(name)

        def check_locked(name: str) -> None:
            svc = self.project.services[name]
            image = convert.image_name(self.project, name)
            policy = pull or svc.get("pull_policy") or "missing"
            if svc.get("build") and not no_build and (build or policy == "build"):
                with lock:
                    to_build.append(name)
                return
            image_id = self._image_id(image)
            if policy == "always" or (image_id is None and policy in ("missing", "if_not_present")):
                if svc.get("build") and image_id is None and not svc.get("image"):
                    with lock:
                        to_build.append(name)
                    return
                try:
                    self.pull_image(name)
                except ComposeError:
                    if not svc.get("build"):
                        raise
                    with lock:
                        to_build.append(name)
                    return
                image_id = self._image_id(image)
            if image_id is None:
                if svc.get("build") and not no_build:
                    with lock:
                        to_build.append(name)
                    return
                raise ComposeError(f"pull access denied for {image}: no such image")
            result[name] = image_id

        self._parallel(check, services)
        for name in sorted(to_build):
            result[name] = self.build_service(name)
        return result

    def _image_id(self, image: str) -> str | None:
        try:
            return self.client.inspect_image(image).get("Id")
        except APIError as exc:
            if exc.is_not_found:
                return None
            raise

    def pull_image(self, service: str) -> None:
        image = convert.image_name(self.project, service)
        self._progress("Image", image, "Pulling")
        svc = self.project.services[service]
        try:
            for message in self.client.pull(image, platform=svc.get("platform")):
                if message.get("error"):
                    raise ComposeError(message["error"])
        except APIError as exc:
            raise ComposeError(f"{service} Error: {exc.message}") from None
        self._progress("Image", image, "Pulled")

    def build_service(self, service: str, *, no_cache: bool = False, pull: bool = False,
                      build_args: dict[str, str] | None = None) -> str:
        """Build a service's image through `POST /build`; returns the image ID."""
        import json

        from dockyard.compose.context import context_tar

        svc = self.project.services[service]
        spec = svc.get("build") or {}
        image = convert.image_name(self.project, service)
        dockerfile = spec.get("dockerfile", "Dockerfile")
        inline = spec.get("dockerfile_inline")
        tar, dockerfile = context_tar(spec["context"], dockerfile, inline)
        args = dict(spec.get("args") or {})
        args = {k: (v if v is not None else self.project.environment.get(k)) for k, v in args.items()}
        args.update(build_args or {})
        params: dict[str, Any] = {
            "t": [image, *spec.get("tags", [])],
            "dockerfile": dockerfile,
            "buildargs": json.dumps({k: v for k, v in args.items() if v is not None}),
            "labels": json.dumps(spec.get("labels") or {}),
            "target": spec.get("target"),
            "cachefrom": json.dumps(spec.get("cache_from") or []),
            "networkmode": spec.get("network"),
            "pull": pull or None,
            "nocache": no_cache or None,
            "platform": svc.get("platform"),
            "shmsize": convert._size(spec["shm_size"]) if spec.get("shm_size") else None,
            "extrahosts": ",".join(f"{h}:{ip}" for h, ip in (spec.get("extra_hosts") or {}).items()) or None,
        }
        self._progress("Service", service, "Building")
        image_id = ""
        try:
            for message in self.client.build(tar, params):
                if message.get("error"):
                    raise ComposeError(f"failed to build {service}: {message['error']}")
                aux = message.get("aux") or {}
                if isinstance(aux, dict) and aux.get("ID"):
                    image_id = aux["ID"]
        except APIError as exc:
            raise ComposeError(f"failed to build {service}: {exc.message}") from None
        self._progress("Service", service, "Built")
        return image_id or self._image_id(image) or ""

    # --- stop / remove ---------------------------------------------------------------------

    def down(self, *, volumes: bool = False, rmi: str | None = None, remove_orphans: bool = False,
             timeout: int | None = None) -> None:
        project = self.project
        containers = self.containers(oneoff=None)
        known = set(project.services) | set(project.disabled)
        orphans = [c for c in containers if _service_of(c) not in known]
        if orphans and not remove_orphans:
            self.err(
                f"WARN Found orphan containers ({', '.join(_name(c) for c in orphans)}) for this "
                "project. If you removed or renamed this service in your compose file, you can "
                "run this command with the --remove-orphans flag to clean it up."
            )
            containers = [c for c in containers if c not in orphans]
        self._by_reverse_order(containers, lambda c: self._remove(c, timeout, stop=True, volumes=volumes))
        for _key, spec in project.networks.items():
            if spec.get("external"):
                continue
            name = spec["name"]
            found = [n for n in self.client.networks({"label": [f"{PROJECT_LABEL}={project.name}"]}) if n.get("Name") == name]
            for net in found:
                self._progress("Network", name, "Removing")
                try:
                    self.client.remove_network(net["Id"])
                except APIError as exc:
                    if not exc.is_not_found:
                        raise
                self._progress("Network", name, "Removed")
        if volumes:
            for _key, spec in project.volumes.items():
                if spec.get("external"):
                    continue
                name = spec["name"]
                try:
                    current = self.client.inspect_volume(name)
                except APIError:
                    continue
                if (current.get("Labels") or {}).get(PROJECT_LABEL) != project.name:
                    continue
                self._progress("Volume", name, "Removing")
                self.client.remove_volume(name)
                self._progress("Volume", name, "Removed")
        if rmi:
            for name, svc in project.services.items():
                if rmi == "local" and svc.get("image"):
                    continue
                image = convert.image_name(project, name)
                try:
                    self.client.remove_image(image)
                    self._progress("Image", image, "Removed")
                except APIError as exc:
                    if not exc.is_not_found:
                        raise

    def _by_reverse_order(self, containers: list[dict[str, Any]], action: Callable[[dict[str, Any]], Any]) -> None:
        """Act on dependents before their dependencies (stop web before db)."""
        order = dependency_order(self.project.services) if self.project.services else []
        rank = {n: i for i, n in enumerate(order)}
        groups: dict[int, list[dict[str, Any]]] = {}
        for c in containers:
            groups.setdefault(rank.get(_service_of(c), len(order)), []).append(c)
        for r in sorted(groups, reverse=True):
            self._parallel(action, groups[r])

    def _remove(self, c: dict[str, Any], timeout: int | None, *, stop: bool, volumes: bool = False) -> None:
        name = _name(c)
        if stop and c.get("State") in ("running", "paused", "restarting"):
            self._progress("Container", name, "Stopping")
            try:
                self.client.stop(c["Id"], timeout=timeout)
            except APIError as exc:
                if not exc.is_not_found:
                    raise
            self._progress("Container", name, "Stopped")
        self._progress("Container", name, "Removing")
        try:
            self.client.remove_container(c["Id"], force=True, v=volumes)
        except APIError as exc:
            if not (exc.is_not_found or exc.is_conflict):
                raise
        self._progress("Container", name, "Removed")

    def each(self, services: list[str], verb: str, action: Callable[[dict[str, Any]], Any],
             *, doing: str, done: str, reverse: bool = False, all: bool = True,
             states: tuple[str, ...] | None = None) -> int:
        """Apply `action` to the services' containers, reporting progress; the count."""
        containers = self.containers(self.selected(services), all=all)
        if states is not None:
            containers = [c for c in containers if c.get("State") in states]

        def one(c: dict[str, Any]) -> None:
            self._progress("Container", _name(c), doing)
            action(c)
            self._progress("Container", _name(c), done)

        if reverse:
            self._by_reverse_order(containers, one)
        else:
            order = dependency_order(self.project.services)
            rank = {n: i for i, n in enumerate(order)}
            groups: dict[int, list[dict[str, Any]]] = {}
            for c in containers:
                groups.setdefault(rank.get(_service_of(c), 0), []).append(c)
            for r in sorted(groups):
                self._parallel(one, groups[r])
        return len(containers)

    # --- helpers ---------------------------------------------------------------------------

    def _progress(self, kind: str, name: str, status: str) -> None:
        with self._lock:
            self.err(f" {kind} {name}  {status}")

    def _parallel(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        if not items:
            return []
        if len(items) == 1:
            return [fn(items[0])]
        with ThreadPoolExecutor(max_workers=min(_WORKERS, len(items))) as pool:
            return list(pool.map(fn, items))


_IPAM_KEYS = {"subnet": "Subnet", "ip_range": "IPRange", "gateway": "Gateway", "aux_addresses": "AuxiliaryAddresses"}


def _service_of(c: dict[str, Any]) -> str:
    return (c.get("Labels") or {}).get(SERVICE_LABEL, "")


def _name(c: dict[str, Any]) -> str:
    names = c.get("Names") or [c.get("Name") or c.get("Id", "")[:12]]
    return names[0].lstrip("/")


def _anonymous_volumes(info: dict[str, Any]) -> dict[str, str]:
    """Target → name of the container's anonymous volumes (64-hex names Docker generates)."""
    out = {}
    for mount in info.get("Mounts") or []:
        name = mount.get("Name") or ""
        if mount.get("Type") == "volume" and len(name) == 64 and all(ch in "0123456789abcdef" for ch in name):
            out[mount.get("Destination", "")] = name
    return out
