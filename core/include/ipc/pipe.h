/* ipc/pipe.h - anonymous pipes: close-on-exec pairs, full reads and writes that
 * survive EINTR and partial transfers, EOF and EPIPE reported as values.
 *
 * Return convention (ipc/error.h): >= 0 on success, a negative errno on failure.
 * Every fd this module creates is close-on-exec from birth (pipe2(O_CLOEXEC)).
 *
 * SIGPIPE: writing to a pipe whose read end is closed makes the kernel send
 * SIGPIPE to the writing thread, which kills the process under the default
 * disposition. This module never changes the process-wide disposition. Instead,
 * ipc_pipe_write_all()/ipc_pipe_writev_all() (unless IPC_PIPE_NO_SIGPIPE_GUARD is
 * passed) block SIGPIPE in the calling thread only for the duration of the call,
 * and when a write fails with EPIPE they consume the SIGPIPE that this write
 * raised (sigtimedwait with a zero timeout) before restoring the thread's mask.
 * The caller then sees -EPIPE and nothing else. If the calling thread already had
 * SIGPIPE blocked on entry, the guard is a no-op and any SIGPIPE stays pending for
 * the caller, as it would with a plain write(). Pass IPC_PIPE_NO_SIGPIPE_GUARD
 * when the caller has ignored or blocked SIGPIPE itself (or accepts death): it
 * saves two rt_sigprocmask syscalls per call, which matters for small writes.
 *
 * Errors under faults (what harnesses/faultsweep.c observed with every seam call
 * of this module failed in turn; the same holds for real failures):
 *   ipc_pipe_open          -EMFILE/-ENFILE (pipe2); *p stays {-1, -1}.
 *   ipc_pipe_read_full     EINTR is retried and short reads are continued (the
 *                          sweep checks that every acknowledged byte arrives
 *                          once, in order); -EAGAIN only on a non-blocking fd with
 *                          nothing to read; -EIO only on fds that are not pipes
 *                          or sockets.
 *   ipc_pipe_write_all,    EINTR is retried and short writes are continued;
 *   ipc_pipe_writev_all    -EPIPE (no reader; the SIGPIPE is consumed, the process
 *                          lives), -EAGAIN on a non-blocking fd without room.
 *                          The guard's pthread_sigmask cannot fail.
 *   ipc_pipe_set_capacity  -EPERM, -EBUSY (F_SETPIPE_SZ).
 *   ipc_pipe_set_nonblock, ipc_pipe_capacity, ipc_pipe_close, ipc_pipe_use_*_end:
 *                          no call that can fail on an open fd.
 */
#ifndef IPC_PIPE_H
#define IPC_PIPE_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ipc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A pipe: data written to wr comes out of rd. A closed end holds -1. */
struct ipc_pipe {
    int rd;
    int wr;
};

/* ipc_pipe_open() flags. */
#define IPC_PIPE_NONBLOCK 0x1u /* both ends O_NONBLOCK */

/* ipc_pipe_write_all()/ipc_pipe_writev_all() flags. */
#define IPC_PIPE_NO_SIGPIPE_GUARD 0x1u /* skip the per-thread SIGPIPE mask (see above) */

/* Creates a pipe with both ends close-on-exec (atomically: pipe2) and, with
 * IPC_PIPE_NONBLOCK, non-blocking. On failure *p is set to {-1, -1}.
 * Returns 0, -EINVAL (p NULL or unknown flag), -EMFILE/-ENFILE (fd limits).
 * Async-signal-safe, fork-safe, thread-safe. The caller owns both fds. */
IPC_MUST_USE int ipc_pipe_open(struct ipc_pipe *p, unsigned flags);

/* Closes both ends that are still open (>= 0) and sets them to -1. close() is
 * never retried (on Linux the fd is released even when close reports EINTR).
 * NULL is a no-op. Async-signal-safe, fork-safe; not thread-safe on the same p. */
void ipc_pipe_close(struct ipc_pipe *p);

