#!/usr/bin/env python3
"""fuzz_tool.py - the parts of scripts/fuzz that read engine output: AFL++ campaign
checks and per-run baselines, the live progress line, per-run statistics and the
machine-readable summary (build/fuzz-work/summary.json). scripts/fuzz calls it;
it is not meant to be run by hand (python3 fuzz_tool.py SUBCOMMAND --help).

Why per-run figures need a baseline: AFL++ keeps execs_done and run_time across
an in-place resume (load_stats_file), so a resumed campaign's fuzzer_stats hold
the whole campaign; this run's work is the difference from the figures read
before it started.

build/fuzz-work/summary.json (schema 1), rewritten at the end of every
scripts/fuzz run; one entry per (engine, target), the newest run of each:
  {"schema": 1, "updated": "2026-11-30T09:00:00Z", "targets": [ENTRY...]}
ENTRY (also build/fuzz-work/<engine>/<target>/stats.json, without work_dir and
findings; <engine>/<target>/runs.jsonl keeps one line per run of the campaign with
run, finished, execs, exec_per_sec, seconds, cov, ft, corpus, jobs, mode, resumed,
new_finding_inputs):
  target, engine         "resp_parse", "libfuzzer" | "afl"
  execs, exec_per_sec    this run only (AFL++: all instances, minus the baseline)
  seconds, wall_seconds  fuzzing time of this run (AFL++ run_time), wall clock
  cov                    libFuzzer "cov:" (fork mode counts differently from
                         classic mode) | AFL++ edges_found
  ft                     libFuzzer "ft:" (features) | null for AFL++
  corpus                 libFuzzer "corp:" | AFL++ corpus_count (largest instance)
  jobs, mode             N, "classic" | "fork" | "persistent" | "forkserver"
  resumed                1 when the run continued an earlier campaign
  instances              AFL++: {"main": {execs, seconds, execs_before,
                         campaign_execs}, "s1": ...}; {} for libFuzzer
  exit_status            the engine's exit status
  new_finding_inputs     finding inputs (crash/leak/timeout/oom files) of this run
  finished               UTC time
  run                    this run's number in the campaign (1 = a fresh campaign)
  campaign_execs         executions of the whole campaign, this run included
                         (AFL++: its execs_done; libFuzzer: the sum over runs.jsonl)
  work_dir               the campaign folder
  findings               the bugs this run's inputs hit, one object each: target,
                         kind, hash, dir, top_frame, top_location, frames, engine,
                         origin, run_by, minimize, count (distinct inputs of the bug
                         so far), new (bug first seen now), added (inputs new to
                         artifacts/), first_seen, last_seen, sources, reproduce
                         ("scripts/repro TARGET artifacts/.../minimized")
"""
import argparse
import json
import os
import re
import select
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fuzz_triage import cmd_triage, write_atomic  # noqa: E402

SUMMARY_SCHEMA = 1
FINDING_PREFIXES = ("crash-", "leak-", "timeout-", "oom-")


def since(now, before):
    """A counter's growth since its baseline; below the baseline AFL++ started
    over, and the whole value is this run's."""
    return now - before if now >= before else now


# ---- AFL++ -------------------------------------------------------------------

