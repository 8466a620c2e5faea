/* test_sig.c - handlers, sigqueue payloads, waits and the event source, with
 * real signals between real processes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "ipc/sig.h"
#include "ipc_base.h"

/* ---- helpers ---------------------------------------------------------------------- */

/* Waits (up to 10 s) until pid is asleep inside system call sysno, read from
 * /proc/<pid>/syscall (falls back to "sleeping" from /proc/<pid>/stat when that
 * file is unavailable). Returns 1 when it is, 0 on timeout. */
static int wait_blocked_in(pid_t pid, long sysno)
{
    char path[64], buf[256];
    long deadline = ipc__now_ms() + 10000;
    while (ipc__now_ms() < deadline) {
        int in_call = -1;
        snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
        FILE *f = fopen(path, "re");
        if (f) {
            if (fgets(buf, sizeof(buf), f))
                in_call = strtol(buf, NULL, 10) == sysno && buf[0] >= '0' && buf[0] <= '9';
            fclose(f);
        }
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        int sleeping = 0;
        if (f) {
            if (fgets(buf, sizeof(buf), f)) {
                char *rp = strrchr(buf, ')');
                sleeping = rp && rp[1] == ' ' && rp[2] == 'S';
            }
            fclose(f);
        }
        if (sleeping && in_call != 0)
            return 1;
        poll(NULL, 0, 1);
    }
    return 0;
}

static int wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int rc;
    do
        rc = poll(&p, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    return rc;
}

static void reap_ok(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("child failed: status 0x%x", st);
}

/* ---- handlers ---------------------------------------------------------------------- */

static volatile sig_atomic_t g_hits;

static void clobber_errno_handler(int signo, siginfo_t *si, void *uc)
{
    (void)signo;
    (void)uc;
    g_hits++;
    if (si && si->si_code == SI_QUEUE)
        g_hits += si->si_value.sival_int;
    errno = EBADF; /* the trampoline must hide this from the interrupted code */
}

static void test_install_restore_errno(void **state)
{
    (void)state;
    struct sigaction before, after;
    assert_int_equal(sigaction(SIGUSR1, NULL, &before), 0);
    struct sigaction pipe_before, pipe_after;
    assert_int_equal(sigaction(SIGPIPE, NULL, &pipe_before), 0);

    struct ipc_sig_prev prev;
    IPCT_OK(ipc_sig_install(SIGUSR1, clobber_errno_handler, IPC_SIG_RESTART, &prev));
    g_hits = 0;
    errno = 1234;
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(errno, 1234);
    assert_int_equal(g_hits, 1);
    /* payload through sigqueue to ourselves, SA_SIGINFO form */
    IPCT_OK(ipc_sig_queue(getpid(), SIGUSR1, 41));
    assert_int_equal(g_hits, 43);

    IPCT_OK(ipc_sig_restore(&prev));
    assert_int_equal(sigaction(SIGUSR1, NULL, &after), 0);
    assert_true(after.sa_handler == before.sa_handler);

    /* what the library refuses */
    assert_int_equal(ipc_sig_install(SIGPIPE, clobber_errno_handler, 0, NULL), -EINVAL);
    assert_int_equal(ipc_sig_install(SIGKILL, clobber_errno_handler, 0, NULL), -EINVAL);
    assert_int_equal(ipc_sig_install(SIGSTOP, clobber_errno_handler, 0, NULL), -EINVAL);
    assert_int_equal(ipc_sig_install(0, clobber_errno_handler, 0, NULL), -EINVAL);
    assert_int_equal(ipc_sig_install(_NSIG, clobber_errno_handler, 0, NULL), -EINVAL);
    assert_int_equal(ipc_sig_install(SIGUSR1, NULL, 0, NULL), -EINVAL);
    assert_int_equal(ipc_sig_install(SIGUSR1, clobber_errno_handler, 0x100, NULL), -EINVAL);
    assert_int_equal(ipc_sig_catch(SIGPIPE, 0, NULL), -EINVAL);
    assert_int_equal(ipc_sig_set_default(SIGPIPE, 1, NULL), -EINVAL);
    assert_int_equal(ipc_sig_restore(NULL), -EINVAL);
    assert_int_equal(ipc_sig_send(getpid(), 999), -EINVAL);
    assert_int_equal(ipc_sig_send(getpid(), 0), 0); /* existence probe */
    sigset_t s;
    assert_int_equal(ipc_sig_mkset(&s, SIGUSR1, 999, 0), -EINVAL);
    assert_int_equal(ipc_sig_mkset(NULL, SIGUSR1, 0), -EINVAL);
    assert_int_equal(ipc_sig_block(NULL, NULL), -EINVAL);
    assert_int_equal(sigaction(SIGPIPE, NULL, &pipe_after), 0);
    assert_true(pipe_after.sa_handler == pipe_before.sa_handler);
}

