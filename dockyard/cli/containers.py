# SPDX-License-Identifier: Apache-2.0
"""Container verbs other than run/create: ps, start, stop, restart, kill, rm, logs, wait.

Verbs that take several containers act on each in turn, print each name that worked
and each error as it happens, and exit 1 if any failed — Docker's behaviour, which
scripts rely on (`dockyard rm -f $(dockyard ps -aq)` removes what it can).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.cli.command import Cli, StatusError, parse_filters
from dockyard.cli.parser import Command, Flag

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


def cmd_ps(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = PS.with_path(path).parse(argv)
    limit = 1 if opts.latest else (opts.last if opts.last and opts.last > 0 else None)
    fmt = opts.format
    if opts.quiet:
        fmt = "{{.ID}}"
    want_size = opts.size or bool(fmt and ".Size" in fmt)
    containers = cli.client.containers(
        all=opts.all, limit=limit, size=want_size, filters=parse_filters(opts.filter)
    )
    table = PS_TABLE + ("\t{{.Size}}" if opts.size and not fmt else "")
    from dockyard.cli.listing import render_list

    rows = [ContainerRow(c, trunc=not opts.no_trunc) for c in containers]
    cli.stdout.write(render_list(fmt, rows, PS_TITLES, table))
    return 0


class ContainerRow:
    """One `ps` row; attribute names are Docker's template fields."""

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

    @property
    def ID(self) -> str:  # noqa: N802 - Go template field names
        from dockyard.cli.formatting import short_id

        return short_id(self.c.get("Id", ""), not self.trunc)

    @property
    def Image(self) -> str:  # noqa: N802
        from dockyard.cli.formatting import short_id

        image = self.c.get("Image") or "<no image>"
        if self.trunc:
            if image.startswith("sha256:"):
                return short_id(image)
            if "@sha256:" in image:
                # A reference pinned by digest shows its name only, as in Docker.
                return image.split("@", 1)[0]
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
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

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
        return self.c.get("ImageManifestDescriptor", {}).get("platform")

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}


# --- start / stop / restart / kill / rm / wait ---------------------------------------

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
    ],
    min_args=1,
    aliases=["container start", "start"],
)

STOP = Command(
    "stop",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Stop one or more running containers",
    [
        Flag("signal", "s", "string", help="Signal to send to the container"),
        Flag("timeout", "t", "int", help="Seconds to wait before killing the container"),
        Flag("time", "", "int", hidden=True),
    ],
    min_args=1,
    aliases=["container stop", "stop"],
)

RESTART = Command(
    "restart",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Restart one or more containers",
    STOP.flags,
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

WAIT = Command(
    "wait",
    "CONTAINER [CONTAINER...]",
    "Block until one or more containers stop, then print their exit codes",
    [],
    min_args=1,
    aliases=["container wait", "wait"],
)


def cmd_start(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = START.with_path(path).parse(argv)
    if opts.attach or opts.interactive:
        if len(args) > 1:
            raise StatusError("you cannot start and attach multiple containers at once", 1)
        from dockyard.cli.run import start_attached

        return start_attached(cli, args[0], stdin=opts.interactive, detach_keys=opts.detach_keys)
    failed = []
    for name in args:
        try:
            cli.client.start(name, detach_keys=opts.detach_keys)
        except _api_errors() as exc:
            cli.err(str(exc))
            failed.append(name)
        else:
            cli.out(name)
    if failed:
        raise StatusError(f"Error: failed to start containers: {', '.join(failed)}", 1)
    return 0


def cmd_stop(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = STOP.with_path(path).parse(argv)
    timeout = opts.timeout if opts.timeout is not None else opts.time
    return _each(cli, args, lambda n: cli.client.stop(n, timeout=timeout, signal=opts.signal))


def cmd_restart(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = RESTART.with_path(path).parse(argv)
    timeout = opts.timeout if opts.timeout is not None else opts.time
    return _each(cli, args, lambda n: cli.client.restart(n, timeout=timeout, signal=opts.signal))


def cmd_kill(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = KILL.with_path(path).parse(argv)
    return _each(cli, args, lambda n: cli.client.kill(n, signal=opts.signal))


def cmd_rm(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = RM.with_path(path).parse(argv)
    return _each(
        cli,
        args,
        lambda n: cli.client.remove_container(n, force=opts.force, v=opts.volumes, link=opts.link),
    )


def cmd_wait(cli: Cli, argv: list[str], path: str) -> int:
    _, args = WAIT.with_path(path).parse(argv)

    def wait_one(name: str) -> str:
        result = cli.client.wait(name) or {}
        return str(result.get("StatusCode", 0))

    return _each(cli, args, wait_one)


def _each(cli: Cli, names: list[str], action: Callable[[str], Any]) -> int:
    """Apply `action` to every name; print the name (or what it returns) or the error."""
    status = 0
    for name in names:
        try:
            result = action(name)
        except _api_errors() as exc:
            cli.err(str(exc))
            status = 1
        else:
            cli.out(result if isinstance(result, str) else name)
    return status


# --- logs -------------------------------------------------------------------------

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
    opts, args = LOGS.with_path(path).parse(argv)
    name = args[0]
    info = cli.client.inspect_container(name)
    tty = bool((info.get("Config") or {}).get("Tty"))
    chunks = cli.client.logs(
        name,
        follow=opts.follow,
        timestamps=opts.timestamps,
        tail=opts.tail,
        since=_docker_time(opts.since),
        until=_docker_time(opts.until),
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


def _docker_time(value: str | None) -> str | None:
    """--since/--until: relative durations ("10m", "1h30m") become unix timestamps."""
    if not value:
        return value
    import re
    import time

    if re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", value):
        seconds = 0.0
        for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", value):
            scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
            seconds += float(number) * scale[unit]
        return f"{time.time() - seconds:.9f}"
    from dockyard.cli.formatting import parse_timestamp

    if "T" in value or "-" in value[1:]:
        stamp = parse_timestamp(value if "T" in value else value + "T00:00:00Z")
        if stamp is not None:
            return f"{stamp:.9f}"
    return value  # a unix timestamp already, or something the daemon will judge


def _api_errors() -> tuple[type[BaseException], ...]:
    from dockyard.client.errors import APIError

    return (APIError,)
