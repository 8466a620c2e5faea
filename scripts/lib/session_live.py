#!/usr/bin/env python3
"""scripts/lib/session_live.py - runs one long phase of scripts/session (a stress
driver or a fuzz target) as a child process and shows how it is going.

    session_live.py --name NAME --planned SECONDS --timeout SECONDS
                    --stdout FILE --log FILE [--kill-after SECONDS] -- COMMAND...

The child's stdout goes to FILE (a driver's --json object), its stderr (and, for
a fuzz target, its whole output) to the log and, parsed line by line, into the
status shown to the user:

* on a terminal (stderr is a TTY and TERM is not "dumb"): one line, redrawn in
  place at most 4 times a second with carriage return + erase-line, e.g.
      pool   12.0s/30s  ops 4,157  ops/s 2,069  violations 0
  A violation or finding is printed on a line of its own above it; the line is
  erased when the child ends, so the caller's result line replaces it.
* otherwise (CI, a pipe, a file): plain lines, one per event (a violation, a
  finding, the child's setup error) plus a heartbeat every --heartbeat seconds
  (default 30) so CI logs show the run is alive. No carriage returns, no escapes.

Where the numbers come from: the elapsed time is our own clock; ops, ops/s,
checks and violations come from the progress lines a stress driver started
with --progress-fd 2 prints on stderr once a second ("elapsed=S ops=N
ops_per_sec=R checks=N violations=N"), or from any line with "key=value" /
"key: value" pairs of those names (exec/s, cov, ft, corp, findings for a fuzz
target). Without such lines the status shows the elapsed time and the
violations counted from VIOLATION lines.

The child runs in a process group of its own. SIGINT or SIGTERM to this process
(Ctrl-C on the terminal, CI cancelling) is passed to that group as SIGINT once;
after --timeout seconds the group gets SIGINT, and SIGKILL --kill-after seconds
(default 30) after any SIGINT. Exit status: the child's; 124 when it was stopped
by the timeout and exited, 137 when it had to be killed (as timeout(1));
1 when the child could not be started; 64 usage error.
"""
import argparse
import json
import os
import re
import select
import signal
import sys
import time

EVENT_RE = re.compile(
    r"^(VIOLATION\b|ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer"
    r"|.*runtime error:|.*setup error|.*FINDING\b|scripts/fuzz: FINDING|==\d+==ERROR)")
# "key=value" or "key: value"; values are numbers, optionally with a / and more.
PAIR_RE = re.compile(r"(?<![\w/])(ops/s|exec/s|ops|checks|violations|elapsed|cov|ft|corp|corpus|"
                     r"findings|execs)[=:]\s*([0-9][0-9.,]*)")
# A stress driver's --progress-fd line: read, never shown as an event.
PROGRESS_RE = re.compile(r"^elapsed=[0-9.]+ ops=\d+ ")
NUMERIC_KEYS = ("ops", "ops/s", "checks", "violations", "exec/s", "execs", "cov", "ft", "corp",
                "corpus", "findings")


def fmt_num(v):
    if v is None:
        return "-"
    if isinstance(v, float) and v < 100 and v != int(v):
        return f"{v:.1f}"
    return f"{int(round(v)):,}"


