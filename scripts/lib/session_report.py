#!/usr/bin/env python3
"""scripts/lib/session_report.py - the reports of scripts/session (Python 3 stdlib).

    session_report.py collect SESSION_DIR [options]   rows.tsv + driver JSON + logs -> report.json
    session_report.py render  SESSION_DIR             report.json + history -> report.html, report.md
    session_report.py table   SESSION_DIR             the summary table of one session
    session_report.py compare [--root ROOT] [DIR]     what changed: latest session vs DIR or the one before
    session_report.py list    [--root ROOT]           kept sessions, newest last
    session_report.py prune   --root ROOT --keep N    delete all but the newest N sessions

A session folder is ROOT/<id>/ (id: UTC time, 20261130T082000Z) holding
report.json (schema "ipcstorm-session", SCHEMA_VERSION below), report.html,
report.md, one <driver>.json and logs/. Every reader checks the schema and says
which path is damaged or foreign and what to do; nothing here deletes anything
except `prune`, which only runs when asked (scripts/session --keep N).
Exit status: 0 ok, 1 a session could not be read (or compare found nothing to
compare with), 2 compare: the newer session has violations or failures the older
one did not have, 64 usage error.
"""
import argparse
import html
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time

SCHEMA = "ipcstorm-session"
SCHEMA_VERSION = 1
MAX_CHART_SESSIONS = 100  # charts and tables of report.html: the newest 100 sessions
NOISE_FLOOR = 0.15  # relative ops/s or exec/s change always treated as noise
EXIT_OK, EXIT_SETUP, EXIT_FOUND, EXIT_USAGE = 0, 1, 2, 64
ID_RE = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")

# What one op is, per driver (README, "Stress drivers"); the unit of each chart.
OP_MEANING = {
    "forkwait": "a reaped child or grandchild",
    "signals": "an RT signal delivered, or an acked SIGUSR1",
    "counter": "a committed increment",
    "pipe": "a verified frame",
    "sock": "a checked reply",
    "supervisor": "a checked reply (INCR, stats workload, UDP datagram, max-clients probe)",
    "diff": "a request sent to both servers and its replies compared",
    "run": "one ipc_run",
    "pool": "a collected result",
}


class SessionError(Exception):
    """A session folder that cannot be used; the message names the path and what to do."""


# ---------------------------------------------------------------- reading sessions
def load_session(path):
    """report.json of session folder PATH, checked; raises SessionError."""
    path = os.path.realpath(path)  # build/session is a link: its history is next to the target
    if not os.path.exists(path):
        raise SessionError(f"{path}: no such session folder")
    if not os.path.isdir(path):
        raise SessionError(f"{path}: not a folder (a session is a folder with report.json)")
    rj = os.path.join(path, "report.json")
    if not os.path.exists(rj):
        if os.path.isdir(os.path.join(path, "logs")) or os.path.exists(os.path.join(path, "rows.tsv")):
            raise SessionError(f"{path}: no report.json: this session did not finish (stopped, "
                               f"or still running); its logs are in {path}/logs. Name another "
                               f"session, or run scripts/session again")
        raise SessionError(f"{path}: not a session folder (no report.json); name a folder under "
                           f"build/sessions/ (scripts/session --list shows them)")
    try:
        with open(rj, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SessionError(f"{rj}: cannot read: {e.strerror}")
    try:
        rep = json.loads(text)
    except ValueError as e:
        what = "empty" if not text.strip() else f"not valid JSON ({e})"
        logs = f" (its logs are in {path}/logs)" if os.path.isdir(os.path.join(path, "logs")) else ""
        raise SessionError(f"{rj}: damaged report ({what}; {len(text)} bytes, truncated?). It was "
                           f"left as it is{logs}: name another session (scripts/session "
                           f"--list), or remove that folder yourself")
    if not isinstance(rep, dict) or rep.get("schema") != SCHEMA:
        found = rep.get("schema") if isinstance(rep, dict) else None
        hint = (f'its schema is "{found}"' if found else
                "it has no schema field (written by a scripts/session before sessions kept "
                "history, or by another tool)")
        raise SessionError(f'{rj}: not an ipcstorm session report: {hint}; expected "schema": '
                           f'"{SCHEMA}". Name a folder under build/sessions/ written by this '
                           f"scripts/session")
    ver = rep.get("schema_version")
    if not isinstance(ver, int) or ver < 1:
        raise SessionError(f"{rj}: schema_version {ver!r} is not a positive integer: damaged report")
    if ver > SCHEMA_VERSION:
        raise SessionError(f"{rj}: schema_version {ver} is newer than this scripts/session reads "
                           f"({SCHEMA_VERSION}): update the checkout, or name an older session")
    for key in ("id", "drivers", "fuzz"):
        if key not in rep:
            raise SessionError(f"{rj}: damaged report: no \"{key}\" field")
    rep["_path"] = path
    return rep


def session_dirs(root):
    """Folders under ROOT that look like sessions (by name), oldest first."""
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(os.path.join(root, n) for n in names
                  if ID_RE.match(n) and os.path.isdir(os.path.join(root, n)))


def history(root, upto_id=None, warn=True):
    """Complete, readable sessions under ROOT (oldest first), up to id UPTO_ID;
    the others are named on stderr and skipped."""
    out = []
    for d in session_dirs(root):
        if upto_id and os.path.basename(d) > upto_id:
            continue
        try:
            out.append(load_session(d))
        except SessionError as e:
            if warn:
                print(f"session: skipping {e}", file=sys.stderr)
    return out


# ---------------------------------------------------------------- collect
VIOLATION_RE = re.compile(r"^VIOLATION (\S+): (.*) \[([\w-]+)\]; reproduce: (.*)$")
ERROR_RE = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                      r"WARNING: ThreadSanitizer|setup error|==\d+==ERROR")


