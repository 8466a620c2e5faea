/* drv_forkwait.c - `ipcstorm stress forkwait`: children created with every
 * spawn method (fork+exec, vfork, posix_spawn, function children) exit with codes
 * or die by signals chosen from the seed, some are killed by the parent, and some
 * leave orphaned grandchildren that the driver, as a child subreaper, adopts and
 * reaps. Every child is reaped exactly once and its status decodes as sent.
 * --method fork|vfork|posix_spawn narrows the run to one spawn method for
 * scripts/bench (see the --help text); the default, mixed, exercises them all. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc_base.h"
#include "cli.h"
#include "common.h"
#include "report.h"
#include "rng.h"
#include "ipc/pipe.h"
#include "ipc/proc.h"

const char ipcstorm_stress_forkwait_summary[] =
    "fork/vfork/posix_spawn children with chosen exits and signals, orphans via subreaper";

#define MAX_BATCH     128
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t opt_batch = 16;
static const char *opt_method = "mixed";

static const char *check_method(const char *value, const void *ctx);
static const struct stress_xopt xopts[] = {
    {"batch", STRESS_XOPT_U64, &opt_batch, 1, MAX_BATCH,
     "children per round and per --procs (default 16, at most 128 in all)", NULL},
    {"method", STRESS_XOPT_STR, &opt_method, 0, 0,
     "mixed (default): every child kind (exec'd shells, function\n"
     "children, killed ones, orphans) with every spawn method;\n"
     "fork: only function children (ipc_proc_fork) that _exit\n"
     "with a seeded code, the equivalent of stress-ng --fork's\n"
     "child; vfork, posix_spawn: only /bin/sh children spawned\n"
     "with that method, exiting with a code or killing themselves\n"
     "(they pay an exec, which stress-ng --vfork's child does\n"
     "not). Every status is verified with every method",
     check_method},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct stress_fault faults[] = {
    {"forget-child", "the reaper forgets one orphaned grandchild per round"},
    {NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "forkwait",
    .summary = "Children created by fork, vfork and posix_spawn (exec of /bin/sh) and function\n"
               "children exit with codes and die by signals chosen from the seed; orphaned\n"
               "grandchildren are adopted through the child subreaper.",
    .invariants =
        "  status-as-sent   every decoded status is the exit code / signal the child used\n"
        "  reaped-once      each child reaped exactly once (a second wait gives ECHILD)\n"
        "  orphan-adopted   each orphaned grandchild is re-parented to us and reaped\n"
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

/* The kind of child i: any kind when mixed, function exits for fork, exec'd
 * shells for vfork and posix_spawn (those methods exist to exec). */
static enum kind pick_kind(struct stress_rng *rng)
{
    switch (g_method) {
    case M_MIXED:
        return (enum kind)stress_rng_below(rng, K_COUNT);
    case IPC_PROC_FORK:
        return K_FN_EXIT;
    default:
        return stress_rng_below(rng, 2) ? K_EXEC_SIGNAL : K_EXEC_EXIT;
    }
}

struct child {
    enum kind kind;
    int method;
    int want_code;   /* exit code expected, or -1 */
    int want_signal; /* terminating signal expected, or 0 */
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

static int fn_child(void *p)
{
    struct fn_arg *a = p;
    switch (a->kind) {
    case K_FN_SIGNAL: {
        /* None of term_sigs dumps core; this guards against a change of the list. */
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        signal(a->value, SIG_DFL);
        raise(a->value);
        return 120; /* not reached: the signal is fatal and unblocked */
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
        return a->value;
    }
}

struct orphan {
    pid_t pid;
    int want_code;
};

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
    if (c->want_signal)
        stress_check(s, st->signaled && st->signal == c->want_signal && !st->exited,
                     "status-as-sent", "%s child (kind %d) should die by %s, got %s",
                     method_names[c->method], (int)c->kind, ipc_proc_signame(c->want_signal), got);
    else
        stress_check(s, st->exited && st->code == c->want_code && !st->signaled, "status-as-sent",
                     "%s child (kind %d) should exit %d, got %s", method_names[c->method],
                     (int)c->kind, c->want_code, got);
}

static void run_round(struct stress *s, struct stress_rng *rng)
{
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
            char script[64];
            if (c->kind == K_EXEC_EXIT) {
                snprintf(script, sizeof(script), "exit %d", c->want_code);
            } else {
                c->want_signal = term_sigs[stress_rng_below(rng, ARRAY_SIZE(term_sigs))];
                snprintf(script, sizeof(script), "kill -%d $$", c->want_signal);
            }
            char *argv[] = {"/bin/sh", "-c", script, NULL};
            struct ipc_proc_options o;
            memset(&o, 0, sizeof(o));
            o.method = g_method == M_MIXED ? (enum ipc_proc_method)stress_rng_range(
                                                 rng, IPC_PROC_FORK, IPC_PROC_POSIX_SPAWN)
                                           : (enum ipc_proc_method)g_method;
            c->method = (int)o.method;
            r = ipc_proc_spawn(&c->p, argv, &o);
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
                stress_ignore(kill(ipc_proc_pid(ch[i].p), SIGKILL)); /* it must die */
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
    for (unsigned i = forget ? 1 : 0; i < norph; i++) {
        int raw;
        pid_t w;
        do {
            w = waitpid(orph[i].pid, &raw, 0);
        } while (w == -1 && errno == EINTR);
        struct ipc_proc_status st;
        memset(&st, 0, sizeof(st));
        if (stress_check(s, w == orph[i].pid, "orphan-adopted", "waitpid(orphan %d): %s",
                         (int)orph[i].pid, strerror(errno)) &&
            stress_check(s, ipc_proc_status_decode(raw, &st) == 0, "status-as-sent",
                         "undecodable status 0x%x", raw))
            stress_check(s, st.exited && st.code == orph[i].want_code, "status-as-sent",
                         "orphan %d should exit %d, raw status 0x%x", (int)orph[i].pid,
                         orph[i].want_code, raw);
    }
    if (forget) {
        /* Let the forgotten one finish so the stray check sees a zombie. */
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        while (waitid(P_PID, (id_t)orph[0].pid, &si, WEXITED | WNOWAIT) == -1 && errno == EINTR)
            ;
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
    int was = ipc_proc_is_subreaper();
    int r = ipc_proc_set_subreaper(1);
    if (r < 0) {
        stress_setup_error(&s, "cannot become a child subreaper: %s", ipc_strerror(r));
        return stress_end(&s);
    }
    struct stress_rng rng;
    stress_rng_init(&rng, s.seed, 0);
    while (stress_running(&s))
        run_round(&s, &rng);
    if (was == 0)
        stress_ignore(ipc_proc_set_subreaper(0));
    return stress_end(&s);
}
