/* faultsweep.c - the exhaustive fault sweep (SQLite's anomaly tests, for libipc).
 *
 * A table of scenarios, each a small function that uses a group of libipc's public
 * functions the way a caller would and checks their contract itself. For each
 * scenario the sweep first runs it with an empty schedule, which counts its seam
 * calls per kind (ipc/faults.h). Then, for every kind K it made c_K calls of, for
 * k = 1..c_K and for every action of K (each errno of ipc_fault_call_errnos(K) and,
 * for transfer kinds, each short class), it reruns the scenario armed with the
 * single step "K:k:ACTION".
 *
 * Why "K:k" rather than "any:i": the calls of one kind keep their order when
 * calls of other kinds come and go, and a scenario whose children run concurrently
 * with it (pool workers, spawned programs) interleaves kinds differently from one
 * run to the next; the kth call of one kind is far more often the same call site
 * than the ith call overall. It also needs no probe run to learn which kind call i
 * was, and the reproduce line names the kind.
 *
 * Every run happens in a forked child (its own process group, stdio on /dev/null
 * unless reproducing) that ends with exit(), so LeakSanitizer checks it under
 * asan. The child checks: (a) every library call returned success or a negative
 * errno / IPC_E* code that has a name (not -EINTR, -EBADF or -EFAULT, which mean a
 * retry or an fd was lost); (b) no fd, child or /dev/shm object of its pid is left
 * (testing/hygiene.h); (c) the scenario's own accounting: bytes acknowledged =
 * bytes delivered, frames, counter increments, pool results, captured output;
 * (d) what a header says is handled transparently (EINTR, short transfers) is.
 * It sends the parent its findings through a pipe; the parent reads which call
 * sites were reached and failed from the controller's shared statistics, kills a
 * run that outlives its deadline (pidfd + poll), and, as a child subreaper, finds
 * any process a run left behind.
 *
 * Exit status: 0 no problem, 2 a problem found, 1 could not run, 64 usage. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hygiene.h"
#include "ipc/faults.h"
#include "ipc/ipc.h"
#include "ipc_base.h"

#ifndef IPC_SOURCE_DIR
#define IPC_SOURCE_DIR "core/src"
#endif

/* ==== the run child's bookkeeping ================================================ */

static char g_problems[4096];
static size_t g_plen;
static char g_errs[4096]; /* "fn ERRNAME\n" lines, one per distinct pair */
static size_t g_elen;

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void problem(const char *fmt, ...)
{
    if (g_plen + 4 >= sizeof(g_problems))
        return;
    if (g_plen)
        g_plen += (size_t)snprintf(g_problems + g_plen, sizeof(g_problems) - g_plen, "; ");
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g_problems + g_plen, sizeof(g_problems) - g_plen, fmt, ap);
    va_end(ap);
    if (n > 0)
        g_plen += (size_t)n;
    if (g_plen >= sizeof(g_problems))
        g_plen = sizeof(g_problems) - 1;
}

static void note_err(const char *fn, const char *name)
{
    char line[128];
    int n = snprintf(line, sizeof(line), "%s %s\n", fn, name);
    if (n <= 0 || (size_t)n >= sizeof(line))
        return;
    /* dedupe: look for the whole line at a line start */
    for (const char *p = g_errs; p && *p;) {
        if (strncmp(p, line, (size_t)n) == 0)
            return;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (g_elen + (size_t)n < sizeof(g_errs)) {
        memcpy(g_errs + g_elen, line, (size_t)n + 1);
        g_elen += (size_t)n;
    }
}

/* Contract (a): a result is success (>= 0) or a named negative code. */
static long ck(const char *fn, long rc)
{
    if (rc >= 0)
        return rc;
    const char *name = rc >= INT32_MIN ? ipc_errname((int)rc) : "unknown";
    if (strcmp(name, "unknown") == 0) {
        problem("%s returned %ld, neither success nor a known error code", fn, rc);
        return rc;
    }
    note_err(fn, name);
    if (rc == -EINTR)
        problem("%s returned -EINTR (EINTR is retried inside libipc)", fn);
    else if (rc == -EBADF || rc == -EFAULT)
        problem("%s returned %s (an fd or buffer got lost)", fn, name);
    return rc;
}
#define CALL(fn, ...) ck(#fn, (long)fn(__VA_ARGS__))

static pid_t g_pid; /* the run child's pid, for names */

static void tmp_path(char *buf, size_t len, const char *what)
{
    snprintf(buf, len, "/tmp/faultsweep-%d-%s", (int)g_pid, what);
}

/* Reads a whole small file into buf (NUL-terminated); -1 if unreadable. */
static long slurp(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (long)n;
}

static bool write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return false;
    bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    close(fd);
    return ok && chmod(path, mode) == 0;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 131u + seed * 7u + (i >> 8));
}

/* Waits for a spawned process and checks its exit code (or, for function
 * children that report a failed libipc call by their exit code, one of
 * [fail_lo, fail_hi]); frees it. */
static void proc_expect_exit_or(const char *what, ipc_proc *p, int code, int fail_lo, int fail_hi)
{
    struct ipc_proc_status st;
    int rc = (int)CALL(ipc_proc_wait, p, IPC_PROC_WAIT_FOREVER, 0, &st);
    if (rc == 0 && !(st.exited && (st.code == code || (st.code >= fail_lo && st.code <= fail_hi))))
        problem("%s: child ended with raw status %#x, expected exit %d", what, st.raw, code);
    ipc_proc_free(p);
}

static void proc_expect_exit(const char *what, ipc_proc *p, int code)
{
    proc_expect_exit_or(what, p, code, code, code);
}

/* ==== exact-result helpers ========================================================= */

/* Faults injected so far (by this run or its children): a call whose result must
 * be exact may instead fail with some error when a fault was injected during it. */
static uint64_t injected_now(void)
{
    struct ipc_fault_stats s;
    ipc_faults_stats(&s);
    return s.total_injected;
}

static const char *code_name(long rc)
{
    return rc < 0 && rc >= INT32_MIN ? ipc_errname((int)rc) : "-";
}

/* got must be want exactly: for argument validation, which no fault can change. */
static void expect_code(const char *what, long got, long want)
{
    if (got != want)
        problem("%s returned %ld (%s), expected %ld (%s)", what, got, code_name(got), want,
                code_name(want));
}
#define EXPECT(expr, want) expect_code(#expr, (long)(expr), (long)(want))

/* got must be want, or (with a fault injected since inj0) a named error. */
static void expect_code_or_fault(const char *what, long got, long want, uint64_t inj0)
{
    if (got == want)
        return;
    if (got < 0 && injected_now() != inj0) {
        (void)ck(what, got);
        return;
    }
    problem("%s returned %ld (%s), expected %ld (%s)", what, got, code_name(got), want,
            code_name(want));
}
#define EXPECT_OR_FAULT(expr, want)                                                                \
    do {                                                                                           \
        uint64_t inj0_ = injected_now();                                                           \
        long got_ = (long)(expr);                                                                  \
        expect_code_or_fault(#expr, got_, (long)(want), inj0_);                                    \
    } while (0)

/* ==== scenarios ==================================================================== */

static void sc_pipe(void)
{
    struct ipc_pipe p;
    unsigned char out[3000], in[3100];
    fill(out, sizeof(out), 1);
    if (CALL(ipc_pipe_open, &p, 0) < 0)
        return;
    size_t acked = 0;
    bool exact = true;
    long w = CALL(ipc_pipe_write_all, p.wr, out, 1000, 0);
    if (w >= 0 && w != 1000)
        problem("ipc_pipe_write_all returned %ld of 1000 on a blocking pipe", w);
    if (w == 1000)
        acked += 1000;
    else
        exact = false;
    struct iovec iov[3] = {{out + 1000, 500}, {out + 1500, 0}, {out + 1500, 1500}};
    long wv = CALL(ipc_pipe_writev_all, p.wr, iov, 3, 0);
    if (wv >= 0 && wv != 2000)
        problem("ipc_pipe_writev_all returned %ld of 2000 on a blocking pipe", wv);
    if (wv == 2000 && exact)
        acked += 2000;
    else
        exact = false;
    int rd = (int)CALL(ipc_pipe_use_read_end, &p);
    if (p.wr != -1)
        problem("ipc_pipe_use_read_end left wr open");
    if (rd >= 0) {
        long r = CALL(ipc_pipe_read_full, rd, in, sizeof(in));
        if (r >= 0 && exact && (size_t)r != acked)
            problem("pipe: %zu bytes acknowledged, %ld delivered", acked, r);
        if (r >= 0 && exact && memcmp(in, out, (size_t)r) != 0)
            problem("pipe: delivered bytes differ from the written ones");
    }
    ipc_pipe_close(&p);

    if (CALL(ipc_pipe_open, &p, IPC_PIPE_NONBLOCK) < 0)
        return;
    long r = CALL(ipc_pipe_read_full, p.rd, in, 10);
    if (r >= 0)
        problem("ipc_pipe_read_full on an empty non-blocking pipe returned %ld", r);
    int cap = (int)CALL(ipc_pipe_capacity, p.wr);
    if (cap == 0)
        problem("ipc_pipe_capacity returned 0");
    int ncap = (int)CALL(ipc_pipe_set_capacity, p.wr, 8192);
    if (ncap >= 0 && ncap < 8192)
        problem("ipc_pipe_set_capacity(8192) returned %d", ncap);
    IPC__IGNORE_RC(CALL(ipc_pipe_set_nonblock, p.rd, 0));
    IPC__IGNORE_RC(CALL(ipc_pipe_set_nonblock, p.rd, 1));
    w = CALL(ipc_pipe_write_all, p.wr, out, 100, 0);
    if (w >= 0 && w != 100)
        problem("ipc_pipe_write_all returned %ld of 100 on an empty pipe", w);
    r = CALL(ipc_pipe_read_full, p.rd, in, 100);
    if (w == 100 && r >= 0 && (r != 100 || memcmp(in, out, 100) != 0))
        problem("non-blocking pipe: 100 bytes acknowledged, %ld delivered", r);
    int wr = (int)CALL(ipc_pipe_use_write_end, &p);
    if (wr >= 0) {
        w = CALL(ipc_pipe_write_all, wr, out, 10, 0);
        if (w >= 0)
            problem("ipc_pipe_write_all without a reader returned %ld", w);
        struct iovec one = {out, 10};
        w = CALL(ipc_pipe_writev_all, wr, &one, 1, 0);
        if (w >= 0)
            problem("ipc_pipe_writev_all without a reader returned %ld", w);
    }
    ipc_pipe_close(&p);

    /* non-blocking and partial: a short read at the end of the data, a write cut
     * short by a full pipe (the count of what went in), then -EAGAIN */
    if (CALL(ipc_pipe_open, &p, IPC_PIPE_NONBLOCK) < 0)
        return;
    IPC__IGNORE_RC(CALL(ipc_pipe_set_nonblock, p.wr, 1)); /* already: no change */
    w = CALL(ipc_pipe_write_all, p.wr, out, 5, 0);
    r = CALL(ipc_pipe_read_full, p.rd, in, 10);
    if (w == 5 && r >= 0 && (r != 5 || memcmp(in, out, 5) != 0))
        problem("non-blocking pipe: 5 bytes written, read_full(10) returned %ld", r);
    static unsigned char big[10000], bigin[10100];
    fill(big, sizeof(big), 5);
    uint64_t inj0 = injected_now();
    if (CALL(ipc_pipe_set_capacity, p.wr, 4096) >= 0) {
        w = CALL(ipc_pipe_write_all, p.wr, big, sizeof(big), 0);
        if (w >= 0 && (w == 0 || (size_t)w >= sizeof(big)))
            problem("write_all(%zu) into a 4 KiB non-blocking pipe returned %ld", sizeof(big), w);
        if (w > 0) {
            /* full, unless a short write left a page with room (the kernel merges) */
            long w2 = CALL(ipc_pipe_write_all, p.wr, big, 10, 0);
            if (w2 >= 0 && (w2 != 10 || injected_now() == inj0))
                problem("write_all into a full non-blocking pipe returned %ld, not -EAGAIN", w2);
            long in_pipe = w + (w2 > 0 ? w2 : 0);
            r = CALL(ipc_pipe_read_full, p.rd, bigin, sizeof(bigin));
            if (r >= 0 && (r != in_pipe || memcmp(bigin, big, (size_t)w) != 0 ||
                           memcmp(bigin + w, big, (size_t)(in_pipe - w)) != 0))
                problem("non-blocking pipe: %ld bytes acknowledged, %ld delivered", in_pipe, r);
        }
    }
    ipc_pipe_close(&p);
}

/* A payload above 1 MiB grows the decoder's buffer beyond what it keeps: the next
 * small frame releases it. Both payloads must come out intact. */
static void frame_big_then_small(void)
{
    enum { BIG = (3u << 19) }; /* 1.5 MiB */
    static unsigned char big[BIG], wire[BIG + 64];
    fill(big, BIG, 4);
    long n = CALL(ipc_frame_encode, wire, sizeof(wire), 9, big, BIG);
    if (n < 0)
        return;
    long n2 = CALL(ipc_frame_encode, wire + n, sizeof(wire) - (size_t)n, 3, "tiny", 4);
    if (n2 < 0)
        return;
    size_t total = (size_t)(n + n2);
    struct ipc_frame_dec d;
    if (CALL(ipc_frame_dec_init, &d, 2u << 20) < 0)
        return;
    int got = 0;
    for (size_t off = 0; off < total;) {
        /* the small frame byte by byte, so that the decoder buffers it too */
        size_t step = got == 0 ? 100000 : 1;
        size_t chunk = total - off < step ? total - off : step;
        struct ipc_frame f;
        long rc = CALL(ipc_frame_decode, &d, wire + off, chunk, &f);
        if (rc == IPC_ENEEDMORE) {
            off += chunk;
            continue;
        }
        if (rc <= 0)
            break;
        off += (size_t)rc;
        if (got == 0 && (f.type != 9 || f.len != BIG || memcmp(f.payload, big, BIG) != 0))
            problem("the 1.5 MiB frame decodes differently");
        if (got == 1 && (f.type != 3 || f.len != 4 || memcmp(f.payload, "tiny", 4) != 0))
            problem("the small frame after a big one decodes differently");
        got++;
    }
    if (ipc_frame_dec_error(&d) == 0 && got != 2)
        problem("big then small: %d frames decoded, expected 2", got);
    ipc_frame_dec_free(&d);
}

static const size_t frame_sizes[] = {0, 100, 3000, 7};

static void sc_frame(void)
{
    unsigned char payload[3000], buf[3100];
    fill(payload, sizeof(payload), 2);
    struct ipc_frame_enc enc;
    struct iovec iov[3];
    if (CALL(ipc_frame_encode_iov, &enc, 7, payload, 3000, iov) == 0 &&
        iov[0].iov_len + iov[1].iov_len + iov[2].iov_len != 3012)
        problem("ipc_frame_encode_iov: iovecs of the wrong size");
    long n = CALL(ipc_frame_encode, buf, sizeof(buf), 7, payload, 3000);
    if (n >= 0 && n != 3012)
        problem("ipc_frame_encode returned %ld", n);
    /* chunked decode: the payload buffer grows as bytes arrive */
    struct ipc_frame_dec d;
    if (CALL(ipc_frame_dec_init, &d, 0) == 0 && n == 3012) {
        int frames = 0;
        long err = 0;
        for (size_t off = 0; off < 3012 && !err;) {
            size_t chunk = 3012 - off < 100 ? 3012 - off : 100;
            struct ipc_frame f;
            long rc = CALL(ipc_frame_decode, &d, buf + off, chunk, &f);
            if (rc > 0) {
                frames++;
                if (f.len != 3000 || f.type != 7 || memcmp(f.payload, payload, 3000) != 0)
                    problem("ipc_frame_decode: frame differs from the encoded one");
                off += (size_t)rc;
            } else if (rc == IPC_ENEEDMORE) {
                off += chunk;
            } else {
                err = rc;
                if (ipc_frame_dec_error(&d) != rc)
                    problem("ipc_frame_decode error %ld is not sticky", rc);
                (void)ipc_frame_dec_error_offset(&d);
            }
        }
        if (!err && frames != 1)
            problem("chunked decode: 1 frame encoded, %d decoded", frames);
        long fin = CALL(ipc_frame_dec_finish, &d);
        if (!err && fin != 0)
            problem("ipc_frame_dec_finish at a boundary returned %ld", fin);
        if (!err && ipc_frame_dec_offset(&d) != 3012)
            problem("ipc_frame_dec_offset is not 3012");
        ipc_frame_dec_reset(&d);
        ipc_frame_dec_free(&d);
    }
    /* through a pipe */
    struct ipc_pipe p;
    if (CALL(ipc_pipe_open, &p, 0) < 0)
        return;
    size_t acked = 0;
    bool clean = true;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(frame_sizes); i++) {
        long w = CALL(ipc_frame_write_fd, p.wr, (uint8_t)i, payload, frame_sizes[i], 0);
        if (w >= 0 && (size_t)w != frame_sizes[i] + 12)
            problem("ipc_frame_write_fd returned %ld for a %zu-byte payload", w, frame_sizes[i]);
        if (w < 0) {
            clean = false;
            break;
        }
        acked++;
    }
    close(p.wr);
    p.wr = -1;
    if (CALL(ipc_frame_dec_init, &d, 0) < 0) {
        ipc_pipe_close(&p);
        return;
    }
    size_t got = 0;
    for (;;) {
        struct ipc_frame f;
        long rc = CALL(ipc_frame_read_fd, p.rd, &d, &f);
        if (rc == 0) {
            if (clean && got != acked)
                problem("frames: %zu written, %zu read before a clean EOF", acked, got);
            break;
        }
        if (rc < 0) {
            if (clean && rc == IPC_ETRUNCATED)
                problem("frames: IPC_ETRUNCATED although every write succeeded");
            break;
        }
        if (got >= IPC__ARRAY_SIZE(frame_sizes) || f.len != frame_sizes[got] ||
            f.type != (uint8_t)got || (f.len && memcmp(f.payload, payload, f.len) != 0)) {
            problem("frames: frame %zu read differs from the one written", got);
            break;
        }
        got++;
    }
    ipc_frame_dec_free(&d);
    ipc_pipe_close(&p);
    frame_big_then_small();
}

static char *const sh_exit7[] = {"/bin/sh", "-c", "exit 7", NULL};

static void sc_proc_spawn(void)
{
    static const enum ipc_proc_method methods[] = {IPC_PROC_AUTO, IPC_PROC_FORK, IPC_PROC_VFORK,
                                                   IPC_PROC_POSIX_SPAWN};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        struct ipc_proc_options o = {.method = methods[i]};
        ipc_proc *p;
        if (CALL(ipc_proc_spawn, &p, sh_exit7, &o) == 0)
            proc_expect_exit("ipc_proc_spawn", p, 7);
        char *const bad[] = {"/nonexistent/faultsweep", NULL};
        long rc = CALL(ipc_proc_spawn, &p, bad, &o);
        if (rc == 0) {
            problem("ipc_proc_spawn of a missing program succeeded (method %d)", methods[i]);
            ipc_proc_free(p);
        }
        /* stdout into a pipe, PATH search */
        struct ipc_pipe pp;
        if (CALL(ipc_pipe_open, &pp, 0) < 0)
            continue;
        char *const echo[] = {"echo", "hi", NULL};
        o.flags = IPC_PROC_F_PATH | IPC_PROC_F_STDIO;
        o.stdio[0] = -1;
        o.stdio[1] = pp.wr;
        o.stdio[2] = -1;
        rc = CALL(ipc_proc_spawn, &p, echo, &o);
        ipc__close_invalidate(&pp.wr);
        if (rc == 0) {
            char got[16];
            long r = CALL(ipc_pipe_read_full, pp.rd, got, sizeof(got));
            if (r >= 0 && (r != 3 || memcmp(got, "hi\n", 3) != 0))
                problem("spawned echo: %ld bytes of output, expected \"hi\\n\"", r);
            proc_expect_exit("ipc_proc_spawn(echo)", p, 0);
        }
        ipc_pipe_close(&pp);
        /* stdout to the caller's stderr: a source that is itself a target */
        struct ipc_proc_options o2 = {.method = methods[i], .flags = IPC_PROC_F_STDIO};
        o2.stdio[0] = o2.stdio[2] = -1;
        o2.stdio[1] = 2;
        if (CALL(ipc_proc_spawn, &p, sh_exit7, &o2) == 0)
            proc_expect_exit("ipc_proc_spawn(1>&2)", p, 7);
    }
}

/* Spawns with fds 0 and 1 closed, so that libipc's own error pipes land on them
 * and must be moved above 2 before the child's dup2s. */
static void sc_proc_lowfds(void)
{
    int save0 = fcntl(0, F_DUPFD_CLOEXEC, 3), save1 = fcntl(1, F_DUPFD_CLOEXEC, 3);
    if (save0 < 0 || save1 < 0) {
        problem("harness: cannot save fds 0 and 1");
        return;
    }
    close(0);
    close(1);
    struct ipc_proc_options o = {.method = IPC_PROC_FORK};
    ipc_proc *p;
    if (CALL(ipc_proc_spawn, &p, sh_exit7, &o) == 0)
        proc_expect_exit("spawn with 0-1 closed", p, 7);
    o.method = IPC_PROC_VFORK;
    if (CALL(ipc_proc_spawn, &p, sh_exit7, &o) == 0)
        proc_expect_exit("vfork spawn with 0-1 closed", p, 7);
    char *const t[] = {"/bin/sh", "-c", "exit 4", NULL};
    struct ipc_run_options ro = {.stdin_path = "/dev/null"};
    struct ipc_run_result res;
    int rc = (int)CALL(ipc_run, t, &ro, &res);
    if (rc == 0 && !(res.status.exited && res.status.code == 4))
        problem("ipc_run(stdin_path) with 0-1 closed: raw status %#x", res.status.raw);
    ipc_run_result_free(&res);
    if (dup2(save0, 0) < 0 || dup2(save1, 1) < 0)
        problem("harness: cannot restore fds 0 and 1");
    close(save0);
    close(save1);
}

static void sc_proc_exec(void)
{
    ipc_proc *p;
    if (CALL(ipc_proc_spawnl, &p, "/bin/sh", "sh", "-c", "exit 3", (char *)NULL) == 0)
        proc_expect_exit("ipc_proc_spawnl", p, 3);
    if (CALL(ipc_proc_spawnlp, &p, "sh", "sh", "-c", "exit 4", (char *)NULL) == 0)
        proc_expect_exit("ipc_proc_spawnlp", p, 4);
    if (CALL(ipc_proc_spawnv, &p, "/bin/sh", sh_exit7) == 0)
        proc_expect_exit("ipc_proc_spawnv", p, 7);
    char *const v[] = {"sh", "-c", "exit 5", NULL};
    if (CALL(ipc_proc_spawnvp, &p, "sh", v) == 0)
        proc_expect_exit("ipc_proc_spawnvp", p, 5);
    char *const env[] = {"FS_X=6", "PATH=/bin:/usr/bin", NULL};
    char *const ve[] = {"sh", "-c", "exit $FS_X", NULL};
    if (CALL(ipc_proc_spawnvpe, &p, "sh", ve, env) == 0)
        proc_expect_exit("ipc_proc_spawnvpe", p, 6);
}

static int fn_exit9(void *arg)
{
    (void)arg;
    return 9;
}

static int fn_pause(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return 0;
}

static void wait_expect_signal(ipc_proc *p, int sig)
{
    struct ipc_proc_status st;
    if (CALL(ipc_proc_wait, p, IPC_PROC_WAIT_FOREVER, 0, &st) == 0 &&
        !(st.signaled && st.signal == sig))
        problem("ipc_proc_wait: raw status %#x, expected signal %d", st.raw, sig);
}

static void sc_proc_wait(void)
{
    ipc_proc *p;
    if (CALL(ipc_proc_fork, &p, fn_exit9, NULL, NULL) == 0) {
        if (ipc_proc_pid(p) <= 0)
            problem("ipc_proc_pid <= 0");
        (void)ipc_proc_pidfd(p);
        struct ipc_proc_status st;
        if (CALL(ipc_proc_status, p, &st) == 0)
            problem("ipc_proc_status of a running child succeeded");
        proc_expect_exit("ipc_proc_fork", p, 9);
    }
    for (unsigned flags = 0; flags <= IPC_PROC_F_NO_PIDFD; flags += IPC_PROC_F_NO_PIDFD) {
        struct ipc_proc_options o = {.flags = flags};
        if (CALL(ipc_proc_fork, &p, fn_pause, NULL, &o) < 0)
            continue;
        long rc = CALL(ipc_proc_wait, p, 0, 0, NULL);
        if (rc != -ETIMEDOUT && rc >= 0)
            problem("ipc_proc_wait(0) of a pausing child returned %ld", rc);
        rc = CALL(ipc_proc_wait, p, 5, 0, NULL);
        if (rc != -ETIMEDOUT && rc >= 0)
            problem("ipc_proc_wait(5) of a pausing child returned %ld", rc);
        rc = CALL(ipc_proc_wait, p, 5, IPC_PROC_WAIT_UNTRACED, NULL);
        if (rc != -ETIMEDOUT && rc >= 0)
            problem("ipc_proc_wait(5, UNTRACED) of a pausing child returned %ld", rc);
        bool stopped = false;
        if (CALL(ipc_proc_kill, p, 0) == 0 && CALL(ipc_proc_kill, p, SIGSTOP) == 0) {
            stopped = true;
            struct ipc_proc_status st;
            rc = CALL(ipc_proc_wait, p, IPC_PROC_WAIT_FOREVER, IPC_PROC_WAIT_UNTRACED, &st);
            if (rc >= 0 && !(rc == 1 && st.stopped))
                problem("ipc_proc_wait(UNTRACED) after SIGSTOP returned %ld", rc);
            if (CALL(ipc_proc_kill, p, SIGCONT) == 0) {
                stopped = false;
                rc = CALL(ipc_proc_wait, p, IPC_PROC_WAIT_FOREVER, IPC_PROC_WAIT_UNTRACED, &st);
                if (rc >= 0 && !(rc == 1 && st.continued))
                    problem("ipc_proc_wait(UNTRACED) after SIGCONT returned %ld", rc);
            }
        }
        /* a stopped child keeps SIGTERM pending: ipc_proc_free's SIGKILL ends it */
        if (!stopped && CALL(ipc_proc_kill, p, SIGTERM) == 0)
            wait_expect_signal(p, SIGTERM);
        ipc_proc_free(p);
    }
    struct ipc_proc_options g = {.flags = IPC_PROC_F_SETPGID};
    if (CALL(ipc_proc_fork, &p, fn_pause, NULL, &g) == 0) {
        if (CALL(ipc_proc_kill_group, p, SIGKILL) == 0) {
            wait_expect_signal(p, SIGKILL);
            EXPECT(ipc_proc_kill_group(p, 0), -ESRCH); /* reaped */
        }
        ipc_proc_free(p);
    }
    struct ipc_proc_status st;
    char text[IPC_PROC_STATUS_MAX];
    if (CALL(ipc_proc_status_decode, 0x0300, &st) == 0 &&
        CALL(ipc_proc_status_format, &st, text, sizeof(text)) >= 0 &&
        (strcmp(text, "exit 3") != 0 || ipc_proc_status_shell(&st) != 3))
        problem("status 0x300 formats as '%s'", text);
    if (strcmp(ipc_proc_signame(SIGKILL), "SIGKILL") != 0)
        problem("ipc_proc_signame(SIGKILL)");
}

static int fn_orphan(void *arg)
{
    (void)arg;
    pid_t g = fork();
    if (g == 0)
        _exit(0);
    return g < 0;
}

