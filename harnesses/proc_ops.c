/* proc_ops - fuzz target for child processes, pipes, redirection plans and ipc_run.
 *
 * Targets: ipc_proc_spawn (every method: AUTO, fork, vfork, posix_spawn; PATH
 * search, SETPGID, NO_PIDFD, stdio[] and redir plans), ipc_proc_spawnl/spawnv/
 * spawnlp, ipc_proc_fork, ipc_proc_wait (poll and blocking), ipc_proc_status,
 * ipc_proc_status_format/shell, ipc_proc_kill, ipc_proc_free; ipc_pipe_open,
 * ipc_pipe_write_all/writev_all/read_full, ipc_pipe_use_read_end/use_write_end,
 * ipc_pipe_set_nonblock, ipc_pipe_capacity/set_capacity, ipc_pipe_close;
 * ipc_redir_new/fd/null/same/clear/free, ipc_redir_apply/restore (swapping the
 * process's own stdout and stderr for the length of one spawn); ipc_run (capture,
 * stdin feed, stdin_path, merge, output cap, on_output, timeout, process group).
 *
 * Input: a fault schedule (fuzz_util.h: byte 0 = step count K, then K 4-byte
 * steps; 0x00 = none), then up to MAX_OPS operations of [op][arg][len] followed by
 * len data bytes (fewer at the end of the input). The op byte modulo OP_COUNT
 * picks the operation; arg selects the program, the spawn method
 * ((arg >> 3) & 3: AUTO, FORK, VFORK, POSIX_SPAWN) and flags, as each op_* below
 * says; with bit 7 of op set the data is repeated 16 times (up to 4080 bytes).
 * The schedule is armed from the first operation to the end of the last.
 *
 * Programs are real: /bin/true, /bin/false, /bin/cat, /bin/sh -c with a bounded
 * script (no loops, no sleeps), a nonexistent path, a non-executable file and a
 * directory. At most MAX_OPS children per input, each one ends by itself (cat sees
 * EOF) or by ipc_run's timeout (1-4 ms). Two operations per input keep the target
 * at a few hundred executions per second (a fork of an ASan process costs ~2 ms).
 *
 * Invariants (abort on violation), without faults:
 *  - exec errors are the spawn's error (-ENOENT, -EACCES), never a child exiting
 *    127; exit statuses are the program's (true 0, false 1, sh exit N);
 *  - what the child writes arrives exactly where the plan sends it: cat echoes
 *    the fed bytes (pipes, stdio[], redir plans, ipc_run's capture, on_output,
 *    the output cap with its truncation flag); a stdout/stderr swap of the
 *    caller's own fds swaps the two streams; restore brings back the same files;
 *  - every child is reaped (ipc_proc_free kills and reaps) and no fd is left (the
 *    replay main checks both per input).
 * Under the fault schedule: each call returns its fault-free result or an error
 * that some step injects (EINTR never: retried), and everything is still reaped
 * and closed. A call that succeeds despite a fault gives the exact result, with
 * these documented partial outcomes: ipc_run may write only part of stdin when a
 * write to it failed (stdin_written says how much, and cat echoes exactly that),
 * and a stream cut by a failed read or write holds a prefix of the data. An exec
 * error is the spawn's error under faults too: the seam never fails nor shortens
 * the 4-byte exec-error pipe message (a blocking pipe with a reader and room: no
 * EAGAIN, EPIPE, EIO or short transfer; EINTR is retried), so a child that exits
 * 127 or dies of SIGPIPE instead is a failure.
 *
 * A one-byte payload (after the schedule; the seed 00 00) checks argument contracts
 * instead, once per process (api_edges): every documented argument error of
 * ipc/proc.h, sig.h, redir.h, pipe.h, run.h and pool.h, exactly, and the valid
 * extremes; and the PATH search buffer filled exactly (spawned) and by one byte
 * more (-ENAMETOOLONG, the next entry searched), in a private temp dir.
 *
 * Speed: a few child processes per input, vfork by default; no sleeps.
 */
// libfuzzer-options: max_len=2048
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "ipc/pipe.h"
#include "ipc/pool.h"
#include "ipc/proc.h"
#include "ipc/redir.h"
#include "ipc/sig.h"
#include "ipc/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS  2
#define MAX_DATA 4080
#define OP_COUNT 6

static struct fuzz_faults ff;

/* ---- the contract under faults ------------------------------------------------ */

/* rc is the call's fault-free result `natural`, or (only with faults armed) the
 * negated errno of a step, never -EINTR: the seam injects EINTR only into calls
 * that list it and would block (any-kind steps included), and libipc retries it
 * at every one of those (read, write, poll, waitpid, waitid, dup2, and open,
 * which the seam may interrupt even on /dev/null or a regular file: every open of
 * libipc goes through IPC__RETRY, the best-effort /proc/self/fd scan ignores a
 * failure). Nor -EBADF from fcntl: the seam fails F_GETFD never and
 * F_DUPFD_CLOEXEC with EMFILE only, so proc.c's stdio check cannot see an open fd
 * as closed. */
FUZZ_NOCOV static int outcome_ok(int rc, int natural)
{
    if (rc == natural)
        return 1;
    if (!ff.armed || rc >= 0 || rc <= -4096 || rc == -EINTR)
        return 0;
    return fuzz_faults_may_inject(&ff, -rc);
}

#define EXPECT_RC(rc, natural)                                                                     \
    do {                                                                                           \
        int rc_ = (int)(rc), nat_ = (natural);                                                     \
        if (!outcome_ok(rc_, nat_)) {                                                              \
            fprintf(stderr, "proc_ops: %s = %d (%s), expected %d\n", #rc, rc_, ipc_errname(rc_),   \
                    nat_);                                                                         \
            FUZZ_CHECK(outcome_ok(rc_, nat_));                                                     \
        }                                                                                          \
    } while (0)

/* Injections since `before` (a fuzz_faults_injected reading). */
FUZZ_NOCOV static int injected_since(uint64_t before)
{
    return fuzz_faults_injected(&ff) != before;
}

/* ---- programs ------------------------------------------------------------------- */

enum prog { P_TRUE, P_FALSE, P_SH_EXIT, P_MISSING, P_NOEXEC, P_PATH_TRUE, P_PATH_MISSING, P_DIR };

struct expect_spawn {
    int rc;   /* spawn result */
    int code; /* exit code when rc == 0 */
};

/* argv for prog; num is the sh exit code's text. */
FUZZ_NOCOV static void prog_argv(enum prog p, char *num, char **argv, unsigned *flags,
                                 struct expect_spawn *e)
{
    static char *const paths[] = {"/bin/true",
                                  "/bin/false",
                                  "/bin/sh",
                                  "/nonexistent/ipcstorm-fuzz",
                                  "/etc/passwd",
                                  "true",
                                  "ipcstorm-fuzz-no-such-prog",
                                  "/"};
    argv[0] = paths[p];
    argv[1] = NULL;
    *flags = 0;
    e->rc = 0;
    e->code = 0;
    switch (p) {
    case P_FALSE:
        e->code = 1;
        break;
    case P_SH_EXIT:
        argv[1] = "-c";
        argv[2] = "exit $1";
        argv[3] = "sh";
        argv[4] = num;
        argv[5] = NULL;
        e->code = atoi(num) & 0xff;
        break;
    case P_MISSING:
        e->rc = -ENOENT;
        break;
    case P_NOEXEC:
    case P_DIR:
        e->rc = -EACCES;
        break;
    case P_PATH_TRUE:
        *flags = IPC_PROC_F_PATH;
        break;
    case P_PATH_MISSING:
        *flags = IPC_PROC_F_PATH;
        e->rc = -ENOENT;
        break;
    default:
        break;
    }
}

/* Checks a reaped child's status against the expected exit code: the program's,
 * faults or not (an exec error is the spawn's error, see the top). */
FUZZ_NOCOV static void check_status(const struct ipc_proc_status *st, int code)
{
    char text[IPC_PROC_STATUS_MAX];
    FUZZ_CHECK(ipc_proc_status_format(st, text, sizeof(text)) > 0);
    FUZZ_CHECK(st->exited && st->code == code);
    FUZZ_CHECK(ipc_proc_status_shell(st) == code);
}

/* ---- op 0: spawn a program and check its exit status ----------------------------- */

/* arg: bits 0-2 program (enum prog), bits 3-4 method, bit 5 SETPGID, bit 6 NO_PIDFD,
 * bit 7: spawn through the exec family (spawnl, spawnv, spawnlp) instead. data[0]:
 * sh's exit code; data[1] bit 0: poll once (timeout 0) before the blocking wait. */
