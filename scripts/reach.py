#!/usr/bin/env python3
"""scripts/reach.py - the reach table of scripts/coverage: which stress drivers
and fuzz targets execute each public function of libipc and of the server
library.

usage: scripts/reach.py --repo DIR --runs DIR --profdata TOOL --md FILE --json FILE
                        [--faults-build] [--quiet]

--runs holds one directory per run: driver-<name>/, target-<name>/ and sweep/
(the fault sweep, its own column, not counted as a driver or target), each with
the raw profiles (*.profraw) of that run and of every child it forked. Each is
merged with llvm-profdata and read back with `llvm-profdata show
--all-functions`: a function whose entry count is above 0 was executed.

The public functions are the ones declared (or defined static inline) in
core/include/ipc/*.h and server/include/ipcsrv/*.h; ipc/faults.h only with
--faults-build (its functions exist only in fault builds). Comments, preprocessor
lines (function-like macros included), typedefs, struct/enum bodies and
variables are skipped; attribute macros such as IPC_MUST_USE are ignored.

Prints a compact table (percentage per column, the unreached functions) and
writes FILE.md (the whole table) and FILE.json. Exit status: 0 ok, 1 error, 64
usage error.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

HEADER_GLOBS = ("core/include/ipc/*.h", "server/include/ipcsrv/*.h")
FAULT_ONLY_HEADERS = {"core/include/ipc/faults.h"}


def strip_source(text):
    """The header without comments and preprocessor lines (continuations too)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"\\\n", " ", text)  # joins #define continuations
    lines = [ln for ln in text.split("\n") if not ln.lstrip().startswith("#")]
    text = "\n".join(lines)
    text = re.sub(r'extern\s+"C"\s*\{', " ", text)
    text = re.sub(r"__attribute__\s*\(\(.*?\)\)", " ", text)
    return text


def statements(text):
    """Top-level declarations: up to ';' at brace depth 0, or a function body."""
    out, cur, depth = [], [], 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                continue  # the closing brace of extern "C"
            depth -= 1
            cur.append(ch)
            if depth == 0:
                head = "".join(cur).split("{", 1)[0]
                if "(" in head and not re.match(r"\s*(typedef|struct|union|enum)\b", head):
                    out.append("".join(cur))
                    cur = []
            continue
        if ch == ";" and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    return out


def functions_of(path):
    names = []
    for st in statements(strip_source(open(path).read())):
        head = st.split("{", 1)[0].strip()
        if not head or re.match(r"(typedef|struct|union|enum)\b", head) and "(" not in head:
            continue
        if head.startswith("typedef"):
            continue
        m = re.match(r"(.*?)\b([A-Za-z_]\w*)\s*\(", head, flags=re.S)
        if not m or "=" in m.group(1):
            continue
        before, name = m.group(1), m.group(2)
        if not before.strip() or name.isupper() or "(" in before:
            continue  # no return type (a macro call), or a function pointer
        names.append(name)
    return names


def public_functions(repo, faults_build):
    funcs = {}  # name -> header
    for g in HEADER_GLOBS:
        for path in sorted(glob.glob(os.path.join(repo, g))):
            rel = os.path.relpath(path, repo)
            if rel in FAULT_ONLY_HEADERS and not faults_build:
                continue
            for n in functions_of(path):
                funcs.setdefault(n, rel)
    return funcs


def executed(profdata_tool, run_dir):
    """name -> entry count of every function in the run's profiles."""
    raws = sorted(glob.glob(os.path.join(run_dir, "**", "*.profraw"), recursive=True))
    if not raws:
        return None
    merged = os.path.join(run_dir, "run.profdata")
    subprocess.run([profdata_tool, "merge", "-sparse", "-o", merged] + raws, check=True,
                   stdout=subprocess.DEVNULL)
    show = subprocess.run([profdata_tool, "show", "--all-functions", merged], check=True,
                          stdout=subprocess.PIPE, text=True).stdout
    counts, name = {}, None
    for line in show.split("\n"):
        m = re.match(r"  (\S.*):$", line)
        if m:
            name = m.group(1)
            continue
        m = re.match(r"\s+Function count: (\d+)", line)
        if m and name is not None:
            # static (inline) functions are named "file.c:name"
            base = name.rsplit(":", 1)[-1]
            counts[base] = counts.get(base, 0) + int(m.group(1))
    return counts


class UsageParser(argparse.ArgumentParser):
    """argparse, but a usage error is exit status 64 as in every ipcstorm command."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(64, "%s: %s\n" % (self.prog, message))


def main():
    ap = UsageParser(
        prog="scripts/reach.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[0].split(" - ", 1)[1],
        epilog="""Examples (scripts/coverage runs it after the harness profile):
  scripts/reach.py --repo . --runs build/coverage/harness/runs \\
      --profdata llvm-profdata-14 --md build/coverage/reach.md \\
      --json build/coverage/harness/reach.json --faults-build

