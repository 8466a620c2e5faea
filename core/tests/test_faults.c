/* test_faults.c - the fault-injection controller (ipc/faults.h) itself: a
 * schedule hits exactly the nth matching call, ANY counts every kind, short
 * classes shorten transfers that libipc then completes, random mode is
 * reproducible and honours rates 0 and 1, forked children count and fail, the
 * schedule parser names the bad part, and the statistics see every call site.
 * Only meaningful with IPC_FAULTS: without it every test is skipped. */
#include "testutil.h"

#if !defined(IPC_FAULTS) || !IPC_FAULTS

static void test_skipped(void **state)
{
    (void)state;
    skip(); /* a build without the seam has no controller to test */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_skipped)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

#include "ipc/faults.h"
#include "ipc/pipe.h"
#include "ipc_base.h"

static void test_schedule_nth_exact(void **state)
{
    (void)state;
    ipct_arm_faults("pipe2:3:EMFILE");
    struct ipc_pipe p[4];
    int rc[4];
    for (int i = 0; i < 4; i++)
        rc[i] = ipc_pipe_open(&p[i], 0);
    assert_int_equal(ipc_faults_calls_since_arm(), 4);
    ipc_faults_disarm();
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], 0);
    assert_int_equal(rc[2], -EMFILE);
    assert_int_equal(p[2].rd, -1);
    assert_int_equal(rc[3], 0);
    for (int i = 0; i < 4; i++)
        ipc_pipe_close(&p[i]);
}

static void test_any_versus_kind(void **state)
{
    (void)state;
    struct ipc_pipe p, q;
    /* any: the second call whatever its kind (pipe2 here, then fcntl) */
    ipct_arm_faults("any:2:EPERM");
    assert_int_equal(ipc_pipe_open(&p, 0), 0);
    assert_int_equal(ipc_pipe_set_capacity(p.rd, 4096), -EPERM);
    assert_true(ipc_pipe_set_capacity(p.rd, 4096) > 0);
    ipc_faults_disarm();
    /* a kind: calls of other kinds do not count */
    ipct_arm_faults("fcntl:1:EBUSY");
    assert_int_equal(ipc_pipe_open(&q, 0), 0);
    assert_int_equal(ipc_pipe_set_capacity(q.rd, 4096), -EBUSY);
    assert_true(ipc_pipe_set_capacity(q.rd, 4096) > 0);
    ipc_faults_disarm();
    /* an errno the call cannot return there is not injected: F_GETPIPE_SZ on an
     * open pipe cannot fail, F_SETPIPE_SZ cannot fail with EMFILE */
    ipct_arm_faults("fcntl:1:EPERM,fcntl:2:EMFILE");
    assert_true(ipc_pipe_capacity(q.rd) > 0);
    assert_true(ipc_pipe_set_capacity(q.rd, 4096) > 0);
    ipc_faults_disarm();
    /* two steps on the same call: the first one that matches wins */
    ipct_arm_faults("pipe2:1:EMFILE,any:1:ENFILE");
    struct ipc_pipe r;
    assert_int_equal(ipc_pipe_open(&r, 0), -EMFILE);
    ipc_faults_disarm();
    ipc_pipe_close(&p);
    ipc_pipe_close(&q);
}

