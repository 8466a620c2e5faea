/* drv_counter.c - `ipcstorm stress counter`: N processes x M increments of a
 * shared counter, for each lock kind in turn (mutex, sem, atomic, none).
 *
 * With the mutex kind, extra "victim" processes take the lock at random moments
 * and are SIGKILLed at random moments, often while holding it: the robust mutex
 * must hand the next locker IPC_EOWNERDEAD and stay usable. Victims never add, so
 * the final value is still known exactly: procs x M. (The sem kind has no
 * owner-death recovery by design, see ipc/shm.h, so it gets no victims; killing an
 * atomic adder mid-add makes the count unknowable, so atomic gets none either.)
 * With the "none" kind updates are lost by design: the driver reports how many.
 * Region rounds do the same through named and memfd regions, and counter table
 * rounds through the server's table (ipcsrv/ctab.h), whose lock holders die too. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
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
#include "ipc/proc.h"
#include "ipc/shm.h"
#include "ipcsrv/ctab.h"

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
    {"unguarded-total", "region rounds: workers update the plain total without the mutex"},
    {NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "counter",
    .examples = "  ipcstorm stress counter --kinds mutex --victims 4 --duration 20\n",
    .summary = "N processes x M increments of a shared counter for each lock kind; lock holders\n"
               "SIGKILLed at random moments (mutex kind).",
    .invariants =
        "  counter-exact        final == committed increments (mutex, sem, atomic)\n"
        "  add-monotonic        each process sees strictly increasing add results\n"
        "  add-ok               ipc_counter_add succeeds (EOWNERDEAD counts as done)\n"
        "  owner-death-recovered a killed holder's lock is recovered, not wedged\n"
        "  region-exact         named/memfd regions: kind, size (fstat, /proc fd link,\n"
        "                       /dev/shm) as created; a second open of the name is\n"
        "                       EEXIST; reopened and map_fd mappings have the same size;\n"
        "                       size 0 or above IPC_SHM_MAX_SIZE is -EINVAL, *out NULL\n"
        "  region-shared        a write through one mapping is seen through the other;\n"
        "                       ipc_counter_kind through it is the kind initialised\n"
        "  mutex-guarded-exact  a plain total updated under ipc_shm_mutex_lock by\n"
        "                       workers with their own mappings is exact\n"
        "  region-unlinked      ipc_shm_unlink/creator free remove /dev/shm/<name>;\n"
        "                       opening it again (existing size) is -ENOENT\n"
        "  counter-destroy-exact destroy is a no-op in a forked child; after the\n"
        "                       creator's, the counter reads as uninitialised (-EINVAL)\n"
        "  region-error-clean   a region whose sizing fails (RLIMIT_FSIZE below its\n"
        "                       size) is -EFBIG, one without a descriptor (map_fd,\n"
        "                       memfd, named at RLIMIT_NOFILE) -EMFILE; neither leaves\n"
        "                       a /dev/shm name, a descriptor or *out set; counter_new\n"
        "                       at RLIMIT_AS is -ENOMEM, *out NULL (not sanitized)\n"
        "  ctab-exact           the server's counter table: every key equals the sum\n"
        "                       of the acknowledged INCRBYs of all workers; count,\n"
        "                       capacity, get of a missing key, del as modelled\n"
        "  ctab-recovered       a process SIGKILLed holding ipc_ctab_lock costs exactly\n"
        "                       one recovery (ipc_ctab_recoveries); unlock without\n"
        "                       holding the lock is -EPERM"
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
    int64_t guarded; /* region rounds: plain-total increments made under the mutex */
    int last_err;
};

struct shared {
    ipc_counter counter;
    atomic_int stop; /* set by the parent when --duration runs out mid-round */
    atomic_int go;   /* set by the parent once every worker of the round is forked */
    atomic_uint_fast64_t victim_holds;
    struct slot slot[MAX_PROCS];
};

/* Adds each worker makes in a round even when told to stop early. */
#define MIN_ADDS 1024

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
    /* Start together: on a loaded machine a worker forked first could otherwise
     * finish its whole share before the next one exists, and an exact count of
     * adds that never overlapped proves nothing about the lock. */
    while (!atomic_load(&a->sh->go) && !atomic_load(&a->sh->stop))
        sched_yield();
    for (uint64_t i = 0; i < a->incs; i++) {
        /* Every add so far is booked in the slot, so stopping keeps the count
         * exact; but not before MIN_ADDS: a round that began as --duration ran
         * out would check a count no two workers ever raced on. */
        if (i >= MIN_ADDS && (i & 255) == 0 &&
            atomic_load_explicit(&a->sh->stop, memory_order_relaxed))
            break;
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
        /* For whoever reads the report: a process blocked on the lock sleeps in a
         * futex wait, one the wait lost is a zombie (Z). */
        char path[64], state[64] = "?", wchan[64] = "?";
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)ipc_proc_pid(p));
        FILE *f = fopen(path, "r");
        if (f) {
            stress_ignore(fscanf(f, "%*d (%*[^)]) %63s", state));
            fclose(f);
        }
        snprintf(path, sizeof(path), "/proc/%d/wchan", (int)ipc_proc_pid(p));
        if ((f = fopen(path, "r")) != NULL) {
            if (!fgets(wchan, sizeof(wchan), f))
                snprintf(wchan, sizeof(wchan), "?");
            fclose(f);
        }
        stress_violation(s, "owner-death-recovered",
                         "%s %d still running after %d ms (lock wedged?): state %s, wchan %s", who,
                         (int)ipc_proc_pid(p), timeout_ms, state, wchan);
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

