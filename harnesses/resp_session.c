/* resp_session - fuzz target for one server connection, with independent models as
 * byte-for-byte oracles.
 *
 * Targets: every public function of ipcsrv/conn.h - ipc_conn_new, ipc_conn_pump,
 * ipc_conn_serve_fd, ipc_conn_feed, ipc_conn_run, ipc_conn_eof, ipc_conn_output,
 * ipc_conn_consume_output, ipc_conn_execute, ipc_conn_state, ipc_conn_memory,
 * ipc_conn_free - and through them the request parser, every command of
 * docs/design.md section 4, the reply writer and output backpressure; and
 * ipcsrv/ctab.h: ipc_ctab_new, ipc_ctab_get, ipc_ctab_incrby, ipc_ctab_del,
 * ipc_ctab_count, ipc_ctab_capacity, ipc_ctab_free.
 *
 * Input: a fault schedule (fuzz_util.h: byte 0 = step count K, then K 4-byte
 * steps; 0x00 = none), then: byte 0 = config, byte 1 = seed of the I/O schedule,
 * [6 limit bytes when the profile is 3], then the bytes the client sends.
 *   config bits 0-1: limits profile: 0 defaults, 1 small, 2 tiny (as resp_parse),
 *                    3 from the input: the next 6 bytes give max_multibulk,
 *                    max_bulk, max_inline (each & 63; 0 = the default), max_request
 *                    (what one argument needs, max(max_bulk + 64, max_inline + 2),
 *                    plus byte & 63), out_high_water (byte & 63, 0 = 1) and the
 *                    table capacity (1 + (byte & 7));
 *   config bits 2-3: how the connection is driven: 0 ipc_conn_pump over a
 *                    non-blocking socketpair (the client sends, shuts down its
 *                    write side and reads in schedule sized pieces, in one thread);
 *                    1 by bytes: ipc_conn_feed in schedule sized pieces,
 *                    ipc_conn_output + ipc_conn_consume_output in schedule sized
 *                    pieces, ipc_conn_run, then ipc_conn_eof; 2 ipc_conn_execute
 *                    of each command the request model finds (no protocol errors
 *                    then: that path has no parser); 3 ipc_conn_serve_fd on a
 *                    blocking socket, with the whole input sent and the write side
 *                    shut down first and a thread reading the replies;
 *   config bits 4-7: largest send/recv/feed/drain size 2^n (each at least
 *                    size/64 + 1, so an input takes about 64 rounds at most).
 *
 * Oracle: the request model (model_resp.h) splits the input into commands as the
 * connection must - at most max_request bytes of a pending request are looked at:
 * when they are still not a whole request, the reply is "-ERR Protocol error: too
 * big request" and the connection closes - and the command model (model_cmd.h),
 * with its own counter table of the same capacity, produces the exact bytes of
 * every reply. Invariants (abort on violation):
 *  - the connection's whole reply stream equals the model's, byte for byte, except
 *    INFO replies, which are compared for shape (a valid bulk string): their body
 *    holds changing numbers (uptime, counters);
 *  - after QUIT, a protocol error or a too big request nothing more is answered
 *    and the connection ends DONE (the client sees EOF); an incomplete request at
 *    EOF is dropped without a reply;
 *  - once per process: a client that closes before reading its reply ends the
 *    pump DONE (a broken pipe is the peer leaving), not with -EPIPE;
 *  - the connection always makes progress; its memory stays within the bounds
 *    ipcsrv/conn.h documents; both socket ends are closed and nothing leaks;
 *  - afterwards the library's table holds exactly the model's keys:
 *    ipc_ctab_count, ipc_ctab_capacity and ipc_ctab_get of every model key agree,
 *    then ipc_ctab_incrby (with an overflowing delta for some keys), ipc_ctab_del
 *    (1 then 0) and the E2BIG/ENOENT paths are checked against the model's
 *    arithmetic, leaving the table empty;
 *  - under the fault schedule (armed while the connection runs; the seam calls are
 *    the parser's and the reply writer's reallocs, since conn.c does its own I/O):
 *    the connection still ends DONE and frees everything; an out-of-memory drops
 *    the client rather than answer wrongly, so when a fault was injected the reply
 *    stream is a prefix of the model's (the last reply may be cut short) and the
 *    table check is skipped (the command whose reply was lost may or may not have
 *    run); when none was injected, exactly as above.
 */
