/* test_shm.c - regions, the shared counter and the counter table, across real
 * forked processes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "ipc/shm.h"

/* ---- helpers ---------------------------------------------------------------------- */

static int shm_exists(const char *name)
{
    char path[300];
    snprintf(path, sizeof(path), "/dev/shm%s", name);
    return access(path, F_OK) == 0;
}

static char g_name1[64], g_name2[64];

static int named_setup(void **state)
{
    /* Not "ipc*": the generic leak check counts every /dev/shm/ipc* object on the
     * machine, so these would fail other test executables running in parallel
     * (ctest -j). named_teardown checks these exact names instead. */
    snprintf(g_name1, sizeof(g_name1), "/test-ipc-shm-%d-a", (int)getpid());
    snprintf(g_name2, sizeof(g_name2), "/test-ipc-shm-%d-b", (int)getpid());
    shm_unlink(g_name1);
    shm_unlink(g_name2);
    return ipct_setup(state);
}

/* Removes the test's names even when an assertion aborted the test midway, so
 * one failure leaves nothing in /dev/shm; the leak check then runs as usual. */
static int named_teardown(void **state)
{
    int leaked = 0;
    if (shm_unlink(g_name1) == 0)
        leaked = 1;
    if (shm_unlink(g_name2) == 0)
        leaked = 1;
    int rc = ipct_teardown(state);
    if (leaked)
        fprintf(stderr, "named test left an object in /dev/shm (removed)\n");
    return leaked ? -1 : rc;
}

#define NAMED_TEST(fn) cmocka_unit_test_setup_teardown(fn, named_setup, named_teardown)

/* ---- regions ---------------------------------------------------------------------- */

static int child_write_anon(void *arg, int idx)
{
    volatile uint32_t *p = arg;
    p[idx] = 0xC0DE0000u + (uint32_t)idx;
    return 0;
}

static void test_anon_shared_over_fork(void **state)
{
    (void)state;
    ipc_shm *r = NULL;
    IPCT_OK(ipc_shm_new_anon(&r, 4096));
    assert_int_equal(ipc_shm_kind(r), IPC_SHM_ANON);
    assert_int_equal(ipc_shm_size(r), 4096);
    assert_int_equal(ipc_shm_fd(r), -EBADF);
    uint32_t *p = ipc_shm_base(r);
    assert_non_null(p);
    assert_int_equal(p[0], 0); /* zero-filled */
    ipct_run_children(4, child_write_anon, p);
    for (int i = 0; i < 4; i++)
        assert_int_equal(p[i], 0xC0DE0000u + (uint32_t)i);
    ipc_shm_free(r);
}

static void test_region_bad_args(void **state)
{
    (void)state;
    ipc_shm *r = (ipc_shm *)1;
    assert_int_equal(ipc_shm_new_anon(NULL, 10), -EINVAL);
    assert_int_equal(ipc_shm_new_anon(&r, 0), -EINVAL);
    assert_null(r);
    assert_int_equal(ipc_shm_new_anon(&r, IPC_SHM_MAX_SIZE + 1), -EINVAL);
    assert_int_equal(ipc_shm_new_memfd(&r, "x", 0), -EINVAL);
    assert_int_equal(ipc_shm_map_fd(&r, -1, 0), -EBADF);
    assert_int_equal(ipc_shm_fd(NULL), -EINVAL);
    assert_null(ipc_shm_base(NULL));
    ipc_shm_free(NULL);
    /* a pipe has size 0: not mappable */
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(ipc_shm_map_fd(&r, p[0], 0), -EINVAL);
    close(p[0]);
    close(p[1]);
}

struct memfd_arg {
    int fd;
};

static int child_map_memfd(void *arg, int idx)
{
    (void)idx;
    struct memfd_arg *a = arg;
    ipc_shm *m = NULL;
    /* A fresh mapping made from the fd alone, not the inherited one. */
    if (ipc_shm_map_fd(&m, a->fd, 0) < 0)
        return 1;
    if (ipc_shm_size(m) != 8192)
        return 2;
    char *p = ipc_shm_base(m);
    if (strcmp(p, "from parent") != 0)
        return 3;
    strcpy(p + 4096, "from child");
    ipc_shm_free(m);
    return 0;
}

