/* drv_run.c - `ipcstorm stress run`: subprocess.run (ipc/run.h) on large
 * concurrent stdout+stderr captures, stdin feeding, exit codes and signals,
 * timeouts (a child that obeys SIGTERM and one that ignores it), missing binaries,
 * non-executable files and directories. After every run: no child left, no fd
 * leaked. Operations are drawn from the seed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "common.h"
#include "report.h"
#include "rng.h"
#include "ipc/run.h"

const char ipcstorm_stress_run_summary[] =
    "subprocess.run: large stdout+stderr captures, timeouts, missing/non-exec binaries";

static uint64_t opt_max_bytes = 4u << 20;

static const struct stress_xopt xopts[] = {
    {"max-bytes", STRESS_XOPT_U64, &opt_max_bytes, 1, 256u << 20,
     "largest stdin/stdout/stderr per capture run (default 4 MiB)", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct stress_fault faults[] = {
    {"leak-fd", "the driver's run wrapper leaks one capture fd every 20th run"},
    {NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "run",
    .examples = "  ipcstorm stress run --max-bytes 16777216 --duration 20\n",
    .summary = "subprocess.run-style captures: large stdout and stderr at once, stdin bytes,\n"
               "timeouts (SIGTERM obeyed or ignored), missing binaries, non-executable files.",
    .invariants =
        "  bytes-exact        captured stdout and stderr equal what the child wrote\n"
        "  no-deadlock        a capture run finishes without hitting its 60 s timeout\n"
        "  status-exact       exit code / signal as the child used them\n"
        "  timeout-kills      a timed-out child is SIGTERMed (SIGKILLed after the grace\n"
        "                     if it ignores SIGTERM), reaped, within the time bound\n"
        "  exec-error         missing / non-executable programs fail with ENOENT/EACCES/\n"
        "                     ENOEXEC and leave no child behind\n"
        "  stdin-path         with stdin_path (also when the caller's fd 0 is closed, so\n"
        "                     ipc_run's own pipes take the low fds) cat's captured stdout\n"
        "                     is the file's bytes exactly, stderr empty, exit 0\n"
        "  no-leak            no child and no extra fd after each run",
    .default_procs = 1,
    .max_procs = 1,
    .xopts = xopts,
    .faults = faults,
};

enum op {
    OP_TEE,
    OP_EXIT,
    OP_SIGNAL,
    OP_TIMEOUT_TERM,
    OP_TIMEOUT_KILL,
    OP_MISSING,
    OP_NOEXEC,
    OP_DIR,
    OP_BADFORMAT,
    OP_STDIN_PATH,
    OP_COUNT
};
static const char *const op_names[] = {"tee",          "exit",      "signal", "timeout",
                                       "timeout-kill", "missing",   "noexec", "directory",
                                       "badformat",    "stdin-path"};

static char g_noexec[64], g_badfmt[64], g_dir[64];
static unsigned long g_runs;
static int g_leaked[64];
static unsigned g_nleaked;

/* The wrapper under test: every run goes through here. */
static int do_run(struct stress *s, char *const argv[], const struct ipc_run_options *o,
                  struct ipc_run_result *res)
{
    int r = ipc_run(argv, o, res);
    g_runs++;
    if (stress_fault(s, "leak-fd") && g_runs % 20 == 0 && g_nleaked < 64) {
        /* The planted bug: a capture pipe end that is never closed. */
        int p[2];
        if (pipe2(p, O_CLOEXEC) == 0) {
            close(p[1]);
            g_leaked[g_nleaked++] = p[0];
        }
    }
    return r;
}

/* Under --faults: ipc_run returned 0 but the child exited 127 without running the
 * program, because the report of its exec (or setup) error through the CLOEXEC pipe
 * was lost - the seam failed a 4-byte pipe write or read, which cannot happen in
 * practice (after a failed read the parent has closed the pipe and the child's
 * report dies of SIGPIPE). Counted as a library error. */
static bool unreported_exec_error(struct stress *s, const struct ipc_run_result *res)
{
    bool lost = (res->status.exited && res->status.code == 127) ||
                (res->status.signaled && res->status.signal == SIGPIPE);
    if (!stress_faults_on(s) || !lost)
        return false;
    return stress_lib_error(s, -EIO, "ipc_run: unreported exec failure (exit 127)");
}