static void sc_proc_orphans(void)
{
    if (CALL(ipc_proc_set_subreaper, 1) < 0)
        return;
    if (CALL(ipc_proc_is_subreaper) != 1)
        problem("ipc_proc_is_subreaper is not 1 after set");
    ipc_proc *p;
    if (CALL(ipc_proc_fork, &p, fn_orphan, NULL, NULL) == 0) {
        proc_expect_exit("orphan maker", p, 0);
        int reaped = 0;
        for (int tries = 0; reaped == 0 && tries < 3; tries++) {
            long rc = CALL(ipc_proc_reap_orphans, 2000);
            if (rc > 0)
                reaped += (int)rc;
        }
        if (reaped != 1)
            problem("ipc_proc_reap_orphans reaped %d orphans, expected 1", reaped);
    }
    /* no child at all: nothing to reap, at once */
    EXPECT_OR_FAULT(ipc_proc_reap_orphans(0), 0);
    /* an object's child that has exited but was not waited for: the reaper keeps its
     * status for the object (it is no orphan); signals to it get -ESRCH */
    struct ipc_proc_options g = {.flags = IPC_PROC_F_SETPGID};
    struct ipc_proc_status st;
    if (CALL(ipc_proc_fork, &p, fn_exit9, NULL, &g) == 0) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        /* returns once it has exited, without reaping it */
        while (waitid(P_PID, (id_t)ipc_proc_pid(p), &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
            ;
        uint64_t inj0 = injected_now();
        long n = CALL(ipc_proc_reap_orphans, 0);
        if (n > 0)
            problem("ipc_proc_reap_orphans counted an object's child as an orphan");
        if (n == 0 && injected_now() == inj0) {
            EXPECT(ipc_proc_kill(p, 0), -ESRCH);
            EXPECT(ipc_proc_kill_group(p, 0), -ESRCH);
        }
        if (CALL(ipc_proc_wait, p, IPC_PROC_WAIT_FOREVER, 0, &st) == 0 &&
            !(st.exited && st.code == 9))
            problem("a child reaped by ipc_proc_reap_orphans: raw status %#x, expected exit 9",
                    st.raw);
        ipc_proc_free(p);
    }
    /* an orphan that appears later: reap_orphans(-1) naps until it can reap it */
    if (CALL(ipc_proc_fork, &p, fn_orphan, NULL, NULL) == 0) {
        long n = CALL(ipc_proc_reap_orphans, IPC_PROC_WAIT_FOREVER);
        if (n >= 0 && n != 1)
            problem("ipc_proc_reap_orphans(-1) reaped %ld orphans, expected 1", n);
        proc_expect_exit("orphan maker (its status kept by the reaper)", p, 0);
    }
    /* a running child and no orphan: 0 at once, and 0 after a timeout */
    if (CALL(ipc_proc_fork, &p, fn_pause, NULL, NULL) == 0) {
        EXPECT_OR_FAULT(ipc_proc_reap_orphans(0), 0);
        EXPECT_OR_FAULT(ipc_proc_reap_orphans(40), 0); /* naps growing to 16 ms */
        if (CALL(ipc_proc_kill, p, SIGKILL) == 0)
            wait_expect_signal(p, SIGKILL);
        ipc_proc_free(p);
    }
    /* reaped behind the object's back: the object reports -ECHILD */
    if (CALL(ipc_proc_fork, &p, fn_exit9, NULL, NULL) == 0) {
        int raw;
        pid_t r;
        while ((r = waitpid(ipc_proc_pid(p), &raw, 0)) < 0 && errno == EINTR)
            ;
        if (r == ipc_proc_pid(p)) {
            EXPECT_OR_FAULT(ipc_proc_wait(p, IPC_PROC_WAIT_FOREVER, 0, &st), -ECHILD);
            EXPECT(ipc_proc_status(p, &st), -ECHILD);
            EXPECT(ipc_proc_wait(p, 0, 0, &st), -ECHILD);
        }
        ipc_proc_free(p);
    }
    for (int tries = 0; tries < 2; tries++)
        if (CALL(ipc_proc_set_subreaper, 0) == 0)
            break;
}

static int fn_redir_child(void *arg)
{
    const ipc_redir *r = arg;
    int src[3];
    if (ipc_redir_resolve(r, src) < 0)
        return 10;
    if (ipc_redir_apply_fds(src) < 0)
        return 11;
    if (write(1, "child\n", 6) != 6)
        return 12;
    return 0;
}

static int fn_redir_apply_child(void *arg)
{
    if (ipc_redir_apply_child(arg) < 0)
        return 11;
    if (write(1, "kid\n", 4) != 4)
        return 12;
    return 0;
}

/* < file and >> file in one plan: cat copies one file onto the end of the other. */
static void redir_read_append(void)
{
    char in_path[96], app_path[96], got[64];
    tmp_path(in_path, sizeof(in_path), "redir-in");
    tmp_path(app_path, sizeof(app_path), "redir-app");
    ipc_redir *r;
    if (write_file(in_path, "in\n", 0600) && write_file(app_path, "a\n", 0600) &&
        CALL(ipc_redir_new, &r) == 0) {
        if (CALL(ipc_redir_file, r, 0, in_path, IPC_REDIR_READ) == 0 &&
            CALL(ipc_redir_file, r, 1, app_path, IPC_REDIR_APPEND) == 0) {
            struct ipc_proc_options o = {.redir = r};
            char *const cat[] = {"/bin/cat", NULL};
            ipc_proc *p;
            if (CALL(ipc_proc_spawn, &p, cat, &o) == 0) {
                struct ipc_proc_status st;
                if (CALL(ipc_proc_wait, p, IPC_PROC_WAIT_FOREVER, 0, &st) == 0) {
                    if (!st.exited || st.code != 0)
                        problem("cat <in >>app: raw status %#x", st.raw);
                    else if (slurp(app_path, got, sizeof(got)) < 0 || strcmp(got, "a\nin\n") != 0)
                        problem("cat <in >>app: the file holds '%s', expected 'a\\nin\\n'", got);
                }
                ipc_proc_free(p);
            }
        }
        ipc_redir_free(r);
    }
    unlink(in_path);
    unlink(app_path);
}

/* Applied in-process while fd 0 is closed: apply opens it, restore closes it again. */
static void redir_apply_fd0_closed(void)
{
    int save0 = fcntl(0, F_DUPFD_CLOEXEC, 3);
    ipc_redir *r;
    if (save0 < 0 || CALL(ipc_redir_new, &r) < 0) {
        if (save0 >= 0)
            close(save0);
        return;
    }
    if (CALL(ipc_redir_null, r, 0) == 0) {
        close(0);
        struct ipc_redir_saved sv;
        if (CALL(ipc_redir_apply, r, &sv) == 0) {
            if (fcntl(0, F_GETFD) < 0)
                problem("ipc_redir_apply(0 from /dev/null) left fd 0 closed");
            if (CALL(ipc_redir_restore, &sv) == 0 && fcntl(0, F_GETFD) >= 0)
                problem("ipc_redir_restore did not close fd 0 again (closed before the apply)");
        } else if (fcntl(0, F_GETFD) >= 0) {
            problem("a failed ipc_redir_apply opened fd 0");
        }
        if (dup2(save0, 0) != 0)
            problem("harness: cannot restore fd 0");
    }
    ipc_redir_free(r);
    close(save0);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_rdev == b->st_rdev;
}

/* Applies r in this process, writes one byte to fd and restores: the byte must be
 * in file, and fd must be the file it was before, also after a failed apply. */
static void apply_write_restore(ipc_redir *r, int fd, const char *file, const char *what)
{
    struct stat before, after;
    if (fstat(fd, &before) < 0) {
        problem("harness: fstat(%d) failed", fd);
        return;
    }
    struct ipc_redir_saved sv;
    if (CALL(ipc_redir_apply, r, &sv) == 0) {
        bool wrote = write(fd, "x", 1) == 1;
        if (CALL(ipc_redir_restore, &sv) != 0) {
            problem("%s: ipc_redir_restore failed: fd %d is lost", what, fd);
            return;
        }
        char got[64] = "";
        if (wrote && (slurp(file, got, sizeof(got)) < 0 || strcmp(got, "x") != 0))
            problem("%s: the file holds '%s', expected 'x'", what, got);
    }
    if (fstat(fd, &after) < 0 || !same_file(&before, &after))
        problem("%s: fd %d is not the file it was before", what, fd);
}

/* 2>&1 applied in-process with 1 left alone (a source among 0-2): what goes to 2
 * lands in 1's file, and restore gives 2 back. */
static void redir_apply_2to1(void)
{
    char both[96];
    tmp_path(both, sizeof(both), "redir-both");
    int save1 = fcntl(1, F_DUPFD_CLOEXEC, 3);
    int ffd = open(both, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ipc_redir *r = NULL;
    if (save1 >= 0 && ffd >= 0 && dup2(ffd, 1) == 1 && CALL(ipc_redir_new, &r) == 0 &&
        CALL(ipc_redir_same, r, 2, 1) == 0)
        apply_write_restore(r, 2, both, "2>&1 applied in-process");
    ipc_redir_free(r);
    if (save1 >= 0) {
        if (dup2(save1, 1) != 1)
            problem("harness: cannot restore fd 1");
        close(save1);
    }
    if (ffd >= 0)
        close(ffd);
    unlink(both);
}

static void sc_redir(void)
{
    char path[96], got[256];
    tmp_path(path, sizeof(path), "redir1");
    ipc_redir *r;
    if (CALL(ipc_redir_new, &r) < 0)
        return;
    if (CALL(ipc_redir_file, r, 1, path, IPC_REDIR_TRUNC) == 0 &&
        CALL(ipc_redir_same, r, 2, 1) == 0 && CALL(ipc_redir_null, r, 0) == 0) {
        struct ipc_proc_options o = {.redir = r};
        char *const argv[] = {"/bin/sh", "-c", "echo out; echo err >&2", NULL};
        ipc_proc *p;
        if (CALL(ipc_proc_spawn, &p, argv, &o) == 0) {
            proc_expect_exit("redirected sh", p, 0);
            if (slurp(path, got, sizeof(got)) >= 0 && strcmp(got, "out\nerr\n") != 0)
                problem("redirected output is '%s', expected 'out\\nerr\\n'", got);
        }
        /* the same plan through resolve + apply_fds in a function child */
        if (CALL(ipc_redir_clear, r, 2) == 0 &&
            CALL(ipc_proc_fork, &p, fn_redir_child, r, NULL) == 0)
            proc_expect_exit_or("apply_fds child", p, 0, 10, 12);
        if (CALL(ipc_proc_fork, &p, fn_redir_apply_child, r, NULL) == 0)
            proc_expect_exit_or("apply_child child", p, 0, 10, 12);
    }
    struct ipc_pipe pp;
    if (CALL(ipc_pipe_open, &pp, 0) == 0) {
        IPC__IGNORE_RC(CALL(ipc_redir_fd, r, 0, pp.rd));
        ipc_pipe_close(&pp);
    }
    ipc_redir_free(r);
    /* 2>&1 with 1 left alone: the source is an original target, copied above 2 */
    if (CALL(ipc_redir_new, &r) == 0) {
        ipc_proc *p;
        if (CALL(ipc_redir_same, r, 2, 1) == 0 &&
            CALL(ipc_proc_fork, &p, fn_redir_apply_child, r, NULL) == 0)
            proc_expect_exit_or("2>&1 child", p, 0, 10, 12);
        ipc_redir_free(r);
    }

    redir_read_append();
    unlink(path);
}

/* In-process apply and restore (0 too, so that a failure saving 1 must drop the
 * copy of 0 already saved). */
static void redir_apply_restore(void)
{
    char path2[96];
    tmp_path(path2, sizeof(path2), "redir2");
    ipc_redir *r;
    if (CALL(ipc_redir_new, &r) < 0)
        return;
    if (CALL(ipc_redir_null, r, 0) == 0 && CALL(ipc_redir_file, r, 1, path2, IPC_REDIR_TRUNC) == 0)
        apply_write_restore(r, 1, path2, "<null >file applied in-process");
    ipc_redir_free(r);
    unlink(path2);
}

/* ipc_redir_apply/restore in this process: few seam calls, so that the bounded
 * sweep still fails every one of them. */
static void sc_redir_apply(void)
{
    redir_apply_restore();
    redir_apply_fd0_closed();
    redir_apply_2to1();
}

static void expect_run_output(const char *what, int rc, const struct ipc_run_result *res,
                              const char *out, const char *err, int code)
{
    if (rc != 0)
        return;
    if (!res->status.exited || res->status.code != code)
        problem("%s: raw status %#x, expected exit %d", what, res->status.raw, code);
    if (out && (res->out_len != strlen(out) || memcmp(res->out, out, res->out_len) != 0))
        problem("%s: captured stdout (%zu bytes) is not '%s'", what, res->out_len, out);
    if (err && (res->err_len != strlen(err) || memcmp(res->err, err, res->err_len) != 0))
        problem("%s: captured stderr (%zu bytes) is not '%s'", what, res->err_len, err);
}

struct collected {
    char buf[64];
    size_t len;
};

static void on_output(void *ctx, int stream, const void *data, size_t len)
{
    struct collected *c = ctx;
    if (stream == 1 && c->len + len < sizeof(c->buf)) {
        memcpy(c->buf + c->len, data, len);
        c->len += len;
    }
}

/* 4096 list arguments: one more than ipc_proc_spawnl's IPC_PROC_MAX_ARGS - 1. */
#define FS_A8    "a", "a", "a", "a", "a", "a", "a", "a"
#define FS_A64   FS_A8, FS_A8, FS_A8, FS_A8, FS_A8, FS_A8, FS_A8, FS_A8
#define FS_A512  FS_A64, FS_A64, FS_A64, FS_A64, FS_A64, FS_A64, FS_A64, FS_A64
#define FS_A4096 FS_A512, FS_A512, FS_A512, FS_A512, FS_A512, FS_A512, FS_A512, FS_A512

/* A spawn that must fail with want (or, under an injected fault, some error). */
static void spawn_expect_fail(const char *what, char *const argv[],
                              const struct ipc_proc_options *o, int want)
{
    ipc_proc *p = NULL;
    uint64_t inj0 = injected_now();
    long rc = ipc_proc_spawn(&p, argv, o);
    if (rc == 0) {
        problem("%s: ipc_proc_spawn succeeded, expected %s", what, ipc_errname(want));
        ipc_proc_free(p);
        return;
    }
    expect_code_or_fault(what, rc, want, inj0);
    if (p != NULL)
        problem("%s: a failed ipc_proc_spawn left *out set", what);
}

static void args_pipe(void)
{
    struct ipc_pipe p = {5, 6};
    char b[8] = "abcdefg";
    EXPECT(ipc_pipe_open(NULL, 0), -EINVAL);
    EXPECT(ipc_pipe_open(&p, 0x2), -EINVAL);
    if (p.rd != -1 || p.wr != -1)
        problem("ipc_pipe_open with an unknown flag left {%d, %d}, not {-1, -1}", p.rd, p.wr);
    EXPECT(ipc_pipe_use_read_end(NULL), -EINVAL);
    EXPECT(ipc_pipe_use_write_end(NULL), -EINVAL);
    EXPECT(ipc_pipe_use_read_end(&p), -EBADF);
    EXPECT(ipc_pipe_use_write_end(&p), -EBADF);
    EXPECT(ipc_pipe_read_full(-1, b, 1), -EBADF);
    EXPECT(ipc_pipe_read_full(0, NULL, 1), -EINVAL);
    EXPECT(ipc_pipe_read_full(0, b, (size_t)SSIZE_MAX + 1), -EINVAL);
    EXPECT(ipc_pipe_read_full(0, NULL, 0), 0);
    EXPECT(ipc_pipe_write_all(-1, b, 1, 0), -EBADF);
    EXPECT(ipc_pipe_write_all(1, NULL, 1, 0), -EINVAL);
    EXPECT(ipc_pipe_write_all(1, b, (size_t)SSIZE_MAX + 1, 0), -EINVAL);
    EXPECT(ipc_pipe_write_all(1, b, 1, 0x2), -EINVAL);
    EXPECT(ipc_pipe_write_all(1, NULL, 0, 0), 0);
    struct iovec iv[2] = {{b, 1}, {NULL, 1}};
    EXPECT(ipc_pipe_writev_all(-1, iv, 1, 0), -EBADF);
    EXPECT(ipc_pipe_writev_all(1, iv, -1, 0), -EINVAL);
    EXPECT(ipc_pipe_writev_all(1, iv, 65, 0), -EINVAL);
    EXPECT(ipc_pipe_writev_all(1, NULL, 1, 0), -EINVAL);
    EXPECT(ipc_pipe_writev_all(1, NULL, 0, 0), 0);
    EXPECT(ipc_pipe_writev_all(1, iv, 2, 0), -EINVAL); /* NULL base with a length */
    struct iovec big[2] = {{b, SSIZE_MAX}, {b, 1}};
    EXPECT(ipc_pipe_writev_all(1, big, 2, 0), -EINVAL); /* total above SSIZE_MAX */
    EXPECT(ipc_pipe_capacity(-1), -EBADF);
    EXPECT(ipc_pipe_set_capacity(-1, 4096), -EBADF);
    EXPECT(ipc_pipe_set_capacity(1, 0), -EINVAL);
    EXPECT(ipc_pipe_set_capacity(1, (size_t)INT_MAX + 1), -EINVAL);
    EXPECT(ipc_pipe_set_nonblock(-1, 1), -EBADF);
}

static void args_redir(void)
{
    EXPECT(ipc_redir_new(NULL), -EINVAL);
    int src[3] = {7, 7, 7};
    EXPECT(ipc_redir_apply_fds(NULL), -EINVAL);
    int badsrc[3] = {-1, -2, -1};
    EXPECT(ipc_redir_apply_fds(badsrc), -EINVAL);
    int none[3] = {-1, -1, -1};
    EXPECT(ipc_redir_apply_fds(none), 0);
    EXPECT(ipc_redir_apply_child(NULL), -EINVAL);
    EXPECT(ipc_redir_resolve(NULL, src), -EINVAL);
    struct ipc_redir_saved sv;
    memset(&sv, 0, sizeof(sv));
    EXPECT(ipc_redir_restore(NULL), -EINVAL);
    EXPECT(ipc_redir_restore(&sv), -EINVAL); /* not active */
    EXPECT(ipc_redir_file(NULL, 1, "/dev/null", IPC_REDIR_TRUNC), -EINVAL);
    EXPECT(ipc_redir_fd(NULL, 0, 0), -EINVAL);
    EXPECT(ipc_redir_null(NULL, 0), -EINVAL);
    EXPECT(ipc_redir_same(NULL, 2, 1), -EINVAL);
    EXPECT(ipc_redir_clear(NULL, 0), -EINVAL);
    ipc_redir *r;
    if (CALL(ipc_redir_new, &r) < 0)
        return;
    EXPECT(ipc_redir_apply(NULL, &sv), -EINVAL);
    EXPECT(ipc_redir_apply(r, NULL), -EINVAL);
    EXPECT(ipc_redir_resolve(r, NULL), -EINVAL);
    EXPECT(ipc_redir_file(r, 3, "/dev/null", IPC_REDIR_TRUNC), -EINVAL);
    EXPECT(ipc_redir_file(r, -1, "/dev/null", IPC_REDIR_TRUNC), -EINVAL);
    EXPECT(ipc_redir_file(r, 1, NULL, IPC_REDIR_TRUNC), -EINVAL);
    EXPECT(ipc_redir_file(r, 1, "", IPC_REDIR_TRUNC), -EINVAL);
    EXPECT(ipc_redir_file(r, 1, "/dev/null", 0), -EINVAL);
    EXPECT(ipc_redir_file(r, 1, "/dev/null", 4), -EINVAL);
    EXPECT(ipc_redir_fd(r, 3, 0), -EINVAL);
    EXPECT(ipc_redir_fd(r, 0, -1), -EINVAL);
    EXPECT(ipc_redir_null(r, 3), -EINVAL);
    EXPECT(ipc_redir_same(r, 3, 1), -EINVAL);
    EXPECT(ipc_redir_same(r, 2, -1), -EINVAL);
    EXPECT(ipc_redir_clear(r, 5), -EINVAL);
    /* an empty plan resolves to "leave all alone" */
    if (ipc_redir_resolve(r, src) != 0 || src[0] != -1 || src[1] != -1 || src[2] != -1)
        problem("empty plan resolves to {%d, %d, %d}", src[0], src[1], src[2]);
    /* 2>&1 with 1 left alone: 2 gets the original fd 1 */
    EXPECT(ipc_redir_same(r, 2, 1), 0);
    if (ipc_redir_resolve(r, src) != 0 || src[0] != -1 || src[1] != -1 || src[2] != 1)
        problem("2>&1 resolves to {%d, %d, %d}, expected {-1, -1, 1}", src[0], src[1], src[2]);
    /* "2>&2" undoes it and leaves 2 alone */
    EXPECT(ipc_redir_same(r, 2, 2), 0);
    if (ipc_redir_resolve(r, src) != 0 || src[2] != -1)
        problem("2>&2 resolves target 2 to %d, expected -1", src[2]);
    /* 0 from a duplicate of a pipe end; 1>&0 then resolves to that same duplicate */
    struct ipc_pipe pp;
    if (CALL(ipc_pipe_open, &pp, 0) == 0) {
        if (CALL(ipc_redir_fd, r, 0, pp.rd) == 0 && ipc_redir_same(r, 1, 0) == 0) {
            struct stat a, b;
            if (ipc_redir_resolve(r, src) != 0 || src[0] < 3 || src[0] == pp.rd ||
                src[1] != src[0] || src[2] != -1)
                problem("<pipe 1>&0 resolves to {%d, %d, %d}", src[0], src[1], src[2]);
            else if (fstat(src[0], &a) < 0 || fstat(pp.rd, &b) < 0 || a.st_ino != b.st_ino ||
                     !(fcntl(src[0], F_GETFD) & FD_CLOEXEC))
                problem("ipc_redir_fd did not keep a close-on-exec duplicate of the pipe");
            EXPECT(ipc_redir_clear(r, 0), 0);
            if (ipc_redir_resolve(r, src) != 0 || src[0] != -1 || src[1] != 0)
                problem("after clear(0), 1>&0 resolves to %d, expected 0", src[1]);
        }
        ipc_pipe_close(&pp);
    }
    ipc_redir_free(r);
    ipc_redir_free(NULL);
}

static void args_proc(void)
{
    ipc_proc *p = NULL;
    char *const empty[] = {NULL};
    EXPECT(ipc_proc_spawn(NULL, sh_exit7, NULL), -EINVAL);
    EXPECT(ipc_proc_spawn(&p, NULL, NULL), -EINVAL);
    EXPECT(ipc_proc_spawn(&p, empty, NULL), -EINVAL);
    struct ipc_proc_options o = {.flags = 0x10};
    EXPECT(ipc_proc_spawn(&p, sh_exit7, &o), -EINVAL);
    o = (struct ipc_proc_options){.method = (enum ipc_proc_method)4};
    EXPECT(ipc_proc_spawn(&p, sh_exit7, &o), -EINVAL);
    o = (struct ipc_proc_options){.flags = IPC_PROC_F_STDIO, .stdio = {-1, -2, -1}};
    EXPECT(ipc_proc_spawn(&p, sh_exit7, &o), -EINVAL);
    o = (struct ipc_proc_options){.cwd = ""};
    EXPECT(ipc_proc_spawn(&p, sh_exit7, &o), -EINVAL);
    o = (struct ipc_proc_options){.file = ""};
    EXPECT(ipc_proc_spawn(&p, sh_exit7, &o), -ENOENT);
    /* a stdio fd that is not open */
    int closed = fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (closed >= 0) {
        close(closed);
        o = (struct ipc_proc_options){.flags = IPC_PROC_F_STDIO, .stdio = {-1, closed, -1}};
        EXPECT(ipc_proc_spawn(&p, sh_exit7, &o), -EBADF);
    }
    /* stdio[] and the plan both setting target 1 */
    ipc_redir *r;
    if (CALL(ipc_redir_new, &r) == 0) {
        if (ipc_redir_same(r, 1, 2) == 0) {
            o = (struct ipc_proc_options){
                .redir = r, .flags = IPC_PROC_F_STDIO, .stdio = {-1, 2, -1}};
            EXPECT(ipc_proc_spawn(&p, sh_exit7, &o), -EINVAL);
            EXPECT(ipc_proc_fork(&p, fn_exit9, NULL, &o), -EINVAL);
        }
        ipc_redir_free(r);
    }
    if (p != NULL)
        problem("a rejected spawn set *out");
    /* ipc_proc_fork takes no exec options */
    EXPECT(ipc_proc_fork(NULL, fn_exit9, NULL, NULL), -EINVAL);
    EXPECT(ipc_proc_fork(&p, NULL, NULL, NULL), -EINVAL);
    o = (struct ipc_proc_options){.flags = 0x10};
    EXPECT(ipc_proc_fork(&p, fn_exit9, NULL, &o), -EINVAL);
    static const enum ipc_proc_method exec_only[] = {IPC_PROC_VFORK, IPC_PROC_POSIX_SPAWN};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(exec_only); i++) {
        o = (struct ipc_proc_options){.method = exec_only[i]};
        EXPECT(ipc_proc_fork(&p, fn_exit9, NULL, &o), -EINVAL);
    }
    char *const env[] = {"A=1", NULL};
    o = (struct ipc_proc_options){.file = "/bin/sh"};
    EXPECT(ipc_proc_fork(&p, fn_exit9, NULL, &o), -EINVAL);
    o = (struct ipc_proc_options){.env = env};
    EXPECT(ipc_proc_fork(&p, fn_exit9, NULL, &o), -EINVAL);
    o = (struct ipc_proc_options){.cwd = "/"};
    EXPECT(ipc_proc_fork(&p, fn_exit9, NULL, &o), -EINVAL);
    o = (struct ipc_proc_options){.flags = IPC_PROC_F_PATH};
    EXPECT(ipc_proc_fork(&p, fn_exit9, NULL, &o), -EINVAL);
    /* the exec family */
    EXPECT(ipc_proc_spawnl(NULL, "/bin/sh", "sh", (char *)NULL), -EINVAL);
    EXPECT(ipc_proc_spawnl(&p, NULL, "sh", (char *)NULL), -EINVAL);
    EXPECT(ipc_proc_spawnl(&p, "/bin/sh", NULL), -EINVAL);
    EXPECT(ipc_proc_spawnlp(&p, "sh", NULL), -EINVAL);
    EXPECT(ipc_proc_spawnl(&p, "/bin/true", FS_A4096, (char *)NULL), -E2BIG);
    EXPECT(ipc_proc_spawnv(NULL, "/bin/sh", sh_exit7), -EINVAL);
    EXPECT(ipc_proc_spawnv(&p, NULL, sh_exit7), -EINVAL);
    EXPECT(ipc_proc_spawnvp(&p, "sh", NULL), -EINVAL);
    EXPECT(ipc_proc_spawnvpe(&p, "sh", sh_exit7, NULL), -EINVAL);
    if (p != NULL)
        problem("a rejected spawn set *out");
    /* accessors */
    struct ipc_proc_status st;
    EXPECT(ipc_proc_wait(NULL, IPC_PROC_WAIT_FOREVER, 0, &st), -EINVAL);
    EXPECT(ipc_proc_kill(NULL, 0), -EINVAL);
    EXPECT(ipc_proc_kill_group(NULL, 0), -EINVAL);
    EXPECT(ipc_proc_pid(NULL), -EINVAL);
    EXPECT(ipc_proc_pidfd(NULL), -EINVAL);
    EXPECT(ipc_proc_status(NULL, &st), -EINVAL);
    EXPECT(ipc_proc_reap_orphans(-2), -EINVAL);
    ipc_proc_free(NULL);
    if (CALL(ipc_proc_fork, &p, fn_exit9, NULL, NULL) == 0) {
        EXPECT(ipc_proc_wait(p, -2, 0, &st), -EINVAL);
        EXPECT(ipc_proc_wait(p, IPC_PROC_WAIT_FOREVER, 0x2, &st), -EINVAL);
        EXPECT(ipc_proc_kill(p, -1), -EINVAL);
        EXPECT(ipc_proc_kill(p, NSIG), -EINVAL);
        EXPECT(ipc_proc_kill_group(p, -1), -EINVAL);
        EXPECT(ipc_proc_kill_group(p, NSIG), -EINVAL);
        EXPECT(ipc_proc_kill_group(p, 0), -EINVAL); /* no group of its own */
        EXPECT(ipc_proc_status(p, NULL), -EINVAL);
        EXPECT(ipc_proc_status(p, &st), -EAGAIN); /* not reaped yet */
        long rc = CALL(ipc_proc_wait, p, IPC_PROC_WAIT_FOREVER, 0, &st);
        if (rc == 0) {
            if (!(st.exited && st.code == 9))
                problem("fn_exit9 child: raw status %#x", st.raw);
            EXPECT(ipc_proc_kill(p, 0), -ESRCH);
            EXPECT(ipc_proc_wait(p, IPC_PROC_WAIT_FOREVER, 0, &st), -ECHILD);
            struct ipc_proc_status again;
            if (ipc_proc_status(p, &again) != 0 || again.raw != st.raw)
                problem("ipc_proc_status after the wait differs from the wait's status");
        }
        ipc_proc_free(p);
    }
}

/* Status decoding and formatting, against the kernel's encoding of wait statuses. */
static void args_status(void)
{
    struct ipc_proc_status st;
    char text[IPC_PROC_STATUS_MAX], want[IPC_PROC_STATUS_MAX];
    EXPECT(ipc_proc_status_decode(0, NULL), -EINVAL);
    static const int bad_raw[] = {0x10000, -1, 0x007f, (NSIG << 8) | 0x7f, 0x0080, 0x0109, NSIG};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(bad_raw); i++)
        if (ipc_proc_status_decode(bad_raw[i], &st) != -EINVAL)
            problem("ipc_proc_status_decode(%#x) is not -EINVAL", bad_raw[i]);
    /* continued */
    if (ipc_proc_status_decode(0xffff, &st) != 0 || !st.continued || st.exited || st.signaled ||
        st.stopped)
        problem("0xffff does not decode as continued");
    EXPECT(ipc_proc_status_format(&st, text, sizeof(text)), 9);
    if (strcmp(text, "continued") != 0)
        problem("continued formats as '%s'", text);
    EXPECT(ipc_proc_status_shell(&st), -EINVAL);
    /* stopped by SIGSTOP */
    if (ipc_proc_status_decode((SIGSTOP << 8) | 0x7f, &st) != 0 || !st.stopped ||
        st.signal != SIGSTOP)
        problem("a SIGSTOP stop does not decode");
    snprintf(want, sizeof(want), "stopped by signal %d (SIGSTOP)", SIGSTOP);
    EXPECT(ipc_proc_status_format(&st, text, sizeof(text)), (long)strlen(want));
    if (strcmp(text, want) != 0)
        problem("a SIGSTOP stop formats as '%s'", text);
    EXPECT(ipc_proc_status_shell(&st), -EINVAL);
    /* SIGSEGV with a core dump */
    if (ipc_proc_status_decode(0x80 | SIGSEGV, &st) != 0 || !st.signaled || !st.core_dumped ||
        st.signal != SIGSEGV)
        problem("SIGSEGV with core does not decode");
    snprintf(want, sizeof(want), "signal %d (SIGSEGV, core dumped)", SIGSEGV);
    EXPECT(ipc_proc_status_format(&st, text, sizeof(text)), (long)strlen(want));
    if (strcmp(text, want) != 0)
        problem("SIGSEGV with core formats as '%s'", text);
    EXPECT(ipc_proc_status_shell(&st), 128 + SIGSEGV);
    /* truncation: always NUL-terminated, -ENOSPC */
    char small[8];
    EXPECT(ipc_proc_status_format(&st, small, sizeof(small)), -ENOSPC);
    if (memcmp(small, "signal ", 8) != 0)
        problem("a truncated status holds '%.8s', expected 'signal '", small);
    EXPECT(ipc_proc_status_format(NULL, text, sizeof(text)), -EINVAL);
    EXPECT(ipc_proc_status_format(&st, NULL, sizeof(text)), -EINVAL);
    EXPECT(ipc_proc_status_format(&st, text, 0), -EINVAL);
    EXPECT(ipc_proc_status_shell(NULL), -EINVAL);
    struct ipc_proc_status zero;
    memset(&zero, 0, sizeof(zero));
    EXPECT(ipc_proc_status_format(&zero, text, sizeof(text)), -EINVAL);
    /* real-time and unnamed signals */
    struct ipc_proc_status rt = {.signaled = 1, .signal = SIGRTMIN + 2};
    snprintf(want, sizeof(want), "signal %d (SIGRTMIN+2)", SIGRTMIN + 2);
    if (ipc_proc_status_format(&rt, text, sizeof(text)) < 0 || strcmp(text, want) != 0)
        problem("signal SIGRTMIN+2 formats as '%s', expected '%s'", text, want);
    snprintf(want, sizeof(want), "SIGRTMIN+%d", SIGRTMAX - SIGRTMIN);
    if (strcmp(ipc_proc_signame(SIGRTMAX), want) != 0)
        problem("ipc_proc_signame(SIGRTMAX) is '%s', expected '%s'", ipc_proc_signame(SIGRTMAX),
                want);
    if (strcmp(ipc_proc_signame(SIGRTMIN), "SIGRTMIN+0") != 0)
        problem("ipc_proc_signame(SIGRTMIN) is '%s'", ipc_proc_signame(SIGRTMIN));
    static const int unnamed[] = {0, -1, 200};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(unnamed); i++)
        if (strcmp(ipc_proc_signame(unnamed[i]), "SIG?") != 0)
            problem("ipc_proc_signame(%d) is '%s', expected 'SIG?'", unnamed[i],
                    ipc_proc_signame(unnamed[i]));
    /* every named signal against the C library's abbreviation */
    for (int sig = 1; sig < SIGRTMIN; sig++) {
        const char *abbrev = sigabbrev_np(sig);
        char libc[32];
        snprintf(libc, sizeof(libc), "SIG%s", abbrev ? abbrev : "?");
        if (abbrev && strcmp(abbrev, "IOT") != 0 && strcmp(abbrev, "POLL") != 0 &&
            strcmp(ipc_proc_signame(sig), libc) != 0)
            problem("ipc_proc_signame(%d) is '%s', the C library says '%s'", sig,
                    ipc_proc_signame(sig), libc);
    }
}

