/* pipe.c - close-on-exec pipes, full reads/writes, per-thread SIGPIPE guard. */
#include "ipc/pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define IPC_PIPE_MAX_IOV 64

int ipc_pipe_open(struct ipc_pipe *p, unsigned flags)
{
    if (!p)
        return -EINVAL;
    p->rd = p->wr = -1;
    if (flags & ~IPC_PIPE_NONBLOCK)
        return -EINVAL;
    int fds[2];
    int oflags = O_CLOEXEC | ((flags & IPC_PIPE_NONBLOCK) ? O_NONBLOCK : 0);
    if (ipc__sys_pipe2(fds, oflags) < 0)
        return ipc__neg_errno();
    p->rd = fds[0];
    p->wr = fds[1];
    return 0;
}

void ipc_pipe_close(struct ipc_pipe *p)
{
    if (!p)
        return;
    ipc__close_invalidate(&p->rd);
    ipc__close_invalidate(&p->wr);
}

int ipc_pipe_use_read_end(struct ipc_pipe *p)
{
    if (!p)
        return -EINVAL;
    if (p->rd < 0)
        return -EBADF;
    ipc__close_invalidate(&p->wr);
    return p->rd;
}

int ipc_pipe_use_write_end(struct ipc_pipe *p)
{
    if (!p)
        return -EINVAL;
    if (p->wr < 0)
        return -EBADF;
    ipc__close_invalidate(&p->rd);
    return p->wr;
}

ssize_t ipc_pipe_read_full(int fd, void *buf, size_t len)
{
    if (fd < 0)
        return -EBADF;
    if ((!buf && len) || len > SSIZE_MAX)
        return -EINVAL;
    unsigned char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t r = ipc__sys_read(fd, p + done, len - done);
        if (r > 0) {
            done += (size_t)r;
        } else if (r == 0) {
            break; /* EOF: a short count tells the caller */
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN && done > 0) {
            break;
        } else {
            return ipc__neg_errno();
        }
    }
    return (ssize_t)done;
}

ssize_t ipc_pipe_writev_all(int fd, const struct iovec *iov, int iovcnt, unsigned flags)
{
    if (fd < 0)
        return -EBADF;
    if (iovcnt < 0 || iovcnt > IPC_PIPE_MAX_IOV || (!iov && iovcnt) ||
        (flags & ~IPC_PIPE_NO_SIGPIPE_GUARD))
        return -EINVAL;
    struct iovec v[IPC_PIPE_MAX_IOV];
    size_t total = 0;
    int n = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!iov[i].iov_base && iov[i].iov_len)
            return -EINVAL;
        if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
            return -EINVAL;
        total += iov[i].iov_len;
        if (iov[i].iov_len) /* drop empty entries so progress tracking stays simple */
            v[n++] = iov[i];
    }
    if (total == 0)
        return 0;

    struct ipc__sigpipe_guard g = {.active = 0};
    if (!(flags & IPC_PIPE_NO_SIGPIPE_GUARD))
        ipc__sigpipe_guard_begin(&g);
    size_t done = 0;
    int idx = 0, err = 0;
    while (idx < n) {
        ssize_t w = n - idx == 1 ? ipc__sys_write(fd, v[idx].iov_base, v[idx].iov_len)
                                 : ipc__sys_writev(fd, v + idx, n - idx);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        done += (size_t)w;
        size_t left = (size_t)w;
        while (idx < n && left >= v[idx].iov_len) {
            left -= v[idx].iov_len;
            idx++;
        }
        if (left) {
            v[idx].iov_base = (char *)v[idx].iov_base + left;
            v[idx].iov_len -= left;
        }
    }
    ipc__sigpipe_guard_end(&g, err == EPIPE);
    if (err == EAGAIN && done > 0)
        return (ssize_t)done;
    if (err)
        return -err;
    return (ssize_t)done;
}

ssize_t ipc_pipe_write_all(int fd, const void *buf, size_t len, unsigned flags)
{
    if ((!buf && len) || len > SSIZE_MAX)
        return -EINVAL;
    struct iovec v = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
    return ipc_pipe_writev_all(fd, &v, 1, flags);
}

int ipc_pipe_set_nonblock(int fd, int on)
{
    return ipc__fd_set_nonblock(fd, on);
}

int ipc_pipe_capacity(int fd)
{
    if (fd < 0)
        return -EBADF;
    int r = ipc__sys_fcntl(fd, F_GETPIPE_SZ);
    return r < 0 ? ipc__neg_errno() : r;
}

int ipc_pipe_set_capacity(int fd, size_t bytes)
{
    if (fd < 0)
        return -EBADF;
    if (bytes == 0 || bytes > INT_MAX)
        return -EINVAL;
    int r = ipc__sys_fcntl(fd, F_SETPIPE_SZ, (int)bytes);
    return r < 0 ? ipc__neg_errno() : r;
}
