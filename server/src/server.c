/* server.c - the pre-fork RESP2 server: supervisor (parent) and workers. */
#include "ipcsrv/server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/error.h"
#include "ipc/frame.h"
#include "ipc/pipe.h"
#include "ipc/shm.h"
#include "ipc/sig.h"
#include "ipc/sock.h"
#include "ipc_base.h"
#include "ipcsrv/conn.h"
#include "ipcsrv/ctab.h"

#define SRV_BACKLOG         511
#define SRV_RESTART_MIN_MS  100u
#define SRV_RESTART_MAX_MS  5000u
#define SRV_CRASH_WINDOW_NS 1000000000ull /* failing sooner than this is a crash loop */
#define SRV_START_TRIES     5u            /* forks per slot before startup gives up (about 1.5 s) */
#define SRV_STOP_GRACE_NS   10000000000ull /* then the supervisor SIGKILLs stragglers */
#define SRV_DRAIN_NS        2000000000ull  /* a stopping worker flushes this long at most */
#define SRV_STATS_WAIT_NS   1000000000ull
#define SRV_ACCEPT_BATCH    64
#define SRV_UDP_MAX         65536
#define SRV_UDP_REPLY_MAX   65507
#define SRV_PORT_TRIES      16 /* TCP ports tried when port 0's UDP twin is taken */
#define SRV_FRAME_STATS     1
#define SRV_STATS_FIELDS    10 /* summed; the frame ends with the round number */
#define SRV_STATS_FRAME_LEN ((SRV_STATS_FIELDS + 1) * 8)
/* Supervisor epoll tags: the signal source, a listener (| fd), else worker index + 1. */
#define SRV_TAG_SIGNALS  0ull
#define SRV_TAG_LISTENER (1ull << 32)

static const char max_clients_reply[] = "-ERR max number of clients reached\r\n";
static const char no_worker_reply[] = "-ERR no worker available, try again\r\n";

/* Lives in a MAP_SHARED region so that every worker sees the same client count,
 * and the supervisor can give back the share of a worker that died. */
struct shared_state {
    _Atomic long clients;
    _Atomic long worker_clients[IPC_SERVER_MAX_WORKERS];
    /* The statistics round being collected. A worker echoes it in its answer, so
     * a late answer to a round that closed without it (a stopped or slow worker)
     * is told apart from an answer to the current one. SIGUSR1s coalesce, so a
     * worker cannot know which request it answers; it answers the current round. */
    _Atomic uint64_t stats_round;
};

struct worker_slot {
    pid_t pid; /* 0: not running */
    int ctl_rd;
    struct ipc_frame_dec dec;
    uint64_t started_ns;
    uint64_t restart_at_ns; /* pending restart when pid == 0 and restart_pending */
    int restart_pending;
    unsigned backoff_ms;
    unsigned spawn_fails; /* forks failed in a row */
    int stats_answered;
};

struct ipc_server {
    struct ipc_server_options opt;
    FILE *log;
    int tcp_fd, unix_fd, udp_fd;
    struct ipc_sock_addr tcp_addr, unix_addr, udp_addr;
    pid_t creator;
    ipc_ctab *table;
    ipc_shm *region;
    struct shared_state *shared;
    unsigned nworkers;
    struct worker_slot slots[IPC_SERVER_MAX_WORKERS];
    uint64_t start_ns;
    ipc_sigsrc *sigsrc;
    int epfd;
    int ran;
};

