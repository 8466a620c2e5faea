/* test_pool.c - the process object and the worker pool, with real forks, pipes
 * and signals. Synchronisation is by pipes, shared memory and waitpid only. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ipc/pipe.h"
#include "ipc/pool.h"
#include "testutil.h"
#ifdef IPC_TEST_FAULTS
#include "ipc_test_faults.h"
#endif

/* ---- helpers -------------------------------------------------------------- */

/* Core dumps of deliberately crashing children would only slow the suite down. */
static void no_core(void)
{
    struct rlimit rl = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &rl);
}

static uint64_t get_u64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* ---- process object --------------------------------------------------------- */

static int fn_exit42(void *arg)
{
    int *x = arg;
    return *x + 41;
}

static void test_process_exit_code(void **state)
{
    (void)state;
    int one = 1;
    ipc_mp_process *p = NULL;
    IPCT_OK(ipc_mp_process_new(&p, fn_exit42, &one, NULL));
    assert_int_equal(ipc_mp_process_pid(p), 0);
    assert_int_equal(ipc_mp_process_is_alive(p), 0);
    IPCT_OK(ipc_mp_process_start(p));
    assert_true(ipc_mp_process_pid(p) > 0);
    assert_int_equal(ipc_mp_process_start(p), -EALREADY);
    struct ipc_proc_status st;
    memset(&st, 0xff, sizeof(st));
    IPCT_OK(ipc_mp_process_join(p, -1, &st));
    assert_true(st.exited);
    assert_false(st.signaled);
    assert_int_equal(st.code, 42);
    /* A reaped child: the status is stored, signalling is refused. */
    assert_int_equal(ipc_mp_process_is_alive(p), 0);
    struct ipc_proc_status st2;
    IPCT_OK(ipc_mp_process_join(p, 0, &st2));
    assert_int_equal(st2.code, 42);
    assert_int_equal(ipc_mp_process_terminate(p), -ESRCH);
    assert_int_equal(ipc_mp_process_kill(p), -ESRCH);
    ipc_mp_process_free(p);
}

static int fn_segv(void *arg)
{
    (void)arg;
    no_core();
    /* Sanitizers install their own SIGSEGV handler; the default action is what
     * this test is about. */
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return 0;
}

static int fn_abort(void *arg)
{
    (void)arg;
    no_core();
    signal(SIGABRT, SIG_DFL);
    abort();
}

static void test_process_signaled(void **state)
{
    (void)state;
    ipc_mp_process_fn fns[2] = {fn_segv, fn_abort};
    int sigs[2] = {SIGSEGV, SIGABRT};
    for (int i = 0; i < 2; i++) {
        ipc_mp_process *p = NULL;
        IPCT_OK(ipc_mp_process_new(&p, fns[i], NULL, NULL));
        IPCT_OK(ipc_mp_process_start(p));
        struct ipc_proc_status st;
        IPCT_OK(ipc_mp_process_join(p, -1, &st));
        assert_false(st.exited);
        assert_true(st.signaled);
        assert_int_equal(st.signal, sigs[i]);
        ipc_mp_process_free(p);
    }
}

/* A child that tells the parent it runs (one byte on a pipe), then blocks until a
 * signal ends it. */
struct blocker {
    struct ipc_pipe ready;
};

static int fn_block(void *arg)
{
    struct blocker *b = arg;
    char c = 'r';
    if (ipc_pipe_write_all(b->ready.wr, &c, 1, IPC_PIPE_NO_SIGPIPE_GUARD) != 1)
        return 3;
    for (;;)
        pause();
}

static void start_blocker(ipc_mp_process **p, struct blocker *b)
{
    IPCT_OK(ipc_pipe_open(&b->ready, 0));
    IPCT_OK(ipc_mp_process_new(p, fn_block, b, NULL));
    IPCT_OK(ipc_mp_process_start(*p));
    char c = 0;
    assert_int_equal(ipc_pipe_read_full(b->ready.rd, &c, 1), 1);
    assert_int_equal(c, 'r');
    ipc_pipe_close(&b->ready);
}

static void test_process_terminate(void **state)
{
    (void)state;
    struct blocker b;
    ipc_mp_process *p = NULL;
    start_blocker(&p, &b);
    assert_int_equal(ipc_mp_process_is_alive(p), 1);
    IPCT_OK(ipc_mp_process_terminate(p));
    struct ipc_proc_status st;
    IPCT_OK(ipc_mp_process_join(p, -1, &st));
    assert_true(st.signaled);
    assert_int_equal(st.signal, SIGTERM);
    assert_int_equal(ipc_mp_process_is_alive(p), 0);
    ipc_mp_process_free(p);
}

