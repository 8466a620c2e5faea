/* faults.c - the fault-injection controller behind core/src/sys.h (built only
 * with IPC_FAULTS; see ipc/faults.h for the model and docs/design.md for why it
 * is ours rather than libfiu's).
 *
 * The state is one shared anonymous mapping, created at the first arm and kept
 * for the life of the process: forked and vforked children inherit it, so their
 * calls count and fail in the same sequence as the parent's. Every update is an
 * atomic on that mapping; nothing here locks, allocates or calls into libc
 * beyond the real system call, so a child between fork and exec may pass through. */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "internal.h"
#include "ipc/faults.h"
#include "sys.h"

/* ---- the call table -------------------------------------------------------- */

/* The errnos each kind can fail with in practice (from its man page, minus the
 * ones that mean a caller bug such as EBADF or EFAULT, and minus those that cannot
 * happen to libipc's own use: ECHILD for a child it has not reaped).
 *
 * sigaction, sigprocmask and pthread_sigmask have none: their only errors are
 * EINVAL for a bad signal number or `how` and EFAULT, and libipc passes valid
 * numbers, constants and its own sets. dup2 past the fd limit fails with EBADF
 * on Linux (never EMFILE): a caller bug. pidfd_send_signal has no ENOSYS once
 * pidfd_open worked, connect on libipc's non-blocking sockets never times out
 * (the wait happens in poll). Injecting
 * EINVAL there (as the first version of this table did) made the sweep report
 * "failures" that no real run can have: a SIGPIPE guard that did not block
 * SIGPIPE, a function child left with every signal blocked.
 *
 * Some errnos depend on the state of the fd rather than on the kind; the
 * wrappers below pass it along and fault_possible() drops a fault that the real
 * call could not produce on that fd at that moment (see there). fcntl's list is
 * the union over the commands libipc uses; fault_possible() keeps per command
 * only the errnos that command can return. */
#define E(...)         ((const int[]){__VA_ARGS__})
#define ROW(name, ...) [IPC_FAULT_##name] = {E(__VA_ARGS__), sizeof(E(__VA_ARGS__)) / sizeof(int)}
static const struct {
    const int *errnos;
    size_t n;
} call_errnos[IPC_FAULT_CALL_COUNT] = {
    ROW(read, EINTR, EAGAIN, EIO),
    ROW(write, EINTR, EAGAIN, EPIPE, EIO),
    ROW(readv, EINTR, EAGAIN),
    ROW(writev, EINTR, EAGAIN, EPIPE),
    ROW(send, EINTR, EAGAIN, EPIPE, ECONNRESET, ENOBUFS),
    ROW(recv, EINTR, EAGAIN, ECONNRESET),
    ROW(sendto, EINTR, EAGAIN, ENOBUFS, ECONNREFUSED),
    ROW(recvfrom, EINTR, EAGAIN, ECONNREFUSED),
    ROW(signalfd_read, EINTR, EAGAIN),
    ROW(pipe2, EMFILE, ENFILE),
    ROW(fork, EAGAIN, ENOMEM),
    ROW(vfork, EAGAIN, ENOMEM),
    ROW(posix_spawn, EAGAIN, ENOMEM, ENOENT, EACCES),
    ROW(execve, ENOENT, EACCES, ENOEXEC, ENOMEM, E2BIG, ETXTBSY),
    ROW(waitpid, EINTR),
    ROW(waitid, EINTR),
    ROW(pidfd_open, EMFILE, ENFILE, ENOSYS),
    ROW(pidfd_send_signal, EPERM),
    ROW(kill, EPERM, ESRCH),
    ROW(sigqueue, EAGAIN, EPERM, ESRCH),
    ROW(dup2, EINTR, EBUSY),
    ROW(fcntl, EPERM, EBUSY, EMFILE),
    ROW(open, EINTR, EMFILE, ENFILE, ENOENT, EACCES, ENOMEM),
    ROW(socket, EMFILE, ENFILE, ENOBUFS, ENOMEM),
    ROW(setsockopt, ENOMEM, ENOBUFS),
    ROW(bind, EADDRINUSE, EACCES, EADDRNOTAVAIL),
    ROW(listen, EADDRINUSE),
    ROW(accept4, EINTR, EAGAIN, EMFILE, ENFILE, ECONNABORTED, ENOBUFS),
    ROW(connect, EINTR, ECONNREFUSED, ENETUNREACH, EAGAIN),
    ROW(getsockname, ENOBUFS),
    ROW(poll, EINTR, ENOMEM),
    ROW(mmap, ENOMEM, EAGAIN),
    ROW(memfd_create, EMFILE, ENFILE, ENOMEM),
    ROW(shm_open, EMFILE, ENFILE, EACCES),
    ROW(ftruncate, EINTR, ENOSPC, EFBIG),
    [IPC_FAULT_sigprocmask] = {NULL, 0},
    [IPC_FAULT_pthread_sigmask] = {NULL, 0},
    ROW(sigtimedwait, EINTR, EAGAIN),
    ROW(signalfd, EMFILE, ENFILE, ENOMEM),
    ROW(malloc, ENOMEM),
    ROW(calloc, ENOMEM),
    ROW(realloc, ENOMEM),
};
#undef ROW
#undef E

