# SPDX-License-Identifier: Apache-2.0
"""`dockyard image bootstrap`: make the offline base images (python, nginx, mysql, …) from
Debian packages, or list what can be made (`--list`). See dockyard.baseimages."""

from __future__ import annotations

from dockyard.cli.command import Cli
from dockyard.cli.parser import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BOOTSTRAP = Command(
    "image bootstrap",
    "[OPTIONS] [NAME...]",
    "Build official-image stand-ins from Debian packages (all when no NAME is given)",
    [
        Flag("list", "", help="List the images that can be made, and which are here or cached"),
        Flag("no-cache", "", help="Build again, ignoring the machine's base-image cache and the build cache"),
        Flag("quiet", "q", help="Only print the IDs of the images made"),
        Flag("format", "", "string", help="Format --list output using a custom template"),
    ],
)

TITLES = {"Name": "NAME", "Names": "ANSWERS TO", "Kind": "MADE FROM", "Status": "STATUS"}
TABLE = "table {{.Name}}\t{{.Kind}}\t{{.Status}}\t{{.Names}}"
_KINDS = {"host": "this host", "rootfs": "mmdebstrap", "dockerfile": "Dockerfile"}


def cmd_image_bootstrap(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = BOOTSTRAP.with_path(path).parse(argv)
    if opts.list:
        from dockyard.cli.listing import render_list

        cli.stdout.write(render_list(opts.format, [_Row(r) for r in cli.client.base_images()], TITLES, TABLE))
        return 0
    from dockyard.cli.progress import StreamError, display_stream

    messages = cli.client.bootstrap(args, nocache=opts.no_cache)
    if opts.quiet:
        for message in messages:
            if message.get("error"):
                raise StreamError(str(message["error"]), 1)
            if "aux" in message:
                cli.out(message["aux"].get("ID", ""))
        return 0
    for aux in display_stream(messages, cli.stdout):
        cli.out(f"{aux.get('Name')}: {aux.get('ID', '')}")
    return 0


class _Row:
    """One `--list` row; attributes are the template fields."""

    def __init__(self, recipe: dict[str, Any]):
        self.Name = recipe.get("Name", "")
        self.Kind = _KINDS.get(recipe.get("Kind", ""), recipe.get("Kind", ""))
        self.Names = ", ".join(recipe.get("References") or [])
        self.From = recipe.get("From", "")
        self.Image = recipe.get("Image", "")
        self.Cached = bool(recipe.get("Cached"))
        self.Status = "here" if self.Image else "cached" if self.Cached else "-"
