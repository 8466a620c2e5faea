/* drv_forkwait.c - `ipcstorm stress forkwait`: children created with every
 * spawn method (fork+exec, vfork, posix_spawn, function children) exit with codes
 * or die by signals chosen from the seed, some are killed by the parent, and some
 * leave orphaned grandchildren that the driver, as a child subreaper, adopts and
 * reaps through ipc_proc_reap_orphans (each orphan's status is peeked first with
 * WNOWAIT: exact pid set and codes). Every child is reaped exactly once and its
 * status decodes as sent; exec'd children's pidfds name their pid (fdinfo).
 * Each round also spawns programs that cannot run (missing, not executable, a
 * directory, an executable that is neither ELF nor #!) with every method and
 * every spawn function, each of which must fail with its exact errno and leave
 * no child and no fd; and runs redirection plans (swaps, cycles, files,
 * /dev/null) in exec'd and function children, checked byte-exact per
 * destination against a model of ipc/redir.h.
 * --method fork|vfork|posix_spawn narrows the run to one spawn method for
 * scripts/bench (see the --help text); the default, mixed, exercises them all.
 * --exec PATH makes those children exec PATH (bench/exit0) instead of /bin/sh, so
 * that a spawn row measures the spawn, not the shell. In those single-method
 * modes the checks that are not about the counted children run on a time budget
 * (see struct periodic); the mixed default runs every check every round. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc_base.h"
#include "cli.h"
#include "common.h"
#include "report.h"
#include "rng.h"
#include "ipc/pipe.h"
#include "ipc/proc.h"
#include "ipc/redir.h"
#include "ipc/sig.h"

const char ipcstorm_stress_forkwait_summary[] =
    "fork/vfork/posix_spawn children with chosen exits and signals, orphans via subreaper";

#define MAX_BATCH     128
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t opt_batch = 16;
static const char *opt_method = "mixed";
static const char *opt_exec = NULL;

static const char *check_method(const char *value, const void *ctx);
static const char *check_exec(const char *value, const void *ctx);
static const struct stress_xopt xopts[] = {
    {"batch", STRESS_XOPT_U64, &opt_batch, 1, MAX_BATCH,
     "children per round and per --procs (default 16, at most 128 in all)", NULL},
    {"method", STRESS_XOPT_STR, &opt_method, 0, 0,
     "mixed (default): every child kind (exec'd shells, function\n"
     "children, killed ones, orphans) with every spawn method;\n"
     "fork: only function children (ipc_proc_fork) that _exit\n"
     "with a seeded code, the equivalent of stress-ng --fork's\n"
     "child; vfork, posix_spawn: only /bin/sh (or --exec) children spawned\n"
     "with that method, exiting with a code or killing themselves\n"
     "(they pay an exec, which stress-ng --vfork's child does\n"
     "not). Every status is verified with every method.\n"
     "In these three modes the checks not about the counted\n"
     "children (reap_orphans: its timeout, nothing to reap) run\n"
     "in the first round, then on a budget of about 1% of the\n"
     "run time",
     check_method},
    {"exec", STRESS_XOPT_STR, &opt_exec, 0, 0,
     "PATH: with --method fork, vfork or posix_spawn, every\n"
     "child execs PATH (with fork: fork + exec) instead of\n"
     "running /bin/sh or a function; run as `PATH CODE` it\n"
     "must exit CODE, as `PATH -SIG` die by signal SIG, as\n"
     "bench/exit0 does (scripts/bench's spawn rows)",
     check_exec},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct stress_fault faults[] = {
    {"forget-child", "the reaper forgets one orphaned grandchild per round"},
    {NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "forkwait",
    .examples =
        "  ipcstorm stress forkwait --method fork --batch 1 --duration 10\n"
        "  ipcstorm stress forkwait --method vfork --batch 1 --exec build/release/bench/exit0\n",
    .summary = "Children created by fork, vfork and posix_spawn (exec of /bin/sh) and function\n"
               "children exit with codes and die by signals chosen from the seed; orphaned\n"
               "grandchildren are adopted through the child subreaper.",
    .invariants =
        "  status-as-sent   every decoded status is the exit code / signal the child used\n"
        "  status-decode    ipc_proc_status_decode of the raw word agrees with libc's W* macros\n"
        "  status-text      ipc_proc_status_format/_shell/signame agree with the raw word and\n"
        "                   glibc's sigabbrev_np; -ENOSPC exactly one byte short\n"
        "  reaped-once      each child reaped exactly once (a second wait gives ECHILD)\n"
        "  orphan-adopted   each orphaned grandchild is re-parented to us and reaped by\n"
        "                   ipc_proc_reap_orphans: the count is the orphans', each exited\n"
        "                   with its code (peeked first), none is left\n"
        "  pidfd-pid        ipc_proc_pidfd is a pidfd of the child's pid (fdinfo), or\n"
        "                   -ENOSYS with IPC_PROC_F_NO_PIDFD\n"
        "  exec-error       a program that cannot run fails the spawn with ENOENT/EACCES/\n"
        "                   ENOEXEC (every method, spawn/spawnv/vp/vpe/l/lp), no child,\n"
        "                   no fd left; a PATH search past a non-executable match runs a\n"
        "                   later executable, and with only a non-executable match fails\n"
        "                   with exactly EACCES (every method, spawnvp/vpe/lp)\n"
        "  file-not-argv0   spawnv/l/vp/lp/vpe run their file argument, not argv[0]: the\n"
        "                   child (/bin/sh or sh on PATH) sees argv[0] and, for vpe only,\n"
        "                   envp exactly as given, and exits with the chosen code\n"
        "  redir-exact      what a child writes to fds 0, 1, 2 under a redirection plan\n"
        "                   (swap, cycle, file, /dev/null; exec'd with every method,\n"
        "                   apply_child, apply_fds) lands byte-exact where the model says\n"
        "  spawn-stdio-closed with fds 0-3 closed and RLIMIT_NOFILE 5 (a daemon at its\n"
        "                   limit) every method runs sh to its exit code, leaving fds 0-3\n"
        "                   closed\n"
        "  no-stray-child   no unknown child remains after a round",
    .default_procs = 1,
    .max_procs = 8,
    .xopts = xopts,
    .faults = faults,
};

/* Signals whose default action terminates without a core dump: a core per
 * child would make the run measure the disk. */
static const int term_sigs[] = {SIGTERM, SIGKILL, SIGHUP, SIGINT, SIGUSR1, SIGUSR2, SIGALRM};

enum kind {
    K_EXEC_EXIT,   /* /bin/sh -c 'exit N' */
    K_EXEC_SIGNAL, /* /bin/sh -c 'kill -N $$' */
    K_FN_EXIT,     /* function child returning N */
    K_FN_SIGNAL,   /* function child raising a signal */
    K_FN_KILLED,   /* function child blocked on a pipe, killed by the parent */
    K_ORPHAN,      /* function child that leaves a grandchild behind and exits */
    K_COUNT
};

static const char *const method_names[] = {"auto", "fork", "vfork", "posix_spawn"};

/* --method, parsed: M_MIXED or an enum ipc_proc_method. */
#define M_MIXED (-1)
static int g_method = M_MIXED;

static int parse_method(const char *name)
{
    if (!strcmp(name, "mixed"))
        return M_MIXED;
    for (int m = IPC_PROC_FORK; m <= IPC_PROC_POSIX_SPAWN; m++)
        if (!strcmp(name, method_names[m]))
            return m;
    return -2;
}

static const char *check_method(const char *value, const void *ctx)
{
    (void)ctx;
    return parse_method(value) == -2 ? "mixed, fork, vfork or posix_spawn" : NULL;
}

/* --exec takes a path with a slash (no PATH search); that it names an executable
 * file is checked when the run starts (exec_unusable). */
static const char *check_exec(const char *value, const void *ctx)
{
    (void)ctx;
    return strchr(value, '/') ? NULL : "a path with a '/', such as build/release/bench/exit0";
}

/* NULL when path is an executable regular file, else why not. */
static const char *exec_unusable(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return strerror(errno);
    if (!S_ISREG(st.st_mode))
        return "not a regular file";
    return access(path, X_OK) == 0 ? NULL : strerror(errno);
}

/* The kind of child i: any kind when mixed, function exits for fork (exec'd
 * children with --exec), exec'd shells or --exec programs for vfork and
 * posix_spawn (those methods exist to exec). */
static enum kind pick_kind(struct stress_rng *rng)
{
    switch (g_method) {
    case M_MIXED:
        return (enum kind)stress_rng_below(rng, K_COUNT);
    case IPC_PROC_FORK:
        if (!opt_exec)
            return K_FN_EXIT;
        /* fall through */
    default:
        return stress_rng_below(rng, 2) ? K_EXEC_SIGNAL : K_EXEC_EXIT;
    }
}

