/* test_fault_regressions.c - the bugs the exhaustive fault sweep
 * (harnesses/faultsweep.c) found in libipc, each replayed with the exact fault
 * schedule that revealed it. Every test failed before its fix. Only meaningful
 * with IPC_FAULTS: without it every test is skipped. */
#include "testutil.h"

#if !defined(IPC_FAULTS) || !IPC_FAULTS

static void test_skipped(void **state)
{
    (void)state;
    skip(); /* a build without the seam cannot replay a fault schedule */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_skipped)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

#include <sys/stat.h>

#include "ipc/faults.h"
#include "ipc/pool.h"
#include "ipc/proc.h"
#include "ipc/redir.h"
#include "ipc/run.h"
#include "ipc/shm.h"
#include "ipc/sig.h"

/* Each test counts the injections of its own schedule. */
static void arm(const char *text)
{
    ipc_faults_reset_stats();
    ipct_arm_faults(text);
}

static uint64_t injected(void)
{
    struct ipc_fault_stats st;
    ipc_faults_stats(&st);
    return st.total_injected;
}

/* faultsweep --scenario run_capture --schedule open:1:EINTR: ipc_run's open of
 * /dev/null (the default stdin) returned -EINTR, which libipc promises to retry. */
static void test_run_devnull_open_eintr(void **state)
{
    (void)state;
    char *const argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    struct ipc_run_result res;
    arm("open:1:EINTR");
    int rc = ipc_run(argv, NULL, &res);
    ipc_faults_disarm();
    assert_int_equal(injected(), 1);
    assert_int_equal(rc, 0);
    assert_true(res.status.exited);
    assert_int_equal(res.status.code, 3);
    ipc_run_result_free(&res);
}

/* faultsweep --scenario run_stdin --schedule dup2:6:EINTR: the stdin_path child's
 * dup2 of the opened file onto fd 0 was not retried, so ipc_run returned -EINTR;
 * and EBUSY (a dup2 racing an open in another thread) was retried nowhere. The
 * child's dup2s are the capture pipes' (1, 2) and then the file's (0). */
static void test_run_stdin_path_dup2_retried(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ipc-test-faultreg-%d", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "from file\n", 10), 10);
    close(fd);
    char *const cat[] = {"cat", NULL};
    struct ipc_run_options o = {.flags = IPC_RUN_F_PATH, .stdin_path = path};
    static const char *const schedules[] = {"dup2:1:EINTR", "dup2:2:EINTR", "dup2:3:EINTR",
                                            "dup2:1:EBUSY", "dup2:2:EBUSY", "dup2:3:EBUSY"};
    for (size_t i = 0; i < sizeof(schedules) / sizeof(schedules[0]); i++) {
        struct ipc_run_result res;
        arm(schedules[i]);
        int rc = ipc_run(cat, &o, &res);
        ipc_faults_disarm();
        if (rc != 0)
            fail_msg("%s: ipc_run returned %d (%s)", schedules[i], rc, ipc_errname(rc));
        assert_int_equal(injected(), 1);
        assert_int_equal(res.out_len, 10);
        assert_memory_equal(res.out, "from file\n", 10);
        ipc_run_result_free(&res);
    }
    unlink(path);
}

/* faultsweep --scenario shm --schedule ftruncate:1:EINTR: ipc_shm_new_memfd (and
 * ipc_shm_new_named) returned -EINTR from ftruncate instead of retrying. */
static void test_shm_ftruncate_eintr(void **state)
{
    (void)state;
    ipc_shm *r;
    arm("ftruncate:1:EINTR");
    int rc = ipc_shm_new_memfd(&r, "faultreg", 8192);
    ipc_faults_disarm();
    assert_int_equal(injected(), 1);
    assert_int_equal(rc, 0);
    assert_int_equal(ipc_shm_size(r), 8192);
    ipc_shm_free(r);
    char name[64];
    snprintf(name, sizeof(name), "/ipc-test-faultreg-%d", (int)getpid());
    arm("ftruncate:1:EINTR");
    rc = ipc_shm_new_named(&r, name, 4096, 0);
    ipc_faults_disarm();
    assert_int_equal(rc, 0);
    ipc_shm_free(r);
}

/* faultsweep --scenario redir --schedule dup2:9:EBUSY: a dup2 of ipc_redir_restore
 * failing with EBUSY made it close the saved copy anyway: the caller's original
 * stdin/stdout/stderr was lost for good. */
