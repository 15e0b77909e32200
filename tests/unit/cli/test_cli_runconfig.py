# SPDX-License-Identifier: Apache-2.0
"""run/create flags → create body, and the value syntaxes behind them (opts.py).

Whole bodies are compared with what docker 28 sends in test_cli_docker_parity.py; these
tests pin the rules one by one, including the ones a recording cannot show (our
environment, the working directory, Go's duration and size grammars).
"""

from __future__ import annotations

import pytest

from dockyard.cli import opts as o
from dockyard.cli.parser import UsageError
from dockyard.cli.run import CREATE, RUN
from dockyard.cli.runconfig import FlagError, build_create_body, parse_bytes, parse_restart


def body(*flags: str, environ=None, detach=False, cwd="/work", image="busybox"):
    opts, args = RUN.parse([*flags, image])
    return build_create_body(opts, args, detach=detach, environ=environ or {}, cwd=cwd)


def test_command_stops_flag_parsing_at_the_image():
    opts, args = RUN.parse(["-d", "busybox", "ls", "-l", "--rm"])
    assert opts.detach and not opts.rm
    assert args == ["busybox", "ls", "-l", "--rm"]


def test_env_without_value_is_taken_from_our_environment():
    result = body("-e", "HOME", "-e", "UNSET_X", "-e", "A=b=c", environ={"HOME": "/root"})
    assert result["Env"] == ["HOME=/root", "UNSET_X", "A=b=c"]


def test_repeated_env_keeps_the_last_value_and_files_come_first(tmp_path):
    envfile = tmp_path / "env"
    envfile.write_text("X=1\nONLY\n# comment\n")
    result = body("--env-file", str(envfile), "-e", "X=2", "-e", "X=3", environ={"ONLY": "o"})
    assert result["Env"] == ["X=1", "ONLY=o", "X=3"]


def test_label_files_drop_bare_keys(tmp_path):
    labels = tmp_path / "labels"
    labels.write_text("a=1\nbare\n")
    assert body("--label-file", str(labels), "-l", "b")["Labels"] == {"a": "1", "b": ""}


def test_rm_and_restart_conflict():
    with pytest.raises(FlagError, match="cannot specify both --restart and --rm"):
        body("--rm", "--restart", "always")


def test_restart_policy_names_are_the_daemons_to_judge():
    assert body("--restart", "sometimes")["HostConfig"]["RestartPolicy"]["Name"] == "sometimes"
    assert parse_restart("on-failure:5") == {"Name": "on-failure", "MaximumRetryCount": 5}
    with pytest.raises(FlagError, match="maximum retry count must be an integer"):
        parse_restart("on-failure:x")


def test_console_size_only_with_tty():
    opts, args = RUN.parse(["-it", "busybox"])
    assert build_create_body(opts, args, environ={}, console_size=(40, 120))["HostConfig"][
        "ConsoleSize"
    ] == [40, 120]
    opts, args = RUN.parse(["-i", "busybox"])
    assert build_create_body(opts, args, environ={}, console_size=(40, 120))["HostConfig"][
        "ConsoleSize"
    ] == [0, 0]


def test_detach_clears_attach_but_keeps_open_stdin():
    result = body("-dit", detach=True)
    assert (result["AttachStdin"], result["AttachStdout"], result["AttachStderr"]) == (False,) * 3
    assert result["OpenStdin"] and not result["StdinOnce"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["-m", "lots"], "invalid size: 'lots'"),
        (["-m", "12x"], "invalid suffix: 'x'"),
        (["--cpus", "abc"], "failed to parse abc as a rational number"),
        (["--ulimit", "nofile=10:5"], "soft limit must be less than or equal to hard limit: 10 > 5"),
        (["-a", "stdio"], "valid streams are STDIN, STDOUT and STDERR"),
        (["--add-host", "nohost"], 'bad format for add-host: "nohost"'),
        (["--dns", "dns.google"], "IP address is not correctly formatted"),
        (["--health-interval", "5"], 'time: missing unit in duration "5"'),
        (["--sysctl", "vm.swappiness=1"], "is not allowed"),
        (["--mount", "type=bind,source=/x"], "target is required"),
        (["-e", "=x"], "invalid environment variable: =x"),
        (["--pids-limit", "many"], 'strconv.ParseInt: parsing "many": invalid syntax'),
    ],
)
def test_flag_values_docker_rejects_when_reading_them(flags, message):
    with pytest.raises(UsageError) as info:
        RUN.parse([*flags, "busybox"])
    text = str(info.value)
    assert text.startswith(f'invalid argument "{flags[1]}" for "')
    assert message in text and info.value.status == 125


