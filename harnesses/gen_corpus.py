#!/usr/bin/env python3
"""gen_corpus.py - writes the seed corpus of every fuzz target into corpus/<target>/.

Each seed is named by the SHA-1 of its content (as libFuzzer names the inputs it
adds with -merge=1), so regenerating is idempotent and never duplicates a seed.

  harnesses/gen_corpus.py [--out corpus] [--capture]

--capture also records real client traffic: it starts redis-server (or, with
--server CMD, another RESP server such as `ipcstorm serve`) on an ephemeral port
behind a recording proxy written here, drives it with redis-cli and
redis-benchmark, and stores each client's byte stream as a resp_parse and a
resp_session seed.

Input layouts (the first bytes configure the harness; see each harness's comment):
every input starts with a fault schedule (harnesses/fuzz_util.h): [K] then K steps
of [kind][nth-1 low][nth-1 high][action]; a lone 0x00 is the empty schedule.
  frame_decode     [sched] [cfg][seed] stream
  frame_roundtrip  [sched] [io][seed][flags] ([type][fl][len16le] payload?)*
  resp_parse       [sched] [cfg][seed] ([mb][bulk][inline] if profile 3) stream
  resp_session     [sched] [cfg][seed] ([mb][bulk][inline][req][hw][cap] if profile 3) stream
  proc_ops         [sched] [cfg] ([op][arg][len] bytes)*
  sock_addr        [port16le][flags] text   (no schedule: the address helpers make
                   no seam call)
  crc32c_paths     [init32le][split16le] data   (no schedule: no seam call)
Each seed is written once with the empty schedule; some are also written with
schedules that fail an allocation, interrupt or shorten a transfer, and so on.
The call kinds and their errno lists are read from core/include/ipc/faults.h and
core/src/faults.c, so the action bytes follow the seam's tables.
"""
import argparse
import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

# ---- CRC-32C (Castagnoli), reflected polynomial 0x82F63B78 ----
_T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def frame(ftype, payload, magic=b"IF", version=1, length=None, crc=None):
    n = len(payload) if length is None else length
    head = magic + bytes([version, ftype]) + struct.pack(">I", n)
    c = crc32c(head + payload) if crc is None else crc
    return head + payload + struct.pack(">I", c)


def pattern(n, seed=1):
    return bytes((i * 131 + seed * 7 + (i >> 8)) & 0xFF for i in range(n))


# ---- fault schedules (harnesses/fuzz_util.h) ----
_REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def _seam_tables():
    h = open(os.path.join(_REPO, "core/include/ipc/faults.h")).read()
    kinds = re.findall(r"XX\((\w+), ([01])\)", h)
    c = open(os.path.join(_REPO, "core/src/faults.c")).read()
    rows = dict((m.group(1), [e.strip() for e in m.group(2).split(",")])
                for m in re.finditer(r"ROW\((\w+), ([^)]*)\)", c))
    # Kinds without a row (sigaction, sigprocmask, pthread_sigmask) inject no errno.
    return [(k, s == "1", rows.get(k, [])) for k, s in kinds]


KINDS = _seam_tables()
KIND_INDEX = {k: i for i, (k, _, _) in enumerate(KINDS)}
SHORTS = ["short-one", "short-half", "short-but-one"]
ANY_ACTIONS = SHORTS + ["EINTR", "EAGAIN", "ENOMEM"]
MAX_STEPS = 16


def step(kind, nth, action):
    """One 4-byte step: kind name or 'any', nth >= 1, errno name or short class."""
    assert 1 <= nth <= 1024
    if kind == "any":
        k, a = len(KINDS), ANY_ACTIONS.index(action)
    else:
        k = KIND_INDEX[kind]
        _, can_short, errs = KINDS[k]
        acts = errs + (SHORTS if can_short else [])
        a = acts.index(action)
    return bytes([k, (nth - 1) & 0xFF, (nth - 1) >> 8, a])


def sched(*steps):
    assert len(steps) <= MAX_STEPS
    return bytes([len(steps)]) + b"".join(step(*s) for s in steps)


NO_FAULTS = sched()

# Schedules every target gets on some of its seeds.
ALLOC_FAULTS = [
    sched(("realloc", 1, "ENOMEM")),
    sched(("realloc", 2, "ENOMEM")),
    sched(("any", 1, "ENOMEM")),
    sched(("realloc", 1, "ENOMEM"), ("realloc", 3, "ENOMEM"), ("realloc", 5, "ENOMEM")),
]
IO_FAULTS = [
    sched(("write", 1, "short-one")),
    sched(("write", 1, "short-half"), ("read", 2, "short-but-one")),
    sched(("write", 1, "EINTR"), ("read", 1, "EINTR"), ("writev", 1, "EINTR")),
    sched(("read", 1, "EAGAIN")),
    sched(("write", 2, "EAGAIN")),
    sched(("write", 1, "EPIPE")),
    sched(("read", 2, "EIO")),
    sched(("pipe2", 1, "EMFILE")),
    sched(("writev", 1, "short-half"), ("read", 1, "short-one"), ("read", 3, "short-half")),
    sched(("realloc", 1, "ENOMEM"), ("read", 2, "EINTR")),
    sched(("any", 3, "short-one"), ("any", 5, "EINTR")),
    sched(("writev", 1, "EPIPE")),
    sched(("fcntl", 1, "EPERM")),
]


