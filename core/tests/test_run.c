/* test_run.c - subprocess.run: concurrent capture, stdin, timeouts, errors.
 *
 * The output generator is this test binary re-executed with argv[1] == "__gen":
 * it writes a pseudo-random (non-periodic) byte stream to stdout and another to
 * stderr, interleaving chunks of random size, so a reader that drains one pipe
 * at a time deadlocks and any lost, duplicated or reordered byte is detected. */
/* Also run under ThreadSanitizer (label tsan): TSan turns vfork into fork, which
 * once made every exec error of the vfork method vanish (spawn returned 0, exit 127). */
// ctest-labels: tsan
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipc_base.h"
#include "ipc/run.h"
#include "testutil.h"

static char self_exe[4096];

static const enum ipc_proc_method methods[] = {IPC_PROC_FORK, IPC_PROC_VFORK, IPC_PROC_POSIX_SPAWN};

struct prng {
    uint64_t s;
};

static uint8_t prng_byte(struct prng *p)
{
    /* xorshift64*: cheap, and no short period a buggy copy could hide in. */
    p->s ^= p->s >> 12;
    p->s ^= p->s << 25;
    p->s ^= p->s >> 27;
    return (uint8_t)((p->s * 0x2545F4914F6CDD1DULL) >> 56);
}

static void pattern_fill(struct prng *p, unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = prng_byte(p);
}

static const uint64_t seed_out = 0x1234567887654321ULL, seed_err = 0x0fedcba987654321ULL;

static int write_all(int fd, const unsigned char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* __gen OUT_BYTES ERR_BYTES [EXIT]: the two patterned streams, interleaved. */
static int gen_main(int argc, char **argv)
{
    if (argc < 4)
        return 90;
    size_t left[2] = {strtoull(argv[2], NULL, 10), strtoull(argv[3], NULL, 10)};
    struct prng pat[2] = {{seed_out}, {seed_err}};
    struct prng sizes = {42};
    static unsigned char buf[65536];
    while (left[0] || left[1]) {
        for (int s = 0; s < 2; s++) {
            size_t n = ((size_t)prng_byte(&sizes) << 8 | prng_byte(&sizes)) + 1;
            if (n > left[s])
                n = left[s];
            pattern_fill(&pat[s], buf, n);
            if (write_all(s + 1, buf, n) < 0)
                return 91;
            left[s] -= n;
        }
    }
    return argc > 4 ? atoi(argv[4]) : 0;
}

static void assert_pattern(const unsigned char *got, size_t len, uint64_t seed)
{
    struct prng p = {seed};
    for (size_t i = 0; i < len; i++) {
        uint8_t want = prng_byte(&p);
        if (got[i] != want)
            fail_msg("byte %zu: got 0x%02x, want 0x%02x", i, got[i], want);
    }
}

static void test_capture_16mib_both_streams(void **state)
{
    (void)state;
    const size_t n = (size_t)16 << 20;
    char *argv[] = {self_exe, "__gen", "16777216", "16777216", "4", NULL};
    struct ipc_run_options o = {.timeout_ms = 120000};
    struct ipc_run_result r;
    IPCT_OK(ipc_run(argv, &o, &r));
    assert_false(r.timed_out);
    assert_true(r.status.exited);
    assert_int_equal(r.status.code, 4);
    assert_int_equal(r.out_len, n);
    assert_int_equal(r.err_len, n);
    assert_false(r.out_truncated || r.err_truncated);
    assert_pattern(r.out, r.out_len, seed_out);
    assert_pattern(r.err, r.err_len, seed_err);
    assert_int_equal(r.out[r.out_len], 0);
    assert_true(r.duration_ns > 0);
    ipc_run_result_free(&r);
    assert_null(r.out);
}

static void test_simple_and_methods(void **state)
{
    (void)state;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
        struct ipc_run_options o = {.method = methods[i]};
        struct ipc_run_result r;
        IPCT_OK(ipc_run(argv, &o, &r));
        assert_true(r.status.exited && r.status.code == 3);
        assert_string_equal((char *)r.out, "out\n");
        assert_string_equal((char *)r.err, "err\n");
        assert_true(r.pid > 0);
        ipc_run_result_free(&r);
    }
    /* Empty output still yields valid empty strings; stdin defaults to /dev/null. */
    char *cat[] = {"/bin/cat", NULL};
    struct ipc_run_result r;
    IPCT_OK(ipc_run(cat, NULL, &r));
    assert_true(r.status.exited && r.status.code == 0);
    assert_non_null(r.out);
    assert_non_null(r.err);
    assert_int_equal(r.out_len, 0);
    assert_int_equal(r.err_len, 0);
    ipc_run_result_free(&r);
    ipc_run_result_free(NULL);
    /* PATH search. */
    char *echo[] = {"echo", "via", "path", NULL};
    struct ipc_run_options po = {.flags = IPC_RUN_F_PATH};
    IPCT_OK(ipc_run(echo, &po, &r));
    assert_string_equal((char *)r.out, "via path\n");
    ipc_run_result_free(&r);
}

