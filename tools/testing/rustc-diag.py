#!/usr/bin/env python3
"""Split a kernel build log made with KRUSTFLAGS=--error-format=json.

stdin: the build output, rustc/clippy diagnostics as JSON lines.
Writes the log with the diagnostics rendered as rustc prints them (argv[1])
and one line per diagnostic, "level<TAB>lint or code<TAB>message<TAB>file:line:col"
(argv[2]). rustc's totals ("N warnings emitted", "aborting due to") are left
out of the second file.
"""
import json
import re
import sys

TOTALS = re.compile(r"^(\d+ warnings? emitted|aborting due to)")

with open(sys.argv[1], "w") as log, open(sys.argv[2], "w") as tsv:
    for line in sys.stdin:
        d = None
        if line.startswith("{"):
            try:
                d = json.loads(line)
            except ValueError:
                pass
        if not isinstance(d, dict) or "rendered" not in d:
            log.write(line)
            continue
        log.write(d.get("rendered") or "")
        msg = d.get("message", "")
        level = d.get("level", "")
        if TOTALS.match(msg) or level not in ("warning", "error"):
            continue
        code = (d.get("code") or {}).get("code") or "-"
        spans = d.get("spans") or []
        span = next((s for s in spans if s.get("is_primary")), spans[0] if spans else None)
        loc = "%s:%s:%s" % (span["file_name"], span["line_start"], span["column_start"]) if span else "-"
        tsv.write("\t".join((level, code, msg.replace("\t", " ").replace("\n", " "), loc)) + "\n")