static void slog(const struct ipc_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void slog(const struct ipc_server *s, const char *fmt, ...)
{
    if (s->opt.quiet)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    fprintf(s->log, "ipcstorm serve[%ld]: %s\n", (long)getpid(), line);
    fflush(s->log);
}

/* ---- construction ---------------------------------------------------------- */

/* The TCP listener, and UDP on the same port number with --udp. */
static int bind_inet_once(struct ipc_server *s)
{
    const struct ipc_server_options *o = &s->opt;
    if (o->no_tcp)
        return o->udp ? -EINVAL : 0;
    const char *host = o->bind ? o->bind : "127.0.0.1";
    struct ipc_sock_addr a;
    int rc = ipc_sock_addr_from_host_port(&a, host, o->port);
    if (rc < 0 || a.family == AF_UNIX)
        return rc < 0 ? rc : -EINVAL;
    rc = ipc_sock_listen(&a, SRV_BACKLOG, IPC_SOCK_NONBLOCK, &s->tcp_addr);
    if (rc < 0)
        return rc;
    s->tcp_fd = rc;
    if (!o->udp)
        return 0;
    rc = ipc_sock_addr_from_host_port(&a, host, ipc_sock_addr_port(&s->tcp_addr));
    if (rc < 0)
        return rc;
    rc = ipc_sock_bind_dgram(&a, IPC_SOCK_NONBLOCK, &s->udp_addr);
    if (rc < 0)
        return rc;
    s->udp_fd = rc;
    return 0;
}

/* With port 0 the kernel picks the TCP port, whose UDP twin may be someone
 * else's: then another TCP port is tried. The refused ones stay bound meanwhile,
 * or the kernel could pick the same one again (it prefers odd ports for bind). */
static int bind_inet(struct ipc_server *s)
{
    int held[SRV_PORT_TRIES];
    unsigned nheld = 0;
    int rc = bind_inet_once(s);
    while (rc == -EADDRINUSE && s->opt.port == 0 && s->tcp_fd >= 0 && nheld < SRV_PORT_TRIES) {
        held[nheld++] = s->tcp_fd;
        s->tcp_fd = -1;
        rc = bind_inet_once(s);
    }
    while (nheld > 0)
        close(held[--nheld]);
    return rc;
}

static int bind_unix(struct ipc_server *s)
{
    const char *p = s->opt.unix_path;
    if (!p)
        return 0;
    char text[IPC_SOCK_ADDRSTRLEN + 8];
    if (strncmp(p, "unix:", 5) == 0)
        p += 5;
    if (!*p || snprintf(text, sizeof(text), "unix:%s", p) >= (int)sizeof(text))
        return -EINVAL;
    struct ipc_sock_addr a;
    int rc = ipc_sock_addr_parse(&a, text);
    if (rc < 0)
        return rc;
    rc = ipc_sock_listen(&a, SRV_BACKLOG, IPC_SOCK_NONBLOCK | IPC_SOCK_UNLINK_STALE, NULL);
    if (rc < 0)
        return rc;
    s->unix_fd = rc;
    s->unix_addr = a;
    return 0;
}

/* Refuses limits the connection engine would refuse, at start rather than by
 * resetting every client. */
static int probe_limits(const struct ipc_server *s)
{
    struct ipc_conn_env probe = {.limits = {.max_bulk = s->opt.max_bulk}};
    struct ipc_conn *c = NULL;
    int rc = ipc_conn_new(&c, &probe);
    ipc_conn_free(c);
    return rc < 0 ? rc : 0;
}

int ipc_server_new(ipc_server **out, const struct ipc_server_options *opts)
{
    if (!out || !opts)
        return -EINVAL;
    *out = NULL;
    if (opts->port < 0 || opts->port > 65535 || opts->workers > IPC_SERVER_MAX_WORKERS ||
        opts->max_bulk > IPC_RESP_HARD_MAX_BULK || opts->table_capacity > IPC_CTAB_MAX_CAPACITY ||
        opts->max_clients > 10000000u || (opts->no_tcp && !opts->unix_path) ||
        opts->busy_poll_us < -1 || opts->busy_poll_us > IPC_SERVER_MAX_BUSY_POLL_US)
        return -EINVAL;
    struct ipc_server *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->opt = *opts;
    s->log = opts->log ? opts->log : stderr;
    s->tcp_fd = s->unix_fd = s->udp_fd = s->epfd = -1;
    s->creator = getpid();
    for (unsigned i = 0; i < IPC_SERVER_MAX_WORKERS; i++)
        s->slots[i].ctl_rd = -1;
    if (!s->opt.workers)
        s->opt.workers = ipc__cpu_count(IPC_SERVER_MAX_WORKERS);
    if (!s->opt.max_clients)
        s->opt.max_clients = IPC_SERVER_DEFAULT_MAX_CLIENTS;
    if (!s->opt.busy_poll_us)
        s->opt.busy_poll_us = IPC_SERVER_DEFAULT_BUSY_POLL_US;
    if (!s->opt.table_capacity)
        s->opt.table_capacity = (size_t)IPC_CTAB_DEFAULT_CAPACITY * 16;
    s->nworkers = s->opt.workers;

    int rc = bind_inet(s);
    if (rc == 0)
        rc = bind_unix(s);
    if (rc == 0)
        rc = probe_limits(s);
    if (rc < 0)
        goto fail;
    rc = ipc_ctab_new(&s->table, s->opt.table_capacity);
    if (rc < 0)
        goto fail;
    rc = ipc_shm_new_anon(&s->region, sizeof(struct shared_state));
    if (rc < 0)
        goto fail;
    s->shared = ipc_shm_base(s->region);
    s->start_ns = ipc__now_ns();
    *out = s;
    return 0;
fail:
    ipc_server_free(s);
    return rc;
}

int ipc_server_port(const ipc_server *s)
{
    if (!s || s->tcp_fd < 0)
        return -EINVAL;
    return ipc_sock_addr_port(&s->tcp_addr);
}

int ipc_server_describe(const ipc_server *s, char *buf, size_t size)
{
    if (!s || !buf || !size)
        return -EINVAL;
    char a[IPC_SOCK_ADDRSTRLEN];
    size_t n = 0;
    int w = snprintf(buf, size, "listening");
    if (w < 0)
        return -EINVAL;
    n = (size_t)w;
#define APPEND(...)                                                                                \
    do {                                                                                           \
        if (n >= size)                                                                             \
            return -ENOSPC;                                                                        \
        w = snprintf(buf + n, size - n, __VA_ARGS__);                                              \
        if (w < 0)                                                                                 \
            return -EINVAL;                                                                        \
        n += (size_t)w;                                                                            \
    } while (0)
    if (s->tcp_fd >= 0 && ipc_sock_addr_format(&s->tcp_addr, a, sizeof(a)) >= 0)
        APPEND(" tcp %s", a);
    if (s->udp_fd >= 0 && ipc_sock_addr_format(&s->udp_addr, a, sizeof(a)) >= 0)
        APPEND(" udp %s", a);
    if (s->unix_fd >= 0 && ipc_sock_addr_format(&s->unix_addr, a, sizeof(a)) >= 0)
        APPEND(" unix %s", a + 5);
    APPEND(" workers %u", s->nworkers);
#undef APPEND
    return n >= size ? -ENOSPC : (int)n;
}

void ipc_server_free(ipc_server *s)
{
    if (!s)
        return;
    ipc__close_invalidate(&s->tcp_fd);
    ipc__close_invalidate(&s->udp_fd);
    if (s->unix_fd >= 0) {
        ipc__close_invalidate(&s->unix_fd);
        if (getpid() == s->creator)
            IPC__IGNORE_RC(ipc_sock_unlink(&s->unix_addr));
    }
    for (unsigned i = 0; i < IPC_SERVER_MAX_WORKERS; i++) {
        ipc__close_invalidate(&s->slots[i].ctl_rd);
        ipc_frame_dec_free(&s->slots[i].dec);
    }
    ipc__close_invalidate(&s->epfd);
    ipc_sigsrc_free(s->sigsrc);
    ipc_ctab_free(s->table);
    ipc_shm_free(s->region);
    free(s);
}

/* ---- worker ------------------------------------------------------------------ */

struct wconn {
    struct ipc_conn *c;
    uint32_t events;
    int reply_due; /* in the worker's reply list for this loop iteration */
};

/* At most one entry per event of one epoll_wait. */
#define SRV_EVENTS_MAX 128

struct worker {
    struct ipc_server *s;
    unsigned idx;
    int ctl_wr;
    int epfd;
    ipc_sigsrc *sig;
    int sigfd;
    int reserve_fd;
    struct ipc_conn_env env, udp_env;
    struct wconn *conns; /* indexed by fd */
    size_t nconns_cap;
    /* Connections that read input in this loop iteration: their replies are
     * written once all ready connections have been read, as Redis does. */
    int replies[SRV_EVENTS_MAX];
    size_t nreplies;
    size_t live;
    int stopping;
    uint64_t paused_until; /* listeners taken out of epoll after EMFILE without reserve */
    int listeners_paused;
    uint64_t emfile_events;
    uint64_t emfile_drops;  /* connections accepted with the reserve and closed at once */
    uint64_t accept_pauses; /* times the listeners left epoll: no reserve could help */
    uint64_t emfile_logged_ns;
    uint64_t drain_deadline; /* set when stopping */
    char *udp_buf;
};

static int is_listener(const struct worker *w, int fd)
{
    return fd == w->s->tcp_fd || fd == w->s->unix_fd;
}

static void worker_set_listeners(struct worker *w, int on)
{
    int fds[3] = {w->s->tcp_fd, w->s->unix_fd, w->s->udp_fd};
    for (int i = 0; i < 3; i++) {
        if (fds[i] < 0)
            continue;
        if (on) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE,
                                     .data.u64 = (uint64_t)fds[i]};
            if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0 && errno == EINVAL) {
                ev.events = EPOLLIN; /* kernels before 4.5 */
                (void)epoll_ctl(w->epfd, EPOLL_CTL_ADD, fds[i], &ev);
            }
        } else {
            (void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, fds[i], NULL);
        }
    }
}

