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
from dockyard.config import DEFAULT_SOCKET, DaemonConfig


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
    )
    if args.certs_dir:
        config.certs_dirs = args.certs_dir
    _setup_logging(config)
    try:
        return asyncio.run(_run(config))
    except KeyboardInterrupt:
        return 0
    except Exception as e:  # a startup failure: one line, not a traceback
        logging.getLogger("dockyard").error("failed to start daemon: %s", e)
        if config.debug:
            raise
        return 1


async def _run(config: DaemonConfig) -> int:
    from dockyard.daemon.daemon import Daemon
    from dockyard.server.app import serve

    log = logging.getLogger("dockyard")
    daemon = Daemon(config)
    await daemon.start()
    runner = await serve(daemon, config.hosts)
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
    p.add_argument("-v", "--version", action="version", version=f"dockyardd {__version__}")
    return p


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
