#!/usr/bin/env python3
"""tests/report/report_test.py - scripts/session's history, --compare and report.html,
end to end, with real sessions and a real browser.

    report_test.py IPCSTORM_BUILD_DIR REPO_DIR

1. Bad input before any session: --compare says there is nothing to compare (exit 1).
2. Two real short sessions in a temporary sessions folder (ipcstorm from the ctest
   build, 1 s per driver, no load, no fuzz): A runs pipe and counter with its
   output going to a pipe (CI: line per event, no escapes), B runs pipe with a
   planted bug (--fault unlocked-large) on a pseudo-terminal (the live line).
   Two sessions committed from real full runs (fixtures/, with fuzz targets) are
   the older history, so report.html also has fuzz charts. A third session is
   stopped by SIGTERM as soon as its driver starts.
3. --compare (B vs A, and B vs A named) shows the new violation with its reproduce
   command and exits 2; report.json has the schema, seeds, reproduce commands.
4. Damaged, foreign, newer-schema and unfinished folders: exit 1, the path in the
   message, nothing changed or deleted.
5. report.html in headless Chromium: --dump-dom has one driver chart per driver and
   two charts per fuzz target, the pipe chart with a point per session; a
   screenshot is not one colour and has the charts' colours in it.
Exit status: 0 pass, 1 fail, 77 skip (no Chromium, or a build without --fault).
"""
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

SKIP = 77
build_dir, repo = sys.argv[1], sys.argv[2]
session = os.path.join(repo, "scripts", "session")
failures = []


def check(ok, what, detail=""):
    """Prints the check; on failure also DETAIL (the output it looked at)."""
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        if detail:
            print("     " + detail.strip().replace("\n", "\n     "))
        failures.append(what)
    return ok