static void test_process_join_timeout_then_kill(void **state)
{
    (void)state;
    struct blocker b;
    ipc_mp_process *p = NULL;
    start_blocker(&p, &b);
    struct ipc_proc_status st;
    assert_int_equal(ipc_mp_process_join(p, 0, &st), -ETIMEDOUT);
    assert_int_equal(ipc_mp_process_join(p, 30, &st), -ETIMEDOUT);
    assert_int_equal(ipc_mp_process_is_alive(p), 1);
    IPCT_OK(ipc_mp_process_kill(p));
    IPCT_OK(ipc_mp_process_join(p, 10000, &st));
    assert_true(st.signaled);
    assert_int_equal(st.signal, SIGKILL);
    ipc_mp_process_free(p);
}

/* Freeing a running process must not leave an orphan or a zombie (IPCT checks). */
static void test_process_free_running(void **state)
{
    (void)state;
    struct blocker b;
    ipc_mp_process *p = NULL;
    start_blocker(&p, &b);
    ipc_mp_process_free(p);
}

static void test_process_args(void **state)
{
    (void)state;
    ipc_mp_process *p = NULL;
    struct ipc_proc_status st;
    assert_int_equal(ipc_mp_process_new(NULL, fn_exit42, NULL, NULL), -EINVAL);
    assert_int_equal(ipc_mp_process_new(&p, NULL, NULL, NULL), -EINVAL);
    assert_null(p);
    struct ipc_mp_process_options o = {.flags = 0x80};
    assert_int_equal(ipc_mp_process_new(&p, fn_exit42, NULL, &o), -EINVAL);
    assert_null(p);
    assert_int_equal(ipc_mp_process_start(NULL), -EINVAL);
    assert_int_equal(ipc_mp_process_join(NULL, -1, &st), -EINVAL);
    assert_int_equal(ipc_mp_process_terminate(NULL), -EINVAL);
    assert_int_equal(ipc_mp_process_kill(NULL), -EINVAL);
    assert_int_equal(ipc_mp_process_is_alive(NULL), -EINVAL);
    assert_int_equal(ipc_mp_process_pid(NULL), 0);
    ipc_mp_process_free(NULL);
    int one = 1;
    IPCT_OK(ipc_mp_process_new(&p, fn_exit42, &one, NULL));
    assert_int_equal(ipc_mp_process_join(p, -1, &st), -EINVAL); /* not started */
    assert_int_equal(ipc_mp_process_terminate(p), -EINVAL);
    assert_int_equal(ipc_mp_process_kill(p), -EINVAL);
    IPCT_OK(ipc_mp_process_start(p));
    assert_int_equal(ipc_mp_process_join(p, -2, &st), -EINVAL);
    IPCT_OK(ipc_mp_process_join(p, -1, NULL));
    ipc_mp_process_free(p);
}

/* ---- pool ----------------------------------------------------------------------- */

/* Shared between the test and the workers (MAP_SHARED, inherited over fork). */
struct shared {
    atomic_uint runs;   /* executions of the special task */
    atomic_uint blocks; /* how many executions blocked */
    int report_fd;      /* write end: a blocking task writes its pid here */
};

static struct shared *shared_new(void)
{
    struct shared *s =
        mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(s != MAP_FAILED);
    atomic_init(&s->runs, 0);
    atomic_init(&s->blocks, 0);
    s->report_fd = -1;
    return s;
}

static void shared_free(struct shared *s)
{
    munmap(s, sizeof(*s));
}

/* Task language: an 8-byte input n gives n*n. Other inputs are commands:
 *   "block"   first execution reports its pid and blocks; later ones answer "ok"
 *   "suicide" SIGKILLs its own worker, every time
 *   "pause"   blocks until killed
 *   "fail"    returns -EDOM
 *   "big"     claims more output than the capacity
 *   "empty"   succeeds with no bytes
 *   "echo:<x>" returns <x>                                                      */
