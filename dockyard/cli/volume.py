# SPDX-License-Identifier: Apache-2.0
"""`volume create|ls|inspect|rm|prune` with Docker's flags and output: the name printed
by create and rm, the `DRIVER    VOLUME NAME` table (sorted by name), `-q`, `--format`
with Docker's row fields, inspect as an indented JSON array or a template per volume, and
prune's confirmation prompt and `Total reclaimed space`.

The Engine API calls are made here (the client keeps only endpoints shared by several
commands), through the client's JSON plumbing.
"""

from __future__ import annotations

from dockyard.cli.command import Cli, StatusError, parse_filters
from dockyard.cli.parser import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CREATE = Command(
    "volume create",
    "[OPTIONS] [VOLUME]",
    "Create a volume",
    [
        Flag("driver", "d", "string", default="local", help="Specify volume driver name"),
        Flag("label", "", "list", help="Set metadata for a volume"),
        Flag("name", "", "string", hidden=True, help="Specify volume name"),
        Flag("opt", "o", "list", type_name="map", help="Set driver specific options (default map[])"),
    ],
    max_args=1,
)

LS = Command(
    "volume ls",
    "[OPTIONS]",
    "List volumes",
    [
        Flag("filter", "f", "list", type_name="filter",
             help='Provide filter values (e.g. "dangling=true")'),
        Flag("format", "", "string", help="Format output using a custom template"),
        Flag("quiet", "q", help="Only display volume names"),
    ],
    max_args=0,
    aliases=["volume ls", "volume list"],
)

INSPECT = Command(
    "volume inspect",
    "[OPTIONS] VOLUME [VOLUME...]",
    "Display detailed information on one or more volumes",
    [Flag("format", "f", "string", help="Format output using a custom template")],
    min_args=1,
)

RM = Command(
    "volume rm",
    "[OPTIONS] VOLUME [VOLUME...]",
    "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
    [Flag("force", "f", help="Force the removal of one or more volumes")],
    min_args=1,
    aliases=["volume rm", "volume remove"],
)

PRUNE = Command(
    "volume prune",
    "[OPTIONS]",
    "Remove unused local volumes",
    [
        Flag("all", "a", help="Remove all unused volumes, not just anonymous ones"),
        Flag("filter", "", "list", type_name="filter",
             help='Provide filter values (e.g. "label=<label>")'),
        Flag("force", "f", help="Do not prompt for confirmation"),
    ],
    max_args=0,
)

TITLES = {
    "Name": "VOLUME NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS",
    "Links": "LINKS",
    "Size": "SIZE",
    "Group": "GROUP",
    "Availability": "AVAILABILITY",
    "Status": "STATUS",
}

TABLE = "table {{.Driver}}\t{{.Name}}"

_ANONYMOUS_WARNING = "WARNING! This will remove anonymous local volumes not used by at least one container."
_ALL_WARNING = "WARNING! This will remove all local volumes not used by at least one container."


def cmd_create(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = CREATE.with_path(path).parse(argv)
    if opts.name and args:
        raise StatusError("conflicting options: either specify --name or provide positional arg, not both", 1)
    body = {
        "Name": opts.name or (args[0] if args else ""),
        "Driver": opts.driver,
        "DriverOpts": _pairs(opts.opt),
        "Labels": _pairs(opts.label),
    }
    volume = cli.client._json("POST", "/volumes/create", body=body)
    cli.out(volume["Name"])
    return 0


def cmd_ls(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = LS.with_path(path).parse(argv)
    from dockyard.client.api import _filters

    filters = parse_filters(opts.filter)
    answer = cli.client._json("GET", "/volumes", {"filters": _filters(filters)}) or {}
    volumes = sorted(answer.get("Volumes") or [], key=lambda v: v.get("Name", ""))
    for warning in answer.get("Warnings") or []:
        cli.err(warning)
    fmt = "{{.Name}}" if opts.quiet else opts.format
    from dockyard.cli.listing import render_list

    cli.stdout.write(render_list(fmt, [VolumeRow(v) for v in volumes], TITLES, TABLE))
    return 0


def cmd_inspect(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = INSPECT.with_path(path).parse(argv)
    from dockyard.client.errors import APIError

    found: list[dict[str, Any]] = []
    errors: list[str] = []
    for name in args:
        try:
            found.append(cli.client.inspect_volume(name))
        except APIError as exc:
            errors.append(str(exc))
    from dockyard.cli.inspect import print_inspected

    return print_inspected(cli, found, errors, opts.format)


def cmd_rm(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = RM.with_path(path).parse(argv)
    from urllib.parse import quote

    from dockyard.client.errors import APIError

    status = 0
    for name in args:
        try:
            cli.client._call("DELETE", f"/volumes/{quote(name, safe='')}", {"force": opts.force})
        except APIError as exc:
            cli.err(str(exc))
            status = 1
        else:
            cli.out(name)
    return status


def cmd_prune(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = PRUNE.with_path(path).parse(argv)
    from dockyard.client.api import _filters

    filters = parse_filters(opts.filter)
    if opts.all:
        if "all" in filters:
            raise StatusError("conflicting options: cannot specify both --all and --filter all=1", 1)
        filters["all"] = ["true"]
    if not opts.force:
        warning = _ALL_WARNING if opts.all else _ANONYMOUS_WARNING
        if not cli.confirm(warning):
            return 0
    report = cli.client._json("POST", "/volumes/prune", {"filters": _filters(filters)}) or {}
    deleted = report.get("VolumesDeleted") or []
    from dockyard.units import human_size

    if deleted:
        cli.out("Deleted Volumes:")
        for name in deleted:
            cli.out(name)
        cli.out()
    cli.out(f"Total reclaimed space: {human_size(report.get('SpaceReclaimed') or 0, 4)}")
    return 0


class VolumeRow:
    """One `volume ls` row; attribute names are Docker's template fields."""

    FIELDS = ["Availability", "Driver", "Group", "Labels", "Links", "Mountpoint", "Name",
              "Scope", "Size", "Status"]

    def __init__(self, volume: dict[str, Any]):
        self.v = volume
        self.Name = volume.get("Name", "")
        self.Driver = volume.get("Driver", "")
        self.Scope = volume.get("Scope", "")
        self.Mountpoint = volume.get("Mountpoint", "")

    @property
    def Labels(self) -> str:  # noqa: N802 - Go template field names
        labels = self.v.get("Labels") or {}
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

    def Label(self, name: str) -> str:  # noqa: N802
        return (self.v.get("Labels") or {}).get(name, "")

    @property
    def Links(self) -> str:  # noqa: N802
        usage = self.v.get("UsageData") or {}
        count = usage.get("RefCount", -1)
        return "N/A" if count is None or count < 0 else str(count)

    @property
    def Size(self) -> str:  # noqa: N802
        usage = self.v.get("UsageData") or {}
        size = usage.get("Size", -1)
        if size is None or size < 0:
            return "N/A"
        from dockyard.units import human_size

        return human_size(size)

    @property
    def Group(self) -> str:  # noqa: N802
        return (self.v.get("ClusterVolume") or {}).get("Spec", {}).get("Group") or "N/A"

    @property
    def Availability(self) -> str:  # noqa: N802
        return "N/A"

    @property
    def Status(self) -> str:  # noqa: N802
        return "N/A"

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}


def _pairs(items: list[str]) -> dict[str, str]:
    """`key=value` flags as a map (a bare `key` maps to "")."""
    result: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        result[key] = value
    return result
