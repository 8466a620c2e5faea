/* ipc/sig.h - signals: sigaction wrappers, sending (kill, sigqueue with an int
 * payload), mask and wait helpers, and an event source (signalfd, or a self-pipe
 * fallback) that turns signals into readable records for poll/epoll loops.
 *
 * Rules the module follows (and that callers should too):
 * - Every handler the library installs saves and restores errno and does only
 *   async-signal-safe work (an atomic store, a write(2) to a non-blocking pipe).
 * - The library never touches the SIGPIPE disposition; functions that would
 *   install a handler or reset a disposition reject SIGPIPE with -EINVAL
 *   (ipc_sig_child_reset leaves it as inherited).
 * - Signals consumed synchronously (ipc_sig_wait*, ipc_sigsrc) must be blocked in
 *   EVERY thread, otherwise the kernel may run the default action in a thread that
 *   does not block them. Block them (or create the ipc_sigsrc) in the main thread
 *   BEFORE starting any thread: new threads inherit the creator's mask.
 * - Standard signals (1..31) coalesce while pending: two SIGCHLDs may arrive as
 *   one record, so a SIGCHLD consumer must reap with waitpid(-1, .., WNOHANG) in a
 *   loop. Real-time signals (SIGRTMIN..SIGRTMAX) queue: each sigqueue() arrives
 *   once, in order for one signal number, lowest number first across numbers.
 *
 * Return convention: see ipc/error.h (>= 0 success, negative errno on failure).
 * A "bad signo" is one outside 1..NSIG-1 or one of the signals the C library
 * reserves for itself (glibc: 32 and 33, below SIGRTMIN).
 *
 * Errors under faults (what harnesses/faultsweep.c observed with every seam call
 * of this module failed in turn; the same holds for real failures):
 *   ipc_sig_install, ipc_sig_catch, ipc_sig_set_default, ipc_sig_restore,
 *   ipc_sig_child_reset    -EINVAL from sigaction (its only errno; it cannot
 *                          happen for a signal number these functions accept).
 *   ipc_sig_send           -EPERM, -ESRCH.   ipc_sig_queue  -EAGAIN, -EPERM, -ESRCH.
 *   ipc_sig_block/unblock/setmask/block_one/unblock_one  cannot fail with valid
 *                          arguments (pthread_sigmask).
 *   ipc_sig_wait, ipc_sig_timedwait  EINTR is retried; ipc_sig_timedwait's -EAGAIN
 *                          is the timeout.
 *   ipc_sigsrc_new         -EMFILE/-ENFILE/-ENOMEM (signalfd, pipe2, allocation),
 *                          -EINVAL (sigaction, self-pipe backend); the mask and
 *                          handlers are restored on failure.
 *   ipc_sigsrc_read        EINTR is retried; 0 when nothing is pending. Every
 *                          signal sent is read once or counted by
 *                          ipc_sigsrc_dropped (the self-pipe's write fails only
 *                          when the pipe is full).
 *   ipc_sig_caught*, ipc_sig_mkset, ipc_sigsrc_fd/backend/dropped/free: none.
 */
#ifndef IPC_SIG_H
#define IPC_SIG_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One received signal, as produced by the wait helpers and the event source. */
struct ipc_sig_info {
    int signo;  /* signal number */
    int code;   /* si_code: SI_USER (kill), SI_QUEUE (sigqueue), CLD_EXITED, ... */
    pid_t pid;  /* sender pid (SI_USER/SI_QUEUE) or child pid (SIGCHLD); 0 if none */
    uid_t uid;  /* sender real uid */
    int value;  /* sigqueue payload (si_value.sival_int); 0 when not SI_QUEUE */
    int status; /* SIGCHLD: exit code or signal number (si_status); else 0 */
};

/* ---- handlers -------------------------------------------------------------- */

/* Handler type (SA_SIGINFO form). The library calls it from a trampoline that
 * saves and restores errno around it; the handler itself must still only do
 * async-signal-safe work. */
typedef void (*ipc_sig_handler_fn)(int signo, siginfo_t *info, void *ucontext);

/* Flags for ipc_sig_install / ipc_sig_catch. */
#define IPC_SIG_RESTART   0x1u /* SA_RESTART: slow syscalls resume instead of EINTR */
#define IPC_SIG_NOCLDSTOP 0x2u /* SA_NOCLDSTOP (SIGCHLD only meaningful) */
#define IPC_SIG_ONESHOT   0x4u /* SA_RESETHAND: back to SIG_DFL after one delivery */

