/* test_ctab.c - the server's shared counter table: exact values, limits,
 * crash consistency when a holder dies at any point, and sharing across fork. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "ipcsrv/ctab.h"
#ifdef IPC_TEST_FAULTS
#include "ipcsrv_test_faults.h"
#endif

static int incr(ipc_ctab *t, const char *k, int64_t d, int64_t *out)
{
    return ipc_ctab_incrby(t, k, strlen(k), d, out);
}

static void test_ctab_basic(void **state)
{
    (void)state;
    ipc_ctab *t = NULL;
    IPCT_OK(ipc_ctab_new(&t, 0));
    assert_int_equal(ipc_ctab_capacity(t), IPC_CTAB_DEFAULT_CAPACITY);
    int64_t v = 0;
    assert_int_equal(ipc_ctab_get(t, "a", 1, &v), -ENOENT);
    assert_int_equal(ipc_ctab_count(t), 0);
    IPCT_OK(incr(t, "a", 1, &v));
    assert_int_equal(v, 1);
    IPCT_OK(incr(t, "a", 1, &v));
    assert_int_equal(v, 2);
    IPCT_OK(incr(t, "b", -1, &v)); /* DECR of a missing key */
    assert_int_equal(v, -1);
    IPCT_OK(ipc_ctab_get(t, "a", 1, &v));
    assert_int_equal(v, 2);
    assert_int_equal(ipc_ctab_count(t), 2);
    /* binary keys, the empty key and a key that is a prefix of another */
    IPCT_OK(ipc_ctab_incrby(t, "a\0b", 3, 7, &v));
    IPCT_OK(ipc_ctab_incrby(t, "", 0, 9, &v));
    IPCT_OK(ipc_ctab_get(t, "a\0b", 3, &v));
    assert_int_equal(v, 7);
    IPCT_OK(ipc_ctab_get(t, NULL, 0, &v));
    assert_int_equal(v, 9);
    IPCT_OK(ipc_ctab_get(t, "a", 1, &v));
    assert_int_equal(v, 2);
    assert_int_equal(ipc_ctab_count(t), 4);

    assert_int_equal(ipc_ctab_del(t, "a", 1), 1);
    assert_int_equal(ipc_ctab_del(t, "a", 1), 0);
    assert_int_equal(ipc_ctab_get(t, "a", 1, &v), -ENOENT);
    assert_int_equal(ipc_ctab_count(t), 3);
    IPCT_OK(incr(t, "a", 5, &v)); /* recreated from 0 */
    assert_int_equal(v, 5);

    /* bad arguments */
    assert_int_equal(ipc_ctab_incrby(NULL, "a", 1, 1, &v), -EINVAL);
    assert_int_equal(ipc_ctab_incrby(t, NULL, 1, 1, &v), -EINVAL);
    assert_int_equal(ipc_ctab_get(t, "a", 1, NULL), -EINVAL);
    assert_int_equal(ipc_ctab_new(&t, IPC_CTAB_MAX_CAPACITY + 1), -EINVAL);
    assert_null(t);
    ipc_ctab_free(NULL);
}

static void test_ctab_overflow_and_long_keys(void **state)
{
    (void)state;
    ipc_ctab *t = NULL;
    IPCT_OK(ipc_ctab_new(&t, 16));
    int64_t v;
    IPCT_OK(incr(t, "max", INT64_MAX, &v));
    assert_int_equal(incr(t, "max", 1, &v), -EOVERFLOW);
    IPCT_OK(ipc_ctab_get(t, "max", 3, &v));
    assert_int_equal(v, INT64_MAX);
    IPCT_OK(incr(t, "min", INT64_MIN, &v));
    assert_int_equal(incr(t, "min", -1, &v), -EOVERFLOW);
    IPCT_OK(ipc_ctab_get(t, "min", 3, &v));
    assert_int_equal(v, INT64_MIN);
    IPCT_OK(incr(t, "min", INT64_MAX, &v));
    assert_int_equal(v, -1);

    char key[IPC_CTAB_KEY_MAX + 1];
    memset(key, 'k', sizeof(key));
    IPCT_OK(ipc_ctab_incrby(t, key, IPC_CTAB_KEY_MAX, 3, &v));
    IPCT_OK(ipc_ctab_get(t, key, IPC_CTAB_KEY_MAX, &v));
    assert_int_equal(v, 3);
    assert_int_equal(ipc_ctab_incrby(t, key, IPC_CTAB_KEY_MAX + 1, 1, &v), -E2BIG);
    assert_int_equal(ipc_ctab_get(t, key, IPC_CTAB_KEY_MAX + 1, &v), -E2BIG);
    assert_int_equal(ipc_ctab_del(t, key, IPC_CTAB_KEY_MAX + 1), -E2BIG);
    assert_int_equal(ipc_ctab_count(t), 3);
    ipc_ctab_free(t);
}