static void release_client_slot(struct worker *w)
{
    atomic_fetch_sub(&w->s->shared->clients, 1);
    atomic_fetch_sub(&w->s->shared->worker_clients[w->idx], 1);
}

/* Reads and drops what the client already sent, so that close() sends FIN after our
 * last reply instead of an RST that could destroy it in the client's buffer. */
static void drain_and_close(int fd)
{
    char junk[4096];
    for (int i = 0; i < 16; i++)
        if (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) <= 0)
            break;
    close(fd);
}

/* The EMFILE reserve is spent in on_emfile and reopened at once; when that
 * reopen failed too (no descriptor at all), it is retried whenever one may have
 * come free, so a worker does not pause for good where a drop would do. */
static void restore_reserve(struct worker *w)
{
    if (w->reserve_fd < 0)
        w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void close_conn(struct worker *w, int fd)
{
    struct wconn *wc = &w->conns[fd];
    (void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
    ipc_conn_free(wc->c);
    wc->c = NULL;
    wc->events = 0;
    wc->reply_due = 0; /* a new connection may get this fd in the same iteration */
    drain_and_close(fd);
    w->live--;
    release_client_slot(w);
    restore_reserve(w);
}

static int conns_reserve(struct worker *w, int fd)
{
    if ((size_t)fd < w->nconns_cap)
        return 0;
    size_t cap = w->nconns_cap ? w->nconns_cap : 64;
    while (cap <= (size_t)fd)
        cap *= 2;
    struct wconn *p = realloc(w->conns, cap * sizeof(*p));
    if (!p)
        return -ENOMEM;
    memset(p + w->nconns_cap, 0, (cap - w->nconns_cap) * sizeof(*p));
    w->conns = p;
    w->nconns_cap = cap;
    return 0;
}

static void update_events(struct worker *w, int fd, int st)
{
    struct wconn *wc = &w->conns[fd];
    uint32_t want = 0;
    if ((st & IPC_CONN_WANT_READ) && !w->stopping)
        want |= EPOLLIN;
    if (st & IPC_CONN_WANT_WRITE)
        want |= EPOLLOUT;
    if (want == wc->events)
        return;
    struct epoll_event ev = {.events = want, .data.u64 = (uint64_t)fd};
    if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        wc->events = want;
}

/* After a read or a write: closes a finished or stuck connection, else watches
 * what it waits for. */
static void settle_conn(struct worker *w, int fd, int st)
{
    if (st < 0 || (st & IPC_CONN_DONE)) {
        close_conn(w, fd);
        return;
    }
    if (!(st & (IPC_CONN_WANT_READ | IPC_CONN_WANT_WRITE))) {
        close_conn(w, fd); /* nothing it could wait for: a stuck client */
        return;
    }
    update_events(w, fd, st);
}

/* A ready connection: reads and executes what it sent; the replies wait in its
 * output buffer for send_replies, after every other ready connection was read. */
static void serve_conn(struct worker *w, int fd)
{
    struct wconn *wc = &w->conns[fd];
    int st = ipc_conn_pump_in(wc->c, fd);
    if (st < 0 || (st & IPC_CONN_DONE)) {
        close_conn(w, fd);
        return;
    }
    if (wc->reply_due)
        return;
    if (w->nreplies < SRV_EVENTS_MAX) {
        wc->reply_due = 1;
        w->replies[w->nreplies++] = fd;
    } else {
        settle_conn(w, fd, ipc_conn_pump_out(wc->c, fd)); /* cannot happen: one per event */
    }
}

static void new_client(struct worker *w, int fd, int tcp)
{
    long max = (long)w->s->opt.max_clients;
    if (atomic_fetch_add(&w->s->shared->clients, 1) >= max) {
        atomic_fetch_sub(&w->s->shared->clients, 1);
        IPC__IGNORE_RC(ipc_sock_send(fd, max_clients_reply, sizeof(max_clients_reply) - 1));
        drain_and_close(fd);
        return;
    }
    atomic_fetch_add(&w->s->shared->worker_clients[w->idx], 1);
    struct ipc_conn *c = NULL;
    if (conns_reserve(w, fd) < 0 || ipc_conn_new(&c, &w->env) < 0) {
        release_client_slot(w);
        close(fd);
        return;
    }
    if (tcp)
        IPC__IGNORE_RC(ipc_sock_set_nodelay(fd, 1));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)fd};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        ipc_conn_free(c);
        release_client_slot(w);
        close(fd);
        return;
    }
    w->conns[fd].c = c;
    w->conns[fd].events = EPOLLIN;
    w->live++;
}

/* Out of descriptors: the pending connection stays queued and the listener stays
 * readable, so a naive loop would spin. Spend the reserve descriptor to accept and
 * close one connection (the client sees the close at once), or, without a reserve,
 * stop watching the listeners for a moment. */