static bool no_child_left(struct stress *s, pid_t pid, const char *what)
{
    if (pid <= 0)
        return true;
    int st;
    pid_t w = waitpid(pid, &st, WNOHANG);
    return stress_check(s, w == -1 && errno == ECHILD, "no-leak",
                        "%s: child %d still waitable after ipc_run returned", what, (int)pid);
}

static void op_tee(struct stress *s, struct stress_rng *rng)
{
    size_t len = (size_t)stress_rng_below(rng, opt_max_bytes + 1);
    if (stress_rng_below(rng, 4) == 0)
        len = (size_t)stress_rng_below(rng, 70000); /* around the pipe capacity */
    uint8_t *in = malloc(len ? len : 1);
    if (!in) {
        stress_setup_error(s, "out of memory");
        return;
    }
    stress_rng_fill(rng, in, len);
    /* tee copies stdin to stdout and to stderr at once: a caller that reads one
     * stream at a time, or writes stdin before reading, deadlocks on big sizes. */
    char *argv[] = {"tee", "/dev/stderr", NULL};
    struct ipc_run_options o;
    memset(&o, 0, sizeof(o));
    o.flags = IPC_RUN_F_PATH;
    o.stdin_data = in;
    o.stdin_len = len;
    o.timeout_ms = 60000;
    o.method = (enum ipc_proc_method)stress_rng_range(rng, IPC_PROC_AUTO, IPC_PROC_POSIX_SPAWN);
    struct ipc_run_result res;
    int r = do_run(s, argv, &o, &res);
    if (r < 0 && stress_lib_error(s, r, "ipc_run(tee)")) {
        ipc_run_result_free(&res);
        free(in);
        return;
    }
    if (r == 0 && unreported_exec_error(s, &res)) {
        ipc_run_result_free(&res);
        free(in);
        return;
    }
    if (r == 0 && res.stdin_written < len && stress_faults_on(s)) {
        /* A write of stdin failed (reported: stdin_written < stdin_len) and ipc_run
         * closed the child's stdin: tee copied exactly the bytes it was given. */
        stress_lib_error(s, -EIO, "ipc_run: stdin not fully written");
        len = res.stdin_written;
    }
    if (stress_check(s, r == 0, "no-deadlock", "ipc_run(tee) failed: %s", ipc_strerror(r))) {
        stress_check(s, !res.timed_out, "no-deadlock",
                     "tee of %zu bytes hit the 60 s timeout (deadlock?)", len);
        stress_check(s, res.status.exited && res.status.code == 0, "status-exact",
                     "tee exited with raw status 0x%x", res.status.raw);
        stress_check(s, res.stdin_written == len, "bytes-exact", "stdin: %zu of %zu bytes written",
                     res.stdin_written, len);
        stress_check(s, res.out_len == len && memcmp(res.out, in, len) == 0, "bytes-exact",
                     "stdout: %zu bytes captured, %zu expected%s", res.out_len, len,
                     res.out_len == len ? " (content differs)" : "");
        stress_check(s, res.err_len == len && memcmp(res.err, in, len) == 0, "bytes-exact",
                     "stderr: %zu bytes captured, %zu expected%s", res.err_len, len,
                     res.err_len == len ? " (content differs)" : "");
        no_child_left(s, res.pid, "tee");
    }
    ipc_run_result_free(&res);
    free(in);
}

