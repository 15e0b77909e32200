# SPDX-License-Identifier: Apache-2.0
"""`inspect`, `container inspect`, `image inspect`: the daemon's JSON, or `--format` applied to it.

Without `--type`, each name is looked up as a container, then an image, network and
volume, like Docker. Output is a JSON array indented by four spaces with the daemon's
key order; with `--format` one rendered line per object, where a key missing from the
data is an error (Docker runs inspect templates with missingkey=error).
"""

from __future__ import annotations

import json

from dockyard.cli.command import Cli, StatusError
from dockyard.cli.parser import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_FLAGS = [
    Flag("format", "f", "string", help="Format output using a custom template"),
    Flag("size", "s", help="Display total file sizes if the type is container"),
]

INSPECT = Command(
    "inspect",
    "[OPTIONS] NAME|ID [NAME|ID...]",
    "Return low-level information on Docker objects",
    [*_FLAGS, Flag("type", "", "string", help="Only inspect objects of the given type")],
    min_args=1,
)

CONTAINER_INSPECT = Command(
    "container inspect",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Display detailed information on one or more containers",
    _FLAGS,
    min_args=1,
)

IMAGE_INSPECT = Command(
    "image inspect",
    "[OPTIONS] IMAGE [IMAGE...]",
    "Display detailed information on one or more images",
    [_FLAGS[0]],
    min_args=1,
)

_KINDS = ["container", "image", "network", "volume"]
_NOT_FOUND = {"container": "No such container", "image": "No such image"}


def cmd_inspect(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = INSPECT.parse(argv)
    kinds = _KINDS
    if opts.type:
        if opts.type not in _KINDS:
            raise StatusError(
                f'unknown type: "{opts.type}": must be one of "config", "container", "image", '
                '"network", "node", "plugin", "secret", "service", "task", "volume"',
                1,
            )
        kinds = [opts.type]
    return _inspect(cli, args, kinds, opts.format, opts.size)


def cmd_container_inspect(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = CONTAINER_INSPECT.parse(argv)
    return _inspect(cli, args, ["container"], opts.format, opts.size)


def cmd_image_inspect(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = IMAGE_INSPECT.parse(argv)
    return _inspect(cli, args, ["image"], opts.format, False)


def _inspect(cli: Cli, names: list[str], kinds: list[str], fmt: str | None, size: bool) -> int:
    from dockyard.client.errors import APIError

    found: list[Any] = []
    errors: list[str] = []
    for name in names:
        for kind in kinds:
            try:
                found.append(_fetch(cli, kind, name, size))
                break
            except APIError as exc:
                if exc.status != 404:
                    errors.append(str(exc))
                    break
        else:
            if len(kinds) == 1:
                label = _NOT_FOUND.get(kinds[0], f"No such {kinds[0]}")
                errors.append(f"Error response from daemon: {label}: {name}")
            else:
                errors.append(f"Error: No such object: {name}")
    return print_inspected(cli, found, errors, fmt)


def print_inspected(cli: Cli, found: list[Any], errors: list[str], fmt: str | None) -> int:
    """Docker's inspect output for every command that has one: the objects as an indented
    JSON array, or one `--format` line each; then the errors; exit 1 if there were any."""
    if fmt:
        _print_formatted(cli, found, fmt)
    else:
        cli.out(json.dumps(found, indent=4, ensure_ascii=False) if found else "[]")
    for message in errors:
        cli.err(message)
    return 1 if errors else 0


def _fetch(cli: Cli, kind: str, name: str, size: bool) -> Any:
    client = cli.client
    if kind == "container":
        return client.inspect_container(name, size=size)
    if kind == "image":
        return client.inspect_image(name)
    if kind == "network":
        return client.inspect_network(name)
    return client.inspect_volume(name)


def _print_formatted(cli: Cli, objects: list[Any], fmt: str) -> None:
    from dockyard.cli.templates import Template, TemplateError, unescape

    try:
        template = Template(unescape(fmt))
    except TemplateError as exc:
        raise StatusError(f"template parsing error: {exc}", 1) from None
    for obj in objects:
        try:
            line = template.execute(obj, strict=True)
        except TemplateError as exc:
            text = str(exc)
            # Docker's writer still ends the (empty) output line before the error.
            cli.out()
            prefix = "" if text.startswith("template:") else "template: "
            raise StatusError(f"template parsing error: {prefix}{text}", 1) from None
        cli.out(line)