static void on_emfile(struct worker *w, int lfd)
{
    w->emfile_events++;
    uint64_t now = ipc__now_ns();
    if (now - w->emfile_logged_ns >= 1000000000ull) {
        w->emfile_logged_ns = now;
        slog(w->s,
             "worker %u: out of file descriptors (%" PRIu64 " times): dropping new connections",
             w->idx, w->emfile_events);
    }
    if (w->reserve_fd >= 0) {
        ipc__close_invalidate(&w->reserve_fd);
        int fd = ipc_sock_accept(lfd, IPC_SOCK_NONBLOCK, NULL);
        if (fd >= 0) {
            close(fd);
            w->emfile_drops++;
        }
        w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        /* Only a connection taken off the queue (or an empty queue) means the
         * listener will not be readable again at once: ENFILE, ENOBUFS or ENOMEM
         * persist however many descriptors we free, so pause as without a reserve. */
        if (w->reserve_fd >= 0 && (fd >= 0 || fd == -EAGAIN || fd == -ECONNABORTED))
            return;
    }
    if (!w->listeners_paused) {
        worker_set_listeners(w, 0);
        w->listeners_paused = 1;
        w->accept_pauses++;
        w->paused_until = ipc__now_ns() + 100000000ull;
    }
}

static void accept_clients(struct worker *w, int lfd)
{
    /* A raised RLIMIT_NOFILE frees descriptors without any close. */
    restore_reserve(w);
    for (int i = 0; i < SRV_ACCEPT_BATCH && !w->stopping; i++) {
        int fd = ipc_sock_accept(lfd, IPC_SOCK_NONBLOCK, NULL);
        if (fd == -ECONNABORTED || fd == -EPROTO)
            continue;
        if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
            on_emfile(w, lfd);
            return;
        }
        if (fd < 0)
            return; /* -EAGAIN: another worker took it, or the queue is empty */
        new_client(w, fd, lfd == w->s->tcp_fd);
    }
}

static void serve_udp(struct worker *w)
{
    int fd = w->s->udp_fd;
    for (int i = 0; i < SRV_ACCEPT_BATCH; i++) {
        struct ipc_sock_addr from;
        ssize_t n = ipc_sock_recvfrom(fd, w->udp_buf, SRV_UDP_MAX, &from);
        if (n == -EAGAIN || (n < 0 && n != -EMSGSIZE))
            return;
        if (n < 0)
            n = SRV_UDP_MAX; /* truncated: answered like any other bytes */
        struct ipc_conn *c;
        if (ipc_conn_new(&c, &w->udp_env) < 0)
            return;
        /* One datagram is one request: whatever it holds is all there is. */
        long fed = ipc_conn_feed(c, w->udp_buf, (size_t)n);
        (void)fed;
        ipc_conn_eof(c);
        const void *p;
        size_t len;
        ipc_conn_output(c, &p, &len);
        if (len > SRV_UDP_REPLY_MAX) {
            static const char big[] = "-ERR reply too large for a datagram\r\n";
            p = big;
            len = sizeof(big) - 1;
        }
        if (len) {
            /* The reply leaves through sendto, not through the engine's output
             * accounting: count it here, as a stream reply is counted when sent. */
            ssize_t sent = ipc_sock_sendto(fd, p, len, &from);
            if (sent > 0)
                w->udp_env.stats.bytes_out += (uint64_t)sent;
        }
        ipc_conn_free(c);
    }
}

static void send_stats(struct worker *w)
{
    uint8_t payload[SRV_STATS_FRAME_LEN];
    const struct ipc_conn_stats *a = &w->env.stats, *u = &w->udp_env.stats;
    uint64_t f[SRV_STATS_FIELDS] = {
        w->idx,
        (uint64_t)getpid(),
        a->commands + u->commands,
        a->connections,
        a->clients,
        a->bytes_in + u->bytes_in,
        a->bytes_out + u->bytes_out,
        a->proto_errors + u->proto_errors,
        w->emfile_drops,
        w->accept_pauses,
    };
    for (int i = 0; i < SRV_STATS_FIELDS; i++)
        ipc__store_be64(payload + 8 * i, f[i]);
    ipc__store_be64(payload + 8 * SRV_STATS_FIELDS, atomic_load(&w->s->shared->stats_round));
    /* A small frame is one atomic pipe write; if the supervisor is not reading,
     * the report is dropped rather than blocking the clients. */
    IPC__IGNORE_RC(ipc_frame_write_fd(w->ctl_wr, SRV_FRAME_STATS, payload, sizeof(payload), 0));
}

static void worker_begin_stop(struct worker *w)
{
    if (w->stopping)
        return;
    w->stopping = 1;
    worker_set_listeners(w, 0);
    ipc__close_invalidate(&w->s->tcp_fd);
    ipc__close_invalidate(&w->s->unix_fd);
    ipc__close_invalidate(&w->s->udp_fd);
    for (size_t fd = 0; fd < w->nconns_cap; fd++) {
        struct wconn *wc = &w->conns[fd];
        if (!wc->c)
            continue;
        int st = ipc_conn_state(wc->c);
        if (!(st & IPC_CONN_WANT_WRITE))
            close_conn(w, (int)fd);
        else
            update_events(w, (int)fd, st);
    }
}

static void worker_signals(struct worker *w)
{
    struct ipc_sig_info si;
    while (ipc_sigsrc_read(w->sig, &si) == 1) {
        if (si.signo == SIGTERM || si.signo == SIGINT)
            worker_begin_stop(w);
        else if (si.signo == SIGUSR1)
            send_stats(w);
    }
}

static void worker_flush_stopping(struct worker *w, int fd)
{
    struct wconn *wc = &w->conns[fd];
    const void *p;
    size_t len;
    while (ipc_conn_output(wc->c, &p, &len)) {
        ssize_t n = ipc_sock_send(fd, p, len);
        if (n == -EAGAIN)
            return;
        if (n <= 0)
            break;
        (void)ipc_conn_consume_output(wc->c, (size_t)n);
    }
    close_conn(w, fd);
}

