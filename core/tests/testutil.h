/* testutil.h - leak checks and helpers shared by the cmocka unit tests.
 *
 * Every test runs between ipct_setup() and ipct_teardown() (use IPCT_TEST(fn)),
 * which assert that the test left no child process, no zombie, no extra open fd
 * and no new /dev/shm object named with its pid behind; the checks themselves are
 * testing/hygiene.h (library ipc_hygiene, linked by ipc_add_unit_tests). Header-only
 * so that each test executable stays one file. */
#ifndef IPC_TESTUTIL_H
#define IPC_TESTUTIL_H

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hygiene.h"
#include "ipc_base.h"

struct ipct_state {
    int fd_count;
    int shm_count;
};

static inline int ipct_setup(void **state)
{
    struct ipct_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    s->fd_count = hygiene_fd_count();
    s->shm_count = hygiene_shm_count_own();
    if (s->fd_count < 0) {
        fprintf(stderr, "leak check: cannot count open fds (/proc/self/fd)\n");
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static inline int ipct_teardown(void **state)
{
    struct ipct_state *s = *state;
    int fds = hygiene_fd_count(), shms = hygiene_shm_count_own();
    bool children_ok = hygiene_no_children(NULL);
    int ok = 1;
    if (fds != s->fd_count) {
        fprintf(stderr, "leak check: %d open fds before the test, %d after\n", s->fd_count, fds);
        ok = 0;
    }
    if (shms != s->shm_count) {
        fprintf(stderr, "leak check: %d /dev/shm objects before, %d after\n", s->shm_count, shms);
        ok = 0;
    }
    if (!children_ok) {
        fprintf(stderr, "leak check: the test left a child process or zombie\n");
        /* Reap it so that one leak does not cascade into every later test. */
        hygiene_reap_exited_children();
        ok = 0;
    }
    free(s);
    return ok ? 0 : -1;
}

/* Reads fd to EOF into buf (NUL-terminated, failing the test if it does not
 * fit), closes fd and returns the length. */
static inline size_t ipct_slurp(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n >= 0);
        if (n == 0)
            break;
        len += (size_t)n;
        assert_true(len < cap - 1);
    }
    buf[len] = '\0';
    close(fd);
    return len;
}

typedef int (*ipct_child_fn)(void *arg, int idx);

/* Forks n children running fn (exit code = its return), reaps them all and
 * asserts each exited 0. */
static inline void ipct_run_children(int n, ipct_child_fn fn, void *arg)
{
    pid_t pids[16];
    assert_true(n <= 16);
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            ipc__exit_child(fn(arg, i));
    }
    for (int i = 0; i < n; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
}

/* Forks with a pipe from the child to the parent: the child keeps the write end
 * p[1], the parent the read end p[0]. */
static inline pid_t ipct_fork_piped(int p[2])
{
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    close(pid == 0 ? p[0] : p[1]);
    return pid;
}

/* Forks a child that runs hold(arg) (which takes a lock), reports through a pipe
 * that it holds it, and waits to be killed; the parent SIGKILLs and reaps it. */
static inline void ipct_kill_while_holding(int (*hold)(void *), void *arg)
{
    int p[2];
    pid_t pid = ipct_fork_piped(p);
    if (pid == 0) {
        char c = hold(arg) >= 0 ? 'L' : 'E';
        if (write(p[1], &c, 1) != 1)
            ipc__exit_child(3);
        for (;;)
            pause();
    }
    char c = 0;
    ssize_t n;
    do
        n = read(p[0], &c, 1);
    while (n < 0 && errno == EINTR);
    close(p[0]);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(n, 1);
    assert_int_equal(c, 'L');
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
}

/* Runs fn(arg) in a child bounded by timeout_ms; returns its exit code, or -1
 * if it had to be killed (e.g. it blocked forever on its own lock). */
static inline int ipct_run_bounded(int (*fn)(void *), void *arg, int timeout_ms)
{
    int p[2];
    pid_t pid = ipct_fork_piped(p);
    if (pid == 0)
        ipc__exit_child(fn(arg)); /* the write end closes at exit: EOF for the parent */
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    int rc;
    do
        rc = poll(&pfd, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    close(p[0]);
    if (rc == 0)
        kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (rc == 0 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

#define IPCT_TEST(fn) cmocka_unit_test_setup_teardown(fn, ipct_setup, ipct_teardown)

/* Asserts a libipc call succeeded, printing ipc_strerror on failure. */
#define IPCT_OK(expr)                                                                              \
    do {                                                                                           \
        long ipct_rc_ = (long)(expr);                                                              \
        if (ipct_rc_ < 0)                                                                          \
            fail_msg("%s failed: %ld (%s)", #expr, ipct_rc_, ipc_strerror((int)ipct_rc_));         \
    } while (0)

#if IPC_FAULTS
#include "ipc/faults.h"

/* Arms a fault schedule written as text ("pipe2:3:EMFILE,any:7:short-half"). */
static inline void ipct_arm_faults(const char *text)
{
    struct ipc_fault_step steps[IPC_FAULT_MAX_STEPS];
    char err[160] = "";
    int n = ipc_faults_parse(text, steps, IPC_FAULT_MAX_STEPS, err, sizeof(err));
    if (n < 0)
        fail_msg("schedule '%s': %s", text, err);
    assert_int_equal(ipc_faults_arm_schedule(steps, (size_t)n), 0);
}
#endif

#endif