FUZZ_NOCOV static void op_spawn(uint8_t arg, const uint8_t *d, size_t n)
{
    char num[8];
    snprintf(num, sizeof(num), "%u", n ? d[0] : 3u);
    char *argv[8];
    unsigned flags;
    struct expect_spawn e;
    enum prog p = (enum prog)(arg & 7);
    prog_argv(p, num, argv, &flags, &e);
    struct ipc_proc_options o;
    memset(&o, 0, sizeof(o));
    o.method = (enum ipc_proc_method)((arg >> 3) & 3);
    o.flags =
        flags | ((arg & 0x20) ? IPC_PROC_F_SETPGID : 0) | ((arg & 0x40) ? IPC_PROC_F_NO_PIDFD : 0);
    ipc_proc *proc = NULL;
    int rc;
    if (arg & 0x80) {
        if (p == P_SH_EXIT)
            rc = ipc_proc_spawnv(&proc, argv[0], argv);
        else if (flags & IPC_PROC_F_PATH)
            rc = ipc_proc_spawnlp(&proc, argv[0], argv[0], (char *)NULL);
        else
            rc = ipc_proc_spawnl(&proc, argv[0], argv[0], (char *)NULL);
    } else {
        rc = ipc_proc_spawn(&proc, argv, &o);
    }
    EXPECT_RC(rc, e.rc);
    if (rc < 0) {
        FUZZ_CHECK(proc == NULL);
        return;
    }
    FUZZ_CHECK(ipc_proc_pid(proc) > 0);
    struct ipc_proc_status st;
    FUZZ_CHECK(ipc_proc_status(proc, &st) == -EAGAIN);
    if (n > 1 && (d[1] & 1)) {
        int w = ipc_proc_wait(proc, 0, 0, &st);
        if (w != 0 && w != -ETIMEDOUT)
            EXPECT_RC(w, 0);
    }
    if (ipc_proc_status(proc, &st) == -EAGAIN) {
        int w = ipc_proc_wait(proc, IPC_PROC_WAIT_FOREVER, 0, &st);
        EXPECT_RC(w, 0);
        if (w < 0) {
            ipc_proc_free(proc); /* kills and reaps */
            return;
        }
    }
    FUZZ_CHECK(ipc_proc_status(proc, &st) == 0);
    check_status(&st, e.code);
    FUZZ_CHECK(ipc_proc_wait(proc, 0, 0, NULL) == -ECHILD);
    FUZZ_CHECK(ipc_proc_kill(proc, SIGTERM) == -ESRCH);
    ipc_proc_free(proc);
}

/* ---- op 1: cat between two pipes ------------------------------------------------- */

/* Reads everything until EOF (at most cap bytes, plus one to see an overrun). */
FUZZ_NOCOV static ssize_t read_all(int fd, uint8_t *buf, size_t cap)
{
    return ipc_pipe_read_full(fd, buf, cap + 1);
}

/* arg: bits 3-4 method; bits 0-1: how stdin/stdout reach cat: 0 stdio[], 1 a redir
 * plan with stderr to /dev/null, 2 a plan with 2>&1 (set before its source), 3 a
 * plan set, cleared and set again; bit 2: write with writev_all in two pieces. */
FUZZ_NOCOV static void op_cat(uint8_t arg, const uint8_t *d, size_t n)
{
    static uint8_t back[MAX_DATA + 1];
    struct ipc_pipe in, out;
    int rc = ipc_pipe_open(&in, 0);
    EXPECT_RC(rc, 0);
    if (rc < 0)
        return;
    rc = ipc_pipe_open(&out, 0);
    EXPECT_RC(rc, 0);
    if (rc < 0) {
        ipc_pipe_close(&in);
        return;
    }
    struct ipc_proc_options o;
    memset(&o, 0, sizeof(o));
    o.method = (enum ipc_proc_method)((arg >> 3) & 3);
    ipc_redir *plan = NULL;
    int how = arg & 3;
    if (how == 0) {
        o.flags = IPC_PROC_F_STDIO;
        o.stdio[0] = in.rd;
        o.stdio[1] = out.wr;
        o.stdio[2] = -1;
    } else {
        rc = ipc_redir_new(&plan);
        EXPECT_RC(rc, 0);
        if (rc == 0 && how == 2)
            rc = ipc_redir_same(plan, 2, 1); /* before 1 has its source: still 2>&1 */
        if (rc == 0)
            rc = ipc_redir_fd(plan, 0, in.rd);
        if (rc == 0 && how == 3)
            rc = ipc_redir_clear(plan, 0);
        if (rc == 0 && how == 3)
            rc = ipc_redir_fd(plan, 0, in.rd);
        if (rc == 0)
            rc = ipc_redir_fd(plan, 1, out.wr);
        if (rc == 0 && how != 2)
            rc = ipc_redir_null(plan, 2);
        EXPECT_RC(rc, 0);
        o.redir = plan;
    }
    ipc_proc *proc = NULL;
    char *argv[] = {"/bin/cat", NULL};
    if (rc == 0) {
        rc = ipc_proc_spawn(&proc, argv, &o);
        EXPECT_RC(rc, 0);
    }
    ipc_redir_free(plan);
    if (rc < 0) {
        ipc_pipe_close(&in);
        ipc_pipe_close(&out);
        return;
    }
    /* only the child keeps cat's ends */
    FUZZ_CHECK(ipc_pipe_use_write_end(&in) == in.wr && in.rd == -1);
    FUZZ_CHECK(ipc_pipe_use_read_end(&out) == out.rd && out.wr == -1);
    FUZZ_CHECK(ipc_pipe_use_read_end(&in) == -EBADF);
    /* n <= MAX_DATA fits in cat's two 64 KiB pipes: nothing blocks */
    ssize_t w;
    if ((arg & 4) && n > 1) {
        struct iovec iov[3] = {{(void *)d, n / 2}, {NULL, 0}, {(void *)(d + n / 2), n - n / 2}};
        w = ipc_pipe_writev_all(in.wr, iov, 3, 0);
    } else {
        w = ipc_pipe_write_all(in.wr, d, n, 0);
    }
    ipc_pipe_close(&in); /* EOF for cat */
    ssize_t r = read_all(out.rd, back, MAX_DATA);
    ipc_pipe_close(&out);
    struct ipc_proc_status st;
    int wr = ipc_proc_wait(proc, IPC_PROC_WAIT_FOREVER, 0, &st);
    EXPECT_RC(wr, 0);
    if (r > 0) /* whatever arrived is a prefix of what was sent */
        FUZZ_CHECK((size_t)r <= n && memcmp(back, d, (size_t)r) == 0);
    EXPECT_RC(w, (int)n);
    if (w == (ssize_t)n)
        EXPECT_RC(r, (int)n);
    if (wr == 0 && r == (ssize_t)n)
        FUZZ_CHECK(st.exited && st.code == 0);
    ipc_proc_free(proc);
}

/* ---- op 2: ipc_run ---------------------------------------------------------------- */

struct sink {
    uint8_t buf[MAX_DATA + 64];
    size_t len;
    int other; /* bytes that came on stream 2 */
};

FUZZ_NOCOV static void on_output(void *ctx, int stream, const void *data, size_t len)
{
    struct sink *s = ctx;
    if (stream != 1) {
        s->other = 1;
        return;
    }
    FUZZ_CHECK(s->len + len <= sizeof(s->buf));
    memcpy(s->buf + s->len, data, len);
    s->len += len;
}

/* An argv word from data: NUL bytes become 'x', at most 64 bytes. */
FUZZ_NOCOV static void word(char *out, const uint8_t *d, size_t n)
{
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++)
        out[i] = d[i] ? (char)d[i] : 'x';
    out[n] = '\0';
}

/* arg: bits 0-2 mode (below), bits 3-4 method, bit 5 PGROUP, bit 6 MERGE_STDERR (sh
 * mode) or PATH search (missing-program mode) or a missing stdin_path (stdin_path
 * mode). Modes: 0 cat fed the data; 1 sh printing two words to stdout and stderr;
 * 2 cat with an output cap of 1 + data[0] % 64 bytes; 3 cat without capture,
 * through on_output; 4 a missing program; 5 cat with stdin_path (/dev/null); 6 cat
 * reading a pipe nobody writes, stopped by a 1-4 ms timeout; 7 sh exit N. */