// libfuzzer-options: max_len=4096
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "model_cmd.h"
#include "model_resp.h"
#include "resp_validate.h"
#include "ipcsrv/conn.h"
#include "ipc/resp.h"
#include "ipcsrv/ctab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ipc_resp_limits profiles[3] = {
    {0, 0, 0},
    {64, 512, 1024},
    {8, 16, 32},
};
static const size_t high_water[3] = {0, 4096, 64};
#define PROFILE_FROM_INPUT 3
#define PROFILE_CAPACITY   64 /* table capacity of profiles 0-2 */
#define LIMIT_MASK         63

enum { DRIVE_PUMP, DRIVE_BYTES, DRIVE_EXECUTE, DRIVE_SERVE_FD };

/* Everything one input is run with. */
struct setup {
    struct ipc_conn_limits lim; /* as given to the connection (0 = default) */
    size_t max_request;         /* effective */
    size_t capacity;
    int drive;
    size_t max_io;
};

/* The model's expectation (static: large). */
static struct mcmd_table model_table;
static struct mcmd_replies want;
static struct mresp_result req;

/* What the connection answered. */
struct received {
    char *buf;
    size_t len, cap;
};

FUZZ_NOCOV static void got(struct received *rc, const void *p, size_t n)
{
    if (rc->len + n > rc->cap) {
        size_t cap = rc->cap ? rc->cap * 2 : 4096;
        while (cap < rc->len + n)
            cap *= 2;
        char *nb = realloc(rc->buf, cap);
        FUZZ_CHECK(nb != NULL);
        rc->buf = nb;
        rc->cap = cap;
    }
    memcpy(rc->buf + rc->len, p, n);
    rc->len += n;
}

FUZZ_NOCOV static size_t eff(size_t v, size_t def)
{
    return v ? v : def;
}

/* The request model's next non-empty command at *at (moved past it), into argv:
 * its argc, or 0 when the model reads no whole command there (req says why). The
 * model sees at most max_request bytes at a time, as the connection buffers. */
FUZZ_NOCOV static size_t model_next(const struct setup *su, const char *s, size_t n, size_t *at,
                                    struct mcmd_arg *argv)
{
    const struct mresp_limits ml = {su->lim.max_multibulk, su->lim.max_bulk, su->lim.max_inline};
    for (;;) {
        size_t window = n - *at < su->max_request ? n - *at : su->max_request;
        mresp_parse(&ml, s + *at, window, &req);
        if (req.kind != MRESP_COMMAND)
            return 0;
        *at += req.end;
        if (req.argc == 0)
            continue;
        for (size_t i = 0; i < req.argc; i++) {
            argv[i].ptr = mresp_arg_ptr(&req, i);
            argv[i].len = req.argv[i].len;
        }
        return req.argc;
    }
}

/* Runs the two models over the input: fills want (and model_table) with what the
 * connection must answer. for_execute: the commands only (DRIVE_EXECUTE). */
FUZZ_NOCOV static void expect(const struct setup *su, const char *s, size_t n, int for_execute)
{
    mcmd_table_init(&model_table, su->capacity);
    mcmd_reset(&want);
    static struct mcmd_arg argv[MRESP_MAX_ARGS];
    size_t at = 0, argc;
    while ((argc = model_next(su, s, n, &at, argv)) > 0)
        if (mcmd_execute(&model_table, &want, argc, argv))
            return; /* QUIT */
    if (for_execute)
        return;
    if (req.kind == MRESP_ERROR) {
        mcmd_error_str(&want, req.text);
        mcmd_end_reply(&want, 0);
    } else if (n - at >= su->max_request) {
        /* max_request bytes and still no whole request: it can only be longer */
        mcmd_error_str(&want, "ERR Protocol error: too big request");
        mcmd_end_reply(&want, 0);
    }
    /* else: an incomplete request at EOF is dropped */
}

/* Compares what the connection sent with the model's replies: equal, or with
 * prefix_ok a prefix of them (the last reply possibly cut short). */
