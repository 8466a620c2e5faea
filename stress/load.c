/* load.c - the stress-ng background load of `--with-stress-ng "ARGS"`.
 *
 * stress-ng is started through libipc's own spawn (so the load also exercises
 * it) as the leader of a new process group, with --timeout so that it ends by
 * itself even if the driver is killed outright. stress_load_stop() sends SIGTERM
 * to the whole group, waits, escalates to SIGKILL and reaps it: it runs at the end
 * of every run, including failed and interrupted ones. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "ipc/proc.h"

#define LOAD_MAX_ARGS 64

int stress_load_start(struct stress *s)
{
    static char buf[1024];
    char *argv[LOAD_MAX_ARGS + 8];
    int n = 0;
    bool has_timeout = false;
    snprintf(buf, sizeof(buf), "%s", s->stress_ng_args);
    argv[n++] = "stress-ng";
    for (char *save = NULL, *t = strtok_r(buf, " \t\n", &save); t;
         t = strtok_r(NULL, " \t\n", &save)) {
        if (n >= LOAD_MAX_ARGS) {
            fprintf(stderr, "ipcstorm stress %s: --with-stress-ng: too many arguments\n",
                    s->spec->name);
            return -1;
        }
        if (!strcmp(t, "--timeout") || !strcmp(t, "-t"))
            has_timeout = true;
        argv[n++] = t;
    }
    static char tmo[32];
    if (!has_timeout) {
        /* Outlive the run a little; the driver stops it explicitly at the end. */
        double secs = s->duration > 0 ? ceil(s->duration) + 10 : 3600;
        snprintf(tmo, sizeof(tmo), "%.0fs", secs);
        argv[n++] = "--timeout";
        argv[n++] = tmo;
    }
    argv[n] = NULL;

    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        fprintf(stderr, "ipcstorm stress %s: /dev/null: %s\n", s->spec->name, strerror(errno));
        return -1;
    }
    struct ipc_proc_options o;
    memset(&o, 0, sizeof(o));
    /* Own process group: a terminal's Ctrl-C reaches only the driver, which then
     * stops the load itself, and the stop can reach every stressor at once. */
    o.flags = IPC_PROC_F_PATH | IPC_PROC_F_SETPGID | IPC_PROC_F_STDIO;
    o.stdio[0] = devnull;
    o.stdio[1] = devnull;
    o.stdio[2] = getenv("IPCSTORM_LOAD_VERBOSE") ? -1 : devnull;
    ipc_proc *p = NULL;
    int r = ipc_proc_spawn(&p, argv, &o);
    close(devnull);
    if (r < 0) {
        fprintf(stderr, "ipcstorm stress %s: cannot start stress-ng: %s%s\n", s->spec->name,
                ipc_strerror(r), r == -ENOENT ? " (install it: scripts/deps)" : "");
        return -1;
    }
    s->load = p;
    s->load_pid = ipc_proc_pid(p);
    return 0;
}

void stress_load_stop(struct stress *s)
{
    ipc_proc *p = s->load;
    if (!p)
        return;
    struct ipc_proc_status st;
    int r = ipc_proc_wait(p, 0, 0, &st);
    if (r == -ETIMEDOUT) {
        stress_ignore(ipc_proc_kill_group(p, SIGTERM));
        r = ipc_proc_wait(p, 5000, 0, &st);
        if (r == -ETIMEDOUT) {
            stress_ignore(ipc_proc_kill_group(p, SIGKILL));
            r = ipc_proc_wait(p, IPC_PROC_WAIT_FOREVER, 0, &st);
        }
    }
    /* Stressors that outlived their parent still carry its group id (never
     * kill(-1) or our own group for a pid libipc got wrong). */
    if (s->load_pid > 1)
        kill(-s->load_pid, SIGKILL);
    ipc_proc_free(p);
    s->load = NULL;
    s->load_pid = 0;
}