FUZZ_NOCOV static void op_run(uint8_t arg, const uint8_t *d, size_t n)
{
    static struct sink sink;
    int mode = arg & 7;
    struct ipc_run_options o;
    memset(&o, 0, sizeof(o));
    o.method = (enum ipc_proc_method)((arg >> 3) & 3);
    o.flags = (arg & 0x20) ? IPC_RUN_F_PGROUP : 0;
    char *cat[] = {"/bin/cat", NULL};
    char a[65], b[65], num[8];
    char *sh_print[] = {"/bin/sh", "-c", "printf %s \"$1\"; printf %s \"$2\" >&2", "sh", a,
                        b,         NULL};
    char *sh_exit[] = {"/bin/sh", "-c", "exit $1", "sh", num, NULL};
    char *missing[] = {(arg & 0x40) ? "ipcstorm-fuzz-no-such-prog" : "/nonexistent/prog", NULL};
    char *const *argv = cat;
    int natural = 0, code = 0;
    struct ipc_pipe hold = {-1, -1};
    size_t cap = 0;
    switch (mode) {
    case 0:
    case 2:
    case 3:
        o.stdin_data = d;
        o.stdin_len = n;
        if (mode == 2) {
            cap = 1 + (n ? d[0] % 64 : 0);
            o.max_output = cap;
        }
        if (mode == 3) {
            o.flags |= IPC_RUN_F_NO_CAPTURE;
            o.on_output = on_output;
            o.ctx = &sink;
            sink.len = 0;
            sink.other = 0;
        }
        break;
    case 1:
        word(a, d, n / 2);
        word(b, d + n / 2, n - n / 2);
        argv = sh_print;
        if (arg & 0x40)
            o.flags |= IPC_RUN_F_MERGE_STDERR;
        break;
    case 4:
        argv = missing;
        natural = -ENOENT;
        if (arg & 0x40)
            o.flags |= IPC_RUN_F_PATH;
        break;
    case 5:
        o.stdin_path = (arg & 0x40) ? "/nonexistent/stdin" : "/dev/null";
        natural = (arg & 0x40) ? -ENOENT : 0;
        break;
    case 6: {
        int rc = ipc_pipe_open(&hold, 0);
        EXPECT_RC(rc, 0);
        if (rc < 0)
            return;
        o.flags |= IPC_RUN_F_STDIN_FD;
        o.stdin_fd = hold.rd;
        o.timeout_ms = 1 + (n ? d[0] % 4 : 0);
        o.grace_ms = 200;
        break;
    }
    default:
        snprintf(num, sizeof(num), "%u", n ? d[0] : 5u);
        code = n ? d[0] : 5;
        argv = sh_exit;
        break;
    }
    struct ipc_run_result res;
    uint64_t before = fuzz_faults_injected(&ff);
    int rc = ipc_run(argv, &o, &res);
    int faulted = injected_since(before);
    ipc_pipe_close(&hold);
    EXPECT_RC(rc, natural); /* an exec or stdin_path error is never lost (see the top) */
    if (rc < 0) {
        FUZZ_CHECK(res.out == NULL && res.err == NULL && res.pid == 0);
        ipc_run_result_free(&res);
        return;
    }
    FUZZ_CHECK(res.out != NULL && res.err != NULL);
    FUZZ_CHECK(res.out[res.out_len] == '\0' && res.err[res.err_len] == '\0');
    FUZZ_CHECK(res.pid > 0);
    if (mode == 6) {
        FUZZ_CHECK(res.timed_out);
        FUZZ_CHECK(res.status.signaled &&
                   (res.status.signal == SIGTERM || (res.killed && res.status.signal == SIGKILL)));
        FUZZ_CHECK(res.out_len == 0 && res.err_len == 0);
        ipc_run_result_free(&res);
        return;
    }
    FUZZ_CHECK(!res.timed_out && !res.killed);
    if (!(res.status.exited && res.status.code == code)) {
        /* a child whose stdin/stdout were cut may die of SIGPIPE or fail; only
         * with a fault, and never quietly with exit status 0 */
        FUZZ_CHECK(faulted);
        ipc_run_result_free(&res);
        return;
    }
    FUZZ_CHECK(res.stdin_written <= n);
    if (mode == 0 || mode == 2 || mode == 3) {
        /* cat echoes exactly what it was given */
        size_t fed = res.stdin_written;
        if (fed != n)
            FUZZ_CHECK(faulted);
        const uint8_t *got = mode == 3 ? sink.buf : res.out;
        size_t got_len = mode == 3 ? sink.len : res.out_len;
        if (mode == 2) {
            size_t keep = fed < cap ? fed : cap;
            FUZZ_CHECK(res.out_len == keep);
            FUZZ_CHECK(res.out_truncated == (fed > cap));
        } else {
            FUZZ_CHECK(got_len == fed);
            FUZZ_CHECK(!res.out_truncated);
        }
        if (mode == 3)
            FUZZ_CHECK(res.out_len == 0 && !sink.other);
        if (mode != 2 || got_len)
            FUZZ_CHECK(memcmp(got, d, mode == 2 ? res.out_len : got_len) == 0);
        FUZZ_CHECK(res.err_len == 0);
    } else if (mode == 1) {
        size_t la = strlen(a), lb = strlen(b);
        if (arg & 0x40) {
            FUZZ_CHECK(res.out_len == la + lb && res.err_len == 0);
            FUZZ_CHECK(memcmp(res.out, a, la) == 0 && memcmp(res.out + la, b, lb) == 0);
        } else {
            FUZZ_CHECK(res.out_len == la && memcmp(res.out, a, la) == 0);
            FUZZ_CHECK(res.err_len == lb && memcmp(res.err, b, lb) == 0);
        }
    } else {
        FUZZ_CHECK(res.out_len == 0 && res.err_len == 0);
    }
    ipc_run_result_free(&res);
}

/* ---- op 3: swap the caller's stdout and stderr around one spawn -------------------- */

/* Same open file? */
FUZZ_NOCOV static int same_file(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The process's fds 1 and 2 go to pipes A and B with ipc_redir_apply; a child
 * spawned with the swap (a plan with 1>&2 2>&1, or stdio[] = {-1, 2, 1} when bit 0
 * of arg is set) prints word a to stdout and b to stderr, so a must come out of B
 * and b out of A; then ipc_redir_restore. Nothing is checked while fds 1 and 2 are
 * redirected (a report would be lost): the harness's own copies put them back with
 * plain dup2 in any case, and the checks follow. arg bits 3-4: method. */
FUZZ_NOCOV static void op_swap(uint8_t arg, const uint8_t *d, size_t n)
{
    char a[65], b[65];
    word(a, d, n / 2);
    word(b, d + n / 2, n - n / 2);
    fflush(stdout);
    fflush(stderr);
    int keep1 = fcntl(1, F_DUPFD_CLOEXEC, 3), keep2 = fcntl(2, F_DUPFD_CLOEXEC, 3);
    FUZZ_CHECK(keep1 >= 0 && keep2 >= 0);
    struct ipc_pipe pa, pb;
    int rc = ipc_pipe_open(&pa, 0);
    EXPECT_RC(rc, 0);
    if (rc < 0)
        goto out_keep;
    rc = ipc_pipe_open(&pb, 0);
    EXPECT_RC(rc, 0);
    if (rc < 0) {
        ipc_pipe_close(&pa);
        goto out_keep;
    }
    ipc_redir *to_pipes = NULL, *swap = NULL;
    int rc_plan = ipc_redir_new(&to_pipes);
    if (rc_plan == 0)
        rc_plan = ipc_redir_fd(to_pipes, 1, pa.wr);
    if (rc_plan == 0)
        rc_plan = ipc_redir_fd(to_pipes, 2, pb.wr);
    if (rc_plan == 0 && !(arg & 1)) {
        rc_plan = ipc_redir_new(&swap);
        if (rc_plan == 0)
            rc_plan = ipc_redir_same(swap, 1, 2);
        if (rc_plan == 0)
            rc_plan = ipc_redir_same(swap, 2, 1);
    }
    /* the plan holds its own copies of the write ends */
    close(pa.wr);
    pa.wr = -1;
    close(pb.wr);
    pb.wr = -1;
    int rc_apply = -1, rc_spawn = -1, rc_restore = -1;
    ipc_proc *proc = NULL;
    struct ipc_redir_saved saved;
    if (rc_plan == 0) {
        rc_apply = ipc_redir_apply(to_pipes, &saved);
        if (rc_apply == 0) {
            /* ---- fds 1 and 2 are the pipes: no output, no checks ---- */
            char *argv[] = {"/bin/sh", "-c", "printf %s \"$1\"; printf %s \"$2\" >&2", "sh", a,
                            b,         NULL};
            struct ipc_proc_options o;
            memset(&o, 0, sizeof(o));
            o.method = (enum ipc_proc_method)((arg >> 3) & 3);
            if (arg & 1) {
                o.flags = IPC_PROC_F_STDIO;
                o.stdio[0] = -1;
                o.stdio[1] = 2;
                o.stdio[2] = 1;
            } else {
                o.redir = swap;
            }
            rc_spawn = ipc_proc_spawn(&proc, argv, &o);
            rc_restore = ipc_redir_restore(&saved);
        }
    }
    /* back to the real stdout and stderr, whatever happened */
    int restored = rc_restore == 0 && same_file(1, keep1) && same_file(2, keep2);
    FUZZ_CHECK(dup2(keep1, 1) == 1 && dup2(keep2, 2) == 2);
    ipc_redir_free(to_pipes); /* closes the plan's write ends: EOF once the child is done */
    ipc_redir_free(swap);
    EXPECT_RC(rc_plan, 0);
    if (rc_plan == 0)
        EXPECT_RC(rc_apply, 0);
    if (rc_apply == 0) {
        EXPECT_RC(rc_spawn, 0);
        EXPECT_RC(rc_restore, 0);
        if (rc_restore == 0)
            FUZZ_CHECK(restored); /* restore put back the very same files */
    }
    if (rc_spawn == 0) {
        char ga[80], gb[80];
        ssize_t ra = ipc_pipe_read_full(pa.rd, ga, sizeof(ga));
        ssize_t rb = ipc_pipe_read_full(pb.rd, gb, sizeof(gb));
        struct ipc_proc_status st;
        int w = ipc_proc_wait(proc, IPC_PROC_WAIT_FOREVER, 0, &st);
        EXPECT_RC(w, 0);
        EXPECT_RC(ra, (int)strlen(b));
        EXPECT_RC(rb, (int)strlen(a));
        if (ra == (ssize_t)strlen(b) && rb == (ssize_t)strlen(a)) {
            /* swapped: stdout (a) went to stderr's pipe B, stderr (b) to A */
            FUZZ_CHECK(memcmp(ga, b, (size_t)ra) == 0 && memcmp(gb, a, (size_t)rb) == 0);
            if (w == 0)
                FUZZ_CHECK(st.exited && st.code == 0);
        }
    }
    ipc_proc_free(proc);
    ipc_pipe_close(&pa);
    ipc_pipe_close(&pb);
out_keep:
    close(keep1);
    close(keep2);
}

/* ---- op 4: the pipe API alone ------------------------------------------------------- */

/* arg: bit 0 non-blocking pipe, bit 1 ask for a capacity of 4096 + data[0] * 64
 * bytes first, bit 2 write in up to three writev pieces. */
FUZZ_NOCOV static void op_pipe(uint8_t arg, const uint8_t *d, size_t n)
{
    static uint8_t back[MAX_DATA + 1];
    struct ipc_pipe p;
    int rc = ipc_pipe_open(&p, (arg & 1) ? IPC_PIPE_NONBLOCK : 0);
    EXPECT_RC(rc, 0);
    if (rc < 0) {
        FUZZ_CHECK(p.rd == -1 && p.wr == -1);
        return;
    }
    int cap = ipc_pipe_capacity(p.wr);
    EXPECT_RC(cap < 0 ? cap : 0, 0);
    if (arg & 2) {
        size_t want = 4096 + (n ? d[0] : 0) * 64u;
        int set = ipc_pipe_set_capacity(p.rd, want);
        /* -EPERM: the user's pipe quota is used up, which a real kernel does say */
        if (set < 0 && set != -EPERM)
            EXPECT_RC(set, 0);
        if (set > 0)
            FUZZ_CHECK((size_t)set >= want);
    }
    int nb = ipc_pipe_set_nonblock(p.wr, (arg & 1) != 0);
    EXPECT_RC(nb, 0);
    /* MAX_DATA fits in any pipe (at least one page, usually 64 KiB): no blocking */
    ssize_t w;
    if (arg & 4) {
        size_t k = n / 3;
        struct iovec iov[3] = {
            {(void *)d, k}, {(void *)(d + k), k}, {(void *)(d + 2 * k), n - 2 * k}};
        w = ipc_pipe_writev_all(p.wr, iov, 3, IPC_PIPE_NO_SIGPIPE_GUARD);
    } else {
        w = ipc_pipe_write_all(p.wr, d, n, IPC_PIPE_NO_SIGPIPE_GUARD);
    }
    /* never short: an empty pipe has room for n <= MAX_DATA bytes, so the seam
     * injects no EAGAIN (nor a short write of at most PIPE_BUF bytes, nor EPIPE
     * with the read end open) */
    EXPECT_RC(w, (int)n);
    close(p.wr);
    p.wr = -1;
    ssize_t r = ipc_pipe_read_full(p.rd, back, n + 1);
    if (w >= 0) {
        if (r >= 0 && r != w)
            FUZZ_CHECK(ff.armed && r < w); /* an EAGAIN cut the read short */
        else
            EXPECT_RC(r, (int)w);
    }
    if (r > 0)
        FUZZ_CHECK(memcmp(back, d, (size_t)r) == 0);
    ipc_pipe_close(&p);
    FUZZ_CHECK(p.rd == -1 && p.wr == -1);
    ipc_pipe_close(NULL);
}

/* ---- op 5: a function child --------------------------------------------------------- */

struct fn_arg {
    int fd;
    const uint8_t *d;
    size_t n;
    int code;
};

static int child_fn(void *p)
{
    struct fn_arg *a = p;
    ssize_t w = ipc_pipe_write_all(a->fd, a->d, a->n, 0);
    return w == (ssize_t)a->n ? a->code : 99;
}

/* A forked copy of this process writes the data into a pipe (stdout redirected to
 * it when bit 0 of arg is set: fd 1 in the child) and exits with data[0] % 64. */
FUZZ_NOCOV static void op_fork(uint8_t arg, const uint8_t *d, size_t n)
{
    static uint8_t back[MAX_DATA + 1];
    struct ipc_pipe p;
    int rc = ipc_pipe_open(&p, 0);
    EXPECT_RC(rc, 0);
    if (rc < 0)
        return;
    struct fn_arg fa = {p.wr, d, n, n ? d[0] % 64 : 0};
    struct ipc_proc_options o;
    memset(&o, 0, sizeof(o));
    if (arg & 1) {
        o.flags = IPC_PROC_F_STDIO;
        o.stdio[0] = o.stdio[2] = -1;
        o.stdio[1] = p.wr;
        fa.fd = 1;
    }
    ipc_proc *proc = NULL;
    uint64_t before = fuzz_faults_injected(&ff);
    rc = ipc_proc_fork(&proc, child_fn, &fa, &o);
    EXPECT_RC(rc, 0);
    close(p.wr);
    p.wr = -1;
    if (rc == 0) {
        ssize_t r = ipc_pipe_read_full(p.rd, back, n + 1);
        struct ipc_proc_status st;
        int w = ipc_proc_wait(proc, IPC_PROC_WAIT_FOREVER, 0, &st);
        EXPECT_RC(w, 0);
        if (!injected_since(before)) {
            FUZZ_CHECK(r == (ssize_t)n && memcmp(back, d, n) == 0);
            FUZZ_CHECK(st.exited && st.code == fa.code);
        } else if (r > 0) {
            FUZZ_CHECK((size_t)r <= n && memcmp(back, d, (size_t)r) == 0);
        }
    }
    ipc_proc_free(proc);
    ipc_pipe_close(&p);
}

/* ---- argument contracts (a one-byte payload) ------------------------------------------ */

static char *const true_argv[] = {"true", NULL};

static int edge_child(void *arg)
{
    (void)arg;
    return 7;
}

static void edge_handler(int signo, siginfo_t *info, void *uc)
{
    (void)signo;
    (void)info;
    (void)uc;
}

/* ipc_proc_spawn of /bin/true with opts: the spawn's result; on success the child
 * must exit 0 and is reaped. */
FUZZ_NOCOV static int spawn_true(const struct ipc_proc_options *o, char *const argv[])
{
    ipc_proc *p = (ipc_proc *)&p; /* must be overwritten (NULL on failure) */
    int rc = ipc_proc_spawn(&p, argv, o);
    if (rc < 0) {
        FUZZ_CHECK(p == NULL || rc == -EINVAL);
        return rc;
    }
    struct ipc_proc_status st;
    FUZZ_CHECK(ipc_proc_wait(p, IPC_PROC_WAIT_FOREVER, 0, &st) == 0);
    FUZZ_CHECK(st.exited && st.code == 0);
    ipc_proc_free(p);
    return rc;
}

/* An fd number that is certainly not open (the lowest free one, closed again). */
FUZZ_NOCOV static int closed_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    close(fd);
    return fd;
}