/* ---- checks on a time budget (single-method modes) ------------------------------ */

/* A check that is not about the counted children (check_reap_timeout: two forks
 * and a 1 ms timeout, ~3 ms; "nothing to reap" without orphans) would, run every round, cost 10-20
 * times a bare fork + wait and turn a spawn row into a measure of itself. In the single-method
 * modes it runs in the first round and then once the time since its last run
 * reaches PERIODIC_SPACING times what that run took: about 1% of the wall time
 * on any machine, and still a few times per second. The mixed default runs it
 * every round. */
#define PERIODIC_SPACING 99.0

struct periodic {
    double next; /* stress_elapsed() from which it is due again */
};

static bool periodic_due(const struct periodic *p, const struct stress *s)
{
    return g_method == M_MIXED || stress_elapsed(s) >= p->next;
}

static void periodic_ran(struct periodic *p, const struct stress *s, double started)
{
    double now = stress_elapsed(s);
    p->next = now + (now - started) * PERIODIC_SPACING;
}

/* check_reap_timeout, and ipc_proc_reap_orphans in a round without orphans. */
static struct periodic g_round_checks;

struct child {
    enum kind kind;
    int method;
    int want_code;   /* exit code expected, or -1 */
    int want_signal; /* terminating signal expected, or 0 */
    bool no_pidfd;   /* spawned with IPC_PROC_F_NO_PIDFD */
    ipc_proc *p;
};

struct fn_arg {
    enum kind kind;
    int value;
    int block_fd;   /* K_FN_KILLED: read end that never gets data */
    int report_fd;  /* K_ORPHAN: where the grandchild's pid goes */
    int release_fd; /* K_ORPHAN: the grandchild waits for EOF here */
    int release_wr; /* ... and must not hold the write end itself */
};

/* In a function child that then exits normally (so that coverage builds keep
 * its counts): SIGUSR1 is blocked and raised (pending), ignored through
 * ipc_sig_set_default (which discards it), unblocked (nothing may happen) and
 * given its old action back with ipc_sig_restore. Each step is confirmed with
 * libc; a step the library skipped kills the child or changes its exit code. */
static bool signal_round_trip(void)
{
    struct ipc_sig_prev prev;
    memset(&prev, 0, sizeof(prev));
    sigset_t cur;
    struct sigaction before, after;
    if (sigaction(SIGUSR1, NULL, &before) < 0 || ipc_sig_block_one(SIGUSR1) < 0)
        return false;
    raise(SIGUSR1); /* pending: the default action would kill the child */
    if (sigpending(&cur) < 0 || sigismember(&cur, SIGUSR1) != 1)
        return false;
    if (ipc_sig_set_default(SIGUSR1, 1, &prev) < 0 || ipc_sig_unblock_one(SIGUSR1) < 0)
        return false;
    if (sigprocmask(SIG_BLOCK, NULL, &cur) < 0 || sigismember(&cur, SIGUSR1) != 0)
        return false;
    if (ipc_sig_restore(&prev) < 0 || sigaction(SIGUSR1, NULL, &after) < 0)
        return false;
    return after.sa_handler == before.sa_handler;
}

static int fn_child(void *p)
{
    struct fn_arg *a = p;
    switch (a->kind) {
    case K_FN_SIGNAL: {
        /* None of term_sigs dumps core; this guards against a change of the list. */
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        /* The driver catches SIGINT and SIGTERM (its stop handler) and this fork
         * inherits that: ipc_sig_set_default must undo it or the child lives on.
         * The signal is raised while blocked (libc confirms the mask; it must not
         * kill yet) and kills the child when ipc_sig_unblock_one lets it in. */
        if (a->value == SIGKILL)
            raise(SIGKILL); /* neither caught nor blockable */
        if (ipc_sig_set_default(a->value, 0, NULL) < 0 || ipc_sig_block_one(a->value) < 0)
            return 124;
        sigset_t cur;
        if (sigprocmask(SIG_BLOCK, NULL, &cur) < 0 || sigismember(&cur, a->value) != 1)
            return 125; /* ipc_sig_block_one did not block it */
        raise(a->value);
        if (ipc_sig_unblock_one(a->value) < 0)
            return 126;
        return 120; /* not reached: the pending signal is fatal once unblocked */
    }
    case K_FN_KILLED: {
        char c;
        for (;;)
            if (read(a->block_fd, &c, 1) >= 0)
                return 121;
    }
    case K_ORPHAN: {
        pid_t g = fork();
        if (g < 0) {
            /* Say so: the driver blocks on the report pipe, which it holds open. */
            if (write(a->report_fd, &g, sizeof(g)) != (ssize_t)sizeof(g))
                return 123;
            return 122;
        }
        if (g == 0) {
            /* The grandchild outlives its parent: it waits for the driver to
             * release it, then exits with the chosen code. */
            char c;
            close(a->release_wr);
            while (read(a->release_fd, &c, 1) < 0 && errno == EINTR)
                ;
            ipc__exit_child(a->value);
        }
        if (write(a->report_fd, &g, sizeof(g)) != (ssize_t)sizeof(g))
            return 123;
        return 0;
    }
    default:
        /* (not in the bench modes: --method fork is stress-ng's plain child) */
        if (g_method == M_MIXED && !signal_round_trip())
            return (a->value + 1) & 0xff; /* never the code the driver expects */
        return a->value;
    }
}

struct orphan {
    pid_t pid;
    int want_code;
};

/* A signal's name as glibc abbreviates it (sigabbrev_np), "SIG"-prefixed: the
 * oracle for ipc_proc_signame. glibc calls 29 POLL, libipc (like kill -l) IO. */
static void model_signame(int sig, char *out, size_t cap)
{
    const char *abbrev = sig == SIGIO ? "IO" : sigabbrev_np(sig);
    if (abbrev)
        snprintf(out, cap, "SIG%s", abbrev);
    else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        snprintf(out, cap, "SIGRTMIN+%d", sig - SIGRTMIN);
    else
        snprintf(out, cap, "SIG?");
}

/* ipc_proc_signame of every number from -1 to SIGRTMAX + 1 against the model. */
static void check_signames(struct stress *s)
{
    for (int sig = -1; sig <= SIGRTMAX + 1; sig++) {
        char want[32];
        model_signame(sig, want, sizeof(want));
        const char *got = ipc_proc_signame(sig);
        stress_check(s, got && strcmp(got, want) == 0, "status-text",
                     "ipc_proc_signame(%d) = '%s', want '%s'", sig, got ? got : "(null)", want);
    }
}

/* ipc_proc_status_format and _shell against the text and number the raw word
 * gives by libc's W* macros, and the -ENOSPC boundary one byte short. */
static void check_status_text(struct stress *s, const struct ipc_proc_status *st)
{
    int raw = st->raw;
    char want[IPC_PROC_STATUS_MAX], name[32], got[IPC_PROC_STATUS_MAX];
    int want_shell = -EINVAL;
    if (WIFEXITED(raw)) {
        snprintf(want, sizeof(want), "exit %d", WEXITSTATUS(raw));
        want_shell = WEXITSTATUS(raw);
    } else if (WIFSIGNALED(raw)) {
        model_signame(WTERMSIG(raw), name, sizeof(name));
        snprintf(want, sizeof(want), "signal %d (%s%s)", WTERMSIG(raw), name,
                 WCOREDUMP(raw) ? ", core dumped" : "");
        want_shell = 128 + WTERMSIG(raw);
    } else {
        return; /* stopped/continued: waited for without WUNTRACED here */
    }
    int len = (int)strlen(want);
    int n = ipc_proc_status_format(st, got, sizeof(got));
    int short_by_one = ipc_proc_status_format(st, got, (size_t)len);
    int exact = ipc_proc_status_format(st, got, (size_t)len + 1);
    stress_check(s,
                 n == len && exact == len && strcmp(got, want) == 0 && short_by_one == -ENOSPC &&
                     ipc_proc_status_shell(st) == want_shell,
                 "status-text",
                 "raw 0x%x: format gave %d '%s' (want %d '%s'), %d with %d bytes (want "
                 "-ENOSPC), shell %d (want %d)",
                 raw, n, got, len, want, short_by_one, len, ipc_proc_status_shell(st), want_shell);
}