/* One write per connection and loop iteration, with every reply it is owed. */
static void send_replies(struct worker *w)
{
    for (size_t i = 0; i < w->nreplies; i++) {
        int fd = w->replies[i];
        struct wconn *wc = &w->conns[fd];
        if (!wc->reply_due || !wc->c)
            continue; /* closed meanwhile (and maybe its fd reused) */
        wc->reply_due = 0;
        if (w->stopping)
            worker_flush_stopping(w, fd); /* a signal in the same batch began the stop */
        else
            settle_conn(w, fd, ipc_conn_pump_out(wc->c, fd));
    }
    w->nreplies = 0;
}

/* Everything a worker needs before its loop. Returns 0, or -1 (the worker exits 1). */
static int worker_setup(struct worker *w)
{
    struct ipc_server *s = w->s;
    /* Non-blocking: a stats frame is one atomic pipe write (< PIPE_BUF) that is
     * dropped when a stopped or busy supervisor lets the pipe fill, instead of
     * blocking this worker and every client on it. */
    if (ipc_pipe_set_nonblock(w->ctl_wr, 1) < 0)
        return -1;
    w->env.table = s->table;
    w->env.limits.max_bulk = s->opt.max_bulk;
    w->env.server_name = "ipcstorm";
    w->env.workers = s->nworkers;
    w->env.worker_index = w->idx;
    w->env.start_ns = s->start_ns;
    w->udp_env = w->env;
    sigset_t set;
    if (ipc_sig_mkset(&set, SIGTERM, SIGINT, SIGUSR1, SIGHUP, 0) < 0 ||
        ipc_sigsrc_new(&w->sig, &set, 0) < 0)
        return -1;
    w->sigfd = ipc_sigsrc_fd(w->sig);
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        return -1;
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s->udp_fd >= 0 && !(w->udp_buf = malloc(SRV_UDP_MAX)))
        return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)w->sigfd};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->sigfd, &ev) < 0)
        return -1;
    worker_set_listeners(w, 1);
    return 0;
}

/* The epoll timeout in ms (-1: none): resumes paused listeners and bounds the drain
 * of a stopping worker. Returns 1 when the worker is done. */
static int worker_timeout(struct worker *w, int *timeout)
{
    *timeout = -1;
    if (!w->listeners_paused && !w->stopping)
        return 0; /* the common case: no clock to read */
    uint64_t now = ipc__now_ns();
    if (w->listeners_paused) {
        if (now >= w->paused_until) {
            w->listeners_paused = 0;
            restore_reserve(w);
            if (!w->stopping)
                worker_set_listeners(w, 1);
        } else {
            *timeout = (int)((w->paused_until - now) / 1000000u) + 1;
        }
    }
    if (w->stopping) {
        if (!w->drain_deadline)
            w->drain_deadline = now + SRV_DRAIN_NS;
        if (w->live == 0 || now >= w->drain_deadline)
            return 1;
        int t = (int)((w->drain_deadline - now) / 1000000u) + 1;
        if (*timeout < 0 || t < *timeout)
            *timeout = t;
    }
    return 0;
}

static void worker_dispatch(struct worker *w, int fd)
{
    if (fd == w->sigfd) {
        worker_signals(w);
    } else if (is_listener(w, fd)) {
        if (!w->stopping)
            accept_clients(w, fd);
    } else if (fd == w->s->udp_fd && fd >= 0) {
        serve_udp(w);
    } else if ((size_t)fd < w->nconns_cap && w->conns[fd].c) {
        if (w->stopping)
            worker_flush_stopping(w, fd);
        else
            serve_conn(w, fd);
    }
}

/* Returns the worker's exit code: 0 after a stop, 1 if epoll failed. */
static int worker_loop(struct worker *w)
{
    struct epoll_event evs[SRV_EVENTS_MAX];
    int busy_poll_us = w->s->opt.busy_poll_us;
    uint64_t busy_ns = busy_poll_us > 0 ? (uint64_t)busy_poll_us * 1000u : 0;
    uint64_t busy_until = 0; /* poll without sleeping until then */
    for (;;) {
        int timeout;
        if (worker_timeout(w, &timeout))
            return 0;
        /* Busy polling: under load the next request comes within microseconds, and
         * sleeping for it costs the client a wakeup of this worker on another CPU
         * (an IPI, a VM exit in a guest) and hands this core to other work. */
        if (busy_until && !w->stopping) {
            if (ipc__now_ns() < busy_until)
                timeout = 0;
            else
                busy_until = 0;
        }
        int n = epoll_wait(w->epfd, evs, (int)IPC__ARRAY_SIZE(evs), timeout);
        if (n < 0 && errno != EINTR)
            return 1;
        for (int i = 0; i < n; i++)
            worker_dispatch(w, (int)evs[i].data.u64);
        if (w->nreplies && busy_ns)
            busy_until = ipc__now_ns() + busy_ns;
        send_replies(w);
    }
}

static __attribute__((noreturn)) void worker_main(struct ipc_server *s, unsigned idx, int ctl_wr,
                                                  pid_t parent)
{
    struct worker w = {.s = s, .idx = idx, .ctl_wr = ctl_wr, .epfd = -1, .reserve_fd = -1};
    /* A worker must not outlive a supervisor that was SIGKILLed. */
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        ipc__exit_child(0);
    int code = worker_setup(&w) < 0 ? 1 : worker_loop(&w);
    for (size_t fd = 0; fd < w.nconns_cap; fd++)
        if (w.conns[fd].c)
            close_conn(&w, (int)fd);
    fflush(NULL);
    ipc__exit_child(code);
}

/* ---- supervisor -------------------------------------------------------------- */

static unsigned live_workers(const struct ipc_server *s)
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->nworkers; i++)
        n += s->slots[i].pid > 0;
    return n;
}