static void test_memfd_mapped_in_child(void **state)
{
    (void)state;
    ipc_shm *r = NULL;
    IPCT_OK(ipc_shm_new_memfd(&r, "ipc-test", 8192));
    assert_int_equal(ipc_shm_kind(r), IPC_SHM_MEMFD);
    int fd = ipc_shm_fd(r);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    char *p = ipc_shm_base(r);
    strcpy(p, "from parent");
    struct memfd_arg a = {fd};
    ipct_run_children(1, child_map_memfd, &a);
    assert_string_equal(p + 4096, "from child");

    /* A second mapping in this process sees the same bytes; the caller's fd
     * stays its own. */
    ipc_shm *m = NULL;
    IPCT_OK(ipc_shm_map_fd(&m, fd, 0));
    assert_int_equal(ipc_shm_kind(m), IPC_SHM_FROM_FD);
    assert_true(ipc_shm_fd(m) != fd);
    assert_string_equal((char *)ipc_shm_base(m) + 4096, "from child");
    ipc_shm_free(m);
    assert_int_equal(ipc_shm_map_fd(&m, fd, 8193), -EINVAL);
    assert_null(m);
    IPCT_OK(ipc_shm_map_fd(&m, fd, 4096));
    assert_int_equal(ipc_shm_size(m), 4096);
    ipc_shm_free(m);
    ipc_shm_free(r);
}

static void test_named_exclusive_and_unlinked(void **state)
{
    (void)state;
    ipc_shm *a = NULL, *b = NULL;
    IPCT_OK(ipc_shm_new_named(&a, g_name1, 4096, 0));
    assert_true(shm_exists(g_name1));
    struct stat st;
    char path[300];
    snprintf(path, sizeof(path), "/dev/shm%s", g_name1);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 4096);

    /* never clobbered */
    assert_int_equal(ipc_shm_new_named(&b, g_name1, 4096, 0), -EEXIST);
    assert_null(b);

    /* opened on request: same memory, not the creator */
    strcpy(ipc_shm_base(a), "shared");
    IPCT_OK(ipc_shm_new_named(&b, g_name1, 0, IPC_SHM_OPEN_EXISTING));
    assert_int_equal(ipc_shm_size(b), 4096);
    assert_string_equal(ipc_shm_base(b), "shared");
    ipc_shm_free(b);
    assert_int_equal(ipc_shm_new_named(&b, g_name1, 8192, IPC_SHM_OPEN_EXISTING), -EINVAL);
    IPCT_OK(ipc_shm_new_named(&b, g_name1, 0, IPC_SHM_OPEN_EXISTING));
    ipc_shm_free(b); /* not the creator: the name stays */
    assert_true(shm_exists(g_name1));

    ipc_shm_free(a);
    assert_false(shm_exists(g_name1));

    /* opening a missing name without size */
    assert_int_equal(ipc_shm_new_named(&b, g_name2, 0, IPC_SHM_OPEN_EXISTING), -ENOENT);
    /* OPEN_EXISTING on a missing name with a size creates it (and owns it) */
    IPCT_OK(ipc_shm_new_named(&b, g_name2, 100, IPC_SHM_OPEN_EXISTING));
    assert_true(shm_exists(g_name2));
    ipc_shm_free(b);
    assert_false(shm_exists(g_name2));
}

static int child_free_named(void *arg, int idx)
{
    (void)idx;
    ipc_shm_free(arg); /* a child's free must not unlink the parent's object */
    return 0;
}

static void test_named_child_free_keeps_name(void **state)
{
    (void)state;
    ipc_shm *a = NULL;
    IPCT_OK(ipc_shm_new_named(&a, g_name1, 4096, 0));
    ipct_run_children(1, child_free_named, a);
    assert_true(shm_exists(g_name1));
    ipc_shm_free(a);
    assert_false(shm_exists(g_name1));
}