static const struct {
    const char *name;
    int can_short;
} call_info[IPC_FAULT_CALL_COUNT] = {
#define CALL_INFO(name, can_short) [IPC_FAULT_##name] = {#name, can_short},
    IPC_FAULT_CALLS(CALL_INFO)
#undef CALL_INFO
};

#define FAULT_ERRNOS(XX)                                                                           \
    XX(EINTR)                                                                                      \
    XX(EAGAIN)                                                                                     \
    XX(EIO)                                                                                        \
    XX(EPIPE)                                                                                      \
    XX(ECONNRESET)                                                                                 \
    XX(ENOBUFS)                                                                                    \
    XX(ECONNREFUSED)                                                                               \
    XX(EMFILE)                                                                                     \
    XX(ENFILE)                                                                                     \
    XX(ENOMEM)                                                                                     \
    XX(ENOENT)                                                                                     \
    XX(EACCES)                                                                                     \
    XX(ENOEXEC)                                                                                    \
    XX(E2BIG)                                                                                      \
    XX(ETXTBSY)                                                                                    \
    XX(ENOSYS)                                                                                     \
    XX(EPERM)                                                                                      \
    XX(ESRCH)                                                                                      \
    XX(EBUSY)                                                                                      \
    XX(EADDRINUSE)                                                                                 \
    XX(EADDRNOTAVAIL)                                                                              \
    XX(ECONNABORTED)                                                                               \
    XX(ETIMEDOUT)                                                                                  \
    XX(ENETUNREACH)                                                                                \
    XX(ENOSPC)                                                                                     \
    XX(EFBIG)                                                                                      \
    XX(EINVAL)

static const struct {
    const char *name;
    int err;
} errno_names[] = {
#define ERRNO_NAME(e) {#e, e},
    FAULT_ERRNOS(ERRNO_NAME)
#undef ERRNO_NAME
};

static const char *const short_names[IPC_FAULT_SHORT_COUNT] = {
    [IPC_FAULT_SHORT_ONE] = "short-one",
    [IPC_FAULT_SHORT_HALF] = "short-half",
    [IPC_FAULT_SHORT_BUT_ONE] = "short-but-one",
};

static int call_valid(int call)
{
    return call >= 0 && call < IPC_FAULT_CALL_COUNT;
}

const char *ipc_fault_call_name(int call)
{
    if (call == IPC_FAULT_ANY)
        return "any";
    return call_valid(call) ? call_info[call].name : NULL;
}

int ipc_fault_call_parse(const char *name, int *call_out)
{
    if (!name || !call_out)
        return -EINVAL;
    if (strcmp(name, "any") == 0) {
        *call_out = IPC_FAULT_ANY;
        return 0;
    }
    for (int i = 0; i < IPC_FAULT_CALL_COUNT; i++) {
        if (strcmp(name, call_info[i].name) == 0) {
            *call_out = i;
            return 0;
        }
    }
    return -EINVAL;
}

size_t ipc_fault_call_errnos(int call, const int **errnos_out)
{
    if (!call_valid(call)) {
        if (errnos_out)
            *errnos_out = NULL;
        return 0;
    }
    if (errnos_out)
        *errnos_out = call_errnos[call].errnos;
    return call_errnos[call].n;
}

int ipc_fault_call_can_short(int call)
{
    return call_valid(call) && call_info[call].can_short;
}

const char *ipc_fault_errno_name(int err)
{
    for (size_t i = 0; i < IPC__ARRAY_SIZE(errno_names); i++)
        if (errno_names[i].err == err)
            return errno_names[i].name;
    return NULL;
}

int ipc_fault_errno_parse(const char *name, int *err_out)
{
    if (!name || !err_out)
        return -EINVAL;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(errno_names); i++) {
        if (strcmp(name, errno_names[i].name) == 0) {
            *err_out = errno_names[i].err;
            return 0;
        }
    }
    return -EINVAL;
}

/* ---- schedule text ----------------------------------------------------------- */

static int parse_error(char *err, size_t errlen, const char *fmt, const char *what, size_t len)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, (int)len, what);
    return -EINVAL;
}

