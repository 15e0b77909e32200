# SPDX-License-Identifier: Apache-2.0
"""Container verbs other than run/create, exec/attach, cp and stats: ps, start, stop,
restart, kill, rm, pause, unpause, wait, rename, update, logs, port, top, diff, export,
commit and container prune.

Verbs that take several containers act on each, print each name that worked, and
report the failures — Docker's behaviour, which scripts rely on (`dockyard rm -f
$(dockyard ps -aq)` removes what it can). Like Docker, most print the errors together
at the end and exit 1; `start` prints each as it happens, then a summary.
"""

from __future__ import annotations

from dockyard.cli.command import Cli, StatusError, filter_value, parse_args, parse_filters
from dockyard.cli.parser import Command, Flag, is_set

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

PS = Command(
    "ps",
    "[OPTIONS]",
    "List containers",
    [
        Flag("all", "a", help="Show all containers (default shows just running)"),
        Flag(
            "filter",
            "f",
            "list",
            type_name="filter",
            help="Filter output based on conditions provided",
            validate=filter_value,
        ),
        Flag("format", "", "string", help="Format output using a custom template"),
        Flag(
            "last",
            "n",
            "int",
            default=-1,
            help="Show n last created containers (includes all states)",
        ),
        Flag("latest", "l", help="Show the latest created container (includes all states)"),
        Flag("no-trunc", help="Don't truncate output"),
        Flag("quiet", "q", help="Only display container IDs"),
        Flag("size", "s", help="Display total file sizes"),
    ],
    max_args=0,
    aliases=["container ls", "container list", "container ps", "ps"],
)

PS_TITLES = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
    "LocalVolumes": "LOCAL VOLUMES",
    "Platform": "PLATFORM",
}

PS_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)

PS_RAW = (
    "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\n"
    "created_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\n"
    "names: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n"
)