FUZZ_NOCOV static void compare(const struct received *rc, int prefix_ok)
{
    size_t at = 0;
    for (size_t i = 0; i < want.n; i++) {
        if (at == rc->len) {
            if (!prefix_ok)
                fprintf(stderr, "resp_session: got %zu of the model's %zu replies; next: %.*s\n", i,
                        want.n, (int)(want.start[i + 1] - want.start[i]), want.buf + want.start[i]);
            FUZZ_CHECK(prefix_ok);
            return;
        }
        const char *w = want.buf + want.start[i];
        size_t wl = want.start[i + 1] - want.start[i];
        if (want.is_info[i]) {
            /* shape only: a bulk string (its body holds changing numbers) */
            FUZZ_CHECK(rc->buf[at] == '$');
            size_t r = reply_one(rc->buf + at, rc->len - at, 0);
            if (r == 0) {
                FUZZ_CHECK(prefix_ok);
                return;
            }
            at += r;
            continue;
        }
        size_t k = rc->len - at < wl ? rc->len - at : wl;
        if (memcmp(rc->buf + at, w, k) != 0) {
            fprintf(stderr, "resp_session: reply %zu differs\n  want: %.*s\n  got:  %.*s\n", i,
                    (int)(wl < 300 ? wl : 300), w, (int)(k < 300 ? k : 300), rc->buf + at);
            FUZZ_CHECK(!"reply differs from the model's");
        }
        if (k < wl) {
            FUZZ_CHECK(prefix_ok);
            return;
        }
        at += wl;
    }
    if (at != rc->len)
        fprintf(stderr, "resp_session: %zu bytes after the model's %zu replies: %.*s\n",
                rc->len - at, want.n, (int)(rc->len - at < 300 ? rc->len - at : 300), rc->buf + at);
    FUZZ_CHECK(at == rc->len); /* nothing more than the model's replies */
}

/* The library's table against the model's: same keys and values, then the same
 * arithmetic through the direct API. Empties the table. */
FUZZ_NOCOV static void check_table(ipc_ctab *tab, uint8_t seed)
{
    FUZZ_CHECK(ipc_ctab_capacity(tab) == model_table.capacity);
    if (ipc_ctab_count(tab) != (long)model_table.count)
        fprintf(stderr, "resp_session: table has %ld keys, the model %zu\n", ipc_ctab_count(tab),
                model_table.count);
    FUZZ_CHECK(ipc_ctab_count(tab) == (long)model_table.count);
    for (size_t i = 0; i < model_table.count; i++) {
        struct mcmd_entry *e = &model_table.e[i];
        int64_t v = 0;
        FUZZ_CHECK(ipc_ctab_get(tab, e->key, e->len, &v) == 0);
        FUZZ_CHECK(v == e->value);
        /* INT64_MAX for every other key: overflows unless the value is <= 0 */
        int64_t delta = ((i + seed) & 1) ? INT64_MAX : -(int64_t)(seed + i);
        int64_t r = 0;
        int rc = ipc_ctab_incrby(tab, e->key, e->len, delta, &r);
        if ((delta > 0 && e->value > INT64_MAX - delta) ||
            (delta < 0 && e->value < INT64_MIN - delta)) {
            FUZZ_CHECK(rc == -EOVERFLOW);
            FUZZ_CHECK(ipc_ctab_get(tab, e->key, e->len, &v) == 0 && v == e->value);
        } else {
            FUZZ_CHECK(rc == 0 && r == e->value + delta);
        }
    }
    char long_key[IPC_CTAB_KEY_MAX + 1];
    memset(long_key, 'k', sizeof(long_key));
    int64_t v;
    FUZZ_CHECK(ipc_ctab_get(tab, long_key, sizeof(long_key), &v) == -E2BIG);
    FUZZ_CHECK(ipc_ctab_incrby(tab, long_key, sizeof(long_key), 1, NULL) == -E2BIG);
    FUZZ_CHECK(ipc_ctab_del(tab, long_key, sizeof(long_key)) == -E2BIG);
    for (size_t i = 0; i < model_table.count; i++) {
        struct mcmd_entry *e = &model_table.e[i];
        FUZZ_CHECK(ipc_ctab_del(tab, e->key, e->len) == 1);
        FUZZ_CHECK(ipc_ctab_del(tab, e->key, e->len) == 0);
        FUZZ_CHECK(ipc_ctab_get(tab, e->key, e->len, &v) == -ENOENT);
        FUZZ_CHECK(ipc_ctab_count(tab) == (long)(model_table.count - i - 1));
    }
}