def read_afl_stats(path):
    """fuzzer_stats as a dict of strings; None when the file is absent."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    stats = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            stats[key.strip()] = value.strip()
    stats["_text"] = text
    return stats


def afl_stats_well_formed(stats):
    """afl-fuzz itself refuses ("Malformed data") a file whose first two lines are
    not start_time and last_update: what a run killed mid-write leaves."""
    lines = stats["_text"].splitlines()
    return (len(lines) >= 2 and re.match(r"start_time\s*: \d+$", lines[0]) is not None
            and re.match(r"last_update\s*: \d+$", lines[1]) is not None)


def has_entries(d):
    try:
        return any(n.startswith("id:") for n in os.listdir(d))
    except OSError:
        return False


def cmd_afl_check(a):
    """Decides, per AFL++ instance folder, how this run starts, and refuses a
    folder it cannot resume without losing data. Prints 'NAME fresh|resume' lines;
    exit 3 with a message on stderr when the campaign folder cannot be used."""
    bad = []
    notes, renames = [], []
    for inst in a.instances:
        d = os.path.join(a.dir, inst)
        if not os.path.exists(d):
            print(f"{inst} fresh")
            continue
        stats_path = os.path.join(d, "fuzzer_stats")
        stats = read_afl_stats(stats_path)
        if stats is not None:
            version = stats.get("afl_version", "")
            if version and a.afl_version and version.lstrip("+") != a.afl_version.lstrip("+"):
                bad.append(f"{d} was written by AFL++ {version.lstrip('+')}, this is AFL++ "
                           f"{a.afl_version.lstrip('+')}; AFL++ does not resume another "
                           "version's campaign")
                continue
            cmdline = stats.get("command_line", "")
            binary = os.path.basename(a.binary)
            if cmdline and not re.search(r"/%s(_forksrv)?( |$|')" % re.escape(a.target), cmdline):
                bad.append(f"{d} is a campaign of another target (its command line: "
                           f"{cmdline[:160]}), not {a.target} ({binary})")
                continue
            if not afl_stats_well_formed(stats):
                aside = f"{stats_path}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
                renames.append((stats_path, aside))
                notes.append(f"{stats_path} was half-written (a stopped run); moved to {aside}, "
                             "resuming from the queue")
        queue = has_entries(os.path.join(d, "queue")) or has_entries(os.path.join(d, "_resume"))
        if queue:
            print(f"{inst} resume")
        else:
            bad.append(f"{d} exists but holds no queue to resume (a run stopped before "
                       "AFL++ wrote one, or not an AFL++ folder)")
    if not bad:  # nothing is touched unless every instance can resume
        for src, dst in renames:
            os.rename(src, dst)
        for n in notes:
            print(f"scripts/fuzz: note: {n}", file=sys.stderr)
    if bad:
        for b in bad:
            print(f"scripts/fuzz: cannot resume: {b}", file=sys.stderr)
        print(f"scripts/fuzz: nothing was changed. Run again with --fresh to move {a.dir} "
              "aside (renamed with a timestamp, not deleted) and start from "
              f"corpus/{a.target}/, or set IPC_FUZZ_WORK to another folder.", file=sys.stderr)
        return 3
    return 0


def afl_figures(d):
    s = read_afl_stats(os.path.join(d, "fuzzer_stats")) or {}

    def num(key):
        try:
            return float(s.get(key, "0").rstrip("%"))
        except ValueError:
            return 0.0
    return {"execs_done": int(num("execs_done")), "run_time": int(num("run_time")),
            "saved_crashes": int(num("saved_crashes")), "saved_hangs": int(num("saved_hangs")),
            "edges_found": int(num("edges_found")), "corpus_count": int(num("corpus_count")),
            "bitmap_cvg": num("bitmap_cvg"), "last_update": int(num("last_update"))}


def afl_plot_last(d):
    """The newest plot_data row (written every 5 s, fuzzer_stats only every 60 s):
    relative_time, cycles_done, cur_item, corpus_count, pending_total, pending_favs,
    map_size, saved_crashes, saved_hangs, max_depth, execs_per_sec, total_execs,
    edges_found."""
    try:
        with open(os.path.join(d, "plot_data"), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        cols = [c.strip() for c in line.split(",")]
        if len(cols) >= 13 and cols[0].isdigit():
            try:
                return {"corpus_count": int(cols[3]), "saved_crashes": int(cols[7]),
                        "saved_hangs": int(cols[8]), "execs_per_sec": float(cols[10]),
                        "execs_done": int(cols[11]), "edges_found": int(cols[12])}
            except ValueError:
                return None
    return None


def cmd_afl_new_findings(a):
    """Crash and hang inputs AFL++ saved in this run (its counters minus the baseline)."""
    base = {}
    if os.path.exists(a.baseline):
        with open(a.baseline) as f:
            base = json.load(f)
    n = 0
    for inst in a.instances:
        now = afl_figures(os.path.join(a.dir, inst))
        b = base.get(inst, {})
        for k in ("saved_crashes", "saved_hangs"):
            n += since(now[k], b.get(k, 0))
    print(n)
    return 0


def cmd_free_udp_port(a):
    """A free loopback UDP port for AFL++'s statsd figures (AFL_STATSD_PORT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
    return 0