/* One KIND:NTH:ACTION step of [s, end). */
static int parse_step(const char *s, const char *end, struct ipc_fault_step *st, char *err,
                      size_t errlen)
{
    char part[3][32];
    size_t n = 0;
    const char *p = s;
    const char *colon = NULL;
    while (n < 3) {
        colon = memchr(p, ':', (size_t)(end - p));
        const char *stop = colon ? colon : end;
        if ((size_t)(stop - p) >= sizeof(part[0]))
            return parse_error(err, errlen, "fault step '%.*s': a field is too long", s,
                               (size_t)(end - s));
        memcpy(part[n], p, (size_t)(stop - p));
        part[n][stop - p] = '\0';
        n++;
        if (!colon)
            break;
        p = colon + 1;
    }
    /* three fields, and no colon after the third (a fourth field) */
    if (n != 3 || colon)
        return parse_error(err, errlen, "fault step '%.*s' is not KIND:NTH:ACTION", s,
                           (size_t)(end - s));
    if (ipc_fault_call_parse(part[0], &st->call) < 0)
        return parse_error(err, errlen, "fault step '%.*s': unknown call kind", s,
                           (size_t)(end - s));
    char *num_end;
    errno = 0;
    unsigned long nth = part[1][0] >= '0' && part[1][0] <= '9' ? strtoul(part[1], &num_end, 10) : 0;
    if (nth == 0 || errno || *num_end || nth > UINT32_MAX)
        return parse_error(err, errlen, "fault step '%.*s': NTH is not a decimal in 1..4294967295",
                           s, (size_t)(end - s));
    st->nth = (uint32_t)nth;
    st->err = 0;
    st->shortc = IPC_FAULT_SHORT_NONE;
    for (int i = 1; i < IPC_FAULT_SHORT_COUNT; i++)
        if (strcmp(part[2], short_names[i]) == 0)
            st->shortc = (enum ipc_fault_short)i;
    if (st->shortc == IPC_FAULT_SHORT_NONE && ipc_fault_errno_parse(part[2], &st->err) < 0)
        return parse_error(err, errlen,
                           "fault step '%.*s': unknown action (an errno name such as EINTR, "
                           "or short-one, short-half, short-but-one)",
                           s, (size_t)(end - s));
    return 0;
}

int ipc_faults_parse(const char *text, struct ipc_fault_step *steps, size_t cap, char *err,
                     size_t errlen)
{
    if (!text || (!steps && cap))
        return -EINVAL;
    size_t n = 0;
    const char *p = text;
    /* "" is no step; otherwise every comma separates two steps, so a trailing
     * comma is an empty (bad) step rather than nothing */
    while (*text) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        if (n == cap) {
            if (err && errlen)
                snprintf(err, errlen, "more than %zu fault steps", cap);
            return -EINVAL;
        }
        int rc = parse_step(p, end, &steps[n], err, errlen);
        if (rc < 0)
            return rc;
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    return (int)n;
}

/* ---- shared state ------------------------------------------------------------ */

enum { MODE_OFF, MODE_SCHEDULE, MODE_RANDOM };

#define SITE_SLOTS 2048 /* a power of two, well above libipc's call sites */

struct site_slot {
    _Atomic(const char *) where;
    _Atomic int call;
    _Atomic uint64_t calls;
    _Atomic uint64_t injected;
};

struct fault_state {
    _Atomic int mode;
    _Atomic uint64_t arm_calls;
    /* schedule */
    struct ipc_fault_step steps[IPC_FAULT_MAX_STEPS];
    size_t nsteps;
    _Atomic uint32_t step_seen[IPC_FAULT_MAX_STEPS];
    /* random */
    uint64_t threshold; /* a call fails when its draw is below this */
    int always;         /* rate 1: every call fails */
    uint64_t calls_mask;
    _Atomic uint64_t rng;
    /* statistics */
    _Atomic uint64_t calls[IPC_FAULT_CALL_COUNT];
    _Atomic uint64_t injected[IPC_FAULT_CALL_COUNT];
    struct site_slot sites[SITE_SLOTS];
};

static struct fault_state *state;

