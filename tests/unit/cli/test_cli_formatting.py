# SPDX-License-Identifier: Apache-2.0
"""Humanised durations and sizes, PORTS, tables: compared with docker 28.2.2's own output.

The expected tables below were printed by `docker ps` / `docker images` for the same
API responses (served from a recording socket), so any drift from Docker shows here.
"""

from __future__ import annotations

import pytest

from dockyard.cli.containers import PS_TABLE, PS_TITLES, ContainerRow
from dockyard.cli.formatting import (
    display_ports,
    ellipsis,
    parse_timestamp,
    short_id,
    since,
    tabwrite,
)
from dockyard.cli.images import IMAGE_TITLES, IMAGES_DIGESTS_TABLE, IMAGES_TABLE, image_rows
from dockyard.cli.listing import render_list
from dockyard.units import human_duration, human_size

NOW = 1_800_000_000


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (5, "5 seconds"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (59 * 60, "59 minutes"),
        (60 * 60, "About an hour"),
        (89 * 60, "About an hour"),  # rounds to the nearest hour
        (91 * 60, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (13 * 86400, "13 days"),
        (14 * 86400, "2 weeks"),
        (59 * 86400, "8 weeks"),
        (60 * 86400, "2 months"),
        (400 * 86400, "13 months"),
        (730 * 86400, "2 years"),
    ],
)
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    "size, text",
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (4261550, "4.26MB"),
        (123456789, "123MB"),
        (1e9, "1GB"),
        (1536, "1.54kB"),
    ],
)
def test_human_size(size, text):
    assert human_size(size) == text


def test_small_helpers():
    assert since(NOW - 90, NOW) == "About a minute ago"
    assert ellipsis("docker-entrypoint.sh nginx", 20) == "docker-entrypoint.s\u2026"
    assert ellipsis("short", 20) == "short"
    assert short_id("sha256:" + "ab" * 32) == "ab" * 6
    assert short_id("sha256:" + "ab" * 32, no_trunc=True) == "sha256:" + "ab" * 32
    assert parse_timestamp("2024-01-01T00:00:01.123456789Z") == pytest.approx(1704067201.123456)
    assert parse_timestamp("0001-01-01T00:00:00Z") is None


def test_ports_fold_ranges_like_docker():
    ports = [
        {"IP": "0.0.0.0", "PrivatePort": 7000, "PublicPort": 7000, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 7001, "PublicPort": 7001, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 7003, "PublicPort": 7003, "Type": "tcp"},
        {"IP": "127.0.0.1", "PrivatePort": 53, "PublicPort": 5353, "Type": "udp"},
        {"PrivatePort": 9000, "Type": "tcp"},
        {"PrivatePort": 9001, "Type": "tcp"},
    ]
    assert display_ports(ports) == (
        "0.0.0.0:7000-7001->7000-7001/tcp, 0.0.0.0:7003->7003/tcp, 9000-9001/tcp, "
        "127.0.0.1:5353->53/udp"
    )
    web = [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 443, "Type": "tcp"},
    ]
    assert display_ports(web) == "443/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
    assert display_ports([]) == ""


def test_tabwrite_minimum_width_and_padding():
    assert tabwrite("A\tBB\tlast\nlonger-cell-here\tx\ty") == (
        "A                  BB        last\nlonger-cell-here   x         y"
    )