/* ipc/proc.h: spawn, fork, the exec family, status, wait, kill. */
FUZZ_NOCOV static void proc_contracts(void)
{
    ipc_proc *p = NULL;
    struct ipc_proc_options o;
    char *const no_arg0[] = {NULL};
    char *const bin_true[] = {"/bin/true", NULL};
    /* "-EINVAL bad arguments/unknown flags" */
    CONTRACT(ipc_proc_spawn(NULL, bin_true, NULL), -EINVAL);
    CONTRACT(ipc_proc_spawn(&p, NULL, NULL), -EINVAL);
    CONTRACT(ipc_proc_spawn(&p, no_arg0, NULL), -EINVAL);
    memset(&o, 0, sizeof(o));
    o.flags = IPC_PROC_F_ALL + 1;
    CONTRACT(spawn_true(&o, bin_true), -EINVAL);
    o.flags = 0;
    o.method = (enum ipc_proc_method)(IPC_PROC_POSIX_SPAWN + 1);
    CONTRACT(spawn_true(&o, bin_true), -EINVAL);
    o.method = (enum ipc_proc_method) - 1;
    CONTRACT(spawn_true(&o, bin_true), -EINVAL);
    o.method = IPC_PROC_AUTO;
    o.cwd = "";
    CONTRACT(spawn_true(&o, bin_true), -EINVAL);
    o.cwd = NULL;
    o.flags = IPC_PROC_F_STDIO;
    o.stdio[0] = o.stdio[1] = o.stdio[2] = -1;
    o.stdio[1] = -2;
    CONTRACT(spawn_true(&o, bin_true), -EINVAL);
    /* "-EBADF a stdio fd is not open" */
    o.stdio[1] = closed_fd();
    CONTRACT(spawn_true(&o, bin_true), -EBADF);
    /* "a target may not be set both here and in stdio[]" */
    ipc_redir *r = NULL;
    CONTRACT(ipc_redir_new(&r), 0);
    CONTRACT(ipc_redir_null(r, IPC_REDIR_STDOUT), 0);
    o.stdio[1] = STDERR_FILENO;
    o.redir = r;
    CONTRACT(spawn_true(&o, bin_true), -EINVAL);
    o.redir = NULL;
    ipc_redir_free(r);
    /* the valid extremes: every flag, every method */
    o.flags = IPC_PROC_F_ALL;
    o.stdio[1] = -1;
    for (int m = IPC_PROC_AUTO; m <= IPC_PROC_POSIX_SPAWN; m++) {
        o.method = (enum ipc_proc_method)m;
        CONTRACT(spawn_true(&o, true_argv), 0);
    }

    /* ipc_proc_fork: "method must be AUTO or FORK, file/env/cwd must be NULL" */
    CONTRACT(ipc_proc_fork(NULL, edge_child, NULL, NULL), -EINVAL);
    CONTRACT(ipc_proc_fork(&p, NULL, NULL, NULL), -EINVAL);
    char *const env[] = {"A=1", NULL};
    const struct {
        enum ipc_proc_method method;
        unsigned flags;
        const char *file, *cwd;
        char *const *env;
    } bad_fork[] = {
        {IPC_PROC_VFORK, 0, NULL, NULL, NULL},
        {IPC_PROC_POSIX_SPAWN, 0, NULL, NULL, NULL},
        {IPC_PROC_FORK, IPC_PROC_F_ALL + 1, NULL, NULL, NULL},
        {IPC_PROC_FORK, IPC_PROC_F_PATH, NULL, NULL, NULL},
        {IPC_PROC_FORK, 0, "/bin/true", NULL, NULL},
        {IPC_PROC_FORK, 0, NULL, "/", NULL},
        {IPC_PROC_FORK, 0, NULL, NULL, env},
    };
    for (size_t i = 0; i < sizeof(bad_fork) / sizeof(bad_fork[0]); i++) {
        memset(&o, 0, sizeof(o));
        o.method = bad_fork[i].method;
        o.flags = bad_fork[i].flags;
        o.file = bad_fork[i].file;
        o.cwd = bad_fork[i].cwd;
        o.env = bad_fork[i].env;
        p = (ipc_proc *)&p;
        CONTRACT(ipc_proc_fork(&p, edge_child, NULL, &o), -EINVAL);
    }
    memset(&o, 0, sizeof(o));
    o.method = IPC_PROC_FORK;
    o.flags = IPC_PROC_F_SETPGID | IPC_PROC_F_NO_PIDFD;
    CONTRACT(ipc_proc_fork(&p, edge_child, NULL, &o), 0);
    struct ipc_proc_status st;
    CONTRACT(ipc_proc_wait(p, IPC_PROC_WAIT_FOREVER, 0, &st), 0);
    FUZZ_CHECK(st.exited && st.code == 7);
    ipc_proc_free(p);

    /* the exec family: NULL out/file/arg0/envp */
    CONTRACT(ipc_proc_spawnl(NULL, "/bin/true", "true", (char *)NULL), -EINVAL);
    CONTRACT(ipc_proc_spawnl(&p, NULL, "true", (char *)NULL), -EINVAL);
    CONTRACT(ipc_proc_spawnl(&p, "/bin/true", NULL), -EINVAL);
    CONTRACT(ipc_proc_spawnlp(&p, NULL, "true", (char *)NULL), -EINVAL);
    CONTRACT(ipc_proc_spawnlp(NULL, "true", "true", (char *)NULL), -EINVAL);
    CONTRACT(ipc_proc_spawnv(NULL, "/bin/true", true_argv), -EINVAL);
    CONTRACT(ipc_proc_spawnv(&p, NULL, true_argv), -EINVAL);
    CONTRACT(ipc_proc_spawnv(&p, "/bin/true", NULL), -EINVAL);
    CONTRACT(ipc_proc_spawnvp(&p, NULL, true_argv), -EINVAL);
    CONTRACT(ipc_proc_spawnvpe(&p, "true", true_argv, NULL), -EINVAL);
    CONTRACT(ipc_proc_spawnvpe(NULL, "true", true_argv, env), -EINVAL);

    /* ipc_proc_status_decode: "-EINVAL (st NULL, or raw is not a status the kernel
     * produces)"; each valid kind at its edges decodes to exactly one kind */
    CONTRACT(ipc_proc_status_decode(0, NULL), -EINVAL);
    const int bad_raw[] = {
        0x10000,
        -1,
        0x007f /* stopped by 0 */,
        (NSIG << 8) | 0x7f,
        0x0080 /* exit + core */,
        0x0109 /* killed with a high byte */,
        NSIG,
        NSIG | 0x80,
    };
    for (size_t i = 0; i < sizeof(bad_raw) / sizeof(bad_raw[0]); i++)
        CONTRACT(ipc_proc_status_decode(bad_raw[i], &st), -EINVAL);
    const struct {
        int raw, exited, code, signaled, signal, core, stopped, continued;
    } good_raw[] = {
        {0x0000, 1, 0, 0, 0, 0, 0, 0},
        {0xff00, 1, 255, 0, 0, 0, 0, 0},
        {0x0001, 0, 0, 1, 1, 0, 0, 0},
        {NSIG - 1, 0, 0, 1, NSIG - 1, 0, 0, 0},
        {0x0089, 0, 0, 1, 9, 1, 0, 0},
        {0x017f, 0, 0, 0, 1, 0, 1, 0},
        {((NSIG - 1) << 8) | 0x7f, 0, 0, 0, NSIG - 1, 0, 1, 0},
        {0xffff, 0, 0, 0, 0, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof(good_raw) / sizeof(good_raw[0]); i++) {
        CONTRACT(ipc_proc_status_decode(good_raw[i].raw, &st), 0);
        FUZZ_CHECK(st.raw == good_raw[i].raw && st.exited == good_raw[i].exited &&
                   st.code == good_raw[i].code && st.signaled == good_raw[i].signaled &&
                   st.signal == good_raw[i].signal && st.core_dumped == good_raw[i].core &&
                   st.stopped == good_raw[i].stopped && st.continued == good_raw[i].continued);
    }
    /* status_format: "-ENOSPC when truncated, -EINVAL for NULL arguments" */
    char buf[IPC_PROC_STATUS_MAX];
    CONTRACT(ipc_proc_status_decode(0x0300, &st), 0);
    CONTRACT(ipc_proc_status_format(NULL, buf, sizeof(buf)), -EINVAL);
    CONTRACT(ipc_proc_status_format(&st, NULL, sizeof(buf)), -EINVAL);
    CONTRACT(ipc_proc_status_format(&st, buf, 0), -EINVAL);
    CONTRACT(ipc_proc_status_format(&st, buf, 7), 6);
    FUZZ_CHECK(strcmp(buf, "exit 3") == 0);
    CONTRACT(ipc_proc_status_format(&st, buf, 6), -ENOSPC);
    FUZZ_CHECK(buf[5] == '\0');
    CONTRACT(ipc_proc_status_shell(&st), 3);
    CONTRACT(ipc_proc_status_decode(0x0009, &st), 0);
    CONTRACT(ipc_proc_status_shell(&st), 137);
    CONTRACT(ipc_proc_status_decode(0x137f, &st), 0);
    CONTRACT(ipc_proc_status_shell(&st), -EINVAL);
    CONTRACT(ipc_proc_status_shell(NULL), -EINVAL);
    memset(&st, 0, sizeof(st));
    CONTRACT(ipc_proc_status_format(&st, buf, sizeof(buf)), -EINVAL);

    /* wait/kill/status/pid/pidfd on NULL, bad timeouts, flags and signals */
    CONTRACT(ipc_proc_wait(NULL, 0, 0, &st), -EINVAL);
    CONTRACT(ipc_proc_kill(NULL, 0), -EINVAL);
    CONTRACT(ipc_proc_kill_group(NULL, 0), -EINVAL);
    CONTRACT(ipc_proc_pid(NULL), -EINVAL);
    CONTRACT(ipc_proc_pidfd(NULL), -EINVAL);
    CONTRACT(ipc_proc_status(NULL, &st), -EINVAL);
    CONTRACT(ipc_proc_reap_orphans(-2), -EINVAL);
    ipc_proc_free(NULL);
    /* a live child: cat waits for EOF on its stdin pipe */
    struct ipc_pipe in;
    CONTRACT(ipc_pipe_open(&in, 0), 0);
    memset(&o, 0, sizeof(o));
    o.flags = IPC_PROC_F_STDIO | IPC_PROC_F_NO_PIDFD;
    o.stdio[0] = in.rd;
    o.stdio[1] = o.stdio[2] = -1;
    char *const cat[] = {"/bin/cat", NULL};
    CONTRACT(ipc_proc_spawn(&p, cat, &o), 0);
    close(in.rd); /* only cat reads */
    in.rd = -1;
    FUZZ_CHECK(ipc_proc_pid(p) > 0);
    CONTRACT(ipc_proc_pidfd(p), -ENOSYS);
    CONTRACT(ipc_proc_wait(p, -2, 0, &st), -EINVAL);
    CONTRACT(ipc_proc_wait(p, 0, IPC_PROC_WAIT_UNTRACED << 1, &st), -EINVAL);
    CONTRACT(ipc_proc_wait(p, 0, 0, &st), -ETIMEDOUT);
    CONTRACT(ipc_proc_status(p, &st), -EAGAIN);
    CONTRACT(ipc_proc_status(p, NULL), -EINVAL);
    CONTRACT(ipc_proc_kill(p, -1), -EINVAL);
    CONTRACT(ipc_proc_kill(p, NSIG), -EINVAL);
    CONTRACT(ipc_proc_kill(p, 0), 0);
    CONTRACT(ipc_proc_kill_group(p, 0), -EINVAL); /* no group of its own */
    ipc_pipe_close(&in);                          /* EOF: cat exits 0 */
    CONTRACT(ipc_proc_wait(p, IPC_PROC_WAIT_FOREVER, 0, &st), 0);
    FUZZ_CHECK(st.exited && st.code == 0);
    CONTRACT(ipc_proc_wait(p, 0, 0, &st), -ECHILD);
    CONTRACT(ipc_proc_kill(p, 0), -ESRCH);
    memset(&st, 0xa5, sizeof(st));
    CONTRACT(ipc_proc_status(p, &st), 0);
    FUZZ_CHECK(st.exited && st.code == 0 && !st.signaled);
    ipc_proc_free(p);
}

/* ipc/sig.h: bad signal numbers, the uncatchable ones and SIGPIPE, NULL sets. */
FUZZ_NOCOV static void sig_contracts(void)
{
    sigset_t set;
    struct ipc_sig_prev prev;
    ipc_sigsrc *src = NULL;
    CONTRACT(ipc_sig_wait(NULL, NULL), -EINVAL);
    CONTRACT(ipc_sig_timedwait(NULL, 0, NULL), -EINVAL);
    sigemptyset(&set);
    CONTRACT(ipc_sig_timedwait(&set, 0, NULL), -EAGAIN);
    const int bad_catch[] = {0, -1, NSIG, SIGKILL, SIGSTOP, SIGPIPE};
    for (size_t i = 0; i < sizeof(bad_catch) / sizeof(bad_catch[0]); i++) {
        int s = bad_catch[i];
        CONTRACT(ipc_sig_install(s, edge_handler, 0, &prev), -EINVAL);
        CONTRACT(ipc_sig_catch(s, 0, &prev), -EINVAL);
        CONTRACT(ipc_sig_set_default(s, 0, &prev), -EINVAL);
        CONTRACT(ipc_sig_set_default(s, 1, NULL), -EINVAL);
        CONTRACT(ipc_sig_caught(s), 0ul);
    }
    CONTRACT(ipc_sig_install(SIGUSR1, NULL, 0, &prev), -EINVAL);
    CONTRACT(ipc_sig_install(SIGUSR1, edge_handler, IPC_SIG_ONESHOT << 1, &prev), -EINVAL);
    CONTRACT(ipc_sig_catch(SIGUSR1, IPC_SIG_ONESHOT << 1, &prev), -EINVAL);
    CONTRACT(ipc_sig_restore(NULL), -EINVAL);
    memset(&prev, 0, sizeof(prev));
    CONTRACT(ipc_sig_restore(&prev), -EINVAL);
    /* the valid extremes: every flag on SIGUSR1, put back exactly */
    struct sigaction before, after;
    FUZZ_CHECK(sigaction(SIGUSR1, NULL, &before) == 0);
    CONTRACT(ipc_sig_install(SIGUSR1, edge_handler,
                             IPC_SIG_RESTART | IPC_SIG_NOCLDSTOP | IPC_SIG_ONESHOT, &prev),
             0);
    CONTRACT(ipc_sig_restore(&prev), 0);
    FUZZ_CHECK(sigaction(SIGUSR1, NULL, &after) == 0 && after.sa_handler == before.sa_handler);
    /* sending: "-EINVAL bad signo"; 0 probes */
    CONTRACT(ipc_sig_send(getpid(), -1), -EINVAL);
    CONTRACT(ipc_sig_send(getpid(), NSIG), -EINVAL);
    CONTRACT(ipc_sig_send(getpid(), 0), 0);
    CONTRACT(ipc_sig_queue(getpid(), -1, 0), -EINVAL);
    CONTRACT(ipc_sig_queue(getpid(), NSIG, 0), -EINVAL);
    CONTRACT(ipc_sig_queue(getpid(), 0, 0), 0);
    /* masks: "-EINVAL (NULL set, bad signo)" */
    CONTRACT(ipc_sig_mkset(NULL, 0), -EINVAL);
    CONTRACT(ipc_sig_mkset(&set, SIGUSR1, NSIG, 0), -EINVAL);
    CONTRACT(ipc_sig_mkset(&set, SIGUSR1, -1, 0), -EINVAL);
    CONTRACT(ipc_sig_mkset(&set, SIGUSR1, SIGRTMAX, 0), 0);
    FUZZ_CHECK(sigismember(&set, SIGUSR1) == 1 && sigismember(&set, SIGRTMAX) == 1 &&
               sigismember(&set, SIGUSR2) == 0);
    CONTRACT(ipc_sig_block(NULL, NULL), -EINVAL);
    CONTRACT(ipc_sig_unblock(NULL, NULL), -EINVAL);
    CONTRACT(ipc_sig_setmask(NULL, NULL), -EINVAL);
    CONTRACT(ipc_sig_block_one(0), -EINVAL);
    CONTRACT(ipc_sig_block_one(NSIG), -EINVAL);
    CONTRACT(ipc_sig_unblock_one(0), -EINVAL);
    CONTRACT(ipc_sig_unblock_one(NSIG), -EINVAL);
    /* event source: "SIGKILL/SIGSTOP/SIGPIPE and an empty set are rejected" */
    CONTRACT(ipc_sigsrc_new(NULL, &set, 0), -EINVAL);
    CONTRACT(ipc_sigsrc_new(&src, NULL, 0), -EINVAL);
    CONTRACT(ipc_sigsrc_new(&src, &set, IPC_SIGSRC_FORCE_SELFPIPE << 1), -EINVAL);
    sigemptyset(&set);
    CONTRACT(ipc_sigsrc_new(&src, &set, 0), -EINVAL);
    const int bad_src[] = {SIGKILL, SIGSTOP, SIGPIPE};
    for (size_t i = 0; i < sizeof(bad_src) / sizeof(bad_src[0]); i++) {
        CONTRACT(ipc_sig_mkset(&set, SIGUSR1, bad_src[i], 0), 0);
        CONTRACT(ipc_sigsrc_new(&src, &set, 0), -EINVAL);
        CONTRACT(ipc_sigsrc_new(&src, &set, IPC_SIGSRC_FORCE_SELFPIPE), -EINVAL);
    }
    FUZZ_CHECK(src == NULL);
    struct ipc_sig_info info;
    CONTRACT(ipc_sigsrc_fd(NULL), -EINVAL);
    CONTRACT(ipc_sigsrc_backend(NULL), -EINVAL);
    CONTRACT(ipc_sigsrc_read(NULL, &info), -EINVAL);
    ipc_sigsrc_free(NULL);
}

/* ipc/redir.h and ipc/pipe.h argument contracts used by the spawns above. */
FUZZ_NOCOV static void redir_pipe_contracts(void)
{
    ipc_redir *r = NULL;
    struct ipc_redir_saved saved;
    int src[3] = {-1, -2, -1};
    CONTRACT(ipc_redir_new(NULL), -EINVAL);
    CONTRACT(ipc_redir_new(&r), 0);
    CONTRACT(ipc_redir_null(NULL, 1), -EINVAL);
    CONTRACT(ipc_redir_null(r, -1), -EINVAL);
    CONTRACT(ipc_redir_null(r, 3), -EINVAL);
    CONTRACT(ipc_redir_fd(r, 3, 1), -EINVAL);
    CONTRACT(ipc_redir_fd(r, 1, -1), -EINVAL);
    CONTRACT(ipc_redir_fd(r, 1, closed_fd()), -EBADF);
    CONTRACT(ipc_redir_same(r, 1, 3), -EINVAL);
    CONTRACT(ipc_redir_same(r, 3, 1), -EINVAL);
    CONTRACT(ipc_redir_clear(r, 3), -EINVAL);
    CONTRACT(ipc_redir_clear(NULL, 0), -EINVAL);
    CONTRACT(ipc_redir_file(r, 1, NULL, IPC_REDIR_READ), -EINVAL);
    CONTRACT(ipc_redir_file(r, 1, "", IPC_REDIR_READ), -EINVAL);
    CONTRACT(ipc_redir_file(r, 1, "/dev/null", 0), -EINVAL);
    CONTRACT(ipc_redir_file(r, 1, "/dev/null", IPC_REDIR_READ + 1), -EINVAL);
    CONTRACT(ipc_redir_file(r, 3, "/dev/null", IPC_REDIR_READ), -EINVAL);
    CONTRACT(ipc_redir_file(r, 0, "/dev/null", IPC_REDIR_READ), 0);
    CONTRACT(ipc_redir_same(r, 2, 2), 0);
    CONTRACT(ipc_redir_apply(NULL, &saved), -EINVAL);
    CONTRACT(ipc_redir_apply(r, NULL), -EINVAL);
    memset(&saved, 0, sizeof(saved));
    CONTRACT(ipc_redir_restore(&saved), -EINVAL);
    CONTRACT(ipc_redir_restore(NULL), -EINVAL);
    CONTRACT(ipc_redir_apply_fds(NULL), -EINVAL);
    CONTRACT(ipc_redir_apply_fds(src), -EINVAL);
    ipc_redir_free(r);
    ipc_redir_free(NULL);

    struct ipc_pipe p;
    char b[4] = {0}; /* written to the pipe: MSan reports uninitialized bytes */
    CONTRACT(ipc_pipe_open(NULL, 0), -EINVAL);
    CONTRACT(ipc_pipe_open(&p, IPC_PIPE_NONBLOCK << 1), -EINVAL);
    CONTRACT(ipc_pipe_open(&p, 0), 0);
    CONTRACT(ipc_pipe_read_full(p.rd, NULL, 1), -EINVAL);
    CONTRACT(ipc_pipe_write_all(p.wr, NULL, 1, 0), -EINVAL);
    CONTRACT(ipc_pipe_write_all(p.wr, b, (size_t)SSIZE_MAX + 1, 0), -EINVAL);
    CONTRACT(ipc_pipe_write_all(closed_fd(), b, 1, 0), -EBADF);
    CONTRACT(ipc_pipe_read_full(closed_fd(), b, 1), -EBADF);
    CONTRACT(ipc_pipe_write_all(p.wr, b, 1, IPC_PIPE_NO_SIGPIPE_GUARD << 1), -EINVAL);
    CONTRACT(ipc_pipe_write_all(p.wr, NULL, 0, 0), 0);
    struct iovec iov[65];
    for (int i = 0; i < 65; i++) {
        iov[i].iov_base = b;
        iov[i].iov_len = 1;
    }
    CONTRACT(ipc_pipe_writev_all(p.wr, iov, 65, 0), -EINVAL);
    CONTRACT(ipc_pipe_writev_all(p.wr, iov, -1, 0), -EINVAL);
    iov[0].iov_base = NULL;
    CONTRACT(ipc_pipe_writev_all(p.wr, iov, 1, 0), -EINVAL);
    iov[0].iov_base = b;
    CONTRACT(ipc_pipe_writev_all(p.wr, iov, 64, 0), 64); /* the largest iovcnt */
    char back[64];
    CONTRACT(ipc_pipe_read_full(p.rd, back, 64), 64);
    CONTRACT(ipc_pipe_set_capacity(p.wr, 0), -EINVAL);
    CONTRACT(ipc_pipe_set_capacity(p.wr, (size_t)INT_MAX + 1), -EINVAL);
    CONTRACT(ipc_pipe_set_capacity(closed_fd(), 4096), -EBADF);
    CONTRACT(ipc_pipe_capacity(closed_fd()), -EBADF);
    CONTRACT(ipc_pipe_set_nonblock(closed_fd(), 1), -EBADF);
    CONTRACT(ipc_pipe_use_read_end(NULL), -EINVAL);
    CONTRACT(ipc_pipe_use_write_end(NULL), -EINVAL);
    int rd = p.rd;
    CONTRACT(ipc_pipe_use_read_end(&p), rd);
    FUZZ_CHECK(p.wr == -1);
    CONTRACT(ipc_pipe_use_write_end(&p), -EBADF);
    ipc_pipe_close(&p);
    FUZZ_CHECK(p.rd == -1 && p.wr == -1);
    ipc_pipe_close(NULL);
}

static int echo_task(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len,
                     void *arg)
{
    (void)arg;
    if (in_len > out_cap)
        return -EOVERFLOW;
    memcpy(out, in, in_len);
    *out_len = in_len;
    return 0;
}

/* ipc/run.h: "-EINVAL bad arguments / unknown flags / negative or absurd (> 70
 * years) times", the option combinations it excludes, and the valid extremes. */
FUZZ_NOCOV static void run_contracts(void)
{
    struct ipc_run_result res;
    struct ipc_run_options o;
    char *const no_arg0[] = {NULL};
    char *const bin_true[] = {"/bin/true", NULL};
    const int64_t max_ms = INT64_MAX / 4 / 1000000; /* ~73 years */
    CONTRACT(ipc_run(NULL, NULL, &res), -EINVAL);
    CONTRACT(ipc_run(no_arg0, NULL, &res), -EINVAL);
    CONTRACT(ipc_run(bin_true, NULL, NULL), -EINVAL);
    const struct {
        unsigned flags;
        int64_t timeout_ms, grace_ms;
        const void *stdin_data;
        size_t stdin_len;
        int stdin_fd;
        const char *stdin_path;
        int method;
        int with_on_output;
    } bad[] = {
        {IPC_RUN_F_ALL + 1, 0, 0, NULL, 0, 0, NULL, 0, 0},
        {0, -1, 0, NULL, 0, 0, NULL, 0, 0},
        {0, 0, -1, NULL, 0, 0, NULL, 0, 0},
        {0, max_ms + 1, 0, NULL, 0, 0, NULL, 0, 0},
        {0, 0, max_ms + 1, NULL, 0, 0, NULL, 0, 0},
        {0, 0, 0, NULL, 1, 0, NULL, 0, 0},                         /* stdin_len without data */
        {IPC_RUN_F_STDIN_FD, 0, 0, NULL, 0, -1, NULL, 0, 0},       /* bad stdin_fd */
        {IPC_RUN_F_STDIN_FD, 0, 0, "x", 1, 0, NULL, 0, 0},         /* fd and data */
        {IPC_RUN_F_STDIN_FD, 0, 0, NULL, 0, 0, "/dev/null", 0, 0}, /* fd and path */
        {0, 0, 0, "x", 1, 0, "/dev/null", 0, 0},                   /* data and path */
        {0, 0, 0, NULL, 0, 0, NULL, IPC_PROC_POSIX_SPAWN + 1, 0},
        {IPC_RUN_F_NO_CAPTURE, 0, 0, NULL, 0, 0, NULL, 0, 0}, /* no capture, no on_output */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&o, 0, sizeof(o));
        o.flags = bad[i].flags;
        o.timeout_ms = bad[i].timeout_ms;
        o.grace_ms = bad[i].grace_ms;
        o.stdin_data = bad[i].stdin_data;
        o.stdin_len = bad[i].stdin_len;
        o.stdin_fd = bad[i].stdin_fd;
        o.stdin_path = bad[i].stdin_path;
        o.method = (enum ipc_proc_method)bad[i].method;
        memset(&res, 0xa5, sizeof(res));
        CONTRACT(ipc_run(bin_true, &o, &res), -EINVAL);
        /* "On failure res is left zeroed" */
        FUZZ_CHECK(res.out == NULL && res.err == NULL && res.pid == 0 && res.out_len == 0);
        ipc_run_result_free(&res);
    }
    /* the largest accepted times: the child ends long before */
    memset(&o, 0, sizeof(o));
    o.timeout_ms = max_ms;
    o.grace_ms = max_ms;
    o.method = IPC_PROC_POSIX_SPAWN;
    CONTRACT(ipc_run(bin_true, &o, &res), 0);
    FUZZ_CHECK(res.status.exited && res.status.code == 0 && !res.timed_out && res.out != NULL &&
               res.out_len == 0);
    ipc_run_result_free(&res);
    ipc_run_result_free(NULL);
}