static void test_stdin_bytes(void **state)
{
    (void)state;
    /* 4 MiB through cat: stdin writing and stdout reading must interleave. */
    const size_t n = (size_t)4 << 20;
    unsigned char *in = malloc(n);
    assert_non_null(in);
    struct prng p = {seed_out};
    pattern_fill(&p, in, n);
    char *argv[] = {"/bin/cat", NULL};
    struct ipc_run_options o = {.stdin_data = in, .stdin_len = n, .timeout_ms = 60000};
    struct ipc_run_result r;
    IPCT_OK(ipc_run(argv, &o, &r));
    assert_true(r.status.exited && r.status.code == 0);
    assert_int_equal(r.stdin_written, n);
    assert_int_equal(r.out_len, n);
    assert_memory_equal(r.out, in, n);
    ipc_run_result_free(&r);

    /* A child that never reads: EPIPE is reported as a short stdin_written, and this
     * process is not killed by SIGPIPE (its disposition is left at the default). The
     * guard consumes the SIGPIPE of a thread that does not block it itself, so unblock
     * it whatever mask the test inherited. */
    sigset_t pipe_set, old_mask;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &pipe_set, &old_mask), 0);
    char *tr[] = {"/bin/true", NULL};
    IPCT_OK(ipc_run(tr, &o, &r));
    assert_true(r.status.exited && r.status.code == 0);
    assert_true(r.stdin_written < n);
    ipc_run_result_free(&r);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &old_mask, NULL), 0);
    free(in);

    /* stdin from an fd. */
    int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct ipc_run_options fo = {.flags = IPC_RUN_F_STDIN_FD, .stdin_fd = fd};
    char *wc[] = {"/usr/bin/wc", "-c", NULL};
    IPCT_OK(ipc_run(wc, &fo, &r));
    close(fd);
    assert_true(r.status.exited && r.status.code == 0);
    assert_true(atoi((char *)r.out) > 0);
    ipc_run_result_free(&r);
}

static void test_timeout_kills_sleep(void **state)
{
    (void)state;
    char *argv[] = {"/bin/sleep", "100", NULL};
    struct ipc_run_options o = {.timeout_ms = 200, .grace_ms = 5000};
    struct ipc_run_result r;
    IPCT_OK(ipc_run(argv, &o, &r));
    assert_true(r.timed_out);
    assert_false(r.killed); /* SIGTERM sufficed, well within the grace period */
    assert_true(r.status.signaled);
    assert_int_equal(r.status.signal, SIGTERM);
    assert_true(r.duration_ns >= 200000000ULL);
    assert_true(r.duration_ns < 3000000000ULL);
    ipc_run_result_free(&r);
    /* IPCT_TEST asserts the sleep was reaped. */
}