static int state_map(void)
{
    if (state)
        return 0;
    void *m = mmap(NULL, sizeof(struct fault_state), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -ENOMEM;
    state = m; /* zero-filled: mode off, no sites */
    return 0;
}

static uint64_t mix64(uint64_t z)
{
    /* splitmix64's finaliser */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static struct site_slot *site_slot(struct fault_state *s, const char *where, int call)
{
    size_t h = (size_t)mix64((uint64_t)(uintptr_t)where) & (SITE_SLOTS - 1);
    for (size_t probe = 0; probe < SITE_SLOTS; probe++) {
        struct site_slot *slot = &s->sites[(h + probe) & (SITE_SLOTS - 1)];
        const char *cur = atomic_load_explicit(&slot->where, memory_order_acquire);
        if (cur == where)
            return slot;
        if (!cur) {
            const char *expected = NULL;
            if (atomic_compare_exchange_strong(&slot->where, &expected, where)) {
                atomic_store_explicit(&slot->call, call, memory_order_relaxed);
                return slot;
            }
            if (expected == where)
                return slot;
        }
    }
    return NULL; /* table full: the call still happens, uncounted by site */
}

static size_t short_length(size_t n, enum ipc_fault_short c)
{
    switch (c) {
    case IPC_FAULT_SHORT_ONE:
        return 1;
    case IPC_FAULT_SHORT_HALF:
        return n / 2;
    default:
        return n - 1;
    }
}

/* What the fd of a call is like, for the faults that depend on it. */
enum { FD_READ, FD_WRITE, FD_OTHER, FD_PIDFD };
struct fault_fd {
    int fd;
    int dir;      /* FD_READ: data flows in; FD_WRITE: out; FD_PIDFD: fd is a pidfd */
    int dontwait; /* MSG_DONTWAIT, WNOHANG or a zero timeout: this call does not block */
    int cmd;      /* fcntl: the command; dup2: the new fd */
    pid_t pid;    /* signal sends: the target (> 0), 0 when unknown */
};

/* Decimal formatting and parsing without stdio: these run in signal handlers
 * (ipc_sig_send is async-signal-safe) and in forked children of threaded parents. */
static char *put_uint(char *p, unsigned long v)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static long get_long(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    long v = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (*p - '0');
    return v;
}

/* Reads "<prefix><n><suffix>" into buf (NUL-terminated); 0 on success. */
static int read_proc(const char *prefix, unsigned long n, const char *suffix, char *buf,
                     size_t size)
{
    char path[64], *p = path;
    for (const char *q = prefix; *q; q++)
        *p++ = *q;
    p = put_uint(p, n);
    for (const char *q = suffix; *q; q++)
        *p++ = *q;
    *p = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, buf, size - 1);
    close(fd);
    if (got <= 0)
        return -1;
    buf[got] = '\0';
    return 0;
}

/* Whether pid is a child of this process that has not been reaped (a zombie
 * counts): the parent field of /proc/<pid>/stat. Async-signal-safe. */
static int own_child(pid_t pid)
{
    char buf[512];
    if (read_proc("/proc/", (unsigned long)pid, "/stat", buf, sizeof(buf)) < 0)
        return 0;
    const char *p = strrchr(buf, ')'); /* the name may hold spaces and parens */
    if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
        return 0;
    return get_long(p + 4) == (long)getpid(); /* ") S <ppid>" */
}

/* The pid behind a pidfd: the "Pid:" line of /proc/self/fdinfo/<fd>. */
static pid_t pidfd_pid(int pidfd)
{
    char buf[1024];
    if (pidfd < 0 ||
        read_proc("/proc/self/fdinfo/", (unsigned long)pidfd, "", buf, sizeof(buf)) < 0)
        return 0;
    const char *p = strstr(buf, "\nPid:");
    return p ? (pid_t)get_long(p + 5) : 0;
}

/* Whether the real call could fail with err (or, err 0, move fewer bytes than n)
 * on this fd right now. Only the cases that libipc's code meets are told apart;
 * everything else stays possible:
 *   - EINTR needs a call that sleeps: never on a non-blocking fd.
 *   - EAGAIN needs a non-blocking call that would have to wait: a read with
 *     bytes available (FIONREAD) or a pipe write with room for it (all n bytes
 *     up to PIPE_BUF, one byte beyond) does not.
 *   - EIO is a device or file-system error: never on a pipe or socket.
 *   - recvfrom reports ECONNREFUSED (an ICMP error) on a connected socket only.
 *   - EPIPE on a pipe needs its read end closed everywhere (poll says POLLERR).
 *   - A write of at most PIPE_BUF bytes to a pipe is atomic: never short. A read
 *     from a pipe holding at least n bytes returns n: never short.
 *   - fcntl: F_DUPFD(_CLOEXEC) fails with EMFILE only, F_SETPIPE_SZ with EPERM
 *     or EBUSY only; the get/set flag commands on an open fd cannot fail.
 *   - waitpid/waitid with WNOHANG do not sleep: never EINTR.
 *   - a read that would not wait (data ready by FIONREAD or poll, or end of
 *     file with the writer gone) never fails with EAGAIN.
 *   - kill, sigqueue, pidfd_send_signal to an unreaped child of this process
 *     cannot fail with EPERM or ESRCH.
 * Uses only real calls (fstat, fcntl, ioctl, poll, open/read of /proc), never the
 * seam, and nothing that is not async-signal-safe. */
static int fault_possible(int call, const struct fault_fd *f, int err, size_t n)
{
    if (call == IPC_FAULT_fcntl) {
        switch (f->cmd) {
        case F_DUPFD:
        case F_DUPFD_CLOEXEC:
            return err == EMFILE;
        case F_SETPIPE_SZ:
            return err == EPERM || err == EBUSY;
        default:
            return 0;
        }
    }
    if (call == IPC_FAULT_kill || call == IPC_FAULT_sigqueue ||
        call == IPC_FAULT_pidfd_send_signal) {
        /* A live (or zombie) child of ours, same credentials: a signal to it
         * cannot be refused (EPERM) nor miss it (ESRCH). libipc signals its own
         * children this way; everything else (ipc_sig_send to any pid) stays open. */
        pid_t pid = f->dir == FD_PIDFD ? pidfd_pid(f->fd) : f->pid;
        if ((err == EPERM || err == ESRCH) && pid > 0 && own_child(pid))
            return 0;
        return 1;
    }
    if (call == IPC_FAULT_waitpid || call == IPC_FAULT_waitid)
        return !(err == EINTR && f->dontwait); /* WNOHANG never sleeps */
    if (call == IPC_FAULT_sigtimedwait)
        /* A zero timeout never sleeps (no EINTR); a longer one cannot run out
         * early (EAGAIN is the timeout itself). */
        return err == EAGAIN ? f->dontwait : !f->dontwait;
    struct stat st;
    int fifo = 0, sock = 0;
    if (fstat(f->fd, &st) == 0) {
        fifo = S_ISFIFO(st.st_mode);
        sock = S_ISSOCK(st.st_mode);
    }
    int fl = fcntl(f->fd, F_GETFL);
    int nonblock = f->dontwait || (fl >= 0 && (fl & O_NONBLOCK));
    int avail = -1;
    if ((fifo || sock) && f->dir != FD_OTHER && ioctl(f->fd, FIONREAD, &avail) < 0)
        avail = -1;
    switch (err) {
    case EINTR:
        return !nonblock;
    case EAGAIN:
        if (!nonblock)
            return 0;
        if (f->dir == FD_READ && avail > 0)
            return 0;
        if (f->dir == FD_READ) {
            /* Nothing counted (or no FIONREAD: signalfd): a read that poll says
             * would not wait - data, or end of file once the writer is gone -
             * returns at once instead of EAGAIN. */
            struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
            if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
                return 0;
        }
        if (f->dir == FD_WRITE && fifo && avail >= 0) {
            int cap = fcntl(f->fd, F_GETPIPE_SZ);
            size_t room = cap > avail ? (size_t)(cap - avail) : 0;
            if (room >= (n <= PIPE_BUF ? n : 1))
                return 0;
        }
        return 1;
    case EIO:
        return !fifo && !sock;
    case ECONNREFUSED:
        /* an ICMP error is reported to a connected datagram socket only */
        if (call == IPC_FAULT_recvfrom && sock) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            return getpeername(f->fd, (struct sockaddr *)&ss, &sl) == 0;
        }
        return 1;
    case EPIPE:
        if (fifo && f->dir == FD_WRITE) {
            struct pollfd pfd = {.fd = f->fd, .events = POLLOUT};
            return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLERR);
        }
        return 1;
    case 0: /* short */
        if (fifo && f->dir == FD_WRITE && n <= PIPE_BUF)
            return 0;
        if (fifo && f->dir == FD_READ && avail >= 0 && (size_t)avail >= n)
            return 0;
        return 1;
    default:
        return 1;
    }
}