@pytest.mark.parametrize(
    "flags, message",
    [
        (["-p", "a:b:c:d"], "invalid IP address: a:b"),
        (["-p", "1000-1002:80-81"], "invalid ranges specified for container and host Ports: 80-81 and 1000-1002"),
        (["-p", "80/xyz"], "invalid proto: xyz"),
        (["-p", "x"], "invalid containerPort: x"),
        (["--expose", "80:80"], "invalid port format for --expose: 80:80"),
        (["--network-alias", "a"], "only supported for user-defined networks"),
        (["--network", "host", "--network", "n2"], "cannot attach both user-defined and non-user-defined"),
        (["--pid", "bogus"], "--pid: invalid PID mode"),
        (["--memory-swappiness", "101"], "Valid memory swappiness range is 0-100"),
        (["--no-healthcheck", "--health-cmd", "true"], "--no-healthcheck conflicts"),
        (["--health-retries", "-1"], "--health-retries cannot be negative"),
        (["--device", "/dev/sda:xvda"], "xvda is not an absolute path"),
        (["--security-opt", "seccomp"], 'Invalid --security-opt: "seccomp"'),
        (["--log-driver", "none", "--log-opt", "max-size=1m"], "invalid logging opts for driver none"),
        (["--mac-address", "92:d0:c6"], "92:d0:c6 is not a valid mac address"),
    ],
)
def test_values_docker_rejects_when_building_the_body(flags, message):
    with pytest.raises(FlagError) as info:
        body(*flags)
    assert message in str(info.value)


def test_publish_syntaxes():
    exposed, bindings = o.parse_port_specs(
        o.publish_standard_notation(
            ["8080:80", "127.0.0.1::81/udp", "9000-9001:90-91", "5000-5002:5000", "[::1]:53:53", "target=7,published=70"]
        )
    )
    assert bindings["80/tcp"] == [{"HostIp": "", "HostPort": "8080"}]
    assert bindings["81/udp"] == [{"HostIp": "127.0.0.1", "HostPort": ""}]
    assert bindings["91/tcp"] == [{"HostIp": "", "HostPort": "9001"}]
    assert bindings["5000/tcp"] == [{"HostIp": "", "HostPort": "5000-5002"}]
    assert bindings["53/tcp"] == [{"HostIp": "::1", "HostPort": "53"}]
    assert bindings["7/tcp"] == [{"HostIp": "", "HostPort": "70"}]
    assert set(exposed) == set(bindings)


def test_volumes_binds_and_anonymous():
    result = body("-v", "./rel:/r", "-v", "../up:/u:ro", "-v", "named:/n", "-v", "/anon", "-v", "c:/win", cwd="/work/dir")
    assert result["HostConfig"]["Binds"] == ["/work/dir/rel:/r", "/work/up:/u:ro", "named:/n"]
    # A one-letter name before a colon is a Windows drive to Docker: an anonymous volume.
    assert result["Volumes"] == {"/anon": {}, "c:/win": {}}


def test_mount_keys():
    mount = o.parse_mount("type=bind,src=./here,dst=/h,readonly,bind-propagation=rslave", cwd="/w")
    assert mount == {"Type": "bind", "Source": "/w/here", "Target": "/h", "ReadOnly": True, "BindOptions": {"Propagation": "rslave"}}
    tmpfs = o.parse_mount("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770")
    assert tmpfs["TmpfsOptions"] == {"SizeBytes": 64 * 1024**2, "Mode": 0o1770}
    volume = o.parse_mount("source=v,target=/d,volume-nocopy,volume-opt=o=x")
    assert volume["VolumeOptions"] == {"NoCopy": True, "DriverConfig": {"Options": {"o": "x"}}}
    with pytest.raises(o.OptError, match="cannot mix 'volume-\\*' options with mount type 'bind'"):
        o.parse_mount("type=bind,source=/x,target=/y,volume-nocopy")