/* ---- the four ways to drive a connection ---- */

FUZZ_NOCOV static size_t io_size(struct fuzz_rng *rng, size_t max_io, size_t floor, size_t left)
{
    size_t w = fuzz_rng_size(rng, max_io);
    if (w < floor)
        w = floor;
    return w < left ? w : left;
}

/* ipc_conn_pump over a non-blocking socketpair, client and server in one thread. */
FUZZ_NOCOV static void drive_pump(ipc_conn *conn, const struct setup *su, struct fuzz_rng *rng,
                                  const char *s, size_t n, struct received *rc, size_t mem_bound)
{
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    int cfd = sv[0], sfd = sv[1];
    /* At most about 64 sends and reads of the input's size per input: byte-at-a-time
     * I/O of a 4 KiB input was some 12,000 syscalls per execution. */
    size_t floor = n / 64 + 1;
    static char rbuf[1 << 16];
    size_t sent = 0;
    int shut = 0, eof = 0, idle = 0, last_state = -1, server_done = 0;
    while (!eof) {
        int progress = 0;
        if (sent < n && !server_done) {
            size_t w = io_size(rng, su->max_io, floor, n - sent);
            ssize_t r = send(cfd, s + sent, w, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r > 0) {
                sent += (size_t)r;
                progress = 1;
            } else {
                FUZZ_CHECK(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
            }
        } else if (!shut) {
            FUZZ_CHECK(shutdown(cfd, SHUT_WR) == 0);
            shut = 1;
            progress = 1;
        }
        if (!server_done) {
            int st = ipc_conn_pump(conn, sfd);
            FUZZ_CHECK(st >= 0);
            FUZZ_CHECK(ipc_conn_memory(conn) <= mem_bound);
            if (st != last_state)
                progress = 1;
            last_state = st;
            if (st & IPC_CONN_DONE) {
                /* shutdown, not close: closing an AF_UNIX socket with unread input
                 * resets the peer, which could lose replies still queued for it */
                FUZZ_CHECK(shutdown(sfd, SHUT_WR) == 0);
                server_done = 1;
                progress = 1;
            }
        }
        size_t want_r = io_size(rng, su->max_io, floor, sizeof(rbuf));
        ssize_t r = recv(cfd, rbuf, want_r, MSG_DONTWAIT);
        if (r > 0) {
            got(rc, rbuf, (size_t)r);
            progress = 1;
        } else if (r == 0) {
            FUZZ_CHECK(server_done); /* EOF only after the server side closed */
            eof = 1;
        } else {
            FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
        }
        idle = progress ? 0 : idle + 1;
        FUZZ_CHECK(idle < 1000);
    }
    close(cfd);
    close(sfd);
}

/* Takes up to k bytes of the connection's output; returns the new state. */
FUZZ_NOCOV static int drain(ipc_conn *conn, size_t k, struct received *rc)
{
    const void *p = NULL;
    size_t len = 0;
    size_t r = ipc_conn_output(conn, &p, &len);
    FUZZ_CHECK(r == len);
    if (len == 0)
        return ipc_conn_state(conn);
    int st = ipc_conn_state(conn);
    /* DONE means close now: a connection dropped for lack of memory is DONE with
     * its stale output still there (conn.c's "failed"), which must not be sent */
    if (st & IPC_CONN_DONE)
        return st;
    FUZZ_CHECK(p != NULL && (st & IPC_CONN_WANT_WRITE));
    size_t take = k < len ? k : len;
    got(rc, p, take);
    return ipc_conn_consume_output(conn, take);
}

/* By bytes: feed, drain, run, eof - no socket. */
FUZZ_NOCOV static void drive_bytes(ipc_conn *conn, const struct setup *su, struct fuzz_rng *rng,
                                   const char *s, size_t n, struct received *rc, size_t mem_bound,
                                   const struct fuzz_faults *ff)
{
    size_t floor = n / 64 + 1;
    size_t fed = 0;
    int eof_sent = 0, idle = 0;
    FUZZ_CHECK(ipc_conn_feed(conn, NULL, 1) == -EINVAL);
    FUZZ_CHECK(ipc_conn_feed(NULL, s, 0) == -EINVAL);
    for (;;) {
        int st = ipc_conn_state(conn);
        if (st & IPC_CONN_DONE)
            break;
        int progress = 0;
        if (fed < n && !(st & IPC_CONN_CLOSING)) {
            size_t w = io_size(rng, su->max_io, floor, n - fed);
            long a = ipc_conn_feed(conn, s + fed, w);
            FUZZ_CHECK(a >= 0 && (size_t)a <= w);
            fed += (size_t)a;
            progress |= a > 0;
        } else if (!eof_sent) {
            ipc_conn_eof(conn);
            /* ipcsrv/conn.h says the state "becomes CLOSING"; while buffered
             * requests still wait for the output to drain it is only WANT_WRITE
             * (reported): no more input is welcome either way */
            FUZZ_CHECK(!(ipc_conn_state(conn) & IPC_CONN_WANT_READ));
            eof_sent = 1;
            progress = 1;
        }
        FUZZ_CHECK(ipc_conn_memory(conn) <= mem_bound);
        size_t before = rc->len;
        st = drain(conn, io_size(rng, su->max_io, floor, SIZE_MAX), rc);
        progress |= rc->len != before;
        if (fuzz_rng_next(rng) & 1) {
            int st2 = ipc_conn_run(conn);
            FUZZ_CHECK(st2 >= 0);
        }
        idle = progress ? 0 : idle + 1;
        FUZZ_CHECK(idle < 1000);
    }
    /* DONE: flushed (unless dropped for lack of memory), no more input taken */
    const void *p;
    size_t len;
    FUZZ_CHECK(fuzz_faults_injected(ff) || (ipc_conn_output(conn, &p, &len) == 0 && len == 0));
    FUZZ_CHECK(ipc_conn_feed(conn, "PING\r\n", 6) == 0);
}

/* ipc_conn_execute of the model's commands, draining after each. */
FUZZ_NOCOV static void drive_execute(ipc_conn *conn, const struct setup *su, const char *s,
                                     size_t n, struct received *rc, struct fuzz_faults *ff)
{
    static struct mcmd_arg margv[MRESP_MAX_ARGS];
    static struct ipc_resp_arg argv[MRESP_MAX_ARGS];
    FUZZ_CHECK(ipc_conn_execute(conn, 0, argv) == -EINVAL);
    FUZZ_CHECK(ipc_conn_execute(conn, 1, NULL) == -EINVAL);
    size_t at = 0, argc;
    while ((argc = model_next(su, s, n, &at, margv)) > 0) {
        for (size_t i = 0; i < argc; i++)
            argv[i] = (struct ipc_resp_arg){margv[i].ptr, margv[i].len};
        uint64_t before = fuzz_faults_injected(ff);
        int r = ipc_conn_execute(conn, (int)argc, argv);
        if (r == -ENOMEM) {
            FUZZ_CHECK(fuzz_faults_injected(ff) != before);
            break;
        }
        FUZZ_CHECK(r == 0 || r == 1);
        while (drain(conn, SIZE_MAX, rc) & IPC_CONN_WANT_WRITE)
            ;
        if (r == 1) {
            FUZZ_CHECK(mcmd_is(&margv[0], "quit"));
            FUZZ_CHECK(ipc_conn_state(conn) & IPC_CONN_DONE);
            break;
        }
    }
}

/* The reader of DRIVE_SERVE_FD's replies: one thread for the whole process, handed
 * one socket per input (a thread created and joined per input - clone, a stack
 * mapped and unmapped - cost more than the rest of such an input). It reads until
 * EOF, then reports the job done; the mutex orders its writes to the received
 * bytes before the main thread looks at them. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started;
    int busy; /* a job is handed out and not finished */
    int fd;
    struct received *rc;
} reader = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, -1, NULL};