def cmd_afl_baseline(a):
    base = {inst: afl_figures(os.path.join(a.dir, inst)) for inst in a.instances}
    write_atomic(a.out, json.dumps(base, indent=1) + "\n")
    return 0


# ---- libFuzzer ---------------------------------------------------------------

FORK_LINE = re.compile(r"^#(\d+): cov: (\d+) ft: (\d+) corp: (\d+) exec/s (\d+) "
                       r"oom/timeout/crash: (\d+)/(\d+)/(\d+) time: (\d+)s")
CLASSIC_LINE = re.compile(r"^#(\d+)\s+(?:NEW|REDUCE|pulse|INITED|DONE|RELOAD)\s+cov: (\d+) "
                          r"ft: (\d+) corp: (\d+)/\S+.*?exec/s: (\d+)")


def libfuzzer_figures(log):
    """Execs, cov, ft and corpus size from a libFuzzer log (fork or classic mode)."""
    fig = {"execs": 0, "cov": 0, "ft": 0, "corpus": 0, "exec_per_sec": 0}
    try:
        with open(log, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return fig
    final = {}
    for line in lines:
        m = FORK_LINE.match(line) or CLASSIC_LINE.match(line)
        if m:
            fig.update(execs=int(m.group(1)), cov=int(m.group(2)), ft=int(m.group(3)),
                       corpus=int(m.group(4)), exec_per_sec=int(m.group(5)))
        elif line.startswith("stat::"):
            k, _, v = line.partition(":")[2].partition(":")
            final[k.strip(": ")] = v.strip()
    if "number_of_executed_units" in final:
        fig["execs"] = int(final["number_of_executed_units"])
        fig["exec_per_sec"] = int(final.get("average_exec_per_sec", fig["exec_per_sec"]))
    return fig


def count_findings(dirs, since=0.0):
    """Finding files in dirs, only those written at or after since (epoch seconds)
    when it is given: libFuzzer names a finding by its content, so finding an input
    again rewrites the file instead of adding one."""
    n = 0
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for x in names:
            if not (x.startswith(FINDING_PREFIXES) or x.startswith("id:")):
                continue
            try:
                if since and os.path.getmtime(os.path.join(d, x)) < since:
                    continue
            except OSError:
                continue
            n += 1
    return n




# ---- live progress -------------------------------------------------------------

def fmt_count(n):
    n = float(n)
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return f"{int(n)}"


def fmt_secs(s):
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


STATSD_LINE = re.compile(r"^fuzzing\.(\w+):([0-9.]+)\|g\|#banner:([^,\s]+)")


def drain_statsd(sock, live):
    """Reads every waiting AFL++ statsd datagram (AFL_STATSD, dogstatsd tags, one
    per second per instance) into live[banner][metric]."""
    while True:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        for line in data.decode(errors="replace").splitlines():
            m = STATSD_LINE.match(line)
            if m:
                live.setdefault(m.group(3), {})[m.group(1)] = float(m.group(2))


def sample(a, base, live=None):
    """The current figures of this run: execs, exec/s, cov, ft, corpus, findings."""
    if a.engine == "libfuzzer":
        f = libfuzzer_figures(a.log)
        findings = count_findings([a.findings_dir], a.since)
        return {"execs": f["execs"], "cov": f["cov"], "ft": f["ft"], "corpus": f["corpus"],
                "findings": max(0, findings)}
    execs = cov = corpus = findings = 0
    fresh = unknown = False
    for inst in a.instances:
        d = os.path.join(a.dir, inst)
        # plot_data is written every 5 s but only after the first minute, and
        # fuzzer_stats every 60 s: take the newer of the two (both cumulative).
        p = afl_plot_last(d) or {}
        st = afl_figures(d)
        sd = (live or {}).get(inst)
        if sd and sd.get("execs_done", -1) >= max(st["execs_done"], p.get("execs_done", -1)):
            # The statsd figures of the last second.
            p = {k: int(sd.get(k, 0)) for k in ("execs_done", "edges_found", "corpus_count")}
            fresh = True
        elif st["execs_done"] > p.get("execs_done", -1):
            p = st
            if st["last_update"] < a.started + 5:
                unknown = True  # only the figures AFL++ wrote at its start
        else:
            fresh = True
        b = base.get(inst, {})
        e = p.get("execs_done", 0)
        execs += since(e, b.get("execs_done", 0))
        cov = max(cov, p.get("edges_found", 0))
        # The queue and the crash/hang folders are live, unlike the figures.
        corpus = max(corpus, count_ids(os.path.join(d, "queue")))
        n = count_ids(os.path.join(d, "crashes")) + count_ids(os.path.join(d, "hangs"))
        key = f"_found_{inst}"
        if key not in base or n < base[key]:
            base[key] = n  # AFL++ moved an earlier run's crashes/ aside at start
        findings += n - base[key]
    return {"execs": None if unknown else execs, "cov": cov, "ft": None, "corpus": corpus,
            "findings": findings, "stale": not fresh}


def count_ids(d):
    try:
        return sum(1 for n in os.listdir(d) if n.startswith("id:"))
    except OSError:
        return 0


def progress_text(a, s, elapsed):
    ft = "-" if s["ft"] is None else fmt_count(s["ft"])
    if s["execs"] is None:
        # AFL++ writes its figures once a minute at first.
        execs = eps = "-"
    else:
        execs = fmt_count(s["execs"]) + (" (<=60s old)" if s.get("stale") else "")
        eps = fmt_count(s["execs"] / elapsed if elapsed > 0 else 0)
    return (f"{a.engine} {a.target}: {fmt_secs(elapsed)}/{fmt_secs(a.seconds)} "
            f"execs {execs} exec/s {eps} cov {fmt_count(s['cov'])} "
            f"ft {ft} corpus {fmt_count(s['corpus'])} findings {s['findings']}")


def cmd_watch(a):
    """Runs beside the fuzzer until SIGTERM or the fuzzer's pid is gone. On a TTY
    one line rewritten in place each second; otherwise one line per event (a new
    finding) and a status line every --every seconds, for CI logs."""
    base = {}
    if a.baseline and os.path.exists(a.baseline):
        with open(a.baseline) as f:
            base = json.load(f)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sock = None
    live = {}
    if a.statsd_port:
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", a.statsd_port))
            sock.setblocking(False)
        except OSError:
            sock = None  # the port was taken meanwhile: the figures files will do
    t0 = time.monotonic()
    a.started = time.time()
    reported_findings = 0
    last_event = t0 - 10
    last_status = t0
    tty = a.mode == "tty"
    out = sys.stderr
    while not stop:
        deadline = time.monotonic() + 1
        while sock is not None and not stop:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                ready, _, _ = select.select([sock], [], [], left)
            except InterruptedError:
                continue
            if ready:
                drain_statsd(sock, live)
        if sock is None:
            time.sleep(1)
        alive = True
        try:
            os.kill(a.pid, 0)
        except OSError:
            alive = False
        now = time.monotonic()
        s = sample(a, base, live)
        line = progress_text(a, s, now - t0)
        if tty:
            out.write("\r\033[K" + line)
            out.flush()
        else:
            # At most one finding line per 10 s: a bug that is hit all the time
            # must not flood a CI log for an hour.
            if s["findings"] > reported_findings and now - last_event >= 10:
                out.write(f"scripts/fuzz: {a.target}: {s['findings'] - reported_findings} new "
                          f"finding input(s) by {fmt_secs(now - t0)}, {s['findings']} in this run "
                          "(triaged at the end)\n")
                reported_findings = s["findings"]
                last_event = now
            if a.every > 0 and now - last_status >= a.every:
                out.write(f"scripts/fuzz: {line}\n")
                last_status = now
            out.flush()
        if not alive:
            break
    if tty:
        out.write("\r\033[K")
        out.flush()
    return 0


# ---- per-run statistics and the summary ----------------------------------------

def cmd_stats(a):
    """Writes <workdir>/stats.json and <workdir>/result ("exec/s execs", read by
    scripts/session) for this run only."""
    if a.engine == "libfuzzer":
        f = libfuzzer_figures(a.log)
        execs = f["execs"]
        cov, ft, corpus = f["cov"], f["ft"], f["corpus"]
        run_secs = a.wall
        per_inst = {}
    else:
        base = {}
        if a.baseline and os.path.exists(a.baseline):
            with open(a.baseline) as fh:
                base = json.load(fh)
        execs = 0
        run_secs = 0
        cov = corpus = 0
        per_inst = {}
        for inst in a.instances:
            now = afl_figures(os.path.join(a.dir, inst))
            b = base.get(inst, {"execs_done": 0, "run_time": 0})
            e = since(now["execs_done"], b["execs_done"])
            r = since(now["run_time"], b["run_time"])
            per_inst[inst] = {"execs": e, "seconds": r, "execs_before": b["execs_done"],
                              "campaign_execs": now["execs_done"]}
            execs += e
            run_secs = max(run_secs, r)
            cov = max(cov, now["edges_found"])
            corpus = max(corpus, now["corpus_count"])
        ft = None
        if run_secs <= 0:
            run_secs = a.wall
    eps = int(execs / run_secs) if run_secs > 0 else 0
    stats = {"target": a.target, "engine": a.engine, "execs": execs, "exec_per_sec": eps,
             "seconds": round(run_secs, 1), "wall_seconds": round(a.wall, 1), "cov": cov,
             "ft": ft, "corpus": corpus, "jobs": a.jobs, "mode": a.mode, "resumed": a.resumed,
             "instances": per_inst, "exit_status": a.exit_status,
             "new_finding_inputs": a.new_findings,
             "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    # The campaign's history: one line per run (a line cut short by a crash of
    # this script is skipped when read back).
    history = os.path.join(a.workdir, "runs.jsonl")
    runs = read_runs(history)
    stats["run"] = len(runs) + 1
    campaign = sum(r.get("execs", 0) for r in runs) + execs
    if per_inst:
        # AFL++'s own counters also cover runs from before this history.
        campaign = max(campaign, sum(v["campaign_execs"] for v in per_inst.values()))
    stats["campaign_execs"] = campaign
    with open(history, "a") as f:
        f.write(json.dumps({k: stats[k] for k in ("run", "finished", "execs", "exec_per_sec",
                                                  "seconds", "cov", "ft", "corpus", "jobs",
                                                  "mode", "resumed", "new_finding_inputs")}) + "\n")
    write_atomic(os.path.join(a.workdir, "stats.json"), json.dumps(stats, indent=1) + "\n")
    write_atomic(os.path.join(a.workdir, "result"), f"{eps} {execs}\n")
    resumed = f" (run {stats['run']} of the campaign: {campaign} executions in all)" \
        if stats["run"] > 1 or a.resumed else ""
    print(f"scripts/fuzz: {a.target}: {execs} executions in this run{resumed}, {eps} exec/s, "
          f"cov {cov}, ft {'-' if ft is None else ft}, corpus {corpus}")
    return 0


def read_runs(path):
    runs = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                try:
                    runs.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return runs


def cmd_summary(a):
    """Merges this invocation's per-target stats.json (and triage.json) into
    summary.json: one entry per (engine, target), the newest run of each."""
    path = a.out
    entries = {}
    if os.path.exists(path):
        try:
            with open(path) as f:
                old = json.load(f)
            if old.get("schema") == SUMMARY_SCHEMA:
                for e in old.get("targets", []):
                    entries[(e.get("engine"), e.get("target"))] = e
        except (OSError, ValueError):
            pass  # a damaged summary is rebuilt from the runs of this invocation
    for wd in a.workdirs:
        try:
            with open(os.path.join(wd, "stats.json")) as f:
                st = json.load(f)
        except (OSError, ValueError):
            continue
        st["work_dir"] = wd
        st["findings"] = []
        tj = os.path.join(wd, "triage.json")
        if os.path.exists(tj):
            try:
                with open(tj) as f:
                    st["findings"] = json.load(f).get("findings", [])
            except (OSError, ValueError):
                pass
        entries[(st["engine"], st["target"])] = st
    doc = {"schema": SUMMARY_SCHEMA, "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "targets": sorted(entries.values(), key=lambda e: (e["engine"], e["target"]))}
    write_atomic(path, json.dumps(doc, indent=1) + "\n")
    return 0


def main():
    p = argparse.ArgumentParser(prog="fuzz_tool.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("afl-check")
    c.add_argument("--dir", required=True)
    c.add_argument("--target", required=True)
    c.add_argument("--binary", required=True)
    c.add_argument("--afl-version", default="")
    c.add_argument("instances", nargs="+")
    c.set_defaults(fn=cmd_afl_check)

    c = sub.add_parser("afl-baseline")
    c.add_argument("--dir", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("instances", nargs="+")
    c.set_defaults(fn=cmd_afl_baseline)

    # What watch and stats both read: one target's run and its AFL++ instances.
    run = argparse.ArgumentParser(add_help=False)
    run.add_argument("--engine", required=True)
    run.add_argument("--target", required=True)
    run.add_argument("--log", default="")
    run.add_argument("--dir", default="")
    run.add_argument("--baseline", default="")
    run.add_argument("instances", nargs="*")

    c = sub.add_parser("watch", parents=[run])
    c.add_argument("--pid", type=int, required=True)
    c.add_argument("--seconds", type=float, required=True)
    c.add_argument("--mode", choices=("tty", "lines"), required=True)
    c.add_argument("--every", type=float, default=60)
    c.add_argument("--findings-dir", default="")
    c.add_argument("--since", type=float, default=0)
    c.add_argument("--statsd-port", type=int, default=0)
    c.set_defaults(fn=cmd_watch)

    c = sub.add_parser("free-udp-port")
    c.set_defaults(fn=cmd_free_udp_port)

    c = sub.add_parser("stats", parents=[run])
    c.add_argument("--workdir", required=True)
    c.add_argument("--wall", type=float, required=True)
    c.add_argument("--jobs", type=int, default=1)
    c.add_argument("--mode", default="")
    c.add_argument("--resumed", type=int, default=0)
    c.add_argument("--exit-status", type=int, default=0)
    c.add_argument("--new-findings", type=int, default=0)
    c.set_defaults(fn=cmd_stats)

    c = sub.add_parser("afl-new-findings")
    c.add_argument("--dir", required=True)
    c.add_argument("--baseline", required=True)
    c.add_argument("instances", nargs="+")
    c.set_defaults(fn=cmd_afl_new_findings)

    c = sub.add_parser("triage")
    c.add_argument("--target", required=True)
    c.add_argument("--engine", default="auto")
    c.add_argument("--repo", required=True)
    c.add_argument("--artifacts", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--libfuzzer-bin", default="")
    c.add_argument("--afl-bin", default="")
    c.add_argument("--replay-build", default="")
    c.add_argument("--since", type=float, default=0)
    c.add_argument("--max-inputs", type=int, default=int(os.environ.get("IPC_FUZZ_TRIAGE_MAX", "200")))
    c.add_argument("--max-seconds", type=int,
                   default=int(os.environ.get("IPC_FUZZ_TRIAGE_SECONDS", "600")))
    c.add_argument("--no-build", type=int, default=int(os.environ.get("IPC_FUZZ_NO_BUILD", "0") == "1"))
    c.add_argument("--frames", type=int, default=int(os.environ.get("IPC_FUZZ_TRIAGE_FRAMES", "3")))
    c.add_argument("--minimize-seconds", type=int,
                   default=int(os.environ.get("IPC_FUZZ_MINIMIZE_SECONDS", "30")))
    c.add_argument("--timeout", type=int, default=int(os.environ.get("IPC_FUZZ_TRIAGE_TIMEOUT", "10")))
    c.add_argument("inputs", nargs="*")
    c.set_defaults(fn=cmd_triage)

    c = sub.add_parser("count-findings")
    c.add_argument("--since", type=float, default=0)
    c.add_argument("dirs", nargs="*")
    c.set_defaults(fn=lambda a: print(count_findings(a.dirs, a.since)) or 0)

    c = sub.add_parser("summary")
    c.add_argument("--out", required=True)
    c.add_argument("workdirs", nargs="*")
    c.set_defaults(fn=cmd_summary)

    a = p.parse_args()
    sys.exit(a.fn(a))


if __name__ == "__main__":
    main()