static void test_timeout_grace_then_sigkill(void **state)
{
    (void)state;
    /* The child ignores SIGTERM from its first instruction: ignored signals survive
     * spawn and exec. (A `trap '' TERM` in the script raced the 200 ms timeout on a
     * loaded machine: sh could be killed by SIGTERM before running the trap.) */
    char *argv[] = {"/bin/sh", "-c", "echo ready; exec sleep 100", NULL};
    struct ipc_run_options o = {.timeout_ms = 200, .grace_ms = 200};
    struct ipc_run_result r;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_term;
    assert_int_equal(sigaction(SIGTERM, &ign, &old_term), 0);
    int rc = ipc_run(argv, &o, &r);
    assert_int_equal(sigaction(SIGTERM, &old_term, NULL), 0);
    IPCT_OK(rc);
    assert_true(r.timed_out);
    assert_true(r.killed);
    assert_true(r.status.signaled);
    assert_int_equal(r.status.signal, SIGKILL);
    assert_string_equal((char *)r.out, "ready\n");
    assert_true(r.duration_ns >= 400000000ULL);
    assert_true(r.duration_ns < 5000000000ULL);
    ipc_run_result_free(&r);

    /* Process-group mode also stops a grandchild that holds the pipes. */
    char *grp[] = {"/bin/sh", "-c", "sleep 100 & wait", NULL};
    struct ipc_run_options g = {.timeout_ms = 200, .grace_ms = 2000, .flags = IPC_RUN_F_PGROUP};
    IPCT_OK(ipc_proc_set_subreaper(1)); /* so the killed grandchild is ours to reap */
    IPCT_OK(ipc_run(grp, &g, &r));
    assert_true(r.timed_out);
    assert_true(r.status.signaled && r.status.signal == SIGTERM);
    assert_true(r.duration_ns < 3000000000ULL);
    ipc_run_result_free(&r);
    /* The orphaned sleep (unless sh reaped it first) comes to us: it must be dead. */
    int reaped = 0;
    for (int i = 0; i < 50 && !hygiene_no_children(NULL); i++) {
        int n = ipc_proc_reap_orphans(100);
        assert_true(n >= 0);
        reaped += n;
    }
    assert_true(reaped <= 1);
    assert_true(hygiene_no_children(NULL));
    IPCT_OK(ipc_proc_set_subreaper(0));
}

/* Bug: the child inherited the caller's signal mask, so with SIGTERM blocked in the
 * calling thread (as a signalfd user does) the timeout's SIGTERM never took effect and
 * every timeout ended in SIGKILL after the grace period. */
static void test_timeout_with_sigterm_blocked_in_caller(void **state)
{
    (void)state;
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        char *argv[] = {"/bin/sleep", "100", NULL};
        struct ipc_run_options o = {.timeout_ms = 100, .grace_ms = 20000, .method = methods[i]};
        struct ipc_run_result r;
        IPCT_OK(ipc_run(argv, &o, &r));
        assert_true(r.timed_out);
        assert_false(r.killed);
        assert_true(r.status.signaled && r.status.signal == SIGTERM);
        ipc_run_result_free(&r);
    }
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
}

static void test_missing_binary(void **state)
{
    (void)state;
    struct ipc_run_result r;
    memset(&r, 0x5a, sizeof(r));
    char *argv[] = {"/nonexistent/ipct-missing", "x", NULL};
    assert_int_equal(ipc_run(argv, NULL, &r), -ENOENT);
    assert_null(r.out);
    assert_int_equal(r.out_len, 0);
    ipc_run_result_free(&r);
    char *bare[] = {"ipct-no-such-binary", NULL};
    struct ipc_run_options po = {.flags = IPC_RUN_F_PATH};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        po.method = methods[i];
        assert_int_equal(ipc_run(bare, &po, &r), -ENOENT);
    }
    char *dir[] = {"/tmp", NULL};
    assert_int_equal(ipc_run(dir, NULL, &r), -EACCES);
    assert_string_equal(ipc_strerror(-ENOENT), strerror(ENOENT));
}

struct counter {
    size_t bytes[3];
    int calls;
};

static void count_output(void *ctx, int stream, const void *data, size_t len)
{
    struct counter *c = ctx;
    assert_true(stream == 1 || stream == 2);
    assert_non_null(data);
    c->bytes[stream] += len;
    c->calls++;
}

