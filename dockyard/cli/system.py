# SPDX-License-Identifier: Apache-2.0
"""`version`, `info` and `--version`: the client's identity and the daemon's, laid out as Docker does."""

from __future__ import annotations

import os
import platform
import sys

from dockyard import API_VERSION, __version__
from dockyard.cli.command import Cli, StatusError
from dockyard.cli.parser import PROG, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

VERSION = Command(
    "version",
    "[OPTIONS]",
    "Show the dockyard version information",
    [Flag("format", "f", "string", help="Format output using a custom template")],
    max_args=0,
)

INFO = Command(
    "info",
    "[OPTIONS]",
    "Display system-wide information",
    [Flag("format", "f", "string", help="Format output using a custom template")],
    max_args=0,
    aliases=["system info", "info"],
)


def version_line() -> str:
    """`dockyard version 0.1.0, build 1a2b3c4` (or `build dev` outside a git checkout)."""
    return f"{PROG} version {__version__}, build {build_id()}"


def build_id() -> str:
    """The short commit of the checkout this package runs from, read without running git."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    git = os.path.join(root, ".git")
    try:
        if os.path.isfile(git):  # a worktree: ".git" names the real git directory
            with open(git) as handle:
                git = os.path.join(root, handle.read().split(":", 1)[1].strip())
        with open(os.path.join(git, "HEAD")) as handle:
            head = handle.read().strip()
        if not head.startswith("ref: "):
            return head[:7]
        ref = head[5:]
        for base in _git_dirs(git):
            path = os.path.join(base, ref)
            if os.path.isfile(path):
                with open(path) as handle:
                    return handle.read().strip()[:7]
            packed = os.path.join(base, "packed-refs")
            if os.path.isfile(packed):
                with open(packed) as handle:
                    for line in handle:
                        parts = line.split()
                        if len(parts) == 2 and parts[1] == ref:
                            return parts[0][:7]
    except (OSError, IndexError):
        pass
    return "dev"


def cmd_version(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = VERSION.parse(argv)
    client_info = {
        "Platform": {"Name": ""},
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "DefaultAPIVersion": API_VERSION,
        "GitCommit": build_id(),
        "GoVersion": f"python{platform.python_version()}",
        "Os": sys.platform,
        "Arch": _arch(),
        "BuildTime": "",
        "Context": "default",
    }
    from dockyard.client.errors import ClientError

    server: dict[str, Any] | None = None
    error: ClientError | None = None
    try:
        server = cli.client.version()
        client_info["ApiVersion"] = cli.client.api_version
    except ClientError as exc:
        error = exc
    if opts.format:
        from dockyard.cli.listing import parse_template
        from dockyard.cli.templates import TemplateError, unescape

        template = parse_template(unescape(opts.format))
        try:
            cli.out(template.execute({"Client": client_info, "Server": server}))
        except TemplateError as exc:
            raise StatusError(f"template: {exc}", 1) from None
    else:
        cli.stdout.write(_version_text(client_info, server))
    if error is not None:
        raise StatusError(str(error), 1)
    return 0


def cmd_info(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = INFO.parse(argv)
    from dockyard.client.errors import ClientError

    info: dict[str, Any] | None = None
    error: ClientError | None = None
    try:
        info = cli.client.info()
    except ClientError as exc:
        error = exc
    if opts.format:
        from dockyard.cli.listing import parse_template
        from dockyard.cli.templates import TemplateError, unescape

        template = parse_template(unescape(opts.format))
        if info is None:
            raise StatusError(str(error), 1)
        try:
            cli.out(template.execute(info))
        except TemplateError as exc:
            raise StatusError(f"template: {exc}", 1) from None
        return 0
    lines = [
        "Client:",
        f" Version:    {__version__}",
        " Context:    default",
        f" Debug Mode: {_bool(cli.debug)}",
        "",
        "Server:",
    ]
    if info is None:
        cli.stdout.write("\n".join(lines) + "\n")
        raise StatusError(f"ERROR: {error}\nerrors pretty printing info", 1)
    lines += _info_lines(info)
    cli.stdout.write("\n".join(lines) + "\n\n")
    for warning in info.get("Warnings") or []:
        cli.err(warning)
    return 0


# --- layout -------------------------------------------------------------------------------


def _version_text(client: dict[str, Any], server: dict[str, Any] | None) -> str:
    api = client["ApiVersion"]
    if api != client["DefaultAPIVersion"]:
        api = f"{api} (downgraded from {client['DefaultAPIVersion']})"
    lines = [
        "Client:",
        f" Version:           {client['Version']}",
        f" API version:       {api}",
        f" Python version:    {platform.python_version()}",
        f" Git commit:        {client['GitCommit']}",
        f" OS/Arch:           {client['Os']}/{client['Arch']}",
        f" Context:           {client['Context']}",
    ]
    if server is None:
        return "\n".join(lines) + "\n"
    name = (server.get("Platform") or {}).get("Name") or ""
    lines += ["", f"Server: {name}".rstrip()]
    components = server.get("Components") or [
        {"Name": "Engine", "Version": server.get("Version", ""), "Details": {}}
    ]
    for component in components:
        details = component.get("Details") or {}
        lines.append(f" {component.get('Name', '')}:")
        if component.get("Name") == "Engine":
            lines += [
                f"  Version:          {server.get('Version', '')}",
                f"  API version:      {server.get('ApiVersion', '')} (minimum version {server.get('MinAPIVersion', '')})",
                f"  Go version:       {server.get('GoVersion', '')}",
                f"  Git commit:       {server.get('GitCommit', '')}",
                f"  Built:            {_ansic(server.get('BuildTime', ''))}",
                f"  OS/Arch:          {server.get('Os', '')}/{server.get('Arch', '')}",
                f"  Experimental:     {_bool(bool(server.get('Experimental')))}",
            ]
            continue
        lines.append(f"  Version:          {component.get('Version', '')}")
        for key, value in sorted(details.items()):
            lines.append(f"  {(key + ':').ljust(18)}{value}")
    return "\n".join(lines) + "\n"


def _info_lines(info: dict[str, Any]) -> list[str]:
    lines = [
        f" Containers: {info.get('Containers', 0)}",
        f"  Running: {info.get('ContainersRunning', 0)}",
        f"  Paused: {info.get('ContainersPaused', 0)}",
        f"  Stopped: {info.get('ContainersStopped', 0)}",
        f" Images: {info.get('Images', 0)}",
        f" Server Version: {info.get('ServerVersion', '')}",
        f" Storage Driver: {info.get('Driver', '')}",
    ]
    lines += [f"  {key}: {value}" for key, value in info.get("DriverStatus") or []]
    lines += [
        f" Logging Driver: {info.get('LoggingDriver', '')}",
        f" Cgroup Driver: {info.get('CgroupDriver', '')}",
        f" Cgroup Version: {info.get('CgroupVersion', '')}",
    ]
    plugins = info.get("Plugins") or {}
    if plugins:
        lines.append(" Plugins:")
        for kind in ("Volume", "Network", "Authorization", "Log"):
            if plugins.get(kind):
                lines.append(f"  {kind}: {' '.join(plugins[kind])}")
    runtimes = info.get("Runtimes") or {}
    lines += [
        f" Runtimes: {' '.join(sorted(runtimes))}",
        f" Default Runtime: {info.get('DefaultRuntime', '')}",
        f" runc version: {(info.get('RuncCommit') or {}).get('ID', '')}",
    ]
    security = info.get("SecurityOptions") or []
    if security:
        lines.append(" Security Options:")
        for option in security:
            fields = dict(part.split("=", 1) for part in option.split(",") if "=" in part)
            lines.append(f"  {fields.get('name', option)}")
            for key, value in fields.items():
                if key != "name":
                    lines.append(f"   {key.capitalize()}: {value}")
    lines += [
        f" Kernel Version: {info.get('KernelVersion', '')}",
        f" Operating System: {info.get('OperatingSystem', '')}",
        f" OSType: {info.get('OSType', '')}",
        f" Architecture: {info.get('Architecture', '')}",
        f" CPUs: {info.get('NCPU', 0)}",
        f" Total Memory: {bytes_size(info.get('MemTotal', 0))}",
        f" Name: {info.get('Name', '')}",
        f" ID: {info.get('ID', '')}",
        f" Docker Root Dir: {info.get('DockerRootDir', '')}",
        f" Debug Mode: {_bool(bool(info.get('Debug')))}",
        f" Experimental: {_bool(bool(info.get('ExperimentalBuild')))}",
    ]
    config = info.get("RegistryConfig") or {}
    # As docker's: insecure registry names, then CIDRs; then the mirrors.
    registries = [name for name, index in sorted((config.get("IndexConfigs") or {}).items())
                  if not index.get("Secure", True)] + list(config.get("InsecureRegistryCIDRs") or [])
    if registries:
        lines.append(" Insecure Registries:")
        lines += [f"  {entry}" for entry in registries]
    if config.get("Mirrors"):
        lines.append(" Registry Mirrors:")
        lines += [f"  {mirror}" for mirror in config["Mirrors"]]
    lines.append(f" Live Restore Enabled: {_bool(bool(info.get('LiveRestoreEnabled')))}")
    return lines


def bytes_size(size: float) -> str:
    """go-units' BytesSize: binary units, 4 significant digits (`23.49GiB`)."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
    value = float(size)
    unit = 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{value:.4g}{units[unit]}"


def _ansic(timestamp: str) -> str:
    """Go's time.ANSIC (`Mon Jan  1 00:00:00 2024`) for an RFC 3339 build time."""
    from dockyard.cli.formatting import parse_timestamp

    stamp = parse_timestamp(timestamp)
    if stamp is None:
        return timestamp
    import time

    return time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(stamp))


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def _git_dirs(git: str) -> list[str]:
    dirs = [git]
    common = os.path.join(git, "commondir")
    if os.path.isfile(common):
        with open(common) as handle:
            dirs.append(os.path.normpath(os.path.join(git, handle.read().strip())))
    return dirs