def last_json_line(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip().startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def read_lines(path, limit=2_000_000):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(limit).splitlines()
    except OSError:
        return []


def result_of(rc, json_result):
    if json_result in ("PASS", "FAIL", "ERROR", "INTERRUPTED"):
        return json_result
    # 130, 143: the runner itself was stopped by SIGINT or SIGTERM.
    return {0: "PASS", 2: "FAIL", 124: "HANG", 137: "HANG", 130: "INTERRUPTED",
            143: "INTERRUPTED"}.get(rc, "ERROR")


def collect_driver(sess_dir, row):
    name, build = row["name"], row["build"]
    j = last_json_line(os.path.join(sess_dir, row["stdout"])) or {}
    log = read_lines(os.path.join(sess_dir, row["log"]))
    rc = int(row["rc"])
    result = result_of(rc, j.get("result"))
    reproduce = j.get("reproduce") or row["command"]
    violations = []
    for v in j.get("violation_details") or []:
        violations.append({"invariant": v.get("invariant"), "detail": v.get("detail"),
                           "reproduce": reproduce})
    if not violations:  # no JSON (the driver died): the VIOLATION lines of the log
        for ln in log:
            m = VIOLATION_RE.match(ln)
            if m:
                violations.append({"invariant": m.group(1), "detail": m.group(2),
                                   "reproduce": m.group(4)})
    first_error = next((ln.strip()[:300] for ln in log if ERROR_RE.search(ln)), None)
    if result == "HANG":
        first_error = first_error or f"did not finish within its time limit (exit {rc})"
    elif result == "INTERRUPTED":
        first_error = first_error or "interrupted (SIGINT or SIGTERM) before its time was up"
    elif result not in ("PASS",) and not first_error and not violations:
        first_error = f"exit status {rc}"
    dur = j.get("duration_s")
    return {
        "name": name, "build": build,
        "label": name if build == "asan" else f"{name} ({build})",
        "op": OP_MEANING.get(name),
        "result": result, "exit_status": rc,
        "ops": j.get("ops"), "ops_per_sec": j.get("ops_per_sec"),
        "duration_s": dur, "wall_s": float(row["wall"]),
        "checks": j.get("checks"),
        "violations": j.get("violations", len(violations)),
        "violation_details": violations,
        "seed": j.get("seed", int(row["seed"]) if row["seed"].isdigit() else None),
        "reproduce": reproduce,
        "first_error": first_error,
        "note": j.get("note"),
        "faults": j.get("faults") if build.endswith("-faults") else None,
        "json": row["stdout"], "log": row["log"],
    }


# scripts/fuzz's build/fuzz-work/summary.json (schema 1, see scripts/lib/fuzz_tool.py):
# {"schema": 1, "targets": [{"target", "engine", "execs", "exec_per_sec", "cov", "ft",
# "corpus", "findings": [{"kind", "top_frame", "hash", "count", "reproduce", "dir"}]}]}
SUMMARY_FIELDS = {"execs": "execs", "exec_per_sec": "exec_per_sec", "coverage": "cov",
                  "features": "ft", "corpus_size": "corpus"}
FINDING_FIELDS = {"kind": "kind", "frame": "top_frame", "hash": "hash", "count": "count",
                  "reproduce": "reproduce", "path": "dir"}


def summary_entry(obj, target, engine="libfuzzer"):
    """The entry of TARGET run by ENGINE in a scripts/fuzz summary, or None."""
    targets = obj.get("targets") if isinstance(obj, dict) else None
    for e in targets if isinstance(targets, list) else []:
        if isinstance(e, dict) and e.get("target") == target and e.get("engine") == engine:
            return e
    return None


def number(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)) and math.isfinite(v):
        return v
    if isinstance(v, str):
        try:
            return float(v.replace(",", ""))
        except ValueError:
            return None
    return None


def collect_fuzz(sess_dir, row):
    """One fuzz target: scripts/fuzz's summary.json of this run, else (no summary:
    the run failed early) the FINDING lines of its log."""
    t = row["name"]
    rc = int(row["rc"])
    out = {"target": t, "engine": "libfuzzer", "result": result_of(rc, None), "exit_status": rc,
           "seconds": float(row["wall"]), "execs": None, "exec_per_sec": None, "coverage": None,
           "features": None, "corpus_size": None, "findings": [], "log": row["log"],
           "source": None}
    # scripts/fuzz's summary of this run, copied into logs/ by scripts/session.
    kept = os.path.join(sess_dir, "logs", f"fuzz-{t}.summary.json")
    try:
        with open(kept, encoding="utf-8") as f:
            e = summary_entry(json.load(f), t)
    except (OSError, ValueError):
        e = None
    if e:
        for key, field in SUMMARY_FIELDS.items():
            out[key] = number(e.get(field))
        for x in e.get("findings") or []:
            if isinstance(x, dict):
                out["findings"].append({k: x[f] for k, f in FINDING_FIELDS.items()
                                        if x.get(f) is not None})
        out["source"] = os.path.relpath(kept, sess_dir)
    if not out["findings"]:
        lines = read_lines(os.path.join(sess_dir, row["log"]))
        for i, ln in enumerate(lines):
            if "FINDING" not in ln:
                continue
            f = {"line": ln.strip()[:400]}
            m = re.search(r"reproduce:\s*(.*)$", ln)
            if m:
                f["reproduce"] = m.group(1).strip()
            elif i + 1 < len(lines) and "reproduce:" in lines[i + 1]:
                f["reproduce"] = lines[i + 1].split("reproduce:", 1)[1].strip()
            out["findings"].append(f)
    if out["result"] == "PASS" and out["findings"]:
        out["result"] = "FAIL"
    return out


