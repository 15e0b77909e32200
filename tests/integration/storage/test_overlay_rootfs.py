# SPDX-License-Identifier: Apache-2.0
"""Container root filesystems: real overlay mounts of images built from the host."""

import io
import os
import stat
import subprocess
import tarfile

import pytest

from dockyard import baseimages, snapshots
from dockyard.baseimages.layer import LayerBuilder
from dockyard.snapshots import mount_rootfs, prepare_rw, remove_rw, unmount


@pytest.fixture
def rootfs(tmp_path):
    mounted = []

    def mount(lowerdirs, name="c1"):
        container_dir, target = tmp_path / "containers" / name, tmp_path / "run" / name / "rootfs"
        prepare_rw(container_dir)
        mount_rootfs(lowerdirs, container_dir, target)
        mounted.append(target)
        return container_dir, target

    yield mount
    for target in mounted:
        unmount(target)


def sh(target, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["chroot", str(target), "/bin/sh", "-c", script], capture_output=True, text=True, timeout=20
    )


def test_busybox_rootfs_runs_and_writes_only_to_its_layer(service, rootfs):
    image_id = baseimages.build(service, "busybox")
    lower = service.lowerdirs(image_id)[0]
    container_dir, target = rootfs(service.lowerdirs(image_id))
    assert os.path.ismount(target)

    result = sh(target, "echo hi > /tmp/new && rm /etc/group && ls /bin | wc -l && id -un && cat /tmp/new")
    assert result.returncode == 0, result.stderr
    count, user, hi = result.stdout.split()
    assert int(count) > 50 and user == "root" and hi == "hi"

    upper = container_dir / "diff"
    assert (upper / "tmp" / "new").read_text() == "hi\n"
    whiteout = os.lstat(upper / "etc" / "group")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert (lower / "etc" / "group").exists()  # the image is untouched
    assert not (lower / "tmp" / "new").exists()

    # Idempotent: mounting again is a no-op, unmounting twice is fine.
    mount_rootfs(service.lowerdirs(image_id), container_dir, target)
    unmount(target)
    unmount(target)
    assert not os.path.ismount(target)
    remove_rw(container_dir)
    assert not (container_dir / "diff").exists() and not (container_dir / "work").exists()


def test_two_containers_share_the_image_layers(service, rootfs):
    image_id = baseimages.build(service, "busybox")
    _, first = rootfs(service.lowerdirs(image_id), "one")
    _, second = rootfs(service.lowerdirs(image_id), "two")
    assert sh(first, "echo one > /etc/motd").returncode == 0
    assert sh(second, "cat /etc/motd 2>/dev/null || echo absent").stdout == "absent\n"


def test_layers_stack_with_whiteouts_and_opaque_dirs(service, rootfs):
    base = baseimages.build(service, "busybox")
    upper = LayerBuilder()
    upper.file("etc/.wh.passwd", b"")        # delete a file from busybox
    upper.file("var/.wh..wh..opq", b"")      # hide everything busybox had in /var
    upper.file("var/only", b"mine\n")
    upper.file("etc/added", b"added\n")
    image_id = service.create_from_layers(
        {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]}},
        [io.BytesIO(upper.build())], ["stacked:1"], base_image=base, parent=base,
    )
    image = service.get(image_id)
    assert len(image.chain_ids) == 2 and image.parent == base
    lowers = service.lowerdirs(image_id)
    assert lowers[1] == service.lowerdirs(base)[0]  # top-most first, base layer shared
    _, target = rootfs(lowers)
    result = sh(target, "ls /var; cat /etc/added; test -e /etc/passwd && echo present || echo gone")
    assert result.stdout == "only\nadded\ngone\n", result.stderr


def test_image_without_layers_mounts(service, rootfs):
    image_id = service.create_from_layers({"os": "linux", "config": {}}, [], ["empty:1"])
    assert service.lowerdirs(image_id) == []
    container_dir, target = rootfs([])
    (target / "file").write_text("written")
    assert (container_dir / "diff" / "file").read_text() == "written"
    assert os.listdir(container_dir / "empty") == []


