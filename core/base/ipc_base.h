/* ipc_base.h - header-only primitives shared by every layer of the project:
 * libipc, the RESP server, the stress drivers, the fuzz harnesses and the
 * ipcstorm command. Not installed. Each primitive lives here once. */
#ifndef IPC_BASE_H
#define IPC_BASE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

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

#define IPC__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* CLOCK_MONOTONIC in nanoseconds: for deadlines and durations, never for dates. */
static inline uint64_t ipc__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
