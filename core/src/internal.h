/* internal.h - helpers shared by libipc's modules; not installed. Symbols that
 * must be visible across .c files are named ipc__*. */
#ifndef IPC_INTERNAL_H
#define IPC_INTERNAL_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>

#include "ipc/error.h"

/* Best-effort calls whose failure changes nothing (gcc ignores a (void) cast on
 * warn_unused_result). */
#define IPC__IGNORE_RC(expr)                                                                       \
    do {                                                                                           \
        long ipc__ignored_rc_ = (long)(expr);                                                      \
        (void)ipc__ignored_rc_;                                                                    \
    } while (0)

/* Runs a syscall-like expression until it stops failing with EINTR. close() is
 * never wrapped: on Linux the fd is gone even when close reports EINTR. */
#define IPC__RETRY(expr)                                                                           \
    ({                                                                                             \
        __typeof__(expr) ipc__r_;                                                                  \
        do {                                                                                       \
            ipc__r_ = (expr);                                                                      \
        } while (ipc__r_ == -1 && errno == EINTR);                                                 \
        ipc__r_;                                                                                   \
    })

/* Converts a failed libc call's errno to the library's return convention. */
static inline int ipc__neg_errno(void)
{
    return errno > 0 ? -errno : -EIO;
}

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

#define IPC__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