def git(*a):
    try:
        return subprocess.run(["git", *a], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def read_rows(path):
    cols = ("kind", "name", "build", "rc", "wall", "seed", "start", "stdout", "log", "command")
    rows = []
    for line in read_lines(path):
        if not line.strip():
            continue
        vals = line.split("\t")
        rows.append(dict(zip(cols, vals + [""] * (len(cols) - len(vals)))))
    return rows


def write_atomic(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def cmd_collect(a):
    sess = os.path.abspath(a.session)
    rows = read_rows(os.path.join(sess, "rows.tsv"))
    drivers = [collect_driver(sess, r) for r in rows if r["kind"] == "driver"]
    fuzz = [collect_fuzz(sess, r) for r in rows if r["kind"] == "fuzz"]
    bad = [d for d in drivers if d["result"] != "PASS"] + [f for f in fuzz if f["result"] != "PASS"]
    if any(x["result"] in ("FAIL", "HANG") for x in bad):
        result = "FAIL"
    elif a.interrupted:
        result = "INTERRUPTED"
    elif bad:
        result = "ERROR"
    else:
        result = "PASS"
    now = time.time()
    rep = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "id": os.path.basename(sess),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(a.started)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "elapsed_s": round(now - a.started, 1),
        "complete": not a.interrupted,
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "host": {"kernel": platform.release(), "cpus": os.cpu_count(),
                 "load_avg_1m": round(os.getloadavg()[0], 2)},
        "params": {"minutes": a.minutes, "seconds_per_driver": a.per, "load": a.load or None,
                   "fault_rate": a.fault_rate, "tsan": a.tsan, "fuzz_seconds": a.fuzz_seconds},
        "result": result,
        "drivers": drivers,
        "fuzz": fuzz,
    }
    write_atomic(os.path.join(sess, "report.json"), json.dumps(rep, indent=2) + "\n")
    return EXIT_OK


# ---------------------------------------------------------------- numbers and text
def fmt(v, digits=0):
    if v is None:
        return "-"
    if isinstance(v, float) and digits:
        return f"{v:,.{digits}f}"
    return f"{int(round(v)):,}"


def pct(old, new):
    if old is None or new is None or old <= 0:
        return None
    return (new - old) / old


def driver_key(d):
    return (d["name"], d["build"])


def short_id(sid):
    m = re.match(r"^\d{4}(\d\d)(\d\d)T(\d\d)(\d\d)", sid)
    return f"{m.group(1)}-{m.group(2)} {m.group(3)}:{m.group(4)}" if m else sid


def same_conditions(a, b):
    """Whether ops/s of sessions A and B were measured under the same load."""
    pa, pb = a.get("params", {}), b.get("params", {})
    return (pa.get("load"), pa.get("seconds_per_driver")) == (pb.get("load"), pb.get("seconds_per_driver"))


def noise_band(values):
    """Relative change treated as noise: NOISE_FLOOR, or the spread (max - min) /
    median of the earlier sessions' values when there are at least 3 and it is wider."""
    vals = sorted(v for v in values if v)
    if len(vals) < 3:
        return NOISE_FLOOR, 0
    med = vals[len(vals) // 2]
    spread = (vals[-1] - vals[0]) / med if med > 0 else 0
    return max(NOISE_FLOOR, spread), len(vals)


def group_violations(d):
    """{invariant: (first violation, how many recorded)} of driver run D."""
    out = {}
    for v in d.get("violation_details") or []:
        inv = v.get("invariant") or "?"
        first, n = out.get(inv, (v, 0))
        out[inv] = (first, n + 1)
    return out


def finding_text(x):
    """One line for a fuzz finding: scripts/fuzz's own line, or kind, frame and count."""
    if x.get("line"):
        return x["line"]
    text = " ".join(str(x[k]) for k in ("kind", "frame") if x.get(k)) or "finding"
    if x.get("count", 1) and x.get("count", 1) > 1:
        text += f" ({x['count']} inputs)"
    return text


def violation_sigs(d):
    return {v.get("invariant") or "?" for v in d.get("violation_details") or []}


# ---------------------------------------------------------------- compare
def compare(new, old, hist):
    """Lines describing what changed from OLD to NEW, and whether something new
    went wrong. HIST: complete sessions up to OLD, for the noise band."""
    lines = []
    worse = []

    def head(r):
        c = (r.get("commit") or "")[:10] or "?"
        return f"{r['id']} (commit {c}{', dirty' if r.get('dirty') else ''}, {r['result']})"

    lines.append(f"compare: {head(new)}")
    if not new.get("complete", True):
        lines[-1] += "  [interrupted: a partial session]"
    lines.append(f"   with: {head(old)}")
    ln, lo = new.get("host", {}).get("load_avg_1m"), old.get("host", {}).get("load_avg_1m")
    if ln is not None and lo is not None:
        lines.append(f"machine load average at the end: {lo} -> {ln} (a busy machine makes everything slower)")
    if not same_conditions(new, old):
        pn, po = new.get("params", {}), old.get("params", {})
        lines.append(f"note: the sessions ran under different conditions (load {po.get('load')!r} "
                     f"-> {pn.get('load')!r}, {po.get('seconds_per_driver')} -> "
                     f"{pn.get('seconds_per_driver')} s per driver): ops/s are not comparable")
    lines.append("")

    old_d = {driver_key(d): d for d in old["drivers"]}
    new_d = {driver_key(d): d for d in new["drivers"]}
    lines.append(f"{'driver':<24} {'old ops/s':>11} {'new ops/s':>11} {'change':>8} {'noise':>6}  verdict")
    for key, d in new_d.items():
        o = old_d.get(key)
        verdict = []
        if o is None:
            verdict.append("new in this session")
        ch = pct(o and o.get("ops_per_sec"), d.get("ops_per_sec")) if o else None
        band_vals = [s_d.get("ops_per_sec") for s in hist if same_conditions(s, new)
                     for s_d in s["drivers"] if driver_key(s_d) == key and s_d["result"] == "PASS"]
        band, n = noise_band(band_vals)
        # Speed verdicts only between passing runs: a run that failed or hung
        # counted its ops while something was wrong.
        if ch is not None and same_conditions(new, old) and d["result"] == o["result"] == "PASS":
            if ch > band:
                verdict.append("faster")
            elif ch < -band:
                verdict.append("SLOWER")
            else:
                verdict.append("within noise")
        if d["result"] == "INTERRUPTED":
            verdict.append("interrupted (partial run)")
        elif d["result"] != "PASS" and (o is None or o["result"] in ("PASS", "INTERRUPTED")):
            verdict.append(f"now {d['result']}")
            worse.append(f"{d['label']}: {d['result']}")
        elif o and o["result"] != "PASS" and d["result"] == "PASS":
            verdict.append(f"fixed (was {o['result']})")
        elif o and d["result"] != "PASS" and o["result"] == d["result"]:
            verdict.append(f"still {d['result']}")
        fresh = violation_sigs(d) - (violation_sigs(o) if o else set())
        if fresh:
            verdict.append(f"new violations: {', '.join(sorted(fresh))}")
            if not any(w.startswith(d["label"] + ":") for w in worse):
                worse.append(f"{d['label']}: new violations")
        lines.append(f"{d['label']:<24} {fmt(o and o.get('ops_per_sec')):>11} "
                     f"{fmt(d.get('ops_per_sec')):>11} "
                     f"{(f'{ch * 100:+.1f}%' if ch is not None else '-'):>8} "
                     f"{f'±{band * 100:.0f}%':>6}  {'; '.join(verdict)}")
    for key, o in old_d.items():
        if key not in new_d:
            lines.append(f"{o['label']:<24} {fmt(o.get('ops_per_sec')):>11} {'-':>11} {'-':>8} "
                         f"{'':>6}  not run in this session")
    lines.append("noise: a change within ±15% or within the spread (max-min)/median of the "
                 "earlier passing runs under the same load (when there are 3 or more), whichever "
                 "is wider, is noise")

    new_violations = []
    for key, d in new_d.items():
        o = old_d.get(key)
        fresh = violation_sigs(d) - (violation_sigs(o) if o else set())
        for v in d.get("violation_details") or []:
            if (v.get("invariant") or "?") in fresh:
                new_violations.append((d["label"], v))
                fresh.discard(v.get("invariant") or "?")
    if new_violations:
        lines.append("")
        lines.append("new violations:")
        for label, v in new_violations:
            lines.append(f"  {label}: {v.get('invariant')}: {v.get('detail')}")
            lines.append(f"    reproduce: {v.get('reproduce')}")

    old_f = {f["target"]: f for f in old["fuzz"]}
    new_f = {f["target"]: f for f in new["fuzz"]}
    if new_f or old_f:
        lines.append("")
        lines.append(f"{'fuzz target':<18} {'coverage':>15} {'features':>15} {'exec/s':>19} "
                     f"{'change':>8}  {'corpus':>11}  verdict")
        for t, f in new_f.items():
            o = old_f.get(t, {})
            verdict = []
            ch = pct(o.get("exec_per_sec"), f.get("exec_per_sec"))
            band, _ = noise_band([s_f.get("exec_per_sec") for s in hist for s_f in s["fuzz"]
                                  if s_f["target"] == t and s_f["result"] == "PASS"])
            if ch is not None and f["result"] == o.get("result") == "PASS":
                verdict.append("faster" if ch > band else "SLOWER" if ch < -band else "exec/s within noise")
            if f.get("coverage") is not None and o.get("coverage") is not None:
                dc = f["coverage"] - o["coverage"]
                if dc:
                    verdict.append(f"coverage {dc:+d}")
            if f["result"] not in ("PASS", "INTERRUPTED") and o.get("result", "PASS") in ("PASS", "INTERRUPTED"):
                verdict.append(f"now {f['result']}")
                worse.append(f"fuzz {t}: {f['result']}")
            old_lines = {x.get("hash") or x.get("line") for x in o.get("findings") or []}
            fresh = [x for x in f.get("findings") or [] if (x.get("hash") or x.get("line")) not in old_lines]
            if fresh:
                verdict.append(f"{len(fresh)} new finding(s)")
                if not any(w.startswith(f"fuzz {t}:") for w in worse):
                    worse.append(f"fuzz {t}: new findings")
            if not o:
                verdict.append("new in this session")
            lines.append(f"{t:<18} {arrow(o.get('coverage'), f.get('coverage')):>15} "
                         f"{arrow(o.get('features'), f.get('features')):>15} "
                         f"{arrow(o.get('exec_per_sec'), f.get('exec_per_sec')):>19} "
                         f"{(f'{ch * 100:+.1f}%' if ch is not None else '-'):>8}  "
                         f"{arrow(o.get('corpus_size'), f.get('corpus_size')):>11}  {'; '.join(verdict)}")
            for x in fresh:
                lines.append(f"  finding: {finding_text(x)}")
                if x.get("reproduce"):
                    lines.append(f"    reproduce: {x['reproduce']}")
        for t in old_f:
            if t not in new_f:
                lines.append(f"{t:<18} not run in this session")
    lines.append("")
    if worse:
        lines.append(f"worse than {old['id']}: " + "; ".join(worse))
    else:
        lines.append(f"no new violations, failures or findings since {old['id']}")
    return lines, bool(worse)


def arrow(a, b):
    if a is None and b is None:
        return "-"
    return f"{fmt(a)} -> {fmt(b)}"


def resolve(root, name):
    """DIR as given, or a session id under ROOT."""
    if os.path.isdir(name) or os.sep in name or name.startswith("."):
        return name
    cand = os.path.join(root, name)
    return cand if os.path.exists(cand) else name


def cmd_compare(a):
    root = a.root
    complete = [s for s in history(root) if s.get("complete", True)]
    if a.new:
        try:
            new = load_session(resolve(root, a.new))
        except SessionError as e:
            print(f"{a.label}: {e}", file=sys.stderr)
            return EXIT_SETUP
    else:
        if not complete:
            print(f"{a.label}: no finished session in {os.path.abspath(root)} yet: run "
                  f"scripts/session (twice, to have something to compare)", file=sys.stderr)
            return EXIT_SETUP
        new = complete[-1]
    if a.old:
        try:
            old = load_session(resolve(root, a.old))
        except SessionError as e:
            print(f"{a.label}: {e}", file=sys.stderr)
            return EXIT_SETUP
        if os.path.samefile(old["_path"], new["_path"]):
            print(f"{a.label}: {old['_path']} is the latest session itself; name an "
                  f"older one (scripts/session --list)", file=sys.stderr)
            return EXIT_SETUP
    else:
        older = [s for s in complete if s["id"] < new["id"]]
        if not older:
            print(f"{a.label}: no finished session before {new['id']} in "
                  f"{os.path.abspath(root)}: nothing to compare with yet; run scripts/session "
                  f"again, or name a session folder: scripts/session --compare DIR",
                  file=sys.stderr)
            return EXIT_SETUP
        old = older[-1]
    hist = [s for s in complete if s["id"] <= old["id"]]
    lines, worse = compare(new, old, hist)
    print("\n".join(lines))
    return EXIT_FOUND if worse else EXIT_OK


# ---------------------------------------------------------------- table
def cmd_table(a):
    try:
        rep = load_session(a.session)
    except SessionError as e:
        print(f"session: {e}", file=sys.stderr)
        return EXIT_SETUP
    print(f"{'kind':<7} {'driver or target':<24} {'ops/execs':>12} {'ops/s':>10} {'seconds':>8}  "
          f"{'result':<11} detail")
    for d in rep["drivers"]:
        detail = ""
        if d["violation_details"]:
            v = d["violation_details"][0]
            detail = f"{d['violations']} violation(s), first {v['invariant']}: {v['detail']}"
        elif d.get("first_error"):
            detail = d["first_error"]
        if d.get("faults"):
            fl = d["faults"]
            top = sorted((fl.get("injected") or {}).items(), key=lambda kv: -kv[1])[:3]
            detail = (detail + "  " if detail else "") + f"faults injected {fl.get('injected_total', 0)}" + (
                f" ({', '.join(f'{k} {v}' for k, v in top)})" if top else "")
        print(f"{'driver':<7} {d['label']:<24} {fmt(d.get('ops')):>12} {fmt(d.get('ops_per_sec')):>10} "
              f"{d['wall_s']:>8.1f}  {d['result']:<11} {detail[:160]}".rstrip())
    for f in rep["fuzz"]:
        detail = f"cov {fmt(f.get('coverage'))}  ft {fmt(f.get('features'))}  corpus {fmt(f.get('corpus_size'))}"
        if f["findings"]:
            detail += f"  {len(f['findings'])} finding(s): {finding_text(f['findings'][0])[:100]}"
        print(f"{'fuzz':<7} {f['target']:<24} {fmt(f.get('execs')):>12} {fmt(f.get('exec_per_sec')):>10} "
              f"{f['seconds']:>8.1f}  {f['result']:<11} {detail}")
    n = len(rep["drivers"]) + len(rep["fuzz"])
    bad = [x for x in rep["drivers"] + rep["fuzz"] if x["result"] != "PASS"]
    print()
    print(f"session {rep['id']}: {rep['result']} ({n - len(bad)}/{n} passed) in {rep['elapsed_s']:.0f} s")
    for d in rep["drivers"]:
        for inv, (v, count) in group_violations(d).items():
            print(f"  {d['label']}: VIOLATION {inv}: {v['detail']}"
                  f"{f' (and {count - 1} more recorded)' if count > 1 else ''}\n"
                  f"    reproduce: {v['reproduce']}")
        if d["result"] != "PASS" and not d["violation_details"]:
            print(f"  {d['label']}: {d['result']}: {d.get('first_error') or ''} (log: {d['log']})\n"
                  f"    reproduce: {d['reproduce']}")
    for f in rep["fuzz"]:
        for x in f["findings"]:
            print(f"  fuzz {f['target']}: {finding_text(x)}"
                  + (f"\n    reproduce: {x['reproduce']}" if x.get("reproduce") else ""))
    return EXIT_OK


# ---------------------------------------------------------------- charts
RESULT_COLOUR = {"PASS": "#2e7d32", "FAIL": "#c62828", "HANG": "#c62828", "ERROR": "#ef6c00",
                 "INTERRUPTED": "#757575"}
LINE_COLOUR = "#1565c0"


def nice_axis(v):
    """(top, step) of a y axis from 0 with 4 steps of 1, 2, 2.5 or 5 x 10^k covering V."""
    if not v or v <= 0:
        return 4, 1
    raw = v / 4
    e = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * e:
            return 4 * m * e, m * e
    return 40 * e, 10 * e


def short_num(v):
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            s = f"{v / div:.1f}".rstrip("0").rstrip(".")
            return s + suf
    return f"{v:g}"


def svg_chart(points, unit, current_id, css_class, width=340):
    """A small line chart. POINTS: (session id, value or None, result[, comparable]).
    The y axis starts at 0 and carries UNIT; the point of CURRENT_ID is drawn
    larger, points measured under other conditions hollow."""
    w, h, left, right, top, bottom = width, 150, 48, 12, 12, 34
    pw, ph = w - left - right, h - top - bottom
    points = [tuple(p) + (True,) * (4 - len(p)) for p in points]
    # The scale fits the comparable passing points; other points above it (another
    # load, a failed run's ops) sit on the top edge, their title gives the value.
    vals = [p[1] for p in points if p[1] is not None and p[3] and p[2] == "PASS"] or \
        [p[1] for p in points if p[1] is not None]
    ymax, ystep = nice_axis(max(vals) if vals else 1)
    n = len(points)

    def px(i):
        return left + (pw / 2 if n == 1 else i * pw / (n - 1))

    def py(v):
        return top + ph - (min(v, ymax) / ymax) * ph

    e = html.escape
    out = [f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" role="img" aria-label="{e(unit)} per session">']
    for k in range(0, 5):
        gv = ystep * k
        y = py(gv)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - right}" y2="{y:.1f}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10" '
                   f'fill="#555">{short_num(gv)}</text>')
    out.append(f'<text x="10" y="{top + ph / 2:.0f}" font-size="10" fill="#333" text-anchor="middle" '
               f'transform="rotate(-90 10 {top + ph / 2:.0f})">{e(unit)}</text>')
    seg = []
    for i, (sid, v, _, comparable) in enumerate(points):
        if v is None or not comparable:  # the line joins comparable sessions only
            if len(seg) > 1:
                out.append(f'<polyline fill="none" stroke="{LINE_COLOUR}" stroke-width="2" '
                           f'points="{" ".join(seg)}"/>')
            seg = []
            continue
        seg.append(f"{px(i):.1f},{py(v):.1f}")
    if len(seg) > 1:
        out.append(f'<polyline fill="none" stroke="{LINE_COLOUR}" stroke-width="2" points="{" ".join(seg)}"/>')
    for i, (sid, v, res, comparable) in enumerate(points):
        if v is None:
            continue
        r = 5 if sid == current_id else 3.5
        colour = RESULT_COLOUR.get(res, "#555")
        paint = f'fill="{colour}"' if comparable else f'fill="#fff" stroke="{colour}" stroke-width="2"'
        note = "" if comparable else ", other load or duration"
        if v > ymax:
            note += ", off the scale"
        out.append(f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="{r}" {paint}>'
                   f'<title>{e(sid)}: {fmt(v)} {e(unit)} ({e(res)}{note})</title></circle>')
    labels = {0, n - 1} if n > 1 else {0}
    for i in sorted(labels):
        anchor = "start" if (i == 0 and n > 1) else "end" if i == n - 1 and n > 1 else "middle"
        out.append(f'<text x="{px(i):.1f}" y="{h - 18}" font-size="10" fill="#555" '
                   f'text-anchor="{anchor}">{e(short_id(points[i][0]))}</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{h - 4}" font-size="10" fill="#777" '
               f'text-anchor="middle">session ({n})</text>')
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------- render
CSS = """
body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
h3{font-size:.95em;margin:.2em 0}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.PASS{color:#2e7d32;font-weight:bold}.FAIL,.HANG{color:#c62828;font-weight:bold}.ERROR{color:#ef6c00;font-weight:bold}
.charts{display:flex;flex-wrap:wrap;gap:14px}.chart{border:1px solid #ddd;padding:6px;background:#fafafa}
.op{font-size:.8em;color:#555;margin:0 0 4px 0;max-width:340px}
code{font-size:.85em;word-break:break-all}code.seed{word-break:normal;white-space:nowrap}
.pair{display:flex;gap:8px}pre{font-size:.8em;background:#f4f4f4;padding:8px;overflow-x:auto}
"""


def first_seen(hist, part, key):
    """The keys of every row of `part` across the sessions, in first-seen order."""
    return list(dict.fromkeys(key(row) for sess in hist for row in sess[part]))


def render(rep, hist):
    e = html.escape
    sid = rep["id"]
    hist = [s for s in hist if s["id"] <= sid]
    dropped = max(len(hist) - MAX_CHART_SESSIONS, 0)
    hist = hist[dropped:]
    if not any(s["id"] == sid for s in hist):
        hist.append(rep)
    prev = [s for s in hist if s["id"] < sid and s.get("complete", True)]
    h = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         f"<title>ipcstorm session {e(sid)}</title><style>{CSS}</style></head><body>",
         f"<h1>ipcstorm session {e(sid)}: <span class=\"{e(rep['result'])}\">{e(rep['result'])}</span></h1>"]
    p = rep.get("params", {})
    h.append("<p>")
    h.append(f"started {e(rep['started'])}, {rep['elapsed_s']:.0f} s; commit <code>{e((rep.get('commit') or '')[:12])}</code>"
             f"{' (dirty tree)' if rep.get('dirty') else ''}; Linux {e(rep['host'].get('kernel', ''))}, "
             f"{rep['host'].get('cpus')} CPUs, load average {rep['host'].get('load_avg_1m')}.<br>")
    h.append(f"{p.get('seconds_per_driver')} s per driver, background load: "
             f"{'<code>stress-ng ' + e(p['load']) + '</code>' if p.get('load') else 'none'}"
             f"{', fault phase at rate ' + str(p['fault_rate']) if p.get('fault_rate') else ''}"
             f"{', fuzzing ' + str(p['fuzz_seconds']) + ' s per target' if rep['fuzz'] else ''}. "
             f"History: {len(hist)} session(s) from {e(hist[0]['id'])}"
             f"{f' (the {dropped} older kept sessions are left out)' if dropped else ''}.</p>")

    # this session's table
    h.append("<h2>Drivers</h2><table><tr><th>driver</th><th>result</th><th>ops</th><th>ops/s</th>"
             "<th>vs previous</th><th>violations</th><th>seed</th><th>one op is</th></tr>")
    prev_d = {driver_key(d): d for d in prev[-1]["drivers"]} if prev else {}
    for d in rep["drivers"]:
        o = prev_d.get(driver_key(d))
        ch = pct(o and o.get("ops_per_sec"), d.get("ops_per_sec")) if o else None
        h.append(f"<tr><td>{e(d['label'])}</td><td class=\"{e(d['result'])}\">{e(d['result'])}</td>"
                 f"<td class=n>{fmt(d.get('ops'))}</td><td class=n>{fmt(d.get('ops_per_sec'))}</td>"
                 f"<td class=n>{f'{ch * 100:+.1f}%' if ch is not None else '-'}</td>"
                 f"<td class=n>{fmt(d.get('violations'))}</td><td><code class=seed>{e(str(d.get('seed')))}</code></td>"
                 f"<td>{e(d.get('op') or '')}</td></tr>")
    h.append("</table>")

    # one chart per driver
    keys = first_seen(hist, "drivers", driver_key)
    h.append("<h2>ops/s per driver, across sessions</h2>")
    h.append("<p>Each chart has its own scale: an op means something different for each "
             "driver. Dots: green passed, red failed or hung, orange setup error; the larger "
             "dot is this session; a hollow dot ran under another load or time per driver "
             "than this session (not comparable). A gap: the driver did not run in that "
             "session. Hover a dot for its session and value.</p>")
    h.append('<div class="charts">')
    for key in keys:
        pts = []
        label = op = None
        for s in hist:
            d = next((x for x in s["drivers"] if driver_key(x) == key), None)
            pts.append((s["id"], d.get("ops_per_sec") if d else None, d["result"] if d else "",
                        same_conditions(s, rep)))
            if d:
                label, op = d["label"], d.get("op")
        h.append(f'<div class="chart"><h3>{e(label)}</h3>'
                 f'<p class="op">ops/s{", one op = " + e(op) if op else ""}</p>'
                 f'{svg_chart(pts, "ops/s", sid, "driver-chart")}</div>')
    h.append("</div>")

    # fuzz
    targets = first_seen(hist, "fuzz", lambda f: f["target"])
    h.append("<h2>Fuzz targets, across sessions</h2>")
    if targets:
        if rep["fuzz"]:
            h.append("<table><tr><th>target</th><th>result</th><th>execs</th><th>exec/s</th>"
                     "<th>coverage</th><th>features</th><th>corpus</th><th>findings</th></tr>")
            for f in rep["fuzz"]:
                h.append(f"<tr><td>{e(f['target'])}</td><td class=\"{e(f['result'])}\">{e(f['result'])}</td>"
                         f"<td class=n>{fmt(f.get('execs'))}</td><td class=n>{fmt(f.get('exec_per_sec'))}</td>"
                         f"<td class=n>{fmt(f.get('coverage'))}</td><td class=n>{fmt(f.get('features'))}</td>"
                         f"<td class=n>{fmt(f.get('corpus_size'))}</td><td class=n>{len(f['findings'])}</td></tr>")
            h.append("</table>")
        else:
            h.append("<p>This session did not fuzz (--no-fuzz); the charts show the earlier sessions.</p>")
        h.append("<p>Coverage: libFuzzer's <code>cov</code> (edges reached by the corpus); the "
                 "campaign folder (build/fuzz-work) persists, so coverage should hold or grow (a "
                 "small dip: inputs that behave differently from run to run).</p>")
        h.append('<div class="charts">')
        for t in targets:
            cov, eps = [], []
            for s in hist:
                f = next((x for x in s["fuzz"] if x["target"] == t), None)
                cov.append((s["id"], f.get("coverage") if f else None, f["result"] if f else ""))
                eps.append((s["id"], f.get("exec_per_sec") if f else None, f["result"] if f else ""))
            h.append(f'<div class="chart"><h3>{e(t)}</h3><div class="pair">'
                     f'<div><p class="op">coverage: edges (cov)</p>'
                     f'{svg_chart(cov, "edges", sid, "fuzz-chart", 262)}</div>'
                     f'<div><p class="op">executions per second</p>'
                     f'{svg_chart(eps, "exec/s", sid, "fuzz-chart", 262)}</div></div></div>')
        h.append("</div>")
    else:
        h.append("<p>No session in the history fuzzed.</p>")

    # violations across the kept sessions
    h.append("<h2>Violations, failures and findings</h2>")
    rows = []
    for s in reversed(hist):
        for d in s["drivers"]:
            for inv, (v, count) in group_violations(d).items():
                more = f" ({count} recorded of {d.get('violations')} violations)" if count > 1 else ""
                rows.append((s["id"], d["label"], d["result"], f"{inv}: {v.get('detail')}{more}",
                             v.get("reproduce") or d.get("reproduce")))
            if d["result"] != "PASS" and not d.get("violation_details"):
                rows.append((s["id"], d["label"], d["result"], d.get("first_error") or "", d.get("reproduce")))
        for f in s["fuzz"]:
            for x in f.get("findings") or []:
                rows.append((s["id"], f"fuzz {f['target']}", f["result"],
                             finding_text(x), x.get("reproduce")))
    if rows:
        h.append('<table class="violations"><tr><th>session</th><th>driver or target</th><th>result</th>'
                 "<th>what</th><th>reproduce</th></tr>")
        for r in rows:
            h.append(f"<tr><td>{e(r[0])}</td><td>{e(r[1])}</td><td class=\"{e(r[2])}\">{e(r[2])}</td>"
                     f"<td>{e(r[3] or '')}</td><td><code>{e(r[4] or '')}</code></td></tr>")
        h.append("</table>")
    else:
        h.append(f'<p class="PASS">None in the {len(hist)} kept session(s).</p>')

    if prev:
        lines, _ = compare(rep, prev[-1], [s for s in hist if s["id"] <= prev[-1]["id"]])
        h.append(f"<h2>Compared with {e(prev[-1]['id'])}</h2><pre>{e(chr(10).join(lines))}</pre>")
    h.append("<p>Files: <code>report.json</code> (schema "
             f"{SCHEMA} {SCHEMA_VERSION}), <code>report.md</code>, one JSON per driver run, "
             "<code>logs/</code>.</p></body></html>")
    return "\n".join(h) + "\n"