static void check_status(struct stress *s, const struct child *c, const struct ipc_proc_status *st)
{
    char got[IPC_PROC_STATUS_MAX];
    if (stress_faults_on(s) && (c->kind == K_EXEC_EXIT || c->kind == K_EXEC_SIGNAL) &&
        ((st->exited && st->code == 127 && c->want_code != 127) ||
         (st->signaled && st->signal == SIGPIPE))) {
        /* The exec (or the child's setup) failed and the child exited 127, but the
         * report of the error through the CLOEXEC pipe was lost: the seam failed its
         * 4-byte write or read, which a pipe cannot do in practice (after a failed
         * read the parent has closed the pipe, and the child's report dies of
         * SIGPIPE). Counted as a library error, not a violation. */
        stress_lib_error(s, -EIO, "spawn: unreported exec failure (exit 127)");
        return;
    }
    if (ipc_proc_status_format(st, got, sizeof(got)) < 0)
        snprintf(got, sizeof(got), "raw 0x%x", st->raw);
    check_status_text(s, st);
    /* The library's decoding of the raw word against libc's macros. */
    struct ipc_proc_status d;
    int raw = st->raw;
    bool decoded = ipc_proc_status_decode(raw, &d) == 0 && d.raw == raw;
    stress_check(
        s,
        decoded && d.exited == !!WIFEXITED(raw) && d.signaled == !!WIFSIGNALED(raw) &&
            (!d.exited || d.code == WEXITSTATUS(raw)) &&
            (!d.signaled || (d.signal == WTERMSIG(raw) && d.core_dumped == !!WCOREDUMP(raw))) &&
            st->exited == d.exited && st->signaled == d.signaled &&
            (!d.exited || st->code == d.code) && (!d.signaled || st->signal == d.signal),
        "status-decode", "raw status 0x%x decoded as %s", raw, got);
    if (c->want_signal)
        stress_check(s, st->signaled && st->signal == c->want_signal && !st->exited,
                     "status-as-sent", "%s child (kind %d) should die by %s, got %s",
                     method_names[c->method], (int)c->kind, ipc_proc_signame(c->want_signal), got);
    else
        stress_check(s, st->exited && st->code == c->want_code && !st->signaled, "status-as-sent",
                     "%s child (kind %d) should exit %d, got %s", method_names[c->method],
                     (int)c->kind, c->want_code, got);
}

/* ---- pidfd ------------------------------------------------------------------ */

/* The pid a pidfd refers to (the "Pid:" line of /proc/self/fdinfo), or -1. */
static int pidfd_target(int fd)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -1;
    ssize_t n = read(f, buf, sizeof(buf) - 1);
    close(f);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *line = strstr(buf, "\nPid:");
    int pid = -1;
    if (!line || sscanf(line + 5, "%d", &pid) != 1)
        return -1;
    return pid;
}

static void check_pidfd(struct stress *s, ipc_proc *p, bool no_pidfd)
{
    int fd = ipc_proc_pidfd(p);
    if (no_pidfd) {
        stress_check(s, fd == -ENOSYS, "pidfd-pid", "NO_PIDFD child: ipc_proc_pidfd gave %d", fd);
        return;
    }
    if (fd == -ENOSYS && stress_faults_on(s))
        return; /* pidfd_open failed (injected): the documented waitpid fallback */
    int target = fd >= 0 ? pidfd_target(fd) : -1;
    stress_check(s, fd >= 3 && target == (int)ipc_proc_pid(p), "pidfd-pid",
                 "ipc_proc_pidfd gave %d, a pidfd of pid %d; the child is %d", fd, target,
                 (int)ipc_proc_pid(p));
}

/* ---- exec failures ------------------------------------------------------------ */

static char g_fixdir[64], g_noexec[96], g_badfmt[96], g_subdir[96];

