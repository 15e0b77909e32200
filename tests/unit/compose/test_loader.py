# SPDX-License-Identifier: Apache-2.0
"""Loading compose projects: files, .env, interpolation, merging, extends, include,
profiles, validation errors, the normalised model and the config hash."""

from __future__ import annotations

import textwrap

import pytest

from dockyard.compose.confighash import service_hash
from dockyard.compose.dotenv import parse_dotenv
from dockyard.compose.errors import ComposeError
from dockyard.compose.interpolate import interpolate, interpolate_tree
from dockyard.compose.loader import Options, find_files, load_project, normalize_project_name
from dockyard.compose.planner import dependency_order, levels, plan_service


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path, environ=None, **kw):
    return load_project(Options(cwd=str(tmp_path), environ=environ or {}, **kw))


SEED = """\
version: '3'
services:
  web:
    image: nginx:latest
    ports:
      - "8080:80"
    depends_on:
      - db
  db:
    image: mysql:latest
    environment:
      MYSQL_ROOT_PASSWORD: 1234
    volumes:
      - db-data:/var/lib/mysql
volumes:
  db-data:
"""


def test_seed_project_normalised(tmp_path):
    project_dir = tmp_path / "My Project"
    write(project_dir / "docker-compose.yml", SEED)
    p = load(project_dir)
    assert p.name == "myproject"
    assert p.to_dict() == {
        "name": "myproject",
        "services": {
            "db": {
                "image": "mysql:latest",
                "environment": {"MYSQL_ROOT_PASSWORD": "1234"},
                "volumes": [{"type": "volume", "source": "db-data", "target": "/var/lib/mysql", "volume": {}}],
                "networks": {"default": None},
            },
            "web": {
                "image": "nginx:latest",
                "ports": [{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"}],
                "depends_on": {"db": {"condition": "service_started", "required": True}},
                "networks": {"default": None},
            },
        },
        "networks": {"default": {"name": "myproject_default"}},
        "volumes": {"db-data": {"name": "myproject_db-data"}},
    }


def test_yaml_12_scalars(tmp_path):
    write(tmp_path / "compose.yaml", """\
        services:
          s:
            image: busybox
            ports: [22:22]
            environment: {A: yes, B: on, C: 0o10, D: true}
        """)
    svc = load(tmp_path).services["s"]
    assert svc["ports"][0]["published"] == "22"  # not the base-60 integer 1342
    assert svc["environment"] == {"A": "yes", "B": "on", "C": "8", "D": "true"}


def test_files_found_upwards_with_override(tmp_path):
    write(tmp_path / "compose.yaml", "services: {a: {image: busybox}}\n")
    write(tmp_path / "compose.override.yaml", "services: {a: {command: echo hi}}\n")
    sub = tmp_path / "x" / "y"
    sub.mkdir(parents=True)
    assert find_files(str(sub)) == [str(tmp_path / "compose.yaml"), str(tmp_path / "compose.override.yaml")]
    p = load(sub)
    assert p.services["a"]["command"] == ["echo", "hi"]
    assert p.working_dir == str(tmp_path)


def test_no_file(tmp_path):
    with pytest.raises(ComposeError, match="no configuration file provided"):
        load(tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$A", "a"), ("${A}", "a"), ("${U:-d}", "d"), ("${E:-d}", "d"), ("${E-d}", ""),
        ("${U-d}", "d"), ("${A:+x}", "x"), ("${E:+x}", ""), ("${E+x}", "x"), ("$$A", "$A"),
        ("${U:-${A}-z}", "a-z"), ("pre${A}post", "prepost".replace("pre", "prea", 1)),
        ("${U}", ""),
    ],
)
def test_interpolation(text, expected):
    assert interpolate(text, {"A": "a", "E": ""}) == expected


def test_interpolation_errors():
    with pytest.raises(ComposeError, match="required variable V is missing a value: need V"):
        interpolate_tree({"x": "${V:?need V}"}, {})
    with pytest.raises(ComposeError, match="required variable V"):
        interpolate_tree({"x": "${V?}"}, {})
    interpolate_tree({"x": "${V?}"}, {"V": ""})  # set but empty is fine for `?`
    with pytest.raises(ComposeError, match=r"invalid interpolation format for services.a.image"):
        interpolate_tree({"services": {"a": {"image": "${"}}}, {})


def test_env_file_and_shell_precedence(tmp_path):
    write(tmp_path / "compose.yaml", """\
        services:
          a:
            image: "busybox:${TAG}"
            environment: [FROM_SHELL, MISSING, "X=${X:-none}"]
        """)
    write(tmp_path / ".env", "TAG=1.0\nX='lit $Y'\nCOMPOSE_PROJECT_NAME=fromenv\n")
    p = load(tmp_path, environ={"FROM_SHELL": "s", "TAG": "2.0"})
    assert p.services["a"]["image"] == "busybox:2.0"
    assert p.services["a"]["environment"] == {"FROM_SHELL": "s", "MISSING": None, "X": "lit $Y"}
    assert p.name == "fromenv"
    other = write(tmp_path / "other.env", "TAG=3.0\n")
    assert load(tmp_path, env_files=[str(other)]).services["a"]["image"] == "busybox:3.0"


def test_dotenv_syntax():
    text = 'export A=1\nB="x\\ny ${A}"\nC=plain # comment\nD=a#b\nE\n# c\n'
    assert parse_dotenv(text, {"E": "e"}) == {"A": "1", "B": "x\ny 1", "C": "plain", "D": "a#b", "E": "e"}


def test_merge_rules(tmp_path):
    write(tmp_path / "a.yml", """\
        services:
          s:
            image: busybox
            command: sh -c "one"
            environment: {A: "1", B: "1"}
            ports: ["80:80", "81:81"]
            volumes: ["/a:/data", "v:/other"]
            dns: [1.1.1.1]
            labels: [x=1]
        volumes: {v: {}}
        """)
    write(tmp_path / "b.yml", """\
        services:
          s:
            command: ["two"]
            environment: [B=2, C=3]
            ports: ["80:80", "82:82"]
            volumes: ["/b:/data"]
            dns: [1.1.1.1, 8.8.8.8]
            labels: {y: "2"}
        """)
    s = load(tmp_path, files=["a.yml", "b.yml"]).services["s"]
    assert s["command"] == ["two"]
    assert s["environment"] == {"A": "1", "B": "2", "C": "3"}
    assert [p["published"] for p in s["ports"]] == ["80", "81", "82"]
    assert [(v.get("source"), v["target"]) for v in s["volumes"]] == [("/b", "/data"), ("v", "/other")]
    assert s["dns"] == ["1.1.1.1", "8.8.8.8"]
    assert s["labels"] == {"x": "1", "y": "2"}


def test_extends_same_and_other_file(tmp_path):
    write(tmp_path / "common" / "base.yml", """\
        services:
          base:
            image: busybox
            env_file: base.env
            environment: {LEVEL: base}
        """)
    write(tmp_path / "compose.yaml", """\
        services:
          mid:
            extends: {file: common/base.yml, service: base}
            environment: {LEVEL: mid}
          top:
            extends: mid
            command: echo top
        """)
    p = load(tmp_path)
    assert p.services["top"]["environment"] == {"LEVEL": "mid"}
    assert p.services["top"]["command"] == ["echo", "top"]
    # Paths in the extended file are relative to that file.
    assert p.services["top"]["env_file"] == [{"path": str(tmp_path / "common" / "base.env"), "required": True}]
    assert "extends" not in p.services["top"]


def test_extends_cycle(tmp_path):
    write(tmp_path / "compose.yaml", "services:\n  a: {extends: b, image: x}\n  b: {extends: a}\n")
    with pytest.raises(ComposeError, match="circular reference"):
        load(tmp_path)


def test_include(tmp_path):
    write(tmp_path / "db" / "compose.yaml", "services:\n  db: {image: busybox, volumes: [./data:/d]}\n")
    write(tmp_path / "compose.yaml", "include: [db/compose.yaml]\nservices:\n  web: {image: busybox, depends_on: [db]}\n")
    p = load(tmp_path)
    assert sorted(p.services) == ["db", "web"]
    assert p.services["db"]["volumes"][0]["source"] == str(tmp_path / "db" / "data")


def test_profiles(tmp_path):
    write(tmp_path / "compose.yaml", """\
        services:
          app: {image: busybox}
          debug: {image: busybox, profiles: [dev], depends_on: [helper]}
          helper: {image: busybox, profiles: [tools]}
        """)
    assert sorted(load(tmp_path).services) == ["app"]
    with pytest.raises(ComposeError, match="disabled by its profiles"):
        load(tmp_path, profiles=["dev"])
    assert sorted(load(tmp_path, profiles=["dev", "tools"]).services) == ["app", "debug", "helper"]
    # Named on the command line: enabled, with its dependencies.
    p = load_project(Options(cwd=str(tmp_path), environ={}), enable=["debug"])
    assert sorted(p.services) == ["app", "debug", "helper"]
    assert sorted(load(tmp_path, environ={"COMPOSE_PROFILES": "tools"}).services) == ["app", "helper"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  web:\n    image: [\n", r"compose.yaml: yaml: line 4, column 1"),
        ("services:\n  web:\n    image: a\n    image: b\n", r"line 4, column 5: mapping key 'image' already defined"),
        ("services:\n  web:\n    image: a\n    ports: [{target: x}]\n", r"services.web.ports\[0\]"),
        ("services:\n  web:\n    image: a\n    bogus: 1\n", r"services.web additional properties 'bogus' not allowed"),
        ("services:\n  web:\n    image: a\n    depends_on: [nope]\n", r"depends on undefined service 'nope'"),
        ("services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n", r"dependency cycle detected: a -> b -> a"),
        ("services:\n  web: {image: a, networks: [n]}\n", r"undefined network n"),
        ("services:\n  web: {image: a, volumes: ['v:/x']}\n", r"undefined volume v"),
        ("services:\n  web: {command: x}\n", r"neither an image nor a build context"),
        ("services:\n  web: {image: '${IMG:?set IMG}'}\n", r"required variable IMG is missing a value: set IMG"),
    ],
)
def test_bad_input(tmp_path, text, message):
    write(tmp_path / "compose.yaml", text)
    with pytest.raises(ComposeError, match=message):
        load(tmp_path)


def test_project_name_rules(tmp_path):
    assert normalize_project_name("My.App_1-x") == "myapp_1-x"
    write(tmp_path / "compose.yaml", "name: fromfile\nservices: {a: {image: x}}\n")
    assert load(tmp_path).name == "fromfile"
    assert load(tmp_path, project_name="flag").name == "flag"
    with pytest.raises(ComposeError, match="invalid project name"):
        load(tmp_path, project_name="Bad Name")


def test_long_syntax_and_misc_normalisation(tmp_path):
    write(tmp_path / "compose.yaml", """\
        services:
          s:
            image: busybox
            ports: ["127.0.0.1:9000-9001:80-81/udp", 3000]
            volumes:
              - ./html:/usr/share/nginx/html:ro
              - /anon
              - {type: tmpfs, target: /t, tmpfs: {size: 1m}}
            healthcheck: {test: "wget -q localhost", interval: 1s}
            extra_hosts: ["h:10.0.0.1"]
            ulimits: {nofile: 1024}
            depends_on: {db: {condition: service_healthy, restart: true}}
            secrets: [token]
          db: {image: busybox}
        secrets:
          token: {file: ./token.txt}
        """)
    p = load(tmp_path)
    s = p.services["s"]
    assert s["ports"] == [
        {"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "9000", "protocol": "udp"},
        {"mode": "ingress", "host_ip": "127.0.0.1", "target": 81, "published": "9001", "protocol": "udp"},
        {"mode": "ingress", "target": 3000, "protocol": "tcp"},
    ]
    assert s["volumes"][0] == {"type": "bind", "source": str(tmp_path / "html"), "target": "/usr/share/nginx/html",
                               "read_only": True, "bind": {"create_host_path": True}}
    assert s["volumes"][1] == {"type": "volume", "target": "/anon", "volume": {}}
    assert s["healthcheck"]["test"] == ["CMD-SHELL", "wget -q localhost"]
    assert s["extra_hosts"] == {"h": "10.0.0.1"}
    assert s["ulimits"] == {"nofile": {"soft": 1024, "hard": 1024}}
    assert s["depends_on"]["db"] == {"condition": "service_healthy", "restart": True, "required": True}
    assert p.secrets["token"] == {"file": str(tmp_path / "token.txt"), "name": f"{p.name}_token"}


def test_config_hash():
    base = {"image": "busybox", "environment": {"A": "1", "B": "2"}, "networks": {"default": None}}
    h = service_hash(base)
    assert h == service_hash({"networks": {"default": None}, "environment": {"B": "2", "A": "1"}, "image": "busybox"})
    assert len(h) == 64
    # Fields that do not change the container leave the hash alone...
    assert service_hash({**base, "depends_on": {"db": {}}, "scale": 3, "build": {"context": "."},
                         "deploy": {"replicas": 2}}) == service_hash({**base, "deploy": {}})
    # ... everything else changes it.
    assert service_hash({**base, "environment": {"A": "1", "B": "3"}}) != h
    assert service_hash({**base, "command": ["x"]}) != h
    assert service_hash(base, {"env": {"X": "1"}}) != h


def test_dependency_graph():
    services = {
        "web": {"depends_on": {"api": {}}},
        "api": {"depends_on": {"db": {}, "cache": {}}},
        "db": {},
        "cache": {},
        "side": {"network_mode": "service:web"},
    }
    order = dependency_order(services)
    assert order.index("db") < order.index("api") < order.index("web") < order.index("side")
    assert levels(services) == [["cache", "db"], ["api"], ["web"], ["side"]]


def _c(n, h, state="running"):
    return {"Id": f"id{n}", "Names": [f"/p-s-{n}"], "State": state,
            "Labels": {"com.docker.compose.container-number": str(n), "com.docker.compose.config-hash": h}}


def test_plan_service():
    same = plan_service("s", "h1", 1, [_c(1, "h1")])
    assert [c["Id"] for c in same.keep] == ["id1"] and not same.changed
    changed = plan_service("s", "h2", 1, [_c(1, "h1")])
    assert [c["Id"] for c in changed.recreate] == ["id1"]
    assert plan_service("s", "h2", 1, [_c(1, "h1")], no_recreate=True).keep
    assert plan_service("s", "h1", 1, [_c(1, "h1")], force_recreate=True).recreate
    scaled = plan_service("s", "h1", 3, [_c(2, "h1")])
    assert scaled.create == [1, 3]
    down = plan_service("s", "h1", 1, [_c(1, "h1"), _c(2, "h1")])
    assert [c["Id"] for c in down.remove] == ["id2"]