def render_md(rep, prev):
    L = [f"# ipcstorm session {rep['id']}: {rep['result']}", ""]
    p = rep.get("params", {})
    L.append(f"- started {rep['started']}, {rep['elapsed_s']:.0f} s, commit `{(rep.get('commit') or '')[:12]}`"
             f"{' (dirty tree)' if rep.get('dirty') else ''}")
    L.append(f"- {p.get('seconds_per_driver')} s per driver, load: "
             f"{'`stress-ng ' + p['load'] + '`' if p.get('load') else 'none'}")
    L.append("- charts: open `report.html` in a browser (static, no JavaScript)")
    L.append("")
    L.append("| driver | result | ops | ops/s | violations | seed |")
    L.append("|---|---|---|---|---|---|")
    for d in rep["drivers"]:
        L.append(f"| {d['label']} | {d['result']} | {fmt(d.get('ops'))} | {fmt(d.get('ops_per_sec'))} | "
                 f"{fmt(d.get('violations'))} | {d.get('seed')} |")
    if rep["fuzz"]:
        L += ["", "| fuzz target | result | execs | exec/s | coverage | features | corpus | findings |",
              "|---|---|---|---|---|---|---|---|"]
        for f in rep["fuzz"]:
            L.append(f"| {f['target']} | {f['result']} | {fmt(f.get('execs'))} | {fmt(f.get('exec_per_sec'))} | "
                     f"{fmt(f.get('coverage'))} | {fmt(f.get('features'))} | {fmt(f.get('corpus_size'))} | "
                     f"{len(f['findings'])} |")
    bad = [(d["label"], d) for d in rep["drivers"] if d["result"] != "PASS" or d.get("violation_details")]
    if bad:
        L += ["", "## Violations and failures", ""]
        for label, d in bad:
            for v in d.get("violation_details") or [{"invariant": d["result"], "detail": d.get("first_error")}]:
                L.append(f"- **{label}** {v.get('invariant')}: {v.get('detail')}  ")
                L.append(f"  reproduce: `{v.get('reproduce') or d.get('reproduce')}`")
    for f in rep["fuzz"]:
        for x in f["findings"]:
            L.append(f"- **fuzz {f['target']}**: {finding_text(x)}"
                     + (f"  \n  reproduce: `{x['reproduce']}`" if x.get("reproduce") else ""))
    if prev:
        lines, _ = compare(rep, prev[-1], [prev[-1]])
        L += ["", f"## Compared with {prev[-1]['id']}", "", "```", *lines, "```"]
    return "\n".join(L) + "\n"