static void test_redir_restore_ebusy(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ipc-test-faultreg-redir-%d", (int)getpid());
    struct stat before[3], after[3];
    for (int t = 0; t < 3; t++)
        assert_int_equal(fstat(t, &before[t]), 0);
    ipc_redir *r;
    assert_int_equal(ipc_redir_new(&r), 0);
    assert_int_equal(ipc_redir_file(r, 1, path, IPC_REDIR_TRUNC), 0);
    assert_int_equal(ipc_redir_same(r, 2, 1), 0);
    for (int nth = 1; nth <= 3; nth++) {
        struct ipc_redir_saved sv;
        assert_int_equal(ipc_redir_apply(r, &sv), 0);
        char sched[32];
        snprintf(sched, sizeof(sched), "dup2:%d:EBUSY", nth);
        arm(sched);
        int rc = ipc_redir_restore(&sv);
        ipc_faults_disarm();
        assert_int_equal(rc, 0);
        for (int t = 0; t < 3; t++) {
            assert_int_equal(fstat(t, &after[t]), 0);
            assert_int_equal(after[t].st_ino, before[t].st_ino);
            assert_int_equal(after[t].st_dev, before[t].st_dev);
        }
    }
    ipc_redir_free(r);
    unlink(path);
}

/* faultsweep --scenario proc_spawn --schedule read:7:short-one: a short read of the
 * child's 4-byte exec error record counted as "exec'd": ipc_proc_spawn of a
 * missing program returned 0 (the child then exited 127). The read happens while
 * the forked child has not written yet, so the fault applies in most attempts;
 * every attempt that got it must still report -ENOENT. */
static void test_spawn_error_record_short_read(void **state)
{
    (void)state;
    char *const bad[] = {"/nonexistent/ipc-test-faultreg", NULL};
    struct ipc_proc_options o = {.method = IPC_PROC_FORK};
    int hit = 0;
    for (int i = 0; i < 20; i++) {
        ipc_proc *p = NULL;
        arm("read:1:short-one");
        int rc = ipc_proc_spawn(&p, bad, &o);
        ipc_faults_disarm();
        if (injected())
            hit++;
        if (rc == 0)
            ipc_proc_free(p);
        assert_int_equal(rc, -ENOENT);
    }
    assert_true(hit > 0);
}

static int reverse_fn(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len,
                      void *arg)
{
    (void)arg;
    if (in_len > out_cap)
        return -EOVERFLOW;
    for (size_t i = 0; i < in_len; i++)
        ((char *)out)[i] = ((const char *)in)[in_len - 1 - i];
    *out_len = in_len;
    return 0;
}

/* faultsweep --scenario pool_stop --schedule fork:5:EAGAIN: the lone worker of a
 * pool was dead, its replacement could not be forked, so the queued task was
 * completed with fork's error; but the collector then polled a set with no
 * worker in it for its whole timeout (forever with -1) instead of returning the
 * result it already had. */
static void test_pool_failed_replacement_no_wait(void **state)
{
    (void)state;
    struct ipc_pool_options o = {.workers = 1, .max_in = 64, .max_out = 64};
    ipc_pool *p;
    assert_int_equal(ipc_pool_new(&p, reverse_fn, NULL, &o), 0);
    pid_t w;
    assert_int_equal(ipc_pool_pids(p, &w, 1), 1);
    assert_int_equal(kill(w, SIGKILL), 0);
    siginfo_t si;
    while (waitid(P_PID, (id_t)w, &si, WEXITED | WNOWAIT) < 0)
        assert_int_equal(errno, EINTR);
    uint64_t id;
    /* the write to the dead worker fails: it is replaced in the next collect */
    assert_int_equal(ipc_pool_submit(p, "abc", 3, &id), 0);
    arm("fork:1:EAGAIN");
    int64_t t0 = ipc__now_ms();
    struct ipc_pool_result r;
    int rc = ipc_pool_collect(p, 4000, &r);
    int64_t took = ipc__now_ms() - t0;
    ipc_faults_disarm();
    assert_int_equal(injected(), 1);
    assert_int_equal(rc, 0);
    assert_int_equal(r.id, id);
    assert_int_equal(r.status, -EAGAIN);
    ipc_pool_result_free(&r);
    if (took >= 2000)
        fail_msg("collect returned its ready result after %lld ms", (long long)took);
    ipc_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_run_devnull_open_eintr),
        IPCT_TEST(test_run_stdin_path_dup2_retried),
        IPCT_TEST(test_shm_ftruncate_eintr),
        IPCT_TEST(test_redir_restore_ebusy),
        IPCT_TEST(test_spawn_error_record_short_read),
        IPCT_TEST(test_pool_failed_replacement_no_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
