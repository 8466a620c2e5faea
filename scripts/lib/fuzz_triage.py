"""fuzz_triage.py - crash triage for scripts/fuzz (python3 fuzz_tool.py triage ...).

Each finding input is run once more under the sanitizers, classified from the
report, deduplicated and stored:

  kind     the sanitizer's own name for the report (SUMMARY line): "SEGV",
           "heap-buffer-overflow", "ubsan: signed-integer-overflow", "leak",
           "timeout", "oom"; "invariant"/"contract" when the harness's FUZZ_CHECK or
           CONTRACT message is in the report (harnesses/fuzz_util.h); "fd-leak" and
           "child-leak" from the replay main's hygiene checks; "unreproducible" when
           the input runs cleanly now.
  frames   the first stack of the report, symbolized, without sanitizer, libFuzzer,
           libc and driver frames, cut at LLVMFuzzerTestOneInput (so libFuzzer, the
           replay main and AFL++'s driver give the same frames).
  hash     sha1 of the kind and the function names of the top N frames (not lines or
           addresses: an unrelated edit does not split a bug in two).

artifacts/<target>/<kind>-<hash>/ holds: input (the first input seen), minimized,
log (the report of the first input), inputs/<sha1> (every distinct input of the
bug), count, finding.json. artifacts/<target>/.triage-index.json maps each input
(by content) to its folder, so triage of the same files again adds nothing.

How inputs are run: libFuzzer findings by the libFuzzer binary (ASan+UBSan, as
found); AFL++ findings (built without sanitizers) by the ASan+UBSan replay binary
of scripts/repro (build/asan/harnesses/replay_<target>, built on demand), else the
libFuzzer binary, else the AFL++ binary itself (kind from the signal, no frames).
"""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

SANITIZER_ENV = {
    "ASAN_OPTIONS": "symbolize=1:handle_abort=1:detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0:"
                    "allocator_may_return_null=1:detect_stack_use_after_return=1",
    "UBSAN_OPTIONS": "symbolize=1:print_stacktrace=1:halt_on_error=1:report_error_type=1",
    "LSAN_OPTIONS": "symbolize=1:fast_unwind_on_malloc=0",
}
SKIP_FUNC = re.compile(
    r"^(__sanitizer|__asan|__ubsan|__lsan|__msan|__tsan|__interceptor|___interceptor|"
    r"__libc|__GI_|__pthread|pthread_kill|gsignal|raise|abort|__assert|_start|"
    r"malloc|calloc|realloc|free|reallocarray|strdup|strndup|operator new|operator delete|"
    r"fuzzer::|std::|__cxa|_dl_|__restore_rt|run_here|run_one|run_path|run_file|main$)")
SKIP_FILE = re.compile(r"(compiler-rt|sanitizer_common|/libc\.so|/libstdc\+\+|/ld-linux|"
                       r"libc-start|libc_start|replay_main\.c|afl_driver\.c|afl_forksrv_driver\.c|"
                       r"/nptl/|sysdeps/)")
FRAME = re.compile(r"^\s*#(\d+) 0x[0-9a-f]+\s*(.*)$")
LOCATION = re.compile(r"^\S*(/\S*|\.\w+:\d+(:\d+)?)$")


def parse_frame(rest):
    """'in func /path/file.c:12:5 (module+0x..) (BuildId: ..)' -> (func, location,
    module); a frame without a symbol gives func '?'."""
    module = ""
    rest = rest.strip()
    while rest.endswith(")"):
        depth, i = 0, len(rest) - 1
        while i >= 0:
            depth += {")": 1, "(": -1}.get(rest[i], 0)
            if depth == 0:
                break
            i -= 1
        inner = rest[i + 1:-1]
        if i < 0 or not (inner.startswith("/") or inner.startswith("BuildId") or "+0x" in inner):
            break
        if "+0x" in inner:
            module = inner
        rest = rest[:i].rstrip()
    if not rest.startswith("in "):
        return "?", "", module
    rest = rest[3:]
    parts = rest.rsplit(" ", 1)
    if len(parts) == 2 and LOCATION.match(parts[1]):
        return parts[0].strip(), parts[1], module
    return rest.strip(), "", module