static bool make_fixtures(void)
{
    if (!mkdtemp(stress_tmp_template(g_fixdir, sizeof(g_fixdir), "forkwait"))) {
        g_fixdir[0] = '\0';
        return false;
    }
    snprintf(g_noexec, sizeof(g_noexec), "%s/noexec", g_fixdir);
    snprintf(g_badfmt, sizeof(g_badfmt), "%s/badfmt", g_fixdir);
    snprintf(g_subdir, sizeof(g_subdir), "%s/dir", g_fixdir);
    /* A valid script without the execute bit; an executable that is neither ELF
     * nor #! (execve: ENOEXEC; the library has no /bin/sh fallback). */
    static const char script[] = "#!/bin/sh\nexit 0\n";
    static const unsigned char junk[] = {0x7f, 'X', 'L', 'F', 0, 1, 2, 3, 0xff, 0xfe};
    int a = open(g_noexec, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int b = open(g_badfmt, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    bool ok = a >= 0 && b >= 0 && mkdir(g_subdir, 0755) == 0;
    ok = ok && write(a, script, sizeof(script) - 1) == (ssize_t)sizeof(script) - 1;
    ok = ok && write(b, junk, sizeof(junk)) == (ssize_t)sizeof(junk);
    ok = ok && fchmod(a, 0644) == 0 && fchmod(b, 0755) == 0;
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
    return ok;
}

static void remove_fixtures(void)
{
    if (!g_fixdir[0])
        return;
    unlink(g_noexec);
    unlink(g_badfmt);
    rmdir(g_subdir);
    for (int i = 0; i < 3; i++) { /* the redirection files a failed case left */
        char path[128];
        snprintf(path, sizeof(path), "%s/out%d", g_fixdir, i);
        unlink(path);
    }
    rmdir(g_fixdir);
}

enum exec_case { X_MISSING, X_MISSING_NAME, X_NOEXEC, X_DIR, X_BADFMT, X_COUNT };
static const char *const exec_case_names[] = {"a missing path", "a missing name on PATH",
                                              "a non-executable file", "a directory",
                                              "an executable neither ELF nor #!"};
enum spawn_api {
    A_SPAWN,
    A_SPAWN_PATH,
    A_SPAWNV,
    A_SPAWNVP,
    A_SPAWNVPE,
    A_SPAWNL,
    A_SPAWNLP,
    A_COUNT
};
static const char *const api_names[] = {
    "ipc_proc_spawn",    "ipc_proc_spawn(F_PATH)", "ipc_proc_spawnv", "ipc_proc_spawnvp",
    "ipc_proc_spawnvpe", "ipc_proc_spawnl",        "ipc_proc_spawnlp"};

static int spawn_with(enum spawn_api api, int method, ipc_proc **out, const char *path)
{
    char *argv[] = {(char *)path, "arg", NULL};
    char *envp[] = {"IPCSTORM_FORKWAIT=1", NULL};
    struct ipc_proc_options o;
    memset(&o, 0, sizeof(o));
    o.method = (enum ipc_proc_method)method;
    switch (api) {
    case A_SPAWN:
        return ipc_proc_spawn(out, argv, &o);
    case A_SPAWN_PATH:
        o.flags = IPC_PROC_F_PATH;
        return ipc_proc_spawn(out, argv, &o);
    case A_SPAWNV:
        return ipc_proc_spawnv(out, path, argv);
    case A_SPAWNVP:
        return ipc_proc_spawnvp(out, path, argv);
    case A_SPAWNVPE:
        return ipc_proc_spawnvpe(out, path, argv, envp);
    case A_SPAWNL:
        return ipc_proc_spawnl(out, path, path, "arg", (char *)NULL);
    default:
        return ipc_proc_spawnlp(out, path, path, "arg", (char *)NULL);
    }
}

/* PATH (already set to path) holds only a non-executable "ipcstorm-pathprobe":
 * every spawn that searches PATH (ipc_proc_spawn with F_PATH under each method,
 * spawnvp, spawnvpe, spawnlp) fails with exactly -EACCES, as execvp does when an
 * entry gave EACCES and none ran, never with the last entry's ENOENT. */
static void check_path_only_noexec(struct stress *s, const char *path)
{
    struct {
        enum spawn_api api;
        int method;
    } const ways[] = {{A_SPAWN_PATH, IPC_PROC_AUTO},  {A_SPAWN_PATH, IPC_PROC_FORK},
                      {A_SPAWN_PATH, IPC_PROC_VFORK}, {A_SPAWN_PATH, IPC_PROC_POSIX_SPAWN},
                      {A_SPAWNVP, IPC_PROC_AUTO},     {A_SPAWNVPE, IPC_PROC_AUTO},
                      {A_SPAWNLP, IPC_PROC_AUTO}};
    for (size_t i = 0; i < ARRAY_SIZE(ways); i++) {
        ipc_proc *p = NULL;
        int r = spawn_with(ways[i].api, ways[i].method, &p, "ipcstorm-pathprobe");
        if (r == 0) {
            struct ipc_proc_status st;
            memset(&st, 0, sizeof(st));
            int w = stress_proc_wait(s, p, 10000, &st);
            stress_proc_discard(s, p);
            if (stress_faults_on(s) && w == 0 &&
                ((st.exited && st.code == 127) || (st.signaled && st.signal == SIGPIPE))) {
                stress_lib_error(s, -EIO, "spawn: unreported exec failure (exit 127)");
                continue;
            }
            stress_violation(s, "exec-error",
                             "%s (method %s), PATH %s with only a non-executable match: "
                             "started a child (raw status 0x%x), want EACCES",
                             api_names[ways[i].api], method_names[ways[i].method], path, st.raw);
            continue;
        }
        if (r != -EACCES && stress_faults_on(s)) {
            stress_lib_error(s, r, api_names[ways[i].api]); /* an injected error came first */
            continue;
        }
        stress_check(s, r == -EACCES, "exec-error",
                     "%s (method %s), PATH %s with only a non-executable match: got %s, "
                     "want EACCES",
                     api_names[ways[i].api], method_names[ways[i].method], path, ipc_errname(r));
    }
}

/* PATH search as execvp does it: a match that cannot be executed (EACCES) is
 * remembered and the search goes on, so the executable in a later directory runs.
 * PATH here is dirA (a non-executable "ipcstorm-pathprobe") then dirB (one that
 * exits 7), for every spawn method; then dirA alone among missing directories
 * (check_path_only_noexec). */
static void check_path_search(struct stress *s)
{
    char a[128], b[128], fa[160], fb[160], path[400];
    snprintf(a, sizeof(a), "%s/pa", g_fixdir);
    snprintf(b, sizeof(b), "%s/pb", g_fixdir);
    snprintf(fa, sizeof(fa), "%s/ipcstorm-pathprobe", a);
    snprintf(fb, sizeof(fb), "%s/ipcstorm-pathprobe", b);
    static const char script[] = "#!/bin/sh\nexit 7\n";
    bool ok = (mkdir(a, 0755) == 0 || errno == EEXIST) && (mkdir(b, 0755) == 0 || errno == EEXIST);
    for (int i = 0; ok && i < 2; i++) {
        int fd = open(i ? fb : fa, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ok = fd >= 0 && write(fd, script, sizeof(script) - 1) == (ssize_t)sizeof(script) - 1 &&
             fchmod(fd, i ? 0755 : 0644) == 0;
        if (fd >= 0)
            close(fd);
    }
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    snprintf(path, sizeof(path), "%s:%s", a, b);
    if (!ok || setenv("PATH", path, 1) != 0) {
        stress_setup_error(s, "PATH search fixtures in %s: %s", g_fixdir, strerror(errno));
        free(saved);
        return;
    }
    static const int methods[] = {IPC_PROC_FORK, IPC_PROC_VFORK, IPC_PROC_POSIX_SPAWN};
    for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
        ipc_proc *p = NULL;
        int r = spawn_with(A_SPAWN_PATH, methods[m], &p, "ipcstorm-pathprobe");
        struct ipc_proc_status st;
        memset(&st, 0, sizeof(st));
        int w = r == 0 ? stress_proc_wait(s, p, 30000, &st) : r;
        stress_proc_discard(s, p);
        bool ran = r == 0 && w == 0 && st.exited && st.code == 7;
        if (!ran && stress_faults_on(s)) { /* an injected failure may come first */
            stress_lib_error(s, r < 0 ? r : -EIO, "spawn(PATH search)");
            continue;
        }
        stress_check(s, ran, "exec-error",
                     "%s: PATH %s with a non-executable match first: spawn %s, exit %d "
                     "(want the later executable to run and exit 7)",
                     method_names[methods[m]], path, ipc_errname(r), st.exited ? st.code : -1);
    }
    /* Only the non-executable match, between directories that do not exist: the
     * search ends with ENOENT, but execvp reports the EACCES it saw on the way. */
    char none[128];
    snprintf(none, sizeof(none), "%s/pc", g_fixdir);
    snprintf(path, sizeof(path), "%s:%s:%s", none, a, none);
    if (setenv("PATH", path, 1) != 0)
        stress_setup_error(s, "setenv PATH: %s", strerror(errno));
    else
        check_path_only_noexec(s, path);
    if (saved)
        setenv("PATH", saved, 1);
    else
        unsetenv("PATH");
    free(saved);
    unlink(fa);
    unlink(fb);
    rmdir(a);
    rmdir(b);
}

/* Programs that cannot run, through every spawn function and method: the spawn
 * itself fails with the exec's errno, and the failed child is already reaped. */
static void phase_exec_errors(struct stress *s, struct stress_rng *rng, bool every)
{
    char missing[96], missing_name[64];
    snprintf(missing, sizeof(missing), "/nonexistent-ipcstorm/%016" PRIx64, stress_rng_next(rng));
    snprintf(missing_name, sizeof(missing_name), "ipcstorm-no-such-program-%016" PRIx64,
             stress_rng_next(rng));
    int fds = hygiene_fd_count();
    /* every: each case with each function and, for ipc_proc_spawn, each method
     * (X_COUNT * (2 * 4 + 5) spawns); otherwise 6 drawn from the seed. */
    const int per_case = 2 * (IPC_PROC_POSIX_SPAWN + 1) + (A_COUNT - 2);
    int count = every ? X_COUNT * per_case : 6;
    for (int i = 0; i < count; i++) {
        enum exec_case xc = (enum exec_case)stress_rng_below(rng, X_COUNT);
        enum spawn_api api = (enum spawn_api)stress_rng_below(rng, A_COUNT);
        /* spawnv..lp are AUTO by contract; spawn takes every method. */
        int method = api <= A_SPAWN_PATH
                         ? (int)stress_rng_range(rng, IPC_PROC_AUTO, IPC_PROC_POSIX_SPAWN)
                         : IPC_PROC_AUTO;
        if (every) {
            int j = i % per_case;
            xc = (enum exec_case)(i / per_case);
            api = j < 2 * (IPC_PROC_POSIX_SPAWN + 1)
                      ? (enum spawn_api)(j / (IPC_PROC_POSIX_SPAWN + 1))
                      : (enum spawn_api)(j - 2 * IPC_PROC_POSIX_SPAWN);
            method =
                j < 2 * (IPC_PROC_POSIX_SPAWN + 1) ? j % (IPC_PROC_POSIX_SPAWN + 1) : IPC_PROC_AUTO;
        }
        const char *path = xc == X_MISSING        ? missing
                           : xc == X_MISSING_NAME ? missing_name
                           : xc == X_NOEXEC       ? g_noexec
                           : xc == X_DIR          ? g_subdir
                                                  : g_badfmt;
        int want = xc <= X_MISSING_NAME ? -ENOENT : xc == X_BADFMT ? -ENOEXEC : -EACCES;
        ipc_proc *p = NULL;
        int r = spawn_with(api, method, &p, path);
        if (r == 0) {
            /* A child was started: see how it ended, then it is a violation
             * (under faults, exit 127 means the error report was lost). */
            struct ipc_proc_status st;
            memset(&st, 0, sizeof(st));
            int w = stress_proc_wait(s, p, 10000, &st);
            ipc_proc_free(p);
            if (stress_faults_on(s) && w == 0 &&
                ((st.exited && st.code == 127) || (st.signaled && st.signal == SIGPIPE))) {
                stress_lib_error(s, -EIO, "spawn: unreported exec failure (exit 127)");
                continue;
            }
            stress_violation(s, "exec-error",
                             "%s of %s (%s, method %s) started a child (raw status 0x%x), "
                             "want %s",
                             api_names[api], exec_case_names[xc], path, method_names[method],
                             st.raw, ipc_errname(want));
            continue;
        }
        if (r != want && stress_faults_on(s)) {
            stress_lib_error(s, r, api_names[api]); /* an injected error came first */
            continue;
        }
        stress_check(s, r == want, "exec-error", "%s of %s (%s, method %s): got %s, want %s",
                     api_names[api], exec_case_names[xc], path, method_names[method],
                     ipc_errname(r), ipc_errname(want));
    }
    stress_check_no_stray_children(s, "exec-error");
    int now = hygiene_fd_count();
    stress_check(s, now == fds, "exec-error", "failed spawns: open fds went from %d to %d", fds,
                 now);
    stress_add_ops(s, (uint64_t)count);
}

/* ---- redirection plans ---------------------------------------------------------- */

/* Each target of a plan: left alone, the source of another target (same), a file
 * of the fixture directory, or /dev/null. */
enum rsrc { R_ALONE, R_SAME, R_FILE, R_NULL };
struct rplan {
    enum rsrc kind[3];
    int other[3]; /* R_SAME: the other target; R_FILE: the file index */
    int mode[3];  /* R_FILE: IPC_REDIR_TRUNC or IPC_REDIR_APPEND */
};

/* Where the bytes written to target t end up, by the model of ipc/redir.h:
 * 0..2 the original fd (socket) k; 10+i file i; -1 discarded. */
static int model_dest(const struct rplan *pl, int t)
{
    switch (pl->kind[t]) {
    case R_ALONE:
        return t;
    case R_FILE:
        return 10 + pl->other[t];
    case R_NULL:
        return -1;
    default: {
        int o = pl->other[t];
        /* Another target's source, or its original fd when the plan leaves it alone
         * or maps it with same (no chains). */
        if (pl->kind[o] == R_FILE)
            return 10 + pl->other[o];
        if (pl->kind[o] == R_NULL)
            return -1;
        return o;
    }
    }
}

enum redir_way { W_SPAWN, W_APPLY_CHILD, W_APPLY_FDS, W_COUNT };
static const char *const way_names[] = {"spawn", "ipc_redir_apply_child", "ipc_redir_apply_fds"};

struct redir_stage {
    const ipc_redir *plan;
    int src[3]; /* W_APPLY_FDS */
    enum redir_way way;
    int method;
    char text[3][24]; /* what goes to fds 0, 1, 2 */
};

static int write_fully(int fd, const char *p)
{
    size_t n = strlen(p);
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A function child whose 0, 1, 2 are the driver's sockets: it applies the plan
 * (or spawns a shell under it) and writes text[t] to each fd t. Exit 0 or the
 * errno of what failed (200 + t for a failed write, 199 for a shell not 0). */
static int redir_stage_fn(void *arg)
{
    struct redir_stage *st = arg;
    if (st->way == W_SPAWN) {
        char *argv[] = {"/bin/sh",
                        "-c",
                        "printf %s \"$1\" >&0; printf %s \"$2\"; "
                        "printf %s \"$3\" >&2",
                        "sh",
                        st->text[0],
                        st->text[1],
                        st->text[2],
                        NULL};
        struct ipc_proc_options o;
        memset(&o, 0, sizeof(o));
        o.method = (enum ipc_proc_method)st->method;
        o.redir = st->plan;
        ipc_proc *p = NULL;
        int r = ipc_proc_spawn(&p, argv, &o);
        if (r < 0)
            return -r;
        struct ipc_proc_status ps;
        r = ipc_proc_wait(p, IPC_PROC_WAIT_FOREVER, 0, &ps);
        ipc_proc_free(p);
        if (r < 0)
            return -r;
        /* 127: the exec failed without a report (possible only under faults) */
        return ps.exited && ps.code == 0 ? 0 : ps.exited && ps.code == 127 ? 198 : 199;
    }
    int r =
        st->way == W_APPLY_CHILD ? ipc_redir_apply_child(st->plan) : ipc_redir_apply_fds(st->src);
    if (r < 0)
        return -r;
    for (int t = 0; t < 3; t++)
        if (write_fully(t, st->text[t]) < 0)
            return 200 + t;
    return 0;
}

/* Reads what arrives on fd until EOF (bounded), or "" after 10 s. */
static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 10000) != 1)
            break;
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || (n += (size_t)r) >= cap - 1)
            break;
    }
    buf[n] = '\0';
    return n;
}

