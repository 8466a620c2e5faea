/* test_pool_threads.c - one pool shared by several threads: concurrent submit,
 * collect and map. The pool is created (its workers forked) before any thread
 * starts, as pool.h requires. Meant to run clean under ThreadSanitizer.
 */
// ctest-labels: tsan
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/pool.h"
#include "testutil.h"

enum { THREADS = 4, PER_THREAD = 1500, MAP_N = 1000 };
#define TOTAL ((size_t)THREADS * PER_THREAD)

/* Result = input * 3 + 1 (8-byte little-endian numbers). */
static int task_fn(const void *in, size_t len, void *out, size_t cap, size_t *out_len, void *arg)
{
    (void)arg;
    uint64_t v;
    if (len != sizeof(v) || cap < sizeof(v))
        return -EINVAL;
    memcpy(&v, in, sizeof(v));
    v = v * 3 + 1;
    memcpy(out, &v, sizeof(v));
    *out_len = sizeof(v);
    return 0;
}

struct shared {
    ipc_pool *pool;
    /* Indexed by value: how often its result was collected, by anyone. */
    atomic_uint seen[TOTAL];
    atomic_size_t collected;
    atomic_uint errors;
};

struct thread_arg {
    struct shared *s;
    unsigned index;
};

static void record(struct shared *s, const struct ipc_pool_result *r)
{
    uint64_t out;
    if (r->status != 0 || r->len != sizeof(out)) {
        atomic_fetch_add(&s->errors, 1);
        return;
    }
    memcpy(&out, r->data, sizeof(out));
    uint64_t v = (out - 1) / 3;
    if (out != v * 3 + 1 || v >= TOTAL) {
        atomic_fetch_add(&s->errors, 1);
        return;
    }
    atomic_fetch_add(&s->seen[v], 1);
    atomic_fetch_add(&s->collected, 1);
}

/* Submits its share, interleaving collects; any thread may collect any result, so
 * each keeps collecting until the global count is complete. */
static void *submitter(void *argp)
{
    struct thread_arg *a = argp;
    struct shared *s = a->s;
    for (unsigned i = 0; i < PER_THREAD; i++) {
        uint64_t v = (uint64_t)a->index * PER_THREAD + i, id;
        int rc;
        while ((rc = ipc_pool_submit(s->pool, &v, sizeof(v), &id)) == -EAGAIN) {
            /* Backpressure: make room by collecting (any result will do). */
            struct ipc_pool_result r;
            if (ipc_pool_collect(s->pool, 10, &r) == 0) {
                record(s, &r);
                ipc_pool_result_free(&r);
            }
        }
        if (rc < 0) {
            atomic_fetch_add(&s->errors, 1);
            return NULL;
        }
        if (i % 3 == 2) {
            struct ipc_pool_result r;
            if (ipc_pool_collect(s->pool, 0, &r) == 0) {
                record(s, &r);
                ipc_pool_result_free(&r);
            }
        }
    }
    while (atomic_load(&s->collected) < TOTAL && atomic_load(&s->errors) == 0) {
        struct ipc_pool_result r;
        int rc = ipc_pool_collect(s->pool, 100, &r);
        if (rc == 0) {
            record(s, &r);
            ipc_pool_result_free(&r);
        } else if (rc == -ENOENT) {
            /* Everything outstanding was taken by others (or not yet submitted). */
            sched_yield();
        } else if (rc != -ETIMEDOUT) {
            atomic_fetch_add(&s->errors, 1);
        }
    }
    return NULL;
}

/* A map running alongside: its results must not leak to the collectors and it
 * must not take theirs. */
static void *mapper(void *argp)
{
    struct shared *s = argp;
    uint64_t *vals = calloc(MAP_N, sizeof(*vals));
    struct ipc_pool_buf *in = calloc(MAP_N, sizeof(*in));
    struct ipc_pool_result *res = calloc(MAP_N, sizeof(*res));
    if (!vals || !in || !res) {
        atomic_fetch_add(&s->errors, 1);
        goto out;
    }
    for (size_t i = 0; i < MAP_N; i++) {
        vals[i] = 1000000 + i;
        in[i] = (struct ipc_pool_buf){&vals[i], sizeof(vals[i])};
    }
    if (ipc_pool_map(s->pool, in, MAP_N, res) < 0) {
        atomic_fetch_add(&s->errors, 1);
        goto out;
    }
    for (size_t i = 0; i < MAP_N; i++) {
        uint64_t out;
        if (res[i].status != 0 || res[i].len != 8) {
            atomic_fetch_add(&s->errors, 1);
        } else {
            memcpy(&out, res[i].data, 8);
            if (out != vals[i] * 3 + 1)
                atomic_fetch_add(&s->errors, 1);
        }
        ipc_pool_result_free(&res[i]);
    }
out:
    free(vals);
    free(in);
    free(res);
    return NULL;
}

static void test_pool_threads(void **state)
{
    (void)state;
    struct shared *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    struct ipc_pool_options o = {.workers = 3, .max_in = 64, .max_out = 64, .max_pending = 256};
    IPCT_OK(ipc_pool_new(&s->pool, task_fn, NULL, &o));

    pthread_t th[THREADS + 1];
    struct thread_arg args[THREADS];
    for (unsigned t = 0; t < THREADS; t++) {
        args[t] = (struct thread_arg){s, t};
        assert_int_equal(pthread_create(&th[t], NULL, submitter, &args[t]), 0);
    }
    assert_int_equal(pthread_create(&th[THREADS], NULL, mapper, s), 0);
    for (unsigned t = 0; t <= THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);

    assert_int_equal(atomic_load(&s->errors), 0);
    assert_int_equal(atomic_load(&s->collected), TOTAL);
    for (size_t v = 0; v < TOTAL; v++)
        if (atomic_load(&s->seen[v]) != 1)
            fail_msg("value %zu collected %u times", v, atomic_load(&s->seen[v]));
    struct ipc_pool_result r;
    assert_int_equal(ipc_pool_collect(s->pool, 0, &r), -ENOENT);
    assert_int_equal(ipc_pool_replacements(s->pool), 0);
    IPCT_OK(ipc_pool_close(s->pool, -1));
    ipc_pool_free(s->pool);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_pool_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