/* The random mode's choice of failure for one call: an errno of the call's list,
 * or (for a transfer of 2 bytes or more) one of the short classes, starting at the
 * drawn one and skipping those this fd could not produce (so that rate 1 still
 * fails every call that can fail at all). */
static void random_action(int call, size_t *len, uint64_t draw, int *err,
                          enum ipc_fault_short *shortc, const struct fault_fd *f)
{
    size_t nerr = call_errnos[call].n;
    size_t nshort = call_info[call].can_short && len && *len >= 2 ? IPC_FAULT_SHORT_COUNT - 1 : 0;
    if (nerr + nshort == 0)
        return; /* a kind that cannot fail (sigprocmask) */
    size_t pick = (size_t)(draw % (nerr + nshort));
    for (size_t k = 0; k < nerr + nshort; k++) {
        size_t a = (pick + k) % (nerr + nshort);
        int e = a < nerr ? call_errnos[call].errnos[a] : 0;
        if (f && !fault_possible(call, f, e, len ? *len : 0))
            continue;
        if (a < nerr)
            *err = e;
        else
            *shortc = (enum ipc_fault_short)(a - nerr + 1);
        return;
    }
}

static int fault_decide(enum ipc_fault_call call, const char *site, size_t *len,
                        const struct fault_fd *f);

static int errno_listed(enum ipc_fault_call call, int err)
{
    for (size_t i = 0; i < call_errnos[call].n; i++)
        if (call_errnos[call].errnos[i] == err)
            return 1;
    return 0;
}

int ipc__fault(enum ipc_fault_call call, const char *site, size_t *len)
{
    return fault_decide(call, site, len, NULL);
}