/* Forks n workers, fn(args + i * arg_size) each, and returns how many run. A fork
 * that fails under --faults is tried again (twice): a round left with one worker
 * would race nobody, and its exact count would prove nothing. */
static unsigned fork_workers(struct stress *s, ipc_proc **w, unsigned n, ipc_proc_fn fn, void *args,
                             size_t arg_size, const char *what)
{
    unsigned nw = 0;
    for (; nw < n; nw++) {
        void *arg = (char *)args + nw * arg_size;
        int r;
        for (int attempt = 1;; attempt++) {
            r = ipc_proc_fork(&w[nw], fn, arg, NULL);
            if (r >= 0 || !stress_lib_error(s, r, what) || attempt == 3)
                break;
        }
        if (r < 0)
            break;
    }
    return nw;
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
    atomic_store(&sh->go, 0);
    uint64_t incs = stress_rng_range(rng, opt_incs / 2 + 1, opt_incs);
    struct worker_arg wa[MAX_PROCS];
    ipc_proc *w[MAX_PROCS] = {0};
    ipc_proc *v[MAX_VICTIMS] = {0};
    struct victim_arg va = {.sh = sh, .seed = stress_rng_next(rng)};
    unsigned nv = kind == IPC_LOCK_MUTEX ? (unsigned)opt_victims : 0;
    for (unsigned i = 0; i < nv; i++)
        if ((r = ipc_proc_fork(&v[i], victim_fn, &va, NULL)) < 0)
            stress_lib_error(s, r, "ipc_proc_fork(victim)");
    for (unsigned i = 0; i < s->procs; i++)
        wa[i] = (struct worker_arg){.sh = sh, .idx = i, .incs = incs};
    unsigned nw =
        fork_workers(s, w, s->procs, worker_fn, wa, sizeof(wa[0]), "ipc_proc_fork(worker)");
    atomic_store(&sh->go, 1);
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

/* ---- region rounds ------------------------------------------------------------------- */
/* A named and a memfd region, each mapped twice in the parent (a second open of the
 * name, ipc_shm_map_fd of the fd) and once more in every worker: all of them must
 * see one counter and one plain total guarded by ipc_shm_mutex_lock. Sizes and
 * kinds are checked against fstat and /proc, the name against /dev/shm. */
struct region_shared {
    ipc_counter counter;
    pthread_mutex_t mutex;
    int64_t plain_total; /* plain read-modify-write, only under mutex */
    uint64_t pattern;
    struct slot slot[MAX_PROCS];
};

#define REGION_LIBERR 10

struct region_arg {
    bool named;
    const char *name; /* named */
    int fd;           /* memfd: the parent's region fd, inherited */
    size_t size;
    unsigned idx;
    uint64_t incs;
    bool unguarded;
};

/* A worker maps the region itself and adds through its own mapping. */
static int region_worker(void *p)
{
    struct region_arg *a = p;
    ipc_shm *mine = NULL;
    int r = a->named ? ipc_shm_new_named(&mine, a->name, 0, IPC_SHM_OPEN_EXISTING)
                     : ipc_shm_map_fd(&mine, a->fd, 0);
    if (r < 0)
        return REGION_LIBERR;
    if (ipc_shm_size(mine) != a->size)
        return 5;
    struct region_shared *sh = ipc_shm_base(mine);
    struct slot *sl = &sh->slot[a->idx];
    for (uint64_t i = 0; i < a->incs; i++) {
        int64_t v;
        r = ipc_counter_add(&sh->counter, 1, &v);
        if (r < 0 && r != IPC_EOWNERDEAD) {
            sl->errors++;
            sl->last_err = r;
            continue;
        }
        sl->committed++;
        bool locked = !a->unguarded;
        if (locked && (r = ipc_shm_mutex_lock(&sh->mutex, NULL, NULL)) != 0) {
            sl->errors++;
            sl->last_err = r;
            continue;
        }
        int64_t t = sh->plain_total;
        if ((i & 63) == 0)
            sched_yield(); /* widen the window a missing lock would lose updates in */
        sh->plain_total = t + 1;
        if (locked)
            pthread_mutex_unlock(&sh->mutex);
        sl->guarded++;
    }
    ipc_shm_free(mine); /* not the creator: no unlink */
    return 0;
}

static bool path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static unsigned g_region_rounds;

/* ipc_counter_destroy destroys only in the process that initialised the counter:
 * in a forked child it is a no-op, and afterwards the counter reads as never
 * initialised (shm.h). */
static void check_counter_destroy(struct stress *s, enum ipc_lock_kind kind)
{
    ipc_shm *region = NULL;
    int r = ipc_shm_new_anon(&region, sizeof(ipc_counter));
    if (r == 0)
        r = ipc_counter_init(ipc_shm_base(region), kind);
    if (r < 0) {
        stress_lib_error(s, r, "ipc_shm_new_anon/ipc_counter_init");
        ipc_shm_free(region);
        return;
    }
    ipc_counter *c = ipc_shm_base(region);
    stress_faults_pause(s);
    pid_t pid = fork();
    if (pid == 0) {
        ipc_counter_destroy(c);
        _exit(0);
    }
    bool reaped = pid > 0 && waitpid(pid, NULL, 0) == pid;
    int64_t v = 0, after = 0;
    int kind_child = ipc_counter_kind(c), add = ipc_counter_add(c, 5, &v);
    ipc_counter_destroy(c);
    int kind_after = ipc_counter_kind(c), get_after = ipc_counter_get(c, &after);
    stress_faults_resume(s);
    ipc_shm_free(region);
    if (!reaped) {
        stress_setup_error(s, "fork/waitpid: %s", strerror(errno));
        return;
    }
    stress_check(s,
                 kind_child == (int)kind && add == 0 && v == 5 && kind_after == -EINVAL &&
                     get_after == -EINVAL,
                 "counter-destroy-exact",
                 "%s counter: after a child's destroy kind %d, add %d (value %" PRId64
                 "); after the creator's destroy kind %d, get %d (want %d, 0 (5), -EINVAL, "
                 "-EINVAL)",
                 ipc_lock_kind_name(kind), kind_child, add, v, kind_after, get_after, (int)kind);
}

enum { CLEAN_OK = 0, CLEAN_OTHER_ERROR = 2, CLEAN_NO_ERROR = 4, CLEAN_FD_LEFT = 5 };
/* What *out holds before a constructor that must fail: never dereferenced. */
static char stale_region_byte;
#define STALE_REGION ((ipc_shm *)(void *)&stale_region_byte)

/* In a child whose RLIMIT_FSIZE is below size: ftruncate fails with EFBIG, a
 * real failure in the middle of creating the region (SIGXFSZ ignored). */
static int region_error_child(bool named, const char *name)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {4096, 4096};
    if (setrlimit(RLIMIT_FSIZE, &small) != 0)
        return 3;
    int free_before = stress_lowest_free_fd();
    ipc_shm *r = STALE_REGION; /* a failed constructor must clear it (shm.h) */
    int rc = named ? ipc_shm_new_named(&r, name, 1u << 20, 0)
                   : ipc_shm_new_memfd(&r, "ipcstorm", 1u << 20);
    if (rc == 0)
        return CLEAN_NO_ERROR;
    if (rc != -EFBIG || r)
        return CLEAN_OTHER_ERROR;
    return stress_lowest_free_fd() == free_before ? CLEAN_OK : CLEAN_FD_LEFT;
}