/* One plan in one child: way and method as given (W_SPAWN: exec'd with that
 * method), shape 0 a 1<->2 swap, 1 a 0->1->2->0 cycle, 2-3 random sources. */
static void redir_case(struct stress *s, struct stress_rng *rng, unsigned round, enum redir_way way,
                       int method, uint64_t shape)
{
    struct rplan pl;
    struct redir_stage st;
    memset(&st, 0, sizeof(st));
    st.way = way;
    st.method = method;
    for (int t = 0; t < 3; t++)
        snprintf(st.text[t], sizeof(st.text[t]), "<%u:fd%d>", round, t);
    for (int t = 0; t < 3; t++) {
        if (shape == 0) { /* swap 1 and 2, 0 alone */
            pl.kind[t] = t == 0 ? R_ALONE : R_SAME;
            pl.other[t] = t == 1 ? 2 : 1;
        } else if (shape == 1) { /* cycle: t gets (t+1)'s original */
            pl.kind[t] = R_SAME;
            pl.other[t] = (t + 1) % 3;
        } else {
            pl.kind[t] = (enum rsrc)stress_rng_below(rng, 4);
            pl.other[t] = pl.kind[t] == R_SAME ? (t + 1 + (int)stress_rng_below(rng, 2)) % 3
                                               : t; /* R_FILE: its own file */
        }
        pl.mode[t] = stress_rng_below(rng, 2) ? IPC_REDIR_APPEND : IPC_REDIR_TRUNC;
    }
    /* Every file starts with "old<i>;": TRUNC must drop it, APPEND keep it, and a
     * file no target uses must keep it untouched. */
    char files[3][128], old[3][16];
    for (int i = 0; i < 3; i++) {
        snprintf(files[i], sizeof(files[i]), "%s/out%d", g_fixdir, i);
        snprintf(old[i], sizeof(old[i]), "old%d;", i);
        int fd = open(files[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_fully(fd, old[i]) < 0) {
            stress_setup_error(s, "cannot write %s: %s", files[i], strerror(errno));
            if (fd >= 0)
                close(fd);
            return;
        }
        close(fd);
    }
    int sv[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
    ipc_redir *plan = NULL;
    int r = ipc_redir_new(&plan);
    for (int t = 0; r == 0 && t < 3; t++) {
        if (pl.kind[t] == R_FILE)
            r = ipc_redir_file(plan, t, files[pl.other[t]], pl.mode[t]);
        else if (pl.kind[t] == R_NULL)
            r = ipc_redir_null(plan, t);
    }
    /* same after the setters: its meaning does not depend on the order. */
    for (int t = 0; r == 0 && t < 3; t++)
        if (pl.kind[t] == R_SAME)
            r = ipc_redir_same(plan, t, pl.other[t]);
    if (r < 0) {
        stress_lib_error(s, r, "ipc_redir plan");
        ipc_redir_free(plan);
        return;
    }
    int resolved[3];
    r = ipc_redir_resolve(plan, resolved);
    if (stress_check(s, r == 0, "redir-exact", "ipc_redir_resolve: %s", ipc_strerror(r)))
        for (int t = 0; t < 3; t++) {
            int d = model_dest(&pl, t);
            bool ok = pl.kind[t] == R_ALONE ? resolved[t] == -1
                      : d >= 0 && d < 3     ? resolved[t] == d
                                            : resolved[t] >= 3;
            /* same as a file or /dev/null target shares that target's fd */
            if (pl.kind[t] == R_SAME && (d >= 10 || d < 0))
                ok = ok && resolved[t] == resolved[pl.other[t]];
            stress_check(s, ok, "redir-exact", "ipc_redir_resolve: target %d -> %d (model %d)", t,
                         resolved[t], d);
        }
    /* apply_fds takes the resolved sources directly. */
    for (int t = 0; t < 3; t++)
        st.src[t] = r == 0 ? resolved[t] : -1;
    st.plan = plan;
    for (int k = 0; k < 3; k++)
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[k]) < 0) {
            stress_setup_error(s, "socketpair: %s", strerror(errno));
            for (int j = 0; j < k; j++) {
                close(sv[j][0]);
                close(sv[j][1]);
            }
            ipc_redir_free(plan);
            return;
        }
    struct ipc_proc_options o;
    memset(&o, 0, sizeof(o));
    o.flags = IPC_PROC_F_STDIO;
    for (int k = 0; k < 3; k++)
        o.stdio[k] = sv[k][1];
    ipc_proc *stage = NULL;
    r = ipc_proc_fork(&stage, redir_stage_fn, &st, &o);
    for (int k = 0; k < 3; k++)
        close(sv[k][1]);
    char got[3][128];
    for (int k = 0; k < 3; k++)
        got[k][0] = '\0';
    struct ipc_proc_status ps;
    memset(&ps, 0, sizeof(ps));
    if (r == 0) {
        for (int k = 0; k < 3; k++)
            read_all(sv[k][0], got[k], sizeof(got[k]));
        r = stress_proc_wait(s, stage, 10000, &ps);
        ipc_proc_free(stage);
    }
    for (int k = 0; k < 3; k++)
        close(sv[k][0]);
    ipc_redir_free(plan); /* closes the plan's file fds: the files are complete */
    if (r < 0 || !ps.exited || ps.code != 0) {
        if (r < 0 ? stress_lib_error(s, r, "ipc_proc_fork(redir stage)")
            : stress_faults_on(s) && ps.exited && ps.code > 0 && ps.code < 199
                ? stress_lib_error(s, ps.code == 198 ? -EIO : -ps.code, way_names[st.way])
                : false)
            return;
        stress_violation(s, "redir-exact", "%s (method %s): stage %s, exit status 0x%x",
                         way_names[st.way], st.way == W_SPAWN ? method_names[st.method] : "fork",
                         ipc_strerror(r), ps.raw);
        return;
    }
    /* Expected bytes per destination: the writes happen in the order 0, 1, 2. */
    char want[6][128];
    memset(want, 0, sizeof(want));
    for (int i = 0; i < 3; i++)
        if (pl.kind[i] != R_FILE || pl.mode[i] == IPC_REDIR_APPEND)
            snprintf(want[3 + i], sizeof(want[3 + i]), "%s", old[i]); /* file i is target i's */
    for (int t = 0; t < 3; t++) {
        int d = model_dest(&pl, t);
        int slot = d < 0 ? -1 : d >= 10 ? 3 + d - 10 : d;
        if (slot >= 0)
            strncat(want[slot], st.text[t], sizeof(want[slot]) - strlen(want[slot]) - 1);
    }
    char plan_text[96];
    static const char *const kname[] = {"alone", "same", "file", "null"};
    char ktext[3][16];
    for (int t = 0; t < 3; t++)
        snprintf(ktext[t], sizeof(ktext[t]), "%s%s", kname[pl.kind[t]],
                 pl.kind[t] == R_FILE && pl.mode[t] == IPC_REDIR_APPEND ? "(>>)" : "");
    snprintf(plan_text, sizeof(plan_text), "0:%s%d 1:%s%d 2:%s%d", ktext[0], pl.other[0], ktext[1],
             pl.other[1], ktext[2], pl.other[2]);
    for (int k = 0; k < 6; k++) {
        char filebuf[128];
        const char *have = k < 3 ? got[k] : filebuf;
        if (k >= 3) {
            int fd = open(files[k - 3], O_RDONLY | O_CLOEXEC);
            ssize_t n = fd >= 0 ? read(fd, filebuf, sizeof(filebuf) - 1) : -1;
            filebuf[n > 0 ? n : 0] = '\0';
            if (fd >= 0)
                close(fd);
        }
        stress_check(s, strcmp(have, want[k]) == 0, "redir-exact",
                     "%s (method %s), plan %s: %s%d received \"%s\", want \"%s\"",
                     way_names[st.way], st.way == W_SPAWN ? method_names[st.method] : "fork",
                     plan_text, k < 3 ? "original fd " : "file ", k < 3 ? k : k - 3, have, want[k]);
    }
    for (int i = 0; i < 3; i++)
        unlink(files[i]);
    stress_add_ops(s, 1);
}