def test_unmount_of_something_not_mounted(tmp_path):
    unmount(tmp_path / "never-created")
    (tmp_path / "plain").mkdir()
    unmount(tmp_path / "plain")


def test_commit_a_containers_changes_as_a_new_image(service, rootfs, tmp_path):
    base = baseimages.build(service, "busybox")
    container_dir, target = rootfs(service.lowerdirs(base), "committed")
    script = (
        "echo data > /root/file && ln /root/file /root/hardlink && rm /etc/passwd"
        " && rm -rf /var && mkdir /var && echo fresh > /var/new && mkfifo /tmp/fifo"
        " && ln -s /root/file /tmp/link && chown 1000:1000 /root/file && chmod 640 /root/file"
    )
    assert sh(target, script).returncode == 0
    unmount(target)

    # What a commit does: stream the rw layer's diff into a new image on top of the base.
    with snapshots.diff_reader(container_dir / "diff") as diff:
        image_id = service.create_from_layers(
            {"os": "linux", "architecture": "amd64", "config": {"Cmd": ["sh"]}},
            [diff], ["committed:v1"], base_image=base, parent=base,
        )
    layer_dir = service.lowerdirs(image_id)[0]
    assert stat.S_ISCHR(os.lstat(layer_dir / "etc" / "passwd").st_mode)
    assert os.getxattr(layer_dir / "var", "trusted.overlay.opaque") == b"y"

    _, new_root = rootfs(service.lowerdirs(image_id), "from-commit")
    result = sh(new_root, "ls /var; cat /root/hardlink; ls /etc/passwd 2>&1 || true; readlink /tmp/link;"
                          " stat -c '%u:%g %a %h' /root/file; test -p /tmp/fifo && echo fifo")
    assert result.stdout.splitlines() == [
        "new", "data", "ls: /etc/passwd: No such file or directory", "/root/file", "1000:1000 640 2", "fifo",
    ], result.stderr

    # The committed layer tar round-trips through save/load byte for byte.
    out = io.BytesIO()
    service.save(["committed:v1"], out)
    service.remove("committed:v1")
    assert service.load(io.BytesIO(out.getvalue())) == ["Loaded image: committed:v1"]
    assert service.get("committed:v1").id == image_id


def test_tree_tar_of_a_rootfs(service, rootfs):
    image_id = baseimages.build(service, "busybox")
    _, target = rootfs(service.lowerdirs(image_id))
    out = io.BytesIO()
    snapshots.tree_tar(target, out)
    names = tarfile.open(fileobj=io.BytesIO(out.getvalue())).getnames()
    assert "bin/busybox" in names and "etc/passwd" in names
    members = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(out.getvalue())).getmembers()}
    # Hard links stay links: the first name in sorted order carries the data.
    busybox = members["bin/busybox"]
    assert busybox.islnk() and members[busybox.linkname].isreg()
    assert members["bin/sh"].linkname == busybox.linkname
    assert members["tmp"].mode == 0o1777


def test_many_layers_overflowing_the_mount_options(service, rootfs):
    tars = []
    for i in range(100):
        builder = LayerBuilder()
        builder.file(f"layers/{i:03d}", str(i).encode())
        if i:
            builder.file(f"layers/.wh.{i - 1:03d}", b"")  # each layer hides the previous file
        tars.append(io.BytesIO(builder.build()))
    image_id = service.create_from_layers({"os": "linux", "config": {}}, tars, ["tall:1"])
    lowers = service.lowerdirs(image_id)
    assert len(",".join(str(p) for p in lowers)) > 4096
    _, target = rootfs(lowers)
    assert os.listdir(target / "layers") == ["099"]
    assert (target / "layers" / "099").read_text() == "99"