/* ipc/pool.h: Process and Pool argument contracts and limits. */
FUZZ_NOCOV static void pool_contracts(void)
{
    ipc_mp_process *mp = NULL;
    struct ipc_mp_process_options mo = {1};
    struct ipc_proc_status st;
    CONTRACT(ipc_mp_process_new(NULL, edge_child, NULL, NULL), -EINVAL);
    CONTRACT(ipc_mp_process_new(&mp, NULL, NULL, NULL), -EINVAL);
    CONTRACT(ipc_mp_process_new(&mp, edge_child, NULL, &mo), -EINVAL);
    CONTRACT(ipc_mp_process_new(&mp, edge_child, NULL, NULL), 0);
    /* not started: join/terminate/kill are -EINVAL, pid 0, not alive */
    CONTRACT(ipc_mp_process_join(mp, 0, &st), -EINVAL);
    CONTRACT(ipc_mp_process_terminate(mp), -EINVAL);
    CONTRACT(ipc_mp_process_kill(mp), -EINVAL);
    CONTRACT(ipc_mp_process_pid(mp), 0);
    CONTRACT(ipc_mp_process_is_alive(mp), 0);
    CONTRACT(ipc_mp_process_start(NULL), -EINVAL);
    CONTRACT(ipc_mp_process_start(mp), 0);
    CONTRACT(ipc_mp_process_start(mp), -EALREADY);
    CONTRACT(ipc_mp_process_join(mp, -2, &st), -EINVAL);
    CONTRACT(ipc_mp_process_join(NULL, -1, &st), -EINVAL);
    CONTRACT(ipc_mp_process_join(mp, -1, &st), 0);
    FUZZ_CHECK(st.exited && st.code == 7);
    CONTRACT(ipc_mp_process_terminate(mp), -ESRCH);
    CONTRACT(ipc_mp_process_kill(mp), -ESRCH);
    ipc_mp_process_free(mp);
    ipc_mp_process_free(NULL);

    ipc_pool *pool = NULL;
    struct ipc_pool_options po;
    const struct ipc_pool_options bad_pool[] = {
        {IPC_POOL_MAX_WORKERS + 1, 0, 0, 0, 0},
        {1, (size_t)IPC_POOL_MAX_BYTES + 1, 0, 0, 0},
        {1, 0, (size_t)IPC_POOL_MAX_BYTES + 1, 0, 0},
        {1, 0, 0, 0, 1},
    };
    CONTRACT(ipc_pool_new(NULL, echo_task, NULL, NULL), -EINVAL);
    CONTRACT(ipc_pool_new(&pool, NULL, NULL, NULL), -EINVAL);
    for (size_t i = 0; i < sizeof(bad_pool) / sizeof(bad_pool[0]); i++) {
        pool = (ipc_pool *)&pool;
        CONTRACT(ipc_pool_new(&pool, echo_task, NULL, &bad_pool[i]), -EINVAL);
        FUZZ_CHECK(pool == NULL);
    }
    /* max_in at the ceiling is accepted; then a small pool for the task limits */
    memset(&po, 0, sizeof(po));
    po.workers = 1;
    po.max_in = po.max_out = IPC_POOL_MAX_BYTES;
    CONTRACT(ipc_pool_new(&pool, echo_task, NULL, &po), 0);
    ipc_pool_free(pool);
    po.max_in = 4;
    po.max_out = 4;
    po.max_pending = 1;
    CONTRACT(ipc_pool_new(&pool, echo_task, NULL, &po), 0);
    uint64_t id = 0;
    struct ipc_pool_result res;
    CONTRACT(ipc_pool_submit(NULL, "abcd", 4, &id), -EINVAL);
    CONTRACT(ipc_pool_submit(pool, "abcd", 4, NULL), -EINVAL);
    CONTRACT(ipc_pool_submit(pool, NULL, 1, &id), -EINVAL);
    CONTRACT(ipc_pool_submit(pool, "abcde", 5, &id), -EMSGSIZE);
    CONTRACT(ipc_pool_collect(pool, 0, &res), -ENOENT);
    CONTRACT(ipc_pool_submit(pool, "abcd", 4, &id), 0);
    FUZZ_CHECK(id == 1);
    CONTRACT(ipc_pool_submit(pool, "x", 1, &id), -EAGAIN); /* max_pending 1 */
    CONTRACT(ipc_pool_collect(pool, -2, &res), -EINVAL);
    CONTRACT(ipc_pool_collect(pool, -1, NULL), -EINVAL);
    CONTRACT(ipc_pool_collect(NULL, -1, &res), -EINVAL);
    CONTRACT(ipc_pool_collect(pool, -1, &res), 0);
    FUZZ_CHECK(res.id == 1 && res.status == 0 && res.len == 4 && memcmp(res.data, "abcd", 4) == 0);
    ipc_pool_result_free(&res);
    ipc_pool_result_free(NULL);
    struct ipc_pool_buf in[2] = {{"ab", 2}, {NULL, 1}};
    struct ipc_pool_result mres[2];
    CONTRACT(ipc_pool_map(pool, in, 2, mres), -EINVAL);
    in[1].data = "abcde";
    in[1].len = 5;
    CONTRACT(ipc_pool_map(pool, in, 2, mres), -EMSGSIZE);
    CONTRACT(ipc_pool_map(NULL, in, 2, mres), -EINVAL);
    CONTRACT(ipc_pool_map(pool, NULL, 2, mres), -EINVAL);
    CONTRACT(ipc_pool_map(pool, in, 2, NULL), -EINVAL);
    pid_t pids[1];
    CONTRACT(ipc_pool_pids(pool, NULL, 1), -EINVAL);
    CONTRACT(ipc_pool_pids(NULL, pids, 1), -EINVAL);
    CONTRACT(ipc_pool_pids(pool, pids, 1), 1);
    CONTRACT(ipc_pool_close(pool, -2), -EINVAL);
    CONTRACT(ipc_pool_close(NULL, -1), -EINVAL);
    CONTRACT(ipc_pool_terminate(NULL), -EINVAL);
    CONTRACT(ipc_pool_close(pool, -1), 0);
    CONTRACT(ipc_pool_submit(pool, "x", 1, &id), -EPIPE);
    ipc_pool_free(pool);
    ipc_pool_free(NULL);
}