static int fault_decide(enum ipc_fault_call call, const char *site, size_t *len,
                        const struct fault_fd *f)
{
    struct fault_state *s = state;
    if (!s)
        return 0;
    int mode = atomic_load_explicit(&s->mode, memory_order_acquire);
    if (mode == MODE_OFF)
        return 0;
    atomic_fetch_add_explicit(&s->arm_calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->calls[call], 1, memory_order_relaxed);
    struct site_slot *slot = site_slot(s, site, call);
    if (slot)
        atomic_fetch_add_explicit(&slot->calls, 1, memory_order_relaxed);

    int err = 0;
    enum ipc_fault_short shortc = IPC_FAULT_SHORT_NONE;
    if (mode == MODE_SCHEDULE) {
        for (size_t i = 0; i < s->nsteps; i++) {
            const struct ipc_fault_step *st = &s->steps[i];
            if (st->call != IPC_FAULT_ANY && st->call != (int)call)
                continue;
            uint32_t seen =
                atomic_fetch_add_explicit(&s->step_seen[i], 1, memory_order_relaxed) + 1;
            if (seen == st->nth && !err && !shortc) {
                err = st->err;
                shortc = st->shortc;
            }
        }
    } else if (!s->calls_mask || (s->calls_mask >> call & 1)) {
        uint64_t draw =
            mix64(atomic_fetch_add_explicit(&s->rng, 0x9e3779b97f4a7c15ULL, memory_order_relaxed));
        if (s->always || draw < s->threshold)
            random_action((int)call, len, mix64(draw), &err, &shortc, f);
    }
    if (err && !errno_listed(call, err))
        return 0; /* a schedule step naming an errno this call cannot fail with */
    if (!err) {
        if (!shortc || !call_info[call].can_short || !len || *len < 2)
            return 0;
        if (f && !fault_possible((int)call, f, 0, *len))
            return 0;
        *len = short_length(*len, shortc);
    } else if (f && !fault_possible((int)call, f, err, len ? *len : 0)) {
        return 0; /* this fd could not fail so now: the call goes through */
    }
    atomic_fetch_add_explicit(&s->injected[call], 1, memory_order_relaxed);
    if (slot)
        atomic_fetch_add_explicit(&slot->injected, 1, memory_order_relaxed);
    return err;
}

/* ---- arming and statistics ----------------------------------------------------- */

int ipc_faults_arm_schedule(const struct ipc_fault_step *steps, size_t n)
{
    if (n > IPC_FAULT_MAX_STEPS || (n && !steps))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        const struct ipc_fault_step *st = &steps[i];
        if ((st->call != IPC_FAULT_ANY && !call_valid(st->call)) || st->nth == 0 ||
            (st->err == 0) == (st->shortc == IPC_FAULT_SHORT_NONE) || st->err < 0 ||
            st->shortc < 0 || st->shortc >= IPC_FAULT_SHORT_COUNT)
            return -EINVAL;
    }
    int rc = state_map();
    if (rc < 0)
        return rc;
    atomic_store_explicit(&state->mode, MODE_OFF, memory_order_release);
    if (n) /* steps may be NULL for an empty schedule: memcpy(NULL) is undefined */
        memcpy(state->steps, steps, n * sizeof(*steps));
    state->nsteps = n;
    for (size_t i = 0; i < IPC_FAULT_MAX_STEPS; i++)
        atomic_store_explicit(&state->step_seen[i], 0, memory_order_relaxed);
    atomic_store_explicit(&state->arm_calls, 0, memory_order_relaxed);
    atomic_store_explicit(&state->mode, MODE_SCHEDULE, memory_order_release);
    return 0;
}

int ipc_faults_arm_random(double rate, uint64_t seed, uint64_t calls)
{
    if (!(rate >= 0.0 && rate <= 1.0))
        return -EINVAL;
    int rc = state_map();
    if (rc < 0)
        return rc;
    atomic_store_explicit(&state->mode, MODE_OFF, memory_order_release);
    state->always = rate >= 1.0;
    state->threshold = state->always ? UINT64_MAX : (uint64_t)(rate * 18446744073709551616.0);
    state->calls_mask = calls;
    atomic_store_explicit(&state->rng, seed, memory_order_relaxed);
    atomic_store_explicit(&state->arm_calls, 0, memory_order_relaxed);
    atomic_store_explicit(&state->mode, MODE_RANDOM, memory_order_release);
    return 0;
}

void ipc_faults_disarm(void)
{
    if (state)
        atomic_store_explicit(&state->mode, MODE_OFF, memory_order_release);
}

uint64_t ipc_faults_calls_since_arm(void)
{
    return state ? atomic_load_explicit(&state->arm_calls, memory_order_relaxed) : 0;
}

void ipc_faults_stats(struct ipc_fault_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!state)
        return;
    for (int i = 0; i < IPC_FAULT_CALL_COUNT; i++) {
        out->calls[i] = atomic_load_explicit(&state->calls[i], memory_order_relaxed);
        out->injected[i] = atomic_load_explicit(&state->injected[i], memory_order_relaxed);
        out->total_calls += out->calls[i];
        out->total_injected += out->injected[i];
    }
}