/* In a child at its descriptor limit (RLIMIT_NOFILE = the lowest free fd): every
 * call that needs a descriptor fails with the kernel's EMFILE and leaves nothing. */
static int region_emfile_child(const char *name)
{
    ipc_shm *have = NULL, *r = STALE_REGION;
    if (ipc_shm_new_memfd(&have, "ipcstorm", 4096) != 0)
        return 3;
    int free_before = stress_lowest_free_fd();
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return 3;
    lim.rlim_cur = (rlim_t)free_before;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        return 3;
    int rc_map = ipc_shm_map_fd(&r, ipc_shm_fd(have), 0);
    int rc_memfd = rc_map == -EMFILE && !r ? ipc_shm_new_memfd(&r, "ipcstorm", 4096) : 0;
    int rc_named = rc_memfd == -EMFILE && !r ? ipc_shm_new_named(&r, name, 4096, 0) : 0;
    if (rc_map == 0 || rc_memfd == 0 || rc_named == 0)
        return CLEAN_NO_ERROR;
    return rc_named == -EMFILE && !r ? CLEAN_OK : CLEAN_OTHER_ERROR;
}

/* In a child whose address space is at RLIMIT_AS: ipc_counter_new's mapping
 * fails with the kernel's ENOMEM, and it says so (no counter). Not under a
 * sanitizer, whose own mappings need room. */
