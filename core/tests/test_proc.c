/* test_proc.c - spawn, exec family, wait, status decoding, subreaper.
 *
 * Helper programs are this test binary re-executed with argv[1] == "__child"
 * (see child_mode), so the tests need nothing but /bin/sh and coreutils. */
/* Also run under ThreadSanitizer (label tsan): TSan turns vfork into fork, which
 * once made every exec error of the vfork method vanish (spawn returned 0, exit 127). */
// ctest-labels: tsan
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include "ipc/proc.h"
#include "ipc_base.h"
#include "ipc/redir.h"
#include "testutil.h"

static char self_exe[4096];

static const enum ipc_proc_method methods[] = {IPC_PROC_AUTO, IPC_PROC_FORK, IPC_PROC_VFORK,
                                               IPC_PROC_POSIX_SPAWN};

/* Re-exec modes: "args" prints argv one per line; "env NAME" prints the value or
 * "(unset)"; "ppid" prints getppid(). */
static int child_mode(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[2], "args")) {
        for (int i = 0; i < argc; i++)
            printf("%s\n", argv[i]);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[2], "env")) {
        const char *v = getenv(argv[3]);
        printf("%s\n", v ? v : "(unset)");
        return 0;
    }
    return 99;
}

/* Spawns argv with stdout on a pipe, collects it, waits; returns the status. */
static struct ipc_proc_status run_capture(char *const argv[], struct ipc_proc_options *o, char *out,
                                          size_t cap)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    struct ipc_proc_options local;
    if (!o) {
        memset(&local, 0, sizeof(local));
        o = &local;
    }
    o->flags |= IPC_PROC_F_STDIO;
    o->stdio[0] = -1;
    o->stdio[1] = p[1];
    o->stdio[2] = -1;
    ipc_proc *pr = NULL;
    int rc = ipc_proc_spawn(&pr, argv, o);
    close(p[1]);
    if (rc < 0) {
        close(p[0]);
        fail_msg("spawn failed: %s", ipc_strerror(rc));
    }
    ipct_slurp(p[0], out, cap);
    struct ipc_proc_status st;
    IPCT_OK(ipc_proc_wait(pr, IPC_PROC_WAIT_FOREVER, 0, &st));
    ipc_proc_free(pr);
    return st;
}

static void test_spawn_methods_exit_code(void **state)
{
    (void)state;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        char *argv[] = {"/bin/sh", "-c", "echo hi; exit 3", NULL};
        struct ipc_proc_options o = {.method = methods[i]};
        char out[256];
        struct ipc_proc_status st = run_capture(argv, &o, out, sizeof(out));
        assert_string_equal(out, "hi\n");
        assert_true(st.exited);
        assert_false(st.signaled);
        assert_int_equal(st.code, 3);
    }
}

static void test_spawnl_list_args(void **state)
{
    (void)state;
    /* spawnl: path differs from arg0, as in execl(path, arg0, ...). Output goes through
     * a plan so the list form (which takes no options) still has a captured stdout. */
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    struct ipc_redir_saved saved;
    ipc_redir *r;
    IPCT_OK(ipc_redir_new(&r));
    IPCT_OK(ipc_redir_fd(r, 1, p[1]));
    close(p[1]);
    IPCT_OK(ipc_redir_apply(r, &saved));
    ipc_proc *pr = NULL;
    int rc = ipc_proc_spawnl(&pr, self_exe, "argv0x", "__child", "args", "a b", "", NULL);
    IPCT_OK(ipc_redir_restore(&saved));
    ipc_redir_free(r);
    IPCT_OK(rc);
    char out[512];
    ipct_slurp(p[0], out, sizeof(out));
    assert_string_equal(out, "argv0x\n__child\nargs\na b\n\n");
    struct ipc_proc_status st;
    IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
    assert_true(st.exited && st.code == 0);
    ipc_proc_free(pr);
}

/* A directory holding a symlink "ipct-helper" to this binary, put first in PATH. */
struct pathdir {
    char dir[64];
    char link[128];
    char *old_path;
};