static int task_fn(const void *in, size_t len, void *out, size_t cap, size_t *out_len, void *arg)
{
    struct shared *s = arg;
    if (len == 8) {
        uint64_t n = get_u64(in), sq = n * n;
        if (cap < 8)
            return -ENOSPC;
        memcpy(out, &sq, 8);
        *out_len = 8;
        return 0;
    }
    if (len == 5 && memcmp(in, "block", 5) == 0) {
        atomic_fetch_add(&s->runs, 1);
        if (atomic_fetch_add(&s->blocks, 1) == 0) {
            pid_t me = getpid();
            if (ipc_pipe_write_all(s->report_fd, &me, sizeof(me), IPC_PIPE_NO_SIGPIPE_GUARD) !=
                (ssize_t)sizeof(me))
                return -EIO;
            for (;;)
                pause();
        }
        memcpy(out, "ok", 2);
        *out_len = 2;
        return 0;
    }
    if (len == 7 && memcmp(in, "suicide", 7) == 0) {
        atomic_fetch_add(&s->runs, 1);
        kill(getpid(), SIGKILL);
        for (;;)
            pause();
    }
    if (len == 5 && memcmp(in, "pause", 5) == 0) {
        for (;;)
            pause();
    }
    if (len == 4 && memcmp(in, "fail", 4) == 0)
        return -EDOM;
    if (len == 3 && memcmp(in, "big", 3) == 0) {
        *out_len = cap + 1;
        return 0;
    }
    if (len == 5 && memcmp(in, "empty", 5) == 0)
        return 0;
    if (len >= 5 && memcmp(in, "echo:", 5) == 0) {
        if (len - 5 > cap)
            return -ENOSPC;
        memcpy(out, (const char *)in + 5, len - 5);
        *out_len = len - 5;
        return 0;
    }
    return -EINVAL;
}

static ipc_pool *pool_new(struct shared *s, unsigned workers)
{
    struct ipc_pool_options o = {.workers = workers, .max_in = 4096, .max_out = 4096};
    ipc_pool *p = NULL;
    IPCT_OK(ipc_pool_new(&p, task_fn, s, &o));
    assert_non_null(p);
    return p;
}

static void test_pool_map_10000(void **state)
{
    (void)state;
    enum { N = 10000 };
    ipc_pool *p = pool_new(NULL, 3);
    uint64_t *vals = calloc(N, sizeof(*vals));
    struct ipc_pool_buf *in = calloc(N, sizeof(*in));
    struct ipc_pool_result *res = calloc(N, sizeof(*res));
    assert_non_null(vals);
    assert_non_null(in);
    assert_non_null(res);
    for (size_t i = 0; i < N; i++) {
        vals[i] = i * 7919u + 3u;
        in[i].data = &vals[i];
        in[i].len = sizeof(vals[i]);
    }
    IPCT_OK(ipc_pool_map(p, in, N, res));
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(res[i].status, 0);
        assert_int_equal(res[i].len, 8);
        assert_true(get_u64(res[i].data) == vals[i] * vals[i]);
        /* Ids are distinct: map submits in order, so they increase strictly. */
        if (i > 0)
            assert_true(res[i].id > res[i - 1].id);
        ipc_pool_result_free(&res[i]);
        assert_null(res[i].data);
    }
    /* map's results never leak into collect. */
    struct ipc_pool_result r;
    assert_int_equal(ipc_pool_collect(p, 0, &r), -ENOENT);
    assert_int_equal(ipc_pool_replacements(p), 0);
    IPCT_OK(ipc_pool_close(p, -1));
    ipc_pool_free(p);
    free(vals);
    free(in);
    free(res);
}

static void test_pool_submit_collect_ids(void **state)
{
    (void)state;
    enum { N = 300 };
    ipc_pool *p = pool_new(NULL, 2);
    uint64_t ids[N];
    unsigned char seen[N] = {0};
    for (uint64_t i = 0; i < N; i++) {
        IPCT_OK(ipc_pool_submit(p, &i, sizeof(i), &ids[i]));
        if (i > 0)
            assert_true(ids[i] > ids[i - 1]);
    }
    for (int k = 0; k < N; k++) {
        struct ipc_pool_result r;
        IPCT_OK(ipc_pool_collect(p, 10000, &r));
        assert_int_equal(r.status, 0);
        uint64_t i = r.id - ids[0];
        assert_true(i < N);
        assert_int_equal(ids[i], r.id);
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
        assert_int_equal(r.len, 8);
        assert_true(get_u64(r.data) == i * i);
        ipc_pool_result_free(&r);
    }
    struct ipc_pool_result r;
    assert_int_equal(ipc_pool_collect(p, -1, &r), -ENOENT);

    /* Failures, empty results and an oversized claim are reported per task. */
    uint64_t idf, ide, idb, idx;
    IPCT_OK(ipc_pool_submit(p, "fail", 4, &idf));
    IPCT_OK(ipc_pool_submit(p, "empty", 5, &ide));
    IPCT_OK(ipc_pool_submit(p, "big", 3, &idb));
    IPCT_OK(ipc_pool_submit(p, "echo:hello", 10, &idx));
    int got = 0;
    for (int k = 0; k < 4; k++) {
        IPCT_OK(ipc_pool_collect(p, 10000, &r));
        if (r.id == idf) {
            assert_int_equal(r.status, -EDOM);
            assert_null(r.data);
            got |= 1;
        } else if (r.id == ide) {
            assert_int_equal(r.status, 0);
            assert_int_equal(r.len, 0);
            got |= 2;
        } else if (r.id == idb) {
            assert_int_equal(r.status, -EOVERFLOW);
            got |= 4;
        } else if (r.id == idx) {
            assert_int_equal(r.status, 0);
            assert_int_equal(r.len, 5);
            assert_memory_equal(r.data, "hello", 5);
            got |= 8;
        } else {
            fail_msg("unexpected id %llu", (unsigned long long)r.id);
        }
        ipc_pool_result_free(&r);
    }
    assert_int_equal(got, 15);
    IPCT_OK(ipc_pool_close(p, -1));
    ipc_pool_free(p);
}