HEADER = re.compile(r"(==\d+==\s*ERROR: |runtime error: |invariant violated|contract violated|"
                    r"ERROR: libFuzzer|Direct leak of|Indirect leak of)")


def sha1_bytes(b):
    return hashlib.sha1(b).hexdigest()


def write_atomic(path, data):
    """Writes a whole file or nothing: a stopped run leaves the old file intact."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    os.replace(tmp, path)


def finding_files(paths):
    """Regular files of the paths (folders: their files, sorted), without AFL++'s
    README.txt and dot files; a missing path is an error of the caller."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            for n in sorted(os.listdir(p)):
                f = os.path.join(p, n)
                if n.startswith(".") or n == "README.txt" or not os.path.isfile(f):
                    continue
                out.append(f)
        elif os.path.isfile(p):
            out.append(p)
    return out


def origin_of(path):
    """What the engine called it: crash, leak, timeout, oom (libFuzzer's file
    prefixes) or afl-crash, afl-hang (AFL++'s folders)."""
    name = os.path.basename(path)
    parent = os.path.basename(os.path.dirname(path))
    for p in ("crash", "leak", "timeout", "oom"):
        if name.startswith(p + "-"):
            return p
    if parent.startswith("crashes"):
        return "afl-crash"
    if parent.startswith("hangs"):
        return "afl-hang"
    return "input"