static void pathdir_setup(struct pathdir *d)
{
    snprintf(d->dir, sizeof(d->dir), "/tmp/ipct-proc-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->link, sizeof(d->link), "%s/ipct-helper", d->dir);
    assert_int_equal(symlink(self_exe, d->link), 0);
    const char *old = getenv("PATH");
    d->old_path = old ? strdup(old) : NULL;
    char path[4096];
    /* The empty-looking entries exercise the search loop: a missing dir first. */
    snprintf(path, sizeof(path), "/nonexistent-ipct:%s:%s", d->dir, old ? old : "/bin:/usr/bin");
    assert_int_equal(setenv("PATH", path, 1), 0);
}

static void pathdir_teardown(struct pathdir *d)
{
    if (d->old_path)
        setenv("PATH", d->old_path, 1);
    else
        unsetenv("PATH");
    free(d->old_path);
    unlink(d->link);
    rmdir(d->dir);
}

static void test_path_search_variants(void **state)
{
    (void)state;
    struct pathdir d;
    pathdir_setup(&d);
    char out[512];
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        char *argv[] = {"ipct-helper", "__child", "args", NULL};
        struct ipc_proc_options o = {.method = methods[i], .flags = IPC_PROC_F_PATH};
        struct ipc_proc_status st = run_capture(argv, &o, out, sizeof(out));
        assert_true(st.exited && st.code == 0);
        assert_string_equal(out, "ipct-helper\n__child\nargs\n");
        /* Without PATH search a bare name is relative to the cwd: not found. */
        ipc_proc *pr = (ipc_proc *)0x1;
        struct ipc_proc_options np = {.method = methods[i]};
        assert_int_equal(ipc_proc_spawn(&pr, argv, &np), -ENOENT);
        assert_null(pr);
    }
    /* The exec-family wrappers. */
    ipc_proc *pr = NULL;
    char *argv[] = {"ipct-helper", "__child", "args", NULL};
    assert_int_equal(ipc_proc_spawnv(&pr, "ipct-helper", argv), -ENOENT);
    assert_int_equal(ipc_proc_spawnl(&pr, "ipct-helper", "ipct-helper", NULL), -ENOENT);
    /* "nomode" makes the helper exit 99 without output: proof that it ran. */
    char *quiet[] = {"ipct-helper", "__child", "nomode", NULL};
    IPCT_OK(ipc_proc_spawnvp(&pr, "ipct-helper", quiet));
    struct ipc_proc_status st;
    IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
    assert_true(st.exited && st.code == 99);
    ipc_proc_free(pr);
    IPCT_OK(ipc_proc_spawnlp(&pr, "ipct-helper", "x", "__child", "nomode", NULL));
    IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
    assert_true(st.exited && st.code == 99); /* proves the helper ran with our args */
    ipc_proc_free(pr);
    IPCT_OK(ipc_proc_spawnv(&pr, d.link, quiet));
    IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
    assert_true(st.exited && st.code == 99);
    ipc_proc_free(pr);
    assert_int_equal(ipc_proc_spawnvp(&pr, "ipct-no-such-program", argv), -ENOENT);
    pathdir_teardown(&d);
}

static void test_custom_env(void **state)
{
    (void)state;
    char *envp[] = {"IPCT_X=hello world", "OTHER=1", NULL};
    char out[256];
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        char *argv[] = {self_exe, "__child", "env", "IPCT_X", NULL};
        struct ipc_proc_options o = {.method = methods[i], .env = envp};
        struct ipc_proc_status st = run_capture(argv, &o, out, sizeof(out));
        assert_true(st.exited && st.code == 0);
        assert_string_equal(out, "hello world\n");
        char *argv2[] = {self_exe, "__child", "env", "HOME", NULL};
        st = run_capture(argv2, &o, out, sizeof(out));
        assert_string_equal(out, "(unset)\n");
    }
    /* spawnvpe: PATH search (from our environment) and the custom environment. */
    struct pathdir d;
    pathdir_setup(&d);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    ipc_redir *r;
    struct ipc_redir_saved saved;
    IPCT_OK(ipc_redir_new(&r));
    IPCT_OK(ipc_redir_fd(r, 1, p[1]));
    close(p[1]);
    IPCT_OK(ipc_redir_apply(r, &saved));
    ipc_proc *pr = NULL;
    char *argv[] = {"ipct-helper", "__child", "env", "OTHER", NULL};
    int rc = ipc_proc_spawnvpe(&pr, "ipct-helper", argv, envp);
    IPCT_OK(ipc_redir_restore(&saved));
    ipc_redir_free(r);
    IPCT_OK(rc);
    ipct_slurp(p[0], out, sizeof(out));
    assert_string_equal(out, "1\n");
    struct ipc_proc_status st;
    IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
    assert_true(st.exited && st.code == 0);
    ipc_proc_free(pr);
    pathdir_teardown(&d);
}

static void test_exec_errors_no_zombie(void **state)
{
    (void)state;
    struct pathdir d;
    pathdir_setup(&d);
    char file[192];
    snprintf(file, sizeof(file), "%s/ipct-noexec", d.dir);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
    close(fd);
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        struct ipc_proc_options o = {.method = methods[i]};
        ipc_proc *pr = NULL;
        char *missing[] = {"/nonexistent/ipct-missing", NULL};
        assert_int_equal(ipc_proc_spawn(&pr, missing, &o), -ENOENT);
        assert_null(pr);
        assert_true(hygiene_no_children(NULL));
        char *noexec[] = {file, NULL};
        assert_int_equal(ipc_proc_spawn(&pr, noexec, &o), -EACCES);
        assert_null(pr);
        assert_true(hygiene_no_children(NULL));
        char *dir[] = {"/tmp", NULL};
        assert_int_equal(ipc_proc_spawn(&pr, dir, &o), -EACCES);
        /* A bad cwd fails in the child too and is reported the same way. */
        char *ok[] = {"/bin/true", NULL};
        o.cwd = "/nonexistent-ipct-dir";
        assert_int_equal(ipc_proc_spawn(&pr, ok, &o), -ENOENT);
        assert_true(hygiene_no_children(NULL));
        /* A PATH search that only finds a non-executable entry reports EACCES. */
        char *argv[] = {"ipct-noexec", NULL};
        struct ipc_proc_options po = {.method = methods[i], .flags = IPC_PROC_F_PATH};
        assert_int_equal(ipc_proc_spawn(&pr, argv, &po), -EACCES);
        char *argv2[] = {"ipct-not-anywhere", NULL};
        assert_int_equal(ipc_proc_spawn(&pr, argv2, &po), -ENOENT);
        assert_true(hygiene_no_children(NULL));
    }
    unlink(file);
    pathdir_teardown(&d);
}

