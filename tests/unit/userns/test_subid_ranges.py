# SPDX-License-Identifier: Apache-2.0
"""--userns-remap settings: the option's forms, /etc/subuid and /etc/subgid parsing, the
range dockerd would allocate for `dockremap`, and the refusals (on temporary files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dockyard.daemon import userns
from dockyard.daemon.userns import RemapError, SubID
from dockyard.idmap import IDMap, IDRange


@pytest.mark.parametrize("option, expected", [
    ("default", ("default", None)), ("alice", ("alice", None)), ("alice:staff", ("alice", "staff")),
    ("1000", ("1000", None)), ("1000:1000", ("1000", "1000")),
])
def test_option_forms(option, expected):
    assert userns.parse_option(option) == expected


@pytest.mark.parametrize("option", ["", ":g", "u:", "a:b:c"])
def test_bad_option_forms(option):
    with pytest.raises(RemapError, match="invalid user/group specification"):
        userns.parse_option(option)


def test_subid_file_parsing(tmp_path):
    path = tmp_path / "subuid"
    path.write_text("# comment\n\nalice:100000:65536\n1001:165536:1000\nalice:300000:10\n")
    entries = userns.read_subids(path)
    assert entries == [SubID("alice", 100000, 65536), SubID("1001", 165536, 1000), SubID("alice", 300000, 10)]
    assert userns.ranges_for(entries, {"alice"}) == [(100000, 65536), (300000, 10)]
    assert userns.ranges_for(entries, {"bob", "1001"}) == [(165536, 1000)]
    assert userns.read_subids(tmp_path / "missing") == []


@pytest.mark.parametrize("line", ["alice:1", "alice:x:1", ":1:2", "alice:1:0", "alice:-1:5"])
def test_malformed_subid_line_is_named(tmp_path, line):
    path = tmp_path / "subuid"
    path.write_text(f"ok:1:1\n{line}\n")
    with pytest.raises(RemapError, match=f"{path} line 2"):
        userns.read_subids(path)


@pytest.mark.parametrize("taken, start", [
    ([], 100000),
    ([("a", 1000, 5000)], 100000),                          # below the start: no matter
    ([("a", 100000, 65536)], 165536),                       # the usual first user
    ([("a", 100000, 65536), ("b", 165536, 65536)], 231072),
    ([("a", 150000, 10)], 150010),                          # too small a gap before it
    ([("a", 300000, 10)], 100000),                          # a gap big enough before it
    ([("b", 165536, 65536), ("a", 100000, 65536)], 231072),  # file order does not matter
    ([("a", 99999, 2)], 100001),                            # straddling the start
])
def test_next_free_range(taken, start):
    entries = [SubID(n, s, c) for n, s, c in taken]
    assert userns.next_free_start(entries) == start


def test_ensure_ranges_appends_once(tmp_path):
    path = tmp_path / "subuid"
    path.write_text("alice:100000:65536")  # no final newline
    userns.ensure_ranges(path, "dockremap", 999)
    userns.ensure_ranges(path, "dockremap", 999)
    assert path.read_text() == "alice:100000:65536\ndockremap:165536:65536\n"
    empty = tmp_path / "subgid"
    userns.ensure_ranges(empty, "dockremap")
    assert empty.read_text() == "dockremap:100000:65536\n"


def test_ensure_ranges_counts_a_line_by_uid(tmp_path):
    path = tmp_path / "subuid"
    path.write_text("999:500000:65536\n")
    userns.ensure_ranges(path, "dockremap", 999)
    assert path.read_text() == "999:500000:65536\n"


def test_setup_with_a_named_user(tmp_path):
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("daemon:200000:65536\ndaemon:400000:1000\n")
    subgid.write_text("1:300000:65536\n")  # by numeric uid
    remap = userns.setup("daemon", subuid=subuid, subgid=subgid)
    assert (remap.user, remap.group) == ("daemon", "daemon")
    assert remap.idmap == IDMap((IDRange(0, 200000, 65536), IDRange(65536, 400000, 1000)),
                                (IDRange(0, 300000, 65536),))
    assert remap.dir_name == "200000.300000"
    assert userns.setup("1:1", subuid=subuid, subgid=subgid).user == "daemon"


def test_setup_refuses_a_user_without_ranges(tmp_path):
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("someone:100000:65536\n")
    subgid.write_text("daemon:100000:65536\n")
    with pytest.raises(RemapError, match='no subordinate uid ranges for user "daemon"'):
        userns.setup("daemon", subuid=subuid, subgid=subgid)
    subuid.write_text("daemon:100000:65536\n")
    subgid.write_text("")
    with pytest.raises(RemapError, match='no subordinate gid ranges for user "daemon"'):
        userns.setup("daemon", subuid=subuid, subgid=subgid)


def test_setup_refuses_unknown_names_and_root(tmp_path):
    with pytest.raises(RemapError, match='no user "no-such-user-here"'):
        userns.setup("no-such-user-here", subuid=tmp_path / "u", subgid=tmp_path / "g")
    with pytest.raises(RemapError, match='no group "no-such-group-here"'):
        userns.setup("daemon:no-such-group-here", subuid=tmp_path / "u", subgid=tmp_path / "g")
    with pytest.raises(RemapError, match="root cannot be remapped"):
        userns.setup("root", subuid=tmp_path / "u", subgid=tmp_path / "g")


def test_default_makes_dockremap_and_its_ranges(tmp_path, monkeypatch):
    made: list[list[str]] = []
    monkeypatch.setattr(userns, "_ensure_default_user", lambda: made.append(["dockremap"]))
    import grp
    import pwd

    fake_user = pwd.struct_passwd(("dockremap", "x", 990, 990, "", "/nonexistent", "/bin/false"))
    fake_group = grp.struct_group(("dockremap", "x", 990, []))
    monkeypatch.setattr(userns, "_lookup_user", lambda spec: fake_user)
    monkeypatch.setattr(userns, "_lookup_group", lambda spec: fake_group)
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("alice:100000:65536\n")
    remap = userns.setup("default", subuid=subuid, subgid=subgid)
    assert made == [["dockremap"]]
    assert subuid.read_text() == "alice:100000:65536\ndockremap:165536:65536\n"
    assert subgid.read_text() == "dockremap:100000:65536\n"
    assert (remap.user, remap.group, remap.dir_name) == ("dockremap", "dockremap", "165536.100000")
    # A second start finds them.
    assert userns.setup("default", subuid=subuid, subgid=subgid) == remap
    assert subuid.read_text().count("dockremap") == 1


def test_default_user_creation_commands(monkeypatch):
    ran: list[list[str]] = []
    monkeypatch.setattr(userns, "_exists", lambda lookup, name: False)
    monkeypatch.setattr(userns, "_run", ran.append)
    userns._ensure_default_user()
    assert ran == [["groupadd", "-r", "dockremap"],
                   ["useradd", "-r", "-g", "dockremap", "-M", "-s", "/bin/false", "dockremap"]]


@pytest.fixture
def open_tmp():
    """A scratch directory the remapped root may pass through (pytest's are 0700)."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="dockyard-userns-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown)")
def test_store_directory_permissions(open_tmp):
    tmp_path = open_tmp
    remap = userns.Remap("u", "g", IDMap.from_host_ranges([(100000, 65536)], [(200000, 65536)]))
    data_root = tmp_path / "data"
    root = userns.prepare_root(data_root, remap)
    assert root == data_root / "100000.200000"
    st = os.stat(root)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o710, 0, 200000)
    assert stat.S_IMODE(os.stat(data_root).st_mode) == 0o711
    assert userns.prepare_root(data_root, remap) == root  # again: nothing changes


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (another uid's view)")
def test_the_exec_root_is_opened_and_a_closed_parent_refused(open_tmp):
    exec_root = open_tmp / "run"
    exec_root.mkdir(mode=0o700)
    os.chmod(exec_root, 0o700)
    userns.make_reachable(exec_root, 100000, 100000)
    assert stat.S_IMODE(os.stat(exec_root).st_mode) == 0o701
    closed = open_tmp / "closed"
    closed.mkdir(mode=0o700)
    os.chmod(closed, 0o700)
    with pytest.raises(RemapError, match=f"{closed} does not let the remapped root"):
        userns.make_reachable(closed / "run", 100000, 100000)
    # The store may sit anywhere: nothing in it is reached from inside a container.
    remap = userns.Remap("u", "g", IDMap.from_host_ranges([(100000, 65536)], [(100000, 65536)]))
    assert userns.prepare_root(closed / "data", remap) == closed / "data" / "100000.100000"


def test_dockerd_refusals_only_when_remapped():
    from dockyard.config import DaemonConfig
    from dockyard.errors import InvalidParameter

    off = DaemonConfig()
    on = DaemonConfig(id_map=IDMap.from_host_ranges([(100000, 65536)], [(100000, 65536)]))
    for hc in ({"Privileged": True}, {"NetworkMode": "host"}, {"PidMode": "host"}):
        userns.check_host_config(off, hc)
        userns.check_host_config(on, {**hc, "UsernsMode": "host"})
        with pytest.raises(InvalidParameter):
            userns.check_host_config(on, hc)
    assert userns.container_idmap(on, {"HostConfig": {"UsernsMode": "host"}}).empty
    assert userns.container_idmap(on, {"HostConfig": {}}) == on.id_map