static void args_run(void)
{
    struct ipc_run_result res;
    char *const empty[] = {NULL};
    memset(&res, 0xa5, sizeof(res));
    EXPECT(ipc_run(NULL, NULL, &res), -EINVAL);
    static const struct ipc_run_result zero;
    if (memcmp(&res, &zero, sizeof(res)) != 0)
        problem("ipc_run(-EINVAL) did not zero the result");
    EXPECT(ipc_run(empty, NULL, &res), -EINVAL);
    EXPECT(ipc_run(sh_exit7, NULL, NULL), -EINVAL);
    static const unsigned char data[4] = "abc";
    const struct ipc_run_options bad[] = {
        {.flags = 0x20},
        {.timeout_ms = -1},
        {.grace_ms = -1},
        {.timeout_ms = INT64_MAX / 2},
        {.grace_ms = INT64_MAX / 2},
        {.stdin_len = 3},
        {.flags = IPC_RUN_F_STDIN_FD, .stdin_fd = -1},
        {.flags = IPC_RUN_F_STDIN_FD, .stdin_fd = 0, .stdin_data = data, .stdin_len = 3},
        {.flags = IPC_RUN_F_STDIN_FD, .stdin_fd = 0, .stdin_path = "/dev/null"},
        {.stdin_path = "/dev/null", .stdin_data = data, .stdin_len = 3},
        {.method = (enum ipc_proc_method)4},
        {.flags = IPC_RUN_F_NO_CAPTURE},
    };
    for (size_t i = 0; i < IPC__ARRAY_SIZE(bad); i++) {
        memset(&res, 0xa5, sizeof(res));
        long rc = ipc_run(sh_exit7, &bad[i], &res);
        if (rc != -EINVAL)
            problem("ipc_run with bad options #%zu returned %ld, expected -EINVAL", i, rc);
        if (memcmp(&res, &zero, sizeof(res)) != 0)
            problem("ipc_run with bad options #%zu did not zero the result", i);
        if (rc == 0)
            ipc_run_result_free(&res);
    }
    ipc_run_result_free(NULL);
}

static void args_frame(void)
{
    struct ipc_frame_enc enc;
    struct iovec iov[3];
    unsigned char buf[64];
    EXPECT(ipc_frame_encode_iov(&enc, 1, NULL, 5, iov), -EINVAL);
    EXPECT(ipc_frame_encode_iov(&enc, 1, buf, 5, NULL), -EINVAL);
    EXPECT(ipc_frame_encode_iov(&enc, 1, NULL, 0, iov), 0);
    if (iov[0].iov_len + iov[1].iov_len + iov[2].iov_len != 12)
        problem("an empty frame's iovecs hold %zu bytes, expected 12",
                iov[0].iov_len + iov[1].iov_len + iov[2].iov_len);
    EXPECT(ipc_frame_encode(buf, sizeof(buf), 1, NULL, 5), -EINVAL);
    EXPECT(ipc_frame_encode(NULL, sizeof(buf), 1, buf, 5), -EINVAL);
    EXPECT(ipc_frame_encode(buf, sizeof(buf), 1, NULL, 0), 12);
    EXPECT(ipc_frame_dec_error(NULL), -EINVAL);
    EXPECT(ipc_frame_dec_error_offset(NULL), 0);
    EXPECT(ipc_frame_dec_offset(NULL), 0);
    struct ipc_frame f;
    struct ipc_frame_dec d;
    EXPECT(ipc_frame_read_fd(0, NULL, &f), -EINVAL);
    if (CALL(ipc_frame_dec_init, &d, 0) < 0)
        return;
    EXPECT(ipc_frame_read_fd(0, &d, NULL), -EINVAL);
    EXPECT(ipc_frame_read_fd(-1, &d, &f), -EBADF);
    d.max_payload = (size_t)IPC_FRAME_MAX_PAYLOAD + 1; /* above the hard limit */
    EXPECT(ipc_frame_read_fd(0, &d, &f), -EINVAL);
    d.max_payload = 0;
    /* a decoder holding half a header cannot switch to reading an fd */
    EXPECT(ipc_frame_decode(&d, buf, 6, &f), IPC_ENEEDMORE);
    EXPECT(ipc_frame_read_fd(0, &d, &f), -EINVAL);
    ipc_frame_dec_free(&d);
}

/* Argument validation of pipe, redir, proc, run and frame: the documented codes. */
static void sc_api_args(void)
{
    args_pipe();
    args_redir();
    args_proc();
    args_status();
    args_run();
    args_frame();
}

/* The PATH search of the p forms (every errno the search treats specially), an
 * unset PATH, cwd with every method, and a process group with posix_spawn. */
static void sc_proc_path(void)
{
    char nox[96], bad[96], loop[96];
    tmp_path(nox, sizeof(nox), "nox");    /* a script without the execute bit: EACCES */
    tmp_path(bad, sizeof(bad), "bad");    /* executable, but no known format: ENOEXEC */
    tmp_path(loop, sizeof(loop), "loop"); /* a symlink to itself: ELOOP */
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    static char path[6000];
    if (!write_file(nox, "#!/bin/sh\nexit 0\n", 0600) || !write_file(bad, "garbage\n", 0700) ||
        symlink(loop, loop) < 0) {
        problem("harness: cannot create the PATH test files");
        goto out;
    }
    /* every miss before the one EACCES: the search reports EACCES */
    char long_dir[300];
    memset(long_dir, 'd', sizeof(long_dir) - 1);
    long_dir[0] = '/';
    long_dir[sizeof(long_dir) - 1] = '\0';
    snprintf(path, sizeof(path), "/nonexistent-faultsweep::/etc/passwd:%s:%s:/tmp", long_dir, loop);
    setenv("PATH", path, 1);
    struct ipc_proc_options o = {.method = IPC_PROC_FORK, .flags = IPC_PROC_F_PATH};
    char *const nox_argv[] = {strrchr(nox, '/') + 1, NULL};
    spawn_expect_fail("PATH search ending in EACCES", nox_argv, &o, -EACCES);
    o.method = IPC_PROC_VFORK;
    spawn_expect_fail("vfork PATH search ending in EACCES", nox_argv, &o, -EACCES);
    /* a directory too long for the search buffer, last: ENAMETOOLONG */
    size_t n = (size_t)snprintf(path, sizeof(path), "/nonexistent-faultsweep:/");
    memset(path + n, 'x', 4200);
    path[n + 4200] = '\0';
    setenv("PATH", path, 1);
    o.method = IPC_PROC_FORK;
    spawn_expect_fail("PATH search ending in a long entry", nox_argv, &o, -ENAMETOOLONG);
    /* found but not runnable: the search stops there, no /bin/sh fallback */
    setenv("PATH", "/nonexistent-faultsweep:/tmp:/bin", 1);
    char *const bad_argv[] = {strrchr(bad, '/') + 1, NULL};
    spawn_expect_fail("PATH search finding a non-executable format", bad_argv, &o, -ENOEXEC);
    /* no PATH at all: /bin:/usr/bin */
    unsetenv("PATH");
    char *const sh5[] = {"sh", "-c", "exit 5", NULL};
    ipc_proc *p;
    if (CALL(ipc_proc_spawn, &p, sh5, &o) == 0)
        proc_expect_exit("spawn(sh) without PATH", p, 5);
    char *const env4[] = {"FS_X=4", NULL};
    char *const sh_env[] = {"sh", "-c", "exit $FS_X", NULL};
    struct ipc_run_options ro = {.flags = IPC_RUN_F_PATH, .stdin_path = "/dev/null", .env = env4};
    struct ipc_run_result res;
    int rc = (int)CALL(ipc_run, sh_env, &ro, &res);
    expect_run_output("ipc_run(stdin_path, env) without PATH", rc, &res, "", "", 4);
    ipc_run_result_free(&res);
    if (saved)
        setenv("PATH", saved, 1);
    /* cwd, with every method: etc/passwd is found relative to / only */
    static const enum ipc_proc_method methods[] = {IPC_PROC_FORK, IPC_PROC_VFORK,
                                                   IPC_PROC_POSIX_SPAWN};
    char *const in_root[] = {"/bin/sh", "-c", "test -f etc/passwd", NULL};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        struct ipc_proc_options oc = {.method = methods[i], .cwd = "/"};
        if (CALL(ipc_proc_spawn, &p, in_root, &oc) == 0)
            proc_expect_exit("spawn with cwd /", p, 0);
        oc.cwd = "/nonexistent-faultsweep";
        spawn_expect_fail("spawn with a missing cwd", in_root, &oc, -ENOENT);
    }
    /* posix_spawn with a process group of its own, and no options at all */
    struct ipc_proc_options og = {.method = IPC_PROC_POSIX_SPAWN, .flags = IPC_PROC_F_SETPGID};
    char *const abs5[] = {"/bin/sh", "-c", "exit 5", NULL};
    if (CALL(ipc_proc_spawn, &p, abs5, &og) == 0) {
        pid_t pg = getpgid(ipc_proc_pid(p));
        if (pg >= 0 && pg != ipc_proc_pid(p))
            problem("posix_spawn with SETPGID: pgid %d, pid %d", (int)pg, (int)ipc_proc_pid(p));
        EXPECT_OR_FAULT(ipc_proc_kill_group(p, 0), 0);
        proc_expect_exit("posix_spawn with SETPGID", p, 5);
    }
    if (CALL(ipc_proc_spawn, &p, sh_exit7, NULL) == 0)
        proc_expect_exit("spawn without options", p, 7);
    /* posix_spawn with PATH but a file with a '/': no search */
    struct ipc_proc_options op = {.method = IPC_PROC_POSIX_SPAWN, .flags = IPC_PROC_F_PATH};
    if (CALL(ipc_proc_spawn, &p, abs5, &op) == 0)
        proc_expect_exit("posix_spawn(/bin/sh) with PATH", p, 5);
out:
    if (saved)
        setenv("PATH", saved, 1);
    free(saved);
    unlink(nox);
    unlink(bad);
    unlink(loop);
}

static void sc_run_capture(void)
{
    char *const argv[] = {"/bin/sh", "-c", "printf 'hello\\n'; printf oops >&2; exit 3", NULL};
    struct ipc_run_result res;
    int rc = (int)CALL(ipc_run, argv, NULL, &res);
    expect_run_output("ipc_run", rc, &res, "hello\n", "oops", 3);
    ipc_run_result_free(&res);
    /* a timeout beyond INT_MAX ms (poll's limit) that never fires */
    struct ipc_run_options o = {.flags = IPC_RUN_F_MERGE_STDERR, .timeout_ms = 3000000000LL};
    rc = (int)CALL(ipc_run, argv, &o, &res);
    expect_run_output("ipc_run(MERGE_STDERR)", rc, &res, "hello\noops", "", 3);
    if (rc == 0 && (res.timed_out || res.killed))
        problem("ipc_run with a 35-day timeout: timed_out %d killed %d", res.timed_out, res.killed);
    ipc_run_result_free(&res);
    /* max_output: 5 bytes kept of about 230 KB (several reads), the rest dropped;
     * one process (exec), which a failed run kills */
    char *const many[] = {"/bin/sh", "-c", "exec seq 40000", NULL};
    struct ipc_run_options om = {.max_output = 5};
    rc = (int)CALL(ipc_run, many, &om, &res);
    expect_run_output("ipc_run(max_output 5)", rc, &res, "1\n2\n3", "", 0);
    if (rc == 0 && (!res.out_truncated || res.err_truncated))
        problem("ipc_run(max_output 5): out_truncated %d err_truncated %d", res.out_truncated,
                res.err_truncated);
    ipc_run_result_free(&res);
    struct collected c = {.len = 0};
    struct ipc_run_options o2 = {
        .flags = IPC_RUN_F_NO_CAPTURE | IPC_RUN_F_PATH, .on_output = on_output, .ctx = &c};
    char *const echo[] = {"echo", "streamed", NULL};
    rc = (int)CALL(ipc_run, echo, &o2, &res);
    expect_run_output("ipc_run(NO_CAPTURE)", rc, &res, "", NULL, 0);
    if (rc == 0 && (c.len != 9 || memcmp(c.buf, "streamed\n", 9) != 0))
        problem("ipc_run on_output saw %zu bytes, expected 'streamed\\n'", c.len);
    ipc_run_result_free(&res);
    char *const bad[] = {"/nonexistent/faultsweep", NULL};
    rc = (int)CALL(ipc_run, bad, NULL, &res);
    if (rc == 0)
        problem("ipc_run of a missing program succeeded");
    ipc_run_result_free(&res);
}

static void sc_run_stdin(void)
{
    static unsigned char data[20000];
    fill(data, sizeof(data), 3);
    char *const cat[] = {"cat", NULL};
    struct ipc_run_options o = {.flags = IPC_RUN_F_PATH,
                                .stdin_data = data,
                                .stdin_len = sizeof(data),
                                .max_output = SIZE_MAX};
    struct ipc_run_result res;
    int rc = (int)CALL(ipc_run, cat, &o, &res);
    /* cat echoes exactly what it was given: stdin_written bytes (all of them
     * unless the feed failed, which ipc_run reports only through stdin_written) */
    if (rc == 0 &&
        (res.out_len != res.stdin_written || res.stdin_written > sizeof(data) ||
         memcmp(res.out, data, res.out_len) != 0 || !res.status.exited || res.status.code != 0))
        problem("ipc_run(cat, stdin_data): %zu bytes back, %zu of %zu written, status %#x",
                res.out_len, res.stdin_written, sizeof(data), res.status.raw);
    ipc_run_result_free(&res);

    char path[96];
    tmp_path(path, sizeof(path), "stdin");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        IPC__IGNORE_RC(write(fd, "from file\n", 10));
        close(fd);
    }
    struct ipc_run_options op = {.flags = IPC_RUN_F_PATH, .stdin_path = path, .cwd = "/"};
    rc = (int)CALL(ipc_run, cat, &op, &res);
    expect_run_output("ipc_run(stdin_path)", rc, &res, "from file\n", "", 0);
    ipc_run_result_free(&res);
    /* the stdin_path child's chdir fails: the run fails with it */
    struct ipc_run_options ocwd = {.stdin_path = path, .cwd = "/nonexistent-faultsweep"};
    char *const abs_cat[] = {"/bin/cat", NULL};
    EXPECT_OR_FAULT(ipc_run(abs_cat, &ocwd, &res), -ENOENT);
    ipc_run_result_free(&res);
    unlink(path);
    rc = (int)CALL(ipc_run, cat, &op, &res);
    if (rc == 0)
        problem("ipc_run with a missing stdin_path succeeded");
    ipc_run_result_free(&res);

    /* a child that never reads its stdin: the feed stops (the pipe loses its
     * reader), the run still succeeds with the child's status */
    char *const no_read[] = {"/bin/sh", "-c", "exit 0", NULL};
    static unsigned char lots[200000];
    struct ipc_run_options onr = {.stdin_data = lots, .stdin_len = sizeof(lots)};
    rc = (int)CALL(ipc_run, no_read, &onr, &res);
    expect_run_output("ipc_run(unread stdin)", rc, &res, "", "", 0);
    if (rc == 0 && res.stdin_written >= sizeof(lots))
        problem("ipc_run(unread stdin): %zu of %zu bytes written to a child that reads none",
                res.stdin_written, sizeof(lots));
    ipc_run_result_free(&res);

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        IPC__IGNORE_RC(write(fd, "by fd\n", 6));
        close(fd);
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    unlink(path);
    if (fd < 0)
        return;
    struct ipc_run_options of = {.flags = IPC_RUN_F_PATH | IPC_RUN_F_STDIN_FD, .stdin_fd = fd};
    rc = (int)CALL(ipc_run, cat, &of, &res);
    expect_run_output("ipc_run(stdin_fd)", rc, &res, "by fd\n", "", 0);
    ipc_run_result_free(&res);
    close(fd);
}

/* ipc_run through posix_spawn: few seam calls (the child's reset is glibc's, not
 * the seam's), so that even the bounded sweep fails every one of them: the pipes,
 * the stdin feed, the capture buffers and the last reads. cat must echo exactly
 * what it was given. */
static void sc_run_spawn(void)
{
    static unsigned char data[3000];
    fill(data, sizeof(data), 6);
    char *const cat[] = {"/bin/cat", NULL};
    struct ipc_run_options o = {
        .method = IPC_PROC_POSIX_SPAWN, .stdin_data = data, .stdin_len = sizeof(data)};
    struct ipc_run_result res;
    int rc = (int)CALL(ipc_run, cat, &o, &res);
    if (rc == 0 && (res.out_len != res.stdin_written || res.stdin_written > sizeof(data) ||
                    memcmp(res.out, data, res.out_len) != 0 || res.err_len != 0 ||
                    !res.status.exited || res.status.code != 0))
        problem("ipc_run(posix_spawn cat): %zu bytes back, %zu of %zu written, status %#x",
                res.out_len, res.stdin_written, sizeof(data), res.status.raw);
    ipc_run_result_free(&res);
}

static void sc_run_timeout(void)
{
    /* outputs closed first: the drain then waits for the child alone, until the
     * timeout */
    char *const argv[] = {"/bin/sh", "-c", "exec >&- 2>&- sleep 5", NULL};
    struct ipc_run_options o = {.timeout_ms = 20, .grace_ms = 2000, .flags = IPC_RUN_F_PGROUP};
    struct ipc_run_result res;
    int rc = (int)CALL(ipc_run, argv, &o, &res);
    if (rc == 0 && (!res.timed_out || !res.status.signaled || res.status.signal != SIGTERM))
        problem("ipc_run timeout: timed_out %d, raw status %#x", res.timed_out, res.status.raw);
    ipc_run_result_free(&res);
    /* a child that ignores SIGTERM from its first instruction: ignored signals
     * stay ignored across exec (a trap in the shell would race the timeout) */
    char *const stubborn[] = {"/bin/sh", "-c", "exec sleep 5", NULL};
    struct ipc_run_options o2 = {.timeout_ms = 20, .grace_ms = 20};
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_term;
    sigaction(SIGTERM, &ign, &old_term);
    rc = (int)CALL(ipc_run, stubborn, &o2, &res);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc == 0 && (!res.timed_out || !res.killed || res.status.signal != SIGKILL))
        problem("ipc_run grace: timed_out %d killed %d, raw status %#x", res.timed_out, res.killed,
                res.status.raw);
    ipc_run_result_free(&res);
}

static void fs_handler(int signo, siginfo_t *info, void *uc)
{
    (void)signo;
    (void)info;
    (void)uc;
}

/* The current disposition of signo, read with sigaction directly. */
static struct sigaction sig_now(int signo)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigaction(signo, NULL, &sa);
    return sa;
}

static bool blocked_now(int signo)
{
    sigset_t cur;
    sigprocmask(SIG_SETMASK, NULL, &cur);
    return sigismember(&cur, signo) == 1;
}

/* In a forked child: SIGUSR1 is caught (the parent's ipc_sig_catch), SIGUSR2 is
 * made ignored and SIGUSR2/SIGTERM blocked; ipc_sig_child_reset must put SIGUSR1 back
 * to SIG_DFL, leave SIGUSR2 ignored and clear the mask. Exit 1: the call failed,
 * 2..4: it returned 0 with the wrong result. */
static int fn_child_reset(void *arg)
{
    (void)arg;
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigaction(SIGUSR2, &ign, NULL);
    sigset_t b;
    sigemptyset(&b);
    sigaddset(&b, SIGUSR2);
    sigaddset(&b, SIGTERM);
    sigprocmask(SIG_BLOCK, &b, NULL);
    bool usr1_caught = sig_now(SIGUSR1).sa_handler != SIG_DFL;
    if (ipc_sig_child_reset() != 0)
        return 1;
    if (usr1_caught && sig_now(SIGUSR1).sa_handler != SIG_DFL)
        return 2;
    if (sig_now(SIGUSR2).sa_handler != SIG_IGN)
        return 3;
    sigset_t cur;
    sigprocmask(SIG_SETMASK, NULL, &cur);
    if (sigismember(&cur, SIGUSR2) || sigismember(&cur, SIGTERM))
        return 4;
    return 0;
}

/* Argument validation of sig.h: every rejected input gives exactly -EINVAL (or
 * the documented neutral value) and changes nothing. No seam call. */
static void sig_args(void)
{
    static const int bad[] = {0, -1, SIGKILL, SIGSTOP, SIGPIPE, 32, _NSIG};
    struct ipc_sig_prev prev;
    struct sigaction usr1 = sig_now(SIGUSR1);
    for (size_t i = 0; i < IPC__ARRAY_SIZE(bad); i++) {
        EXPECT(ipc_sig_install(bad[i], fs_handler, 0, &prev), -EINVAL);
        EXPECT(ipc_sig_catch(bad[i], 0, &prev), -EINVAL);
        EXPECT(ipc_sig_set_default(bad[i], 1, &prev), -EINVAL);
    }
    EXPECT(ipc_sig_install(SIGUSR1, NULL, 0, &prev), -EINVAL);
    EXPECT(ipc_sig_install(SIGUSR1, fs_handler, 0x100, &prev), -EINVAL);
    EXPECT(ipc_sig_catch(SIGUSR1, 0x100, &prev), -EINVAL);
    if (sig_now(SIGUSR1).sa_handler != usr1.sa_handler)
        problem("a rejected install changed the SIGUSR1 disposition");
    EXPECT(ipc_sig_restore(NULL), -EINVAL);
    memset(&prev, 0, sizeof(prev));
    prev.signo = SIGKILL;
    EXPECT(ipc_sig_restore(&prev), -EINVAL);
    EXPECT(ipc_sig_send(getpid(), 32), -EINVAL);
    EXPECT(ipc_sig_send(getpid(), -1), -EINVAL);
    EXPECT(ipc_sig_queue(getpid(), 32, 1), -EINVAL);
    EXPECT(ipc_sig_queue(getpid(), _NSIG, 1), -EINVAL);
    sigset_t set;
    EXPECT(ipc_sig_mkset(NULL, SIGUSR1, 0), -EINVAL);
    EXPECT(ipc_sig_mkset(&set, SIGUSR1, 32, 0), -EINVAL);
    EXPECT(ipc_sig_mkset(&set, 0), 0);
    EXPECT(ipc_sig_block(NULL, NULL), -EINVAL);
    EXPECT(ipc_sig_unblock(NULL, NULL), -EINVAL);
    EXPECT(ipc_sig_setmask(NULL, NULL), -EINVAL);
    EXPECT(ipc_sig_block_one(0), -EINVAL);
    EXPECT(ipc_sig_unblock_one(32), -EINVAL);
    EXPECT(ipc_sig_wait(NULL, NULL), -EINVAL);
    EXPECT(ipc_sig_timedwait(NULL, 0, NULL), -EINVAL);
    EXPECT(ipc_sig_caught(0), 0);
    EXPECT(ipc_sig_caught(_NSIG), 0);
    ipc_sig_caught_reset(0);
    ipc_sig_caught_reset(_NSIG);
    ipc_sigsrc *s = (ipc_sigsrc *)&set;
    sigemptyset(&set);
    EXPECT(ipc_sigsrc_new(&s, &set, 0), -EINVAL); /* empty set */
    if (s)
        problem("a failed ipc_sigsrc_new left *out set");
    sigaddset(&set, SIGUSR1);
    EXPECT(ipc_sigsrc_new(NULL, &set, 0), -EINVAL);
    EXPECT(ipc_sigsrc_new(&s, NULL, 0), -EINVAL);
    EXPECT(ipc_sigsrc_new(&s, &set, 0x2), -EINVAL);
    sigaddset(&set, SIGKILL);
    EXPECT(ipc_sigsrc_new(&s, &set, 0), -EINVAL);
    sigdelset(&set, SIGKILL);
    sigaddset(&set, SIGPIPE);
    EXPECT(ipc_sigsrc_new(&s, &set, IPC_SIGSRC_FORCE_SELFPIPE), -EINVAL);
    EXPECT(ipc_sigsrc_fd(NULL), -EINVAL);
    EXPECT(ipc_sigsrc_backend(NULL), -EINVAL);
    EXPECT(ipc_sigsrc_dropped(NULL), 0);
    struct ipc_sig_info si;
    EXPECT(ipc_sigsrc_read(NULL, &si), -EINVAL);
    ipc_sigsrc_free(NULL);
    if (blocked_now(SIGUSR1))
        problem("a rejected ipc_sigsrc_new left SIGUSR1 blocked");
}

static _Atomic int g_usr2_seen;

static void usr2_counter(int signo, siginfo_t *info, void *uc)
{
    (void)uc;
    if (signo == SIGUSR2 && info && info->si_code == SI_QUEUE && info->si_value.sival_int == 31)
        g_usr2_seen++;
    errno = EDOM; /* the trampoline must restore the interrupted errno */
}

/* Handlers, dispositions and masks checked against sigaction/sigprocmask, and
 * the siginfo fields of kill, tgkill, sigqueue and SIGCHLD. */