/* Inputs and results larger than a pipe's capacity: the task write blocks until
 * the worker reads, the result arrives in several reads (the decoder's buffered
 * path). Sizes up to exactly max_in / max_out. */
static void test_pool_large_payloads(void **state)
{
    (void)state;
    enum { MAX = 300000, N = 12 };
    struct ipc_pool_options o = {.workers = 2, .max_in = MAX + 5, .max_out = MAX};
    ipc_pool *p = NULL;
    IPCT_OK(ipc_pool_new(&p, task_fn, NULL, &o));
    unsigned char *buf = malloc(MAX + 5);
    assert_non_null(buf);
    memcpy(buf, "echo:", 5);
    for (size_t i = 0; i < MAX; i++)
        buf[5 + i] = (unsigned char)(i * 131 + (i >> 9));
    size_t sizes[N];
    uint64_t ids[N];
    for (int k = 0; k < N; k++) {
        sizes[k] = k == 0 ? MAX : (size_t)(MAX / (k + 1)) + (size_t)k * 977u;
        IPCT_OK(ipc_pool_submit(p, buf, 5 + sizes[k], &ids[k]));
    }
    for (int k = 0; k < N; k++) {
        struct ipc_pool_result r;
        IPCT_OK(ipc_pool_collect(p, 10000, &r));
        int j = (int)(r.id - ids[0]);
        assert_true(j >= 0 && j < N);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.len, sizes[j]);
        assert_memory_equal(r.data, buf + 5, sizes[j]);
        ipc_pool_result_free(&r);
    }
    /* One byte over the input limit is refused before anything is queued. */
    unsigned char *over = malloc(MAX + 6);
    assert_non_null(over);
    memset(over, 0, MAX + 6);
    uint64_t id;
    assert_int_equal(ipc_pool_submit(p, over, MAX + 6, &id), -EMSGSIZE);
    free(over);
    IPCT_OK(ipc_pool_close(p, -1));
    ipc_pool_free(p);
    free(buf);
}

static int pid_in(const pid_t *pids, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (pids[i] == pid)
            return 1;
    return 0;
}

static void test_pool_worker_killed_mid_task(void **state)
{
    (void)state;
    no_core();
    struct shared *s = shared_new();
    struct ipc_pipe rep;
    IPCT_OK(ipc_pipe_open(&rep, 0));
    s->report_fd = rep.wr;
    ipc_pool *p = pool_new(s, 2);
    pid_t before[2];
    assert_int_equal(ipc_pool_pids(p, before, 2), 2);

    uint64_t id, id2;
    IPCT_OK(ipc_pool_submit(p, "block", 5, &id));
    /* The worker announces itself mid-task; the pool does not run on its own, so
     * drive it with a short collect while we wait. */
    pid_t victim = 0;
    struct ipc_pool_result r;
    assert_int_equal(ipc_pool_collect(p, 0, &r), -ETIMEDOUT);
    assert_int_equal(ipc_pipe_read_full(rep.rd, &victim, sizeof(victim)), (ssize_t)sizeof(victim));
    assert_true(pid_in(before, 2, victim));
    assert_int_equal(kill(victim, SIGKILL), 0);

    IPCT_OK(ipc_pool_collect(p, 10000, &r));
    assert_int_equal(r.id, id);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.len, 2);
    assert_memory_equal(r.data, "ok", 2);
    ipc_pool_result_free(&r);
    assert_int_equal(atomic_load(&s->runs), 2); /* exactly one retry */
    assert_int_equal(ipc_pool_replacements(p), 1);
    assert_int_equal(ipc_pool_collect(p, 0, &r), -ENOENT); /* exactly one result */

    /* The replacement is a new process and the pool keeps working. */
    pid_t after[2];
    assert_int_equal(ipc_pool_pids(p, after, 2), 2);
    assert_false(pid_in(after, 2, victim));
    uint64_t v = 12;
    IPCT_OK(ipc_pool_submit(p, &v, 8, &id2));
    IPCT_OK(ipc_pool_collect(p, 10000, &r));
    assert_int_equal(r.id, id2);
    assert_true(get_u64(r.data) == 144);
    ipc_pool_result_free(&r);

    IPCT_OK(ipc_pool_close(p, -1));
    ipc_pool_free(p);
    ipc_pipe_close(&rep);
    shared_free(s);
}