class Status:
    """What is known about the running child, from its output and our clock."""

    def __init__(self, name, planned, kind):
        self.name, self.planned, self.kind = name, planned, kind
        self.values = {}
        self.violation_lines = 0
        self.t0 = time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.t0

    def take(self, line):
        """Reads a progress line (or any line carrying the known key=value pairs)."""
        found = False
        for key, val in PAIR_RE.findall(line):
            try:
                self.values[key] = float(val.replace(",", "").split("/")[0])
                found = True
            except ValueError:
                pass
        return found

    def violations(self):
        return max(int(self.values.get("violations", 0)), self.violation_lines)

    def text(self, width):
        el = self.elapsed()
        parts = [f"{self.name}", f"{el:5.1f}s/{self.planned:g}s"]
        if self.kind == "fuzz":
            for key, label in (("exec/s", "exec/s"), ("cov", "cov"), ("ft", "ft"),
                               ("corp", "corpus"), ("findings", "findings")):
                if key in self.values:
                    parts.append(f"{label} {fmt_num(self.values[key])}")
        else:
            ops = self.values.get("ops")
            rate = self.values.get("ops/s")
            if rate is None and ops is not None:
                t = self.values.get("elapsed") or el
                rate = ops / t if t > 0 else None
            parts.append(f"ops {fmt_num(ops)}")
            parts.append(f"ops/s {fmt_num(rate)}")
            parts.append(f"violations {self.violations()}")
        s = "  ".join(parts)
        return s if len(s) < width else s[:max(width - 1, 10)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--kind", choices=("driver", "fuzz"), default="driver")
    ap.add_argument("--planned", type=float, required=True, help="planned seconds (shown)")
    ap.add_argument("--timeout", type=float, required=True)
    ap.add_argument("--kill-after", type=float, default=30.0)
    ap.add_argument("--heartbeat", type=float, default=30.0)
    ap.add_argument("--stdout", required=True, help="file for the child's stdout")
    ap.add_argument("--log", required=True, help="file for the child's stderr")
    ap.add_argument("--merge", action="store_true", help="the child's stdout goes to the log too")
    ap.add_argument("--final", action="store_true",
                    help="print a result line when the child ends (from its --json object)")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("no command")

    out = sys.stderr
    tty = out.isatty() and os.environ.get("TERM", "") != "dumb"
    status = Status(args.name, args.planned, args.kind)

    # SIGINT/SIGTERM handlers first: one arriving while the child starts is
    # passed on as soon as its process group exists.
    stop = {"asked": False, "sigint_at": None, "timed_out": False, "killed": False, "pid": None}

    def interrupt_group(why):
        pid = stop["pid"]
        if pid is None or stop["sigint_at"] is not None:
            return
        stop["sigint_at"] = time.monotonic()
        try:
            os.killpg(pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        if why == "timeout":
            stop["timed_out"] = True
            emit_line(f"{args.name}: still running after {args.timeout:g} s: SIGINT "
                      f"(SIGKILL in {args.kill_after:g} s)")

    def on_signal(signum, _frame):
        stop["asked"] = True
        interrupt_group("signal")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    log = open(args.log, "ab")
    child_out = log if args.merge else open(args.stdout, "wb")
    rfd, wfd = os.pipe()
    try:
        pid = os.fork()
    except OSError as e:
        print(f"session: cannot start {args.name}: {e}", file=out)
        return 1
    if pid == 0:  # the child: its own process group, stdout to the file, stderr to us
        try:
            os.setpgid(0, 0)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            # Python ignores SIGXFSZ, and an ignored signal stays ignored across
            # exec (subprocess restores it; a hand-made fork must do it too).
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
            os.close(rfd)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(child_out.fileno(), 1)
            os.dup2(wfd, 2)
            if args.merge:
                os.dup2(wfd, 1)
            os.execvp(cmd[0], cmd)
        except OSError as e:
            os.write(2, f"session: cannot run {cmd[0]}: {e}\n".encode())
        os._exit(127)
    try:
        os.setpgid(pid, pid)  # also here: no window in which a signal misses the group
    except OSError:
        pass
    os.close(wfd)
    stop["pid"] = pid
    if stop["asked"]:
        interrupt_group("signal")

    shown = {"len": 0}

    def clear():
        if tty and shown["len"]:
            out.write("\r\033[K")
            shown["len"] = 0

    def emit_line(text):
        clear()
        out.write(text + "\n")
        out.flush()

    def draw():
        if not tty:
            return
        try:
            width = os.get_terminal_size(out.fileno()).columns or 100
        except OSError:
            width = 100
        text = status.text(width)
        out.write("\r\033[K" + text)
        out.flush()
        shown["len"] = len(text)

    def handle_line(raw):
        line = raw.decode("utf-8", "replace").replace("\r", "").replace("\033[K", "")
        if status.take(line) and PROGRESS_RE.match(line):
            return
        if EVENT_RE.match(line):
            if line.startswith("VIOLATION"):
                status.violation_lines += 1
            emit_line(f"    {args.name}: {line[:400]}")

    buf = b""
    last_draw = 0.0
    last_beat = time.monotonic()
    open_fd = True
    wstatus = None
    drain_until = None
    while open_fd:
        now = time.monotonic()
        if wstatus is None:
            if not stop["sigint_at"] and now - status.t0 >= args.timeout:
                interrupt_group("timeout")
            if (stop["sigint_at"] and not stop["killed"] and
                    now - stop["sigint_at"] >= args.kill_after):
                stop["killed"] = True
                emit_line(f"{args.name}: did not stop {args.kill_after:g} s after SIGINT: SIGKILL")
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        elif drain_until is None:
            # The child is gone; a process it left behind may still hold the pipe:
            # read what is there, then stop listening.
            drain_until = now + 1.0
        elif now >= drain_until:
            # Something the child started still holds its stderr: nothing of the
            # run may outlive it.
            emit_line(f"{args.name}: processes left in its process group after it exited: SIGKILL")
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            break
        try:
            ready, _, _ = select.select([rfd], [], [], 0.25 if drain_until is None else 0.05)
        except InterruptedError:
            ready = []
        if ready:
            try:
                chunk = os.read(rfd, 65536)
            except InterruptedError:
                chunk = None
            if chunk is not None:
                if not chunk:
                    open_fd = False
                log.write(chunk)
                log.flush()
                buf += chunk
                *lines, buf = buf.split(b"\n")
                if not open_fd and buf:
                    lines.append(buf)
                for raw in lines:
                    handle_line(raw)
        if wstatus is None:
            try:
                done, ws = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, ws = pid, 0
            if done == pid:
                wstatus = ws
        now = time.monotonic()
        if tty and now - last_draw >= 0.25:
            last_draw = now
            draw()
        elif not tty and args.heartbeat > 0 and now - last_beat >= args.heartbeat:
            last_beat = now
            emit_line(f"    {status.text(200)}")
    if buf and open_fd:
        handle_line(buf)
    while wstatus is None:
        try:
            _, wstatus = os.waitpid(pid, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            wstatus = 0
    os.close(rfd)
    clear()
    out.flush()
    log.close()
    if child_out is not log:
        child_out.close()
    if stop["killed"]:
        rc = 137
    elif stop["timed_out"]:
        rc = 124
    elif os.WIFSIGNALED(wstatus):
        rc = 128 + os.WTERMSIG(wstatus)
    else:
        rc = os.WEXITSTATUS(wstatus)
    if args.final:
        final_line(args, status, rc, out)
    return rc


def final_line(args, status, rc, out):
    """One line per finished child: name, result, ops, ops/s, violations, time."""
    res = {}
    if args.kind == "driver":
        try:
            with open(args.stdout, encoding="utf-8", errors="replace") as f:
                objs = [ln for ln in f.read().splitlines() if ln.startswith("{")]
            res = json.loads(objs[-1]) if objs else {}
        except (OSError, ValueError):
            res = {}
    result = res.get("result") or {0: "PASS", 2: "FAIL", 124: "HANG", 137: "HANG"}.get(rc, "ERROR")
    parts = [f"{args.name}: {result}"]
    if args.kind == "driver":
        ops, rate = res.get("ops"), res.get("ops_per_sec")
        parts += [f"ops={fmt_num(ops)}", f"ops/s={fmt_num(rate)}",
                  f"violations={res.get('violations', status.violations())}"]
    parts.append(f"{status.elapsed():.1f}s")
    if result != "PASS":
        parts.append(f"exit {rc}, log {args.log}")
    out.write("    " + "  ".join(parts) + "\n")
    out.flush()


if __name__ == "__main__":
    sys.exit(main())