void ipc_faults_reset_stats(void)
{
    if (!state)
        return;
    for (int i = 0; i < IPC_FAULT_CALL_COUNT; i++) {
        atomic_store_explicit(&state->calls[i], 0, memory_order_relaxed);
        atomic_store_explicit(&state->injected[i], 0, memory_order_relaxed);
    }
    for (size_t i = 0; i < SITE_SLOTS; i++) {
        struct site_slot *slot = &state->sites[i];
        atomic_store_explicit(&slot->where, NULL, memory_order_relaxed);
        atomic_store_explicit(&slot->calls, 0, memory_order_relaxed);
        atomic_store_explicit(&slot->injected, 0, memory_order_relaxed);
    }
}

size_t ipc_faults_sites(struct ipc_fault_site *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; state && i < SITE_SLOTS; i++) {
        struct site_slot *slot = &state->sites[i];
        const char *where = atomic_load_explicit(&slot->where, memory_order_acquire);
        if (!where)
            continue;
        if (n < cap)
            out[n] = (struct ipc_fault_site){
                .where = where,
                .call = atomic_load_explicit(&slot->call, memory_order_relaxed),
                .calls = atomic_load_explicit(&slot->calls, memory_order_relaxed),
                .injected = atomic_load_explicit(&slot->injected, memory_order_relaxed),
            };
        n++;
    }
    return n;
}

/* ---- the wrappers ---------------------------------------------------------------- */

static int fail_with(int err)
{
    errno = err;
    return -1;
}

int ipc__fault_int(enum ipc_fault_call call, const char *site)
{
    int err = ipc__fault(call, site, NULL);
    if (err)
        errno = err;
    return err;
}

int ipc__fault_rc(enum ipc_fault_call call, const char *site)
{
    return ipc__fault(call, site, NULL);
}

ssize_t ipc__fault_read(const char *site, int fd, void *buf, size_t n)
{
    struct fault_fd f = {fd, FD_READ, 0, 0, 0};
    int err = fault_decide(IPC_FAULT_read, site, &n, &f);
    return err ? fail_with(err) : read(fd, buf, n);
}

ssize_t ipc__fault_signalfd_read(const char *site, int fd, void *buf, size_t n)
{
    struct fault_fd f = {fd, FD_READ, 0, 0, 0};
    int err = fault_decide(IPC_FAULT_signalfd_read, site, NULL, &f);
    return err ? fail_with(err) : read(fd, buf, n);
}

ssize_t ipc__fault_write(const char *site, int fd, const void *buf, size_t n)
{
    struct fault_fd f = {fd, FD_WRITE, 0, 0, 0};
    int err = fault_decide(IPC_FAULT_write, site, &n, &f);
    return err ? fail_with(err) : write(fd, buf, n);
}

/* A short vectored transfer: the same iovecs cut at `len` bytes. */
#define SHORT_IOV_MAX 16
static int cut_iov(const struct iovec *iov, int cnt, size_t len, struct iovec *out)
{
    int k = 0;
    for (; k < cnt && k < SHORT_IOV_MAX && len; k++) {
        out[k] = iov[k];
        if (out[k].iov_len > len)
            out[k].iov_len = len;
        len -= out[k].iov_len;
    }
    return k;
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    return total;
}

/* readv and writev: the fault, then the call on all of iov or on its first len
 * bytes (a short transfer). */
static ssize_t fault_vector(enum ipc_fault_call call, int dir, const char *site, int fd,
                            const struct iovec *iov, int cnt,
                            ssize_t (*io)(int, const struct iovec *, int))
{
    size_t total = iov_total(iov, cnt), len = total;
    struct fault_fd f = {fd, dir, 0, 0, 0};
    int err = fault_decide(call, site, &len, &f);
    if (err)
        return fail_with(err);
    if (len == total)
        return io(fd, iov, cnt);
    struct iovec cut[SHORT_IOV_MAX];
    return io(fd, cut, cut_iov(iov, cnt, len, cut));
}

ssize_t ipc__fault_readv(const char *site, int fd, const struct iovec *iov, int cnt)
{
    return fault_vector(IPC_FAULT_readv, FD_READ, site, fd, iov, cnt, readv);
}

ssize_t ipc__fault_writev(const char *site, int fd, const struct iovec *iov, int cnt)
{
    return fault_vector(IPC_FAULT_writev, FD_WRITE, site, fd, iov, cnt, writev);
}

/* Only a stream socket can move part of what was asked; a datagram is whole. The
 * socket type is asked only while faults are armed. */
static size_t stream_len(int fd, size_t n)
{
    if (!state || atomic_load_explicit(&state->mode, memory_order_relaxed) == MODE_OFF)
        return 0;
    int type = 0;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
        return 0;
    return n;
}

