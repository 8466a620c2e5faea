/* cmd_run.c - `ipcstorm run`: run a command through ipc_run, stream its output,
 * print a status line and exit with the child's status. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"
#include "ipc/proc.h"
#include "ipc/run.h"

const char ipcstorm_cmd_run_summary[] =
    "run a command with timeout, print its output and a status line";

/* Output is copied as it arrives so long-running commands show progress and
 * nothing is held in memory. */
static void forward(void *ctx, int stream, const void *data, size_t len)
{
    (void)ctx;
    const char *p = data;
    while (len) {
        ssize_t w = write(stream == 2 ? 2 : 1, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* our own stdout/stderr is gone: drop, keep running */
        p += w;
        len -= (size_t)w;
    }
}

static int64_t seconds_to_ms(double s)
{
    if (s <= 0)
        return 0;
    double ms = ceil(s * 1000.0);
    return ms < 1 ? 1 : (int64_t)ms;
}

static int exec_error_status(int err)
{
    switch (err) {
    case -ENOENT:
        return 127;
    case -EACCES:
    case -ENOEXEC:
    case -EISDIR:
    case -ENOTDIR:
    case -ELOOP:
    case -ENAMETOOLONG:
    case -E2BIG:
    case -ETXTBSY:
    case -EPERM:
        return 126;
    default:
        return 1;
    }
}

static int parse_method(const char *val, enum ipc_proc_method *out)
{
    if (!strcmp(val, "fork"))
        *out = IPC_PROC_FORK;
    else if (!strcmp(val, "vfork"))
        *out = IPC_PROC_VFORK;
    else if (!strcmp(val, "posix_spawn") || !strcmp(val, "posix-spawn"))
        *out = IPC_PROC_POSIX_SPAWN;
    else
        return -1;
    return 0;
}

static const char *check_method(const char *value, const void *ctx)
{
    (void)ctx;
    enum ipc_proc_method m;
    return parse_method(value, &m) < 0 ? "fork, vfork or posix_spawn" : NULL;
}

int ipcstorm_cmd_run(int argc, char **argv)
{
    double timeout = 0, grace = (double)IPC_RUN_DEFAULT_GRACE_MS / 1000.0;
    const char *stdin_path = NULL, *method_name = NULL;
    enum ipc_proc_method method = IPC_PROC_AUTO;
    const struct cli_opt opts[] = {
        {.name = "timeout",
         .kind = CLI_OPT_SECONDS,
         .dest = &timeout,
         .help = "send SIGTERM after S seconds (fractions allowed; 0 = none)"},
        {.name = "grace",
         .kind = CLI_OPT_SECONDS,
         .dest = &grace,
         .help = "then SIGKILL after S more seconds (default 1)"},
        {.name = "stdin",
         .kind = CLI_OPT_STR,
         .dest = &stdin_path,
         .arg = "FILE",
         .help = "the command reads FILE (default: inherit stdin)"},
        {.name = "method",
         .kind = CLI_OPT_STR,
         .dest = &method_name,
         .arg = "M",
         .help = "fork, vfork or posix_spawn (default: vfork)",
         .check = check_method},
        {0},
    };
    const struct cli_cmd cmd = {
        .prog = "ipcstorm run",
        .args = "[--] CMD [ARGS...]",
        .intro = "Runs CMD (looked up in PATH, never through a shell), copying its stdout to\n"
                 "stdout and its stderr to stderr as they arrive, then prints a status line on\n"
                 "stderr, e.g. 'ipcstorm run: exit 0 in 0.012 s'. The options end at \"--\" or\n"
                 "at the first argument that is not an option.\n",
        .outro = "Examples:\n"
                 "  ipcstorm run --timeout 5 -- make -j2\n"
                 "  ipcstorm run --timeout 0.5 --grace 0.2 -- sleep 10   # exit 143: SIGTERM\n"
                 "  ipcstorm run --method posix_spawn --stdin /etc/hostname -- wc -c\n"
                 "\n"
                 "Exit status: the command's exit code (0 when it succeeded), 128+N when it\n"
                 "was killed by signal N (a --timeout ends it with SIGTERM: 143), 127 when CMD\n"
                 "was not found, 126 when it could not be executed, 1 on a setup error, 64 on\n"
                 "a usage error.\n",
        .opts = opts,
    };
    int i = 0;
    int prc = cli_parse(&cmd, argc, argv, &i);
    if (prc != CLI_RUN)
        return prc;
    if (method_name)
        (void)parse_method(method_name, &method); /* check_method accepted it */
    if (i >= argc)
        return cli_usage_error(&cmd, "no command given");
    char **cmdv = argv + i;

    struct ipc_run_options o;
    memset(&o, 0, sizeof(o));
    o.flags = IPC_RUN_F_PATH | IPC_RUN_F_NO_CAPTURE | IPC_RUN_F_STDIN_FD;
    o.on_output = forward;
    o.method = method;
    o.timeout_ms = seconds_to_ms(timeout);
    o.grace_ms = seconds_to_ms(grace);
    if (o.grace_ms == 0)
        o.grace_ms = 1; /* --grace 0: SIGKILL right after SIGTERM */
    if (stdin_path) {
        /* Opened by the child, under --timeout: a FIFO without a writer times out. */
        o.flags &= ~IPC_RUN_F_STDIN_FD;
        o.stdin_path = stdin_path;
    } else if (fcntl(0, F_GETFD) >= 0) {
        o.stdin_fd = 0;
    } else {
        o.flags &= ~IPC_RUN_F_STDIN_FD; /* our stdin is closed: the child gets /dev/null */
    }

    struct ipc_run_result r;
    int rc = ipc_run(cmdv, &o, &r);
    /* ipc_run's error does not say whether the open of FILE or the exec failed;
     * a FILE that cannot be read keeps the message and status it had when FILE
     * was opened here (access() does not block on a FIFO). */
    if (rc < 0 && stdin_path && access(stdin_path, R_OK) < 0) {
        fprintf(stderr, "ipcstorm run: cannot open '%s': %s\n", stdin_path, strerror(errno));
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "ipcstorm run: cannot run '%s': %s\n", cmdv[0], ipc_strerror(rc));
        return exec_error_status(rc);
    }
    char what[IPC_PROC_STATUS_MAX];
    if (ipc_proc_status_format(&r.status, what, sizeof(what)) < 0)
        snprintf(what, sizeof(what), "status 0x%x", (unsigned)r.status.raw);
    fprintf(stderr, "ipcstorm run: %s in %.3f s%s\n", what, (double)r.duration_ns / 1e9,
            r.killed      ? " (timed out, killed after the grace period)"
            : r.timed_out ? " (timed out)"
                          : "");
    int status = ipc_proc_status_shell(&r.status);
    ipc_run_result_free(&r);
    return status < 0 ? 1 : status;
}