CONTAINERS = [
    {
        "Id": "1" * 64,
        "Names": ["/web"],
        "Image": "nginx",
        "Command": "/docker-entrypoint.sh nginx -g 'daemon off;'",
        "Created": NOW - 90,
        "Ports": [
            {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"PrivatePort": 443, "Type": "tcp"},
        ],
        "Labels": {"a": "b", "c": "d"},
        "State": "running",
        "Status": "Up About a minute",
        "SizeRw": 12,
        "SizeRootFs": 4261550,
        "NetworkSettings": {"Networks": {"bridge": {}}},
        "Mounts": [
            {"Type": "volume", "Name": "vol1", "Source": "/var/lib/x", "Destination": "/data"}
        ],
    },
    {
        "Id": "2" * 64,
        "Names": ["/db", "/web/db"],
        "Image": "sha256:" + "e" * 64,
        "Command": "sleep 300",
        "Created": NOW - 3 * 3600,
        "Ports": [
            {"IP": "0.0.0.0", "PrivatePort": 7000, "PublicPort": 7000, "Type": "tcp"},
            {"IP": "0.0.0.0", "PrivatePort": 7001, "PublicPort": 7001, "Type": "tcp"},
            {"IP": "0.0.0.0", "PrivatePort": 7003, "PublicPort": 7003, "Type": "tcp"},
            {"IP": "127.0.0.1", "PrivatePort": 53, "PublicPort": 5353, "Type": "udp"},
            {"PrivatePort": 9000, "Type": "tcp"},
            {"PrivatePort": 9001, "Type": "tcp"},
        ],
        "Labels": {},
        "State": "exited",
        "Status": "Exited (0) 2 hours ago",
        "SizeRw": 0,
        "SizeRootFs": 0,
    },
    {
        "Id": "3" * 64,
        "Names": ["/x"],
        "Image": "busybox:latest",
        "Command": "",
        "Created": NOW - 86400 * 20,
        "Ports": [],
        "Labels": None,
        "State": "created",
        "Status": "Created",
    },
]

DOCKER_PS = """\
CONTAINER ID   IMAGE            COMMAND                  CREATED              STATUS                   PORTS                                                                                             NAMES
111111111111   nginx            "/docker-entrypoint.…"   About a minute ago   Up About a minute        443/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp                                                  web
222222222222   eeeeeeeeeeee     "sleep 300"              3 hours ago          Exited (0) 2 hours ago   0.0.0.0:7000-7001->7000-7001/tcp, 0.0.0.0:7003->7003/tcp, 9000-9001/tcp, 127.0.0.1:5353->53/udp   db
333333333333   busybox:latest   ""                       2 weeks ago          Created                                                                                                                    x
"""

DOCKER_PS_NO_TRUNC_SIZE_TAIL = [
    "web         12B (virtual 4.26MB)",
    "db,web/db   0B",
    "x           0B",
]

DOCKER_PS_JSON_FIRST = (
    '{"Command":"\\"/docker-entrypoint.…\\"","CreatedAt":"%s","ID":"111111111111","Image":"nginx",'
    '"Labels":"a=b,c=d","LocalVolumes":"0","Mounts":"vol1","Names":"web","Networks":"bridge",'
    '"Platform":null,"Ports":"443/tcp, 0.0.0.0:8080-\\u003e80/tcp, [::]:8080-\\u003e80/tcp",'
    '"RunningFor":"About a minute ago","Size":"12B (virtual 4.26MB)","State":"running",'
    '"Status":"Up About a minute"}'
)


def _ps(fmt, trunc=True, table=PS_TABLE):
    rows = [ContainerRow(c, trunc=trunc, now=NOW) for c in CONTAINERS]
    return render_list(fmt, rows, PS_TITLES, table)


def test_ps_table_matches_docker():
    assert _ps(None) == DOCKER_PS


def test_ps_no_trunc_with_size_matches_docker():
    out = _ps(None, trunc=False, table=PS_TABLE + "\t{{.Size}}").splitlines()
    assert out[0].endswith("NAMES       SIZE")
    assert out[1].startswith("1" * 64 + "   nginx   ")
    assert "\"/docker-entrypoint.sh nginx -g 'daemon off;'\"" in out[1]
    for line, tail in zip(out[1:], DOCKER_PS_NO_TRUNC_SIZE_TAIL, strict=True):
        assert line.endswith(tail)


def test_ps_json_and_custom_table_match_docker():
    from dockyard.cli.formatting import go_time

    first = _ps("json").splitlines()[0]
    assert first == DOCKER_PS_JSON_FIRST % go_time(NOW - 90)
    custom = _ps(
        'table {{.ID}}\\t{{.Label "a"}}\\t{{.Labels}}\\t{{.Mounts}}\\t{{.Networks}}\\t{{.State}}'
    )
    assert custom.splitlines() == [
        "CONTAINER ID   a         LABELS    MOUNTS    NETWORKS   STATE",
        "111111111111   b         a=b,c=d   vol1      bridge     running",
        "222222222222                                            exited",
        "333333333333                                            created",
    ]
    assert _ps("{{.ID}}") == "111111111111\n222222222222\n333333333333\n"


