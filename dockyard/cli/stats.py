# SPDX-License-Identifier: Apache-2.0
"""`stats`: containers' resource usage, once (--no-stream) or as a live table.

Each container's stats stream is read on its own thread and the table is redrawn every
half second from the latest sample of each, as Docker does: the cursor goes home
(`ESC[H`), each line ends by clearing the rest of it (`ESC[K`), and the screen below is
cleared (`ESC[J`). Without container names every running container is shown (-a: all),
and containers that start later join through the event stream. The numbers are Docker's:
CPU % from the usage delta against the system delta times the online CPUs, memory
without the inactive file cache, decimal units for I/O and binary ones for memory.
"""

from __future__ import annotations

import threading
import time

from dockyard.cli.command import Cli, StatusError, parse_args
from dockyard.cli.parser import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STATS = Command(
    "stats",
    "[OPTIONS] [CONTAINER...]",
    "Display a live stream of container(s) resource usage statistics",
    [
        Flag("all", "a", help="Show all containers (default shows just running)"),
        Flag("format", "", "string", help="Format output using a custom template"),
        Flag("no-stream", "", help="Disable streaming stats and only pull the first result"),
        Flag("no-trunc", "", help="Do not truncate output"),
    ],
    aliases=["container stats", "stats"],
)

STATS_TABLE = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
)
WINDOWS_STATS_TABLE = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.NetIO}}\t{{.BlockIO}}"

STATS_TITLES = {
    "Container": "CONTAINER",
    "Name": "NAME",
    "ID": "CONTAINER ID",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}


def cmd_stats(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, STATS.with_path(path), argv)
    client = cli.client
    stream = not opts.no_stream
    collectors: list[Collector] = []
    lock = threading.Lock()
    show_all = not args

    def add(container: str) -> Collector | None:
        with lock:
            if any(c.container == container for c in collectors):
                return None
            collector = Collector(client, container, stream)
            collectors.append(collector)
        collector.start()
        return collector

    def remove(container: str) -> None:
        with lock:
            collectors[:] = [c for c in collectors if c.container != container]

    stop = threading.Event()
    if show_all:
        events = _watch_events(cli, add, remove, opts.all, stop)
        for summary in client.containers(all=opts.all):
            add(summary["Id"][:12])
        for collector in list(collectors):
            collector.first.wait()
    else:
        for name in args:
            add(name)
        for collector in list(collectors):
            collector.first.wait()
        errors = [str(c.error) for c in collectors if c.error is not None]
        if errors:
            raise StatusError("\n".join(errors), 1)
        events = None

    fmt = opts.format or "table"
    os_type = next((c.os_type for c in collectors if c.os_type), "")
    if fmt == "table":
        fmt = WINDOWS_STATS_TABLE if os_type == "windows" else STATS_TABLE
    from dockyard.cli.listing import render_list

    try:
        while True:
            with lock:
                rows = [StatsRow(c.entry(), os_type, trunc=not opts.no_trunc) for c in collectors]
            text = render_list(fmt, rows, STATS_TITLES, STATS_TABLE)
            cli.stdout.write(redraw(text) if stream else text)
            cli.stdout.flush()
            if not stream or (not collectors and not show_all):
                break
            if events is not None and events.error is not None:
                if isinstance(events.error, EOFError):
                    return 0
                raise events.error
            time.sleep(0.5)
    finally:
        stop.set()
        for collector in collectors:
            collector.close()
    return 0


def redraw(text: str) -> str:
    """A frame of the live table: cursor home, each line clearing what is left of the
    previous frame's line, and the rest of the screen cleared."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "\x1b[H" + "".join(f"{line}\x1b[K\n" for line in lines) + "\x1b[J"


class Collector:
    """Reads one container's stats stream on a thread, keeping the latest sample."""

    def __init__(self, client: Any, container: str, stream: bool):
        self.client = client
        self.container = container
        self.stream = stream
        self.first = threading.Event()
        self.error: BaseException | None = None
        self.invalid = False
        self.os_type = ""
        self.values: dict[str, Any] = {}
        self._closed = False

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"stats-{self.container}", daemon=True).start()
        threading.Thread(target=self._watchdog, daemon=True).start()

    def close(self) -> None:
        self._closed = True

    def entry(self) -> dict[str, Any]:
        return {"Container": self.container, "IsInvalid": self.invalid, **self.values}

    def _watchdog(self) -> None:
        # Docker gives up on the first sample after 2 seconds and shows dashes.
        if not self.first.wait(2):
            self.error = self.error or TimeoutError("timeout waiting for stats")
            self.invalid = True
            self.values = {}
            self.first.set()

    def _run(self) -> None:
        try:
            documents, self.os_type = self.client.stats(self.container, stream=self.stream)
            for document in documents:
                if self._closed:
                    return
                self.values = compute(document, self.os_type)
                self.invalid = False
                self.error = None
                self.first.set()
                if not self.stream:
                    return
        except Exception as exc:  # shown in the table as dashes, or reported
            self.error = exc
            self.invalid = True
        finally:
            self.first.set()


