# SPDX-License-Identifier: Apache-2.0
"""The image service: lookups, list filters, tag and rmi semantics, import, concurrency."""

import gzip
import io
import json
import os
import threading

import pytest

from dockyard import baseimages
from dockyard.baseimages.layer import LayerBuilder
from dockyard.errors import Conflict, InvalidParameter, NotFound


def layer(**files: bytes) -> bytes:
    builder = LayerBuilder()
    for name, data in files.items():
        builder.file(name.replace("__", "/"), data)
    return builder.build()


def make_image(service, tags, created="2024-02-01T00:00:00Z", labels=None, **files) -> str:
    config = {"os": "linux", "architecture": "amd64", "created": created,
              "config": {"Cmd": ["sh"], **({"Labels": labels} if labels else {})}}
    return service.create_from_layers(config, [io.BytesIO(layer(**files))], tags)


def test_lookups_by_name_and_id(service):
    image_id = baseimages.build(service, "busybox")
    hexid = image_id[7:]
    for name in ("busybox", "busybox:latest", "library/busybox", "docker.io/library/busybox:latest",
                 image_id, hexid, hexid[:12], hexid[:4], "sha256:" + hexid[:12]):
        assert service.get(name).id == image_id, name
    assert service.exists("busybox") and not service.exists("busybox:other")
    with pytest.raises(NotFound) as excinfo:
        service.get("nope")
    assert excinfo.value.message == "No such image: nope:latest"
    with pytest.raises(NotFound, match="No such image: busybox:1.0"):
        service.get("busybox:1.0")
    with pytest.raises(NotFound, match="No such image: sha256:" + "0" * 64):
        service.get("0" * 64)
    with pytest.raises(InvalidParameter, match="must be lowercase"):
        service.get("BusyBox")


def test_ambiguous_short_id_is_not_found(service):
    ids = {make_image(service, [], data=str(i).encode()) for i in range(40)}
    first_chars = [i[7] for i in ids]
    shared = next(c for c in first_chars if first_chars.count(c) > 1)
    with pytest.raises(NotFound):
        service.get(shared)


def test_inspect_shape(service):
    image_id = make_image(service, ["shape:1"], labels={"a": "b"}, etc__x=b"12345")
    doc = service.inspect("shape:1")
    assert list(doc) == ["Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "DockerVersion",
                         "Author", "Config", "Architecture", "Os", "Size", "GraphDriver", "RootFS", "Metadata"]
    assert doc["Id"] == image_id and doc["RepoTags"] == ["shape:1"] and doc["Size"] == 5
    assert doc["Config"]["Labels"] == {"a": "b"} and doc["Config"]["Cmd"] == ["sh"]
    assert doc["Config"]["Env"] is None and doc["Config"]["Hostname"] == ""
    assert doc["GraphDriver"]["Name"] == "overlay2"
    assert doc["GraphDriver"]["Data"]["UpperDir"] == str(service.lowerdirs(image_id)[0])
    assert doc["RootFS"]["Type"] == "layers" and len(doc["RootFS"]["Layers"]) == 1
    assert doc["Metadata"]["LastTagTime"].endswith("Z")


def test_list_and_filters(service):
    old = make_image(service, ["app:old"], created="2020-01-01T00:00:00Z", labels={"tier": "web"}, f=b"1")
    mid = make_image(service, ["app:mid", "other/thing:v1"], created="2021-01-01T00:00:00Z", f=b"2")
    new = make_image(service, ["app:new"], created="2022-01-01T00:00:00Z", labels={"tier": "db"}, f=b"3")
    dangling = make_image(service, [], created="2023-01-01T00:00:00Z", f=b"4")

    summaries = service.list()
    assert [s["Id"] for s in summaries] == [dangling, new, mid, old]  # newest first
    top = summaries[1]
    assert top == {"Id": new, "ParentId": "", "RepoTags": ["app:new"], "RepoDigests": [],
                   "Created": 1640995200, "Size": 1, "SharedSize": -1, "Labels": {"tier": "db"},
                   "Containers": -1}

    def ids(**filters):
        return [s["Id"] for s in service.list(filters=filters)]

    assert ids(dangling=["true"]) == [dangling]
    assert ids(dangling=["false"]) == [new, mid, old]
    assert ids(label=["tier"]) == [new, old]
    assert ids(label=["tier=web"]) == [old]
    assert ids(before=["app:new"]) == [mid, old]
    assert ids(since=["app:old"]) == [dangling, new, mid]
    assert ids(reference=["app"]) == [new, mid, old]
    assert ids(reference=["app:n*"]) == [new]
    assert ids(reference=["other/*"]) == [mid]
    assert ids(reference=["*"]) == [new, mid, old]  # `*` does not cross "/"
    assert service.list(filters={"reference": ["app:*"]})[1]["RepoTags"] == ["app:mid"]
    assert ids(until=["2021-06-01T00:00:00Z"]) == [mid, old]
    with pytest.raises(InvalidParameter, match="Invalid filter 'colour'"):
        service.list(filters={"colour": ["red"]})
    with pytest.raises(InvalidParameter, match="Invalid filter 'dangling=maybe'"):
        service.list(filters={"dangling": ["maybe"]})