def cmd_ps(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = parse_args(cli, PS.with_path(path), argv)
    fmt = opts.format or ""
    if fmt and opts.quiet:
        cli.stderr.write("WARNING: Ignoring custom format, because both --format and --quiet are set.\n")
    limit = opts.last
    if opts.latest and opts.last == -1:
        limit = 1
    size = bool(opts.size)
    if fmt:
        from dockyard.cli.listing import parse_template
        from dockyard.cli.templates import TemplateError

        template = parse_template(fmt if fmt not in ("table", "json", "raw") else "{{.ID}}")
        probe = ContainerRow({}, trunc=True)
        try:
            template.execute(probe)
        except TemplateError as exc:
            raise StatusError(f"failed to execute template: {exc}", 1) from None
        if not opts.quiet and not size and not is_set(opts, "size") and "Size" in probe.used:
            size = True
    containers = cli.client.containers(
        all=opts.all,
        limit=limit if limit and limit > 0 else None,
        size=size,
        filters=parse_filters(opts.filter),
    )
    if opts.quiet:
        fmt = "{{.ID}}"
    elif fmt in ("", "table"):
        fmt = PS_TABLE + ("\t{{.Size}}" if size else "")
    elif fmt == "raw":
        fmt = PS_RAW + ("size: {{.Size}}\n" if size else "")
    from dockyard.cli.listing import render_list

    rows = [ContainerRow(c, trunc=not opts.no_trunc) for c in containers]
    cli.stdout.write(render_list(fmt, rows, PS_TITLES, PS_TABLE))
    return 0


class ContainerRow:
    """One `ps` row; attribute names are Docker's template fields."""

    GO_TYPE = "*formatter.ContainerContext"

    FIELDS = [
        "Command",
        "CreatedAt",
        "ID",
        "Image",
        "Labels",
        "LocalVolumes",
        "Mounts",
        "Names",
        "Networks",
        "Platform",
        "Ports",
        "RunningFor",
        "Size",
        "State",
        "Status",
    ]

    def __init__(self, summary: dict[str, Any], trunc: bool = True, now: float | None = None):
        self.c = summary
        self.trunc = trunc
        self.now = now
        self.used: set[str] = set()

    @property
    def ID(self) -> str:  # noqa: N802 - Go template field names
        from dockyard.cli.formatting import short_id

        return short_id(self.c.get("Id", ""), not self.trunc)

    @property
    def Image(self) -> str:  # noqa: N802
        from dockyard.cli.formatting import short_id

        image = self.c.get("Image") or ""
        if not image:
            return "<no image>"
        if self.trunc:
            image_id = self.c.get("ImageID") or ""
            if short_id(image_id) == short_id(image) or (
                not image_id and image.startswith("sha256:")
            ):
                return short_id(image)
            # A reference pinned by digest shows its name (and tag) only, and in its
            # familiar form, as in Docker.
            image = image.split("@", 1)[0]
            for prefix in ("docker.io/library/", "docker.io/"):
                if image.startswith(prefix):
                    image = image[len(prefix) :]
                    break
        return image

    @property
    def Command(self) -> str:  # noqa: N802
        from dockyard.cli.formatting import ellipsis
        from dockyard.cli.templates import go_quote

        command = self.c.get("Command") or ""
        if self.trunc:
            command = ellipsis(command, 20)
        return go_quote(command)

    @property
    def CreatedAt(self) -> str:  # noqa: N802
        from dockyard.cli.formatting import go_time

        return go_time(self.c.get("Created", 0))

    @property
    def RunningFor(self) -> str:  # noqa: N802
        from dockyard.cli.formatting import since

        return since(self.c.get("Created", 0), self.now)

    @property
    def Ports(self) -> str:  # noqa: N802
        from dockyard.cli.formatting import display_ports

        return display_ports(self.c.get("Ports"))

    @property
    def State(self) -> str:  # noqa: N802
        return self.c.get("State", "")

    @property
    def Status(self) -> str:  # noqa: N802
        return self.c.get("Status", "")

    @property
    def Size(self) -> str:  # noqa: N802
        from dockyard.units import human_size

        self.used.add("Size")
        rw = human_size(self.c.get("SizeRw") or 0)
        root = self.c.get("SizeRootFs") or 0
        return f"{rw} (virtual {human_size(root)})" if root > 0 else rw

    @property
    def Names(self) -> str:  # noqa: N802
        names = [n[1:] if n.startswith("/") else n for n in self.c.get("Names") or []]
        if self.trunc:
            # Names with a slash are legacy link aliases ("/web/db"); show the real name.
            for name in names:
                if "/" not in name:
                    return name
        return ",".join(names)

    @property
    def Labels(self) -> str:  # noqa: N802
        labels = self.c.get("Labels") or {}
        return ",".join(sorted(f"{k}={v}" for k, v in labels.items()))

    def Label(self, name: str) -> str:  # noqa: N802
        return (self.c.get("Labels") or {}).get(name, "")

    @property
    def Mounts(self) -> str:  # noqa: N802
        from dockyard.cli.formatting import ellipsis

        names = []
        for mount in self.c.get("Mounts") or []:
            name = mount.get("Name") or mount.get("Source") or ""
            names.append(ellipsis(name, 15) if self.trunc else name)
        return ",".join(names)

    @property
    def Networks(self) -> str:  # noqa: N802
        networks = (self.c.get("NetworkSettings") or {}).get("Networks") or {}
        return ",".join(sorted(networks))

    @property
    def LocalVolumes(self) -> str:  # noqa: N802
        mounts = self.c.get("Mounts") or []
        return str(sum(1 for m in mounts if m.get("Driver") == "local"))

    @property
    def Platform(self) -> Any:  # noqa: N802
        descriptor = self.c.get("ImageManifestDescriptor") or {}
        return descriptor.get("platform")

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}


# --- start / stop / restart / kill / rm / pause / unpause / wait ----------------------

START = Command(
    "start",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Start one or more stopped containers",
    [
        Flag("attach", "a", help="Attach STDOUT/STDERR and forward signals"),
        Flag(
            "detach-keys", "", "string", help="Override the key sequence for detaching a container"
        ),
        Flag("interactive", "i", help="Attach container's STDIN"),
        Flag("checkpoint", "", "string", hidden=True),
        Flag("checkpoint-dir", "", "string", hidden=True),
    ],
    min_args=1,
    aliases=["container start", "start"],
)

_STOP_FLAGS = [
    Flag("signal", "s", "string", help="Signal to send to the container"),
    Flag("timeout", "t", "int", help="Seconds to wait before killing the container"),
    Flag("time", "", "int", dest="timeout", deprecated="use --timeout instead"),
]

STOP = Command(
    "stop",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Stop one or more running containers",
    _STOP_FLAGS,
    min_args=1,
    aliases=["container stop", "stop"],
)

RESTART = Command(
    "restart",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Restart one or more containers",
    _STOP_FLAGS,
    min_args=1,
    aliases=["container restart", "restart"],
)

KILL = Command(
    "kill",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Kill one or more running containers",
    [Flag("signal", "s", "string", help="Signal to send to the container")],
    min_args=1,
    aliases=["container kill", "kill"],
)

