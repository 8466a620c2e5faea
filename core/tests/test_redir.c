/* test_redir.c - dup2 plans: file (truncate, append, read), fd, /dev/null, 2>&1,
 * swapped stdout/stderr, in the current process and in children. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc_base.h"
#include "ipc/proc.h"
#include "ipc/redir.h"
#include "testutil.h"

static const enum ipc_proc_method methods[] = {IPC_PROC_FORK, IPC_PROC_VFORK, IPC_PROC_POSIX_SPAWN};

static size_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    return ipct_slurp(fd, buf, cap);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void temp_path(char *buf, size_t len)
{
    static int seq;
    snprintf(buf, len, "/tmp/ipct-redir-%d-%d", (int)getpid(), seq++);
    unlink(buf);
}

static struct ipc_proc_status spawn_wait(char *const argv[], const struct ipc_proc_options *o)
{
    ipc_proc *p;
    IPCT_OK(ipc_proc_spawn(&p, argv, o));
    struct ipc_proc_status st;
    IPCT_OK(ipc_proc_wait(p, -1, 0, &st));
    ipc_proc_free(p);
    return st;
}

static void test_stdout_to_truncated_file_in_process(void **state)
{
    (void)state;
    char path[64];
    temp_path(path, sizeof(path));
    write_file(path, "old content that is much longer than the new one\n");
    ipc_redir *r;
    IPCT_OK(ipc_redir_new(&r));
    IPCT_OK(ipc_redir_file(r, IPC_REDIR_STDOUT, path, IPC_REDIR_TRUNC));
    struct ipc_redir_saved saved;
    IPCT_OK(ipc_redir_apply(r, &saved));
    /* Both raw fd 1 and buffered stdio must land in the file. */
    ssize_t w = write(1, "raw\n", 4);
    printf("stdio %d\n", 42);
    int rc = ipc_redir_restore(&saved);
    assert_int_equal(w, 4);
    IPCT_OK(rc);
    assert_int_equal(ipc_redir_restore(&saved), -EINVAL); /* not active any more */
    ipc_redir_free(r);
    char buf[256];
    read_file(path, buf, sizeof(buf));
    assert_string_equal(buf, "raw\nstdio 42\n");
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    unlink(path);
    /* Created with 0644 minus the umask. */
    IPCT_OK(ipc_redir_new(&r));
    IPCT_OK(ipc_redir_file(r, 1, path, IPC_REDIR_TRUNC));
    ipc_redir_free(r);
    assert_int_equal(stat(path, &sb), 0);
    mode_t um = umask(022);
    umask(um);
    assert_int_equal(sb.st_mode & 0777, 0644 & ~um);
    unlink(path);
}

static void test_file_and_2to1_in_children(void **state)
{
    (void)state;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        char path[64];
        temp_path(path, sizeof(path));
        write_file(path, "stale stale stale stale stale stale\n");
        ipc_redir *r;
        IPCT_OK(ipc_redir_new(&r));
        /* Set 2>&1 before >file: the plan is declarative, like `>file 2>&1`. */
        IPCT_OK(ipc_redir_same(r, 2, 1));
        IPCT_OK(ipc_redir_file(r, 1, path, IPC_REDIR_TRUNC));
        char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; echo out2", NULL};
        struct ipc_proc_options o = {.method = methods[i], .redir = r};
        struct ipc_proc_status st = spawn_wait(argv, &o);
        assert_true(st.exited && st.code == 0);
        char buf[256];
        read_file(path, buf, sizeof(buf));
        assert_string_equal(buf, "out\nerr\nout2\n");

        /* Append mode adds to the file. */
        IPCT_OK(ipc_redir_file(r, 1, path, IPC_REDIR_APPEND));
        char *argv2[] = {"/bin/sh", "-c", "echo more >&2", NULL};
        st = spawn_wait(argv2, &o);
        assert_true(st.exited && st.code == 0);
        read_file(path, buf, sizeof(buf));
        assert_string_equal(buf, "out\nerr\nout2\nmore\n");
        ipc_redir_free(r);
        unlink(path);
    }
}