def test_intermediate_images_only_with_all(service):
    base = make_image(service, [], f=b"base")
    child = service.create_from_layers({"os": "linux", "config": {}}, [io.BytesIO(layer(g=b"x"))],
                                       ["child:1"], base_image=base, parent=base)
    assert [s["Id"] for s in service.list()] == [child]
    assert {s["Id"] for s in service.list(all=True)} == {base, child}


def test_tag(service):
    image_id = baseimages.build(service, "hello-world")
    assert service.tag("hello-world", "localhost:5000/me/hello", "v1") == "localhost:5000/me/hello:v1"
    assert service.tag(image_id[7:19], "greeting") == "greeting:latest"
    assert service.get("localhost:5000/me/hello:v1").id == image_id
    assert service.get(image_id).repo_tags == ["hello-world:latest", "localhost:5000/me/hello:v1", "greeting:latest"]
    with pytest.raises(InvalidParameter, match="refusing to create a tag with a digest reference"):
        service.tag("hello-world", "x@sha256:" + "a" * 64)
    with pytest.raises(InvalidParameter, match="must be lowercase"):
        service.tag("hello-world", "Upper")
    with pytest.raises(NotFound):
        service.tag("missing", "x")


def test_remove_untags_then_deletes_with_layers(service):
    image_id = baseimages.build(service, "busybox")
    chain = service.get(image_id).chain_ids[0]
    service.tag("busybox", "box", "2")
    assert service.remove("box:2") == [{"Untagged": "box:2"}]
    records = service.remove("busybox")
    assert records == [{"Untagged": "busybox:latest"}, {"Deleted": image_id}, {"Deleted": chain}]
    assert service.layers.list() == [] and list(service.content.list()) == []
    assert service.db.list_layers() == []
    with pytest.raises(NotFound):
        service.get(image_id)


def test_remove_by_id_with_several_tags_needs_force(service):
    image_id = baseimages.build(service, "busybox")
    service.tag("busybox", "copy")
    with pytest.raises(Conflict) as excinfo:
        service.remove(image_id[7:19])
    assert excinfo.value.message == (
        f"conflict: unable to delete {image_id[7:19]} (must be forced) - "
        "image is referenced in multiple repositories"
    )
    records = service.remove(image_id[7:19], force=True)
    assert records[:3] == [{"Untagged": "busybox:latest"}, {"Untagged": "copy:latest"}, {"Deleted": image_id}]


def test_remove_by_id_with_one_tag(service):
    image_id = baseimages.build(service, "hello-world")
    records = service.remove(image_id)
    assert records[:2] == [{"Untagged": "hello-world:latest"}, {"Deleted": image_id}]


def test_remove_conflicts_with_containers(service):
    image_id = baseimages.build(service, "busybox")
    container = "c" * 64
    stopped = lambda _image: [container]  # noqa: E731
    with pytest.raises(Conflict) as excinfo:
        service.remove("busybox", containers_using=stopped)
    assert excinfo.value.message == (
        f'conflict: unable to remove repository reference "busybox" (must force) - '
        f"container cccccccccccc is using its referenced image {image_id[7:19]}"
    )
    with pytest.raises(Conflict, match="image is being used by stopped container cccccccccccc"):
        service.remove(image_id, containers_using=stopped)

    running = lambda _image: [{"Id": container, "State": {"Running": True}}]  # noqa: E731
    with pytest.raises(Conflict, match=r"\(cannot be forced\) - image is being used by running container"):
        service.remove(image_id, force=True, containers_using=running)
    # Forcing a name away from a running container's image only untags it.
    assert service.remove("busybox", force=True, containers_using=running) == [{"Untagged": "busybox:latest"}]
    assert service.get(image_id).repo_tags == []
    # A stopped container does not stop a forced delete.
    assert service.remove(image_id, force=True, containers_using=stopped)[0] == {"Deleted": image_id}


def test_remove_child_conflict_and_parent_pruning(service):
    base = make_image(service, ["base:1"], f=b"base")
    child = service.create_from_layers({"os": "linux", "config": {}}, [io.BytesIO(layer(g=b"x"))],
                                       ["child:1"], base_image="base:1", parent=base)
    service.remove("base:1")  # untag only: the child still needs it
    assert service.get(base).repo_tags == []
    with pytest.raises(Conflict, match=r"\(cannot be forced\) - image has dependent child images"):
        service.remove(base, force=True)
    deleted = [r["Deleted"] for r in service.remove("child:1") if "Deleted" in r]
    assert deleted[0] == child and base in deleted  # the untagged parent goes with it
    assert service.layers.list() == [] and service.db.list_images() == []