class Out:
    def __init__(self, root):
        self.root = root
        self.count = {}

    def add(self, target, data, faults=NO_FAULTS):
        data = faults + data
        d = os.path.join(self.root, target)
        os.makedirs(d, exist_ok=True)
        name = hashlib.sha1(data).hexdigest()
        p = os.path.join(d, name)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(data)
        self.count[target] = self.count.get(target, 0) + 1


def gen_sock_addr(o):
    """Every form of sock.h's address grammar at and around its limits."""
    sun_max = 108  # sizeof(sun_path) on Linux
    texts = [
        "127.0.0.1:6380", "127.0.0.1:0", "127.0.0.1:65535", "127.0.0.1:65536", "127.0.0.1:",
        "127.0.0.1", "localhost:6380", "localhost", "0.0.0.0:00080", "255.255.255.255:1",
        "1.2.3:4", "01.2.3.4:5", "127.0.0.1:+1", "127.0.0.1: 1", "127.0.0.1:123456", ":1",
        "[::1]:6380", "[::]:0", "[::1]", "[::1]:", "::1", "::1:80", "[]:1", "[::1]x1",
        "[fe80::1%lo]:1", "[fe80::1%1]:2", "[fe80::1%]:3", "[fe80::1%nosuchif0]:4",
        "[::ffff:127.0.0.1]:5", "[0000:0000:0000:0000:0000:0000:0000:0001]:6",
        "unix:/tmp/x.sock", "unix:relative.sock", "unix:", "unix:@", "unix:@name",
        "unix:@\x01\x7f\xff", "unix:" + "p" * (sun_max - 1), "unix:" + "p" * sun_max,
        "unix:@" + "n" * (sun_max - 1), "unix:@" + "n" * sun_max, "example.com:80", "",
    ]
    for i, t in enumerate(texts):
        raw = t.encode("latin-1").decode("unicode_escape").encode("latin-1")
        port = (6380, 0, 65535, 1)[i % 4]
        flags = 1 if i % 7 == 6 else 0  # bit 0: port + 65536 (out of range)
        o.add("sock_addr", struct.pack("<HB", port, flags) + raw, faults=b"")
    # host forms for ipc_sock_addr_from_host_port (the text without a port)
    for host in ("127.0.0.1", "::1", "[::1]", "localhost", "[fe80::1%lo]", "unix:/x", "[]"):
        o.add("sock_addr", struct.pack("<HB", 8080, 0) + host.encode(), faults=b"")
        o.add("sock_addr", struct.pack("<HB", 0, 1) + host.encode(), faults=b"")
    # flags bit 1: an address built from the bytes (b[0] bit 0: IPv6 with a scope
    # id from b[20], b[21], b[1]; else IPv4), formatted and parsed back
    ll = bytes([0xfe, 0x80] + [0] * 13 + [1])
    o.add("sock_addr", struct.pack("<HB", 0, 2) + bytes([1, 7]) + ll + b"\x18\xec\x12\x34",
          faults=b"")
    o.add("sock_addr", struct.pack("<HB", 0, 2) + bytes([0, 0, 127, 0, 0, 1, 0x18, 0xec]),
          faults=b"")
    o.add("sock_addr", b"\x00", faults=b"")  # one byte: argument validation (api_edges)