static int spawn_worker(struct ipc_server *s, unsigned idx)
{
    struct worker_slot *ws = &s->slots[idx];
    struct ipc_pipe p;
    int rc = ipc_pipe_open(&p, 0);
    if (rc < 0)
        return rc;
    fflush(stdout);
    fflush(s->log);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        rc = ipc__neg_errno();
        ipc_pipe_close(&p);
        return rc;
    }
    if (pid == 0) {
        /* The child is a copy of a single-threaded supervisor, so it may allocate;
         * it drops what only the supervisor uses. */
        close(p.rd);
        for (unsigned i = 0; i < IPC_SERVER_MAX_WORKERS; i++)
            ipc__close_invalidate(&s->slots[i].ctl_rd);
        ipc__close_invalidate(&s->epfd);
        int sfd = ipc_sigsrc_fd(s->sigsrc);
        if (sfd >= 0)
            close(sfd);
        worker_main(s, idx, p.wr, parent);
    }
    close(p.wr);
    IPC__IGNORE_RC(ipc_pipe_set_nonblock(p.rd, 1));
    ws->pid = pid;
    ws->ctl_rd = p.rd;
    ws->started_ns = ipc__now_ns();
    ws->restart_pending = 0;
    ipc_frame_dec_free(&ws->dec);
    IPC__IGNORE_RC(ipc_frame_dec_init(&ws->dec, 4096));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)idx + 1};
    (void)epoll_ctl(s->epfd, EPOLL_CTL_ADD, p.rd, &ev);
    slog(s, "worker %u started (pid %ld)", idx, (long)pid);
    return 0;
}

struct stats_round {
    int active;
    uint64_t id;
    uint64_t deadline;
    unsigned asked, answered;
    uint64_t sum[SRV_STATS_FIELDS];
};

static void stats_print(struct ipc_server *s, struct stats_round *r)
{
    /* Printed even with --quiet: the operator asked for it. */
    fprintf(s->log,
            "ipcstorm serve[%ld]: stats workers=%u/%u commands=%" PRIu64 " connections=%" PRIu64
            " clients=%" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64
            " protocol_errors=%" PRIu64 " clients_total=%ld table_recoveries=%" PRIu64
            " emfile_drops=%" PRIu64 " accept_pauses=%" PRIu64 "\n",
            (long)getpid(), r->answered, r->asked, r->sum[2], r->sum[3], r->sum[4], r->sum[5],
            r->sum[6], r->sum[7], atomic_load(&s->shared->clients), ipc_ctab_recoveries(s->table),
            r->sum[8], r->sum[9]);
    fflush(s->log);
    r->active = 0;
}

static void read_control(struct ipc_server *s, unsigned idx, struct stats_round *r)
{
    struct worker_slot *ws = &s->slots[idx];
    uint8_t buf[1024];
    for (;;) {
        if (ws->ctl_rd < 0)
            return;
        ssize_t n = read(ws->ctl_rd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || errno != EAGAIN) {
                (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, ws->ctl_rd, NULL);
                ipc__close_invalidate(&ws->ctl_rd);
            }
            return;
        }
        size_t off = 0;
        while (off < (size_t)n) {
            struct ipc_frame f;
            ssize_t k = ipc_frame_decode(&ws->dec, buf + off, (size_t)n - off, &f);
            if (k == IPC_ENEEDMORE)
                break;
            if (k < 0) {
                slog(s, "worker %u: bad control frame: %s", idx, ipc_strerror((int)k));
                (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, ws->ctl_rd, NULL);
                ipc__close_invalidate(&ws->ctl_rd);
                return;
            }
            off += (size_t)k;
            if (f.type == SRV_FRAME_STATS && f.len == SRV_STATS_FRAME_LEN && r->active &&
                !ws->stats_answered && ipc__load_be64(f.payload + 8 * SRV_STATS_FIELDS) == r->id) {
                ws->stats_answered = 1;
                for (int i = 0; i < SRV_STATS_FIELDS; i++)
                    r->sum[i] += ipc__load_be64(f.payload + 8 * i);
                if (++r->answered >= r->asked)
                    stats_print(s, r);
            }
        }
    }
}

static void describe_status(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exited with code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, size, "status 0x%x", (unsigned)status);
}

/* Why a worker slot needs a new process; schedule_restart turns it into a delay. */
enum restart_cause {
    RESTART_KILLED, /* ended from outside (SIGKILL, SIGTERM... or a clean exit): at once */
    RESTART_FAILED, /* crashed or exited with an error: backs off when it died young */
    RESTART_NO_FORK /* could not be forked (EAGAIN under RLIMIT_NPROC...): backs off */
};

/* The supervisor's state while ipc_server_run runs. */
struct supervisor {
    struct ipc_server *s;
    struct stats_round round;
    int stopping;
    int killed; /* stragglers were SIGKILLed */
    uint64_t stop_deadline;
    int started_any;             /* some worker was forked: startup is over */
    int watching;                /* the listeners are in the supervisor's epoll (no live worker) */
    uint64_t watch_paused_until; /* out of descriptors: stop accepting for a moment */
    int fatal;                   /* negative errno that ends the run */
};

/* Synchronous faults and resource limits are the worker's own doing: a crash that
 * may repeat. Any other signal (SIGKILL, SIGTERM, SIGQUIT...) was sent from outside,
 * and so is SIGTERM/SIGINT delivered to the worker itself (it then exits 0). */
static enum restart_cause death_cause(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status) == 0 ? RESTART_KILLED : RESTART_FAILED;
    if (!WIFSIGNALED(status))
        return RESTART_FAILED;
    switch (WTERMSIG(status)) {
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGABRT:
    case SIGSYS:
    case SIGTRAP:
    case SIGXCPU:
    case SIGXFSZ:
        return RESTART_FAILED;
    default:
        return RESTART_KILLED;
    }
}

/* The restart policy. A worker killed from outside, or one that failed after running
 * a while, is replaced at once; only a crash loop (failing within
 * SRV_CRASH_WINDOW_NS of its start) and fork failures double the delay, 100 ms up to
 * 5 s. Returns the delay in milliseconds. */