static void test_cap_merge_and_callback(void **state)
{
    (void)state;
    char *argv[] = {self_exe, "__gen", "1000000", "300000", NULL};
    struct counter c = {{0, 0, 0}, 0};
    struct ipc_run_options o = {.max_output = 1000, .on_output = count_output, .ctx = &c};
    struct ipc_run_result r;
    IPCT_OK(ipc_run(argv, &o, &r));
    assert_true(r.status.exited && r.status.code == 0);
    assert_int_equal(r.out_len, 1000);
    assert_int_equal(r.err_len, 1000);
    assert_true(r.out_truncated && r.err_truncated);
    assert_pattern(r.out, r.out_len, seed_out);
    assert_pattern(r.err, r.err_len, seed_err);
    assert_int_equal(c.bytes[1], 1000000);
    assert_int_equal(c.bytes[2], 300000);
    ipc_run_result_free(&r);

    /* NO_CAPTURE: only the callback sees output. */
    memset(&c, 0, sizeof(c));
    o = (struct ipc_run_options){
        .flags = IPC_RUN_F_NO_CAPTURE, .on_output = count_output, .ctx = &c};
    IPCT_OK(ipc_run(argv, &o, &r));
    assert_int_equal(r.out_len + r.err_len, 0);
    assert_int_equal(c.bytes[1] + c.bytes[2], 1300000);
    ipc_run_result_free(&r);

    /* 2>&1 into one capture. */
    char *sh[] = {"/bin/sh", "-c", "echo a; echo b >&2; echo c", NULL};
    o = (struct ipc_run_options){.flags = IPC_RUN_F_MERGE_STDERR};
    IPCT_OK(ipc_run(sh, &o, &r));
    assert_string_equal((char *)r.out, "a\nb\nc\n");
    assert_int_equal(r.err_len, 0);
    ipc_run_result_free(&r);
}

static void test_argument_validation(void **state)
{
    (void)state;
    struct ipc_run_result r;
    char *argv[] = {"/bin/true", NULL};
    char *empty[] = {NULL};
    /* Bug: -EINVAL left res as it was, so freeing it (allowed after any failure)
     * freed garbage. */
    memset(&r, 0x5a, sizeof(r));
    assert_int_equal(ipc_run(NULL, NULL, &r), -EINVAL);
    assert_null(r.out);
    assert_null(r.err);
    assert_int_equal(r.out_len, 0);
    ipc_run_result_free(&r);
    memset(&r, 0x5a, sizeof(r));
    struct ipc_run_options bad = {.flags = 0x8000};
    assert_int_equal(ipc_run(argv, &bad, &r), -EINVAL);
    assert_null(r.out);
    ipc_run_result_free(&r);
    assert_int_equal(ipc_run(empty, NULL, &r), -EINVAL);
    assert_int_equal(ipc_run(argv, NULL, NULL), -EINVAL);
    struct ipc_run_options o = {.flags = 0x8000};
    assert_int_equal(ipc_run(argv, &o, &r), -EINVAL);
    o = (struct ipc_run_options){.timeout_ms = -1};
    assert_int_equal(ipc_run(argv, &o, &r), -EINVAL);
    o = (struct ipc_run_options){.timeout_ms = INT64_MAX};
    assert_int_equal(ipc_run(argv, &o, &r), -EINVAL);
    o = (struct ipc_run_options){.grace_ms = -5};
    assert_int_equal(ipc_run(argv, &o, &r), -EINVAL);
    o = (struct ipc_run_options){.stdin_len = 10};
    assert_int_equal(ipc_run(argv, &o, &r), -EINVAL);
    o = (struct ipc_run_options){.flags = IPC_RUN_F_STDIN_FD, .stdin_fd = -1};
    assert_int_equal(ipc_run(argv, &o, &r), -EINVAL);
    o = (struct ipc_run_options){.flags = IPC_RUN_F_STDIN_FD, .stdin_fd = 0, .stdin_data = "x"};
    assert_int_equal(ipc_run(argv, &o, &r), -EINVAL);
    o = (struct ipc_run_options){.flags = IPC_RUN_F_NO_CAPTURE};
    assert_int_equal(ipc_run(argv, &o, &r), -EINVAL);
    o = (struct ipc_run_options){.method = (enum ipc_proc_method)17};
    assert_int_equal(ipc_run(argv, &o, &r), -EINVAL);
    o = (struct ipc_run_options){.flags = IPC_RUN_F_STDIN_FD, .stdin_fd = 999};
    assert_int_equal(ipc_run(argv, &o, &r), -EBADF);
}

/* A temporary directory holding a FIFO (no writer) and a small file "in". */
struct stdin_fixture {
    char dir[64], fifo[96], file[96];
};