ssize_t ipc__fault_send(const char *site, int fd, const void *buf, size_t n, int flags)
{
    size_t len = stream_len(fd, n);
    struct fault_fd f = {fd, FD_WRITE, !!(flags & MSG_DONTWAIT), 0, 0};
    int err = fault_decide(IPC_FAULT_send, site, &len, &f);
    return err ? fail_with(err) : send(fd, buf, len && len < n ? len : n, flags);
}

ssize_t ipc__fault_recv(const char *site, int fd, void *buf, size_t n, int flags)
{
    size_t len = stream_len(fd, n);
    struct fault_fd f = {fd, FD_READ, !!(flags & MSG_DONTWAIT), 0, 0};
    int err = fault_decide(IPC_FAULT_recv, site, &len, &f);
    return err ? fail_with(err) : recv(fd, buf, len && len < n ? len : n, flags);
}

ssize_t ipc__fault_sendto(const char *site, int fd, const void *buf, size_t n, int flags,
                          const struct sockaddr *to, socklen_t tolen)
{
    struct fault_fd f = {fd, FD_WRITE, !!(flags & MSG_DONTWAIT), 0, 0};
    int err = fault_decide(IPC_FAULT_sendto, site, NULL, &f);
    return err ? fail_with(err) : sendto(fd, buf, n, flags, to, tolen);
}

ssize_t ipc__fault_recvfrom(const char *site, int fd, void *buf, size_t n, int flags,
                            struct sockaddr *from, socklen_t *fromlen)
{
    struct fault_fd f = {fd, FD_READ, !!(flags & MSG_DONTWAIT), 0, 0};
    int err = fault_decide(IPC_FAULT_recvfrom, site, NULL, &f);
    return err ? fail_with(err) : recvfrom(fd, buf, n, flags, from, fromlen);
}

void *ipc__fault_malloc(const char *site, size_t n)
{
    int err = ipc__fault(IPC_FAULT_malloc, site, NULL);
    return err ? (errno = err, NULL) : malloc(n);
}

void *ipc__fault_calloc(const char *site, size_t n, size_t size)
{
    int err = ipc__fault(IPC_FAULT_calloc, site, NULL);
    return err ? (errno = err, NULL) : calloc(n, size);
}

void *ipc__fault_realloc(const char *site, void *p, size_t n)
{
    int err = ipc__fault(IPC_FAULT_realloc, site, NULL);
    return err ? (errno = err, NULL) : realloc(p, n);
}

void *ipc__fault_mmap(const char *site, void *addr, size_t len, int prot, int flags, int fd,
                      off_t off)
{
    int err = ipc__fault(IPC_FAULT_mmap, site, NULL);
    return err ? (errno = err, MAP_FAILED) : mmap(addr, len, prot, flags, fd, off);
}

int ipc__fault_fd(enum ipc_fault_call call, const char *site, int fd)
{
    struct fault_fd f = {fd, call == IPC_FAULT_accept4 ? FD_READ : FD_OTHER, 0, 0, 0};
    int err = fault_decide(call, site, NULL, &f);
    if (err)
        errno = err;
    return err;
}

int ipc__fault_fcntl(const char *site, int fd, int cmd, ...)
{
    struct fault_fd f = {fd, FD_OTHER, 0, cmd, 0};
    int err = fault_decide(IPC_FAULT_fcntl, site, NULL, &f);
    if (err)
        errno = err;
    return err;
}

int ipc__fault_wait(enum ipc_fault_call call, const char *site, int options)
{
    struct fault_fd f = {-1, FD_OTHER, !!(options & WNOHANG), 0, 0};
    int err = fault_decide(call, site, NULL, &f);
    if (err)
        errno = err;
    return err;
}

int ipc__fault_dup2(const char *site, int oldfd, int newfd)
{
    struct fault_fd f = {oldfd, FD_OTHER, 0, newfd, 0};
    int err = fault_decide(IPC_FAULT_dup2, site, NULL, &f);
    if (err)
        errno = err;
    return err;
}

int ipc__fault_pid(enum ipc_fault_call call, const char *site, pid_t pid)
{
    struct fault_fd f = {-1, FD_OTHER, 0, 0, pid};
    int err = fault_decide(call, site, NULL, &f);
    if (err)
        errno = err;
    return err;
}

int ipc__fault_sigtimedwait(const char *site, const struct timespec *timeout)
{
    int zero = timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0; /* NULL: forever */
    struct fault_fd f = {-1, FD_OTHER, zero, 0, 0};
    int err = fault_decide(IPC_FAULT_sigtimedwait, site, NULL, &f);
    if (err)
        errno = err;
    return err;
}

int ipc__fault_pidfd(const char *site, int pidfd)
{
    /* the pid is looked up only when a fault is due (fault_possible) */
    struct fault_fd f = {pidfd, FD_PIDFD, 0, 0, 0};
    int err = fault_decide(IPC_FAULT_pidfd_send_signal, site, NULL, &f);
    if (err)
        errno = err;
    return err;
}
