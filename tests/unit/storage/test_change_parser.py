# SPDX-License-Identifier: Apache-2.0
"""`--change` lines (import/commit): the config-only Dockerfile instructions."""

import pytest

from dockyard.errors import InvalidParameter
from dockyard.images.changes import apply_changes, parse_duration


def test_cmd_and_entrypoint_forms():
    cfg = apply_changes({}, ['CMD ["nginx", "-g", "daemon off;"]'])
    assert cfg["Cmd"] == ["nginx", "-g", "daemon off;"]
    cfg = apply_changes({}, ["CMD echo hello world"])
    assert cfg["Cmd"] == ["/bin/sh", "-c", "echo hello world"]
    cfg = apply_changes({"Shell": ["/bin/bash", "-lc"]}, ["ENTRYPOINT exec run"])
    assert cfg["Entrypoint"] == ["/bin/bash", "-lc", "exec run"]


def test_entrypoint_clears_inherited_cmd_unless_cmd_given_first():
    base = {"Cmd": ["sh"]}
    assert apply_changes(base, ['ENTRYPOINT ["/app"]'])["Cmd"] is None
    cfg = apply_changes(base, ['CMD ["--help"]', 'ENTRYPOINT ["/app"]'])
    assert cfg["Cmd"] == ["--help"] and cfg["Entrypoint"] == ["/app"]
    assert base == {"Cmd": ["sh"]}  # the input is not modified


def test_env_forms_quotes_and_expansion():
    cfg = apply_changes(
        {"Env": ["PATH=/bin"]},
        [
            'ENV A=1 B="two words" C=\'$NOT\' D=x\\ y',
            "ENV PATH=/opt/bin:$PATH",
            "ENV LEGACY value with  spaces",
            "ENV E=${A}-${MISSING:-dflt}-${A:+set}",
        ],
    )
    assert cfg["Env"] == [
        "PATH=/opt/bin:/bin", "A=1", "B=two words", "C=$NOT", "D=x y",
        "LEGACY=value with  spaces", "E=1-dflt-set",
    ]


def test_label_expose_user_workdir_volume_stopsignal():
    cfg = apply_changes(
        {"WorkingDir": "/srv"},
        [
            'LABEL maintainer="me" version=1.0',
            "EXPOSE 80 443/tcp 53/udp 8000-8002",
            "USER www-data:www-data",
            "WORKDIR app",
            "WORKDIR sub/../final",
            'VOLUME ["/data", "/logs"]',
            "VOLUME /cache /tmp/x",
            "STOPSIGNAL SIGQUIT",
        ],
    )
    assert cfg["Labels"] == {"maintainer": "me", "version": "1.0"}
    assert cfg["ExposedPorts"] == {
        "80/tcp": {}, "443/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {},
    }
    assert cfg["User"] == "www-data:www-data"
    assert cfg["WorkingDir"] == "/srv/app/final"
    assert cfg["Volumes"] == {"/data": {}, "/logs": {}, "/cache": {}, "/tmp/x": {}}
    assert cfg["StopSignal"] == "SIGQUIT"


def test_healthcheck_and_onbuild():
    cfg = apply_changes({}, [
        "HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD curl -f http://localhost/",
        "ONBUILD RUN make",
    ])
    assert cfg["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -f http://localhost/"],
        "Interval": 30_000_000_000, "Timeout": 5_000_000_000, "Retries": 3,
    }
    assert cfg["OnBuild"] == ["RUN make"]
    assert apply_changes({}, ["HEALTHCHECK NONE"])["Healthcheck"] == {"Test": ["NONE"]}
    assert apply_changes({}, ['HEALTHCHECK CMD ["true"]'])["Healthcheck"]["Test"] == ["CMD", "true"]


def test_continuation_lines_and_comments():
    cfg = apply_changes({}, ["# comment", "ENV A=1 \\", "    B=2"])
    assert cfg["Env"] == ["A=1", "B=2"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("RUN echo hi", "run is not a valid change command"),
        ("FROM busybox", "from is not a valid change command"),
        ("EXPOSE 70000", "invalid containerPort: 70000"),
        ("EXPOSE 80/xyz", "invalid proto: xyz"),
        ("STOPSIGNAL SIGNOPE", "Invalid signal: SIGNOPE"),
        ("ENV ONLYKEY", "ENV must have two arguments"),
        ("ENV A=1 B", 'can\'t find = in "B"'),
        ('ENV A="unterminated', "unexpected end of statement"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD"),
        ("HEALTHCHECK --interval=soon CMD true", "invalid duration"),
    ],
)
def test_errors(change, message):
    with pytest.raises(InvalidParameter, match=message.replace("(", r"\(")):
        apply_changes({}, [change])


def test_parse_duration():
    assert parse_duration("1m30s") == 90_000_000_000
    assert parse_duration("1.5h") == 5_400_000_000_000
    assert parse_duration("250ms") == 250_000_000
    assert parse_duration("0") == 0
    with pytest.raises(InvalidParameter):
        parse_duration("10")
