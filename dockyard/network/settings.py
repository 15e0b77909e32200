# SPDX-License-Identifier: Apache-2.0
"""The JSON shapes of container networking, in Docker's key order: a container's
`NetworkSettings`, its per-network `EndpointSettings`, and a network's inspect document.
Pure functions; the service fills them in."""

from __future__ import annotations

from typing import Any


def network_settings() -> dict[str, Any]:
    """NetworkSettings of a container that is not running."""
    return {
        "Bridge": "",
        "SandboxID": "",
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": {},
        "SandboxKey": "",
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        **_address_fields(),
        "Networks": {},
    }


def endpoint_settings(*, ipam_config: dict[str, Any] | None = None, aliases: list[str] | None = None,
                      mac: str = "", driver_opts: dict[str, str] | None = None,
                      links: list[str] | None = None) -> dict[str, Any]:
    """EndpointSettings of a network a container is attached to, before it runs."""
    return {
        "IPAMConfig": ipam_config,
        "Links": links,
        "Aliases": aliases,
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": mac,
        "DriverOpts": driver_opts,
    }


def clear_addresses(settings: dict[str, Any]) -> None:
    """Forget the addresses of a stopped container (NetworkSettings or an endpoint);
    Docker keeps NetworkID, Aliases and the sandbox's ID and key."""
    for key, value in _address_fields().items():
        if key in settings:
            settings[key] = value


def network_doc(*, name: str, id: str, created: str, driver: str, ipam_config: list[dict[str, str]],
                ipam_options: dict[str, str] | None, internal: bool = False, attachable: bool = False,
                options: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "Name": name,
        "Id": id,
        "Created": created,
        "Scope": "local",
        "Driver": driver,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": ipam_options, "Config": ipam_config},
        "Internal": internal,
        "Attachable": attachable,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {},
        "Options": dict(options or {}),
        "Labels": dict(labels or {}),
    }


def _address_fields() -> dict[str, Any]:
    return {
        "EndpointID": "",
        "Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "MacAddress": "",
    }