/* every: the swap and the cycle with every way (spawn under each method,
 * apply_child, apply_fds); otherwise one plan drawn from the seed. */
static void phase_redir(struct stress *s, struct stress_rng *rng, unsigned round, bool every)
{
    if (!every) {
        enum redir_way way = (enum redir_way)stress_rng_below(rng, W_COUNT);
        int method = (int)stress_rng_range(rng, IPC_PROC_AUTO, IPC_PROC_POSIX_SPAWN);
        redir_case(s, rng, round, way, method, stress_rng_below(rng, 4));
        return;
    }
    for (uint64_t shape = 0; shape < 2; shape++) {
        for (int m = IPC_PROC_AUTO; m <= IPC_PROC_POSIX_SPAWN; m++)
            redir_case(s, rng, round, W_SPAWN, m, shape);
        redir_case(s, rng, round, W_APPLY_CHILD, IPC_PROC_FORK, shape);
        redir_case(s, rng, round, W_APPLY_FDS, IPC_PROC_FORK, shape);
    }
}

/* ---- file != argv[0] ------------------------------------------------------------ */

enum file_api { F_SPAWNV, F_SPAWNL, F_SPAWNVP, F_SPAWNLP, F_SPAWNVPE, F_COUNT };
static const char *const file_api_names[] = {"ipc_proc_spawnv", "ipc_proc_spawnl",
                                             "ipc_proc_spawnvp", "ipc_proc_spawnlp",
                                             "ipc_proc_spawnvpe"};

/* The spawn functions that take the program apart from argv run that program, not
 * argv[0]: argv[0] is a name that no program has ("ipcstorm-argv0-<hex>"), the
 * program /bin/sh (or "sh" on PATH for the p forms), and `sh -c script` with no
 * further operand sets $0 to argv[0]. The script writes "$0|$IPCSTORM_ARGV0_ENV"
 * to an inherited pipe and exits with a seeded code: the bytes must be argv[0]
 * exactly, the variable spawnvpe's envp gives (the others inherit ours), the code as
 * chosen. */
static void file_argv0_case(struct stress *s, struct stress_rng *rng, enum file_api api)
{
    char name[64], script[160], env_var[64], want[160];
    snprintf(name, sizeof(name), "ipcstorm-argv0-%016" PRIx64, stress_rng_next(rng));
    snprintf(env_var, sizeof(env_var), "IPCSTORM_ARGV0_ENV=%016" PRIx64, stress_rng_next(rng));
    int code = (int)stress_rng_below(rng, 256);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        stress_setup_error(s, "pipe2: %s", strerror(errno));
        return;
    }
    /* Only the write end is inherited (the driver is single-threaded: no other
     * child is spawned while it is open without close-on-exec). */
    if (fcntl(p[1], F_SETFD, 0) != 0) {
        stress_setup_error(s, "fcntl: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return;
    }
    snprintf(script, sizeof(script),
             "printf '%%s|%%s' \"$0\" \"$IPCSTORM_ARGV0_ENV\" >&%d; exit %d", p[1], code);
    snprintf(want, sizeof(want), "%s|%s", name,
             api == F_SPAWNVPE              ? env_var + strlen("IPCSTORM_ARGV0_ENV=")
             : getenv("IPCSTORM_ARGV0_ENV") ? getenv("IPCSTORM_ARGV0_ENV")
                                            : ""); /* inherited by the others */
    char *argv[] = {name, "-c", script, NULL};
    char *envp[] = {env_var, NULL};
    ipc_proc *child = NULL;
    int r;
    switch (api) {
    case F_SPAWNV:
        r = ipc_proc_spawnv(&child, "/bin/sh", argv);
        break;
    case F_SPAWNL:
        r = ipc_proc_spawnl(&child, "/bin/sh", name, "-c", script, (char *)NULL);
        break;
    case F_SPAWNVP:
        r = ipc_proc_spawnvp(&child, "sh", argv);
        break;
    case F_SPAWNLP:
        r = ipc_proc_spawnlp(&child, "sh", name, "-c", script, (char *)NULL);
        break;
    default:
        r = ipc_proc_spawnvpe(&child, "sh", argv, envp);
        break;
    }
    close(p[1]);
    char got[160];
    got[0] = '\0';
    struct ipc_proc_status st;
    memset(&st, 0, sizeof(st));
    int w = r;
    if (r == 0) {
        read_all(p[0], got, sizeof(got)); /* EOF: the child (the only holder) ended */
        w = stress_proc_wait(s, child, 10000, &st);
        ipc_proc_free(child);
    }
    close(p[0]);
    if (r < 0 && stress_faults_on(s)) {
        stress_lib_error(s, r, file_api_names[api]); /* an injected error */
        return;
    }
    if (r == 0 && w == 0 && stress_faults_on(s) &&
        ((st.exited && st.code == 127 && code != 127) || (st.signaled && st.signal == SIGPIPE))) {
        stress_lib_error(s, -EIO, "spawn: unreported exec failure (exit 127)");
        return;
    }
    stress_check(s, r == 0 && w == 0 && st.exited && st.code == code && strcmp(got, want) == 0,
                 "file-not-argv0",
                 "%s(\"%s\", argv[0] \"%s\"): spawn %s, wait %s, raw status 0x%x (want exit %d), "
                 "child wrote \"%s\", want \"%s\"",
                 file_api_names[api], api >= F_SPAWNVP ? "sh" : "/bin/sh", name, ipc_errname(r),
                 ipc_errname(w), st.raw, code, got, want);
    stress_add_ops(s, 1);
}

/* every: each of the five functions; otherwise one drawn from the seed. */
static void phase_file_argv0(struct stress *s, struct stress_rng *rng, bool every)
{
    if (!every) {
        file_argv0_case(s, rng, (enum file_api)stress_rng_below(rng, F_COUNT));
        return;
    }
    for (int api = 0; api < F_COUNT; api++)
        file_argv0_case(s, rng, (enum file_api)api);
}

/* The planted forget-child fault: every orphan but the first is reaped with
 * waitpid; the first is left a zombie for the stray check to find. */
static void reap_orphans_by_hand(struct stress *s, const struct orphan *orph, unsigned norph)
{
    for (unsigned i = 1; i < norph; i++) {
        int raw;
        pid_t w;
        do {
            w = waitpid(orph[i].pid, &raw, 0);
        } while (w == -1 && errno == EINTR);
        stress_check(s, w == orph[i].pid, "orphan-adopted", "waitpid(orphan %d): %s",
                     (int)orph[i].pid, strerror(errno));
    }
    /* Let the forgotten one finish so the stray check sees a zombie. */
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    while (waitid(P_PID, (id_t)orph[0].pid, &si, WEXITED | WNOWAIT) == -1 && errno == EINTR)
        ;
}

/* Every orphan has exited (peeked without reaping: its exit code is checked
 * here, independently of the library); ipc_proc_reap_orphans must then reap
 * exactly that many, after which none of them is waitable. */
