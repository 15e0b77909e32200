# SPDX-License-Identifier: Apache-2.0
"""`build --squash`: the final stage's layers become one on top of its FROM image's, with
the history, config and files Docker 20.10's classic builder gives (the expected layer
contents below are what that builder produced for the same Dockerfile)."""

import pytest

from tests.integration.builder.helpers import inspect, saved, tree, write_context

pytestmark = pytest.mark.requires_root

DOCKERFILE = """FROM busybox
RUN mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && echo gone > /tmp-file
RUN rm /tmp-file && rm -rf /home && echo three > /data/c
COPY f /data/f
RUN rm -rf /data/sub && mkdir /data/sub && echo new > /data/sub/n
ENV X=1
CMD ["sh"]
"""


def test_squash_makes_one_layer_over_the_base(daemon, tmp_path):
    ctx = write_context(tmp_path, {"Dockerfile": DOCKERFILE, "f": "ctx\n"})
    plain_id = daemon.cli("build", "-q", "-t", "sq-plain", str(ctx)).stdout.decode().strip()
    out = daemon.cli("build", "--squash", "-t", "sq-squashed", str(ctx)).stdout.decode()
    assert out.count("Using cache") == 6 and "Successfully tagged sq-squashed:latest" in out
    base, plain, squashed = (inspect(daemon, ref) for ref in ("busybox", "sq-plain", "sq-squashed"))
    base_layers = base["RootFS"]["Layers"]
    assert squashed["RootFS"]["Layers"][:-1] == base_layers
    assert len(squashed["RootFS"]["Layers"]) == len(base_layers) + 1 < len(plain["RootFS"]["Layers"])
    assert squashed["Config"] == plain["Config"] and squashed["Parent"] == ""

    config, layers, _ = saved(daemon, "sq-squashed")
    plain_config, _, _ = saved(daemon, "sq-plain")
    depth = len(base_layers) + 1  # busybox: its layer and its CMD
    history, plain_history = config["history"], plain_config["history"]
    assert history[:depth] == plain_history[:depth]
    assert [h["created_by"] for h in history[depth:-1]] == [h["created_by"] for h in plain_history[depth:]]
    assert all(h.get("empty_layer") for h in history[depth:-1])
    assert history[-1]["comment"] == f"merge {plain_id} to {base['Id']}"
    assert not history[-1].get("empty_layer") and "created_by" not in history[-1]
    # Only what differs from the base: no trace of /tmp-file (made and removed again),
    # no whiteout for what the base never had, /data/sub not opaque (the base has none).
    assert sorted(layers[-1]) == sorted(["data", "data/a", "data/c", "data/f", "data/sub",
                                         "data/sub/n", ".wh.home"])
    assert tree(daemon, "sq-squashed") == tree(daemon, "sq-plain")
    # A rebuild gives the same squashed image.
    again = daemon.cli("build", "-q", "--squash", str(ctx)).stdout.decode().strip()
    assert again == squashed["Id"]


def test_squash_from_a_stage_and_from_scratch(daemon, tmp_path):
    ctx = write_context(tmp_path, {"Dockerfile": """FROM scratch AS files
COPY a /a
COPY b /b
FROM files
COPY c /c
""", "a": "a\n", "b": "b\n", "c": "c\n"})
    files_id = daemon.cli("build", "-q", "--target", "files", str(ctx)).stdout.decode().strip()
    files = inspect(daemon, files_id)
    final = inspect(daemon, daemon.cli("build", "-q", "--squash", str(ctx)).stdout.decode().strip())
    assert final["RootFS"]["Layers"][:2] == files["RootFS"]["Layers"] and len(final["RootFS"]["Layers"]) == 3
    config, layers, _ = saved(daemon, final["Id"])
    assert layers[-1] == ["c"] and config["history"][-1]["comment"].endswith(f" to {files_id}")

    scratch_id = daemon.cli("build", "-q", "--squash", "--target", "files", str(ctx)).stdout.decode().strip()
    config, layers, _ = saved(daemon, scratch_id)
    assert sorted(layers[0]) == ["a", "b"] and len(layers) == 1
    assert config["history"][-1]["comment"] == f"create new from {files_id}"
    assert [bool(h.get("empty_layer")) for h in config["history"]] == [True, True, False]


def test_docker_cli_offers_squash(daemon, tmp_path, monkeypatch):
    # The docker CLI sends --squash only to a daemon that says it is experimental.
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    ctx = write_context(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n"})
    daemon.docker("build", "--squash", "-t", "sq-docker", str(ctx))
    layers = inspect(daemon, "sq-docker")["RootFS"]["Layers"]
    assert layers[:-1] == inspect(daemon, "busybox")["RootFS"]["Layers"] and len(layers) == 2
    assert b"Experimental:     true" in daemon.docker("version").stdout
