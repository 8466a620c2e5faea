/* drv_counter.c - `ipcstorm stress counter`: N processes x M increments of a
 * shared counter, for each lock kind in turn (mutex, sem, atomic, none).
 *
 * With the mutex kind, extra "victim" processes take the lock at random moments
 * and are SIGKILLed at random moments, often while holding it: the robust mutex
 * must hand the next locker IPC_EOWNERDEAD and stay usable. Victims never add, so
 * the final value is still known exactly: procs x M. (The sem kind has no
 * owner-death recovery by design, see ipc/shm.h, so it gets no victims; killing an
 * atomic adder mid-add makes the count unknowable, so atomic gets none either.)
 * With the "none" kind updates are lost by design: the driver reports how many. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
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
#include "ipc/proc.h"
#include "ipc/shm.h"

const char ipcstorm_stress_counter_summary[] =
    "N procs x M increments per lock kind; lock holders SIGKILLed; final count exact";

#define MAX_PROCS   64
#define MAX_VICTIMS 4
#define MAX_KINDS   8

static uint64_t opt_incs = 20000;
static uint64_t opt_victims = 2;
static const char *opt_kinds = "mutex,sem,atomic,none";

static const char *check_kinds(const char *value, const void *ctx);
static const struct stress_xopt xopts[] = {
    {"incs", STRESS_XOPT_U64, &opt_incs, 1, 100000000,
     "increments per process per round (default 20000)", NULL},
    {"victims", STRESS_XOPT_U64, &opt_victims, 0, MAX_VICTIMS,
     "lock holders SIGKILLed per mutex round (default 2)", NULL},
    {"kinds", STRESS_XOPT_STR, &opt_kinds, 0, 0,
     "comma-separated lock kinds to rotate (default mutex,sem,atomic,none)", check_kinds},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct stress_fault faults[] = {
    {"skip-lock", "every 3rd add of the mutex/sem kinds skips the lock (libipc fault)"},
    {NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "counter",
    .summary = "N processes x M increments of a shared counter for each lock kind; lock holders\n"
               "SIGKILLed at random moments (mutex kind).",
    .invariants = "  counter-exact        final == committed increments (mutex, sem, atomic)\n"
                  "  add-monotonic        each process sees strictly increasing add results\n"
                  "  add-ok               ipc_counter_add succeeds (EOWNERDEAD counts as done)\n"
                  "  owner-death-recovered a killed holder's lock is recovered, not wedged\n"
                  "  (none: lost updates are reported, not a violation)",
    .default_procs = 4,
    .max_procs = MAX_PROCS,
    .xopts = xopts,
    .faults = faults,
};

/* Per-worker results in shared memory: written by the worker, read after reaping. */
struct slot {
    int64_t committed;
    int64_t nonmono;
    int64_t errors;
    int64_t ownerdead;
    int last_err;
};

struct shared {
    ipc_counter counter;
    atomic_int stop; /* set by the parent when --duration runs out mid-round */
    atomic_uint_fast64_t victim_holds;
    struct slot slot[MAX_PROCS];
};

static int64_t g_none_lost, g_none_total;
static uint64_t g_recoveries;

struct worker_arg {
    struct shared *sh;
    unsigned idx;
    uint64_t incs;
};

static int worker_fn(void *p)
{
    struct worker_arg *a = p;
    struct slot *sl = &a->sh->slot[a->idx];
    int64_t prev = INT64_MIN;
    for (uint64_t i = 0; i < a->incs; i++) {
        if ((i & 255) == 0 && atomic_load_explicit(&a->sh->stop, memory_order_relaxed))
            break; /* every add so far is booked in the slot: the count stays exact */
        int64_t v = 0;
        int r = ipc_counter_add(&a->sh->counter, 1, &v);
        if (r == IPC_EOWNERDEAD) {
            sl->ownerdead++;
            r = 0;
        }
        if (r < 0) {
            sl->errors++;
            sl->last_err = r;
            continue;
        }
        sl->committed++;
        if (v <= prev)
            sl->nonmono++;
        prev = v;
    }
    return 0;
}

struct victim_arg {
    struct shared *sh;
    uint64_t seed;
};

/* Takes the lock, holds it for a random short while, lets go, forever: the
 * parent's SIGKILL lands at a random point of that cycle. */