static void op_status(struct stress *s, struct stress_rng *rng, bool by_signal)
{
    static const int sigs[] = {SIGTERM, SIGKILL, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM};
    int code = (int)stress_rng_below(rng, 256);
    int sig = sigs[stress_rng_below(rng, sizeof(sigs) / sizeof(sigs[0]))];
    char script[96];
    size_t olen = (size_t)stress_rng_below(rng, 5000);
    if (by_signal)
        snprintf(script, sizeof(script), "head -c %zu /dev/zero; kill -%d $$", olen, sig);
    else
        snprintf(script, sizeof(script), "head -c %zu /dev/zero >&2; exit %d", olen, code);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    struct ipc_run_options o;
    memset(&o, 0, sizeof(o));
    o.timeout_ms = 60000;
    o.method = (enum ipc_proc_method)stress_rng_range(rng, IPC_PROC_AUTO, IPC_PROC_POSIX_SPAWN);
    struct ipc_run_result res;
    int r = do_run(s, argv, &o, &res);
    if (r < 0)
        stress_lib_error(s, r, "ipc_run(sh)");
    else if (unreported_exec_error(s, &res))
        r = -EIO;
    if (r == 0 || !stress_faults_on(s)) {
        stress_check(s, r == 0, "status-exact", "ipc_run(sh) failed: %s", ipc_strerror(r));
        if (by_signal)
            stress_check(s, res.status.signaled && res.status.signal == sig && res.out_len == olen,
                         "status-exact", "child killed by signal %d: raw 0x%x, %zu/%zu bytes", sig,
                         res.status.raw, res.out_len, olen);
        else
            stress_check(s, res.status.exited && res.status.code == code && res.err_len == olen,
                         "status-exact", "child exiting %d: raw 0x%x, %zu/%zu bytes", code,
                         res.status.raw, res.err_len, olen);
        if (r == 0)
            no_child_left(s, res.pid, "sh");
    }
    ipc_run_result_free(&res);
}

static void op_timeout(struct stress *s, struct stress_rng *rng, bool ignore_term)
{
    int64_t tmo = (int64_t)stress_rng_range(rng, 20, 150);
    int64_t grace = (int64_t)stress_rng_range(rng, 20, 150);
    char *argv_term[] = {"sleep", "30", NULL};
    /* exec keeps the ignored disposition: the sleep itself ignores SIGTERM. The
     * marker tells whether the trap was in place before the timeout's SIGTERM: a
     * loaded machine can take longer than the timeout to start the shell, which
     * then dies by SIGTERM, correctly. */
    char *argv_kill[] = {"/bin/sh", "-c", "trap '' TERM; echo trapped; exec sleep 30", NULL};
    struct ipc_run_options o;
    memset(&o, 0, sizeof(o));
    o.flags = IPC_RUN_F_PATH | (stress_rng_below(rng, 2) ? IPC_RUN_F_PGROUP : 0);
    o.timeout_ms = tmo;
    o.grace_ms = grace;
    struct ipc_run_result res;
    double t0 = stress_now();
    int r = do_run(s, ignore_term ? argv_kill : argv_term, &o, &res);
    double took = stress_now() - t0;
    if (r < 0 && stress_lib_error(s, r, "ipc_run(sleep)")) {
        ipc_run_result_free(&res);
        return;
    }
    if (r == 0 && unreported_exec_error(s, &res)) {
        ipc_run_result_free(&res);
        return;
    }
    if (stress_check(s, r == 0, "timeout-kills", "ipc_run(sleep) failed: %s", ipc_strerror(r))) {
        bool trapped = ignore_term && res.out && strstr((const char *)res.out, "trapped");
        int want = ignore_term ? SIGKILL : SIGTERM;
        bool early_term = ignore_term && !trapped && res.status.signaled &&
                          res.status.signal == SIGTERM && res.killed == 0;
        if (early_term)
            want = SIGTERM; /* SIGTERM landed before the trap: obeyed, no SIGKILL */
        /* A child that obeys SIGTERM may still be sent SIGKILL: on a loaded machine
         * it can take longer than the grace period to be reaped. It still dies of
         * the SIGTERM (the kernel fixes the exit signal when a fatal signal is
         * sent), so killed is 1 but the signal is SIGTERM, and the SIGKILL came no
         * earlier than timeout + grace. A death by SIGKILL means no SIGTERM reached
         * it: wrong. */
        bool late_term = !ignore_term && res.killed == 1 && res.status.signal == SIGTERM;
        stress_check(s,
                     res.timed_out && res.status.signaled && res.status.signal == want &&
                         res.killed == (want == SIGKILL || late_term ? 1 : 0),
                     "timeout-kills",
                     "timeout %" PRId64 " ms (%s): timed_out=%d killed=%d raw status 0x%x", tmo,
                     ignore_term ? "SIGTERM ignored" : "SIGTERM obeyed", res.timed_out, res.killed,
                     res.status.raw);
        /* Generous slack: the machine may be loaded by stress-ng. */
        double bound = (double)(tmo + (ignore_term ? grace : 0)) / 1000.0 + 5.0;
        stress_check(s, took <= bound, "timeout-kills", "timed-out run took %.2f s, bound %.2f s",
                     took, bound);
        stress_check(s, took * 1000.0 >= (double)tmo - 1, "timeout-kills",
                     "run returned after %.1f ms, before its %" PRId64 " ms timeout", took * 1e3,
                     tmo);
        stress_check(s, !res.killed || took * 1000.0 >= (double)(tmo + grace) - 1, "timeout-kills",
                     "SIGKILL sent after %.1f ms, before the %" PRId64 " ms timeout + %" PRId64
                     " ms grace",
                     took * 1e3, tmo, grace);
        no_child_left(s, res.pid, "timeout");
    }
    ipc_run_result_free(&res);
}

