# SPDX-License-Identifier: Apache-2.0
"""`--format` for list commands: `table` (the default), `table TEMPLATE`, `json`, or a template.

Rows are objects whose attributes are the template fields (`.ID`, `.Names`); the header
row renders the same template on an object that answers each field with its column
title, which is how `table {{.ID}}\\t{{.Image}}` gets `CONTAINER ID   IMAGE`.
"""

from __future__ import annotations

from dockyard.cli.command import StatusError
from dockyard.cli.formatting import tabwrite
from dockyard.cli.templates import Template, TemplateError, unescape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


class HeaderRow:
    """Stands in for a row when rendering a table's header line."""

    def __init__(self, titles: dict[str, str]):
        self._titles = titles

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._titles.get(name, name.upper())

    def Label(self, name: str) -> str:  # noqa: N802 - Go template method name
        return name


def render_list(
    fmt: str | None,
    rows: Iterable[Any],
    titles: dict[str, str],
    default_table: str,
) -> str:
    """The whole output (ending in a newline unless empty) for `rows` under `fmt`."""
    fmt = fmt or "table"
    if fmt == "table":
        fmt = default_table
    elif fmt == "json":
        fmt = "{{json .}}"
    fmt = unescape(fmt)
    table = fmt.startswith("table")
    if table:
        fmt = fmt[len("table") :].lstrip()
    template = parse_template(fmt)
    try:
        lines = [template.execute(row) for row in rows]
        if table:
            header = template.execute(HeaderRow(titles))
            return tabwrite("\n".join([header, *lines])) + "\n"
    except TemplateError as exc:
        raise StatusError(f"failed to execute template: {_prefixed(exc)}", 1) from None
    return "".join(line + "\n" for line in lines)


def parse_template(fmt: str) -> Template:
    """Parse a --format template, failing the command with Docker's message if it is bad."""
    try:
        return Template(fmt)
    except TemplateError as exc:
        raise StatusError(f"failed to parse template: {_prefixed(exc)}", 1) from None


def _prefixed(exc: TemplateError) -> str:
    text = str(exc)
    return text if text.startswith("template:") else f"template: {text}"