/* What ipc_sig_install/ipc_sig_catch replaced, to put it back with
 * ipc_sig_restore. Treat as opaque; zero-initialise before first use is not
 * required (install fills it). */
struct ipc_sig_prev {
    struct sigaction sa;
    ipc_sig_handler_fn fn; /* previous library trampoline target, if any */
    int signo;
};

/* Installs fn as the handler of signo (sigaction with SA_SIGINFO, an empty
 * sa_mask plus signo itself, flags: IPC_SIG_*). fn runs through a
 * trampoline that preserves errno. If prev is not NULL the previous action is
 * stored there for ipc_sig_restore.
 * Returns 0; -EINVAL for a bad/uncatchable signal (SIGKILL, SIGSTOP), SIGPIPE,
 * fn == NULL or unknown flags.
 * Not async-signal-safe (updates a process-wide table); thread-safe in the sense
 * that concurrent installs for different signals do not interfere. Process-wide
 * effect: the caller asked for it. */
IPC_MUST_USE int ipc_sig_install(int signo, ipc_sig_handler_fn fn, unsigned flags,
                                 struct ipc_sig_prev *prev);

/* Installs the library's counting handler on signo: each delivery increments a
 * per-signal counter readable with ipc_sig_caught(). Useful to make a blocking
 * syscall return EINTR (without IPC_SIG_RESTART) or to notice SIGTERM in a loop.
 * Same returns and rules as ipc_sig_install. */
IPC_MUST_USE int ipc_sig_catch(int signo, unsigned flags, struct ipc_sig_prev *prev);

/* Number of deliveries of signo counted by the ipc_sig_catch handler since the
 * process started (or since ipc_sig_caught_reset). 0 for an invalid signo.
 * Async-signal-safe, thread-safe (atomic load). */
unsigned long ipc_sig_caught(int signo);

/* Resets the counter of signo to 0. Async-signal-safe, thread-safe. */
void ipc_sig_caught_reset(int signo);

/* Puts back the action saved by ipc_sig_install/ipc_sig_catch.
 * Returns 0, -EINVAL for a NULL or never-filled prev. Not async-signal-safe. */
IPC_MUST_USE int ipc_sig_restore(const struct ipc_sig_prev *prev);

/* Sets signo to SIG_DFL (or SIG_IGN with ignore != 0), saving the old action in
 * prev when not NULL. Returns 0 or -EINVAL (bad signo, SIGPIPE). */
IPC_MUST_USE int ipc_sig_set_default(int signo, int ignore, struct ipc_sig_prev *prev);

/* For a child right after fork(): sets every caught signal back to SIG_DFL
 * (ignored ones stay ignored, SIGPIPE is left untouched) and clears the signal
 * mask, so that inherited handlers and blocked signals do not leak into the
 * child's or the exec'd program's behaviour. Returns 0 or a negative errno.
 * Async-signal-safe (only sigaction and sigprocmask): safe between fork and
 * exec. Not thread-safe (use in the single-threaded child). */
IPC_MUST_USE int ipc_sig_child_reset(void);

/* ---- sending --------------------------------------------------------------- */

/* kill(pid, signo). signo 0 probes existence. Returns 0; -ESRCH no such process,
 * -EPERM not allowed, -EINVAL bad signo. Async-signal-safe, thread-safe. */
IPC_MUST_USE int ipc_sig_send(pid_t pid, int signo);

/* sigqueue(pid, signo, {.sival_int = value}). With a real-time signal each call
 * is delivered once, in order. Returns 0; -EAGAIN the receiver's queue of
 * pending signals is full (RLIMIT_SIGPENDING: retry later), -ESRCH, -EPERM,
 * -EINVAL. Async-signal-safe (sigqueue is), thread-safe. */
IPC_MUST_USE int ipc_sig_queue(pid_t pid, int signo, int value);

/* ---- masks ----------------------------------------------------------------- */

/* Builds *set from a list of signal numbers terminated by 0, e.g.
 * ipc_sig_mkset(&s, SIGCHLD, SIGTERM, 0). Returns 0, -EINVAL (NULL set, bad
 * signo). Async-signal-safe, thread-safe. */
IPC_MUST_USE int ipc_sig_mkset(sigset_t *set, ...);

/* pthread_sigmask(SIG_BLOCK / SIG_UNBLOCK / SIG_SETMASK) for the calling thread;
 * old (may be NULL) receives the previous mask. Returns 0 or -EINVAL.
 * Async-signal-safe, affects the calling thread only. */