def cmd_render(a):
    try:
        rep = load_session(a.session)
    except SessionError as e:
        print(f"session: {e}", file=sys.stderr)
        return EXIT_SETUP
    root = a.root or os.path.dirname(rep["_path"])
    hist = [s for s in history(root, rep["id"]) if s.get("complete", True) or s["id"] == rep["id"]]
    write_atomic(os.path.join(rep["_path"], "report.html"), render(rep, hist))
    prev = [s for s in hist if s["id"] < rep["id"] and s.get("complete", True)]
    write_atomic(os.path.join(rep["_path"], "report.md"), render_md(rep, prev))
    return EXIT_OK


def cmd_list(a):
    dirs = session_dirs(a.root)
    if not dirs:
        print(f"no sessions in {os.path.abspath(a.root)}", file=sys.stderr)
        return EXIT_OK
    for d in dirs:
        try:
            r = load_session(d)
            n = len(r["drivers"])
            print(f"{r['id']}  {r['result']:<11} commit {(r.get('commit') or '?')[:10]}  "
                  f"{n} driver run(s), {len(r['fuzz'])} fuzz target(s)  {d}")
        except SessionError as e:
            print(f"{os.path.basename(d)}  UNREADABLE  {e}")
    return EXIT_OK


def cmd_prune(a):
    dirs = session_dirs(a.root)
    doomed = dirs[:-a.keep] if a.keep > 0 else dirs
    for d in doomed:
        shutil.rmtree(d)
        print(f"scripts/session --keep {a.keep}: removed {d}", file=sys.stderr)
    return EXIT_OK


