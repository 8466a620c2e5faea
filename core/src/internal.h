/* internal.h - helpers shared by libipc's modules; not installed. Symbols that
 * must be visible across .c files are named ipc__*. */
#ifndef IPC_INTERNAL_H
#define IPC_INTERNAL_H

#include <errno.h>
#include <stddef.h>

#include "ipc/error.h"

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

#define IPC__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