static void reap_orphans_by_library(struct stress *s, const struct orphan *orph, unsigned norph)
{
    for (unsigned i = 0; i < norph; i++) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        int w;
        do {
            w = waitid(P_PID, (id_t)orph[i].pid, &si, WEXITED | WNOWAIT);
        } while (w == -1 && errno == EINTR);
        if (stress_check(s, w == 0 && si.si_pid == orph[i].pid, "orphan-adopted",
                         "orphan %d is not our child: %s", (int)orph[i].pid, strerror(errno)))
            stress_check(s, si.si_code == CLD_EXITED && si.si_status == orph[i].want_code,
                         "status-as-sent", "orphan %d should exit %d: si_code %d, si_status %d",
                         (int)orph[i].pid, orph[i].want_code, si.si_code, si.si_status);
    }
    /* Every one of them has terminated: one call reaps them all (EINTR is the
     * only error, and it is retried inside). */
    int reaped;
    do {
        reaped = ipc_proc_reap_orphans(0);
    } while (reaped < 0 && stress_lib_error(s, reaped, "ipc_proc_reap_orphans"));
    stress_check(s, reaped == (int)norph, "orphan-adopted",
                 "ipc_proc_reap_orphans(0) reaped %d orphans, %u had exited", reaped, norph);
    for (unsigned i = 0; i < norph; i++) {
        int raw;
        pid_t w = waitpid(orph[i].pid, &raw, WNOHANG);
        stress_check(s, w == -1 && errno == ECHILD, "orphan-adopted",
                     "orphan %d still waitable after ipc_proc_reap_orphans (waitpid gave %d)",
                     (int)orph[i].pid, (int)w);
    }
    int r = ipc_proc_reap_orphans(0);
    stress_check(s, r == 0, "orphan-adopted", "a second ipc_proc_reap_orphans reaped %d", r);
}

/* ipc_proc_reap_orphans(1) while the only orphan is alive: nothing can be reaped
 * within 1 ms, so it returns 0 at once, never waiting for the orphan to end (the
 * orphan ends by itself after 3 s at the latest, so a wrong wait is seen, not a
 * hang). */
static void check_reap_timeout(struct stress *s)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        stress_setup_error(s, "pipe2: %s", strerror(errno));
        return;
    }
    stress_faults_pause(s);
    pid_t mid = fork();
    if (mid == 0) {
        if (fork() == 0) {
            close(p[1]);
            struct pollfd pf = {.fd = p[0], .events = POLLIN};
            _exit(poll(&pf, 1, 3000) >= 0 ? 0 : 1);
        }
        _exit(0);
    }
    close(p[0]);
    int st;
    bool adopted = mid > 0 && waitpid(mid, &st, 0) == mid; /* its child is ours now */
    int r = adopted ? ipc_proc_reap_orphans(1) : 0;
    close(p[1]); /* the orphan ends now */
    int after = adopted ? ipc_proc_reap_orphans(-1) : 0;
    stress_faults_resume(s);
    if (!adopted) {
        stress_setup_error(s, "fork/waitpid: %s", strerror(errno));
        return;
    }
    stress_check(s, r == 0 && after == 1, "orphan-adopted",
                 "ipc_proc_reap_orphans(1) with a live orphan gave %d (want 0 at once), then "
                 "(-1) after it ended %d (want 1)",
                 r, after);
}

/* ---- spawning with stdio closed, at the descriptor limit -------------------------- */
#define LIMIT_VERDICT_FD 4 /* the only descriptor the probe keeps; RLIMIT_NOFILE is 5 */

/* In a forked child: fds 0-3 closed, the verdict pipe on fd 4, RLIMIT_NOFILE 5. A
 * daemon-like caller: the spawn's error pipe lands on 0 and 1 and must move above
 * stdio to the one free descriptor, 3. Every method must run sh to its exit code
 * and leave nothing open once the child is freed. */
static int stdio_closed_child(int unused, int verdict_fd)
{
    (void)unused;
    if (dup2(verdict_fd, LIMIT_VERDICT_FD) != LIMIT_VERDICT_FD ||
        close_range(LIMIT_VERDICT_FD + 1, ~0u, 0) != 0)
        return 3;
    for (int fd = 0; fd < LIMIT_VERDICT_FD; fd++)
        close(fd);
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return 3;
    lim.rlim_cur = LIMIT_VERDICT_FD + 1;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        return 3;
    static const int methods[] = {IPC_PROC_AUTO, IPC_PROC_FORK, IPC_PROC_VFORK,
                                  IPC_PROC_POSIX_SPAWN};
    for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
        char script[16];
        int code = 40 + (int)i;
        snprintf(script, sizeof(script), "exit %d", code);
        char *argv[] = {"/bin/sh", "-c", script, NULL};
        struct ipc_proc_options o;
        memset(&o, 0, sizeof(o));
        o.method = (enum ipc_proc_method)methods[i];
        ipc_proc *p = NULL;
        struct ipc_proc_status st;
        memset(&st, 0, sizeof(st));
        int r = ipc_proc_spawn(&p, argv, &o);
        int w = r == 0 ? ipc_proc_wait(p, 10000, 0, &st) : r;
        ipc_proc_free(p);
        if (r < 0 || w < 0 || !st.exited || st.code != code) {
            dprintf(LIMIT_VERDICT_FD, "method %s: spawn %s, wait %s, raw status 0x%x, want exit %d",
                    method_names[methods[i]], ipc_errname(r), ipc_errname(w), st.raw, code);
            return 2;
        }
        for (int fd = 0; fd < LIMIT_VERDICT_FD; fd++) {
            if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) {
                dprintf(LIMIT_VERDICT_FD, "method %s: fd %d left open after the child was freed",
                        method_names[methods[i]], fd);
                return 2;
            }
        }
    }
    return 0;
}

static void check_spawn_stdio_closed(struct stress *s)
{
    char why[240];
    stress_faults_pause(s); /* the seam's state is shared with the child: until it ends */
    int st = stress_verdict_child(s, stdio_closed_child, 0, why, sizeof(why));
    stress_faults_resume(s);
    if (st < 0)
        return;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
        snprintf(s->note, sizeof(s->note), "spawn-stdio-closed skipped: no setup in the child");
        return;
    }
    stress_check(s, WIFEXITED(st) && WEXITSTATUS(st) == 0, "spawn-stdio-closed",
                 "fds 0-3 closed, RLIMIT_NOFILE 5: %s (probe status 0x%x)",
                 why[0] ? why : "no message", (unsigned)st);
}