static void test_short_writes_are_completed(void **state)
{
    (void)state;
    /* more than PIPE_BUF: a write of at most PIPE_BUF bytes to a pipe is atomic,
     * so the seam never shortens it */
    static uint8_t out[10000], in[10100];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 7 + 3);
    struct ipc_pipe p;
    assert_int_equal(ipc_pipe_open(&p, 0), 0);
    ipc_faults_reset_stats();
    ipct_arm_faults("write:1:short-one,write:2:short-half,write:3:short-but-one");
    assert_int_equal(ipc_pipe_write_all(p.wr, out, sizeof(out), 0), (ssize_t)sizeof(out));
    ipc_faults_disarm();
    struct ipc_fault_stats st;
    ipc_faults_stats(&st);
    assert_int_equal(st.injected[IPC_FAULT_write], 3);
    /* 1, then 4999 (half of 9999), then 4999 (5000 - 1), then the last byte */
    assert_int_equal(st.calls[IPC_FAULT_write], 4);
    assert_int_equal(ipc_pipe_use_read_end(&p), p.rd);
    ipct_arm_faults("read:1:short-half,read:2:EINTR");
    assert_int_equal(ipc_pipe_read_full(p.rd, in, sizeof(in)), (ssize_t)sizeof(out));
    ipc_faults_disarm();
    assert_memory_equal(in, out, sizeof(out));
    ipc_pipe_close(&p);
    /* nor is a short write of at most PIPE_BUF bytes, nor EAGAIN on a blocking
     * pipe, nor EIO on a pipe: passed through, not counted as injected */
    assert_int_equal(ipc_pipe_open(&p, 0), 0);
    ipc_faults_reset_stats();
    ipct_arm_faults("write:1:short-half,write:2:EAGAIN,write:3:EIO");
    for (int i = 0; i < 3; i++)
        assert_int_equal(ipc_pipe_write_all(p.wr, out, 100, 0), 100);
    ipc_faults_disarm();
    ipc_faults_stats(&st);
    assert_int_equal(st.total_injected, 0);
    ipc_pipe_close(&p);
    /* a short step on a call that cannot be short passes it through, uncounted */
    ipc_faults_reset_stats();
    ipct_arm_faults("pipe2:1:short-one");
    assert_int_equal(ipc_pipe_open(&p, 0), 0);
    ipc_faults_disarm();
    ipc_faults_stats(&st);
    assert_int_equal(st.total_injected, 0);
    ipc_pipe_close(&p);
}

#define RANDOM_CALLS 64

static void random_outcomes(double rate, uint64_t seed, int out[RANDOM_CALLS])
{
    struct ipc_pipe p;
    assert_int_equal(ipc_pipe_open(&p, 0), 0);
    assert_int_equal(ipc_faults_arm_random(rate, seed, 1ull << IPC_FAULT_fcntl), 0);
    for (int i = 0; i < RANDOM_CALLS; i++)
        out[i] = ipc_pipe_set_capacity(p.rd, 4096);
    ipc_faults_disarm();
    ipc_pipe_close(&p);
}

static void test_random_reproducible(void **state)
{
    (void)state;
    int a[RANDOM_CALLS], b[RANDOM_CALLS], c[RANDOM_CALLS];
    random_outcomes(0.5, 42, a);
    random_outcomes(0.5, 42, b);
    random_outcomes(0.5, 43, c);
    assert_memory_equal(a, b, sizeof(a));
    int failed = 0, differ = 0;
    for (int i = 0; i < RANDOM_CALLS; i++) {
        failed += a[i] < 0;
        differ += (a[i] < 0) != (c[i] < 0);
        if (a[i] < 0) /* fcntl's list, less EMFILE, which F_SETPIPE_SZ cannot return */
            assert_true(a[i] == -EPERM || a[i] == -EBUSY);
    }
    assert_true(failed > 0 && failed < RANDOM_CALLS);
    assert_true(differ > 0);
    random_outcomes(0.0, 42, a);
    random_outcomes(1.0, 42, b);
    for (int i = 0; i < RANDOM_CALLS; i++) {
        assert_true(a[i] > 0);
        assert_true(b[i] < 0);
    }
    /* the mask: pipe2 is not in it, so it never fails */
    assert_int_equal(ipc_faults_arm_random(1.0, 1, 1ull << IPC_FAULT_fcntl), 0);
    struct ipc_pipe p;
    assert_int_equal(ipc_pipe_open(&p, 0), 0);
    ipc_faults_disarm();
    ipc_pipe_close(&p);
}