static void op_exec_error(struct stress *s, struct stress_rng *rng, enum op op)
{
    char missing[96];
    snprintf(missing, sizeof(missing), "/nonexistent-ipcstorm/%016" PRIx64, stress_rng_next(rng));
    const char *path = op == OP_MISSING  ? missing
                       : op == OP_NOEXEC ? g_noexec
                       : op == OP_DIR    ? g_dir
                                         : g_badfmt;
    char *argv[] = {(char *)path, NULL};
    struct ipc_run_options o;
    memset(&o, 0, sizeof(o));
    o.method = (enum ipc_proc_method)stress_rng_range(rng, IPC_PROC_AUTO, IPC_PROC_POSIX_SPAWN);
    struct ipc_run_result res;
    int r = do_run(s, argv, &o, &res);
    int want = op == OP_MISSING ? -ENOENT : op == OP_BADFORMAT ? -ENOEXEC : -EACCES;
    if (r < 0 && r != want)
        stress_lib_error(s, r, "ipc_run(exec error)"); /* an injected error came first */
    else if (r == 0 && unreported_exec_error(s, &res)) {
        ipc_run_result_free(&res);
        r = want;
    }
    stress_check(s, r == want || (r < 0 && stress_faults_on(s)), "exec-error",
                 "%s (%s, method %d): got %s, want %s", op_names[op], path, (int)o.method,
                 ipc_errname(r), ipc_errname(want));
    if (r == 0)
        ipc_run_result_free(&res);
    int st;
    pid_t w = waitpid(-1, &st, WNOHANG);
    stress_check(s, (w == -1 && errno == ECHILD) || stress_is_load_pid(s, w) || w == 0,
                 "exec-error", "a failed exec left child %d", (int)w);
}

/* Writes all of buf to fd (the driver's own plumbing: plain write(2)). */
static bool write_all_fd(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}

/* Verdicts of the stdin_path run (the exit code of the child that made it when
 * fd 0 was closed). */
enum { SP_OK = 0, SP_LIB_ERROR = 1, SP_UNREPORTED = 2, SP_WRONG = 3 };

/* ipc_run of `cat` with stdin_path = path (method drawn, ignored by contract): the
 * capture must be the file's bytes exactly, stderr empty, exit 0. Writes the
 * verdict's text to msg. */