static void test_pool_task_always_kills_worker(void **state)
{
    (void)state;
    struct shared *s = shared_new();
    ipc_pool *p = pool_new(s, 2);
    uint64_t id, ids[20];
    IPCT_OK(ipc_pool_submit(p, "suicide", 7, &id));
    for (uint64_t i = 0; i < 20; i++)
        IPCT_OK(ipc_pool_submit(p, &i, 8, &ids[i]));
    int failed = 0, ok = 0;
    for (int k = 0; k < 21; k++) {
        struct ipc_pool_result r;
        IPCT_OK(ipc_pool_collect(p, 10000, &r));
        if (r.id == id) {
            assert_int_equal(r.status, IPC_ECHILDLOST);
            assert_null(r.data);
            failed++;
        } else {
            assert_int_equal(r.status, 0);
            assert_true(get_u64(r.data) == (r.id - ids[0]) * (r.id - ids[0]));
            ok++;
        }
        ipc_pool_result_free(&r);
    }
    assert_int_equal(failed, 1);
    assert_int_equal(ok, 20);
    assert_int_equal(atomic_load(&s->runs), 2);
    assert_int_equal(ipc_pool_replacements(p), 2);
    pid_t pids[2];
    assert_int_equal(ipc_pool_pids(p, pids, 2), 2);
    IPCT_OK(ipc_pool_close(p, -1));
    ipc_pool_free(p);
    shared_free(s);
}

/* Workers dying while other threads submit and collect: the replacements are
 * forked from a multi-threaded parent (the case pool.h warns about; the worker
 * loop itself only makes async-signal-safe calls). */
enum { DT_THREADS = 3, DT_PER = 200 };
struct death_shared {
    ipc_pool *pool;
    uint64_t suicide_id;
    atomic_uint seen[DT_THREADS * DT_PER];
    atomic_uint failed, bad, collected;
};

struct death_arg {
    struct death_shared *d;
    unsigned index;
};

static void death_record(struct death_shared *d, const struct ipc_pool_result *r)
{
    atomic_fetch_add(&d->collected, 1);
    if (r->id == d->suicide_id) {
        if (r->status == IPC_ECHILDLOST)
            atomic_fetch_add(&d->failed, 1);
        else
            atomic_fetch_add(&d->bad, 1);
        return;
    }
    if (r->status != 0 || r->len != 8) {
        atomic_fetch_add(&d->bad, 1);
        return;
    }
    uint64_t sq = get_u64(r->data), v = 0;
    while (v * v < sq)
        v++;
    if (v * v != sq || v >= DT_THREADS * DT_PER)
        atomic_fetch_add(&d->bad, 1);
    else
        atomic_fetch_add(&d->seen[v], 1);
}

static void *death_worker(void *argp)
{
    struct death_arg *a = argp;
    struct death_shared *d = a->d;
    for (unsigned i = 0; i < DT_PER; i++) {
        uint64_t v = (uint64_t)a->index * DT_PER + i, id;
        if (ipc_pool_submit(d->pool, &v, 8, &id) < 0)
            atomic_fetch_add(&d->bad, 1);
    }
    const unsigned total = DT_THREADS * DT_PER + 1;
    while (atomic_load(&d->collected) < total && atomic_load(&d->bad) == 0) {
        struct ipc_pool_result r;
        int rc = ipc_pool_collect(d->pool, 50, &r);
        if (rc == 0) {
            death_record(d, &r);
            ipc_pool_result_free(&r);
        } else if (rc != -ENOENT && rc != -ETIMEDOUT) {
            atomic_fetch_add(&d->bad, 1);
        }
    }
    return NULL;
}

