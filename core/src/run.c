/* run.c - subprocess.run. See ipc/run.h.
 *
 * ipc_run goes through four phases, all working on one struct run:
 *   start   (run_start)   validate, make the pipes, spawn the child;
 *   drain   (run_drain)   the poll loop: feed stdin, capture stdout and stderr, until
 *                         the child is reaped or a deadline passes;
 *   stop    (run_stop)    after a timeout, the stop actions (stop_actions below) are
 *                         applied in order until the child is gone;
 *   collect (run_collect) last reads, wait status and the result.
 * run_release frees what is left, on success and on failure alike.
 *
 * With stdin_path the child cannot be spawned by ipc_proc_spawn: every method
 * there returns only once the child has exec'd, and the open of a FIFO without a
 * writer blocks before that forever. The child is a function child instead
 * (ipc_proc_fork, which returns as soon as it is set up) that opens the file itself
 * and then execs (run_path_child); it reports an open, chdir or exec error through
 * its own close-on-exec pipe (ctl), which the drain loop reads. Its open therefore
 * runs under the deadline, and the stop actions kill it like any child. */
#include "ipc/run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

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
        unsigned char *nb = ipc__sys_realloc(c->buf, want);
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

/* Reads what is available now (the fd is non-blocking). Returns 0, -ENOMEM, or
 * the read error (the fd is then closed): the stream is incomplete, which the
 * caller must not report as the child's whole output. Closes the fd on EOF. */
