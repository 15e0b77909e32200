# SPDX-License-Identifier: Apache-2.0
"""`events`: the daemon's event stream, one line per event, until --until or Ctrl-C.

Without --format a line is Docker's: the time with nanoseconds in the local zone, type,
action, actor ID and the sorted attributes in parentheses. A --format template sees
Docker's events.Message struct (`.Type`, `.Action`, `.Actor.Attributes.name`, `.ID`...);
`json` prints the message as Docker's CLI re-encodes it. A template that does not parse
exits 64, as Docker does.
"""

from __future__ import annotations

from dockyard.cli.command import Cli, StatusError, filter_value, parse_args, parse_filters
from dockyard.cli.parser import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EVENTS = Command(
    "events",
    "[OPTIONS]",
    "Get real time events from the server",
    [
        Flag("filter", "f", "list", type_name="filter", help="Filter output based on conditions provided", validate=filter_value),
        Flag("format", "", "string", help="Format output using a custom template"),
        Flag("since", "", "string", help="Show all events created since timestamp"),
        Flag("until", "", "string", help="Stream events until this timestamp"),
    ],
    max_args=0,
    aliases=["system events", "events"],
)


def cmd_events(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = parse_args(cli, EVENTS.with_path(path), argv)
    template = None
    if opts.format:
        from dockyard.cli.templates import Template, TemplateError, unescape

        source = "{{json .}}" if opts.format == "json" else unescape(opts.format)
        try:
            template = Template(source)
            template.execute(EventMessage({}))
        except TemplateError as exc:
            raise StatusError(f"Error parsing format: {exc}", 64) from None
    from dockyard.cli import opts as o

    try:
        since = o.get_timestamp(opts.since) if opts.since else None
        until = o.get_timestamp(opts.until) if opts.until else None
    except ValueError as exc:
        raise StatusError(str(exc), 1) from None
    for message in cli.client.events(since=since, until=until, filters=parse_filters(opts.filter)):
        event = EventMessage(message)
        if template is None:
            cli.out(pretty_event(event))
        else:
            cli.out(template.execute(event))
        cli.stdout.flush()
    return 0


def pretty_event(event: EventMessage) -> str:
    """`2024-01-02T03:04:05.123456789Z container create <id> (image=busybox, name=web)`."""
    parts = []
    if event["TimeNano"]:
        parts.append(_rfc3339_nano(event["TimeNano"]))
    elif event["Time"]:
        parts.append(_rfc3339_nano(event["Time"] * 1_000_000_000))
    line = (" ".join(parts) + " " if parts else "") + f"{event['Type']} {event['Action']} {event['Actor']['ID']}"
    attributes = event["Actor"]["Attributes"] or {}
    if attributes:
        line += " (" + ", ".join(f"{k}={attributes[k]}" for k in sorted(attributes)) + ")"
    return line


class EventMessage(dict):
    """A message as Go's events.Message: Go field names for templates, and the JSON
    tags (in the struct's order, empty legacy fields left out) for `json`."""

    def __init__(self, message: dict[str, Any]):
        actor = message.get("Actor") or {}
        super().__init__(
            Status=message.get("status") or "",
            ID=message.get("id") or "",
            From=message.get("from") or "",
            Type=message.get("Type") or "",
            Action=message.get("Action") or "",
            Actor={"ID": actor.get("ID") or "", "Attributes": actor.get("Attributes")},
            Scope=message.get("scope") or "",
            Time=int(message.get("time") or 0),
            TimeNano=int(message.get("timeNano") or 0),
        )

    STRUCT_JSON = True  # events.Message

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, tag in (("Status", "status"), ("ID", "id"), ("From", "from")):
            if self[key]:
                out[tag] = self[key]
        out["Type"] = self["Type"]
        out["Action"] = self["Action"]
        attributes = self["Actor"]["Attributes"]
        if isinstance(attributes, dict):
            attributes = dict(sorted(attributes.items()))
        out["Actor"] = {"ID": self["Actor"]["ID"], "Attributes": attributes}
        if self["Scope"]:
            out["scope"] = self["Scope"]
        if self["Time"]:
            out["time"] = self["Time"]
        if self["TimeNano"]:
            out["timeNano"] = self["TimeNano"]
        return out


def _rfc3339_nano(ns: int) -> str:
    """Go's `2006-01-02T15:04:05.000000000Z07:00` in the local zone."""
    import time

    seconds, nanos = divmod(ns, 1_000_000_000)
    local = time.localtime(seconds)
    offset = local.tm_gmtoff
    zone = "Z" if offset == 0 else f"{'+' if offset > 0 else '-'}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f".{nanos:09d}{zone}"