static int counter_enomem_child(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%lu", &pages) != 1)
        return 3;
    fclose(f);
    struct rlimit lim;
    if (getrlimit(RLIMIT_AS, &lim) != 0)
        return 3;
    lim.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE); /* no room left */
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        return 3;
    ipc_counter *c = (ipc_counter *)(void *)&stale_region_byte;
    int rc = ipc_counter_new(&c, IPC_LOCK_MUTEX);
    if (rc == 0)
        return CLEAN_NO_ERROR;
    return rc == -ENOMEM && !c ? CLEAN_OK : CLEAN_OTHER_ERROR;
}

static void check_counter_new_enomem(struct stress *s)
{
    if (STRESS_SANITIZED)
        return;
    stress_faults_pause(s);
    pid_t pid = fork();
    if (pid == 0)
        _exit(counter_enomem_child());
    int st = 0;
    bool reaped = pid > 0 && waitpid(pid, &st, 0) == pid;
    stress_faults_resume(s);
    if (!reaped || (WIFEXITED(st) && WEXITSTATUS(st) == 3))
        return; /* no child or no limit: nothing to judge */
    stress_check(s, WIFEXITED(st) && WEXITSTATUS(st) == CLEAN_OK, "region-error-clean",
                 "ipc_counter_new at RLIMIT_AS: child status 0x%x (exit 2: not -ENOMEM, 4: it "
                 "succeeded)",
                 (unsigned)st);
}

/* A region that cannot be sized must leave nothing behind: no name in /dev/shm,
 * no descriptor, and the error is the kernel's. So must one that cannot get a
 * descriptor (map_fd, memfd, named at RLIMIT_NOFILE). */
static void check_region_error_cleanup(struct stress *s, bool named, bool at_fd_limit)
{
    char name[64], devpath[96];
    snprintf(name, sizeof(name), "/ipcstorm-efbig-%d-%u", (int)getpid(), g_region_rounds);
    snprintf(devpath, sizeof(devpath), "/dev/shm%s", name);
    stress_faults_pause(s);
    pid_t pid = fork();
    if (pid == 0)
        _exit(at_fd_limit ? region_emfile_child(name) : region_error_child(named, name));
    int st = 0;
    bool reaped = pid > 0 && waitpid(pid, &st, 0) == pid;
    stress_faults_resume(s);
    if (!reaped) {
        stress_setup_error(s, "fork/waitpid: %s", strerror(errno));
        return;
    }
    bool left = (named || at_fd_limit) && path_exists(devpath);
    if (left)
        unlink(devpath);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
        snprintf(s->note, sizeof(s->note), "region-error-clean skipped: no setup in the child");
        return;
    }
    stress_check(s, WIFEXITED(st) && WEXITSTATUS(st) == CLEAN_OK && !left, "region-error-clean",
                 "%s: child status 0x%x (exit 2: not %s, 4: it succeeded, 5: a descriptor "
                 "left open)%s",
                 at_fd_limit ? "map_fd, memfd and named regions at RLIMIT_NOFILE"
                 : named     ? "a named region of 1 MiB over RLIMIT_FSIZE 4096"
                             : "a memfd region of 1 MiB over RLIMIT_FSIZE 4096",
                 (unsigned)st, at_fd_limit ? "-EMFILE" : "-EFBIG",
                 left ? "; its name was left in /dev/shm" : "");
}

/* shm.h's argument contract: size 0 (without OPEN_EXISTING) and sizes above
 * IPC_SHM_MAX_SIZE are -EINVAL, with *out cleared and no object left behind. */
static void check_region_sizes(struct stress *s, const char *name)
{
    static const size_t bad[] = {0, IPC_SHM_MAX_SIZE + 1};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ipc_shm *r[3] = {STALE_REGION, STALE_REGION, STALE_REGION};
        int rc[3] = {ipc_shm_new_anon(&r[0], bad[i]), ipc_shm_new_memfd(&r[1], "ipcstorm", bad[i]),
                     ipc_shm_new_named(&r[2], name, bad[i], 0)};
        for (int k = 0; k < 3; k++) {
            stress_check(s, rc[k] == -EINVAL && !r[k], "region-exact",
                         "ipc_shm_new_%s of size %zu: %s, *out %s (want -EINVAL, NULL)",
                         k == 0   ? "anon"
                         : k == 1 ? "memfd"
                                  : "named",
                         bad[i], ipc_errname(rc[k]), r[k] ? "set" : "NULL");
            if (rc[k] == 0 && r[k] && r[k] != STALE_REGION)
                ipc_shm_free(r[k]);
        }
    }
}

