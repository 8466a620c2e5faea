/* internal.h - helpers private to libipc's modules; not installed, and on the
 * include path of libipc alone. The primitives that every layer shares (the
 * ones the server, the stress drivers and the tools use too) are in
 * core/base/ipc_base.h. Symbols visible across .c files are named ipc__*. */
#ifndef IPC_INTERNAL_H
#define IPC_INTERNAL_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <time.h>

#include "ipc/error.h"
#include "ipc_base.h"
#include "sys.h"

/* Sets or clears O_NONBLOCK on fd; shared by ipc_pipe_set_nonblock and
 * ipc_sock_set_nonblock. Skips F_SETFL when the flag already has the wanted value. */
static inline int ipc__fd_set_nonblock(int fd, int on)
{
    if (fd < 0)
        return -EBADF;
    int fl = ipc__sys_fcntl(fd, F_GETFL);
    if (fl < 0)
        return ipc__neg_errno();
    int nfl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (nfl != fl && ipc__sys_fcntl(fd, F_SETFL, nfl) < 0)
        return ipc__neg_errno();
    return 0;
}

/* dup2 retried over EINTR and EBUSY. EBUSY is Linux's answer when newfd is
 * being installed by an open() or dup() racing in another thread: transient, and
 * fatal to leave unretried where newfd is 0-2 (ipc_redir_restore would lose the
 * caller's stdout for good). Async-signal-safe. */
static inline int ipc__dup2_retry(int oldfd, int newfd)
{
    int rc;
    do
        rc = ipc__sys_dup2(oldfd, newfd);
    while (rc < 0 && (errno == EINTR || errno == EBUSY));
    return rc;
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

/* The SIGPIPE guard: every libipc write to a pipe that may have lost its reader
 * (ipc_pipe_write_all/writev_all and so the frame and pool writes, ipc_run's
 * stdin feed) goes through it, with one rule:
 *
 *   - If the calling thread already blocks SIGPIPE, the guard does nothing: the
 *     thread owns its pending signals, and a SIGPIPE the write raises stays
 *     pending for it, exactly as after a plain write().
 *   - Otherwise SIGPIPE is blocked in the calling thread only (never a process-wide
 *     disposition change) between begin and end. The kernel directs the SIGPIPE of
 *     a failed write at the writing thread, so after a write that failed with
 *     EPIPE, end consumes that one signal (standard signals do not queue: one
 *     pending instance at most) before restoring the mask. The write then
 *     reports -EPIPE and the process is never killed.
 *
 * Usage: begin; the write(s); end(got_epipe = a write failed with EPIPE). Sockets
 * do not need it (MSG_NOSIGNAL). Not async-signal-safe (pthread_sigmask): code
 * running in a forked child of a threaded parent skips it. end preserves errno. */
struct ipc__sigpipe_guard {
    sigset_t old; /* the thread's mask at begin */
    int active;   /* begin blocked SIGPIPE: end must consume and restore */
};

static inline void ipc__sigpipe_guard_begin(struct ipc__sigpipe_guard *g)
{
    g->active = 0;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    if (ipc__sys_pthread_sigmask(SIG_BLOCK, &s, &g->old) == 0)
        g->active = !sigismember(&g->old, SIGPIPE);
}

static inline void ipc__sigpipe_guard_end(struct ipc__sigpipe_guard *g, int got_epipe)
{
    if (!g->active)
        return;
    int saved = errno;
    if (got_epipe) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGPIPE);
        struct timespec zero = {0, 0};
        /* One EPIPE write raises one SIGPIPE; loop only over EINTR. The real call,
         * not the seam's: with the signal pending it cannot fail otherwise, and an
         * injected EAGAIN would leave the SIGPIPE to kill the process at the
         * mask restore below - a failure that cannot happen. */
        while (sigtimedwait(&s, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    ipc__sys_pthread_sigmask(SIG_SETMASK, &g->old, NULL);
    g->active = 0;
    errno = saved;
}

#endif
