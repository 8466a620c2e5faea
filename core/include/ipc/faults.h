/* ipc/faults.h - the fault-injection seam's control API (fault builds only).
 *
 * Every system call and allocation that libipc makes and that can fail goes
 * through one seam (core/src/sys.h). With the CMake option IPC_FAULTS off - the
 * default, the release preset and every plain install - the seam is a list of
 * macros naming the real calls and this header is neither installed nor usable.
 * With it on, each seam call first asks the controller below whether to fail,
 * and with which errno, or to move fewer bytes than asked (a short transfer).
 *
 * Faults are armed in one of two ways:
 *   - a schedule: "the nth call of this kind (or of any kind) fails like this",
 *     used by the fuzz targets (the schedule comes from the input) and by the
 *     exhaustive sweep (fail call i, for every i);
 *   - a rate: every seam call fails with probability `rate`, its errno or short
 *     class drawn from the call's list, reproducibly from `seed` (stress).
 *
 * The controller's state lives in a shared anonymous mapping created at the first
 * arm, so calls made by forked (and vforked) children of the arming process count
 * and fail too, and their call sites appear in the statistics. It takes no lock
 * and never allocates: a forked child of a threaded process may pass through it.
 * Seam calls from any thread or child are safe. Arming and disarming rewrite plain
 * fields: do them while no other thread or child is making seam calls. With the
 * parent and its children calling concurrently, which process meets "the kth
 * call" depends on scheduling. A rate of 1 makes a call that libipc retries
 * (waitpid's EINTR) spin for as long as the rate stays 1.
 */
#ifndef IPC_FAULTS_H
#define IPC_FAULTS_H

#if !defined(IPC_FAULTS) || !IPC_FAULTS
#error "ipc/faults.h is for builds of libipc configured with -DIPC_FAULTS=ON"
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The call kinds of the seam: one per system call or allocator libipc uses.
 * XX(name, can_short): can_short marks the transfer calls (read/write family)
 * that may also be made to move 1..n-1 bytes. */
#define IPC_FAULT_CALLS(XX)                                                                        \
    XX(read, 1)                                                                                    \
    XX(write, 1)                                                                                   \
    XX(readv, 1)                                                                                   \
    XX(writev, 1)                                                                                  \
    XX(send, 1)                                                                                    \
    XX(recv, 1)                                                                                    \
    XX(sendto, 0)                                                                                  \
    XX(recvfrom, 0)                                                                                \
    XX(signalfd_read, 0)                                                                           \
    XX(pipe2, 0)                                                                                   \
    XX(fork, 0)                                                                                    \
    XX(vfork, 0)                                                                                   \
    XX(posix_spawn, 0)                                                                             \
    XX(execve, 0)                                                                                  \
    XX(waitpid, 0)                                                                                 \
    XX(waitid, 0)                                                                                  \
    XX(pidfd_open, 0)                                                                              \
    XX(pidfd_send_signal, 0)                                                                       \
    XX(kill, 0)                                                                                    \
    XX(sigqueue, 0)                                                                                \
    XX(dup2, 0)                                                                                    \
    XX(fcntl, 0)                                                                                   \
    XX(open, 0)                                                                                    \
    XX(socket, 0)                                                                                  \
    XX(setsockopt, 0)                                                                              \
    XX(bind, 0)                                                                                    \
    XX(listen, 0)                                                                                  \
    XX(accept4, 0)                                                                                 \
    XX(connect, 0)                                                                                 \
    XX(getsockname, 0)                                                                             \
    XX(poll, 0)                                                                                    \
    XX(mmap, 0)                                                                                    \
    XX(memfd_create, 0)                                                                            \
    XX(shm_open, 0)                                                                                \
    XX(ftruncate, 0)                                                                               \
    XX(sigaction, 0)                                                                               \
    XX(sigprocmask, 0)                                                                             \
    XX(pthread_sigmask, 0)                                                                         \
    XX(sigtimedwait, 0)                                                                            \
    XX(signalfd, 0)                                                                                \
    XX(malloc, 0)                                                                                  \
    XX(calloc, 0)                                                                                  \
    XX(realloc, 0)

enum ipc_fault_call {
#define IPC__FAULT_ENUM(name, can_short) IPC_FAULT_##name,
    IPC_FAULT_CALLS(IPC__FAULT_ENUM)
#undef IPC__FAULT_ENUM
        IPC_FAULT_CALL_COUNT,
    IPC_FAULT_ANY = -1 /* in a schedule step: a call of any kind */
};

/* How much of a transfer a short fault lets through (n = bytes asked, n >= 2). */
enum ipc_fault_short {
    IPC_FAULT_SHORT_NONE = 0,
    IPC_FAULT_SHORT_ONE,     /* 1 byte */
    IPC_FAULT_SHORT_HALF,    /* n / 2 */
    IPC_FAULT_SHORT_BUT_ONE, /* n - 1 */
    IPC_FAULT_SHORT_COUNT
};