RM = Command(
    "rm",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Remove one or more containers",
    [
        Flag("force", "f", help="Force the removal of a running container (uses SIGKILL)"),
        Flag("link", "l", help="Remove the specified link"),
        Flag("volumes", "v", help="Remove anonymous volumes associated with the container"),
    ],
    min_args=1,
    aliases=["container rm", "container remove", "rm"],
)

PAUSE = Command(
    "pause",
    "CONTAINER [CONTAINER...]",
    "Pause all processes within one or more containers",
    [],
    min_args=1,
    aliases=["container pause", "pause"],
)

UNPAUSE = Command(
    "unpause",
    "CONTAINER [CONTAINER...]",
    "Unpause all processes within one or more containers",
    [],
    min_args=1,
    aliases=["container unpause", "unpause"],
)

WAIT = Command(
    "wait",
    "CONTAINER [CONTAINER...]",
    "Block until one or more containers stop, then print their exit codes",
    [],
    min_args=1,
    aliases=["container wait", "wait"],
)

RENAME = Command(
    "rename",
    "CONTAINER NEW_NAME",
    "Rename a container",
    [],
    min_args=2,
    max_args=2,
    aliases=["container rename", "rename"],
)


def cmd_start(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, START.with_path(path), argv)
    if opts.attach or opts.interactive:
        if len(args) > 1:
            raise StatusError("you cannot start and attach multiple containers at once", 1)
        from dockyard.cli.run import start_attached

        return start_attached(cli, args[0], stdin=opts.interactive, detach_keys=opts.detach_keys)
    if opts.checkpoint:
        if len(args) > 1:
            raise StatusError("you cannot restore multiple containers at once", 1)
    failed = []
    for name in args:
        try:
            cli.client.start(name)
        except _api_errors() as exc:
            cli.err(str(exc))
            failed.append(name)
        else:
            cli.out(name)
    if failed:
        raise StatusError(f"Error: failed to start containers: {', '.join(failed)}", 1)
    return 0


def cmd_stop(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, STOP.with_path(path), argv)
    timeout = opts.timeout if is_set(opts, "timeout") else None
    return _each(cli, args, lambda n: cli.client.stop(n, timeout=timeout, signal=opts.signal))


def cmd_restart(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, RESTART.with_path(path), argv)
    timeout = opts.timeout if is_set(opts, "timeout") else None
    return _each(cli, args, lambda n: cli.client.restart(n, timeout=timeout, signal=opts.signal))


def cmd_kill(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, KILL.with_path(path), argv)
    return _each(cli, args, lambda n: cli.client.kill(n, signal=opts.signal))


def cmd_rm(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, RM.with_path(path), argv)
    from dockyard.client.errors import APIError

    def remove(name: str) -> None:
        ident = name.strip("/")
        if not ident:
            raise _Failure("container name cannot be empty")
        try:
            cli.client.remove_container(ident, force=opts.force, v=opts.volumes, link=opts.link)
        except APIError as exc:
            if opts.force and exc.status == 404:
                # Gone already is what -f asked for: say so, but do not fail.
                cli.err(str(exc))
                raise _Skip from None
            raise

    return _each(cli, args, remove)


def cmd_pause(cli: Cli, argv: list[str], path: str) -> int:
    _, args = parse_args(cli, PAUSE.with_path(path), argv)
    return _each(cli, args, cli.client.pause)


def cmd_unpause(cli: Cli, argv: list[str], path: str) -> int:
    _, args = parse_args(cli, UNPAUSE.with_path(path), argv)
    return _each(cli, args, cli.client.unpause)


def cmd_wait(cli: Cli, argv: list[str], path: str) -> int:
    _, args = parse_args(cli, WAIT.with_path(path), argv)

    def wait_one(name: str) -> str:
        result = cli.client.wait(name) or {}
        return str(result.get("StatusCode", 0))

    return _each(cli, args, wait_one)


def cmd_rename(cli: Cli, argv: list[str], path: str) -> int:
    _, args = parse_args(cli, RENAME.with_path(path), argv)
    old, new = args[0].strip(), args[1].strip()
    if not old or not new:
        raise StatusError("Error: Neither old nor new names may be empty", 1)
    try:
        cli.client.rename(old, new)
    except _api_errors() as exc:
        cli.err(str(exc))
        raise StatusError(f"Error: failed to rename container named {old}", 1) from None
    return 0


class _Failure(Exception):
    """A per-container failure found on our side, reported like the daemon's errors."""


