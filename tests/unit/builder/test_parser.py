# SPDX-License-Identifier: Apache-2.0
"""The Dockerfile parser and word expansion: each syntax feature and each error."""

import io

import pytest

from dockyard.builder.context import BuildContext
from dockyard.builder.dockerignore import Matcher, read_patterns
from dockyard.builder.parser import ParseError, parse
from dockyard.builder.shell import expand_word, expand_words, split_words
from tests.unit.builder.tarutil import tar_bytes


def test_directives_continuations_comments_and_case():
    df = parse("# syntax=docker/dockerfile:1\n# escape=`\nfrom busybox\nRUN echo a `\n# comment\n\n  && echo b\n")
    assert df.directives == {"syntax": "docker/dockerfile:1", "escape": "`"}
    run = df.stages[0].instructions[0]
    assert run.cmd == "run" and run.text == "echo a   && echo b" and run.line == 4
    assert df.warnings and "Empty continuation line" in df.warnings[0]


def test_directive_only_at_top():
    df = parse("FROM busybox\n# escape=`\nRUN echo \\\n hi\n")
    assert df.escape == "\\" and df.stages[0].instructions[0].text == "echo  hi"


def test_exec_and_shell_forms():
    df = parse('FROM busybox\nCMD ["a", "b c"]\nENTRYPOINT echo hi\nRUN [not json\n')
    cmd, entry, run = df.stages[0].instructions
    assert cmd.json and cmd.args == ["a", "b c"]
    assert not entry.json and entry.text == "echo hi"
    assert not run.json and run.text == "[not json"


def test_meta_args_stages_and_flags():
    df = parse("ARG V=1\nFROM --platform=linux/amd64 busybox:$V AS Build\nCOPY --from=build --chown=1:2 a /b\nFROM scratch\n")
    assert [a.args for a in df.meta_args] == [["V=1"]]
    assert df.stages[0].name == "build" and df.stages[0].platform == "linux/amd64"
    copy = df.stages[0].instructions[0]
    assert copy.flag("from") == "build" and copy.flag("chown") == "1:2" and copy.args == ["a", "/b"]
    assert df.stage("1") is df.stages[1] and df.stage("BUILD") is df.stages[0]


def test_heredocs():
    df = parse("FROM busybox\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<-'X' /f\n\thello $x\n\tX\nRUN true\n")
    run, copy, last = df.stages[0].instructions
    assert run.heredocs[0].content == "echo one\necho two\n" and run.heredocs[0].expand
    assert copy.heredocs[0].content == "hello $x\n" and not copy.heredocs[0].expand
    assert last.text == "true"


def test_env_label_forms():
    df = parse('FROM busybox\nENV A=b C="d e"\nENV LEGACY value with spaces\nLABEL "x y"=z\n')
    env, legacy, label = df.stages[0].instructions
    assert env.args == ["A=b", 'C="d e"']
    assert expand_word(legacy.args[0].partition("=")[2], {}) == "value with spaces"
    assert label.args == ['"x y"=z']


@pytest.mark.parametrize("text, message", [
    ("FROM busybox\nFOO bar\n", "dockerfile parse error line 2: unknown instruction: FOO"),
    ("RUN true\n", "no build stage in current context"),
    ("FROM a b\n", "FROM requires either one or three arguments"),
    ("FROM busybox\nCOPY --bogus=1 a b\n", "Unknown flag: bogus"),
    ("FROM busybox\nCOPY a\n", "COPY requires at least two arguments"),
    ("FROM busybox\nENV A\n", "ENV must have two arguments"),
    ("FROM busybox\nENV =x\n", "ENV names can not be blank"),
    ("FROM busybox\nSHELL sh -c\n", "SHELL requires the arguments to be in JSON form"),
    ("FROM busybox\nONBUILD ONBUILD RUN x\n", "Chaining ONBUILD"),
    ("FROM busybox\nONBUILD FROM x\n", "FROM isn't allowed as an ONBUILD trigger"),
    ("FROM busybox\nRUN\n", "RUN requires at least one argument"),
    ("FROM busybox\nRUN <<EOF\nnever ends\n", "unterminated heredoc EOF"),
    ("# escape=x\nFROM busybox\n", "invalid escape token"),
    ("FROM a AS x\nFROM b AS x\n", "duplicate name x"),
    ("\n# only a comment\n", "file with no instructions"),
])
def test_errors_name_the_line_and_problem(text, message):
    with pytest.raises(ParseError) as info:
        parse(text)
    assert message in info.value.message


def test_unknown_target():
    with pytest.raises(ParseError, match="failed to reach build target nope"):
        parse("FROM busybox\n").stage("nope")


@pytest.mark.parametrize("word, expected", [
    ("$a", "1"), ("${a}", "1"), ("${u:-x}", "x"), ("${e:-x}", "x"), ("${e-x}", ""),
    ("${a:+y}", "y"), ("${u:+y}", ""), ("${e+y}", "y"), ("${u+y}", ""),
    ("'$a'", "$a"), ('"$a b"', "1 b"), ("\\$a", "$a"), ("a\\ b", "a b"), ("${a}${a}", "11"),
    ("${u:-${a}}", "1"), ("$1", ""), ("$", "$"),
])
def test_expansion(word, expected):
    assert expand_word(word, {"a": "1", "e": ""}) == expected


def test_expansion_errors_and_escape_char():
    with pytest.raises(Exception, match="missing"):
        expand_word("${a", {"a": "1"})
    with pytest.raises(Exception, match="must be set"):
        expand_word("${u:?must be set}", {})
    assert expand_word("a`$b", {"b": "x"}, escape="`") == "a$b"
    assert expand_words('a "b c" $v', {"v": "d"}) == ["a", "b c", "d"]
    assert split_words('A="x y" B=z') == ['A="x y"', "B=z"]


def test_dockerignore_semantics():
    m = Matcher(read_patterns("# c\nnode_modules\n*.log\n!keep.log\n**/*.tmp\n/abs/\n"))
    assert m.excluded("node_modules") and m.excluded("node_modules/a/b")
    assert m.excluded("a.log") and not m.excluded("keep.log") and not m.excluded("d/a.log")
    assert m.excluded("x/y/z.tmp") and m.excluded("z.tmp") and m.excluded("abs/f")
    assert not m.excluded("src/app.py")


def _tar(files: dict[str, bytes]) -> bytes:
    return tar_bytes(files, "w:gz")


def test_context_index_hashes_and_reads_from_the_tar(tmp_path):
    body = _tar({"Dockerfile": b"FROM busybox\n", "d/a": b"A" * 3_000_000, "d/b": b"B",
                 ".dockerignore": b"d/b\n"})
    ctx = BuildContext.receive(io.BytesIO(body), tmp_path)
    try:
        assert ctx.read_file("Dockerfile") == b"FROM busybox\n"
        assert ctx.entries["d"].is_dir and sorted(ctx.entries["d"].children) == ["d/a", "d/b"]
        before = ctx.checksum(ctx.entries["d"])
        ctx.apply_dockerignore("Dockerfile")
        assert "d/b" not in ctx.entries
        ctx._dir_sums.clear()
        assert ctx.checksum(ctx.entries["d"]) != before
        data = ctx.open(ctx.entries["d/a"]).read()
        assert data == b"A" * 3_000_000
        with pytest.raises(Exception, match="file not found in build context"):
            ctx.sources("d/b", "COPY")
        assert [e.path for e in ctx.sources("d/*", "COPY")] == ["d/a"]
    finally:
        ctx.close()
    assert not ctx.tar_path.exists()