static int capture_read(struct capture *c, const struct ipc_run_options *o, unsigned char *tmp,
                        int max_reads)
{
    for (int i = 0; i < max_reads && c->fd >= 0; i++) {
        ssize_t n = ipc__sys_read(c->fd, tmp, RUN_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            int e = ipc__neg_errno();
            ipc__close_invalidate(&c->fd);
            return e;
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

/* write(2) under libipc's SIGPIPE guard (internal.h): EPIPE instead of a signal. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
    struct ipc__sigpipe_guard g;
    ipc__sigpipe_guard_begin(&g);
    ssize_t w = ipc__sys_write(fd, buf, n);
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
    if (o->stdin_path && ((o->flags & IPC_RUN_F_STDIN_FD) || o->stdin_data))
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

/* ------------------------------------------------------------------------- */
/* The stdin_path child (runs between fork and exec: async-signal-safe calls only) */

struct path_child {
    const char *stdin_path;
    const char *file;     /* argv[0] */
    const char *path_env; /* non-NULL: search these directories (IPC_RUN_F_PATH) */
    const char *cwd;
    char *const *argv;
    char *const *envp;
    int ctl_fd; /* write end of the error pipe, close-on-exec, above 2 */
};

static _Noreturn void child_fail(const struct path_child *c, int err)
{
    if (err <= 0)
        err = EIO;
    IPC__IGNORE_RC(IPC__RETRY(ipc__sys_write(c->ctl_fd, &err, sizeof(err))));
    ipc__exit_child(127);
}

struct dirent64_raw {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* Closes the close-on-exec fds above 2 except keep. exec would close them anyway,
 * but this child may block in open() for long and meanwhile must not hold what
 * other threads of the caller wait on (another ipc_run's capture pipes would see
 * no EOF, a closed socket's peer no hang-up). Best effort: without /proc, nothing. */
static void child_close_cloexec(int keep)
{
    int dir = ipc__sys_open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return;
    /* Zeroed: MemorySanitizer does not see the kernel fill buf through a raw
     * syscall() and would report every d_name read as uninitialized. */
    _Alignas(8) char buf[2048] = {0};
    long n;
    while ((n = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < n;) {
            const struct dirent64_raw *d = (const void *)(buf + off);
            off += d->reclen;
            int fd = 0, digits = 0;
            for (const char *s = d->name; *s >= '0' && *s <= '9' && fd < INT_MAX / 10; s++) {
                fd = fd * 10 + (*s - '0');
                digits++;
            }
            if (!digits || d->name[digits] || fd <= 2 || fd == dir || fd == keep)
                continue;
            int fl = ipc__sys_fcntl(fd, F_GETFD);
            if (fl >= 0 && (fl & FD_CLOEXEC))
                close(fd);
        }
    }
    close(dir);
}

/* The child's stdin is opened here, after fork, so that a blocking open runs under
 * the caller's deadline. The path is resolved against the caller's cwd (before
 * chdir), as the shell's `cd dir && cmd <file` would not, but `cmd <file` does. */
static int run_path_child(void *arg)
{
    const struct path_child *c = arg;
    /* A function child starts with the caller's handlers and mask: block everything
     * while the handlers go back to the default, so none of them runs here. */
    sigset_t all;
    sigfillset(&all);
    ipc__sys_sigprocmask(SIG_SETMASK, &all, NULL);
    ipc__child_reset_signals();
    child_close_cloexec(c->ctl_fd);
    int fd = IPC__RETRY(ipc__sys_open(c->stdin_path, O_RDONLY | O_CLOEXEC));
    if (fd < 0)
        child_fail(c, errno);
    if (fd == 0 ? ipc__sys_fcntl(0, F_SETFD, 0) < 0 : ipc__dup2_retry(fd, 0) < 0)
        child_fail(c, errno);
    if (fd != 0)
        close(fd);
    if (c->cwd && chdir(c->cwd) < 0)
        child_fail(c, errno);
    child_fail(c, ipc__child_exec(c->file, c->path_env, c->argv, c->envp));
}

/* ------------------------------------------------------------------------- */
/* The run                                                                    */

struct run {
    struct ipc_run_options o; /* the caller's options (zeroed for NULL) */
    struct ipc_run_result *res;
    int64_t grace_ms; /* defaults applied */
    int merge, group;
    struct capture cap[2];
    int out_p[2], err_p[2], in_p[2], null_fd; /* in_p[1]: stdin feed, -1 when done */
    int ctl[2];    /* stdin_path child's error pipe: ctl[0] read by the parent */
    int child_err; /* errno the stdin_path child reported: it never exec'd */
    const unsigned char *in_data;
    size_t in_left;
    int stopping; /* in the stop phase: the child's exit ends the drain */
    struct ipc_proc *p;
    struct ipc_proc_status st;
    unsigned char *tmp;
    int64_t start; /* spawn time, CLOCK_MONOTONIC ns */
};

static void run_init(struct run *r, const struct ipc_run_options *opts, struct ipc_run_result *res)
{
    memset(r, 0, sizeof(*r));
    if (opts)
        r->o = *opts;
    r->res = res;
    r->grace_ms = r->o.grace_ms ? r->o.grace_ms : IPC_RUN_DEFAULT_GRACE_MS;
    r->merge = (r->o.flags & IPC_RUN_F_MERGE_STDERR) != 0;
    r->group = (r->o.flags & IPC_RUN_F_PGROUP) != 0;
    const size_t max = r->o.max_output ? r->o.max_output : IPC_RUN_DEFAULT_MAX_OUTPUT;
    for (int i = 0; i < 2; i++) {
        r->cap[i].fd = -1;
        r->cap[i].stream = i + 1;
        r->cap[i].max = max;
        r->cap[i].keep = !(r->o.flags & IPC_RUN_F_NO_CAPTURE);
    }
    r->out_p[0] = r->out_p[1] = r->err_p[0] = r->err_p[1] = -1;
    r->in_p[0] = r->in_p[1] = r->ctl[0] = r->ctl[1] = r->null_fd = -1;
}

/* The error pipe of the stdin_path child. Non-blocking, so that the final read
 * cannot hang; the write end must survive the dup2s onto 0-2. */
static int run_ctl_pipe(struct run *r)
{
    if (ipc__sys_pipe2(r->ctl, O_CLOEXEC | O_NONBLOCK) < 0)
        return ipc__neg_errno();
    if (r->ctl[1] <= 2) {
        int hi = ipc__sys_fcntl(r->ctl[1], F_DUPFD_CLOEXEC, 3);
        if (hi < 0)
            return ipc__neg_errno();
        close(r->ctl[1]);
        r->ctl[1] = hi;
    }
    return 0;
}

/* Picks the child's stdin: fd 0 of the child is stdio0 (-1: the stdin_path child
 * opens it itself). */
static int run_stdin_source(struct run *r, int *stdio0)
{
    if (r->o.flags & IPC_RUN_F_STDIN_FD) {
        *stdio0 = r->o.stdin_fd;
    } else if (r->o.stdin_path) {
        *stdio0 = -1;
        return run_ctl_pipe(r);
    } else if (r->o.stdin_len > 0) {
        if (ipc__sys_pipe2(r->in_p, O_CLOEXEC) < 0)
            return ipc__neg_errno();
        *stdio0 = r->in_p[0];
        r->in_data = r->o.stdin_data;
        r->in_left = r->o.stdin_len;
    } else {
        r->null_fd = IPC__RETRY(ipc__sys_open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (r->null_fd < 0)
            return ipc__neg_errno();
        *stdio0 = r->null_fd;
    }
    return 0;
}

static int run_spawn(struct run *r, char *const argv[], int stdio0)
{
    struct ipc_proc_options po;
    memset(&po, 0, sizeof(po));
    po.flags = IPC_PROC_F_STDIO | (r->group ? IPC_PROC_F_SETPGID : 0);
    po.stdio[0] = stdio0;
    po.stdio[1] = r->out_p[1];
    po.stdio[2] = r->merge ? r->out_p[1] : r->err_p[1];
    if (!r->o.stdin_path) {
        po.method = r->o.method;
        po.env = r->o.env;
        po.cwd = r->o.cwd;
        po.flags |= (r->o.flags & IPC_RUN_F_PATH) ? IPC_PROC_F_PATH : 0;
        return ipc_proc_spawn(&r->p, argv, &po);
    }
    struct path_child c = {
        .stdin_path = r->o.stdin_path,
        .file = argv[0],
        .cwd = r->o.cwd,
        .argv = argv,
        .envp = r->o.env ? r->o.env : environ,
        .ctl_fd = r->ctl[1],
    };
    if (r->o.flags & IPC_RUN_F_PATH) {
        const char *path = getenv("PATH");
        c.path_env = path ? path : "/bin:/usr/bin";
    }
    po.method = IPC_PROC_FORK; /* vfork and posix_spawn cannot open before exec */
    return ipc_proc_fork(&r->p, run_path_child, &c, &po);
}

/* Phase 1: pipes, the child's stdin, spawn; then the parent keeps only its ends. */
static int run_start(struct run *r, char *const argv[])
{
    r->tmp = ipc__sys_malloc(RUN_CHUNK);
    if (!r->tmp)
        return -ENOMEM;
    if (ipc__sys_pipe2(r->out_p, O_CLOEXEC) < 0 ||
        (!r->merge && ipc__sys_pipe2(r->err_p, O_CLOEXEC) < 0))
        return ipc__neg_errno();
    int stdio0 = -1;
    int rc = run_stdin_source(r, &stdio0);
    if (rc < 0)
        return rc;
    r->start = (int64_t)ipc__now_ns();
    rc = run_spawn(r, argv, stdio0);
    if (rc < 0)
        return rc;
    r->res->pid = ipc_proc_pid(r->p);
    /* Only the child may hold the write ends, or EOF would never come. */
    ipc__close_invalidate(&r->out_p[1]);
    ipc__close_invalidate(&r->err_p[1]);
    ipc__close_invalidate(&r->in_p[0]);
    ipc__close_invalidate(&r->null_fd);
    ipc__close_invalidate(&r->ctl[1]);
    r->cap[0].fd = r->out_p[0];
    r->out_p[0] = -1;
    r->cap[1].fd = r->err_p[0];
    r->err_p[0] = -1;
    for (int i = 0; i < 2; i++)
        if (r->cap[i].fd >= 0 && (rc = ipc__fd_set_nonblock(r->cap[i].fd, 1)) < 0)
            return rc;
    if (r->in_p[1] >= 0 && (rc = ipc__fd_set_nonblock(r->in_p[1], 1)) < 0)
        return rc;
    return 0;
}

/* Writes the next chunk of stdin_data; closes the pipe when done or refused. */
static void run_feed_stdin(struct run *r, short revents)
{
    if (revents & (POLLERR | POLLHUP)) {
        ipc__close_invalidate(&r->in_p[1]);
        return;
    }
    size_t chunk = r->in_left < RUN_CHUNK ? r->in_left : RUN_CHUNK;
    ssize_t w = write_nosigpipe(r->in_p[1], r->in_data, chunk);
    if (w > 0) {
        r->in_data += w;
        r->in_left -= (size_t)w;
        r->res->stdin_written += (size_t)w;
    } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        ipc__close_invalidate(&r->in_p[1]); /* EPIPE: the child stopped reading */
    }
    if (r->in_left == 0)
        ipc__close_invalidate(&r->in_p[1]);
}

/* The stdin_path child's report: an errno (it will not exec), or EOF (it exec'd). */
static void run_read_ctl(struct run *r)
{
    int err = 0;
    ssize_t n = IPC__RETRY(ipc__sys_read(r->ctl[0], &err, sizeof(err)));
    if (n < 0 && errno == EAGAIN)
        return;
    if (n == (ssize_t)sizeof(err) && err > 0)
        r->child_err = err;
    ipc__close_invalidate(&r->ctl[0]);
}

enum { SLOT_OUT, SLOT_ERR, SLOT_STDIN, SLOT_CTL, SLOT_CHILD, SLOT_COUNT };

/* One poll over the open fds (and the child's pidfd while stopping), then services
 * what is ready. EINTR is a wakeup like any other. */
static int run_poll(struct run *r, int left)
{
    struct pollfd pfd[SLOT_COUNT];
    int slot[SLOT_COUNT], n = 0;
    const int fds[SLOT_CHILD] = {r->cap[0].fd, r->cap[1].fd, r->in_p[1], r->ctl[0]};
    for (int s = 0; s < SLOT_CHILD; s++) {
        if (fds[s] >= 0) {
            pfd[n] = (struct pollfd){fds[s], s == SLOT_STDIN ? POLLOUT : POLLIN, 0};
            slot[n++] = s;
        }
    }
    if (r->stopping) {
        int pidfd = ipc_proc_pidfd(r->p);
        if (pidfd >= 0) {
            pfd[n] = (struct pollfd){pidfd, POLLIN, 0};
            slot[n++] = SLOT_CHILD;
        } else if (left < 0 || left > RUN_TERM_NAP) {
            left = RUN_TERM_NAP;
        }
    }
    if (ipc__sys_poll(pfd, (nfds_t)n, left) < 0)
        return errno == EINTR ? 0 : ipc__neg_errno();
    for (int k = 0; k < n; k++) {
        if (!pfd[k].revents)
            continue;
        if (slot[k] == SLOT_OUT || slot[k] == SLOT_ERR) {
            /* A bounded number of reads per wakeup keeps the streams fair. */
            int rc = capture_read(&r->cap[slot[k]], &r->o, r->tmp, 4);
            if (rc < 0)
                return rc;
        } else if (slot[k] == SLOT_STDIN) {
            run_feed_stdin(r, pfd[k].revents);
        } else if (slot[k] == SLOT_CTL) {
            run_read_ctl(r);
        }
    }
    return 0;
}

/* Phase 2: feeds stdin and captures both outputs until the child has been reaped
 * (0, r->st filled) or deadline (CLOCK_MONOTONIC ns, -1: none) has passed
 * (-ETIMEDOUT). Output is read until EOF before the child is waited for, except
 * while stopping, when the child's exit ends the drain even if a descendant still
 * holds the pipes. */
static int run_drain(struct run *r, int64_t deadline)
{
    for (;;) {
        int64_t t = (int64_t)ipc__now_ns();
        if (deadline >= 0 && t >= deadline)
            return -ETIMEDOUT;
        /* Poll timeouts round up so that no phase ends early. */
        int left = deadline < 0 ? -1 : clamp_ms((deadline - t + 999999) / 1000000);
        int rc;
        if (r->cap[0].fd < 0 && r->cap[1].fd < 0 && r->in_p[1] < 0) {
            rc = ipc_proc_wait(r->p, left, 0, &r->st);
            if (rc != -ETIMEDOUT)
                return rc;
            continue;
        }
        if ((rc = run_poll(r, left)) < 0)
            return rc;
        if (r->stopping) {
            rc = ipc_proc_wait(r->p, 0, 0, &r->st);
            if (rc != -ETIMEDOUT)
                return rc;
        }
    }
}

/* The escalation after a timeout, as data (reproc's stop actions): each action
 * sends sig, then drains for up to wait_ms while waiting for the child; the actions
 * run in order until the child is gone, and after the last one the wait has no
 * limit. Entering the stop phase sets res->timed_out; sending SIGKILL sets
 * res->killed. */
#define STOP_GRACE (-1) /* wait_ms: the run's grace period (grace_ms) */
struct stop_action {
    int sig;
    int64_t wait_ms; /* >= 0 or STOP_GRACE */
};
static const struct stop_action stop_actions[] = {
    {SIGTERM, STOP_GRACE},
    {SIGKILL, 0},
};

/* Phase 3: applies stop_actions. Returns 0 once the child is reaped (r->st). */
static int run_stop(struct run *r)
{
    r->res->timed_out = 1;
    r->stopping = 1;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(stop_actions); i++) {
        const struct stop_action *a = &stop_actions[i];
        if (a->sig == SIGKILL)
            r->res->killed = 1;
        int rc = signal_child(r->p, r->group, a->sig);
        if (rc < 0)
            return rc;
        int64_t wait_ms = a->wait_ms == STOP_GRACE ? r->grace_ms : a->wait_ms;
        rc = run_drain(r, (int64_t)ipc__now_ns() + wait_ms * 1000000);
        if (rc != -ETIMEDOUT)
            return rc;
    }
    return ipc_proc_wait(r->p, IPC_PROC_WAIT_FOREVER, 0, &r->st);
}

/* Phase 4: the child is reaped. Collects what is already buffered (descendants
 * may still hold the pipes, so no wait for EOF) and fills the result; the capture
 * buffers move into it. */
static int run_collect(struct run *r)
{
    struct ipc_run_result *res = r->res;
    res->duration_ns = (uint64_t)((int64_t)ipc__now_ns() - r->start);
    for (int i = 0; i < 2; i++) {
        int rc = capture_read(&r->cap[i], &r->o, r->tmp, RUN_MAX_DRAIN);
        if (rc < 0)
            return rc;
        ipc__close_invalidate(&r->cap[i].fd);
    }
    ipc__close_invalidate(&r->in_p[1]);
    if (r->ctl[0] >= 0)
        run_read_ctl(r); /* the child wrote before exiting: its report is there now */
    if (r->child_err)
        return -r->child_err; /* it never ran the program; it is reaped */
    for (int i = 0; i < 2; i++)
        if (!r->cap[i].buf && !(r->cap[i].buf = ipc__sys_calloc(1, 1)))
            return -ENOMEM;
    res->status = r->st;
    res->out = r->cap[0].buf;
    res->out_len = r->cap[0].len;
    res->out_truncated = r->cap[0].truncated;
    res->err = r->cap[1].buf;
    res->err_len = r->cap[1].len;
    res->err_truncated = r->cap[1].truncated;
    r->cap[0].buf = r->cap[1].buf = NULL;
    return 0;
}

/* Frees everything the run still holds; on failure (rc < 0) the child, if any, is
 * killed and reaped by ipc_proc_free and the result is zeroed. */
static void run_release(struct run *r, int rc)
{
    ipc_proc_free(r->p);
    int *fds[] = {&r->out_p[0], &r->out_p[1], &r->err_p[0], &r->err_p[1], &r->in_p[0],
                  &r->in_p[1],  &r->ctl[0],   &r->ctl[1],   &r->null_fd};
    for (size_t i = 0; i < IPC__ARRAY_SIZE(fds); i++)
        ipc__close_invalidate(fds[i]);
    for (int i = 0; i < 2; i++) {
        ipc__close_invalidate(&r->cap[i].fd);
        free(r->cap[i].buf);
    }
    free(r->tmp);
    if (rc < 0)
        memset(r->res, 0, sizeof(*r->res));
}

int ipc_run(char *const argv[], const struct ipc_run_options *opts, struct ipc_run_result *res)
{
    /* Zeroed before validation too: the header promises a zeroed res on every
     * failure, so a caller may free it unconditionally. */
    if (res)
        memset(res, 0, sizeof(*res));
    if (!valid(argv, opts, res))
        return -EINVAL;
    struct run r;
    run_init(&r, opts, res);
    int rc = run_start(&r, argv);
    if (rc == 0) {
        int64_t deadline = r.o.timeout_ms > 0 ? r.start + r.o.timeout_ms * 1000000 : -1;
        rc = run_drain(&r, deadline);
        if (rc == -ETIMEDOUT)
            rc = run_stop(&r);
    }
    if (rc == 0)
        rc = run_collect(&r);
    run_release(&r, rc);
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