def test_network_options_go_to_the_first_network():
    result = body("--network", "net1", "--network-alias", "a", "--ip", "10.0.0.5", "--link", "db:db")
    endpoint = result["NetworkingConfig"]["EndpointsConfig"]["net1"]
    assert endpoint["Aliases"] == ["a"] and endpoint["Links"] == ["db:db"]
    assert endpoint["IPAMConfig"] == {"IPv4Address": "10.0.0.5"}
    assert result["HostConfig"]["NetworkMode"] == "net1"
    assert body("--network", "host")["NetworkingConfig"] == {"EndpointsConfig": {}}
    long_form = body("--network", "name=n2,alias=x,driver-opt=k=v")
    assert long_form["NetworkingConfig"]["EndpointsConfig"]["n2"]["DriverOpts"] == {"k": "v"}


def test_extra_hosts_and_dns():
    result = body("--add-host", "gw=host-gateway", "--add-host", "v6:[::1]", "--dns", "::ffff:1.2.3.4", "--dns-search", "x.org.")
    assert result["HostConfig"]["ExtraHosts"] == ["gw:host-gateway", "v6:::1"]
    assert result["HostConfig"]["Dns"] == ["1.2.3.4"]
    assert result["HostConfig"]["DnsSearch"] == ["x.org"]


def test_healthcheck_durations():
    result = body("--health-cmd", "true", "--health-interval", "1m30s", "--health-retries", "2")
    assert result["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90 * 10**9, "Retries": 2}
    assert body("--no-healthcheck")["Healthcheck"] == {"Test": ["NONE"]}


@pytest.mark.parametrize(
    "text, ns",
    [("0", 0), ("1h30m", 5400 * 10**9), ("500ms", 5 * 10**8), ("1.5s", 15 * 10**8), ("-2s", -2 * 10**9), ("3us", 3000), ("1µs", 1000)],
)
def test_go_durations(text, ns):
    assert o.go_duration(text) == ns


def test_go_duration_errors_and_formatting():
    for text, message in (("5", "missing unit"), ("5q", 'unknown unit "q"'), ("x", "invalid duration"), ("", "invalid duration")):
        with pytest.raises(o.OptError, match=message):
            o.go_duration(text)
    assert o.format_go_duration(90 * 10**9) == "1m30s"
    assert o.format_go_duration(5 * 10**8) == "500ms"
    assert o.format_go_duration(0) == "0s"
    assert o.format_go_duration(3_600 * 10**9) == "1h0m0s"


def test_sizes_cpus_and_ulimits():
    assert parse_bytes("64m") == 64 * 1024**2
    assert parse_bytes("1g") == 1024**3
    assert parse_bytes("512") == 512
    assert parse_bytes("2kb") == 2048
    assert o.ram_in_bytes("1.5GiB") == int(1.5 * 1024**3)
    assert o.mem_swap_bytes("-1") == -1
    assert o.nano_cpus("1.5") == 1_500_000_000
    assert o.nano_cpus("3/2") == 1_500_000_000
    with pytest.raises(o.OptError, match="too precise"):
        o.nano_cpus("0.0000000001")
    assert o.parse_ulimit("nofile=1024:2048") == {"Name": "nofile", "Hard": 2048, "Soft": 1024}
    assert o.parse_ulimit("core=-1") == {"Name": "core", "Hard": -1, "Soft": -1}


def test_timestamps_for_since_and_until():
    assert o.get_timestamp("2024-01-02T03:04:05Z") == "1704164645.000000000"
    assert o.get_timestamp("2024-01-02T03:04:05.5+01:00") == "1704161045.500000000"
    assert o.get_timestamp("1704164645.5") == "1704164645.5"
    assert o.get_timestamp("10m", now=1000.0) == "400"
    with pytest.raises(o.OptError, match="failed to parse value as time or duration"):
        o.get_timestamp("yesterday")


def test_missing_env_file_is_reported(tmp_path):
    with pytest.raises(FlagError, match="no such file or directory"):
        body("--env-file", str(tmp_path / "nope"))


def test_env_file_rejects_whitespace_in_names(tmp_path):
    path = tmp_path / "env"
    path.write_text("BAD NAME=1\n")
    with pytest.raises(FlagError, match="variable 'BAD NAME' contains whitespaces"):
        body("--env-file", str(path))


def test_create_has_no_detach_flag():
    with pytest.raises(UsageError, match="unknown shorthand flag: 'd' in -d"):
        CREATE.parse(["-d", "busybox"])
