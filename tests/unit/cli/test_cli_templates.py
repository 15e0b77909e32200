# SPDX-License-Identifier: Apache-2.0
"""The Go-template subset behind every --format."""

import pytest

from dockyard.cli.templates import TemplateError, go_printf, render, unescape

DATA = {
    "Name": "/web",
    "State": {"Status": "running", "Running": True, "ExitCode": 0, "Health": None},
    "Config": {"Env": ["A=1", "B=2"], "Labels": {"b": "2", "a": "x<y"}, "Cmd": None, "Tty": False},
    "NetworkSettings": {
        "Networks": {"bridge": {"IPAddress": "172.17.0.2"}, "net1": {"IPAddress": "10.0.0.2"}}
    },
    "Args": ["-c", "a<b && c"],
}


@pytest.mark.parametrize(
    "template, expected",
    [
        ("{{.State.Status}}", "running"),
        ("{{json .Config.Labels}}", '{"b":"2","a":"x<y"}'),
        ("{{json .Args}}", '["-c","a<b && c"]'),
        ("{{.Config.Labels}}", "map[a:x<y b:2]"),
        (
            "{{.Args}} {{.State.Running}} {{.State.ExitCode}} {{.State.Health}}",
            "[-c a<b && c] true 0 <nil>",
        ),
        ("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "172.17.0.2 10.0.0.2 "),
        ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "a=x<y;b=2;"),
        ("{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}", "0:A=1 1:B=2 "),
        ('{{join .Config.Env ","}}', "A=1,B=2"),
        (
            "{{upper .State.Status}} {{.Name | lower}} {{title .State.Status}}",
            "RUNNING /web Running",
        ),
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ('{{if eq .State.Status "exited"}}x{{else if eq .State.Status "running"}}r{{end}}', "r"),
        (
            "{{with .State}}{{.Status}}{{end}}{{with .Config.Cmd}}cmd{{else}}none{{end}}",
            "runningnone",
        ),
        ("a {{- .Name -}} b", "a/webb"),
        ('{{index .Config.Labels "a"}} {{index .Config.Env 1}} {{len .Config.Env}}', "x<y B=2 2"),
        ('{{printf "%-8s|%3d|%q" .State.Status 5 .Name}}', 'running |  5|"/web"'),
        ('{{split "a:b:c" ":"}}', "[a b c]"),
        ("{{(index .Config.Env 0)}} {{.Config.Env | len}}", "A=1 2"),
        ('{{"}}"}}', "}}"),
        ("{{/* a comment */}}x", "x"),
        ("{{.Missing}}", "<no value>"),
        (
            "{{$}}",
            "map[Args:[-c a<b && c] Config:map[Cmd:<nil> Env:[A=1 B=2] Labels:map[a:x<y b:2] Tty:false] Name:/web NetworkSettings:map[Networks:map[bridge:map[IPAddress:172.17.0.2] net1:map[IPAddress:10.0.0.2]]] State:map[ExitCode:0 Health:<nil> Running:true Status:running]]",
        ),
        (
            '{{and .State.Running .Name}} {{or .Config.Cmd "dflt"}} {{not .State.Running}}',
            "/web dflt false",
        ),
    ],
)
def test_render(template, expected):
    assert render(template, DATA) == expected


def test_strict_mode_reports_missing_keys_like_inspect():
    with pytest.raises(TemplateError, match='map has no entry for key "Nope"'):
        render("{{.Config.Nope}}", DATA, strict=True)
    assert render("{{.Config.Tty}}", DATA, strict=True) == "false"


@pytest.mark.parametrize(
    "template", ["{{.Name", "{{if .Name}}x", "{{end}}", "{{nosuchfunc .Name}}", "{{else}}"]
)
def test_bad_templates(template):
    with pytest.raises(TemplateError):
        render(template, DATA)


def test_methods_on_row_objects():
    class Row:
        ID = "abc"

        def Label(self, name):  # noqa: N802
            return {"k": "v"}.get(name, "")

        def to_json(self):
            return {"ID": self.ID, "Cmd": "a<b"}

    assert render('{{.ID}} {{.Label "k"}}', Row()) == "abc v"
    # Row objects marshal like Go's json.Marshal, which escapes HTML characters.
    assert render("{{json .}}", Row()) == '{"Cmd":"a\\u003cb","ID":"abc"}'
    with pytest.raises(TemplateError, match="can't evaluate field Nope"):
        render("{{.Nope}}", Row())


def test_unescape_and_printf():
    assert unescape("table {{.ID}}\\t{{.Names}}\\n") == "table {{.ID}}\t{{.Names}}\n"
    assert go_printf("%s=%v %d%%", "a", [1, 2], 3) == "a=[1 2] 3%"
    assert go_printf("%s %s", "x") == "x %!s(MISSING)"