/* One fault of a schedule: the nth (1-based) call matching `call` fails with
 * `err` (an errno), or - with err 0 - is a short transfer of class `shortc`. A
 * short step on a call that cannot be short, or on a transfer of fewer than 2
 * bytes, passes the call through unchanged. */
struct ipc_fault_step {
    int call; /* enum ipc_fault_call or IPC_FAULT_ANY */
    uint32_t nth;
    int err;
    enum ipc_fault_short shortc;
};

#define IPC_FAULT_MAX_STEPS 16

/* Name of a call kind ("read"), or NULL out of range; and back. Returns
 * -EINVAL for an unknown name ("any" parses as IPC_FAULT_ANY). */
const char *ipc_fault_call_name(int call);
int ipc_fault_call_parse(const char *name, int *call_out);

/* The errnos the seam injects for `call` (the failures its man page lists that
 * can happen in practice) and whether it can be short. sigprocmask and
 * pthread_sigmask have none (they cannot fail with libipc's arguments).
 *
 * Some failures depend on the fd or target rather than on the kind, and the seam
 * does not inject one that the real call could not produce at that moment: EINTR
 * on a non-blocking fd, EAGAIN on a blocking one (or with data to read / room to
 * write), EIO on a pipe or socket, EPIPE on a pipe that still has a reader, a
 * short write of at most PIPE_BUF bytes to a pipe or a short read of a pipe
 * holding enough, fcntl errnos other than its command's (F_DUPFD: EMFILE,
 * F_SETPIPE_SZ: EPERM/EBUSY, the flag commands: none), dup2's EMFILE below the
 * fd limit, EPERM/ESRCH for a signal to an unreaped child of this process,
 * recvfrom's ECONNREFUSED on an unconnected socket, sigtimedwait's EINTR with a
 * zero timeout or EAGAIN (its timeout) before a longer one ran out, EINTR for a
 * WNOHANG wait. Such a call goes through
 * unharmed and is not counted as injected; a schedule step that names it is
 * still used up (random mode picks another of the call's actions instead). */
size_t ipc_fault_call_errnos(int call, const int **errnos_out);
int ipc_fault_call_can_short(int call);

/* "EINTR" <-> EINTR, for the errnos the seam can inject; -EINVAL if unknown. */
const char *ipc_fault_errno_name(int err);
int ipc_fault_errno_parse(const char *name, int *err_out);

/* Parses a schedule written as comma-separated steps KIND:NTH:ACTION, where KIND
 * is a call name or "any", NTH a decimal >= 1, ACTION an errno name or one of
 * short-one, short-half, short-but-one. Example: "write:2:EPIPE,any:7:short-half".
 * Returns the number of steps, or -EINVAL with a message in err (if errlen > 0)
 * naming the bad part. Steps may not exceed `cap`. */
int ipc_faults_parse(const char *text, struct ipc_fault_step *steps, size_t cap, char *err,
                     size_t errlen);

/* Arms a schedule (replacing whatever was armed) and resets the per-arm call
 * counters. 0, or -EINVAL for a bad step or more than IPC_FAULT_MAX_STEPS;
 * -ENOMEM if the shared state cannot be mapped. */
int ipc_faults_arm_schedule(const struct ipc_fault_step *steps, size_t n);

/* Arms random faults: each seam call fails with probability rate (0..1), its
 * errno or short class drawn from the call's list; same seed, same sequence of
 * decisions. `calls` restricts the faults to a set of kinds (bit i = call kind
 * i), 0 meaning every kind. -EINVAL for a rate outside [0, 1]. */
int ipc_faults_arm_random(double rate, uint64_t seed, uint64_t calls);

/* Stops injecting. Statistics stay until ipc_faults_reset_stats. */
void ipc_faults_disarm(void);

/* Calls seen and faults injected since the last reset, per kind and in total. */
struct ipc_fault_stats {
    uint64_t calls[IPC_FAULT_CALL_COUNT];
    uint64_t injected[IPC_FAULT_CALL_COUNT];
    uint64_t total_calls;
    uint64_t total_injected;
};
void ipc_faults_stats(struct ipc_fault_stats *out);
void ipc_faults_reset_stats(void);

/* Seam calls since the last arm (what the sweep counts to learn N). */
uint64_t ipc_faults_calls_since_arm(void);

/* Call sites ("pipe.c:42") seen since the last reset, with their counts. Returns
 * how many there are; fills at most cap. */
struct ipc_fault_site {
    const char *where;
    int call;
    uint64_t calls;
    uint64_t injected;
};
size_t ipc_faults_sites(struct ipc_fault_site *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
