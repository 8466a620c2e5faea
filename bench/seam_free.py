#!/usr/bin/env python3
"""Checks that the fault seam costs nothing when compiled out.

Rebuilds every libipc source of a release build (IPC_FAULTS off) from a copy of
core/src in which each `ipc__sys_<call>(` outside sys.h is rewritten back to the
plain call, with
the exact compile command of the release build, and compares the disassembly of
each object with the release build's. Identical objects mean the seam is not in the
release code at all, whatever core/src looks like today.

usage: bench/seam_free.py BUILD_DIR   (a configured and built release tree)
Prints one line per differing object and a summary "identical N/M"; exit 0 when all
are identical, 2 when some differ, 1 when it could not run.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SPECIAL = {
    "pidfd_open": "syscall(SYS_pidfd_open, ",
    "pidfd_send_signal": "syscall(SYS_pidfd_send_signal, ",
    "signalfd_read": "read(",
}


def unseam(text):
    def plain(m):
        return SPECIAL.get(m.group(1), m.group(1) + "(")
    return re.sub(r"\bipc__sys_(\w+)\(", plain, text)


def disassembly(obj):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", obj], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return out.split("\n", 3)[-1]  # drop the line naming the file


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) == 2 else 64
    build = os.path.abspath(sys.argv[1])
    cache = open(os.path.join(build, "CMakeCache.txt")).read()
    if re.search(r"^IPC_FAULTS:BOOL=ON", cache, re.M):
        print("seam_free: %s is a fault build; give a release tree" % build, file=sys.stderr)
        return 1
    commands = json.load(open(os.path.join(build, "compile_commands.json")))
    entries = [e for e in commands
               if re.search(r"/core/src/[^/]+\.c$", e["file"]) and "ipc_objects" in e["command"]]
    if not entries:
        print("seam_free: no core/src entries in compile_commands.json", file=sys.stderr)
        return 1
    src_dir = os.path.dirname(entries[0]["file"])
    tmp = tempfile.mkdtemp(prefix="seam_free.")
    try:
        for name in os.listdir(src_dir):
            if name.endswith((".c", ".h")):
                with open(os.path.join(src_dir, name)) as f:
                    text = f.read()
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(text if name == "sys.h" else unseam(text))
        same, differ = 0, []
        for e in entries:
            args = shlex.split(e["command"])
            obj = args[args.index("-o") + 1]
            obj_abs = os.path.join(e["directory"], obj)
            copy = os.path.join(tmp, os.path.basename(e["file"]))
            mine = copy + ".o"
            args[args.index("-o") + 1] = mine
            args[args.index("-c") + 1] = copy
            args = [a for a in args if not a.startswith(("-MD", "-MT", "-MF"))]
            subprocess.run(args, check=True, cwd=e["directory"])
            if disassembly(obj_abs) == disassembly(mine):
                same += 1
            else:
                differ.append(os.path.basename(e["file"]))
        for name in differ:
            print("seam_free: %s differs from its seam-free rewrite" % name)
        print("identical %d/%d" % (same, len(entries)))
        return 0 if not differ else 2
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
