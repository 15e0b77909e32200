# SPDX-License-Identifier: Apache-2.0
"""The HTTP edge on its own: version prefixes, Docker's ping headers, errors → status,
stdcopy frames and detach-key scanning, with a fake daemon behind the routers."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dockyard.errors import Conflict, NotFound
from dockyard.server import stdcopy
from dockyard.server.app import make_app
from dockyard.server.attach import _scan_detach, parse_detach_keys


class _FakeContainers:
    def get(self, ref):
        raise NotFound(f"No such container: {ref}")

    def inspect(self, ref, size=False):
        return self.get(ref)

    async def start(self, ref):
        raise Conflict("cannot start a paused container, try unpause instead")


class _FakeDaemon:
    containers = _FakeContainers()

    def __getattr__(self, name):
        return None  # services whose routes these tests do not exercise

    def version(self):
        return {"ApiVersion": "1.45"}


def _request(method: str, path: str):
    async def go():
        async with TestClient(TestServer(make_app(_FakeDaemon()))) as client:
            response = await client.request(method, path)
            try:
                body = await response.json()
            except Exception:
                body = await response.text()
            return response.status, response.headers, body

    return asyncio.run(go())


def test_ping_has_docker_headers():
    status, headers, body = _request("GET", "/_ping")
    assert status == 200 and body == "OK"
    assert headers["Api-Version"] == "1.45" and headers["Ostype"] == "linux"


def test_versions_in_range_are_served():
    for prefix in ("", "/v1.24", "/v1.41", "/v1.45"):
        assert _request("GET", prefix + "/version")[0] == 200


def test_too_new_and_too_old_versions_are_refused():
    status, _, body = _request("GET", "/v1.46/version")
    assert status == 400 and body["message"] == "client version 1.46 is too new. Maximum supported API version is 1.45"
    status, _, body = _request("GET", "/v1.12/version")
    assert status == 400 and "too old" in body["message"]


def test_typed_errors_map_to_docker_statuses():
    assert _request("GET", "/containers/abc/json")[0] == 404
    assert _request("GET", "/containers/abc/json")[2] == {"message": "No such container: abc"}
    assert _request("POST", "/v1.45/containers/abc/start")[0] == 409
    status, _, body = _request("GET", "/no/such/route")
    assert status == 404 and body == {"message": "page not found"}


def test_stdcopy_frame():
    assert stdcopy.frame(stdcopy.STDERR, b"hi") == b"\x02\x00\x00\x00\x00\x00\x00\x02hi"


def testparse_detach_keys():
    keys = parse_detach_keys(None)
    assert keys == b"\x10\x11"
    assert parse_detach_keys("ctrl-a,x") == b"\x01x"
    assert _scan_detach(b"abc\x10", keys) == (b"abc", b"\x10", False)
    assert _scan_detach(b"\x10\x11rest", keys) == (b"", b"", True)
    assert _scan_detach(b"plain", keys) == (b"plain", b"", False)


class _BreakingImages:
    """An image save that fails after its 200 was prepared, with `sent` bytes out."""

    def __init__(self, sent):
        self.sent = sent

    def get(self, name):
        return name

    def save(self, names, out):
        out.write(b"x" * self.sent)
        raise Conflict("layer blob went missing mid-save")


@pytest.mark.parametrize("sent", [0, 70000])
def test_an_error_mid_stream_cuts_the_stream_instead_of_writing_a_response_into_it(sent):
    class Daemon(_FakeDaemon):
        images = _BreakingImages(sent)

    async def go():
        async with TestClient(TestServer(make_app(Daemon()))) as client:
            response = await client.get("/images/busybox/get")
            assert response.status == 200
            received = b""
            try:
                async for chunk in response.content.iter_any():
                    received += chunk
            except Exception as e:  # the truncated chunked body
                return received, e
            return received, None

    received, error = asyncio.run(asyncio.wait_for(go(), 10))
    assert error is not None and received == b"x" * sent
