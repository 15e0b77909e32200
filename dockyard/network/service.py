# SPDX-License-Identifier: Apache-2.0
"""The network service: Docker's networks and how containers join them.

It is two things at once:

* the backend of the `/networks` routes (create, list, inspect, remove, prune, connect,
  disconnect), keeping each network's inspect document in the metadata store
  (`objects` kind "network") with its bridge device, MTU and IPAM state;
* a container lifecycle hook (see daemon/hooks.py), which is how containers get
  networking without the container state machine knowing about it:

      on_create     resolve HostConfig.NetworkMode and NetworkingConfig, refuse bad
                    input (unknown network, bad ports, conflicting options), fill
                    NetworkSettings.Networks
      before_start  per bridge network an address and a veth pair into a new network
                    namespace pinned at <exec-root>/netns/<sandbox>; published ports
                    (host sockets + DNAT rules); the embedded DNS server's sockets;
                    /etc/hosts and resolv.conf → {"netns_path": …}; `container:<id>`
                    joins that container's namespace, `host` none, `none` an empty one
      after_exit    undo all of it (unpinning the namespace removes the veth pairs)
      restore       after a daemon restart: bridges, rules, port reservations and DNS
                    for the containers that kept running

Drivers: `bridge` (the default network `bridge` on device dockyard0, and user-defined
networks on `br-<id12>`), `host` and `null`. Only endpoints of running containers exist,
as in Docker: a network with only stopped containers on it can be removed.

State lives in the event loop thread: addresses and ports are taken synchronously
before any await, so concurrent starts never get the same ones. Per container, a lock
orders start, exit, connect and disconnect; kernel work runs in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import fcntl
import ipaddress
import logging
import os
import re
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.daemon import etcfiles
from dockyard.daemon.userns import container_idmap
from dockyard.errors import (
    Conflict,
    DockyardError,
    Forbidden,
    InvalidParameter,
    NotFound,
    check_filter_keys,
)
from dockyard.network import bridge, dockercompat, ipam, netns, nftables, ports
from dockyard.network import settings as shapes
from dockyard.network.dns import DNSServer
from dockyard.network.netlink import Netlink
from dockyard.units import rfc3339

if TYPE_CHECKING:
    from dockyard.config import DaemonConfig
    from dockyard.daemon.containers import ContainerService
    from dockyard.daemon.events import Events
    from dockyard.metadata.db import MetadataDB

log = logging.getLogger("dockyard.network")

KIND = "network"
LOCK_DIR = "/run/lock"
SETTINGS_KIND = "daemon-settings"
DEFAULT_BRIDGE = "bridge"
PREDEFINED = ("bridge", "host", "none")
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_MTU = "com.docker.network.driver.mtu"
OPT_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
OPT_DEFAULT = "com.docker.network.bridge.default_bridge"
COMPOSE_SERVICE = "com.docker.compose.service"
_DEVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$")


class StartFailure(InvalidParameter):
    """A start refused for a network reason (unknown network, address in use, …)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass
class Settings:
    """The daemon's network options. They stick to a data root: a daemon restarted
    without the flags keeps the bridge, pools and nftables table its networks and
    running containers were made with, instead of orphaning them."""

    bridge: str = "dockyard0"
    bip: str | None = None
    pools: list[str] = field(default_factory=list)
    mtu: int | None = None
    table: str = "dockyard"

    @classmethod
    def resolve(cls, config: DaemonConfig, stored: dict[str, Any]) -> Settings:
        """Flags given now, else what the data root remembers, else the defaults."""
        settings = cls(
            bridge=config.bridge or stored.get("bridge") or cls.bridge,
            bip=config.bip or stored.get("bip") or None,
            pools=list(config.default_address_pools or stored.get("pools") or []),
            mtu=config.mtu or stored.get("mtu") or None,
            table=config.nft_table or stored.get("table") or cls.table,
        )
        if settings.bip:
            try:
                if "/" not in settings.bip:
                    raise ValueError
                ipaddress.IPv4Interface(settings.bip)
            except ValueError:
                raise ValueError(f"invalid --bip {settings.bip!r}: expected an IPv4 address with prefix") from None
        for pool in settings.pools:
            ipam.parse_pool(pool)
        if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", settings.table):
            raise ValueError(f"invalid nftables table name {settings.table!r}")
        return settings

    def stored(self) -> dict[str, Any]:
        return {"bridge": self.bridge, "bip": self.bip, "pools": self.pools, "mtu": self.mtu,
                "table": self.table}


@dataclass
class Network:
    doc: dict[str, Any]  # the inspect document, Containers left empty
    device: str = ""
    mtu: int = 0
    user_subnet: bool = False
    masquerade: bool = True
    space: ipam.AddressSpace | None = None
    removing: bool = False

    @property
    def id(self) -> str:
        return self.doc["Id"]

    @property
    def name(self) -> str:
        return self.doc["Name"]

    @property
    def driver(self) -> str:
        return self.doc["Driver"]

    @property
    def internal(self) -> bool:
        return bool(self.doc.get("Internal"))

    @property
    def is_bridge(self) -> bool:
        return self.driver == "bridge"

    @property
    def is_default(self) -> bool:
        return (self.doc.get("Options") or {}).get(OPT_DEFAULT) == "true"

    def stored(self) -> dict[str, Any]:
        return {"Network": self.doc, "Device": self.device, "MTU": self.mtu,
                "UserSubnet": self.user_subnet, "Masquerade": self.masquerade}


@dataclass
class Endpoint:
    container_id: str
    network_id: str
    endpoint_id: str
    ifname: str
    address: ipaddress.IPv4Interface
    mac: str
    names: set[str] = field(default_factory=set)  # what the embedded DNS answers


@dataclass
class Sandbox:
    """The network namespace of a running container and what is attached to it."""

    container_id: str
    name: str
    sandbox_id: str
    path: Path
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    mappings: list[ports.Mapping] = field(default_factory=list)
    mapping_ip: str = ""
    dns: bool = False
    upstreams: list[str] = field(default_factory=list)
    ns: netns.Namespace | None = None