IPC_MUST_USE int ipc_sig_block(const sigset_t *set, sigset_t *old);
IPC_MUST_USE int ipc_sig_unblock(const sigset_t *set, sigset_t *old);
IPC_MUST_USE int ipc_sig_setmask(const sigset_t *set, sigset_t *old);

/* Convenience: block / unblock one signal in the calling thread. */
IPC_MUST_USE int ipc_sig_block_one(int signo);
IPC_MUST_USE int ipc_sig_unblock_one(int signo);

/* ---- synchronous wait -------------------------------------------------------- */

/* sigwaitinfo(set): waits for one signal of set (which must be blocked in all
 * threads) and fills out (may be NULL). EINTR (another, caught signal ran its
 * handler) is retried. Returns the signal number (> 0) or -EINVAL.
 * Thread-safe; not async-signal-safe. */
IPC_MUST_USE int ipc_sig_wait(const sigset_t *set, struct ipc_sig_info *out);

/* sigtimedwait with a timeout in milliseconds (0 = poll, < 0 = forever).
 * EINTR is retried with the remaining time (CLOCK_MONOTONIC).
 * Returns the signal number (> 0), -EAGAIN on timeout, or -EINVAL. */
IPC_MUST_USE int ipc_sig_timedwait(const sigset_t *set, int timeout_ms, struct ipc_sig_info *out);

/* ---- event source ------------------------------------------------------------ */

typedef struct ipc_sigsrc ipc_sigsrc;

/* Flags for ipc_sigsrc_new. */
#define IPC_SIGSRC_AUTO           0x0u /* signalfd, falling back to the self-pipe */
#define IPC_SIGSRC_FORCE_SELFPIPE 0x1u /* always use the self-pipe backend */

enum ipc_sigsrc_backend {
    IPC_SIGSRC_SIGNALFD = 1,
    IPC_SIGSRC_SELFPIPE = 2,
};

/* Creates an event source for the signals in set (SIGKILL/SIGSTOP/SIGPIPE and
 * an empty set are rejected).
 * - signalfd backend: blocks set in the calling thread (pthread_sigmask) and
 *   opens signalfd(SFD_CLOEXEC|SFD_NONBLOCK). Signals already pending are read
 *   from the fd, so block set first (or create the source first) and only then
 *   let senders go.
 * - self-pipe backend: opens a non-blocking CLOEXEC pipe, installs for each
 *   signal a library handler (SA_SIGINFO|SA_RESTART, all watched signals in
 *   sa_mask) that write()s one record to the pipe and preserves errno, then
 *   unblocks set in the calling thread so pending signals drain into the pipe.
 *   Only one self-pipe source may exist per process (-EBUSY otherwise). If the
 *   pipe is full, records are dropped (counted in ipc_sigsrc_dropped()).
 * In both cases the signals must be blocked in every OTHER thread: create the
 * source before starting threads (threads inherit the mask), or block set in
 * them. On success *out owns its fds; free it with ipc_sigsrc_free.
 * Returns 0; -EINVAL, -ENOMEM, -EBUSY, -EMFILE/-ENFILE.
 * Not async-signal-safe, not fork-safe to call concurrently with fork. */
IPC_MUST_USE int ipc_sigsrc_new(ipc_sigsrc **out, const sigset_t *set, unsigned flags);

/* The fd to watch for POLLIN/EPOLLIN. Owned by the source: do not close it.
 * Returns the fd or -EINVAL. Async-signal-safe, thread-safe. */
int ipc_sigsrc_fd(const ipc_sigsrc *src);

/* Which backend is in use (enum ipc_sigsrc_backend), or -EINVAL. */
int ipc_sigsrc_backend(const ipc_sigsrc *src);

/* Reads one pending record without blocking. Returns 1 with *out filled, 0 when
 * nothing is pending (wait for the fd to become readable), or a negative errno.
 * Not thread-safe per source (one reader), not async-signal-safe. */
IPC_MUST_USE int ipc_sigsrc_read(ipc_sigsrc *src, struct ipc_sig_info *out);

/* Records lost because the self-pipe was full (always 0 for signalfd). */
unsigned long ipc_sigsrc_dropped(const ipc_sigsrc *src);

/* Closes the fds, restores the previous handlers (self-pipe) and restores the
 * signal mask of the calling thread to what it was at ipc_sigsrc_new (call it
 * from the same thread). NULL is a no-op. In a forked child, freeing the
 * inherited source is fine and affects only the child. */
void ipc_sigsrc_free(ipc_sigsrc *src);

#ifdef __cplusplus
}
#endif
#endif
