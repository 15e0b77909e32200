# SPDX-License-Identifier: Apache-2.0
"""`dockyard system prune`: stopped containers, unused networks, dangling (or with -a,
unused) images, build cache, and with --volumes unused anonymous volumes, one prune API
call each, reported as Docker's CLI reports them: a section per kind, then the total."""

from __future__ import annotations

from dockyard.cli.command import Cli, StatusError, parse_filters
from dockyard.cli.parser import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PRUNE = Command(
    "system prune",
    "[OPTIONS]",
    "Remove unused data",
    [
        Flag("all", "a", help="Remove all unused images not just dangling ones"),
        Flag("filter", "", "list", help="Provide filter values (e.g. \"label=<key>=<value>\")"),
        Flag("force", "f", help="Do not prompt for confirmation"),
        Flag("volumes", "", help="Prune anonymous volumes"),
    ],
    max_args=0,
)


def cmd_system_prune(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = PRUNE.with_path(path).parse(argv)
    filters = parse_filters(opts.filter)
    if opts.volumes and "until" in filters:
        raise StatusError('ERROR: The "until" filter is not supported with "--volumes"', 1)
    if not opts.force and not cli.confirm(_warning(opts.all, opts.volumes)):
        return 0
    from dockyard.client.api import _filters
    from dockyard.units import human_size

    client = cli.client
    total = 0
    sections: list[tuple[str, list[str], dict[str, Any]]] = []
    report = client.prune_containers(filters or None) or {}
    sections.append(("Deleted Containers:", report.get("ContainersDeleted") or [], report))
    report = client._json("POST", "/networks/prune", {"filters": _filters(filters)}) or {}  # noqa: SLF001
    sections.append(("Deleted Networks:", report.get("NetworksDeleted") or [], report))
    if opts.volumes:
        report = client._json("POST", "/volumes/prune", {"filters": _filters(filters)}) or {}  # noqa: SLF001
        sections.append(("Deleted Volumes:", report.get("VolumesDeleted") or [], report))
    image_filters = {**filters, "dangling": ["false" if opts.all else "true"]}
    report = client.prune_images(image_filters) or {}
    lines = [f"{'untagged' if action == 'Untagged' else 'deleted'}: {ref}"
             for entry in report.get("ImagesDeleted") or [] for action, ref in entry.items()]
    sections.append(("Deleted Images:", lines, report))
    params = {"all": "1" if opts.all else None, "filters": _filters(filters)}
    report = client._json("POST", "/build/prune", params) or {}  # noqa: SLF001
    sections.append(("Deleted build cache objects:", report.get("CachesDeleted") or [], report))
    for title, lines, report in sections:
        total += int(report.get("SpaceReclaimed") or 0)
        if lines:
            cli.out(title + "\n" + "".join(line + "\n" for line in lines))
    cli.out(f"Total reclaimed space: {human_size(total)}")
    return 0


def _warning(all_images: bool, volumes: bool) -> str:
    items = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        items.append("all anonymous volumes not used by at least one container")
    items.append("all images without at least one container associated to them" if all_images
                 else "all dangling images")
    items.append("all build cache" if all_images else "unused build cache")
    return "WARNING! This will remove:\n" + "".join(f"  - {item}\n" for item in items)
