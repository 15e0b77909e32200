# SPDX-License-Identifier: Apache-2.0
"""Behaviour a differential run against Docker 20.10 found different, each checked here
through the official docker CLI against dockyard with what Docker printed and returned:
cp through volumes, bind mounts and /etc/hosts; `--entrypoint ''`; exec as an unknown
user; filters that must be refused (an ignored prune filter deletes too much) and the
missing `ps` filter keys; the init layer's /.dockerenv and /etc/mtab; `--ipc host`;
dockerd's up-front checks of resources and config; `logs --tail` forms; a missing network
at create that must not look like a missing image."""

import pytest

pytestmark = pytest.mark.requires_root


def _run_d(daemon, *args):
    return daemon.docker("run", "-d", "--network", "none", *args).stdout.decode().strip()


def test_cp_reaches_volumes_bind_mounts_and_etc_files(daemon, tmp_path):
    host_dir = tmp_path / "bind"
    host_dir.mkdir()
    cid = _run_d(daemon, "-v", "/data", "-v", f"{host_dir}:/bm", "busybox", "sleep", "60")
    try:
        daemon.docker("exec", cid, "sh", "-c", "echo vol > /data/v")
        assert b"vol\n" in daemon.docker("cp", f"{cid}:/data/v", "-").stdout  # a tar holding v
        (tmp_path / "f").write_text("in\n")
        daemon.docker("cp", str(tmp_path / "f"), f"{cid}:/data/")
        daemon.docker("cp", str(tmp_path / "f"), f"{cid}:/bm/")
        assert daemon.docker("exec", cid, "cat", "/data/f").stdout == b"in\n"
        assert (host_dir / "f").read_text() == "in\n"
        hosts = daemon.docker("cp", f"{cid}:/etc/hosts", str(tmp_path / "hosts"))
        assert hosts.returncode == 0 and "localhost" in (tmp_path / "hosts").read_text()
        listing = daemon.docker("exec", cid, "ls", "-a", "/").stdout.decode().split()
        assert ".dockerenv" in listing
    finally:
        daemon.docker("rm", "-f", "-v", cid, check=False)


def test_entrypoint_reset_and_exec_user_errors(daemon):
    out = daemon.docker("run", "--rm", "--network", "none", "--entrypoint", "", "busybox", "echo", "x")
    assert out.stdout == b"x\n"
    cid = _run_d(daemon, "busybox", "sleep", "60")
    try:
        result = daemon.docker("exec", "-u", "nosuch", cid, "id", check=False)
        assert result.returncode == 126
        assert b"unable to find user nosuch" in result.stdout + result.stderr
    finally:
        daemon.docker("rm", "-f", cid, check=False)


def test_filters_docker_refuses_are_refused(daemon):
    stopped = daemon.docker("create", "--network", "none", "busybox", "true").stdout.decode().strip()
    try:
        result = daemon.docker("container", "prune", "-f", "--filter", "bogus=1", check=False)
        assert result.returncode == 1 and b"Invalid filter 'bogus'" in result.stderr
        assert daemon.docker("inspect", stopped).returncode == 0  # nothing was pruned
        for bad, message in (("status=bogus", b"Invalid filter 'status=bogus'"),
                             ("health=bogus", b"Unrecognised filter value for health: bogus"),
                             ("exited=abc", b'strconv.Atoi: parsing "abc": invalid syntax')):
            result = daemon.docker("ps", "-a", "--filter", bad, check=False)
            assert result.returncode == 1 and message in result.stderr, bad
    finally:
        daemon.docker("rm", "-f", stopped, check=False)


def test_ps_filters_volume_network_publish_expose(daemon):
    cid = daemon.docker("create", "--name", "parity-pf", "-v", "/pfdata", "-p", "127.0.0.1::8080",
                        "--expose", "9090", "busybox", "true").stdout.decode().strip()
    try:
        def ids(*filters):
            args = [a for f in filters for a in ("--filter", f)]
            return daemon.docker("ps", "-aq", "--no-trunc", *args).stdout.decode().split()

        assert cid in ids("volume=/pfdata") and cid not in ids("volume=/elsewhere")
        assert cid in ids("network=bridge") and cid not in ids("network=none")
        assert cid in ids("publish=8080") and cid in ids("publish=8080/tcp") and cid not in ids("publish=8081")
        assert cid in ids("expose=9090") and cid in ids("expose=9000-9100/tcp") and cid not in ids("expose=9090/udp")
        assert cid in ids("is-task=false") and cid not in ids("is-task=true")
        shown = daemon.docker("ps", "-a", "--no-trunc", "--filter", "id=" + cid, "--format", "{{.Command}}")
        assert shown.stdout.decode().strip() == '"true"'
    finally:
        daemon.docker("rm", "-f", "-v", cid, check=False)