def main():
    ap = argparse.ArgumentParser(prog="session_report.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("session")
    c.add_argument("--started", type=float, required=True)
    c.add_argument("--minutes", type=float)
    c.add_argument("--per", type=float)
    c.add_argument("--load", default="")
    c.add_argument("--fault-rate", type=float)
    c.add_argument("--tsan", action="store_true")
    c.add_argument("--fuzz-seconds", type=int)
    c.add_argument("--interrupted", action="store_true")
    r = sub.add_parser("render")
    r.add_argument("session")
    r.add_argument("--root")
    t = sub.add_parser("table")
    t.add_argument("session")
    m = sub.add_parser("compare")
    m.add_argument("--root", default="build/sessions")
    m.add_argument("--new", help="the newer session (default: the latest finished one)")
    m.add_argument("--label", default="session --compare", help="prefix of error messages")
    m.add_argument("old", nargs="?", help="the older session (default: the one before the newer)")
    li = sub.add_parser("list")
    li.add_argument("--root", default="build/sessions")
    pr = sub.add_parser("prune")
    pr.add_argument("--root", required=True)
    pr.add_argument("--keep", type=int, required=True)
    a = ap.parse_args()
    return {"collect": cmd_collect, "render": cmd_render, "table": cmd_table, "compare": cmd_compare,
            "list": cmd_list, "prune": cmd_prune}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
