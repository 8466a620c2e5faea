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
 * still missing RESULT_DUE_S (times STRESS_TIME_SCALE: 5 in sanitizer builds)
 * after its task was computed (and after the last
 * worker kill, which may have cost it) is a violation.
 *
 * Every third round a threaded phase runs: 3-4 threads share one fresh pool
 * (see "several threads on one pool" below), watched for lost wakeups.
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
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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
#include "ipc/shm.h"
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
    .examples = "  ipcstorm stress pool --batch 1024 --kill-rate 100 --duration 20\n",
    .summary = "submit and map on a worker pool while workers are SIGKILLed at random moments;\n"
               "every third round, 3-4 threads share a fresh pool (submit, collect, map).",
    .invariants =
        "  result-once     each task id is collected exactly once (no duplicate, none missing)\n"
        "                  and a result arrives within 1 s (5 s under --faults) of the\n"
        "                  moment a worker computed its task (the task reports it)\n"
        "  collect-timeout ipc_pool_collect never times out before its timeout has run out\n"
        "  result-exact    a successful result has exactly the expected bytes (1 task\n"
        "                  in 16 returns none: len 0, data NULL)\n"
        "  lost-bounded    IPC_ECHILDLOST only after two worker deaths: lost*2 <= kills\n"
        "  lost-exact      a task that kills its worker every time runs exactly twice, then\n"
        "                  IPC_ECHILDLOST\n"
        "  pool-bookkeeping ipc_pool_pids/_replacements from a lock-free thread while\n"
        "                  workers are killed and replaced: at most the pool's workers,\n"
        "                  pids > 1, replacements never decrease (races: TSan builds)\n"
        "  map-order       map fills res[i] with the result of input i (also while other\n"
        "                  threads submit and collect on the same pool)\n"
        "  no-lost-wakeup  threaded phases: one pool shared by a submitter, a collector\n"
        "                  waiting forever (collect -1), one or two with 0-3 ms timeouts\n"
        "                  that leave the pool after a timeout until another thread got\n"
        "                  something, and a mapper or second collector; the poller\n"
        "                  role passes between them. Every result is collected once, by\n"
        "                  one thread, exact (result-once, result-exact), and a result\n"
        "                  a worker computed reaches some thread within 2 s (5 s under\n"
        "                  --faults): a thread left asleep is reported, the pool\n"
        "                  terminated, and the threads must then return within 5 s\n"
        "                  (else the driver stops, kills the workers and exits 2)\n"
        "  terminate-all   ipc_pool_terminate: every queued and running task comes back\n"
        "                  once with -ECANCELED, submit gives -EPIPE, no worker left;\n"
        "                  it interrupts a collect(-1) blocked in another thread (5 s)\n"
        "  mp-process      ipc_mp_process_*: exit code / SIGTERM / SIGKILL as sent,\n"
        "                  is_alive exact, pid as the child reports it, no zombie",
    .default_procs = 4,
    .max_procs = 64,
    .xopts = xopts,
    .faults = faults,
};

/* Task input: tag (8) | spin (4) | bytes. Output: tag | checksum (8) | bytes ^ 0xa5, or nothing
 * when the spin word has EMPTY_RESULT. */
static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* Task lengths in spin iterations: a window for kills in the rounds; in the
 * threaded phases, long enough (about a millisecond) that a short-timeout
 * collector holding the poller role often times out with nothing. */
#define ROUND_MAX_SPIN  200000u
#define THREAD_MAX_SPIN 3000000u

/* Write end of the "computed" pipe (non-blocking: a full pipe loses a report,
 * which only loses that task's deadline, never blocks a worker). */
static int g_computed_wr = -1;

/* A task whose spin word has this bit returns an empty result (the spin is far
 * below it): a result frame with no data must come back as len 0. */
#define EMPTY_RESULT 0x80000000u

static int task_fn(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len,
                   void *arg)
{
    (void)arg;
    const uint8_t *ip = in;
    if (in_len < 12 || in_len + 4 > out_cap)
        return -EINVAL;
    uint32_t spin;
    memcpy(&spin, ip + 8, 4);
    stress_spin(spin & ~EMPTY_RESULT); /* a window for the parent's SIGKILL to land mid-task */
    uint8_t *op = out;
    memcpy(op, ip, 8);
    uint64_t h = fnv(ip, in_len);
    memcpy(op + 8, &h, 8);
    for (size_t i = 12; i < in_len; i++)
        op[i + 4] = ip[i] ^ 0xa5;
    *out_len = spin & EMPTY_RESULT ? 0 : in_len + 4;
    /* The result is due now: tell the driver (8 bytes: atomic on a pipe). */
    if (g_computed_wr >= 0)
        stress_ignore(write(g_computed_wr, ip, 8));
    return 0;
}

static void make_input(uint8_t *buf, size_t len, uint64_t tag, struct stress_rng *rng,
                       uint32_t max_spin)
{
    stress_rng_fill(rng, buf + 12, len - 12);
    memcpy(buf, &tag, 8);
    uint32_t spin = (uint32_t)stress_rng_below(rng, max_spin);
    if (stress_rng_below(rng, 16) == 0)
        spin |= EMPTY_RESULT;
    memcpy(buf + 8, &spin, 4);
}