static void test_catch_counts(void **state)
{
    (void)state;
    struct ipc_sig_prev prev;
    IPCT_OK(ipc_sig_catch(SIGUSR2, IPC_SIG_RESTART, &prev));
    ipc_sig_caught_reset(SIGUSR2);
    for (int i = 0; i < 3; i++)
        IPCT_OK(ipc_sig_send(getpid(), SIGUSR2));
    assert_int_equal(ipc_sig_caught(SIGUSR2), 3);
    ipc_sig_caught_reset(SIGUSR2);
    assert_int_equal(ipc_sig_caught(SIGUSR2), 0);
    assert_int_equal(ipc_sig_caught(0), 0);
    IPCT_OK(ipc_sig_restore(&prev));
}

/* ---- EINTR ------------------------------------------------------------------------- */

static int g_ack_fd = -1;

static void ack_handler(int signo, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    char c = (char)signo;
    /* async-signal-safe: tells the parent the handler really ran */
    if (write(g_ack_fd, &c, 1) < 0)
        errno = EIO; /* hidden by the trampoline */
}

/* Child: a blocking read without SA_RESTART must fail with EINTR; then a
 * library wait must survive the same interruption and return the awaited
 * signal. Exit code 0 means both held. */
static int eintr_child(int rfd, int ackfd)
{
    g_ack_fd = ackfd;
    if (ipc_sig_install(SIGUSR1, ack_handler, 0, NULL) < 0)
        return 10;
    if (ipc_sig_block_one(SIGUSR2) < 0)
        return 11;
    char c;
    ssize_t n = read(rfd, &c, 1);
    if (n != -1 || errno != EINTR)
        return 12;
    sigset_t set;
    if (ipc_sig_mkset(&set, SIGUSR2, 0) < 0)
        return 13;
    struct ipc_sig_info info;
    int s = ipc_sig_timedwait(&set, 20000, &info);
    if (s != SIGUSR2)
        return 14;
    if (info.pid != getppid() || info.code != SI_USER)
        return 15;
    return 0;
}

static void test_eintr_and_library_retry(void **state)
{
    (void)state;
    int block[2], ack[2];
    assert_int_equal(pipe2(block, O_CLOEXEC), 0);
    assert_int_equal(pipe2(ack, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ack[0]);
        ipc__exit_child(eintr_child(block[0], ack[1]));
    }
    close(ack[1]);
    char c;

    /* 1: interrupt the plain read */
    assert_true(wait_blocked_in(pid, SYS_read));
    IPCT_OK(ipc_sig_send(pid, SIGUSR1));
    assert_int_equal(read(ack[0], &c, 1), 1);
    assert_int_equal(c, SIGUSR1);

    /* 2: interrupt the library's sigtimedwait, wait until it is back inside the
     * syscall (the retry), then send what it waits for */
    assert_true(wait_blocked_in(pid, SYS_rt_sigtimedwait));
    IPCT_OK(ipc_sig_send(pid, SIGUSR1));
    assert_int_equal(read(ack[0], &c, 1), 1);
    assert_true(wait_blocked_in(pid, SYS_rt_sigtimedwait));
    IPCT_OK(ipc_sig_send(pid, SIGUSR2));

    reap_ok(pid);
    close(block[0]);
    close(block[1]);
    close(ack[0]);
}

/* ---- synchronous wait ----------------------------------------------------------------- */

static void test_wait_payload_and_timeout(void **state)
{
    (void)state;
    int sig = SIGRTMIN + 2;
    sigset_t set, old;
    IPCT_OK(ipc_sig_mkset(&set, sig, 0));
    IPCT_OK(ipc_sig_block(&set, &old));

    struct ipc_sig_info info;
    assert_int_equal(ipc_sig_timedwait(&set, 0, &info), -EAGAIN);
    long t0 = ipc__now_ms();
    assert_int_equal(ipc_sig_timedwait(&set, 50, &info), -EAGAIN);
    assert_true(ipc__now_ms() - t0 >= 49);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        ipc__exit_child(ipc_sig_queue(getppid(), sig, 123456) == 0 ? 0 : 1);
    assert_int_equal(ipc_sig_wait(&set, &info), sig);
    assert_int_equal(info.signo, sig);
    assert_int_equal(info.value, 123456);
    assert_int_equal(info.pid, pid);
    assert_int_equal(info.uid, getuid());
    assert_int_equal(info.code, SI_QUEUE);
    reap_ok(pid);
    IPCT_OK(ipc_sig_setmask(&old, NULL));
}

