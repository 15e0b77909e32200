# SPDX-License-Identifier: Apache-2.0
"""Property-based fuzzing of the Engine API with schemathesis.

Requests generated from Docker's own API description (v1.45), valid and invalid, go to a
real daemon over a plain TCP listener (`--tls=false`: loopback only, its own roots). For
every answer: no 5xx, no hang, no Python traceback in the body. Bad input must be a 4xx
with a message. Whatever the requests created is removed afterwards.
"""

from __future__ import annotations

import time

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from tests.support.daemon import running_daemon  # noqa: E402
from tests.support.tls import free_port  # noqa: E402

pytestmark = pytest.mark.requires_root

SPEC = "/work/shared/specs/docker-engine-api-v1.45.yaml"
# (method, path) of the operations dockyard implements and that answer without streaming
# forever; each gets MAX_EXAMPLES valid and MAX_EXAMPLES invalid requests.
OPERATIONS = [
    ("GET", "/_ping"),
    ("GET", "/version"),
    ("GET", "/info"),
    ("GET", "/containers/json"),
    ("GET", "/containers/{id}/json"),
    ("GET", "/containers/{id}/top"),
    ("GET", "/images/json"),
    ("GET", "/images/{name}/json"),
    ("GET", "/images/{name}/history"),
    ("GET", "/volumes"),
    ("GET", "/volumes/{name}"),
    ("GET", "/networks"),
    ("GET", "/networks/{id}"),
    ("GET", "/exec/{id}/json"),
    ("POST", "/containers/create"),
    ("POST", "/volumes/create"),
    ("POST", "/networks/create"),
]
MAX_EXAMPLES = 20
REQUEST_TIMEOUT = 15


@pytest.fixture(scope="module")
def api():
    """The daemon, its plain-TCP base URL and the loaded API description."""
    port = free_port()
    with running_daemon(["-H", f"tcp://127.0.0.1:{port}", "--tls=false", "--bridge", "none"]) as handle:
        schema = schemathesis.openapi.from_path(SPEC)
        # An image for create bodies to name (built locally from busybox-static).
        status, body = handle.api("POST", "/images/create?fromImage=busybox&tag=latest")
        assert status == 200, body
        yield handle, f"http://127.0.0.1:{port}/v1.45", schema
        _remove_everything(handle)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_never_fails_on_our_side(api, method, path):
    handle, base_url, schema = api
    operation = schema[path][method]
    failures: list[str] = []
    sent = _fuzz(operation.as_strategy(generation_mode=GenerationMode.POSITIVE), base_url, failures)
    assert sent > 0
    if path == "/containers/create":
        # Nothing in the description makes `Image` required, so most bodies stop at "no
        # image"; these name one, to reach the parsing of Config and HostConfig.
        _fuzz(operation.as_strategy(generation_mode=GenerationMode.POSITIVE).map(_with_image),
              base_url, failures, examples=3 * MAX_EXAMPLES)
    try:
        _fuzz(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), base_url, failures)
    except Unsatisfiable:
        pass  # nothing to get wrong: the operation takes no parameters
    assert handle.process.poll() is None, f"daemon died:\n{handle.log_text()[-4000:]}"
    assert not failures, "\n".join(failures[:10])


def _fuzz(strategy, base_url: str, failures: list[str], examples: int = MAX_EXAMPLES) -> int:
    """Send the strategy's requests, recording answers that break the rules; returns how
    many were sent."""
    sent = 0

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case) -> None:
        nonlocal sent
        sent += 1
        started = time.monotonic()
        try:
            response = case.call(base_url=base_url, timeout=REQUEST_TIMEOUT)
        except Exception as e:  # a hang (timeout) or a dropped connection
            failures.append(f"{type(e).__name__}: {e}\n  {case.as_curl_command()}")
            return
        text = response.text
        if response.status_code >= 500 or "Traceback" in text:
            failures.append(f"{response.status_code} after {time.monotonic() - started:.1f}s: "
                            f"{text[:300]}\n  {case.as_curl_command()}")
        elif response.status_code >= 400 and "message" not in _json(response):
            failures.append(f"{response.status_code} without a message: {text[:300]}\n"
                            f"  {case.as_curl_command()}")

    run()
    return sent


def _with_image(case):
    if isinstance(case.body, dict):
        case.body = {**case.body, "Image": "busybox"}
        case.media_type = "application/json"
    return case


def _json(response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _remove_everything(handle) -> None:
    """Containers, then networks and volumes the fuzzer created (not the defaults)."""
    status, containers = handle.api("GET", "/containers/json?all=1")
    for c in containers if status == 200 else []:
        handle.api("DELETE", f"/containers/{c['Id']}?force=1&v=1")
    status, networks = handle.api("GET", "/networks")
    for n in networks if status == 200 else []:
        if n["Name"] not in ("bridge", "host", "none"):
            handle.api("DELETE", f"/networks/{n['Id']}")
    status, volumes = handle.api("GET", "/volumes")
    for v in (volumes.get("Volumes") or []) if status == 200 else []:
        handle.api("DELETE", f"/volumes/{v['Name']}?force=1")