static void run_region_round(struct stress *s, enum ipc_lock_kind kind, bool named,
                             struct stress_rng *rng)
{
    const char *what = named ? "named" : "memfd";
    char name[64], devpath[96];
    snprintf(name, sizeof(name), "/ipcstorm-counter-%d-%u", (int)getpid(), g_region_rounds++);
    snprintf(devpath, sizeof(devpath), "/dev/shm%s", name);
    if (g_region_rounds == 1)
        check_region_sizes(s, name);
    size_t size = sizeof(struct region_shared) + (size_t)stress_rng_below(rng, 3 * 4096);
    ipc_shm *a = NULL, *b = NULL;
    int r = named ? ipc_shm_new_named(&a, name, size, 0) : ipc_shm_new_memfd(&a, "ipcstorm", size);
    if (r < 0) {
        stress_lib_error(s, r, named ? "ipc_shm_new_named" : "ipc_shm_new_memfd");
        return;
    }
    int fd = ipc_shm_fd(a);
    struct stat st;
    memset(&st, 0, sizeof(st));
    bool fstat_ok = fd >= 0 && fstat(fd, &st) == 0;
    char link[128] = "", lpath[64];
    snprintf(lpath, sizeof(lpath), "/proc/self/fd/%d", fd);
    ssize_t ln = fd >= 0 ? readlink(lpath, link, sizeof(link) - 1) : -1;
    link[ln > 0 ? ln : 0] = '\0';
    bool link_ok = named ? strstr(link, name) != NULL : strncmp(link, "/memfd:ipcstorm", 15) == 0;
    stress_check(
        s,
        ipc_shm_kind(a) == (named ? IPC_SHM_NAMED : IPC_SHM_MEMFD) && ipc_shm_size(a) == size &&
            fstat_ok && (size_t)st.st_size == size && link_ok && (!named || path_exists(devpath)),
        "region-exact", "%s region of %zu bytes: kind %d, size %zu, fd %d of %lld bytes ('%s')%s",
        what, size, ipc_shm_kind(a), ipc_shm_size(a), fd, (long long)st.st_size, link,
        named && !path_exists(devpath) ? ", not in /dev/shm" : "");
    if (named) {
        ipc_shm *dup = NULL;
        int e = ipc_shm_new_named(&dup, name, size, 0);
        if (e == 0)
            ipc_shm_free(dup);
        /* Under --faults shm_open may fail first (EMFILE...): an error libipc
         * reports; a second creation that succeeds never is. */
        if (e != -EEXIST && e != 0 && stress_faults_on(s))
            stress_lib_error(s, e, "ipc_shm_new_named(again)");
        else
            stress_check(s, e == -EEXIST, "region-exact",
                         "creating %s again gave %s instead of EEXIST", name, ipc_errname(e));
        r = ipc_shm_new_named(&b, name, 0, IPC_SHM_OPEN_EXISTING);
    } else {
        r = ipc_shm_map_fd(&b, fd, 0);
    }
    if (r < 0) {
        stress_lib_error(s, r, named ? "ipc_shm_new_named(existing)" : "ipc_shm_map_fd");
        ipc_shm_free(a);
        return;
    }
    stress_check(s,
                 ipc_shm_kind(b) == (named ? IPC_SHM_NAMED : IPC_SHM_FROM_FD) &&
                     ipc_shm_size(b) == size && ipc_shm_base(b) != ipc_shm_base(a) &&
                     ipc_shm_fd(b) >= 0 && ipc_shm_fd(b) != fd,
                 "region-exact", "second mapping of the %s region: kind %d, size %zu (want %zu)",
                 what, ipc_shm_kind(b), ipc_shm_size(b), size);
    struct region_shared *sa = ipc_shm_base(a), *sb = ipc_shm_base(b);
    uint64_t pattern = stress_rng_next(rng);
    sa->pattern = pattern;
    ((volatile uint8_t *)sa)[size - 1] = (uint8_t)pattern; /* the last byte is mapped too */
    stress_check(s,
                 sb->pattern == pattern && ((volatile uint8_t *)sb)[size - 1] == (uint8_t)pattern,
                 "region-shared",
                 "a write through one mapping of the %s region is not seen "
                 "through the other",
                 what);
    r = ipc_counter_init(&sa->counter, kind);
    int mr = r == 0 ? ipc_shm_mutex_init(&sa->mutex) : r;
    if (r < 0 || mr < 0) {
        stress_lib_error(s, r < 0 ? r : mr, "ipc_counter_init/ipc_shm_mutex_init");
        if (r == 0)
            ipc_counter_destroy(&sa->counter);
        ipc_shm_free(b);
        ipc_shm_free(a);
        return;
    }
    stress_check(s, ipc_counter_kind(&sb->counter) == (int)kind, "region-shared",
                 "ipc_counter_kind through the second mapping: %d, initialised as %d",
                 ipc_counter_kind(&sb->counter), (int)kind);
    memset(sa->slot, 0, sizeof(sa->slot));
    sa->plain_total = 0;
    uint64_t incs = stress_rng_range(rng, opt_incs / 8 + 1, opt_incs / 4 + 1);
    struct region_arg ra[MAX_PROCS];
    ipc_proc *w[MAX_PROCS] = {0};
    for (unsigned i = 0; i < s->procs; i++)
        ra[i] = (struct region_arg){.named = named,
                                    .name = name,
                                    .fd = fd,
                                    .size = size,
                                    .idx = i,
                                    .incs = incs,
                                    .unguarded = stress_fault(s, "unguarded-total")};
    unsigned nw = fork_workers(s, w, s->procs, region_worker, ra, sizeof(ra[0]),
                               "ipc_proc_fork(region worker)");
    int64_t committed = 0, guarded = 0;
    for (unsigned i = 0; i < nw; i++) {
        struct ipc_proc_status pst;
        memset(&pst, 0, sizeof(pst));
        int wr = stress_proc_wait(s, w[i], 60000, &pst);
        int code = wr == 0 && pst.exited ? pst.code : -1;
        stress_proc_discard(s, w[i]);
        if (code == REGION_LIBERR && stress_faults_on(s))
            stress_lib_error(s, -ENOMEM, "region worker: map");
        else
            stress_check(s, code == 0, "region-exact",
                         "%s region worker %u ended with %d (5: its mapping had another size)",
                         what, i, code);
        struct slot *sl = &sb->slot[i];
        stress_check(s, sl->errors == 0, "add-ok",
                     "%s region worker %u: %" PRId64 " failed adds "
                     "(last %s)",
                     what, i, sl->errors, ipc_errname(sl->last_err));
        committed += sl->committed;
        guarded += sl->guarded;
    }
    int64_t final = -1;
    r = ipc_counter_get(&sb->counter, &final);
    stress_check(s, r == 0 && final == committed, "counter-exact",
                 "%s region, lock %s: final %" PRId64
                 " through the second mapping != committed %" PRId64,
                 what, ipc_lock_kind_name(kind), final, committed);
    stress_check(s, sb->plain_total == guarded, "mutex-guarded-exact",
                 "%s region: plain total %" PRId64 " under ipc_shm_mutex_lock != %" PRId64
                 " increments",
                 what, sb->plain_total, guarded);
    ipc_counter_destroy(&sa->counter);
    pthread_mutex_destroy(&sa->mutex);
    ipc_shm_free(b);
    if (named) {
        /* Half the rounds unlink by hand (then free must not mind), half leave it
         * to the creator's free. Either way the name is gone afterwards. */
        if (stress_rng_below(rng, 2)) {
            int u = ipc_shm_unlink(name);
            bool gone = !path_exists(devpath);
            int again = ipc_shm_unlink(name);
            stress_check(s, u == 0 && gone && again == -ENOENT, "region-unlinked",
                         "ipc_shm_unlink(%s) %s, still in /dev/shm %d, second unlink %s", name,
                         ipc_errname(u), !gone, ipc_errname(again));
        }
        ipc_shm_free(a);
        stress_check(s, !path_exists(devpath), "region-unlinked",
                     "%s still in /dev/shm after the creator freed it", devpath);
        /* Opening the gone name (existing size) is the kernel's ENOENT at once. */
        ipc_shm *gone = NULL;
        int e = ipc_shm_new_named(&gone, name, 0, IPC_SHM_OPEN_EXISTING);
        if (e == 0)
            ipc_shm_free(gone);
        if (e != -ENOENT && e != 0 && stress_faults_on(s))
            stress_lib_error(s, e, "ipc_shm_new_named(gone, existing)");
        else
            stress_check(s, e == -ENOENT && !gone, "region-unlinked",
                         "opening the unlinked %s with IPC_SHM_OPEN_EXISTING gave %s, not ENOENT",
                         name, ipc_errname(e));
    } else {
        ipc_shm_free(a);
    }
    stress_add_ops(s, (uint64_t)committed);
}