/* ---- event source ---------------------------------------------------------------------- */

#define RT_COUNT 200

static int read_one(ipc_sigsrc *src, struct ipc_sig_info *info)
{
    for (;;) {
        int rc = ipc_sigsrc_read(src, info);
        if (rc != 0)
            return rc;
        if (wait_readable(ipc_sigsrc_fd(src), 10000) <= 0)
            return -ETIMEDOUT;
    }
}

static void rt_in_order(unsigned flags, int backend)
{
    int s1 = SIGRTMIN + 1, s2 = SIGRTMIN + 3;
    sigset_t set;
    IPCT_OK(ipc_sig_mkset(&set, s1, s2, 0));
    ipc_sigsrc *src = NULL;
    IPCT_OK(ipc_sigsrc_new(&src, &set, flags));
    assert_int_equal(ipc_sigsrc_backend(src), backend);
    int fd = ipc_sigsrc_fd(src);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    struct ipc_sig_info info;
    assert_int_equal(ipc_sigsrc_read(src, &info), 0); /* nothing yet */

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int i = 0; i < RT_COUNT; i++) {
            int rc;
            while ((rc = ipc_sig_queue(getppid(), i % 2 ? s2 : s1, i)) == -EAGAIN)
                sched_yield();
            if (rc < 0)
                ipc__exit_child(1);
        }
        ipc__exit_child(0);
    }
    /* Each signal number must arrive once each, in send order; the two numbers
     * may interleave differently (lower numbers are delivered first). */
    int next[2] = {0, 1};
    for (int n = 0; n < RT_COUNT; n++) {
        assert_int_equal(read_one(src, &info), 1);
        assert_true(info.signo == s1 || info.signo == s2);
        int which = info.signo == s2;
        assert_int_equal(info.value, next[which]);
        next[which] += 2;
        assert_int_equal(info.pid, pid);
        assert_int_equal(info.uid, getuid());
        assert_int_equal(info.code, SI_QUEUE);
    }
    assert_int_equal(next[0], RT_COUNT);
    assert_int_equal(next[1], RT_COUNT + 1);
    reap_ok(pid);
    assert_int_equal(ipc_sigsrc_read(src, &info), 0); /* no duplicates */
    assert_int_equal(ipc_sigsrc_dropped(src), 0);
    ipc_sigsrc_free(src);

    sigset_t now;
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &now), 0);
    assert_false(sigismember(&now, s1)); /* mask restored */
}

static void test_sigsrc_rt_signalfd(void **state)
{
    (void)state;
    rt_in_order(IPC_SIGSRC_AUTO, IPC_SIGSRC_SIGNALFD);
}

static void test_sigsrc_rt_selfpipe(void **state)
{
    (void)state;
    rt_in_order(IPC_SIGSRC_FORCE_SELFPIPE, IPC_SIGSRC_SELFPIPE);
}

#define NCHILD 6

static void sigchld_reaping(unsigned flags)
{
    sigset_t set;
    IPCT_OK(ipc_sig_mkset(&set, SIGCHLD, 0));
    ipc_sigsrc *src = NULL;
    IPCT_OK(ipc_sigsrc_new(&src, &set, flags));
    pid_t pids[NCHILD];
    for (int i = 0; i < NCHILD; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            ipc__exit_child(20 + i);
    }
    int reaped = 0, seen[NCHILD] = {0}, records = 0;
    while (reaped < NCHILD) {
        struct ipc_sig_info info;
        int rc = read_one(src, &info);
        assert_int_equal(rc, 1);
        assert_int_equal(info.signo, SIGCHLD);
        assert_int_equal(info.code, CLD_EXITED);
        records++;
        /* SIGCHLD coalesces: reap everything that is ready on each record */
        int st;
        pid_t p;
        while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
            int found = 0;
            for (int i = 0; i < NCHILD; i++) {
                if (pids[i] == p) {
                    assert_false(seen[i]);
                    seen[i] = 1;
                    found = 1;
                    assert_true(WIFEXITED(st));
                    assert_int_equal(WEXITSTATUS(st), 20 + i);
                }
            }
            assert_true(found);
            reaped++;
        }
    }
    assert_true(records >= 1 && records <= NCHILD);
    ipc_sigsrc_free(src);
}

static void test_sigsrc_sigchld_signalfd(void **state)
{
    (void)state;
    sigchld_reaping(IPC_SIGSRC_AUTO);
}

static void test_sigsrc_sigchld_selfpipe(void **state)
{
    (void)state;
    sigchld_reaping(IPC_SIGSRC_FORCE_SELFPIPE);
}

