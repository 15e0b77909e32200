# SPDX-License-Identifier: Apache-2.0
"""The offline base images: what can be built on this host, and building them.

No registry is reachable on these machines, so `busybox` and `hello-world` are made
from the host: busybox from Debian's statically linked `/bin/busybox` (busybox-static),
hello-world from an executable assembled in `elf.py`. Layers and configs are
deterministic (sorted entries, fixed times), so building again gives the same image ID.

`scratch` is not an image: Docker reserves the name, and a Dockerfile's `FROM scratch`
means "no base layers". The builder checks for `SCRATCH`.
"""

from __future__ import annotations

import io
import os
import re
import struct
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dockyard.baseimages.elf import hello_elf
from dockyard.baseimages.layer import FIXED_MTIME, LayerBuilder
from dockyard.distribution import reference
from dockyard.errors import InvalidParameter, NotFound
from dockyard.images.platform import format_rfc3339, host_arch, host_variant

if TYPE_CHECKING:
    from dockyard.images.service import ImageService

SCRATCH = "scratch"
SCRATCH_MESSAGE = "'scratch' is a reserved name"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
APPLET_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin")
CREATED = format_rfc3339(FIXED_MTIME * 1_000_000_000)

# The accounts of the official busybox image (glibc variant).
PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
"""

HELLO_MESSAGE = """
Hello from dockyard!
If you can read this, your dockyard installation is working.

Here is what just happened:
 1. The dockyard client sent your command to the dockyard daemon over its API socket.
 2. The daemon looked up the "hello-world" image. It needs no registry: dockyard
    builds this image on the host, offline, from a tiny program it assembles itself.
 3. The daemon created a new container from that image and started it with runc.
    The program inside the container wrote the text you are reading now.
 4. The daemon passed the container's output back to the client, which printed it
    in your terminal.

Next, try a shell in a busybox container:
 $ dockyard run -it busybox sh

The docker CLI works against dockyard too:
 $ docker -H unix:///run/dockyard.sock run hello-world

"""


def names() -> list[str]:
    """Base images this host can build (familiar names, tag `latest`)."""
    return sorted(_BUILDERS)


def build(images: ImageService, name: str) -> str:
    """Build the base image `name` (e.g. "busybox", "busybox:latest"); returns its ID."""
    base = _base_name(name)
    config, layer = _BUILDERS[base]()
    return images.create_from_layers(config, [io.BytesIO(layer)], [f"{base}:latest"])


def is_scratch(name: str) -> bool:
    return name.strip().lower() == SCRATCH


def busybox_layer() -> tuple[bytes, str]:
    """The busybox root filesystem as a layer tar, and the busybox version it holds."""
    binary_path = _find_busybox()
    with open(binary_path, "rb") as f:
        binary = f.read()
    if not _is_static_elf(binary):
        raise NotFound(
            f"{binary_path} is dynamically linked; install Debian's busybox-static package"
        )
    applets = _run([binary_path, "--list-full"]).split()
    version = _busybox_version(binary_path)

    layer = LayerBuilder()
    for path in ("dev", "etc", "proc", "sys", "usr", "var", "var/spool", *APPLET_DIRS):
        layer.dir(path)
    layer.dir("root", 0o700)
    layer.dir("tmp", 0o1777)
    layer.dir("home", 0o755, 65534, 65534)
    layer.dir("var/spool/mail", 0o755, 8, 8)
    layer.dir("var/www", 0o755, 33, 33)
    layer.file("bin/busybox", binary, 0o755)
    for applet in applets:
        applet = applet.strip("/")
        if applet == "bin/busybox" or applet.rpartition("/")[0] not in APPLET_DIRS:
            continue  # e.g. /linuxrc: only meaningful as an initramfs entry point
        layer.hardlink(applet, "bin/busybox")
    layer.file("etc/passwd", PASSWD.encode())
    layer.file("etc/group", GROUP.encode())
    layer.file("etc/shadow", _shadow().encode(), 0o640)
    # Static glibc resolves names through NSS; without this file it would skip DNS.
    layer.file("etc/nsswitch.conf", b"hosts: files dns\npasswd: files\ngroup: files\nshadow: files\n")
    return layer.build(), version


def hello_layer(arch: str | None = None) -> bytes:
    layer = LayerBuilder()
    layer.file("hello", hello_elf(arch or host_arch(), HELLO_MESSAGE.encode()), 0o755)
    return layer.build()


def _busybox() -> tuple[dict[str, Any], bytes]:
    layer, version = busybox_layer()
    return _config(
        {"Env": [DEFAULT_PATH], "Cmd": ["sh"]},
        [
            {"created": CREATED, "created_by": f"BusyBox {version} (glibc), Debian busybox-static"},
            {"created": CREATED, "created_by": 'CMD ["sh"]', "empty_layer": True},
        ],
    ), layer


def _hello_world() -> tuple[dict[str, Any], bytes]:
    return _config(
        {"Env": [DEFAULT_PATH], "Cmd": ["/hello"]},
        [
            {"created": CREATED, "created_by": "COPY hello / # dockyard, assembled offline"},
            {"created": CREATED, "created_by": 'CMD ["/hello"]', "empty_layer": True},
        ],
    ), hello_layer()


_BUILDERS: dict[str, Callable[[], tuple[dict[str, Any], bytes]]] = {
    "busybox": _busybox,
    "hello-world": _hello_world,
}


def _config(container_config: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    config: dict[str, Any] = {"architecture": host_arch()}
    if host_variant():
        config["variant"] = host_variant()
    config.update(
        {"config": container_config, "created": CREATED, "history": history, "os": "linux"}
    )
    return config


def _base_name(name: str) -> str:
    if is_scratch(name):
        raise InvalidParameter(SCRATCH_MESSAGE)
    ref = reference.parse(name)
    base = ref.familiar_name
    if ref.domain != reference.DEFAULT_DOMAIN or ref.digest or ref.tag not in (None, "latest") \
            or base not in _BUILDERS:
        raise NotFound(
            f"no offline base image {ref.with_default_tag().familiar()}; "
            f"available: {', '.join(f'{n}:latest' for n in names())}"
        )
    return base


def _find_busybox() -> str:
    for candidate in BUSYBOX_CANDIDATES:
        if os.path.isfile(candidate):
            return candidate
    raise NotFound("busybox is not installed on this host; install Debian's busybox-static package")


def _is_static_elf(data: bytes) -> bool:
    """An ELF64 little-endian executable without a PT_INTERP header (no dynamic loader)."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for i in range(phnum):
        p_type, = struct.unpack_from("<I", data, phoff + i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def _busybox_version(path: str) -> str:
    # `--help` prints the banner and exits non-zero on some builds: only the text counts.
    result = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30)
    m = re.search(r"BusyBox v(\S+)", result.stdout + result.stderr)
    return m.group(1) if m else "unknown"


def _run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise NotFound(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result.stdout


def _shadow() -> str:
    users = [line.split(":", 1)[0] for line in PASSWD.splitlines()]
    return "".join(f"{user}:*:19000:0:99999:7:::\n" for user in users)
