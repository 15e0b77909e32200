# SPDX-License-Identifier: Apache-2.0
"""`dockyard ps` must start fast: the CLI's import path stays on the standard library."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys, time
start = time.perf_counter()
import dockyard.cli.main
main_seconds = time.perf_counter() - start
after_main = sorted(m for m in ("aiohttp", "yaml", "http.client", "asyncio") if m in sys.modules)
import dockyard.cli.containers, dockyard.cli.listing, dockyard.client.api
print(json.dumps({
    "main_seconds": main_seconds,
    "after_main": after_main,
    "ps_path": sorted(m for m in sys.modules if m.split(".")[0] in ("aiohttp", "yaml", "multidict", "yarl")),
}))
"""


def _probe() -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def test_main_imports_no_heavy_modules_and_is_fast():
    runs = [_probe() for _ in range(3)]
    # http.client (and its email and ssl imports) only comes with a command that needs it.
    assert runs[0]["after_main"] == []
    assert runs[0]["ps_path"] == []
    # The best of three, to keep a busy machine from failing the test by accident.
    assert min(r["main_seconds"] for r in runs) < 0.050
