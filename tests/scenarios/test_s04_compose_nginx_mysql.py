# SPDX-License-Identifier: Apache-2.0
"""Scenario 4, nginx + MySQL with compose [seed 000, section 5]: the seed's
docker-compose.yml, `up -d`, the nginx page on the published port, `down` keeps the
named volume, and `up` again sees the same database."""

from __future__ import annotations

import pytest

from tests.scenarios.helpers import free_port, wait_for, wait_http

pytestmark = [pytest.mark.requires_root, pytest.mark.scenario, pytest.mark.timeout(1800)]

# Seed 000, 5.1; only the host side of the port is a free one (8080 may be taken).
SEED = """\
    version: '3'  # Docker Compose 파일 형식 버전

    services: #실행할 컨테이너(서비스)를 정의.
      web:  # 첫 번째 서비스: Nginx 웹 서버
        image: nginx:latest  # 공식 Nginx 이미지 사용
        ports:
          - "{port}:80"  # 호스트 8080 포트를 컨테이너 80 포트에 매핑
        depends_on:
          - db  # db 서비스가 먼저 실행되도록 의존성 설정

      db:  # 두 번째 서비스: MySQL 데이터베이스
        image: mysql:latest  # 공식 MySQL 이미지 사용
        environment:
          MYSQL_ROOT_PASSWORD: 1234  # 루트 비밀번호 설정
        volumes:
          - db-data:/var/lib/mysql  # 데이터 영속성을 위한 볼륨

    volumes:
      db-data:  # 명명된 볼륨 정의
    """


def mysql(compose, sql: str, check: bool = True):
    """Run SQL in the db service over TCP (only the real server listens; the
    entrypoint's initialisation server does not)."""
    return compose("exec", "-T", "db", "mysql", "-h127.0.0.1", "-uroot", "-p1234", "-N", "-e", sql,
                   check=check, timeout=60)


def wait_mysql(compose) -> None:
    wait_for(lambda: mysql(compose, "SELECT 1", check=False).rc == 0, what="mysql in the db service to answer")


def test_compose_nginx_mysql(compose, dockyard):
    port = free_port()
    compose.write(SEED.format(port=port))
    up = compose("up", "-d", timeout=1500)  # the first run makes nginx and mysql offline
    assert up.rc == 0
    page = wait_http(f"http://127.0.0.1:{port}/", "Welcome to nginx!", timeout=60)
    assert "<title>Welcome to nginx!</title>" in page
    assert compose.state("web")["Running"] and compose.state("db")["Running"]
    volume = f"{compose.project}_db-data"
    assert volume in dockyard.out("volume", "ls", "-q").split()
    mounts = dockyard.inspect(compose.id("db"))["Mounts"]
    assert any(m["Type"] == "volume" and m["Name"] == volume and m["Destination"] == "/var/lib/mysql" for m in mounts)

    wait_mysql(compose)
    mysql(compose, "CREATE DATABASE seed; CREATE TABLE seed.visits (who VARCHAR(20));"
                   "INSERT INTO seed.visits VALUES ('first-up');")

    compose("down", timeout=180)
    assert compose.ids() == []
    assert f"{compose.project}_default" not in dockyard.out("network", "ls", "--format", "{{.Name}}").split()
    # "볼륨 데이터는 유지됩니다": the named volume outlives `down`.
    assert volume in dockyard.out("volume", "ls", "-q").split()

    compose("up", "-d", timeout=300)
    wait_http(f"http://127.0.0.1:{port}/", "Welcome to nginx!", timeout=60)
    wait_mysql(compose)
    assert mysql(compose, "SELECT who FROM seed.visits").out.split() == ["first-up"]

    compose("down", "-v", timeout=180)
    assert volume not in dockyard.out("volume", "ls", "-q").split()