static int victim_fn(void *p)
{
    struct victim_arg *a = p;
    struct stress_rng rng;
    stress_rng_init(&rng, a->seed, (uint64_t)getpid());
    for (;;) {
        int r = ipc_counter_lock(&a->sh->counter);
        if (r < 0 && r != IPC_EOWNERDEAD)
            return 3;
        atomic_fetch_add(&a->sh->victim_holds, 1);
        stress_spin(stress_rng_below(&rng, 20000));
        if (ipc_counter_unlock(&a->sh->counter) < 0)
            return 4;
        if (stress_rng_below(&rng, 4) == 0)
            stress_sleep_us(stress_rng_below(&rng, 200));
    }
}

static bool wait_ok(struct stress *s, ipc_proc *p, const char *who, int timeout_ms)
{
    struct ipc_proc_status st;
    int r = stress_proc_wait(s, p, timeout_ms, &st);
    if (r == -ECHILD)
        r = ipc_proc_status(p, &st); /* reaped by the early wait of run_round */
    if (r == -ETIMEDOUT) {
        stress_violation(s, "owner-death-recovered",
                         "%s %d still running after %d ms (lock wedged?)", who,
                         (int)ipc_proc_pid(p), timeout_ms);
        stress_proc_kill(s, p, SIGKILL);
        r = stress_proc_wait(s, p, IPC_PROC_WAIT_FOREVER, &st);
        return false;
    }
    if (r < 0) {
        stress_setup_error(s, "wait %s: %s", who, ipc_strerror(r));
        return false;
    }
    return st.exited && st.code == 0;
}

static void run_round(struct stress *s, struct shared *sh, enum ipc_lock_kind kind,
                      struct stress_rng *rng)
{
    const char *kname = ipc_lock_kind_name(kind);
    int r = ipc_counter_init(&sh->counter, kind);
    if (r < 0) {
        stress_lib_error(s, r, "ipc_counter_init");
        return;
    }
#ifdef IPC_TEST_FAULTS
    if (stress_fault(s, "skip-lock") && (kind == IPC_LOCK_MUTEX || kind == IPC_LOCK_SEM)) {
        r = ipc_counter_fault_skip_lock(&sh->counter, 3);
        if (r < 0)
            stress_setup_error(s, "fault skip-lock: %s", ipc_strerror(r));
    }
#endif
    memset(sh->slot, 0, sizeof(sh->slot));
    atomic_store(&sh->victim_holds, 0);
    atomic_store(&sh->stop, 0);
    uint64_t incs = stress_rng_range(rng, opt_incs / 2 + 1, opt_incs);
    struct worker_arg wa[MAX_PROCS];
    ipc_proc *w[MAX_PROCS] = {0};
    ipc_proc *v[MAX_VICTIMS] = {0};
    struct victim_arg va = {.sh = sh, .seed = stress_rng_next(rng)};
    unsigned nv = kind == IPC_LOCK_MUTEX ? (unsigned)opt_victims : 0;
    for (unsigned i = 0; i < nv; i++)
        if ((r = ipc_proc_fork(&v[i], victim_fn, &va, NULL)) < 0)
            stress_lib_error(s, r, "ipc_proc_fork(victim)");
    unsigned nw = 0;
    for (; nw < s->procs; nw++) {
        wa[nw] = (struct worker_arg){.sh = sh, .idx = nw, .incs = incs};
        if ((r = ipc_proc_fork(&w[nw], worker_fn, &wa[nw], NULL)) < 0) {
            stress_lib_error(s, r, "ipc_proc_fork(worker)");
            break;
        }
    }
    /* Kill each victim at a random moment while the workers run; kill/replace
     * cycles so several deaths can land inside the lock. */
    for (unsigned i = 0; i < nv; i++) {
        if (!v[i])
            continue;
        for (int k = 0; k < 3; k++) {
            stress_sleep_us(stress_rng_range(rng, 200, 5000));
            stress_proc_kill(s, v[i], SIGKILL);
            struct ipc_proc_status st;
            memset(&st, 0, sizeof(st));
            stress_ignore(stress_proc_wait(s, v[i], IPC_PROC_WAIT_FOREVER, &st));
            stress_check(s, st.signaled && st.signal == SIGKILL, "owner-death-recovered",
                         "victim ended with raw status 0x%x before its SIGKILL", st.raw);
            stress_proc_discard(s, v[i]);
            v[i] = NULL;
            if (k < 2 && ipc_proc_fork(&v[i], victim_fn, &va, NULL) < 0)
                break;
        }
    }
    /* A loaded machine (stress-ng) can make a round slow: past --duration the
     * workers are told to stop early, which keeps the count exact. */
    for (unsigned i = 0; i < nw; i++) {
        struct ipc_proc_status st;
        double left = stress_remaining(s);
        int ms = left > 3600 ? 3600000 : (int)(left * 1000);
        r = stress_proc_wait(s, w[i], ms, &st);
        if (r == -ETIMEDOUT)
            break;
        /* Reaped: keep the status for wait_ok below. */
    }
    atomic_store(&sh->stop, 1);
    int timeout = (int)(30000 + incs / 10);
    int64_t committed = 0, ownerdead = 0;
    for (unsigned i = 0; i < nw; i++) {
        bool ok = wait_ok(s, w[i], "worker", timeout);
        stress_proc_discard(s, w[i]);
        struct slot *sl = &sh->slot[i];
        stress_check(s, ok, "add-ok", "%s worker %u did not exit 0", kname, i);
        stress_check(s, sl->errors == 0, "add-ok",
                     "%s worker %u: %" PRId64 " failed adds (last %s)", kname, i, sl->errors,
                     ipc_strerror(sl->last_err));
        if (kind != IPC_LOCK_NONE)
            stress_check(s, sl->nonmono == 0, "add-monotonic",
                         "%s worker %u saw %" PRId64 " non-increasing results", kname, i,
                         sl->nonmono);
        committed += sl->committed;
        ownerdead += sl->ownerdead;
    }
    int64_t final = 0;
    if ((r = ipc_counter_get(&sh->counter, &final)) < 0)
        stress_setup_error(s, "ipc_counter_get: %s", ipc_strerror(r));
    if (kind == IPC_LOCK_NONE) {
        s->checks++;
        g_none_lost += committed - final;
        g_none_total += committed;
    } else {
        stress_check(s, final == committed && committed <= (int64_t)(incs * nw), "counter-exact",
                     "lock %s: final %" PRId64 " != committed %" PRId64
                     " (%u procs x up to %" PRIu64 ")",
                     kname, final, committed, nw, incs);
    }
    if (kind == IPC_LOCK_MUTEX && nv) {
        /* The lock must still work after every victim died, holder or not. */
        int lr = ipc_counter_lock(&sh->counter);
        stress_check(s, lr == 0 || lr == IPC_EOWNERDEAD, "owner-death-recovered",
                     "lock after the victims died: %s", ipc_strerror(lr));
        if (lr == 0 || lr == IPC_EOWNERDEAD)
            stress_ignore(ipc_counter_unlock(&sh->counter));
    }
    (void)ownerdead;
    if (kind == IPC_LOCK_MUTEX)
        g_recoveries += ipc_counter_recoveries(&sh->counter);
    ipc_counter_destroy(&sh->counter);
    stress_add_ops(s, (uint64_t)committed);
}