static void test_pool_death_with_threads(void **state)
{
    (void)state;
    struct shared *s = shared_new();
    struct death_shared *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    d->pool = pool_new(s, 2);
    IPCT_OK(ipc_pool_submit(d->pool, "suicide", 7, &d->suicide_id));
    pthread_t th[DT_THREADS];
    struct death_arg args[DT_THREADS];
    for (unsigned t = 0; t < DT_THREADS; t++) {
        args[t] = (struct death_arg){d, t};
        assert_int_equal(pthread_create(&th[t], NULL, death_worker, &args[t]), 0);
    }
    for (unsigned t = 0; t < DT_THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_int_equal(atomic_load(&d->bad), 0);
    assert_int_equal(atomic_load(&d->failed), 1);
    for (unsigned v = 0; v < DT_THREADS * DT_PER; v++)
        assert_int_equal(atomic_load(&d->seen[v]), 1);
    assert_int_equal(atomic_load(&s->runs), 2);
    assert_int_equal(ipc_pool_replacements(d->pool), 2);
    IPCT_OK(ipc_pool_close(d->pool, -1));
    ipc_pool_free(d->pool);
    free(d);
    shared_free(s);
}

/* close runs every queued task, then lets the workers go; results stay
 * collectable. IPCT checks that no child and no fd is left. */
static void test_pool_close_drains(void **state)
{
    (void)state;
    enum { N = 64 };
    ipc_pool *p = pool_new(NULL, 2);
    uint64_t first = 0, id;
    for (uint64_t i = 0; i < N; i++) {
        IPCT_OK(ipc_pool_submit(p, &i, 8, &id));
        if (i == 0)
            first = id;
    }
    pid_t pids[2];
    assert_int_equal(ipc_pool_pids(p, pids, 2), 2);
    IPCT_OK(ipc_pool_close(p, -1));
    /* Every worker was reaped by close. */
    for (int i = 0; i < 2; i++)
        assert_int_equal(waitpid(pids[i], NULL, WNOHANG), -1);
    assert_int_equal(ipc_pool_pids(p, pids, 2), 0);
    assert_int_equal(ipc_pool_submit(p, &id, 8, &id), -EPIPE);
    unsigned char seen[N] = {0};
    for (int k = 0; k < N; k++) {
        struct ipc_pool_result r;
        IPCT_OK(ipc_pool_collect(p, 0, &r));
        assert_int_equal(r.status, 0);
        uint64_t i = r.id - first;
        assert_true(i < N);
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
        assert_true(get_u64(r.data) == i * i);
        ipc_pool_result_free(&r);
    }
    struct ipc_pool_result r;
    assert_int_equal(ipc_pool_collect(p, -1, &r), -ENOENT);
    ipc_pool_free(p);
}

static void test_pool_timeout_and_terminate(void **state)
{
    (void)state;
    ipc_pool *p = pool_new(NULL, 1);
    uint64_t id1, id2;
    IPCT_OK(ipc_pool_submit(p, "pause", 5, &id1));
    IPCT_OK(ipc_pool_submit(p, "pause", 5, &id2)); /* stays queued: 1 worker */
    struct ipc_pool_result r;
    assert_int_equal(ipc_pool_collect(p, 50, &r), -ETIMEDOUT);
    IPCT_OK(ipc_pool_terminate(p));
    int seen = 0;
    for (int k = 0; k < 2; k++) {
        IPCT_OK(ipc_pool_collect(p, 0, &r));
        assert_int_equal(r.status, -ECANCELED);
        seen |= r.id == id1 ? 1 : r.id == id2 ? 2 : 4;
        ipc_pool_result_free(&r);
    }
    assert_int_equal(seen, 3);
    assert_int_equal(ipc_pool_submit(p, "x", 1, &id1), -EPIPE);
    ipc_pool_free(p);
}

/* close with a deadline on a task that never finishes kills by force. */
static void test_pool_close_deadline(void **state)
{
    (void)state;
    ipc_pool *p = pool_new(NULL, 1);
    uint64_t id;
    IPCT_OK(ipc_pool_submit(p, "pause", 5, &id));
    assert_int_equal(ipc_pool_close(p, 50), -ETIMEDOUT);
    struct ipc_pool_result r;
    IPCT_OK(ipc_pool_collect(p, 0, &r));
    assert_int_equal(r.id, id);
    assert_int_equal(r.status, -ECANCELED);
    ipc_pool_result_free(&r);
    ipc_pool_free(p);
}

/* terminate from another thread cuts short a close that would wait forever. */
static void *closer(void *arg)
{
    ipc_pool *p = arg;
    return (void *)(intptr_t)ipc_pool_close(p, -1);
}

static void test_pool_terminate_interrupts_close(void **state)
{
    (void)state;
    ipc_pool *p = pool_new(NULL, 1);
    uint64_t id, extra;
    IPCT_OK(ipc_pool_submit(p, "pause", 5, &id));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, closer, p), 0);
    /* close refuses submissions as soon as it starts: wait for that. */
    int rc, queued = 0;
    while ((rc = ipc_pool_submit(p, "echo:q", 6, &extra)) == 0 || rc == -EAGAIN)
        queued += rc == 0;
    assert_int_equal(rc, -EPIPE);
    IPCT_OK(ipc_pool_terminate(p));
    void *ret;
    assert_int_equal(pthread_join(th, &ret), 0);
    assert_int_equal((int)(intptr_t)ret, -ECANCELED);
    int n = 0;
    struct ipc_pool_result r;
    while ((rc = ipc_pool_collect(p, 0, &r)) == 0) {
        if (r.id == id)
            assert_int_equal(r.status, -ECANCELED);
        n++;
        ipc_pool_result_free(&r);
    }
    assert_int_equal(rc, -ENOENT);
    assert_int_equal(n, 1 + queued);
    ipc_pool_free(p);
}