static unsigned schedule_restart(struct ipc_server *s, unsigned idx, enum restart_cause cause)
{
    struct worker_slot *ws = &s->slots[idx];
    uint64_t now = ipc__now_ns();
    int loop = cause == RESTART_NO_FORK ||
               (cause == RESTART_FAILED && now - ws->started_ns < SRV_CRASH_WINDOW_NS);
    if (!loop)
        ws->backoff_ms = 0;
    else if (!ws->backoff_ms)
        ws->backoff_ms = SRV_RESTART_MIN_MS;
    else if ((ws->backoff_ms *= 2) > SRV_RESTART_MAX_MS)
        ws->backoff_ms = SRV_RESTART_MAX_MS;
    ws->restart_pending = 1;
    ws->restart_at_ns = now + (uint64_t)ws->backoff_ms * 1000000ull;
    return ws->backoff_ms;
}

/* Startup gives up once every slot failed SRV_START_TRIES forks in a row. */
static int startup_hopeless(const struct supervisor *sup)
{
    if (sup->started_any)
        return 0;
    for (unsigned i = 0; i < sup->s->nworkers; i++)
        if (sup->s->slots[i].spawn_fails < SRV_START_TRIES)
            return 0;
    return 1;
}

/* Forks the worker of slot idx, or schedules another try. */
static void sup_spawn(struct supervisor *sup, unsigned idx)
{
    struct ipc_server *s = sup->s;
    int rc = spawn_worker(s, idx);
    if (rc == 0) {
        s->slots[idx].spawn_fails = 0;
        sup->started_any = 1;
        return;
    }
    s->slots[idx].spawn_fails++;
    if (startup_hopeless(sup)) {
        /* An error, printed even with --quiet. */
        fprintf(s->log, "ipcstorm serve[%ld]: cannot start any worker (%u tries): %s\n",
                (long)getpid(), SRV_START_TRIES, ipc_strerror(rc));
        fflush(s->log);
        sup->fatal = rc;
        return;
    }
    unsigned ms = schedule_restart(s, idx, RESTART_NO_FORK);
    slog(s, "cannot start worker %u: %s; trying again in %u ms", idx, ipc_strerror(rc), ms);
}

static void sup_start_workers(struct supervisor *sup)
{
    for (unsigned i = 0; i < sup->s->nworkers; i++)
        sup_spawn(sup, i);
}

/* Forks the replacements that are due; lowers *next to the earliest pending one. */
static void sup_restart_due(struct supervisor *sup, uint64_t now, uint64_t *next)
{
    struct ipc_server *s = sup->s;
    for (unsigned i = 0; i < s->nworkers && !sup->fatal; i++) {
        struct worker_slot *ws = &s->slots[i];
        if (ws->pid || !ws->restart_pending)
            continue;
        if (ws->restart_at_ns <= now)
            sup_spawn(sup, i);
        if (!ws->pid && ws->restart_pending && ws->restart_at_ns < *next)
            *next = ws->restart_at_ns;
    }
}

static void sup_reap(struct supervisor *sup)
{
    struct ipc_server *s = sup->s;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        unsigned idx = s->nworkers;
        for (unsigned i = 0; i < s->nworkers; i++)
            if (s->slots[i].pid == pid)
                idx = i;
        if (idx == s->nworkers)
            continue; /* not ours (e.g. inherited); reaped all the same */
        struct worker_slot *ws = &s->slots[idx];
        /* Its clients are gone with it: give their share of max-clients back. */
        long gone = atomic_exchange(&s->shared->worker_clients[idx], 0);
        atomic_fetch_sub(&s->shared->clients, gone);
        read_control(s, idx, &sup->round);
        if (ws->ctl_rd >= 0) {
            (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, ws->ctl_rd, NULL);
            ipc__close_invalidate(&ws->ctl_rd);
        }
        ws->pid = 0;
        if (sup->round.active && !ws->stats_answered && sup->round.asked > 0)
            sup->round.asked--;
        char what[96];
        describe_status(status, what, sizeof(what));
        if (sup->stopping) {
            slog(s, "worker %u (pid %ld) %s", idx, (long)pid, what);
            continue;
        }
        unsigned ms = schedule_restart(s, idx, death_cause(status));
        slog(s, "worker %u (pid %ld) %s; replacing it in %u ms", idx, (long)pid, what, ms);
    }
}

/* While no worker is alive, the supervisor itself watches the stream listeners and
 * turns clients away at once, instead of leaving them queued until a replacement
 * (maybe seconds away, maybe never) accepts them. */
static void sup_watch_listeners(struct supervisor *sup, uint64_t now, uint64_t *next)
{
    struct ipc_server *s = sup->s;
    int want = !sup->stopping && live_workers(s) == 0;
    if (want && now < sup->watch_paused_until) {
        want = 0;
        if (sup->watch_paused_until < *next)
            *next = sup->watch_paused_until;
    }
    if (want == sup->watching)
        return;
    int fds[2] = {s->tcp_fd, s->unix_fd};
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 0)
            continue;
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = SRV_TAG_LISTENER | (uint64_t)fds[i]};
        (void)epoll_ctl(s->epfd, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fds[i], &ev);
    }
    sup->watching = want;
}

static void sup_turn_away(struct supervisor *sup, int lfd)
{
    if (!sup->watching || live_workers(sup->s) > 0)
        return;
    for (int i = 0; i < SRV_ACCEPT_BATCH; i++) {
        int fd = ipc_sock_accept(lfd, IPC_SOCK_NONBLOCK, NULL);
        if (fd == -ECONNABORTED || fd == -EPROTO)
            continue;
        if (fd == -EAGAIN)
            return;
        if (fd < 0) {
            /* Out of descriptors (or memory): the listener stays readable, so leave
             * the client queued for 100 ms rather than spin. */
            sup->watch_paused_until = ipc__now_ns() + 100000000ull;
            return;
        }
        IPC__IGNORE_RC(ipc_sock_send(fd, no_worker_reply, sizeof(no_worker_reply) - 1));
        drain_and_close(fd);
    }
}

