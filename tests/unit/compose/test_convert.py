# SPDX-License-Identifier: Apache-2.0
"""A service becomes a create body with Docker Compose's labels, names and mounts."""

from __future__ import annotations

import textwrap

from dockyard.compose.convert import container_name, create_body
from dockyard.compose.loader import Options, load_project


def test_create_body(tmp_path):
    (tmp_path / "compose.yaml").write_text(textwrap.dedent("""\
        services:
          web:
            image: busybox
            command: httpd -f -p 80
            ports: ["8080:80"]
            volumes: [data:/data, ./site:/site:ro, /anon]
            depends_on: {db: {condition: service_healthy, restart: true}}
            networks: {front: {aliases: [www]}, back: {ipv4_address: 10.9.0.5}}
            restart: unless-stopped
            mem_limit: 64m
            cpus: 0.5
            stop_grace_period: 3s
            healthcheck: {test: [CMD, "true"], interval: 2s, retries: 3}
            environment: {A: "1"}
          db: {image: busybox, network_mode: none}
        networks: {front: {}, back: {}}
        volumes: {data: {}}
        """))
    p = load_project(Options(cwd=str(tmp_path), environ={}, project_name="proj"))
    body, connect = create_body(p, "web", 2, config_hash="h", image_id="sha256:abc")
    labels = body["Labels"]
    assert labels["com.docker.compose.project"] == "proj"
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "2"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["com.docker.compose.config-hash"] == "h"
    assert labels["com.docker.compose.depends_on"] == "db:service_healthy:true"
    assert labels["com.docker.compose.image"] == "sha256:abc"
    assert labels["com.docker.compose.project.working_dir"] == str(tmp_path)
    assert labels["com.docker.compose.project.config_files"] == str(tmp_path / "compose.yaml")
    assert "com.docker.compose.version" in labels
    assert container_name(p, "web", 2) == "proj-web-2"
    assert body["Cmd"] == ["httpd", "-f", "-p", "80"]
    assert body["Env"] == ["A=1"]
    assert body["ExposedPorts"] == {"80/tcp": {}}
    assert body["StopTimeout"] == 3
    assert body["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 2_000_000_000, "Retries": 3}
    host = body["HostConfig"]
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert host["Binds"] == [f"{tmp_path}/site:/site:ro"]
    assert host["Mounts"] == [
        {"Type": "volume", "Source": "proj_data", "Target": "/data", "ReadOnly": False},
        {"Type": "volume", "Source": "", "Target": "/anon", "ReadOnly": False},
    ]
    assert host["RestartPolicy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}
    assert host["Memory"] == 64 << 20 and host["NanoCpus"] == 500_000_000
    # The first network at create, the others connected before start.
    assert host["NetworkMode"] == "proj_back"
    assert body["NetworkingConfig"]["EndpointsConfig"] == {
        "proj_back": {"Aliases": ["web"], "IPAMConfig": {"IPv4Address": "10.9.0.5"}}
    }
    assert connect == [("proj_front", {"Aliases": ["web", "www"]})]
    db, _ = create_body(p, "db", 1, config_hash="h")
    assert db["HostConfig"]["NetworkMode"] == "none"
    assert db["NetworkingConfig"] == {"EndpointsConfig": {}}