static void test_stdin_from_file_and_null(void **state)
{
    (void)state;
    char in[64], out[64];
    temp_path(in, sizeof(in));
    temp_path(out, sizeof(out));
    write_file(in, "line one\nline two\n");
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        ipc_redir *r;
        IPCT_OK(ipc_redir_new(&r));
        IPCT_OK(ipc_redir_file(r, 0, in, IPC_REDIR_READ));
        IPCT_OK(ipc_redir_file(r, 1, out, IPC_REDIR_TRUNC));
        IPCT_OK(ipc_redir_null(r, 2));
        char *argv[] = {"/bin/sh", "-c", "cat; echo noise >&2", NULL};
        struct ipc_proc_options o = {.method = methods[i], .redir = r};
        struct ipc_proc_status st = spawn_wait(argv, &o);
        assert_true(st.exited && st.code == 0);
        char buf[256];
        read_file(out, buf, sizeof(buf));
        assert_string_equal(buf, "line one\nline two\n");
        /* stdin from /dev/null reads EOF at once. The file was opened when it was
         * set, so a reused plan keeps appending at its offset: set it again. */
        IPCT_OK(ipc_redir_null(r, 0));
        IPCT_OK(ipc_redir_file(r, 1, out, IPC_REDIR_TRUNC));
        char *argv2[] = {"/bin/sh", "-c", "cat; echo done", NULL};
        st = spawn_wait(argv2, &o);
        assert_true(st.exited && st.code == 0);
        read_file(out, buf, sizeof(buf));
        assert_string_equal(buf, "done\n");
        ipc_redir_free(r);
    }
    unlink(in);
    unlink(out);
}

/* Runs in a forked child whose fds 1 and 2 are pipes A and B: applies the swap plan
 * and writes through both. */
static ipc_redir *g_swap;

static int fn_swap_then_write(void *arg)
{
    (void)arg;
    if (ipc_redir_apply_child(g_swap) < 0)
        return 10;
    if (write(1, "to-fd1", 6) != 6 || write(2, "to-fd2", 6) != 6)
        return 11;
    return 0;
}

static void test_swap_stdout_stderr_in_child(void **state)
{
    (void)state;
    int a[2], b[2];
    assert_int_equal(pipe2(a, O_CLOEXEC), 0);
    assert_int_equal(pipe2(b, O_CLOEXEC), 0);
    IPCT_OK(ipc_redir_new(&g_swap));
    IPCT_OK(ipc_redir_same(g_swap, 1, 2));
    IPCT_OK(ipc_redir_same(g_swap, 2, 1));
    struct ipc_proc_options o = {.flags = IPC_PROC_F_STDIO, .stdio = {-1, a[1], b[1]}};
    ipc_proc *p;
    IPCT_OK(ipc_proc_fork(&p, fn_swap_then_write, NULL, &o));
    close(a[1]);
    close(b[1]);
    char bufa[64], bufb[64];
    ipct_slurp(a[0], bufa, sizeof(bufa));
    ipct_slurp(b[0], bufb, sizeof(bufb));
    struct ipc_proc_status st;
    IPCT_OK(ipc_proc_wait(p, -1, 0, &st));
    ipc_proc_free(p);
    assert_true(st.exited);
    assert_int_equal(st.code, 0);
    assert_string_equal(bufa, "to-fd2"); /* what was written to 2 went to old 1 */
    assert_string_equal(bufb, "to-fd1");
    ipc_redir_free(g_swap);
    g_swap = NULL;
}

/* Swap through spawn's stdio option, where each source is the other's target: the
 * overlap must be resolved (posix_spawn path included). The spawner runs in a forked
 * child whose 1 and 2 are the pipes, so the test's own stdio is untouched. */
static enum ipc_proc_method g_method;

static int fn_spawn_swapped(void *arg)
{
    (void)arg;
    char *argv[] = {"/bin/sh", "-c", "printf out; printf err >&2", NULL};
    struct ipc_proc_options o = {
        .method = g_method, .flags = IPC_PROC_F_STDIO, .stdio = {-1, 2, 1}};
    ipc_proc *p;
    if (ipc_proc_spawn(&p, argv, &o) < 0)
        return 20;
    struct ipc_proc_status st;
    int rc = ipc_proc_wait(p, -1, 0, &st);
    ipc_proc_free(p);
    return rc == 0 && st.exited && st.code == 0 ? 0 : 21;
}