class _Skip(Exception):
    """The container is skipped: neither printed nor counted as a failure."""


def _each(cli: Cli, names: list[str], action: Callable[[str], Any]) -> int:
    """Apply `action` to every name and print the name (or what it returns); the
    errors are printed together at the end, as Docker joins them."""
    errors: list[str] = []
    for name in names:
        try:
            result = action(name)
        except _Skip:
            continue
        except (_Failure, *_api_errors()) as exc:
            errors.append(str(exc))
        else:
            cli.out(result if isinstance(result, str) else name)
    if errors:
        raise StatusError("\n".join(errors), 1)
    return 0


# --- update ------------------------------------------------------------------------

UPDATE = Command(
    "update",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Update configuration of one or more containers",
    [
        Flag("blkio-weight", "", "uint16", help="Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)"),
        Flag("cpu-period", "", "int", help="Limit CPU CFS (Completely Fair Scheduler) period"),
        Flag("cpu-quota", "", "int", help="Limit CPU CFS (Completely Fair Scheduler) quota"),
        Flag("cpu-rt-period", "", "int", help="Limit the CPU real-time period in microseconds"),
        Flag("cpu-rt-runtime", "", "int", help="Limit the CPU real-time runtime in microseconds"),
        Flag("cpu-shares", "c", "int", help="CPU shares (relative weight)"),
        Flag("cpus", "", "string", type_name="decimal", help="Number of CPUs", validate=lambda v: _opts().nano_cpus(v)),
        Flag("cpuset-cpus", "", "string", help="CPUs in which to allow execution (0-3, 0,1)"),
        Flag("cpuset-mems", "", "string", help="MEMs in which to allow execution (0-3, 0,1)"),
        Flag("kernel-memory", "", "string", type_name="bytes", help="Kernel memory limit (deprecated)", validate=lambda v: _opts().mem_bytes(v)),
        Flag("memory", "m", "string", type_name="bytes", help="Memory limit", validate=lambda v: _opts().mem_bytes(v)),
        Flag("memory-reservation", "", "string", type_name="bytes", help="Memory soft limit", validate=lambda v: _opts().mem_bytes(v)),
        Flag("memory-swap", "", "string", type_name="bytes", help="Swap limit equal to memory plus swap: -1 to enable unlimited swap", validate=lambda v: _opts().mem_swap_bytes(v)),
        Flag("pids-limit", "", "int", help="Tune container pids limit (set -1 for unlimited)"),
        Flag("restart", "", "string", help="Restart policy to apply when a container exits"),
    ],
    min_args=1,
    aliases=["container update", "update"],
)


def cmd_update(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, UPDATE.with_path(path), argv)
    if not opts._given:
        raise StatusError("you must provide one or more flags when using this command", 1)
    restart = {"Name": "", "MaximumRetryCount": 0}
    if opts.restart:
        try:
            restart = _opts().parse_restart_policy(opts.restart)
        except ValueError as exc:
            raise StatusError(str(exc), 1) from None
    from dockyard.cli.runconfig import limit_fields

    update: dict[str, Any] = {
        **limit_fields(opts),
        "CgroupParent": "",
        "BlkioWeightDevice": None,
        "BlkioDeviceReadBps": None,
        "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None,
        "BlkioDeviceWriteIOps": None,
        "Devices": None,
        "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "MemorySwappiness": None,
        "OomKillDisable": None,
        "PidsLimit": opts.pids_limit if opts.pids_limit else None,
        "Ulimits": None,
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "RestartPolicy": restart,
    }
    warnings: list[str] = []
    errors: list[str] = []
    for name in args:
        try:
            result = cli.client.update_container(name, update)
        except _api_errors() as exc:
            errors.append(str(exc))
        else:
            cli.out(name)
            warnings += result.get("Warnings") or []
    if warnings:
        cli.out("\n".join(warnings))
    if errors:
        raise StatusError("\n".join(errors), 1)
    return 0


# --- logs ---------------------------------------------------------------------------

LOGS = Command(
    "logs",
    "[OPTIONS] CONTAINER",
    "Fetch the logs of a container",
    [
        Flag("details", "", help="Show extra details provided to logs"),
        Flag("follow", "f", help="Follow log output"),
        Flag(
            "since",
            "",
            "string",
            help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
        ),
        Flag(
            "tail",
            "n",
            "string",
            default="all",
            help="Number of lines to show from the end of the logs",
        ),
        Flag("timestamps", "t", help="Show timestamps"),
        Flag(
            "until",
            "",
            "string",
            help='Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
        ),
    ],
    min_args=1,
    max_args=1,
    aliases=["container logs", "logs"],
)