def test_init_files_ipc_host_and_quoted_command(daemon):
    out = daemon.docker("run", "--rm", "--network", "none", "--ipc", "host", "busybox", "sh", "-c",
                        "ls -l /.dockerenv /etc/mtab | cut -c1-10; readlink /etc/mtab")
    assert out.stdout.decode().split("\n")[:3] == ["-rwxr-xr-x", "lrwxrwxrwx", "/proc/mounts"]
    cid = daemon.docker("create", "--network", "none", "busybox", "sh", "-c", "echo a b").stdout.decode().strip()
    try:
        assert daemon.docker("diff", cid).stdout == b""  # init files are not changes
        shown = daemon.docker("ps", "-a", "--no-trunc", "--filter", "id=" + cid, "--format", "{{.Command}}")
        assert shown.stdout.decode().strip() == "\"sh -c 'echo a b'\""
    finally:
        daemon.docker("rm", "-f", cid, check=False)


@pytest.mark.parametrize("args, message", [
    (["--memory", "1k"], "Minimum memory limit allowed is 6MB"),
    (["--memory", "64m", "--memory-swap", "32m"], "Minimum memoryswap limit should be larger than memory limit"),
    (["--memory-reservation", "100m", "-m", "50m"], "Minimum memory limit can not be less than memory reservation limit"),
    (["--cpus", "100"], "Range of CPUs is from 0.01 to"),
    (["--cpuset-cpus", "99"], "Requested CPUs are not available - requested 99"),
    (["--oom-score-adj", "2000"], "Invalid value 2000, range for oom score adj is [-1000, 1000]"),
    (["--workdir", "relative"], "the working directory 'relative' is invalid, it needs to be an absolute path"),
    (["--stop-signal", "BOGUS"], "Invalid signal: BOGUS"),
    (["--health-cmd", "true", "--health-interval", "100us"], "Interval in Healthcheck cannot be less than 1ms"),
])
def test_up_front_checks(daemon, args, message):
    before = daemon.docker("ps", "-aq").stdout
    result = daemon.docker("create", "--network", "none", *args, "busybox", "true", check=False)
    assert result.returncode == 1 and message.encode() in result.stderr  # as `docker create` on dockerd
    assert daemon.docker("ps", "-aq").stdout == before  # nothing half-made


def test_update_below_the_memory_floor_is_refused(daemon):
    cid = _run_d(daemon, "busybox", "sleep", "60")
    try:
        result = daemon.docker("update", "--memory", "2m", cid, check=False)
        assert result.returncode == 1 and b"Minimum memory limit allowed is 6MB" in result.stderr
        assert daemon.docker("inspect", "-f", "{{.HostConfig.Memory}}", cid).stdout == b"0\n"
    finally:
        daemon.docker("rm", "-f", cid, check=False)


def test_logs_tail_forms_and_details(daemon):
    cid = daemon.docker("run", "-d", "--network", "none", "busybox", "sh", "-c", "echo one; echo two").stdout.decode().strip()
    try:
        daemon.docker("wait", cid)
        for tail in ("-1", "abc", "all"):
            assert daemon.docker("logs", "--tail", tail, cid).stdout == b"one\ntwo\n", tail
        assert daemon.docker("logs", "--tail", "1", cid).stdout == b"two\n"
        assert daemon.docker("logs", "--details", cid).stdout == b" one\n two\n"
    finally:
        daemon.docker("rm", "-f", cid, check=False)