/* ---- counter table rounds ------------------------------------------------------------ */
/* The server's counter table (ipcsrv/ctab.h) gets the counter's treatment: workers
 * INCRBY random deltas on a few shared keys while victims take the table lock with
 * ipc_ctab_lock and are SIGKILLed holding it (each victim reports "holding" on a
 * pipe first, so the kill lands inside the lock). The oracle is a plain model: each
 * worker books every acknowledged delta per key in its own slot. */
#define CTAB_KEYS     6
#define CTAB_CAPACITY 16

struct ctab_slot {
    int64_t sum[CTAB_KEYS];
    uint8_t touched[CTAB_KEYS];
    int64_t errors;
    int last_err;
};

struct ctab_arg {
    ipc_ctab *table;
    struct ctab_slot *slot;
    uint64_t seed, ops;
    int hold_fd; /* victims: write one byte once the lock is held */
};

static void ctab_key(char *buf, unsigned k)
{
    snprintf(buf, 8, "ct%u", k);
}

static int ctab_worker(void *p)
{
    struct ctab_arg *a = p;
    struct stress_rng rng;
    stress_rng_init(&rng, a->seed, (uint64_t)getpid());
    for (uint64_t i = 0; i < a->ops; i++) {
        unsigned k = (unsigned)stress_rng_below(&rng, CTAB_KEYS);
        int64_t delta = (int64_t)stress_rng_range(&rng, 0, 200) - 100;
        char key[8];
        ctab_key(key, k);
        int r = ipc_ctab_incrby(a->table, key, strlen(key), delta, NULL);
        if (r < 0 && r != IPC_EOWNERDEAD) {
            a->slot->errors++;
            a->slot->last_err = r;
            continue;
        }
        a->slot->sum[k] += delta;
        a->slot->touched[k] = 1;
    }
    return 0;
}

