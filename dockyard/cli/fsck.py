# SPDX-License-Identifier: Apache-2.0
"""`dockyard system fsck`: what the daemon's store check found (daemon/fsck.py), one line
per problem, then a summary; exit status 1 while a problem is left unrepaired."""

from __future__ import annotations

from dockyard.cli.command import Cli, StatusError
from dockyard.cli.parser import Command, Flag

FSCK = Command(
    "system fsck",
    "[OPTIONS]",
    "Check the consistency of images, layers, blobs, containers and volumes",
    [
        Flag("repair", "", help="Repair what can be repaired without losing data"),
        Flag("quick", "", help="Do not verify the content of every blob"),
        Flag("format", "", "string", help="Format output using a custom template ('json')"),
    ],
    max_args=0,
)


def cmd_fsck(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = FSCK.with_path(path).parse(argv)
    report = cli.client.fsck(repair=opts.repair, quick=opts.quick)
    if opts.format == "json":
        import json

        cli.out(json.dumps(report, indent=4))
    elif opts.format:
        from dockyard.cli.inspect import print_inspected

        print_inspected(cli, [report], [], opts.format)
    else:
        for finding in report.get("Findings") or []:
            outcome = f": {finding['Repair']}" if finding.get("Repair") else ""
            cli.out(f"{finding['Kind']} {finding['Name']}: {finding['Problem']}{outcome}")
        checked = report.get("Checked") or {}
        counts = ", ".join(f"{n} {k.lower()}" for k, n in checked.items())
        findings = report.get("Findings") or []
        left = sum(1 for f in findings if not f.get("Repair"))
        cli.out(f"checked {counts}: {len(findings)} problem(s), {left} left unrepaired")
    if not report.get("Clean", False):
        raise StatusError("", 1)
    return 0
