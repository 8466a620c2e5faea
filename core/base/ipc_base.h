/* ipc_base.h - header-only primitives shared by every layer of the project:
 * libipc, the RESP server, the stress drivers, the fuzz harnesses and the
 * ipcstorm command. Not installed. Each primitive lives here once. */
#ifndef IPC_BASE_H
#define IPC_BASE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

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

/* Ends a forked child as _exit does (no atexit handlers, no stdio flush). In
 * coverage builds (IPC_COVERAGE) the child first writes its profile, which
 * _exit would skip, so that what children run counts in the report (a fork child
 * starts with zeroed counters, core/src/coverage.c, so it adds only its own
 * counts). Never call it in a vfork child: that one shares the parent's
 * counters, which the parent writes, and must not touch files; plain _exit there. */
#if IPC_COVERAGE
int __llvm_profile_write_file(void);
#endif
static inline _Noreturn void ipc__exit_child(int code)
{
#if IPC_COVERAGE
    __llvm_profile_write_file();
#endif
    _exit(code);
}

/* CLOCK_MONOTONIC in nanoseconds: for deadlines and durations, never for dates.
 * The only place that reads the clock; the other units derive from it. Async-signal-safe
 * (clock_gettime is). */
static inline uint64_t ipc__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The same clock in whole milliseconds (truncated), signed so that deadline
 * arithmetic (deadline - now) may go negative. */
static inline int64_t ipc__now_ms(void)
{
    return (int64_t)(ipc__now_ns() / 1000000u);
}

/* The same clock in seconds, for reports and rates. */
static inline double ipc__now_s(void)
{
    return (double)ipc__now_ns() / 1e9;
}

/* Big-endian (network order) loads and stores of unaligned bytes: the wire
 * formats (frames, pool and server payloads) are big-endian. */
static inline uint32_t ipc__load_be32(const void *src)
{
    const uint8_t *p = (const uint8_t *)src;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void ipc__store_be32(void *dst, uint32_t v)
{
    uint8_t *p = (uint8_t *)dst;
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint64_t ipc__load_be64(const void *src)
{
    const uint8_t *p = (const uint8_t *)src;
    return (uint64_t)ipc__load_be32(p) << 32 | ipc__load_be32(p + 4);
}

static inline void ipc__store_be64(void *dst, uint64_t v)
{
    uint8_t *p = (uint8_t *)dst;
    ipc__store_be32(p, (uint32_t)(v >> 32));
    ipc__store_be32(p + 4, (uint32_t)v);
}

/* Closes *fd when it is open and marks it closed (-1), so a second call (an
 * error path after a normal one) is harmless. close() is not retried: on Linux
 * the fd is released even when it reports EINTR. Async-signal-safe. */
static inline void ipc__close_invalidate(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Online CPUs, clamped to [1, max] (1 when sysconf cannot tell); max >= 1. For
 * "0 workers means one per CPU" defaults. */
static inline unsigned ipc__cpu_count(unsigned max)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return (unsigned long)n > max ? max : (unsigned)n;
}

#endif