/* Holds the table lock until killed. */
static int ctab_victim(void *p)
{
    struct ctab_arg *a = p;
    int r = ipc_ctab_lock(a->table);
    if (r < 0 && r != IPC_EOWNERDEAD)
        return 3;
    char one = 1;
    if (write(a->hold_fd, &one, 1) != 1)
        return 4;
    for (;;)
        pause();
}

/* Forks a victim and returns once it holds the lock: true if it did. */
static bool ctab_hold_and_kill(struct stress *s, struct ctab_arg *va)
{
    int pfd[2];
    if (pipe(pfd) < 0) {
        stress_setup_error(s, "pipe: %s", strerror(errno));
        return false;
    }
    va->hold_fd = pfd[1];
    ipc_proc *v = NULL;
    int r = ipc_proc_fork(&v, ctab_victim, va, NULL);
    close(pfd[1]);
    bool held = false;
    if (r < 0) {
        stress_lib_error(s, r, "ipc_proc_fork(ctab victim)");
    } else {
        char c;
        ssize_t n;
        while ((n = read(pfd[0], &c, 1)) < 0 && errno == EINTR)
            ;
        held = n == 1; /* EOF: the victim exited without the lock */
        stress_proc_kill(s, v, SIGKILL);
        struct ipc_proc_status st;
        memset(&st, 0, sizeof(st));
        stress_ignore(stress_proc_wait(s, v, IPC_PROC_WAIT_FOREVER, &st));
        if (held)
            stress_check(s, st.signaled && st.signal == SIGKILL, "ctab-recovered",
                         "lock holder ended with raw status 0x%x before its SIGKILL", st.raw);
        else
            stress_check(s, stress_faults_on(s), "ctab-recovered",
                         "a victim could not take the table lock (raw status 0x%x)", st.raw);
        stress_proc_discard(s, v);
    }
    close(pfd[0]);
    return held;
}

static unsigned g_ctab_rounds;