/* The PATH search of the fork/vfork methods builds "dir/file" in a fixed buffer
 * (PATH_BUF, proc.c's ipc__child_exec): an entry whose "dir/file" plus its NUL
 * exactly fills it is tried; one byte longer cannot be built and is skipped with
 * ENAMETOOLONG (the kernel refuses such a path too: PATH_MAX counts the NUL), so
 * the spawn fails with -ENAMETOOLONG when it is the only entry, and the next entry
 * is then searched. The directories are created under a private temp dir. */
#define PATH_BUF 4096

/* mkdir -p of a path below base (which exists) made of components of at most
 * 200 bytes, so that the whole path is exactly len bytes long. */
FUZZ_NOCOV static void deep_dir(char *out, const char *base, size_t len)
{
    size_t at = strlen(base);
    FUZZ_CHECK(at < len && len < PATH_BUF);
    memcpy(out, base, at);
    while (at < len) {
        size_t comp = len - at - 1; /* "/" + comp bytes */
        if (comp > 200)
            comp = 200;
        if (len - at - 1 - comp == 1) /* never leave room for a "/" alone */
            comp--;
        out[at++] = '/';
        memset(out + at, 'd', comp);
        at += comp;
        out[at] = '\0';
        FUZZ_CHECK(mkdir(out, 0700) == 0 || errno == EEXIST);
    }
    FUZZ_CHECK(strlen(out) == len);
}