static void sig_semantics(const sigset_t *orig)
{
    struct ipc_sig_prev prev;
    struct sigaction before = sig_now(SIGUSR2);
    /* a oneshot, restarting handler: it runs once, with the value, and goes */
    if (CALL(ipc_sig_install, SIGUSR2, usr2_counter, IPC_SIG_ONESHOT | IPC_SIG_RESTART, &prev) ==
        0) {
        struct sigaction sa = sig_now(SIGUSR2);
        if (!(sa.sa_flags & SA_SIGINFO) || !(sa.sa_flags & SA_RESETHAND) ||
            !(sa.sa_flags & SA_RESTART) || !sigismember(&sa.sa_mask, SIGUSR2))
            problem("ipc_sig_install: sa_flags %#x, SIGUSR2 in sa_mask %d", (unsigned)sa.sa_flags,
                    sigismember(&sa.sa_mask, SIGUSR2));
        g_usr2_seen = 0;
        errno = ENOTTY;
        if (CALL(ipc_sig_queue, getpid(), SIGUSR2, 31) == 0) {
            if (errno != ENOTTY)
                problem("errno %d after a handler ran, expected ENOTTY", errno);
            if (g_usr2_seen != 1)
                problem("a queued SIGUSR2 reached the handler %d times", (int)g_usr2_seen);
            if (sig_now(SIGUSR2).sa_handler != SIG_DFL)
                problem("an IPC_SIG_ONESHOT handler was not reset after one delivery");
        }
        if (CALL(ipc_sig_restore, &prev) == 0 && sig_now(SIGUSR2).sa_handler != before.sa_handler)
            problem("ipc_sig_restore did not put the SIGUSR2 disposition back");
    }
    if (CALL(ipc_sig_catch, SIGUSR2, IPC_SIG_NOCLDSTOP, &prev) == 0) {
        if (!(sig_now(SIGUSR2).sa_flags & SA_NOCLDSTOP))
            problem("ipc_sig_catch(IPC_SIG_NOCLDSTOP) did not set SA_NOCLDSTOP");
        IPC__IGNORE_RC(CALL(ipc_sig_restore, &prev));
    }
    if (CALL(ipc_sig_set_default, SIGUSR2, 1, &prev) == 0) {
        if (sig_now(SIGUSR2).sa_handler != SIG_IGN)
            problem("ipc_sig_set_default(ignore) did not ignore SIGUSR2");
        /* an ignored signal is discarded: it must not arrive below */
        IPC__IGNORE_RC(CALL(ipc_sig_send, getpid(), SIGUSR2));
        IPC__IGNORE_RC(CALL(ipc_sig_restore, &prev));
    }
    /* without prev: catch, then back to SIG_DFL with set_default(0) */
    if (CALL(ipc_sig_catch, SIGUSR2, 0, NULL) == 0) {
        if (sig_now(SIGUSR2).sa_handler == SIG_DFL || sig_now(SIGUSR2).sa_handler == SIG_IGN)
            problem("ipc_sig_catch(SIGUSR2, NULL prev) installed no handler");
        if (CALL(ipc_sig_set_default, SIGUSR2, 0, NULL) == 0 &&
            sig_now(SIGUSR2).sa_handler != SIG_DFL)
            problem("ipc_sig_set_default(SIGUSR2, 0) did not restore SIG_DFL");
        sigaction(SIGUSR2, &before, NULL);
    }
    IPC__IGNORE_RC(CALL(ipc_sig_send, getpid(), 0)); /* existence probe */
    IPC__IGNORE_RC(CALL(ipc_sig_queue, getpid(), 0, 0));

    /* masks, compared with sigprocmask */
    sigset_t set, old;
    if (CALL(ipc_sig_block_one, SIGUSR2) == 0 && !blocked_now(SIGUSR2))
        problem("ipc_sig_block_one(SIGUSR2): not blocked");
    if (CALL(ipc_sig_unblock_one, SIGUSR2) == 0 && blocked_now(SIGUSR2))
        problem("ipc_sig_unblock_one(SIGUSR2): still blocked");
    if (CALL(ipc_sig_mkset, &set, SIGUSR2, SIGRTMIN, SIGCHLD, 0) < 0)
        return;
    if (CALL(ipc_sig_setmask, &set, &old) == 0) {
        if (!blocked_now(SIGCHLD) || !blocked_now(SIGRTMIN) || blocked_now(SIGUSR1))
            problem("ipc_sig_setmask: the mask is not the set given");
        for (int s = 1; s < SIGRTMIN; s++)
            if (s != SIGKILL && s != SIGSTOP && sigismember(&old, s) != sigismember(orig, s))
                problem("ipc_sig_setmask: old mask differs at signal %d", s);
    }
    if (CALL(ipc_sig_unblock, &set, &old) == 0 &&
        (blocked_now(SIGUSR2) || sigismember(&old, SIGUSR2) != 1))
        problem("ipc_sig_unblock: SIGUSR2 still blocked or not in the old mask");
    if (CALL(ipc_sig_block, &set, NULL) < 0)
        return;
    /* tgkill carries SI_TKILL (SI_USER under some kernels, e.g. gVisor) and our
     * pid; sigwait without out */
    struct ipc_sig_info si;
    if (syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR2) == 0) {
        long rc = CALL(ipc_sig_timedwait, &set, 0, &si);
        if (rc == -EAGAIN)
            rc = CALL(ipc_sig_wait, &set, &si);
        if (rc > 0 && (rc != SIGUSR2 || (si.code != SI_TKILL && si.code != SI_USER) ||
                       si.pid != getpid() || si.uid != getuid() || si.value != 0))
            problem("tgkill(SIGUSR2) read as signal %ld code %d pid %d value %d", rc, si.code,
                    (int)si.pid, si.value);
    }
    if (CALL(ipc_sig_queue, getpid(), SIGRTMIN, 77) == 0) {
        long rc = CALL(ipc_sig_timedwait, &set, -1, &si); /* forever: it is pending */
        if (rc > 0 &&
            (rc != SIGRTMIN || si.code != SI_QUEUE || si.value != 77 || si.pid != getpid()))
            problem("sigqueue(SIGRTMIN, 77) read as signal %ld code %d value %d", rc, si.code,
                    si.value);
    }
    if (CALL(ipc_sig_send, getpid(), SIGUSR2) == 0) {
        long rc = CALL(ipc_sig_timedwait, &set, 1000, NULL);
        if (rc == -EAGAIN) /* an injected timeout: one more look */
            rc = CALL(ipc_sig_timedwait, &set, 1000, NULL);
        if (rc > 0 && rc != SIGUSR2)
            problem("ipc_sig_timedwait(out NULL) returned %ld, expected SIGUSR2", rc);
    }
    /* a message queue notification carries SI_MESGQ and the sigevent's value */
    char qn[64];
    snprintf(qn, sizeof(qn), "/faultsweep-%d-mq", (int)g_pid);
    struct mq_attr at = {.mq_maxmsg = 1, .mq_msgsize = 8};
    mqd_t q = mq_open(qn, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &at);
    if (q != (mqd_t)-1) {
        mq_unlink(qn);
        struct sigevent ev;
        memset(&ev, 0, sizeof(ev));
        ev.sigev_notify = SIGEV_SIGNAL;
        ev.sigev_signo = SIGRTMIN;
        ev.sigev_value.sival_int = 88;
        if (mq_notify(q, &ev) == 0 && mq_send(q, "m", 1, 0) == 0) {
            long rc = CALL(ipc_sig_timedwait, &set, 5000, &si);
            if (rc == -EAGAIN)
                rc = CALL(ipc_sig_timedwait, &set, 5000, &si);
            if (rc > 0 && (rc != SIGRTMIN || si.code != SI_MESGQ || si.value != 88))
                problem("a message queue notification read as signal %ld code %d value %d", rc,
                        si.code, si.value);
        }
        mq_close(q);
    }
    if (CALL(ipc_sig_send, getpid(), SIGUSR2) == 0) {
        long rc = CALL(ipc_sig_wait, &set, NULL);
        if (rc > 0 && rc != SIGUSR2)
            problem("ipc_sig_wait(out NULL) returned %ld, expected SIGUSR2", rc);
    }
    /* a POSIX timer's signal carries SI_TIMER and the sigevent's value */
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN;
    sev.sigev_value.sival_int = 55;
    timer_t tm;
    if (timer_create(CLOCK_MONOTONIC, &sev, &tm) == 0) {
        struct itimerspec its = {.it_value = {0, 1}};
        if (timer_settime(tm, 0, &its, NULL) == 0) {
            long rc = CALL(ipc_sig_timedwait, &set, 5000, &si);
            if (rc == -EAGAIN) /* an injected timeout: one more look */
                rc = CALL(ipc_sig_timedwait, &set, 5000, &si);
            if (rc > 0 && (rc != SIGRTMIN || si.code != SI_TIMER || si.value != 55))
                problem("a timer signal read as signal %ld code %d value %d", rc, si.code,
                        si.value);
        }
        timer_delete(tm);
    }
    /* SIGCHLD: the child's pid, CLD_EXITED and its exit code */
    ipc_proc *p;
    if (CALL(ipc_proc_fork, &p, fn_exit9, NULL, NULL) == 0) {
        pid_t pid = ipc_proc_pid(p);
        long rc = CALL(ipc_sig_timedwait, &set, 5000, &si);
        if (rc == -EAGAIN) /* an injected timeout: one more look */
            rc = CALL(ipc_sig_timedwait, &set, 5000, &si);
        if (rc > 0 && (rc != SIGCHLD || si.pid != pid || si.code != CLD_EXITED || si.status != 9))
            problem("SIGCHLD read as signal %ld pid %d (child %d) code %d status %d", rc,
                    (int)si.pid, (int)pid, si.code, si.status);
        proc_expect_exit("SIGCHLD child", p, 9);
    }
    /* nothing of set may stay pending */
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) > 0)
        ;
    sigprocmask(SIG_SETMASK, orig, NULL);
}

/* Argument validation, dispositions and masks against sigaction/sigprocmask,
 * and the siginfo of each kind of sender. */
static void sc_sig_info(void)
{
    sigset_t orig;
    sigprocmask(SIG_SETMASK, NULL, &orig);
    sig_args();
    sig_semantics(&orig);
    sigprocmask(SIG_SETMASK, &orig, NULL);
}

static void sc_sig(void)
{
    sigset_t orig;
    sigprocmask(SIG_SETMASK, NULL, &orig);
    struct ipc_sig_prev prev, prev2;
    if (CALL(ipc_sig_catch, SIGUSR1, 0, &prev) == 0) {
        ipc_sig_caught_reset(SIGUSR1);
        if (CALL(ipc_sig_send, getpid(), SIGUSR1) == 0 && ipc_sig_caught(SIGUSR1) != 1)
            problem("SIGUSR1 sent once, caught %lu times", ipc_sig_caught(SIGUSR1));
        ipc_proc *p;
        if (CALL(ipc_proc_fork, &p, fn_child_reset, NULL, NULL) == 0)
            proc_expect_exit_or("ipc_sig_child_reset child", p, 0, 1, 1);
        /* exec children reset the caught handler before exec */
        static const enum ipc_proc_method m[] = {IPC_PROC_FORK, IPC_PROC_VFORK};
        for (int i = 0; i < 2; i++) {
            struct ipc_proc_options o = {.method = m[i]};
            if (CALL(ipc_proc_spawn, &p, sh_exit7, &o) == 0)
                proc_expect_exit("spawn with a caught signal", p, 7);
        }
        IPC__IGNORE_RC(CALL(ipc_sig_restore, &prev));
    }
    if (CALL(ipc_sig_install, SIGUSR2, fs_handler, IPC_SIG_ONESHOT | IPC_SIG_RESTART, &prev) == 0)
        IPC__IGNORE_RC(CALL(ipc_sig_restore, &prev));
    if (CALL(ipc_sig_set_default, SIGUSR2, 1, &prev2) == 0)
        IPC__IGNORE_RC(CALL(ipc_sig_restore, &prev2));
    sigset_t set, old;
    if (CALL(ipc_sig_mkset, &set, SIGRTMIN, SIGUSR2, 0) < 0)
        return;
    if (CALL(ipc_sig_block, &set, &old) == 0) {
        int queued = 0;
        for (int v = 1; v <= 2; v++)
            if (CALL(ipc_sig_queue, getpid(), SIGRTMIN, 40 + v) == 0)
                queued++;
        int got = 0;
        for (;;) {
            struct ipc_sig_info si;
            long rc = CALL(ipc_sig_timedwait, &set, 0, &si);
            if (rc == -EAGAIN) {
                /* one more look: an injected EAGAIN must not hide a signal */
                rc = CALL(ipc_sig_timedwait, &set, 0, &si);
                if (rc == -EAGAIN)
                    break;
            }
            if (rc < 0)
                break;
            if (rc != SIGRTMIN || si.value < 41 || si.value > 42)
                problem("ipc_sig_timedwait: signal %ld value %d, expected SIGRTMIN 41/42", rc,
                        si.value);
            got++;
        }
        if (got != queued)
            problem("%d real-time signals queued, %d received", queued, got);
        if (CALL(ipc_sig_send, getpid(), SIGUSR2) == 0) {
            struct ipc_sig_info si;
            long rc = CALL(ipc_sig_wait, &set, &si);
            if (rc > 0 && rc != SIGUSR2)
                problem("ipc_sig_wait returned %ld, expected SIGUSR2", rc);
            if (rc < 0) /* take it back, so it does not stay pending */
                IPC__IGNORE_RC(ipc_sig_timedwait(&set, 0, NULL));
        }
        IPC__IGNORE_RC(CALL(ipc_sig_setmask, &old, NULL));
    }
    if (CALL(ipc_sig_block_one, SIGUSR2) == 0)
        IPC__IGNORE_RC(CALL(ipc_sig_unblock_one, SIGUSR2));
    if (CALL(ipc_sig_block, &set, NULL) == 0)
        IPC__IGNORE_RC(CALL(ipc_sig_unblock, &set, NULL));
    sigprocmask(SIG_SETMASK, &orig, NULL);
}

/* The write end of the self-pipe behind a source: the other fd of this process on
 * the same pipe (found through /proc/self/fd), or -1. */
static int selfpipe_write_end(int rfd)
{
    struct stat rs, st;
    if (fstat(rfd, &rs) < 0)
        return -1;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == rfd || fd == dirfd(d))
            continue;
        if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_ino == rs.st_ino &&
            st.st_dev == rs.st_dev)
            found = fd;
    }
    closedir(d);
    return found;
}

/* Reads one record from a source, waiting up to 2 s for its fd; 1 or <= 0. */
static long sigsrc_read_one(ipc_sigsrc *s, struct ipc_sig_info *si)
{
    long rc = 0;
    for (int tries = 0; tries < 4; tries++) {
        struct pollfd pfd = {.fd = ipc_sigsrc_fd(s), .events = POLLIN};
        if (poll(&pfd, 1, 2000) != 1)
            return 0;
        rc = CALL(ipc_sigsrc_read, s, si);
        if (rc == 1)
            return 1;
    }
    return rc;
}

/* Both backends: SIGCHLD records carry the child's pid and exit code; a second
 * self-pipe source is -EBUSY; a record that finds the self-pipe full is counted
 * as dropped and nothing partial reaches the pipe; free restores the mask. */
static void sigsrc_more(const sigset_t *orig)
{
    sigset_t set;
    if (CALL(ipc_sig_mkset, &set, SIGUSR1, SIGCHLD, 0) < 0)
        return;
    for (unsigned flags = IPC_SIGSRC_AUTO; flags <= IPC_SIGSRC_FORCE_SELFPIPE; flags++) {
        ipc_sigsrc *s;
        if (CALL(ipc_sigsrc_new, &s, &set, flags) < 0)
            continue;
        int fd = ipc_sigsrc_fd(s);
        EXPECT(ipc_sigsrc_read(s, NULL), -EINVAL);
        if (flags == IPC_SIGSRC_FORCE_SELFPIPE) {
            if (ipc_sigsrc_backend(s) != IPC_SIGSRC_SELFPIPE)
                problem("IPC_SIGSRC_FORCE_SELFPIPE gave backend %d", ipc_sigsrc_backend(s));
            ipc_sigsrc *s2 = NULL;
            long rc = CALL(ipc_sigsrc_new, &s2, &set, IPC_SIGSRC_FORCE_SELFPIPE);
            if (rc == 0) {
                problem("a second self-pipe source was created");
                ipc_sigsrc_free(s2);
            } else if (rc != -EBUSY && rc != -ENOMEM && rc != -EMFILE && rc != -ENFILE) {
                problem("a second self-pipe source: %s, expected -EBUSY", ipc_errname((int)rc));
            }
        }
        pid_t pid = -1;
        ipc_proc *p;
        if (CALL(ipc_proc_fork, &p, fn_exit9, NULL, NULL) == 0) {
            pid = ipc_proc_pid(p);
            proc_expect_exit("sigsrc SIGCHLD child", p, 9);
        }
        /* a timer's SIGUSR1: SI_TIMER and the sigevent's value */
        int armed = 0, timers = 0;
        struct sigevent sev;
        memset(&sev, 0, sizeof(sev));
        sev.sigev_notify = SIGEV_SIGNAL;
        sev.sigev_signo = SIGUSR1;
        sev.sigev_value.sival_int = 66;
        timer_t tm;
        bool made = timer_create(CLOCK_MONOTONIC, &sev, &tm) == 0;
        struct itimerspec its = {.it_value = {0, 1}};
        if (made && timer_settime(tm, 0, &its, NULL) == 0)
            armed = 1;
        int chld = 0, errs = 0;
        for (int idle = 0; idle < 2 && errs < 3;) {
            struct ipc_sig_info si;
            long rc = CALL(ipc_sigsrc_read, s, &si);
            if (rc == 1) {
                idle = 0;
                if (si.signo == SIGCHLD && si.pid == pid && si.code == CLD_EXITED && si.status == 9)
                    chld++;
                else if (si.signo == SIGUSR1 && si.code == SI_TIMER && si.value == 66)
                    timers++;
                else
                    problem("sigsrc(flags %u): record signo %d pid %d code %d status %d, "
                            "expected SIGCHLD of %d with status 9",
                            flags, si.signo, (int)si.pid, si.code, si.status, (int)pid);
            } else if (rc == 0 && timers < armed) {
                /* the timer has not fired yet: wait for the fd */
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                if (poll(&pfd, 1, 2000) != 1)
                    break;
            } else if (rc == 0) {
                idle++;
            } else {
                errs++;
            }
        }
        if (made)
            timer_delete(tm);
        if (!errs && chld + timers + (int)ipc_sigsrc_dropped(s) != (pid > 0) + armed)
            problem("sigsrc(flags %u): child exited, timer armed %d: %d SIGCHLD records, %d "
                    "timer records, %lu dropped",
                    flags, armed, chld, timers, ipc_sigsrc_dropped(s));
        /* a SIGCHLD that is not from a child: sender's pid, no status */
        struct ipc_sig_info rec;
        if (!errs && CALL(ipc_sig_send, getpid(), SIGCHLD) == 0 && sigsrc_read_one(s, &rec) == 1 &&
            (rec.signo != SIGCHLD || (rec.code != SI_USER && rec.code != SI_TKILL) ||
             rec.pid != getpid() || rec.status != 0))
            problem("sigsrc(flags %u): kill(SIGCHLD) read as signo %d code %d pid %d status %d",
                    flags, rec.signo, rec.code, (int)rec.pid, rec.status);
        /* a message queue notification: SI_MESGQ and the sigevent's value */
        char qn[64];
        snprintf(qn, sizeof(qn), "/faultsweep-%d-mq%u", (int)g_pid, flags);
        struct mq_attr at = {.mq_maxmsg = 1, .mq_msgsize = 8};
        mqd_t q = mq_open(qn, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &at);
        if (q != (mqd_t)-1) {
            mq_unlink(qn);
            struct sigevent ev;
            memset(&ev, 0, sizeof(ev));
            ev.sigev_notify = SIGEV_SIGNAL;
            ev.sigev_signo = SIGUSR1;
            ev.sigev_value.sival_int = 77;
            if (!errs && mq_notify(q, &ev) == 0 && mq_send(q, "m", 1, 0) == 0 &&
                (sigsrc_read_one(s, &rec) != 1 || rec.signo != SIGUSR1 || rec.code != SI_MESGQ ||
                 rec.value != 77))
                problem("sigsrc(flags %u): a message queue notification read as signo %d code "
                        "%d value %d",
                        flags, rec.signo, rec.code, rec.value);
            mq_close(q);
        }
        int wfd = ipc_sigsrc_backend(s) == IPC_SIGSRC_SELFPIPE ? selfpipe_write_end(fd) : -1;
        if (wfd >= 0) {
            /* fill the pipe behind the library's back, then send one signal */
            (void)fcntl(wfd, F_SETPIPE_SZ, 4096);
            static unsigned char junk[4096];
            memset(junk, 0xab, sizeof(junk));
            size_t filled = 0;
            for (;;) {
                ssize_t w = write(wfd, junk, sizeof(junk));
                if (w > 0)
                    filled += (size_t)w;
                else if (!(w < 0 && errno == EINTR))
                    break;
            }
            unsigned long d0 = ipc_sigsrc_dropped(s);
            if (CALL(ipc_sig_send, getpid(), SIGUSR1) == 0 && ipc_sigsrc_dropped(s) != d0 + 1)
                problem("a SIGUSR1 into a full self-pipe: dropped %lu -> %lu", d0,
                        ipc_sigsrc_dropped(s));
            size_t drained = 0;
            for (;;) {
                ssize_t r = read(fd, junk, sizeof(junk));
                if (r > 0)
                    drained += (size_t)r;
                else if (!(r < 0 && errno == EINTR))
                    break;
            }
            if (drained != filled)
                problem("self-pipe: %zu bytes written by hand, %zu read back", filled, drained);
            struct ipc_sig_info si;
            EXPECT(ipc_sigsrc_read(s, &si), 0);
        }
        ipc_sigsrc_free(s);
        for (int sg = 1; sg < SIGRTMIN; sg++)
            if (sg != SIGKILL && sg != SIGSTOP && blocked_now(sg) != (sigismember(orig, sg) == 1))
                problem("ipc_sigsrc_free(flags %u): signal %d blocked %d, was %d", flags, sg,
                        blocked_now(sg), sigismember(orig, sg));
        struct timespec zero = {0, 0};
        sigprocmask(SIG_BLOCK, &set, NULL);
        while (sigtimedwait(&set, NULL, &zero) > 0)
            ;
        sigprocmask(SIG_SETMASK, orig, NULL);
        /* a watched signal the caller had blocked stays blocked after free */
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, SIGUSR2);
        sigprocmask(SIG_BLOCK, &one, NULL);
        if (CALL(ipc_sigsrc_new, &s, &one, flags) == 0) {
            ipc_sigsrc_free(s);
            if (!blocked_now(SIGUSR2))
                problem("ipc_sigsrc_free(flags %u) unblocked a signal blocked before the source",
                        flags);
        }
        sigprocmask(SIG_SETMASK, orig, NULL);
    }
}

static void sc_sigsrc(void)
{
    sigset_t orig, after;
    sigprocmask(SIG_SETMASK, NULL, &orig);
    sigsrc_more(&orig);
    for (unsigned flags = IPC_SIGSRC_AUTO; flags <= IPC_SIGSRC_FORCE_SELFPIPE; flags++) {
        sigset_t set;
        if (CALL(ipc_sig_mkset, &set, SIGUSR1, SIGRTMIN, 0) < 0)
            return;
        ipc_sigsrc *s;
        if (CALL(ipc_sigsrc_new, &s, &set, flags) < 0)
            continue;
        int fd = ipc_sigsrc_fd(s);
        if (fd < 0 || ipc_sigsrc_backend(s) < 0)
            problem("ipc_sigsrc_fd/backend failed");
        int sent_usr1 = CALL(ipc_sig_send, getpid(), SIGUSR1) == 0;
        int queued = 0;
        for (int v = 0; v < 2; v++)
            queued += CALL(ipc_sig_queue, getpid(), SIGRTMIN, 7) == 0;
        int usr1 = 0, rt = 0, errs = 0;
        for (int idle = 0; idle < 2 && errs < 3;) {
            struct ipc_sig_info si;
            long rc = CALL(ipc_sigsrc_read, s, &si);
            if (rc == 1) {
                idle = 0;
                if (si.signo == SIGUSR1)
                    usr1++;
                else if (si.signo == SIGRTMIN && si.value == 7)
                    rt++;
                else
                    problem("ipc_sigsrc_read: unexpected record signo %d value %d", si.signo,
                            si.value);
            } else if (rc == 0) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                idle++;
                if (poll(&pfd, 1, 0) < 0)
                    break;
            } else {
                errs++;
            }
        }
        unsigned long dropped = ipc_sigsrc_dropped(s);
        if (!errs && (usr1 > sent_usr1 || rt > queued ||
                      (unsigned long)(usr1 + rt) + dropped != (unsigned long)(sent_usr1 + queued)))
            problem("sigsrc(flags %u): sent %d SIGUSR1 + %d SIGRTMIN, read %d + %d, %lu dropped",
                    flags, sent_usr1, queued, usr1, rt, dropped);
        ipc_sigsrc_free(s);
        sigprocmask(SIG_SETMASK, NULL, &after);
        if (sigismember(&after, SIGUSR1) != sigismember(&orig, SIGUSR1))
            problem("ipc_sigsrc_free did not restore the mask");
        /* drain anything a failed read left pending, so the next source is clean */
        struct timespec zero = {0, 0};
        sigprocmask(SIG_BLOCK, &set, NULL);
        while (sigtimedwait(&set, NULL, &zero) > 0)
            ;
        sigprocmask(SIG_SETMASK, &orig, NULL);
    }
}

/* Argument validation of the region functions: exact error codes, *out NULL. */
static void shm_args(void)
{
    ipc_shm *r = (ipc_shm *)&r;
    char big[300];
    memset(big, 'x', sizeof(big));
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    EXPECT(ipc_shm_new_anon(NULL, 4096), -EINVAL);
    EXPECT(ipc_shm_new_anon(&r, 0), -EINVAL);
    if (r)
        problem("a failed ipc_shm_new_anon left *out set");
    EXPECT(ipc_shm_new_anon(&r, IPC_SHM_MAX_SIZE + 1), -EINVAL);
    EXPECT(ipc_shm_new_memfd(NULL, "x", 4096), -EINVAL);
    EXPECT(ipc_shm_new_memfd(&r, "x", 0), -EINVAL);
    EXPECT(ipc_shm_new_memfd(&r, "x", IPC_SHM_MAX_SIZE + 1), -EINVAL);
    EXPECT(ipc_shm_new_memfd(&r, big + 1, 4096), -EINVAL); /* 298 > 249 bytes */
    static const char *const bad_names[] = {"noslash", "/", "/a/b", "/.", "/.."};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(bad_names); i++) {
        EXPECT(ipc_shm_new_named(&r, bad_names[i], 4096, 0), -EINVAL);
        EXPECT(ipc_shm_unlink(bad_names[i]), -EINVAL);
    }
    EXPECT(ipc_shm_new_named(&r, NULL, 4096, 0), -EINVAL);
    EXPECT(ipc_shm_new_named(&r, big, 4096, 0), -EINVAL); /* 299 > IPC_SHM_NAME_MAX */
    EXPECT(ipc_shm_unlink(big), -EINVAL);
    EXPECT(ipc_shm_new_named(NULL, "/ok", 4096, 0), -EINVAL);
    EXPECT(ipc_shm_new_named(&r, "/ok", 4096, 0x2), -EINVAL);
    EXPECT(ipc_shm_new_named(&r, "/ok", IPC_SHM_MAX_SIZE + 1, 0), -EINVAL);
    EXPECT(ipc_shm_new_named(&r, "/ok", 0, 0), -EINVAL);
    EXPECT(ipc_shm_map_fd(NULL, 0, 0), -EINVAL);
    EXPECT(ipc_shm_map_fd(&r, -1, 0), -EBADF);
    EXPECT(ipc_shm_map_fd(&r, 0, IPC_SHM_MAX_SIZE + 1), -EINVAL);
    EXPECT(ipc_shm_map_fd(&r, 1000000, 0), -EBADF); /* not an open fd: fstat fails */
    if (ipc_shm_base(NULL) != NULL || ipc_shm_size(NULL) != 0)
        problem("ipc_shm_base/size(NULL)");
    EXPECT(ipc_shm_fd(NULL), -EINVAL);
    EXPECT(ipc_shm_kind(NULL), -EINVAL);
    ipc_shm_free(NULL);
}

/* In a forked child: frees its inherited copy of the parent's named region,
 * which must leave the name in place (exit 0). */
static int fn_shm_child_free(void *arg)
{
    ipc_shm_free(arg);
    return 0;
}

static void sc_shm(void)
{
    shm_args();
    ipc_shm *a, *m, *mf, *n, *n2;
    if (CALL(ipc_shm_new_anon, &a, 4096) == 0) {
        if (ipc_shm_size(a) != 4096 || ipc_shm_kind(a) != IPC_SHM_ANON || ipc_shm_fd(a) != -EBADF)
            problem("anonymous region: wrong size/kind/fd");
        memset(ipc_shm_base(a), 1, 4096);
        ipc_shm_free(a);
    }
    if (CALL(ipc_shm_new_memfd, &m, "faultsweep", 8192) == 0) {
        if (CALL(ipc_shm_map_fd, &mf, ipc_shm_fd(m), 0) == 0) {
            ((volatile char *)ipc_shm_base(m))[100] = 42;
            if (((volatile char *)ipc_shm_base(mf))[100] != 42 || ipc_shm_size(mf) != 8192)
                problem("memfd region and its ipc_shm_map_fd mapping do not share");
            ipc_shm_free(mf);
        }
        ipc_shm_free(m);
    }
    char name[64];
    snprintf(name, sizeof(name), "/faultsweep-%d-shm", (int)g_pid);
    if (CALL(ipc_shm_new_named, &n, name, 4096, 0) == 0) {
        if (CALL(ipc_shm_new_named, &n2, name, 0, IPC_SHM_OPEN_EXISTING) == 0) {
            ((volatile char *)ipc_shm_base(n))[7] = 9;
            if (((volatile char *)ipc_shm_base(n2))[7] != 9 || ipc_shm_size(n2) != 4096)
                problem("two mappings of a named region do not share");
            ipc_shm_free(n2);
        }
        ipc_shm_free(n);
    }
    if (CALL(ipc_shm_unlink, name) != -ENOENT)
        problem("the named region's name survived ipc_shm_free");

    /* OPEN_EXISTING: size 0 on a missing name is -ENOENT; with a size it creates
     * (and is the creator); a larger size than the object is -EINVAL; a smaller
     * one maps that much; without the flag an existing name is -EEXIST */
    EXPECT_OR_FAULT(ipc_shm_new_named(&n, name, 0, IPC_SHM_OPEN_EXISTING), -ENOENT);
    if (CALL(ipc_shm_new_named, &n, name, 8192, IPC_SHM_OPEN_EXISTING) == 0) {
        EXPECT_OR_FAULT(ipc_shm_new_named(&n2, name, 4096, 0), -EEXIST);
        EXPECT_OR_FAULT(ipc_shm_new_named(&n2, name, 16384, IPC_SHM_OPEN_EXISTING), -EINVAL);
        if (CALL(ipc_shm_new_named, &n2, name, 4096, IPC_SHM_OPEN_EXISTING) == 0) {
            ((volatile char *)ipc_shm_base(n))[4000] = 5;
            if (ipc_shm_size(n2) != 4096 || ((volatile char *)ipc_shm_base(n2))[4000] != 5 ||
                ipc_shm_kind(n2) != IPC_SHM_NAMED || ipc_shm_fd(n2) < 0)
                problem("OPEN_EXISTING with a smaller size: size %zu, not shared",
                        ipc_shm_size(n2));
            ipc_shm_free(n2); /* not the creator: the name stays */
        }
        ipc_proc *p;
        if (CALL(ipc_proc_fork, &p, fn_shm_child_free, n, NULL) == 0)
            proc_expect_exit("child freeing a named region", p, 0);
        /* neither the non-creator nor the child unlinked the name */
        char path[96];
        snprintf(path, sizeof(path), "/dev/shm%s", name);
        if (access(path, F_OK) != 0)
            problem("the name of a live named region was unlinked by a non-creator");
        if (CALL(ipc_shm_new_named, &n2, name, 0, IPC_SHM_OPEN_EXISTING) == 0) {
            if (ipc_shm_size(n2) != 8192)
                problem("the named region reopened with size %zu, not 8192", ipc_shm_size(n2));
            ipc_shm_free(n2);
        }
        ipc_shm_free(n);
        EXPECT(ipc_shm_unlink(name), -ENOENT); /* the creator unlinked it */
    }
    /* ipc_shm_unlink of a live name: gone at once, the mapping stays usable */
    if (CALL(ipc_shm_new_named, &n, name, 4096, 0) == 0) {
        char path[96];
        snprintf(path, sizeof(path), "/dev/shm%s", name);
        if (CALL(ipc_shm_unlink, name) == 0 && access(path, F_OK) == 0)
            problem("ipc_shm_unlink returned 0 and the name is still there");
        ((volatile char *)ipc_shm_base(n))[1] = 1;
        ipc_shm_free(n);
    }
    /* an existing object of size 0 cannot be opened */
    int zfd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (zfd >= 0) {
        close(zfd);
        EXPECT_OR_FAULT(ipc_shm_new_named(&n, name, 0, IPC_SHM_OPEN_EXISTING), -EINVAL);
        shm_unlink(name);
    }
    /* map_fd: a size beyond the object and an empty object are -EINVAL, a smaller
     * size maps a prefix that shares the bytes */
    if (CALL(ipc_shm_new_memfd, &m, NULL, 8192) == 0) {
        EXPECT(ipc_shm_map_fd(&mf, ipc_shm_fd(m), 16384), -EINVAL);
        if (CALL(ipc_shm_map_fd, &mf, ipc_shm_fd(m), 4096) == 0) {
            ((volatile char *)ipc_shm_base(m))[10] = 3;
            if (ipc_shm_size(mf) != 4096 || ipc_shm_kind(mf) != IPC_SHM_FROM_FD ||
                ((volatile char *)ipc_shm_base(mf))[10] != 3)
                problem("ipc_shm_map_fd(size 4096): size %zu or not shared", ipc_shm_size(mf));
            ipc_shm_free(mf);
        }
        ipc_shm_free(m);
    }
    int efd = memfd_create("faultsweep-empty", MFD_CLOEXEC);
    if (efd >= 0) {
        EXPECT(ipc_shm_map_fd(&mf, efd, 0), -EINVAL);
        close(efd);
    }
}