FUZZ_NOCOV static void *reader_main(void *arg)
{
    (void)arg;
    static char rbuf[1 << 16];
    for (;;) {
        FUZZ_CHECK(pthread_mutex_lock(&reader.mu) == 0);
        while (!reader.busy)
            FUZZ_CHECK(pthread_cond_wait(&reader.cv, &reader.mu) == 0);
        int fd = reader.fd;
        struct received *rc = reader.rc;
        FUZZ_CHECK(pthread_mutex_unlock(&reader.mu) == 0);
        for (;;) {
            ssize_t r = recv(fd, rbuf, sizeof(rbuf), 0);
            if (r > 0)
                got(rc, rbuf, (size_t)r);
            else if (r == 0)
                break;
            else
                FUZZ_CHECK(errno == EINTR);
        }
        FUZZ_CHECK(pthread_mutex_lock(&reader.mu) == 0);
        reader.busy = 0;
        FUZZ_CHECK(pthread_cond_broadcast(&reader.cv) == 0);
        FUZZ_CHECK(pthread_mutex_unlock(&reader.mu) == 0);
    }
    return NULL;
}

/* Hands fd to the reader thread (started on first use). */
FUZZ_NOCOV static void reader_start(int fd, struct received *rc)
{
    FUZZ_CHECK(pthread_mutex_lock(&reader.mu) == 0);
    if (!reader.started) {
        pthread_t th;
        FUZZ_CHECK(pthread_create(&th, NULL, reader_main, NULL) == 0);
        FUZZ_CHECK(pthread_detach(th) == 0);
        reader.started = 1;
    }
    FUZZ_CHECK(!reader.busy);
    reader.fd = fd;
    reader.rc = rc;
    reader.busy = 1;
    FUZZ_CHECK(pthread_cond_broadcast(&reader.cv) == 0);
    FUZZ_CHECK(pthread_mutex_unlock(&reader.mu) == 0);
}