def test_a_missing_network_is_not_taken_for_a_missing_image(daemon):
    result = daemon.docker("run", "--rm", "--network", "parity-nosuchnet", "busybox", "true", check=False)
    assert result.returncode == 125 and b"network parity-nosuchnet not found" in result.stderr
    assert b"Unable to find image" not in result.stderr and b"Pulling" not in result.stdout


def test_log_driver_none_host_network_warning_and_swarm_state(daemon):
    out = daemon.docker("run", "--rm", "--network", "none", "--log-driver", "none", "busybox", "echo", "x")
    assert out.stdout == b"x\n"  # attach still sees the output
    cid = _run_d(daemon, "--log-driver", "none", "busybox", "sh", "-c", "echo y; sleep 60")
    try:
        result = daemon.docker("logs", cid, check=False)
        assert result.returncode == 1 and b"configured logging driver does not support reading" in result.stderr
        assert daemon.docker("inspect", "-f", "{{.LogPath}}|{{.HostConfig.LogConfig.Type}}", cid).stdout == b"|none\n"
    finally:
        daemon.docker("rm", "-f", cid, check=False)
    result = daemon.docker("run", "--rm", "--network", "host", "-p", "18080:80", "busybox", "true")
    assert b"WARNING: Published ports are discarded when using host network mode" in result.stderr
    assert daemon.docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout == b"inactive\n"


def test_links_resolve_and_missing_references_are_not_missing_images(daemon):
    daemon.docker("network", "create", "parity-links")
    try:
        daemon.docker("run", "-d", "--name", "parity-la", "--network", "parity-links", "busybox", "sleep", "60")
        out = daemon.docker("run", "--rm", "--network", "parity-links", "--link", "parity-la:lnk", "busybox",
                            "nslookup", "lnk")
        assert b"Address" in out.stdout and b"NXDOMAIN" not in out.stdout
        daemon.docker("run", "-d", "--name", "parity-lb", "busybox", "sleep", "60")  # default bridge
        hosts = daemon.docker("run", "--rm", "--link", "parity-lb:bee", "busybox", "cat", "/etc/hosts").stdout.decode()
        assert any(line.split()[1:2] == ["bee"] and line.endswith("parity-lb") for line in hosts.splitlines())
        for args in (["--link", "parity-nosuch:x"], ["--volumes-from", "parity-nosuch"],
                     ["--network", "container:parity-nosuch"]):
            result = daemon.docker("run", "--rm", *args, "busybox", "true", check=False)
            assert result.returncode == 125 and b"parity-nosuch" in result.stderr, args
            assert b"Unable to find image" not in result.stderr, args
    finally:
        daemon.docker("rm", "-f", "parity-la", "parity-lb", check=False)
        daemon.docker("network", "rm", "parity-links", check=False)


