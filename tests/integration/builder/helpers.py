# SPDX-License-Identifier: Apache-2.0
"""What the builder's integration tests share: writing a context, reading images back."""

import io
import json
import tarfile


def write_context(root, files):
    """Write {relative name: text or bytes} under `root`; returns `root`."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return root


def inspect(daemon, ref):
    return json.loads(daemon.cli("image", "inspect", ref).stdout)[0]


def saved(daemon, ref):
    """(image config, [member names of each layer tar]) from `dockyard save`, and the
    archive's bytes."""
    archive = daemon.cli("save", ref).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))[0]
        config = json.load(tf.extractfile(manifest["Config"]))
        layers = []
        for name in manifest["Layers"]:
            with tarfile.open(fileobj=tf.extractfile(name)) as layer:
                layers.append(layer.getnames())
    return config, layers, archive


def tree(daemon, ref):
    """`path mode uid:gid size` of every file in the image (`dir` for a directory's
    size, which says nothing), the runtime's mount points aside."""
    script = ("find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -print | sort | "
              "while read -r p; do if [ -d \"$p\" ] && [ ! -L \"$p\" ]; then stat -c '%n %a %u:%g dir' \"$p\"; "
              "else stat -c '%n %a %u:%g %s' \"$p\"; fi; done")
    listing = daemon.cli("run", "--rm", "--entrypoint", "sh", ref, "-c", script).stdout.decode()
    mounts = ("/etc/hosts ", "/etc/hostname ", "/etc/resolv.conf ")
    return [line for line in listing.splitlines() if not line.startswith(mounts)]


def container_ids(daemon):
    """The IDs of all the daemon's containers (their listing's status text ages)."""
    return sorted(c["Id"] for c in daemon.api("GET", "/containers/json?all=1")[1])