static void test_ctab_full(void **state)
{
    (void)state;
    ipc_ctab *t = NULL;
    IPCT_OK(ipc_ctab_new(&t, 16));
    char k[16];
    int64_t v;
    for (int i = 0; i < 16; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        IPCT_OK(incr(t, k, i, &v));
    }
    assert_int_equal(incr(t, "one-more", 1, &v), -ENOSPC);
    assert_int_equal(ipc_ctab_get(t, "one-more", 8, &v), -ENOENT);
    IPCT_OK(incr(t, "k3", 1, &v)); /* existing keys still work */
    assert_int_equal(v, 4);
    assert_int_equal(ipc_ctab_count(t), 16);
    assert_int_equal(ipc_ctab_del(t, "k0", 2), 1);
    IPCT_OK(incr(t, "one-more", 1, &v));
    assert_int_equal(ipc_ctab_count(t), 16);
    ipc_ctab_free(t);
}

static void test_ctab_many_keys_and_churn(void **state)
{
    (void)state;
    ipc_ctab *t = NULL;
    IPCT_OK(ipc_ctab_new(&t, 1024));
    char k[32];
    int64_t v;
    /* 1024 keys in 2048 slots: plenty of probe collisions */
    for (int i = 0; i < 1024; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        IPCT_OK(incr(t, k, i * 3, &v));
    }
    assert_int_equal(incr(t, "overflow-key", 1, &v), -ENOSPC);
    for (int i = 0; i < 1024; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        IPCT_OK(ipc_ctab_get(t, k, strlen(k), &v));
        assert_int_equal(v, i * 3);
    }
    /* deleting every other key must not cut the probe chains of the rest */
    for (int i = 0; i < 1024; i += 2) {
        snprintf(k, sizeof(k), "key:%d", i);
        assert_int_equal(ipc_ctab_del(t, k, strlen(k)), 1);
    }
    assert_int_equal(ipc_ctab_count(t), 512);
    for (int i = 0; i < 1024; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        int rc = ipc_ctab_get(t, k, strlen(k), &v);
        if (i % 2 == 0) {
            assert_int_equal(rc, -ENOENT);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(v, i * 3);
        }
    }
    /* churn: insert new keys and delete old ones, far more than the slot count,
     * so tombstones pile up and force rebuilds */
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "churn:%d", i);
        IPCT_OK(incr(t, k, i, &v));
        if (i >= 100) {
            snprintf(k, sizeof(k), "churn:%d", i - 100);
            assert_int_equal(ipc_ctab_del(t, k, strlen(k)), 1);
        }
    }
    assert_int_equal(ipc_ctab_count(t), 512 + 100);
    for (int i = 19900; i < 20000; i++) {
        snprintf(k, sizeof(k), "churn:%d", i);
        IPCT_OK(ipc_ctab_get(t, k, strlen(k), &v));
        assert_int_equal(v, i);
    }
    for (int i = 1; i < 1024; i += 2) {
        snprintf(k, sizeof(k), "key:%d", i);
        IPCT_OK(ipc_ctab_get(t, k, strlen(k), &v));
        assert_int_equal(v, i * 3);
    }
    ipc_ctab_free(t);
}

static int child_ctab(void *arg, int idx)
{
    ipc_ctab *t = arg;
    char own[16];
    snprintf(own, sizeof(own), "own:%d", idx);
    for (int i = 0; i < 5000; i++) {
        if (ipc_ctab_incrby(t, "shared", 6, 1, NULL) != 0)
            return 1;
        if (ipc_ctab_incrby(t, own, strlen(own), 2, NULL) != 0)
            return 2;
    }
    return 0;
}

static void test_ctab_across_fork(void **state)
{
    (void)state;
    ipc_ctab *t = NULL;
    IPCT_OK(ipc_ctab_new(&t, 64));
    ipct_run_children(4, child_ctab, t);
    int64_t v;
    IPCT_OK(ipc_ctab_get(t, "shared", 6, &v));
    assert_int_equal(v, 4 * 5000);
    for (int i = 0; i < 4; i++) {
        char own[16];
        snprintf(own, sizeof(own), "own:%d", i);
        IPCT_OK(ipc_ctab_get(t, own, strlen(own), &v));
        assert_int_equal(v, 2 * 5000);
    }
    assert_int_equal(ipc_ctab_count(t), 5);
    ipc_ctab_free(t);
}

