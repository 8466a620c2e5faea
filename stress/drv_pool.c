/* drv_pool.c - `ipcstorm stress pool`: tasks submitted to (and mapped over) a
 * worker pool while workers are SIGKILLed at random moments. The pool replaces a
 * dead worker and retries its task once, so each task must come back exactly once:
 * with the exact expected bytes, or - only when it was unlucky enough to lose two
 * workers - with IPC_ECHILDLOST.
 *
 * A lost result is seen within a second: the task function itself tells the
 * driver (an 8-byte tag on a "computed" pipe, written just before it returns)
 * when a worker has finished a task, so the moment its result must arrive is
 * known independently of the pool; collect polls in short slices and a result
 * still missing RESULT_DUE_S after its task was computed (and after the last
 * worker kill, which may have cost it) is a violation.
 *
 * Every few rounds two more phases run: ipc_pool_terminate on a second pool
 * whose tasks block (every queued and running task must come back once with
 * -ECANCELED, no worker may be left), and the Process API (ipc_mp_process_*:
 * exit codes, is_alive before start / while blocked / after exit, terminate and
 * kill with their signal in the joined status, pid as reported by the child). */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "common.h"
#include "report.h"
#include "rng.h"
#ifdef IPC_TEST_FAULTS
#include "ipc_test_faults.h"
#endif
#include "ipc/pool.h"
#include "ipc/sig.h"

const char ipcstorm_stress_pool_summary[] =
    "submit/map on a worker pool with workers SIGKILLed at random; each result exactly once";

#define MAX_BATCH      4096
#define MAX_TASK_BYTES (64u * 1024u)

static uint64_t opt_batch = 256;
static uint64_t opt_kill_per_mille = 20;

