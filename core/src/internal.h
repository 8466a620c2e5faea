/* internal.h - helpers private to libipc's modules; not installed, and on the
 * include path of libipc alone. The primitives that every layer shares (the
 * ones the server, the stress drivers and the tools use too) are in
 * core/base/ipc_base.h. Symbols visible across .c files are named ipc__*. */
#ifndef IPC_INTERNAL_H
#define IPC_INTERNAL_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>

#include "ipc/error.h"
#include "ipc_base.h"

/* Sets or clears O_NONBLOCK on fd; shared by ipc_pipe_set_nonblock and
 * ipc_sock_set_nonblock. Skips F_SETFL when the flag already has the wanted value. */
static inline int ipc__fd_set_nonblock(int fd, int on)
{
    if (fd < 0)
        return -EBADF;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return ipc__neg_errno();
    int nfl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0)
        return ipc__neg_errno();
    return 0;
}

/* proc.c's exec-child recipe, shared with run.c's stdin_path child. Both are
 * async-signal-safe and run only in a freshly forked child.
 * ipc__child_reset_signals: caught signals back to the default (ignored ones stay
 * ignored, as exec keeps them) and an empty mask, so that a caller blocking
 * SIGTERM for a signalfd does not make its children immune to a timeout.
 * ipc__child_exec: execve(file), or with path_env non-NULL and no '/' in file,
 * execvp's PATH search without allocation and without the /bin/sh fallback;
 * returns only on failure, with the errno to report. */
void ipc__child_reset_signals(void);
int ipc__child_exec(const char *file, const char *path_env, char *const argv[], char *const envp[]);

#endif