def test_rmi_lists_each_layer_once_and_label_filters_spare_the_build_cache(daemon, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo a > /a\nRUN echo b > /b\nRUN echo c > /c\n")
    daemon.cli("build", "-q", "-t", "parity-rmi", str(tmp_path))
    before = daemon.cli("builder", "prune", "-f", "--filter", "label=parity=1").stdout.decode()
    assert "Deleted build cache objects" not in before
    assert "Using cache" in daemon.cli("build", str(tmp_path)).stdout.decode()  # the cache is still there
    deleted = [line for line in daemon.docker("rmi", "parity-rmi").stdout.decode().splitlines()
               if line.startswith("Deleted:")]
    assert len(deleted) > 4 and len(deleted) == len(set(deleted))  # the steps' images, then layers


def test_messages_restarting_status_and_image_column(daemon, tmp_path):
    result = daemon.docker("kill", "parity-nosuch", check=False)
    assert result.stderr.strip() == b"Error response from daemon: Cannot kill container: parity-nosuch: No such container: parity-nosuch"
    result = daemon.docker("create", "--network", "none", "--cap-add", "SYS_FOO", "busybox", "true", check=False)
    assert b'invalid CapAdd: unknown capability: "CAP_SYS_FOO"' in result.stderr
    one = _run_d(daemon, "--name", "parity-r1", "busybox", "sleep", "60")
    two = _run_d(daemon, "--name", "parity-r2", "--restart", "always", "busybox", "sh", "-c", "exit 3")
    daemon.docker("tag", "busybox", "parity-tagged")
    three = _run_d(daemon, "parity-tagged", "sleep", "60")
    try:
        result = daemon.docker("rename", "parity-r1", "parity-r2", check=False)
        assert b"Error when allocating new name: Conflict." in result.stderr
        seen = set()
        for _ in range(50):  # the back-off between restarts shows as Restarting (3) … ago
            seen.add(daemon.docker("ps", "-a", "--filter", "id=" + two, "--format", "{{.Status}}").stdout.decode())
            if any(s.startswith("Restarting (3) ") for s in seen):
                break
        assert any(s.startswith("Restarting (3) ") and s.strip().endswith("ago") for s in seen), seen
        daemon.docker("rmi", "parity-tagged")
        image = daemon.docker("ps", "--filter", "id=" + three, "--format", "{{.Image}}").stdout.decode().strip()
        assert image != "parity-tagged" and len(image) == 12  # the image ID, as dockerd shows it
    finally:
        daemon.docker("rm", "-f", one, two, three, check=False)
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo visible-step-output && exit 7\n")
    result = daemon.cli("build", "-q", str(tmp_path), check=False)
    assert result.returncode == 1 and b"visible-step-output" in result.stderr  # -q shows the log on failure


def test_network_connect_and_disconnect_keep_etc_hosts_in_step(daemon):
    daemon.docker("network", "create", "parity-cn")
    cid = daemon.docker("run", "-d", "--hostname", "ahost", "busybox", "sleep", "60").stdout.decode().strip()
    try:
        daemon.docker("network", "connect", "parity-cn", cid)
        address = daemon.docker("inspect", "-f", "{{(index .NetworkSettings.Networks \"parity-cn\").IPAddress}}",
                                cid).stdout.decode().strip()
        assert f"{address}\tahost" in daemon.docker("exec", cid, "cat", "/etc/hosts").stdout.decode()
        daemon.docker("network", "disconnect", "parity-cn", cid)
        assert address not in daemon.docker("exec", cid, "cat", "/etc/hosts").stdout.decode()
    finally:
        daemon.docker("rm", "-f", cid, check=False)
        daemon.docker("network", "rm", "parity-cn", check=False)


def test_hostname_is_a_name_on_user_networks(daemon):
    daemon.docker("network", "create", "parity-hn")
    try:
        cid = daemon.docker("run", "-d", "--hostname", "ahost", "--network", "parity-hn", "busybox",
                            "sleep", "60").stdout.decode().strip()
        aliases = daemon.docker("inspect", "-f", "{{json (index .NetworkSettings.Networks \"parity-hn\").Aliases}}",
                                cid).stdout.decode().strip()
        assert aliases == f'["{cid[:12]}","ahost"]'  # as dockerd 20.10
        out = daemon.docker("run", "--rm", "--network", "parity-hn", "busybox", "nslookup", "ahost").stdout
        assert b"Name:\tahost" in out
    finally:
        daemon.docker("rm", "-f", cid, check=False)
        daemon.docker("network", "rm", "parity-hn", check=False)


def test_image_events_name_the_image_as_dockerd(daemon):
    import time

    daemon.docker("pull", "busybox")
    since = int(time.time())
    image_id = daemon.docker("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.decode().strip()
    daemon.docker("tag", "busybox", "parity-evt:t1")
    daemon.docker("rmi", "parity-evt:t1")
    daemon.docker("pull", "busybox")
    out = daemon.docker("events", "--since", str(since), "--until", str(int(time.time()) + 1), "--filter",
                        "type=image", "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}")
    lines = out.stdout.decode().splitlines()
    assert f"tag {image_id} parity-evt:t1" in lines
    assert f"untag {image_id} {image_id}" in lines
    assert "pull busybox:latest busybox" in lines


def test_host_port_zero_is_a_random_port(daemon):
    cid = daemon.docker("run", "-d", "-p", "127.0.0.1:0:80", "busybox", "sleep", "60").stdout.decode().strip()
    try:
        shown = daemon.docker("port", cid, "80").stdout.decode().strip()
        host, _, port = shown.rpartition(":")
        assert host == "127.0.0.1" and int(port) > 0, shown
    finally:
        daemon.docker("rm", "-f", cid, check=False)