static void test_swap_via_spawn_stdio(void **state)
{
    (void)state;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        int a[2], b[2];
        assert_int_equal(pipe2(a, O_CLOEXEC), 0);
        assert_int_equal(pipe2(b, O_CLOEXEC), 0);
        g_method = methods[i];
        struct ipc_proc_options o = {.flags = IPC_PROC_F_STDIO, .stdio = {-1, a[1], b[1]}};
        ipc_proc *p;
        IPCT_OK(ipc_proc_fork(&p, fn_spawn_swapped, NULL, &o));
        close(a[1]);
        close(b[1]);
        char bufa[64], bufb[64];
        ipct_slurp(a[0], bufa, sizeof(bufa));
        ipct_slurp(b[0], bufb, sizeof(bufb));
        struct ipc_proc_status st;
        IPCT_OK(ipc_proc_wait(p, -1, 0, &st));
        ipc_proc_free(p);
        assert_true(st.exited);
        assert_int_equal(st.code, 0);
        assert_string_equal(bufa, "err");
        assert_string_equal(bufb, "out");
    }
}

static void test_swap_in_process_and_restore(void **state)
{
    (void)state;
    int a[2], b[2];
    assert_int_equal(pipe2(a, O_CLOEXEC), 0);
    assert_int_equal(pipe2(b, O_CLOEXEC), 0);
    ipc_redir *to_pipes, *swap;
    IPCT_OK(ipc_redir_new(&to_pipes));
    IPCT_OK(ipc_redir_fd(to_pipes, 1, a[1]));
    IPCT_OK(ipc_redir_fd(to_pipes, 2, b[1]));
    close(a[1]);
    close(b[1]);
    IPCT_OK(ipc_redir_new(&swap));
    IPCT_OK(ipc_redir_same(swap, 1, 2));
    IPCT_OK(ipc_redir_same(swap, 2, 1));
    struct ipc_redir_saved s1, s2;
    IPCT_OK(ipc_redir_apply(to_pipes, &s1));
    int rc2 = ipc_redir_apply(swap, &s2);
    ssize_t w1 = write(1, "one", 3), w2 = write(2, "two", 3);
    int rr2 = rc2 == 0 ? ipc_redir_restore(&s2) : 0;
    ssize_t w3 = write(1, "three", 5);
    int rr1 = ipc_redir_restore(&s1);
    IPCT_OK(rc2);
    IPCT_OK(rr2);
    IPCT_OK(rr1);
    assert_int_equal(w1 + w2 + w3, 11);
    /* The plan still holds its copies of the write ends: free it for EOF. */
    ipc_redir_free(to_pipes);
    ipc_redir_free(swap);
    char bufa[64], bufb[64];
    ipct_slurp(a[0], bufa, sizeof(bufa));
    ipct_slurp(b[0], bufb, sizeof(bufb));
    assert_string_equal(bufa, "twothree");
    assert_string_equal(bufb, "one");
}

static void test_apply_fds_primitive(void **state)
{
    (void)state;
    int src[3] = {-1, -1, -2};
    assert_int_equal(ipc_redir_apply_fds(src), -EINVAL);
    assert_int_equal(ipc_redir_apply_fds(NULL), -EINVAL);
    int none[3] = {-1, -1, -1};
    IPCT_OK(ipc_redir_apply_fds(none)); /* a no-op */
    /* resolve shows the declarative mapping. */
    ipc_redir *r;
    IPCT_OK(ipc_redir_new(&r));
    IPCT_OK(ipc_redir_null(r, 1));
    IPCT_OK(ipc_redir_same(r, 2, 1));
    IPCT_OK(ipc_redir_same(r, 0, 2)); /* 0 gets the original 2: same does not chain */
    int res[3];
    IPCT_OK(ipc_redir_resolve(r, res));
    assert_true(res[1] > 2);
    assert_int_equal(res[2], res[1]);
    assert_int_equal(res[0], 2);
    IPCT_OK(ipc_redir_clear(r, 0));
    IPCT_OK(ipc_redir_same(r, 1, 1)); /* 1>&1: left alone, the null fd is closed */
    IPCT_OK(ipc_redir_resolve(r, res));
    assert_int_equal(res[0], -1);
    assert_int_equal(res[1], -1);
    assert_int_equal(res[2], 1);
    ipc_redir_free(r);
}

