/* cmd_counter.c - `ipcstorm counter`: the tutorial's shared counter at scale. N
 * forked processes each add 1 M times to one counter in shared memory guarded
 * by the chosen lock; the parent compares the total with N * M. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"
#include "ipc/shm.h"
#include "ipc_base.h"

const char ipcstorm_cmd_counter_summary[] =
    "N processes x M increments on a shared counter (mutex|sem|atomic|none)";

#define MAX_PROCS 1024
#define MAX_INCS  1000000000ull

/* The child waits for the start gate (EOF on the pipe once the parent closes
 * its end) so that every process starts adding at the same time and the
 * measured time covers the contended phase only. */
static int child_main(ipc_counter *c, int gate, uint64_t incs)
{
    char b;
    ssize_t n;
    do
        n = read(gate, &b, 1);
    while (n < 0 && errno == EINTR);
    close(gate);
    for (uint64_t i = 0; i < incs; i++) {
        int rc = ipc_counter_add(c, 1, NULL);
        if (rc < 0 && rc != IPC_EOWNERDEAD)
            return 2;
    }
    return 0;
}

static const char *check_lock(const char *value, const void *ctx)
{
    (void)ctx;
    enum ipc_lock_kind k;
    return ipc_lock_kind_parse(value, &k) < 0 ? "mutex, sem, atomic or none" : NULL;
}

int ipcstorm_cmd_counter(int argc, char **argv)
{
    uint64_t procs = 4, incs = 100000;
    const char *lock = "mutex";
    char procs_help[64], incs_help[64];
    snprintf(procs_help, sizeof(procs_help), "processes, 1..%d (default 4)", MAX_PROCS);
    snprintf(incs_help, sizeof(incs_help), "increments per process, 1..%llu (default 100000)",
             MAX_INCS);
    const struct cli_opt opts[] = {
        {.name = "procs",
         .kind = CLI_OPT_U64,
         .dest = &procs,
         .min = 1,
         .max = MAX_PROCS,
         .help = procs_help},
        {.name = "incs",
         .kind = CLI_OPT_U64,
         .dest = &incs,
         .min = 1,
         .max = MAX_INCS,
         .arg = "M",
         .help = incs_help},
        {.name = "lock",
         .kind = CLI_OPT_STR,
         .dest = &lock,
         .arg = "mutex|sem|atomic|none",
         .help = "the lock (default mutex):\n"
                 "  mutex   robust process-shared pthread mutex\n"
                 "  sem     POSIX unnamed semaphore (pshared)\n"
                 "  atomic  C11 atomic_fetch_add\n"
                 "  none    unlocked read-modify-write: shows lost updates",
         .check = check_lock},
        {0},
    };
    const struct cli_cmd cmd = {
        .prog = "ipcstorm counter",
        .intro = "Forks N processes that each add 1 to one counter in shared memory M times,\n"
                 "with the chosen lock. Prints expected, got, lost updates and increments per\n"
                 "second.\n",
        .outro = "Examples:\n"
                 "  ipcstorm counter --procs 8 --incs 1000000 --lock mutex\n"
                 "  ipcstorm counter --procs 4 --lock none   # shows lost updates\n"
                 "\n"
                 "Exit status: 0 ok (none: even with lost updates), 1 setup error or a failed\n"
                 "worker, 2 a real lock lost an update, 64 usage error.\n",
        .opts = opts,
    };
    int prc = cli_parse(&cmd, argc, argv, NULL);
    if (prc != CLI_RUN)
        return prc;
    enum ipc_lock_kind kind = IPC_LOCK_MUTEX;
    if (ipc_lock_kind_parse(lock, &kind) < 0)
        return cli_usage_error(&cmd, "--lock: '%s' is not %s", lock, check_lock(lock, NULL));

    ipc_counter *c = NULL;
    int rc = ipc_counter_new(&c, kind);
    if (rc < 0) {
        fprintf(stderr, "ipcstorm counter: cannot create the counter: %s\n", ipc_strerror(rc));
        return 1;
    }
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0) {
        perror("ipcstorm counter: pipe2");
        ipc_counter_free(c);
        return 1;
    }
    /* Flush before forking so no buffered output is written twice. */
    fflush(stdout);
    fflush(stderr);

    pid_t *pids = calloc(procs, sizeof(*pids));
    if (!pids) {
        fprintf(stderr, "ipcstorm counter: out of memory\n");
        close(gate[0]);
        close(gate[1]);
        ipc_counter_free(c);
        return 1;
    }
    uint64_t started = 0;
    int setup_failed = 0;
    for (; started < procs; started++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("ipcstorm counter: fork");
            setup_failed = 1;
            break;
        }
        if (pid == 0) {
            close(gate[1]);
            ipc__exit_child(child_main(c, gate[0], incs));
        }
        pids[started] = pid;
    }
    close(gate[0]);
    if (setup_failed)
        for (uint64_t i = 0; i < started; i++)
            kill(pids[i], SIGKILL);
    double t0 = ipc__now_s();
    close(gate[1]); /* start */

    int child_failed = 0;
    for (uint64_t i = 0; i < started; i++) {
        int st;
        pid_t p;
        do
            p = waitpid(pids[i], &st, 0);
        while (p < 0 && errno == EINTR);
        if (p < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (!setup_failed) {
                if (p >= 0 && WIFSIGNALED(st))
                    fprintf(stderr, "ipcstorm counter: worker %d killed by signal %d\n",
                            (int)pids[i], WTERMSIG(st));
                else
                    fprintf(stderr, "ipcstorm counter: worker %d failed\n", (int)pids[i]);
            }
            child_failed = 1;
        }
    }
    double elapsed = ipc__now_s() - t0;
    free(pids);
    if (setup_failed) {
        ipc_counter_free(c);
        return 1;
    }

    int64_t got = 0;
    rc = ipc_counter_get(c, &got);
    ipc_counter_free(c);
    if (rc < 0) {
        fprintf(stderr, "ipcstorm counter: %s\n", ipc_strerror(rc));
        return 1;
    }
    int64_t expected = (int64_t)(procs * incs);
    int64_t lost = expected - got;
    double rate = elapsed > 0 ? (double)expected / elapsed : 0;
    printf("lock:     %s\n", ipc_lock_kind_name(kind));
    printf("procs:    %" PRIu64 "\n", procs);
    printf("incs:     %" PRIu64 " per process\n", incs);
    printf("expected: %" PRId64 "\n", expected);
    printf("got:      %" PRId64 "\n", got);
    printf("lost:     %" PRId64 " (%.2f%%)\n", lost, 100.0 * (double)lost / (double)expected);
    printf("elapsed:  %.3f s\n", elapsed);
    printf("rate:     %.0f increments/s\n", rate);
    if (child_failed)
        return 1;
    if (kind != IPC_LOCK_NONE && lost != 0) {
        fprintf(stderr, "ipcstorm counter: FAIL: lock '%s' lost %" PRId64 " updates\n",
                ipc_lock_kind_name(kind), lost);
        return 2;
    }
    if (got > expected) {
        fprintf(stderr, "ipcstorm counter: FAIL: got more than expected\n");
        return 2;
    }
    return 0;
}