static void fixture_make(struct stdin_fixture *f)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/ipct-run-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->fifo, sizeof(f->fifo), "%s/fifo", f->dir);
    snprintf(f->file, sizeof(f->file), "%s/in", f->dir);
    assert_int_equal(mkfifo(f->fifo, 0600), 0);
    int fd = open(f->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, (const unsigned char *)"hello\n", 6), 0);
    close(fd);
}

static void fixture_remove(struct stdin_fixture *f)
{
    assert_int_equal(unlink(f->fifo), 0);
    assert_int_equal(unlink(f->file), 0);
    assert_int_equal(rmdir(f->dir), 0);
}

/* Bug: `ipcstorm run --timeout 2 --stdin FIFO -- cat` with no writer on FIFO hung
 * forever: stdin was opened in the parent before the timer started. The open now
 * happens in the child, under the deadline. On the old code this test hangs (the
 * alarm below, or ctest's TIMEOUT, fails it). */
static void test_stdin_path_fifo_without_writer_times_out(void **state)
{
    (void)state;
    struct stdin_fixture f;
    fixture_make(&f);
    alarm(60); /* watchdog only: turns a hang into a failure (SIGALRM) */
    char *argv[] = {"/bin/cat", NULL};
    for (int grp = 0; grp < 2; grp++) {
        struct ipc_run_options o = {.stdin_path = f.fifo,
                                    .timeout_ms = 300,
                                    .grace_ms = 10000,
                                    .flags = grp ? IPC_RUN_F_PGROUP : 0};
        struct ipc_run_result r;
        double t0 = ipc__now_s();
        IPCT_OK(ipc_run(argv, &o, &r));
        double took = ipc__now_s() - t0;
        assert_true(r.timed_out);
        assert_false(r.killed); /* SIGTERM ended the open, well within the grace */
        assert_true(r.status.signaled);
        assert_int_equal(r.status.signal, SIGTERM);
        assert_true(r.pid > 0);
        assert_true(r.duration_ns >= 300000000ULL);
        assert_true(took < 5.0);
        assert_int_equal(r.out_len + r.err_len, 0);
        ipc_run_result_free(&r);
        assert_true(hygiene_no_children(NULL));
    }
    /* A caller that ignores SIGTERM: the child keeps ignoring it (exec's rule), so
     * the second stop action, SIGKILL after the grace period, ends the open. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_term;
    assert_int_equal(sigaction(SIGTERM, &ign, &old_term), 0);
    struct ipc_run_options o = {.stdin_path = f.fifo, .timeout_ms = 300, .grace_ms = 200};
    struct ipc_run_result r;
    double t0 = ipc__now_s();
    int rc = ipc_run(argv, &o, &r);
    double took = ipc__now_s() - t0;
    assert_int_equal(sigaction(SIGTERM, &old_term, NULL), 0);
    IPCT_OK(rc);
    assert_true(r.timed_out && r.killed);
    assert_true(r.status.signaled && r.status.signal == SIGKILL);
    assert_true(r.duration_ns >= 500000000ULL);
    assert_true(took < 5.0);
    ipc_run_result_free(&r);
    alarm(0);
    fixture_remove(&f);
}

static void test_stdin_path_errors(void **state)
{
    (void)state;
    struct stdin_fixture f;
    fixture_make(&f);
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/no-such-file", f.dir);
    char *cat[] = {"/bin/cat", NULL};
    struct ipc_run_result r;
    memset(&r, 0x5a, sizeof(r));
    struct ipc_run_options o = {.stdin_path = missing, .timeout_ms = 10000};
    assert_int_equal(ipc_run(cat, &o, &r), -ENOENT);
    assert_null(r.out);
    assert_int_equal(r.pid, 0);
    ipc_run_result_free(&r);
    assert_true(hygiene_no_children(NULL));
    /* A directory opens read-only fine; a path through a file does not. */
    char notdir[128];
    snprintf(notdir, sizeof(notdir), "%s/x", f.file);
    o.stdin_path = notdir;
    assert_int_equal(ipc_run(cat, &o, &r), -ENOTDIR);
    /* The stdin_path child reports exec and chdir errors like any spawn. */
    o.stdin_path = f.file;
    char *nobin[] = {"/nonexistent/ipct-missing", NULL};
    assert_int_equal(ipc_run(nobin, &o, &r), -ENOENT);
    char *bare[] = {"ipct-no-such-binary", NULL};
    o.flags = IPC_RUN_F_PATH;
    assert_int_equal(ipc_run(bare, &o, &r), -ENOENT);
    char *dir[] = {"/tmp", NULL};
    o.flags = 0;
    assert_int_equal(ipc_run(dir, &o, &r), -EACCES);
    o.cwd = missing;
    assert_int_equal(ipc_run(cat, &o, &r), -ENOENT);
    /* stdin_path excludes the other stdin sources. */
    o = (struct ipc_run_options){.stdin_path = f.file, .stdin_data = "x", .stdin_len = 1};
    assert_int_equal(ipc_run(cat, &o, &r), -EINVAL);
    o = (struct ipc_run_options){.stdin_path = f.file, .flags = IPC_RUN_F_STDIN_FD};
    assert_int_equal(ipc_run(cat, &o, &r), -EINVAL);
    fixture_remove(&f);
}

