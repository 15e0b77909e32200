# SPDX-License-Identifier: Apache-2.0
"""`system df`: disk usage of images, containers, local volumes and the build cache, as
Docker lays it out (a summary table, or the per-object tables with `-v`)."""

from __future__ import annotations

from dockyard.cli.command import Cli
from dockyard.cli.formatting import ellipsis, short_id, since, tabwrite
from dockyard.cli.parser import Command, Flag
from dockyard.units import human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DF = Command(
    "df",
    "[OPTIONS]",
    "Show docker disk usage",
    [
        Flag("verbose", "v", help="Show detailed information on space usage"),
        Flag("format", "", "string", help="Format output using a custom template"),
    ],
    max_args=0,
    aliases=["system df"],
)


def cmd_df(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = DF.with_path(path).parse(argv)
    usage = cli.client.df()
    rows = summary(usage)
    if opts.format:
        from dockyard.cli.listing import render_list

        cli.stdout.write(render_list(opts.format, rows, {}, ""))
        return 0
    if opts.verbose:
        cli.stdout.write(_verbose(usage))
        return 0
    lines = ["TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE"]
    for row in rows:
        lines.append(f"{row['Type']}\t{row['TotalCount']}\t{row['Active']}\t{row['Size']}\t{row['Reclaimable']}")
    cli.stdout.write(tabwrite("\n".join(lines)) + "\n")
    return 0


def summary(usage: dict[str, Any]) -> list[dict[str, Any]]:
    """The four rows of the summary, with Docker's field names for --format."""
    images = usage.get("Images") or []
    containers = usage.get("Containers") or []
    volumes = usage.get("Volumes") or []
    cache = usage.get("BuildCache") or []
    image_size = int(usage.get("LayersSize") or 0)
    # Docker's CLI: what is not the unique part of an image some container uses.
    used_images = sum(i.get("Size", 0) - i.get("SharedSize", 0) for i in images
                      if i.get("Containers") and i.get("Size", -1) != -1 and i.get("SharedSize", -1) != -1)
    unused_images = max(image_size - used_images, 0)
    container_size = sum(c.get("SizeRw", 0) for c in containers)
    idle_containers = sum(c.get("SizeRw", 0) for c in containers if c.get("State") != "running")
    volume_size = sum((v.get("UsageData") or {}).get("Size", 0) for v in volumes)
    idle_volumes = sum((v.get("UsageData") or {}).get("Size", 0) for v in volumes
                       if not (v.get("UsageData") or {}).get("RefCount"))
    cache_size = sum(c.get("Size", 0) for c in cache)
    return [
        _row("Images", len(images), sum(1 for i in images if i.get("Containers")), image_size, unused_images),
        _row("Containers", len(containers), sum(1 for c in containers if c.get("State") == "running"),
             container_size, idle_containers),
        _row("Local Volumes", len(volumes), sum(1 for v in volumes if (v.get("UsageData") or {}).get("RefCount")),
             volume_size, idle_volumes),
        _row("Build Cache", len(cache), sum(1 for c in cache if c.get("InUse")), cache_size,
             sum(c.get("Size", 0) for c in cache if not c.get("InUse"))),
    ]


def _row(kind: str, total: int, active: int, size: int, reclaimable: int) -> dict[str, Any]:
    """One summary row: strings, keys in the order Go's json marshals Docker's map."""
    percent = f" ({reclaimable * 100 // size}%)" if size and kind != "Build Cache" else ""
    return {"Active": str(active), "Reclaimable": human_size(reclaimable) + percent,
            "Size": human_size(size), "TotalCount": str(total), "Type": kind}


def _verbose(usage: dict[str, Any]) -> str:
    out = ["Images space usage:\n"]
    lines = ["REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS"]
    for image in usage.get("Images") or []:
        shared = max(image.get("SharedSize", 0), 0)
        for tag in image.get("RepoTags") or ["<none>:<none>"]:
            repo, _, name = tag.rpartition(":")
            lines.append(f"{repo}\t{name}\t{short_id(image['Id'])}\t{since(image['Created'])}\t"
                         f"{human_size(image.get('Size', 0))}\t{human_size(shared)}\t"
                         f"{human_size(image.get('Size', 0) - shared)}\t{image.get('Containers', 0)}")
    out.append(tabwrite("\n".join(lines)) + "\n\nContainers space usage:\n\n")
    lines = ["CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES"]
    for c in usage.get("Containers") or []:
        volumes = sum(1 for m in c.get("Mounts") or [] if m.get("Type") == "volume")
        lines.append(f"{short_id(c['Id'])}\t{c.get('Image', '')}\t\"{ellipsis(c.get('Command', ''), 20)}\"\t"
                     f"{volumes}\t{human_size(c.get('SizeRw', 0))}\t{since(c['Created'])}\t"
                     f"{c.get('Status', '')}\t{(c.get('Names') or ['/'])[0][1:]}")
    out.append(tabwrite("\n".join(lines)) + "\n\nLocal Volumes space usage:\n\n")
    lines = ["VOLUME NAME\tLINKS\tSIZE"]
    for v in usage.get("Volumes") or []:
        data = v.get("UsageData") or {}
        lines.append(f"{v['Name']}\t{data.get('RefCount', 0)}\t{human_size(data.get('Size', 0))}")
    out.append(tabwrite("\n".join(lines)) + "\n\nBuild cache usage: "
               f"{human_size(sum(c.get('Size', 0) for c in usage.get('BuildCache') or []))}\n\n")
    return "".join(out)
