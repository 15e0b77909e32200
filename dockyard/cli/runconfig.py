# SPDX-License-Identifier: Apache-2.0
"""`run`/`create` flags → the `POST /containers/create` body (Config + HostConfig + NetworkingConfig).

This is the one translation the CLI owns, and it follows what Docker's CLI sends for
the same flags: `-e B` takes B's value from our environment (or stays `B` if unset),
env files and label files come before the flags, published ports are also exposed,
`-v name:/path` goes to `Binds` while `-v /path` is an anonymous volume in
`Config.Volumes`, `--cap-add` gains its `CAP_` prefix, and so on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from dockyard.cli.parser import Flag


class FlagError(ValueError):
    """A flag value Docker would reject; the message is Docker's."""


def run_flags(run: bool) -> list[Flag]:
    """The flags of `run` (run=True) or `create`, sorted as Docker's help lists them."""
    flags = [
        Flag("add-host", "", "list", help="Add a custom host-to-IP mapping (host:ip)"),
        Flag("attach", "a", "list", help="Attach to STDIN, STDOUT or STDERR"),
        Flag("cap-add", "", "list", help="Add Linux capabilities"),
        Flag("cap-drop", "", "list", help="Drop Linux capabilities"),
        Flag("cpus", "", "float", type_name="decimal", help="Number of CPUs"),
        Flag("dns", "", "list", help="Set custom DNS servers"),
        Flag("dns-option", "", "list", help="Set DNS options"),
        Flag("dns-search", "", "list", help="Set custom DNS search domains"),
        Flag("domainname", "", "string", help="Container NIS domain name"),
        Flag("entrypoint", "", "string", help="Overwrite the default ENTRYPOINT of the image"),
        Flag("env", "e", "list", help="Set environment variables"),
        Flag("env-file", "", "list", help="Read in a file of environment variables"),
        Flag("expose", "", "list", help="Expose a port or a range of ports"),
        Flag("group-add", "", "list", help="Add additional groups to join"),
        Flag("hostname", "h", "string", help="Container host name"),
        Flag(
            "init",
            "",
            help="Run an init inside the container that forwards signals and reaps processes",
        ),
        Flag("interactive", "i", help="Keep STDIN open even if not attached"),
        Flag("ipc", "", "string", help="IPC mode to use"),
        Flag("label", "l", "list", help="Set meta data on a container"),
        Flag("label-file", "", "list", help="Read in a line delimited file of labels"),
        Flag("log-driver", "", "string", help="Logging driver for the container"),
        Flag("log-opt", "", "list", help="Log driver options"),
        Flag("memory", "m", "string", type_name="bytes", help="Memory limit"),
        Flag("name", "", "string", help="Assign a name to the container"),
        Flag("network", "", "string", help="Connect a container to a network"),
        Flag("net", "", "string", hidden=True),
        Flag("network-alias", "", "list", help="Add network-scoped alias for the container"),
        Flag("pid", "", "string", help="PID namespace to use"),
        Flag("platform", "", "string", help="Set platform if server is multi-platform capable"),
        Flag("privileged", "", help="Give extended privileges to this container"),
        Flag("publish", "p", "list", help="Publish a container's port(s) to the host"),
        Flag("publish-all", "P", help="Publish all exposed ports to random ports"),
        Flag(
            "pull",
            "",
            "string",
            default="missing",
            help='Pull image before running ("always", "missing", "never")',
        ),
        Flag("quiet", "q", help="Suppress the pull output"),
        Flag("read-only", "", help="Mount the container's root filesystem as read only"),
        Flag(
            "restart",
            "",
            "string",
            default="no",
            help="Restart policy to apply when a container exits",
        ),
        Flag(
            "rm",
            "",
            help="Automatically remove the container and its associated anonymous volumes when it exits",
        ),
        Flag("security-opt", "", "list", help="Security Options"),
        Flag("shm-size", "", "string", type_name="bytes", help="Size of /dev/shm"),
        Flag("stop-signal", "", "string", help="Signal to stop the container"),
        Flag("stop-timeout", "", "int", help="Timeout (in seconds) to stop a container"),
        Flag("tmpfs", "", "list", help="Mount a tmpfs directory"),
        Flag("tty", "t", help="Allocate a pseudo-TTY"),
        Flag("ulimit", "", "list", type_name="ulimit", help="Ulimit options"),
        Flag("user", "u", "string", help="Username or UID (format: <name|uid>[:<group|gid>])"),
        Flag("uts", "", "string", help="UTS namespace to use"),
        Flag("volume", "v", "list", help="Bind mount a volume"),
        Flag("workdir", "w", "string", help="Working directory inside the container"),
    ]
    if run:
        flags += [
            Flag("detach", "d", help="Run container in background and print container ID"),
            Flag(
                "detach-keys",
                "",
                "string",
                help="Override the key sequence for detaching a container",
            ),
            Flag("sig-proxy", "", default=True, help="Proxy received signals to the process"),
        ]
    return sorted(flags, key=lambda f: f.long)