def gen_crc32c_paths(o):
    """Lengths at every threshold of the CRC paths: the 8-byte steps and 1/2/4-byte
    tail of crc32q, the 3 x 256 and 3 x 8192 blocks of the three streams, the
    128/256-byte minimum and the 64/256-byte steps of the folding loops, 16-byte
    single-lane steps; initial CRCs 0, ~0 and others; splits anywhere."""
    lens = [0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 127, 128, 129, 143, 255, 256,
            257, 271, 319, 320, 511, 767, 768, 769, 1000, 4095, 4096, 4097, 8191, 8192]
    inits = (0, 0xFFFFFFFF, 0xE3069283, 0x12345678)
    for i, n in enumerate(lens):
        init = inits[i % len(inits)]
        split = (n // 2, n, 0, 16, 64 + 7)[i % 5]
        o.add("crc32c_paths", struct.pack("<IH", init, split) + pattern(n, i + 1), faults=b"")
    # a run of zeros and of 0xFF bytes (RFC 3720 B.4's vectors, 32 bytes and long)
    for n in (32, 4096):
        o.add("crc32c_paths", struct.pack("<IH", 0, 5) + bytes(n), faults=b"")
        o.add("crc32c_paths", struct.pack("<IH", 0, 5) + b"\xff" * n, faults=b"")
    o.add("crc32c_paths", struct.pack("<IH", 0, 4) + b"123456789", faults=b"")
    # inputs shorter than the header: the fields are zero-filled
    for n in range(0, 6):
        o.add("crc32c_paths", bytes(range(1, n + 1)), faults=b"")


# frame_decode cfg byte: bits 0-2 max_payload index into
# {default 1 MiB, 1, 16, 255, 256, 4096, 65535, 65536}, bit 3 finish, bits 4-7 chunk 2^n.
def fd_cfg(maxsel=0, finish=True, chunk=4):
    return bytes([(maxsel & 7) | (8 if finish else 0) | (chunk << 4), 0x5A])


def gen_frame_decode(o):
    t = "frame_decode"
    ok = [frame(1, b""), frame(2, b"x"), frame(3, pattern(4096)), frame(4, pattern(65536))]
    for i, f in enumerate(ok):
        o.add(t, fd_cfg(0, True, 4 + i) + f)
    o.add(t, fd_cfg(0, True, 0) + frame(7, b"hello"))  # byte at a time
    o.add(t, fd_cfg(0, True, 15) + frame(8, pattern(4084)))  # PIPE_BUF on the wire
    o.add(t, fd_cfg(0, True, 3) + b"".join(frame(i, pattern(i * 3, i)) for i in range(20)))
    o.add(t, fd_cfg(0, False, 2) + frame(1, b"abc") + frame(2, b"defg")[:7])  # need more
    # each error kind
    o.add(t, fd_cfg(0, True, 2) + b"XF\x01\x00\x00\x00\x00\x00")  # bad magic byte 0
    o.add(t, fd_cfg(0, True, 2) + b"IX\x01\x00\x00\x00\x00\x00")  # bad magic byte 1
    o.add(t, fd_cfg(0, True, 2) + frame(1, b"v", version=2))  # bad version
    o.add(t, fd_cfg(2, True, 2) + frame(1, pattern(17)))  # 17 > 16: too large
    o.add(t, fd_cfg(2, True, 2) + frame(1, pattern(16)))  # == max: fine
    o.add(t, fd_cfg(0, True, 1) + frame(1, b"", length=(1 << 20) + 1))  # too large (1 MiB)
    o.add(t, fd_cfg(1, True, 0) + frame(1, b"ab"))  # max 1
    o.add(t, fd_cfg(0, True, 3) + frame(1, b"payload", crc=0xDEADBEEF))  # bad CRC
    o.add(t, fd_cfg(0, True, 3) + frame(1, b"good") + frame(2, b"bad", crc=1))
    o.add(t, fd_cfg(0, True, 3) + frame(1, pattern(100))[:50])  # truncated payload
    o.add(t, fd_cfg(0, True, 3) + b"IF\x01")  # truncated header
    o.add(t, fd_cfg(0, True, 3) + frame(1, b"x")[:-1])  # truncated CRC
    o.add(t, fd_cfg(0, True, 3) + b"")  # empty stream, finish
    o.add(t, fd_cfg(6, True, 12) + frame(9, pattern(65535)) + frame(9, b"after"))
    o.add(t, fd_cfg(7, True, 14) + frame(9, pattern(65537)))  # 65537 > 65536
    o.add(t, fd_cfg(5, False, 6) + frame(1, pattern(4096)) + frame(1, pattern(4097)))
    o.add(t, fd_cfg(0, True, 5) + frame(1, b"a") + b"IF\x01\x01\x00\x00" + b"IG")
    o.add(t, b"\x00")  # one byte: argument validation (api_edges)
    # allocation faults: frames that straddle chunks need the decoder's buffer
    for i, f in enumerate(ALLOC_FAULTS):
        o.add(t, fd_cfg(0, True, 2 + i) + frame(3, pattern(4096)) + frame(4, pattern(9000)), f)
        o.add(t, fd_cfg(5, False, 0) + frame(1, pattern(300)) + frame(2, b"x"), f)


# frame_roundtrip: [io: low nibble write 2^n, high nibble read 2^n][seed][flags]
# flags bit 0 blocking (write_fd/read_fd), bit 1 tight max_payload;
# frame descriptor [type][fl: 1 generated, 2 64 KiB, 4 iovec encoder][len16le] payload?
def rt_desc(ftype, payload=None, gen_len=None, big=False, iov=False):
    if big:
        return bytes([ftype, 2 | (4 if iov else 0), 0, 0])
    if gen_len is not None:
        return bytes([ftype, 1 | (4 if iov else 0)]) + struct.pack("<H", gen_len)
    return bytes([ftype, 4 if iov else 0]) + struct.pack("<H", len(payload)) + payload


def gen_frame_roundtrip(o):
    t = "frame_roundtrip"
    add = lambda io, seed, flags, *descs: o.add(t, bytes([io, seed, flags]) + b"".join(descs))
    add(0xCC, 1, 0, rt_desc(0, b""))
    add(0xCC, 2, 0, rt_desc(1, b"x"))
    add(0xCC, 3, 0, rt_desc(2, gen_len=4096))  # PIPE_BUF payload
    add(0xCC, 3, 0, rt_desc(2, gen_len=4084))  # PIPE_BUF on the wire
    add(0xFF, 4, 0, rt_desc(3, big=True))  # 64 KiB
    add(0x00, 5, 0, rt_desc(4, b"byte at a time both ways"))
    add(0x0F, 6, 0, rt_desc(5, gen_len=20000), rt_desc(6, b"tail"))
    add(0xF0, 7, 0, rt_desc(5, gen_len=20000, iov=True), rt_desc(6, b"tail", iov=True))
    add(0x8C, 8, 1, rt_desc(1, b"blocking"), rt_desc(2, gen_len=5000))
    add(0x8C, 9, 2, rt_desc(1, b"tight max"), rt_desc(2, b"tight"))
    add(0x8C, 9, 3, rt_desc(1, gen_len=1000), rt_desc(2, gen_len=999))
    add(0x55, 10, 0, *[rt_desc(i, pattern(i, i), iov=bool(i & 1)) for i in range(40)])
    add(0xA3, 11, 0, *[rt_desc(i, gen_len=i * 97) for i in range(30)])
    add(0x3A, 12, 0, rt_desc(255, big=True, iov=True), rt_desc(0, b""), rt_desc(7, big=True))
    add(0xE7, 13, 1, rt_desc(9, gen_len=65536 - 100))  # blocking, near pipe capacity
    add(0xE7, 14, 1, rt_desc(9, big=True), rt_desc(9, gen_len=5000))  # too big to block: falls back
    add(0x44, 15, 0, rt_desc(1, b"\x00" * 64), rt_desc(1, b"\xff" * 64))
    add(0x9B, 16, 2, rt_desc(1, gen_len=0), rt_desc(2, gen_len=0))
    add(0x11, 17, 0, rt_desc(1, b"IF\x01\x00\x00\x00\x00\x00 nested header"))
    add(0x7D, 18, 0, rt_desc(200, gen_len=511), rt_desc(201, gen_len=512),
        rt_desc(202, gen_len=513))
    add(0xDD, 19, 0, rt_desc(3, b"truncated descriptor") + b"\x01\x00")
    # damaged streams read back with ipc_frame_read_fd: cut short (4), one bit flipped (8)
    for seed in range(3):
        add(0x8C, 20 + seed, 4, rt_desc(1, b"first"), rt_desc(2, gen_len=300), rt_desc(3, b""))
        add(0x8C, 30 + seed, 8, rt_desc(1, b"first"), rt_desc(2, gen_len=300), rt_desc(3, b""))
    # faults: each I/O schedule on the non-blocking, blocking and damaged paths
    fadd = lambda f, io, seed, flags, *descs: o.add(t, bytes([io, seed, flags]) + b"".join(descs), f)
    for i, f in enumerate(IO_FAULTS + ALLOC_FAULTS):
        fadd(f, 0x8A, 40 + i, 0, rt_desc(1, b"first"), rt_desc(2, gen_len=5000), rt_desc(3, b""))
        fadd(f, 0x8C, 60 + i, 1, rt_desc(1, b"blocking"), rt_desc(2, gen_len=5000),
             rt_desc(3, b"", iov=True))
        fadd(f, 0x8C, 80 + i, 4 << (i & 1), rt_desc(1, b"first"), rt_desc(2, gen_len=300))


# resp cfg byte (resp_parse and resp_session): bits 0-1 limits profile
# (0 defaults, 1 small, 2 tiny, 3 limits from the input), bits 2-3 (resp_session)
# how the connection is driven (0 pump, 1 bytes, 2 execute, 3 serve_fd),
# bits 4-7 chunk 2^n.
def rcfg(profile=0, chunk=6, seed=0x33, drive=0):
    return bytes([(profile & 3) | ((drive & 3) << 2) | (chunk << 4), seed])


# profile 3: resp_parse reads max_multibulk, max_bulk, max_inline (each & 63)
def plim(mbk, bulk, inline, chunk=6, seed=0x33):
    return rcfg(3, chunk, seed) + bytes([mbk, bulk, inline])


# profile 3: resp_session also reads max_request (what one argument needs,
# max(max_bulk + 64, max_inline + 2), plus this), out_high_water (0 = 1) and the
# table capacity (1 + (byte & 7))
def slim(mbk, bulk, inline, req=0, hw=0, cap=7, chunk=6, seed=0x33, drive=0):
    return rcfg(3, chunk, seed, drive) + bytes([mbk, bulk, inline, req, hw, cap])


def mb(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


RESP_SEEDS = [
    mb("PING"),
    mb("PING", "hello"),
    mb("ECHO", "hello world"),
    mb("INCR", "counter") * 3 + mb("GET", "counter"),
    mb("DECR", "k") + mb("INCRBY", "k", "-42") + mb("GET", "k"),
    mb("INCRBY", "k", "9223372036854775807") + mb("INCR", "k"),  # overflow is an error
    mb("DEL", "a", "b", "c") + mb("DBSIZE"),
    mb("INFO"),
    mb("COMMAND") + mb("CONFIG", "GET", "save"),
    mb("PING") + mb("QUIT") + mb("PING"),  # nothing after QUIT
    mb("SET", "x", "1"),  # unknown command
    mb("PING", "a", "b"),  # wrong arity
    mb("GET"),
    b"PING\r\n",
    b"PING\n",
    b"ECHO \"quoted \\x41\\n arg\"\r\n",
    b"ECHO 'single \\' quote'\r\n",
    b"INCR   spaced\t\tkey  \r\n",
    b"\r\n\n   \r\n" + mb("PING"),  # blank lines are ignored
    b"*0\r\n*-1\r\n" + mb("PING"),  # ignored counts
    mb("PING") * 16,  # pipelined
    # protocol errors of docs/design.md section 4
    b"*1048577\r\n",  # invalid multibulk length
    b"*abc\r\n",
    b"*1\r\n$-5\r\n",  # invalid bulk length
    b"*1\r\n$x\r\n",
    b"*1\r\n$1048577\r\n",
    b"*1\r\n+PING\r\n",  # expected '$', got '+'
    b"*1\r\n\r\n",
    b"A" * 65537 + b"\r\n",  # too big inline request
    b"ECHO \"unbalanced\r\n",  # unbalanced quotes
    b"ECHO \"closed\"x\r\n",
    b"*1\r\n$4\r\nPINGxx",  # data not followed by CRLF
    mb("PING") + b"*2\r\n$4\r\nECHO\r\n$3\r\nab",  # incomplete tail
    mb("ECHO", bytes(range(256))),  # binary argument
    b'ECHO "\\r\\t\\b\\a\\z\\x4a\\x4A\\xzz\\\\"\r\n',  # every escape
    b"ECHO '\\n stays' \"\"\r\n",
    b"*01\r\n",  # leading zero: invalid multibulk length
    b"*-0\r\n",
    b"*1\r\n$01\r\nx\r\n",  # leading zero: invalid bulk length
    b"*1\r\n$1x\r\n",
    b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",  # empty bulk
    mb("INCRBY", "k", "notanumber") + mb("INCRBY", "k", "-9223372036854775808") + mb("DECR", "k"),
]


# Every command and every error text of docs/design.md section 4 and
# harnesses/model_cmd.h, for resp_session (each seed once per drive mode).
SESSION_SEEDS = [
    b"PING\r\nPING hello\r\nping a b\r\nECHO\r\nECHO x y\r\necho \"\"\r\n",
    b"INCR k\r\nDECR k\r\nDECR k\r\nINCRBY k 10\r\nGET k\r\nGET nothere\r\nincr\r\ndecr a b\r\n",
    b"INCRBY k 1x\r\nINCRBY k +1\r\nINCRBY k 01\r\nINCRBY k -0\r\nINCRBY k ''\r\n"
    b"INCRBY k 9223372036854775808\r\nINCRBY k -9223372036854775809\r\nINCRBY k\r\n",
    b"INCRBY k 9223372036854775807\r\nINCR k\r\nINCRBY k 1\r\nGET k\r\n"
    b"INCRBY m -9223372036854775808\r\nDECR m\r\nINCRBY m -1\r\nINCRBY m 9223372036854775807\r\n",
    b"INCR a\r\nINCR b\r\nDEL a b c a\r\nDEL\r\nDBSIZE\r\nDBSIZE x\r\nDEL b\r\n",
    b"INCR " + b"k" * 64 + b"\r\nINCR " + b"k" * 65 + b"\r\nGET " + b"k" * 65 + b"\r\nDEL a "
    + b"k" * 65 + b"\r\nINCRBY " + b"k" * 65 + b" x\r\n",
    b"CONFIG GET save\r\nCONFIG GET appendonly\r\nconfig get SAVE\r\nCONFIG GET maxmemory\r\n"
    b"CONFIG\r\nCONFIG GET\r\nCONFIG GET save x\r\nCONFIG SET save x\r\nCONFIG foo\r\n",
    b"COMMAND\r\nCOMMAND DOCS\r\nINFO\r\nINFO server x\r\nDBSIZE\r\n",
    b"nosuch\r\nnosuch a b\r\nSET x 1\r\n" + mb("x\r\ny", "a\nb", "\x00c") + mb("a\x00b", "x")
    + b"nosuch " + b"y" * 200 + b" z\r\n" + b"nosuch" + b" a" * 70 + b"\r\n",
    b"PING\r\nQUIT\r\nPING\r\n",
    b"quit a b\r\nPING\r\n",
    mb("INCR", "c") * 5 + mb("GET", "c") + mb("DEL", "c") + mb("GET", "c"),
    b"PING\r\n*1\r\n$4\r\nPI",  # incomplete at EOF: dropped
]


def gen_resp(o):
    # profiles 0-2 (profile 3 now reads limit bytes: those get seeds of their own)
    for i, s in enumerate(RESP_SEEDS):
        o.add("resp_parse", rcfg(i % 3, (i * 5) % 16, i) + s)
        o.add("resp_session", rcfg(i % 3, (i * 3 + 4) % 16, i, i & 3) + s)
    o.add("resp_parse", rcfg(0, 0) + mb("ECHO", "byte at a time"))
    o.add("resp_session", rcfg(0, 0) + mb("ECHO", "byte at a time"))
    # tiny limits: reached with short inputs (profile 2)
    o.add("resp_parse", rcfg(2, 3) + mb("ECHO", "x" * 40))
    o.add("resp_session", rcfg(2, 3) + mb("ECHO", "x" * 40))
    o.add("resp_parse", rcfg(2, 3) + b"*9\r\n")
    o.add("resp_parse", b"\x00")  # one byte: argument validation (api_edges)
    o.add("resp_session", rcfg(1, 8) + b"INCR a\r\n" * 200)
    for drive in range(4):
        for i, s in enumerate(SESSION_SEEDS):
            o.add("resp_session", rcfg(i % 3, 2 + (i + drive) % 12, i, drive) + s)
            # a table of 1..8 keys: "ERR counter table full"
            o.add("resp_session", slim(0, 0, 0, cap=i & 7, chunk=4 + i % 8, seed=i, drive=drive) + s)
    # limit-1, limit, limit+1 for every limit, with limits from the input (profile 3)
    for L in (1, 2, 5, 8):
        for k in (L - 1, L, L + 1):
            if k < 1:
                continue
            args = ["a"] * k
            o.add("resp_parse", plim(L, 8, 8) + mb(*args) + mb("PING"))
            o.add("resp_parse", plim(L, 8, 8, chunk=0) + b"*%d\r\n" % k)  # count alone
            o.add("resp_parse", plim(8, L, 8) + mb("x" * k) + mb("PING"))
            o.add("resp_parse", plim(8, L, 8, chunk=0) + b"*1\r\n$%d\r\n" % k)  # header alone
            o.add("resp_parse", plim(8, 8, L) + b"x" * k + b"\n" + b"PING\r\n")
            o.add("resp_parse", plim(8, 8, L) + b"x" * (k - 1) + b"\r\n")  # CR counts
            o.add("resp_parse", plim(8, 8, L, chunk=0) + b"x" * k)  # no newline yet
            for drive in range(4):
                o.add("resp_session", slim(L, 8, 8, drive=drive) + mb("ECHO", *args[:k - 1]) + mb("PING"))
                o.add("resp_session", slim(8, L, 8, drive=drive) + mb("ECHO", "x" * k) + mb("PING"))
                o.add("resp_session", slim(8, 8, L, drive=drive) + b"y" * k + b"\r\nPING\r\n")
    # max_request = max(max_bulk + 64, max_inline + 2) + extra = 67 + extra with
    # max_bulk 3: DEL requests of N one-byte keys straddle it ("too big request")
    for extra in (0, 1, 2, 20, 63):
        limit = 67 + extra
        for nargs in range(2, 64):
            req = mb(*(["DEL"] + ["k"] * (nargs - 1)))
            if abs(len(req) - limit) <= 8:
                for drive in (0, 1, 3):
                    o.add("resp_session", slim(63, 3, 8, req=extra, drive=drive) + req + b"PING\r\n")
    # output high water 1..3: backpressure after every reply
    for hw in (1, 2, 3):
        for drive in (0, 1):
            o.add("resp_session", slim(0, 0, 0, hw=hw, drive=drive, chunk=1)
                  + b"PING\r\nECHO abcdefgh\r\nINFO\r\n" * 4)
    # every protocol error with the limits from the input
    for s in (b"*9\r\n", b"*1\r\n$9\r\n", b"x" * 10, b"'a\r\n", b"*1\r\nx", b"*1\r\n\x00",
              b"*-1000000000000000000\r\nPING\r\n", b"a\x0bb c\x0cd\r\n", b"a\x00 \"b\r\n"):
        o.add("resp_parse", plim(8, 8, 8, chunk=0) + s)
        o.add("resp_session", slim(8, 8, 8, chunk=0) + s)
    # allocation faults: argv growth, inline scratch, reply buffer
    fault_seeds = [
        mb("ECHO", *["arg%d" % i for i in range(40)]),
        b'ECHO "quoted \\x41" \'single\' plain\r\n' + mb("PING"),
        mb("INCR", "k") * 8 + mb("GET", "k"),
        mb("ECHO", "y" * 3000) + mb("PING"),
    ]
    for i, f in enumerate(ALLOC_FAULTS):
        for j, sd in enumerate(fault_seeds):
            o.add("resp_parse", rcfg(j & 1, 3 + i, i * 4 + j) + sd, f)
            o.add("resp_session", rcfg(j & 1, 4 + i, i * 4 + j, j & 3) + sd, f)


# proc_ops: [op][arg][len] data, op % 6: 0 spawn, 1 cat between pipes, 2 ipc_run,
# 3 stdout/stderr swap, 4 pipe API, 5 function child; bit 7 repeats the data x16.
# arg bits 3-4 are the spawn method (AUTO, FORK, VFORK, POSIX_SPAWN).
def pop(code, arg, data=b"", rep=False):
    assert len(data) < 256
    return bytes([code | (0x80 if rep else 0), arg, len(data)]) + data


PROC_FAULTS = [
    sched(("fork", 1, "EAGAIN")),
    sched(("vfork", 1, "ENOMEM")),
    sched(("posix_spawn", 1, "EAGAIN")),
    sched(("execve", 1, "ENOENT")),
    sched(("execve", 1, "ETXTBSY")),
    sched(("pipe2", 2, "EMFILE")),
    sched(("dup2", 1, "EBUSY")),
    sched(("dup2", 2, "EINTR")),
    sched(("fcntl", 1, "EPERM")),
    sched(("fcntl", 3, "EBUSY")),
    sched(("read", 1, "EINTR"), ("write", 1, "EINTR")),
    sched(("read", 1, "short-one"), ("write", 1, "short-half")),
    sched(("write", 2, "EPIPE")),
    sched(("read", 2, "EIO")),
    sched(("waitpid", 1, "EINTR")),
    sched(("poll", 1, "EINTR"), ("poll", 3, "ENOMEM")),
    sched(("malloc", 1, "ENOMEM")),
    sched(("calloc", 1, "ENOMEM")),
    sched(("calloc", 2, "ENOMEM")),
    sched(("realloc", 1, "ENOMEM")),
    sched(("open", 1, "EMFILE")),
    sched(("pidfd_open", 1, "ENOSYS")),
    sched(("pidfd_send_signal", 1, "EPERM")),
    sched(("any", 1, "EINTR")),
    sched(("any", 2, "EAGAIN")),
    sched(("any", 4, "ENOMEM")),
    sched(("any", 6, "short-one"), ("any", 9, "EINTR")),
]


class ProcOut:
    """Adds proc_ops seeds of at most MAX_OPS (2) operations each: the ops given
    to one add() are split into consecutive seeds."""

    MAX_OPS = 2

    def __init__(self, o):
        self.o = o

    def add(self, t, ops, faults=NO_FAULTS):
        for i in range(0, len(ops), self.MAX_OPS):
            self.o.add(t, b"".join(ops[i:i + self.MAX_OPS]), faults)


def gen_proc_ops(out):
    t = "proc_ops"
    o = ProcOut(out)
    data = pattern(200, 3)
    # every program with every method
    for prog in range(8):
        o.add(t, [pop(0, prog | m << 3, bytes([7 + prog, m & 1])) for m in range(4)])
    o.add(t, [pop(0, 2 | 0x20 | 0x40, b"\x2a\x01"), pop(0, 0x80 | 5), pop(0, 0x80 | 6),
              pop(0, 0x80 | 2, b"\x09")])
    o.add(t, [pop(0, 0x80 | 0), pop(0, 0x80 | 3), pop(0, 0x80 | 4), pop(0, 0x80 | 7)])
    # cat between pipes: stdio[] and the three plans, every method
    for how in range(4):
        o.add(t, [pop(1, how | m << 3 | (4 if m & 1 else 0), data[: 40 + m]) for m in range(4)])
    o.add(t, [pop(1, 0x0C, pattern(255, 5), rep=True)])  # 4080 bytes, fork, writev
    o.add(t, [pop(1, 0x01, b"")])  # nothing to feed
    # ipc_run: every mode, and the flags
    for mode in range(8):
        o.add(t, [pop(2, mode, data[:60]), pop(2, mode | 0x18, data[60:90])])
        o.add(t, [pop(2, mode | 0x40 | 0x20 | 0x08, data[90:150])])
    o.add(t, [pop(2, 0x10, pattern(255, 9), rep=True)])
    o.add(t, [pop(2, 0x02, b"\x05" + data[:100]), pop(2, 0x02, b"\x3f" + data[:10])])
    # stdout/stderr swap: a plan, stdio[]; every method
    for m in range(4):
        o.add(t, [pop(3, m << 3, b"to-stdout|to-stderr"), pop(3, 1 | m << 3, b"ab")])
    # the pipe API
    for arg in range(8):
        o.add(t, [pop(4, arg, data[: 10 + arg * 20]), pop(4, arg, pattern(255, arg), rep=True)])
    # function children
    o.add(t, [pop(5, 0, b"\x07hello"), pop(5, 1, b"\x2astdout")])
    # a mix, run under each fault schedule
    mix = [pop(1, 0x08, data[:50]), pop(2, 0x00, data[:80]), pop(0, 0x10 | 0, b""),
           pop(3, 0x00, b"out|err")]
    o.add(t, mix)
    for f in PROC_FAULTS:
        o.add(t, mix, f)
        o.add(t, [pop(2, 0x06, b"\x01"), pop(0, 3 | 0x08, b""), pop(4, 5, data[:90]),
                  pop(5, 1, b"\x03xyz")], f)
        o.add(t, [pop(0, 0x18 | 3), pop(2, 0x18 | 1, b"ab"), pop(1, 0x1a, data[:30]),
                  pop(2, 0x05, b"")], f)


# ---- capture of real client traffic ----
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Recorder:
    """A TCP proxy that records what each client sends."""

    def __init__(self, upstream_port):
        self.up = upstream_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.streams = []
        self.lock = threading.Lock()
        self.stop = False
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.up))
            rec = bytearray()
            with self.lock:
                self.streams.append(rec)
            threading.Thread(target=self.pump, args=(c, u, rec), daemon=True).start()
            threading.Thread(target=self.pump, args=(u, c, None), daemon=True).start()

    @staticmethod
    def pump(src, dst, rec):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if rec is not None:
                    rec.extend(b)
                dst.sendall(b)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.stop = True
        self.sock.close()