static void test_named_bad_names(void **state)
{
    (void)state;
    ipc_shm *r = NULL;
    char longname[IPC_SHM_NAME_MAX + 2];
    memset(longname, 'x', sizeof(longname));
    longname[0] = '/';
    longname[sizeof(longname) - 1] = '\0';
    const char *bad[] = {"ipcnoslash", "/", "/ipc/sub", "", "//", "/..", longname};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ipc_shm_new_named(&r, bad[i], 4096, 0), -EINVAL);
    assert_int_equal(ipc_shm_new_named(&r, NULL, 4096, 0), -EINVAL);
    assert_int_equal(ipc_shm_new_named(&r, g_name1, 0, 0), -EINVAL);
    assert_int_equal(ipc_shm_new_named(&r, g_name1, 10, 0x80), -EINVAL);
    assert_int_equal(ipc_shm_unlink("bad"), -EINVAL);
    assert_int_equal(ipc_shm_unlink(g_name1), -ENOENT);
    assert_false(shm_exists(g_name1));
}

/* ---- counter ------------------------------------------------------------------------ */

#define PROCS 4
#define INCS  100000

static int child_add(void *arg, int idx)
{
    (void)idx;
    ipc_counter *c = arg;
    for (int i = 0; i < INCS; i++) {
        int rc = ipc_counter_add(c, 1, NULL);
        if (rc < 0 && rc != IPC_EOWNERDEAD)
            return 1;
    }
    return 0;
}

static void counter_exact(enum ipc_lock_kind kind)
{
    ipc_counter *c = NULL;
    IPCT_OK(ipc_counter_new(&c, kind));
    assert_int_equal(ipc_counter_kind(c), kind);
    ipct_run_children(PROCS, child_add, c);
    int64_t v = -1;
    IPCT_OK(ipc_counter_get(c, &v));
    assert_int_equal(v, (int64_t)PROCS * INCS);
    ipc_counter_free(c);
}

static void test_counter_mutex_exact(void **state)
{
    (void)state;
    counter_exact(IPC_LOCK_MUTEX);
}

static void test_counter_sem_exact(void **state)
{
    (void)state;
    counter_exact(IPC_LOCK_SEM);
}

static void test_counter_atomic_exact(void **state)
{
    (void)state;
    counter_exact(IPC_LOCK_ATOMIC);
}

static void test_counter_none_reports(void **state)
{
    (void)state;
    ipc_counter *c = NULL;
    IPCT_OK(ipc_counter_new(&c, IPC_LOCK_NONE));
    ipct_run_children(PROCS, child_add, c);
    int64_t v = -1;
    IPCT_OK(ipc_counter_get(c, &v));
    int64_t expected = (int64_t)PROCS * INCS;
    print_message("none: expected %" PRId64 " got %" PRId64 " lost %" PRId64 "\n", expected, v,
                  expected - v);
    assert_true(v > 0 && v <= expected);
    ipc_counter_free(c);
}

static void test_counter_in_place_and_args(void **state)
{
    (void)state;
    ipc_shm *r = NULL;
    IPCT_OK(ipc_shm_new_anon(&r, 4096));
    ipc_counter *c = ipc_shm_base(r);
    assert_int_equal(ipc_counter_init(c, 0), -EINVAL);
    assert_int_equal(ipc_counter_init(c, 99), -EINVAL);
    assert_int_equal(ipc_counter_init((ipc_counter *)((char *)c + 8), IPC_LOCK_MUTEX), -EINVAL);
    assert_int_equal(ipc_counter_init(NULL, IPC_LOCK_MUTEX), -EINVAL);
    IPCT_OK(ipc_counter_init(c, IPC_LOCK_SEM));
    int64_t v;
    IPCT_OK(ipc_counter_add(c, 41, &v));
    assert_int_equal(v, 41);
    IPCT_OK(ipc_counter_add(c, 1, &v));
    assert_int_equal(v, 42);
    IPCT_OK(ipc_counter_add(c, INT64_MAX - 42, &v));
    assert_int_equal(v, INT64_MAX);
    assert_int_equal(ipc_counter_add(c, 1, &v), -EOVERFLOW);
    IPCT_OK(ipc_counter_get(c, &v));
    assert_int_equal(v, INT64_MAX);
    IPCT_OK(ipc_counter_lock(c));
    IPCT_OK(ipc_counter_unlock(c));
    ipc_counter_destroy(c);
    assert_int_equal(ipc_counter_add(c, 1, &v), -EINVAL); /* destroyed */

    IPCT_OK(ipc_counter_init(c, IPC_LOCK_ATOMIC));
    assert_int_equal(ipc_counter_lock(c), -ENOTSUP);
    IPCT_OK(ipc_counter_add(c, -5, &v));
    assert_int_equal(v, -5);
    ipc_counter_destroy(c);
    ipc_counter_free(NULL);
    assert_int_equal(ipc_counter_get(NULL, &v), -EINVAL);

    enum ipc_lock_kind k;
    IPCT_OK(ipc_lock_kind_parse("sem", &k));
    assert_int_equal(k, IPC_LOCK_SEM);
    assert_int_equal(ipc_lock_kind_parse("spin", &k), -EINVAL);
    assert_string_equal(ipc_lock_kind_name(IPC_LOCK_NONE), "none");
    ipc_shm_free(r);
}