def compute(v: dict[str, Any], os_type: str = "") -> dict[str, Any]:
    """A StatsEntry from one stats document, as Docker's CLI computes it."""
    cpu = v.get("cpu_stats") or {}
    pre = v.get("precpu_stats") or {}
    memory = v.get("memory_stats") or {}
    if os_type != "windows":
        cpu_delta = float((cpu.get("cpu_usage") or {}).get("total_usage") or 0) - float(
            (pre.get("cpu_usage") or {}).get("total_usage") or 0
        )
        system_delta = float(cpu.get("system_cpu_usage") or 0) - float(pre.get("system_cpu_usage") or 0)
        online = float(cpu.get("online_cpus") or 0) or float(
            len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [])
        )
        cpu_percent = cpu_delta / system_delta * online * 100.0 if system_delta > 0 and cpu_delta > 0 else 0.0
        read = write = 0
        for entry in (v.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
            op = (entry.get("op") or "")[:1].lower()
            if op == "r":
                read += int(entry.get("value") or 0)
            elif op == "w":
                write += int(entry.get("value") or 0)
        usage = int(memory.get("usage") or 0)
        stats = memory.get("stats") or {}
        if "total_inactive_file" in stats and stats["total_inactive_file"] < usage:
            used = float(usage - stats["total_inactive_file"])
        elif (stats.get("inactive_file") or 0) < usage:
            used = float(usage - (stats.get("inactive_file") or 0))
        else:
            used = float(usage)
        limit = float(memory.get("limit") or 0)
        mem_percent = used / limit * 100.0 if limit else 0.0
        pids = int((v.get("pids_stats") or {}).get("current") or 0)
    else:
        cpu_percent = 0.0
        read = int((v.get("storage_stats") or {}).get("read_size_bytes") or 0)
        write = int((v.get("storage_stats") or {}).get("write_size_bytes") or 0)
        used = float(memory.get("privateworkingset") or 0)
        limit = mem_percent = 0.0
        pids = 0
    rx = tx = 0.0
    for network in (v.get("networks") or {}).values():
        rx += float(network.get("rx_bytes") or 0)
        tx += float(network.get("tx_bytes") or 0)
    return {
        "Name": v.get("name") or "",
        "ID": v.get("id") or "",
        "CPUPercentage": cpu_percent,
        "Memory": used,
        "MemoryPercentage": mem_percent,
        "MemoryLimit": limit,
        "NetworkRx": rx,
        "NetworkTx": tx,
        "BlockRead": float(read),
        "BlockWrite": float(write),
        "PidsCurrent": pids,
    }


class StatsRow:
    """One row of the stats table; attribute names are Docker's template fields."""

    GO_TYPE = "*container.statsContext"
    FIELDS = ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"]

    def __init__(self, entry: dict[str, Any], os_type: str = "", trunc: bool = True):
        self.s = entry
        self.os = os_type
        self.trunc = trunc

    @property
    def invalid(self) -> bool:
        return bool(self.s.get("IsInvalid")) or "ID" not in self.s

    @property
    def Container(self) -> str:  # noqa: N802 - Go template field names
        return self.s.get("Container", "")

    @property
    def Name(self) -> str:  # noqa: N802
        name = self.s.get("Name") or ""
        return name[1:] if len(name) > 1 else "--"

    @property
    def ID(self) -> str:  # noqa: N802
        ident = self.s.get("ID") or ""
        return ident[:12] if self.trunc else ident

    @property
    def CPUPerc(self) -> str:  # noqa: N802
        return "--" if self.invalid else f"{self.s['CPUPercentage']:.2f}%"

    @property
    def MemUsage(self) -> str:  # noqa: N802
        if self.invalid:
            return "-- / --"
        if self.os == "windows":
            return bytes_size(self.s["Memory"])
        return f"{bytes_size(self.s['Memory'])} / {bytes_size(self.s['MemoryLimit'])}"

    @property
    def MemPerc(self) -> str:  # noqa: N802
        if self.invalid or self.os == "windows":
            return "--"
        return f"{self.s['MemoryPercentage']:.2f}%"

    @property
    def NetIO(self) -> str:  # noqa: N802
        if self.invalid:
            return "--"
        return f"{_human(self.s['NetworkRx'])} / {_human(self.s['NetworkTx'])}"

    @property
    def BlockIO(self) -> str:  # noqa: N802
        if self.invalid:
            return "--"
        return f"{_human(self.s['BlockRead'])} / {_human(self.s['BlockWrite'])}"

    @property
    def PIDs(self) -> str:  # noqa: N802
        if self.invalid or self.os == "windows":
            return "--"
        return str(self.s["PidsCurrent"])

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units, 4 significant digits ("8MiB", "1.953GiB")."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
    value = float(size)
    unit = 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{value:.4g}{units[unit]}"


def _human(size: float) -> str:
    from dockyard.units import human_size

    return human_size(size, 3)


class _EventWatch:
    def __init__(self) -> None:
        self.error: BaseException | None = None


def _watch_events(cli: Cli, add: Any, remove: Any, all_: bool, stop: threading.Event) -> _EventWatch:
    """Follow container events so that containers started later join the table."""
    watch = _EventWatch()
    started = threading.Event()

    def run() -> None:
        try:
            messages = cli.client.events(filters={"type": ["container"]})
            started.set()
            for message in messages:
                if stop.is_set():
                    return
                action = message.get("Action") or message.get("status") or ""
                ident = ((message.get("Actor") or {}).get("ID") or message.get("id") or "")[:12]
                if not ident:
                    continue
                if action == "start" or (all_ and action == "create"):
                    add(ident)
                elif action == "die" and not all_:
                    remove(ident)
            watch.error = EOFError()
        except Exception as exc:
            watch.error = exc
        finally:
            started.set()

    threading.Thread(target=run, name="stats-events", daemon=True).start()
    started.wait(5)
    return watch