def run(args, env, timeout=120):
    p = subprocess.run([session, *args], env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def run_on_pty(args, env, timeout=120):
    """Runs scripts/session with stdout and stderr on a pseudo-terminal."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.clear()
        os.environ.update(env)
        os.execv(session, [session, *args])
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the terminal's other end closed
            break
        if not chunk:
            break
        data += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), data.decode("utf-8", "replace")


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def png_pixels(path):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB or RGBA PNG (what Chromium
    writes), decoded with zlib and the five PNG filters."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat = 8, b""
    w = h = ctype = None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG (depth {depth}, colour type {ctype})")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def main():
    chromium = find_chromium()
    if not chromium:
        print("skip: no chromium (scripts/deps installs Debian's chromium package)")
        return SKIP
    exe = os.path.join(build_dir, "ipcstorm")
    helptext = subprocess.run([exe, "stress", "pipe", "--help"], capture_output=True, text=True).stdout
    if "--fault NAME" not in helptext:
        print("skip: this build has no --fault (IPC_TEST_FAULTS off)")
        return SKIP

    tmp = tempfile.mkdtemp(prefix="ipcstorm-report-test-")
    try:
        return test(tmp, chromium)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test(tmp, chromium):
    root = os.path.join(tmp, "sessions")
    env = dict(os.environ, IPC_SESSION_DIR=os.path.join(tmp, "session"), IPC_ASAN_BUILD_DIR=build_dir,
               IPC_FUZZ_WORK=os.path.join(tmp, "fuzz-work"), TERM="xterm")
    env.pop("IPC_SESSIONS_DIR", None)
    quick = ["--no-build", "--no-fuzz", "--no-load", "--no-faults", "--seconds-per-driver", "1"]

    # 1. nothing to compare yet
    rc, out, err = run(["--compare"], env)
    check(rc == 1 and root in err and "run scripts/session" in err,
          f"--compare with no session: exit 1 and names {root}", f"exit {rc}\n{err}")

    # 2. history: two committed real sessions, then A (piped) and B (on a terminal)
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    os.makedirs(root)
    for name in sorted(os.listdir(fixtures)):
        if re.match(r"^\d{8}T\d{6}Z$", name):
            shutil.copytree(os.path.join(fixtures, name), os.path.join(root, name))
    rc, out, err = run(quick + ["--drivers", "pipe,counter"], env)
    check(rc == 0, "session A (pipe, counter) passes", f"exit {rc}\n{out}{err[-3000:]}")
    check("\r" not in err and "\033" not in err, "session A's piped output has no \\r or escape")
    check(re.search(r"^    pipe: PASS  ops=[\d,]+  ops/s=[\d,]+  violations=0", err, re.M) is not None,
          "session A prints one result line per driver")
    sessions = sorted(d for d in os.listdir(root) if d > "2001")
    a_id = sessions[-1]
    rc, text = run_on_pty(quick + ["--drivers", "pipe", "--driver-args", "--fault unlocked-large"], env)
    check(rc == 2, "session B (pipe with a planted bug) exits 2", f"exit {rc}\n{text[-3000:]}")
    check(re.search(r"\r\033\[Kpipe +\d+\.\ds/1s  ops ", text) is not None,
          "session B on a terminal draws the live line (\\r, erase, driver, elapsed, ops)", repr(text[:3000]))
    check("VIOLATION frame-intact" in text, "session B shows the violation as it happens")
    b_id = sorted(d for d in os.listdir(root) if d > "2001")[-1]
    check(b_id != a_id, f"each session has its own folder ({a_id}, {b_id})")
    link = os.path.join(tmp, "session")
    check(os.path.islink(link) and os.path.realpath(link) == os.path.join(root, b_id),
          "IPC_SESSION_DIR links to the latest session")

    with open(os.path.join(root, b_id, "report.json")) as f:
        rep = json.load(f)
    pipe = rep["drivers"][0]
    check(rep["schema"] == "ipcstorm-session" and rep["schema_version"] == 1, "report.json schema 1")
    check(isinstance(pipe["seed"], int) and f"--seed {pipe['seed']}" in pipe["reproduce"],
          f"pipe's seed is in its reproduce command: {pipe['reproduce']}")
    check(pipe["violations"] > 0 and pipe["violation_details"]
          and "--fault unlocked-large" in pipe["violation_details"][0]["reproduce"],
          "pipe's violations are in report.json with their reproduce command")

    # 3. compare
    for args in (["--compare"], ["--compare", os.path.join(root, a_id)], ["--compare", a_id]):
        rc, out, err = run(args, env)
        check(rc == 2 and f"compare: {b_id}" in out and f"with: {a_id}" in out
              and "new violations:" in out and "reproduce: " in out and "--seed" in out
              and re.search(r"^counter .*not run in this session", out, re.M) is not None,
              f"{' '.join(args)}: B vs A, new violation with reproduce command, exit 2",
              f"exit {rc}\n{out}{err}")
    # A session stopped by SIGTERM (CI cancelling) as soon as its driver started:
    # exit 1, a report of what ran marked incomplete, and --compare still takes B
    # as the latest finished session.
    p = subprocess.Popen([session] + quick[:-1] + ["60", "--drivers", "pipe"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = ""
    for line in p.stderr:
        seen += line
        if line.startswith("--- "):
            p.send_signal(15)
            break
    rest, _ = p.communicate(timeout=60)
    seen += rest
    c_id = sorted(d for d in os.listdir(root) if d > "2001")[-1]
    with open(os.path.join(root, c_id, "report.json")) as f:
        rc_rep = json.load(f)
    check(p.returncode == 1 and rc_rep["result"] == "INTERRUPTED" and rc_rep["complete"] is False
          and rc_rep["drivers"][0]["result"] == "INTERRUPTED",
          "a session stopped by SIGTERM exits 1 with an incomplete INTERRUPTED report",
          f"exit {p.returncode}, {rc_rep['result']}\n{seen}")
    rc, out, err = run(["--compare"], env)
    check(rc == 2 and f"compare: {b_id}" in out, "--compare skips the interrupted session",
          f"exit {rc}\n{out}{err}")
    rc, out, err = run(["--compare", b_id], env)
    check(rc == 1 and "latest session itself" in err, "--compare with the latest itself: exit 1",
          f"exit {rc}\n{err}")

    # 4. bad folders: exit 1, the path named, nothing changed
    bad = os.path.join(tmp, "bad")
    cases = {
        "truncated": (open(os.path.join(root, a_id, "report.json")).read()[:300], "damaged report"),
        "foreign": ('{"tool": "something else"}\n', "not an ipcstorm session report"),
        "older": ('{"date": "2026-01-01", "rows": []}\n', "no schema field"),
        "newer": (json.dumps({"schema": "ipcstorm-session", "schema_version": 99}), "newer than"),
        "empty": ("", "damaged report (empty"),
    }
    for name, (content, expect) in cases.items():
        d = os.path.join(bad, name)
        os.makedirs(d)
        with open(os.path.join(d, "report.json"), "w") as f:
            f.write(content)
        rc, out, err = run(["--compare", d], env)
        check(rc == 1 and os.path.join(d, "report.json") in err and expect in err,
              f"--compare {name} folder: exit 1, names its report.json, says '{expect}'",
              f"exit {rc}\n{err}")
        with open(os.path.join(d, "report.json")) as f:
            check(f.read() == content, f"the {name} report.json is left as it was")
    os.makedirs(os.path.join(bad, "unfinished", "logs"))
    rc, out, err = run(["--compare", os.path.join(bad, "unfinished")], env)
    check(rc == 1 and "did not finish" in err, "--compare unfinished folder: exit 1", f"exit {rc}\n{err}")
    rc, out, err = run(["--compare", os.path.join(bad, "missing")], env)
    check(rc == 1 and "no such session folder" in err, "--compare missing folder: exit 1", f"exit {rc}\n{err}")
    # A damaged session inside the history is skipped (and named), not fatal.
    shutil.copytree(os.path.join(bad, "truncated"), os.path.join(root, "29991231T000000Z"))
    rc, out, err = run(["--compare"], env)
    check(rc == 2 and f"compare: {b_id}" in out and "29991231T000000Z" in err,
          "a damaged session in the history is named and skipped", f"exit {rc}\n{out}{err}")
    rc, out, err = run(["--list"], env)
    check(rc == 0 and "UNREADABLE" in out and a_id in out and b_id in out, "--list shows every session", out)
    check(os.path.isdir(os.path.join(root, "29991231T000000Z")), "nothing was deleted")
    shutil.rmtree(os.path.join(root, "29991231T000000Z"))
    rc, out, err = run(["--keep", "x"], env)
    check(rc == 64, f"--keep x is a usage error ({rc})")

    # 5. report.html in Chromium
    page = os.path.join(root, b_id, "report.html")
    with open(page) as f:
        check("<script" not in f.read().lower(), "report.html has no JavaScript")
    profile = os.path.join(tmp, "chromium-profile")
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            f"--user-data-dir={profile}", "--hide-scrollbars", "--no-first-run"]
    url = "file://" + page
    dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=60).stdout
    ndrv = len(re.findall(r'<svg class="driver-chart"', dom))
    nfuzz = len(re.findall(r'<svg class="fuzz-chart"', dom))
    keys = set()
    targets = set()
    nsess = 0  # finished sessions: the interrupted one is not charted
    for sid in os.listdir(root):
        with open(os.path.join(root, sid, "report.json")) as f:
            r = json.load(f)
        if not r["complete"]:
            continue
        nsess += 1
        keys |= {(d["name"], d["build"]) for d in r["drivers"]}
        targets |= {t["target"] for t in r["fuzz"]}
    check(ndrv == len(keys) and ndrv >= 2, f"the rendered page has one chart per driver: {ndrv} of {len(keys)}",
          dom[:3000])
    check(nfuzz == 2 * len(targets) and nfuzz >= 2,
          f"two charts (coverage, exec/s) per fuzz target: {nfuzz} for {len(targets)} targets")
    m = re.search(r"<h3>pipe</h3>.*?(<svg class=\"driver-chart\".*?</svg>)", dom, re.S)
    npts = len(re.findall(r"<circle", m.group(1))) if m else 0
    check(npts == nsess, f"the pipe chart has a point per session: {npts} of {nsess}")
    check(re.search(r'class="violations".*frame-intact.*--seed \d+', dom, re.S) is not None,
          "the violations table has the violation and its reproduce command")
    shot = os.path.join(tmp, "report.png")
    subprocess.run(base + ["--window-size=1000,1000", f"--screenshot={shot}", url],
                   capture_output=True, timeout=60)
    if check(os.path.exists(shot), "Chromium wrote a screenshot"):
        w, h, rows = png_pixels(shot)
        counts = {}
        for row in rows:
            for px in row:
                counts[px] = counts.get(px, 0) + 1
        check(len(counts) > 10, f"the screenshot is not blank: {len(counts)} colours in {w}x{h}")
        line = counts.get((0x15, 0x65, 0xc0), 0)
        green = counts.get((0x2e, 0x7d, 0x32), 0)
        red = counts.get((0xc6, 0x28, 0x28), 0)
        check(line > 20 and green > 20 and red > 20,
              f"the charts are drawn: {line} line, {green} pass-point, {red} fail-point pixels")
    print(f"{len(failures)} check(s) failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
