#!/usr/bin/env python3
"""Tests of the ipcstorm command line: the one option parser (cli/opts.h), decimal
numbers, --version, the driver list, --with-stress-ng and the exit statuses of the
README's "Exit status" section (0 nothing found, 1 could not run, 2 found a
problem, 64 usage error).

usage: cli_test.py IPCSTORM_BINARY SOURCE_DIR CASE

Every case runs the real binary (or script) in a child process with a timeout and
checks its exit status and output. Exit 77 = skipped.
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys

BIN = None
SRC = None
USAGE = 64


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def run(args, stdin=b"", timeout=60):
    p = subprocess.run([BIN] + args, input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def frame(payload, type_=0):
    rc, out, err = run(["frame", "encode", "--type", str(type_)], payload)
    check(rc == 0, "frame encode exit %d: %s" % (rc, err))
    return out


def usage_error(args, option, value=None, stdin=b""):
    """args must fail with exit 64 and a message naming option (and value)."""
    rc, out, err = run(args, stdin)
    check(rc == USAGE, "%s: exit %d, expected %d (usage error); stderr: %s" % (args, rc, USAGE, err))
    first = err.splitlines()[0] if err else ""
    check(option in first, "%s: the message %r does not name %s" % (args, first, option))
    if value is not None:
        check("'%s'" % value in first, "%s: the message %r does not quote %r" % (args, first, value))
    return first


# ---- cases -----------------------------------------------------------------------
def case_decimal_leading_zeros():
    # --max-payload 010 is ten (not eight, as strtoull base 0 read it): a 9- and a
    # 10-byte payload pass, an 11-byte one is too large (exit 2: bad frames).
    for n in (9, 10):
        rc, out, err = run(["frame", "decode", "--max-payload", "010"], frame(b"x" * n))
        check(rc == 0, "len %d with --max-payload 010: exit %d: %s" % (n, rc, err))
        check(out.decode() == "type=0 len=%d crc=ok\n" % n, "output %r" % out)
    rc, out, err = run(["frame", "decode", "--max-payload", "010"], frame(b"x" * 11))
    check(rc == 2 and "IPC_ETOOLARGE" in err, "len 11 with --max-payload 010: exit %d: %s" % (rc, err))
    # --type 007 is 7, --type 010 is 10.
    for text, want in (("007", 7), ("010", 10), ("0", 0), ("255", 255)):
        rc, out, err = run(["frame", "decode"], frame(b"p", text))
        check(rc == 0 and out.decode() == "type=%d len=1 crc=ok\n" % want,
              "--type %s: exit %d, %r" % (text, rc, out))


def case_decimal_rejects():
    # Hex, signs, blanks, exponents, empty values, non-digits and overflow are usage
    # errors naming the option and quoting the value.
    for bad in ("0x10", "0X10", "+5", "-5", " 5", "5 ", "1e3", "", "ten", "5k",
                "18446744073709551616", "99999999999999999999999"):
        usage_error(["frame", "decode", "--max-payload", bad], "--max-payload", bad)
        usage_error(["frame", "decode", "--max-payload=" + bad], "--max-payload", bad)
    # Out of range.
    usage_error(["frame", "encode", "--type", "256"], "--type", "256")
    usage_error(["frame", "decode", "--max-payload", "0"], "--max-payload", "0")
    # The message of the issue, word for word; --no-tcp without --unix keeps the old
    # code (which took 0x1F90 as 8080) from listening anywhere.
    first = usage_error(["serve", "--port", "0x1F90", "--no-tcp"], "--port", "0x1F90")
    check(first == "ipcstorm serve: --port: '0x1F90' is not a decimal number in 0..65535",
          "message %r" % first)
    # A stress driver, its own option and a common one; seconds are decimal too.
    usage_error(["stress", "pipe", "--frames", "0x10"], "--frames", "0x10")
    usage_error(["stress", "pipe", "--seed", "-1"], "--seed", "-1")
    for bad in ("0x1", "1e1", "-1", "inf", "nan", "", ".", "1.2.3"):
        usage_error(["stress", "pipe", "--duration", bad], "--duration", bad)
        usage_error(["run", "--timeout", bad, "--", "true"], "--timeout", bad)


def case_equals_and_space():
    # A subcommand whose old parser knew only "--x v": echo-server and echo-client
    # round trip with either spelling.
    name = "@ipcstorm-cli-test-%d" % os.getpid()
    for eq in (True, False):
        def opt(k, v):
            return ["--%s=%s" % (k, v)] if eq else ["--" + k, v]
        srv = subprocess.Popen([BIN, "echo-server"] + opt("bind", "unix:" + name) + opt("port", "0"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = srv.stdout.readline().decode().strip()
            check(line.startswith("unix:"), "echo-server (%s) printed %r, stderr %r" %
                  ("--x=v" if eq else "--x v", line, srv.stderr.read1(4096) if not line else b""))
            rc, out, err = run(["echo-client"] + opt("addr", line) + opt("message", "hi there") +
                               opt("timeout", "5.5"))
            check(rc == 0 and out == b"Message Received!\n", "echo-client exit %d %r %s" % (rc, out, err))
            check(srv.stdout.readline().decode().endswith(": hi there\n"), "server did not print it")
        finally:
            srv.send_signal(signal.SIGTERM)
            src = srv.wait(timeout=30)
        check(src == 0, "echo-server exit %d after SIGTERM" % src)
    # A stress driver: the same parameters either way, common options and the
    # driver's own; --json shows what was parsed.
    spaced = ["--duration", "0.3", "--procs", "2", "--incs", "07", "--kinds", "mutex,atomic",
              "--seed", "0042", "--json"]
    joined = ["--duration=0.3", "--procs=2", "--incs=7", "--kinds=mutex,atomic", "--seed=42",
              "--json"]
    params = []
    for args in (spaced, joined):
        rc, out, err = run(["stress", "counter"] + args)
        check(rc == 0, "stress counter %s: exit %d: %s" % (args, rc, err))
        d = json.loads(out.decode().strip().splitlines()[-1])
        params.append((d["params"], d["seed"]))
        check(d["params"]["procs"] == 2 and d["params"]["incs"] == 7 and
              d["params"]["kinds"] == "mutex,atomic" and d["seed"] == 42,
              "stress counter %s parsed as %s" % (args, out))
    check(params[0] == params[1], "--x v and --x=v differ: %s" % params)


def case_version():
    for args in (["--version"], ["version"]):
        rc, out, err = run(args)
        check(rc == 0, "%s: exit %d: %s" % (args, rc, err))
        check(re.fullmatch(rb"ipcstorm \d+\.\d+\.\d+\n", out), "%s printed %r" % (args, out))
    usage_error(["version", "--bogus"], "--bogus")


def case_stress_lists_drivers():
    rc, out, err = run(["stress"])
    check(rc == 0, "ipcstorm stress: exit %d: %s" % (rc, err))
    text = out.decode()
    drivers = sorted(f[4:-2] for f in os.listdir(os.path.join(SRC, "stress"))
                     if f.startswith("drv_") and f.endswith(".c"))
    check(drivers, "no stress/drv_*.c found")
    for d in drivers:
        check(re.search(r"^  %s +\S" % re.escape(d), text, re.M),
              "driver %s not listed with its summary in:\n%s" % (d, text))
    usage_error(["stress", "nosuch"], "nosuch")


def case_with_stress_ng():
    if not shutil.which("stress-ng"):
        print("stress-ng not installed: skipped")
        sys.exit(77)
    # The line scripts/session prints (stress-ng's arguments after --with-stress-ng,
    # unquoted), pasted into a shell; and the quoted one-string form, after which
    # options may still follow.
    lines = [
        "%s stress counter --duration 1 --json --with-stress-ng --cpu 1",
        "%s stress counter --duration=1 --json --with-stress-ng '--cpu 1' --procs 2",
        "%s stress counter --duration 1 --json --with-stress-ng=--cpu\\ 1",
    ]
    for line in lines:
        cmd = line % shlex.quote(BIN)
        p = subprocess.run(["sh", "-c", cmd], capture_output=True, timeout=120)
        check(p.returncode == 0, "%s: exit %d: %s" % (cmd, p.returncode, p.stderr.decode()))
        d = json.loads(p.stdout.decode().strip().splitlines()[-1])
        check(d["params"]["with_stress_ng"] == "--cpu 1", "%s: params %s" % (cmd, d["params"]))
        check("--procs" not in line or d["params"]["procs"] == 2, "%s: params %s" % (cmd, d["params"]))
        # The reproduce command keeps the load last, as one quoted argument.
        check(d["reproduce"].endswith("--with-stress-ng '--cpu 1'"), "reproduce %r" % d["reproduce"])
    usage_error(["stress", "counter", "--with-stress-ng"], "--with-stress-ng")


def case_usage_exit_status():
    # A subcommand, a stress driver, the dispatcher and scripts: 64, never 2.
    usage_error(["serve", "--bogus"], "--bogus")
    usage_error(["serve", "--por", "1"], "--por")  # no abbreviations
    usage_error(["counter", "--lock", "spin"], "--lock", "spin")
    usage_error(["frame", "decode", "--payload=yes"], "--payload")
    usage_error(["frame", "decode", "--max-payload"], "--max-payload")
    usage_error(["run", "--method", "clone", "--", "true"], "--method", "clone")
    usage_error(["stress", "pipe", "--bogus"], "--bogus")
    usage_error(["stress", "pipe", "--procs", "0"], "--procs", "0")
    usage_error(["stress", "pipe", "--duration", "0"], "--duration")
    usage_error(["stress", "forkwait", "--method", "clone"], "--method", "clone")
    usage_error(["stress", "counter", "--kinds", "mutex,spin"], "--kinds", "mutex,spin")
    usage_error(["stress", "signals", "--modes", "rt-nothing"], "--modes", "rt-nothing")
    usage_error(["echo-client"], "--addr")
    usage_error(["nosuch"], "nosuch")
    rc, out, err = run([])
    check(rc == USAGE, "ipcstorm without a command: exit %d" % rc)
    # `ipcstorm run` passes its command's status through; only its own usage
    # errors are 64.
    rc, out, err = run(["run", "--", "sh", "-c", "exit 3"])
    check(rc == 3, "run: exit %d, expected the child's 3" % rc)
    for script, args, option in (("fuzz", ["--bogus"], "--bogus"),
                                 ("fuzz", ["--seconds"], "--seconds"),
                                 ("fuzz", ["--seconds", "0x10"], "--seconds"),
                                 ("session", ["--bogus"], "--bogus"),
                                 ("test", ["--bogus"], "--bogus"),
                                 ("deps", ["--bogus"], "--bogus")):
        p = subprocess.run([os.path.join(SRC, "scripts", script)] + args, capture_output=True,
                           timeout=60, cwd=SRC)
        err = p.stderr.decode(errors="replace")
        check(p.returncode == USAGE, "scripts/%s %s: exit %d: %s" % (script, args, p.returncode, err))
        check(option in err, "scripts/%s %s: message %r does not name %s" % (script, args, err, option))
    p = subprocess.run(["bash", os.path.join(SRC, "stress", "selftest.sh")], capture_output=True,
                       timeout=60)
    check(p.returncode == USAGE, "selftest.sh without arguments: exit %d" % p.returncode)


def case_help_matches_parser():
    # Every option the help lists is accepted by the parser (with --help after it,
    # so nothing runs), and --help goes to stdout with exit 0.
    commands = [["serve"], ["counter"], ["frame", "encode"], ["frame", "decode"], ["run"],
                ["echo-client"], ["echo-server"], ["version"]]
    drivers = sorted(f[4:-2] for f in os.listdir(os.path.join(SRC, "stress"))
                     if f.startswith("drv_") and f.endswith(".c"))
    commands += [["stress", d] for d in drivers]
    for c in commands:
        rc, out, err = run(c + ["--help"])
        check(rc == 0 and out.startswith(b"usage: ipcstorm " + " ".join(c).encode()),
              "%s --help: exit %d, %r" % (c, rc, out[:80]))
        opts = re.findall(r"^  (?:-\w, )?--([a-z][a-z0-9-]*)( \S+)?", out.decode(), re.M)
        check(opts, "%s --help lists no option" % c)
        for name, arg in opts:
            if name == "help":
                continue
            value = ["1"] if arg and name != "with-stress-ng" else []
            if name == "with-stress-ng":
                value = ["--cpu 1"]
            rc, out2, err = run(c + ["--" + name] + value + ["--help"])
            check(rc in (0, USAGE), "%s --%s: exit %d" % (c, name, rc))
            check("unknown option" not in err, "%s: --%s listed but unknown: %s" % (c, name, err))


def case_progress_fd():
    # --progress-fd N: one line per second and a last one at the end, whose ops
    # are the run's (the JSON result's); a closed descriptor is a usage error.
    rd, wr = os.pipe()
    p = subprocess.run([BIN, "stress", "pipe", "--duration", "2.5", "--json", "--progress-fd",
                        str(wr)], pass_fds=(wr,), capture_output=True, timeout=120)
    os.close(wr)
    with os.fdopen(rd) as f:
        lines = f.read().splitlines()
    check(p.returncode == 0, "stress pipe exit %d: %s" % (p.returncode, p.stderr[-300:]))
    result = json.loads(p.stdout.decode().strip().splitlines()[-1])
    pat = re.compile(r"^elapsed=(\d+\.\d) ops=(\d+) ops_per_sec=(\d+) checks=(\d+) "
                     r"violations=(\d+)$")
    fields = [pat.match(line) for line in lines]
    check(len(lines) >= 3 and all(fields), "progress lines: %r" % lines)
    elapsed = [float(m.group(1)) for m in fields]
    ops = [int(m.group(2)) for m in fields]
    check(elapsed == sorted(elapsed) and ops == sorted(ops), "not increasing: %r" % lines)
    check(ops[-1] == result["ops"], "last line ops %d, result %d" % (ops[-1], result["ops"]))
    usage_error(["stress", "pipe", "--progress-fd", "1000"], "--progress-fd")


def case_inherited_ignored_signals():
    # A driver launched with signals ignored (nohup ignores SIGHUP; Python and
    # subprocess(restore_signals=False) pass SIGXFSZ on) starts from the default
    # actions: forkwait's children must still die by the SIGHUP they are sent.
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGHUP, signal.SIGXFSZ)}
    try:
        p = subprocess.run([BIN, "stress", "forkwait", "--duration", "2"], capture_output=True,
                           timeout=120, restore_signals=False)
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 0, "forkwait with SIGHUP ignored: exit %d: %s" % (p.returncode, err[-600:]))


# ---- help_teaches: every --help has an example and its exit statuses ----------
# The format every --help must follow (README "Exit status"; issue 14, item 6):
#   - exit status 0 and the help on stdout;
#   - an examples block: a line that starts, in column 0, with "Example:" or
#     "Examples" followed by ":" or " (" (e.g. "Examples (after a failure):"),
#     then lines indented by at least two spaces up to the next blank or
#     unindented line; at least one of them must contain the command itself:
#     "ipcstorm <subcommand...>", "scripts/<name>" or "bench/ipcbench" (a path
#     may come before it: "build/release/bench/ipcbench");
#   - an exit-status paragraph: a line that starts, in column 0, with
#     "Exit status:"; the paragraph (up to the next blank line) must name the
#     codes 0 and 64 as numbers (other codes as the command has them).
EXAMPLES_HEAD = re.compile(r"^Examples?(:| \()")
EXIT_HEAD = re.compile(r"^Exit status:")


def help_problems(text, command):
    """What the help text lacks, as a list of messages (empty: it teaches)."""
    lines = text.splitlines()
    problems = []
    heads = [i for i, l in enumerate(lines) if EXAMPLES_HEAD.match(l)]
    examples = []
    for i in heads:
        for l in lines[i + 1:]:
            if not l.startswith("  ") or not l.strip():
                break
            examples.append(l.strip())
    if not heads:
        problems.append("no line starting with 'Example:' or 'Examples:'")
    elif not any(re.search(r"(^|[\s|;&/])%s(\s|$)" % re.escape(command), e) for e in examples):
        problems.append("no indented example line under 'Examples' runs %r" % command)
    exits = [i for i, l in enumerate(lines) if EXIT_HEAD.match(l)]
    if not exits:
        problems.append("no line starting with 'Exit status:'")
    for i in exits:
        para = []
        for l in lines[i:]:
            if not l.strip():
                break
            para.append(l)
        para = " ".join(para)
        for code in ("0", "64"):
            if not re.search(r"(?<![\w+.-])%s(?![\w.+-]|\.\d)" % code, para):
                problems.append("the 'Exit status:' paragraph does not name code %s" % code)
    return problems, examples


def example_commands(example):
    """The ipcstorm invocations of one example line, as argument lists: the line is
    split like a shell would (comments dropped), into commands at | ; && ||, and
    redirections with their file are left out."""
    lex = shlex.shlex(example, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    lex.commenters = "#"
    cmds, cur, skip_next = [], [], False
    for tok in lex:
        if skip_next:
            skip_next = False
            continue
        if tok in ("|", ";", "&&", "||", "&"):
            cmds.append(cur)
            cur = []
        elif tok in ("<", ">", ">>", "2>", "<>", ">&"):
            skip_next = True
        else:
            cur.append(tok)
    cmds.append(cur)
    return [c[1:] for c in cmds if c and c[0] == "ipcstorm"]


def case_help_teaches():
    failures = []
    # The ipcstorm command, each subcommand (cli/cmd_*.c), the subcommands their
    # usage lines name ("ipcstorm frame encode ..."), and each stress driver.
    subs = sorted(f[4:-2].replace("_", "-") for f in os.listdir(os.path.join(SRC, "cli"))
                  if f.startswith("cmd_") and f.endswith(".c"))
    check(subs, "no cli/cmd_*.c found")
    drivers = sorted(f[4:-2] for f in os.listdir(os.path.join(SRC, "stress"))
                     if f.startswith("drv_") and f.endswith(".c"))
    check(drivers, "no stress/drv_*.c found")
    todo = [[]] + [[c] for c in subs] + [["stress", d] for d in drivers]
    seen = set()
    checked = 0
    while todo:
        c = todo.pop(0)
        if tuple(c) in seen:
            continue
        seen.add(tuple(c))
        name = " ".join(["ipcstorm"] + c)
        rc, out, err = run(c + ["--help"])
        text = out.decode(errors="replace")
        if rc != 0 or not text.startswith("usage:"):
            failures.append("%s --help: exit %d, stdout %r, stderr %r" % (name, rc, text[:60], err[:200]))
            continue
        checked += 1
        problems, examples = help_problems(text, name)
        failures += ["%s --help: %s" % (name, p) for p in problems]
        for m in re.finditer(r"^(?:usage:|      ) +%s ([a-z][a-z0-9-]*)\b" % re.escape(name), text, re.M):
            todo.append(c + [m.group(1)])
        # Every option an example uses exists: the example with --help put in
        # before "--" (run's command) or --with-stress-ng (its arguments), or at
        # the end, must print the help (exit 0), not a usage error.
        for e in examples:
            for args in example_commands(e):
                if args[:len(c)] != c:
                    continue
                cut = len(args)
                for stop in ("--", "--with-stress-ng"):
                    if stop in args[len(c):]:
                        cut = min(cut, args.index(stop, len(c)))
                if "--help" not in args[:cut] and "-h" not in args[:cut]:
                    args = args[:cut] + ["--help"] + args[cut:]
                rc, _, err = run(args)
                if rc != 0:
                    failures.append("%s --help: the example %r is rejected (exit %d): %s" %
                                    (name, e, rc, err.strip()[:200]))
    check(checked >= 1 + len(subs) + len(drivers), "only %d helps checked" % checked)
    # The benchmark helper, when this build has it (scripts/bench runs it).
    ipcbench = os.path.join(os.path.dirname(BIN), "bench", "ipcbench")
    if os.access(ipcbench, os.X_OK):
        p = subprocess.run([ipcbench, "--help"], capture_output=True, timeout=60)
        problems, _ = help_problems(p.stdout.decode(errors="replace"), "bench/ipcbench")
        if p.returncode != 0:
            problems.append("exit %d" % p.returncode)
        failures += ["bench/ipcbench --help: %s" % m for m in problems]
    # Every script in scripts/ (executable files; scripts/lib/ holds sourced helpers).
    scripts = sorted(f for f in os.listdir(os.path.join(SRC, "scripts"))
                     if os.path.isfile(os.path.join(SRC, "scripts", f)) and
                     os.access(os.path.join(SRC, "scripts", f), os.X_OK))
    check(scripts, "no executable in scripts/")
    for f in scripts:
        p = subprocess.run([os.path.join(SRC, "scripts", f), "--help"], capture_output=True,
                           timeout=60, cwd=SRC, stdin=subprocess.DEVNULL)
        text = p.stdout.decode(errors="replace")
        if p.returncode != 0 or not text.strip():
            failures.append("scripts/%s --help: exit %d, stdout %r, stderr %r" %
                            (f, p.returncode, text[:60], p.stderr.decode(errors="replace")[:200]))
            continue
        problems, _ = help_problems(text, "scripts/" + f)
        failures += ["scripts/%s --help: %s" % (f, p) for p in problems]
    check(not failures, "%d problem(s):\n  %s" % (len(failures), "\n  ".join(failures)))
    print("%d ipcstorm helps and %d scripts teach" % (checked, len(scripts)))


# ---- progress_lines: scripts/lib/progress.sh --------------------------------------
PROGRESS_SCRIPT = r"""
set -euo pipefail
. "$1/scripts/lib/progress.sh"
exec 3>&"$4"
progress_init demo
progress_phase "build" "$2" 's/^\[\([0-9]*\/[0-9]*\)\].*/step \1/p'
echo "[3/7] Building x" >"$2"
progress_detail "first sample"
progress_log "a warning"
echo "ticker ${_progress_ticker:-none}" >&3
progress_done PASS
progress_phase "row two"
echo "ticker ${_progress_ticker:-none}" >&3
if [ "$3" = wait ]; then
  read -r _    # blocks until the test signals us