struct counter_area {
    ipc_counter c;
    _Atomic int64_t acked[2];
    pthread_mutex_t mu;
};

static enum ipc_lock_kind g_kind;
static struct counter_area *g_area;

static int fn_counter_child(void *arg)
{
    int slot = (int)(intptr_t)arg;
    for (int i = 0; i < 20; i++)
        if (ipc_counter_add(&g_area->c, 1, NULL) >= 0)
            atomic_fetch_add(&g_area->acked[slot], 1);
    return 0;
}

/* In a forked child: takes the lock (of the counter, or the mutex) and dies
 * holding it. */
static int fn_die_holding(void *arg)
{
    if (arg)
        return ipc_shm_mutex_lock(arg, NULL, NULL) == 0 ? 0 : 1;
    return ipc_counter_lock(&g_area->c) == 0 ? 0 : 1;
}

static int fn_child_destroy(void *arg)
{
    ipc_counter_destroy(arg);
    return 0;
}

static void recover_cb(void *arg)
{
    (*(int *)arg)++;
}

/* Argument validation of the counter and mutex functions, on a counter that
 * was never initialised and on NULL: exact error codes, no effect. */
static void counter_args(void)
{
    enum ipc_lock_kind k = IPC_LOCK_MUTEX;
    EXPECT(ipc_lock_kind_parse(NULL, &k), -EINVAL);
    EXPECT(ipc_lock_kind_parse("mutex", NULL), -EINVAL);
    EXPECT(ipc_lock_kind_parse("spin", &k), -EINVAL);
    if (ipc_lock_kind_parse("none", &k) != 0 || k != IPC_LOCK_NONE ||
        strcmp(ipc_lock_kind_name(IPC_LOCK_NONE), "none") != 0 ||
        strcmp(ipc_lock_kind_name((enum ipc_lock_kind)0), "?") != 0)
        problem("lock kind 'none' / unknown kind names");
    static _Alignas(64) unsigned char raw[sizeof(ipc_counter) + 64];
    memset(raw, 0, sizeof(raw));
    ipc_counter *zero = (ipc_counter *)raw; /* aligned, never initialised */
    int64_t v = 0;
    EXPECT(ipc_counter_init(NULL, IPC_LOCK_MUTEX), -EINVAL);
    EXPECT(ipc_counter_init((ipc_counter *)(raw + 8), IPC_LOCK_MUTEX), -EINVAL);
    EXPECT(ipc_counter_init(zero, (enum ipc_lock_kind)0), -EINVAL);
    EXPECT(ipc_counter_init(zero, (enum ipc_lock_kind)5), -EINVAL);
    EXPECT(ipc_counter_new(NULL, IPC_LOCK_MUTEX), -EINVAL);
    EXPECT(ipc_counter_add(zero, 1, &v), -EINVAL);
    EXPECT(ipc_counter_add(NULL, 1, &v), -EINVAL);
    EXPECT(ipc_counter_get(zero, &v), -EINVAL);
    EXPECT(ipc_counter_lock(zero), -EINVAL);
    EXPECT(ipc_counter_unlock(zero), -EINVAL);
    EXPECT(ipc_counter_kind(zero), -EINVAL);
    EXPECT(ipc_counter_recoveries(zero), 0);
    ipc_counter_destroy(zero);
    ipc_counter_free(zero);
    ipc_counter_destroy(NULL);
    ipc_counter_free(NULL);
    EXPECT(ipc_shm_mutex_init(NULL), -EINVAL);
    EXPECT(ipc_shm_mutex_lock(NULL, NULL, NULL), -EINVAL);
    for (size_t i = 0; i < sizeof(raw); i++)
        if (raw[i])
            problem("a rejected counter call wrote into the memory");
}

/* Per kind, single process: exact values, overflow (mutex/sem refuse, atomic and
 * none wrap), lock errors, and, for the mutex, a holder that dies. */
static void counter_more(ipc_counter *c, enum ipc_lock_kind kind, const char *name)
{
    int64_t v = 0, v2 = 0;
    if (CALL(ipc_counter_get, c, &v) < 0)
        return;
    if (CALL(ipc_counter_add, c, INT64_MAX - v, &v2) < 0)
        return;
    if (v2 != INT64_MAX)
        problem("counter(%s): add to INT64_MAX gave %" PRId64, name, v2);
    long rc = CALL(ipc_counter_add, c, 1, &v2);
    bool locked = kind == IPC_LOCK_MUTEX || kind == IPC_LOCK_SEM;
    if (locked && (rc != -EOVERFLOW || CALL(ipc_counter_get, c, &v) < 0 || v != INT64_MAX))
        problem("counter(%s): INT64_MAX + 1 returned %ld, value %" PRId64, name, rc, v);
    if (!locked && (rc != 0 || v2 != INT64_MIN))
        problem("counter(%s): INT64_MAX + 1 returned %ld, value %" PRId64 " (should wrap)", name,
                rc, v2);
    IPC__IGNORE_RC(ipc_counter_add(c, locked ? -INT64_MAX : INT64_MIN, &v2)); /* to 0 */
    if (v2 != 0)
        problem("counter(%s): back to 0 gave %" PRId64, name, v2);
    if (!locked) {
        EXPECT(ipc_counter_lock(c), -ENOTSUP);
        EXPECT(ipc_counter_unlock(c), -ENOTSUP);
        return;
    }
    if (kind != IPC_LOCK_MUTEX)
        return;
    EXPECT(ipc_counter_unlock(c), -EPERM);
    if (ipc_counter_lock(c) == 0) {
        EXPECT(ipc_counter_lock(c), -EDEADLK);
        EXPECT(ipc_counter_unlock(c), 0);
    }
    /* a child's destroy is a no-op: only the creating process destroys */
    ipc_proc *q;
    if (CALL(ipc_proc_fork, &q, fn_child_destroy, c, NULL) == 0) {
        proc_expect_exit("child destroying the counter", q, 0);
        if (ipc_counter_kind(c) != IPC_LOCK_MUTEX || CALL(ipc_counter_add, c, 0, NULL) < 0)
            problem("a forked child's ipc_counter_destroy destroyed the parent's counter");
    }
    /* a child dies holding the counter's lock: the next add recovers, happens */
    ipc_proc *p;
    if (CALL(ipc_proc_fork, &p, fn_die_holding, NULL, NULL) == 0) {
        proc_expect_exit("counter lock holder", p, 0);
        rc = CALL(ipc_counter_add, c, 3, &v2);
        if (rc != IPC_EOWNERDEAD || v2 != 3 || ipc_counter_recoveries(c) != 1)
            problem("counter(mutex): add after a holder died returned %ld, value %" PRId64
                    ", %" PRIu64 " recoveries",
                    rc, v2, ipc_counter_recoveries(c));
        EXPECT(ipc_counter_add(c, -3, NULL), 0);
    }
    /* the same with the bare robust mutex: recover runs once, under the lock */
    if (CALL(ipc_proc_fork, &p, fn_die_holding, &g_area->mu, NULL) == 0) {
        proc_expect_exit("mutex holder", p, 0);
        int recovered = 0;
        rc = CALL(ipc_shm_mutex_lock, &g_area->mu, recover_cb, &recovered);
        if (rc != IPC_EOWNERDEAD || recovered != 1)
            problem("ipc_shm_mutex_lock after a holder died: %ld, recover ran %d times", rc,
                    recovered);
        if (rc >= 0) {
            EXPECT(ipc_shm_mutex_lock(&g_area->mu, NULL, NULL), -EDEADLK);
            pthread_mutex_unlock(&g_area->mu);
        }
    }
}

static void sc_counter(void)
{
    counter_args();
    static const char *const kinds[] = {"mutex", "sem", "atomic"};
    for (size_t k = 0; k < IPC__ARRAY_SIZE(kinds); k++) {
        if (CALL(ipc_lock_kind_parse, kinds[k], &g_kind) < 0 ||
            strcmp(ipc_lock_kind_name(g_kind), kinds[k]) != 0)
            problem("lock kind '%s' does not round-trip", kinds[k]);
        ipc_shm *r;
        if (CALL(ipc_shm_new_anon, &r, sizeof(struct counter_area)) < 0)
            continue;
        g_area = ipc_shm_base(r);
        if (CALL(ipc_counter_init, &g_area->c, g_kind) < 0) {
            ipc_shm_free(r);
            continue;
        }
        ipc_proc *p[2] = {NULL, NULL};
        for (int i = 0; i < 2; i++)
            if (CALL(ipc_proc_fork, &p[i], fn_counter_child, (void *)(intptr_t)i, NULL) < 0)
                p[i] = NULL;
        int64_t mine = 0, v = 0;
        for (int i = 0; i < 10; i++)
            mine += CALL(ipc_counter_add, &g_area->c, 1, NULL) >= 0;
        for (int i = 0; i < 2; i++)
            if (p[i])
                proc_expect_exit("counter child", p[i], 0);
        if (CALL(ipc_counter_get, &g_area->c, &v) == 0 &&
            v != mine + g_area->acked[0] + g_area->acked[1])
            problem("counter(%s): %" PRId64 " increments acknowledged, value %" PRId64, kinds[k],
                    mine + g_area->acked[0] + g_area->acked[1], v);
        if (g_kind != IPC_LOCK_ATOMIC && CALL(ipc_counter_lock, &g_area->c) >= 0)
            IPC__IGNORE_RC(CALL(ipc_counter_unlock, &g_area->c));
        if (ipc_counter_kind(&g_area->c) != (int)g_kind || ipc_counter_recoveries(&g_area->c))
            problem("ipc_counter_kind/recoveries");
        if (CALL(ipc_shm_mutex_init, &g_area->mu) == 0 &&
            CALL(ipc_shm_mutex_lock, &g_area->mu, NULL, NULL) >= 0)
            pthread_mutex_unlock(&g_area->mu);
        counter_more(&g_area->c, g_kind, kinds[k]);
        EXPECT(ipc_counter_get(&g_area->c, NULL), -EINVAL);
        ipc_counter_free(&g_area->c); /* not from ipc_counter_new: a no-op */
        if (ipc_counter_kind(&g_area->c) != (int)g_kind)
            problem("ipc_counter_free destroyed an in-place counter");
        ipc_counter_destroy(&g_area->c);
        ipc_shm_free(r);
    }
    ipc_counter *c;
    if (CALL(ipc_counter_new, &c, IPC_LOCK_MUTEX) == 0) {
        int64_t v = 0;
        if (CALL(ipc_counter_add, c, 5, &v) == 0 && v != 5)
            problem("ipc_counter_add(5) on a new counter gave %" PRId64, v);
        ipc_counter_free(c);
    }
    EXPECT_OR_FAULT(ipc_counter_new(&c, (enum ipc_lock_kind)9), -EINVAL);
    /* the racy kind, alone: no race, so every add counts */
    if (CALL(ipc_counter_new, &c, IPC_LOCK_NONE) == 0) {
        int64_t v = 0;
        for (int i = 0; i < 3; i++)
            IPC__IGNORE_RC(CALL(ipc_counter_add, c, 2, NULL));
        if (CALL(ipc_counter_get, c, &v) == 0 && v != 6)
            problem("counter(none): 3 adds of 2 in one process gave %" PRId64, v);
        if (ipc_counter_kind(c) != IPC_LOCK_NONE)
            problem("ipc_counter_kind(none) = %d", ipc_counter_kind(c));
        counter_more(c, IPC_LOCK_NONE, "none");
        ipc_counter_free(c);
    }
}

/* Sends len bytes on a and receives them on b (a shut down for writing first);
 * checks that what arrives is exactly what was acknowledged. */
static bool stream_roundtrip(const char *what, int a, int b, size_t len)
{
    bool clean = true;
    static unsigned char out[20000], in[21000];
    fill(out, len, 5);
    long w = CALL(ipc_sock_send_all, a, out, len);
    if (w >= 0 && (size_t)w != len)
        problem("%s: ipc_sock_send_all returned %ld of %zu", what, w, len);
    shutdown(a, SHUT_WR);
    size_t got = 0;
    for (;;) {
        long r = CALL(ipc_sock_recv, b, in + got, sizeof(in) - got);
        if (r <= 0) {
            if (r == 0 && w == (long)len && got != len)
                problem("%s: %zu bytes acknowledged, %zu delivered", what, len, got);
            if (r == 0 && memcmp(in, out, got) != 0)
                problem("%s: delivered bytes differ", what);
            clean = r == 0 && w == (long)len;
            break;
        }
        got += (size_t)r;
    }
    return clean;
}

static void sock_pair(const char *text, unsigned lflags)
{
    struct ipc_sock_addr a, bound, peer, la;
    if (CALL(ipc_sock_addr_parse, &a, text) < 0)
        return;
    int l = (int)CALL(ipc_sock_listen, &a, 0, lflags, &bound);
    if (l < 0)
        return;
    int c = (int)CALL(ipc_sock_connect, &bound, SOCK_STREAM, 2000, 0);
    if (c >= 0) {
        int s = (int)CALL(ipc_sock_accept, l, 0, &peer);
        if (s < 0) /* the connection stays queued: a second accept gets it */
            s = (int)CALL(ipc_sock_accept, l, 0, &peer);
        if (s >= 0) {
            /* the client's own address is the server's view of its peer, and the
             * accepted peer is the same again */
            struct ipc_sock_addr pa;
            char t1[IPC_SOCK_ADDRSTRLEN], t2[IPC_SOCK_ADDRSTRLEN], t3[IPC_SOCK_ADDRSTRLEN];
            if (CALL(ipc_sock_local_addr, c, &la) == 0 && CALL(ipc_sock_peer_addr, s, &pa) == 0 &&
                (ipc_sock_addr_format(&la, t1, sizeof(t1)) < 0 ||
                 ipc_sock_addr_format(&pa, t2, sizeof(t2)) < 0 ||
                 ipc_sock_addr_format(&peer, t3, sizeof(t3)) < 0 || strcmp(t1, t2) != 0 ||
                 strcmp(t1, t3) != 0))
                problem("%s: client local '%s', server peer '%s', accepted peer '%s'", text, t1, t2,
                        t3);
            if (bound.family != AF_UNIX) {
                IPC__IGNORE_RC(CALL(ipc_sock_set_nodelay, c, 1));
                int nd = -1;
                socklen_t nl = sizeof(nd);
                if (CALL(ipc_sock_set_nodelay, c, 0) == 0 &&
                    (getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &nd, &nl) != 0 || nd != 0))
                    problem("%s: ipc_sock_set_nodelay(0) left TCP_NODELAY %d", text, nd);
            } else {
                EXPECT_OR_FAULT(ipc_sock_set_nodelay(c, 1), -EOPNOTSUPP);
            }
            EXPECT_OR_FAULT(ipc_sock_send(c, NULL, 0), 0); /* nothing to send */
            bool clean = stream_roundtrip(text, c, s, 20000);
            long k = clean ? CALL(ipc_sock_send, s, "pong", 4) : -1;
            if (k > 0) {
                long r = 0;
                char buf[8];
                size_t got = 0;
                while (got < (size_t)k) {
                    r = CALL(ipc_sock_recv, c, buf + got, sizeof(buf) - got);
                    if (r <= 0)
                        break;
                    got += (size_t)r;
                }
                if (r >= 0 && (got != (size_t)k || memcmp(buf, "pong", got) != 0))
                    problem("%s: ipc_sock_send acknowledged %ld bytes, %zu arrived", text, k, got);
            }
            if (clean && k == 4 && CALL(ipc_sock_set_nonblock, s, 1) == 0) {
                char b;
                long r = CALL(ipc_sock_recv, s, &b, 1);
                if (r != 0 && r != -EAGAIN && r >= 0)
                    problem("%s: recv on a drained socket returned %ld", text, r);
            }
            close(s);
        }
        close(c);
    }
    close(l);
    if (bound.family == AF_UNIX)
        IPC__IGNORE_RC(CALL(ipc_sock_unlink, &bound));
}

/* What ipc_sock_addr_format must print for an IP address, built independently
 * with inet_ntop from the sockaddr itself. */
static void ip_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, len, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
    } else {
        snprintf(buf, len, "family %d", (int)ss->ss_family);
    }
}

/* parse(text) == 0, format gives want (and its length), port as given. */
static void addr_roundtrip(const char *text, const char *want, int port)
{
    struct ipc_sock_addr a;
    char buf[IPC_SOCK_ADDRSTRLEN], ref[IPC_SOCK_ADDRSTRLEN];
    long rc = ipc_sock_addr_parse(&a, text);
    long n = rc == 0 ? ipc_sock_addr_format(&a, buf, sizeof(buf)) : -1;
    if (rc != 0 || n != (long)strlen(want) || strcmp(buf, want) != 0) {
        problem("'%s' parsed %ld, formatted %ld '%s', expected '%s'", text, rc, n,
                n >= 0 ? buf : "", want);
        return;
    }
    if (ipc_sock_addr_port(&a) != port)
        problem("'%s': port %d, expected %d", text, ipc_sock_addr_port(&a), port);
    if (a.family != AF_UNIX && !strchr(want, '%')) {
        ip_text(&a.ss, ref, sizeof(ref));
        if (strcmp(ref, buf) != 0)
            problem("'%s' formats as '%s', inet_ntop gives '%s'", text, buf, ref);
    }
}

/* The address helpers: round trips, every rejected form (-EINVAL, *out zeroed),
 * truncation, and the argument validation of every socket function (no seam
 * call is made by any of them). */
static void sock_addr_checks(void)
{
    char lo[IF_NAMESIZE] = "", scoped[96];
    addr_roundtrip("1.2.3.4:80", "1.2.3.4:80", 80);
    addr_roundtrip("0.0.0.0:0", "0.0.0.0:0", 0);
    addr_roundtrip("localhost:65535", "127.0.0.1:65535", 65535);
    addr_roundtrip("[::1]:7", "[::1]:7", 7);
    addr_roundtrip("[2001:db8::ff00:42:8329]:443", "[2001:db8::ff00:42:8329]:443", 443);
    if (if_indextoname(1, lo)) { /* numeric and named scope ids both print the name */
        snprintf(scoped, sizeof(scoped), "[fe80::1%%%s]:5", lo);
        addr_roundtrip("[fe80::1%1]:5", scoped, 5);
        addr_roundtrip(scoped, scoped, 5);
    }
    if (!if_indextoname(60000, scoped)) /* no such interface: the number */
        addr_roundtrip("[fe80::1%60000]:5", "[fe80::1%60000]:5", 5);
    addr_roundtrip("unix:/tmp/x.sock", "unix:/tmp/x.sock", -EINVAL);
    addr_roundtrip("unix:@ab", "unix:@ab", -EINVAL);
    addr_roundtrip("unix:@a\001b", "unix:@a?b", -EINVAL);
    addr_roundtrip("unix:@a\177\200", "unix:@a??", -EINVAL);
    char longp[200];
    snprintf(longp, sizeof(longp), "unix:/%0*d", 107, 0); /* 108 bytes: no room for the NUL */
    char longa[200];
    snprintf(longa, sizeof(longa), "unix:@%0*d", 108, 0);
    const char *const bad[] = {
        "",
        "1.2.3.4",
        "1.2.3.4:",
        "1.2.3.4:123456",
        "1.2.3.4:65536",
        "1.2.3.4:+1",
        "1.2.3.4: 1",
        "1.2.3.4:8x",
        "host.example:80",
        "::1:80",
        ":80",
        "1234567890123456:80",
        "[::1]80",
        "[::1",
        "[::1]:x",
        "[]:1",
        "[::1%]:1",
        "[::1%no-such-if0]:1",
        "[zz::1]:1",
        "[0123456789012345678901234567890123456789012345678901234567]:1",
        "[0123:4567:89ab:cdef:0123:4567:89ab:cdef%0123456789012345678901234567890]:1",
        "unix:",
        "unix:@",
        longp,
        longa};
    struct ipc_sock_addr a;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(bad); i++) {
        memset(&a, 0x5a, sizeof(a));
        long rc = ipc_sock_addr_parse(&a, bad[i]);
        if (rc != -EINVAL || a.family != 0 || a.len != 0)
            problem("'%s' parsed as %ld (family %d), expected -EINVAL and a zeroed address", bad[i],
                    rc, a.family);
    }
    EXPECT(ipc_sock_addr_parse(NULL, "1.2.3.4:1"), -EINVAL);
    EXPECT(ipc_sock_addr_parse(&a, NULL), -EINVAL);
    /* host + port */
    static const struct {
        const char *host;
        int port;
        const char *want;
    } hp[] = {{"127.0.0.1", 80, "127.0.0.1:80"},
              {"::1", 7, "[::1]:7"},
              {"[::1]", 8, "[::1]:8"},
              {"localhost", 0, "127.0.0.1:0"},
              {"unix:@hp", 99, "unix:@hp"}};
    char buf[IPC_SOCK_ADDRSTRLEN];
    for (size_t i = 0; i < IPC__ARRAY_SIZE(hp); i++)
        if (ipc_sock_addr_from_host_port(&a, hp[i].host, hp[i].port) != 0 ||
            ipc_sock_addr_format(&a, buf, sizeof(buf)) != (int)strlen(hp[i].want) ||
            strcmp(buf, hp[i].want) != 0)
            problem("host '%s' port %d does not give '%s'", hp[i].host, hp[i].port, hp[i].want);
    EXPECT(ipc_sock_addr_from_host_port(NULL, "::1", 1), -EINVAL);
    EXPECT(ipc_sock_addr_from_host_port(&a, NULL, 1), -EINVAL);
    EXPECT(ipc_sock_addr_from_host_port(&a, "::1", -1), -EINVAL);
    EXPECT(ipc_sock_addr_from_host_port(&a, "::1", 65536), -EINVAL);
    EXPECT(ipc_sock_addr_from_host_port(&a, "[::1", 1), -EINVAL);
    EXPECT(ipc_sock_addr_from_host_port(&a, "host.example", 1), -EINVAL);
    EXPECT(ipc_sock_addr_from_host_port(&a, "", 1), -EINVAL);
    if (a.family != 0)
        problem("a rejected host left the address filled");
    /* format: truncation, NULL, unknown family, an unnamed Unix address */
    if (ipc_sock_addr_parse(&a, "127.0.0.1:6380") == 0) {
        EXPECT(ipc_sock_addr_format(&a, buf, 4), -ENOSPC);
        if (strcmp(buf, "127") != 0)
            problem("a truncated format holds '%s', expected '127'", buf);
        EXPECT(ipc_sock_addr_format(&a, NULL, 0), -ENOSPC);
        EXPECT(ipc_sock_addr_format(&a, NULL, 8), -EINVAL);
        EXPECT(ipc_sock_addr_format(&a, buf, 15), 14);
    }
    EXPECT(ipc_sock_addr_format(NULL, buf, sizeof(buf)), -EINVAL);
    EXPECT(ipc_sock_addr_port(NULL), -EINVAL);
    struct ipc_sock_addr odd;
    memset(&odd, 0, sizeof(odd));
    odd.family = odd.ss.ss_family = AF_APPLETALK;
    odd.len = 16;
    EXPECT(ipc_sock_addr_format(&odd, buf, sizeof(buf)), -EINVAL);
    odd.family = odd.ss.ss_family = AF_UNIX;
    odd.len = sizeof(sa_family_t);
    EXPECT(ipc_sock_addr_format(&odd, buf, sizeof(buf)), 5);
    if (strcmp(buf, "unix:") != 0)
        problem("an unnamed Unix address formats as '%s'", buf);
    /* structurally invalid addresses and flags for every creating call */
    struct ipc_sock_addr ok, mism, badlen, shortun;
    if (ipc_sock_addr_parse(&ok, "127.0.0.1:0") < 0)
        return;
    mism = ok;
    mism.family = AF_INET6;
    badlen = ok;
    badlen.len = 4;
    memset(&shortun, 0, sizeof(shortun));
    shortun.family = shortun.ss.ss_family = AF_UNIX;
    shortun.len = sizeof(sa_family_t);
    struct ipc_sock_addr longun;
    if (ipc_sock_addr_parse(&longun, "unix:/tmp/x") < 0)
        return;
    longun.len = sizeof(struct sockaddr_un) + 1;
    if (ipc_sock_addr_format(&longun, buf, sizeof(buf)) != 11 || strcmp(buf, "unix:/tmp/x") != 0)
        problem("a Unix address with an oversized length formats as '%s'", buf);
    const struct ipc_sock_addr *inval[] = {NULL, &mism, &badlen, &shortun, &odd, &longun};
    EXPECT(ipc_sock_unlink(&shortun), 0); /* no path at all */
    odd.family = odd.ss.ss_family = AF_APPLETALK;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(inval); i++) {
        EXPECT(ipc_sock_listen(inval[i], 0, 0, NULL), -EINVAL);
        EXPECT(ipc_sock_bind_dgram(inval[i], 0, NULL), -EINVAL);
        EXPECT(ipc_sock_connect(inval[i], SOCK_STREAM, 0, 0), -EINVAL);
        if (inval[i])
            EXPECT(ipc_sock_sendto(0, "x", 1, inval[i]), -EINVAL);
    }
    EXPECT(ipc_sock_listen(&ok, 0, 0x100, NULL), -EINVAL);
    EXPECT(ipc_sock_bind_dgram(&ok, 0x100, NULL), -EINVAL);
    EXPECT(ipc_sock_connect(&ok, SOCK_RAW, 0, 0), -EINVAL);
    EXPECT(ipc_sock_connect(&ok, SOCK_STREAM, 0, IPC_SOCK_REUSEPORT), -EINVAL);
    EXPECT(ipc_sock_dgram_open(AF_APPLETALK, 0), -EINVAL);
    EXPECT(ipc_sock_dgram_open(AF_INET, IPC_SOCK_REUSEPORT), -EINVAL);
    EXPECT(ipc_sock_accept(-1, 0, NULL), -EINVAL);
    EXPECT(ipc_sock_accept(0, IPC_SOCK_V6ONLY, NULL), -EINVAL);
    EXPECT(ipc_sock_send(0, NULL, 1), -EINVAL);
    EXPECT(ipc_sock_send_all(0, NULL, 1), -EINVAL);
    EXPECT(ipc_sock_send_all(0, buf, (size_t)SSIZE_MAX + 1), -EINVAL);
    EXPECT(ipc_sock_send_all(-1, NULL, 0), 0); /* nothing to send: no syscall */
    EXPECT(ipc_sock_recv(0, NULL, 1), -EINVAL);
    EXPECT(ipc_sock_recv(0, buf, 0), -EINVAL);
    EXPECT(ipc_sock_sendto(0, NULL, 1, NULL), -EINVAL);
    EXPECT(ipc_sock_recvfrom(0, NULL, 1, NULL), -EINVAL);
    EXPECT(ipc_sock_recvfrom(0, buf, (size_t)SSIZE_MAX + 1, NULL), -EINVAL);
    EXPECT(ipc_sock_set_nonblock(-1, 1), -EBADF);
    EXPECT(ipc_sock_local_addr(0, NULL), -EINVAL);
    EXPECT(ipc_sock_peer_addr(0, NULL), -EINVAL);
    /* unlink: only Unix paths, only sockets */
    EXPECT(ipc_sock_unlink(NULL), -EINVAL);
    EXPECT(ipc_sock_unlink(&ok), 0);
    if (ipc_sock_addr_parse(&a, "unix:@fs-unlink") == 0)
        EXPECT(ipc_sock_unlink(&a), 0);
    char path[96];
    tmp_path(path, sizeof(path), "notsock");
    snprintf(buf, sizeof(buf), "unix:%s", path);
    if (ipc_sock_addr_parse(&a, buf) == 0) {
        EXPECT(ipc_sock_unlink(&a), 0); /* missing */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            EXPECT(ipc_sock_unlink(&a), -ENOTSOCK);
            /* UNLINK_STALE never removes what is not a socket */
            long l = CALL(ipc_sock_listen, &a, 0, IPC_SOCK_UNLINK_STALE, NULL);
            if (l >= 0) {
                problem("listening on a regular file's path succeeded");
                close((int)l);
            }
            if (access(path, F_OK) != 0)
                problem("a regular file was removed by ipc_sock_unlink/UNLINK_STALE");
            unlink(path);
        }
        a.len = sizeof(struct sockaddr_un) + 1;
        EXPECT(ipc_sock_unlink(&a), -EINVAL);
    }
    if (ipc_sock_addr_parse(&a, "unix:/dev/null/x") == 0) {
        EXPECT(ipc_sock_unlink(&a), -ENOTDIR); /* lstat's own error */
    }
}

