# SPDX-License-Identifier: Apache-2.0
"""Docker's (pflag's) flag syntax, error messages and exit codes."""

import pytest

from dockyard.cli.parser import Command, Flag, HelpRequested, UsageError, is_set

CMD = Command(
    "demo",
    "[OPTIONS] ARG",
    "A demo",
    [
        Flag("all", "a", help="All"),
        Flag("quiet", "q"),
        Flag("env", "e", "list"),
        Flag("name", "", "string"),
        Flag("last", "n", "int", default=-1),
        Flag("hostname", "h", "string"),
    ],
    min_args=1,
    max_args=2,
)


def test_bundled_short_flags_and_values():
    opts, args = CMD.parse(["-aq", "-eA=1", "-e", "B", "-e=C=3", "--name=x", "arg"])
    assert opts.all and opts.quiet
    assert opts.env == ["A=1", "B", "C=3"]
    assert opts.name == "x" and args == ["arg"]


def test_bool_with_explicit_value_and_defaults():
    opts, _ = CMD.parse(["--all=false", "-q=true", "x"])
    assert opts.all is False and opts.quiet is True
    assert opts.last == -1 and not is_set(opts, "last")
    opts, _ = CMD.parse(["-n", "3", "x"])
    assert opts.last == 3 and is_set(opts, "last")


def test_double_dash_and_lone_dash_are_arguments():
    _, args = CMD.parse(["--", "-a", "-"])
    assert args == ["-a", "-"]
    _, args = CMD.parse(["-"])
    assert args == ["-"]


def test_interspersed_flags_after_arguments():
    opts, args = CMD.parse(["arg", "-a"])
    assert opts.all and args == ["arg"]


@pytest.mark.parametrize(
    "argv, message, status",
    [
        (["--foo", "x"], "unknown flag: --foo", 125),
        (["-x", "x"], "unknown shorthand flag: 'x' in -x", 125),
        (["x", "--name"], "flag needs an argument: --name", 125),
        (["x", "-e"], "flag needs an argument: 'e' in -e", 125),
        (
            ["-n", "abc", "x"],
            'invalid argument "abc" for "-n, --last" flag: strconv.ParseInt: parsing "abc": invalid syntax',
            125,
        ),
        (
            ["--all=maybe", "x"],
            'invalid argument "maybe" for "-a, --all" flag: strconv.ParseBool',
            125,
        ),
        ([], "dockyard: 'dockyard demo' requires at least 1 argument", 1),
        (["a", "b", "c"], "dockyard: 'dockyard demo' requires at most 2 arguments", 1),
    ],
)
def test_errors_match_docker(argv, message, status):
    with pytest.raises(UsageError) as info:
        CMD.parse(argv)
    assert str(info.value).startswith(message)
    assert "Usage:  dockyard demo [OPTIONS] ARG" in str(info.value)
    assert info.value.status == status


def test_exact_and_no_argument_messages():
    exact = Command("tag", "SRC DST", "Tag", [], min_args=2, max_args=2)
    with pytest.raises(UsageError, match="'dockyard tag' requires 2 arguments"):
        exact.parse(["a"])
    none = Command("ps", "[OPTIONS]", "List", [], max_args=0)
    with pytest.raises(UsageError, match="'dockyard ps' accepts no arguments"):
        none.parse(["x"])


def test_help_flag_and_h_shorthand():
    with pytest.raises(HelpRequested) as info:
        CMD.parse(["--help"])
    text = str(info.value)
    assert text.startswith("Usage:  dockyard demo [OPTIONS] ARG\n\nA demo\n")
    assert "  -n, --last int      " in text and "(default -1)" in text
    # -h is the hostname flag here, as in `run`; elsewhere it asks for help.
    opts, _ = CMD.parse(["-h", "box", "x"])
    assert opts.hostname == "box"
    with pytest.raises(HelpRequested):
        Command("ps", "", "List", [], max_args=0).parse(["-h"])