static void run_ctab_round(struct stress *s, struct stress_rng *rng)
{
    ipc_shm *region = NULL;
    size_t slots_size = sizeof(struct ctab_slot) * MAX_PROCS;
    int r = ipc_shm_new_anon(&region, slots_size);
    if (r < 0) {
        stress_lib_error(s, r, "ipc_shm_new_anon");
        return;
    }
    struct ctab_slot *slot = ipc_shm_base(region);
    memset(slot, 0, slots_size);
    ipc_ctab *t = NULL;
    if ((r = ipc_ctab_new(&t, CTAB_CAPACITY)) < 0) {
        stress_lib_error(s, r, "ipc_ctab_new");
        ipc_shm_free(region);
        return;
    }
    g_ctab_rounds++;
    stress_check(s, ipc_ctab_capacity(t) == CTAB_CAPACITY, "ctab-exact", "capacity %zu, asked %d",
                 ipc_ctab_capacity(t), CTAB_CAPACITY);
    ipc_ctab *refused = t; /* a failed new must not leave the caller a stale table */
    int big = ipc_ctab_new(&refused, (size_t)IPC_CTAB_MAX_CAPACITY + 1);
    stress_check(s, big == -EINVAL && !refused, "ctab-exact",
                 "ipc_ctab_new(IPC_CTAB_MAX_CAPACITY + 1) = %s, *out %s", ipc_errname(big),
                 refused ? "not cleared" : "NULL");
    stress_check(s, ipc_ctab_unlock(t) == -EPERM, "ctab-recovered",
                 "ipc_ctab_unlock without holding the lock did not return -EPERM");
    uint64_t ops = stress_rng_range(rng, opt_incs / 8 + 1, opt_incs / 4 + 1);
    struct ctab_arg wa[MAX_PROCS];
    ipc_proc *w[MAX_PROCS] = {0};
    for (unsigned i = 0; i < s->procs; i++)
        wa[i] = (struct ctab_arg){
            .table = t, .slot = &slot[i], .seed = stress_rng_next(rng), .ops = ops, .hold_fd = -1};
    unsigned nw =
        fork_workers(s, w, s->procs, ctab_worker, wa, sizeof(wa[0]), "ipc_proc_fork(ctab worker)");
    uint64_t before = ipc_ctab_recoveries(t);
    unsigned kills = 0;
    struct ctab_arg va = {.table = t};
    for (unsigned i = 0; i < opt_victims + 1; i++)
        kills += ctab_hold_and_kill(s, &va);
    for (unsigned i = 0; i < nw; i++) {
        bool ok = wait_ok(s, w[i], "ctab worker", 60000);
        stress_proc_discard(s, w[i]);
        stress_check(s, ok, "ctab-exact", "ctab worker %u did not exit 0", i);
        if (slot[i].errors)
            stress_ignore(stress_lib_error(s, slot[i].last_err, "ipc_ctab_incrby"));
    }
    /* The parent's own lock/unlock: acquiring recovers a death no worker noticed. */
    int lr = ipc_ctab_lock(t);
    stress_check(s, lr == 0 || lr == IPC_EOWNERDEAD, "ctab-recovered",
                 "ipc_ctab_lock after the victims: %s", ipc_strerror(lr));
    if (lr == 0 || lr == IPC_EOWNERDEAD)
        stress_check(s, ipc_ctab_unlock(t) == 0, "ctab-recovered", "ipc_ctab_unlock failed");
    uint64_t recovered = ipc_ctab_recoveries(t) - before;
    stress_check(s, recovered == kills, "ctab-recovered",
                 "%u lock holders were SIGKILLed, %" PRIu64 " recoveries", kills, recovered);
    long live = 0;
    for (unsigned k = 0; k < CTAB_KEYS; k++) {
        int64_t want = 0;
        bool touched = false;
        for (unsigned i = 0; i < nw; i++) {
            want += slot[i].sum[k];
            touched |= slot[i].touched[k] != 0;
        }
        char key[8];
        ctab_key(key, k);
        int64_t got = 0;
        r = ipc_ctab_get(t, key, strlen(key), &got);
        if (touched)
            stress_check(s, r == 0 && got == want, "ctab-exact",
                         "key %s: %" PRId64 " (%s), acknowledged deltas sum to %" PRId64, key, got,
                         ipc_strerror(r), want);
        else
            stress_check(s, r == -ENOENT, "ctab-exact", "untouched key %s: get gave %s", key,
                         ipc_strerror(r));
        live += touched;
    }
    stress_check(s, ipc_ctab_count(t) == live, "ctab-exact", "count %ld, %ld keys touched",
                 ipc_ctab_count(t), live);
    for (unsigned k = 0; k < CTAB_KEYS; k++) {
        char key[8];
        ctab_key(key, k);
        int want = 0;
        for (unsigned i = 0; i < nw; i++)
            want |= slot[i].touched[k];
        r = ipc_ctab_del(t, key, strlen(key));
        stress_check(s, r == want, "ctab-exact", "del %s gave %d, want %d", key, r, want);
    }
    stress_check(s, ipc_ctab_count(t) == 0, "ctab-exact", "count %ld after deleting every key",
                 ipc_ctab_count(t));
    ipc_ctab_free(t);
    ipc_shm_free(region);
    stress_add_ops(s, ops * nw);
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

/* Whether a round of pass `pass` runs: while the run goes on, and in the first
 * pass until the run is aborted (see the main loop). */
static bool round_due(struct stress *s, unsigned pass)
{
    return stress_running(s) || (pass == 0 && !stress_aborted(s));
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
    /* Each pass runs every kind's round, then a named or memfd region round and a
     * counter table round. The first pass runs whole even past --duration: on a
     * loaded machine one round can outlast a short run, and a run that never
     * reached a kind's exact count (or the region's) would check nothing. */
    for (unsigned round = 0;; round++) {
        unsigned pass = round / nk;
        if (!round_due(&s, pass))
            break;
        run_round(&s, sh, kinds[round % nk], &rng);
        if (round % nk == nk - 1 && round_due(&s, pass)) {
            enum ipc_lock_kind rk = kinds[pass % nk]; /* each kind in turn */
            if (rk == IPC_LOCK_NONE)
                rk = IPC_LOCK_ATOMIC;
            run_region_round(&s, rk, pass % 2 == 0, &rng);
            check_region_error_cleanup(&s, pass % 2 == 0, pass % 3 == 2);
            check_counter_destroy(&s, rk);
            if (pass % 3 == 1)
                check_counter_new_enomem(&s);
            if (round_due(&s, pass))
                run_ctab_round(&s, &rng);
        }
    }
    ipc_shm_free(region);
    snprintf(s.note, sizeof(s.note),
             "lock none lost %" PRId64 " of %" PRId64 " updates (no lock, by design); "
             "mutex owner-death recoveries %" PRIu64 "; named/memfd region rounds %u; "
             "counter table rounds %u",
             g_none_lost, g_none_total, g_recoveries, g_region_rounds, g_ctab_rounds);
    return stress_end(&s);
}
