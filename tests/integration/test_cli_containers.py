# SPDX-License-Identifier: Apache-2.0
"""The `dockyard` CLI's container verbs and run/create flags end to end, against a real
daemon: what the user types, what the container sees, what inspect and ps report.

Request shapes are checked against docker's own CLI in tests/unit/cli (parity tests);
here the point is that the whole path works with real containers. Each test names its
containers `cli-<test>...` and labels them `cli-test=<test>`, so that ps filters stay
within the test on the shared daemon, and removes them at the end.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time

import pytest

from tests.support.ptyrun import run_on_pty

pytestmark = pytest.mark.requires_root


def inspect(daemon, ref):
    return json.loads(daemon.cli("inspect", ref).stdout)[0]


def until(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def run_d(daemon, name, *args):
    return daemon.cli("run", "-d", "--name", name, "-l", "cli-test=1", *args).stdout.decode().strip()


def cli_path():
    import tests.support.daemon as support

    return str(support.BIN / "dockyard")


# --- run / create flags --------------------------------------------------------------


def test_run_process_flags_reach_the_container(daemon, tmp_path):
    envfile = tmp_path / "env"
    envfile.write_text("FROM_FILE=1\n# comment\nPASSED\n")
    out = daemon.cli(
        "run", "--rm", "-e", "A=1", "-e", "PASSED", "--env-file", str(envfile), "-w", "/tmp",
        "-u", "1000:1001", "--group-add", "44", "--hostname", "box", "--domainname", "example.org",
        "--entrypoint", "sh", "busybox", "-c",
        'echo "$A $PASSED $FROM_FILE $(pwd) $(id -u):$(id -g) $(id -G) $(hostname)"; cat /etc/hostname',
        env={**os.environ, "PASSED": "yes"},
    ).stdout.decode().splitlines()
    a, passed, from_file, cwd, ids, *groups_and_host = out[0].split()
    assert (a, passed, from_file, cwd, ids) == ("1", "yes", "1", "/tmp", "1000:1001")
    assert "44" in groups_and_host[:-1] and groups_and_host[-1] == "box"
    assert out[1] == "box"


def test_create_flags_are_stored_as_docker_stores_them(daemon, tmp_path):
    cid = daemon.cli(
        "create", "--name", "cli-create-flags", "-l", "tier=front", "--restart", "on-failure:3",
        "-m", "64m", "--memory-reservation", "32m", "--cpus", "1.5", "--cpu-shares", "512",
        "--cpuset-cpus", "0", "--pids-limit", "50", "--shm-size", "32m",
        "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD", "--security-opt", "no-new-privileges",
        "--ulimit", "nofile=1024:2048", "--tmpfs", "/run:size=1m", "--sysctl", "net.ipv4.ip_forward=1",
        "--log-driver", "json-file", "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
        "--stop-signal", "SIGINT", "--stop-timeout", "7", "--init", "--read-only",
        "--health-cmd", "true", "--health-interval", "5s", "--health-retries", "2",
        "--add-host", "db:10.0.0.2", "--dns", "9.9.9.9", "--dns-search", "example.org",
        "--dns-option", "ndots:2", "--expose", "9000", "-p", "127.0.0.1::80",
        "--oom-kill-disable", "--device", "/dev/null:/dev/mynull:rw",
        "busybox", "true",
    ).stdout.decode().strip()
    info = inspect(daemon, cid)
    host, config = info["HostConfig"], info["Config"]
    assert config["Labels"]["tier"] == "front"
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert (host["Memory"], host["MemoryReservation"], host["NanoCpus"]) == (64 << 20, 32 << 20, 1_500_000_000)
    assert (host["CpuShares"], host["CpusetCpus"], host["PidsLimit"], host["ShmSize"]) == (512, "0", 50, 32 << 20)
    assert host["CapAdd"] == ["CAP_NET_ADMIN"] and host["CapDrop"] == ["CAP_MKNOD"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Ulimits"] == [{"Name": "nofile", "Hard": 2048, "Soft": 1024}]
    assert host["Tmpfs"] == {"/run": "size=1m"} and host["Sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}}
    assert config["StopSignal"] == "SIGINT" and config["StopTimeout"] == 7
    assert host["Init"] is True and host["ReadonlyRootfs"] is True and host["OomKillDisable"] is True
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 2}
    assert host["ExtraHosts"] == ["db:10.0.0.2"] and host["Dns"] == ["9.9.9.9"]
    assert host["DnsSearch"] == ["example.org"] and host["DnsOptions"] == ["ndots:2"]
    assert set(config["ExposedPorts"]) == {"9000/tcp", "80/tcp"}
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert host["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rw"}]
    daemon.cli("rm", cid)


def test_bad_flag_values_exit_125_with_dockers_message(daemon):
    bad = daemon.cli("run", "-p", "80:90:100:110", "busybox", check=False)
    assert bad.returncode == 125
    assert bad.stderr.decode().startswith("dockyard: invalid IP address: 80:90")
    flag = daemon.cli("run", "--memory", "lots", "busybox", check=False)
    assert flag.returncode == 125
    assert flag.stderr.decode().startswith('invalid argument "lots" for "-m, --memory" flag: invalid size')
    conflict = daemon.cli("run", "--rm", "--restart", "always", "busybox", check=False)
    assert conflict.returncode == 125 and b"cannot specify both --restart and --rm" in conflict.stderr


def test_run_forwards_signals_to_the_container(daemon):
    import signal
    import subprocess

    proc = subprocess.Popen(
        [cli_path(), "-H", daemon.host, "run", "--rm", "busybox", "sh", "-c",
         "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert out == b"got-term\n" and proc.returncode == 7


def test_cidfile_and_detached_rm(daemon, tmp_path):
    cidfile = tmp_path / "cid"
    cid = daemon.cli("run", "-d", "--rm", "--cidfile", str(cidfile), "busybox", "sleep", "0.2").stdout.decode().strip()
    assert cidfile.read_text() == cid
    again = daemon.cli("run", "-d", "--cidfile", str(cidfile), "busybox", "true", check=False)
    assert again.returncode == 125 and b"container ID file found" in again.stderr
    assert until(lambda: daemon.cli("inspect", cid, check=False).returncode == 1)


def test_pull_never_and_missing_image(daemon):
    never = daemon.cli("run", "--pull", "never", "no-such-image:v9", check=False)
    assert never.returncode == 125 and b"No such image: no-such-image:v9" in never.stderr
    missing = daemon.cli("run", "no-such-image:v9", check=False)
    assert missing.returncode == 125
    assert b"Unable to find image 'no-such-image:v9' locally" in missing.stderr


def test_restart_policy_restarts_a_failing_container(daemon):
    cid = run_d(daemon, "cli-restart", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3")
    def settled():
        doc = inspect(daemon, cid)  # one snapshot: a restart may be under way between two
        return doc["RestartCount"] == 2 and doc["State"]["Status"] == "exited" and doc

    assert until(settled, 20)
    assert settled()["State"]["ExitCode"] == 3
    daemon.cli("rm", "-f", cid)


def test_healthcheck_flags(daemon):
    cid = run_d(daemon, "cli-health", "--health-cmd", "test -e /tmp/ok", "--health-interval", "200ms",
                "--health-retries", "1", "busybox", "sh", "-c", "touch /tmp/ok; sleep 60")
    assert until(lambda: (inspect(daemon, cid)["State"].get("Health") or {}).get("Status") == "healthy", 15)
    assert "(healthy)" in daemon.cli("ps", "--filter", "name=cli-health", "--format", "{{.Status}}").stdout.decode()
    assert daemon.cli("ps", "-q", "--filter", "health=healthy", "--filter", "name=cli-health").stdout.decode().strip() == cid[:12]
    daemon.cli("rm", "-f", cid)


# --- network flags -----------------------------------------------------------------------


def test_publish_and_port(daemon):
    cid = run_d(daemon, "cli-port", "-p", "127.0.0.1::8080", "-p", "127.0.0.1:18765:80/udp",
                "busybox", "sleep", "60")
    ports = daemon.cli("port", cid).stdout.decode().splitlines()
    assert "80/udp -> 127.0.0.1:18765" in ports
    assert any(line.startswith("8080/tcp -> 127.0.0.1:") for line in ports)
    assert daemon.cli("port", cid, "80/udp").stdout == b"127.0.0.1:18765\n"
    missing = daemon.cli("port", cid, "443", check=False)
    assert missing.returncode == 1 and b"No public port '443' published for" in missing.stderr
    daemon.cli("rm", "-f", cid)


def test_ps_shows_published_ports(daemon):
    cid = run_d(daemon, "cli-ps-ports", "-p", "127.0.0.1:18766:80/udp", "--expose", "9000", "busybox", "sleep", "60")
    try:
        row = daemon.cli("ps", "--filter", "name=cli-ps-ports", "--format", "{{.Ports}}").stdout.decode()
        assert row == "9000/tcp, 127.0.0.1:18766->80/udp\n"
    finally:
        daemon.cli("rm", "-f", cid)


def test_publish_all_and_range(daemon):
    cid = run_d(daemon, "cli-publish-all", "-P", "--expose", "7000-7001", "-p", "127.0.0.1:18770-18771:8000-8001",
                "busybox", "sleep", "60")
    lines = daemon.cli("port", cid).stdout.decode().splitlines()
    assert any(line.startswith("7000/tcp -> 0.0.0.0:") for line in lines)
    assert any(line.startswith("7001/tcp -> 0.0.0.0:") for line in lines)
    assert "8000/tcp -> 127.0.0.1:18770" in lines and "8001/tcp -> 127.0.0.1:18771" in lines
    daemon.cli("rm", "-f", cid)


def test_ip_and_mac_on_a_user_network(daemon):
    daemon.cli("network", "create", "--subnet", "10.251.7.0/24", "cli-ipnet")
    try:
        out = daemon.cli("run", "--rm", "--network", "cli-ipnet", "--ip", "10.251.7.42",
                         "--mac-address", "92:d0:c6:0a:29:33", "busybox", "ip", "addr", "show", "eth0").stdout.decode()
        assert "inet 10.251.7.42/24" in out and "92:d0:c6:0a:29:33" in out
    finally:
        daemon.cli("network", "rm", "cli-ipnet", check=False)


def test_network_flags_in_the_container(daemon):
    out = daemon.cli(
        "run", "--rm", "--add-host", "db:10.1.2.3", "--add-host", "gw:host-gateway",
        "--dns", "9.9.9.9", "--dns-search", "example.org", "--dns-option", "ndots:3",
        "busybox", "sh", "-c", "cat /etc/hosts /etc/resolv.conf",
    ).stdout.decode()
    assert "10.1.2.3\tdb" in out or "10.1.2.3 db" in out
    assert "nameserver 9.9.9.9" in out and "search example.org" in out and "ndots:3" in out
    assert " gw" in out or "\tgw" in out


def test_network_none_and_host(daemon):
    none = daemon.cli("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").stdout.decode()
    assert "lo:" in none and "eth0" not in none
    host = daemon.cli("run", "--rm", "--net", "host", "busybox", "hostname").stdout.decode().strip()
    assert host == os.uname().nodename


def test_user_network_alias_and_dns(daemon):
    daemon.cli("network", "create", "cli-net")
    try:
        server = run_d(daemon, "cli-net-server", "--network", "cli-net", "--network-alias", "api", "busybox", "sleep", "60")
        out = daemon.cli("run", "--rm", "--network", "cli-net", "busybox", "ping", "-c", "1", "-W", "2", "api").stdout
        assert b"1 packets received" in out
        daemon.cli("rm", "-f", server)
    finally:
        daemon.cli("network", "rm", "cli-net", check=False)


# --- volume flags -----------------------------------------------------------------------


def test_relative_bind_named_and_anonymous_volumes(daemon, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_text("from the host\n")
    import subprocess

    import tests.support.daemon as support

    result = subprocess.run(
        [str(support.BIN / "dockyard"), "-H", daemon.host, "run", "--rm", "-v", "./data:/d:ro",
         "-v", "cli-named:/named", "-v", "/anon", "busybox", "sh", "-c",
         "cat /d/hello.txt; echo kept > /named/f; touch /d/x 2>/dev/null || echo read-only"],
        capture_output=True, cwd=tmp_path, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"from the host\nread-only\n"
    again = daemon.cli("run", "--rm", "-v", "cli-named:/named", "busybox", "cat", "/named/f").stdout
    assert again == b"kept\n"
    daemon.cli("volume", "rm", "cli-named", check=False)


def test_mount_and_volumes_from(daemon, tmp_path):
    (tmp_path / "m.txt").write_text("mounted\n")
    source = run_d(daemon, "cli-vol-source", "-v", "/shared", "--mount", f"type=bind,source={tmp_path},target=/host,readonly",
                   "--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m", "busybox", "sh", "-c",
                   "echo shared > /shared/f; sleep 60")
    assert until(lambda: daemon.cli("exec", source, "cat", "/shared/f", check=False).stdout == b"shared\n")
    assert daemon.cli("exec", source, "cat", "/host/m.txt").stdout == b"mounted\n"
    assert b"tmpfs" in daemon.cli("exec", source, "sh", "-c", "grep /scratch /proc/mounts").stdout
    out = daemon.cli("run", "--rm", "--volumes-from", source, "busybox", "cat", "/shared/f").stdout
    assert out == b"shared\n"
    daemon.cli("rm", "-fv", source)


# --- lifecycle verbs ---------------------------------------------------------------------


def test_start_stop_restart_kill_wait(daemon):
    cid = daemon.cli("create", "--name", "cli-life", "-l", "cli-test=1", "busybox", "sh", "-c",
                     "trap 'exit 7' TERM; while :; do sleep 0.1; done").stdout.decode().strip()
    assert daemon.cli("start", "cli-life").stdout == b"cli-life\n"
    assert inspect(daemon, cid)["State"]["Running"]
    assert daemon.cli("stop", "-t", "5", "cli-life").stdout == b"cli-life\n"
    assert daemon.cli("wait", "cli-life").stdout == b"7\n"
    daemon.cli("restart", "-t", "1", "cli-life")
    assert inspect(daemon, cid)["State"]["Running"]
    daemon.cli("kill", "-s", "KILL", "cli-life")
    assert daemon.cli("wait", "cli-life").stdout == b"137\n"
    failed = daemon.cli("start", "cli-life", "cli-ghost", check=False)
    assert failed.returncode == 1 and failed.stdout == b"cli-life\n"
    assert failed.stderr.decode().splitlines()[-1] == "Error: failed to start containers: cli-ghost"
    assert daemon.cli("rm", "-f", "cli-life").stdout == b"cli-life\n"


def test_pause_unpause_rename_update(daemon):
    cid = run_d(daemon, "cli-verbs", "busybox", "sleep", "60")
    assert daemon.cli("pause", "cli-verbs").stdout == b"cli-verbs\n"
    assert inspect(daemon, cid)["State"]["Paused"] is True
    assert daemon.cli("unpause", "cli-verbs").stdout == b"cli-verbs\n"
    daemon.cli("rename", "cli-verbs", "cli-verbs2")
    assert inspect(daemon, cid)["Name"] == "/cli-verbs2"
    assert daemon.cli("update", "-m", "64m", "--memory-swap", "-1", "--restart", "unless-stopped", "cli-verbs2").stdout == b"cli-verbs2\n"
    host = inspect(daemon, cid)["HostConfig"]
    assert host["Memory"] == 64 << 20 and host["RestartPolicy"]["Name"] == "unless-stopped"
    assert daemon.cli("update", "cli-verbs2", check=False).returncode == 1
    daemon.cli("rm", "-f", cid)


def test_rm_reports_each_and_force(daemon):
    cid = run_d(daemon, "cli-rm", "busybox", "sleep", "60")
    refused = daemon.cli("rm", "cli-rm", "cli-nothing", check=False)
    assert refused.returncode == 1
    assert b"container is running" in refused.stderr and b"No such container: cli-nothing" in refused.stderr
    forced = daemon.cli("rm", "-f", "cli-rm", "cli-nothing")
    assert forced.stdout == b"cli-rm\n" and b"No such container: cli-nothing" in forced.stderr
    assert daemon.cli("inspect", cid, check=False).returncode == 1


def test_ps_filters_and_formats(daemon):
    up = run_d(daemon, "cli-ps-up", "-l", "role=web", "busybox", "sleep", "60")
    done = daemon.cli("run", "--name", "cli-ps-done", "-l", "cli-test=1", "busybox", "sh", "-c", "exit 4", check=False)
    assert done.returncode == 4
    rows = daemon.cli("ps", "-a", "--filter", "label=cli-test=1", "--filter", "name=cli-ps-", "--format", "{{.Names}} {{.State}}").stdout.decode().split("\n")
    assert set(filter(None, rows)) == {"cli-ps-up running", "cli-ps-done exited"}
    assert daemon.cli("ps", "-q", "--filter", "label=role=web").stdout.decode().split() == [up[:12]]
    exited = daemon.cli("ps", "-a", "--filter", "exited=4", "--filter", "name=cli-ps-", "--format", "{{.Names}}").stdout
    assert exited == b"cli-ps-done\n"
    status = daemon.cli("ps", "-a", "--filter", "status=exited", "--filter", "name=cli-ps-", "--format", "{{.Status}}").stdout.decode()
    assert status.startswith("Exited (4)")
    assert daemon.cli("ps", "-aq", "--no-trunc", "--filter", "name=cli-ps-up").stdout.decode().strip() == up
    table = daemon.cli("ps", "--filter", "name=cli-ps-up").stdout.decode().splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert table[1].startswith(up[:12]) and table[1].endswith("cli-ps-up") and '"sleep 60"' in table[1]
    as_json = json.loads(daemon.cli("ps", "--filter", "name=cli-ps-up", "--format", "json").stdout)
    assert as_json["Names"] == "cli-ps-up" and as_json["Labels"] == "cli-test=1,role=web"
    sized = daemon.cli("ps", "-s", "--filter", "name=cli-ps-up", "--format", "{{.Size}}").stdout.decode()
    assert "virtual" in sized
    assert daemon.cli("ps", "-l", "-q").stdout.decode().count("\n") == 1
    anc = daemon.cli("ps", "-aq", "--filter", "ancestor=busybox", "--filter", "name=cli-ps-").stdout.decode().split()
    assert len(anc) == 2
    daemon.cli("rm", "-f", "cli-ps-up", "cli-ps-done")


def test_logs_options(daemon):
    cid = daemon.cli("run", "-d", "busybox", "sh", "-c", "echo one; echo two >&2; echo three").stdout.decode().strip()
    daemon.cli("wait", cid)
    logs = daemon.cli("logs", cid)
    assert logs.stdout == b"one\nthree\n" and logs.stderr == b"two\n"
    tail = daemon.cli("logs", "-n", "1", cid)
    assert len((tail.stdout + tail.stderr).splitlines()) == 1
    stamped = daemon.cli("logs", "-t", cid).stdout.decode().splitlines()
    assert stamped[0].endswith(" one") and stamped[0][:4].isdigit() and "T" in stamped[0]
    assert daemon.cli("logs", "--since", "1h", cid).stdout == b"one\nthree\n"
    assert daemon.cli("logs", "--until", "2000-01-01T00:00:00Z", cid).stdout == b""
    bad = daemon.cli("logs", "--since", "yesterday", cid, check=False)
    assert bad.returncode == 1 and b'invalid value for "since"' in bad.stderr
    daemon.cli("rm", cid)


# --- exec and attach ----------------------------------------------------------------------


def test_exec_flags_and_exit_codes(daemon):
    cid = run_d(daemon, "cli-exec", "busybox", "sleep", "60")
    assert daemon.cli("exec", cid, "echo", "hi").stdout == b"hi\n"
    out = daemon.cli("exec", "-e", "A=1", "-w", "/tmp", "-u", "1234", cid, "sh", "-c", "echo $A $(pwd) $(id -u)").stdout
    assert out == b"1 /tmp 1234\n"
    assert daemon.cli("exec", cid, "sh", "-c", "exit 5", check=False).returncode == 5
    assert daemon.cli("exec", "-i", cid, "tr", "a-z", "A-Z", input=b"shout\n").stdout == b"SHOUT\n"
    notexec = daemon.cli("exec", cid, "/etc/passwd", check=False)
    assert notexec.returncode == 126
    daemon.cli("exec", "-d", cid, "sh", "-c", "echo detached > /tmp/d")
    assert until(lambda: daemon.cli("exec", cid, "cat", "/tmp/d", check=False).stdout == b"detached\n")
    notty = daemon.cli("exec", "-it", cid, "sh", check=False)
    assert notty.returncode == 1 and notty.stderr == b"the input device is not a TTY\n"
    daemon.cli("rm", "-f", cid)


def test_exec_missing_binary_exits_126_like_docker(daemon):
    # Docker records 126 for every exec that cannot start (a real dockerd was asked:
    # "executable file not found" included); `run` is the one that says 127.
    cid = run_d(daemon, "cli-exec-126", "busybox", "sleep", "60")
    try:
        missing = daemon.cli("exec", cid, "no-such-binary", check=False)
        assert b"executable file not found" in missing.stdout
        assert missing.returncode == 126
        detached = daemon.cli("exec", "-d", cid, "no-such-binary", check=False)
        assert detached.returncode == 1 and b"executable file not found" in detached.stderr
    finally:
        daemon.cli("rm", "-f", cid)


def test_exec_with_a_tty(daemon):
    cid = run_d(daemon, "cli-exec-tty", "busybox", "sleep", "60")
    argv = [cli_path(), "-H", daemon.host, "exec", "-it", cid, "sh"]
    status, output = run_on_pty(argv, [(1.0, b"tty; echo x-$((6*7))\r"), (0.5, b"exit 3\r")])
    assert b"/dev/pts/" in output and b"x-42" in output
    assert status == 3
    daemon.cli("rm", "-f", cid)


def test_attach_gets_output_and_exit_status(daemon):
    cid = run_d(daemon, "cli-attach", "busybox", "sh", "-c", "sleep 1; echo attached; exit 6")
    result = daemon.cli("attach", "--no-stdin", cid, check=False)
    assert result.stdout == b"attached\n" and result.returncode == 6
    stopped = daemon.cli("attach", cid, check=False)
    assert stopped.returncode == 1 and b"You cannot attach to a stopped container" in stopped.stderr
    daemon.cli("rm", cid)


def test_attach_stdin_and_detach_keys(daemon):
    cid = daemon.cli("run", "-dit", "--name", "cli-attach-tty", "busybox", "sh").stdout.decode().strip()
    argv = [cli_path(), "-H", daemon.host, "attach", "--detach-keys", "ctrl-x", cid]
    status, output = run_on_pty(argv, [(1.0, b"echo via-$((2*21))\r"), (0.5, b"\x18")])
    assert b"via-42" in output and b"read escape sequence" in output and status == 1
    assert inspect(daemon, cid)["State"]["Running"]  # detaching leaves it running
    daemon.cli("rm", "-f", cid)


def test_run_detach_keys_on_a_tty(daemon):
    argv = [cli_path(), "-H", daemon.host, "run", "-it", "--name", "cli-run-detach", "busybox", "sh"]
    status, output = run_on_pty(argv, [(1.0, b"echo in-$((1+1))\r"), (0.5, b"\x10\x11")])
    assert b"in-2" in output and status == 0
    assert inspect(daemon, "cli-run-detach")["State"]["Running"]
    daemon.cli("rm", "-f", "cli-run-detach")


# --- inspect, top, stats, diff, export, cp, commit, prune, events ------------------------


def test_inspect_formats(daemon):
    cid = daemon.cli("create", "--name", "cli-inspect", "busybox", "echo", "x").stdout.decode().strip()
    assert daemon.cli("inspect", "-f", "{{.Name}} {{.State.Status}} {{json .Config.Cmd}}", cid).stdout == b'/cli-inspect created ["echo","x"]\n'
    assert daemon.cli("container", "inspect", "--format", "{{.Id}}", "cli-inspect").stdout.decode().strip() == cid
    sized = json.loads(daemon.cli("container", "inspect", "-s", cid).stdout)[0]
    assert "SizeRootFs" in sized
    assert daemon.cli("inspect", "--type", "container", "-f", "{{.Id}}", "busybox", check=False).returncode == 1
    missing_key = daemon.cli("inspect", "-f", "{{.Nope}}", cid, check=False)
    assert missing_key.returncode == 1 and b'map has no entry for key "Nope"' in missing_key.stderr
    daemon.cli("rm", cid)


def test_top(daemon):
    cid = run_d(daemon, "cli-top", "busybox", "sleep", "61")
    table = daemon.cli("top", cid).stdout.decode().splitlines()
    assert table[0].split()[:3] == ["UID", "PID", "PPID"] and any("sleep 61" in line for line in table[1:])
    custom = daemon.cli("top", cid, "-o", "pid,comm").stdout.decode().splitlines()
    assert custom[0].split() == ["PID", "COMMAND"] and custom[1].split()[1] == "sleep"
    daemon.cli("rm", "-f", cid)


def test_stats_no_stream_and_format(daemon):
    cid = run_d(daemon, "cli-stats", "busybox", "sleep", "60")
    table = daemon.cli("stats", "--no-stream", cid).stdout.decode().splitlines()
    assert table[0].split()[:4] == ["CONTAINER", "ID", "NAME", "CPU"]
    assert table[1].startswith(cid[:12]) and "cli-stats" in table[1]
    row = json.loads(daemon.cli("stats", "--no-stream", "--format", "json", "cli-stats").stdout)
    assert row["Name"] == "cli-stats" and row["MemUsage"].endswith("iB") and row["PIDs"] == "1"
    every = daemon.cli("stats", "--no-stream", "--format", "{{.Name}}").stdout.decode().split()
    assert "cli-stats" in every
    daemon.cli("rm", "-f", cid)


def test_stats_stream_redraws(daemon):
    import subprocess

    cid = run_d(daemon, "cli-stats-live", "busybox", "sleep", "60")
    proc = subprocess.Popen([cli_path(), "-H", daemon.host, "stats", "--format", "{{.Name}} {{.PIDs}}", cid],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2.5)
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    frames = out.split(b"\x1b[H")
    assert len(frames) >= 3 and b"cli-stats-live 1\x1b[K" in frames[-1]
    daemon.cli("rm", "-f", cid)


def test_diff_export_commit(daemon, tmp_path):
    cid = daemon.cli("run", "--name", "cli-fs", "busybox", "sh", "-c", "echo new > /newfile; rm /bin/uname; mkdir -p /tmp/d").stdout
    changes = daemon.cli("diff", "cli-fs").stdout.decode().splitlines()
    assert "A /newfile" in changes and "D /bin/uname" in changes and "C /bin" in changes
    target = tmp_path / "fs.tar"
    daemon.cli("export", "-o", str(target), "cli-fs")
    with tarfile.open(target) as tar:
        names = tar.getnames()
        assert "newfile" in names and "bin/busybox" in names and "bin/uname" not in names
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    piped = daemon.cli("export", "cli-fs").stdout
    assert tarfile.open(fileobj=io.BytesIO(piped)).getmember("newfile").isfile()
    image = daemon.cli("commit", "-m", "add newfile", "-a", "me", "-c", 'CMD ["cat", "/newfile"]', "cli-fs", "cli-committed:v1").stdout.decode().strip()
    assert image.startswith("sha256:")
    assert daemon.cli("run", "--rm", "cli-committed:v1").stdout == b"new\n"
    history = json.loads(daemon.cli("image", "inspect", "cli-committed:v1").stdout)[0]
    assert history["Comment"] == "add newfile" and history["Author"] == "me"
    daemon.cli("rm", "cli-fs")
    daemon.cli("rmi", "cli-committed:v1")
    del cid


def test_cp_both_directions(daemon, tmp_path):
    cid = run_d(daemon, "cli-cp", "busybox", "sh", "-c", "mkdir -p /data/sub; echo a > /data/a; echo b > /data/sub/b; ln -s a /data/link; sleep 60")
    assert until(lambda: daemon.cli("exec", cid, "test", "-L", "/data/link", check=False).returncode == 0)
    # container → host: directory as a new name, contents with /., a file into a directory
    daemon.cli("cp", "cli-cp:/data", str(tmp_path / "copy"))
    assert (tmp_path / "copy" / "sub" / "b").read_text() == "b\n" and os.readlink(tmp_path / "copy" / "link") == "a"
    (tmp_path / "into").mkdir()
    daemon.cli("cp", "cli-cp:/data/.", str(tmp_path / "into"))
    assert (tmp_path / "into" / "a").read_text() == "a\n"
    daemon.cli("cp", "cli-cp:/data/a", str(tmp_path / "into" / "renamed"))
    assert (tmp_path / "into" / "renamed").read_text() == "a\n"
    daemon.cli("cp", "-L", "cli-cp:/data/link", str(tmp_path / "followed"))
    assert (tmp_path / "followed").read_text() == "a\n" and not (tmp_path / "followed").is_symlink()
    streamed = daemon.cli("cp", "cli-cp:/data/sub", "-").stdout
    assert tarfile.open(fileobj=io.BytesIO(streamed)).getnames() == ["sub", "sub/b"]
    # host → container
    src = tmp_path / "src"
    (src / "deep").mkdir(parents=True)
    (src / "deep" / "f.txt").write_text("up\n")
    daemon.cli("cp", str(src), "cli-cp:/data")
    assert daemon.cli("exec", cid, "cat", "/data/src/deep/f.txt").stdout == b"up\n"
    daemon.cli("cp", str(src) + "/.", "cli-cp:/data/sub")
    assert daemon.cli("exec", cid, "cat", "/data/sub/deep/f.txt").stdout == b"up\n"
    daemon.cli("cp", str(src / "deep" / "f.txt"), "cli-cp:/data/new-name.txt")
    assert daemon.cli("exec", cid, "cat", "/data/new-name.txt").stdout == b"up\n"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("from-stdin.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"in\n"))
    daemon.cli("cp", "-", "cli-cp:/data", input=archive.getvalue())
    assert daemon.cli("exec", cid, "cat", "/data/from-stdin.txt").stdout == b"in\n"
    refused = daemon.cli("cp", str(src), "cli-cp:/data/a", check=False)
    assert refused.returncode == 1 and refused.stderr == b"cannot copy directory\n"
    nodir = daemon.cli("cp", "cli-cp:/data/a", str(tmp_path / "missing" / "x"), check=False)
    assert nodir.returncode == 1 and b"does not exist" in nodir.stderr
    daemon.cli("rm", "-f", cid)


def test_container_prune(daemon):
    kept = run_d(daemon, "cli-prune-running", "busybox", "sleep", "60")
    gone = daemon.cli("create", "--name", "cli-prune-gone", "-l", "cli-prune=1", "busybox").stdout.decode().strip()
    out = daemon.cli("container", "prune", "-f", "--filter", "label=cli-prune=1").stdout.decode()
    assert out.startswith("Deleted Containers:\n" + gone + "\n") and "Total reclaimed space:" in out
    assert daemon.cli("inspect", kept, check=False).returncode == 0
    asked = daemon.cli("container", "prune", input=b"n\n").stdout.decode()
    assert asked.startswith("WARNING! This will remove all stopped containers.")
    daemon.cli("rm", "-f", kept)


def test_events_since_until_and_format(daemon):
    start = time.time()
    cid = daemon.cli("run", "--name", "cli-events", "busybox", "true").stdout
    daemon.cli("rm", "cli-events")
    until_ = f"{time.time() + 1:.3f}"
    out = daemon.cli("events", "--since", f"{start - 1:.3f}", "--until", until_,
                     "--filter", "container=cli-events", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}").stdout.decode().splitlines()
    assert out[:2] == ["container create cli-events", "container attach cli-events"] or "container create cli-events" in out
    assert "container die cli-events" in out and "container destroy cli-events" in out
    plain = daemon.cli("events", "--since", f"{start - 1:.3f}", "--until", until_, "--filter", "event=destroy",
                       "--filter", "container=cli-events").stdout.decode()
    assert " container destroy " in plain and "name=cli-events" in plain
    del cid


def test_long_forms_and_help(daemon):
    cid = daemon.cli("container", "run", "-d", "--name", "cli-long", "busybox", "sleep", "60").stdout.decode().strip()
    assert daemon.cli("container", "ls", "-q", "--filter", "name=cli-long").stdout.decode().strip() == cid[:12]
    assert daemon.cli("container", "exec", "cli-long", "echo", "ok").stdout == b"ok\n"
    assert daemon.cli("container", "top", "cli-long").returncode == 0
    assert daemon.cli("container", "stop", "-t", "0", "cli-long").stdout == b"cli-long\n"
    assert daemon.cli("container", "rm", "cli-long").stdout == b"cli-long\n"
    helptext = daemon.cli("container", "--help").stdout.decode()
    assert "exec" in helptext and "prune" in helptext