static bool result_ok(const uint8_t *in, size_t in_len, const struct ipc_pool_result *r)
{
    uint32_t spin;
    memcpy(&spin, in + 8, 4);
    if (spin & EMPTY_RESULT)
        return r->len == 0 && !r->data; /* pool.h: data NULL when len == 0 */
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
    if (stress_kill_pid(s, victim, SIGKILL)) {
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
    double due = (stress_faults_on(s) ? RESULT_DUE_FAULTS_S : RESULT_DUE_S) * STRESS_TIME_SCALE;
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
        double asked = stress_now();
        int r = ipc_pool_collect(pool, COLLECT_SLICE_MS, &res);
        if (r == -ETIMEDOUT) {
            double now = stress_now();
            /* A timeout cannot come early (half the slice: clock slack). */
            stress_check(s, now - asked >= COLLECT_SLICE_MS / 2000.0, "collect-timeout",
                         "ipc_pool_collect(%d ms) gave -ETIMEDOUT after %.1f ms", COLLECT_SLICE_MS,
                         (now - asked) * 1000);
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

/* ---- several threads on one pool ---------------------------------------------- */

/* One phase: a fresh pool (forked before any thread starts, as the fork rule
 * asks) used at once by a submitter, a patient collector (ipc_pool_collect(-1)),
 * an impatient collector (short timeouts, then it leaves while holding nothing)
 * and, in some phases, a second patient collector or a mapper. The poller role
 * is handed from thread to thread; a thread left asleep on the pool's condition
 * variable when the role is released (a lost wakeup) never returns by itself.
 * The main thread is the watchdog: it reads the "computed" reports and declares
 * a lost wakeup when a result a worker computed has reached no thread within
 * THREAD_DUE_S while no thread received anything either. Threads touch the
 * stress framework never: they record into the phase under its mutex, and the
 * main thread reports after joining them. */
#define THR_MAX_TASKS    256
#define THR_MAX_FAILS    8
#define THR_MAX_ERRORS   64
#define THR_MAX_THREADS  4
#define THREAD_DUE_S     2.0
#define THREAD_UNBLOCK_S 5.0

enum thr_role { THR_SUBMIT, THR_PATIENT, THR_IMPATIENT, THR_MAP };
static const char *const thr_role_name[] = {"submitter", "collector(-1)", "collector(short)",
                                            "mapper"};

struct thr_phase;
struct thr_ctx {
    struct thr_phase *ph;
    enum thr_role role;
    unsigned index;
    struct stress_rng rng;
    pthread_t thread;
    bool started;
    /* under ph->mu */
    bool done;
    const char *in_call; /* the pool call it is inside of, or NULL */
    unsigned results;
};

struct thr_phase {
    ipc_pool *pool;
    unsigned workers;
    bool faults;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* inputs 0..nsub-1 are submitted, nsub..nsub+nmap-1 mapped; tag first_tag+i */
    uint8_t *in[THR_MAX_TASKS];
    size_t len[THR_MAX_TASKS];
    uint64_t first_tag;
    unsigned nsub, nmap;
    double computed[THR_MAX_TASKS]; /* main thread only */
    /* under mu */
    uint64_t id[THR_MAX_TASKS];
    bool submit_ok[THR_MAX_TASKS];
    unsigned submitted; /* submit calls made (ok or failed) */
    bool submit_done;
    unsigned seen[THR_MAX_TASKS];
    int seen_by[THR_MAX_TASKS];
    bool map_done;
    unsigned running;
    double last_delivery;
    uint64_t delivered; /* results received by any thread */
    bool aborted;       /* the watchdog is terminating the pool */
    bool terminated;    /* its ipc_pool_terminate returned */
    int terminate_rc;
    uint64_t lost;
    unsigned nfail;
    const char *fail_inv[THR_MAX_FAILS];
    char fail_msg[THR_MAX_FAILS][200];
    unsigned nerr;
    int err[THR_MAX_ERRORS];
    const char *err_what[THR_MAX_ERRORS];
    struct thr_ctx ctx[THR_MAX_THREADS];
    unsigned nthreads;
};

static uint64_t g_thread_phases, g_thread_stuck;
/* A thread the watchdog could not unblock: its phase (and pool) are left
 * allocated, the driver stops and the process exits with it blocked. */
static bool g_wedged;
static struct {
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    bool (*done)(void *arg); /* called with mu held */
    void *arg;
} g_wedge;

/* Mutex held. */
__attribute__((format(printf, 3, 4))) static void thr_fail(struct thr_phase *ph, const char *inv,
                                                           const char *fmt, ...)
{
    if (ph->nfail >= THR_MAX_FAILS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ph->fail_msg[ph->nfail], sizeof(ph->fail_msg[0]), fmt, ap);
    va_end(ap);
    ph->fail_inv[ph->nfail++] = inv;
}

/* An error of a pool call: tolerated under --faults (replayed to
 * stress_lib_error by the main thread), a violation otherwise. Mutex held. */
static void thr_error(struct thr_phase *ph, int err, const char *what)
{
    if (!ph->faults && !ph->aborted) {
        thr_fail(ph, "result-once", "%s: %s", what, ipc_strerror(err));
        return;
    }
    if (ph->nerr < THR_MAX_ERRORS) {
        ph->err[ph->nerr] = err;
        ph->err_what[ph->nerr++] = what;
    }
}

/* The input index of a submitted task id, waiting for the submitter to record
 * it (a result can be collected before ipc_pool_submit has returned), or -1.
 * Mutex held. */
static int thr_index_of(struct thr_phase *ph, uint64_t id)
{
    for (;;) {
        for (unsigned i = 0; i < ph->submitted; i++)
            if (ph->submit_ok[i] && ph->id[i] == id)
                return (int)i;
        if (ph->submit_done)
            return -1;
        pthread_cond_wait(&ph->cv, &ph->mu);
    }
}

static void thr_record(struct thr_ctx *c, struct ipc_pool_result *res)
{
    struct thr_phase *ph = c->ph;
    pthread_mutex_lock(&ph->mu);
    ph->last_delivery = stress_now();
    ph->delivered++;
    c->results++;
    int k = thr_index_of(ph, res->id);
    if (k < 0) {
        thr_fail(ph, "result-once", "%s thread %u collected unknown task id %" PRIu64,
                 thr_role_name[c->role], c->index, res->id);
    } else if (ph->seen[k]++) {
        thr_fail(ph, "result-once",
                 "task %" PRIu64 " collected twice: by thread %d and by %s thread %u", res->id,
                 ph->seen_by[k], thr_role_name[c->role], c->index);
    } else {
        ph->seen_by[k] = (int)c->index;
        if (res->status == IPC_ECHILDLOST)
            ph->lost++;
        else if (res->status < 0 && (ph->faults || ph->aborted))
            thr_error(ph, res->status, "task result status (threads)");
        else if (res->status != 0 || !result_ok(ph->in[k], ph->len[k], res))
            thr_fail(ph, "result-exact",
                     "task %" PRIu64 " collected by %s thread %u: status %s, %zu bytes", res->id,
                     thr_role_name[c->role], c->index, ipc_errname(res->status), res->len);
    }
    pthread_cond_broadcast(&ph->cv);
    pthread_mutex_unlock(&ph->mu);
    ipc_pool_result_free(res);
}

static void thr_enter(struct thr_ctx *c, const char *call)
{
    pthread_mutex_lock(&c->ph->mu);
    c->in_call = call;
    pthread_mutex_unlock(&c->ph->mu);
}

static void thr_submit(struct thr_ctx *c)
{
    struct thr_phase *ph = c->ph;
    for (unsigned i = 0; i < ph->nsub; i++) {
        uint64_t id = 0;
        thr_enter(c, "ipc_pool_submit");
        int r = ipc_pool_submit(ph->pool, ph->in[i], ph->len[i], &id);
        pthread_mutex_lock(&ph->mu);
        c->in_call = NULL;
        if (r < 0)
            thr_error(ph, r, "ipc_pool_submit (threads)");
        ph->id[i] = id;
        ph->submit_ok[i] = r == 0;
        ph->submitted = i + 1;
        pthread_cond_broadcast(&ph->cv);
        pthread_mutex_unlock(&ph->mu);
    }
}

/* Collects until the pool has nothing outstanding after the last submission.
 * Patient: waits forever in each call. Impatient: visits the pool with short
 * timeouts and, after a visit's last timeout (often a poll of its own that
 * found nothing), leaves it until another thread received something (or a
 * thread ended): whoever was asleep in the pool when it released the poller
 * role must have been woken, or nobody polls any more. */
static void thr_collect(struct thr_ctx *c)
{
    struct thr_phase *ph = c->ph;
    bool patient = c->role == THR_PATIENT;
    unsigned timeouts = 0, visit_timeouts = (unsigned)stress_rng_range(&c->rng, 1, 3);
    for (;;) {
        pthread_mutex_lock(&ph->mu);
        unsigned before = ph->submitted;
        bool stop = ph->aborted && ph->submit_done;
        pthread_mutex_unlock(&ph->mu);
        int timeout_ms = patient ? -1 : (int)stress_rng_below(&c->rng, 4);
        struct ipc_pool_result res;
        thr_enter(c, patient ? "ipc_pool_collect(-1)" : "ipc_pool_collect(short)");
        int r = ipc_pool_collect(ph->pool, timeout_ms, &res);
        thr_enter(c, NULL);
        if (r == 0) {
            thr_record(c, &res);
            continue;
        }
        if (r == -ETIMEDOUT && !patient) {
            if (++timeouts < visit_timeouts)
                continue;
            timeouts = 0;
            visit_timeouts = (unsigned)stress_rng_range(&c->rng, 1, 3);
            pthread_mutex_lock(&ph->mu);
            uint64_t delivered = ph->delivered;
            unsigned running = ph->running;
            while (!ph->aborted && ph->delivered == delivered && ph->running == running)
                pthread_cond_wait(&ph->cv, &ph->mu);
            pthread_mutex_unlock(&ph->mu);
            continue;
        }
        if (r == -ENOENT) {
            /* Nothing outstanding: done once every submission was made before
             * this call, otherwise wait for the submitter. */
            pthread_mutex_lock(&ph->mu);
            while (!ph->submit_done && ph->submitted == before)
                pthread_cond_wait(&ph->cv, &ph->mu);
            stop = ph->submit_done && ph->submitted == before;
            pthread_mutex_unlock(&ph->mu);
            if (stop)
                break;
            continue;
        }
        pthread_mutex_lock(&ph->mu);
        thr_error(ph, r, patient ? "ipc_pool_collect(-1) (threads)" : "ipc_pool_collect (threads)");
        pthread_mutex_unlock(&ph->mu);
        if (stop)
            break;
    }
}

/* A thread that only asks the pool for its bookkeeping (ipc_pool_pids,
 * ipc_pool_replacements) while the other threads replace the workers the main
 * thread kills. It takes no lock of its own, so a table the pool reads without
 * its lock is a race ThreadSanitizer reports (nothing else orders the two). */
struct bookkeeper {
    ipc_pool *pool;
    unsigned workers;
    atomic_bool stop;
    pthread_t thread;
    char fail[200]; /* read after the join */
};

static void *bookkeeper_main(void *arg)
{
    struct bookkeeper *b = arg;
    uint64_t last = 0;
    while (!atomic_load_explicit(&b->stop, memory_order_relaxed) && !b->fail[0]) {
        pid_t pids[64];
        int n = ipc_pool_pids(b->pool, pids, 64);
        uint64_t repl = ipc_pool_replacements(b->pool);
        bool ok = n >= 0 && (unsigned)n <= b->workers;
        for (int k = 0; ok && k < n; k++)
            ok = pids[k] > 1;
        if (!ok)
            snprintf(b->fail, sizeof(b->fail),
                     "ipc_pool_pids = %d (a pool of %u workers) or a pid <= 1", n, b->workers);
        else if (repl < last)
            snprintf(b->fail, sizeof(b->fail),
                     "ipc_pool_replacements went back from %" PRIu64 " to %" PRIu64, last, repl);
        last = repl;
        sched_yield();
    }
    return NULL;
}

static void thr_map(struct thr_ctx *c)
{
    struct thr_phase *ph = c->ph;
    struct ipc_pool_buf in[THR_MAX_TASKS];
    struct ipc_pool_result res[THR_MAX_TASKS];
    for (unsigned i = 0; i < ph->nmap; i++)
        in[i] = (struct ipc_pool_buf){ph->in[ph->nsub + i], ph->len[ph->nsub + i]};
    thr_enter(c, "ipc_pool_map");
    int r = ipc_pool_map(ph->pool, in, ph->nmap, res);
    pthread_mutex_lock(&ph->mu);
    c->in_call = NULL;
    ph->last_delivery = stress_now();
    ph->delivered += ph->nmap;
    ph->map_done = true;
    pthread_cond_broadcast(&ph->cv);
    if (r < 0) {
        thr_error(ph, r, "ipc_pool_map (threads)");
    } else {
        for (unsigned i = 0; i < ph->nmap; i++) {
            unsigned k = ph->nsub + i;
            if (res[i].status == IPC_ECHILDLOST)
                ph->lost++;
            else if (res[i].status < 0 && (ph->faults || ph->aborted))
                thr_error(ph, res[i].status, "map result status (threads)");
            else if (res[i].status != 0 || !result_ok(ph->in[k], ph->len[k], &res[i]))
                thr_fail(ph, "map-order",
                         "map (with other threads) result %u: status %s, %zu bytes", i,
                         ipc_errname(res[i].status), res[i].len);
            ipc_pool_result_free(&res[i]);
        }
        c->results += ph->nmap;
    }
    pthread_mutex_unlock(&ph->mu);
}

static void *thr_main(void *arg)
{
    struct thr_ctx *c = arg;
    switch (c->role) {
    case THR_SUBMIT:
        thr_submit(c);
        pthread_mutex_lock(&c->ph->mu);
        c->ph->submit_done = true;
        pthread_mutex_unlock(&c->ph->mu);
        break;
    case THR_PATIENT:
    case THR_IMPATIENT:
        thr_collect(c);
        break;
    case THR_MAP:
        thr_map(c);
        break;
    }
    pthread_mutex_lock(&c->ph->mu);
    c->done = true;
    c->ph->running--;
    pthread_cond_broadcast(&c->ph->cv);
    pthread_mutex_unlock(&c->ph->mu);
    return NULL;
}

/* Reads the computed reports into the phase (main thread). */
static void thr_drain_computed(struct thr_phase *ph)
{
    uint64_t tags[512];
    ssize_t got;
    unsigned n = ph->nsub + ph->nmap;
    while ((got = read(g_computed_rd, tags, sizeof(tags))) > 0) {
        double now = stress_now();
        for (size_t i = 0; i < (size_t)got / 8; i++) {
            uint64_t k = tags[i] - ph->first_tag;
            if (tags[i] >= ph->first_tag && k < n)
                ph->computed[k] = now;
        }
    }
}

/* A computed result no thread received in time, described in msg; false if none.
 * Mutex held. A map counts once all its inputs are computed. */
static bool thr_overdue(struct thr_phase *ph, double now, double due, char *msg, size_t cap)
{
    if (now - ph->last_delivery <= due || now - g_last_kill <= due)
        return false;
    for (unsigned i = 0; i < ph->submitted; i++) {
        if (!ph->submit_ok[i] || ph->seen[i] || ph->computed[i] == 0 ||
            now - ph->computed[i] <= due)
            continue;
        snprintf(msg, cap, "task %" PRIu64 " was computed by a worker %.2f s ago", ph->id[i],
                 now - ph->computed[i]);
        return true;
    }
    if (ph->nmap && !ph->map_done) {
        double last = 0;
        bool all = true;
        for (unsigned i = ph->nsub; i < ph->nsub + ph->nmap; i++) {
            all = all && ph->computed[i] != 0;
            last = ph->computed[i] > last ? ph->computed[i] : last;
        }
        if (all && now - last > due) {
            snprintf(msg, cap, "every input of a map of %u was computed %.2f s ago", ph->nmap,
                     now - last);
            return true;
        }
    }
    return false;
}

/* Where every unfinished thread is, for the report. Mutex held. */
static void thr_where(const struct thr_phase *ph, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < ph->nthreads && off < cap; i++) {
        const struct thr_ctx *c = &ph->ctx[i];
        if (!c->started || c->done)
            continue;
        int w = snprintf(buf + off, cap - off, "%s%s thread %u in %s (%u results)", off ? "; " : "",
                         thr_role_name[c->role], c->index, c->in_call ? c->in_call : "driver code",
                         c->results);
        off = w < 0 ? cap : off + (size_t)w;
    }
}

static void *thr_terminate(void *arg)
{
    struct thr_phase *ph = arg;
    int r = ipc_pool_terminate(ph->pool);
    pthread_mutex_lock(&ph->mu);
    ph->terminate_rc = r;
    ph->terminated = true;
    pthread_cond_broadcast(&ph->cv);
    pthread_mutex_unlock(&ph->mu);
    return NULL;
}

/* Waits until no thread runs (the terminator included, once the phase is
 * aborted) or `seconds` passed; true when none runs. */
static bool thr_wait_all(struct thr_phase *ph, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)seconds;
    pthread_mutex_lock(&ph->mu);
    while (ph->running > 0 || (ph->aborted && !ph->terminated))
        if (pthread_cond_timedwait(&ph->cv, &ph->mu, &ts) == ETIMEDOUT)
            break;
    bool none = ph->running == 0 && (!ph->aborted || ph->terminated);
    pthread_mutex_unlock(&ph->mu);
    return none;
}

static bool thr_all_returned(void *arg)
{
    const struct thr_phase *ph = arg;
    return ph->running == 0 && (!ph->aborted || ph->terminated);
}

/* The main thread's part: watch the threads until they are done, or declare a
 * lost wakeup, terminate the pool and unblock them. Returns false when a thread
 * could not be unblocked (the phase must then be left allocated). */
static bool thr_watch(struct stress *s, struct thr_phase *ph, struct stress_rng *rng)
{
    double due = (ph->faults ? RESULT_DUE_FAULTS_S : THREAD_DUE_S) * STRESS_TIME_SCALE;
    struct pollfd pf = {.fd = g_computed_rd, .events = POLLIN};
    bool killed = false;
    char what[160], where[600];
    for (;;) {
        pthread_mutex_lock(&ph->mu);
        unsigned running = ph->running;
        bool any_submitted = ph->submitted > 0;
        pthread_mutex_unlock(&ph->mu);
        if (running == 0)
            return true;
        if (!killed && any_submitted) {
            maybe_kill(s, ph->pool, rng); /* a death lands while threads share the pool */
            killed = true;
        }
        stress_ignore(poll(&pf, 1, COLLECT_SLICE_MS));
        thr_drain_computed(ph);
        pthread_mutex_lock(&ph->mu);
        bool late = thr_overdue(ph, stress_now(), due, what, sizeof(what));
        if (late)
            thr_where(ph, where, sizeof(where));
        pthread_mutex_unlock(&ph->mu);
        if (late)
            break;
    }
    g_thread_stuck++;
    stress_violation(s, "no-lost-wakeup",
                     "%s, but no thread received anything for %.1f s: %s; terminating the pool",
                     what, due, where);
    pthread_mutex_lock(&ph->mu);
    ph->aborted = true;
    pthread_cond_broadcast(&ph->cv); /* impatient collectors waiting for the others */
    pthread_mutex_unlock(&ph->mu);
    /* ipc_pool_terminate must interrupt every blocked call, but the lost
     * wakeup may block terminate itself (it waits for the poller role): it runs
     * in a thread of its own, so that the watchdog stays bounded. */
    pthread_t terminator;
    int e = pthread_create(&terminator, NULL, thr_terminate, ph);
    if (e != 0) {
        stress_setup_error(s, "pthread_create: %s", strerror(e));
        return false;
    }
    if (thr_wait_all(ph, THREAD_UNBLOCK_S)) {
        pthread_join(terminator, NULL);
        stress_check(s, ph->terminate_rc == 0, "terminate-all", "ipc_pool_terminate (threads): %s",
                     ipc_strerror(ph->terminate_rc));
        return true;
    }
    pthread_mutex_lock(&ph->mu);
    thr_where(ph, where, sizeof(where));
    bool terminated = ph->terminated;
    pthread_mutex_unlock(&ph->mu);
    stress_violation(s, "no-lost-wakeup",
                     "still blocked %.0f s after ipc_pool_terminate%s: %s; the driver stops (the "
                     "pool's workers are killed, its threads left blocked until exit)",
                     THREAD_UNBLOCK_S, terminated ? "" : " (itself blocked)", where);
    return false;
}

/* The main thread's checks once every thread has been joined. */
static void thr_check(struct stress *s, struct thr_phase *ph)
{
    for (unsigned i = 0; i < ph->nfail; i++)
        stress_violation(s, ph->fail_inv[i], "%s", ph->fail_msg[i]);
    if (ph->aborted)
        return; /* terminated: the counts no longer mean anything */
    for (unsigned i = 0; i < ph->nerr; i++)
        stress_lib_error(s, ph->err[i], ph->err_what[i]);
    unsigned bad = 0, first = 0, results = 0;
    for (unsigned i = 0; i < ph->nsub; i++) {
        if (!ph->submit_ok[i])
            continue;
        results += ph->seen[i] == 1;
        if (ph->seen[i] != 1 && bad++ == 0)
            first = i;
    }
    stress_check(s, bad == 0, "result-once",
                 "%u of %u tasks submitted while other threads collected were not collected "
                 "exactly once (task %" PRIu64 ": %u times)",
                 bad, ph->nsub, bad ? ph->id[first] : 0, bad ? ph->seen[first] : 0);
    struct ipc_pool_result extra;
    int r = ipc_pool_collect(ph->pool, 0, &extra);
    if (!stress_check(s, r == -ENOENT, "result-once",
                      "collect after the threads collected everything returned %s (id %" PRIu64 ")",
                      ipc_strerror(r), r == 0 ? extra.id : 0))
        if (r == 0)
            ipc_pool_result_free(&extra);
    g_lost += ph->lost;
    stress_add_ops(s, results + (ph->map_done ? ph->nmap : 0));
}

static void thr_phase_free(struct thr_phase *ph)
{
    for (unsigned i = 0; i < THR_MAX_TASKS; i++)
        free(ph->in[i]);
    pthread_cond_destroy(&ph->cv);
    pthread_mutex_destroy(&ph->mu);
    free(ph);
}

static void phase_threads(struct stress *s, struct stress_rng *rng, uint64_t *tag)
{
    struct thr_phase *ph = calloc(1, sizeof(*ph));
    if (!ph) {
        stress_setup_error(s, "out of memory");
        return;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ph->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&ph->mu, NULL);
    ph->faults = stress_faults_on(s);
    /* Roles: a submitter, a patient and an impatient collector, and a fourth
     * thread in most phases: a mapper, a second patient or a second impatient
     * collector (two impatient ones hand the role back and forth while the
     * patient one sleeps: the lost-wakeup window). */
    enum thr_role roles[THR_MAX_THREADS] = {THR_SUBMIT, THR_PATIENT, THR_IMPATIENT, THR_MAP};
    unsigned fourth = (unsigned)stress_rng_below(rng, 4);
    ph->nthreads = fourth == 0 ? 3 : 4;
    if (fourth == 2)
        roles[3] = THR_PATIENT;
    else if (fourth == 3)
        roles[3] = THR_IMPATIENT;
    uint64_t max_sub = opt_batch < 192 ? opt_batch : 192;
    ph->nsub = (unsigned)stress_rng_range(rng, 1, max_sub);
    ph->nmap = fourth == 1 ? (unsigned)stress_rng_range(rng, 1, 64) : 0;
    ph->first_tag = *tag + 1;
    for (unsigned i = 0; i < ph->nsub + ph->nmap; i++) {
        ph->len[i] = (size_t)stress_rng_range(rng, 12, 512);
        ph->in[i] = malloc(ph->len[i]);
        if (!ph->in[i]) {
            stress_setup_error(s, "out of memory");
            thr_phase_free(ph);
            return;
        }
        make_input(ph->in[i], ph->len[i], ++*tag, rng, THREAD_MAX_SPIN);
    }
    struct ipc_pool_options o;
    memset(&o, 0, sizeof(o));
    o.workers = s->procs;
    o.max_in = 512;
    o.max_out = 512 + 4;
    ph->workers = o.workers;
    int r = ipc_pool_new(&ph->pool, task_fn, NULL, &o); /* before any thread: fork rule */
    if (r < 0) {
        stress_lib_error(s, r, "ipc_pool_new(threads phase)");
        thr_phase_free(ph);
        return;
    }
    drain_computed(NULL, 0); /* reports of earlier phases */
    ph->last_delivery = stress_now();
    ph->running = ph->nthreads;
    for (unsigned i = 0; i < ph->nthreads; i++) {
        struct thr_ctx *c = &ph->ctx[i];
        c->ph = ph;
        c->role = roles[i];
        c->index = i;
        stress_rng_init(&c->rng, stress_rng_next(rng), i);
        int e = pthread_create(&c->thread, NULL, thr_main, c);
        pthread_mutex_lock(&ph->mu);
        c->started = e == 0;
        if (e != 0) {
            ph->running -= ph->nthreads - i;
            ph->nthreads = i;
            ph->aborted = true;
            ph->submit_done = true; /* wakes threads waiting for submissions */
            pthread_cond_broadcast(&ph->cv);
        }
        pthread_mutex_unlock(&ph->mu);
        if (e != 0) {
            stress_setup_error(s, "pthread_create: %s", strerror(e));
            stress_ignore(ipc_pool_terminate(ph->pool)); /* ends the threads' calls */
            break;
        }
    }
    struct bookkeeper bk = {.pool = ph->pool, .workers = ph->workers};
    atomic_init(&bk.stop, false);
    bool bk_started = pthread_create(&bk.thread, NULL, bookkeeper_main, &bk) == 0;
    bool returned = thr_watch(s, ph, rng);
    atomic_store_explicit(&bk.stop, true, memory_order_relaxed);
    if (bk_started)
        pthread_join(bk.thread, NULL);
    stress_check(s, !bk.fail[0], "pool-bookkeeping", "%s", bk.fail);
    if (!returned) {
        g_wedged = true;
        g_wedge.mu = &ph->mu;
        g_wedge.cv = &ph->cv;
        g_wedge.done = thr_all_returned;
        g_wedge.arg = ph;
        return; /* ph and its pool stay allocated: a thread is still inside */
    }
    for (unsigned i = 0; i < ph->nthreads; i++)
        pthread_join(ph->ctx[i].thread, NULL);
    g_thread_phases++;
    thr_check(s, ph);
    r = ipc_pool_close(ph->pool, 10000);
    stress_check(s, r == 0, "result-once", "ipc_pool_close (threads phase): %s", ipc_strerror(r));
    ipc_pool_free(ph->pool);
    thr_phase_free(ph);
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

/* A collect(-1) blocked in one thread (it polls workers whose tasks never end)
 * while ipc_pool_terminate runs in another: terminate must wake it (the
 * header's "interrupts a collect blocked in another thread"). Both calls run in
 * threads of their own so that the driver stays bounded if either hangs. */
struct blocked_collect {
    ipc_pool *pool;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entering, collected, terminated, no_thread;
    int collect_rc, terminate_rc;
    struct ipc_pool_result res;
};

static void *blocked_collect_main(void *arg)
{
    struct blocked_collect *b = arg;
    pthread_mutex_lock(&b->mu);
    b->entering = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    struct ipc_pool_result res;
    memset(&res, 0, sizeof(res));
    int r = ipc_pool_collect(b->pool, -1, &res);
    pthread_mutex_lock(&b->mu);
    b->collect_rc = r;
    b->res = res;
    b->collected = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static void *blocked_terminate_main(void *arg)
{
    struct blocked_collect *b = arg;
    int r = ipc_pool_terminate(b->pool);
    pthread_mutex_lock(&b->mu);
    b->terminate_rc = r;
    b->terminated = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static bool blocked_returned(void *arg)
{
    const struct blocked_collect *b = arg;
    return b->collected && b->terminated;
}

/* Runs the pair; false (and b left allocated) when they are still blocked
 * after THREAD_UNBLOCK_S. */
static bool terminate_blocked_collect(struct stress *s, struct blocked_collect *b)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&b->mu, NULL);
    pthread_t collector, terminator;
    int e = pthread_create(&collector, NULL, blocked_collect_main, b);
    if (e != 0) {
        b->collected = b->no_thread = true; /* the caller collects everything */
        b->terminate_rc = ipc_pool_terminate(b->pool);
        return true;
    }
    pthread_mutex_lock(&b->mu);
    while (!b->entering)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    e = pthread_create(&terminator, NULL, blocked_terminate_main, b);
    if (e != 0)
        blocked_terminate_main(b); /* from here, then */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)THREAD_UNBLOCK_S;
    pthread_mutex_lock(&b->mu);
    while (!(b->collected && b->terminated))
        if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) == ETIMEDOUT)
            break;
    bool done = b->collected && b->terminated;
    bool terminated = b->terminated;
    pthread_mutex_unlock(&b->mu);
    if (!done) {
        stress_violation(s, "terminate-all",
                         "%.0f s after ipc_pool_terminate began, %s; the driver stops (the "
                         "pool's workers are killed, its threads left blocked until exit)",
                         THREAD_UNBLOCK_S,
                         terminated ? "a collect(-1) in another thread is still blocked"
                                    : "terminate itself has not returned (a collect(-1) in "
                                      "another thread held the poller role)");
        return false;
    }
    pthread_join(collector, NULL);
    if (e == 0)
        pthread_join(terminator, NULL);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    return true;
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
    unsigned seen[16] = {0}, got = 0;
    struct blocked_collect *b = NULL;
    if (submitted > 0 && stress_rng_below(rng, 2) == 0)
        b = calloc(1, sizeof(*b));
    if (b) {
        b->pool = tp;
        if (!terminate_blocked_collect(s, b)) {
            g_wedged = true;
            g_wedge.mu = &b->mu;
            g_wedge.cv = &b->cv;
            g_wedge.done = blocked_returned;
            g_wedge.arg = b;
            return; /* tp and b stay allocated: a thread is still inside */
        }
        r = b->terminate_rc;
        if (b->collect_rc == 0) {
            unsigned k = submitted;
            for (unsigned i = 0; i < submitted; i++)
                if (ids[i] == b->res.id)
                    k = i;
            if (stress_check(s, k < submitted, "terminate-all",
                             "a collect interrupted by terminate returned unknown task %" PRIu64,
                             b->res.id)) {
                seen[k]++;
                got++;
                stress_check(s, b->res.status == -ECANCELED && b->res.len == 0, "terminate-all",
                             "task %" PRIu64 " of a terminated pool: status %s, %zu bytes",
                             b->res.id, ipc_errname(b->res.status), b->res.len);
            }
            ipc_pool_result_free(&b->res);
        } else if (!b->no_thread) {
            stress_check(s, false, "terminate-all",
                         "a collect(-1) interrupted by terminate returned %s",
                         ipc_strerror(b->collect_rc));
        }
        free(b);
    } else {
        r = ipc_pool_terminate(tp);
    }
    stress_check(s, r == 0, "terminate-all", "ipc_pool_terminate: %s", ipc_strerror(r));
    uint64_t dummy;
    r = ipc_pool_submit(tp, "x", 1, &dummy);
    stress_check(s, r == -EPIPE, "terminate-all", "submit after terminate gave %s, want EPIPE",
                 ipc_errname(r));
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

