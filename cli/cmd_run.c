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
#include "ipc/proc.h"
#include "ipc/run.h"

const char ipcstorm_cmd_run_summary[] =
    "run a command with timeout, print its output and a status line";

static void usage(FILE *out)
{
    fprintf(out, "usage: ipcstorm run [--timeout S] [--grace S] [--stdin FILE] [--method M] "
                 "-- CMD [ARGS...]\n"
                 "\n"
                 "Runs CMD (looked up in PATH, never through a shell), copying its stdout to\n"
                 "stdout and its stderr to stderr as they arrive, then prints a status line on\n"
                 "stderr, e.g. 'ipcstorm run: exit 0 in 0.012 s'.\n"
                 "\n"
                 "options:\n"
                 "  --timeout S   send SIGTERM after S seconds (fractions allowed; 0 = none)\n"
                 "  --grace S     then SIGKILL after S more seconds (default 1)\n"
                 "  --stdin FILE  the command reads FILE (default: inherit stdin)\n"
                 "  --method M    fork, vfork or posix_spawn (default: vfork)\n"
                 "  -h, --help    this help\n"
                 "\n"
                 "exit status: the command's exit code, 128+N when it was killed by signal N,\n"
                 "127 when CMD was not found, 126 when it could not be executed, 1 on a usage\n"
                 "or setup error.\n");
}

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

int ipcstorm_cmd_run(int argc, char **argv)
{
    double timeout = 0, grace = (double)IPC_RUN_DEFAULT_GRACE_MS / 1000.0;
    const char *stdin_path = NULL;
    enum ipc_proc_method method = IPC_PROC_AUTO;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (a[0] != '-')
            break; /* the command starts here even without "--" */
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        char name[32];
        if (eq && (size_t)(eq - a) < sizeof(name)) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
        } else {
            snprintf(name, sizeof(name), "%s", a);
        }
        int takes = !strcmp(name, "--timeout") || !strcmp(name, "--grace") ||
                    !strcmp(name, "--stdin") || !strcmp(name, "--method");
        if (!takes) {
            fprintf(stderr, "ipcstorm run: unknown option '%s' (see ipcstorm run --help)\n", a);
            return 1;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ipcstorm run: %s needs a value\n", name);
                return 1;
            }
            val = argv[++i];
        }
        if (!strcmp(name, "--timeout")) {
            if (cli_parse_seconds("run", "--timeout", val, &timeout) < 0)
                return 1;
        } else if (!strcmp(name, "--grace")) {
            if (cli_parse_seconds("run", "--grace", val, &grace) < 0)
                return 1;
        } else if (!strcmp(name, "--stdin")) {
            stdin_path = val;
        } else {
            if (!strcmp(val, "fork")) {
                method = IPC_PROC_FORK;
            } else if (!strcmp(val, "vfork")) {
                method = IPC_PROC_VFORK;
            } else if (!strcmp(val, "posix_spawn") || !strcmp(val, "posix-spawn")) {
                method = IPC_PROC_POSIX_SPAWN;
            } else {
                fprintf(stderr,
                        "ipcstorm run: invalid value for --method: '%s' (expected fork, "
                        "vfork or posix_spawn)\n",
                        val);
                return 1;
            }
        }
    }
    if (i >= argc) {
        fprintf(stderr, "ipcstorm run: no command given\n");
        usage(stderr);
        return 1;
    }
    char **cmd = argv + i;

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
    int rc = ipc_run(cmd, &o, &r);
    /* ipc_run's error does not say whether the open of FILE or the exec failed;
     * a FILE that cannot be read keeps the message and status it had when FILE
     * was opened here (access() does not block on a FIFO). */
    if (rc < 0 && stdin_path && access(stdin_path, R_OK) < 0) {
        fprintf(stderr, "ipcstorm run: cannot open '%s': %s\n", stdin_path, strerror(errno));
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "ipcstorm run: cannot run '%s': %s\n", cmd[0], ipc_strerror(rc));
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