/* Closes the FIFO's only writer once the child has echoed the first bytes, so the
 * child then sees EOF (synchronisation through the pipes, no sleep). */
static void close_writer_on_output(void *ctx, int stream, const void *data, size_t len)
{
    (void)stream;
    (void)data;
    (void)len;
    int *fd = ctx;
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void test_stdin_path_reads(void **state)
{
    (void)state;
    struct stdin_fixture f;
    fixture_make(&f);
    /* A regular file, with PATH search, a custom environment and cwd: the path is
     * opened before the chdir, relative to the caller. */
    char *cat[] = {"cat", NULL};
    struct ipc_run_options o = {.stdin_path = f.file, .flags = IPC_RUN_F_PATH};
    struct ipc_run_result r;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(methods); i++) {
        o.method = methods[i]; /* ignored: the child is always forked */
        IPCT_OK(ipc_run(cat, &o, &r));
        assert_true(r.status.exited && r.status.code == 0);
        assert_string_equal((char *)r.out, "hello\n");
        ipc_run_result_free(&r);
    }
    char *sh[] = {"/bin/sh", "-c", "cat; echo \"$IPCT_X\"; pwd", NULL};
    char *env[] = {"IPCT_X=42", NULL};
    o = (struct ipc_run_options){.stdin_path = f.file, .env = env, .cwd = "/"};
    IPCT_OK(ipc_run(sh, &o, &r));
    assert_true(r.status.exited && r.status.code == 0);
    assert_string_equal((char *)r.out, "hello\n42\n/\n");
    ipc_run_result_free(&r);

    /* A FIFO whose writer exists: the open succeeds and the data flows. */
    int w = open(f.fifo, O_RDWR | O_CLOEXEC); /* Linux: does not wait for a reader */
    assert_true(w >= 0);
    assert_int_equal(write_all(w, (const unsigned char *)"ping\n", 5), 0);
    char *cat2[] = {"/bin/cat", NULL};
    o = (struct ipc_run_options){
        .stdin_path = f.fifo, .timeout_ms = 30000, .on_output = close_writer_on_output, .ctx = &w};
    IPCT_OK(ipc_run(cat2, &o, &r));
    assert_int_equal(w, -1);
    assert_false(r.timed_out);
    assert_true(r.status.exited && r.status.code == 0);
    assert_string_equal((char *)r.out, "ping\n");
    ipc_run_result_free(&r);
    fixture_remove(&f);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "__gen"))
        return gen_main(argc, argv);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (n <= 0)
        return 1;
    self_exe[n] = '\0';
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_capture_16mib_both_streams),
        IPCT_TEST(test_simple_and_methods),
        IPCT_TEST(test_stdin_bytes),
        IPCT_TEST(test_timeout_kills_sleep),
        IPCT_TEST(test_timeout_grace_then_sigkill),
        IPCT_TEST(test_missing_binary),
        IPCT_TEST(test_timeout_with_sigterm_blocked_in_caller),
        IPCT_TEST(test_cap_merge_and_callback),
        IPCT_TEST(test_argument_validation),
        IPCT_TEST(test_stdin_path_fifo_without_writer_times_out),
        IPCT_TEST(test_stdin_path_errors),
        IPCT_TEST(test_stdin_path_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
