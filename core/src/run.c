/* run.c - subprocess.run. See ipc/run.h. */
#include "ipc/run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define RUN_CHUNK     (64 * 1024)
#define RUN_TERM_NAP  10 /* ms between status checks after SIGTERM without a pidfd */
#define RUN_MAX_DRAIN 64 /* reads per pipe after the child is gone */

struct capture {
    int fd; /* parent's read end, -1 once closed */
    int stream;
    unsigned char *buf;
    size_t len, cap, max;
    int truncated;
    int keep;
};

/* Keeps data up to c->max bytes; the rest is dropped and flagged. Buffers grow
 * geometrically but never beyond max + 1 (the NUL terminator). */
static int capture_add(struct capture *c, const unsigned char *data, size_t n)
{
    if (!c->keep || n == 0)
        return 0;
    size_t room = c->max - c->len;
    if (n > room) {
        c->truncated = 1;
        n = room;
        if (n == 0)
            return 0;
    }
    if (c->len + n + 1 > c->cap) {
        size_t want = c->cap ? c->cap : RUN_CHUNK;
        while (want < c->len + n + 1) {
            if (want > SIZE_MAX / 2) {
                want = c->len + n + 1;
                break;
            }
            want *= 2;
        }
        if (want > c->max + 1 && c->max != SIZE_MAX)
            want = c->max + 1;
        unsigned char *nb = realloc(c->buf, want);
        if (!nb)
            return -ENOMEM;
        c->buf = nb;
        c->cap = want;
    }
    memcpy(c->buf + c->len, data, n);
    c->len += n;
    c->buf[c->len] = '\0';
    return 0;
}

/* Reads what is available now (the fd is non-blocking). Returns 0, or -ENOMEM.
 * Closes the fd on EOF or a read error. */