/* After fork: the process that only reads calls ipc_pipe_use_read_end(), which
 * closes p->wr (so EOF can be seen once every writer is gone), sets it to -1 and
 * returns p->rd; ipc_pipe_use_write_end() closes p->rd (so the writer gets EPIPE
 * once every reader is gone) and returns p->wr. Return -EBADF if the end to keep
 * is already closed, -EINVAL if p is NULL. Async-signal-safe (only close()), so
 * usable between fork and exec. */
IPC_MUST_USE int ipc_pipe_use_read_end(struct ipc_pipe *p);
IPC_MUST_USE int ipc_pipe_use_write_end(struct ipc_pipe *p);

/* Reads exactly len bytes unless EOF comes first. Retries EINTR and short reads.
 * Returns the number of bytes read: len, or a short count (possibly 0) when the
 * writer side reached EOF. On a non-blocking fd with no data available: the short
 * count read so far if > 0, else -EAGAIN. Other errors: -EBADF, -EINVAL (buf NULL
 * with len > 0, len > SSIZE_MAX), -EIO...; bytes read before an error other than
 * EAGAIN are lost to the caller. Async-signal-safe (read() only), fork-safe;
 * thread-safe as read() is (concurrent readers of one pipe get interleaved data). */
IPC_MUST_USE ssize_t ipc_pipe_read_full(int fd, void *buf, size_t len);

/* Writes all len bytes. Retries EINTR and short writes. Returns len on success;
 * -EPIPE when no reader is left (the process is not killed unless
 * IPC_PIPE_NO_SIGPIPE_GUARD is given, see the top of this file); on a
 * non-blocking fd that fills up: the short count written so far if > 0, else
 * -EAGAIN; -EBADF, -EINVAL (buf NULL with len > 0, len > SSIZE_MAX, unknown flag).
 * A write of at most PIPE_BUF bytes to a pipe is atomic (never interleaved with
 * other writers). Not async-signal-safe with the guard (pthread_sigmask); with
 * IPC_PIPE_NO_SIGPIPE_GUARD it only calls write() and is async-signal-safe.
 * Fork-safe, thread-safe (the guard is per-thread). */
IPC_MUST_USE ssize_t ipc_pipe_write_all(int fd, const void *buf, size_t len, unsigned flags);

/* Like ipc_pipe_write_all() for a gather list: writes every byte of iov[0..iovcnt)
 * in order using writev(), resuming after partial writes. iov itself is not
 * modified. iovcnt must be in [0, 64]; the total must fit in ssize_t. Returns the
 * total written, or the errors of ipc_pipe_write_all() (-EINVAL for a bad iovcnt
 * or a NULL base with a non-zero length). Same safety notes. */
IPC_MUST_USE ssize_t ipc_pipe_writev_all(int fd, const struct iovec *iov, int iovcnt,
                                         unsigned flags);

/* Sets (on != 0) or clears O_NONBLOCK on fd, preserving its other status flags.
 * Returns 0, -EBADF. Async-signal-safe, fork-safe, thread-safe (the flag belongs
 * to the open file description, shared with dup'ed fds and across fork). */
IPC_MUST_USE int ipc_pipe_set_nonblock(int fd, int on);

/* Returns the pipe's capacity in bytes (F_GETPIPE_SZ; 65536 by default), or
 * -EBADF (bad fd, or not a pipe). Async-signal-safe, thread-safe. */
IPC_MUST_USE int ipc_pipe_capacity(int fd);

/* Sets the pipe's capacity to at least bytes (the kernel rounds up to a power of
 * two pages) with F_SETPIPE_SZ. Returns the new capacity, or -EINVAL (bytes 0 or
 * above INT_MAX), -EBADF (bad fd, or not a pipe), -EPERM (above /proc/sys/fs/pipe-max-size without
 * CAP_SYS_RESOURCE, or the per-user pipe quota is exhausted), -EBUSY (smaller than
 * the data currently in the pipe). Async-signal-safe, thread-safe. */
IPC_MUST_USE int ipc_pipe_set_capacity(int fd, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