/* After a phase whose threads could not be unblocked: its pool cannot be freed
 * (a thread is inside it), so its workers are killed and reaped here, behind its
 * back - the pool is abandoned, and the process exits with the threads
 * blocked. The stress-ng load is left to stress_end. */
static void kill_wedged_worker(pid_t pid, char state, void *arg)
{
    (void)state;
    if (stress_is_load_pid(arg, pid))
        return;
    stress_ignore(kill(pid, SIGKILL));
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Whether the blocked phase's threads have all returned. */
static bool wedge_done(void)
{
    pthread_mutex_lock(g_wedge.mu);
    bool done = g_wedge.done(g_wedge.arg);
    pthread_mutex_unlock(g_wedge.mu);
    return done;
}

/* The blocked phase's workers, at the end (nothing else is a child then): a
 * thread still polling the pool replaces a killed worker, and a task that lost
 * two comes back as IPC_ECHILDLOST, which may end the blocked calls: kill in
 * passes until the threads returned or no child is left for a while. */
static void kill_wedged_workers(struct stress *s)
{
    for (int pass = 0; pass < 20 && !wedge_done(); pass++) {
        hygiene_for_each_child(getpid(), kill_wedged_worker, s);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(g_wedge.mu);
        while (!g_wedge.done(g_wedge.arg))
            if (pthread_cond_timedwait(g_wedge.cv, g_wedge.mu, &ts) == ETIMEDOUT)
                break;
        pthread_mutex_unlock(g_wedge.mu);
    }
    hygiene_for_each_child(getpid(), kill_wedged_worker, s);
}

/* A task that kills its own worker every time it runs, counting its runs in
 * shared memory (arg, mapped before the workers were forked). */
static int poison_fn(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len,
                     void *arg)
{
    (void)in, (void)in_len, (void)out, (void)out_cap, (void)out_len;
    atomic_fetch_add((_Atomic uint64_t *)arg, 1);
    raise(SIGKILL);
    return 0;
}

/* pool.h: a task whose worker dies is retried once on a new worker, and a second
 * death reports IPC_ECHILDLOST - so a task that always kills its worker runs
 * exactly twice. */
static void phase_poison(struct stress *s)
{
    ipc_shm *region = NULL;
    ipc_pool *pp = NULL;
    struct ipc_pool_options o;
    memset(&o, 0, sizeof(o));
    o.workers = 1;
    stress_faults_pause(s);
    int r = ipc_shm_new_anon(&region, sizeof(_Atomic uint64_t));
    _Atomic uint64_t *runs = r == 0 ? ipc_shm_base(region) : NULL;
    if (r == 0)
        r = ipc_pool_new(&pp, poison_fn, (void *)runs, &o);
    uint64_t id = 0;
    uint8_t in[16] = {0};
    if (r == 0)
        r = ipc_pool_submit(pp, in, sizeof(in), &id);
    struct ipc_pool_result res;
    memset(&res, 0, sizeof(res));
    if (r == 0)
        r = ipc_pool_collect(pp, 10000 * STRESS_TIME_SCALE, &res);
    if (r == 0 || r == -ETIMEDOUT)
        stress_check(
            s, r == 0 && res.id == id && res.status == IPC_ECHILDLOST && atomic_load(runs) == 2,
            "lost-exact",
            "a task that kills its worker: collect %s, status %s after %" PRIu64
            " runs (want IPC_ECHILDLOST after exactly 2)",
            ipc_errname(r), r == 0 ? ipc_errname(res.status) : "-",
            runs ? (uint64_t)atomic_load(runs) : 0);
    else
        stress_setup_error(s, "poison phase: %s", ipc_strerror(r));
    ipc_pool_result_free(&res);
    ipc_pool_free(pp);
    ipc_shm_free(region);
    stress_faults_resume(s);
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
    for (unsigned round = 0; !g_wedged && stress_running(&s); round++) {
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
            make_input(rd->in[i], rd->len[i], ++tag, &rng, ROUND_MAX_SPIN);
            rd->seen[i] = 0;
        }
        if (round % 3 == 2)
            round_map(&s, pool, rd, n, &rng);
        else
            round_submit(&s, pool, rd, n, &rng);
        if (round % 3 == 1)
            phase_threads(&s, &rng, &tag);
        if (round % 8 == 0)
            phase_poison(&s);
        if (round % 4 == 3 && !g_wedged) {
            phase_terminate(&s, &rng);
            if (!g_wedged)
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
             "workers killed %" PRIu64 ", replaced %" PRIu64 ", tasks lost twice %" PRIu64
             ", threaded phases %" PRIu64 " (stuck %" PRIu64 ")",
             g_kills, ipc_pool_replacements(pool), g_lost, g_thread_phases, g_thread_stuck);
    ipc_pool_free(pool);
    free(rd);
    if (g_wedged)
        kill_wedged_workers(&s);
    close_pipes(computed, block, report);
    return stress_end(&s);
}