/* Freeing a live pool with work in flight kills and reaps every worker. */
static void test_pool_free_live(void **state)
{
    (void)state;
    ipc_pool *p = pool_new(NULL, 2);
    uint64_t id;
    IPCT_OK(ipc_pool_submit(p, "pause", 5, &id));
    IPCT_OK(ipc_pool_submit(p, "echo:x", 6, &id));
    ipc_pool_free(p);
}

static void test_pool_args(void **state)
{
    (void)state;
    ipc_pool *p = NULL;
    struct ipc_pool_options o = {.workers = 1};
    assert_int_equal(ipc_pool_new(NULL, task_fn, NULL, &o), -EINVAL);
    assert_int_equal(ipc_pool_new(&p, NULL, NULL, &o), -EINVAL);
    o.workers = IPC_POOL_MAX_WORKERS + 1;
    assert_int_equal(ipc_pool_new(&p, task_fn, NULL, &o), -EINVAL);
    o = (struct ipc_pool_options){.workers = 1, .max_in = (size_t)IPC_POOL_MAX_BYTES + 1};
    assert_int_equal(ipc_pool_new(&p, task_fn, NULL, &o), -EINVAL);
    o = (struct ipc_pool_options){.workers = 1, .max_out = SIZE_MAX};
    assert_int_equal(ipc_pool_new(&p, task_fn, NULL, &o), -EINVAL);
    o = (struct ipc_pool_options){.workers = 1, .flags = 1};
    assert_int_equal(ipc_pool_new(&p, task_fn, NULL, &o), -EINVAL);
    assert_null(p);

    o = (struct ipc_pool_options){.workers = 1, .max_in = 16, .max_out = 16, .max_pending = 3};
    IPCT_OK(ipc_pool_new(&p, task_fn, NULL, &o));
    uint64_t id;
    struct ipc_pool_result r;
    char big[17] = {0};
    assert_int_equal(ipc_pool_submit(NULL, "x", 1, &id), -EINVAL);
    assert_int_equal(ipc_pool_submit(p, "x", 1, NULL), -EINVAL);
    assert_int_equal(ipc_pool_submit(p, NULL, 1, &id), -EINVAL);
    assert_int_equal(ipc_pool_submit(p, big, sizeof(big), &id), -EMSGSIZE);
    assert_int_equal(ipc_pool_collect(NULL, 0, &r), -EINVAL);
    assert_int_equal(ipc_pool_collect(p, 0, NULL), -EINVAL);
    assert_int_equal(ipc_pool_collect(p, -2, &r), -EINVAL);
    assert_int_equal(ipc_pool_collect(p, 0, &r), -ENOENT);
    struct ipc_pool_buf in[2] = {{"echo:a", 6}, {big, sizeof(big)}};
    struct ipc_pool_result res[2];
    assert_int_equal(ipc_pool_map(NULL, in, 2, res), -EINVAL);
    assert_int_equal(ipc_pool_map(p, NULL, 2, res), -EINVAL);
    assert_int_equal(ipc_pool_map(p, in, 2, NULL), -EINVAL);
    assert_int_equal(ipc_pool_map(p, in, 2, res), -EMSGSIZE);
    IPCT_OK(ipc_pool_map(p, in, 0, res));
    IPCT_OK(ipc_pool_map(p, in, 1, res));
    assert_int_equal(res[0].status, 0);
    assert_memory_equal(res[0].data, "a", 1);
    ipc_pool_result_free(&res[0]);
    /* A zero-length input is a valid task (here: an unknown command). */
    IPCT_OK(ipc_pool_submit(p, NULL, 0, &id));
    IPCT_OK(ipc_pool_collect(p, 10000, &r));
    assert_int_equal(r.status, -EINVAL);
    ipc_pool_result_free(&r);
    /* Backpressure: max_pending submitted-but-uncollected tasks. */
    for (int i = 0; i < 3; i++)
        IPCT_OK(ipc_pool_submit(p, "echo:z", 6, &id));
    assert_int_equal(ipc_pool_submit(p, "echo:z", 6, &id), -EAGAIN);
    IPCT_OK(ipc_pool_collect(p, 10000, &r));
    ipc_pool_result_free(&r);
    IPCT_OK(ipc_pool_submit(p, "echo:z", 6, &id));
    assert_int_equal(ipc_pool_close(NULL, -1), -EINVAL);
    assert_int_equal(ipc_pool_close(p, -2), -EINVAL);
    assert_int_equal(ipc_pool_terminate(NULL), -EINVAL);
    assert_int_equal(ipc_pool_pids(NULL, NULL, 0), -EINVAL);
    assert_int_equal(ipc_pool_pids(p, NULL, 0), 1);
    ipc_pool_result_free(NULL);
    IPCT_OK(ipc_pool_close(p, -1));
    for (int i = 0; i < 3; i++) {
        IPCT_OK(ipc_pool_collect(p, 0, &r));
        assert_int_equal(r.status, 0);
        ipc_pool_result_free(&r);
    }
    ipc_pool_free(p);
    ipc_pool_free(NULL);
}

