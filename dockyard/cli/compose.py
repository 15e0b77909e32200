# SPDX-License-Identifier: Apache-2.0
"""`dockyard compose …` (and the `dockyard-compose` script): Docker Compose v2's verbs.

    dockyard compose [-f FILE]... [-p NAME] [--project-directory DIR] [--env-file FILE]...
                     [--profile P]... COMMAND [OPTIONS] [ARGS]

The global flags pick and load the project (dockyard.compose.loader); each command then
works through dockyard.compose.executor over the same Engine API client as the rest of
the CLI. YAML and jsonschema are imported here only, never on the plain `dockyard ps`
path. Errors in the files are reported before anything is created.
"""

from __future__ import annotations

import json
import os
import sys
import threading

from dockyard.cli.command import Cli, StatusError, parse_args
from dockyard.cli.parser import Command, Flag, HelpRequested, UsageError
from dockyard.client.errors import APIError, ClientError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import SimpleNamespace
    from typing import Any

    from dockyard.compose.executor import Compose
    from dockyard.compose.loader import Project


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `dockyard-compose` script: `-H` is honoured as by `dockyard`."""
    args = list(sys.argv[1:] if argv is None else argv)
    host = None
    if args[:1] and args[0] in ("-H", "--host") and len(args) > 1:
        host, args = args[1], args[2:]
    cli = Cli(host=host)
    try:
        return cmd_compose(cli, args, "compose")
    except KeyboardInterrupt:
        return 130
    except (UsageError, StatusError, APIError, ClientError, HelpRequested) as exc:
        if isinstance(exc, HelpRequested):
            cli.stdout.write(str(exc))
            return 0
        cli.err(str(getattr(exc, "message", "") or exc))
        return getattr(exc, "status", 1) if not isinstance(exc, APIError | ClientError) else 1


GLOBAL = Command(
    "compose",
    "[OPTIONS] COMMAND",
    "Define and run multi-container applications with Docker",
    [
        Flag("file", "f", "list", help="Compose configuration files", type_name="stringArray"),
        Flag("project-name", "p", "string", help="Project name"),
        Flag("project-directory", "", "string", help="Specify an alternate working directory"),
        Flag("env-file", "", "list", help="Specify an alternate environment file", type_name="stringArray"),
        Flag("profile", "", "list", help="Specify a profile to enable", type_name="stringArray"),
        Flag("ansi", "", "string", help='Control when to print ANSI control characters ("never"|"always"|"auto")'),
        Flag("progress", "", "string", help="Set type of progress output"),
        Flag("parallel", "", "int", help="Control max parallelism, -1 for unlimited"),
        Flag("compatibility", "", help="Run compose in backward compatibility mode"),
        Flag("dry-run", "", help="Execute command in dry run mode"),
    ],
    interspersed=False,
)


def cmd_compose(cli: Cli, argv: list[str], path: str) -> int:
    """`dockyard compose`: global flags, then the subcommand."""
    try:
        opts, rest = GLOBAL.with_path(path).parse(argv)
    except HelpRequested:
        cli.stdout.write(_help())
        return 0
    if not rest:
        cli.stdout.write(_help())
        return 0
    name, args = rest[0], rest[1:]
    entry = _COMMANDS.get(name)
    if entry is None:
        raise StatusError(f"unknown docker command: \"compose {name}\"", 1)
    spec, handler, _ = entry
    try:
        sub, sub_args = parse_args(cli, spec, args)
    except HelpRequested as exc:
        cli.stdout.write(str(exc))
        return 0
    session = _Session(cli, opts, sub)
    from dockyard.compose.errors import ComposeError

    try:
        return int(handler(session, sub, sub_args) or 0)
    except ComposeError as exc:
        cli.err(str(exc))
        return exc.status


class _Session:
    """The loaded project and executor for one command, made on first use."""

    def __init__(self, cli: Cli, globals_: SimpleNamespace, opts: SimpleNamespace):
        self.cli = cli
        self.g = globals_
        self.opts = opts
        self._project: Project | None = None
        self._compose: Compose | None = None

    def project(self, enable: list[str] | None = None) -> Project:
        if self._project is None:
            from dockyard.compose.loader import Options, load_project

            seen: set[str] = set()

            def warn(message: str) -> None:
                if message not in seen:
                    seen.add(message)
                    self.cli.err(f"WARN[0000] {message}")

            self._project = load_project(
                Options(
                    files=list(self.g.file),
                    project_name=self.g.project_name,
                    project_directory=self.g.project_directory,
                    env_files=list(self.g.env_file),
                    profiles=list(self.g.profile),
                    warn=warn,
                ),
                enable=enable,
            )
        return self._project

    def compose(self, enable: list[str] | None = None) -> Compose:
        if self._compose is None:
            from dockyard.compose.executor import Compose

            self._compose = Compose(self.cli.client, self.project(enable), self.cli.err)
        return self._compose

    def project_name_only(self) -> str:
        """The project name for commands that work without files (down -p x, ps -p x)."""
        if self.g.project_name and not self.g.file:
            try:
                return self.project().name
            except Exception:  # noqa: BLE001 - no files: the name is all we need
                return self.g.project_name
        return self.project().name


# --- commands ---------------------------------------------------------------------------


def _up(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    if o.detach and (o.abort_on_container_exit or o.exit_code_from):
        raise StatusError("--abort-on-container-exit and --detach are incompatible", 1)
    if o.build and o.no_build:
        raise StatusError("--build and --no-build are incompatible", 1)
    if o.force_recreate and o.no_recreate:
        raise StatusError("--force-recreate and --no-recreate are incompatible", 1)
    scale = _scale(o.scale)
    c = s.compose(services)
    c.up(
        services, build=o.build, no_build=o.no_build, pull=o.pull, force_recreate=o.force_recreate,
        no_recreate=o.no_recreate, no_deps=o.no_deps, scale=scale, remove_orphans=o.remove_orphans,
        renew_anon_volumes=o.renew_anon_volumes, timeout=o.timeout, wait=o.wait,
        wait_timeout=o.wait_timeout, start=not o.no_start,
    )
    if o.detach or o.wait or o.no_start:
        return 0
    names = c.selected(services, deps=not o.no_deps)
    containers = c.containers(names)
    printer = _LogPrinter(s.cli, c, color=not o.no_color and _color(s), prefix=not o.no_log_prefix)
    s.cli.out("Attaching to " + ", ".join(_cname(x) for x in containers))
    exit_from = o.exit_code_from
    if exit_from:
        s.project().service(exit_from)
    abort = o.abort_on_container_exit or bool(exit_from)
    try:
        printer.follow(containers, follow_new=True, stop_when=("any" if abort else "all"))
    except KeyboardInterrupt:
        s.cli.err("Gracefully stopping... (press Ctrl+C again to force)")
        c.each(names, "stop", lambda x: c.client.stop(x["Id"], timeout=o.timeout),
               doing="Stopping", done="Stopped", reverse=True, states=("running", "paused", "restarting"))
        return 130
    if abort:
        s.cli.err("Aborting on container exit...")
        c.each(names, "stop", lambda x: c.client.stop(x["Id"], timeout=o.timeout),
               doing="Stopping", done="Stopped", reverse=True, states=("running", "paused", "restarting"))
    if exit_from:
        chosen = [x for x in c.containers([exit_from])]
        if chosen:
            return int(((c.client.inspect_container(chosen[0]["Id"]).get("State") or {}).get("ExitCode")) or 0)
    elif abort and printer.first_exit is not None:
        return printer.first_exit
    return 0


def _create(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    c = s.compose(services)
    c.up(services, start=False, build=o.build, no_build=o.no_build, pull=o.pull,
         force_recreate=o.force_recreate, no_recreate=o.no_recreate, scale=_scale(o.scale),
         remove_orphans=o.remove_orphans)
    return 0


def _down(s: _Session, o: SimpleNamespace, args: list[str]) -> int:
    if o.rmi and o.rmi not in ("local", "all"):
        raise StatusError(f'invalid value for --rmi: "{o.rmi}" (use "local" or "all")', 1)
    c = _compose_or_name(s)
    c.down(volumes=o.volumes, rmi=o.rmi, remove_orphans=o.remove_orphans, timeout=o.timeout)
    return 0


def _ps(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    c = _compose_or_name(s)
    if o.services:
        names = [n for n in (services or list(c.project.services))]
        if services:
            for n in services:
                c.project.service(n)
        running = {x["Labels"].get("com.docker.compose.service") for x in c.containers(names, all=o.all)}
        for n in names:
            if n in running or not o.status:
                s.cli.out(n)
        return 0
    # -a also lists the one-off containers of `compose run`, as Compose v2.
    containers = c.containers(services or None, all=o.all or bool(o.status) or bool(o.filter),
                              oneoff=None if o.all else False)
    statuses = set(o.status or [])
    for f in o.filter:
        key, _, value = f.partition("=")
        if key != "status":
            raise StatusError(f"invalid filter {key!r}", 1)
        statuses.add(value)
    if statuses:
        containers = [x for x in containers if x.get("State") in statuses]
    if o.quiet:
        for x in containers:
            s.cli.out(x["Id"])
        return 0
    rows = [_PsRow(x, trunc=not o.no_trunc) for x in containers]
    fmt = o.format or "table"
    if fmt == "json":
        for row in rows:
            s.cli.out(json.dumps(row.to_json()))
        return 0
    from dockyard.cli.listing import render_list

    s.cli.stdout.write(render_list(
        fmt, rows, _PS_TITLES,
        "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}",
    ))
    return 0


def _logs(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    c = s.compose()
    names = c.selected(services)
    containers = c.containers(names, oneoff=None)
    printer = _LogPrinter(s.cli, c, color=not o.no_color and _color(s), prefix=not o.no_log_prefix,
                          timestamps=o.timestamps, tail=o.tail, since=o.since, until=o.until,
                          services=set(names))
    try:
        if o.follow:
            printer.follow(containers, follow_new=True, stop_when="never")
        else:
            printer.dump(containers)
    except KeyboardInterrupt:
        return 130
    return 0


def _exec(s: _Session, o: SimpleNamespace, args: list[str]) -> int:
    service, command = args[0], args[1:]
    c = s.compose()
    c.project.service(service)
    target = _pick(c, service, o.index, running=True)
    argv = []
    if not o.detach:
        argv.append("-i")
        if not o.no_tty and _isatty(s.cli.stdin) and _isatty(s.cli.stdout):
            argv.append("-t")
    else:
        argv.append("-d")
    for e in o.env:
        argv += ["-e", e]
    if o.workdir:
        argv += ["-w", o.workdir]
    if o.user:
        argv += ["-u", o.user]
    if o.privileged:
        argv.append("--privileged")
    from dockyard.cli.exec import cmd_exec

    return cmd_exec(s.cli, [*argv, target["Id"], *command], "exec")


def _run(s: _Session, o: SimpleNamespace, args: list[str]) -> int:
    import secrets

    from dockyard.cli.opts import parse_port_spec

    service, command = args[0], args[1:]
    c = s.compose([service])
    project = c.project
    svc = project.service(service)
    if not o.no_deps:
        deps = sorted(set(__import__("dockyard.compose.planner", fromlist=["x"]).with_dependencies(project.services, [service])) - {service})
        if deps:
            c.up(deps, build=o.build)
    c.ensure_networks([service])
    c.ensure_volumes([service])
    images = c.ensure_images([service], build=o.build)
    overrides: dict[str, Any] = {}
    if command:
        overrides["command"] = command
    if o.entrypoint is not None:
        import shlex

        overrides["entrypoint"] = shlex.split(o.entrypoint) if o.entrypoint else [""]
    if o.workdir:
        overrides["working_dir"] = o.workdir
    if o.user:
        overrides["user"] = o.user
    env = dict(svc.get("environment") or {})
    for e in o.env:
        k, sep, v = e.partition("=")
        env[k] = v if sep else os.environ.get(k)
    overrides["environment"] = env
    labels = dict(svc.get("labels") or {})
    for item in o.label:
        k, _, v = item.partition("=")
        labels[k] = v
    overrides["labels"] = labels
    ports: list[dict[str, Any]] = []
    if o.service_ports:
        ports = list(svc.get("ports") or [])
    for p in o.publish:
        for port, binding in parse_port_spec(p):
            target, _, proto = port.partition("/")
            entry = {"mode": "ingress", "target": int(target), "protocol": proto}
            if binding["HostIp"]:
                entry["host_ip"] = binding["HostIp"]
            if binding["HostPort"]:
                entry["published"] = binding["HostPort"]
            ports.append(entry)
    overrides["ports"] = ports
    if o.volume:
        from dockyard.compose.model import parse_service_volume

        overrides["volumes"] = list(svc.get("volumes") or []) + [
            parse_service_volume(v, os.getcwd(), "--volume") for v in o.volume
        ]
    tty = not o.no_tty and _isatty(s.cli.stdin) and not o.detach
    overrides["tty"] = tty if not o.no_tty else False
    overrides["stdin_open"] = not o.detach
    overrides.pop("restart", None)
    overrides["restart"] = "no"
    overrides.pop("container_name", None)
    name = o.name or f"{project.name}-{service}-run-{secrets.token_hex(6)}"
    first = {n: ids[0]["Id"] for n in project.services if (ids := c.containers([n]))}
    body_hash = c.config_hash(service)
    svc_copy = dict(svc)
    svc_copy.pop("container_name", None)
    project.services[service] = svc_copy
    cid = c._create(service, 1, images.get(service, ""), body_hash, first, {}, container_name=name,
                    oneoff=True, overrides=overrides, auto_remove=bool(o.rm and o.detach))
    if o.detach:
        try:
            c.client.start(cid)
        except APIError:
            if o.rm:  # never started: nothing will remove it but us
                c.client.remove_container(cid, force=True, v=True)
            raise
        s.cli.out(name)
        return 0
    from dockyard.cli.run import start_attached

    try:
        status = start_attached(s.cli, cid, stdin=True)
    finally:
        if o.rm:
            try:
                c.client.remove_container(cid, force=True, v=True)
            except APIError:
                pass
    return status


def _config(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    from dockyard.compose.convert import check_services
    from dockyard.compose.yamlio import dump_yaml

    project = s.project(services or None)
    check_services(project)
    if o.services:
        for n in project.services:
            s.cli.out(n)
        return 0
    if o.volumes:
        for n in project.volumes:
            s.cli.out(n)
        return 0
    if o.images:
        from dockyard.compose.convert import image_name

        for n in project.services:
            s.cli.out(image_name(project, n))
        return 0
    if o.profiles:
        seen = sorted({p for svc in list(project.services.values()) + list(project.disabled.values()) for p in svc.get("profiles") or []})
        for p in seen:
            s.cli.out(p)
        return 0
    if o.hash:
        from dockyard.compose.executor import Compose

        c = Compose(None, project, s.cli.err)  # type: ignore[arg-type]
        wanted = project.services if o.hash == "*" else [x.strip() for x in o.hash.split(",")]
        for n in wanted:
            project.service(n)
            s.cli.out(f"{n} {c.config_hash(n)}")
        return 0
    if o.quiet:
        return 0
    model = project.to_dict()
    if services:
        model["services"] = {n: project.service(n) for n in services}
    text = json.dumps(model, indent=4) + "\n" if o.format == "json" else dump_yaml(model)
    if o.output:
        with open(o.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        s.cli.stdout.write(text)
    return 0


def _simple(verb: str) -> Callable[[_Session, SimpleNamespace, list[str]], int]:
    def run(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
        c = s.compose()
        client = c.client
        timeout = getattr(o, "timeout", None)
        if verb == "start":
            c.each(services, verb, lambda x: client.start(x["Id"]), doing="Starting", done="Started",
                   states=("created", "exited"))
        elif verb == "stop":
            c.each(services, verb, lambda x: client.stop(x["Id"], timeout=timeout), doing="Stopping",
                   done="Stopped", reverse=True, states=("running", "paused", "restarting"))
        elif verb == "restart":
            c.each(services, verb, lambda x: client.restart(x["Id"], timeout=timeout),
                   doing="Restarting", done="Started")
        elif verb == "pause":
            c.each(services, verb, lambda x: client.pause(x["Id"]), doing="Pausing", done="Paused",
                   states=("running",))
        elif verb == "unpause":
            c.each(services, verb, lambda x: client.unpause(x["Id"]), doing="Unpausing", done="Unpaused",
                   states=("paused",))
        elif verb == "kill":
            c.each(services, verb, lambda x: client.kill(x["Id"], o.signal), doing="Killing", done="Killed",
                   states=("running", "paused", "restarting"))
        return 0

    return run


def _rm(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    c = s.compose()
    if o.stop:
        c.each(services, "stop", lambda x: c.client.stop(x["Id"]), doing="Stopping", done="Stopped",
               reverse=True, states=("running", "paused", "restarting"))
    targets = [x for x in c.containers(c.selected(services)) if x.get("State") in ("exited", "created", "dead")]
    if not targets:
        s.cli.err("No stopped containers")
        return 0
    if not o.force:
        s.cli.err("Going to remove " + ", ".join(_cname(x) for x in targets))
        s.cli.stderr.write("? Are you sure? [yN] ")
        s.cli.stderr.flush()
        answer = s.cli.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return 0
    c._parallel(lambda x: c._remove(x, None, stop=False, volumes=o.volumes), targets)
    return 0


def _build(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    c = s.compose()
    args = {}
    for item in o.build_arg:
        k, sep, v = item.partition("=")
        args[k] = v if sep else os.environ.get(k, "")
    names = [n for n in c.selected(services) if c.project.services[n].get("build")]
    for n in names:
        image_id = c.build_service(n, no_cache=o.no_cache, pull=o.pull, build_args=args)
        if o.quiet:
            continue
        _ = image_id
    return 0


def _pull(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    from dockyard.compose.errors import ComposeError

    c = s.compose()
    failures = []

    def one(n: str) -> None:
        svc = c.project.services[n]
        if not svc.get("image") or svc.get("pull_policy") == "build":
            return
        try:
            c.pull_image(n)
        except ComposeError as exc:
            if not o.ignore_pull_failures and not (svc.get("build") and o.ignore_buildable):
                failures.append(str(exc))
            else:
                s.cli.err(f"WARN {exc}")

    c._parallel(one, c.selected(services))
    if failures:
        raise ComposeError(failures[0])
    return 0


def _push(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    from dockyard.compose.convert import image_name
    from dockyard.compose.errors import ComposeError

    c = s.compose()
    for n in c.selected(services):
        svc = c.project.services[n]
        if not svc.get("image"):
            continue
        image = image_name(c.project, n)
        repo, tag = _split_tag(image)
        c._progress("Image", image, "Pushing")
        try:
            for message in c.client.push(repo, tag):
                if message.get("error"):
                    raise ComposeError(message["error"])
        except (APIError, ComposeError) as exc:
            if not o.ignore_push_failures:
                raise ComposeError(f"failed to push {image}: {getattr(exc, 'message', exc)}") from None
            s.cli.err(f"WARN failed to push {image}: {exc}")
            continue
        c._progress("Image", image, "Pushed")
    return 0


def _top(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    from dockyard.cli.formatting import tabwrite

    c = s.compose()
    for x in c.containers(c.selected(services), all=False):
        result = c.client.top(x["Id"])
        s.cli.out(_cname(x))
        lines = ["\t".join(result.get("Titles") or [])]
        lines += ["\t".join(p) for p in result.get("Processes") or []]
        s.cli.out(tabwrite("\n".join(lines), minwidth=1, padding=3))
        s.cli.out("")
    return 0


def _port(s: _Session, o: SimpleNamespace, args: list[str]) -> int:
    service, private = args
    c = s.compose()
    c.project.service(service)
    target = _pick(c, service, o.index, running=False)
    port, _, proto = private.partition("/")
    proto = o.protocol or proto or "tcp"
    info = c.client.inspect_container(target["Id"])
    bindings = ((info.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{port}/{proto}") or []
    if not bindings:
        raise StatusError(f"no port {port}/{proto} for container {_cname(target)}", 1)
    b = bindings[0]
    s.cli.out(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}")
    return 0


def _images(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    from dockyard.cli.formatting import short_id, tabwrite
    from dockyard.units import human_size

    c = s.compose()
    containers = c.containers(c.selected(services))
    if o.quiet:
        for image_id in dict.fromkeys(x.get("ImageID", "") for x in containers):
            s.cli.out(short_id(image_id, True))
        return 0
    rows = []
    for x in containers:
        try:
            image = c.client.inspect_image(x.get("ImageID") or x.get("Image"))
        except APIError:
            continue
        ref = x.get("Image", "")
        if ref.startswith("sha256:"):  # the name it was made from moved on: what the image has now
            tags = image.get("RepoTags") or []
            repo, tag = _split_tag(tags[0]) if tags else ("<none>", "<none>")
        else:
            repo, tag = _split_tag(ref)
        rows.append({"ContainerName": _cname(x), "Repository": repo, "Tag": tag,
                     "ID": image.get("Id", ""), "Size": image.get("Size", 0)})
    if o.format == "json":
        s.cli.out(json.dumps(rows))
        return 0
    lines = ["CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE"]
    lines += [f"{r['ContainerName']}\t{r['Repository']}\t{r['Tag']}\t{short_id(r['ID'])}\t{human_size(r['Size'])}" for r in rows]
    s.cli.out(tabwrite("\n".join(lines)))
    return 0


def _events(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    c = s.compose()
    names = set(c.selected(services))
    filters = {"label": [f"com.docker.compose.project={c.project.name}"], "type": ["container"]}
    try:
        for event in c.client.events(filters=filters):
            attrs = (event.get("Actor") or {}).get("Attributes") or {}
            service = attrs.get("com.docker.compose.service", "")
            if service not in names:
                continue
            record = {
                "time": _event_time(event),
                "type": "container",
                "action": event.get("Action") or event.get("status"),
                "id": (event.get("Actor") or {}).get("ID") or event.get("id"),
                "service": service,
                "attributes": {k: v for k, v in attrs.items() if not k.startswith("com.docker.compose.")},
            }
            if o.json:
                s.cli.out(json.dumps(record))
            else:
                extra = ", ".join(f"{k}={v}" for k, v in sorted(record["attributes"].items()))
                s.cli.out(f"{record['time']} container {record['action']} {record['id']} ({extra})")
            s.cli.stdout.flush()
    except KeyboardInterrupt:
        return 130
    return 0


def _ls(s: _Session, o: SimpleNamespace, args: list[str]) -> int:
    containers = s.cli.client.containers(all=True, filters={"label": ["com.docker.compose.project"]})
    projects: dict[str, dict[str, Any]] = {}
    for x in containers:
        labels = x.get("Labels") or {}
        p = projects.setdefault(labels["com.docker.compose.project"], {"states": {}, "files": set()})
        p["states"][x.get("State", "")] = p["states"].get(x.get("State", ""), 0) + 1
        if labels.get("com.docker.compose.project.config_files"):
            p["files"].add(labels["com.docker.compose.project.config_files"])
    rows = []
    for name in sorted(projects):
        p = projects[name]
        if not o.all and not p["states"].get("running"):
            continue
        for f in o.filter:
            key, _, value = f.partition("=")
            if key == "name" and value not in name:
                break
        else:
            status = ", ".join(f"{st}({n})" for st, n in sorted(p["states"].items()))
            rows.append({"Name": name, "Status": status, "ConfigFiles": ",".join(sorted(p["files"]))})
    if o.quiet:
        for r in rows:
            s.cli.out(r["Name"])
    elif o.format == "json":
        s.cli.out(json.dumps(rows))
    else:
        from dockyard.cli.formatting import tabwrite

        lines = ["NAME\tSTATUS\tCONFIG FILES"] + [f"{r['Name']}\t{r['Status']}\t{r['ConfigFiles']}" for r in rows]
        s.cli.out(tabwrite("\n".join(lines)))
    return 0


def _cp(s: _Session, o: SimpleNamespace, args: list[str]) -> int:
    src, dst = args
    c = s.compose()
    out = []
    for arg in (src, dst):
        service, sep, path = arg.partition(":")
        if sep and service in c.project.services:
            target = _pick(c, service, o.index, running=False)
            out.append(f"{target['Id']}:{path}")
        else:
            out.append(arg)
    from dockyard.cli.cp import cmd_cp

    argv = (["-a"] if o.archive else []) + (["-L"] if o.follow_link else []) + out
    return cmd_cp(s.cli, argv, "cp")


def _version(s: _Session, o: SimpleNamespace, args: list[str]) -> int:
    from dockyard import __version__

    if o.short:
        s.cli.out(__version__)
    elif o.format == "json":
        s.cli.out(json.dumps({"version": f"v{__version__}"}))
    else:
        s.cli.out(f"dockyard compose version v{__version__}")
    return 0


def _wait(s: _Session, o: SimpleNamespace, services: list[str]) -> int:
    c = s.compose()
    codes = []
    containers = c.containers(c.selected(services))

    def one(x: dict[str, Any]) -> int:
        return int((c.client.wait(x["Id"]) or {}).get("StatusCode", 0))

    codes = c._parallel(one, containers)
    if o.down_project:
        c.down()
    for x, code in zip(containers, codes, strict=True):
        s.cli.out(f"{_cname(x)} exited with code {code}")
    return max(codes, default=0)


# --- helpers ----------------------------------------------------------------------------


def _compose_or_name(s: _Session) -> Compose:
    """Commands that also work with `-p NAME` and no compose file (down, ps)."""
    from dockyard.compose.errors import ComposeError
    from dockyard.compose.executor import Compose
    from dockyard.compose.loader import Project

    try:
        return s.compose()
    except ComposeError as exc:
        if not s.g.project_name or exc.status != 14:
            raise
        project = Project(s.g.project_name, os.getcwd(), [], {}, {}, {}, {}, {}, {})
        return Compose(s.cli.client, project, s.cli.err)


def _pick(c: Compose, service: str, index: int | None, running: bool) -> dict[str, Any]:
    from dockyard.compose.planner import container_number

    containers = c.containers([service], all=not running)
    if running:
        containers = [x for x in containers if x.get("State") == "running"]
    if index:
        containers = [x for x in containers if container_number(x) == index]
    if not containers:
        raise StatusError(f"service {service!r} is not running" if running else f"no container found for {service}", 1)
    return containers[0]


def _scale(values: list[str]) -> dict[str, int]:
    out = {}
    for item in values:
        name, sep, n = item.partition("=")
        if not sep or not n.isdigit():
            raise StatusError(f"invalid --scale value {item!r}: expected SERVICE=NUM", 1)
        out[name] = int(n)
    return out


def _split_tag(image: str) -> tuple[str, str]:
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:]
    return name, "latest" if not digest else ""


def _cname(x: dict[str, Any]) -> str:
    return ((x.get("Names") or [""])[0]).lstrip("/")


def _event_time(event: dict[str, Any]) -> str:
    import datetime

    nano = event.get("timeNano") or int(event.get("time", 0)) * 1_000_000_000
    return datetime.datetime.fromtimestamp(nano / 1e9).isoformat(timespec="microseconds")


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _color(s: _Session) -> bool:
    ansi = s.g.ansi or "auto"
    if ansi == "never" or os.environ.get("NO_COLOR"):
        return False
    return ansi == "always" or _isatty(s.cli.stdout)


_PS_TITLES = {"Name": "NAME", "Image": "IMAGE", "Command": "COMMAND", "Service": "SERVICE",
              "RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Project": "PROJECT",
              "ID": "CONTAINER ID", "State": "STATE", "Health": "HEALTH", "ExitCode": "EXIT CODE"}


def _row_base() -> type:
    from dockyard.cli.containers import ContainerRow

    return ContainerRow


class _PsRow(_row_base()):  # type: ignore[misc]
    """A `compose ps` row: Docker's container fields plus Compose's."""

    @property
    def Name(self) -> str:  # noqa: N802 - Go template field names
        return _cname(self.c)

    @property
    def Service(self) -> str:  # noqa: N802
        return (self.c.get("Labels") or {}).get("com.docker.compose.service", "")

    @property
    def Project(self) -> str:  # noqa: N802
        return (self.c.get("Labels") or {}).get("com.docker.compose.project", "")

    @property
    def Health(self) -> str:  # noqa: N802
        status = self.c.get("Status", "")
        for word in ("healthy", "unhealthy", "starting"):
            if f"({word})" in status or f"(health: {word})" in status:
                return word
        return ""

    @property
    def ExitCode(self) -> int:  # noqa: N802
        import re

        m = re.search(r"Exited \((-?\d+)\)", self.c.get("Status", ""))
        return int(m.group(1)) if m else 0

    STRUCT_JSON = True  # compose's ContainerSummary

    def to_json(self) -> dict[str, Any]:
        publishers = [
            {"URL": p.get("IP", ""), "TargetPort": p.get("PrivatePort"), "PublishedPort": p.get("PublicPort", 0),
             "Protocol": p.get("Type", "tcp")}
            for p in self.c.get("Ports") or []
        ]
        return {
            "Command": self.c.get("Command", ""), "CreatedAt": self.CreatedAt, "ExitCode": self.ExitCode,
            "Health": self.Health, "ID": self.c.get("Id", ""), "Image": self.c.get("Image", ""),
            "Labels": self.Labels, "LocalVolumes": self.LocalVolumes, "Mounts": self.Mounts,
            "Name": self.Name, "Names": self.Name, "Networks": self.Networks, "Ports": self.Ports,
            "Project": self.Project, "Publishers": publishers, "RunningFor": self.RunningFor,
            "Service": self.Service, "Size": "0B", "State": self.State, "Status": self.Status,
        }


_COLORS = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"]


class _LogPrinter:
    """Streams the logs of many containers, each line prefixed with its container name."""

    def __init__(self, cli: Cli, compose: Compose, *, color: bool, prefix: bool, timestamps: bool = False,
                 tail: str | None = None, since: str | None = None, until: str | None = None,
                 services: set[str] | None = None):
        self.cli = cli
        self.compose = compose
        self.color = color
        self.prefix = prefix
        self.timestamps = timestamps
        self.tail = tail if tail not in (None, "all") else None
        self.since = since
        self.until = until
        self.services = services
        self.lock = threading.Lock()
        self.width = 0
        self.colors: dict[str, str] = {}
        self.first_exit: int | None = None
        self._threads: dict[str, threading.Thread] = {}
        self._ended = threading.Condition()
        self._done: set[str] = set()

    def dump(self, containers: list[dict[str, Any]]) -> None:
        self._width(containers)
        for x in containers:
            self._stream(x, follow=False)

    def follow(self, containers: list[dict[str, Any]], *, follow_new: bool, stop_when: str) -> None:
        """Stream until every watched container has stopped (`all`), one has (`any`), or
        forever (`never`: for `logs -f`, which also picks up containers started later)."""
        self._width(containers)
        for x in containers:
            self._spawn(x)
        if follow_new:
            threading.Thread(target=self._watch, daemon=True).start()
        with self._ended:
            while True:
                if stop_when == "any" and self._done:
                    return
                if stop_when == "all" and self._threads and self._done >= set(self._threads):
                    return
                if stop_when == "all" and not self._threads:
                    return
                self._ended.wait(0.5)

    def _width(self, containers: list[dict[str, Any]]) -> None:
        for x in containers:
            self.width = max(self.width, len(_cname(x)))

    def _spawn(self, x: dict[str, Any]) -> None:
        cid = x["Id"]
        if cid in self._threads:
            return
        t = threading.Thread(target=self._run, args=(x,), daemon=True)
        self._threads[cid] = t
        t.start()

    def _run(self, x: dict[str, Any]) -> None:
        try:
            self._stream(x, follow=True)
            try:
                state = self.compose.client.inspect_container(x["Id"]).get("State") or {}
                if not state.get("Running"):
                    code = int(state.get("ExitCode", 0))
                    with self.lock:
                        if self.first_exit is None:
                            self.first_exit = code
                        self.cli.out(f"{_cname(x)} exited with code {code}")
            except APIError:
                pass
        except (APIError, OSError):
            pass
        finally:
            with self._ended:
                self._done.add(x["Id"])
                self._ended.notify_all()

    def _watch(self) -> None:
        c = self.compose
        filters = {"label": [f"com.docker.compose.project={c.project.name}"], "type": ["container"],
                   "event": ["start"]}
        try:
            for event in c.client.events(filters=filters):
                attrs = (event.get("Actor") or {}).get("Attributes") or {}
                if self.services and attrs.get("com.docker.compose.service") not in self.services:
                    continue
                cid = (event.get("Actor") or {}).get("ID") or event.get("id")
                if cid and cid not in self._threads:
                    info = c.client.inspect_container(cid)
                    summary = {"Id": cid, "Names": [info.get("Name", "")], "Labels": attrs}
                    self._width([summary])
                    self._spawn(summary)
                elif cid in self._done:
                    # Restarted: stream again from now on.
                    with self._ended:
                        self._done.discard(cid)
                    self._threads.pop(cid, None)
                    self._spawn({"Id": cid, "Names": [attrs.get("name", cid[:12])], "Labels": attrs})
        except (APIError, OSError):
            return

    def _stream(self, x: dict[str, Any], follow: bool) -> None:
        from dockyard.client.stdcopy import Demuxer

        client = self.compose.client
        info = client.inspect_container(x["Id"])
        tty = bool((info.get("Config") or {}).get("Tty"))
        chunks = client.logs(x["Id"], follow=follow, timestamps=self.timestamps, tail=self.tail,
                             since=self.since, until=self.until)
        name = _cname(x)
        head = ""
        if self.prefix:
            head = f"{name.ljust(self.width)}  | "
            if self.color:
                code = self.colors.setdefault(name, _COLORS[len(self.colors) % len(_COLORS)])
                head = f"\x1b[{code}m{head}\x1b[0m"
        buffers = {1: b"", 2: b""}
        demuxer = None if tty else Demuxer()
        for chunk in chunks:
            frames = [(1, chunk)] if demuxer is None else demuxer.feed(chunk)
            for stream, payload in frames:
                stream = 2 if stream == 2 else 1
                data = buffers[stream] + payload
                *lines, rest = data.split(b"\n")
                buffers[stream] = rest
                self._emit(head, lines, stream)
        for stream, rest in buffers.items():
            if rest:
                self._emit(head, [rest], stream)

    def _emit(self, head: str, lines: list[bytes], stream: int) -> None:
        if not lines:
            return
        text = "".join(f"{head}{line.decode('utf-8', 'replace').rstrip(chr(13))}\n" for line in lines)
        with self.lock:
            target = self.cli.stdout
            target.write(text)
            target.flush()


def _services_cmd(name: str, summary: str, flags: list[Flag], usage: str = "[OPTIONS] [SERVICE...]",
                  min_args: int = 0, max_args: int | None = None) -> Command:
    return Command(f"compose {name}", usage, summary, flags, min_args=min_args, max_args=max_args)


_T = Flag("timeout", "t", "int", help="Specify a shutdown timeout in seconds")

_COMMANDS: dict[str, tuple[Command, Callable[..., int], str]] = {
    "up": (_services_cmd("up", "Create and start containers", [
        Flag("detach", "d", help="Detached mode: Run containers in the background"),
        Flag("build", "", help="Build images before starting containers"),
        Flag("no-build", "", help="Don't build an image, even if it's policy"),
        Flag("pull", "", "string", help='Pull image before running ("always"|"missing"|"never")'),
        Flag("force-recreate", "", help="Recreate containers even if their configuration and image haven't changed"),
        Flag("no-recreate", "", help="If containers already exist, don't recreate them"),
        Flag("no-deps", "", help="Don't start linked services"),
        Flag("no-start", "", help="Don't start the services after creating them"),
        Flag("scale", "", "list", help="Scale SERVICE to NUM instances", type_name="scale"),
        Flag("wait", "", help="Wait for services to be running|healthy. Implies detached mode."),
        Flag("wait-timeout", "", "int", help="Maximum duration in seconds to wait for the project to be running|healthy"),
        Flag("remove-orphans", "", help="Remove containers for services not defined in the Compose file"),
        Flag("renew-anon-volumes", "V", help="Recreate anonymous volumes instead of retrieving data from the previous containers"),
        Flag("abort-on-container-exit", "", help="Stops all containers if any container was stopped"),
        Flag("exit-code-from", "", "string", help="Return the exit code of the selected service container"),
        Flag("no-color", "", help="Produce monochrome output"),
        Flag("no-log-prefix", "", help="Don't print prefix in logs"),
        Flag("quiet-pull", "", help="Pull without printing progress information"),
        Flag("attach-dependencies", "", help="Automatically attach to log output of dependent services"),
        _T,
    ]), _up, "Create and start containers"),
    "create": (_services_cmd("create", "Creates containers for a service", [
        Flag("build", "", help="Build images before starting containers"),
        Flag("no-build", "", help="Don't build an image, even if it's policy"),
        Flag("pull", "", "string", help="Pull image before running"),
        Flag("force-recreate", "", help="Recreate containers even if unchanged"),
        Flag("no-recreate", "", help="If containers already exist, don't recreate them"),
        Flag("scale", "", "list", help="Scale SERVICE to NUM instances", type_name="scale"),
        Flag("remove-orphans", "", help="Remove containers for services not defined in the Compose file"),
    ]), _create, "Creates containers for a service"),
    "down": (_services_cmd("down", "Stop and remove containers, networks", [
        Flag("volumes", "v", help="Remove named volumes declared in the volumes section and anonymous volumes"),
        Flag("rmi", "", "string", help='Remove images used by services ("local"|"all")'),
        Flag("remove-orphans", "", help="Remove containers for services not defined in the Compose file"),
        _T,
    ], usage="[OPTIONS]", max_args=0), _down, "Stop and remove containers, networks"),
    "ps": (_services_cmd("ps", "List containers", [
        Flag("all", "a", help="Show all stopped containers"),
        Flag("quiet", "q", help="Only display IDs"),
        Flag("services", "", help="Display services"),
        Flag("format", "", "string", help="Format output using a custom template, table or json"),
        Flag("status", "", "list", help="Filter services by status", type_name="stringArray"),
        Flag("filter", "", "list", help="Filter services by a property (status)"),
        Flag("no-trunc", "", help="Don't truncate output"),
        Flag("orphans", "", default=True, help="Include orphaned services"),
    ]), _ps, "List containers"),
    "logs": (_services_cmd("logs", "View output from containers", [
        Flag("follow", "f", help="Follow log output"),
        Flag("tail", "n", "string", help="Number of lines to show from the end of the logs"),
        Flag("timestamps", "t", help="Show timestamps"),
        Flag("since", "", "string", help="Show logs since timestamp or relative time"),
        Flag("until", "", "string", help="Show logs before a timestamp or relative time"),
        Flag("no-color", "", help="Produce monochrome output"),
        Flag("no-log-prefix", "", help="Don't print prefix in logs"),
        Flag("index", "", "int", help="index of the container if service has multiple replicas"),
    ]), _logs, "View output from containers"),
    "exec": (Command("compose exec", "[OPTIONS] SERVICE COMMAND [ARGS...]", "Execute a command in a running container", [
        Flag("no-TTY", "T", dest="no_tty", help="Disable pseudo-TTY allocation"),
        Flag("tty", "t", help="Allocate a pseudo-TTY (the default when stdin is a terminal)"),
        Flag("interactive", "i", default=True, help="Keep STDIN open even if not attached"),
        Flag("detach", "d", help="Detached mode: Run command in the background"),
        Flag("env", "e", "list", help="Set environment variables", type_name="stringArray"),
        Flag("workdir", "w", "string", help="Path to workdir directory for this command"),
        Flag("user", "u", "string", help="Run the command as this user"),
        Flag("index", "", "int", help="Index of the container if service has multiple replicas"),
        Flag("privileged", "", help="Give extended privileges to the process"),
    ], min_args=2, interspersed=False), _exec, "Execute a command in a running container"),
    "run": (Command("compose run", "[OPTIONS] SERVICE [COMMAND] [ARGS...]", "Run a one-off command on a service", [
        Flag("rm", "", help="Automatically remove the container when it exits"),
        Flag("detach", "d", help="Run container in background and print container ID"),
        Flag("env", "e", "list", help="Set environment variables", type_name="stringArray"),
        Flag("label", "l", "list", help="Add or override a label", type_name="stringArray"),
        Flag("volume", "v", "list", help="Bind mount a volume", type_name="stringArray"),
        Flag("publish", "p", "list", help="Publish a container's port(s) to the host", type_name="stringArray"),
        Flag("service-ports", "P", help="Run command with all service's ports enabled and mapped to the host"),
        Flag("no-deps", "", help="Don't start linked services"),
        Flag("name", "", "string", help="Assign a name to the container"),
        Flag("entrypoint", "", "string", help="Override the entrypoint of the image"),
        Flag("workdir", "w", "string", help="Working directory inside the container"),
        Flag("user", "u", "string", help="Run as specified username or uid"),
        Flag("no-TTY", "T", dest="no_tty", help="Disable pseudo-TTY allocation"),
        Flag("interactive", "i", default=True, help="Keep STDIN open even if not attached"),
        Flag("tty", "t", help="Allocate a pseudo-TTY"),
        Flag("build", "", help="Build image before starting container"),
        Flag("quiet-pull", "", help="Pull without printing progress information"),
    ], min_args=1, interspersed=False), _run, "Run a one-off command on a service"),
    "config": (_services_cmd("config", "Parse, resolve and render compose file in canonical format", [
        Flag("services", "", help="Print the service names, one per line"),
        Flag("volumes", "", help="Print the volume names, one per line"),
        Flag("images", "", help="Print the image names, one per line"),
        Flag("profiles", "", help="Print the profile names, one per line"),
        Flag("hash", "", "string", help="Print the service config hash, one per line"),
        Flag("quiet", "q", help="Only validate the configuration, don't print anything"),
        Flag("format", "", "string", default="yaml", help='Format the output. Values: [yaml | json]'),
        Flag("output", "o", "string", help="Save to file (default to stdout)"),
        Flag("no-interpolate", "", help="Don't interpolate environment variables"),
        Flag("resolve-image-digests", "", help="Pin image tags to digests"),
    ]), _config, "Parse, resolve and render compose file in canonical format"),
    "start": (_services_cmd("start", "Start services", []), _simple("start"), "Start services"),
    "stop": (_services_cmd("stop", "Stop services", [_T]), _simple("stop"), "Stop services"),
    "restart": (_services_cmd("restart", "Restart service containers", [_T, Flag("no-deps", "", help="Don't restart dependent services")]),
                _simple("restart"), "Restart service containers"),
    "pause": (_services_cmd("pause", "Pause services", []), _simple("pause"), "Pause services"),
    "unpause": (_services_cmd("unpause", "Unpause services", []), _simple("unpause"), "Unpause services"),
    "kill": (_services_cmd("kill", "Force stop service containers", [
        Flag("signal", "s", "string", default="SIGKILL", help="SIGNAL to send to the container"),
        Flag("remove-orphans", "", help="Remove containers for services not defined in the Compose file"),
    ]), _simple("kill"), "Force stop service containers"),
    "rm": (_services_cmd("rm", "Removes stopped service containers", [
        Flag("force", "f", help="Don't ask to confirm removal"),
        Flag("stop", "s", help="Stop the containers, if required, before removing"),
        Flag("volumes", "v", help="Remove any anonymous volumes attached to containers"),
    ]), _rm, "Removes stopped service containers"),
    "build": (_services_cmd("build", "Build or rebuild services", [
        Flag("build-arg", "", "list", help="Set build-time variables for services", type_name="stringArray"),
        Flag("no-cache", "", help="Do not use cache when building the image"),
        Flag("pull", "", help="Always attempt to pull a newer version of the image"),
        Flag("quiet", "q", help="Don't print anything to STDOUT"),
    ]), _build, "Build or rebuild services"),
    "pull": (_services_cmd("pull", "Pull service images", [
        Flag("ignore-pull-failures", "", help="Pull what it can and ignores images with pull failures"),
        Flag("ignore-buildable", "", help="Ignore images that can be built"),
        Flag("quiet", "q", help="Pull without printing progress information"),
        Flag("include-deps", "", help="Also pull services declared as dependencies"),
    ]), _pull, "Pull service images"),
    "push": (_services_cmd("push", "Push service images", [
        Flag("ignore-push-failures", "", help="Push what it can and ignores images with push failures"),
        Flag("quiet", "q", help="Push without printing progress information"),
    ]), _push, "Push service images"),
    "top": (_services_cmd("top", "Display the running processes", []), _top, "Display the running processes"),
    "port": (Command("compose port", "[OPTIONS] SERVICE PRIVATE_PORT", "Print the public port for a port binding", [
        Flag("index", "", "int", help="Index of the container if service has multiple replicas"),
        Flag("protocol", "", "string", help="tcp or udp"),
    ], min_args=2, max_args=2), _port, "Print the public port for a port binding"),
    "images": (_services_cmd("images", "List images used by the created containers", [
        Flag("quiet", "q", help="Only display IDs"),
        Flag("format", "", "string", help="Format the output. Values: [table | json]"),
    ]), _images, "List images used by the created containers"),
    "events": (_services_cmd("events", "Receive real time events from containers", [
        Flag("json", "", help="Output events as a stream of json objects"),
    ]), _events, "Receive real time events from containers"),
    "ls": (Command("compose ls", "[OPTIONS]", "List running compose projects", [
        Flag("all", "a", help="Show all stopped Compose projects"),
        Flag("format", "", "string", help="Format the output. Values: [table | json]"),
        Flag("quiet", "q", help="Only display IDs"),
        Flag("filter", "", "list", help="Filter output based on conditions provided"),
    ], max_args=0), _ls, "List running compose projects"),
    "cp": (Command("compose cp", "[OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n\tdockyard compose cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH",
                   "Copy files/folders between a service container and the local filesystem", [
        Flag("archive", "a", help="Archive mode (copy all uid/gid information)"),
        Flag("follow-link", "L", help="Always follow symbol link in SRC_PATH"),
        Flag("index", "", "int", help="Index of the container if service has multiple replicas"),
        Flag("all", "", help="Include containers created by the run command"),
    ], min_args=2, max_args=2), _cp, "Copy files/folders between a service container and the local filesystem"),
    "version": (Command("compose version", "[OPTIONS]", "Show the Docker Compose version information", [
        Flag("format", "f", "string", help="Format the output. Values: [pretty | json]"),
        Flag("short", "", help="Shows only Compose's version number"),
    ], max_args=0), _version, "Show the Docker Compose version information"),
    "wait": (_services_cmd("wait", "Block until the first service container stops", [
        Flag("down-project", "", help="Drops project when the first container stops"),
    ], usage="SERVICE [SERVICE...] [OPTIONS]", min_args=1), _wait, "Block until the first service container stops"),
}


def _help() -> str:
    lines = [GLOBAL.help_text().rstrip(), "", "Commands:"]
    lines += [f"  {name.ljust(10)}{summary}" for name, (_, _, summary) in sorted(_COMMANDS.items())]
    lines += ["", "Run 'dockyard compose COMMAND --help' for more information on a command.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