static int stdin_path_run(const unsigned char *want, size_t len, const char *path, int method,
                          bool under_faults, char *msg, size_t cap)
{
    char *argv[] = {"cat", NULL};
    struct ipc_run_options o;
    memset(&o, 0, sizeof(o));
    o.flags = IPC_RUN_F_PATH;
    o.stdin_path = path;
    o.timeout_ms = 20000; /* a wrong stdin (a pipe nobody closes) hangs cat */
    o.method = (enum ipc_proc_method)method;
    struct ipc_run_result res;
    int r = ipc_run(argv, &o, &res);
    int verdict = SP_OK;
    if (r < 0) {
        snprintf(msg, cap, "ipc_run failed: %s", ipc_errname(r));
        verdict = under_faults ? SP_LIB_ERROR : SP_WRONG;
    } else if (under_faults && ((res.status.exited && res.status.code == 127) ||
                                (res.status.signaled && res.status.signal == SIGPIPE))) {
        snprintf(msg, cap, "unreported exec failure (raw status 0x%x)", res.status.raw);
        verdict = SP_UNREPORTED;
    } else if (!(res.status.exited && res.status.code == 0) || res.timed_out ||
               res.out_len != len || memcmp(res.out, want, len) != 0 || res.err_len != 0) {
        size_t same = 0;
        while (same < len && same < res.out_len && res.out[same] == want[same])
            same++;
        snprintf(msg, cap,
                 "raw status 0x%x (want exit 0), timed_out %d, stdout %zu bytes (want %zu, "
                 "first %zu equal), stderr %zu bytes (want 0)",
                 res.status.raw, res.timed_out, res.out_len, len, same, res.err_len);
        verdict = SP_WRONG;
    }
    ipc_run_result_free(&res);
    return verdict;
}

/* stdin_path: a temporary file of seeded bytes is cat's stdin, opened by ipc_run's
 * child itself. With closed_fd0 the run is made by a forked child of the driver
 * whose fd 0 is closed (the driver's own stays open): ipc_run's capture pipe then
 * lands on fd 0 and the child must still end with the file as its stdin. (The
 * open itself cannot give 0 through this API: that pipe end holds fd 0 in ipc_run's
 * child, whose close of close-on-exec fds spares 0-2.) The forked child tells its
 * verdict by exit code and text through a pipe. */
static void op_stdin_path(struct stress *s, struct stress_rng *rng, bool closed_fd0)
{
    size_t len =
        (size_t)stress_rng_below(rng, (opt_max_bytes < 200000 ? opt_max_bytes : 200000) + 1);
    if (stress_rng_below(rng, 4) == 0)
        len = (size_t)stress_rng_below(rng, 3); /* empty and tiny files too */
    int method = (int)stress_rng_range(rng, IPC_PROC_AUTO, IPC_PROC_POSIX_SPAWN);
    unsigned char *data = malloc(len ? len : 1);
    char path[64];
    int fd = data ? mkstemp(stress_tmp_template(path, sizeof(path), "stdin")) : -1;
    if (fd < 0) {
        stress_setup_error(s, "stdin_path fixture: %s", data ? strerror(errno) : "out of memory");
        free(data);
        return;
    }
    stress_rng_fill(rng, data, len);
    bool written = write_all_fd(fd, data, len);
    close(fd);
    if (!written) {
        stress_setup_error(s, "cannot write %s: %s", path, strerror(errno));
        unlink(path);
        free(data);
        return;
    }
    char msg[256] = "";
    int verdict;
    if (!closed_fd0) {
        verdict = stdin_path_run(data, len, path, method, stress_faults_on(s), msg, sizeof(msg));
    } else {
        int p[2] = {-1, -1};
        pid_t pid = -1;
        if (pipe2(p, O_CLOEXEC) == 0 && (pid = fork()) == 0) {
            close(p[0]);
            close(0);
            int v = stdin_path_run(data, len, path, method, stress_faults_on(s), msg, sizeof(msg));
            _exit(write_all_fd(p[1], msg, strlen(msg)) ? v : SP_WRONG);
        }
        if (pid < 0) {
            stress_setup_error(s, "pipe2/fork: %s", strerror(errno));
            if (p[0] >= 0) {
                close(p[0]);
                close(p[1]);
            }
            unlink(path);
            free(data);
            return;
        }
        close(p[1]);
        size_t n = 0;
        ssize_t got;
        while ((got = read(p[0], msg + n, sizeof(msg) - 1 - n)) > 0 || (got < 0 && errno == EINTR))
            n += got > 0 ? (size_t)got : 0;
        msg[n] = '\0';
        close(p[0]);
        int raw = 0;
        pid_t w;
        do {
            w = waitpid(pid, &raw, 0);
        } while (w < 0 && errno == EINTR);
        verdict = w == pid && WIFEXITED(raw) ? WEXITSTATUS(raw) : SP_WRONG;
        if (w != pid || !WIFEXITED(raw))
            snprintf(msg, sizeof(msg), "the fd-0-closed child ended with raw status 0x%x", raw);
    }
    if (verdict == SP_LIB_ERROR || verdict == SP_UNREPORTED)
        stress_lib_error(s, -EIO, "ipc_run(stdin_path)");
    else
        stress_check(s, verdict == SP_OK, "stdin-path", "stdin_path of %zu bytes%s (method %d): %s",
                     len, closed_fd0 ? " with fd 0 closed" : "", method, msg);
    unlink(path);
    free(data);
}