Exit status: 0 ok, 1 error (no public functions found, no runs, llvm-profdata
failed), 64 usage error.""")
    ap.add_argument("--repo", required=True, metavar="DIR", help="the source tree")
    ap.add_argument("--runs", required=True, metavar="DIR",
                    help="one directory of *.profraw per run: driver-<name>/, target-<name>/, "
                         "sweep/")
    ap.add_argument("--profdata", required=True, metavar="TOOL",
                    help="the llvm-profdata program")
    ap.add_argument("--md", required=True, metavar="FILE", help="the whole table (Markdown)")
    ap.add_argument("--json", required=True, metavar="FILE", help="the table as JSON")
    ap.add_argument("--faults-build", action="store_true",
                    help="the build has the fault seam: ipc/faults.h counts too")
    ap.add_argument("--quiet", action="store_true", help="do not print the short table")
    a = ap.parse_args()

    funcs = public_functions(a.repo, a.faults_build)
    if not funcs:
        print("reach.py: no public function found in the headers", file=sys.stderr)
        return 1
    columns = {}
    for d in sorted(os.listdir(a.runs)) if os.path.isdir(a.runs) else []:
        c = executed(a.profdata, os.path.join(a.runs, d))
        if c is not None:
            columns[d] = c
    cols = [c for c in columns if c != "sweep"]
    if not cols:
        print("reach.py: no driver or target profile in %s" % a.runs, file=sys.stderr)
        return 1
    in_build = set().union(*(set(c) for c in columns.values()))

    table = {}
    for name, header in sorted(funcs.items(), key=lambda kv: (kv[1], kv[0])):
        by = [c for c in cols if columns[c].get(name, 0) > 0]
        table[name] = {"header": header, "reached_by": by,
                       "sweep": columns.get("sweep", {}).get(name, 0) > 0,
                       "linked": name in in_build}
    reached = [n for n, v in table.items() if v["reached_by"]]
    unreached = [n for n, v in table.items() if not v["reached_by"]]
    total = len(table)
    pct = round(100.0 * len(reached) / total, 1)
    col_counts = {c: sum(1 for v in table.values() if c in v["reached_by"]) for c in cols}
    sweep_only = [n for n in unreached if table[n]["sweep"]]
    result = {"public_functions": total, "reached": len(reached), "percent": pct,
              "columns": cols, "column_reach": col_counts, "sweep_column": "sweep" in columns,
              "unreached": [{"function": n, "header": table[n]["header"],
                             "by_sweep": table[n]["sweep"], "linked": table[n]["linked"]}
                            for n in unreached],
              "functions": table}
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)

    # Markdown: one row per function, one column per driver/target (+ sweep).
    short = {c: c.replace("driver-", "d:").replace("target-", "t:") for c in columns}
    shown = cols + (["sweep"] if "sweep" in columns else [])
    with open(a.md, "w") as f:
        f.write("# Reach of the public API by the stress drivers and fuzz targets\n\n")
        f.write("Generated by scripts/coverage (scripts/reach.py). %d of %d public functions "
                "(%.1f%%) are executed by at least one stress driver (d:) or fuzz target (t:);"
                " the fault sweep is its own column, not counted.\n\n" % (len(reached), total, pct))
        f.write("| function | header | " + " | ".join(short[c] for c in shown) + " |\n")
        f.write("|---|---|" + "---|" * len(shown) + "\n")
        for n, v in table.items():
            cells = ["x" if (c in v["reached_by"] or (c == "sweep" and v["sweep"])) else ""
                     for c in shown]
            f.write("| %s | %s | %s |\n" % (n if v["reached_by"] else "**%s**" % n,
                                            os.path.basename(v["header"]), " | ".join(cells)))
        f.write("\nUnreached by every driver and target (%d):\n\n" % len(unreached))
        for n in unreached:
            v = table[n]
            f.write("- %s (%s)%s%s\n" % (n, v["header"], " - the fault sweep reaches it"
                                          if v["sweep"] else "",
                                          "" if v["linked"] else " - not linked into any run"))

    if not a.quiet:
        print("reach: %d/%d public functions (%.1f%%) executed by a stress driver or fuzz target"
              % (len(reached), total, pct))
        print("  per column: " + ", ".join("%s %d" % (short[c], col_counts[c]) for c in cols)
              + ("; sweep %d" % sum(1 for v in table.values() if v["sweep"])
                 if "sweep" in columns else ""))
        if unreached:
            print("  unreached (%d): %s" % (len(unreached), ", ".join(
                n + (" [sweep]" if table[n]["sweep"] else "") for n in unreached)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