static void sup_begin_stop(struct supervisor *sup, int signo)
{
    struct ipc_server *s = sup->s;
    if (sup->stopping)
        return;
    sup->stopping = 1;
    sup->stop_deadline = ipc__now_ns() + SRV_STOP_GRACE_NS;
    slog(s, "%s received: stopping %u workers", signo == SIGTERM ? "SIGTERM" : "SIGINT",
         live_workers(s));
    /* The workers keep copies of the listeners: take them out of our epoll first. */
    uint64_t none = UINT64_MAX;
    sup_watch_listeners(sup, 0, &none);
    /* New connections now get ECONNREFUSED instead of waiting in a queue nobody will
     * serve once the workers close their copies. */
    ipc__close_invalidate(&s->tcp_fd);
    ipc__close_invalidate(&s->udp_fd);
    ipc__close_invalidate(&s->unix_fd);
    for (unsigned w = 0; w < s->nworkers; w++) {
        s->slots[w].restart_pending = 0;
        if (s->slots[w].pid > 0)
            IPC__IGNORE_RC(ipc_sig_send(s->slots[w].pid, SIGTERM));
    }
}

/* Returns 1 once every worker is gone; SIGKILLs stragglers after the grace period. */
static int sup_stop_escalate(struct supervisor *sup, uint64_t now, uint64_t *next)
{
    struct ipc_server *s = sup->s;
    if (live_workers(s) == 0)
        return 1;
    if (sup->killed)
        return 0;
    if (now < sup->stop_deadline) {
        if (sup->stop_deadline < *next)
            *next = sup->stop_deadline;
        return 0;
    }
    for (unsigned i = 0; i < s->nworkers; i++)
        if (s->slots[i].pid > 0)
            IPC__IGNORE_RC(ipc_sig_send(s->slots[i].pid, SIGKILL));
    sup->killed = 1;
    slog(s, "workers did not stop in time: killed");
    return 0;
}

static void sup_stats_begin(struct supervisor *sup)
{
    struct stats_round *r = &sup->round;
    if (r->active || sup->stopping)
        return;
    uint64_t id = r->id + 1;
    memset(r, 0, sizeof(*r));
    r->active = 1;
    r->id = id;
    atomic_store(&sup->s->shared->stats_round, id);
    r->deadline = ipc__now_ns() + SRV_STATS_WAIT_NS;
    for (unsigned w = 0; w < sup->s->nworkers; w++) {
        sup->s->slots[w].stats_answered = 0;
        if (sup->s->slots[w].pid > 0 && ipc_sig_send(sup->s->slots[w].pid, SIGUSR1) == 0)
            r->asked++;
    }
}

/* Prints a statistics round once complete or overdue. */
static void sup_stats_tick(struct supervisor *sup, uint64_t now, uint64_t *next)
{
    struct stats_round *r = &sup->round;
    if (!r->active)
        return;
    if (now >= r->deadline || r->answered >= r->asked)
        stats_print(sup->s, r);
    else if (r->deadline < *next)
        *next = r->deadline;
}

static void sup_handle_signals(struct supervisor *sup)
{
    struct ipc_sig_info si;
    while (ipc_sigsrc_read(sup->s->sigsrc, &si) == 1) {
        if (si.signo == SIGCHLD)
            sup_reap(sup);
        else if (si.signo == SIGTERM || si.signo == SIGINT)
            sup_begin_stop(sup, si.signo);
        else if (si.signo == SIGUSR1)
            sup_stats_begin(sup);
        /* SIGHUP: nothing to reload */
    }
}

/* Waits for events until next (UINT64_MAX: no deadline) and dispatches them. */
static void sup_poll(struct supervisor *sup, uint64_t now, uint64_t next)
{
    struct ipc_server *s = sup->s;
    int timeout = -1;
    if (next != UINT64_MAX)
        timeout = next <= now ? 0 : (int)((next - now) / 1000000u) + 1;
    struct epoll_event evs[32];
    int n = epoll_wait(s->epfd, evs, (int)IPC__ARRAY_SIZE(evs), timeout);
    if (n < 0 && errno != EINTR) {
        sup->fatal = ipc__neg_errno();
        slog(s, "epoll_wait: %s", ipc_strerror(sup->fatal));
    }
    for (int i = 0; i < n; i++) {
        uint64_t tag = evs[i].data.u64;
        if (tag == SRV_TAG_SIGNALS)
            sup_handle_signals(sup);
        else if (tag & SRV_TAG_LISTENER)
            sup_turn_away(sup, (int)(tag & ~SRV_TAG_LISTENER));
        else if (tag - 1 < s->nworkers)
            read_control(s, (unsigned)(tag - 1), &sup->round);
    }
}

static int sup_init(struct ipc_server *s)
{
    sigset_t set;
    int rc = ipc_sig_mkset(&set, SIGCHLD, SIGTERM, SIGINT, SIGUSR1, SIGHUP, 0);
    if (rc < 0)
        return rc;
    rc = ipc_sigsrc_new(&s->sigsrc, &set, 0);
    if (rc < 0)
        return rc;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0)
        return ipc__neg_errno();
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SRV_TAG_SIGNALS};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, ipc_sigsrc_fd(s->sigsrc), &ev) < 0)
        return ipc__neg_errno();
    return 0;
}

/* The main loop, one named phase per step: restarts (or, once stopping, the stop
 * deadline), statistics, the listeners while no worker runs, then events. */
int ipc_server_run(ipc_server *s)
{
    if (!s || s->ran || getpid() != s->creator)
        return -EINVAL;
    s->ran = 1;
    int rc = sup_init(s);
    if (rc < 0)
        return rc;
    struct supervisor sup = {.s = s};
    sup_start_workers(&sup);
    while (!sup.fatal) {
        uint64_t now = ipc__now_ns(), next = UINT64_MAX;
        if (!sup.stopping)
            sup_restart_due(&sup, now, &next);
        else if (sup_stop_escalate(&sup, now, &next))
            break;
        if (sup.fatal)
            break;
        sup_stats_tick(&sup, now, &next);
        sup_watch_listeners(&sup, now, &next);
        sup_poll(&sup, now, next);
    }
    if (s->unix_fd < 0 && s->unix_addr.family == AF_UNIX)
        IPC__IGNORE_RC(ipc_sock_unlink(&s->unix_addr));
    if (sup.fatal)
        return sup.fatal;
    slog(s, "stopped");
    return 0;
}
