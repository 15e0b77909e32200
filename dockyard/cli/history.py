# SPDX-License-Identifier: Apache-2.0
"""`history` and `image prune`: an image's layers as Docker lists them, and removing
dangling (or, with -a, all unused) images."""

from __future__ import annotations

from dockyard.cli.command import Cli, parse_filters
from dockyard.cli.parser import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HISTORY = Command(
    "history",
    "[OPTIONS] IMAGE",
    "Show the history of an image",
    [
        Flag("format", "", "string", help="Format output using a custom template"),
        Flag("human", "H", "bool", default=True, help="Print sizes and dates in human readable format"),
        Flag("no-trunc", "", help="Don't truncate output"),
        Flag("quiet", "q", help="Only show image IDs"),
    ],
    min_args=1,
    max_args=1,
    aliases=["image history", "history"],
)

PRUNE = Command(
    "image prune",
    "[OPTIONS]",
    "Remove unused images",
    [
        Flag("all", "a", help="Remove all unused images, not just dangling ones"),
        Flag("filter", "", "list", type_name="filter", help="Provide filter values (e.g. \"until=<timestamp>\")"),
        Flag("force", "f", help="Do not prompt for confirmation"),
    ],
    max_args=0,
)

HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
# -H=false: the creation time as a timestamp, under Docker's CREATED AT.
HISTORY_TABLE_RAW = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"


def cmd_history(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = HISTORY.with_path(path).parse(argv)
    entries = cli.client.history(args[0])
    human = bool(opts.human)  # -H defaults to true, as Docker's
    rows = [_HistoryRow(e, not opts.no_trunc, human) for e in entries]
    if opts.quiet:
        for row in rows:
            cli.out(row.ID)
        return 0
    from dockyard.cli.listing import render_list

    titles = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
              "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}
    cli.stdout.write(render_list(opts.format, rows, titles, HISTORY_TABLE if human else HISTORY_TABLE_RAW))
    return 0


def _rfc3339(seconds: int) -> str:
    """Go's time.RFC3339 of a Unix time, in UTC (how Docker's history shows CreatedAt)."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds)) if seconds else ""


class _HistoryRow:
    def __init__(self, entry: dict[str, Any], trunc: bool, human: bool):
        from dockyard.cli.formatting import short_id, since
        from dockyard.units import human_size

        image_id = entry.get("Id") or ""
        self.ID = image_id if image_id == "<missing>" else short_id(image_id, not trunc)
        created = entry.get("Created") or 0
        self.CreatedAt = _rfc3339(created)
        self.CreatedSince = since(created) if human else self.CreatedAt
        created_by = (entry.get("CreatedBy") or "").replace("\t", " ")
        if trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        self.CreatedBy = created_by
        size = entry.get("Size") or 0
        self.Size = human_size(size) if human else str(size)
        self.Comment = entry.get("Comment") or ""

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("ID", "CreatedSince", "CreatedAt", "CreatedBy", "Size", "Comment")}


def cmd_image_prune(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = PRUNE.with_path(path).parse(argv)
    filters = parse_filters(opts.filter)
    if opts.all:
        filters["dangling"] = ["false"]
    if not opts.force:
        warning = ("WARNING! This will remove all images without at least one container associated to them."
                   if opts.all else "WARNING! This will remove all dangling images.")
        if not cli.confirm(warning):
            return 0
    result = cli.client.prune_images(filters or None)
    deleted = result.get("ImagesDeleted") or []
    if deleted:
        cli.out("Deleted Images:")
        for entry in deleted:
            for action, ref in entry.items():
                cli.out(f"{'untagged' if action == 'Untagged' else 'deleted'}: {ref}")
        cli.out("")
    from dockyard.units import human_size

    cli.out(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed') or 0)}")
    return 0