/* Refusals, a busy address, a full Unix backlog, empty non-blocking accepts. */
static void sock_refusals(void)
{
    struct ipc_sock_addr a, bound;
    char text[128];
    /* a TCP port nobody listens on any more */
    if (CALL(ipc_sock_addr_parse, &a, "127.0.0.1:0") < 0)
        return;
    int l = (int)CALL(ipc_sock_listen, &a, 0, IPC_SOCK_NONBLOCK, &bound);
    if (l >= 0) {
        struct sockaddr_storage raw;
        socklen_t rl = sizeof(raw);
        char ref[IPC_SOCK_ADDRSTRLEN];
        if (getsockname(l, (struct sockaddr *)&raw, &rl) == 0 &&
            ipc_sock_addr_format(&bound, text, sizeof(text)) > 0) {
            ip_text(&raw, ref, sizeof(ref));
            if (strcmp(ref, text) != 0)
                problem("ipc_sock_listen's bound address '%s', getsockname says '%s'", text, ref);
        }
        EXPECT_OR_FAULT(ipc_sock_accept(l, 0, NULL), -EAGAIN);
        EXPECT_OR_FAULT(ipc_sock_listen(&bound, 0, 0, NULL), -EADDRINUSE);
        EXPECT_OR_FAULT(ipc_sock_peer_addr(l, &a), -ENOTCONN);
        close(l);
        uint64_t before = injected_now();
        long c = CALL(ipc_sock_connect, &bound, SOCK_STREAM, 2000, 0);
        if (c >= 0) /* someone else took the port meanwhile */
            close((int)c);
        else
            expect_code_or_fault("ipc_sock_connect", c, -ECONNREFUSED, before);
    }
    /* Unix: a missing path, an abstract name nobody binds, a stale socket file */
    tmp_path(text, sizeof(text), "nobody.sock");
    memmove(text + 5, text, strlen(text) + 1);
    memcpy(text, "unix:", 5);
    if (CALL(ipc_sock_addr_parse, &a, text) == 0)
        EXPECT_OR_FAULT(ipc_sock_connect(&a, SOCK_STREAM, 1000, 0), -ENOENT);
    snprintf(text, sizeof(text), "unix:@faultsweep-%d-nobody", (int)g_pid);
    if (CALL(ipc_sock_addr_parse, &a, text) == 0)
        EXPECT_OR_FAULT(ipc_sock_connect(&a, SOCK_STREAM, 0, 0), -ECONNREFUSED);
    /* a full backlog: a zero-timeout connect does not wait for room */
    snprintf(text, sizeof(text), "unix:@faultsweep-%d-full", (int)g_pid);
    if (CALL(ipc_sock_addr_parse, &a, text) < 0)
        return;
    l = (int)CALL(ipc_sock_listen, &a, 1, 0, NULL);
    if (l < 0)
        return;
    int fds[8], nfd = 0;
    long rc = 0;
    while (nfd < 8) {
        rc = CALL(ipc_sock_connect, &a, SOCK_STREAM, 0, IPC_SOCK_NONBLOCK);
        if (rc < 0)
            break;
        fds[nfd++] = (int)rc;
    }
    if (rc != -ETIMEDOUT && !(rc < 0 && injected_now()))
        problem("unix connect to a full backlog: %ld after %d connections, expected -ETIMEDOUT", rc,
                nfd);
    /* the first queued connection is accepted and works */
    if (nfd > 0) {
        int s = (int)CALL(ipc_sock_accept, l, IPC_SOCK_NONBLOCK, NULL);
        if (s >= 0) {
            if (CALL(ipc_sock_send_all, fds[0], "hi", 2) == 2) {
                char b[4];
                size_t got = 0;
                long r = 0;
                while (got < 2) {
                    struct pollfd pfd = {.fd = s, .events = POLLIN};
                    r = poll(&pfd, 1, 2000) == 1 ? CALL(ipc_sock_recv, s, b + got, 2 - got) : -1;
                    if (r <= 0)
                        break;
                    got += (size_t)r;
                }
                if (r >= 0 && (got != 2 || memcmp(b, "hi", 2) != 0))
                    problem("the accepted backlog connection received %zu bytes", got);
            }
            close(s);
        }
    }
    while (nfd > 0)
        close(fds[--nfd]);
    close(l);
}

static void sc_sock_errors(void)
{
    sock_refusals();
}

static void sc_sock_tcp(void)
{
    sock_addr_checks();
    struct ipc_sock_addr a;
    char text[IPC_SOCK_ADDRSTRLEN];
    if (CALL(ipc_sock_addr_from_host_port, &a, "localhost", 6380) == 0 &&
        (CALL(ipc_sock_addr_format, &a, text, sizeof(text)) < 0 ||
         strcmp(text, "127.0.0.1:6380") != 0 || ipc_sock_addr_port(&a) != 6380))
        problem("localhost:6380 formats as '%s'", text);
    sock_pair("127.0.0.1:0", 0);
    sock_pair("[::1]:0", IPC_SOCK_V6ONLY);
    /* a non-blocking connect with a zero timeout */
    struct ipc_sock_addr bound;
    if (CALL(ipc_sock_addr_parse, &a, "127.0.0.1:0") < 0)
        return;
    int l = (int)CALL(ipc_sock_listen, &a, 4, IPC_SOCK_NONBLOCK | IPC_SOCK_REUSEPORT, &bound);
    if (l < 0)
        return;
    int c = (int)CALL(ipc_sock_connect, &bound, SOCK_STREAM, -1, IPC_SOCK_NONBLOCK);
    int s = -1;
    if (c >= 0) {
        struct pollfd pfd = {.fd = l, .events = POLLIN};
        if (poll(&pfd, 1, 2000) == 1)
            s = (int)CALL(ipc_sock_accept, l, IPC_SOCK_NONBLOCK, NULL);
        if (s >= 0)
            close(s);
        close(c);
    }
    close(l);
}

static void sc_sock_unix(void)
{
    char text[128];
    snprintf(text, sizeof(text), "unix:/tmp/faultsweep-%d.sock", (int)g_pid);
    sock_pair(text, IPC_SOCK_UNLINK_STALE);
    snprintf(text, sizeof(text), "unix:@faultsweep-%d", (int)g_pid);
    sock_pair(text, 0);
    /* a stale path: bound, closed, not unlinked; UNLINK_STALE takes it over */
    struct ipc_sock_addr a;
    snprintf(text, sizeof(text), "unix:/tmp/faultsweep-%d.stale", (int)g_pid);
    if (CALL(ipc_sock_addr_parse, &a, text) < 0)
        return;
    int l = (int)CALL(ipc_sock_listen, &a, 0, 0, NULL);
    if (l >= 0) {
        close(l);
        l = (int)CALL(ipc_sock_listen, &a, 0, IPC_SOCK_UNLINK_STALE, NULL);
        if (l >= 0)
            close(l);
    }
    /* a live listener's path is not stale: -EADDRINUSE, and it keeps working */
    l = (int)CALL(ipc_sock_listen, &a, 0, IPC_SOCK_UNLINK_STALE, NULL);
    if (l >= 0) {
        uint64_t before = injected_now();
        long l2 = CALL(ipc_sock_listen, &a, 0, IPC_SOCK_UNLINK_STALE, NULL);
        /* (an injected ECONNREFUSED on the probe makes it look stale, as a
         * listener between bind and listen would: then it is taken over) */
        if (l2 >= 0) {
            if (injected_now() == before)
                problem("UNLINK_STALE took over the path of a live listener");
            close((int)l2);
        } else {
            expect_code_or_fault("ipc_sock_listen", l2, -EADDRINUSE, before);
        }
        long c = CALL(ipc_sock_connect, &a, SOCK_STREAM, 1000, 0);
        if (c >= 0)
            close((int)c);
        else if ((c == -ENOENT || c == -ECONNREFUSED) && injected_now() == before)
            problem("the live listener's path was removed or replaced (%s)", ipc_errname((int)c));
        close(l);
        if (CALL(ipc_sock_unlink, &a) == 0 && access(text + 5, F_OK) == 0)
            problem("ipc_sock_unlink returned 0 with the socket file present");
    }
    IPC__IGNORE_RC(CALL(ipc_sock_unlink, &a));
    if (access(text + 5, F_OK) == 0) {
        problem("%s is left behind", text + 5);
        unlink(text + 5);
    }
}

static void dgram_exchange(const char *text, int family)
{
    struct ipc_sock_addr a, bound, from;
    if (CALL(ipc_sock_addr_parse, &a, text) < 0)
        return;
    int b = (int)CALL(ipc_sock_bind_dgram, &a, IPC_SOCK_NONBLOCK, &bound);
    if (b < 0)
        return;
    int c = (int)CALL(ipc_sock_dgram_open, family, 0);
    if (c >= 0) {
        char buf[64];
        int sent = CALL(ipc_sock_sendto, c, "hello", 5, &bound) == 5;
        int got = 0;
        long r;
        while ((r = CALL(ipc_sock_recvfrom, b, buf, sizeof(buf), &from)) >= 0 || r == -EINTR) {
            if (r != 5 || memcmp(buf, "hello", 5) != 0)
                problem("%s: datagram of %ld bytes differs", text, r);
            got++;
        }
        if (got != sent) /* an error does not consume a datagram: one more look */
            while (CALL(ipc_sock_recvfrom, b, buf, sizeof(buf), &from) >= 0)
                got++;
        if (got != sent)
            problem("%s: %d datagrams acknowledged, %d received", text, sent, got);
        if (got && CALL(ipc_sock_sendto, b, "re", 2, &from) == 2) {
            r = CALL(ipc_sock_recvfrom, c, buf, sizeof(buf), NULL);
            if (r >= 0 && (r != 2 || memcmp(buf, "re", 2) != 0))
                problem("%s: reply of %ld bytes differs", text, r);
        }
        close(c);
    }
    c = (int)CALL(ipc_sock_connect, &bound, SOCK_DGRAM, 1000, 0);
    if (c >= 0) {
        char buf[8];
        if (CALL(ipc_sock_sendto, c, "x", 1, NULL) == 1) {
            struct pollfd pfd = {.fd = b, .events = POLLIN};
            if (poll(&pfd, 1, 1000) != 1)
                problem("%s: a datagram sent on a connected socket did not arrive", text);
            else
                IPC__IGNORE_RC(CALL(ipc_sock_recvfrom, b, buf, sizeof(buf), NULL));
        }
        close(c);
    }
    close(b);
}

/* Datagram edge cases on a bound receiver: a datagram longer than the buffer is
 * -EMSGSIZE with its first bytes delivered and consumed; a zero-length datagram
 * reads as 0; an unbound Unix sender reads as "unix:". */
static void dgram_edges(const char *text, int family)
{
    struct ipc_sock_addr a, bound, from;
    if (CALL(ipc_sock_addr_parse, &a, text) < 0)
        return;
    int b = (int)CALL(ipc_sock_bind_dgram, &a, 0, &bound);
    if (b < 0)
        return;
    int c = family == AF_UNIX ? socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)
                              : (int)CALL(ipc_sock_dgram_open, family, IPC_SOCK_NONBLOCK);
    if (c >= 0) {
        char buf[8];
        if (CALL(ipc_sock_sendto, c, "truncated", 9, &bound) == 9) {
            memset(buf, 0, sizeof(buf));
            long r = CALL(ipc_sock_recvfrom, b, buf, 3, &from);
            if (r == -EAGAIN || r == -ECONNREFUSED) /* injected: still queued */
                r = CALL(ipc_sock_recvfrom, b, buf, 3, &from);
            if (r != -EMSGSIZE || memcmp(buf, "tru", 3) != 0 || buf[3] != 0)
                problem("%s: a 9-byte datagram into 3 bytes gave %ld '%.8s'", text, r, buf);
            char t[IPC_SOCK_ADDRSTRLEN];
            if (family == AF_UNIX && r == -EMSGSIZE &&
                (ipc_sock_addr_format(&from, t, sizeof(t)) != 5 || strcmp(t, "unix:") != 0))
                problem("%s: an unbound sender reads as '%s', expected 'unix:'", text, t);
        }
        if (CALL(ipc_sock_sendto, c, NULL, 0, &bound) == 0) {
            long r = CALL(ipc_sock_recvfrom, b, NULL, 0, NULL);
            if (r == -EAGAIN || r == -ECONNREFUSED)
                r = CALL(ipc_sock_recvfrom, b, NULL, 0, NULL);
            if (r != 0)
                problem("%s: a zero-length datagram read as %ld", text, r);
        }
        close(c);
    }
    close(b);
}

static void sc_sock_udp(void)
{
    dgram_edges("127.0.0.1:0", AF_INET);
    dgram_edges("[::1]:0", AF_INET6);
    char edge[64];
    snprintf(edge, sizeof(edge), "unix:@faultsweep-%d-e", (int)g_pid);
    dgram_edges(edge, AF_UNIX);
    /* a filesystem path: bound without and with the bound address; a failure
     * after bind removes the path it created */
    snprintf(edge, sizeof(edge), "unix:/tmp/faultsweep-%d.dgram", (int)g_pid);
    struct ipc_sock_addr pa;
    if (CALL(ipc_sock_addr_parse, &pa, edge) == 0) {
        long d = CALL(ipc_sock_bind_dgram, &pa, 0, NULL);
        if (d >= 0) {
            close((int)d);
            if (CALL(ipc_sock_unlink, &pa) == 0 && access(edge + 5, F_OK) == 0)
                problem("%s: ipc_sock_unlink returned 0, the path stays", edge);
        }
        dgram_edges(edge, AF_UNIX);
        IPC__IGNORE_RC(CALL(ipc_sock_unlink, &pa));
        if (access(edge + 5, F_OK) == 0) {
            problem("%s is left behind", edge + 5);
            unlink(edge + 5);
        }
    }
    int v6 = (int)CALL(ipc_sock_dgram_open, AF_INET6, 0);
    if (v6 >= 0)
        close(v6);
    dgram_exchange("127.0.0.1:0", AF_INET);
    char text[64];
    snprintf(text, sizeof(text), "unix:@faultsweep-%d-d", (int)g_pid);
    dgram_exchange(text, AF_UNIX);
}

static int fn_mp5(void *arg)
{
    (void)arg;
    return 5;
}

static int pool_fn(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len,
                   void *arg)
{
    (void)arg;
    if (in_len == 4 && memcmp(in, "fail", 4) == 0)
        return -EDOM;
    if (in_len == 3 && memcmp(in, "die", 3) == 0)
        _exit(1);
    if (in_len == 4 && memcmp(in, "hang", 4) == 0)
        for (;;)
            pause();
    if (in_len == 4 && memcmp(in, "over", 4) == 0) { /* claims more than out_cap */
        *out_len = out_cap + 1;
        return 0;
    }
    if (in_len > out_cap)
        return -EOVERFLOW;
    if (in_len == 3 && memcmp(in, "pos", 3) == 0) { /* a positive return is success */
        ((char *)out)[0] = 's', ((char *)out)[1] = 'o', ((char *)out)[2] = 'p';
        *out_len = 3;
        return 5;
    }
    for (size_t i = 0; i < in_len; i++)
        ((char *)out)[i] = ((const char *)in)[in_len - 1 - i];
    *out_len = in_len;
    return 0;
}

static bool reversed(const char *in, const struct ipc_pool_result *r)
{
    size_t n = strlen(in);
    if (r->len != n || (n && !r->data))
        return false;
    for (size_t i = 0; i < n; i++)
        if (((const char *)r->data)[i] != in[n - 1 - i])
            return false;
    return true;
}

struct collector {
    ipc_pool *p;
    long rc;
    struct ipc_pool_result r;
    _Atomic pid_t tid;
    bool forever; /* collect with -1 instead of 5000 ms */
};

static void *collector_main(void *arg)
{
    struct collector *c = arg;
    c->tid = (pid_t)syscall(SYS_gettid);
    c->rc = ipc_pool_collect(c->p, c->forever ? -1 : 5000, &c->r);
    return NULL;
}

/* A thread mapping one input. */
struct mapper {
    ipc_pool *p;
    long rc;
    struct ipc_pool_result res;
    _Atomic pid_t tid;
};

static void *mapper_main(void *arg)
{
    struct mapper *m = arg;
    struct ipc_pool_buf in = {"mapped", 6};
    m->tid = (pid_t)syscall(SYS_gettid);
    m->rc = ipc_pool_map(m->p, &in, 1, &m->res);
    return NULL;
}

/* A thread closing the pool without a deadline. */
static void *closer_main(void *arg)
{
    struct collector *c = arg;
    c->tid = (pid_t)syscall(SYS_gettid);
    c->rc = ipc_pool_close(c->p, -1);
    return NULL;
}

/* Waits (without sleeping: reading /proc) until thread tid is blocked in the
 * kernel, at most 2 s. */
static void wait_thread_blocked(pid_t tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    int64_t deadline = ipc__now_ms() + 2000;
    while (ipc__now_ms() < deadline) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            return;
        buf[n] = '\0';
        const char *rp = strrchr(buf, ')');
        if (rp && rp[1] == ' ' && rp[2] == 'S')
            return;
        sched_yield();
    }
}

/* Two threads collecting two tasks at once: one polls, the other takes the role
 * over through the wake pipe; each result is collected exactly once. */
static void pool_two_collectors(ipc_pool *p)
{
    uint64_t ids[2];
    bool acked[2];
    acked[0] = CALL(ipc_pool_submit, p, "p1", 2, &ids[0]) == 0;
    acked[1] = CALL(ipc_pool_submit, p, "p2", 2, &ids[1]) == 0;
    struct collector c[2] = {{.p = p}, {.p = p, .forever = true}};
    pthread_t t;
    bool threaded = pthread_create(&t, NULL, collector_main, &c[1]) == 0;
    collector_main(&c[0]);
    if (threaded)
        pthread_join(t, NULL);
    else
        collector_main(&c[1]);
    int got[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        ck("ipc_pool_collect", c[i].rc);
        if (c[i].rc != 0)
            continue;
        for (int k = 0; k < 2; k++)
            if (acked[k] && c[i].r.id == ids[k])
                got[k]++;
        ipc_pool_result_free(&c[i].r);
    }
    for (int k = 0; k < 2; k++)
        if (got[k] != (int)acked[k])
            problem("two collectors: task %d acknowledged %d, collected %d times", k, acked[k],
                    got[k]);
    /* whatever a failed collect left behind */
    struct ipc_pool_result r;
    while (ipc_pool_collect(p, 2000, &r) == 0)
        ipc_pool_result_free(&r);
}

/* Argument validation of pool.h on NULL objects: exact codes, *out NULL. No seam
 * call. */
static void pool_args(void)
{
    ipc_pool *p = (ipc_pool *)&p;
    struct ipc_pool_options o = {.workers = 1};
    EXPECT(ipc_pool_new(NULL, pool_fn, NULL, NULL), -EINVAL);
    EXPECT(ipc_pool_new(&p, NULL, NULL, NULL), -EINVAL);
    if (p)
        problem("a failed ipc_pool_new left *out set");
    o.flags = 1;
    EXPECT(ipc_pool_new(&p, pool_fn, NULL, &o), -EINVAL);
    o = (struct ipc_pool_options){.workers = IPC_POOL_MAX_WORKERS + 1};
    EXPECT(ipc_pool_new(&p, pool_fn, NULL, &o), -EINVAL);
    o = (struct ipc_pool_options){.workers = 1, .max_in = IPC_POOL_MAX_BYTES + 1};
    EXPECT(ipc_pool_new(&p, pool_fn, NULL, &o), -EINVAL);
    o = (struct ipc_pool_options){.workers = 1, .max_out = IPC_POOL_MAX_BYTES + 1};
    EXPECT(ipc_pool_new(&p, pool_fn, NULL, &o), -EINVAL);
    uint64_t id;
    struct ipc_pool_result r;
    struct ipc_pool_buf b = {"x", 1};
    pid_t pids[2];
    EXPECT(ipc_pool_submit(NULL, "x", 1, &id), -EINVAL);
    EXPECT(ipc_pool_collect(NULL, 0, &r), -EINVAL);
    EXPECT(ipc_pool_map(NULL, &b, 1, &r), -EINVAL);
    EXPECT(ipc_pool_close(NULL, 0), -EINVAL);
    EXPECT(ipc_pool_terminate(NULL), -EINVAL);
    EXPECT(ipc_pool_pids(NULL, pids, 2), -EINVAL);
    EXPECT(ipc_pool_replacements(NULL), 0);
    ipc_pool_free(NULL);
    ipc_pool_result_free(NULL);
    /* process objects */
    ipc_mp_process *m = (ipc_mp_process *)&m;
    struct ipc_mp_process_options mo = {.flags = 1};
    struct ipc_proc_status st;
    EXPECT(ipc_mp_process_new(NULL, fn_mp5, NULL, NULL), -EINVAL);
    EXPECT(ipc_mp_process_new(&m, NULL, NULL, NULL), -EINVAL);
    if (m)
        problem("a failed ipc_mp_process_new left *out set");
    EXPECT(ipc_mp_process_new(&m, fn_mp5, NULL, &mo), -EINVAL);
    mo.flags = 0;
    if (CALL(ipc_mp_process_new, &m, fn_mp5, NULL, &mo) == 0) /* zeroed options */
        ipc_mp_process_free(m);
    EXPECT(ipc_mp_process_start(NULL), -EINVAL);
    EXPECT(ipc_mp_process_join(NULL, 0, &st), -EINVAL);
    EXPECT(ipc_mp_process_terminate(NULL), -EINVAL);
    EXPECT(ipc_mp_process_kill(NULL), -EINVAL);
    EXPECT(ipc_mp_process_is_alive(NULL), -EINVAL);
    EXPECT(ipc_mp_process_pid(NULL), 0);
    ipc_mp_process_free(NULL);
}

/* Argument validation that needs a live pool (no task is queued by any). */
static void pool_args_live(ipc_pool *p)
{
    static char big[4097];
    uint64_t id;
    struct ipc_pool_result r, res[2];
    struct ipc_pool_buf nul = {NULL, 1}, huge = {big, sizeof(big)};
    EXPECT(ipc_pool_submit(p, "x", 1, NULL), -EINVAL);
    EXPECT(ipc_pool_submit(p, NULL, 1, &id), -EINVAL);
    EXPECT(ipc_pool_submit(p, big, sizeof(big), &id), -EMSGSIZE);
    EXPECT(ipc_pool_collect(p, -2, &r), -EINVAL);
    EXPECT(ipc_pool_collect(p, 0, NULL), -EINVAL);
    EXPECT(ipc_pool_map(p, NULL, 1, res), -EINVAL);
    EXPECT(ipc_pool_map(p, &nul, 1, NULL), -EINVAL);
    EXPECT(ipc_pool_map(p, &nul, 1, res), -EINVAL);
    EXPECT(ipc_pool_map(p, &huge, 1, res), -EMSGSIZE);
    EXPECT(ipc_pool_map(p, &huge, 0, res), 0); /* nothing to do */
    EXPECT(ipc_pool_map(p, &huge, SIZE_MAX, res), -EINVAL);
    EXPECT(ipc_pool_close(p, -2), -EINVAL);
    EXPECT(ipc_pool_pids(p, NULL, 1), -EINVAL);
    pid_t all[4], one[1];
    int n = ipc_pool_pids(p, all, 4), n0 = ipc_pool_pids(p, NULL, 0), n1 = ipc_pool_pids(p, one, 1);
    if (n0 != n || n1 != n || (n > 0 && one[0] != all[0]))
        problem("ipc_pool_pids: %d with room, %d with none, %d with room for one", n, n0, n1);
    for (int i = 0; i < n && i < 4; i++)
        if (kill(all[i], 0) != 0)
            problem("ipc_pool_pids: worker %d is not a live process", (int)all[i]);
}

/* close with a deadline already past while a task hangs: -ETIMEDOUT, the task is
 * cancelled, and the closed pool refuses new work. */
static void pool_close_deadline(void)
{
    struct ipc_pool_options o = {.workers = 1, .max_pending = 1};
    ipc_pool *p;
    if (CALL(ipc_pool_new, &p, pool_fn, NULL, &o) < 0)
        return;
    uint64_t id, id2;
    if (CALL(ipc_pool_submit, p, "hang", 4, &id) == 0) {
        EXPECT(ipc_pool_submit(p, "x", 1, &id2), -EAGAIN); /* max_pending 1 */
        long rc = CALL(ipc_pool_close, p, 0);
        if (rc != -ETIMEDOUT)
            problem("ipc_pool_close(0) with a hanging task returned %ld, expected -ETIMEDOUT", rc);
        struct ipc_pool_result r;
        rc = CALL(ipc_pool_collect, p, 1000, &r);
        if (rc != 0 || r.id != id || r.status != -ECANCELED)
            problem("the task cut short by close: collect %ld, status %d", rc,
                    rc == 0 ? r.status : 0);
        if (rc == 0)
            ipc_pool_result_free(&r);
        EXPECT(ipc_pool_collect(p, 0, &r), -ENOENT);
    } else {
        IPC__IGNORE_RC(CALL(ipc_pool_close, p, 0));
    }
    struct ipc_pool_buf b = {"x", 1};
    struct ipc_pool_result res[1];
    EXPECT(ipc_pool_submit(p, "x", 1, &id2), -EPIPE);
    EXPECT(ipc_pool_map(p, &b, 1, res), -EPIPE);
    EXPECT(ipc_pool_close(p, 1000), 0); /* already stopped */
    EXPECT(ipc_pool_terminate(p), 0);
    EXPECT(ipc_pool_pids(p, NULL, 0), 0);
    ipc_pool_free(p);
}