class Runner:
    """Runs one input under the sanitizers, in its own session, with a timeout
    after which it gets SIGABRT (ASan prints the stack of a hang) and then SIGKILL."""

    def __init__(self, a, engine):
        self.a = a
        self.engine = engine
        self.cmd = None
        self.how = ""
        lf = a.libfuzzer_bin
        replay = os.path.join(a.replay_build, "harnesses", f"replay_{a.target}") if a.replay_build else ""
        if engine == "libfuzzer" and lf and os.access(lf, os.X_OK):
            self.cmd = [lf, f"-timeout={a.timeout}", "-rss_limit_mb=2048"]
            self.how = f"libFuzzer binary {lf}"
            return
        if replay and not a.no_build:
            self.build_replay()
        if replay and os.access(replay, os.X_OK):
            self.cmd = [replay, "--no-fork"]
            self.how = f"ASan replay {replay}"
        elif lf and os.access(lf, os.X_OK):
            self.cmd = [lf, f"-timeout={a.timeout}", "-rss_limit_mb=2048"]
            self.how = f"libFuzzer binary {lf}"
        elif a.afl_bin and os.access(a.afl_bin, os.X_OK):
            self.cmd = [a.afl_bin]
            self.how = f"AFL++ binary {a.afl_bin} (no sanitizer: kind from the signal only)"

    def build_replay(self):
        bdir = self.a.replay_build
        log = os.path.join(self.a.artifacts, ".replay-build.log")
        os.makedirs(self.a.artifacts, exist_ok=True)
        with open(log, "w") as f:
            ok = True
            if not os.path.exists(os.path.join(bdir, "CMakeCache.txt")):
                ok = subprocess.call(["cmake", "--preset", "asan", "-B", bdir], cwd=self.a.repo,
                                     stdout=f, stderr=subprocess.STDOUT) == 0
            ok = ok and subprocess.call(["nice", "-n", "10", "cmake", "--build", bdir, "-j", "2",
                                         "--target", f"replay_{self.a.target}"], cwd=self.a.repo,
                                        stdout=f, stderr=subprocess.STDOUT) == 0
        if not ok:
            print(f"scripts/fuzz: triage: building replay_{self.a.target} in {bdir} failed "
                  f"(log: {log}); trying another binary", file=sys.stderr)

    def run(self, path):
        env = dict(os.environ)
        env.update(SANITIZER_ENV)
        sym = shutil.which("llvm-symbolizer") or shutil.which("llvm-symbolizer-14")
        if sym:
            env["ASAN_SYMBOLIZER_PATH"] = sym
            env["UBSAN_SYMBOLIZER_PATH"] = sym
        t0 = time.monotonic()
        p = subprocess.Popen(self.cmd + [path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        timed_out = False
        try:
            out, _ = p.communicate(timeout=self.a.timeout + 5)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(p.pid, signal.SIGABRT)
            try:
                out, _ = p.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                out, _ = p.communicate()
        try:
            os.killpg(p.pid, signal.SIGKILL)  # whatever the target left in its session
        except OSError:
            pass
        log = out.decode(errors="replace")
        return log, p.returncode, timed_out, time.monotonic() - t0


def kind_of(log, rc, timed_out, origin):
    if timed_out or re.search(r"ERROR: libFuzzer: timeout|replay: TIMEOUT", log):
        return "timeout"
    if re.search(r"ERROR: libFuzzer: out-of-memory|out of memory|allocation-size-too-big", log):
        return "oom"
    m = re.search(r"^\S+:\d+: (invariant|contract) violated: ", log, re.M)
    if m:
        return m.group(1)
    if "ERROR: LeakSanitizer: detected memory leaks" in log:
        return "leak"
    m = re.search(r"SUMMARY: UndefinedBehaviorSanitizer: (\S+)", log)
    if m:
        return "ubsan: " + m.group(1)
    m = re.search(r"SUMMARY: (?:Address|Memory|Thread)Sanitizer: (\S+)", log)
    if m:
        k = m.group(1)
        return {"ABRT": "abort"}.get(k, k)
    if "the target leaked fds" in log:
        return "fd-leak"
    if "the target left a child process" in log:
        return "child-leak"
    m = re.search(r"ERROR: libFuzzer: (deadly signal|fuzz target exited|out-of-memory)", log)
    if m:
        return {"deadly signal": "signal", "fuzz target exited": "exit"}.get(m.group(1), m.group(1))
    if rc is not None and rc < 0:
        return {signal.SIGSEGV: "SEGV", signal.SIGABRT: "abort", signal.SIGBUS: "SIGBUS",
                signal.SIGFPE: "SIGFPE", signal.SIGILL: "SIGILL"}.get(-rc, f"signal-{-rc}")
    if rc:
        return "exit"
    return "unreproducible"


def frames_of(log, repo):
    """(function, location) of the report's first stack, filtered (module doc)."""
    lines = log.splitlines()
    start = 0
    for i, line in enumerate(lines):
        if HEADER.search(line):
            start = i
            break
    frames = []
    seen_first = False
    for line in lines[start:]:
        m = FRAME.match(line)
        if not m:
            if seen_first:
                break  # the end of the first stack
            continue
        seen_first = True
        func, loc, module = parse_frame(m.group(2))
        if func == "?":
            continue  # no symbol (libc without debug info): says nothing about the bug
        func = re.sub(r"\(\.llvm\.\d+\)|\.cold(\.\d+)?$|\.part\.\d+$|\.isra\.\d+$|\.constprop\.\d+$",
                      "", func)
        if SKIP_FUNC.match(func) or SKIP_FILE.search(loc) or SKIP_FILE.search(module):
            continue
        if loc.startswith(repo + "/"):
            loc = loc[len(repo) + 1:]
        frames.append((func, loc))
        if func == "LLVMFuzzerTestOneInput":
            break
    return frames


def slug(kind):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", kind.replace("ubsan: ", "ubsan-")).strip("-")


def rel(path, repo):
    return path[len(repo) + 1:] if path.startswith(repo + "/") else path


def minimize(a, engine, kind, src, dst, runner, key):
    """Minimizes src into dst, bounded by --minimize-seconds; keeps the result only
    when it still gives the same bug (kind and frames). Returns a note."""
    if kind in ("timeout", "oom", "unreproducible"):
        shutil.copyfile(src, dst)
        return f"not minimized ({kind}: each attempt would take the full limit)"
    tmp = dst + ".try"
    secs = max(1, a.minimize_seconds)
    log_path = dst + ".log"
    cmd = None
    if engine == "libfuzzer" and a.libfuzzer_bin and os.access(a.libfuzzer_bin, os.X_OK):
        cmd = [a.libfuzzer_bin, "-minimize_crash=1", f"-max_total_time={secs}", "-runs=100000",
               f"-timeout={a.timeout}", f"-exact_artifact_path={tmp}", src]
        how = "libFuzzer -minimize_crash"
    elif a.afl_bin and os.access(a.afl_bin, os.X_OK) and shutil.which("afl-tmin"):
        cmd = ["afl-tmin", "-i", src, "-o", tmp, "-t", str(a.timeout * 1000), "-m", "none", "--",
               a.afl_bin, "@@"]
        how = "afl-tmin"
    if cmd is None:
        shutil.copyfile(src, dst)
        return "not minimized (no libFuzzer binary or afl-tmin)"
    env = dict(os.environ)
    if how == "afl-tmin":
        # The AFL++ build has no sanitizer, and afl-tmin refuses options it did
        # not set itself (e.g. ASAN_OPTIONS without abort_on_error=1).
        for k in SANITIZER_ENV:
            env.pop(k, None)
        env.update({"AFL_SKIP_CPUFREQ": "1", "AFL_NO_AFFINITY": "1"})
    else:
        env.update(SANITIZER_ENV)
    with open(log_path, "w") as lf:
        p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, start_new_session=True, cwd=os.path.dirname(dst))
        try:
            p.wait(timeout=secs + 30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    if how == "afl-tmin" and p.returncode != 0:
        shutil.copyfile(src, dst)
        return f"not minimized (afl-tmin exited {p.returncode}; log {rel(log_path, a.repo)})"
    if not os.path.isfile(tmp) or os.path.getsize(tmp) > os.path.getsize(src):
        shutil.copyfile(src, dst)
        return f"not minimized ({how} made nothing smaller; log {rel(log_path, a.repo)})"
    log, rc, timed_out, _ = runner.run(tmp)
    k2 = kind_of(log, rc, timed_out, "input")
    f2 = [f for f, _ in frames_of(log, a.repo)][: a.frames]
    if bug_key(k2, f2) != key:
        shutil.copyfile(src, dst)
        os.unlink(tmp)
        return f"not minimized ({how}'s result is another bug: {k2})"
    os.replace(tmp, dst)
    return f"minimized by {how}: {os.path.getsize(src)} -> {os.path.getsize(dst)} bytes"


def bug_key(kind, funcs):
    return hashlib.sha1("\n".join([kind] + list(funcs)).encode()).hexdigest()[:12]


def guess_engine(path):
    o = origin_of(path)
    return "afl" if o.startswith("afl-") or os.path.basename(path).startswith("id:") else "libfuzzer"


def cmd_triage(a):
    a.repo = os.path.abspath(a.repo)
    files = finding_files(a.inputs)
    if not files:
        if a.since == 0:
            print(f"scripts/fuzz: triage: no input files in {' '.join(a.inputs)}", file=sys.stderr)
        if a.out:
            write_atomic(a.out, json.dumps({"target": a.target, "findings": []}, indent=1) + "\n")
        return 0
    os.makedirs(a.artifacts, exist_ok=True)
    index_path = os.path.join(a.artifacts, ".triage-index.json")
    try:
        with open(index_path) as f:
            index = json.load(f)
    except (OSError, ValueError):
        index = {}
    runners = {}
    t_start = time.monotonic()
    ran = 0
    left = 0
    touched = {}  # folder name -> number of inputs added now
    hit = {}  # folder name -> inputs of the run that started at --since
    created = set()
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        h = sha1_bytes(data)
        known = index.get(h)
        recent = a.since > 0 and os.path.getmtime(path) >= a.since
        if known and os.path.isfile(os.path.join(a.artifacts, known, "finding.json")):
            touched.setdefault(known, 0)
            hit[known] = hit.get(known, 0) + int(recent)
            continue
        if (a.max_inputs and ran >= a.max_inputs) or \
                (a.max_seconds and time.monotonic() - t_start > a.max_seconds):
            left += 1  # a bug hit all the time must not keep the run busy for hours
            continue
        ran += 1
        engine = a.engine if a.engine in ("libfuzzer", "afl") else guess_engine(path)
        if engine not in runners:
            runners[engine] = Runner(a, engine)
        runner = runners[engine]
        if runner.cmd is None:
            print(f"scripts/fuzz: triage: no binary of {a.target} to run {path} with (build "
                  "preset fuzz, afl or asan, or unset IPC_FUZZ_NO_BUILD)", file=sys.stderr)
            return 1
        origin = origin_of(path)
        log, rc, timed_out, secs = runner.run(path)
        kind = kind_of(log, rc, timed_out, origin)
        if kind == "unreproducible":
            kind = f"unreproducible-{origin}"
        frames = frames_of(log, a.repo)
        funcs = [f for f, _ in frames][: a.frames]
        key = bug_key(kind, funcs)
        name = f"{slug(kind)}-{key}"
        d = os.path.join(a.artifacts, name)
        os.makedirs(os.path.join(d, "inputs"), exist_ok=True)
        meta_path = os.path.join(d, "finding.json")
        if os.path.isfile(meta_path):
            with open(meta_path) as f:
                meta = json.load(f)
        else:
            # A new bug (or a folder a stopped triage left without finding.json:
            # filled in again from this input).
            created.add(name)
            shutil.copyfile(path, os.path.join(d, "input"))
            write_atomic(os.path.join(d, "log"),
                         f"# {' '.join(runner.cmd + [path])}\n# exit {rc}, {secs:.1f} s"
                         f"{', timed out' if timed_out else ''}\n{log}")
            note = minimize(a, engine, kind, os.path.join(d, "input"), os.path.join(d, "minimized"),
                            runner, key)
            top = frames[0] if frames else ("?", "")
            meta = {"target": a.target, "kind": kind, "hash": key, "dir": rel(d, a.repo),
                    "top_frame": top[0], "top_location": top[1],
                    "frames": [f"{fn} {loc}".strip() for fn, loc in frames[: max(a.frames, 8)]],
                    "engine": engine, "origin": origin, "run_by": runner.how,
                    "minimize": note, "sources": [],
                    "first_seen": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        dst = os.path.join(d, "inputs", h)
        if not os.path.exists(dst):
            shutil.copyfile(path, dst)
        meta["sources"] = (meta.get("sources", []) + [path])[-20:]
        meta["count"] = len([n for n in os.listdir(os.path.join(d, "inputs")) if not n.startswith(".")])
        meta["last_seen"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        meta["reproduce"] = f"scripts/repro {a.target} {rel(os.path.join(d, 'minimized'), a.repo)}"
        write_atomic(os.path.join(d, "count"), f"{meta['count']}\n")
        write_atomic(meta_path, json.dumps(meta, indent=1) + "\n")
        index[h] = name
        write_atomic(index_path, json.dumps(index, indent=1, sort_keys=True) + "\n")
        touched[name] = touched.get(name, 0) + 1
        hit[name] = hit.get(name, 0) + int(recent)

    findings = []
    for name in sorted(touched):
        if a.since > 0 and not hit.get(name):
            continue  # a bug of an earlier run, not hit by this one
        with open(os.path.join(a.artifacts, name, "finding.json")) as f:
            meta = json.load(f)
        meta["new"] = name in created
        meta["added"] = touched[name]
        findings.append(meta)
        where = f" ({meta['top_location']})" if meta.get("top_location") else ""
        status = "new" if meta["new"] else (f"+{touched[name]}" if touched[name] else
                                            ("hit again" if hit.get(name) else "known"))
        print(f"scripts/fuzz: FINDING {a.target} {meta['kind']} in {meta['top_frame']}{where} "
              f"x{meta['count']} [{status}] {meta['dir']}/ reproduce: {meta['reproduce']}",
              file=sys.stderr)
    if left:
        print(f"scripts/fuzz: triage: {left} more input(s) not triaged yet (at most {a.max_inputs} "
              f"inputs and {a.max_seconds} s per run: IPC_FUZZ_TRIAGE_MAX, "
              f"IPC_FUZZ_TRIAGE_SECONDS); continue with: scripts/fuzz --triage {a.target}",
              file=sys.stderr)
    if a.out:
        write_atomic(a.out, json.dumps({"target": a.target, "findings": findings,
                                        "untriaged_inputs": left}, indent=1) + "\n")
    reproduced = [m for m in findings if not m["kind"].startswith("unreproducible")]
    return 2 if reproduced else 0
