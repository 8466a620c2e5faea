#!/usr/bin/env python3
"""Side-by-side benchmarks of ipcstorm against its anchors (README.md, "Benchmarks").

Every pair is measured in this one run, alternating ours and the anchor (A, B, A,
B, ...) so that the machine's state affects both sides alike; the table reports
medians and ratios. Called by scripts/bench, which builds the release preset first.
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd, timeout):
    """Runs cmd (a list), returns stdout; raises with stderr on failure."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), p.returncode,
                                                 p.stderr.strip()[-400:]))
    return p.stdout


class Bench:
    def __init__(self, build, seconds):
        self.build = build
        self.seconds = seconds
        self.ipcstorm = os.path.join(build, "ipcstorm")
        self.ipcbench = os.path.join(build, "bench", "ipcbench")

    def ipcbench_rate(self, mode, *extra):
        out = run([self.ipcbench, mode, "--seconds", str(self.seconds)] + list(extra),
                  self.seconds * 10 + 60)
        return float(out.split()[1])

    def proc_anchor_rate(self, mode):
        # The bare process loops run exactly as long as the forkwait side of their
        # pair (stress_seconds), so that start-up costs weigh alike.
        out = run([self.ipcbench, mode, "--seconds", str(self.stress_seconds())],
                  self.seconds * 10 + 60)
        return float(out.split()[1])

    def counter_rate(self, mode):
        # A fixed amount of work, sized so one run takes about --seconds.
        incs = str(int(max(200000, 4000000 * self.seconds)))
        out = run([self.ipcbench, mode, "--incs", incs], self.seconds * 30 + 60)
        return float(out.split()[1])

    def stress_seconds(self):
        # stress-ng reads --timeout as whole seconds ("0.3s" would mean 0: no
        # timeout, it would run forever), so its runs last at least 1 s; our side of
        # those pairs runs exactly as long, so that start-up costs weigh alike.
        return max(1, int(math.ceil(self.seconds)))

    def stress_rate(self, driver, *extra):
        out = run([self.ipcstorm, "stress", driver, "--duration", str(self.stress_seconds()),
                   "--json"] + list(extra), self.seconds * 10 + 60)
        obj = json.loads(out.strip().splitlines()[-1])
        if obj.get("violations"):
            raise RuntimeError("%s reported violations: %s" % (driver, obj["violations"]))
        return float(obj["ops_per_sec"])

    def stress_ng_rate(self, stressor, *extra):
        with tempfile.TemporaryDirectory() as tmp:
            yaml = os.path.join(tmp, "m.yaml")
            run(["stress-ng", "--" + stressor, "1"] + list(extra) +
                ["--timeout", "%ds" % self.stress_seconds(),
                 "--metrics-brief", "--yaml", yaml], self.seconds * 10 + 60)
            text = open(yaml).read()
        m = re.search(r"bogo-ops-per-second-real-time:\s*([0-9.]+)", text)
        if not m:
            raise RuntimeError("stress-ng --%s printed no bogo-ops/s" % stressor)
        return float(m.group(1))


def event(text):
    """One progress event on stderr, a line scripts/bench turns into its live line
    on a terminal (scripts/lib/progress.sh) or prints as it is."""
    print("bench: " + text, file=sys.stderr, flush=True)


def measure_pair(rounds, ours, anchor, rid=None, unit=""):
    a, b = [], []
    for k in range(rounds):
        a.append(ours())
        if rid:
            event("row %s: ours %d/%d: %s" % (rid, k + 1, rounds, human(a[-1], unit)))
        if anchor:
            b.append(anchor())
            if rid:
                event("row %s: anchor %d/%d: %s" % (rid, k + 1, rounds, human(b[-1], unit)))
    return statistics.median(a), (statistics.median(b) if b else None), a, b


def human(v, unit):
    if v is None:
        return "-"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return "%.2f %s%s" % (v / div, suffix, unit)
    return "%.0f %s" % (v, unit)