static const char *check_kinds(const char *value, const void *ctx)
{
    (void)ctx;
    static const char want[] = "a comma-separated list of at most 8 of mutex, sem, atomic, none";
    char buf[128];
    if (snprintf(buf, sizeof(buf), "%s", value) >= (int)sizeof(buf))
        return want;
    unsigned n = 0;
    for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
        enum ipc_lock_kind k;
        if (ipc_lock_kind_parse(t, &k) < 0 || ++n > MAX_KINDS)
            return want;
    }
    return n ? NULL : want;
}

int ipcstorm_stress_counter(int argc, char **argv)
{
    struct stress s;
    int rc = stress_begin(&s, &spec, argc, argv);
    if (rc != STRESS_RUN)
        return rc;
    /* check_kinds accepted the list: 1..MAX_KINDS known kinds. */
    enum ipc_lock_kind kinds[MAX_KINDS];
    unsigned nk = 0;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", opt_kinds);
    for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv))
        stress_ignore(ipc_lock_kind_parse(t, &kinds[nk++]));
    ipc_shm *region = NULL;
    int r = ipc_shm_new_anon(&region, sizeof(struct shared));
    if (r < 0) {
        stress_setup_error(&s, "ipc_shm_new_anon: %s", ipc_strerror(r));
        return stress_end(&s);
    }
    struct shared *sh = ipc_shm_base(region);
    struct stress_rng rng;
    stress_rng_init(&rng, s.seed, 0);
    for (unsigned round = 0; stress_running(&s); round++)
        run_round(&s, sh, kinds[round % nk], &rng);
    ipc_shm_free(region);
    snprintf(s.note, sizeof(s.note),
             "lock none lost %" PRId64 " of %" PRId64 " updates (no lock, by design); "
             "mutex owner-death recoveries %" PRIu64,
             g_none_lost, g_none_total, g_recoveries);
    return stress_end(&s);
}