fi
progress_done "ratio 1.00"
"""


def progress_run(mode, wait=False):
    """Runs PROGRESS_SCRIPT with IPC_PROGRESS=mode; returns the process (stderr
    piped, the ticker pids on fd 3) and its pipe ends."""
    log = os.path.join(os.environ.get("TMPDIR", "/tmp"), "ipcstorm-progress-%d.log" % os.getpid())
    r, w = os.pipe()
    env = dict(os.environ, IPC_PROGRESS=mode)
    p = subprocess.Popen(["bash", "-c", PROGRESS_SCRIPT, "progress", SRC, log,
                          "wait" if wait else "run", str(w)], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, pass_fds=(w,))
    os.close(w)
    return p, r, log


def ticker_pids(r):
    text = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        text += chunk
    os.close(r)
    return [int(x) for x in re.findall(rb"ticker (\d+)", text)], text


def case_progress_lines():
    # Plain (CI): one line per event, no escape sequence, no background ticker.
    p, r, log = progress_run("plain")
    _, err = p.communicate(timeout=60)
    pids, raw = ticker_pids(r)
    os.unlink(log)
    check(p.returncode == 0, "plain: exit %d: %s" % (p.returncode, err))
    lines = err.decode().splitlines()
    want = ["demo: build ...", "demo: build: first sample", "a warning",
            re.compile(r"demo: build: PASS \(\d+s\)$"), "demo: row two ...",
            re.compile(r"demo: row two: ratio 1\.00 \(\d+s\)$")]
    check(len(lines) == len(want), "plain: lines %r" % lines)
    for got, w in zip(lines, want):
        check(w.match(got) if hasattr(w, "match") else got == w, "plain: %r, expected %r" % (got, w))
    check(b"\x1b" not in err and b"\r" not in err, "plain: escape sequences in %r" % err)
    check(raw.count(b"ticker none") == 2, "plain: a ticker ran: %r" % raw)
    # Live (a terminal): the line is redrawn in place (\r, clear to end of line),
    # shows the phase and the log's step, every phase ends in a permanent line, and
    # no ticker is left once the script is gone.
    p, r, log = progress_run("live")
    _, err = p.communicate(timeout=60)
    pids, raw = ticker_pids(r)
    os.unlink(log)
    check(p.returncode == 0, "live: exit %d: %s" % (p.returncode, err))
    text = err.decode()
    check("\r\x1b[K" in text, "live: no redraw in %r" % text)
    check(re.search(r"\r\x1b\[Kdemo \d+s \| build \d+s \| (first sample|step 3/7)", text),
          "live: no live line for the phase in %r" % text)
    check(re.search(r"\r\x1b\[Kdemo: build: PASS \(\d+s\)\n", text), "live: no done line in %r" % text)
    check(re.search(r"\r\x1b\[Ka warning\n", text), "live: log line garbled in %r" % text)
    check(text.endswith("demo: row two: ratio 1.00 (%s)\n" % text.rsplit("(", 1)[-1][:-2]),
          "live: no final line with a newline: %r" % text[-80:])
    check(len(pids) == 2, "live: tickers %r" % raw)
    for pid in pids:
        check(not os.path.exists("/proc/%d" % pid) or
              open("/proc/%d/stat" % pid).read().split()[2] == "Z",
              "live: ticker %d still running after the script ended" % pid)
    # Live, stopped by SIGTERM mid-phase: the trap ends the ticker, keeps the line
    # (with a newline) and the script still dies of SIGTERM.
    p, r, log = progress_run("live", wait=True)
    first = b""
    while first.count(b"\n") < 2:  # both ticker lines: the script is in its read
        chunk = os.read(r, 4096)
        check(chunk, "live/TERM: the script ended early")
        first += chunk
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    pids, raw = ticker_pids(r)
    pids = [int(x) for x in re.findall(rb"ticker (\d+)", first + raw)]
    os.unlink(log)
    check(p.returncode == -signal.SIGTERM, "live/TERM: exit %d, expected death by SIGTERM" % p.returncode)
    check(re.search(r"demo \d+s \| row two \d+s\n$", err.decode()), "live/TERM: last line %r" % err[-80:])
    for pid in pids:
        check(not os.path.exists("/proc/%d" % pid) or
              open("/proc/%d/stat" % pid).read().split()[2] == "Z",
              "live/TERM: ticker %d still running after the script died" % pid)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    global BIN, SRC
    if len(sys.argv) != 4 or sys.argv[3] not in CASES:
        print("usage: cli_test.py IPCSTORM_BINARY SOURCE_DIR CASE (%s)" % ", ".join(CASES),
              file=sys.stderr)
        return 64
    BIN, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    try:
        CASES[sys.argv[3]]()
    except Fail as e:
        print("FAIL %s: %s" % (sys.argv[3], e), file=sys.stderr)
        return 2
    except subprocess.TimeoutExpired as e:
        print("FAIL %s: timed out: %s" % (sys.argv[3], e), file=sys.stderr)
        return 2
    print("ok %s" % sys.argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main())