/* Waits until the reader has read fd to its EOF. */
FUZZ_NOCOV static void reader_wait(void)
{
    FUZZ_CHECK(pthread_mutex_lock(&reader.mu) == 0);
    while (reader.busy)
        FUZZ_CHECK(pthread_cond_wait(&reader.cv, &reader.mu) == 0);
    reader.rc = NULL;
    reader.fd = -1;
    FUZZ_CHECK(pthread_mutex_unlock(&reader.mu) == 0);
}

/* ipc_conn_serve_fd on a blocking socket: the whole input is already sent (it fits
 * the socket buffer: inputs are at most a few KiB), a thread reads the replies. */
FUZZ_NOCOV static void drive_serve_fd(struct ipc_conn_env *env, const char *s, size_t n,
                                      struct received *rc, struct fuzz_faults *ff)
{
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    int cfd = sv[0], sfd = sv[1];
    FUZZ_CHECK(n == 0 || send(cfd, s, n, MSG_NOSIGNAL) == (ssize_t)n);
    FUZZ_CHECK(shutdown(cfd, SHUT_WR) == 0);
    reader_start(cfd, rc);
    uint64_t before = fuzz_faults_injected(ff);
    int r = ipc_conn_serve_fd(env, sfd);
    FUZZ_CHECK(r == 0 || (r == -ENOMEM && fuzz_faults_injected(ff) != before));
    FUZZ_CHECK(shutdown(sfd, SHUT_WR) == 0);
    reader_wait();
    close(cfd);
    close(sfd);
}

/* Reads the config (and, for profile 3, the limit bytes). Returns the bytes used,
 * or 0 if the input is too short. */
FUZZ_NOCOV static size_t read_setup(const uint8_t *d, size_t size, struct setup *su)
{
    if (size < 2)
        return 0;
    memset(su, 0, sizeof(*su));
    int profile = d[0] & 3;
    su->drive = (d[0] >> 2) & 3;
    su->max_io = (size_t)1 << (d[0] >> 4);
    size_t used = 2;
    if (profile == PROFILE_FROM_INPUT) {
        if (size < 8)
            return 0;
        const uint8_t *b = d + 2;
        su->lim.max_multibulk = b[0] & LIMIT_MASK;
        su->lim.max_bulk = b[1] & LIMIT_MASK;
        su->lim.max_inline = b[2] & LIMIT_MASK;
        size_t bulk = eff(su->lim.max_bulk, IPC_RESP_DEFAULT_MAX_BULK);
        size_t inl = eff(su->lim.max_inline, IPC_RESP_DEFAULT_MAX_INLINE);
        /* the least ipc_conn_new accepts (ipcsrv/conn.h: one max_bulk argument) */
        size_t need = bulk + 64 > inl + 2 ? bulk + 64 : inl + 2;
        su->lim.max_request = need + (b[3] & LIMIT_MASK);
        su->lim.out_high_water = eff(b[4] & LIMIT_MASK, 1);
        su->capacity = 1 + (b[5] & 7);
        used += 6;
    } else {
        su->lim.max_multibulk = profiles[profile].max_multibulk;
        su->lim.max_bulk = profiles[profile].max_bulk;
        su->lim.max_inline = profiles[profile].max_inline;
        su->lim.out_high_water = high_water[profile];
        su->capacity = PROFILE_CAPACITY;
    }
    size_t bulk = eff(su->lim.max_bulk, IPC_RESP_DEFAULT_MAX_BULK);
    su->max_request = eff(su->lim.max_request, 2 * bulk + 65536);
    return used;
}