def seam_rows(root, build, faults_build, rounds, seconds):
    """The fault seam when compiled out (identical objects) and when compiled in
    but not armed (framed pipe throughput, release flags on both sides)."""
    p = subprocess.run([sys.executable, os.path.join(root, "bench", "seam_free.py"), build],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.search(r"identical (\d+)/(\d+)", p.stdout)
    if m:
        same, total = int(m.group(1)), int(m.group(2))
        rows = [dict(id="seam", metric="libipc objects identical to a seam-free rewrite "
                     "(IPC_FAULTS off)", unit="", ours=same, anchor=total,
                     ratio=same / total, goal=1.0, goal_is_absolute=False,
                     met=same == total, ours_cmd="release build",
                     anchor_cmd="bench/seam_free.py", error=None)]
    else:
        rows = [dict(id="seam", metric="seam compiled out", error=(
            "bench/seam_free.py exited %d: %s" % (p.returncode, p.stderr.strip()[-200:])))]
    if faults_build:
        ours, anchor = Bench(faults_build, seconds), Bench(build, seconds)
        try:
            mo, ma, a, b = measure_pair(
                rounds, lambda: ours.ipcbench_rate("pipe-framed", "--chunk", "4096"),
                lambda: anchor.ipcbench_rate("pipe-framed", "--chunk", "4096"))
            rows.append(dict(id="seam", metric="framed pipe bytes/s, 4 KiB, seam compiled in "
                             "but not armed", unit="B/s", ours=mo, anchor=ma, ours_samples=a,
                             anchor_samples=b, ratio=mo / ma, goal=None,
                             goal_is_absolute=False, met=None,
                             ours_cmd="release + IPC_FAULTS=ON", anchor_cmd="release",
                             error=None))
        except Exception as e:
            rows.append(dict(id="seam", metric="seam compiled in, idle", error=str(e)))
    return rows


# ---- CRC-32C paths (row id "crc") ----------------------------------------------
CRC_PATHS = (("table", "crc-table"), ("sse4.2", "crc-sse42"),
             ("sse4.2-3way", "crc-sse42-3way"), ("pclmul", "crc-pclmul"),
             ("vpclmul-avx512", "crc-vpclmul"), ("hybrid", "crc-hybrid"), ("isa-l", "crc-isal"),
             ("memcpy (context)", "memcpy"))
CRC_LENGTHS = ((4096, "4 KiB"), (65536, "64 KiB"))


def crc_rows(b, rounds, rid="crc"):
    """Every CRC-32C implementation this CPU and build offer (ipcbench crc-*) and
    memcpy, at 4 KiB and 64 KiB, each against the single-stream crc32q loop over
    the same buffers. Rates are bytes per CPU second of the measuring thread (the
    work is CPU-bound; the wall clock of a shared machine measures the others), so
    0.5 s per sample is enough. A path the CPU or build lacks (ipcbench says so)
    has no row."""
    crc_b = Bench(b.build, min(b.seconds, 0.5))
    rows = []
    for length, label in CRC_LENGTHS:
        for name, mode in CRC_PATHS:
            metric = "CRC-32C bytes/CPU-s, %s, %s (anchor: single-stream crc32q)" % (
                name, label)
            if mode == "memcpy":
                metric = "memcpy bytes/CPU-s, %s (anchor: single-stream crc32q)" % label
            try:
                mo, ma, a, bb = measure_pair(
                    rounds, lambda m=mode, n=length: crc_b.ipcbench_rate(m, "--len", str(n)),
                    lambda n=length: crc_b.ipcbench_rate("crc-crc32q", "--len", str(n)),
                    rid, "B/s")
            except RuntimeError as e:
                if "lacks the implementation" in str(e):
                    continue
                rows.append(dict(id=rid, metric=metric, error=str(e)))
                continue
            rows.append(dict(id=rid, metric=metric, unit="B/s", ours=mo, anchor=ma,
                             ours_samples=a, anchor_samples=bb, ratio=mo / ma, goal=None,
                             goal_is_absolute=False, met=None,
                             ours_cmd="ipcbench %s --len %d" % (mode, length),
                             anchor_cmd="ipcbench crc-crc32q --len %d" % length, error=None))
    return rows


def serve_rows(root, build, rounds, seconds):
    """Runs bench/serve_vs_redis and turns its rows (--json) into result rows."""
    script = os.path.join(root, "bench", "serve_vs_redis")
    # About `seconds` per redis-benchmark run at the rates this machine reaches; at
    # least 5 alternating rounds: single runs on 2 shared cores swing by 20% or more.
    plain = str(int(max(20000, 60000 * seconds)))
    piped = str(int(max(200000, 600000 * seconds)))
    with tempfile.TemporaryDirectory(prefix="serve_rows.") as tmp:
        out = os.path.join(tmp, "serve.json")
        p = subprocess.run([script, "--ipcstorm", os.path.join(build, "ipcstorm"), "--rounds",
                            str(max(5, rounds)), "--requests", plain, "--requests-pipelined",
                            piped, "--json", out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        found = []
        if p.returncode == 0 and os.path.exists(out):
            with open(out) as f:
                found = json.load(f)
    rows = []
    for r in found:
        rows.append(dict(id="serve", metric="%s rps, -c 50, -P %d, %d worker(s); %s" % (
            r["test"], r["pipeline"], r["workers"], r["pinning"]), unit="req/s",
            ours=r["ours"], anchor=r["redis"], ours_samples=r["ours_samples"],
            anchor_samples=r["redis_samples"], ratio=r["ratio"], goal=1.0,
            goal_is_absolute=False, met=r["ratio"] >= 1.0,
            ours_cmd="ipcstorm serve --workers %d" % r["workers"], anchor_cmd="redis-server",
            error=None))
    if not rows:
        rows.append(dict(id="serve", metric="serve vs redis-server", error=(
            "bench/serve_vs_redis exited %d: %s" % (p.returncode, p.stderr.strip()[-200:]))))
    return rows


# The libFuzzer goals of issue 15 (exec/s, fuzz preset, this machine class): two
# absolute ones, and twice the exec/s the issue measured for the pipe and session
# targets (frame_roundtrip 6.7k, resp_session 3.4k).
FUZZ_GOALS = {"frame_decode": 200000.0, "resp_parse": 100000.0,
              "frame_roundtrip": 2 * 6700.0, "resp_session": 2 * 3400.0}


def fuzz_rows(root, seconds):
    """Runs scripts/fuzz --bench and reports exec/s per target and engine; the
    libFuzzer rows carry the ratio to the empty target measured in the same run."""
    script = os.path.join(root, "scripts", "fuzz")
    p = subprocess.run([script, "--bench", "--seconds", str(max(2, int(seconds * 2)))],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rows = []
    # scripts/fuzz --bench prints a plain table, the empty target first:
    #   target  libfuzzer/s  vs-empty  afl-persistent/s  afl-forksrv/s  pers/fork
    engines = ("libfuzzer", "afl-persistent", "afl-forksrv")
    num = re.compile(r"[0-9]+(\.[0-9]+)?")
    empty = None
    for line in p.stdout.splitlines():
        cells = line.split()
        if len(cells) < 5 or cells[0] == "target" or not num.fullmatch(cells[1]):
            continue
        if cells[0] == "fuzz_empty":
            empty = float(cells[1])
            continue
        target = cells[0]
        for engine, rate_s in zip(engines, (cells[1], cells[3], cells[4])):
            if not num.fullmatch(rate_s):
                continue
            rate = float(rate_s)
            lf = engine == "libfuzzer"
            goal = FUZZ_GOALS.get(target) if lf else None
            anchor = empty if lf else None
            rows.append(dict(id="fuzz", metric="fuzz exec/s, %s, %s%s" % (
                target, engine, " (anchor: the empty target)" if lf else ""),
                unit="exec/s", ours=rate, anchor=anchor,
                ratio=rate / anchor if anchor else None, goal=goal,
                goal_is_absolute=True, met=None if goal is None else rate >= goal,
                ours_cmd="scripts/fuzz --bench",
                anchor_cmd="harnesses/selftest/fuzz_empty.c" if lf else "-", error=None))
    if not rows:
        rows.append(dict(id="fuzz", metric="fuzz exec/s", error=(
            "scripts/fuzz --bench exited %d: %s" % (p.returncode, p.stderr.strip()[-200:]))))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True, help="release build directory")
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="A/B rounds per pair (>= 3)")
    ap.add_argument("--out", required=True, help="results.json path")
    ap.add_argument("--faults-build", default="",
                    help="release build with IPC_FAULTS=ON (the seam-idle row)")
    ap.add_argument("--only", default="", help="comma-separated row ids to run")
    ap.add_argument("--skip", default="", help="comma-separated row ids to skip")
    args = ap.parse_args()
    rounds = max(3, args.rounds)
    b = Bench(args.build, args.seconds)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    # Same shape on both sides of the process pairs: one worker, one child at a time
    # (stress-ng's defaults too: --fork-max 1, --vfork-max 1). The exec rows run the
    # project's bench/exit0 on both sides (no libc: the exec is the kernel's alone);
    # its children exit with a code or kill themselves, as forkwait draws them.
    exit0 = os.path.join(args.build, "bench", "exit0")
    fork_args = ("--method", "fork", "--batch", "1")
    vfork_args = ("--method", "vfork", "--batch", "1", "--exec", exit0)
    spawn_args = ("--method", "posix_spawn", "--batch", "1", "--exec", exit0)
    vfork_sh_args = ("--method", "vfork", "--batch", "1")
    sig_args = ("--modes", "rt-signalfd", "--procs", "1", "--per-sender", "5000")
    # id, metric, ours, anchor, unit, goal (ratio or absolute), goal is absolute?
    rows = [
        # ours per child: ipc_proc_fork (pidfd_open, registry), ipc_proc_wait with
        # a 10 s timeout (poll on the pidfd, waitpid), the status decoded and
        # formatted and checked against the code sent, a second wait and waitpid
        # (ECHILD: reaped once), and per round one waitid (no stray child).
        ("fork", "processes/s, fork + _exit + waitpid, status checked (ours also: pidfd, "
         "10 s timed wait, status text, reaped-once and no-stray checks)",
         lambda: b.stress_rate("forkwait", *fork_args),
         lambda: b.proc_anchor_rate("proc-fork"), "proc/s", 0.9, False,
         "ipcstorm stress forkwait " + " ".join(fork_args),
         "ipcbench proc-fork (bare fork + _exit + waitpid, status checked)"),
        # ours per child as above, with ipc_proc_spawn: an exec error would come back
        # from the spawn itself (shared memory with clone3, a CLOEXEC pipe with plain
        # vfork), and the child execs with an empty signal mask and caught signals
        # at their defaults (CLONE_CLEAR_SIGHAND; glibc's loop for posix_spawn).
        ("vfork", "processes/s, vfork + execve of bench/exit0 + waitpid, status checked "
         "(ours also: pidfd, empty signal mask, timed wait, the same checks)",
         lambda: b.stress_rate("forkwait", *vfork_args),
         lambda: b.proc_anchor_rate("proc-vfork-exec"), "proc/s", 0.9, False,
         "ipcstorm stress forkwait --method vfork --batch 1 --exec bench/exit0",
         "ipcbench proc-vfork-exec (bare vfork + execve + waitpid, status checked)"),
        ("spawn", "processes/s, posix_spawn of bench/exit0 + waitpid, status checked "
         "(ours also: pidfd, empty signal mask, timed wait, the same checks)",
         lambda: b.stress_rate("forkwait", *spawn_args),
         lambda: b.proc_anchor_rate("proc-posix-spawn"), "proc/s", 0.9, False,
         "ipcstorm stress forkwait --method posix_spawn --batch 1 --exec bench/exit0",
         "ipcbench proc-posix-spawn (bare posix_spawn + waitpid, status checked)"),
        # Context: stress-ng's own loops (they check less: stress-ng --fork does
        # not look at the status).
        ("fork-stress-ng", "processes/s, fork, vs stress-ng (context)",
         lambda: b.stress_rate("forkwait", *fork_args),
         lambda: b.stress_ng_rate("fork"), "proc/s", 2.0, False,
         "ipcstorm stress forkwait " + " ".join(fork_args), "stress-ng --fork 1"),
        ("vfork-stress-ng", "processes/s, vfork + exec of /bin/sh vs stress-ng's vfork + "
         "_exit (different work: no exec there; context)",
         lambda: b.stress_rate("forkwait", *vfork_sh_args),
         lambda: b.stress_ng_rate("vfork"), "proc/s", None, False,
         "ipcstorm stress forkwait " + " ".join(vfork_sh_args), "stress-ng --vfork 1"),
        ("signals", "RT signals/s, every one verified",
         lambda: b.stress_rate("signals", *sig_args), lambda: b.stress_ng_rate("sigq"),
         "sig/s", 1.0, False, "ipcstorm stress signals " + " ".join(sig_args),
         "stress-ng --sigq 1"),
        ("counter", "locked increments/s, 2 processes",
         lambda: b.counter_rate("counter-mutex"), lambda: b.counter_rate("counter-bare"),
         "inc/s", 0.95, False, "libipc counter, mutex kind", "bare glibc robust mutex loop"),
        ("counter-atomic", "locked increments/s vs a bare atomic (hardware limit)",
         lambda: b.counter_rate("counter-mutex"), lambda: b.counter_rate("counter-atomic"),
         "inc/s", None, False, "libipc counter, mutex kind", "bare atomic fetch_add"),
        ("pipe-64k", "framed pipe bytes/s, 64 KiB chunks",
         lambda: b.ipcbench_rate("pipe-framed", "--chunk", "65536"),
         lambda: b.ipcbench_rate("pipe-raw", "--chunk", "65536"), "B/s", 0.9, False,
         "framed pipe, one writer (one writev per frame)",
         "raw pipe (one write per chunk); both read 256 KiB blocks"),
        ("pipe-4k", "framed pipe bytes/s, 4 KiB chunks",
         lambda: b.ipcbench_rate("pipe-framed", "--chunk", "4096"),
         lambda: b.ipcbench_rate("pipe-raw", "--chunk", "4096"), "B/s", 0.9, False,
         "framed pipe, one writer (one writev per frame)",
         "raw pipe (one write per chunk); both read 256 KiB blocks"),
        ("decode-64k", "decode bytes/s, 64 KiB frames, in memory",
         lambda: b.ipcbench_rate("decode-64k"), lambda: b.ipcbench_rate("crc32q-64k"), "B/s",
         1.0, False, "frame decoder (CRC verified)", "single-stream SSE4.2 crc32q loop"),
        ("decode-16", "decode frames/s, 16-byte payloads",
         lambda: b.ipcbench_rate("decode-16"), None, "frames/s", 30e6, True,
         "frame decoder", "-"),
    ]
    only = set(filter(None, args.only.split(",")))
    skip = set(filter(None, args.skip.split(",")))

    def want(rid):
        return (not only or rid in only) and rid not in skip

    # The machine may be shared: the load average goes into the table's note and
    # results.json, so a reader can tell a loaded run from a quiet one.
    load_start = list(os.getloadavg())
    results = []
    # Progress events: "row ID (i/n): METRIC" when a row starts, "row ID: ours k/n:
    # RATE" per sample, "row ID: done: ..." when it ends.
    planned = [r[0] for r in rows if want(r[0])] + [
        rid for rid in ("crc", "seam", "serve", "fuzz") if want(rid)]

    def start(rid, metric):
        event("row %s (%d/%d): %s" % (rid, planned.index(rid) + 1, len(planned), metric))

    def done(rid, new_rows):
        ratios = [r["ratio"] for r in new_rows if r.get("ratio") is not None]
        if len(new_rows) > 2 and len(ratios) == len(new_rows):
            event("row %s: done: %d results, ratio %.2f..%.2f" % (
                rid, len(new_rows), min(ratios), max(ratios)))
            return
        parts = []
        for r in new_rows:
            if r.get("error"):
                parts.append("error: %s" % r["error"][:100])
            elif not r.get("unit"):
                parts.append("%s of %s, ratio %.2f" % (r.get("ours"), r.get("anchor"),
                                                       r.get("ratio") or 0))
            elif r.get("ratio") is not None:
                parts.append("%s, ratio %.2f" % (human(r.get("ours"), r.get("unit", "")),
                                                 r["ratio"]))
            else:
                parts.append(human(r.get("ours"), r.get("unit", "")))
        event("row %s: done: %s" % (rid, "; ".join(parts) or "no result"))

    for rid, metric, ours, anchor, unit, goal, absolute, ours_desc, anchor_desc in rows:
        if not want(rid):
            continue
        start(rid, metric)
        try:
            mo, ma, a, bb = measure_pair(rounds, ours, anchor, rid, unit)
            err = None
        except Exception as e:  # a row that cannot run is reported, not fatal
            mo = ma = None
            a = bb = []
            err = str(e)
        ratio = None
        if mo is not None and ma:
            ratio = mo / ma
        value = mo if absolute else ratio
        met = None if goal is None or value is None else value >= goal
        results.append(dict(id=rid, metric=metric, unit=unit, ours=mo, anchor=ma,
                            ours_samples=a, anchor_samples=bb, ratio=ratio, goal=goal,
                            goal_is_absolute=absolute, met=met, ours_cmd=ours_desc,
                            anchor_cmd=anchor_desc, error=err))
        done(rid, results[-1:])

    if want("crc"):
        start("crc", "CRC-32C per implementation and memcpy vs single-stream crc32q")
        new = crc_rows(b, rounds)
        done("crc", new)
        results += new

    if want("seam"):
        start("seam", "fault seam compiled out and compiled in but idle")
        new = seam_rows(root, args.build, args.faults_build, rounds, args.seconds)
        done("seam", new)
        results += new

    # The server pair and fuzz exec/s come from their own scripts, which alternate
    # their own A/B rounds; their Markdown rows are folded into this table.
    if want("serve"):
        start("serve", "ipcstorm serve vs redis-server under redis-benchmark")
        new = serve_rows(root, args.build, rounds, args.seconds)
        done("serve", new)
        results += new
    if want("fuzz"):
        start("fuzz", "scripts/fuzz --bench exec/s")
        new = fuzz_rows(root, args.seconds)
        done("fuzz", new)
        results += new

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(dict(seconds=args.seconds, rounds=rounds, rows=results,
                       when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       cpus=os.cpu_count(), loadavg_start=load_start,
                       loadavg_end=list(os.getloadavg())), f, indent=2)

    print("| metric | ours (median) | anchor (median) | ratio | goal | met? |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        if r.get("error"):
            print("| %s | error: %s | | | | no |" % (r["metric"], r["error"][:120]))
            continue
        goal = r.get("goal")
        goal_s = "-" if goal is None else (
            (">= " + human(goal, r.get("unit", ""))) if r.get("goal_is_absolute")
            else ">= %.2f" % goal)
        # Small ratios (a fuzz target against the empty one) keep 3 significant digits.
        ratio_s = "-" if r.get("ratio") is None else (
            "%.2f" % r["ratio"] if r["ratio"] >= 0.1 else "%.3g" % r["ratio"])
        met_s = "-" if r.get("met") is None else ("yes" if r["met"] else "NO")
        print("| %s | %s | %s | %s | %s | %s |" % (
            r["metric"], human(r.get("ours"), r.get("unit", "")),
            human(r.get("anchor"), r.get("unit", "")), ratio_s, goal_s, met_s))
    print("\n%d CPUs; load average %.2f at the start, %.2f at the end (1 min); "
          "ratio = ours / anchor, higher is better for ours." % (
              os.cpu_count(), load_start[0], os.getloadavg()[0]))
    print("\nresults: %s" % args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