static int capture_read(struct capture *c, const struct ipc_run_options *o, unsigned char *tmp,
                        int max_reads)
{
    for (int i = 0; i < max_reads && c->fd >= 0; i++) {
        ssize_t n = read(c->fd, tmp, RUN_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                ipc__close_invalidate(&c->fd);
            return 0;
        }
        if (n == 0) {
            ipc__close_invalidate(&c->fd);
            return 0;
        }
        if (o && o->on_output)
            o->on_output(o->ctx, c->stream, tmp, (size_t)n);
        int rc = capture_add(c, tmp, (size_t)n);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* write(2) that reports EPIPE instead of raising SIGPIPE (the SIGPIPE guard of
 * internal.h). errno is the write's. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
    struct ipc__sigpipe_guard g;
    ipc__sigpipe_guard_begin(&g);
    ssize_t w = write(fd, buf, n);
    ipc__sigpipe_guard_end(&g, w < 0 && errno == EPIPE);
    return w;
}

static int valid(char *const argv[], const struct ipc_run_options *o, struct ipc_run_result *res)
{
    if (!argv || !argv[0] || !res)
        return 0;
    if (!o)
        return 1;
    if (o->flags & ~IPC_RUN_F_ALL)
        return 0;
    /* Bounded so deadlines in ns cannot overflow (the bound is ~70 years). */
    const int64_t max_ms = INT64_MAX / 4 / 1000000;
    if (o->timeout_ms < 0 || o->grace_ms < 0 || o->timeout_ms > max_ms || o->grace_ms > max_ms)
        return 0;
    if (o->stdin_len && !o->stdin_data)
        return 0;
    if ((o->flags & IPC_RUN_F_STDIN_FD) && (o->stdin_fd < 0 || o->stdin_data))
        return 0;
    if ((unsigned)o->method > IPC_PROC_POSIX_SPAWN)
        return 0;
    if ((o->flags & IPC_RUN_F_NO_CAPTURE) && !o->on_output)
        return 0;
    return 1;
}

static int signal_child(struct ipc_proc *p, int group, int sig)
{
    int rc = group ? ipc_proc_kill_group(p, sig) : ipc_proc_kill(p, sig);
    return rc == -ESRCH ? 0 : rc;
}

static int clamp_ms(int64_t v)
{
    if (v < 0)
        return 0;
    return v > INT_MAX ? INT_MAX : (int)v;
}

int ipc_run(char *const argv[], const struct ipc_run_options *opts, struct ipc_run_result *res)
{
    /* Zeroed before validation too: the header promises a zeroed res on every
     * failure, so a caller may free it unconditionally. */
    if (res)
        memset(res, 0, sizeof(*res));
    if (!valid(argv, opts, res))
        return -EINVAL;
    struct ipc_run_options o;
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof(o));
    const int64_t grace = o.grace_ms ? o.grace_ms : IPC_RUN_DEFAULT_GRACE_MS;
    const size_t max = o.max_output ? o.max_output : IPC_RUN_DEFAULT_MAX_OUTPUT;
    const int merge = (o.flags & IPC_RUN_F_MERGE_STDERR) != 0;
    const int group = (o.flags & IPC_RUN_F_PGROUP) != 0;

    struct capture cap[2];
    memset(cap, 0, sizeof(cap));
    for (int i = 0; i < 2; i++) {
        cap[i].fd = -1;
        cap[i].stream = i + 1;
        cap[i].max = max;
        cap[i].keep = !(o.flags & IPC_RUN_F_NO_CAPTURE);
    }
    int out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, in_p[2] = {-1, -1}, null_fd = -1;
    struct ipc_proc *p = NULL;
    unsigned char *tmp = NULL;
    int rc;

    tmp = malloc(RUN_CHUNK);
    if (!tmp) {
        rc = -ENOMEM;
        goto fail;
    }
    if (pipe2(out_p, O_CLOEXEC) < 0 || (!merge && pipe2(err_p, O_CLOEXEC) < 0)) {
        rc = ipc__neg_errno();
        goto fail;
    }
    struct ipc_proc_options po;
    memset(&po, 0, sizeof(po));
    po.method = o.method;
    po.env = o.env;
    po.cwd = o.cwd;
    po.flags = IPC_PROC_F_STDIO | ((o.flags & IPC_RUN_F_PATH) ? IPC_PROC_F_PATH : 0) |
               (group ? IPC_PROC_F_SETPGID : 0);
    if (o.flags & IPC_RUN_F_STDIN_FD) {
        po.stdio[0] = o.stdin_fd;
    } else if (o.stdin_len > 0) {
        if (pipe2(in_p, O_CLOEXEC) < 0) {
            rc = ipc__neg_errno();
            goto fail;
        }
        po.stdio[0] = in_p[0];
    } else {
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0) {
            rc = ipc__neg_errno();
            goto fail;
        }
        po.stdio[0] = null_fd;
    }
    po.stdio[1] = out_p[1];
    po.stdio[2] = merge ? out_p[1] : err_p[1];

    const int64_t start = (int64_t)ipc__now_ns();
    rc = ipc_proc_spawn(&p, argv, &po);
    if (rc < 0)
        goto fail;
    res->pid = ipc_proc_pid(p);
    /* Only the child may hold the write ends, or EOF would never come. */
    ipc__close_invalidate(&out_p[1]);
    ipc__close_invalidate(&err_p[1]);
    ipc__close_invalidate(&in_p[0]);
    ipc__close_invalidate(&null_fd);
    cap[0].fd = out_p[0];
    out_p[0] = -1;
    cap[1].fd = err_p[0];
    err_p[0] = -1;
    for (int i = 0; i < 2; i++)
        if (cap[i].fd >= 0 && (rc = ipc__fd_set_nonblock(cap[i].fd, 1)) < 0)
            goto fail;
    if (in_p[1] >= 0 && (rc = ipc__fd_set_nonblock(in_p[1], 1)) < 0)
        goto fail;

    enum { RUNNING, TERMINATING, KILLING } phase = RUNNING;
    /* Deadlines in ns; poll timeouts round up so no phase ends early. */
    int64_t deadline = o.timeout_ms > 0 ? start + o.timeout_ms * 1000000 : -1;
    const unsigned char *in_data = o.stdin_data;
    size_t in_left = in_p[1] >= 0 ? o.stdin_len : 0;
    struct ipc_proc_status st;
    memset(&st, 0, sizeof(st));

    for (;;) {
        int64_t t = (int64_t)ipc__now_ns();
        if (phase == RUNNING && deadline >= 0 && t >= deadline) {
            res->timed_out = 1;
            if ((rc = signal_child(p, group, SIGTERM)) < 0)
                goto fail;
            phase = TERMINATING;
            deadline = t + grace * 1000000;
        } else if (phase == TERMINATING && t >= deadline) {
            res->killed = 1;
            if ((rc = signal_child(p, group, SIGKILL)) < 0)
                goto fail;
            phase = KILLING;
        }
        if (phase == KILLING) {
            rc = ipc_proc_wait(p, IPC_PROC_WAIT_FOREVER, 0, &st);
            if (rc < 0)
                goto fail;
            break;
        }
        int left = deadline < 0 ? -1 : clamp_ms((deadline - t + 999999) / 1000000);
        if (cap[0].fd < 0 && cap[1].fd < 0 && in_p[1] < 0) {
            rc = ipc_proc_wait(p, left, 0, &st);
            if (rc == 0)
                break;
            if (rc != -ETIMEDOUT)
                goto fail;
            continue;
        }
        struct pollfd pfd[4];
        int idx[4], n = 0;
        for (int i = 0; i < 2; i++) {
            if (cap[i].fd >= 0) {
                pfd[n] = (struct pollfd){cap[i].fd, POLLIN, 0};
                idx[n++] = i;
            }
        }
        if (in_p[1] >= 0) {
            pfd[n] = (struct pollfd){in_p[1], POLLOUT, 0};
            idx[n++] = 2;
        }
        if (phase == TERMINATING) {
            int pidfd = ipc_proc_pidfd(p);
            if (pidfd >= 0) {
                pfd[n] = (struct pollfd){pidfd, POLLIN, 0};
                idx[n++] = 3;
            } else if (left < 0 || left > RUN_TERM_NAP) {
                left = RUN_TERM_NAP;
            }
        }
        int pr = poll(pfd, (nfds_t)n, left);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            rc = ipc__neg_errno();
            goto fail;
        }
        for (int k = 0; k < n && pr > 0; k++) {
            if (!pfd[k].revents)
                continue;
            if (idx[k] < 2) {
                /* A bounded number of reads per wakeup keeps the streams fair. */
                if ((rc = capture_read(&cap[idx[k]], &o, tmp, 4)) < 0)
                    goto fail;
            } else if (idx[k] == 2) {
                if (pfd[k].revents & (POLLERR | POLLHUP)) {
                    ipc__close_invalidate(&in_p[1]);
                    continue;
                }
                size_t chunk = in_left < RUN_CHUNK ? in_left : RUN_CHUNK;
                ssize_t w = write_nosigpipe(in_p[1], in_data, chunk);
                if (w > 0) {
                    in_data += w;
                    in_left -= (size_t)w;
                    res->stdin_written += (size_t)w;
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    ipc__close_invalidate(&in_p[1]); /* EPIPE: the child stopped reading */
                }
                if (in_left == 0)
                    ipc__close_invalidate(&in_p[1]);
            }
        }
        if (phase == TERMINATING) {
            rc = ipc_proc_wait(p, 0, 0, &st);
            if (rc == 0)
                break;
            if (rc != -ETIMEDOUT)
                goto fail;
        }
    }
    res->duration_ns = (uint64_t)((int64_t)ipc__now_ns() - start);
    /* The child is gone; collect what is already buffered (descendants may still
     * hold the pipes, so do not wait for EOF). */
    for (int i = 0; i < 2; i++) {
        if ((rc = capture_read(&cap[i], &o, tmp, RUN_MAX_DRAIN)) < 0)
            goto fail;
        ipc__close_invalidate(&cap[i].fd);
    }
    ipc__close_invalidate(&in_p[1]);
    ipc_proc_free(p);
    free(tmp);
    res->status = st;
    unsigned char **bufs[2] = {&res->out, &res->err};
    for (int i = 0; i < 2; i++) {
        if (!cap[i].buf) {
            cap[i].buf = calloc(1, 1);
            if (!cap[i].buf) {
                free(cap[0].buf);
                free(cap[1].buf);
                memset(res, 0, sizeof(*res));
                return -ENOMEM;
            }
        }
        *bufs[i] = cap[i].buf;
    }
    res->out_len = cap[0].len;
    res->out_truncated = cap[0].truncated;
    res->err_len = cap[1].len;
    res->err_truncated = cap[1].truncated;
    return 0;

fail:
    ipc_proc_free(p); /* kills and reaps a child still running */
    ipc__close_invalidate(&out_p[0]);
    ipc__close_invalidate(&out_p[1]);
    ipc__close_invalidate(&err_p[0]);
    ipc__close_invalidate(&err_p[1]);
    ipc__close_invalidate(&in_p[0]);
    ipc__close_invalidate(&in_p[1]);
    ipc__close_invalidate(&null_fd);
    for (int i = 0; i < 2; i++) {
        ipc__close_invalidate(&cap[i].fd);
        free(cap[i].buf);
    }
    free(tmp);
    memset(res, 0, sizeof(*res));
    return rc;
}

void ipc_run_result_free(struct ipc_run_result *res)
{
    if (!res)
        return;
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof(*res));
}
