# SPDX-License-Identifier: Apache-2.0
"""`network create|ls|inspect|rm|prune|connect|disconnect` with Docker's flags and output:
the ID printed by create, the `NETWORK ID  NAME  DRIVER  SCOPE` table sorted by name,
`-q`, `--format` with Docker's row fields, inspect as an indented JSON array or one
template line per network, rm printing each name it removed, and prune's prompt and
`Deleted Networks:` list.

The Engine API calls are made here through the client's JSON plumbing (the client keeps
only endpoints shared by several commands).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import quote

from dockyard.cli.command import Cli, StatusError, parse_filters
from dockyard.cli.parser import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CREATE = Command(
    "network create",
    "[OPTIONS] NETWORK",
    "Create a network",
    [
        Flag("attachable", "", help="Enable manual container attachment"),
        Flag("aux-address", "", "list", type_name="map",
             help="Auxiliary IPv4 or IPv6 addresses used by Network driver (default map[])"),
        Flag("config-from", "", "string", help="The network from which to copy the configuration"),
        Flag("config-only", "", help="Create a configuration only network"),
        Flag("driver", "d", "string", default="bridge", help="Driver to manage the Network"),
        Flag("gateway", "", "list", type_name="strings",
             help="IPv4 or IPv6 Gateway for the master subnet"),
        Flag("ingress", "", help="Create swarm routing-mesh network"),
        Flag("internal", "", help="Restrict external access to the network"),
        Flag("ip-range", "", "list", type_name="strings",
             help="Allocate container ip from a sub-range"),
        Flag("ipam-driver", "", "string", default="default", help="IP Address Management Driver"),
        Flag("ipam-opt", "", "list", type_name="map", help="Set IPAM driver specific options (default map[])"),
        Flag("ipv6", "", help="Enable IPv6 networking"),
        Flag("label", "", "list", help="Set metadata on a network"),
        Flag("opt", "o", "list", type_name="map", help="Set driver specific options (default map[])"),
        Flag("scope", "", "string", help="Control the network's scope"),
        Flag("subnet", "", "list", type_name="strings",
             help="Subnet in CIDR format that represents a network segment"),
    ],
    min_args=1,
    max_args=1,
)

LS = Command(
    "network ls",
    "[OPTIONS]",
    "List networks",
    [
        Flag("filter", "f", "list", type_name="filter",
             help='Provide filter values (e.g. "driver=bridge")'),
        Flag("format", "", "string", help="Format output using a custom template"),
        Flag("no-trunc", "", help="Do not truncate the output"),
        Flag("quiet", "q", help="Only display network IDs"),
    ],
    max_args=0,
    aliases=["network ls", "network list"],
)

INSPECT = Command(
    "network inspect",
    "[OPTIONS] NETWORK [NETWORK...]",
    "Display detailed information on one or more networks",
    [
        Flag("format", "f", "string", help="Format output using a custom template"),
        Flag("verbose", "v", help="Verbose output for diagnostics"),
    ],
    min_args=1,
)

RM = Command(
    "network rm",
    "NETWORK [NETWORK...]",
    "Remove one or more networks",
    [Flag("force", "f", help="Do not error if the network does not exist")],
    min_args=1,
    aliases=["network rm", "network remove"],
)

PRUNE = Command(
    "network prune",
    "[OPTIONS]",
    "Remove all unused networks",
    [
        Flag("filter", "", "list", type_name="filter",
             help='Provide filter values (e.g. "until=<timestamp>")'),
        Flag("force", "f", help="Do not prompt for confirmation"),
    ],
    max_args=0,
)

CONNECT = Command(
    "network connect",
    "[OPTIONS] NETWORK CONTAINER",
    "Connect a container to a network",
    [
        Flag("alias", "", "list", type_name="strings", help="Add network-scoped alias for the container"),
        Flag("driver-opt", "", "list", type_name="strings", help="driver options for the network"),
        Flag("ip", "", "string", help="IPv4 address (e.g., \"172.30.100.104\")"),
        Flag("ip6", "", "string", help="IPv6 address (e.g., \"2001:db8::33\")"),
        Flag("link", "", "list", type_name="list", help="Add link to another container"),
        Flag("link-local-ip", "", "list", type_name="strings", help="Add a link-local address for the container"),
    ],
    min_args=2,
    max_args=2,
)

DISCONNECT = Command(
    "network disconnect",
    "[OPTIONS] NETWORK CONTAINER",
    "Disconnect a container from a network",
    [Flag("force", "f", help="Force the container to disconnect from a network")],
    min_args=2,
    max_args=2,
)

TITLES = {
    "ID": "NETWORK ID",
    "Name": "NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "IPv4": "IPV4",
    "IPv6": "IPV6",
    "Internal": "INTERNAL",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}

TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

_PRUNE_WARNING = "WARNING! This will remove all custom networks not used by at least one container."


def cmd_create(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = CREATE.with_path(path).parse(argv)
    body: dict[str, Any] = {
        "Name": args[0],
        "CheckDuplicate": True,
        "Driver": opts.driver,
        "Scope": opts.scope or "",
        "EnableIPv6": opts.ipv6,
        "IPAM": {
            "Driver": opts.ipam_driver,
            "Config": ipam_configs(opts.subnet, opts.ip_range, opts.gateway, _pairs(opts.aux_address)),
            "Options": _pairs(opts.ipam_opt),
        },
        "Internal": opts.internal,
        "Attachable": opts.attachable,
        "Ingress": opts.ingress,
        "ConfigOnly": opts.config_only,
        "Options": _pairs(opts.opt),
        "Labels": _pairs(opts.label),
    }
    if opts.config_from:
        body["ConfigFrom"] = {"Network": opts.config_from}
    answer = cli.client._json("POST", "/networks/create", body=body) or {}
    if answer.get("Warning"):
        cli.err(answer["Warning"])
    cli.out(answer.get("Id", ""))
    return 0


def ipam_configs(subnets: list[str], ranges: list[str], gateways: list[str],
                 aux: dict[str, str]) -> list[dict[str, Any]]:
    """Docker's pairing of --subnet with the --ip-range, --gateway and --aux-address values
    that fall inside it (StatusError with its messages otherwise)."""
    configs: list[dict[str, Any]] = []
    networks = []
    for subnet in subnets:
        try:
            network = ipaddress.ip_network(subnet, strict=False)
        except ValueError:
            raise StatusError(f"invalid CIDR address: {subnet}", 1) from None
        for other in networks:
            if network.version == other.version and network.overlaps(other):
                raise StatusError("multiple overlapping subnet configuration is not supported", 1)
        networks.append(network)
        configs.append({"Subnet": subnet})

    def owner(text: str, is_range: bool) -> dict[str, Any]:
        try:
            value = ipaddress.ip_network(text, strict=False) if is_range else ipaddress.ip_address(text)
        except ValueError:
            kind = "range" if is_range else "gateway"
            raise StatusError(f"invalid {kind}: {text}", 1) from None
        for network, config in zip(networks, configs, strict=True):
            if network.version != value.version:
                continue
            inside = value.subnet_of(network) if is_range else value in network  # type: ignore[union-attr, operator]
            if inside:
                return config
        kind = "range" if is_range else "gateway"
        raise StatusError(f"no matching subnet for {kind} {text}", 1)

    if (ranges or gateways) and not subnets:
        raise StatusError("every ip-range or gateway must have a corresponding subnet", 1)
    for text in ranges:
        config = owner(text, True)
        if "IPRange" in config:
            raise StatusError("cannot configure multiple ranges on the same subnet", 1)
        config["IPRange"] = text
    for text in gateways:
        config = owner(text, False)
        if "Gateway" in config:
            raise StatusError("cannot configure multiple gateways on the same subnet", 1)
        config["Gateway"] = text
    for name, text in aux.items():
        config = owner(text, False)
        config.setdefault("AuxiliaryAddresses", {})[name] = text
    return configs


def cmd_ls(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = LS.with_path(path).parse(argv)
    from dockyard.client.api import _filters

    filters = parse_filters(opts.filter)
    networks = cli.client._json("GET", "/networks", {"filters": _filters(filters)}) or []
    networks.sort(key=lambda n: n.get("Name", ""))
    fmt = "{{.ID}}" if opts.quiet else opts.format
    from dockyard.cli.listing import render_list

    rows = [NetworkRow(n, trunc=not opts.no_trunc) for n in networks]
    cli.stdout.write(render_list(fmt, rows, TITLES, TABLE))
    return 0


def cmd_inspect(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = INSPECT.with_path(path).parse(argv)
    from dockyard.client.errors import APIError

    found: list[dict[str, Any]] = []
    errors: list[str] = []
    for name in args:
        try:
            params = {"verbose": "true"} if opts.verbose else None
            found.append(cli.client._json("GET", f"/networks/{quote(name, safe='')}", params))
        except APIError as exc:
            errors.append(str(exc))
    from dockyard.cli.inspect import print_inspected

    return print_inspected(cli, found, errors, opts.format)


def cmd_rm(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = RM.with_path(path).parse(argv)
    from dockyard.client.errors import APIError

    status = 0
    for name in args:
        try:
            cli.client._call("DELETE", f"/networks/{quote(name, safe='')}")
        except APIError as exc:
            if opts.force and exc.status == 404:
                continue
            cli.err(str(exc))
            status = 1
        else:
            cli.out(name)
    return status


def cmd_prune(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = PRUNE.with_path(path).parse(argv)
    from dockyard.client.api import _filters

    filters = parse_filters(opts.filter)
    if not opts.force:
        if not cli.confirm(_PRUNE_WARNING):
            return 0
    report = cli.client._json("POST", "/networks/prune", {"filters": _filters(filters)}) or {}
    deleted = report.get("NetworksDeleted") or []
    if deleted:
        cli.out("Deleted Networks:")
        for name in deleted:
            cli.out(name)
        cli.out()
    return 0


def cmd_connect(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = CONNECT.with_path(path).parse(argv)
    network, container = args
    endpoint: dict[str, Any] = {}
    if opts.ip or opts.ip6 or opts.link_local_ip:
        endpoint["IPAMConfig"] = {"IPv4Address": opts.ip or "", "IPv6Address": opts.ip6 or "",
                                  "LinkLocalIPs": opts.link_local_ip or None}
    if opts.alias:
        endpoint["Aliases"] = opts.alias
    if opts.link:
        endpoint["Links"] = opts.link
    if opts.driver_opt:
        endpoint["DriverOpts"] = _pairs(opts.driver_opt)
    cli.client._json("POST", f"/networks/{quote(network, safe='')}/connect",
                     body={"Container": container, "EndpointConfig": endpoint or None})
    return 0


def cmd_disconnect(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = DISCONNECT.with_path(path).parse(argv)
    network, container = args
    cli.client._json("POST", f"/networks/{quote(network, safe='')}/disconnect",
                     body={"Container": container, "Force": opts.force})
    return 0


class NetworkRow:
    """One `network ls` row; attribute names are Docker's template fields."""

    FIELDS = ["CreatedAt", "Driver", "ID", "IPv4", "IPv6", "Internal", "Labels", "Name", "Scope"]

    def __init__(self, network: dict[str, Any], trunc: bool = True):
        self.n = network
        self.trunc = trunc
        self.Name = network.get("Name", "")
        self.Driver = network.get("Driver", "")
        self.Scope = network.get("Scope", "")

    @property
    def ID(self) -> str:  # noqa: N802 - Go template field names
        from dockyard.cli.formatting import short_id

        return short_id(self.n.get("Id", ""), not self.trunc)

    @property
    def IPv4(self) -> str:  # noqa: N802
        # What Docker 28's CLI shows for an engine that does not report EnableIPv4.
        return "true" if self.n.get("EnableIPv4") else "false"

    @property
    def IPv6(self) -> str:  # noqa: N802
        return "true" if self.n.get("EnableIPv6") else "false"

    @property
    def Internal(self) -> str:  # noqa: N802
        return "true" if self.n.get("Internal") else "false"

    @property
    def Labels(self) -> str:  # noqa: N802
        labels = self.n.get("Labels") or {}
        return ",".join(f"{k}={v}" for k, v in labels.items())

    def Label(self, name: str) -> str:  # noqa: N802
        return (self.n.get("Labels") or {}).get(name, "")

    @property
    def CreatedAt(self) -> str:  # noqa: N802
        from dockyard.cli.formatting import go_time
        from dockyard.units import parse_rfc3339

        return go_time(parse_rfc3339(self.n.get("Created") or ""))

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}


def _pairs(items: list[str]) -> dict[str, str]:
    """`key=value` flags as a map (a bare `key` maps to "")."""
    result: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        result[key] = value
    return result