static int hold_counter(void *arg)
{
    return ipc_counter_lock(arg);
}

static int child_add_small(void *arg, int idx)
{
    (void)idx;
    for (int i = 0; i < 10000; i++)
        if (ipc_counter_add(arg, 1, NULL) != 0)
            return 1;
    return 0;
}

static void test_counter_mutex_owner_death(void **state)
{
    (void)state;
    ipc_counter *c = NULL;
    IPCT_OK(ipc_counter_new(&c, IPC_LOCK_MUTEX));
    int64_t v;
    IPCT_OK(ipc_counter_add(c, 5, &v));
    ipct_kill_while_holding(hold_counter, c);

    v = 0;
    assert_int_equal(ipc_counter_add(c, 1, &v), IPC_EOWNERDEAD);
    assert_int_equal(v, 6); /* the add happened */
    assert_int_equal(ipc_counter_recoveries(c), 1);
    assert_int_equal(ipc_counter_add(c, 1, &v), 0);
    assert_int_equal(v, 7);

    /* still exact under contention afterwards */
    ipct_run_children(2, child_add_small, c);
    IPCT_OK(ipc_counter_get(c, &v));
    assert_int_equal(v, 7 + 2 * 10000);

    /* explicit lock reports the recovery too */
    ipct_kill_while_holding(hold_counter, c);
    assert_int_equal(ipc_counter_lock(c), IPC_EOWNERDEAD);
    IPCT_OK(ipc_counter_unlock(c));
    assert_int_equal(ipc_counter_unlock(c), -EPERM);
    assert_int_equal(ipc_counter_recoveries(c), 2);
    ipc_counter_free(c);
}

/* Exit 0 when a second lock by the holder reports -EDEADLK, as documented. */
static int relock_counter(void *arg)
{
    ipc_counter *c = arg;
    if (ipc_counter_lock(c) != 0)
        return 1;
    if (ipc_counter_lock(c) != -EDEADLK)
        return 2;
    int64_t v;
    if (ipc_counter_add(c, 1, &v) != -EDEADLK) /* misuse: an error, not a hang */
        return 3;
    return ipc_counter_unlock(c) == 0 ? 0 : 4;
}

/* Regression: the robust mutexes were of the default type, so a holder locking
 * again blocked forever instead of getting the documented -EDEADLK. */
static void test_relock_is_edeadlk(void **state)
{
    (void)state;
    ipc_counter *c = NULL;
    IPCT_OK(ipc_counter_new(&c, IPC_LOCK_MUTEX));
    assert_int_equal(ipct_run_bounded(relock_counter, c, 10000), 0);
    int64_t v;
    IPCT_OK(ipc_counter_add(c, 1, &v)); /* the child unlocked: still usable */
    assert_int_equal(v, 1);
    ipc_counter_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_anon_shared_over_fork),
        IPCT_TEST(test_region_bad_args),
        IPCT_TEST(test_memfd_mapped_in_child),
        NAMED_TEST(test_named_exclusive_and_unlinked),
        NAMED_TEST(test_named_child_free_keeps_name),
        NAMED_TEST(test_named_bad_names),
        IPCT_TEST(test_counter_mutex_exact),
        IPCT_TEST(test_counter_sem_exact),
        IPCT_TEST(test_counter_atomic_exact),
        IPCT_TEST(test_counter_none_reports),
        IPCT_TEST(test_counter_in_place_and_args),
        IPCT_TEST(test_counter_mutex_owner_death),
        IPCT_TEST(test_relock_is_edeadlk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
