# SPDX-License-Identifier: Apache-2.0
"""`dockyardd` (also `dockyard daemon`): run the Engine API daemon until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from dockyard import __version__
from dockyard.config import DEFAULT_BASE_IMAGE_CACHE, DEFAULT_SOCKET, DaemonConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.server.security import Listeners


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = DaemonConfig(
        data_root=Path(args.data_root).resolve(),
        exec_root=Path(args.exec_root).resolve(),
        hosts=args.host or [DEFAULT_SOCKET],
        runc=args.runc,
        conmon=args.conmon,
        log_file=args.log_file,
        debug=args.debug,
        bridge=args.bridge,
        bip=args.bip,
        default_address_pools=args.default_address_pool or [],
        mtu=args.mtu,
        nft_table=args.nftables_table,
        docker_compat=args.docker_compat,
        insecure_registries=args.insecure_registry or [],
        registry_mirrors=args.registry_mirror or [],
        bootstrap=args.bootstrap,
        base_image_cache=args.base_image_cache,
    )
    if args.certs_dir:
        config.certs_dirs = args.certs_dir
    _tls_flags(config, args)
    if args.userns_remap:
        try:
            _remap(config, args.userns_remap)
        except Exception as e:  # noqa: BLE001 - a refused setting: one line, before logging
            sys.stderr.write(f"dockyardd: {e}\n")
            return 1
    from dockyard.server.security import ListenerError, prepare

    try:
        listeners = prepare(config)
    except ListenerError as e:
        # Before logging is set up: a refused setting belongs on the terminal.
        sys.stderr.write(f"dockyardd: {e}\n")
        return 1
    for warning in listeners.warnings or []:
        sys.stderr.write(f"WARNING: {warning}\n")
    _setup_logging(config)
    for warning in listeners.warnings or []:
        logging.getLogger("dockyard").warning("%s", warning)
    try:
        return asyncio.run(_run(config, listeners))
    except KeyboardInterrupt:
        return 0
    except Exception as e:  # a startup failure: one line, not a traceback
        logging.getLogger("dockyard").error("failed to start daemon: %s", e)
        if config.debug:
            raise
        return 1


async def _run(config: DaemonConfig, listeners: Listeners) -> int:
    from dockyard.daemon.daemon import Daemon
    from dockyard.server.app import serve

    log = logging.getLogger("dockyard")
    daemon = Daemon(config)
    await daemon.start()
    runner = await serve(daemon, config.hosts, listeners)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("dockyard %s ready (data root %s)", __version__, config.data_root)
    await stop.wait()
    log.info("shutting down; containers keep running")
    await runner.cleanup()
    await daemon.shutdown()
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dockyardd", description="The dockyard container engine daemon")
    p.add_argument("-H", "--host", action="append", help=f"socket to listen on (default {DEFAULT_SOCKET})")
    p.add_argument("--data-root", default="/var/lib/dockyard", help="root of persistent state")
    p.add_argument("--exec-root", default="/run/dockyard", help="root of volatile state")
    p.add_argument("--runc", default="runc", help="OCI runtime binary")
    p.add_argument("--conmon", default="conmon", help="container monitor binary")
    p.add_argument("--log-file", help="write the daemon's log here instead of stderr")
    p.add_argument("-D", "--debug", action="store_true", help="debug logging")
    p.add_argument("-b", "--bridge",
                   help="device of the default bridge network (default dockyard0; 'none' for no default bridge)")
    p.add_argument("--bip", help="address and prefix of the default bridge, e.g. 172.17.0.1/16")
    p.add_argument("--default-address-pool", action="append", metavar="base=CIDR,size=N",
                   help="subnets for new networks (repeatable)")
    p.add_argument("--mtu", type=int, help="MTU of new bridges (default: 1500, or the uplink's if smaller)")
    p.add_argument("--nftables-table", help="nftables table for dockyard's rules (default dockyard)")
    p.add_argument("--no-docker-compat", dest="docker_compat", action="store_false",
                   help="never add accept rules to iptables' DOCKER-USER/FORWARD chains")
    p.add_argument("--insecure-registry", action="append", metavar="HOST[:PORT]|CIDR",
                   help="registry reachable over plain HTTP or with unverified TLS (repeatable)")
    p.add_argument("--registry-mirror", action="append", metavar="URL",
                   help="a mirror of Docker Hub to try first (repeatable)")
    p.add_argument("--certs-dir", action="append", metavar="DIR",
                   help="per-registry CA directories (default /etc/docker/certs.d and /etc/dockyard/certs.d)")
    p.add_argument("--bootstrap", action="store_true",
                   help="when no registry answers a pull of an official image dockyard can make "
                        "(python, nginx, mysql, ...), build it from Debian packages")
    p.add_argument("--base-image-cache", default=str(DEFAULT_BASE_IMAGE_CACHE), metavar="DIR",
                   help="machine-wide cache of built base images ('' for none; "
                        f"default {DEFAULT_BASE_IMAGE_CACHE})")
    p.add_argument("-G", "--group", metavar="NAME",
                   help="group owning the unix socket (default dockyard, created if missing)")
    p.add_argument("--tls", nargs="?", const=True, type=_bool_flag, metavar="BOOL",
                   help="use TLS; implied by --tlsverify (--tls=false allows plain TCP)")
    p.add_argument("--tlsverify", nargs="?", const=True, type=_bool_flag, metavar="BOOL",
                   help="use TLS and require client certificates signed by --tlscacert")
    p.add_argument("--tlscacert", metavar="FILE",
                   help="trust client certificates signed by this CA (default ~/.docker/ca.pem)")
    p.add_argument("--tlscert", metavar="FILE",
                   help="the daemon's TLS certificate (default ~/.docker/cert.pem)")
    p.add_argument("--tlskey", metavar="FILE",
                   help="the daemon's TLS key (default ~/.docker/key.pem)")
    p.add_argument("--userns-remap", metavar="default|USER[:GROUP]|UID[:GID]",
                   help="run containers in user namespaces, their root mapped to this user's "
                        "/etc/subuid and /etc/subgid ranges ('default': the dockremap user)")
    p.add_argument("-v", "--version", action="version", version=f"dockyardd {__version__}")
    return p


def _tls_flags(config: DaemonConfig, args: argparse.Namespace) -> None:
    """Socket group and TLS settings, with dockerd's defaults ($DOCKER_CERT_PATH or ~/.docker)."""
    import os

    if args.group is not None:
        config.socket_group = args.group
        config.socket_group_explicit = True
    config.tls = args.tls
    config.tls_verify = args.tlsverify
    cert_dir = os.environ.get("DOCKER_CERT_PATH") or os.path.expanduser("~/.docker")
    config.tls_cacert = args.tlscacert or os.path.join(cert_dir, "ca.pem")
    config.tls_cert = args.tlscert or os.path.join(cert_dir, "cert.pem")
    config.tls_key = args.tlskey or os.path.join(cert_dir, "key.pem")


def _remap(config: DaemonConfig, option: str) -> None:
    """--userns-remap: resolve the ranges, move the store to `<data-root>/<uid>.<gid>` and
    let the remapped root through the exec root (where root filesystems are mounted)."""
    from dockyard.daemon import userns

    remap = userns.setup(option)
    config.userns_remap = f"{remap.user}:{remap.group}"
    config.id_map = remap.idmap
    config.data_root = userns.prepare_root(config.data_root, remap)
    userns.make_reachable(config.exec_root, *remap.idmap.root)


def _bool_flag(text: str) -> bool:
    """Go's flag syntax for booleans: `--tls=false`, `--tls=1`, ..."""
    value = text.strip().lower()
    if value in ("1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def _setup_logging(config: DaemonConfig) -> None:
    handler: logging.Handler
    if config.log_file:
        handler = logging.FileHandler(config.log_file)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if config.debug else logging.INFO)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