static void test_argument_validation(void **state)
{
    (void)state;
    ipc_redir *r;
    assert_int_equal(ipc_redir_new(NULL), -EINVAL);
    IPCT_OK(ipc_redir_new(&r));
    assert_int_equal(ipc_redir_file(NULL, 1, "/dev/null", IPC_REDIR_TRUNC), -EINVAL);
    assert_int_equal(ipc_redir_file(r, 3, "/dev/null", IPC_REDIR_TRUNC), -EINVAL);
    assert_int_equal(ipc_redir_file(r, -1, "/dev/null", IPC_REDIR_TRUNC), -EINVAL);
    assert_int_equal(ipc_redir_file(r, 1, NULL, IPC_REDIR_TRUNC), -EINVAL);
    assert_int_equal(ipc_redir_file(r, 1, "", IPC_REDIR_TRUNC), -EINVAL);
    assert_int_equal(ipc_redir_file(r, 1, "/dev/null", 0), -EINVAL);
    assert_int_equal(ipc_redir_file(r, 1, "/dev/null", 7), -EINVAL);
    assert_int_equal(ipc_redir_file(r, 0, "/nonexistent/ipct", IPC_REDIR_READ), -ENOENT);
    assert_int_equal(ipc_redir_file(r, 1, "/nonexistent/ipct", IPC_REDIR_TRUNC), -ENOENT);
    assert_int_equal(ipc_redir_fd(r, 1, -1), -EINVAL);
    assert_int_equal(ipc_redir_fd(r, 1, 987), -EBADF);
    assert_int_equal(ipc_redir_null(r, 5), -EINVAL);
    assert_int_equal(ipc_redir_same(r, 1, 3), -EINVAL);
    assert_int_equal(ipc_redir_same(r, 3, 1), -EINVAL);
    assert_int_equal(ipc_redir_clear(r, 3), -EINVAL);
    assert_int_equal(ipc_redir_apply(NULL, NULL), -EINVAL);
    assert_int_equal(ipc_redir_apply(r, NULL), -EINVAL);
    assert_int_equal(ipc_redir_apply_child(NULL), -EINVAL);
    assert_int_equal(ipc_redir_resolve(r, NULL), -EINVAL);
    assert_int_equal(ipc_redir_restore(NULL), -EINVAL);
    struct ipc_redir_saved s = {{-1, -1, -1}, {0, 0, 0}, 0};
    assert_int_equal(ipc_redir_restore(&s), -EINVAL);
    /* Replacing a target's source closes the previous fd (IPCT_TEST counts fds). */
    IPCT_OK(ipc_redir_null(r, 1));
    IPCT_OK(ipc_redir_null(r, 1));
    IPCT_OK(ipc_redir_fd(r, 1, 0));
    /* An empty plan applies as a no-op. */
    ipc_redir *empty;
    IPCT_OK(ipc_redir_new(&empty));
    IPCT_OK(ipc_redir_apply(empty, &s));
    IPCT_OK(ipc_redir_restore(&s));
    ipc_redir_free(empty);
    ipc_redir_free(r);
    ipc_redir_free(NULL);
    /* A plan and stdio[] naming the same target is ambiguous. */
    IPCT_OK(ipc_redir_new(&r));
    IPCT_OK(ipc_redir_null(r, 1));
    struct ipc_proc_options o = {.flags = IPC_PROC_F_STDIO, .stdio = {-1, 2, -1}, .redir = r};
    ipc_proc *p = NULL;
    char *argv[] = {"/bin/true", NULL};
    assert_int_equal(ipc_proc_spawn(&p, argv, &o), -EINVAL);
    ipc_redir_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_stdout_to_truncated_file_in_process),
        IPCT_TEST(test_file_and_2to1_in_children),
        IPCT_TEST(test_stdin_from_file_and_null),
        IPCT_TEST(test_swap_stdout_stderr_in_child),
        IPCT_TEST(test_swap_via_spawn_stdio),
        IPCT_TEST(test_swap_in_process_and_restore),
        IPCT_TEST(test_apply_fds_primitive),
        IPCT_TEST(test_argument_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