static void test_cwd_and_pgid(void **state)
{
    (void)state;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        char out[256];
        char *argv[] = {"/bin/pwd", NULL};
        struct ipc_proc_options o = {.method = methods[i], .cwd = "/"};
        struct ipc_proc_status st = run_capture(argv, &o, out, sizeof(out));
        assert_true(st.exited && st.code == 0);
        assert_string_equal(out, "/\n");

        char *sl[] = {"/bin/sleep", "100", NULL};
        struct ipc_proc_options g = {.method = methods[i], .flags = IPC_PROC_F_SETPGID};
        ipc_proc *pr;
        IPCT_OK(ipc_proc_spawn(&pr, sl, &g));
        assert_int_equal(getpgid(ipc_proc_pid(pr)), ipc_proc_pid(pr));
        IPCT_OK(ipc_proc_kill_group(pr, SIGKILL));
        IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
        assert_true(st.signaled && st.signal == SIGKILL);
        assert_int_equal(ipc_proc_kill(pr, SIGTERM), -ESRCH);
        assert_int_equal(ipc_proc_kill_group(pr, SIGTERM), -ESRCH);
        ipc_proc_free(pr);
    }
}

static int fn_exit42(void *arg)
{
    (void)arg;
    return 42;
}

static int fn_raise(void *arg)
{
    raise(*(int *)arg);
    return 0;
}

/* Exits 7 when the child still has SIGTERM blocked, as the caller had. */
static int fn_raise_blocked_term(void *arg)
{
    (void)arg;
    sigset_t cur;
    sigprocmask(SIG_SETMASK, NULL, &cur);
    return sigismember(&cur, SIGTERM) ? 7 : 8;
}

static int fn_write_fd1(void *arg)
{
    const char *msg = arg;
    return write(1, msg, strlen(msg)) == (ssize_t)strlen(msg) ? 0 : 1;
}

static void test_fork_function_and_signals(void **state)
{
    (void)state;
    ipc_proc *pr;
    struct ipc_proc_status st;
    char buf[IPC_PROC_STATUS_MAX];
    IPCT_OK(ipc_proc_fork(&pr, fn_exit42, NULL, NULL));
    IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
    assert_true(st.exited && st.code == 42 && !st.signaled);
    assert_int_equal(ipc_proc_status_format(&st, buf, sizeof(buf)), 7);
    assert_string_equal(buf, "exit 42");
    assert_int_equal(ipc_proc_status_shell(&st), 42);
    /* The status stays available after the wait. */
    struct ipc_proc_status again;
    IPCT_OK(ipc_proc_status(pr, &again));
    assert_int_equal(again.code, 42);
    assert_int_equal(ipc_proc_wait(pr, -1, 0, &st), -ECHILD);
    ipc_proc_free(pr);

    int sigs[] = {SIGUSR1, SIGTERM, SIGKILL};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(sigs); i++) {
        IPCT_OK(ipc_proc_fork(&pr, fn_raise, &sigs[i], NULL));
        IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
        assert_true(st.signaled && !st.exited);
        assert_int_equal(st.signal, sigs[i]);
        assert_int_equal(ipc_proc_status_shell(&st), 128 + sigs[i]);
        ipc_proc_free(pr);
    }
    IPCT_OK(ipc_proc_status_format(&st, buf, sizeof(buf)));
    assert_string_equal(buf, "signal 9 (SIGKILL)");

    /* A function child with its stdout on a pipe via the stdio option. */
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    struct ipc_proc_options o = {.flags = IPC_PROC_F_STDIO, .stdio = {-1, p[1], -1}};
    IPCT_OK(ipc_proc_fork(&pr, fn_write_fd1, "from fn\n", &o));
    close(p[1]);
    char out[64];
    ipct_slurp(p[0], out, sizeof(out));
    assert_string_equal(out, "from fn\n");
    IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
    assert_true(st.exited && st.code == 0);
    ipc_proc_free(pr);
}

