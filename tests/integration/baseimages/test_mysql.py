# SPDX-License-Identifier: Apache-2.0
"""The mysql stand-in (MariaDB from Debian): first start initialises the data directory
(root password, database, user, /docker-entrypoint-initdb.d), clients on a user network
reach it by name, a new container on the same volume keeps the data and skips the
initialisation, stop is quick, and a start without any root password setting fails."""

from __future__ import annotations

import gzip
import time
import uuid

import pytest

pytestmark = pytest.mark.requires_root

ROOT_PASSWORD = "r00t'pw"
USER, PASSWORD, DATABASE = "app", "app pw", "app_db"


def _unique(kind: str) -> str:
    return f"test-mysql-{kind}-{uuid.uuid4().hex[:10]}"


def _wait_ready(daemon, container: str, timeout: float = 90) -> None:
    """Until the real server answers on TCP (the initialisation's temporary server has no
    networking, so this is never true before the initialisation is over)."""
    deadline = time.monotonic() + timeout
    while True:
        ping = daemon.cli("exec", container, "mysqladmin", "--protocol=tcp", "-h", "127.0.0.1",
                          "ping", check=False)
        if ping.returncode == 0:
            return
        running = daemon.cli("inspect", "-f", "{{.State.Running}}", container, check=False)
        if running.stdout.strip() == b"false" or time.monotonic() > deadline:
            logs = daemon.cli("logs", container, check=False)
            raise AssertionError(f"{container} is not ready:\n{logs.stdout.decode(errors='replace')}"
                                 f"{logs.stderr.decode(errors='replace')}")
        time.sleep(0.5)


def _init_dir(tmp_path):
    init = tmp_path / "initdb"
    init.mkdir()
    (init / "01-schema.sql").write_text(
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));\n"
        "INSERT INTO t VALUES (1, 'from-sql');\n")
    (init / "02-more.sql.gz").write_bytes(gzip.compress(b"INSERT INTO t VALUES (2, 'from-gz');\n"))
    (init / "03-script.sh").write_text(
        "echo \"init script ran for $MYSQL_DATABASE\"\n"
        "docker_process_sql <<<\"INSERT INTO t VALUES (3, 'from-sh');\"\n")
    # the entrypoint reads them as the `mysql` user
    init.chmod(0o755)
    for f in init.iterdir():
        f.chmod(0o644)
    return init


def test_init_then_data_survives_a_new_container(daemon, base_image, tmp_path):
    image = base_image("mysql")
    net, volume = _unique("net"), _unique("vol")
    first, second = _unique("first"), _unique("second")
    init = _init_dir(tmp_path)
    daemon.cli("network", "create", net)
    try:
        daemon.cli("run", "-d", "--name", first, "--network", net,
                   "-v", f"{volume}:/var/lib/mysql", "-v", f"{init}:/docker-entrypoint-initdb.d:ro",
                   "-e", f"MYSQL_ROOT_PASSWORD={ROOT_PASSWORD}", "-e", f"MYSQL_DATABASE={DATABASE}",
                   "-e", f"MYSQL_USER={USER}", "-e", f"MYSQL_PASSWORD={PASSWORD}", image)
        _wait_ready(daemon, first)
        logs = daemon.cli("logs", first)
        assert f"init script ran for {DATABASE}".encode() in logs.stdout + logs.stderr
        # The server runs as `mysql` and is PID 1.
        assert daemon.cli("exec", first, "cat", "/proc/1/comm").stdout.strip() in (b"mysqld", b"mariadbd")
        assert daemon.cli("exec", first, "sh", "-c", "stat -c %U /proc/1").stdout.strip() == b"mysql"

        # The user, from another container on the network, by the server's name.
        rows = daemon.cli("run", "--rm", "--network", net, image, "mysql", "-h", first, "-u", USER,
                          f"-p{PASSWORD}", DATABASE, "-N", "-e", "SELECT v FROM t ORDER BY id").stdout
        assert rows.split() == [b"from-sql", b"from-gz", b"from-sh"]
        # root may log in remotely; the user sees only its database.
        who = daemon.cli("run", "--rm", "--network", net, image, "mysql", "-h", first, "-uroot",
                         f"-p{ROOT_PASSWORD}", "-N", "-e", "SELECT CURRENT_USER()").stdout
        assert who.strip() == b"root@%"
        dbs = daemon.cli("run", "--rm", "--network", net, image, "mysql", "-h", first, "-u", USER,
                         f"-p{PASSWORD}", "-N", "-e", "SHOW DATABASES").stdout.split()
        assert DATABASE.encode() in dbs and b"mysql" not in dbs
        wrong = daemon.cli("run", "--rm", "--network", net, image, "mysql", "-h", first, "-u", USER,
                           "-pwrong", "-e", "SELECT 1", check=False)
        assert wrong.returncode != 0 and b"Access denied" in wrong.stderr

        # Stop is quick and clean (SIGTERM reaches the server).
        started = time.monotonic()
        daemon.cli("stop", first)
        assert time.monotonic() - started < 5
        assert daemon.cli("inspect", "-f", "{{.State.ExitCode}}", first).stdout.strip() == b"0"
        daemon.cli("rm", first)

        # A new container on the same volume, without any password setting: no init.
        daemon.cli("run", "-d", "--name", second, "--network", net,
                   "-v", f"{volume}:/var/lib/mysql", image)
        _wait_ready(daemon, second)
        logs = daemon.cli("logs", second)
        assert b"init script ran" not in logs.stdout + logs.stderr
        rows = daemon.cli("exec", second, "mysql", "-u", USER, f"-p{PASSWORD}", DATABASE, "-N",
                          "-e", "SELECT COUNT(*) FROM t").stdout
        assert rows.strip() == b"3"
    finally:
        for container in (first, second):
            daemon.cli("rm", "-f", "-v", container, check=False)
        daemon.cli("volume", "rm", volume, check=False)
        daemon.cli("network", "rm", net, check=False)


def test_missing_root_password_is_refused(daemon, base_image):
    image = base_image("mysql")
    name = _unique("nopw")
    try:
        result = daemon.cli("run", "--rm", "--name", name, "-e", f"MYSQL_DATABASE={DATABASE}", image,
                            check=False, timeout=60)
        assert result.returncode != 0
        output = (result.stdout + result.stderr).decode(errors="replace")
        assert "Database is uninitialized and password option is not specified" in output
        for option in ("MYSQL_ROOT_PASSWORD", "MYSQL_ALLOW_EMPTY_PASSWORD", "MYSQL_RANDOM_ROOT_PASSWORD"):
            assert option in output
    finally:
        daemon.cli("rm", "-f", "-v", name, check=False)