def cmd_logs(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, LOGS.with_path(path), argv)
    info = cli.client.inspect_container(args[0])
    tty = bool((info.get("Config") or {}).get("Tty"))
    since = _timestamp(opts.since, "since")
    until = _timestamp(opts.until, "until")
    chunks = cli.client.logs(
        info.get("Id") or args[0],
        follow=opts.follow,
        timestamps=opts.timestamps,
        tail=opts.tail,
        since=since,
        until=until,
        details=opts.details,
    )
    copy_output(cli, chunks, tty)
    return 0


def copy_output(cli: Cli, chunks: Any, tty: bool) -> None:
    """Write a log or attach stream to our stdout/stderr, demultiplexing unless TTY."""
    if tty:
        for chunk in chunks:
            cli.out_bytes(chunk)
        return
    from dockyard.client.stdcopy import STDERR, SYSTEMERR, Demuxer

    demuxer = Demuxer()
    for chunk in chunks:
        for stream, payload in demuxer.feed(chunk):
            if stream == STDERR:
                cli.err_bytes(payload)
            elif stream == SYSTEMERR:
                raise StatusError(f"Error grabbing logs: {payload.decode('utf-8', 'replace')}", 1)
            else:
                cli.out_bytes(payload)


def _timestamp(value: str | None, name: str) -> str | None:
    """--since/--until as the API wants them (Docker's GetTimestamp)."""
    if not value:
        return None
    try:
        return _opts().get_timestamp(value)
    except ValueError as exc:
        raise StatusError(f'invalid value for "{name}": {exc}', 1) from None


# --- port, top, diff, export, commit, prune ----------------------------------------------

PORT = Command(
    "port",
    "CONTAINER [PRIVATE_PORT[/PROTO]]",
    "List port mappings or a specific mapping for the container",
    [],
    min_args=1,
    max_args=2,
    aliases=["container port", "port"],
)

TOP = Command(
    "top",
    "CONTAINER [ps OPTIONS]",
    "Display the running processes of a container",
    [],
    min_args=1,
    interspersed=False,
    aliases=["container top", "top"],
)

DIFF = Command(
    "diff",
    "CONTAINER",
    "Inspect changes to files or directories on a container's filesystem",
    [],
    min_args=1,
    max_args=1,
    aliases=["container diff", "diff"],
)

EXPORT = Command(
    "export",
    "[OPTIONS] CONTAINER",
    "Export a container's filesystem as a tar archive",
    [Flag("output", "o", "string", help="Write to a file, instead of STDOUT")],
    min_args=1,
    max_args=1,
    aliases=["container export", "export"],
)

