/* replay_main.c - runs a fuzz target's LLVMFuzzerTestOneInput over files, without
 * any fuzzing engine, so that gcc and sanitizer builds replay the corpus in ctest.
 *
 *   replay_<target> [--timeout-ms N] [--no-fork] [--min-inputs N] PATH...
 *
 * PATH is a file or a directory (its regular files, sorted, dot files skipped).
 * Each input runs in its own child process so that one input that hangs, crashes
 * or leaks is reported by name and the others still run: the runner (never the
 * target) waits on a pidfd with a timeout and SIGKILLs a child that overruns. The
 * child ends with exit(), not _exit(), so that LeakSanitizer and the coverage
 * runtime run their exit hooks per input. After the target returns, the child also
 * checks the target's own contract: no child process left (reaped) and no fd leaked.
 *
 * Exit status: 0 when every input passed, 1 when any failed, 2 on usage errors. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hygiene.h"
#include "ipc_base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Inputs above this are not fuzzer-sized; refusing them keeps the runner bounded. */
#define REPLAY_MAX_INPUT (64u << 20)

struct opts {
    long timeout_ms;
    int no_fork;
    long min_inputs;
};

struct stats {
    long run;
    long failed;
};

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > REPLAY_MAX_INPUT) {
        close(fd);
        return -EFBIG;
    }
    /* An exact-size heap copy, so that ASan catches a read one byte past the end. */
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? -errno : -EIO;
            free(buf);
            close(fd);
            return e;
        }
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    *len = n;
    return 0;
}

/* Runs one input in this process and checks the target cleaned up after itself. */
static int run_here(const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = read_file(path, &buf, &len);
    if (r < 0) {
        fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(-r));
        return -1;
    }
    int fds = hygiene_fd_count();
    (void)LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    struct hygiene_child_probe left;
    if (!hygiene_no_children(&left)) {
        fprintf(stderr, "replay: FAIL %s: the target left a child process (pid %d)\n", path,
                (int)left.pid);
        return -1;
    }
    int fds_after = hygiene_fd_count();
    if (fds < 0 || fds_after != fds) {
        fprintf(stderr, "replay: FAIL %s: the target leaked fds (%d open before, %d after)\n", path,
                fds, fds_after);
        return -1;
    }
    return 0;
}

/* Waits for pid for at most timeout_ms. Returns 1 and the status when it ended,
 * 0 on timeout. A pidfd makes the wait exact without polling; kernels without
 * pidfd_open fall back to short naps, which only the runner takes. */
static int wait_timeout(pid_t pid, long timeout_ms, int *status)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    double deadline = (double)ipc__now_ms() + (double)timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            *status = 0;
            break;
        }
        double left = deadline - (double)ipc__now_ms();
        if (left <= 0) {
            if (pfd >= 0)
                close(pfd);
            return 0;
        }
        if (pfd >= 0) {
            struct pollfd p = {.fd = pfd, .events = POLLIN};
            (void)poll(&p, 1, left > 1e6 ? 1000000 : (int)left + 1);
        } else {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (pfd >= 0)
        close(pfd);
    return 1;
}

static void run_one(const char *path, const struct opts *o, struct stats *st)
{
    st->run++;
    if (o->no_fork) {
        if (run_here(path) != 0)
            st->failed++;
        return;
    }
    fflush(NULL);
    double t0 = (double)ipc__now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "replay: fork: %s\n", strerror(errno));
        st->failed++;
        return;
    }
    if (pid == 0) {
        /* Own process group, so a timeout kills whatever the target spawned too. */
        setpgid(0, 0);
        exit(run_here(path) == 0 ? 0 : 1);
    }
    int status = 0;
    if (!wait_timeout(pid, o->timeout_ms, &status)) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        fprintf(stderr, "replay: TIMEOUT %s: still running after %ld ms (killed)\n", path,
                o->timeout_ms);
        st->failed++;
        return;
    }
    /* Reap anything of the group the target forgot, so ctest is not left waiting. */
    kill(-pid, SIGKILL);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return;
    st->failed++;
    if (WIFSIGNALED(status))
        fprintf(stderr, "replay: CRASH %s: killed by signal %d (%s) after %.0f ms\n", path,
                WTERMSIG(status), strsignal(WTERMSIG(status)), (double)ipc__now_ms() - t0);
    else
        fprintf(stderr, "replay: FAIL %s: exit status %d\n", path, WEXITSTATUS(status));
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, const struct opts *o, struct stats *st)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        run_one(path, o, st);
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = 0, cap = 0;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof(*names));
            if (!nn)
                abort();
            names = nn;
        }
        size_t l = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(l);
        if (!names[n])
            abort();
        snprintf(names[n], l, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        if (stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode))
            run_one(names[i], o, st);
        free(names[i]);
    }
    free(names);
    return 0;
}

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [--timeout-ms N] [--no-fork] [--min-inputs N] PATH...\n"
            "Runs the fuzz target once per file (each in a child process with a timeout).\n"
            "  --timeout-ms N   per-input timeout (default 10000)\n"
            "  --no-fork        run inputs in this process (no timeout, faster)\n"
            "  --min-inputs N   fail unless at least N inputs ran (default 1)\n",
            argv0);
}

int main(int argc, char **argv)
{
    struct opts o = {.timeout_ms = 10000, .no_fork = 0, .min_inputs = 1};
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else if (strcmp(a, "--no-fork") == 0) {
            o.no_fork = 1;
        } else if ((strcmp(a, "--timeout-ms") == 0 || strcmp(a, "--min-inputs") == 0) &&
                   i + 1 < argc) {
            char *end;
            errno = 0;
            long v = strtol(argv[i + 1], &end, 10);
            if (errno || *end || end == argv[i + 1] || v < 0) {
                fprintf(stderr, "replay: invalid value for %s: '%s'\n", a, argv[i + 1]);
                return 2;
            }
            if (a[2] == 't')
                o.timeout_ms = v ? v : 1;
            else
                o.min_inputs = v;
            i++;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "replay: unknown option '%s'\n", a);
            usage(stderr, argv[0]);
            return 2;
        } else {
            break;
        }
    }
    if (i >= argc) {
        usage(stderr, argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        (void)LLVMFuzzerInitialize(&argc, &argv);

    struct stats st = {0, 0};
    int bad_path = 0;
    double t0 = (double)ipc__now_ms();
    for (; i < argc; i++)
        if (run_path(argv[i], &o, &st) != 0)
            bad_path = 1;
    fprintf(stderr, "replay: %ld inputs, %ld failed, %.0f ms\n", st.run, st.failed,
            (double)ipc__now_ms() - t0);
    if (st.run < o.min_inputs) {
        fprintf(stderr, "replay: expected at least %ld inputs\n", o.min_inputs);
        return 1;
    }
    return (st.failed || bad_path) ? 1 : 0;
}