static bool make_fixtures(struct stress *s)
{
    int a = mkstemp(stress_tmp_template(g_noexec, sizeof(g_noexec), "noexec"));
    int b = mkstemp(stress_tmp_template(g_badfmt, sizeof(g_badfmt), "badfmt"));
    char *d = mkdtemp(stress_tmp_template(g_dir, sizeof(g_dir), "dir"));
    bool ok = a >= 0 && b >= 0 && d;
    if (a >= 0) {
        ok = ok && write(a, "#!/bin/sh\nexit 0\n", 17) == 17 && fchmod(a, 0644) == 0;
        close(a);
    }
    if (b >= 0) {
        /* Executable, but neither ELF nor a #! script. */
        static const unsigned char junk[] = {0x7f, 'X', 'L', 'F', 0, 1, 2, 3, 0xff, 0xfe};
        ok = ok && write(b, junk, sizeof(junk)) == (ssize_t)sizeof(junk) && fchmod(b, 0755) == 0;
        close(b);
    }
    if (!ok)
        stress_setup_error(s, "cannot create the fixture files in /tmp");
    return ok;
}

static void remove_fixtures(void)
{
    unlink(g_noexec);
    unlink(g_badfmt);
    rmdir(g_dir);
}

int ipcstorm_stress_run(int argc, char **argv)
{
    struct stress s;
    int rc = stress_begin(&s, &spec, argc, argv);
    if (rc != STRESS_RUN)
        return rc;
    if (!make_fixtures(&s)) {
        remove_fixtures();
        return stress_end(&s);
    }
    struct stress_rng rng;
    stress_rng_init(&rng, s.seed, 0);
    int fds = hygiene_fd_count();
    if (fds < 0)
        stress_setup_error(&s, "cannot count open fds (/proc/self/fd)");
    for (bool first = true; stress_running(&s); first = false) {
        /* Weights: captures are the point, but every kind shows up often. The first
         * op is a stdin_path run with fd 0 closed, so that even a short run has it. */
        uint64_t w = stress_rng_below(&rng, 22);
        enum op op = first    ? OP_STDIN_PATH
                     : w < 6  ? OP_TEE
                     : w < 9  ? OP_EXIT
                     : w < 11 ? OP_SIGNAL
                     : w < 13 ? OP_TIMEOUT_TERM
                     : w < 14 ? OP_TIMEOUT_KILL
                     : w < 16 ? OP_MISSING
                     : w < 17 ? OP_NOEXEC
                     : w < 18 ? OP_DIR
                     : w < 20 ? OP_BADFORMAT
                              : OP_STDIN_PATH;
        switch (op) {
        case OP_TEE:
            op_tee(&s, &rng);
            break;
        case OP_EXIT:
        case OP_SIGNAL:
            op_status(&s, &rng, op == OP_SIGNAL);
            break;
        case OP_TIMEOUT_TERM:
        case OP_TIMEOUT_KILL:
            op_timeout(&s, &rng, op == OP_TIMEOUT_KILL);
            break;
        case OP_STDIN_PATH:
            op_stdin_path(&s, &rng, first || stress_rng_below(&rng, 2));
            break;
        default:
            op_exec_error(&s, &rng, op);
            break;
        }
        int now = hygiene_fd_count();
        if (!stress_check(&s, now == fds, "no-leak", "%s: open fds went from %d to %d",
                          op_names[op], fds, now))
            fds = now; /* report each leak once */
        stress_add_ops(&s, 1);
    }
    for (unsigned i = 0; i < g_nleaked; i++)
        close(g_leaked[i]);
    remove_fixtures();
    return stress_end(&s);
}