class NetworkService:
    def __init__(self, config: DaemonConfig, db: MetadataDB, containers: ContainerService,
                 events: Any):
        self._config = config
        self._db = db
        self._containers = containers
        self._events: Events = events
        self._networks: dict[str, Network] = {}
        self._sandboxes: dict[str, Sandbox] = {}
        self._special: dict[str, tuple[str, str]] = {}  # host/none containers: cid → (net id, endpoint id)
        self._joiners: dict[str, str] = {}  # container:<id> members: cid → owner cid
        self._locks: dict[str, asyncio.Lock] = {}
        self._ports = ports.PortAllocator()
        self._dns = DNSServer(self)
        self._netlink: Netlink | None = None
        self._rules_lock = asyncio.Lock()
        # What the kernel holds (None: unknown, so the next sync renders the whole table).
        self._applied_bridges: list[nftables.BridgeRules] | None = None
        self._applied_forwards: set[nftables.PortForward] = set()
        self._rules_dirty = False
        self._rules_task: asyncio.Task[None] | None = None
        self._settings = Settings.resolve(config, {})
        self._watcher: dockercompat.Watcher | None = None
        self._uplink_mtu: int | None = None
        self._host_locks: list[int] = []

    # ── daemon lifecycle ──────────────────────────────────────────────────────────────

    async def restore(self, records: list[dict[str, Any]]) -> None:
        """Bring networking back at daemon start: networks and their bridges, then the
        endpoints, ports and DNS of containers that kept running; then the rules."""
        stored = await asyncio.to_thread(self._db.get_object, SETTINGS_KIND, "network") or {}
        self._settings = Settings.resolve(self._config, stored)
        self._host_locks = await asyncio.to_thread(_lock_host_resources, self._settings)
        await asyncio.to_thread(self._db.put_object, SETTINGS_KIND, "network", self._settings.stored())
        self._watcher = dockercompat.Watcher(self._settings.table, self._sync_forward_policy)
        self._netlink = await asyncio.to_thread(Netlink)
        self._uplink_mtu = await asyncio.to_thread(bridge.uplink_mtu, self._netlink)
        await self._load_networks()
        for record in records:
            if record["State"].get("Running"):
                try:
                    await self._restore_container(record)
                except Exception:  # noqa: BLE001 - one broken container must not stop the daemon
                    log.warning("could not restore networking of container %s", record["Id"][:12], exc_info=True)
        await asyncio.to_thread(self._remove_orphan_namespaces)
        try:
            await self._sync_rules()
        except DockyardError as e:
            # Containers without published ports or user networks still work; say why
            # the others will not.
            log.error("%s", e.message)
        await self._sync_forward_policy()
        self._watcher.start()

    def orphan_namespaces(self) -> list[Path]:
        """Network namespaces under the exec root no container's sandbox holds: a daemon
        killed between making one and recording it in the container."""
        directory = self._config.exec_root / "netns"
        held = {sandbox.path for sandbox in self._sandboxes.values()}
        if not directory.is_dir():
            return []
        # A namespace's owning user namespace is pinned beside it (`<name>.userns`) and
        # goes with it.
        names = {p.name.removesuffix(".userns") for p in directory.iterdir() if not p.name.startswith(".")}
        return [directory / name for name in sorted(names) if directory / name not in held]

    def _remove_orphan_namespaces(self) -> None:
        for path in self.orphan_namespaces():
            log.warning("removing network namespace %s: no container holds it", path)
            netns.remove(path)

    async def shutdown(self) -> None:
        """Stop serving DNS and holding ports; kernel state stays for running containers."""
        if self._watcher is not None:
            await self._watcher.stop()
        if self._rules_task is not None:
            with contextlib.suppress(Exception):
                await self._rules_task
        await self._dns.close()
        self._ports.close()
        for sandbox in self._sandboxes.values():
            if sandbox.ns is not None:
                sandbox.ns.close()
        if self._netlink is not None:
            self._netlink.close()
        for fd in self._host_locks:
            os.close(fd)

    # ── the /networks API ─────────────────────────────────────────────────────────────

    def list(self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        for key in filters:
            if key not in ("dangling", "driver", "id", "label", "name", "scope", "type"):
                raise InvalidParameter(f"Invalid filter '{key}'")
        found = [n for n in self._networks.values() if self._matches(n, filters)]
        found.sort(key=lambda n: n.doc["Created"])
        return [self._doc(n, containers=False) for n in found]

    def inspect(self, ref: str) -> dict[str, Any]:
        return self._doc(self.get(ref), containers=True)

    def get(self, ref: str) -> Network:
        """A network by full ID, name, or unique ID prefix (Docker's order)."""
        if ref in self._networks:
            return self._networks[ref]
        named = [n for n in self._networks.values() if n.name == ref]
        if len(named) == 1:
            return named[0]
        if ref:
            prefixed = [n for n in self._networks.values() if n.id.startswith(ref)]
            if len(prefixed) == 1:
                return prefixed[0]
            if len(prefixed) > 1:
                raise InvalidParameter(f"network {ref} is ambiguous ({len(prefixed)} matches found based on ID prefix)")
        raise NotFound(f"network {ref} not found")

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidParameter("invalid network create request: expected a JSON object")
        _check_types(body, _CREATE_TYPES, "")
        ipam = body.get("IPAM") or {}
        _check_types(ipam, _IPAM_TYPES, "IPAM.")
        for i, entry in enumerate(ipam.get("Config") or []):
            if not isinstance(entry, dict):
                raise InvalidParameter(f"invalid IPAM.Config[{i}]: expected an object")
            _check_types(entry, _IPAM_CONFIG_TYPES, f"IPAM.Config[{i}].")
        name = body.get("Name")
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameter(f"invalid name: {name or ''}")
        driver = body.get("Driver") or "bridge"
        if name in PREDEFINED:
            raise Forbidden(f"operation is not permitted on predefined {name} network")
        if any(n.name == name for n in self._networks.values()):
            raise Conflict(f"network with name {name} already exists")
        if driver in ("host", "null"):
            raise Forbidden(f'only one instance of "{driver}" network is allowed')
        if driver != "bridge":
            raise NotFound(f'plugin "{driver}" not found')
        if body.get("Scope") not in (None, "", "local"):
            raise Forbidden(f"scope {body['Scope']!r} is not supported: dockyard has no swarm mode")
        if body.get("Ingress"):
            raise Forbidden("ingress network can only be created in swarm mode")
        if body.get("ConfigOnly") or (body.get("ConfigFrom") or {}).get("Network"):
            raise InvalidParameter("config-only networks are not supported")
        if body.get("EnableIPv6"):
            raise InvalidParameter("IPv6 networks are not supported by dockyard's bridge driver")
        options = {str(k): str(v) for k, v in (body.get("Options") or {}).items()}
        labels = {str(k): str(v) for k, v in (body.get("Labels") or {}).items()}
        ipam_body = body.get("IPAM") or {}
        if (ipam_body.get("Driver") or "default") != "default":
            raise NotFound(f'plugin "{ipam_body["Driver"]}" not found')
        mtu = self._mtu_option(options)
        device = options.get(OPT_BRIDGE_NAME) or ""
        if device:
            if not _DEVICE_NAME.match(device):
                raise InvalidParameter(f"invalid bridge name {device!r}: at most 15 letters, digits, '_', '.' or '-'")
            if any(n.device == device for n in self._networks.values()):
                raise Forbidden(f"bridge name {device} is already in use by another network")
        net_id = secrets.token_hex(32)
        device = device or f"br-{net_id[:12]}"
        space, config_doc, user_subnet = await self._plan_ipam(ipam_body)
        doc = shapes.network_doc(
            name=name, id=net_id, created=rfc3339(), driver="bridge", ipam_config=[config_doc],
            ipam_options=ipam_body.get("Options"), internal=bool(body.get("Internal")),
            attachable=bool(body.get("Attachable")), options=options, labels=labels)
        network = Network(doc, device=device, mtu=mtu, user_subnet=user_subnet,
                          masquerade=options.get(OPT_MASQUERADE, "true") != "false", space=space)
        created = await self._ensure_bridge(network)
        self._networks[net_id] = network
        try:
            await asyncio.to_thread(self._db.put_object, KIND, net_id, network.stored())
            await self._sync_rules()
        except BaseException:
            del self._networks[net_id]
            if created:
                await asyncio.to_thread(bridge.delete_bridge, self._nl(), device)
            raise
        await self._sync_forward_policy()
        self._emit(network, "create")
        return {"Id": net_id, "Warning": ""}

    async def remove(self, ref: str) -> None:
        network = self.get(ref)
        if network.name in PREDEFINED:
            raise Forbidden(f"{network.name} is a pre-defined network and cannot be removed")
        if network.removing:
            raise NotFound(f"network {ref} not found")
        if self._active_endpoints(network.id):
            raise Forbidden(f"error while removing network: network {network.name} id {network.id} has active endpoints")
        network.removing = True
        try:
            await asyncio.to_thread(self._db.delete_object, KIND, network.id)
        except BaseException:
            network.removing = False
            raise
        del self._networks[network.id]
        await asyncio.to_thread(bridge.delete_bridge, self._nl(), network.device)
        await self._sync_rules()
        await self._sync_forward_policy()
        self._emit(network, "destroy")

    async def prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        filters = filters or {}
        check_filter_keys(filters, ("until", "label", "label!"))
        until = _until(filters.get("until"))
        deleted = []
        for network in list(self._networks.values()):
            if network.name in PREDEFINED or network.removing or self._active_endpoints(network.id):
                continue
            labels = network.doc.get("Labels") or {}
            if not all(_label_matches(labels, v) for v in filters.get("label", [])):
                continue
            if any(_label_matches(labels, v) for v in filters.get("label!", [])):
                continue
            if until is not None and network.doc["Created"] >= until:
                continue
            try:
                await self.remove(network.id)
            except DockyardError:
                continue
            deleted.append(network.name)
        return {"NetworksDeleted": deleted}

    async def connect(self, ref: str, body: dict[str, Any]) -> None:
        network = self.get(ref)
        container_ref = (body or {}).get("Container") or ""
        record = self._containers.get(container_ref)
        settings = body.get("EndpointConfig") or {}
        mode = _mode(record)
        if network.driver == "host" or mode == "host":
            raise InvalidParameter("container cannot be disconnected from host network or connected to host network")
        if network.driver == "null" or mode == "none":
            raise InvalidParameter("container cannot be connected to multiple networks with one of the networks in private (none) mode")
        if mode.startswith("container:"):
            raise InvalidParameter("container sharing network namespace with another container or host cannot be connected to any other network")
        cid = record["Id"]
        async with self._lock(cid):
            networks = record["NetworkSettings"]["Networks"]
            if network.name in networks:
                raise Forbidden(f"endpoint with name {record['Name'][1:]} already exists in network {network.name}")
            entry = self._endpoint_config(network, settings, record)
            sandbox = self._sandboxes.get(cid)
            if sandbox is not None:
                await self._attach_live(record, sandbox, network, entry)
                added = sandbox.endpoints[network.id]
                await asyncio.to_thread(etcfiles.set_hosts_entry, record, str(added.address.ip), True)
            networks[network.name] = entry
            await self._persist(record)
        if sandbox is not None:
            self._emit(network, "connect", container=cid)

    async def disconnect(self, ref: str, body: dict[str, Any]) -> None:
        container_ref = (body or {}).get("Container") or ""
        force = bool((body or {}).get("Force"))
        record = self._containers.get(container_ref)
        try:
            network = self.get(ref)
        except NotFound:
            if force and ref in record["NetworkSettings"]["Networks"]:
                async with self._lock(record["Id"]):
                    record["NetworkSettings"]["Networks"].pop(ref, None)
                    await self._persist(record)
                return
            raise
        if network.driver == "host" or _mode(record) == "host":
            raise InvalidParameter("container cannot be disconnected from host network or connected to host network")
        cid = record["Id"]
        async with self._lock(cid):
            networks = record["NetworkSettings"]["Networks"]
            if network.name not in networks:
                raise DockyardError(f"container {cid} is not connected to network {network.name}")
            sandbox = self._sandboxes.get(cid)
            endpoint = sandbox.endpoints.get(network.id) if sandbox else None
            if sandbox is not None and endpoint is not None:
                await self._detach_live(record, sandbox, network, endpoint)
                await asyncio.to_thread(etcfiles.set_hosts_entry, record, str(endpoint.address.ip), False)
            del networks[network.name]
            await self._persist(record)
        if endpoint is not None:
            self._emit(network, "disconnect", container=cid)

    # ── container lifecycle hook ──────────────────────────────────────────────────────

    async def on_create(self, record: dict[str, Any]) -> None:
        config, host_config = record["Config"], record["HostConfig"]
        try:
            etcfiles.validate_extra_hosts(host_config.get("ExtraHosts") or [])
        except ValueError as e:
            raise InvalidParameter(str(e)) from None
        ports.validate(config, host_config)
        host_config["Links"] = self._checked_links(record) or None
        for server in host_config.get("Dns") or []:
            _check_ip(server, "DNS server")
        # create.py left the request's EndpointsConfig in NetworkSettings.Networks.
        endpoints = _endpoints_from_body((record.get("NetworkSettings") or {}).get("Networks") or {})
        mac = config.get("MacAddress") or ""
        if mac:
            _check_mac(mac)
        hostname_given = config.get("Hostname") not in (None, "", record["Id"][:12])
        mode = host_config.get("NetworkMode") or "default"
        networks: dict[str, Any] = {}
        if mode.startswith("container:"):
            owner = self._containers.get(mode[len("container:"):])
            if owner["Id"] == record["Id"]:
                raise InvalidParameter("cannot join own network namespace")
            _refuse_with_container_mode(record, hostname_given, endpoints)
            host_config["NetworkMode"] = f"container:{owner['Id']}"
            config["Hostname"] = owner["Config"].get("Hostname") or owner["Id"][:12]
            for key in ("HostnamePath", "HostsPath", "ResolvConfPath"):
                record[key] = owner[key]
        elif mode in ("host", "none") or self._driver_of(mode) in ("host", "null"):
            network = self.get("host" if mode == "host" or self._driver_of(mode) == "host" else "none")
            # By name, as the OCI spec builder reads it (a network ID is accepted too).
            host_config["NetworkMode"] = network.name
            if network.driver == "host" and not hostname_given:
                config["Hostname"] = socket.gethostname()
            for net_ref in endpoints:
                if net_ref != mode and self._find(net_ref) is not network:
                    raise InvalidParameter(f"Container cannot be connected to network endpoints: {', '.join(endpoints)}")
            networks[network.name] = shapes.endpoint_settings()
        else:
            primary = self._default_network() if mode == "default" else self.get(mode)
            wanted: list[tuple[Network, dict[str, Any]]] = [(primary, {})]
            for net_ref, settings in endpoints.items():
                # Clients key the primary network's settings by what NetworkMode says.
                network = primary if net_ref == mode else self.get(net_ref)
                if network.driver != "bridge":
                    raise InvalidParameter(f"Container cannot be connected to network endpoints: {', '.join(endpoints)}")
                if network is primary:
                    wanted[0] = (primary, settings or {})
                elif all(network is not n for n, _ in wanted):
                    wanted.append((network, settings or {}))
            for network, settings in wanted:
                entry = self._endpoint_config(network, settings, record)
                if network is primary and mac and not entry["MacAddress"]:
                    entry["MacAddress"] = mac
                networks[network.name] = entry
        record["NetworkSettings"] = shapes.network_settings()
        record["NetworkSettings"]["Networks"] = networks

    async def before_start(self, record: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._before_start(record)
        except InvalidParameter:
            raise
        except DockyardError as e:
            # The container service treats InvalidParameter as "the start failed" (and
            # removes a `run --rm` container, as Docker does); keep Docker's status.
            raise StartFailure(e.message, e.status) from None

    async def _before_start(self, record: dict[str, Any]) -> dict[str, Any]:
        cid = record["Id"]
        async with self._lock(cid):
            mode = _mode(record)
            if mode.startswith("container:"):
                return self._join(record, mode[len("container:"):])
            if mode == "host" or "host" in record["NetworkSettings"]["Networks"]:
                await asyncio.to_thread(etcfiles.write_files, record)
                self._special[cid] = (self.get("host").id, secrets.token_hex(32))
                self._emit(self.get("host"), "connect", container=cid)
                return {}
            if mode == "none" or "none" in record["NetworkSettings"]["Networks"]:
                await asyncio.to_thread(etcfiles.write_files, record)
                self._special[cid] = (self.get("none").id, secrets.token_hex(32))
                self._emit(self.get("none"), "connect", container=cid)
                return {}
            sandbox = await self._start_sandbox(record)
            for net_id in sandbox.endpoints:
                self._emit(self._networks[net_id], "connect", container=cid)
            return {"netns_path": str(sandbox.path), **self._owner_userns(record, sandbox.path)}

    async def after_exit(self, record: dict[str, Any]) -> None:
        # Shielded: the daemon's shutdown cancels the task watching a container; the
        # kernel state and the address and port bookkeeping must be released anyway.
        await asyncio.shield(asyncio.ensure_future(self._after_exit(record)))

    async def _after_exit(self, record: dict[str, Any]) -> None:
        cid = record["Id"]
        async with self._lock(cid):
            self._joiners.pop(cid, None)
            special = self._special.pop(cid, None)
            if special is not None:
                network = self._networks.get(special[0])
                if network is not None:
                    self._emit(network, "disconnect", container=cid)
            sandbox = self._sandboxes.pop(cid, None)
            if sandbox is not None:
                await self._teardown(sandbox)
                for net_id in sandbox.endpoints:
                    network = self._networks.get(net_id)
                    if network is not None:
                        self._emit(network, "disconnect", container=cid)
            settings = record.get("NetworkSettings")
            if settings:
                shapes.clear_addresses(settings)
                settings["Ports"] = {}
                for entry in settings.get("Networks", {}).values():
                    shapes.clear_addresses(entry)
                    entry["MacAddress"] = ""

    async def on_remove(self, record: dict[str, Any], volumes: bool) -> None:
        if record["Id"] in self._sandboxes or record["Id"] in self._special:
            await self.after_exit(record)
        self._locks.pop(record["Id"], None)

    # ── the embedded DNS server's directory ───────────────────────────────────────────

    def resolve(self, sandbox_cid: str, name: str) -> list[str] | None:
        """Addresses of `name` on the user-defined networks the asker is on."""
        asker = self._sandboxes.get(sandbox_cid)
        if asker is None:
            return None
        try:
            links = _links(self._containers.get(sandbox_cid))
        except NotFound:
            links = []
        found: list[str] | None = None
        for net_id in asker.endpoints:
            network = self._networks.get(net_id)
            if network is None or network.is_default:
                continue
            candidates = {name}
            suffix = "." + network.name.lower()
            if name.endswith(suffix):
                candidates.add(name[: -len(suffix)])
            # A --link alias names its target for the linking container only.
            candidates |= {target.lower() for target, alias in links if alias.lower() in candidates}
            for sandbox in self._sandboxes.values():
                endpoint = sandbox.endpoints.get(net_id)
                if endpoint is not None and (endpoint.names & candidates
                                             or self._name_of(sandbox).lower() in candidates):
                    found = found if found is not None else []
                    found.append(str(endpoint.address.ip))
        return found

    def reverse(self, sandbox_cid: str, address: str) -> str | None:
        asker = self._sandboxes.get(sandbox_cid)
        if asker is None:
            return None
        for net_id in asker.endpoints:
            network = self._networks.get(net_id)
            if network is None or network.is_default:
                continue
            for sandbox in self._sandboxes.values():
                endpoint = sandbox.endpoints.get(net_id)
                if endpoint is not None and str(endpoint.address.ip) == address:
                    return f"{self._name_of(sandbox)}.{network.name}"
        return None

    def upstreams(self, sandbox_cid: str) -> list[str] | None:
        sandbox = self._sandboxes.get(sandbox_cid)
        if sandbox is None:
            return None
        networks = [self._networks.get(n) for n in sandbox.endpoints]
        if networks and all(n is not None and n.internal for n in networks):
            return None  # no way out of an internal network, not even for names
        return sandbox.upstreams or etcfiles.host_nameservers()

    # ── starting and stopping a sandbox ───────────────────────────────────────────────

    async def _start_sandbox(self, record: dict[str, Any]) -> Sandbox:
        cid = record["Id"]
        settings = record["NetworkSettings"]
        plans: list[tuple[Network, dict[str, Any]]] = []
        for name, entry in settings["Networks"].items():
            network = self._find(entry.get("NetworkID") or "") or self._find(name)
            if network is None or network.removing or not network.is_bridge:
                raise NotFound(f"network {name} not found")
            plans.append((network, entry))
        sandbox_id = secrets.token_hex(32)
        sandbox = Sandbox(cid, record["Name"][1:], sandbox_id,
                          self._config.exec_root / "netns" / sandbox_id[:12],
                          upstreams=list(record["HostConfig"].get("Dns") or []))
        interfaces: list[bridge.Interface] = []
        try:
            # Addresses first, synchronously: nothing else can take them meanwhile.
            for index, (network, entry) in enumerate(plans):
                endpoint = self._new_endpoint(record, network, entry, f"eth{index}")
                sandbox.endpoints[network.id] = endpoint
                interfaces.append(bridge.Interface(endpoint.ifname, endpoint.address, endpoint.mac,
                                                   network.device, network.mtu))
            gateway_net = self._gateway_network(sandbox)
            bindings = ports.requested_bindings(record["Config"], record["HostConfig"])
            if gateway_net is not None and bindings:
                sandbox.mapping_ip = str(sandbox.endpoints[gateway_net.id].address.ip)
                sandbox.mappings = self._ports.allocate(
                    bindings, f"{sandbox.name} ({sandbox.endpoints[gateway_net.id].endpoint_id})")
            sandbox.dns = self._wants_dns(record, sandbox)
            sandbox.ns = await asyncio.to_thread(netns.create, sandbox.path, dns=sandbox.dns,
                                                 idmap=container_idmap(self._config, record))
            gateway = gateway_net.space.gateway if gateway_net and gateway_net.space else None
            await asyncio.to_thread(bridge.attach, self._nl(), sandbox.ns, interfaces, gateway)
            if sandbox.dns:
                await self._dns.add(cid, sandbox.ns.dns_sockets)
            # The namespace's netlink socket is only needed again for connect and
            # disconnect: not worth a descriptor per running container.
            sandbox.ns.close()
            sandbox.ns = None
            self._sandboxes[cid] = sandbox
            if sandbox.mappings:
                await self._sync_rules()
            primary = self._primary_endpoint(record, sandbox)
            await asyncio.to_thread(
                etcfiles.write_files, record,
                address=str(primary.address.ip) if primary else None,
                host_gateway=self._host_gateway(), embedded_dns=sandbox.dns,
                more_hosts=self._link_host_lines(record))
        except BaseException:
            self._sandboxes.pop(cid, None)
            await self._teardown(sandbox)
            raise
        self._fill_settings(record, sandbox)
        return sandbox

    async def _teardown(self, sandbox: Sandbox) -> None:
        """Release everything `sandbox` holds; safe on a half-made one."""
        await self._dns.remove(sandbox.container_id)
        if sandbox.mappings:
            self._ports.release(sandbox.mappings)
            if sandbox.container_id not in self._sandboxes:
                self._sync_rules_soon()
        for endpoint in sandbox.endpoints.values():
            network = self._networks.get(endpoint.network_id)
            if network is not None and network.space is not None:
                network.space.release(endpoint.address.ip)
        if sandbox.ns is not None:
            sandbox.ns.close()
        for sock in sandbox.ns.dns_sockets if sandbox.ns else []:
            sock.close()
        shared = any(owner == sandbox.container_id for owner in self._joiners.values())
        await asyncio.to_thread(self._remove_namespace, sandbox, shared)

    def _remove_namespace(self, sandbox: Sandbox, shared: bool) -> None:
        """Unpin the namespace; the kernel then removes it and its veth pairs. When
        `container:` members still live in it, take the interfaces out now, as they
        must not keep addresses that go back to the pool."""
        if shared and netns.exists(sandbox.path):
            with contextlib.suppress(OSError):
                ns = netns.enter(sandbox.path)
                try:
                    for endpoint in sandbox.endpoints.values():
                        with contextlib.suppress(OSError):
                            bridge.detach(ns, endpoint.ifname)
                finally:
                    ns.close()
        netns.remove(sandbox.path)

    def _join(self, record: dict[str, Any], owner_id: str) -> dict[str, Any]:
        try:
            owner = self._containers.get(owner_id)
        except NotFound:
            raise NotFound(f"No such container: {owner_id}") from None
        if not owner["State"].get("Running"):
            raise Conflict(f"cannot join network of a non running container: {owner['Id']}")
        self._joiners[record["Id"]] = owner["Id"]
        sandbox = self._sandboxes.get(owner["Id"])
        if sandbox is not None:
            joined = {"network": str(sandbox.path)}
            joined.update(self._owner_userns(record, sandbox.path).get("namespace_paths", {}))
            return {"namespace_paths": joined}
        if _mode(owner).startswith("container:"):
            return self._join(record, _mode(owner)[len("container:"):])
        joined = {"network": f"/proc/{owner['State']['Pid']}/ns/net"}
        if not container_idmap(self._config, record).empty and not container_idmap(self._config, owner).empty:
            # Its runtime made the namespace inside the owner's user namespace: join both.
            joined["user"] = f"/proc/{owner['State']['Pid']}/ns/user"
        return {"namespace_paths": joined}

    def _owner_userns(self, record: dict[str, Any], path: Path) -> dict[str, Any]:
        """The spec options joining the user namespace that owns the network namespace
        at `path` (--userns-remap), for a container that runs in one; nothing when the
        namespace has no owner of its own."""
        if container_idmap(self._config, record).empty:
            return {}
        owner = netns.userns_path(path)
        return {"namespace_paths": {"user": str(owner)}} if owner is not None else {}

    async def _attach_live(self, record: dict[str, Any], sandbox: Sandbox, network: Network,
                           entry: dict[str, Any]) -> None:
        if network.removing:
            raise NotFound(f"network {network.name} not found")
        ns = await asyncio.to_thread(netns.enter, sandbox.path)
        try:
            await self._attach_in(record, sandbox, network, entry, ns)
        finally:
            ns.close()

    async def _attach_in(self, record: dict[str, Any], sandbox: Sandbox, network: Network,
                         entry: dict[str, Any], ns: netns.Namespace) -> None:
        taken = await asyncio.to_thread(bridge.interface_names, ns)
        taken |= {e.ifname for e in sandbox.endpoints.values()}
        ifname = next(f"eth{i}" for i in range(64) if f"eth{i}" not in taken)
        endpoint = self._new_endpoint(record, network, entry, ifname)
        old_gateway = self._gateway_network(sandbox)
        sandbox.endpoints[network.id] = endpoint
        new_gateway = self._gateway_network(sandbox)
        try:
            interface = bridge.Interface(ifname, endpoint.address, endpoint.mac, network.device, network.mtu)
            await asyncio.to_thread(bridge.attach, self._nl(), ns, [interface], None)
            if new_gateway is not old_gateway and new_gateway is not None and new_gateway.space:
                await asyncio.to_thread(bridge.set_default_route, ns, new_gateway.space.gateway)
            if not sandbox.dns and not network.is_default:
                # First user-defined network: the container now uses the embedded server.
                sockets = await asyncio.to_thread(netns.run_in, sandbox.path, netns.dns_sockets)
                await self._dns.add(sandbox.container_id, sockets)
                sandbox.dns = True
                await asyncio.to_thread(etcfiles.rewrite_in_place, record["ResolvConfPath"],
                                        etcfiles.resolv_content(record["HostConfig"], embedded_dns=True))
        except BaseException:
            del sandbox.endpoints[network.id]
            if network.space is not None:
                network.space.release(endpoint.address.ip)
            raise
        self._fill_endpoint(record, entry, network, endpoint)

    async def _detach_live(self, record: dict[str, Any], sandbox: Sandbox, network: Network,
                           endpoint: Endpoint) -> None:
        ns = await asyncio.to_thread(netns.enter, sandbox.path)
        try:
            await self._detach_in(record, sandbox, network, endpoint, ns)
        finally:
            ns.close()

    async def _detach_in(self, record: dict[str, Any], sandbox: Sandbox, network: Network,
                         endpoint: Endpoint, ns: netns.Namespace) -> None:
        old_gateway = self._gateway_network(sandbox)
        await asyncio.to_thread(bridge.detach, ns, endpoint.ifname)
        del sandbox.endpoints[network.id]
        if network.space is not None:
            network.space.release(endpoint.address.ip)
        if str(endpoint.address.ip) == sandbox.mapping_ip and sandbox.mappings:
            self._ports.release(sandbox.mappings)
            sandbox.mappings = []
            record["NetworkSettings"]["Ports"] = {}
            await self._sync_rules()
        new_gateway = self._gateway_network(sandbox)
        if old_gateway is network and new_gateway is not None and new_gateway.space:
            await asyncio.to_thread(bridge.set_default_route, ns, new_gateway.space.gateway)
        if network.is_default:
            shapes.clear_addresses(record["NetworkSettings"])

    def _new_endpoint(self, record: dict[str, Any], network: Network, entry: dict[str, Any],
                      ifname: str) -> Endpoint:
        assert network.space is not None
        wanted = (entry.get("IPAMConfig") or {}).get("IPv4Address") or None
        address = network.space.allocate(ipaddress.IPv4Address(wanted) if wanted else None)
        mac = entry.get("MacAddress") or bridge.mac_for(address)
        return Endpoint(record["Id"], network.id, secrets.token_hex(32), ifname,
                        ipaddress.IPv4Interface(f"{address}/{network.space.subnet.prefixlen}"), mac,
                        _dns_names(record, network, entry))

    def _gateway_network(self, sandbox: Sandbox) -> Network | None:
        """The network that holds the default route: Docker's order, non-internal
        networks by name; an internal one when there is nothing else (dockerd gives those
        containers a default route too; the host forwards nothing from it)."""
        networks = [self._networks[n] for n in sandbox.endpoints if n in self._networks]
        candidates = [n for n in networks if not n.internal] or networks
        return min(candidates, key=lambda n: n.name) if candidates else None

    def _primary_endpoint(self, record: dict[str, Any], sandbox: Sandbox) -> Endpoint | None:
        mode = _mode(record)
        network = self._default_network() if mode == "default" else self._find(mode)
        if network is not None and network.id in sandbox.endpoints:
            return sandbox.endpoints[network.id]
        return next(iter(sandbox.endpoints.values()), None)

    def _fill_settings(self, record: dict[str, Any], sandbox: Sandbox) -> None:
        settings = record["NetworkSettings"]
        settings["SandboxID"] = sandbox.sandbox_id
        settings["SandboxKey"] = str(sandbox.path)
        exposed = ports.exposed_ports(record["Config"], record["HostConfig"])
        settings["Ports"] = ports.settings_ports(exposed, sandbox.mappings)
        shapes.clear_addresses(settings)
        for name, entry in settings["Networks"].items():
            network = self._find(name)
            if network is None or network.id not in sandbox.endpoints:
                continue
            endpoint = sandbox.endpoints[network.id]
            self._fill_endpoint(record, entry, network, endpoint)
            if network.is_default:
                for key in ("EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "MacAddress"):
                    settings[key] = entry[key]

    def _fill_endpoint(self, record: dict[str, Any], entry: dict[str, Any], network: Network,
                       endpoint: Endpoint) -> None:
        assert network.space is not None
        entry["NetworkID"] = network.id
        entry["EndpointID"] = endpoint.endpoint_id
        entry["Gateway"] = str(network.space.gateway) if network.space.gateway else ""
        entry["IPAddress"] = str(endpoint.address.ip)
        entry["IPPrefixLen"] = endpoint.address.network.prefixlen
        entry["MacAddress"] = endpoint.mac
        if not network.is_default:
            # Docker adds the short ID (and a hostname set with --hostname) to a
            # user-defined network's aliases at start.
            aliases = list(entry.get("Aliases") or [])
            for name in (endpoint.container_id[:12], _own_hostname(record)):
                if name and name not in aliases:
                    aliases.append(name)
            entry["Aliases"] = aliases

    def _endpoint_config(self, network: Network, settings: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
        """Validated EndpointSettings for attaching `record` to `network`."""
        if not isinstance(settings, dict):
            raise InvalidParameter("invalid EndpointSettings: expected an object")
        ipam_config = settings.get("IPAMConfig") or None
        aliases = settings.get("Aliases") or None
        mac = settings.get("MacAddress") or ""
        wanted = (ipam_config or {}).get("IPv4Address") or ""
        if (ipam_config or {}).get("IPv6Address"):
            raise InvalidParameter("IPv6 addresses are not supported on dockyard's networks")
        if network.is_default:
            if wanted:
                raise InvalidParameter("user specified IP address is supported on user defined networks only")
            if aliases:
                raise InvalidParameter("network-scoped alias is supported only for containers in user defined networks")
        if wanted:
            address = _check_ip(wanted, "IPv4")
            if not network.user_subnet:
                raise InvalidParameter("user specified IP address is supported only when connecting to networks with user configured subnets")
            assert network.space is not None
            if address not in network.space.subnet:
                raise InvalidParameter(f"Invalid address {wanted}: It does not belong to any of this network's subnets")
        if mac:
            _check_mac(mac)
        return shapes.endpoint_settings(ipam_config=copy.deepcopy(ipam_config),
                                        aliases=list(aliases) if aliases else None, mac=mac,
                                        driver_opts=settings.get("DriverOpts") or None,
                                        links=settings.get("Links") or None)

    def _wants_dns(self, record: dict[str, Any], sandbox: Sandbox) -> bool:
        """The embedded server serves user-defined networks; on the default bridge only
        when the host names no nameserver a container could reach (a 127.0.0.x stub),
        where Docker would fall back to public servers."""
        if any(not self._networks[n].is_default for n in sandbox.endpoints if n in self._networks):
            return True
        if record["HostConfig"].get("Dns"):
            return False
        return not etcfiles.has_usable_nameserver()

    # ── restore ───────────────────────────────────────────────────────────────────────

    async def _load_networks(self) -> None:
        stored = await asyncio.to_thread(self._db.list_objects, KIND)
        for item in stored:
            doc = item["Network"]
            network = Network(doc, device=item.get("Device", ""), mtu=int(item.get("MTU") or 0),
                              user_subnet=bool(item.get("UserSubnet")),
                              masquerade=bool(item.get("Masquerade", True)))
            if network.is_bridge:
                config = (doc["IPAM"]["Config"] or [{}])[0]
                network.space = ipam.AddressSpace(
                    ipaddress.IPv4Network(config["Subnet"]),
                    ipaddress.IPv4Address(config["Gateway"]) if config.get("Gateway") else None,
                    ipaddress.IPv4Network(config["IPRange"]) if config.get("IPRange") else None)
            self._networks[network.id] = network
        for name, driver in (("host", "host"), ("none", "null")):
            if self._find_by_name(name) is None:
                doc = shapes.network_doc(name=name, id=secrets.token_hex(32), created=rfc3339(),
                                         driver=driver, ipam_config=[], ipam_options=None)
                network = Network(doc)
                self._networks[network.id] = network
                await asyncio.to_thread(self._db.put_object, KIND, network.id, network.stored())
        await self._init_default_bridge()
        for network in list(self._networks.values()):
            if network.is_bridge and not network.is_default:
                try:
                    await self._ensure_bridge(network)
                except Exception:  # noqa: BLE001
                    log.warning("could not set up bridge %s of network %s", network.device, network.name, exc_info=True)

    async def _init_default_bridge(self) -> None:
        existing = self._find_by_name(DEFAULT_BRIDGE)
        if self._settings.bridge == "none":
            if existing is not None:
                del self._networks[existing.id]
                await asyncio.to_thread(self._db.delete_object, KIND, existing.id)
            return
        device = self._settings.bridge
        mtu = self._settings.mtu or self._default_mtu()
        nl = self._nl()
        if self._settings.bip:
            interface = ipaddress.IPv4Interface(self._settings.bip)
            subnet, gateway = interface.network, interface.ip
        else:
            present = await asyncio.to_thread(_bridge_address, nl, device)
            if present is not None:
                subnet, gateway = present.network, present.ip
            elif existing is not None and existing.device == device and existing.space is not None \
                    and not await self._overlaps_host(existing.space.subnet, exclude={device}):
                subnet, gateway = existing.space.subnet, existing.space.gateway
            else:
                taken = [n.space.subnet for n in self._networks.values()
                         if n.space is not None and n is not existing]
                taken += [route for route, _ in await asyncio.to_thread(
                    bridge.host_routes, nl, self._own_devices() | {device})]
                subnet = ipam.pick_subnet(self._pools(), taken, _nameserver_addresses())
                gateway = ipam.default_gateway(subnet)
        options = {
            OPT_DEFAULT: "true",
            "com.docker.network.bridge.enable_icc": "true",
            OPT_MASQUERADE: "true",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
            OPT_BRIDGE_NAME: device,
            OPT_MTU: str(mtu),
        }
        net_id = existing.id if existing is not None else secrets.token_hex(32)
        created = existing.doc["Created"] if existing is not None else rfc3339()
        doc = shapes.network_doc(name=DEFAULT_BRIDGE, id=net_id, created=created, driver="bridge",
                                 ipam_config=[{"Subnet": str(subnet), "Gateway": str(gateway)}],
                                 ipam_options=None, options=options)
        network = Network(doc, device=device, mtu=mtu, user_subnet=False,
                          space=ipam.AddressSpace(ipaddress.IPv4Network(subnet), ipaddress.IPv4Address(gateway)))
        if existing is not None and existing.device != device:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(bridge.delete_bridge, nl, existing.device)
        await self._ensure_bridge(network)
        self._networks[net_id] = network
        await asyncio.to_thread(self._db.put_object, KIND, net_id, network.stored())

    async def _restore_container(self, record: dict[str, Any]) -> None:
        cid = record["Id"]
        mode = _mode(record)
        settings = record.get("NetworkSettings") or {}
        if mode.startswith("container:"):
            self._joiners[cid] = mode[len("container:"):]
            return
        if mode in ("host", "none") or set(settings.get("Networks") or {}) & {"host", "none"}:
            name = "host" if mode == "host" or "host" in (settings.get("Networks") or {}) else "none"
            self._special[cid] = (self.get(name).id, secrets.token_hex(32))
            return
        path = Path(settings.get("SandboxKey") or "/nonexistent")
        if not settings.get("SandboxKey") or not await asyncio.to_thread(netns.exists, path):
            return  # gone with a reboot: the container is dead too, and after_exit tidies up
        sandbox = Sandbox(cid, record["Name"][1:], settings.get("SandboxID") or secrets.token_hex(32), path,
                          upstreams=list(record["HostConfig"].get("Dns") or []))
        ns = await asyncio.to_thread(netns.enter, path)
        try:
            macs = {link.address: link.name for link in await asyncio.to_thread(ns.netlink.links)}
        finally:
            ns.close()
        for name, entry in (settings.get("Networks") or {}).items():
            network = self._find(entry.get("NetworkID") or "") or self._find(name)
            if network is None or network.space is None or not entry.get("IPAddress"):
                continue
            address = ipaddress.IPv4Address(entry["IPAddress"])
            network.space.reserve(address)
            endpoint = self._new_endpoint_from(record, network, entry, macs.get(entry.get("MacAddress", ""), "eth0"))
            sandbox.endpoints[network.id] = endpoint
        gateway_net = self._gateway_network(sandbox)
        if gateway_net is not None:
            sandbox.mapping_ip = str(sandbox.endpoints[gateway_net.id].address.ip)
        for key, entries in (settings.get("Ports") or {}).items():
            port, proto = ports.parse_port_key(key)
            for entry in entries or []:
                sandbox.mappings.append(ports.Mapping(proto, entry.get("HostIp") or "0.0.0.0",
                                                      int(entry["HostPort"]), port))
        self._ports.reserve(sandbox.mappings)
        resolv = Path(record["ResolvConfPath"])
        sandbox.dns = await asyncio.to_thread(_uses_embedded_dns, resolv)
        self._sandboxes[cid] = sandbox
        if sandbox.dns:
            sockets = await asyncio.to_thread(netns.run_in, path, netns.dns_sockets)
            await self._dns.add(cid, sockets)

    def _new_endpoint_from(self, record: dict[str, Any], network: Network, entry: dict[str, Any],
                           ifname: str) -> Endpoint:
        names = _dns_names(record, network, entry)
        return Endpoint(record["Id"], network.id, entry.get("EndpointID") or secrets.token_hex(32), ifname,
                        ipaddress.IPv4Interface(f"{entry['IPAddress']}/{entry['IPPrefixLen']}"),
                        entry.get("MacAddress") or "", names)

    # ── rules ─────────────────────────────────────────────────────────────────────────

    async def _sync_rules(self) -> None:
        """Bring the nftables table in line with the current state: the whole table when
        networks changed (or nothing is known of it), else only the published-port map
        elements that differ."""
        async with self._rules_lock:
            bridges = sorted((nftables.BridgeRules(n.device, n.space.subnet, n.internal, n.masquerade)
                              for n in self._networks.values() if n.is_bridge and n.space and not n.removing),
                             key=lambda b: b.device)
            forwards = {nftables.PortForward(m.proto, m.host_ip, m.host_port, s.mapping_ip, m.container_port)
                        for s in self._sandboxes.values() for m in s.mappings if s.mapping_ip}
            table = self._settings.table
            if bridges == self._applied_bridges:
                script = nftables.elements_script(table, forwards - self._applied_forwards,
                                                  self._applied_forwards - forwards)
                if not script:
                    return
                try:
                    await nftables.apply(script)
                except nftables.NftablesError:
                    # Out of step with the kernel (the table was changed behind our back).
                    log.warning("nftables table %s was not as expected; rewriting it", table)
                    await nftables.apply(nftables.render(table, bridges, forwards))
            else:
                await nftables.apply(nftables.render(table, bridges, forwards))
            self._applied_bridges = bridges
            self._applied_forwards = forwards

    def _sync_rules_soon(self) -> None:
        """Sync the rules in the background: for teardown, where a published port's rule
        outliving its container by a few milliseconds harms nobody, and waiting for the
        kernel (element deletion waits for an RCU grace period) would slow every exit."""
        self._rules_dirty = True
        if self._rules_task is None or self._rules_task.done():
            self._rules_task = asyncio.create_task(self._sync_rules_loop())

    async def _sync_rules_loop(self) -> None:
        while self._rules_dirty:
            self._rules_dirty = False
            try:
                await self._sync_rules()
            except Exception:  # noqa: BLE001 - retried with the next change; logged
                log.warning("updating nftables rules failed", exc_info=True)

    async def _sync_forward_policy(self) -> None:
        if not self._config.docker_compat:
            return
        devices = [n.device for n in self._networks.values() if n.is_bridge and not n.removing]
        await dockercompat.sync(self._settings.table, devices)

    # ── helpers ───────────────────────────────────────────────────────────────────────

    async def _ensure_bridge(self, network: Network) -> bool:
        assert network.space is not None
        gateway = None
        if network.space.gateway is not None:
            gateway = ipaddress.IPv4Interface(f"{network.space.gateway}/{network.space.subnet.prefixlen}")
        created = await asyncio.to_thread(bridge.ensure_bridge, self._nl(), network.device, gateway,
                                          network.mtu, self._settings.table)
        if not network.internal:
            await asyncio.to_thread(bridge.enable_ip_forward)
        return created

    async def _plan_ipam(self, ipam_body: dict[str, Any]) -> tuple[ipam.AddressSpace, dict[str, str], bool]:
        configs = [c for c in ipam_body.get("Config") or [] if c]
        if len(configs) > 1:
            raise Forbidden("bridge driver doesn't support multiple subnets")
        config = configs[0] if configs else {}
        subnet_text = config.get("Subnet") or ""
        if not subnet_text and (config.get("Gateway") or config.get("IPRange")):
            raise InvalidParameter(f"Invalid subnet {subnet_text} : invalid CIDR address: {subnet_text}")
        taken = [n.space.subnet for n in self._networks.values() if n.space is not None]
        if subnet_text:
            subnet = ipam.parse_subnet(subnet_text)
            if any(subnet.overlaps(t) for t in taken):
                raise Forbidden("Pool overlaps with other one on this address space")
            clash = await self._overlaps_host(subnet, exclude=self._own_devices())
            if clash:
                raise Forbidden(f"Pool overlaps with other one on this address space: {subnet} overlaps {clash} of the host")
            user_subnet = True
        else:
            routes = await asyncio.to_thread(bridge.host_routes, self._nl(), self._own_devices())
            subnet = ipam.pick_subnet(self._pools(), taken + [r for r, _ in routes], _nameserver_addresses())
            user_subnet = False
        gateway = ipam.default_gateway(subnet)
        if config.get("Gateway"):
            try:
                gateway = ipaddress.IPv4Address(config["Gateway"])
            except ValueError:
                raise InvalidParameter(f"invalid gateway address {config['Gateway']} in Ipam configuration") from None
        ip_range = None
        if config.get("IPRange"):
            try:
                ip_range = ipaddress.IPv4Network(config["IPRange"])
            except ValueError:
                raise InvalidParameter(f"invalid ip-range {config['IPRange']}: invalid CIDR address") from None
        if config.get("AuxiliaryAddresses"):
            raise InvalidParameter("auxiliary addresses are not supported")
        space = ipam.AddressSpace(subnet, gateway, ip_range)
        doc = {"Subnet": str(subnet)}
        if ip_range is not None:
            doc["IPRange"] = str(ip_range)
        doc["Gateway"] = str(gateway)
        return space, doc, user_subnet

    async def _overlaps_host(self, subnet: ipaddress.IPv4Network, exclude: set[str]) -> str:
        """A description of the host route or nameserver `subnet` would shadow, or ""."""
        for route, device in await asyncio.to_thread(bridge.host_routes, self._nl(), exclude):
            if route.overlaps(subnet):
                return f"route {route} dev {device}"
        for address in _nameserver_addresses():
            if address in subnet:
                return f"nameserver {address}"
        return ""

    def _mtu_option(self, options: dict[str, str]) -> int:
        if OPT_MTU not in options:
            return self._settings.mtu or self._default_mtu()
        text = options[OPT_MTU]
        try:
            mtu = int(text)
        except ValueError:
            raise InvalidParameter(f'failed to parse {OPT_MTU} value: {text} (strconv.Atoi: parsing "{text}": invalid syntax)') from None
        if not 68 <= mtu <= 65535:
            raise InvalidParameter(f"invalid MTU {mtu}: must be between 68 and 65535")
        return mtu

    def _default_mtu(self) -> int:
        """1500, or the uplink's MTU when it is smaller (tunnels, many VMs): Docker keeps
        1500 there, and large packets (TLS handshakes) then vanish."""
        if self._uplink_mtu and self._uplink_mtu < bridge.DEFAULT_MTU:
            return self._uplink_mtu
        return bridge.DEFAULT_MTU

    def _pools(self) -> list[ipam.Pool]:
        if self._settings.pools:
            return [ipam.parse_pool(p) for p in self._settings.pools]
        return list(ipam.DEFAULT_POOLS)

    def _own_devices(self) -> set[str]:
        return {n.device for n in self._networks.values() if n.device}

    def _host_gateway(self) -> str | None:
        network = self._default_network_or_none()
        if network is None or network.space is None or network.space.gateway is None:
            return None
        return str(network.space.gateway)

    def _default_network(self) -> Network:
        network = self._default_network_or_none()
        if network is None:
            return self.get("none")
        return network

    def _default_network_or_none(self) -> Network | None:
        return next((n for n in self._networks.values() if n.is_default), None)

    def _find(self, ref: str) -> Network | None:
        if not ref:
            return None
        try:
            return self.get(ref)
        except (NotFound, InvalidParameter):
            return None

    def _find_by_name(self, name: str) -> Network | None:
        return next((n for n in self._networks.values() if n.name == name), None)

    def _driver_of(self, ref: str) -> str:
        network = self._find(ref) if ref not in ("default",) else None
        return network.driver if network is not None else ""

    def _active_endpoints(self, net_id: str) -> list[str]:
        found = [cid for cid, s in self._sandboxes.items() if net_id in s.endpoints]
        found += [cid for cid, (n, _) in self._special.items() if n == net_id]
        return found

    def _doc(self, network: Network, *, containers: bool) -> dict[str, Any]:
        doc = copy.deepcopy(network.doc)
        if containers:
            doc["Containers"] = self._containers_of(network)
        return doc

    def _containers_of(self, network: Network) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for cid, sandbox in self._sandboxes.items():
            endpoint = sandbox.endpoints.get(network.id)
            if endpoint is not None:
                result[cid] = {"Name": self._name_of(sandbox), "EndpointID": endpoint.endpoint_id,
                               "MacAddress": endpoint.mac, "IPv4Address": str(endpoint.address),
                               "IPv6Address": ""}
        for cid, (net_id, endpoint_id) in self._special.items():
            if net_id == network.id:
                try:
                    name = self._containers.get(cid)["Name"][1:]
                except NotFound:
                    continue
                result[cid] = {"Name": name, "EndpointID": endpoint_id, "MacAddress": "",
                               "IPv4Address": "", "IPv6Address": ""}
        return result

    def _matches(self, network: Network, filters: dict[str, list[str]]) -> bool:
        for key, values in filters.items():
            if not values:
                continue
            if key == "driver":
                ok = network.driver in values
            elif key == "id":
                ok = any(network.id.startswith(v) for v in values)
            elif key == "name":
                ok = any(v in network.name for v in values)
            elif key == "label":
                ok = all(_label_matches(network.doc.get("Labels") or {}, v) for v in values)
            elif key == "scope":
                ok = "local" in values
            elif key == "type":
                for v in values:
                    if v not in ("custom", "builtin"):
                        raise InvalidParameter(f"invalid filter: 'type'='{v}'")
                builtin = network.name in PREDEFINED
                ok = ("builtin" in values and builtin) or ("custom" in values and not builtin)
            elif key == "dangling":
                wanted = values[-1].lower()
                if wanted not in ("true", "1", "false", "0"):
                    raise InvalidParameter(f"Invalid filter 'dangling={values[-1]}'")
                in_use = bool(self._active_endpoints(network.id)) or network.name in PREDEFINED
                ok = (not in_use) if wanted in ("true", "1") else in_use
            else:
                ok = True
            if not ok:
                return False
        return True

    def _checked_links(self, record: dict[str, Any]) -> list[str]:
        """`--link target[:alias]` entries in dockerd's stored form (`/target:/self/alias`),
        each target checked to exist."""
        out = []
        for target, alias in _links(record):
            try:
                name = self._containers.get(target)["Name"]
            except NotFound:
                raise InvalidParameter(f"could not get container for {target}") from None
            out.append(f"{name}:{record['Name']}/{alias}")
        return out

    def _link_host_lines(self, record: dict[str, Any]) -> list[str]:
        """/etc/hosts lines of a container's links on the default bridge (Docker's legacy
        links: `IP alias id12 name`), for the targets that run there."""
        default = self._default_network_or_none()
        lines = []
        for target, alias in _links(record):
            try:
                other = self._containers.get(target)
            except NotFound:
                continue
            sandbox = self._sandboxes.get(other["Id"])
            endpoint = sandbox.endpoints.get(default.id) if sandbox and default else None
            if endpoint is not None:
                names = " ".join(dict.fromkeys([alias, other["Id"][:12], other["Name"][1:]]))
                lines.append(f"{endpoint.address.ip}\t{names}")
        return lines

    def _name_of(self, sandbox: Sandbox) -> str:
        """The container's current name (it may have been renamed since it started)."""
        try:
            return self._containers.get(sandbox.container_id)["Name"][1:]
        except NotFound:
            return sandbox.name

    def _lock(self, cid: str) -> asyncio.Lock:
        lock = self._locks.get(cid)
        if lock is None:
            lock = self._locks[cid] = asyncio.Lock()
        return lock

    def _nl(self) -> Netlink:
        if self._netlink is None:
            self._netlink = Netlink()
        return self._netlink

    async def _persist(self, record: dict[str, Any]) -> None:
        # Connect and disconnect change a record outside a state change of the container
        # service, so they store it themselves.
        await asyncio.to_thread(self._db.put_container, copy.deepcopy(record))

    def _emit(self, network: Network, action: str, **extra: str) -> None:
        attributes = {"name": network.name, "type": network.driver, **extra}
        with contextlib.suppress(Exception):
            self._events.publish("network", action, network.id, attributes)


# ── module helpers ────────────────────────────────────────────────────────────────────

def _mode(record: dict[str, Any]) -> str:
    return record["HostConfig"].get("NetworkMode") or "default"


def _endpoints_from_body(endpoints: dict[str, Any]) -> dict[str, Any]:
    """NetworkingConfig.EndpointsConfig of the create request."""
    if not isinstance(endpoints, dict):
        raise InvalidParameter("invalid NetworkingConfig: EndpointsConfig must be an object")
    return {str(k): v or {} for k, v in endpoints.items()}


def _dns_names(record: dict[str, Any], network: Network, entry: dict[str, Any]) -> set[str]:
    """The names the embedded DNS answers with this endpoint on a user-defined network:
    aliases, the short ID, a --hostname, the compose service (the container's name is
    looked up at query time: it can be renamed)."""
    names: set[str] = set()
    if not network.is_default:
        names.update(a.lower() for a in entry.get("Aliases") or [])
        names.add(record["Id"][:12])
        names.add(_own_hostname(record).lower())
        service = (record["Config"].get("Labels") or {}).get(COMPOSE_SERVICE)
        if service:
            names.add(service.lower())
    names.discard("")
    return names


def _own_hostname(record: dict[str, Any]) -> str:
    """The hostname the user gave the container (not the short ID it gets by default)."""
    hostname = record["Config"].get("Hostname") or ""
    return "" if hostname == record["Id"][:12] else hostname


def _links(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(target, alias) of each `--link`: as the CLI sends it (`target[:alias]`) or as
    stored (`/target:/self/alias`)."""
    out = []
    for entry in record["HostConfig"].get("Links") or []:
        target, _, alias = str(entry).partition(":")
        target = target.strip("/")
        out.append((target, alias.rsplit("/", 1)[-1] if alias else target))
    return out


def _refuse_with_container_mode(record: dict[str, Any], hostname_given: bool,
                                endpoints: dict[str, Any]) -> None:
    """Docker's conflicts of `--network container:…` with per-container network options."""
    config, hc = record["Config"], record["HostConfig"]
    if hostname_given:
        raise InvalidParameter("conflicting options: hostname and the network mode")
    if hc.get("Links"):
        raise InvalidParameter("conflicting options: container type network can't be used with links. This would result in undefined behavior")
    if hc.get("Dns"):
        raise InvalidParameter("conflicting options: dns and the network mode")
    if hc.get("ExtraHosts"):
        raise InvalidParameter("conflicting options: custom host-to-IP mapping and the network mode")
    if hc.get("PortBindings") or hc.get("PublishAllPorts"):
        raise InvalidParameter("conflicting options: port publishing and the container type network mode")
    if config.get("MacAddress"):
        raise InvalidParameter("conflicting options: mac-address and the network mode")
    if endpoints:
        raise InvalidParameter(f"Container cannot be connected to network endpoints: {', '.join(endpoints)}")


def _check_ip(text: str, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise InvalidParameter(f"invalid {what} address: {text}") from None


def _check_mac(text: str) -> None:
    if not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", text):
        raise InvalidParameter(f"invalid MAC address: {text}")


def _label_matches(labels: dict[str, str], wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def _until(values: list[str] | None) -> str | None:
    if not values:
        return None
    from dockyard.units import parse_rfc3339

    text = values[-1]
    try:
        seconds = float(text)
    except ValueError:
        duration = _go_duration(text)
        if duration is not None:
            import time

            seconds = time.time() - duration
        else:
            try:
                seconds = parse_rfc3339(text)
            except ValueError:
                raise InvalidParameter(f"invalid until filter: {text}") from None
    return rfc3339(seconds)


def _go_duration(text: str) -> float | None:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    return sum(float(a) * units[b] for a, b in parts)


def _nameserver_addresses() -> list[ipaddress.IPv4Address]:
    found = []
    for server in etcfiles.host_nameservers():
        with contextlib.suppress(ValueError):
            address = ipaddress.ip_address(server.split("%")[0])
            if address.version == 4 and not address.is_loopback:
                found.append(ipaddress.IPv4Address(address))
    return found


def _bridge_address(nl: Netlink, device: str) -> ipaddress.IPv4Interface | None:
    link = nl.link(device)
    if link is None:
        return None
    addresses = nl.addresses(link.index)
    return addresses[0].address if addresses else None


def _lock_host_resources(settings: Settings) -> list[int]:
    """Hold locks on the nftables table and default bridge this daemon manages: a second
    daemon with the same ones would silently rewrite the first one's rules. Released
    when the daemon exits, however it exits."""
    held = []
    for kind, name in (("nft", settings.table), ("bridge", settings.bridge)):
        if kind == "bridge" and name == "none":
            continue
        path = f"{LOCK_DIR}/dockyard-{kind}-{name}.lock"
        os.makedirs(LOCK_DIR, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            for other in held:
                os.close(other)
            what = f"nftables table {name}" if kind == "nft" else f"bridge {name}"
            flag = "--nftables-table" if kind == "nft" else "--bridge"
            raise DockyardError(f"another dockyard daemon manages the {what}; give this one its own {flag}") from None
        held.append(fd)
    return held


def _uses_embedded_dns(resolv: Path) -> bool:
    try:
        return f"nameserver {etcfiles.EMBEDDED_DNS}" in resolv.read_text()
    except OSError:
        return False


# JSON types of the network create body (NetworkCreateRequest): a wrong one is a 400, not
# an error deep inside the driver. Absent or null fields are fine.
_CREATE_TYPES: dict[str, type | tuple[type, ...]] = {
    "Name": str, "Driver": str, "Scope": str, "Internal": bool, "Attachable": bool,
    "Ingress": bool, "ConfigOnly": bool, "ConfigFrom": dict, "IPAM": dict, "EnableIPv6": bool,
    "EnableIPv4": bool, "Options": dict, "Labels": dict, "CheckDuplicate": bool,
}
_IPAM_TYPES: dict[str, type | tuple[type, ...]] = {"Driver": str, "Config": list, "Options": dict}
_IPAM_CONFIG_TYPES: dict[str, type | tuple[type, ...]] = {
    "Subnet": str, "IPRange": str, "Gateway": str, "AuxiliaryAddresses": dict,
}
_TYPE_NAMES = {str: "a string", bool: "a boolean", dict: "an object", list: "an array"}


def _check_types(body: dict[str, Any], types: dict[str, type | tuple[type, ...]], prefix: str) -> None:
    for key, expected in types.items():
        value = body.get(key)
        if value is None:
            continue
        # bool is an int in Python; JSON numbers are never accepted where a bool is expected.
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise InvalidParameter(f"invalid {prefix}{key}: expected {_TYPE_NAMES.get(expected, expected)}")
