# SPDX-License-Identifier: Apache-2.0
"""`save` and `load`: round trips, archives written by hand, and archives that lie."""

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard import baseimages
from dockyard.baseimages.layer import LayerBuilder
from dockyard.errors import InvalidParameter, NotFound
from dockyard.images.platform import host_arch

SPECS = Path(__file__).resolve().parents[3].parent / "shared" / "specs" / "oci-image"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """An outer archive: regular files plus symbolic links, in the given order."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return out.getvalue()


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isreg()}


def two_layers() -> tuple[bytes, bytes]:
    bottom = LayerBuilder()
    bottom.file("etc/motd", b"welcome\n")
    bottom.file("etc/secret", b"to be deleted\n")
    bottom.file("data/a", b"a")
    top = LayerBuilder()
    top.file("etc/.wh.secret", b"")
    top.file("data/.wh..wh..opq", b"")
    top.file("data/b", b"b")
    top.file("app/run.sh", b"#!/bin/sh\necho run\n", 0o755)
    return bottom.build(), top.build()


def image_config(diff_ids: list[str], **config) -> bytes:
    return json.dumps(
        {
            "architecture": host_arch(),
            "os": "linux",
            "created": "2023-06-01T10:00:00.5Z",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["/app/run.sh"], **config},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "layer 1"}, {"created_by": "layer 2"}],
        }
    ).encode()


def assert_nothing_stored(service):
    assert service.db.list_images() == []
    assert service.db.list_refs() == []
    assert service.layers.list() == []
    assert list(service.content.list()) == []
    assert os.listdir(service.layers.tmp) == []
    assert os.listdir(service.content.ingest_dir) == []
    assert os.listdir(service.tmp_dir / "load") == []


def test_save_load_round_trip_keeps_ids(service, other_service):
    busybox = baseimages.build(service, "busybox")
    hello = baseimages.build(service, "hello-world")
    service.tag("busybox", "localhost:5000/tools/box", "v1")
    out = io.BytesIO()
    service.save(["busybox", "hello-world:latest", "localhost:5000/tools/box:v1"], out)

    messages = other_service.load(io.BytesIO(out.getvalue()))
    assert messages == [
        "Loaded image: busybox:latest",
        "Loaded image: localhost:5000/tools/box:v1",
        "Loaded image: hello-world:latest",
    ]
    assert other_service.get("busybox").id == busybox
    assert other_service.get("localhost:5000/tools/box:v1").id == busybox
    assert other_service.get("hello-world").id == hello
    for name in ("busybox", "hello-world"):
        mine, theirs = service.inspect(name), other_service.inspect(name)
        for doc in (mine, theirs):
            doc.pop("GraphDriver")
            doc.pop("Metadata")
        assert mine == theirs
    copied = other_service.lowerdirs(busybox)[0]
    original = service.lowerdirs(busybox)[0]
    assert sorted(os.listdir(copied / "bin")) == sorted(os.listdir(original / "bin"))
    assert (copied / "bin" / "busybox").read_bytes() == (original / "bin" / "busybox").read_bytes()
    assert stat.S_IMODE(os.stat(copied / "tmp").st_mode) == 0o1777

    # Saving what was loaded gives the same bytes: nothing was re-encoded on the way.
    again = io.BytesIO()
    other_service.save(["busybox", "hello-world:latest", "localhost:5000/tools/box:v1"], again)
    assert members(again.getvalue()) == members(out.getvalue())


def test_saved_archive_layout(service):
    image_id = baseimages.build(service, "hello-world")
    out = io.BytesIO()
    service.save([image_id[7:19]], out)  # by short ID: no tags recorded
    files = members(out.getvalue())
    manifest = json.loads(files["manifest.json"])
    assert manifest == [{
        "Config": f"blobs/sha256/{image_id[7:]}",
        "RepoTags": None,
        "Layers": [f"blobs/sha256/{service.get(image_id).diff_ids[0][7:]}"],
    }]
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert sha(data) == "sha256:" + name.rsplit("/", 1)[1]
    index = json.loads(files["index.json"])
    assert len(index["manifests"]) == 1 and "annotations" not in index["manifests"][0]
    assert "repositories" not in files

    out = io.BytesIO()
    service.save(["hello-world"], out)
    files = members(out.getvalue())
    assert json.loads(files["manifest.json"])[0]["RepoTags"] == ["hello-world:latest"]
    assert json.loads(files["index.json"])["manifests"][0]["annotations"] == {
        "io.containerd.image.name": "docker.io/library/hello-world:latest",
        "org.opencontainers.image.ref.name": "latest",
    }
    top = service.get("hello-world").diff_ids[-1][7:]
    assert json.loads(files["repositories"]) == {"hello-world": {"latest": top}}


@pytest.mark.skipif(not SPECS.is_dir(), reason="OCI schemas not available")
def test_saved_archive_is_a_valid_oci_layout(service):
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    from referencing.jsonschema import DRAFT4

    def retrieve(uri: str):
        return referencing.Resource.from_contents(
            json.loads((SPECS / (uri.rsplit("/", 1)[-1])).read_text()), default_specification=DRAFT4
        )

    registry = referencing.Registry(retrieve=retrieve)

    def validate(schema_file: str, doc) -> None:
        schema = json.loads((SPECS / schema_file).read_text())
        jsonschema.Draft4Validator(schema, registry=registry).validate(doc)

    baseimages.build(service, "busybox")
    out = io.BytesIO()
    service.save(["busybox"], out)
    files = members(out.getvalue())
    index = json.loads(files["index.json"])
    validate("image-index-schema.json", index)
    validate("image-layout-schema.json", json.loads(files["oci-layout"]))
    manifest = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"][7:]])
    validate("image-manifest-schema.json", manifest)
    validate("config-schema.json", json.loads(files["blobs/sha256/" + manifest["config"]["digest"][7:]]))
    with pytest.raises(jsonschema.ValidationError):
        validate("image-manifest-schema.json", {**manifest, "config": {"digest": "nope"}})


def test_load_gzip_archive_and_retag_message(service, other_service):
    old = baseimages.build(other_service, "hello-world")
    other_service.tag(old, "busybox")  # `busybox:latest` points elsewhere before the load
    baseimages.build(service, "busybox")
    out = io.BytesIO()
    service.save(["busybox"], out)
    messages = other_service.load(io.BytesIO(gzip.compress(out.getvalue())))
    assert messages == [
        f"The image busybox:latest already exists, renaming the old one with ID {old} to empty string",
        "Loaded image: busybox:latest",
    ]
    assert other_service.get("busybox").id == service.get("busybox").id
    assert other_service.get("hello-world").id == old


def test_load_handmade_docker_archive(service):
    bottom, top = two_layers()
    config = image_config([sha(bottom), sha(top)], Labels={"made": "by hand"})
    config_hex = sha(config)[7:]
    archive = tar_of(
        {
            # Old-style names, `manifest.json` first: the order inside a tar is free.
            "manifest.json": json.dumps([{
                "Config": f"{config_hex}.json",
                "RepoTags": ["handmade:1.0", "registry.local:5000/team/handmade:1.0"],
                "Layers": ["l1/layer.tar", "l2/layer.tar", "l3/layer.tar"][:2],
            }]).encode(),
            f"{config_hex}.json": config,
            "l1/layer.tar": bottom,
            "l2/real.tar": top,
            "l1/VERSION": b"1.0",
        },
        links={"l2/layer.tar": "real.tar"},
    )
    assert service.load(io.BytesIO(archive)) == [
        "Loaded image: handmade:1.0",
        "Loaded image: registry.local:5000/team/handmade:1.0",
    ]
    image = service.get("handmade:1.0")
    assert image.id == sha(config)
    assert image.repo_tags == ["handmade:1.0", "registry.local:5000/team/handmade:1.0"]
    inspect = service.inspect("registry.local:5000/team/handmade:1.0")
    assert inspect["Config"]["Labels"] == {"made": "by hand"}
    assert inspect["Created"] == "2023-06-01T10:00:00.5Z"
    assert inspect["RootFS"]["Layers"] == [sha(bottom), sha(top)]
    top_dir, bottom_dir = service.lowerdirs(image.id)
    assert (bottom_dir / "etc" / "secret").read_bytes() == b"to be deleted\n"
    whiteout = os.lstat(top_dir / "etc" / "secret")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert os.getxattr(top_dir / "data", "trusted.overlay.opaque") == b"y"
    assert service.content.read(sha(top)) == top  # the tar itself is kept for `save`


def test_load_oci_layout_with_gzip_layers_and_platform_index(service):
    bottom, top = two_layers()
    gz_bottom, gz_top = gzip.compress(bottom), gzip.compress(top)
    config = image_config([sha(bottom), sha(top)])
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(b), "size": len(b)}
            for b in (gz_bottom, gz_top)
        ],
    }).encode()
    other_arch = "s390x" if host_arch() != "s390x" else "amd64"
    nested = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "0" * 64,
             "size": 1, "platform": {"os": "linux", "architecture": other_arch}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
             "size": len(manifest), "platform": {"os": "linux", "architecture": host_arch()}},
        ],
    }).encode()
    index = json.dumps({
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(nested), "size": len(nested),
             "annotations": {"io.containerd.image.name": "docker.io/library/ocitest:2"}},
            {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(nested), "size": len(nested),
             "annotations": {"org.opencontainers.image.ref.name": "example.com/oci/test:v2"}},
            {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(nested), "size": len(nested),
             "annotations": {"org.opencontainers.image.ref.name": "just-a-tag"}},
        ],
    }).encode()
    blobs = {f"blobs/sha256/{sha(b)[7:]}": b for b in (gz_bottom, gz_top, config, manifest, nested)}
    archive = tar_of({"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index, **blobs})
    assert service.load(io.BytesIO(archive)) == [
        "Loaded image: ocitest:2",
        "Loaded image: example.com/oci/test:v2",
    ]
    image = service.get("ocitest:2")
    assert image.id == sha(config)
    # Layers are stored uncompressed: their digest is the diff ID, as `save` needs.
    assert service.content.read(sha(top)) == top
    assert not service.content.exists(sha(gz_top))


def test_load_legacy_v1_archive(service):
    bottom, top = two_layers()
    ids = [hashlib.sha256(n).hexdigest() for n in (b"one", b"two")]
    v1 = [
        {"id": ids[0], "created": "2015-01-01T00:00:00Z", "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) ADD"]}},
        {"id": ids[1], "parent": ids[0], "created": "2015-01-02T00:00:00Z", "os": "linux",
         "architecture": host_arch(), "config": {"Cmd": ["/app/run.sh"]},
         "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) CMD"]}},
    ]
    archive = tar_of({
        "repositories": json.dumps({"legacy": {"old": ids[1]}}).encode(),
        f"{ids[0]}/json": json.dumps(v1[0]).encode(),
        f"{ids[0]}/layer.tar": bottom,
        f"{ids[1]}/json": json.dumps(v1[1]).encode(),
        f"{ids[1]}/layer.tar": top,
    })
    assert service.load(io.BytesIO(archive)) == ["Loaded image: legacy:old"]
    inspect = service.inspect("legacy:old")
    assert inspect["RootFS"]["Layers"] == [sha(bottom), sha(top)]
    assert inspect["Config"]["Cmd"] == ["/app/run.sh"]
    assert [h["CreatedBy"] for h in service.history("legacy:old")] == [
        "/bin/sh -c #(nop) CMD", "/bin/sh -c #(nop) ADD",
    ]


def saved_busybox(service) -> dict[str, bytes]:
    baseimages.build(service, "busybox")
    out = io.BytesIO()
    service.save(["busybox"], out)
    return members(out.getvalue())


def repack(files: dict[str, bytes]) -> io.BytesIO:
    return io.BytesIO(tar_of(files))


def test_tampered_layer_is_rejected_and_leaves_nothing(service, other_service):
    files = saved_busybox(service)
    manifest = json.loads(files["manifest.json"])
    layer_name = manifest[0]["Layers"][0]
    data = bytearray(files[layer_name])
    position = data.index(b"root:x:0:0")  # inside /etc/passwd
    data[position:position + 4] = b"evil"
    files[layer_name] = bytes(data)
    with pytest.raises(InvalidParameter, match="does not match its diff ID") as excinfo:
        other_service.load(repack(files))
    assert layer_name in excinfo.value.message
    assert_nothing_stored(other_service)


def test_tampered_config_is_rejected(service, other_service):
    files = saved_busybox(service)
    config_name = json.loads(files["manifest.json"])[0]["Config"]
    config = json.loads(files[config_name])
    config["config"]["Cmd"] = ["/bin/evil"]
    files[config_name] = json.dumps(config).encode()
    with pytest.raises(InvalidParameter, match="digest mismatch"):
        other_service.load(repack(files))
    assert_nothing_stored(other_service)


def test_second_image_failing_rolls_back_the_first(service, other_service):
    files = saved_busybox(service)
    manifest = json.loads(files["manifest.json"])
    broken = dict(manifest[0], RepoTags=["broken:latest"], Layers=manifest[0]["Layers"] * 2)
    files["manifest.json"] = json.dumps([manifest[0], broken]).encode()
    with pytest.raises(InvalidParameter, match="layers length mismatch: expected 1, got 2"):
        other_service.load(repack(files))
    assert_nothing_stored(other_service)


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (b"", "invalid"),
        (b"not a tar archive, just text " * 50, "invalid"),
        (tar_of({"hello.txt": b"hi"}), "no manifest.json, index.json or repositories"),
        (tar_of({"manifest.json": b"{not json"}), "not valid JSON"),
        (tar_of({"manifest.json": b'[{"Config": "missing.json", "Layers": []}]'}), "missing.json is missing"),
        (tar_of({"manifest.json": b'[{"Config": "c.json", "RepoTags": ["Bad Name"]}]', "c.json": b"{}"}),
         "invalid reference format"),
        (tar_of({"../escape": b"x"}), "escapes the archive"),
    ],
)
def test_bad_archives(service, archive, message):
    with pytest.raises(InvalidParameter, match=message):
        service.load(io.BytesIO(archive))
    assert_nothing_stored(service)


def test_save_errors(service):
    with pytest.raises(NotFound, match="No such image: nothing:latest"):
        service.save(["nothing"], io.BytesIO())
    with pytest.raises(InvalidParameter):
        service.save([], io.BytesIO())


def test_save_bare_name_includes_every_tag(service, other_service):
    baseimages.build(service, "busybox")
    baseimages.build(service, "hello-world")
    service.tag("hello-world", "busybox", "hello")
    out = io.BytesIO()
    service.save(["busybox"], out)
    manifest = json.loads(members(out.getvalue())["manifest.json"])
    assert sorted(t for entry in manifest for t in entry["RepoTags"]) == ["busybox:hello", "busybox:latest"]
    assert sorted(other_service.load(io.BytesIO(out.getvalue()))) == [
        "Loaded image: busybox:hello", "Loaded image: busybox:latest",
    ]


def test_slow_save_does_not_block_rmi(service, other_service):
    import threading

    baseimages.build(service, "busybox")
    started, release = threading.Event(), threading.Event()

    class SlowWriter(io.BytesIO):
        def write(self, data):
            started.set()
            release.wait(10)
            return super().write(data)

    out = SlowWriter()
    saver = threading.Thread(target=service.save, args=(["busybox"], out))
    saver.start()
    assert started.wait(10)
    # The client reading the archive stalls; deleting the image must not wait for it.
    deleted = service.remove("busybox")
    assert {"Untagged": "busybox:latest"} in deleted and service.layers.list() == []
    release.set()
    saver.join(10)
    assert other_service.load(io.BytesIO(out.getvalue())) == ["Loaded image: busybox:latest"]