static void test_status_decode_table(void **state)
{
    (void)state;
    struct ipc_proc_status st;
    char buf[IPC_PROC_STATUS_MAX];
    IPCT_OK(ipc_proc_status_decode(3 << 8, &st));
    assert_true(st.exited && st.code == 3);
    IPCT_OK(ipc_proc_status_decode(SIGSEGV | 0x80, &st));
    assert_true(st.signaled && st.signal == SIGSEGV && st.core_dumped);
    IPCT_OK(ipc_proc_status_format(&st, buf, sizeof(buf)));
    assert_string_equal(buf, "signal 11 (SIGSEGV, core dumped)");
    IPCT_OK(ipc_proc_status_decode((SIGSTOP << 8) | 0x7f, &st));
    assert_true(st.stopped && st.signal == SIGSTOP);
    IPCT_OK(ipc_proc_status_format(&st, buf, sizeof(buf)));
    assert_string_equal(buf, "stopped by signal 19 (SIGSTOP)");
    IPCT_OK(ipc_proc_status_decode(0xffff, &st));
    assert_true(st.continued);
    IPCT_OK(ipc_proc_status_format(&st, buf, sizeof(buf)));
    assert_string_equal(buf, "continued");
    IPCT_OK(ipc_proc_status_decode(SIGRTMIN + 3, &st));
    IPCT_OK(ipc_proc_status_format(&st, buf, sizeof(buf)));
    char want[64];
    snprintf(want, sizeof(want), "signal %d (SIGRTMIN+3)", SIGRTMIN + 3);
    assert_string_equal(buf, want);
    assert_string_equal(ipc_proc_signame(SIGTERM), "SIGTERM");
    assert_string_equal(ipc_proc_signame(1000), "SIG?");
    /* Impossible words. */
    assert_int_equal(ipc_proc_status_decode(0x10000, &st), -EINVAL);
    assert_int_equal(ipc_proc_status_decode(0x80, &st), -EINVAL);
    assert_int_equal(ipc_proc_status_decode(0x017f - 0x100, &st), -EINVAL); /* stop sig 0 */
    assert_int_equal(ipc_proc_status_decode((1 << 8) | SIGKILL, &st), -EINVAL);
    assert_int_equal(ipc_proc_status_decode(0, NULL), -EINVAL);
    IPCT_OK(ipc_proc_status_decode(SIGKILL, &st));
    assert_int_equal(ipc_proc_status_format(&st, buf, 8), -ENOSPC);
    assert_int_equal(strlen(buf), 7);
    memset(&st, 0, sizeof(st));
    assert_int_equal(ipc_proc_status_format(&st, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(ipc_proc_status_shell(&st), -EINVAL);
}

static void test_stop_continue(void **state)
{
    (void)state;
    ipc_proc *pr;
    char *argv[] = {"/bin/sleep", "100", NULL};
    IPCT_OK(ipc_proc_spawn(&pr, argv, NULL));
    struct ipc_proc_status st;
    IPCT_OK(ipc_proc_kill(pr, SIGSTOP));
    assert_int_equal(ipc_proc_wait(pr, 5000, IPC_PROC_WAIT_UNTRACED, &st), 1);
    assert_true(st.stopped && st.signal == SIGSTOP);
    IPCT_OK(ipc_proc_kill(pr, SIGCONT));
    assert_int_equal(ipc_proc_wait(pr, -1, IPC_PROC_WAIT_UNTRACED, &st), 1);
    assert_true(st.continued);
    IPCT_OK(ipc_proc_kill(pr, SIGTERM));
    IPCT_OK(ipc_proc_wait(pr, -1, IPC_PROC_WAIT_UNTRACED, &st));
    assert_true(st.signaled && st.signal == SIGTERM);
    ipc_proc_free(pr);
}

static void test_wait_timeout(void **state)
{
    (void)state;
    unsigned flag_sets[] = {0, IPC_PROC_F_NO_PIDFD};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(flag_sets); i++) {
        ipc_proc *pr;
        char *argv[] = {"/bin/sleep", "100", NULL};
        struct ipc_proc_options o = {.flags = flag_sets[i]};
        IPCT_OK(ipc_proc_spawn(&pr, argv, &o));
        if (flag_sets[i])
            assert_int_equal(ipc_proc_pidfd(pr), -ENOSYS);
        struct ipc_proc_status st;
        assert_int_equal(ipc_proc_wait(pr, 0, 0, &st), -ETIMEDOUT);
        assert_int_equal(ipc_proc_status(pr, &st), -EAGAIN);
        int64_t t0 = ipc__now_ms();
        assert_int_equal(ipc_proc_wait(pr, 100, 0, &st), -ETIMEDOUT);
        int64_t dt = ipc__now_ms() - t0;
        assert_true(dt >= 100 && dt < 5000);
        IPCT_OK(ipc_proc_kill(pr, 0)); /* still alive */
        IPCT_OK(ipc_proc_kill(pr, SIGKILL));
        IPCT_OK(ipc_proc_wait(pr, 5000, 0, &st));
        assert_true(st.signaled && st.signal == SIGKILL);
        assert_int_equal(ipc_proc_pidfd(pr), -ENOSYS); /* closed once reaped */
        ipc_proc_free(pr);

        /* A child that exits on its own wakes a timed wait early. */
        char *t[] = {"/bin/sh", "-c", "exit 5", NULL};
        IPCT_OK(ipc_proc_spawn(&pr, t, &o));
        t0 = ipc__now_ms();
        IPCT_OK(ipc_proc_wait(pr, 10000, 0, &st));
        assert_true(ipc__now_ms() - t0 < 5000);
        assert_true(st.exited && st.code == 5);
        ipc_proc_free(pr);
    }
    /* free kills and reaps a running child: no zombie (IPCT_TEST checks). */
    ipc_proc *pr;
    char *argv[] = {"/bin/sleep", "100", NULL};
    IPCT_OK(ipc_proc_spawn(&pr, argv, NULL));
    ipc_proc_free(pr);
}

/* The middle process of the orphan test: forks a grandchild that waits for a byte
 * on gate[0], reports its parent's pid on report[1] and exits 5; then exits. */
struct orphan_fds {
    int gate[2];
    int report[2];
};

static int fn_make_orphan(void *arg)
{
    struct orphan_fds *f = arg;
    pid_t g = fork();
    if (g < 0)
        return 1;
    if (g == 0) {
        char c;
        while (read(f->gate[0], &c, 1) < 0 && errno == EINTR)
            ;
        pid_t pp = getppid();
        ssize_t n = write(f->report[1], &pp, sizeof(pp));
        ipc__exit_child(n == (ssize_t)sizeof(pp) ? 5 : 6);
    }
    return 0;
}

static void test_subreaper_adopts_orphan(void **state)
{
    (void)state;
    IPCT_OK(ipc_proc_set_subreaper(1));
    assert_int_equal(ipc_proc_is_subreaper(), 1);
    struct orphan_fds f;
    assert_int_equal(pipe2(f.gate, O_CLOEXEC), 0);
    assert_int_equal(pipe2(f.report, O_CLOEXEC), 0);
    ipc_proc *pr;
    IPCT_OK(ipc_proc_fork(&pr, fn_make_orphan, &f, NULL));
    struct ipc_proc_status st;
    IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
    assert_true(st.exited && st.code == 0);
    ipc_proc_free(pr);
    /* Now the grandchild is an orphan; a tracked child runs beside it so that
     * reap_orphans has to tell them apart. */
    ipc_proc *tracked;
    char *t[] = {"/bin/sh", "-c", "exit 7", NULL};
    IPCT_OK(ipc_proc_spawn(&tracked, t, NULL));
    assert_int_equal(write(f.gate[1], "x", 1), 1);
    pid_t pp = 0;
    assert_int_equal(read(f.report[0], &pp, sizeof(pp)), (ssize_t)sizeof(pp));
    assert_int_equal(pp, getpid()); /* adopted by us, not by init */
    int n = 0;
    int64_t t0 = ipc__now_ms();
    while (n == 0 && ipc__now_ms() - t0 < 5000) {
        int r = ipc_proc_reap_orphans(500);
        assert_true(r >= 0);
        n += r;
    }
    assert_int_equal(n, 1);
    /* The tracked child's status survived reap_orphans. */
    IPCT_OK(ipc_proc_wait(tracked, -1, 0, &st));
    assert_true(st.exited && st.code == 7);
    ipc_proc_free(tracked);
    assert_int_equal(ipc_proc_reap_orphans(0), 0);
    IPCT_OK(ipc_proc_set_subreaper(0));
    assert_int_equal(ipc_proc_is_subreaper(), 0);
    close(f.gate[0]);
    close(f.gate[1]);
    close(f.report[0]);
    close(f.report[1]);
}

static void test_argument_validation(void **state)
{
    (void)state;
    ipc_proc *pr = NULL;
    char *argv[] = {"/bin/true", NULL};
    char *empty[] = {NULL};
    struct ipc_proc_status st;
    assert_int_equal(ipc_proc_spawn(NULL, argv, NULL), -EINVAL);
    assert_int_equal(ipc_proc_spawn(&pr, NULL, NULL), -EINVAL);
    assert_int_equal(ipc_proc_spawn(&pr, empty, NULL), -EINVAL);
    struct ipc_proc_options o = {.flags = 0x100};
    assert_int_equal(ipc_proc_spawn(&pr, argv, &o), -EINVAL);
    o = (struct ipc_proc_options){.method = (enum ipc_proc_method)9};
    assert_int_equal(ipc_proc_spawn(&pr, argv, &o), -EINVAL);
    o = (struct ipc_proc_options){.flags = IPC_PROC_F_STDIO, .stdio = {-1, -7, -1}};
    assert_int_equal(ipc_proc_spawn(&pr, argv, &o), -EINVAL);
    o = (struct ipc_proc_options){.flags = IPC_PROC_F_STDIO, .stdio = {-1, 900, -1}};
    assert_int_equal(ipc_proc_spawn(&pr, argv, &o), -EBADF);
    o = (struct ipc_proc_options){.cwd = ""};
    assert_int_equal(ipc_proc_spawn(&pr, argv, &o), -EINVAL);
    o = (struct ipc_proc_options){.file = ""};
    assert_int_equal(ipc_proc_spawn(&pr, argv, &o), -ENOENT);
    assert_int_equal(ipc_proc_fork(&pr, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(ipc_proc_fork(NULL, fn_exit42, NULL, NULL), -EINVAL);
    o = (struct ipc_proc_options){.file = "/bin/true"};
    assert_int_equal(ipc_proc_fork(&pr, fn_exit42, NULL, &o), -EINVAL);
    o = (struct ipc_proc_options){.method = IPC_PROC_POSIX_SPAWN};
    assert_int_equal(ipc_proc_fork(&pr, fn_exit42, NULL, &o), -EINVAL);
    assert_int_equal(ipc_proc_spawnl(&pr, NULL, "x", NULL), -EINVAL);
    assert_int_equal(ipc_proc_spawnl(&pr, "/bin/true", NULL), -EINVAL);
    assert_int_equal(ipc_proc_spawnv(&pr, "/bin/true", NULL), -EINVAL);
    assert_int_equal(ipc_proc_spawnvpe(&pr, "true", argv, NULL), -EINVAL);
    assert_int_equal(ipc_proc_wait(NULL, -1, 0, &st), -EINVAL);
    assert_int_equal(ipc_proc_kill(NULL, SIGTERM), -EINVAL);
    assert_int_equal(ipc_proc_status(NULL, &st), -EINVAL);
    assert_int_equal(ipc_proc_pid(NULL), -EINVAL);
    assert_int_equal(ipc_proc_pidfd(NULL), -EINVAL);
    assert_int_equal(ipc_proc_reap_orphans(-2), -EINVAL);
    ipc_proc_free(NULL);

    IPCT_OK(ipc_proc_spawn(&pr, argv, NULL));
    assert_int_equal(ipc_proc_wait(pr, -2, 0, &st), -EINVAL);
    assert_int_equal(ipc_proc_wait(pr, -1, 0x80, &st), -EINVAL);
    assert_int_equal(ipc_proc_kill(pr, -1), -EINVAL);
    assert_int_equal(ipc_proc_kill(pr, 100000), -EINVAL);
    assert_int_equal(ipc_proc_kill_group(pr, SIGTERM), -EINVAL); /* no own group */
    IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
    assert_true(st.exited && st.code == 0);
    ipc_proc_free(pr);
}

static void test_many_spawns_each_method(void **state)
{
    (void)state;
    /* A short burst per method: every child reaped once, codes as sent. */
    for (size_t m = 0; m < IPC__ARRAY_SIZE(methods); m++) {
        for (int i = 0; i < 20; i++) {
            char code[8];
            snprintf(code, sizeof(code), "exit %d", i);
            char *argv[] = {"/bin/sh", "-c", code, NULL};
            struct ipc_proc_options o = {.method = methods[m]};
            ipc_proc *pr;
            IPCT_OK(ipc_proc_spawn(&pr, argv, &o));
            struct ipc_proc_status st;
            IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
            assert_true(st.exited);
            assert_int_equal(st.code, i);
            ipc_proc_free(pr);
        }
    }
}

/* ---- regressions (review) ---------------------------------------------------- */

struct inherit_ctx {
    int base_fds; /* fd count before the spawn */
    int gate_rd;  /* the plain child blocks reading this */
    int out_rd;   /* read end of our redirected stdout */
    size_t drain; /* bytes to read from it */
    pid_t forked; /* the plain child, or -1 */
    int ready[2]; /* thread -> main: baseline taken */
};

/* Waits until the spawn in the main thread has opened its error pipe (two new fds),
 * forks a plain child that inherits it (as any other thread's fork could), then
 * unblocks the main thread's fflush by draining its stdout pipe. */
static void *inherit_main(void *arg)
{
    struct inherit_ctx *c = arg;
    c->base_fds = hygiene_fd_count();
    if (write(c->ready[1], "r", 1) != 1)
        return NULL;
    while (hygiene_fd_count() < c->base_fds + 2)
        sched_yield();
    c->forked = fork();
    if (c->forked == 0) {
        char b;
        while (read(c->gate_rd, &b, 1) < 0 && errno == EINTR)
            ;
        ipc__exit_child(0);
    }
    static char sink[65536];
    while (c->drain > 0) {
        ssize_t n = read(c->out_rd, sink, c->drain < sizeof(sink) ? c->drain : sizeof(sink));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        c->drain -= (size_t)n;
    }
    return NULL;
}

struct watchdog {
    int done[2]; /* main writes when finished */
    int gate_wr;
    atomic_int fired;
};

/* Not synchronisation: only turns a hang into a failure after 20 s. */
static void *watchdog_main(void *arg)
{
    struct watchdog *w = arg;
    struct pollfd pfd = {w->done[0], POLLIN, 0};
    if (poll(&pfd, 1, 20000) == 0) {
        atomic_store(&w->fired, 1);
        ssize_t n = write(w->gate_wr, "x", 1);
        (void)n;
    }
    return NULL;
}

/* Bug: ipc_proc_fork waited for EOF on its error pipe, so a process forked by
 * another thread while the pipe was open (it inherits the write end) kept the spawn
 * blocked for as long as it lived. The fork is made deterministic by holding the
 * spawn in its pre-fork fflush(stdout) (stdout is a full pipe) until the other
 * thread has forked. */
static void test_fork_fn_ignores_inherited_error_pipe(void **state)
{
    (void)state;
    int gate[2], outp[2];
    assert_int_equal(pipe2(gate, O_CLOEXEC), 0);
    assert_int_equal(pipe2(outp, O_CLOEXEC), 0);
    /* Fill the pipe, then leave unflushed bytes in stdout's buffer. */
    int fl = fcntl(outp[1], F_GETFL);
    assert_int_equal(fcntl(outp[1], F_SETFL, fl | O_NONBLOCK), 0);
    static char fill[4096];
    memset(fill, 'f', sizeof(fill));
    size_t filled = 0;
    for (;;) {
        ssize_t n = write(outp[1], fill, sizeof(fill));
        if (n <= 0)
            break;
        filled += (size_t)n;
    }
    assert_int_equal(fcntl(outp[1], F_SETFL, fl), 0);
    fflush(stdout);
    ipc_redir *r;
    struct ipc_redir_saved saved;
    IPCT_OK(ipc_redir_new(&r));
    IPCT_OK(ipc_redir_fd(r, 1, outp[1]));
    IPCT_OK(ipc_redir_apply(r, &saved)); /* flushes stdout first: buffer empty */
    ipc_redir_free(r);
    const char msg[] = "buffered before the fork";
    fputs(msg, stdout);

    struct watchdog w = {.gate_wr = gate[1]};
    atomic_init(&w.fired, 0);
    assert_int_equal(pipe2(w.done, O_CLOEXEC), 0);
    struct inherit_ctx ic = {
        .gate_rd = gate[0], .out_rd = outp[0], .drain = filled + sizeof(msg) - 1, .forked = -1};
    assert_int_equal(pipe2(ic.ready, O_CLOEXEC), 0);
    pthread_t wt, it;
    assert_int_equal(pthread_create(&wt, NULL, watchdog_main, &w), 0);
    assert_int_equal(pthread_create(&it, NULL, inherit_main, &ic), 0);
    char b;
    assert_int_equal(read(ic.ready[0], &b, 1), 1);
    ipc_proc *pr;
    /* A setup that can fail (setpgid): without one, ipc_proc_fork opens no error
     * pipe at all, and there would be nothing to inherit. */
    struct ipc_proc_options po;
    memset(&po, 0, sizeof(po));
    po.flags = IPC_PROC_F_SETPGID;
    int rc = ipc_proc_fork(&pr, fn_exit42, NULL, &po);
    int fired = atomic_load(&w.fired);
    assert_int_equal(write(w.done[1], "x", 1), 1);
    assert_int_equal(pthread_join(wt, NULL), 0);
    assert_int_equal(pthread_join(it, NULL), 0);
    IPCT_OK(ipc_redir_restore(&saved));
    if (!fired)
        assert_int_equal(write(gate[1], "x", 1), 1);
    if (ic.forked > 0)
        assert_int_equal(waitpid(ic.forked, NULL, 0), ic.forked);
    IPCT_OK(rc);
    struct ipc_proc_status st;
    IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
    assert_true(st.exited && st.code == 42);
    ipc_proc_free(pr);
    int fds[] = {gate[0],   gate[1],   outp[0],     outp[1],
                 w.done[0], w.done[1], ic.ready[0], ic.ready[1]};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(fds); i++)
        close(fds[i]);
    assert_true(ic.forked > 0);
    assert_int_equal(ic.drain, 0);
    assert_false(fired);
}

struct reaper {
    atomic_int stop;
    int orphans;
};

static void *reaper_main(void *arg)
{
    struct reaper *r = arg;
    while (!atomic_load(&r->stop)) {
        int n = ipc_proc_reap_orphans(0);
        if (n > 0)
            r->orphans += n;
    }
    return NULL;
}

/* Bug: a child that exited before its object was registered was reaped by a
 * concurrent ipc_proc_reap_orphans as an orphan: its status was lost (wait gave
 * -ECHILD) and pidfd_open could meet a reused pid. */
static void test_reap_orphans_concurrent_with_spawn(void **state)
{
    (void)state;
    struct reaper r = {.orphans = 0};
    atomic_init(&r.stop, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reaper_main, &r), 0);
    int lost = 0, wrong = 0;
    for (int i = 0; i < 150; i++) {
        ipc_proc *pr;
        IPCT_OK(ipc_proc_fork(&pr, fn_exit42, NULL, NULL));
        struct ipc_proc_status st;
        int rc = ipc_proc_wait(pr, -1, 0, &st);
        if (rc == -ECHILD)
            lost++;
        else if (rc != 0 || !st.exited || st.code != 42)
            wrong++;
        ipc_proc_free(pr);
    }
    atomic_store(&r.stop, 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(lost, 0);
    assert_int_equal(wrong, 0);
    assert_int_equal(r.orphans, 0); /* every child had an owner */
}

/* Bug: vfork spawns went through clone3 and fell back to plain vfork only on
 * ENOSYS, EINVAL or EPERM; a seccomp filter refusing clone3 with another errno
 * (EACCES here) failed every vfork spawn. In a helper process: a filter stays. */
static void test_vfork_spawn_survives_refused_clone3(void **state)
{
    (void)state;
    fflush(stdout);
    pid_t helper = fork();
    assert_true(helper >= 0);
    if (helper == 0) {
#ifdef SYS_clone3
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = {.len = IPC__ARRAY_SIZE(f), .filter = f};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
            _exit(77);
#endif
        for (int i = 0; i < 3; i++) {
            struct ipc_proc_options o;
            memset(&o, 0, sizeof(o));
            o.method = IPC_PROC_VFORK;
            char *argv[] = {"/bin/sh", "-c", "exit 5", NULL};
            ipc_proc *pr;
            struct ipc_proc_status st;
            if (ipc_proc_spawn(&pr, argv, &o) != 0)
                _exit(10 + i);
            if (ipc_proc_wait(pr, -1, 0, &st) != 0 || !st.exited || st.code != 5)
                _exit(20 + i);
            ipc_proc_free(pr);
        }
        _exit(0);
    }
    int raw;
    assert_int_equal(waitpid(helper, &raw, 0), helper);
    assert_true(WIFEXITED(raw));
    if (WEXITSTATUS(raw) == 77)
        skip(); /* no seccomp here */
    assert_int_equal(WEXITSTATUS(raw), 0);
}

/* Bug: a function child flushed stdout only when glibc's byte buffer held data, so
 * what it wrote to a wide-oriented stdout (fwide > 0: its own buffer) was lost at
 * _exit. A helper process, because a stream's orientation cannot be undone. */
static int fn_wide_print(void *arg)
{
    (void)arg;
    wprintf(L"wide %d\n", 7);
    return 3;
}

static void test_fork_fn_flushes_wide_stdout(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    fflush(stdout); /* the helper reopens stdout, which writes what it holds */
    pid_t helper = fork();
    assert_true(helper >= 0);
    if (helper == 0) {
        /* cmocka left stdout byte-oriented: a reopened stream has no orientation. */
        if (!freopen("/dev/null", "w", stdout) || dup2(p[1], 1) != 1 || fwide(stdout, 1) <= 0)
            _exit(90);
        ipc_proc *pr;
        struct ipc_proc_status st;
        if (ipc_proc_fork(&pr, fn_wide_print, NULL, NULL) < 0)
            _exit(91);
        if (ipc_proc_wait(pr, -1, 0, &st) < 0 || !st.exited || st.code != 3)
            _exit(92);
        ipc_proc_free(pr);
        _exit(0); /* nothing of the helper's own is buffered */
    }
    close(p[1]);
    char buf[64];
    size_t got = 0;
    ssize_t n;
    while ((n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    close(p[0]);
    buf[got] = '\0';
    int raw;
    assert_int_equal(waitpid(helper, &raw, 0), helper);
    assert_true(WIFEXITED(raw));
    assert_int_equal(WEXITSTATUS(raw), 0);
    assert_string_equal(buf, "wide 7\n");
}

/* Bug: exec children inherited the calling thread's signal mask, so a caller that
 * blocks SIGTERM (e.g. for a signalfd) spawned children that SIGTERM (ipc_run's
 * timeout) could not stop. */
static void test_exec_child_starts_with_empty_mask(void **state)
{
    (void)state;
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
    int failures = 0;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        char *argv[] = {"/bin/sleep", "100", NULL};
        struct ipc_proc_options o = {.method = methods[i]};
        ipc_proc *pr;
        IPCT_OK(ipc_proc_spawn(&pr, argv, &o));
        IPCT_OK(ipc_proc_kill(pr, SIGTERM));
        struct ipc_proc_status st;
        int rc = ipc_proc_wait(pr, 10000, 0, &st);
        if (rc != 0 || !st.signaled || st.signal != SIGTERM)
            failures++;
        ipc_proc_free(pr); /* SIGKILLs it when SIGTERM did not work */
    }
    /* A function child keeps the caller's mask: it is a copy of the caller. */
    ipc_proc *pr;
    IPCT_OK(ipc_proc_fork(&pr, fn_raise_blocked_term, NULL, NULL));
    struct ipc_proc_status st;
    IPCT_OK(ipc_proc_wait(pr, -1, 0, &st));
    assert_true(st.exited && st.code == 7);
    ipc_proc_free(pr);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
    assert_int_equal(failures, 0);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "__child"))
        return child_mode(argc, argv);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (n <= 0)
        return 1;
    self_exe[n] = '\0';
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_spawn_methods_exit_code),
        IPCT_TEST(test_spawnl_list_args),
        IPCT_TEST(test_path_search_variants),
        IPCT_TEST(test_custom_env),
        IPCT_TEST(test_exec_errors_no_zombie),
        IPCT_TEST(test_cwd_and_pgid),
        IPCT_TEST(test_fork_function_and_signals),
        IPCT_TEST(test_status_decode_table),
        IPCT_TEST(test_stop_continue),
        IPCT_TEST(test_wait_timeout),
        IPCT_TEST(test_subreaper_adopts_orphan),
        IPCT_TEST(test_argument_validation),
        IPCT_TEST(test_many_spawns_each_method),
        IPCT_TEST(test_fork_fn_ignores_inherited_error_pipe),
        IPCT_TEST(test_reap_orphans_concurrent_with_spawn),
        IPCT_TEST(test_exec_child_starts_with_empty_mask),
        IPCT_TEST(test_fork_fn_flushes_wide_stdout),
        IPCT_TEST(test_vfork_spawn_survives_refused_clone3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