/* rmdir of every directory of path below base, deepest first. */
FUZZ_NOCOV static void deep_dir_remove(char *path, size_t base_len)
{
    for (;;) {
        size_t n = strlen(path);
        if (n <= base_len)
            break;
        FUZZ_CHECK(rmdir(path) == 0);
        char *slash = strrchr(path, '/');
        *slash = '\0';
    }
}

/* Spawns `file` (no '/') through a PATH search with PATH=path_env; returns the
 * spawn's result after checking that a started child exits 0. */
FUZZ_NOCOV static int spawn_through_path(const char *path_env, const char *file,
                                         enum ipc_proc_method m)
{
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    FUZZ_CHECK(!old || saved);
    FUZZ_CHECK(setenv("PATH", path_env, 1) == 0);
    char *const argv[] = {(char *)file, NULL};
    struct ipc_proc_options o;
    memset(&o, 0, sizeof(o));
    o.method = m;
    o.flags = IPC_PROC_F_PATH;
    int rc = spawn_true(&o, argv);
    if (m == IPC_PROC_AUTO) { /* the same search through ipc_proc_spawnvp */
        ipc_proc *p = NULL;
        int rv = ipc_proc_spawnvp(&p, file, argv);
        FUZZ_CHECK(rv == rc);
        if (rv == 0) {
            struct ipc_proc_status st;
            FUZZ_CHECK(ipc_proc_wait(p, IPC_PROC_WAIT_FOREVER, 0, &st) == 0 && st.exited &&
                       st.code == 0);
            ipc_proc_free(p);
        }
    }
    if (saved)
        FUZZ_CHECK(setenv("PATH", saved, 1) == 0);
    else
        FUZZ_CHECK(unsetenv("PATH") == 0);
    free(saved);
    return rc;
}