static int hold_ctab(void *arg)
{
    return ipc_ctab_lock(arg);
}

static void test_ctab_owner_death(void **state)
{
    (void)state;
    ipc_ctab *t = NULL;
    IPCT_OK(ipc_ctab_new(&t, 64));
    int64_t v;
    IPCT_OK(incr(t, "x", 10, &v));
    ipct_kill_while_holding(hold_ctab, t);
    assert_int_equal(incr(t, "x", 1, &v), IPC_EOWNERDEAD); /* recovered: still a success */
    assert_int_equal(v, 11);
    assert_int_equal(ipc_ctab_recoveries(t), 1);
    IPCT_OK(incr(t, "x", 1, &v));
    assert_int_equal(v, 12);
    ipct_run_children(2, child_ctab, t);
    IPCT_OK(ipc_ctab_get(t, "shared", 6, &v));
    assert_int_equal(v, 2 * 5000);
    assert_int_equal(ipc_ctab_count(t), 4);
    ipc_ctab_free(t);
}

static void test_ctab_death_mid_insert(void **state)
{
    (void)state;
#ifndef IPC_TEST_FAULTS
    skip();
#else
    ipc_ctab *t = NULL;
    IPCT_OK(ipc_ctab_new(&t, 64));
    int64_t v;
    IPCT_OK(incr(t, "old", 1, &v));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (ipc_ctab_fault_die_mid_insert(t) != 0)
            ipc__exit_child(42);
        int rc = ipc_ctab_incrby(t, "new", 3, 5, NULL);
        ipc__exit_child(rc == 0 ? 1 : 2); /* must not be reached */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    /* The half-written insert is invisible and the table is recovered. */
    assert_int_equal(ipc_ctab_count(t), 1);
    assert_int_equal(ipc_ctab_recoveries(t), 1);
    assert_int_equal(ipc_ctab_get(t, "new", 3, &v), -ENOENT);
    IPCT_OK(incr(t, "new", 2, &v));
    assert_int_equal(v, 2);
    IPCT_OK(ipc_ctab_get(t, "old", 3, &v));
    assert_int_equal(v, 1);
    assert_int_equal(ipc_ctab_count(t), 2);
    ipc_ctab_free(t);
#endif
}

static int relock_ctab(void *arg)
{
    ipc_ctab *t = arg;
    if (ipc_ctab_lock(t) != 0)
        return 1;
    if (ipc_ctab_lock(t) != -EDEADLK)
        return 2;
    return ipc_ctab_unlock(t) == 0 ? 0 : 3;
}

/* Regression: the robust mutex was of the default type, so a holder locking
 * again blocked forever instead of getting the documented -EDEADLK. */
static void test_ctab_relock_is_edeadlk(void **state)
{
    (void)state;
    ipc_ctab *t = NULL;
    IPCT_OK(ipc_ctab_new(&t, 8));
    assert_int_equal(ipct_run_bounded(relock_ctab, t, 10000), 0);
    int64_t v;
    IPCT_OK(incr(t, "k", 2, &v));
    assert_int_equal(v, 2);
    ipc_ctab_free(t);
}

/* Regression: inserting the empty key passed as (NULL, 0), which the header
 * allows, called memcpy with a NULL source (UB; trapped by UBSan). */
static void test_ctab_null_empty_key(void **state)
{
    (void)state;
    ipc_ctab *t = NULL;
    IPCT_OK(ipc_ctab_new(&t, 8));
    int64_t v = 0;
    IPCT_OK(ipc_ctab_incrby(t, NULL, 0, 4, &v));
    assert_int_equal(v, 4);
    IPCT_OK(ipc_ctab_incrby(t, "", 0, 1, &v)); /* same key */
    assert_int_equal(v, 5);
    assert_int_equal(ipc_ctab_count(t), 1);
    assert_int_equal(ipc_ctab_del(t, NULL, 0), 1);
    assert_int_equal(ipc_ctab_count(t), 0);
    ipc_ctab_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_ctab_basic),
        IPCT_TEST(test_ctab_overflow_and_long_keys),
        IPCT_TEST(test_ctab_full),
        IPCT_TEST(test_ctab_many_keys_and_churn),
        IPCT_TEST(test_ctab_across_fork),
        IPCT_TEST(test_ctab_owner_death),
        IPCT_TEST(test_ctab_death_mid_insert),
        IPCT_TEST(test_ctab_relock_is_edeadlk),
        IPCT_TEST(test_ctab_null_empty_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
