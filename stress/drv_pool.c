/* drv_pool.c - `ipcstorm stress pool`: tasks submitted to (and mapped over) a
 * worker pool while workers are SIGKILLed at random moments. The pool replaces a
 * dead worker and retries its task once, so each task must come back exactly once:
 * with the exact expected bytes, or - only when it was unlucky enough to lose two
 * workers - with IPC_ECHILDLOST. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
        "  result-exact    a successful result has exactly the expected bytes\n"
        "  lost-bounded    IPC_ECHILDLOST only after two worker deaths: lost*2 <= kills\n"
        "  map-order       map fills res[i] with the result of input i",
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
};

static uint64_t g_kills, g_lost;

static void maybe_kill(struct stress *s, ipc_pool *pool, struct stress_rng *rng)
{
    if (stress_rng_below(rng, 1000) >= opt_kill_per_mille)
        return;
    pid_t pids[64];
    int n = ipc_pool_pids(pool, pids, 64);
    if (n <= 0)
        return;
    pid_t victim = pids[stress_rng_below(rng, (uint64_t)n)];
    if (kill(victim, SIGKILL) == 0)
        g_kills++;
    (void)s;
}

static void round_submit(struct stress *s, ipc_pool *pool, struct round *rd, unsigned n,
                         struct stress_rng *rng)
{
    unsigned submitted = 0;
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
    while (got < submitted) {
        maybe_kill(s, pool, rng);
        struct ipc_pool_result res;
        int r = ipc_pool_collect(pool, 10000, &res);
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
            make_input(rd->in[i], rd->len[i], ++tag, &rng);
            rd->seen[i] = 0;
        }
        if (round % 3 == 2)
            round_map(&s, pool, rd, n, &rng);
        else
            round_submit(&s, pool, rd, n, &rng);
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
    return stress_end(&s);
}