static void test_forked_child_counts(void **state)
{
    (void)state;
    ipc_faults_reset_stats();
    ipct_arm_faults("pipe2:2:ENFILE");
    struct ipc_pipe p;
    assert_int_equal(ipc_pipe_open(&p, 0), 0); /* pipe2 call 1, in the parent */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct ipc_pipe q;
        int rc = ipc_pipe_open(&q, 0); /* call 2: the child's */
        _exit(rc == -ENFILE ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(ipc_faults_calls_since_arm(), 2);
    ipc_faults_disarm();
    struct ipc_fault_stats fs;
    ipc_faults_stats(&fs);
    assert_int_equal(fs.calls[IPC_FAULT_pipe2], 2);
    assert_int_equal(fs.injected[IPC_FAULT_pipe2], 1);
    ipc_pipe_close(&p);
}

static void expect_parse_error(const char *text, const char *mention1, const char *mention2)
{
    struct ipc_fault_step steps[IPC_FAULT_MAX_STEPS];
    char err[200] = "";
    int rc = ipc_faults_parse(text, steps, IPC_FAULT_MAX_STEPS, err, sizeof(err));
    if (rc != -EINVAL)
        fail_msg("'%s' parsed as %d steps, expected -EINVAL", text, rc);
    if (!strstr(err, mention1) || (mention2 && !strstr(err, mention2)))
        fail_msg("'%s' gave the message '%s', expected it to mention '%s' and '%s'", text, err,
                 mention1, mention2 ? mention2 : "");
}

static void test_parse(void **state)
{
    (void)state;
    struct ipc_fault_step st[IPC_FAULT_MAX_STEPS];
    char err[200];
    assert_int_equal(
        ipc_faults_parse("write:2:EPIPE,any:7:short-half", st, IPC_FAULT_MAX_STEPS, err, 200), 2);
    assert_int_equal(st[0].call, IPC_FAULT_write);
    assert_int_equal(st[0].nth, 2);
    assert_int_equal(st[0].err, EPIPE);
    assert_int_equal(st[0].shortc, IPC_FAULT_SHORT_NONE);
    assert_int_equal(st[1].call, IPC_FAULT_ANY);
    assert_int_equal(st[1].nth, 7);
    assert_int_equal(st[1].err, 0);
    assert_int_equal(st[1].shortc, IPC_FAULT_SHORT_HALF);
    assert_int_equal(ipc_faults_parse("", st, IPC_FAULT_MAX_STEPS, err, 200), 0);

    expect_parse_error("read:1:EINTR,bogus:1:EINTR", "bogus:1:EINTR", "unknown call kind");
    expect_parse_error("read:1:EBOGUS", "read:1:EBOGUS", "unknown action");
    expect_parse_error("read:0:EINTR", "read:0:EINTR", "NTH");
    expect_parse_error("read:x1:EINTR", "read:x1:EINTR", "NTH");
    expect_parse_error("read:1x:EINTR", "read:1x:EINTR", "NTH");
    expect_parse_error("read:-1:EINTR", "read:-1:EINTR", "NTH");
    expect_parse_error("read:4294967296:EINTR", "4294967296", "NTH");
    expect_parse_error("read:1", "read:1", "KIND:NTH:ACTION");
    expect_parse_error("read:1:EINTR:x", "read:1:EINTR:x", "KIND:NTH:ACTION");
    expect_parse_error("read:1:EINTR,", "", "KIND:NTH:ACTION");
    char many[17 * 14 + 1] = "";
    for (int i = 0; i < 17; i++)
        strcat(many, i ? ",read:1:EINTR" : "read:1:EINTR");
    expect_parse_error(many, "more than 16", NULL);

    /* the name tables round-trip */
    for (int k = 0; k < IPC_FAULT_CALL_COUNT; k++) {
        int back = -2;
        assert_non_null(ipc_fault_call_name(k));
        assert_int_equal(ipc_fault_call_parse(ipc_fault_call_name(k), &back), 0);
        assert_int_equal(back, k);
        const int *errs;
        size_t n = ipc_fault_call_errnos(k, &errs);
        /* the signal calls cannot fail with libipc's arguments */
        assert_true(n > 0 || k == IPC_FAULT_sigprocmask || k == IPC_FAULT_pthread_sigmask ||
                    k == IPC_FAULT_sigaction);
        for (size_t i = 0; i < n; i++) {
            int e = 0;
            assert_non_null(ipc_fault_errno_name(errs[i]));
            assert_int_equal(ipc_fault_errno_parse(ipc_fault_errno_name(errs[i]), &e), 0);
            assert_int_equal(e, errs[i]);
        }
    }
    assert_true(ipc_fault_call_can_short(IPC_FAULT_write));
    assert_false(ipc_fault_call_can_short(IPC_FAULT_pipe2));
    assert_false(ipc_fault_call_can_short(IPC_FAULT_CALL_COUNT));
    assert_null(ipc_fault_call_name(IPC_FAULT_CALL_COUNT));
}

static void test_arm_validation(void **state)
{
    (void)state;
    struct ipc_fault_step bad[] = {
        {.call = IPC_FAULT_read, .nth = 0, .err = EINTR},
        {.call = IPC_FAULT_read, .nth = 1, .err = EINTR, .shortc = IPC_FAULT_SHORT_ONE},
        {.call = IPC_FAULT_read, .nth = 1},
        {.call = IPC_FAULT_CALL_COUNT, .nth = 1, .err = EINTR},
        {.call = IPC_FAULT_read, .nth = 1, .shortc = IPC_FAULT_SHORT_COUNT},
    };
    for (size_t i = 0; i < IPC__ARRAY_SIZE(bad); i++)
        assert_int_equal(ipc_faults_arm_schedule(&bad[i], 1), -EINVAL);
    struct ipc_fault_step many[IPC_FAULT_MAX_STEPS + 1];
    for (size_t i = 0; i < IPC__ARRAY_SIZE(many); i++)
        many[i] = (struct ipc_fault_step){.call = IPC_FAULT_read, .nth = 1, .err = EINTR};
    assert_int_equal(ipc_faults_arm_schedule(many, IPC__ARRAY_SIZE(many)), -EINVAL);
    /* an empty schedule may come as NULL (faultsweep's count run): once a
     * memcpy from NULL, which UBSan (asan preset) stops at */
    assert_int_equal(ipc_faults_arm_schedule(NULL, 0), 0);
    ipc_faults_disarm();
    assert_int_equal(ipc_faults_arm_random(-0.1, 1, 0), -EINVAL);
    assert_int_equal(ipc_faults_arm_random(1.5, 1, 0), -EINVAL);
}

static void test_stats_and_sites(void **state)
{
    (void)state;
    ipc_faults_reset_stats();
    ipct_arm_faults("fcntl:2:EPERM");
    struct ipc_pipe p;
    assert_int_equal(ipc_pipe_open(&p, 0), 0);
    assert_true(ipc_pipe_set_capacity(p.rd, 4096) > 0);
    assert_int_equal(ipc_pipe_set_capacity(p.rd, 4096), -EPERM);
    ipc_faults_disarm();
    assert_true(ipc_pipe_set_capacity(p.rd, 4096) > 0); /* disarmed: not counted */
    ipc_pipe_close(&p);
    struct ipc_fault_stats st;
    ipc_faults_stats(&st);
    assert_int_equal(st.total_calls, 3);
    assert_int_equal(st.total_injected, 1);
    assert_int_equal(st.calls[IPC_FAULT_pipe2], 1);
    assert_int_equal(st.calls[IPC_FAULT_fcntl], 2);
    struct ipc_fault_site sites[8];
    size_t n = ipc_faults_sites(sites, 8);
    assert_int_equal(n, 2);
    int seen_pipe2 = 0, seen_fcntl = 0;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(strstr(sites[i].where, "pipe.c:"));
        if (sites[i].call == IPC_FAULT_pipe2) {
            seen_pipe2 = 1;
            assert_int_equal(sites[i].calls, 1);
            assert_int_equal(sites[i].injected, 0);
        } else {
            assert_int_equal(sites[i].call, IPC_FAULT_fcntl);
            seen_fcntl = 1;
            assert_int_equal(sites[i].calls, 2);
            assert_int_equal(sites[i].injected, 1);
        }
    }
    assert_true(seen_pipe2 && seen_fcntl);
    assert_int_equal(ipc_faults_sites(sites, 1), 2); /* the count, even past cap */
    ipc_faults_reset_stats();
    assert_int_equal(ipc_faults_sites(sites, 8), 0);
    ipc_faults_stats(&st);
    assert_int_equal(st.total_calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_schedule_nth_exact),
        IPCT_TEST(test_any_versus_kind),
        IPCT_TEST(test_short_writes_are_completed),
        IPCT_TEST(test_random_reproducible),
        IPCT_TEST(test_forked_child_counts),
        IPCT_TEST(test_parse),
        IPCT_TEST(test_arm_validation),
        IPCT_TEST(test_stats_and_sites),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