/* The stress driver's self-test relies on these faults being real. */
static void test_pool_faults(void **state)
{
    (void)state;
#ifndef IPC_TEST_FAULTS
    skip();
#else
    struct ipc_pool_options o = {.workers = 1, .max_in = 64, .max_out = 64};
    ipc_pool *p = NULL;
    IPCT_OK(ipc_pool_new(&p, task_fn, NULL, &o));
    assert_int_equal(ipc_pool_fault_set(p, (enum ipc_pool_fault)99, 1), -EINVAL);
    assert_int_equal(ipc_pool_fault_set(p, IPC_POOL_FAULT_DUP_RESULT, 0), -EINVAL);
    assert_int_equal(ipc_pool_fault_set(NULL, IPC_POOL_FAULT_NONE, 0), -EINVAL);
    IPCT_OK(ipc_pool_fault_set(p, IPC_POOL_FAULT_DUP_RESULT, 2));
    uint64_t ids[3];
    for (uint64_t i = 0; i < 3; i++)
        IPCT_OK(ipc_pool_submit(p, &i, 8, &ids[i]));
    int count[3] = {0};
    struct ipc_pool_result r;
    int rc;
    while ((rc = ipc_pool_collect(p, 10000, &r)) == 0) {
        count[r.id - ids[0]]++;
        ipc_pool_result_free(&r);
    }
    assert_int_equal(rc, -ENOENT);
    assert_int_equal(count[0] + count[1] + count[2], 4);
    assert_int_equal(count[1], 2);
    IPCT_OK(ipc_pool_close(p, -1));
    ipc_pool_free(p);

    IPCT_OK(ipc_pool_new(&p, task_fn, NULL, &o));
    IPCT_OK(ipc_pool_fault_set(p, IPC_POOL_FAULT_DROP_RESULT, 2));
    for (uint64_t i = 0; i < 3; i++)
        IPCT_OK(ipc_pool_submit(p, &i, 8, &ids[i]));
    int n = 0;
    while ((rc = ipc_pool_collect(p, 10000, &r)) == 0) {
        assert_int_not_equal(r.id, ids[1]);
        n++;
        ipc_pool_result_free(&r);
    }
    assert_int_equal(rc, -ENOENT);
    assert_int_equal(n, 2);
    IPCT_OK(ipc_pool_close(p, -1));
    ipc_pool_free(p);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_process_exit_code),
        IPCT_TEST(test_process_signaled),
        IPCT_TEST(test_process_terminate),
        IPCT_TEST(test_process_join_timeout_then_kill),
        IPCT_TEST(test_process_free_running),
        IPCT_TEST(test_process_args),
        IPCT_TEST(test_pool_map_10000),
        IPCT_TEST(test_pool_submit_collect_ids),
        IPCT_TEST(test_pool_large_payloads),
        IPCT_TEST(test_pool_worker_killed_mid_task),
        IPCT_TEST(test_pool_task_always_kills_worker),
        IPCT_TEST(test_pool_death_with_threads),
        IPCT_TEST(test_pool_close_drains),
        IPCT_TEST(test_pool_timeout_and_terminate),
        IPCT_TEST(test_pool_close_deadline),
        IPCT_TEST(test_pool_terminate_interrupts_close),
        IPCT_TEST(test_pool_free_live),
        IPCT_TEST(test_pool_args),
        IPCT_TEST(test_pool_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