IMAGES = [
    {
        "Id": "sha256:" + "a" * 64,
        "RepoTags": ["busybox:latest", "busybox:1.36"],
        "RepoDigests": ["busybox@sha256:" + "9" * 64],
        "Created": NOW - 86400 * 400,
        "Size": 4261550,
        "SharedSize": -1,
        "Containers": -1,
    },
    {
        "Id": "sha256:" + "b" * 64,
        "RepoTags": ["localhost:5000/me/app:v1"],
        "RepoDigests": [],
        "Created": NOW - 7200,
        "Size": 123456789,
        "SharedSize": -1,
        "Containers": 2,
    },
    {
        "Id": "sha256:" + "c" * 64,
        "RepoTags": [],
        "RepoDigests": ["ghost@sha256:" + "8" * 64],
        "Created": NOW - 30,
        "Size": 999,
        "SharedSize": -1,
        "Containers": -1,
    },
    {
        "Id": "sha256:" + "d" * 64,
        "RepoTags": None,
        "RepoDigests": None,
        "Created": NOW - 5,
        "Size": 1000000000,
        "SharedSize": -1,
        "Containers": -1,
    },
]

DOCKER_IMAGES = """\
REPOSITORY              TAG       IMAGE ID       CREATED          SIZE
busybox                 latest    aaaaaaaaaaaa   13 months ago    4.26MB
busybox                 1.36      aaaaaaaaaaaa   13 months ago    4.26MB
localhost:5000/me/app   v1        bbbbbbbbbbbb   2 hours ago      123MB
ghost                   <none>    cccccccccccc   30 seconds ago   999B
<none>                  <none>    dddddddddddd   5 seconds ago    1GB
"""

DOCKER_IMAGES_DIGESTS = """\
REPOSITORY              TAG       DIGEST                                                                    IMAGE ID       CREATED          SIZE
busybox                 latest    sha256:9999999999999999999999999999999999999999999999999999999999999999   aaaaaaaaaaaa   13 months ago    4.26MB
busybox                 1.36      sha256:9999999999999999999999999999999999999999999999999999999999999999   aaaaaaaaaaaa   13 months ago    4.26MB
localhost:5000/me/app   v1        <none>                                                                    bbbbbbbbbbbb   2 hours ago      123MB
ghost                   <none>    sha256:8888888888888888888888888888888888888888888888888888888888888888   cccccccccccc   30 seconds ago   999B
<none>                  <none>    <none>                                                                    dddddddddddd   5 seconds ago    1GB
"""


def _images(fmt, digests=False, untagged=None, table=IMAGES_TABLE, trunc=True):
    rows = []
    for image in IMAGES:
        for row in image_rows(image, trunc=trunc, digests=digests, untagged_digests=untagged):
            row.now = NOW
            rows.append(row)
    return render_list(fmt, rows, IMAGE_TITLES, table)


def test_images_tables_match_docker():
    assert _images(None) == DOCKER_IMAGES
    assert _images(None, digests=True, table=IMAGES_DIGESTS_TABLE) == DOCKER_IMAGES_DIGESTS
    assert _images("{{.ID}}", trunc=False).splitlines()[:2] == ["sha256:" + "a" * 64] * 2


def test_images_json_digest_fields_match_docker():
    lines = _images("json").splitlines()
    assert '"Digest":"\\u003cnone\\u003e"' in lines[0]
    assert '"Digest":""' in lines[3]  # digest-only rows are empty unless --digests
    assert '"Containers":"2"' in lines[2]
    assert (
        '"SharedSize":"N/A","Size":"4.26MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"4.262MB"'
        in lines[0]
    )
    assert _images("{{.Digest}}", digests=True, untagged=False).splitlines() == [
        "sha256:" + "9" * 64,
        "sha256:" + "9" * 64,
        "<none>",
        "",
        "<none>",
    ]