def build_create_body(
    opts: SimpleNamespace,
    args: list[str],
    *,
    detach: bool = False,
    environ: Mapping[str, str] | None = None,
    console_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The create body for parsed flags; `args` is IMAGE [COMMAND [ARG...]].

    `console_size` is (height, width) of our terminal when -t is used on one.
    Raises FlagError for values Docker rejects.
    """
    env_source = os.environ if environ is None else environ
    image, command = args[0], args[1:]

    attach = [a.lower() for a in opts.attach]
    for stream in attach:
        if stream not in ("stdin", "stdout", "stderr"):
            raise FlagError(
                f'invalid argument "{stream}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR'
            )
    if detach and attach:
        raise FlagError("conflicting options: cannot specify both --attach and --detach")
    if attach:
        attach_stdin = "stdin" in attach
        attach_stdout = "stdout" in attach
        attach_stderr = "stderr" in attach
    else:
        attach_stdin = bool(opts.interactive)
        attach_stdout = attach_stderr = True
    if detach:
        attach_stdin = attach_stdout = attach_stderr = False

    restart = parse_restart(opts.restart or "no")
    if opts.rm and restart["Name"] not in ("", "no"):
        raise FlagError("conflicting options: cannot specify both --restart and --rm")

    env = read_kv_files(opts.env_file, env_source) + [_env_entry(e, env_source) for e in opts.env]
    labels: dict[str, str] = {}
    for entry in read_kv_files(opts.label_file, env_source) + list(opts.label):
        key, _, value = entry.partition("=")
        labels[key] = value

    exposed, bindings = parse_ports(opts.publish)
    for spec in opts.expose:
        for port in _expand_expose(spec):
            exposed[port] = {}

    binds: list[str] = []
    volumes: dict[str, dict[str, Any]] = {}
    for spec in opts.volume:
        if _is_anonymous_volume(spec):
            volumes[spec] = {}
        else:
            binds.append(spec)

    network = opts.network or opts.net or "default"
    endpoints: dict[str, Any] = {}
    endpoint: dict[str, Any] = {}
    if opts.network_alias:
        endpoint["Aliases"] = list(opts.network_alias)
    if _user_defined(network):
        endpoints[network] = endpoint
    elif endpoint:
        raise FlagError("network-scoped aliases are only supported for user-defined networks")
    elif not (opts.network or opts.net):
        # Docker's CLI sends an empty endpoint for the implicit default network only.
        endpoints["default"] = endpoint

    config: dict[str, Any] = {
        "Hostname": opts.hostname or "",
        "Domainname": opts.domainname or "",
        "User": opts.user or "",
        "AttachStdin": attach_stdin,
        "AttachStdout": attach_stdout,
        "AttachStderr": attach_stderr,
    }
    if exposed:
        config["ExposedPorts"] = exposed
    config.update(
        {
            "Tty": bool(opts.tty),
            "OpenStdin": bool(opts.interactive),
            "StdinOnce": bool(opts.interactive) and attach_stdin,
            "Env": env or None,
            "Cmd": command or None,
            "Image": image,
            "Volumes": volumes,
            "WorkingDir": opts.workdir or "",
            "Entrypoint": [opts.entrypoint] if opts.entrypoint is not None else None,
            "OnBuild": None,
            "Labels": labels,
        }
    )
    if opts.stop_signal:
        config["StopSignal"] = opts.stop_signal
    if opts.stop_timeout is not None:
        config["StopTimeout"] = opts.stop_timeout

    host_config: dict[str, Any] = {
        "Binds": binds or None,
        "LogConfig": {"Type": opts.log_driver or "", "Config": parse_log_opts(opts.log_opt)},
        "NetworkMode": network,
        "PortBindings": bindings,
        "RestartPolicy": restart,
        "AutoRemove": bool(opts.rm),
        "ConsoleSize": list(console_size) if (opts.tty and console_size) else [0, 0],
        "CapAdd": [_capability(c) for c in opts.cap_add] or None,
        "CapDrop": [_capability(c) for c in opts.cap_drop] or None,
        "Dns": list(opts.dns),
        "DnsOptions": list(opts.dns_option),
        "DnsSearch": list(opts.dns_search),
        "ExtraHosts": list(opts.add_host) or None,
        "GroupAdd": list(opts.group_add) or None,
        "IpcMode": opts.ipc or "",
        "PidMode": opts.pid or "",
        "UTSMode": opts.uts or "",
        "Privileged": bool(opts.privileged),
        "PublishAllPorts": bool(opts.publish_all),
        "ReadonlyRootfs": bool(opts.read_only),
        "SecurityOpt": list(opts.security_opt) or None,
        "ShmSize": parse_bytes(opts.shm_size) if opts.shm_size else 0,
        "Memory": parse_bytes(opts.memory) if opts.memory else 0,
        "NanoCpus": int(round(opts.cpus * 1e9)) if opts.cpus else 0,
        "Ulimits": [parse_ulimit(u) for u in opts.ulimit],
    }
    if opts.init:
        host_config["Init"] = True
    if opts.tmpfs:
        host_config["Tmpfs"] = dict(_split_tmpfs(t) for t in opts.tmpfs)

    config["HostConfig"] = host_config
    config["NetworkingConfig"] = {"EndpointsConfig": endpoints}
    return config


# --- value parsers --------------------------------------------------------------------


def parse_restart(value: str) -> dict[str, Any]:
    """`no`, `always`, `unless-stopped`, `on-failure[:N]` → RestartPolicy."""
    name, sep, count = value.partition(":")
    if name not in ("no", "always", "unless-stopped", "on-failure", ""):
        raise FlagError(f"invalid restart policy format: unknown policy '{name}'")
    retries = 0
    if sep:
        if name != "on-failure":
            raise FlagError(
                "invalid restart policy format: maximum retry count can only be used with 'on-failure'"
            )
        if not count.isdigit():
            raise FlagError("invalid restart policy format: maximum retry count must be an integer")
        retries = int(count)
    return {"Name": name or "no", "MaximumRetryCount": retries}


def parse_ports(
    specs: list[str],
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, str]]]]:
    """`-p [ip:][host:]container[/proto]` flags → (ExposedPorts, PortBindings)."""
    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        for port, binding in _parse_port(spec):
            exposed[port] = {}
            bindings.setdefault(port, []).append(binding)
    return exposed, bindings


def _parse_port(spec: str) -> list[tuple[str, dict[str, str]]]:
    raw, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise FlagError(f"invalid proto: {proto}")
    ip = ""
    rest = raw
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0 or rest[end + 1 : end + 2] != ":":
            raise FlagError(f"invalid IP address: {spec}")
        ip, rest = rest[1:end], rest[end + 2 :]
    parts = rest.split(":")
    if len(parts) == 1:
        host, container = "", parts[0]
    elif len(parts) == 2:
        host, container = parts
    elif len(parts) == 3 and not ip:
        ip, host, container = parts
    else:
        raise FlagError(f"invalid port format for --publish: {spec}")
    if not container:
        raise FlagError(f"no port specified: {spec}<empty>")
    c_start, c_end = _port_range(container, spec)
    if host:
        h_start, h_end = _port_range(host, spec)
        h_count, c_count = h_end - h_start, c_end - c_start
        if c_count != 0 and h_count != c_count:
            raise FlagError(
                f"invalid ranges specified for container and host Ports: {container} and {host}"
            )
    result = []
    for i, port in enumerate(range(c_start, c_end + 1)):
        if not host:
            host_port = ""
        elif c_end == c_start:
            # One container port, maybe a host range to pick from: keep the range as given.
            host_port = host
        else:
            host_port = str(h_start + i)
        result.append((f"{port}/{proto}", {"HostIp": ip, "HostPort": host_port}))
    return result


def _port_range(text: str, spec: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    try:
        first = int(start)
        last = int(end) if sep else first
    except ValueError:
        raise FlagError(
            f"invalid containerPort: {text}" if text else f"invalid port: {spec}"
        ) from None
    if not (0 < first <= 65535 and 0 < last <= 65535) or last < first:
        raise FlagError(f"invalid port range: {text}")
    return first, last


def _expand_expose(spec: str) -> list[str]:
    raw, _, proto = spec.partition("/")
    proto = proto or "tcp"
    start, end = _port_range(raw, spec)
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def parse_bytes(value: str) -> int:
    """Docker's RAMInBytes: `64m`, `1g`, `512k`, `1024`, `2gb` (binary units)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgtpKMGTP]?)[bB]?", value.strip())
    if not match:
        raise FlagError(f"invalid size: '{value}'")
    number, unit = match.groups()
    scale = 1024 ** " kmgtp".index(unit.lower() or " ")
    return int(float(number) * scale)


def parse_ulimit(value: str) -> dict[str, Any]:
    """`nofile=1024[:2048]` → {"Name": "nofile", "Soft": 1024, "Hard": 2048}."""
    name, sep, limits = value.partition("=")
    if not sep:
        raise FlagError(f"invalid ulimit argument: {value}")
    soft_text, _, hard_text = limits.partition(":")
    try:
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except ValueError:
        raise FlagError(f"invalid ulimit argument: {value}") from None
    if soft > hard:
        raise FlagError(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )
    return {"Name": name, "Hard": hard, "Soft": soft}


def parse_log_opts(values: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise FlagError(f"invalid key value pair format in log options: {item}")
        options[key] = value
    return options


def read_kv_files(paths: list[str], environ: Mapping[str, str]) -> list[str]:
    """Env/label files: `KEY=value` lines as is, bare `KEY` taken from our environment.

    Blank lines and `#` comments are skipped; a bare key that is not set is dropped.
    """
    entries: list[str] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8-sig") as handle:
                lines = handle.read().splitlines()
        except OSError as exc:
            raise FlagError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None
        for line in lines:
            text = line.lstrip()
            if not text or text.startswith("#"):
                continue
            key, sep, _ = text.partition("=")
            if not key:
                raise FlagError(f"no variable name on line '{line}'")
            if any(ch.isspace() for ch in key):
                raise FlagError(f"variable '{key}' contains whitespaces")
            if sep:
                entries.append(text)
            elif key in environ:
                entries.append(f"{key}={environ[key]}")
    return entries


def _env_entry(entry: str, environ: Mapping[str, str]) -> str:
    if "=" in entry:
        if entry.startswith("="):
            raise FlagError(f"invalid environment variable: {entry}")
        return entry
    return f"{entry}={environ[entry]}" if entry in environ else entry


def _capability(name: str) -> str:
    upper = name.upper()
    if upper == "ALL" or upper.startswith("CAP_"):
        return upper
    return "CAP_" + upper


def _is_anonymous_volume(spec: str) -> bool:
    # "/data" alone: an anonymous volume. "src:/dst[:opts]": a bind or named volume.
    return ":" not in spec


def _user_defined(network: str) -> bool:
    return network not in ("default", "bridge", "host", "none") and not network.startswith(
        "container:"
    )


def _split_tmpfs(spec: str) -> tuple[str, str]:
    path, _, options = spec.partition(":")
    return path, options