static void sc_pool(void)
{
    pool_args();
    static const char *const inputs[] = {"alpha", "beta", "fail", "gamma", "delta",
                                         "die",   "",     "over", "pos"};
    /* each task's status without faults */
    static const int want[] = {0, 0, -EDOM, 0, 0, IPC_ECHILDLOST, 0, -EOVERFLOW, 0};
    enum { NIN = 9 };
    struct ipc_pool_options o = {.workers = 2, .max_in = 4096, .max_out = 4096};
    ipc_pool *p;
    if (CALL(ipc_pool_new, &p, pool_fn, NULL, &o) < 0)
        return;
    pid_t pids[4];
    long np = CALL(ipc_pool_pids, p, pids, 4);
    if (np > 2)
        problem("ipc_pool_pids: %ld workers in a pool of 2", np);
    pool_args_live(p);
    uint64_t ids[NIN];
    bool acked[NIN], seen[NIN];
    for (int i = 0; i < NIN; i++) {
        seen[i] = false;
        size_t len = strlen(inputs[i]);
        acked[i] = CALL(ipc_pool_submit, p, len ? inputs[i] : NULL, len, &ids[i]) == 0;
    }
    for (;;) {
        struct ipc_pool_result r;
        long rc = CALL(ipc_pool_collect, p, 5000, &r);
        if (rc == -ENOENT)
            break;
        if (rc < 0) {
            problem("ipc_pool_collect returned %s with results outstanding", ipc_errname((int)rc));
            break;
        }
        int i = 0;
        while (i < NIN && !(acked[i] && ids[i] == r.id))
            i++;
        if (i == NIN) {
            problem("ipc_pool_collect returned unknown id %" PRIu64, r.id);
        } else if (seen[i]) {
            problem("task %d ('%s') returned twice", i, inputs[i]);
        } else {
            seen[i] = true;
            if (r.status == 0 && i != 8 && !reversed(inputs[i], &r))
                problem("task '%s': wrong result", inputs[i]);
            if (r.status == 0 && i == 8 && (r.len != 3 || memcmp(r.data, "sop", 3) != 0))
                problem("task 'pos' (returned 5): wrong result");
            if (r.status != 0 && r.data)
                problem("task '%s' failed (%d) with data", inputs[i], r.status);
            /* a fault may turn any task into a worker loss or a failed copy,
             * never into a success it was not */
            if (r.status != want[i] &&
                (!injected_now() ||
                 (r.status != IPC_ECHILDLOST && r.status != -ENOMEM && r.status != -EAGAIN)))
                problem("task '%s': status %d, expected %d", inputs[i], r.status, want[i]);
            if (r.status < 0)
                note_err("ipc_pool_result.status", ipc_errname(r.status));
        }
        ipc_pool_result_free(&r);
    }
    for (int i = 0; i < NIN; i++)
        if (acked[i] && !seen[i])
            problem("task %d ('%s') was acknowledged and never returned", i, inputs[i]);
    struct ipc_pool_buf in[3] = {{"one", 3}, {"two", 3}, {"three", 5}};
    struct ipc_pool_result res[3];
    if (CALL(ipc_pool_map, p, in, 3, res) == 0) {
        for (int i = 0; i < 3; i++) {
            if (res[i].status == 0 && !reversed(in[i].data, &res[i]))
                problem("ipc_pool_map: result %d is wrong", i);
            if (res[i].status < 0)
                note_err("ipc_pool_map.status", ipc_errname(res[i].status));
            ipc_pool_result_free(&res[i]);
        }
    }
    /* 'die' killed two workers, each replaced */
    if (!injected_now() && ipc_pool_replacements(p) != 2)
        problem("ipc_pool_replacements: %" PRIu64 " after two worker deaths",
                ipc_pool_replacements(p));
    /* a map longer than its window (4 * workers + 4 inputs in flight) */
    enum { NMAP = 14 };
    static const char *const words[NMAP] = {"m0", "m1", "m2", "m3", "m4", "m5", "m6",
                                            "m7", "m8", "m9", "ma", "mb", "mc", ""};
    struct ipc_pool_buf win[NMAP];
    struct ipc_pool_result wres[NMAP];
    for (int i = 0; i < NMAP; i++) /* the last: no bytes, NULL data */
        win[i] = (struct ipc_pool_buf){*words[i] ? words[i] : NULL, strlen(words[i])};
    if (CALL(ipc_pool_map, p, win, NMAP, wres) == 0) {
        for (int i = 0; i < NMAP; i++) {
            if ((wres[i].status == 0 && !reversed(words[i], &wres[i])) ||
                (wres[i].status != 0 && !injected_now()))
                problem("ipc_pool_map of %d: result %d is wrong (status %d)", NMAP, i,
                        wres[i].status);
            ipc_pool_result_free(&wres[i]);
        }
    }
    pool_two_collectors(p);
    /* a graceful close runs what is queued; the results stay collectable */
    static const char *const tails[3] = {"tail1", "tail2", "tail3"};
    uint64_t tid[3];
    bool tacked[3];
    for (int k = 0; k < 3; k++) /* two run at once, the third waits in the queue */
        tacked[k] = CALL(ipc_pool_submit, p, tails[k], 5, &tid[k]) == 0;
    long crc = CALL(ipc_pool_close, p, 5000);
    int tgot[3] = {0, 0, 0};
    struct ipc_pool_result tr;
    while (CALL(ipc_pool_collect, p, 0, &tr) == 0) {
        for (int k = 0; k < 3; k++) {
            if (!tacked[k] || tr.id != tid[k])
                continue;
            tgot[k]++;
            if (crc == 0 && tr.status == 0 && !reversed(tails[k], &tr))
                problem("a task drained by close has the wrong result");
            if (crc == 0 && !injected_now() && tr.status != 0)
                problem("a task drained by a clean close has status %d", tr.status);
        }
        ipc_pool_result_free(&tr);
    }
    for (int k = 0; k < 3; k++)
        if (tgot[k] != (int)tacked[k])
            problem("close: task %d acknowledged %d, collected %d times", k, tacked[k], tgot[k]);
    if (crc == 0 && CALL(ipc_pool_pids, p, NULL, 0) != 0)
        problem("workers left after a clean close");
    ipc_pool_free(p);
}

/* Two workers, one killed while idle: the task meant for it runs on the other,
 * the dead one is replaced (or, if that fork fails, its slot stays empty until
 * close, which still ends cleanly). */
static void sc_pool_killed(void)
{
    struct ipc_pool_options o = {.workers = 2, .max_in = 64, .max_out = 64};
    ipc_pool *p;
    if (CALL(ipc_pool_new, &p, pool_fn, NULL, &o) < 0)
        return;
    pid_t w[2];
    uint64_t id;
    if (ipc_pool_pids(p, w, 2) == 2) {
        kill(w[0], SIGKILL);
        siginfo_t si;
        while (waitid(P_PID, (id_t)w[0], &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
            ;
        if (CALL(ipc_pool_submit, p, "k2", 2, &id) == 0) {
            struct ipc_pool_result r;
            long rc = CALL(ipc_pool_collect, p, 5000, &r);
            if (rc != 0 || r.id != id || (r.status == 0 ? !reversed("k2", &r) : !injected_now()))
                problem("two workers, one killed: collect %ld, status %d", rc,
                        rc == 0 ? r.status : 0);
            if (rc == 0)
                ipc_pool_result_free(&r);
        }
        long crc = CALL(ipc_pool_close, p, 5000);
        if (crc != 0 && !injected_now())
            problem("close of a pool with a killed worker returned %ld", crc);
        if (crc == 0)
            EXPECT(ipc_pool_pids(p, NULL, 0), 0);
    }
    ipc_pool_free(p);
}

/* A small pool whose lone worker dies: every seam call of the loss and the
 * replacement is failed in turn. */
static void sc_pool_lost(void)
{
    /* a lone worker that dies twice on one task: IPC_ECHILDLOST (or, if the
     * replacement cannot be forked, that fork's error) */
    struct ipc_pool_options o1 = {.workers = 1, .max_in = 64, .max_out = 64};
    ipc_pool *p;
    uint64_t id;
    if (CALL(ipc_pool_new, &p, pool_fn, NULL, &o1) < 0)
        return;
    if (CALL(ipc_pool_submit, p, "die", 3, &id) == 0) {
        struct ipc_pool_result r;
        long rc = CALL(ipc_pool_collect, p, 5000, &r);
        if (rc != 0 || r.id != id ||
            (r.status != IPC_ECHILDLOST &&
             !(injected_now() && (r.status == -EAGAIN || r.status == -ENOMEM ||
                                  r.status == -EMFILE || r.status == -ENFILE))))
            problem("a task that kills its lone worker twice: collect %ld, status %d", rc,
                    rc == 0 ? r.status : 0);
        if (rc == 0)
            ipc_pool_result_free(&r);
    }
    ipc_pool_free(p);
}

/* Stopping a pool: close with a past deadline, terminate with tasks running and
 * queued while another thread collects, close cut short by terminate, free
 * while open. */
static void sc_pool_stop(void)
{
    pool_close_deadline();
    ipc_pool *p;
    /* terminate with a task in flight */
    struct ipc_pool_options o1 = {.workers = 1}; /* default byte limits */
    if (CALL(ipc_pool_new, &p, pool_fn, NULL, &o1) < 0)
        return;
    uint64_t id;
    if (CALL(ipc_pool_submit, p, "hang", 4, &id) == 0) {
        struct ipc_pool_result r;
        long rc = CALL(ipc_pool_collect, p, 0, &r);
        if (rc == 0)
            problem("a hanging task completed");
        /* terminate while another thread polls in collect: it is woken through
         * the pool's wake pipe and returns the cancelled task */
        struct collector c = {.p = p, .tid = 0};
        pthread_t t;
        bool threaded = pthread_create(&t, NULL, collector_main, &c) == 0;
        while (threaded && !c.tid)
            sched_yield();
        if (threaded) {
            wait_thread_blocked(c.tid);
            /* the other thread polls: a zero-timeout collect does not wait */
            EXPECT_OR_FAULT(ipc_pool_collect(p, 0, &r), -ETIMEDOUT);
        }
        /* a second task waits in the queue behind the hanging one; a second
         * collector (no deadline) and a map wait for the polling thread */
        uint64_t qid = 0;
        bool queued = CALL(ipc_pool_submit, p, "queued", 6, &qid) == 0;
        struct collector c2 = {.p = p, .tid = 0, .forever = true};
        struct mapper m = {.p = p, .tid = 0};
        pthread_t t2, t3;
        bool th2 = threaded && pthread_create(&t2, NULL, collector_main, &c2) == 0;
        bool th3 = threaded && pthread_create(&t3, NULL, mapper_main, &m) == 0;
        while ((th2 && !c2.tid) || (th3 && !m.tid))
            sched_yield();
        if (th2)
            wait_thread_blocked(c2.tid);
        if (th3)
            wait_thread_blocked(m.tid);
        IPC__IGNORE_RC(CALL(ipc_pool_terminate, p));
        if (th3) {
            pthread_join(t3, NULL);
            ck("ipc_pool_map", m.rc);
            if (m.rc == 0 && m.res.status != -ECANCELED)
                problem("a map cut short by terminate: status %d, not -ECANCELED", m.res.status);
            if (m.rc == 0)
                ipc_pool_result_free(&m.res);
            else if (m.rc != -EPIPE && m.rc != -ENOMEM)
                problem("a map cut short by terminate returned %ld", m.rc);
        }
        int got_hang = 0, got_q = 0;
        for (int k = 0; k < 4; k++) {
            if (k == 0 && threaded) {
                pthread_join(t, NULL);
                rc = ck("ipc_pool_collect", c.rc);
                r = c.r;
            } else if (k == 1 && th2) {
                pthread_join(t2, NULL);
                rc = ck("ipc_pool_collect", c2.rc);
                r = c2.r;
            } else {
                rc = CALL(ipc_pool_collect, p, 1000, &r);
            }
            if (rc != 0) {
                if (k >= 2)
                    break;
                continue;
            }
            got_hang += r.id == id;
            got_q += queued && r.id == qid;
            if (r.status != -ECANCELED)
                problem("a terminated task has status %d, not -ECANCELED", r.status);
            ipc_pool_result_free(&r);
        }
        if (got_hang != 1 || got_q != (int)queued)
            problem("terminate: the running task collected %d times, the queued one %d of %d",
                    got_hang, got_q, (int)queued);
    }
    ipc_pool_free(p);

    /* close without a deadline, cut short by terminate from another thread */
    if (CALL(ipc_pool_new, &p, pool_fn, NULL, &o1) < 0)
        return;
    if (CALL(ipc_pool_submit, p, "hang", 4, &id) == 0) {
        struct collector c = {.p = p, .tid = 0};
        pthread_t t;
        if (pthread_create(&t, NULL, closer_main, &c) == 0) {
            while (!c.tid)
                sched_yield();
            wait_thread_blocked(c.tid);
            IPC__IGNORE_RC(CALL(ipc_pool_terminate, p));
            pthread_join(t, NULL);
            if (c.rc != -ECANCELED && c.rc != 0)
                problem("ipc_pool_close cut short by terminate returned %ld, expected -ECANCELED",
                        c.rc);
            struct ipc_pool_result r;
            long rc = CALL(ipc_pool_collect, p, 1000, &r);
            if (rc != 0 || r.id != id || r.status != -ECANCELED)
                problem("the task of a terminated close: collect %ld, status %d", rc,
                        rc == 0 ? r.status : 0);
            if (rc == 0)
                ipc_pool_result_free(&r);
        }
    }
    ipc_pool_free(p);

    /* a worker killed while idle: the next task's write fails (EPIPE, no
     * SIGPIPE), the worker is replaced and the task runs there; a worker killed
     * before close: its QUIT write fails and close still returns 0 */
    if (CALL(ipc_pool_new, &p, pool_fn, NULL, &o1) < 0)
        return;
    for (int round = 0; round < 2; round++) {
        pid_t wp;
        if (ipc_pool_pids(p, &wp, 1) != 1)
            break;
        kill(wp, SIGKILL);
        siginfo_t si;
        while (waitid(P_PID, (id_t)wp, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
            ;
        if (round == 1) {
            long crc = CALL(ipc_pool_close, p, 5000);
            if (crc != 0 && !injected_now())
                problem("close after its idle worker was killed returned %ld", crc);
            EXPECT(ipc_pool_pids(p, NULL, 0), 0);
            break;
        }
        if (CALL(ipc_pool_submit, p, "k1", 2, &id) == 0) {
            struct ipc_pool_result r;
            long rc = CALL(ipc_pool_collect, p, 5000, &r);
            if (rc != 0 || r.id != id || (r.status == 0 ? !reversed("k1", &r) : !injected_now()))
                problem("a task sent to a killed idle worker: collect %ld, status %d", rc,
                        rc == 0 ? r.status : 0);
            if (rc == 0)
                ipc_pool_result_free(&r);
            if (!injected_now() && ipc_pool_replacements(p) != 1)
                problem("a killed idle worker: %" PRIu64 " replacements, expected 1",
                        ipc_pool_replacements(p));
        }
    }
    ipc_pool_free(p);

    /* freed while open, with a task running and one queued: nothing is left.
     * Default worker count (one per CPU) where that is small. */
    if (sysconf(_SC_NPROCESSORS_ONLN) <= 4)
        o1.workers = 0;
    if (CALL(ipc_pool_new, &p, pool_fn, NULL, &o1) < 0)
        return;
    if (o1.workers == 0 && !injected_now() &&
        ipc_pool_pids(p, NULL, 0) != (int)sysconf(_SC_NPROCESSORS_ONLN))
        problem("a default pool has %d workers, %ld CPUs online", ipc_pool_pids(p, NULL, 0),
                sysconf(_SC_NPROCESSORS_ONLN));
    IPC__IGNORE_RC(CALL(ipc_pool_submit, p, "a", 1, &id));
    IPC__IGNORE_RC(CALL(ipc_pool_submit, p, "b", 1, &id));
    ipc_pool_free(p);
}

/* The object's state machine: not started, running, ended but not joined,
 * joined; each call's documented result in each state. */
static void mp_states(void)
{
    ipc_mp_process *p;
    struct ipc_proc_status st;
    if (CALL(ipc_mp_process_new, &p, fn_pause, NULL, NULL) < 0)
        return;
    EXPECT(ipc_mp_process_join(p, 0, &st), -EINVAL);
    EXPECT(ipc_mp_process_terminate(p), -EINVAL);
    EXPECT(ipc_mp_process_kill(p), -EINVAL);
    EXPECT(ipc_mp_process_is_alive(p), 0);
    EXPECT(ipc_mp_process_pid(p), 0);
    if (CALL(ipc_mp_process_start, p) == 0) {
        EXPECT(ipc_mp_process_start(p), -EALREADY);
        EXPECT(ipc_mp_process_join(p, -2, &st), -EINVAL);
        EXPECT_OR_FAULT(ipc_mp_process_join(p, 0, &st), -ETIMEDOUT);
        if (CALL(ipc_mp_process_kill, p) == 0 && CALL(ipc_mp_process_join, p, -1, NULL) == 0) {
            EXPECT(ipc_mp_process_terminate(p), -ESRCH);
            EXPECT(ipc_mp_process_kill(p), -ESRCH);
            EXPECT(ipc_mp_process_is_alive(p), 0);
            /* the stored status, again */
            if (CALL(ipc_mp_process_join, p, 0, &st) != 0 || !st.signaled || st.signal != SIGKILL)
                problem("a second join: raw status %#x, expected SIGKILL", st.raw);
        }
    }
    ipc_mp_process_free(p);
    /* ended, not joined: is_alive reaps it and join still reports its status */
    if (CALL(ipc_mp_process_new, &p, fn_mp5, NULL, NULL) < 0)
        return;
    if (CALL(ipc_mp_process_start, p) == 0) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        /* wait for the exit without reaping it (WNOWAIT) */
        while (waitid(P_PID, (id_t)ipc_mp_process_pid(p), &si, WEXITED | WNOWAIT) < 0 &&
               errno == EINTR)
            ;
        long alive = CALL(ipc_mp_process_is_alive, p);
        if (alive != 0 && !(alive < 0 && injected_now()))
            problem("ipc_mp_process_is_alive of an ended child returned %ld", alive);
        if (CALL(ipc_mp_process_join, p, 0, &st) == 0 && !(st.exited && st.code == 5))
            problem("join after is_alive reaped: raw status %#x, expected exit 5", st.raw);
        if (ipc_mp_process_pid(p) <= 0)
            problem("ipc_mp_process_pid is not kept after reaping");
    }
    ipc_mp_process_free(p);
}

/* A child reaped behind the object's back (waitpid on its pid, which pool.h asks
 * callers not to do): join and is_alive report -ECHILD, never a made-up status,
 * and free does not wait for it. */
static void mp_reaped_elsewhere(void)
{
    ipc_mp_process *p;
    if (CALL(ipc_mp_process_new, &p, fn_mp5, NULL, NULL) < 0)
        return;
    if (CALL(ipc_mp_process_start, p) == 0) {
        int raw;
        pid_t pid = ipc_mp_process_pid(p), r;
        while ((r = waitpid(pid, &raw, 0)) < 0 && errno == EINTR)
            ;
        struct ipc_proc_status st;
        if (r == pid) {
            EXPECT_OR_FAULT(ipc_mp_process_join(p, 1000, &st), -ECHILD);
            EXPECT_OR_FAULT(ipc_mp_process_is_alive(p), -ECHILD);
        }
    }
    ipc_mp_process_free(p);
    /* the same, found by is_alive first */
    if (CALL(ipc_mp_process_new, &p, fn_mp5, NULL, NULL) < 0)
        return;
    if (CALL(ipc_mp_process_start, p) == 0) {
        int raw;
        pid_t pid = ipc_mp_process_pid(p), r;
        while ((r = waitpid(pid, &raw, 0)) < 0 && errno == EINTR)
            ;
        if (r == pid)
            EXPECT_OR_FAULT(ipc_mp_process_is_alive(p), -ECHILD);
    }
    ipc_mp_process_free(p);
}

static void sc_mp_process(void)
{
    mp_states();
    mp_reaped_elsewhere();
    ipc_mp_process *p;
    if (CALL(ipc_mp_process_new, &p, fn_mp5, NULL, NULL) < 0)
        return;
    if (CALL(ipc_mp_process_start, p) == 0) {
        if (ipc_mp_process_pid(p) <= 0)
            problem("ipc_mp_process_pid <= 0 after start");
        struct ipc_proc_status st;
        long rc = CALL(ipc_mp_process_join, p, 5000, &st);
        if (rc == 0 && !(st.exited && st.code == 5))
            problem("mp_process: raw status %#x, expected exit 5", st.raw);
        if (rc == 0 && CALL(ipc_mp_process_is_alive, p) != 0)
            problem("a joined mp_process is alive");
    }
    ipc_mp_process_free(p);
    for (int how = 0; how < 3; how++) {
        if (CALL(ipc_mp_process_new, &p, fn_pause, NULL, NULL) < 0)
            continue;
        if (CALL(ipc_mp_process_start, p) == 0 && how < 2) {
            long alive = CALL(ipc_mp_process_is_alive, p);
            if (alive == 0)
                problem("a pausing mp_process is not alive");
            long rc = how ? CALL(ipc_mp_process_kill, p) : CALL(ipc_mp_process_terminate, p);
            struct ipc_proc_status st;
            if (rc == 0 && CALL(ipc_mp_process_join, p, 5000, &st) == 0 &&
                !(st.signaled && st.signal == (how ? SIGKILL : SIGTERM)))
                problem("mp_process: raw status %#x after a signal", st.raw);
        }
        ipc_mp_process_free(p); /* how 2: still running */
    }
}

static void sc_resp(void)
{
    struct ipc_resp_parser p;
    if (CALL(ipc_resp_parser_init, &p, NULL) < 0)
        return;
    static char big[6000];
    int bl = snprintf(big, sizeof(big), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n");
    memset(big + bl, 'v', 5000);
    memcpy(big + bl + 5000, "\r\n", 2);
    size_t biglen = (size_t)bl + 5002;
    const char *inl = "SET \"a b\" 'c\\'d' e f g h i j k l m n o p q r s t u v w x y z\r\n";
    const char *inputs[] = {"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", inl, big};
    size_t lens[] = {strlen(inputs[0]), strlen(inl), biglen};
    size_t argcs[] = {2, 25, 3};
    for (int i = 0; i < 3; i++) {
        struct ipc_resp_cmd cmd;
        long rc = CALL(ipc_resp_parse, &p, inputs[i], lens[i], &cmd);
        if (rc == IPC_ENEEDMORE) {
            problem("ipc_resp_parse needs more of a whole command %d", i);
        } else if (rc > 0) {
            if ((size_t)rc != lens[i] || cmd.argc != argcs[i])
                problem("command %d: consumed %ld of %zu, argc %zu", i, rc, lens[i], cmd.argc);
            else if (i == 1 && (cmd.argv[1].len != 3 || memcmp(cmd.argv[1].ptr, "a b", 3) != 0))
                problem("inline quoted argument parsed wrongly");
        } else if (rc < 0) {
            /* an error is sticky until reset */
            ipc_resp_parser_reset(&p);
        }
    }
    struct ipc_resp_cmd cmd;
    long rc = CALL(ipc_resp_parse, &p, "*x\r\n", 4, &cmd);
    if (rc != IPC_EPROTO_MULTIBULK)
        problem("'*x' parsed as %ld", rc);
    struct ipc_resp_buf b = {.data = NULL};
    char expect[512];
    size_t el = 0;
    (void)ipc_resp_parser_errmsg(&p);
    if (CALL(ipc_resp_write_parse_error, &b, &p) == 0) {
        static const char pe[] = "-ERR Protocol error: invalid multibulk length\r\n";
        memcpy(expect, pe, sizeof(pe) - 1);
        el = sizeof(pe) - 1;
    }
    ipc_resp_parser_free(&p);
#define ACKED(text, call, ...)                                                                     \
    do {                                                                                           \
        if (CALL(call, __VA_ARGS__) == 0) {                                                        \
            memcpy(expect + el, text, strlen(text));                                               \
            el += strlen(text);                                                                    \
        }                                                                                          \
    } while (0)
    ACKED("+OK\r\n", ipc_resp_write_simple, &b, "OK", 2);
    ACKED("-ERR x\r\n", ipc_resp_write_error, &b, "ERR x", 5);
    ACKED(":-42\r\n", ipc_resp_write_int, &b, -42);
    ACKED("$3\r\nabc\r\n", ipc_resp_write_bulk, &b, "abc", 3);
    ACKED("$-1\r\n", ipc_resp_write_null, &b);
    ACKED("*2\r\n", ipc_resp_write_array, &b, 2);
    ACKED("*0\r\n", ipc_resp_write_empty_array, &b);
    ACKED("*-1\r\n", ipc_resp_write_null_array, &b);
    ACKED("raw", ipc_resp_buf_append, &b, "raw", 3);
#undef ACKED
    if (b.len != el || (el && memcmp(b.data, expect, el) != 0))
        problem("resp buffer holds %zu bytes, %zu acknowledged (or different bytes)", b.len, el);
    if (el >= 3 && CALL(ipc_resp_buf_consume, &b, 3) == 0 &&
        (b.len != el - 3 || memcmp(b.data, expect + 3, el - 3) != 0))
        problem("ipc_resp_buf_consume(3) left the wrong bytes");
    ipc_resp_buf_free(&b);
    if (strlen(ipc_resp_errmsg(IPC_EPROTO_BULK)) == 0)
        problem("ipc_resp_errmsg is empty");
}

/* CRC-32C edges: names, unknown implementations, NULL buffers, unaligned input. */
static void pure_crc_edges(void)
{
    static const struct {
        enum ipc_crc32c_impl impl;
        const char *name;
    } names[] = {{IPC_CRC32C_AUTO, "auto"},
                 {IPC_CRC32C_TABLE, "table"},
                 {IPC_CRC32C_SSE42, "sse4.2"},
                 {IPC_CRC32C_SSE42_3WAY, "sse4.2-3way"},
                 {(enum ipc_crc32c_impl)99, "unknown"}};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(names); i++)
        if (strcmp(ipc_crc32c_name(names[i].impl), names[i].name) != 0)
            problem("ipc_crc32c_name(%d) is '%s', expected '%s'", (int)names[i].impl,
                    ipc_crc32c_name(names[i].impl), names[i].name);
    EXPECT(ipc_crc32c_available((enum ipc_crc32c_impl)99), -EINVAL);
    EXPECT(ipc_crc32c_force((enum ipc_crc32c_impl)99), -EINVAL);
    EXPECT(ipc_crc32c_available(IPC_CRC32C_TABLE), 1);
    if (ipc_crc32c(0x1234u, NULL, 5) != 0x1234u ||
        ipc_crc32c_with(IPC_CRC32C_TABLE, 0x1234u, NULL, 5) != 0x1234u)
        problem("a CRC-32C over a NULL buffer is not the initial value");
    /* RFC 3720 B.4 check value, from every alignment, and an unknown impl (table) */
    static _Alignas(16) unsigned char ub[32];
    for (size_t a = 0; a < 8; a++) {
        memset(ub, 0, sizeof(ub));
        memcpy(ub + a, "123456789", 9);
        for (int impl = IPC_CRC32C_AUTO; impl <= IPC_CRC32C_SSE42_3WAY + 1; impl++)
            if (ipc_crc32c_with((enum ipc_crc32c_impl)impl, 0, ub + a, 9) != 0xe3069283u)
                problem("CRC-32C(impl %d) of 123456789 at offset %zu is wrong", impl, a);
    }
    /* 32 zero bytes: RFC 3720 B.4 gives 0x8a9136aa */
    memset(ub, 0, sizeof(ub));
    if (ipc_crc32c_with(IPC_CRC32C_TABLE, 0, ub, 32) != 0x8a9136aau)
        problem("CRC-32C of 32 zero bytes is wrong");
}

/* The error map against an independent list: the values, names and texts that
 * ipc/error.h documents, typed in again here; errno codes against strerror and
 * the errno names; everything else is unknown. */
static void pure_error_map(void)
{
    static const struct {
        int code;
        const char *name, *text;
    } map[] = {
        {-5001, "IPC_ENEEDMORE", "need more input"},
        {-5002, "IPC_EBADMAGIC", "bad frame magic"},
        {-5003, "IPC_EBADVERSION", "bad frame version"},
        {-5004, "IPC_ETOOLARGE", "frame payload too large"},
        {-5005, "IPC_EBADCRC", "frame CRC mismatch"},
        {-5006, "IPC_ETRUNCATED", "truncated frame (end of stream inside a frame)"},
        {-5010, "IPC_EPROTO_MULTIBULK", "Protocol error: invalid multibulk length"},
        {-5011, "IPC_EPROTO_BULK", "Protocol error: invalid bulk length"},
        {-5012, "IPC_EPROTO_DOLLAR", "Protocol error: expected '$'"},
        {-5013, "IPC_EPROTO_INLINE", "Protocol error: too big inline request"},
        {-5014, "IPC_EPROTO_QUOTES", "Protocol error: unbalanced quotes in request"},
        {-5020, "IPC_EOWNERDEAD", "lock owner died; state recovered"},
        {-5021, "IPC_ECHILDLOST", "worker process died while holding work"},
    };
    for (size_t i = 0; i < IPC__ARRAY_SIZE(map); i++) {
        if (strcmp(ipc_errname(map[i].code), map[i].name) != 0)
            problem("ipc_errname(%d) is '%s', expected '%s'", map[i].code, ipc_errname(map[i].code),
                    map[i].name);
        if (strcmp(ipc_strerror(map[i].code), map[i].text) != 0)
            problem("ipc_strerror(%d) is '%s', expected '%s'", map[i].code,
                    ipc_strerror(map[i].code), map[i].text);
    }
    /* the reserved range holds nothing else */
    for (int code = IPC_ERR_LAST; code <= IPC_ERR_FIRST; code++) {
        bool listed = false;
        for (size_t i = 0; i < IPC__ARRAY_SIZE(map); i++)
            listed |= map[i].code == code;
        if (!listed && (strcmp(ipc_errname(code), "unknown") != 0 ||
                        strcmp(ipc_strerror(code), "unknown error") != 0))
            problem("unlisted code %d is named '%s' ('%s')", code, ipc_errname(code),
                    ipc_strerror(code));
    }
    static const struct {
        int err;
        const char *name;
    } errnos[] = {
        {EPERM, "EPERM"},
        {ENOENT, "ENOENT"},
        {ESRCH, "ESRCH"},
        {EINTR, "EINTR"},
        {EIO, "EIO"},
        {E2BIG, "E2BIG"},
        {ENOEXEC, "ENOEXEC"},
        {EBADF, "EBADF"},
        {ECHILD, "ECHILD"},
        {EAGAIN, "EAGAIN"},
        {ENOMEM, "ENOMEM"},
        {EACCES, "EACCES"},
        {EFAULT, "EFAULT"},
        {EBUSY, "EBUSY"},
        {EEXIST, "EEXIST"},
        {ENOTDIR, "ENOTDIR"},
        {EINVAL, "EINVAL"},
        {ENFILE, "ENFILE"},
        {EMFILE, "EMFILE"},
        {ETXTBSY, "ETXTBSY"},
        {ENOSPC, "ENOSPC"},
        {EPIPE, "EPIPE"},
        {ENAMETOOLONG, "ENAMETOOLONG"},
        {ENOSYS, "ENOSYS"},
        {ELOOP, "ELOOP"},
        {EPROTO, "EPROTO"},
        {EMSGSIZE, "EMSGSIZE"},
        {ENOTSUP, "EOPNOTSUPP"},
        {EADDRINUSE, "EADDRINUSE"},
        {ECONNREFUSED, "ECONNREFUSED"},
        {ECONNRESET, "ECONNRESET"},
        {ETIMEDOUT, "ETIMEDOUT"},
        {EOWNERDEAD, "EOWNERDEAD"},
    };
    for (size_t i = 0; i < IPC__ARRAY_SIZE(errnos); i++) {
        int e = errnos[i].err;
        if (strcmp(ipc_errname(-e), errnos[i].name) != 0)
            problem("ipc_errname(-%d) is '%s', expected '%s'", e, ipc_errname(-e), errnos[i].name);
    }
    /* every errno value: the C library's message (the run child keeps the C locale) */
    for (int e = 1; e < 4096; e++) {
        const char *want = strerror(e);
        bool known = strncmp(want, "Unknown error", 13) != 0;
        if (strcmp(ipc_strerror(-e), known ? want : "unknown error") != 0)
            problem("ipc_strerror(-%d) is '%s', expected '%s'", e, ipc_strerror(-e),
                    known ? want : "unknown error");
        if (!known && strcmp(ipc_errname(-e), "unknown") != 0)
            problem("ipc_errname(-%d) is '%s' for an unknown errno", e, ipc_errname(-e));
    }
    /* success and everything outside both ranges */
    static const int others[] = {0, 1, 5000, INT_MAX, -4096, -4999, -5100, INT_MIN};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(others); i++) {
        int v = others[i];
        const char *text = v >= 0 ? "success" : "unknown error";
        if (strcmp(ipc_errname(v), "unknown") != 0 || strcmp(ipc_strerror(v), text) != 0)
            problem("code %d: '%s' / '%s', expected 'unknown' / '%s'", v, ipc_errname(v),
                    ipc_strerror(v), text);
    }
}

static void sc_pure(void)
{
    static const unsigned char v[] = "123456789";
    for (int impl = IPC_CRC32C_AUTO; impl <= IPC_CRC32C_SSE42_3WAY; impl++) {
        if (impl != IPC_CRC32C_AUTO && !ipc_crc32c_available(impl))
            continue;
        if (ipc_crc32c_with(impl, 0, v, 9) != 0xe3069283u)
            problem("CRC-32C(%s) of 123456789 is wrong", ipc_crc32c_name(impl));
    }
    if (CALL(ipc_crc32c_force, IPC_CRC32C_TABLE) == 0 && ipc_crc32c_current() != IPC_CRC32C_TABLE)
        problem("ipc_crc32c_force(TABLE) did not stick");
    IPC__IGNORE_RC(CALL(ipc_crc32c_force, IPC_CRC32C_AUTO));
    uint32_t a = ipc_crc32c(0, v, 4), b = ipc_crc32c(0, v + 4, 5);
    if (ipc_crc32c_combine(a, b, 5) != ipc_crc32c(0, v, 9))
        problem("ipc_crc32c_combine is wrong");
    if (strcmp(ipc_errname(IPC_EBADCRC), "IPC_EBADCRC") != 0 || !*ipc_strerror(-EPIPE))
        problem("ipc_errname/ipc_strerror");
    pure_crc_edges();
    pure_error_map();
}

struct scenario {
    const char *name;
    void (*fn)(void);
    const char *what;
};

static const struct scenario scenarios[] = {
    {"pipe", sc_pipe, "pipe open/close, write_all/writev_all/read_full, nonblock, capacity, EPIPE"},
    {"frame", sc_frame, "frame encode (iov, buffer), chunked decode, write_fd/read_fd over a pipe"},
    {"proc_spawn", sc_proc_spawn, "ipc_proc_spawn with every method, exec errors, stdio, PATH"},
    {"proc_lowfds", sc_proc_lowfds, "spawns and ipc_run(stdin_path) with fds 0 and 1 closed"},
    {"proc_exec", sc_proc_exec, "ipc_proc_spawnl/lp/v/vp/vpe"},
    {"proc_path", sc_proc_path, "PATH search errors, unset PATH, cwd with every method, pgid"},
    {"api_args", sc_api_args, "argument validation and status/frame edge cases: exact codes"},
    {"proc_wait", sc_proc_wait, "function children, wait with timeouts/UNTRACED, kill, groups"},
    {"proc_orphans", sc_proc_orphans, "subreaper and ipc_proc_reap_orphans"},
    {"redir", sc_redir, "redirection plans in spawned and function children"},
    {"redir_apply", sc_redir_apply,
     "redirection plans applied in-process: fd 0 closed, 2>&1, restore"},
    {"run_capture", sc_run_capture, "ipc_run capture, merge, on_output, exec errors"},
    {"run_stdin", sc_run_stdin, "ipc_run stdin_data, stdin_path, stdin_fd"},
    {"run_spawn", sc_run_spawn, "ipc_run via posix_spawn with stdin: every seam call failed"},
    {"run_timeout", sc_run_timeout, "ipc_run timeout and grace kill"},
    {"sig", sc_sig, "handlers, send/queue, masks, synchronous waits"},
    {"sig_info", sc_sig_info, "signal argument checks, dispositions, masks, siginfo per sender"},
    {"sigsrc", sc_sigsrc, "signal event sources (signalfd and self-pipe)"},
    {"shm", sc_shm, "anonymous, memfd, named and fd-mapped regions"},
    {"counter", sc_counter, "shared counters of every lock kind, from two children"},
    {"sock_tcp", sc_sock_tcp, "TCP over 127.0.0.1 and ::1, address helpers"},
    {"sock_errors", sc_sock_errors, "refused and missing peers, busy ports, full backlogs"},
    {"sock_unix", sc_sock_unix, "Unix stream sockets: path, abstract, stale path"},
    {"sock_udp", sc_sock_udp, "UDP and Unix datagram sockets"},
    {"pool", sc_pool, "worker pool: submit/collect/map/close, failures, deaths, terminate"},
    {"pool_lost", sc_pool_lost, "worker pool: a lone worker dies twice on one task"},
    {"pool_killed", sc_pool_killed, "worker pool: one of two workers killed while idle"},
    {"pool_stop", sc_pool_stop, "worker pool: close deadlines, terminate, killed workers, free"},
    {"mp_process", sc_mp_process, "process objects: start/join/terminate/kill/free"},
    {"resp", sc_resp, "RESP parser and reply buffer"},
    {"pure", sc_pure, "CRC-32C and error names (no seam calls)"},
};
#define NSCEN IPC__ARRAY_SIZE(scenarios)

/* ==== the run child =============================================================== */

static _Noreturn void run_child(const struct scenario *sc, const struct ipc_fault_step *steps,
                                size_t nsteps, int resfd, bool quiet)
{
    setpgid(0, 0);
    g_pid = getpid();
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        if (quiet) {
            dup2(null, 1);
            dup2(null, 2);
        }
        close(null);
    }
    int fd0 = hygiene_fd_count();
    int shm0 = hygiene_shm_count_own();
    if (ipc_faults_arm_schedule(steps, nsteps) < 0)
        problem("cannot arm the schedule");
    sc->fn();
    uint64_t calls = ipc_faults_calls_since_arm();
    ipc_faults_disarm();
    struct hygiene_child_probe probe;
    if (!hygiene_no_children(&probe)) {
        problem(probe.pid > 0 ? "a zombie child was left" : "a child process was left running");
        hygiene_kill_and_reap_children();
    }
    int fd1 = hygiene_fd_count();
    if (fd1 != fd0) {
        problem("fd leak: %d open fds before, %d after", fd0, fd1);
    }
    int shm1 = hygiene_shm_count_own();
    if (shm1 != shm0)
        problem("/dev/shm objects of this pid: %d before, %d after", shm0, shm1);
    char rec[8192];
    int n =
        snprintf(rec, sizeof(rec), "calls %" PRIu64 "\n%sproblem %s\n", calls, g_errs, g_problems);
    if (n > (int)sizeof(rec) - 1)
        n = (int)sizeof(rec) - 1;
    for (int off = 0; off < n;) {
        ssize_t w = write(resfd, rec + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (int)w;
    }
    exit(0);
}

/* ==== the parent =================================================================== */

struct site {
    char where[48];
    int call;
    int is_static; /* found in the sources */
    int last_line; /* static: the line of the call's closing parenthesis */
    uint64_t calls, injected;
};

#define MAX_SITES 1024
static struct site g_sites[MAX_SITES];
static size_t g_nsites;

static struct site *site_get(const char *where)
{
    for (size_t i = 0; i < g_nsites; i++)
        if (strcmp(g_sites[i].where, where) == 0)
            return &g_sites[i];
    if (g_nsites == MAX_SITES)
        return NULL;
    struct site *s = &g_sites[g_nsites++];
    memset(s, 0, sizeof(*s));
    snprintf(s->where, sizeof(s->where), "%s", where);
    s->call = -1;
    return s;
}

/* The static site whose call spans the reported file:line (the same site for
 * gcc's first-line and clang's last-line __LINE__), else the site by name. */
static struct site *site_canonical(const char *where)
{
    const char *colon = strrchr(where, ':');
    if (colon) {
        int line = atoi(colon + 1);
        size_t flen = (size_t)(colon - where);
        for (size_t i = 0; i < g_nsites; i++) {
            struct site *s = &g_sites[i];
            const char *sc = strrchr(s->where, ':');
            if (!s->is_static || !sc || (size_t)(sc - s->where) != flen ||
                strncmp(s->where, where, flen) != 0)
                continue;
            int first = atoi(sc + 1);
            if (line >= first && line <= s->last_line)
                return s;
        }
    }
    return site_get(where);
}

/* The static list: every line of core/src/ *.c and internal.h (not sys.h, which
 * defines the seam) holding "ipc__sys_NAME(" outside a #define or comment line. */
static int scan_static_sites(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (!(l > 2 && strcmp(e->d_name + l - 2, ".c") == 0) && strcmp(e->d_name, "internal.h"))
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        char line[1024];
        int lineno = 0, depth = 0;
        struct site *open_site = NULL; /* a call whose ')' is on a later line */
        while (fgets(line, sizeof(line), f)) {
            lineno++;
            if (open_site) {
                for (const char *c = line; *c && depth; c++)
                    depth += (*c == '(') - (*c == ')');
                open_site->last_line = lineno;
                if (!depth)
                    open_site = NULL;
                continue;
            }
            const char *t = line + strspn(line, " \t");
            if (*t == '#' || *t == '*' || strncmp(t, "/*", 2) == 0 || strncmp(t, "//", 2) == 0)
                continue;
            const char *p = strstr(t, "ipc__sys_");
            if (!p)
                continue;
            p += 9;
            while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
                p++;
            if (*p != '(')
                continue;
            char where[48];
            snprintf(where, sizeof(where), "%s:%d", e->d_name, lineno);
            struct site *s = site_get(where);
            if (s && !s->is_static) {
                s->is_static = 1;
                s->last_line = lineno;
                n++;
            }
            /* gcc names a call spanning lines by its first line, clang by its
             * last: remember where it ends */
            depth = 0;
            for (const char *c = p; *c; c++)
                depth += (*c == '(') - (*c == ')');
            if (depth > 0 && s)
                open_site = s;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

struct problem_rec {
    const char *scenario;
    char schedule[64];
    char site[48];
    char *text;
};

static struct problem_rec *g_probs;
static size_t g_nprobs, g_capprobs;
static char g_observed[32768]; /* "fn ERRNAME\n" over all runs */
static size_t g_olen;
static int g_timeout_ms = 10000;
static bool g_verbose;

static void add_problem(const char *scen, const char *sched, const char *site, const char *text)
{
    if (g_nprobs == g_capprobs) {
        g_capprobs = g_capprobs ? 2 * g_capprobs : 64;
        g_probs = realloc(g_probs, g_capprobs * sizeof(*g_probs));
        if (!g_probs) {
            perror("faultsweep");
            exit(1);
        }
    }
    struct problem_rec *p = &g_probs[g_nprobs++];
    p->scenario = scen;
    snprintf(p->schedule, sizeof(p->schedule), "%s", sched);
    snprintf(p->site, sizeof(p->site), "%s", site);
    p->text = strdup(text);
}

static void merge_observed(const char *lines)
{
    while (*lines) {
        const char *nl = strchr(lines, '\n');
        size_t n = nl ? (size_t)(nl - lines) + 1 : strlen(lines);
        bool have = false;
        for (const char *p = g_observed; *p;) {
            if (strncmp(p, lines, n) == 0) {
                have = true;
                break;
            }
            p = strchr(p, '\n');
            if (!p)
                break;
            p++;
        }
        if (!have && g_olen + n < sizeof(g_observed)) {
            memcpy(g_observed + g_olen, lines, n);
            g_olen += n;
            g_observed[g_olen] = '\0';
        }
        lines += n;
    }
}

struct run_out {
    uint64_t calls; /* seam calls of the run (the child's count) */
    uint64_t per_kind[IPC_FAULT_CALL_COUNT];
    char site[48];      /* the site that was failed, "" if none */
    char problem[4096]; /* "" when the run was clean */
    bool injected;
};

static void run_once(const struct scenario *sc, const struct ipc_fault_step *steps, size_t n,
                     bool quiet, struct run_out *ro)
{
    memset(ro, 0, sizeof(*ro));
    ipc_faults_reset_stats();
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        perror("faultsweep: pipe2");
        exit(1);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("faultsweep: fork");
        exit(1);
    }
    if (pid == 0) {
        close(pfd[0]);
        run_child(sc, steps, n, pfd[1], quiet);
    }
    close(pfd[1]);
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    char buf[16384];
    size_t blen = 0;
    bool hung = false, eof = false;
    int64_t deadline = ipc__now_ms() + g_timeout_ms;
    for (;;) {
        struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = pfd[0], .events = POLLIN}};
        int64_t left = deadline - ipc__now_ms();
        if (left <= 0) {
            hung = true;
            break;
        }
        int r = poll(p, eof ? 1 : 2, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        if (!eof && (p[1].revents & (POLLIN | POLLHUP))) {
            ssize_t k = read(pfd[0], buf + blen, sizeof(buf) - 1 - blen);
            if (k > 0)
                blen += (size_t)k;
            else if (k == 0 || blen == sizeof(buf) - 1)
                eof = true;
        }
        if (p[0].revents & POLLIN)
            break;
    }
    if (hung) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    close(pidfd);
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    for (ssize_t k;
         blen < sizeof(buf) - 1 && (k = read(pfd[0], buf + blen, sizeof(buf) - 1 - blen)) > 0;)
        blen += (size_t)k;
    close(pfd[0]);
    buf[blen] = '\0';
    kill(-pid, SIGKILL); /* anything left in the run's process group */
    /* processes the run left (we are a subreaper: orphans come to us) */
    struct hygiene_child_probe probe;
    bool left_behind = false;
    while (!hygiene_no_children(&probe)) {
        left_behind = true;
        hygiene_kill_and_reap_children();
    }

    /* the record */
    char *prob = ro->problem;
    size_t plen = 0;
#define ADDP(...)                                                                                  \
    do {                                                                                           \
        if (plen < sizeof(ro->problem) - 2)                                                        \
            plen +=                                                                                \
                (size_t)snprintf(prob + plen, sizeof(ro->problem) - plen, "%s", plen ? "; " : ""); \
        if (plen < sizeof(ro->problem) - 2)                                                        \
            plen += (size_t)snprintf(prob + plen, sizeof(ro->problem) - plen, __VA_ARGS__);        \
    } while (0)
    const char *c = strstr(buf, "calls ");
    if (c == buf)
        ro->calls = strtoull(buf + 6, NULL, 10);
    const char *pr = strstr(buf, "\nproblem ");
    if (c != buf || !pr) {
        if (!hung)
            ADDP("no result record from the run (it died before the end)");
    } else {
        const char *errs = strchr(buf, '\n') + 1;
        if (errs < pr + 1) {
            char tmp[8192];
            size_t n2 = (size_t)(pr + 1 - errs);
            if (n2 >= sizeof(tmp))
                n2 = sizeof(tmp) - 1;
            memcpy(tmp, errs, n2);
            tmp[n2] = '\0';
            merge_observed(tmp);
        }
        const char *text = pr + 9;
        size_t tl = strcspn(text, "\n");
        if (tl)
            ADDP("%.*s", (int)tl, text);
    }
    if (hung)
        ADDP("hang: killed after %d ms", g_timeout_ms);
    else if (WIFSIGNALED(st))
        ADDP("the run was killed by signal %d (%s)", WTERMSIG(st), ipc_proc_signame(WTERMSIG(st)));
    else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
        ADDP("the run exited %d (a sanitizer report? reproduce to see it)", WEXITSTATUS(st));
    if (left_behind)
        ADDP("a process of the run outlived it");
#undef ADDP

    /* sites */
    struct ipc_fault_stats fst;
    ipc_faults_stats(&fst);
    for (int k = 0; k < IPC_FAULT_CALL_COUNT; k++)
        ro->per_kind[k] = fst.calls[k];
    struct ipc_fault_site sites[MAX_SITES];
    size_t ns = ipc_faults_sites(sites, MAX_SITES);
    if (ns > MAX_SITES)
        ns = MAX_SITES;
    for (size_t i = 0; i < ns; i++) {
        struct site *s = site_canonical(sites[i].where);
        if (!s)
            continue;
        s->call = sites[i].call;
        s->calls += sites[i].calls;
        s->injected += sites[i].injected;
        if (sites[i].injected) {
            ro->injected = true;
            snprintf(ro->site, sizeof(ro->site), "%s", sites[i].where);
        }
    }
}

static void format_schedule(char *buf, size_t len, const struct ipc_fault_step *st)
{
    const char *act;
    static const char *const shorts[] = {"", "short-one", "short-half", "short-but-one"};
    act = st->err ? ipc_fault_errno_name(st->err) : shorts[st->shortc];
    snprintf(buf, len, "%s:%u:%s", ipc_fault_call_name(st->call), st->nth, act ? act : "?");
}

struct totals {
    uint64_t runs, injected_runs, problems;
};

static void sweep_scenario(const struct scenario *sc, uint64_t max_runs, struct totals *t)
{
    double t0 = ipc__now_s();
    struct run_out ro;
    run_once(sc, NULL, 0, true, &ro);
    t->runs++;
    if (ro.problem[0]) {
        t->problems++;
        add_problem(sc->name, "", "", ro.problem);
    }
    uint64_t counts[IPC_FAULT_CALL_COUNT];
    memcpy(counts, ro.per_kind, sizeof(counts));
    /* the list of single-step schedules */
    size_t total = 0;
    for (int k = 0; k < IPC_FAULT_CALL_COUNT; k++) {
        size_t acts = ipc_fault_call_errnos(k, NULL) +
                      (ipc_fault_call_can_short(k) ? IPC_FAULT_SHORT_COUNT - 1 : 0);
        total += counts[k] * acts;
    }
    uint64_t want = max_runs && max_runs < total ? max_runs : total;
    uint64_t sc_problems = 0, sc_runs = 1;
    for (uint64_t j = 0; j < want; j++) {
        size_t idx = (size_t)(want == total ? j : j * total / want);
        /* decode idx into (kind, nth, action) */
        struct ipc_fault_step st = {0};
        for (int k = 0; k < IPC_FAULT_CALL_COUNT; k++) {
            const int *errs;
            size_t ne = ipc_fault_call_errnos(k, &errs);
            size_t acts = ne + (ipc_fault_call_can_short(k) ? IPC_FAULT_SHORT_COUNT - 1 : 0);
            size_t block = counts[k] * acts;
            if (idx >= block) {
                idx -= block;
                continue;
            }
            st.call = k;
            st.nth = (uint32_t)(idx / acts) + 1;
            size_t a = idx % acts;
            if (a < ne)
                st.err = errs[a];
            else
                st.shortc = (enum ipc_fault_short)(a - ne + 1);
            break;
        }
        char sched[64];
        format_schedule(sched, sizeof(sched), &st);
        run_once(sc, &st, 1, true, &ro);
        t->runs++;
        sc_runs++;
        if (ro.injected)
            t->injected_runs++;
        if (ro.problem[0]) {
            t->problems++;
            sc_problems++;
            add_problem(sc->name, sched, ro.site, ro.problem);
            if (g_verbose)
                printf("  PROBLEM --scenario %s --schedule %s [%s]: %s\n", sc->name, sched, ro.site,
                       ro.problem);
        }
    }
    printf("%-13s %5" PRIu64 " seam calls, %6" PRIu64 " runs, %4" PRIu64 " problems, %6.1f s\n",
           sc->name, ro.calls ? ro.calls : 0, sc_runs, sc_problems, ipc__now_s() - t0);
    fflush(stdout);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: faultsweep [--scenario NAME]... [--max-runs N] [--timeout-ms MS]\n"
            "                  [--json FILE] [--src DIR] [--verbose]\n"
            "       faultsweep --scenario NAME --schedule TEXT\n"
            "       faultsweep --list | --help\n"
            "\n"
            "The exhaustive fault sweep of libipc: runs each scenario once to count its\n"
            "seam calls per kind, then once per (kind K, k-th call of K, action), armed\n"
            "with the single step K:k:ACTION (every errno of K, and every short class\n"
            "for transfers), each run in a forked child that checks the contract: results\n"
            "are success or a named error, no fd/child/shm left, nothing lost or\n"
            "duplicated, EINTR and short transfers handled where documented.\n"
            "  --list             print the scenarios and exit\n"
            "  --scenario NAME    sweep only NAME (repeatable; default: all)\n"
            "  --max-runs N       at most N fault runs per scenario, spread evenly over\n"
            "                     the schedule list (0 = all, the default)\n"
            "  --schedule TEXT    with one --scenario: one run armed with TEXT\n"
            "                     (KIND:NTH:ACTION,...), stdio kept, result printed\n"
            "  --timeout-ms MS    a run still going after MS is killed: a hang (10000)\n"
            "  --json FILE        write the results as JSON\n"
            "  --src DIR          libipc sources for the static site list (%s)\n"
            "  --verbose          print each problem as it is found, and the errors seen\n"
            "Exit status: 0 no problem, 2 problems found, 1 could not run, 64 usage.\n",
            IPC_SOURCE_DIR);
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "faultsweep: %s%s%s (see --help)\n", msg, arg ? ": " : "", arg ? arg : "");
    return 64;
}