struct path_case {
    const char *fit, *over, *both, *file;
};

/* In the helper: the three PATH cases with every method that searches itself. */
FUZZ_NOCOV static int path_cases(void *arg)
{
    const struct path_case *c = arg;
    static const enum ipc_proc_method methods[] = {IPC_PROC_AUTO, IPC_PROC_FORK, IPC_PROC_VFORK};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        /* dir + "/" + file + NUL exactly fills the buffer: spawned */
        CONTRACT(spawn_through_path(c->fit, c->file, methods[i]), 0);
        /* one byte more: the only entry fails */
        CONTRACT(spawn_through_path(c->over, c->file, methods[i]), -ENAMETOOLONG);
        /* ... and is skipped for the next one */
        CONTRACT(spawn_through_path(c->both, c->file, methods[i]), 0);
    }
    return 0;
}

FUZZ_NOCOV static void path_buffer_boundary(void)
{
    char base[64];
    snprintf(base, sizeof(base), "%s/ipcstorm-path-XXXXXX",
             getenv("TMPDIR") && strlen(getenv("TMPDIR")) < 32 ? getenv("TMPDIR") : "/tmp");
    FUZZ_CHECK(mkdtemp(base) != NULL);
    size_t base_len = strlen(base);
    static const char file[] = "t"; /* a symlink to /bin/true */
    size_t flen = sizeof(file) - 1;
    static char fit[PATH_BUF], over[PATH_BUF + 1], fit_file[PATH_BUF + 8], over_file[PATH_BUF + 8],
        path_env[2 * PATH_BUF + 16];
    /* dir + "/" + file + NUL == PATH_BUF, and one byte more */
    size_t fit_len = PATH_BUF - 2 - flen;
    deep_dir(fit, base, fit_len);
    snprintf(fit_file, sizeof(fit_file), "%s/%s", fit, file);
    FUZZ_CHECK(symlink("/bin/true", fit_file) == 0);
    /* the longer one shares the fit dir's parent chain: its last component is one
     * byte longer (a sibling of fit's last component) */
    memcpy(over, fit, fit_len + 1);
    char *last = strrchr(over, '/');
    size_t last_len = strlen(last + 1);
    memset(last + 1, 'e', last_len + 1);
    last[last_len + 2] = '\0';
    FUZZ_CHECK(strlen(over) == fit_len + 1);
    FUZZ_CHECK(mkdir(over, 0700) == 0);
    snprintf(over_file, sizeof(over_file), "%s/%s", over, file);
    /* over_file is PATH_BUF bytes without its NUL: longer than PATH_MAX allows, so
     * it is made relative to its directory */
    int dfd = open(over, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FUZZ_CHECK(dfd >= 0);
    FUZZ_CHECK(symlinkat("/bin/true", dfd, file) == 0);

    /* the spawns run in a forked helper, so that even a violation that kills it (an
     * abort, a sanitizer report) leaves the clean-up below to this process */
    snprintf(path_env, sizeof(path_env), "%s:%s", over, fit);
    struct path_case pc = {fit, over, path_env, file};
    ipc_proc *helper = NULL;
    CONTRACT(ipc_proc_fork(&helper, path_cases, &pc, NULL), 0);
    struct ipc_proc_status st;
    CONTRACT(ipc_proc_wait(helper, IPC_PROC_WAIT_FOREVER, 0, &st), 0);
    ipc_proc_free(helper);

    FUZZ_CHECK(unlinkat(dfd, file, 0) == 0);
    close(dfd);
    FUZZ_CHECK(unlink(fit_file) == 0);
    FUZZ_CHECK(rmdir(over) == 0); /* a sibling of fit's last directory */
    deep_dir_remove(fit, base_len);
    FUZZ_CHECK(rmdir(base) == 0);
    FUZZ_CHECK(st.exited && st.code == 0); /* the helper's CONTRACTs held */
}

/* Every documented argument error of the functions this target covers. The checks
 * are deterministic and cost about fifty spawns, so they run once per process: a
 * fuzzer that mutates the one-byte seed into other one-byte payloads keeps its
 * speed, and the corpus replay (one process) runs them once. */
FUZZ_NOCOV static void api_edges(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    proc_contracts();
    sig_contracts();
    redir_pipe_contracts();
    run_contracts();
    pool_contracts();
    path_buffer_boundary();
}

/* ---- driver ---------------------------------------------------------------------------- */

FUZZ_NOCOV int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[MAX_DATA];
    size_t skip = fuzz_faults_parse(&ff, data, size);
    data += skip;
    size -= skip;
    if (size == 1)
        api_edges();
    /* SIGPIPE keeps its default action: the SIGPIPE guard of the pipe writes
     * (ipc/pipe.h) rests on pthread_sigmask, which the seam never fails (its errno
     * list is empty, so no step, any-kind included, injects into it), so a write
     * that raises SIGPIPE here is a guard that really failed and kills the target. */
    fuzz_faults_arm(&ff);
    size_t at = 0;
    for (int k = 0; k < MAX_OPS && at + 3 <= size; k++) {
        uint8_t op = data[at], arg = data[at + 1];
        size_t len = data[at + 2];
        at += 3;
        if (len > size - at)
            len = size - at;
        const uint8_t *d = data + at;
        at += len;
        if (op & 0x80) {
            for (int r = 0; r < 16; r++)
                memcpy(buf + r * len, d, len);
            d = buf;
            len *= 16;
        }
        switch ((op & 0x7f) % OP_COUNT) {
        case 0:
            op_spawn(arg, d, len);
            break;
        case 1:
            op_cat(arg, d, len);
            break;
        case 2:
            op_run(arg, d, len);
            break;
        case 3:
            op_swap(arg, d, len);
            break;
        case 4:
            op_pipe(arg, d, len);
            break;
        default:
            op_fork(arg, d, len);
            break;
        }
    }
    fuzz_faults_disarm(&ff);
    ff.n = 0;
    return 0;
}