static void test_sigsrc_bad_args(void **state)
{
    (void)state;
    sigset_t set;
    ipc_sigsrc *src = NULL, *src2 = NULL;
    sigemptyset(&set);
    assert_int_equal(ipc_sigsrc_new(&src, &set, 0), -EINVAL);
    IPCT_OK(ipc_sig_mkset(&set, SIGUSR1, SIGKILL, 0));
    assert_int_equal(ipc_sigsrc_new(&src, &set, 0), -EINVAL);
    IPCT_OK(ipc_sig_mkset(&set, SIGPIPE, 0));
    assert_int_equal(ipc_sigsrc_new(&src, &set, 0), -EINVAL);
    IPCT_OK(ipc_sig_mkset(&set, SIGUSR1, 0));
    assert_int_equal(ipc_sigsrc_new(NULL, &set, 0), -EINVAL);
    assert_int_equal(ipc_sigsrc_new(&src, NULL, 0), -EINVAL);
    assert_int_equal(ipc_sigsrc_new(&src, &set, 0x40), -EINVAL);
    assert_int_equal(ipc_sigsrc_fd(NULL), -EINVAL);
    /* one self-pipe per process */
    IPCT_OK(ipc_sigsrc_new(&src, &set, IPC_SIGSRC_FORCE_SELFPIPE));
    assert_int_equal(ipc_sigsrc_new(&src2, &set, IPC_SIGSRC_FORCE_SELFPIPE), -EBUSY);
    /* a signal raised at ourselves goes through the pipe */
    IPCT_OK(ipc_sig_send(getpid(), SIGUSR1));
    struct ipc_sig_info info;
    assert_int_equal(read_one(src, &info), 1);
    assert_int_equal(info.signo, SIGUSR1);
    assert_int_equal(info.pid, getpid());
    assert_int_equal(info.code, SI_USER);
    assert_int_equal(ipc_sigsrc_read(NULL, &info), -EINVAL);
    ipc_sigsrc_free(src);
    ipc_sigsrc_free(NULL);
    /* freed: a new one may be made */
    IPCT_OK(ipc_sigsrc_new(&src, &set, IPC_SIGSRC_FORCE_SELFPIPE));
    ipc_sigsrc_free(src);
}

/* ---- fork helper ------------------------------------------------------------------------ */

static int child_reset_check(void)
{
    if (ipc_sig_install(SIGUSR1, clobber_errno_handler, 0, NULL) < 0)
        return 1;
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, NULL); /* the test's choice; the library must keep it */
    sigaction(SIGURG, &ign, NULL);
    if (ipc_sig_block_one(SIGUSR2) < 0)
        return 2;
    if (ipc_sig_child_reset() < 0)
        return 3;
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    if (sa.sa_handler != SIG_DFL || (sa.sa_flags & SA_SIGINFO))
        return 4;
    sigaction(SIGPIPE, NULL, &sa);
    if (sa.sa_handler != SIG_IGN)
        return 5;
    sigaction(SIGURG, NULL, &sa);
    if (sa.sa_handler != SIG_IGN)
        return 6;
    sigset_t m;
    sigprocmask(SIG_SETMASK, NULL, &m);
    if (sigismember(&m, SIGUSR2))
        return 7;
    return 0;
}

static void test_child_reset(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        ipc__exit_child(child_reset_check());
    reap_ok(pid);
}

/* Regression: an ignored signal whose action was set with SA_SIGINFO in
 * sa_flags (sa_handler == SIG_IGN all the same) was reset to SIG_DFL, against
 * the documented "ignored ones stay ignored". */
static int child_reset_siginfo_ign(void)
{
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    ign.sa_flags = SA_SIGINFO;
    sigemptyset(&ign.sa_mask);
    if (sigaction(SIGWINCH, &ign, NULL) < 0)
        return 1;
    if (ipc_sig_child_reset() < 0)
        return 2;
    struct sigaction sa;
    sigaction(SIGWINCH, NULL, &sa);
    return sa.sa_handler == SIG_IGN ? 0 : 3;
}

static void test_child_reset_keeps_siginfo_ignored(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        ipc__exit_child(child_reset_siginfo_ign());
    reap_ok(pid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_install_restore_errno),
        IPCT_TEST(test_catch_counts),
        IPCT_TEST(test_eintr_and_library_retry),
        IPCT_TEST(test_wait_payload_and_timeout),
        IPCT_TEST(test_sigsrc_rt_signalfd),
        IPCT_TEST(test_sigsrc_rt_selfpipe),
        IPCT_TEST(test_sigsrc_sigchld_signalfd),
        IPCT_TEST(test_sigsrc_sigchld_selfpipe),
        IPCT_TEST(test_sigsrc_bad_args),
        IPCT_TEST(test_child_reset),
        IPCT_TEST(test_child_reset_keeps_siginfo_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