def test_prune(service):
    keep = make_image(service, ["keep:1"], f=b"1")
    gone = make_image(service, [], f=b"2")
    used = make_image(service, [], f=b"3")
    result = service.prune(containers_using=lambda image: ["c" * 64] if image == used else [])
    assert [r for r in result["ImagesDeleted"] if "Deleted" in r][0] == {"Deleted": gone}
    assert result["SpaceReclaimed"] == 1
    assert {s["Id"] for s in service.list(all=True)} == {keep, used}
    service.prune(filters={"dangling": ["false"]}, containers_using=lambda image: [])
    assert service.list(all=True) == []


def test_import_with_changes(service):
    rootfs = LayerBuilder()
    rootfs.file("bin/app", b"#!/bin/sh\n", 0o755)
    data = gzip.compress(rootfs.build())
    image_id = service.import_image(
        io.BytesIO(data), repo="imported", tag="v1",
        changes=['CMD ["/bin/app"]', "ENV MODE=prod", "EXPOSE 8080", "WORKDIR /srv", "LABEL k=v"],
    )
    doc = service.inspect("imported:v1")
    assert doc["Id"] == image_id and doc["Comment"] == "Imported from -"
    assert doc["Config"]["Cmd"] == ["/bin/app"] and doc["Config"]["Env"] == ["MODE=prod"]
    assert doc["Config"]["ExposedPorts"] == {"8080/tcp": {}} and doc["Config"]["WorkingDir"] == "/srv"
    config = json.loads(service.content.read(image_id))
    assert config["history"][0]["comment"] == "Imported from -"
    assert config["rootfs"]["diff_ids"] == [service.get(image_id).diff_ids[0]]
    assert (service.lowerdirs(image_id)[0] / "bin" / "app").read_bytes() == b"#!/bin/sh\n"

    untagged = service.import_image(io.BytesIO(rootfs.build()), message="from a test")
    assert service.inspect(untagged)["Comment"] == "from a test"
    assert service.get(untagged).repo_tags == []
    with pytest.raises(InvalidParameter, match="run is not a valid change command"):
        service.import_image(io.BytesIO(rootfs.build()), changes=["RUN true"])
    with pytest.raises(InvalidParameter):
        service.import_image(io.BytesIO(b"garbage" * 100), repo="bad")
    assert not service.exists("bad")


def test_failed_create_leaves_nothing(service):
    good = layer(a=b"fine")
    with pytest.raises(InvalidParameter):
        service.create_from_layers({"os": "linux"}, [io.BytesIO(good), io.BytesIO(b"junk" * 300)], ["x:1"])
    assert service.layers.list() == [] and list(service.content.list()) == []
    assert os.listdir(service.layers.tmp) == []


def test_base_images_are_reproducible(service, other_service):
    for name in baseimages.names():
        assert baseimages.build(service, name) == baseimages.build(other_service, name)
    assert service.get("hello-world").config["config"]["Cmd"] == ["/hello"]
    busybox = service.get("busybox").config
    assert busybox["config"] == {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"],
    }
    assert busybox["os"] == "linux" and busybox["architecture"] in ("amd64", "arm64")


def test_concurrent_loads_and_removes(service, other_service):
    baseimages.build(service, "busybox")
    out = io.BytesIO()
    service.save(["busybox"], out)
    archive = out.getvalue()
    errors = []

    def load():
        try:
            for _ in range(3):
                other_service.load(io.BytesIO(archive))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def remove():
        for _ in range(6):
            try:
                other_service.remove("busybox")
            except NotFound:
                pass
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

    threads = [threading.Thread(target=load) for _ in range(3)] + [threading.Thread(target=remove)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # Whatever the interleaving: either the image is whole, or it is entirely gone.
    other_service.load(io.BytesIO(archive))
    image = other_service.get("busybox")
    assert all(other_service.layers.exists(c) for c in image.chain_ids)
    assert all(other_service.content.exists(d) for d in image.diff_ids)
    other_service.remove("busybox")
    assert other_service.layers.list() == [] and list(other_service.content.list()) == []


def test_reconcile_removes_crash_leftovers(service):
    image_id = baseimages.build(service, "hello-world")
    orphan = "sha256:" + "d" * 64
    (service.layers.root / ("d" * 64) / "diff").mkdir(parents=True)  # renamed in, never recorded
    (service.layers.tmp / "layer-half").mkdir()
    (service.content.ingest_dir / "blob-half").write_bytes(b"partial")
    service.reconcile()
    assert not service.layers.exists(orphan)
    assert os.listdir(service.layers.tmp) == [] and os.listdir(service.content.ingest_dir) == []
    assert service.layers.exists(service.get(image_id).chain_ids[0])
