# SPDX-License-Identifier: Apache-2.0
"""Docker's rules as pure functions: the commit config merge and image config, archive path
splitting, Go's FileMode bits in the stat header, and the header's encoding."""

from __future__ import annotations

import base64
import json
import stat

import pytest

from dockyard.daemon.commit import image_config, image_tag, merge_config
from dockyard.daemon.filesystem import encode_stat, go_file_mode, split_request_path
from dockyard.errors import InvalidParameter
from dockyard.images.changes import apply_changes

CONTAINER = {
    "Hostname": "abc", "User": "", "Env": ["FOO=bar", "PATH=/usr/bin"], "Cmd": ["sh", "-c", "echo hi > /f"],
    "Image": "busybox", "WorkingDir": "/tmp", "Entrypoint": None, "Labels": {"a": "b"},
    "ExposedPorts": {"80/tcp": {}}, "Volumes": None, "OnBuild": None, "StopSignal": "SIGUSR1",
}


def test_commit_without_body_keeps_the_container_config_with_changes():
    # `docker commit -c 'ENV X=1' -c 'CMD ["cat","/f"]'`, as Docker 20.10 answered it.
    cfg = merge_config(apply_changes(CONTAINER, ["ENV X=1", 'CMD ["cat","/f"]']), CONTAINER)
    assert cfg["Env"] == ["FOO=bar", "PATH=/usr/bin", "X=1"]
    assert cfg["Cmd"] == ["cat", "/f"] and cfg["Entrypoint"] is None
    assert cfg["WorkingDir"] == "/tmp" and cfg["Labels"] == {"a": "b"} and cfg["Hostname"] == "abc"


def test_body_config_is_filled_from_the_container():
    cfg = merge_config({"Env": ["X=1", "FOO=mine"], "Labels": {"c": "d"}, "ExposedPorts": {"53/udp": {}}},
                       CONTAINER)
    assert cfg["Env"] == ["X=1", "FOO=mine", "PATH=/usr/bin"]
    assert cfg["Labels"] == {"c": "d", "a": "b"}
    assert cfg["ExposedPorts"] == {"53/udp": {}, "80/tcp": {}}
    assert cfg["Cmd"] == CONTAINER["Cmd"] and cfg["WorkingDir"] == "/tmp" and cfg["StopSignal"] == "SIGUSR1"


def test_entrypoint_change_drops_the_inherited_cmd():
    cfg = merge_config(apply_changes(CONTAINER, ['ENTRYPOINT ["top"]']), CONTAINER)
    assert cfg["Entrypoint"] == ["top"] and cfg["Cmd"] is None


def test_healthcheck_fields_fill_in():
    container = {**CONTAINER, "Healthcheck": {"Test": ["CMD", "true"], "Interval": 5, "Retries": 3}}
    cfg = merge_config({"Healthcheck": {"Interval": 9}}, container)
    assert cfg["Healthcheck"] == {"Interval": 9, "Test": ["CMD", "true"], "Retries": 3}


def test_bad_change_is_a_bad_request():
    with pytest.raises(InvalidParameter, match="from is not a valid change command"):
        apply_changes(CONTAINER, ["FROM x"])


def test_image_config_inherits_platform_and_history():
    parent = {"architecture": "arm64", "variant": "v8", "os": "linux",
              "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "CMD [\"sh\"]", "empty_layer": True}]}
    cfg = image_config(parent, {"Cmd": ["x"]}, author="Me <me@x>", comment="msg",
                       created_by="sh -c echo hi > /f", empty_layer=False)
    assert (cfg["architecture"], cfg["variant"], cfg["os"]) == ("arm64", "v8", "linux")
    assert cfg["author"] == "Me <me@x>" and cfg["comment"] == "msg" and cfg["config"] == {"Cmd": ["x"]}
    last = cfg["history"][-1]
    assert len(cfg["history"]) == 2 and last["created_by"] == "sh -c echo hi > /f"
    assert last["author"] == "Me <me@x>" and last["comment"] == "msg" and "empty_layer" not in last
    empty = image_config(parent, {}, author="", comment="", created_by="true", empty_layer=True)
    assert empty["history"][-1]["empty_layer"] is True and "author" not in empty


def test_image_tag():
    assert image_tag("committed", "1") == "docker.io/library/committed:1"
    assert image_tag("localhost:5000/a/b", None) == "localhost:5000/a/b:latest"
    with pytest.raises(InvalidParameter, match="must be lowercase"):
        image_tag("Bad_Repo", None)


@pytest.mark.parametrize("path, expected", [
    ("/data", ("/data", False, "data")),
    ("/data/", ("/data", True, "data")),
    ("/data/.", ("/data", True, ".")),
    ("/data/sub/..", ("/data", False, "data")),
    ("/", ("/", True, "/")),
    ("data//f", ("/data/f", False, "f")),
    ("//x/../..", ("/", False, "/")),
])
def test_split_request_path(path, expected):
    assert split_request_path(path) == expected


def test_go_file_mode_matches_docker():
    # Values taken from Docker's stat headers.
    assert go_file_mode(stat.S_IFDIR | 0o755) == 2147484141
    assert go_file_mode(stat.S_IFLNK | 0o777) == 134218239
    assert go_file_mode(stat.S_IFREG | 0o644) == 420
    assert go_file_mode(stat.S_IFDIR | 0o1777) == (1 << 31) | (1 << 20) | 0o777
    assert go_file_mode(stat.S_IFREG | 0o4755) == (1 << 23) | 0o755
    assert go_file_mode(stat.S_IFCHR | 0o666) == (1 << 26) | (1 << 21) | 0o666


def test_stat_header_is_base64_json():
    info = {"name": "f", "size": 6, "mode": 420, "mtime": "2024-01-01T00:00:00Z", "linkTarget": ""}
    assert json.loads(base64.b64decode(encode_stat(info))) == info