static const struct stress_xopt xopts[] = {
    {"batch", STRESS_XOPT_U64, &opt_batch, 1, MAX_BATCH, "tasks per round (default 256)", NULL},
    {"kill-rate", STRESS_XOPT_U64, &opt_kill_per_mille, 0, 1000,
     "per-mille chance per collected result to SIGKILL a random worker (default 20)", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct stress_fault faults[] = {
    {"dup-result", "the pool delivers every 100th result twice (libipc fault)"},
    {"drop-result", "the pool never delivers the 100th result (libipc fault)"},
    {NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "pool",
    .summary = "submit and map on a worker pool while workers are SIGKILLed at random moments.",
    .invariants =
        "  result-once     each task id is collected exactly once (no duplicate, none missing)\n"
        "                  and a result arrives within 1 s (5 s under --faults) of the\n"
        "                  moment a worker computed its task (the task reports it)\n"
        "  result-exact    a successful result has exactly the expected bytes\n"
        "  lost-bounded    IPC_ECHILDLOST only after two worker deaths: lost*2 <= kills\n"
        "  map-order       map fills res[i] with the result of input i\n"
        "  terminate-all   ipc_pool_terminate: every queued and running task comes back\n"
        "                  once with -ECANCELED, submit gives -EPIPE, no worker left\n"
        "  mp-process      ipc_mp_process_*: exit code / SIGTERM / SIGKILL as sent,\n"
        "                  is_alive exact, pid as the child reports it, no zombie",
    .default_procs = 4,
    .max_procs = 64,
    .xopts = xopts,
    .faults = faults,
};

/* Task input: tag (8) | spin (4) | bytes. Output: tag | checksum (8) | bytes ^ 0xa5. */
static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* Write end of the "computed" pipe (non-blocking: a full pipe loses a report,
 * which only loses that task's deadline, never blocks a worker). */
static int g_computed_wr = -1;

static int task_fn(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len,
                   void *arg)
{
    (void)arg;
    const uint8_t *ip = in;
    if (in_len < 12 || in_len + 4 > out_cap)
        return -EINVAL;
    uint32_t spin;
    memcpy(&spin, ip + 8, 4);
    stress_spin(spin); /* a window for the parent's SIGKILL to land mid-task */
    uint8_t *op = out;
    memcpy(op, ip, 8);
    uint64_t h = fnv(ip, in_len);
    memcpy(op + 8, &h, 8);
    for (size_t i = 12; i < in_len; i++)
        op[i + 4] = ip[i] ^ 0xa5;
    *out_len = in_len + 4;
    /* The result is due now: tell the driver (8 bytes: atomic on a pipe). */
    if (g_computed_wr >= 0)
        stress_ignore(write(g_computed_wr, ip, 8));
    return 0;
}

static void make_input(uint8_t *buf, size_t len, uint64_t tag, struct stress_rng *rng)
{
    stress_rng_fill(rng, buf + 12, len - 12);
    memcpy(buf, &tag, 8);
    uint32_t spin = (uint32_t)stress_rng_below(rng, 200000);
    memcpy(buf + 8, &spin, 4);
}

static bool result_ok(const uint8_t *in, size_t in_len, const struct ipc_pool_result *r)
{
    if (r->len != in_len + 4 || !r->data)
        return false;
    const uint8_t *o = r->data;
    uint64_t h = fnv(in, in_len);
    if (memcmp(o, in, 8) || memcmp(o + 8, &h, 8))
        return false;
    for (size_t i = 12; i < in_len; i++)
        if (o[i + 4] != (in[i] ^ 0xa5))
            return false;
    return true;
}

struct round {
    uint8_t *in[MAX_BATCH];
    size_t len[MAX_BATCH];
    uint64_t id[MAX_BATCH];
    unsigned seen[MAX_BATCH];
    uint64_t first_tag;         /* tag of input 0; input i has first_tag + i */
    double computed[MAX_BATCH]; /* when a worker last reported input i done, or 0 */
};

static uint64_t g_kills, g_lost;
static double g_last_kill; /* stress_now() of the last SIGKILL sent to a worker */
static int g_computed_rd = -1;

/* How long after a worker computed a task (and after the last kill) its result
 * may take to be collected. */
#define RESULT_DUE_S        1.0
#define RESULT_DUE_FAULTS_S 5.0
#define COLLECT_SLICE_MS    50

static void maybe_kill(struct stress *s, ipc_pool *pool, struct stress_rng *rng)
{
    if (stress_rng_below(rng, 1000) >= opt_kill_per_mille)
        return;
    pid_t pids[64];
    int n = ipc_pool_pids(pool, pids, 64);
    if (n <= 0)
        return;
    pid_t victim = pids[stress_rng_below(rng, (uint64_t)n)];
    if (kill(victim, SIGKILL) == 0) {
        g_kills++;
        g_last_kill = stress_now();
    }
    (void)s;
}

/* Reads the tags workers reported computed; those of this round get a time. */
static void drain_computed(struct round *rd, unsigned n)
{
    uint64_t tags[512];
    ssize_t got;
    while ((got = read(g_computed_rd, tags, sizeof(tags))) > 0) {
        double now = stress_now();
        for (size_t i = 0; rd && i < (size_t)got / 8; i++) {
            uint64_t k = tags[i] - rd->first_tag;
            if (tags[i] >= rd->first_tag && k < n)
                rd->computed[k] = now;
        }
    }
}

/* The first task of the round whose result is overdue, or -1. */
static int overdue_task(const struct stress *s, const struct round *rd, unsigned n, double now)
{
    double due = stress_faults_on(s) ? RESULT_DUE_FAULTS_S : RESULT_DUE_S;
    for (unsigned i = 0; i < n; i++) {
        if (rd->seen[i] || rd->computed[i] == 0)
            continue;
        double from = rd->computed[i] > g_last_kill ? rd->computed[i] : g_last_kill;
        if (now - from > due)
            return (int)i;
    }
    return -1;
}

static void round_submit(struct stress *s, ipc_pool *pool, struct round *rd, unsigned n,
                         struct stress_rng *rng)
{
    unsigned submitted = 0;
    drain_computed(NULL, 0); /* reports of earlier rounds (map) */
    for (unsigned i = 0; i < n; i++)
        rd->computed[i] = 0;
    for (unsigned i = 0; i < n; i++) {
        int r = ipc_pool_submit(pool, rd->in[i], rd->len[i], &rd->id[i]);
        if (r < 0) {
            stress_lib_error(s, r, "ipc_pool_submit");
            break;
        }
        submitted++;
    }
    /* ids increase from the first one: map them back to the input index. */
    uint64_t first = submitted ? rd->id[0] : 0;
    unsigned got = 0;
    double last_result = stress_now();
    bool killable = true;
    while (got < submitted) {
        if (killable)
            maybe_kill(s, pool, rng);
        killable = false;
        struct ipc_pool_result res;
        int r = ipc_pool_collect(pool, COLLECT_SLICE_MS, &res);
        if (r == -ETIMEDOUT) {
            double now = stress_now();
            drain_computed(rd, submitted);
            int late = overdue_task(s, rd, submitted, now);
            if (late >= 0) {
                double from = rd->computed[late] > g_last_kill ? rd->computed[late] : g_last_kill;
                stress_violation(s, "result-once",
                                 "task %" PRIu64 " was computed by a worker %.2f s ago (%s) but "
                                 "its result never came back; %u of %u results missing",
                                 rd->id[late], now - rd->computed[late],
                                 from > rd->computed[late] ? "after the last kill"
                                                           : "no kill since",
                                 submitted - got, submitted);
                break;
            }
            if (now - last_result < 10.0)
                continue;
        }
        if (r == -ETIMEDOUT || r == -ENOENT) {
            stress_violation(s, "result-once", "%u of %u results never came back (collect: %s)",
                             submitted - got, submitted, ipc_strerror(r));
            break;
        }
        if (r < 0) {
            if (stress_lib_error(s, r, "ipc_pool_collect"))
                continue; /* an error of collect itself: the results are still owed */
            break;
        }
        killable = true;
        last_result = stress_now();
        uint64_t k = res.id - first;
        if (!stress_check(s, res.id >= first && k < submitted && rd->id[k] == res.id, "result-once",
                          "collected unknown task id %" PRIu64, res.id)) {
            ipc_pool_result_free(&res);
            continue;
        }
        if (stress_check(s, rd->seen[k] == 0, "result-once", "task %" PRIu64 " collected twice",
                         res.id)) {
            got++;
            if (res.status == IPC_ECHILDLOST)
                g_lost++;
            else if (res.status < 0 && stress_faults_on(s))
                stress_lib_error(s, res.status, "task result status"); /* an error for it */
            else
                stress_check(s, res.status == 0 && result_ok(rd->in[k], rd->len[k], &res),
                             "result-exact", "task %" PRIu64 ": status %s, %zu bytes", res.id,
                             ipc_errname(res.status), res.len);
        }
        rd->seen[k]++;
        ipc_pool_result_free(&res);
    }
    /* Nothing may remain: a duplicate would show up here. */
    struct ipc_pool_result extra;
    int r = ipc_pool_collect(pool, 0, &extra);
    if (!stress_check(s, r == -ENOENT || (r == -ETIMEDOUT && got < submitted), "result-once",
                      "collect after every result returned %s (id %" PRIu64 ")", ipc_strerror(r),
                      r == 0 ? extra.id : 0))
        if (r == 0)
            ipc_pool_result_free(&extra);
    stress_add_ops(s, got);
}

static void round_map(struct stress *s, ipc_pool *pool, struct round *rd, unsigned n,
                      struct stress_rng *rng)
{
    struct ipc_pool_buf *in = calloc(n, sizeof(*in));
    struct ipc_pool_result *res = calloc(n, sizeof(*res));
    if (!in || !res) {
        free(in);
        free(res);
        stress_setup_error(s, "out of memory");
        return;
    }
    for (unsigned i = 0; i < n; i++)
        in[i] = (struct ipc_pool_buf){rd->in[i], rd->len[i]};
    /* map blocks: kill one worker up front so a death lands inside it. */
    maybe_kill(s, pool, rng);
    int r = ipc_pool_map(pool, in, n, res);
    if (r < 0) {
        stress_lib_error(s, r, "ipc_pool_map");
    } else {
        for (unsigned i = 0; i < n; i++) {
            if (res[i].status == IPC_ECHILDLOST)
                g_lost++;
            else if (res[i].status < 0 && stress_faults_on(s))
                stress_lib_error(s, res[i].status, "map result status");
            else
                stress_check(s, res[i].status == 0 && result_ok(rd->in[i], rd->len[i], &res[i]),
                             "map-order", "map result %u: status %s, %zu bytes", i,
                             ipc_errname(res[i].status), res[i].len);
            ipc_pool_result_free(&res[i]);
        }
        stress_add_ops(s, n);
    }
    free(in);
    free(res);
}

/* ---- ipc_pool_terminate ----------------------------------------------------- */

/* Read end of a pipe nobody writes to: a task of the terminate phase blocks on
 * it until its worker is killed (EOF would come only if every writer closed). */
static int g_block_rd = -1;

static int blocking_fn(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len,
                       void *arg)
{
    (void)in, (void)in_len, (void)out, (void)out_cap, (void)out_len, (void)arg;
    char c;
    while (read(g_block_rd, &c, 1) < 0 && errno == EINTR)
        ;
    return -EPROTO; /* never reached without a write to the blocker pipe */
}

static bool pid_gone(pid_t pid)
{
    int st;
    return waitpid(pid, &st, WNOHANG) == -1 && errno == ECHILD && kill(pid, 0) == -1 &&
           errno == ESRCH;
}

static void phase_terminate(struct stress *s, struct stress_rng *rng)
{
    struct ipc_pool_options o;
    memset(&o, 0, sizeof(o));
    o.workers = (unsigned)stress_rng_range(rng, 1, 3);
    ipc_pool *tp = NULL;
    int r = ipc_pool_new(&tp, blocking_fn, NULL, &o);
    if (r < 0) {
        stress_lib_error(s, r, "ipc_pool_new(terminate phase)");
        return;
    }
    pid_t workers[4];
    int nw = ipc_pool_pids(tp, workers, 4);
    stress_check(s, nw == (int)o.workers, "terminate-all", "a new pool of %u has %d live workers",
                 o.workers, nw);
    /* Some tasks run (one per worker), the rest wait in the queue. */
    unsigned n = (unsigned)stress_rng_range(rng, 1, 2 * o.workers + 3), submitted = 0;
    uint64_t ids[16];
    for (unsigned i = 0; i < n; i++) {
        r = ipc_pool_submit(tp, "x", 1, &ids[submitted]);
        if (r < 0) {
            stress_lib_error(s, r, "ipc_pool_submit(terminate phase)");
            break;
        }
        submitted++;
    }
    r = ipc_pool_terminate(tp);
    stress_check(s, r == 0, "terminate-all", "ipc_pool_terminate: %s", ipc_strerror(r));
    uint64_t dummy;
    r = ipc_pool_submit(tp, "x", 1, &dummy);
    stress_check(s, r == -EPIPE, "terminate-all", "submit after terminate gave %s, want EPIPE",
                 ipc_errname(r));
    unsigned seen[16] = {0}, got = 0;
    for (;;) {
        struct ipc_pool_result res;
        r = ipc_pool_collect(tp, 5000, &res);
        if (r == -ENOENT)
            break;
        if (!stress_check(s, r == 0, "terminate-all",
                          "collect after terminate: %s with %u of %u tasks collected",
                          ipc_strerror(r), got, submitted))
            break;
        unsigned k = submitted;
        for (unsigned i = 0; i < submitted; i++)
            if (ids[i] == res.id)
                k = i;
        if (stress_check(s, k < submitted && seen[k] == 0, "terminate-all",
                         "terminated pool returned task %" PRIu64 " (unknown or twice)", res.id)) {
            seen[k]++;
            got++;
            stress_check(s, res.status == -ECANCELED && res.len == 0, "terminate-all",
                         "task %" PRIu64 " of a terminated pool: status %s, %zu bytes", res.id,
                         ipc_errname(res.status), res.len);
        }
        ipc_pool_result_free(&res);
    }
    stress_check(s, got == submitted, "terminate-all", "%u of %u tasks came back after terminate",
                 got, submitted);
    r = ipc_pool_pids(tp, workers + 0, 0);
    stress_check(s, r == 0, "terminate-all", "%d workers live after terminate", r);
    for (int i = 0; i < nw && i < 4; i++)
        stress_check(s, pid_gone(workers[i]), "terminate-all",
                     "worker %d still exists (or is a zombie) after terminate", (int)workers[i]);
    ipc_pool_free(tp);
    stress_add_ops(s, got);
}

/* ---- the Process API (ipc_mp_process_*) ------------------------------------- */

struct mp_arg {
    int report_wr; /* the child writes its getpid() here */
    int block_rd;  /* then, when blocking, waits here forever */
    int code;      /* or exits with this */
};

static int mp_fn(void *p)
{
    const struct mp_arg *a = p;
    /* The driver catches SIGTERM (its stop handler) and a fork inherits that:
     * ipc_sig_child_reset must make this child die of it (terminate checks the
     * status). Done before it reports, so before terminate. */
    if (ipc_sig_child_reset() < 0)
        return 249;
    pid_t me = getpid();
    if (write(a->report_wr, &me, sizeof(me)) != (ssize_t)sizeof(me))
        return 250;
    if (a->block_rd >= 0) {
        char c;
        for (;;)
            if (read(a->block_rd, &c, 1) >= 0)
                return 251;
    }
    return a->code;
}

/* The pid the child reported, or -1 after 10 s. */
static pid_t read_reported_pid(int rd)
{
    struct pollfd pf = {.fd = rd, .events = POLLIN};
    pid_t pid = -1;
    if (poll(&pf, 1, 10000) == 1 && read(rd, &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
        pid = -1;
    return pid;
}

/* join, retrying the errors libipc reports under --faults (poll's -ENOMEM). */
static int mp_join(struct stress *s, ipc_mp_process *p, int timeout_ms, struct ipc_proc_status *st)
{
    int r;
    for (int tries = 0; tries < 100; tries++) {
        r = ipc_mp_process_join(p, timeout_ms, st);
        if (r == 0 || r == -ETIMEDOUT || !stress_faults_on(s) || !stress_lib_error(s, r, "join"))
            break;
    }
    return r;
}

static int mp_is_alive(struct stress *s, ipc_mp_process *p)
{
    int r;
    for (int tries = 0; tries < 100; tries++) {
        r = ipc_mp_process_is_alive(p);
        if (r >= 0 || !stress_faults_on(s) || !stress_lib_error(s, r, "is_alive"))
            break;
    }
    return r;
}

static void phase_mp_process(struct stress *s, struct stress_rng *rng, int report_rd, int report_wr)
{
    /* 0: exits with a code; 1: blocked, terminated; 2: blocked, killed. */
    int how = (int)stress_rng_below(rng, 3);
    struct mp_arg a = {report_wr, how ? g_block_rd : -1, (int)stress_rng_below(rng, 256)};
    ipc_mp_process *p = NULL;
    int r = ipc_mp_process_new(&p, mp_fn, &a, NULL);
    if (r < 0) {
        stress_lib_error(s, r, "ipc_mp_process_new");
        return;
    }
    stress_check(s, ipc_mp_process_pid(p) == 0 && mp_is_alive(s, p) == 0, "mp-process",
                 "before start: pid %d, is_alive %d", (int)ipc_mp_process_pid(p),
                 mp_is_alive(s, p));
    r = ipc_mp_process_terminate(p);
    stress_check(s, r == -EINVAL, "mp-process", "terminate before start gave %s", ipc_errname(r));
    r = ipc_mp_process_start(p);
    if (r < 0) {
        stress_lib_error(s, r, "ipc_mp_process_start");
        ipc_mp_process_free(p);
        return;
    }
    pid_t pid = ipc_mp_process_pid(p);
    pid_t reported = read_reported_pid(report_rd);
    stress_check(s, pid > 0 && pid == reported, "mp-process",
                 "ipc_mp_process_pid gave %d, the child says it is %d", (int)pid, (int)reported);
    r = ipc_mp_process_start(p);
    stress_check(s, r == -EALREADY, "mp-process", "second start gave %s", ipc_errname(r));
    struct ipc_proc_status st;
    memset(&st, 0, sizeof(st));
    if (how == 0) {
        /* Wait until it has exited (without reaping it): is_alive must say 0. */
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == -1 && errno == EINTR)
            ;
        r = mp_is_alive(s, p);
        stress_check(s, r == 0, "mp-process", "is_alive of an exited child gave %d", r);
    } else {
        r = mp_is_alive(s, p);
        stress_check(s, r == 1, "mp-process", "is_alive of a blocked child gave %d", r);
        r = mp_join(s, p, 0, &st);
        stress_check(s, r == -ETIMEDOUT, "mp-process", "join(0) of a blocked child gave %s",
                     ipc_errname(r));
        r = how == 1 ? ipc_mp_process_terminate(p) : ipc_mp_process_kill(p);
        stress_check(s, r == 0, "mp-process", "%s of a live child: %s",
                     how == 1 ? "terminate" : "kill", ipc_strerror(r));
    }
    r = mp_join(s, p, 10000, &st);
    if (stress_check(s, r == 0, "mp-process", "join of a child that %s: %s",
                     how == 0   ? "exited"
                     : how == 1 ? "was sent SIGTERM"
                                : "was sent SIGKILL",
                     ipc_strerror(r))) {
        int want_sig = how == 1 ? SIGTERM : SIGKILL;
        if (how == 0)
            stress_check(s, st.exited && st.code == a.code && !st.signaled, "mp-process",
                         "child returning %d: raw status 0x%x", a.code, st.raw);
        else
            stress_check(s, st.signaled && st.signal == want_sig && !st.exited, "mp-process",
                         "child sent %s: raw status 0x%x", ipc_proc_signame(want_sig), st.raw);
        struct ipc_proc_status again;
        memset(&again, 0, sizeof(again));
        r = mp_join(s, p, 0, &again);
        stress_check(s, r == 0 && again.raw == st.raw, "mp-process",
                     "second join: %s, raw 0x%x (first 0x%x)", ipc_strerror(r), again.raw, st.raw);
        r = mp_is_alive(s, p);
        stress_check(s, r == 0, "mp-process", "is_alive after join gave %d", r);
        r = ipc_mp_process_terminate(p);
        stress_check(s, r == -ESRCH, "mp-process", "terminate after join gave %s", ipc_errname(r));
        stress_check(s, ipc_mp_process_pid(p) == pid && pid_gone(pid), "mp-process",
                     "after join: pid %d (was %d), still waitable or alive",
                     (int)ipc_mp_process_pid(p), (int)pid);
    }
    ipc_mp_process_free(p);
    stress_add_ops(s, 1);
}

static void close_pipes(int a[2], int b[2], int c[2])
{
    int *all[] = {a, b, c};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 2; i++)
            if (all[k][i] >= 0)
                close(all[k][i]);
    g_computed_rd = g_computed_wr = g_block_rd = -1;
}

int ipcstorm_stress_pool(int argc, char **argv)
{
    struct stress s;
    int rc = stress_begin(&s, &spec, argc, argv);
    if (rc != STRESS_RUN)
        return rc;
    struct ipc_pool_options o;
    memset(&o, 0, sizeof(o));
    o.workers = s.procs;
    o.max_in = MAX_TASK_BYTES;
    o.max_out = MAX_TASK_BYTES + 4;
    /* The driver's own plumbing, made before the pool so that workers inherit it:
     * computed (workers -> driver, non-blocking both ends), block (never written),
     * report (process children -> driver). */
    int computed[2] = {-1, -1}, block[2] = {-1, -1}, report[2] = {-1, -1};
    if (pipe2(computed, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(block, O_CLOEXEC) < 0 ||
        pipe2(report, O_CLOEXEC) < 0) {
        stress_setup_error(&s, "pipe2: %s", strerror(errno));
        close_pipes(computed, block, report);
        return stress_end(&s);
    }
    g_computed_rd = computed[0];
    g_computed_wr = computed[1];
    g_block_rd = block[0];
    ipc_pool *pool = NULL;
    int r = ipc_pool_new(&pool, task_fn, NULL, &o);
#ifdef IPC_TEST_FAULTS
    if (r == 0 && stress_fault(&s, "dup-result"))
        r = ipc_pool_fault_set(pool, IPC_POOL_FAULT_DUP_RESULT, 100);
    else if (r == 0 && stress_fault(&s, "drop-result"))
        r = ipc_pool_fault_set(pool, IPC_POOL_FAULT_DROP_RESULT, 100);
#endif
    struct round *rd = calloc(1, sizeof(*rd));
    if (r < 0 || !rd) {
        stress_setup_error(&s, "ipc_pool_new: %s", r < 0 ? ipc_strerror(r) : "out of memory");
        free(rd);
        ipc_pool_free(pool);
        close_pipes(computed, block, report);
        return stress_end(&s);
    }
    struct stress_rng rng;
    stress_rng_init(&rng, s.seed, 0);
    uint64_t tag = 0;
    for (unsigned round = 0; stress_running(&s); round++) {
        unsigned n = (unsigned)stress_rng_range(&rng, 1, opt_batch);
        for (unsigned i = 0; i < n; i++) {
            rd->len[i] = (size_t)stress_rng_range(
                &rng, 12, stress_rng_below(&rng, 8) == 0 ? MAX_TASK_BYTES : 512);
            rd->in[i] = malloc(rd->len[i]);
            if (!rd->in[i]) {
                n = i;
                break;
            }
            if (i == 0)
                rd->first_tag = tag + 1;
            make_input(rd->in[i], rd->len[i], ++tag, &rng);
            rd->seen[i] = 0;
        }
        if (round % 3 == 2)
            round_map(&s, pool, rd, n, &rng);
        else
            round_submit(&s, pool, rd, n, &rng);
        if (round % 4 == 3) {
            phase_terminate(&s, &rng);
            phase_mp_process(&s, &rng, report[0], report[1]);
        }
        for (unsigned i = 0; i < n; i++) {
            free(rd->in[i]);
            rd->in[i] = NULL;
        }
    }
    stress_check(&s, g_lost * 2 <= g_kills, "lost-bounded",
                 "%" PRIu64 " tasks reported IPC_ECHILDLOST after only %" PRIu64 " worker kills",
                 g_lost, g_kills);
    r = ipc_pool_close(pool, 10000);
    stress_check(&s, r == 0, "result-once", "ipc_pool_close: %s", ipc_strerror(r));
    snprintf(s.note, sizeof(s.note),
             "workers killed %" PRIu64 ", replaced %" PRIu64 ", tasks lost twice %" PRIu64, g_kills,
             ipc_pool_replacements(pool), g_lost);
    ipc_pool_free(pool);
    free(rd);
    close_pipes(computed, block, report);
    return stress_end(&s);
}