static void run_round(struct stress *s, struct stress_rng *rng, unsigned round)
{
    if (g_method == M_MIXED) {
        /* The first round tries every combination, the others draw from the seed. */
        phase_exec_errors(s, rng, round == 0);
        if (round % 8 == 0) {
            check_path_search(s);
            check_spawn_stdio_closed(s);
        }
        phase_file_argv0(s, rng, round == 0);
        phase_redir(s, rng, round, round == 0);
    }
    struct child ch[MAX_BATCH];
    struct fn_arg args[MAX_BATCH];
    struct orphan orph[MAX_BATCH];
    unsigned n = (unsigned)opt_batch * s->procs, norph = 0;
    if (n > MAX_BATCH)
        n = MAX_BATCH;
    /* Only the blocked, killed and orphan kinds (mixed runs) use the pipes. */
    struct ipc_pipe block = {-1, -1}, report = {-1, -1}, release = {-1, -1};
    int por = 0;
    if (g_method == M_MIXED &&
        ((por = ipc_pipe_open(&block, 0)) < 0 || (por = ipc_pipe_open(&report, 0)) < 0 ||
         (por = ipc_pipe_open(&release, 0)) < 0)) {
        ipc_pipe_close(&block);
        ipc_pipe_close(&report);
        stress_lib_error(s, por, "ipc_pipe_open");
        return;
    }
    unsigned started = 0;
    for (unsigned i = 0; i < n; i++) {
        struct child *c = &ch[i];
        memset(c, 0, sizeof(*c));
        c->kind = pick_kind(rng);
        c->want_code = (int)stress_rng_below(rng, 256);
        c->want_signal = 0;
        c->method = IPC_PROC_FORK;
        int r;
        if (c->kind == K_EXEC_EXIT || c->kind == K_EXEC_SIGNAL) {
            char script[64], arg[16];
            if (c->kind == K_EXEC_EXIT) {
                snprintf(script, sizeof(script), "exit %d", c->want_code);
                snprintf(arg, sizeof(arg), "%d", c->want_code);
            } else {
                c->want_signal = term_sigs[stress_rng_below(rng, ARRAY_SIZE(term_sigs))];
                snprintf(script, sizeof(script), "kill -%d $$", c->want_signal);
                snprintf(arg, sizeof(arg), "-%d", c->want_signal);
            }
            char *sh_argv[] = {"/bin/sh", "-c", script, NULL};
            char *exec_argv[] = {(char *)opt_exec, arg, NULL};
            char **argv = opt_exec ? exec_argv : sh_argv;
            struct ipc_proc_options o;
            memset(&o, 0, sizeof(o));
            o.method = g_method == M_MIXED ? (enum ipc_proc_method)stress_rng_range(
                                                 rng, IPC_PROC_FORK, IPC_PROC_POSIX_SPAWN)
                                           : (enum ipc_proc_method)g_method;
            c->method = (int)o.method;
            uint64_t via = g_method == M_MIXED ? stress_rng_below(rng, 6) : 0;
            if (via == 1) {
                /* spawnvp: "sh" found on PATH */
                char *pargv[] = {"sh", "-c", script, NULL};
                c->method = IPC_PROC_AUTO;
                r = ipc_proc_spawnvp(&c->p, "sh", pargv);
            } else if (via == 2 && c->kind == K_EXEC_EXIT) {
                /* spawnvpe: the code reaches the child only through its environment */
                char env_code[48];
                snprintf(env_code, sizeof(env_code), "IPCSTORM_CODE=%d", c->want_code);
                char *envp[] = {env_code, "PATH=/bin:/usr/bin", NULL};
                char *pargv[] = {"sh", "-c", "exit $IPCSTORM_CODE", NULL};
                c->method = IPC_PROC_AUTO;
                r = ipc_proc_spawnvpe(&c->p, "sh", pargv, envp);
            } else {
                c->no_pidfd = via == 3;
                if (c->no_pidfd)
                    o.flags |= IPC_PROC_F_NO_PIDFD;
                r = ipc_proc_spawn(&c->p, argv, &o);
            }
            if (r == 0 && g_method == M_MIXED)
                check_pidfd(s, c->p, c->no_pidfd);
        } else {
            struct fn_arg *a = &args[i];
            a->kind = c->kind;
            a->value = c->want_code;
            a->block_fd = block.rd;
            a->report_fd = report.wr;
            a->release_fd = release.rd;
            a->release_wr = release.wr;
            if (c->kind == K_FN_SIGNAL) {
                c->want_signal = term_sigs[stress_rng_below(rng, ARRAY_SIZE(term_sigs))];
                a->value = c->want_signal;
            } else if (c->kind == K_FN_KILLED) {
                c->want_signal = SIGKILL;
            } else if (c->kind == K_ORPHAN) {
                orph[norph].want_code = c->want_code;
                a->value = c->want_code;
                c->want_code = 0; /* the child itself exits 0 after reporting */
            }
            r = ipc_proc_fork(&c->p, fn_child, a, NULL);
            if (r == 0 && c->kind == K_ORPHAN) {
                pid_t g = 0;
                /* Bounded: this process holds report.wr itself, so a child that dies
                 * before it reports gives no EOF. */
                struct pollfd pf = {.fd = report.rd, .events = POLLIN};
                int pr;
                do {
                    pr = poll(&pf, 1, 10000);
                } while (pr < 0 && errno == EINTR);
                /* read(2), not libipc: the driver's own plumbing stays exact under
                 * --faults (a 4-byte pipe write arrives whole). */
                ssize_t rn;
                do {
                    rn = pr > 0 ? read(report.rd, &g, sizeof(g)) : -ETIMEDOUT;
                } while (rn < 0 && errno == EINTR);
                if (rn == (ssize_t)sizeof(g) && g > 0) {
                    orph[norph++].pid = g;
                } else if (rn == (ssize_t)sizeof(g)) {
                    c->want_code = 122; /* fork failed in the child: out of processes */
                    stress_setup_error(s, "fork of a grandchild failed");
                } else {
                    stress_violation(s, "orphan-adopted", "no grandchild pid reported");
                }
            }
        }
        if (r < 0) {
            stress_lib_error(s, r,
                             c->kind == K_EXEC_EXIT || c->kind == K_EXEC_SIGNAL ? "ipc_proc_spawn"
                                                                                : "ipc_proc_fork");
            break;
        }
        started++;
    }
    /* Kill the blocked ones, then reap everything in a random order. */
    for (unsigned i = 0; i < started; i++)
        if (ch[i].kind == K_FN_KILLED) {
            int r = ipc_proc_kill(ch[i].p, SIGKILL);
            if (r < 0 && stress_lib_error(s, r, "ipc_proc_kill"))
                stress_ignore(stress_kill_pid(s, ipc_proc_pid(ch[i].p), SIGKILL)); /* it must die */
            else
                stress_check(s, r == 0, "status-as-sent", "kill of a live child failed: %s",
                             ipc_strerror(r));
        }
    for (unsigned i = started; i > 1; i--) {
        unsigned j = (unsigned)stress_rng_below(rng, i);
        struct child t = ch[i - 1];
        ch[i - 1] = ch[j];
        ch[j] = t;
    }
    for (unsigned i = 0; i < started; i++) {
        struct child *c = &ch[i];
        struct ipc_proc_status st;
        int r = stress_proc_wait(s, c->p, 10000, &st);
        if (stress_check(s, r == 0, "reaped-once", "wait for pid %d: %s", (int)ipc_proc_pid(c->p),
                         ipc_strerror(r)))
            check_status(s, c, &st);
        r = ipc_proc_wait(c->p, 0, 0, &st);
        stress_check(s, r == -ECHILD, "reaped-once", "second wait for pid %d gave %s",
                     (int)ipc_proc_pid(c->p), ipc_strerror(r));
        int raw;
        pid_t w = waitpid(ipc_proc_pid(c->p), &raw, WNOHANG);
        stress_check(s, w == -1 && errno == ECHILD, "reaped-once",
                     "pid %d is still waitable after it was reaped", (int)ipc_proc_pid(c->p));
        ipc_proc_free(c->p);
    }
    /* Every grandchild's parent is gone now: they must be ours (subreaper). */
    for (unsigned i = 0; i < norph; i++) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)orph[i].pid);
        FILE *f = fopen(path, "re");
        int ppid = -1;
        if (f) {
            size_t len = fread(buf, 1, sizeof(buf) - 1, f);
            buf[len] = '\0';
            fclose(f);
            char *rp = strrchr(buf, ')');
            char state;
            if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2)
                ppid = -1;
        }
        stress_check(s, ppid == (int)getpid(), "orphan-adopted",
                     "orphan %d has parent %d, not the subreaper %d", (int)orph[i].pid, ppid,
                     (int)getpid());
    }
    ipc_pipe_close(&release); /* EOF: the grandchildren exit with their codes */
    bool forget = stress_fault(s, "forget-child") && norph > 0;
    bool budgeted = !forget && periodic_due(&g_round_checks, s);
    double check_start = stress_elapsed(s);
    if (forget)
        reap_orphans_by_hand(s, orph, norph); /* the planted bug: one is forgotten */
    else if (norph > 0 || budgeted)           /* without orphans: only "nothing to reap" */
        reap_orphans_by_library(s, orph, norph);
    if (budgeted) {
        check_reap_timeout(s);
        periodic_ran(&g_round_checks, s, check_start);
    }
    stress_check_no_stray_children(s, "no-stray-child");
    ipc_pipe_close(&block);
    ipc_pipe_close(&report);
    stress_add_ops(s, started + norph);
}

int ipcstorm_stress_forkwait(int argc, char **argv)
{
    struct stress s;
    int rc = stress_begin(&s, &spec, argc, argv);
    if (rc != STRESS_RUN)
        return rc;
    g_method = parse_method(opt_method);
    if (g_method == -2) {
        fprintf(stderr,
                "ipcstorm stress forkwait: --method must be mixed, fork, vfork or "
                "posix_spawn, not '%s'\n",
                opt_method);
        stress_setup_error(&s, "bad --method");
        return stress_end(&s);
    }
    if (opt_exec && g_method == M_MIXED) {
        /* The mixed run execs /bin/sh through every spawn function, scripts and all. */
        stress_setup_error(&s, "--exec needs --method fork, vfork or posix_spawn");
        return stress_end(&s);
    }
    const char *why = opt_exec ? exec_unusable(opt_exec) : NULL;
    if (why) {
        stress_setup_error(&s, "--exec %s: cannot run it: %s", opt_exec, why);
        return stress_end(&s);
    }
    int was = ipc_proc_is_subreaper();
    int r = ipc_proc_set_subreaper(1);
    if (r < 0) {
        stress_setup_error(&s, "cannot become a child subreaper: %s", ipc_strerror(r));
        return stress_end(&s);
    }
    if (g_method == M_MIXED && !make_fixtures()) {
        stress_setup_error(&s, "cannot create the fixture files in /tmp");
        remove_fixtures();
        return stress_end(&s);
    }
    check_signames(&s);
    struct stress_rng rng;
    stress_rng_init(&rng, s.seed, 0);
    for (unsigned round = 0; stress_running(&s); round++)
        run_round(&s, &rng, round);
    if (was == 0)
        stress_ignore(ipc_proc_set_subreaper(0));
    remove_fixtures();
    return stress_end(&s);
}