static const struct scenario *find_scenario(const char *name)
{
    for (size_t i = 0; i < NSCEN; i++)
        if (strcmp(scenarios[i].name, name) == 0)
            return &scenarios[i];
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"list", no_argument, NULL, 'l'},
        {"scenario", required_argument, NULL, 's'},
        {"max-runs", required_argument, NULL, 'm'},
        {"schedule", required_argument, NULL, 'S'},
        {"json", required_argument, NULL, 'j'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"src", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    const struct scenario *chosen[NSCEN];
    size_t nchosen = 0;
    uint64_t max_runs = 0;
    const char *schedule = NULL, *json = NULL, *src = IPC_SOURCE_DIR;
    bool list = false;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        char *end;
        switch (o) {
        case 'h':
            usage(stdout);
            return 0;
        case 'l':
            list = true;
            break;
        case 's': {
            const struct scenario *sc = find_scenario(optarg);
            if (!sc)
                return usage_error("unknown scenario", optarg);
            if (nchosen < NSCEN)
                chosen[nchosen++] = sc;
            break;
        }
        case 'm':
            errno = 0;
            max_runs = strtoull(optarg, &end, 10);
            if (errno || *end || !*optarg || *optarg == '-')
                return usage_error("--max-runs is not a decimal integer", optarg);
            break;
        case 't': {
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v <= 0 || v > 3600000)
                return usage_error("--timeout-ms is not in 1..3600000", optarg);
            g_timeout_ms = (int)v;
            break;
        }
        case 'S':
            schedule = optarg;
            break;
        case 'j':
            json = optarg;
            break;
        case 'd':
            src = optarg;
            break;
        case 'v':
            g_verbose = true;
            break;
        default:
            return usage_error("unknown option or missing value", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (list) {
        for (size_t i = 0; i < NSCEN; i++)
            printf("%-13s %s\n", scenarios[i].name, scenarios[i].what);
        return 0;
    }
    /* the controller's shared state, mapped here so that every run child shares it */
    if (ipc_faults_arm_schedule(NULL, 0) < 0) {
        fprintf(stderr, "faultsweep: cannot map the fault controller's state\n");
        return 1;
    }
    ipc_faults_disarm();
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
        perror("faultsweep: PR_SET_CHILD_SUBREAPER");
        return 1;
    }
    signal(SIGPIPE, SIG_DFL);

    if (schedule) {
        if (nchosen != 1)
            return usage_error("--schedule needs exactly one --scenario", NULL);
        struct ipc_fault_step steps[IPC_FAULT_MAX_STEPS];
        char err[256];
        int n = ipc_faults_parse(schedule, steps, IPC_FAULT_MAX_STEPS, err, sizeof(err));
        if (n < 0)
            return usage_error(err, NULL);
        struct run_out ro;
        run_once(chosen[0], steps, (size_t)n, false, &ro);
        printf("scenario %s, schedule '%s': %" PRIu64 " seam calls, %s%s\n", chosen[0]->name,
               schedule, ro.calls, ro.injected ? "fault injected at " : "no fault injected",
               ro.site);
        if (g_olen)
            printf("errors returned:\n%s", g_observed);
        if (ro.problem[0]) {
            printf("PROBLEM: %s\n", ro.problem);
            return 2;
        }
        printf("clean\n");
        return 0;
    }

    int nstatic = scan_static_sites(src);
    if (nstatic <= 0) {
        fprintf(stderr, "faultsweep: no ipc__sys_ call site found under %s (--src)\n", src);
        return 1;
    }
    if (!nchosen)
        for (size_t i = 0; i < NSCEN; i++)
            chosen[nchosen++] = &scenarios[i];
    double t0 = ipc__now_s();
    struct totals t = {0};
    for (size_t i = 0; i < nchosen; i++)
        sweep_scenario(chosen[i], max_runs, &t);
    double secs = ipc__now_s() - t0;

    size_t reached = 0, never_failed = 0, unknown = 0;
    for (size_t i = 0; i < g_nsites; i++) {
        struct site *s = &g_sites[i];
        if (s->calls)
            reached++;
        if (s->calls && !s->is_static)
            unknown++;
    }
    printf("\nscenarios: %zu\n", nchosen);
    printf("call sites: %d static, %zu reached", nstatic, reached);
    if (unknown)
        printf(" (%zu not in the static list)", unknown);
    printf("\nruns: %" PRIu64 " (%" PRIu64 " injected a fault), %.1f s\n", t.runs, t.injected_runs,
           secs);
    printf("static call sites never reached:");
    size_t nr = 0;
    for (size_t i = 0; i < g_nsites; i++)
        if (g_sites[i].is_static && !g_sites[i].calls)
            printf("%s %s", nr++ % 6 ? "" : "\n ", g_sites[i].where);
    printf("%s\n", nr ? "" : " none");
    /* a kind without errnos (sigaction, sigprocmask, pthread_sigmask) cannot fail;
     * the others were never failed because every action the sweep tried was
     * one the real call could not produce there (ipc/faults.h) */
    size_t cannot = 0;
    printf("call sites reached but never failed (kind):");
    for (size_t i = 0; i < g_nsites; i++) {
        const struct site *st = &g_sites[i];
        if (!st->calls || st->injected)
            continue;
        if (st->call >= 0 && ipc_fault_call_errnos(st->call, NULL) == 0) {
            cannot++;
            continue;
        }
        printf("%s %s(%s)", never_failed++ % 5 ? "" : "\n ", st->where,
               st->call >= 0 ? ipc_fault_call_name(st->call) : "?");
    }
    printf("%s\n", never_failed ? "" : " none");
    printf("(%zu reached sites never failed; %zu more are sigaction/sigprocmask/"
           "pthread_sigmask calls, which cannot fail)\n",
           never_failed, cannot);
    if (g_verbose && g_olen)
        printf("errors returned by libipc functions (function errno):\n%s", g_observed);
    printf("problems: %zu\n", g_nprobs);
    size_t shown = 0;
    for (size_t i = 0; i < g_nprobs; i++) {
        const struct problem_rec *p = &g_probs[i];
        if (!g_verbose && shown >= 200)
            break;
        shown++;
        printf("  faultsweep --scenario %s%s%s   # %s%s%s\n", p->scenario,
               p->schedule[0] ? " --schedule " : "", p->schedule, p->site[0] ? p->site : "",
               p->site[0] ? ": " : "", p->text);
    }
    if (shown < g_nprobs)
        printf("  ... %zu more (--verbose or --json)\n", g_nprobs - shown);

    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            perror(json);
            return 1;
        }
        fprintf(f, "{\"scenarios\": %zu, \"static_sites\": %d, \"reached_sites\": %zu,\n", nchosen,
                nstatic, reached);
        fprintf(f, " \"never_failed_sites\": %zu, \"runs\": %" PRIu64 ", \"seconds\": %.1f,\n",
                never_failed, t.runs, secs);
        fprintf(f, " \"sites\": [");
        for (size_t i = 0; i < g_nsites; i++) {
            const struct site *s = &g_sites[i];
            fprintf(f, "%s\n  {\"site\": ", i ? "," : "");
            json_str(f, s->where);
            fprintf(f, ", \"kind\": ");
            json_str(f, s->call >= 0 ? ipc_fault_call_name(s->call) : "?");
            fprintf(f, ", \"static\": %s, \"calls\": %" PRIu64 ", \"injected\": %" PRIu64 "}",
                    s->is_static ? "true" : "false", s->calls, s->injected);
        }
        fprintf(f, "],\n \"errors_seen\": ");
        json_str(f, g_observed);
        fprintf(f, ",\n \"problems\": [");
        for (size_t i = 0; i < g_nprobs; i++) {
            const struct problem_rec *p = &g_probs[i];
            fprintf(f, "%s\n  {\"scenario\": ", i ? "," : "");
            json_str(f, p->scenario);
            fprintf(f, ", \"schedule\": ");
            json_str(f, p->schedule);
            fprintf(f, ", \"site\": ");
            json_str(f, p->site);
            fprintf(f, ", \"problem\": ");
            json_str(f, p->text);
            fputc('}', f);
        }
        fprintf(f, "]}\n");
        fclose(f);
    }
    return g_nprobs ? 2 : 0;
}