COMMIT = Command(
    "commit",
    "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
    "Create a new image from a container's changes",
    [
        Flag("author", "a", "string", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
        Flag("change", "c", "list", help="Apply Dockerfile instruction to the created image"),
        Flag("message", "m", "string", help="Commit message"),
        Flag("pause", "p", default=True, help="Pause container during commit"),
    ],
    min_args=1,
    max_args=2,
    interspersed=False,
    aliases=["container commit", "commit"],
)

PRUNE = Command(
    "container prune",
    "[OPTIONS]",
    "Remove all stopped containers",
    [
        Flag("filter", "", "list", type_name="filter", help='Provide filter values (e.g. "until=<timestamp>")', validate=filter_value),
        Flag("force", "f", help="Do not prompt for confirmation"),
    ],
    max_args=0,
)


def cmd_port(cli: Cli, argv: list[str], path: str) -> int:
    _, args = parse_args(cli, PORT.with_path(path), argv)
    name = args[0]
    info = cli.client.inspect_container(name)
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    out: list[str] = []
    if len(args) > 1:
        port, _, proto = args[1].partition("/")
        proto = proto or "tcp"
        if not (port.isdigit() and int(port) <= 65535):
            kind = "invalid syntax" if not port.isdigit() else "value out of range"
            raise StatusError(
                f'Error: invalid port ({port}): strconv.ParseUint: parsing "{port}": {kind}', 1
            )
        frontends = ports.get(f"{port}/{proto}") or []
        if not frontends:
            raise StatusError(f"Error: No public port '{args[1]}' published for {name}", 1)
        out = [_join_host_port(f.get("HostIp", ""), f.get("HostPort", "")) for f in frontends]
    else:
        for private, frontends in ports.items():
            for frontend in frontends or []:
                out.append(
                    f"{private} -> {_join_host_port(frontend.get('HostIp', ''), frontend.get('HostPort', ''))}"
                )
    if out:
        cli.out("\n".join(sorted(out, key=_natural_key)))
    return 0


def cmd_top(cli: Cli, argv: list[str], path: str) -> int:
    _, args = parse_args(cli, TOP.with_path(path), argv)
    result = cli.client.top(args[0], " ".join(args[1:]) or None)
    from dockyard.cli.formatting import tabwrite

    lines = ["\t".join(result.get("Titles") or [])]
    lines += ["\t".join(process) for process in result.get("Processes") or []]
    cli.stdout.write(tabwrite("\n".join(lines), minwidth=20, padding=3) + "\n")
    return 0


_CHANGE_KINDS = {0: "C", 1: "A", 2: "D"}


def cmd_diff(cli: Cli, argv: list[str], path: str) -> int:
    _, args = parse_args(cli, DIFF.with_path(path), argv)
    if not args[0]:
        raise StatusError("Container name cannot be empty", 1)
    for change in cli.client.diff(args[0]):
        cli.out(f"{_CHANGE_KINDS.get(change.get('Kind'), '?')} {change.get('Path', '')}")
    return 0


def cmd_export(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, EXPORT.with_path(path), argv)
    if not opts.output:
        if _isatty(cli.stdout):
            raise StatusError(
                "cowardly refusing to save to a terminal. Use the -o flag or redirect", 1
            )
        for chunk in cli.client.export(args[0]):
            cli.out_bytes(chunk)
        return 0
    writer = AtomicFile(opts.output, "failed to export container")
    try:
        for chunk in cli.client.export(args[0]):
            writer.write(chunk)
    except BaseException:
        writer.discard()
        raise
    writer.commit()
    return 0


def cmd_commit(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, COMMIT.with_path(path), argv)
    repository = tag = ""
    if len(args) > 1 and args[1]:
        from dockyard.distribution import reference
        from dockyard.errors import DockyardError

        try:
            ref = reference.parse(args[1])
        except DockyardError as exc:
            raise StatusError(exc.message, 1) from None
        if ref.digest:
            raise StatusError("refusing to create a tag with a digest reference", 1)
        repository = f"{ref.domain}/{ref.path}"
        tag = ref.tag or "latest"
    result = cli.client.commit(
        args[0],
        repository,
        tag,
        message=opts.message or "",
        author=opts.author or "",
        changes=list(opts.change),
        pause=opts.pause,
    )
    cli.out(result.get("Id", ""))
    return 0


PRUNE_WARNING = "WARNING! This will remove all stopped containers."


def cmd_container_prune(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = parse_args(cli, PRUNE.with_path(path), argv)
    if not opts.force and not cli.confirm(PRUNE_WARNING):
        return 0
    report = cli.client.prune_containers(parse_filters(opts.filter))
    deleted = report.get("ContainersDeleted") or []
    reclaimed = report.get("SpaceReclaimed") or 0
    if deleted:
        cli.out("Deleted Containers:\n" + "".join(f"{d}\n" for d in deleted))
    else:
        reclaimed = 0
    from dockyard.units import human_size

    cli.out(f"Total reclaimed space: {human_size(reclaimed, 4)}")
    return 0


class AtomicFile:
    """Docker's atomicwriter: a temporary file beside the target, renamed into place."""

    def __init__(self, path: str, context: str):
        import os
        import tempfile

        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path):
            raise StatusError(f"{context}: cannot write to a directory: {path}", 1)
        if not os.path.isdir(directory):
            raise StatusError(
                f"{context}: invalid output path: directory {directory!r} does not exist".replace("'", '"'),
                1,
            )
        fd, self.temp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path), dir=directory)
        self.handle = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def commit(self) -> None:
        import os

        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.chmod(self.temp, 0o600)
        os.replace(self.temp, self.path)

    def discard(self) -> None:
        import os

        self.handle.close()
        try:
            os.unlink(self.temp)
        except OSError:
            pass


def _join_host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _natural_key(text: str) -> list[Any]:
    """sortorder.NaturalLess: digit runs compare as numbers."""
    import re

    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", text)]


def _isatty(stream: Any) -> bool:
    import os

    try:
        return os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False


def _opts() -> Any:
    from dockyard.cli import opts

    return opts


def _api_errors() -> tuple[type[BaseException], ...]:
    from dockyard.client.errors import APIError

    return (APIError,)