def capture(o, server_cmd):
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="ipc-capture-")
    if server_cmd:
        cmd = [a.replace("{port}", str(port)) for a in server_cmd.split()]
    else:
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", tmp]
    srv = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        rec = Recorder(port)
        p = str(rec.port)
        cli = ["redis-cli", "-h", "127.0.0.1", "-p", p]
        runs = [
            cli + ["PING"], cli + ["ECHO", "hello from redis-cli"], cli + ["INCR", "c"],
            cli + ["INCRBY", "c", "10"], cli + ["DECR", "c"], cli + ["GET", "c"],
            cli + ["DEL", "c", "d"], cli + ["DBSIZE"], cli + ["INFO"],
            cli + ["-r", "5", "INCR", "rep"],
        ]
        for r in runs:
            subprocess.run(r, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
        # interactive-style session through stdin (redis-cli sends inline-free multibulk)
        subprocess.run(cli, input=b"PING\nINCR k\nGET k\nECHO \"two words\"\nQUIT\n",
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
        bench = ["redis-benchmark", "-h", "127.0.0.1", "-p", p, "-c", "1", "-q"]
        for extra in (["-t", "ping", "-n", "20"], ["-t", "incr", "-n", "20"],
                      ["-t", "ping", "-n", "64", "-P", "16"], ["-t", "incr", "-n", "64", "-P", "16"]):
            subprocess.run(bench + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=60)
        time.sleep(0.3)
        rec.close()
        with rec.lock:
            streams = [bytes(s) for s in rec.streams if s]
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    for i, s in enumerate(streams):
        s = s[:16384]
        o.add("resp_parse", rcfg(0, 4 + i % 12, i) + s)
        o.add("resp_session", rcfg(0, 4 + i % 12, i) + s)
    return len(streams)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")
    ap.add_argument("--out", default=os.path.normpath(root))
    ap.add_argument("--capture", action="store_true")
    ap.add_argument("--server", default="", help="server command, {port} replaced")
    a = ap.parse_args()
    o = Out(a.out)
    gen_frame_decode(o)
    gen_frame_roundtrip(o)
    gen_resp(o)
    gen_proc_ops(o)
    gen_sock_addr(o)
    gen_crc32c_paths(o)
    if a.capture:
        n = capture(o, a.server)
        print(f"gen_corpus: captured {n} client streams", file=sys.stderr)
    for t, n in sorted(o.count.items()):
        print(f"gen_corpus: {t}: {n} seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