/* A client that leaves before its reply: the send's EPIPE ends the connection as
 * DONE (ipcsrv/conn.h: a reset or broken pipe is the peer going away), never as a
 * negative errno. Once per process: the inputs cannot express a closed peer. */
FUZZ_NOCOV static void check_peer_gone(void)
{
    static int done;
    if (done++)
        return;
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    FUZZ_CHECK(send(sv[0], "PING\r\n", 6, MSG_NOSIGNAL) == 6);
    close(sv[0]);
    ipc_ctab *tab = NULL;
    FUZZ_CHECK(ipc_ctab_new(&tab, 8) == 0);
    struct ipc_conn_env env;
    memset(&env, 0, sizeof(env));
    env.table = tab;
    ipc_conn *conn = NULL;
    FUZZ_CHECK(ipc_conn_new(&conn, &env) == 0);
    int st = ipc_conn_pump(conn, sv[1]);
    FUZZ_CHECK(st >= 0 && (st & IPC_CONN_DONE));
    ipc_conn_free(conn);
    ipc_ctab_free(tab);
    close(sv[1]);
}

FUZZ_NOCOV int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_peer_gone();
    struct fuzz_faults ff;
    size_t skip = fuzz_faults_parse(&ff, data, size);
    data += skip;
    size -= skip;
    struct setup su;
    size_t used = read_setup(data, size, &su);
    if (used == 0)
        return 0;
    struct fuzz_rng rng;
    fuzz_rng_seed(&rng, data[1]);
    const char *s = (const char *)data + used;
    size_t n = size - used;

    expect(&su, s, n, su.drive == DRIVE_EXECUTE);

    ipc_ctab *tab = NULL;
    FUZZ_CHECK(ipc_ctab_new(&tab, su.capacity) == 0);
    struct ipc_conn_env env;
    memset(&env, 0, sizeof(env));
    env.table = tab;
    env.limits = su.lim;

    size_t max_bulk = eff(su.lim.max_bulk, IPC_RESP_DEFAULT_MAX_BULK);
    size_t hw = eff(su.lim.out_high_water, 256 * 1024);
    size_t mem_bound = 2 * (su.max_request + hw + max_bulk + 8192);
    struct received rc;
    memset(&rc, 0, sizeof(rc));

    fuzz_faults_arm(&ff);
    if (su.drive == DRIVE_SERVE_FD) {
        drive_serve_fd(&env, s, n, &rc, &ff);
    } else {
        ipc_conn *conn = NULL;
        uint64_t before = fuzz_faults_injected(&ff);
        int r = ipc_conn_new(&conn, &env);
        if (r == -ENOMEM) {
            FUZZ_CHECK(fuzz_faults_injected(&ff) != before);
        } else {
            FUZZ_CHECK(r == 0 && conn != NULL);
            if (su.drive == DRIVE_PUMP)
                drive_pump(conn, &su, &rng, s, n, &rc, mem_bound);
            else if (su.drive == DRIVE_BYTES)
                drive_bytes(conn, &su, &rng, s, n, &rc, mem_bound, &ff);
            else
                drive_execute(conn, &su, s, n, &rc, &ff);
            if (su.drive != DRIVE_EXECUTE)
                FUZZ_CHECK(ipc_conn_state(conn) & IPC_CONN_DONE);
            ipc_conn_free(conn);
        }
    }
    fuzz_faults_disarm(&ff);

    int faulted = fuzz_faults_injected(&ff) != 0;
    compare(&rc, faulted);
    if (!faulted)
        check_table(tab, data[1]);
    ipc_ctab_free(tab);
    free(rc.buf);
    return 0;
}
