# SPDX-License-Identifier: Apache-2.0
"""Mount syntaxes from the create body: Binds, Mounts, VolumesFrom, Tmpfs, Config.Volumes,
their precedence, and Docker's messages for what is wrong with them."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidParameter, NotFound
from dockyard.volumes import specs


def _record(hc=None, volumes=None):
    return {"Id": "c" * 64, "Config": {"Volumes": volumes}, "HostConfig": hc or {}}


def _no_containers(ref):
    raise NotFound(f"No such container: {ref}")


def _points(hc=None, volumes=None, lookup=_no_containers):
    return [s.mount_point("/vols/" + (s.source or "ANON")) for s in specs.plan(_record(hc, volumes), lookup)]


def test_named_volume_bind_and_anonymous_binds_show_like_docker():
    points = {p["Destination"]: p for p in _points({"Binds": ["data:/var/lib/db", "/srv/www:/usr/share/html:ro", "/cache"]})}
    assert points["/var/lib/db"] == {"Type": "volume", "Name": "data", "Source": "/vols/data",
                                     "Destination": "/var/lib/db", "Driver": "local", "Mode": "z",
                                     "RW": True, "Propagation": ""}
    assert points["/usr/share/html"] == {"Type": "bind", "Source": "/srv/www", "Destination": "/usr/share/html",
                                         "Mode": "ro", "RW": False, "Propagation": "rprivate"}
    # `-v /path` sent in Binds (the API allows it) is an anonymous volume with mode z.
    assert points["/cache"]["Type"] == "volume" and points["/cache"]["Mode"] == "z"


def test_modes_propagation_and_nocopy():
    [bind] = specs.plan(_record({"Binds": ["/h:/x:rw,rshared"]}), _no_containers)
    assert bind.propagation == "rshared" and bind.rw and bind.mode == "rw,rshared"
    [vol] = specs.plan(_record({"Binds": ["v1:/x:ro,nocopy"]}), _no_containers)
    assert not vol.copy and not vol.rw and vol.mode == "ro,nocopy"
    [z] = specs.plan(_record({"Binds": ["/h:/x:Z"]}), _no_containers)
    assert z.rw and z.propagation == "rprivate"


@pytest.mark.parametrize("bind, message", [
    ("/h:/", "invalid volume specification: '/h:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"),
    ("v1:/", "invalid volume specification: 'v1:/': invalid mount config for type \"volume\": invalid specification: destination can't be '/'"),
    ("v1:rel", "invalid volume specification: 'v1:rel': invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute"),
    ("v1:/x:bogus", "invalid mode: bogus"),
    ("v1:/x:ro,rw", "invalid mode: ro,rw"),
    ("/h:/x:nocopy", "invalid volume specification: '/h:/x:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified"),
    ("v1:/x:rshared", "invalid volume specification: 'v1:/x:rshared': invalid mount config for type \"volume\": field BindOptions must not be specified"),
    ("/x:rw", "invalid volume specification: '/x:rw'"),
    ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
    ("v1:/x:", "invalid volume specification: 'v1:/x:'"),
])
def test_bad_binds_are_refused_with_dockers_messages(bind, message):
    with pytest.raises(InvalidParameter) as caught:
        specs.plan(_record({"Binds": [bind]}), _no_containers)
    assert caught.value.message == message


@pytest.mark.parametrize("mount, message", [
    ({"Type": "bind", "Source": "/tmp", "Target": "/"}, "invalid specification: destination can't be '/'"),
    ({"Type": "bind", "Target": "/x"}, "field Source must not be empty"),
    ({"Type": "bind", "Source": "tmp", "Target": "/x"}, "invalid mount path: 'tmp' mount path must be absolute"),
    ({"Type": "bind", "Source": "/tmp"}, "field Target must not be empty"),
    ({"Type": "bind", "Source": "/tmp", "Target": "/x", "VolumeOptions": {}}, "field VolumeOptions must not be specified"),
    ({"Type": "bind", "Source": "/tmp", "Target": "/x", "BindOptions": {"Propagation": "bogus"}}, "invalid propagation mode: bogus"),
    ({"Type": "volume", "Target": "x"}, "invalid mount path: 'x' mount path must be absolute"),
    ({"Type": "volume", "Target": "/x", "ReadOnly": True}, "must not set ReadOnly mode when using anonymous volumes"),
    ({"Type": "volume", "Target": "/x", "BindOptions": {}}, "field BindOptions must not be specified"),
    ({"Type": "volume", "Source": "v", "Target": "/x", "VolumeOptions": {"Subpath": "../up"}}, "subpath must be a relative path within the volume"),
    ({"Type": "tmpfs", "Source": "abc", "Target": "/x"}, "field Source must not be specified"),
    ({"Type": "tmpfs", "Target": "/x", "TmpfsOptions": {"SizeBytes": -1}}, "invalid tmpfs size: -1"),
    ({"Type": "bogus", "Target": "/x"}, "mount type unknown"),
    ({"Target": "/x"}, "mount type unknown"),
])
def test_bad_mounts_are_refused_with_dockers_messages(mount, message):
    with pytest.raises(InvalidParameter) as caught:
        specs.plan(_record({"Mounts": [mount]}), _no_containers)
    kind = mount.get("Type", "")
    assert caught.value.message == f'invalid mount config for type "{kind}": {message}'


def test_mount_options_are_kept():
    plan = specs.plan(_record({"Mounts": [
        {"Type": "volume", "Source": "v2", "Target": "/n2", "ReadOnly": True,
         "VolumeOptions": {"NoCopy": True, "Subpath": "a/b", "Labels": {"k": "v"},
                           "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs", "device": "tmpfs"}}}},
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1777}},
        {"Type": "bind", "Source": "/h", "Target": "/b", "BindOptions": {"Propagation": "rslave", "CreateMountpoint": True}},
    ]}), _no_containers)
    bind, vol, tmpfs = plan  # ordered by destination: /b, /n2, /t
    assert (vol.source, vol.rw, vol.copy, vol.subpath, vol.labels, vol.driver_opts) == (
        "v2", False, False, "a/b", {"k": "v"}, {"type": "tmpfs", "device": "tmpfs"})
    assert vol.mount_point("/m")["Mode"] == "z"
    assert specs.tmpfs_options(tmpfs) == ["size=1m", "mode=1777"]
    assert bind.propagation == "rslave" and bind.create_source
    assert bind.mount_point()["Propagation"] == "rslave" and bind.mount_point()["Mode"] == ""


def test_unknown_volume_drivers_are_not_found():
    with pytest.raises(NotFound, match='create v1: error looking up volume plugin nope: plugin "nope" not found'):
        specs.plan(_record({"Binds": ["v1:/x"], "VolumeDriver": "nope"}), _no_containers)
    with pytest.raises(NotFound, match="plugin \"other\" not found"):
        specs.plan(_record({"Mounts": [{"Type": "volume", "Source": "v", "Target": "/x",
                                        "VolumeOptions": {"DriverConfig": {"Name": "other"}}}]}), _no_containers)


def test_duplicates_and_precedence():
    with pytest.raises(InvalidParameter, match="Duplicate mount point: /x"):
        specs.plan(_record({"Binds": ["a1:/x", "b1:/x/"]}), _no_containers)
    with pytest.raises(InvalidParameter, match="Duplicate mount point: /x"):
        specs.plan(_record({"Binds": ["a1:/x"], "Mounts": [{"Type": "volume", "Target": "/x"}]}), _no_containers)
    with pytest.raises(InvalidParameter, match="Duplicate mount point: /x"):
        specs.plan(_record({"Binds": ["a1:/x"], "Tmpfs": {"/x": ""}}), _no_containers)
    # An image VOLUME gives way to a bind, a named volume or a tmpfs at the same place.
    points = _points({"Binds": ["named:/data/"], "Tmpfs": {"/cache": ""}},
                     volumes={"/data": {}, "/cache": {}, "/logs": {}})
    assert [(p["Destination"], p.get("Name")) for p in points] == [("/data", "named"), ("/logs", "")]
    assert points[1]["Mode"] == ""  # Config.Volumes' anonymous volumes show no mode


def test_relative_and_root_anonymous_volumes_are_errors():
    with pytest.raises(InvalidParameter, match="invalid mount path: 'rel' mount path must be absolute"):
        specs.plan(_record(volumes={"rel": {}}), _no_containers)
    with pytest.raises(InvalidParameter, match="destination can't be '/'"):
        specs.plan(_record(volumes={"/": {}}), _no_containers)
    with pytest.raises(InvalidParameter, match="invalid mount path: 'tmp' mount path must be absolute"):
        specs.plan(_record({"Tmpfs": {"tmp": ""}}), _no_containers)


def test_destinations_are_cleaned():
    [spec] = specs.plan(_record({"Binds": ["v1://x/../y/./z/"]}), _no_containers)
    assert spec.destination == "/y/z"


def test_volumes_from_takes_volumes_and_binds_with_the_requested_mode():
    source = {"Id": "s" * 64, "HostConfig": {"Mounts": [
        {"Type": "volume", "Source": "sub", "Target": "/sub", "VolumeOptions": {"Subpath": "inner"}}]},
        "Mounts": [
            {"Type": "volume", "Name": "shared", "Source": "/v/shared/_data", "Destination": "/a",
             "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""},
            {"Type": "bind", "Source": "/h", "Destination": "/hb", "Mode": "ro", "RW": False,
             "Propagation": "rprivate"},
            {"Type": "volume", "Name": "sub", "Source": "/v/sub/_data", "Destination": "/sub",
             "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""},
            {"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "", "RW": True, "Propagation": ""},
        ]}

    def lookup(ref):
        if ref == "src":
            return source
        raise NotFound(f"No such container: {ref}")

    plain = {s.destination: s for s in specs.plan(_record({"VolumesFrom": ["src"]}), lookup)}
    assert set(plain) == {"/a", "/hb", "/sub"}  # a tmpfs is not handed on
    assert plain["/a"].rw and not plain["/hb"].rw and not plain["/a"].copy
    assert plain["/a"].mount_point("/v/shared/_data")["Mode"] == ""
    assert plain["/sub"].subpath == "inner"
    readonly = {s.destination: s for s in specs.plan(_record({"VolumesFrom": ["src:ro"]}), lookup)}
    assert not readonly["/a"].rw
    writable = {s.destination: s for s in specs.plan(_record({"VolumesFrom": ["src:rw"], "Binds": ["mine:/a"]}), lookup)}
    assert not writable["/hb"].rw  # `:rw` does not lift the source's read-only
    assert writable["/a"].source == "mine"  # an explicit -v wins
    with pytest.raises(InvalidParameter, match="invalid mode: bogus"):
        specs.plan(_record({"VolumesFrom": ["src:bogus"]}), lookup)
    with pytest.raises(InvalidParameter, match="propagation properties are not allowed"):
        specs.plan(_record({"VolumesFrom": ["src:rshared"]}), lookup)
    with pytest.raises(NotFound, match="No such container: gone"):
        specs.plan(_record({"VolumesFrom": ["gone"]}), lookup)


@pytest.mark.parametrize("name, ok", [
    ("ab", True), ("db-data", True), ("a.b_c-d", True), ("9z", True),
    ("a", False), ("-ab", False), ("a/b", False), ("./rel", False), ("/abs", False), ("a b", False),
])
def test_volume_names(name, ok):
    if ok:
        specs.validate_name(name)
        return
    with pytest.raises(InvalidParameter) as caught:
        specs.validate_name(name)
    assert caught.value.message.startswith(f"create {name}: ")
    if len(name) == 1:
        assert "volume name is too short" in caught.value.message
    else:
        assert 'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed' in caught.value.message
