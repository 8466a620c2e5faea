/* drv_sock.c - `ipcstorm stress sock`: the pre-fork RESP2 server (ipcsrv/server.h,
 * run in a forked child of the driver, the same code as `ipcstorm serve`) on an
 * ephemeral TCP port and an abstract Unix socket, with good clients pipelining
 * PING / ECHO / INCR over both and hostile clients mixed in: garbage, half
 * commands left hanging, disconnects in the middle of a pipeline, pipelines that
 * never read their replies, one byte at a time.
 *
 * Every reply of a good client is checked (type and exact value); each client's
 * private key must count 1, 2, 3... in its replies; the shared key must end equal
 * to the number of acknowledged INCRs; a good client's batch must complete within
 * --stall-limit seconds whatever the hostile clients do; the server must stop
 * gracefully (exit 0) on SIGTERM.
 *
 * Before the first round, ipc_sock_connect's timeout is checked against listeners
 * whose queue the kernel reports full: a TCP listener whose accept queue holds
 * more than its backlog drops every SYN (the connect stays in SYN_SENT), a Unix
 * one refuses with EAGAIN; either way the connect must give up with exactly
 * -ETIMEDOUT, not before its timeout, and leave no descriptor behind. Then a burst
 * of clients connected at once grows a worker's tables past 64 descriptors. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "common.h"
#include "report.h"
#include "rng.h"
#include "sock_reader.h"
#include "ipc/pipe.h"
#include "ipc/proc.h"
#include "ipcsrv/server.h"
#include "ipc/sock.h"

const char ipcstorm_stress_sock_summary[] =
    "pre-fork server + pipelining PING/ECHO/INCR clients over TCP and Unix, hostile clients";

#define MAX_CLIENTS 32

static uint64_t opt_batches = 20;
static uint64_t opt_depth = 32;
static uint64_t opt_hostile = 3;
static uint64_t opt_workers = 2;
static double opt_stall = 10.0;

static const struct stress_xopt xopts[] = {
    {"batches", STRESS_XOPT_U64, &opt_batches, 1, 100000,
     "pipelined batches per good client per round (default 20)", NULL},
    /* A good client writes its whole batch before reading: the batch's replies
     * (up to ~4.1 KB each) must fit under the server's 256 KiB output
     * backpressure limit, or client and server would wait on each other. */
    {"depth", STRESS_XOPT_U64, &opt_depth, 1, 48, "largest pipeline depth (default 32, at most 48)",
     NULL},
    {"hostile", STRESS_XOPT_U64, &opt_hostile, 0, MAX_CLIENTS,
     "hostile clients per round (default 3)", NULL},
    {"workers", STRESS_XOPT_U64, &opt_workers, 1, 64, "server worker processes (default 2)", NULL},
    {"stall-limit", STRESS_XOPT_SECONDS, &opt_stall, 0, 0,
     "seconds a good client's batch may take before it counts as stalled (default 10)", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct stress_fault faults[] = {
    {"miscount-incr", "one good client per round sends INCRBY 2 but books it as 1"},
    {NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "sock",
    .examples = "  ipcstorm stress sock --workers 4 --hostile 10 --duration 30\n",
    .summary =
        "The pre-fork RESP2 server with clients pipelining PING/ECHO/INCR over TCP and Unix\n"
        "sockets, hostile clients mixed in.",
    .invariants =
        "  reply-exact       every reply has the expected type and value, in order\n"
        "  incr-sequence     a client's private key counts 1, 2, 3... in its replies\n"
        "  counter-exact     the shared key == acknowledged INCRs of all clients\n"
        "  no-stall          hostile clients never stall a good client's batch\n"
        "  server-graceful   the server answers after each round and exits 0 on SIGTERM\n"
        "  connect-timeout   a TCP connect to a listener whose accept queue is full (the\n"
        "                    kernel drops the SYNs) and a Unix connect to a full backlog\n"
        "                    return exactly -ETIMEDOUT after T ms or more (< T + 5 s),\n"
        "                    with and without IPC_SOCK_NONBLOCK, leaving no descriptor\n"
        "  burst-exact       140-199 clients connected at once (one worker holds > 64)\n"
        "                    each get the exact ECHO of their own text (not with --faults)",
    .default_procs = 4,
    .max_procs = MAX_CLIENTS,
    .xopts = xopts,
    .faults = faults,
};

/* ---- a small blocking RESP client with deadlines ---------------------------------- */
/* 64 KiB: a batch's replies may pile up unread while a client checks the earlier
 * ones (ECHO payloads up to 4 KiB each). */
#define READ_CAP 65536

struct conn {
    struct sock_reader rd;
    int err; /* sticky: 0, -ETIMEDOUT, -ECONNRESET, -EPROTO or a recv error */
    uint8_t buf[READ_CAP];
};

static struct conn *conn_new(void)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c)
        sock_reader_init(&c->rd, c->buf, sizeof(c->buf));
    return c;
}

/* Records the reader's error in the conn's terms: EOF anywhere is the server
 * closing on us, a full buffer or a malformed line a protocol error. */
static int conn_fail(struct conn *c, int e)
{
    return c->err = e == 0 || e == -EPIPE ? -ECONNRESET : e == -ENOBUFS ? -EPROTO : e;
}

/* Reads one line (without CRLF) into out (NUL-terminated). */
static int conn_line(struct conn *c, char *out, size_t cap)
{
    if (c->err)
        return c->err;
    int k = sock_reader_resp_line(&c->rd, out, cap);
    return k >= 0 ? 0 : conn_fail(c, k);
}

static int conn_bytes(struct conn *c, uint8_t *out, size_t n)
{
    if (c->err)
        return c->err;
    int k = sock_reader_exact(&c->rd, out, n);
    return k == 1 ? 0 : conn_fail(c, k);
}

/* ---- good client ------------------------------------------------------------------- */
struct client_report {
    uint64_t replies;
    uint64_t acked_incr; /* on the shared key, in units */
    /* Units of shared INCRs sent whose reply never came (the client stopped on an
     * error): the server may or may not have applied them. */
    uint64_t unknown_incr;
    uint64_t bad; /* replies that did not match */
    uint64_t seq_bad;
    double worst_batch;
    int err;
    char first_bad[160];
};

enum cmdk { C_PING, C_PING_MSG, C_ECHO, C_INCR_SHARED, C_INCR_OWN };

struct good_arg {
    struct ipc_sock_addr addr;
    unsigned idx;
    unsigned round;
    uint64_t seed;
    bool miscount;
    int rep_fd;
};

static size_t append(uint8_t *out, size_t off, const void *p, size_t n)
{
    memcpy(out + off, p, n);
    return off + n;
}

static size_t append_bulk(uint8_t *out, size_t off, const void *p, size_t n)
{
    char hdr[32];
    int h = snprintf(hdr, sizeof(hdr), "$%zu\r\n", n);
    off = append(out, off, hdr, (size_t)h);
    off = append(out, off, p, n);
    return append(out, off, "\r\n", 2);
}

static void bad(struct client_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bad(struct client_report *r, const char *fmt, ...)
{
    if (r->bad++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->first_bad, sizeof(r->first_bad), fmt, ap);
        va_end(ap);
    }
}

static int good_client(void *p)
{
    struct good_arg *a = p;
    struct client_report rep;
    memset(&rep, 0, sizeof(rep));
    uint64_t pending = 0; /* units of shared INCR of this batch not acknowledged yet */
    struct stress_rng rng;
    stress_rng_init(&rng, a->seed, 100 + a->idx);
    struct conn *c = conn_new();
    size_t cap = opt_depth * 4200 + 64;
    uint8_t *out = malloc(cap);
    enum cmdk *kinds = malloc(opt_depth * sizeof(*kinds));
    uint8_t(*msgs)[4096] = malloc(opt_depth * 4096);
    size_t *mlen = malloc(opt_depth * sizeof(*mlen));
    uint8_t *got = malloc(4096);
    if (!c || !out || !kinds || !msgs || !mlen || !got)
        return 3;
    c->rd.fd = stress_sock_connect(&a->addr);
    if (c->rd.fd < 0) {
        rep.err = c->rd.fd;
        goto done;
    }
    char shared[64], own[64];
    snprintf(shared, sizeof(shared), "stress:shared:%u", a->round);
    snprintf(own, sizeof(own), "stress:own:%u:%u", a->round, a->idx);
    int64_t own_next = 1;
    bool miscount = a->miscount;
    for (uint64_t b = 0; b < opt_batches; b++) {
        unsigned depth = (unsigned)stress_rng_range(&rng, 1, opt_depth);
        size_t off = 0;
        for (unsigned i = 0; i < depth; i++) {
            enum cmdk k = (enum cmdk)stress_rng_below(&rng, 5);
            kinds[i] = k;
            switch (k) {
            case C_PING:
                /* Inline and multibulk forms, mixed in one pipeline. */
                if (stress_rng_below(&rng, 2))
                    off = append(out, off, "PING\r\n", 6);
                else
                    off = append(out, off, "*1\r\n$4\r\nPING\r\n", 14);
                break;
            case C_PING_MSG:
            case C_ECHO: {
                mlen[i] = (size_t)stress_rng_below(&rng, stress_rng_below(&rng, 8) ? 64 : 4096);
                stress_rng_fill(&rng, msgs[i], mlen[i]);
                off = append(out, off, "*2\r\n", 4);
                off = append_bulk(out, off, k == C_ECHO ? "ECHO" : "PING", 4);
                off = append_bulk(out, off, msgs[i], mlen[i]);
                break;
            }
            case C_INCR_SHARED:
                if (miscount) {
                    off = append(out, off, "*3\r\n", 4);
                    off = append_bulk(out, off, "INCRBY", 6);
                    off = append_bulk(out, off, shared, strlen(shared));
                    off = append_bulk(out, off, "2", 1);
                } else {
                    off = append(out, off, "*2\r\n", 4);
                    off = append_bulk(out, off, "INCR", 4);
                    off = append_bulk(out, off, shared, strlen(shared));
                }
                break;
            case C_INCR_OWN:
                off = append(out, off, "*2\r\n", 4);
                off = append_bulk(out, off, "INCR", 4);
                off = append_bulk(out, off, own, strlen(own));
                break;
            }
        }
        pending = 0;
        for (unsigned i = 0; i < depth; i++)
            if (kinds[i] == C_INCR_SHARED) {
                mlen[i] = miscount ? 2 : 1; /* the units this INCR adds */
                pending += mlen[i];
            }
        double t0 = stress_now();
        c->rd.deadline = t0 + opt_stall;
        ssize_t w = ipc_sock_send_all(c->rd.fd, out, off);
        if (w != (ssize_t)off) {
            rep.err = (int)w;
            goto done;
        }
        for (unsigned i = 0; i < depth; i++) {
            char line[128];
            if (conn_line(c, line, sizeof(line)) < 0) {
                rep.err = c->err;
                goto done;
            }
            rep.replies++;
            switch (kinds[i]) {
            case C_PING:
                if (strcmp(line, "+PONG"))
                    bad(&rep, "PING -> '%.60s'", line);
                break;
            case C_PING_MSG:
            case C_ECHO: {
                char want[32];
                snprintf(want, sizeof(want), "$%zu", mlen[i]);
                if (strcmp(line, want)) {
                    bad(&rep, "%s of %zu bytes -> '%.60s'", kinds[i] == C_ECHO ? "ECHO" : "PING",
                        mlen[i], line);
                    rep.err = -EPROTO;
                    goto done; /* the stream position is lost */
                }
                uint8_t crlf[2];
                if (conn_bytes(c, got, mlen[i]) < 0 || conn_bytes(c, crlf, 2) < 0) {
                    rep.err = c->err;
                    goto done;
                }
                if (memcmp(got, msgs[i], mlen[i]) || crlf[0] != '\r' || crlf[1] != '\n')
                    bad(&rep, "%s payload of %zu bytes differs",
                        kinds[i] == C_ECHO ? "ECHO" : "PING", mlen[i]);
                break;
            }
            case C_INCR_SHARED:
                if (line[0] != ':')
                    bad(&rep, "INCR shared -> '%.60s'", line);
                else {
                    rep.acked_incr += 1; /* miscount: INCRBY 2 booked as 1 */
                    pending -= mlen[i];
                    miscount = false;
                }
                break;
            case C_INCR_OWN: {
                char want[32];
                snprintf(want, sizeof(want), ":%" PRId64, own_next);
                if (strcmp(line, want)) {
                    rep.seq_bad++;
                    bad(&rep, "INCR own -> '%.60s', expected '%s'", line, want);
                }
                own_next++;
                break;
            }
            }
        }
        double took = stress_now() - t0;
        if (took > rep.worst_batch)
            rep.worst_batch = took;
    }
done:
    if (rep.err)
        rep.unknown_incr = pending;
    if (c->rd.fd >= 0)
        close(c->rd.fd);
    /* write(2), not libipc: the report is the driver's own plumbing and must not
     * be lost to --faults (it is under PIPE_BUF: one write, whole or nothing). */
    ssize_t w;
    do {
        w = write(a->rep_fd, &rep, sizeof(rep));
    } while (w < 0 && errno == EINTR);
    return w == (ssize_t)sizeof(rep) ? 0 : 4;
}

/* ---- hostile client ------------------------------------------------------------------ */
enum hostk { H_GARBAGE, H_HALF, H_DISCONNECT, H_NOREAD, H_SLOW, H_COUNT };

struct hostile_arg {
    struct ipc_sock_addr addr;
    uint64_t seed;
    unsigned idx;
};

static int hostile_client(void *p)
{
    struct hostile_arg *a = p;
    struct stress_rng rng;
    stress_rng_init(&rng, a->seed, 500 + a->idx);
    uint8_t junk[4096];
    /* Loops until the driver SIGKILLs it at the end of the round. */
    for (;;) {
        int fd = stress_sock_connect(&a->addr);
        if (fd < 0) {
            stress_sleep_us(10000);
            continue;
        }
        enum hostk k = (enum hostk)stress_rng_below(&rng, H_COUNT);
        switch (k) {
        case H_GARBAGE: {
            size_t n = (size_t)stress_rng_range(&rng, 1, sizeof(junk));
            stress_rng_fill(&rng, junk, n);
            if (stress_rng_below(&rng, 2))
                junk[0] = '*'; /* a multibulk header with a junk count */
            stress_ignore(ipc_sock_send_all(fd, junk, n));
            /* Drain whatever error comes back, up to EOF or 200 ms. */
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            while (poll(&pf, 1, 200) > 0 && ipc_sock_recv(fd, junk, sizeof(junk)) > 0)
                ;
            break;
        }
        case H_HALF: {
            static const char half[] = "*3\r\n$4\r\nECHO\r\n$100\r\nonly a part";
            stress_ignore(ipc_sock_send_all(fd, half, sizeof(half) - 1));
            stress_sleep_us(stress_rng_range(&rng, 50000, 500000));
            break;
        }
        case H_DISCONNECT: {
            char cmds[2048];
            size_t off = 0;
            while (off + 40 < sizeof(cmds))
                off += (size_t)snprintf(cmds + off, sizeof(cmds) - off,
                                        "*2\r\n$4\r\nINCR\r\n$7\r\nhostile\r\nPING\r\n");
            stress_ignore(ipc_sock_send_all(fd, cmds, off));
            if (stress_rng_below(&rng, 2)) {
                /* RST instead of FIN. */
                struct linger lg = {.l_onoff = 1, .l_linger = 0};
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            }
            break;
        }
        case H_NOREAD: {
            /* Fill the server's output towards us and never read it. */
            char cmd[4200];
            int n = snprintf(cmd, sizeof(cmd), "*2\r\n$4\r\nECHO\r\n$4000\r\n");
            memset(cmd + n, 'x', 4000);
            memcpy(cmd + n + 4000, "\r\n", 2);
            stress_ignore(ipc_sock_set_nonblock(fd, 1));
            double end = stress_now() + 0.5;
            while (stress_now() < end) {
                ssize_t w = ipc_sock_send(fd, cmd, (size_t)n + 4002);
                if (w == -EAGAIN)
                    stress_sleep_us(5000);
                else if (w < 0)
                    break;
            }
            break;
        }
        case H_SLOW: {
            static const char cmd[] = "*2\r\n$4\r\nECHO\r\n$5\r\nslow!\r\n";
            for (size_t i = 0; i + 1 < sizeof(cmd); i++) {
                if (ipc_sock_send(fd, cmd + i, 1) != 1)
                    break;
                stress_sleep_us(stress_rng_range(&rng, 1000, 20000));
            }
            break;
        }
        default:
            break;
        }
        close(fd);
    }
    return 0; /* not reached */
}

/* ---- the server child ------------------------------------------------------------------ */
struct server_arg {
    int port_fd;
    char unix_name[96];
    unsigned workers;
};

static int server_main(void *p)
{
    struct server_arg *a = p;
    /* A daemon's stdin is closed: the first listener is then fd 0, which every
     * descriptor check of the server and ipc_sock must take as valid. */
    close(STDIN_FILENO);
    struct ipc_server_options o;
    memset(&o, 0, sizeof(o));
    o.bind = "127.0.0.1";
    o.port = 0;
    o.unix_path = a->unix_name;
    o.workers = a->workers;
    o.quiet = 1;
    ipc_server *srv = NULL;
    int r = ipc_server_new(&srv, &o);
    int port = r < 0 ? r : ipc_server_port(srv);
    if (ipc_pipe_write_all(a->port_fd, &port, sizeof(port), 0) != (ssize_t)sizeof(port) || r < 0) {
        ipc_server_free(srv);
        return 3;
    }
    close(a->port_fd);
    r = ipc_server_run(srv);
    ipc_server_free(srv);
    return r == 0 ? 0 : 4;
}

/* One short request on a fresh connection; returns the reply line. */
static int query(const struct ipc_sock_addr *a, const char *req, char *line, size_t cap)
{
    struct conn *c = conn_new();
    if (!c)
        return -ENOMEM;
    c->rd.fd = stress_sock_connect(a);
    int r = c->rd.fd;
    if (r >= 0) {
        c->rd.deadline = stress_now() + 10;
        r = ipc_sock_send_all(c->rd.fd, req, strlen(req)) < 0 ? -EPIPE : conn_line(c, line, cap);
        close(c->rd.fd);
    }
    free(c);
    return r;
}

static uint64_t g_worst_ms;

static void run_round(struct stress *s, unsigned round, const struct ipc_sock_addr *tcp,
                      const struct ipc_sock_addr *unx, struct stress_rng *rng)
{
    ipc_proc *hp[MAX_CLIENTS] = {0}, *gp[MAX_CLIENTS] = {0};
    struct hostile_arg ha[MAX_CLIENTS];
    struct good_arg ga[MAX_CLIENTS];
    unsigned nh = (unsigned)opt_hostile, ng = s->procs;
    uint64_t seed = stress_rng_next(rng);
    for (unsigned i = 0; i < nh; i++) {
        ha[i] = (struct hostile_arg){.addr = (i % 2) ? *unx : *tcp, .seed = seed, .idx = i};
        if (ipc_proc_fork(&hp[i], hostile_client, &ha[i], NULL) < 0)
            hp[i] = NULL;
    }
    /* Opened after the hostile clients exist, so that only good clients hold the
     * write end and EOF means every good client is done. */
    struct ipc_pipe rep;
    int pr = ipc_pipe_open(&rep, 0);
    if (pr < 0) {
        stress_lib_error(s, pr, "ipc_pipe_open");
        rep.rd = rep.wr = -1;
        ng = 0;
    }
    unsigned miscount_idx = stress_fault(s, "miscount-incr") ? 0 : UINT32_MAX;
    for (unsigned i = 0; i < ng; i++) {
        ga[i] = (struct good_arg){.addr = (i % 2) ? *unx : *tcp,
                                  .idx = i,
                                  .round = round,
                                  .seed = seed,
                                  .miscount = i == miscount_idx,
                                  .rep_fd = rep.wr};
        int r = ipc_proc_fork(&gp[i], good_client, &ga[i], NULL);
        if (r < 0) {
            stress_lib_error(s, r, "ipc_proc_fork(client)");
            gp[i] = NULL;
        }
    }
    close(rep.wr);
    rep.wr = -1;
    uint64_t acked = 0, replies = 0, unknown = 0;
    unsigned reports = 0;
    for (;;) {
        struct client_report cr;
        /* read(2), not libipc: the driver's own plumbing (each report is one
         * write under PIPE_BUF, so it arrives whole). */
        ssize_t n;
        do {
            n = rep.rd >= 0 ? read(rep.rd, &cr, sizeof(cr)) : 0;
        } while (n < 0 && errno == EINTR);
        if (n != (ssize_t)sizeof(cr))
            break;
        reports++;
        replies += cr.replies;
        acked += cr.acked_incr;
        unknown += cr.unknown_incr;
        uint64_t ms = (uint64_t)(cr.worst_batch * 1000);
        if (ms > g_worst_ms)
            g_worst_ms = ms;
        stress_check(s, cr.bad == 0, cr.seq_bad ? "incr-sequence" : "reply-exact",
                     "%" PRIu64 " bad replies, first: %s", cr.bad, cr.first_bad);
        if (cr.err && stress_faults_on(s)) {
            stress_lib_error(s, cr.err, "good client");
            continue;
        }
        stress_check(s, cr.err == 0, cr.err == -ETIMEDOUT ? "no-stall" : "reply-exact",
                     "good client stopped early: %s (after %" PRIu64
                     " replies, worst batch %.2f s)",
                     ipc_strerror(cr.err), cr.replies, cr.worst_batch);
    }
    ipc_pipe_close(&rep);
    for (unsigned i = 0; i < ng; i++) {
        if (!gp[i])
            continue;
        struct ipc_proc_status st;
        memset(&st, 0, sizeof(st)); /* reported even when the wait fails */
        int r = stress_proc_wait(s, gp[i], 30000, &st);
        stress_check(s, r == 0 && st.exited && st.code == 0, "reply-exact",
                     "good client %u ended badly (%s, raw 0x%x)", i, ipc_strerror(r), st.raw);
        stress_proc_discard(s, gp[i]); /* kills and reaps if the wait timed out */
    }
    for (unsigned i = 0; i < nh; i++) {
        if (!hp[i])
            continue;
        stress_proc_kill(s, hp[i], SIGKILL);
        struct ipc_proc_status st;
        memset(&st, 0, sizeof(st));
        stress_ignore(stress_proc_wait(s, hp[i], IPC_PROC_WAIT_FOREVER, &st));
        stress_check(s, st.signaled && st.signal == SIGKILL, "server-graceful",
                     "hostile client %u died on its own (raw 0x%x)", i, st.raw);
        stress_proc_discard(s, hp[i]);
    }
    unsigned started = 0;
    for (unsigned i = 0; i < ng; i++)
        started += gp[i] != NULL;
    if (reports != started)
        stress_violation(s, "reply-exact", "%u of %u good clients reported", reports, started);
    /* INCRBY key 0 reads the counter as an integer reply (0 if never set). */
    char req[128], line[128], want[48];
    snprintf(req, sizeof(req), "INCRBY stress:shared:%u 0\r\n", round);
    int r = query(round % 2 ? unx : tcp, req, line, sizeof(line));
    snprintf(want, sizeof(want), ":%" PRIu64, acked);
    if (r < 0 && stress_faults_on(s)) {
        stress_lib_error(s, r, "query");
    } else if (stress_check(s, r == 0, "server-graceful", "query after the round failed: %s",
                            ipc_strerror(r))) {
        /* Exact, except for the INCRs of clients that stopped on an error between
         * sending them and reading their replies: those may or may not count. */
        char *end;
        unsigned long long v = line[0] == ':' ? strtoull(line + 1, &end, 10) : 0;
        bool num = line[0] == ':' && line[1] && !*end;
        stress_check(s, unknown ? num && v >= acked && v <= acked + unknown : !strcmp(line, want),
                     "counter-exact",
                     "shared counter reads '%s', %" PRIu64 " INCRs were acknowledged (%" PRIu64
                     " more unknown)",
                     line, acked, unknown);
    }
    stress_add_ops(s, replies);
}

/* ---- connect timeouts against full queues ------------------------------------------- */
#define CONNECT_TIMEOUT_MS 200
#define MAX_FILLERS        64

/* The accept queue of a TCP listener as the kernel reports it: TCP_INFO on a
 * listening socket gives the queued connections in tcpi_unacked and the backlog
 * in tcpi_sacked. Once the queue holds more than the backlog, the kernel drops
 * every SYN to the listener (LISTENOVERFLOWS): a connect stays in SYN_SENT. */
static bool tcp_queue_full(int lfd, unsigned *queued)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || ti.tcpi_state != TCP_LISTEN) {
        *queued = UINT32_MAX;
        return false;
    }
    *queued = ti.tcpi_unacked;
    return ti.tcpi_unacked > ti.tcpi_sacked;
}

/* A listener made with plain system calls (the driver's plumbing, not the code
 * under test) that never accepts. Returns the fd or -errno. */
static int raw_listener(const struct ipc_sock_addr *a, struct ipc_sock_addr *bound)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    *bound = *a;
    socklen_t len = sizeof(bound->ss);
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, 1) < 0 ||
        (a->family != AF_UNIX && getsockname(fd, (struct sockaddr *)&bound->ss, &len) < 0)) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Connects blocking fillers (at most 2 s each) until the listener reports its
 * accept queue full. The final ACK of a filler reaches the listener's side in the
 * kernel's own time, so after each filler the queue is read until it counted it
 * (or is full: a filler whose SYN was already dropped times out, harmlessly). */
static bool fill_tcp(int lfd, const struct ipc_sock_addr *a, int *fillers, unsigned *n)
{
    double deadline = stress_now() + 10;
    unsigned queued;
    while (!tcp_queue_full(lfd, &queued)) {
        if (queued == UINT32_MAX || *n == MAX_FILLERS || stress_now() > deadline)
            return false;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return false;
        fillers[(*n)++] = fd;
        struct timeval tv = {2, 0};
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
            return false;
        stress_ignore(connect(fd, (const struct sockaddr *)&a->ss, a->len));
        unsigned now;
        while (!tcp_queue_full(lfd, &now) && now == queued && stress_now() < deadline)
            stress_sleep_us(500);
    }
    return true;
}

/* Non-blocking Unix fillers until the kernel refuses one with EAGAIN: the backlog
 * is full and stays so, as nobody accepts. */
static bool fill_unix(const struct ipc_sock_addr *a, int *fillers, unsigned *n)
{
    while (*n < MAX_FILLERS) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return false;
        if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0) {
            fillers[(*n)++] = fd;
            continue;
        }
        int e = errno;
        close(fd);
        return e == EAGAIN;
    }
    return false;
}

/* ipc_sock_connect to a full queue: exactly -ETIMEDOUT, not before timeout_ms
 * (less `early_ms`: the granularity of the clock that bounds the wait), not
 * absurdly late, and no descriptor left. */
static void probe_timeout(struct stress *s, const char *what, const struct ipc_sock_addr *a,
                          int timeout_ms, unsigned flags, double early_ms)
{
    int free_before = stress_lowest_free_fd();
    double t0 = stress_now();
    int r = ipc_sock_connect(a, SOCK_STREAM, timeout_ms, flags);
    double ms = (stress_now() - t0) * 1000;
    if (r >= 0)
        close(r);
    int free_after = stress_lowest_free_fd();
    const char *how = flags & IPC_SOCK_NONBLOCK ? " with IPC_SOCK_NONBLOCK" : "";
    stress_check(s, r == -ETIMEDOUT, "connect-timeout",
                 "%s connect (timeout %d ms%s) to a full queue: %s after %.1f ms, want -ETIMEDOUT",
                 what, timeout_ms, how, r >= 0 ? "connected" : ipc_strerror(r), ms);
    stress_check(s, ms >= timeout_ms - early_ms && ms < timeout_ms + 5000.0, "connect-timeout",
                 "%s connect (timeout %d ms%s) to a full queue gave up after %.1f ms", what,
                 timeout_ms, how, ms);
    stress_check(s, free_after == free_before, "connect-timeout",
                 "%s connect (timeout %d ms%s) to a full queue: lowest free fd %d before, %d after",
                 what, timeout_ms, how, free_before, free_after);
}

/* The timeout with and without IPC_SOCK_NONBLOCK (which only concerns the
 * returned fd), and a zero timeout. */
static void probe_timeouts(struct stress *s, const char *what, const struct ipc_sock_addr *a,
                           double early_ms)
{
    probe_timeout(s, what, a, CONNECT_TIMEOUT_MS, 0, early_ms);
    probe_timeout(s, what, a, CONNECT_TIMEOUT_MS, IPC_SOCK_NONBLOCK, early_ms);
    probe_timeout(s, what, a, 0, 0, 0.0);
}

static void check_connect_timeouts(struct stress *s)
{
    int fillers[MAX_FILLERS];
    unsigned n = 0;
    struct ipc_sock_addr want, tcp, unx;
    char name[96];
    /* TCP: poll() never returns early; the library's millisecond clock may make
     * it start up to 1 ms short of the timeout. */
    stress_ignore(ipc_sock_addr_parse(&want, "127.0.0.1:0"));
    int lfd = raw_listener(&want, &tcp);
    if (lfd < 0) {
        stress_setup_error(s, "TCP listener on 127.0.0.1: %s", strerror(-lfd));
    } else if (!fill_tcp(lfd, &tcp, fillers, &n)) {
        stress_setup_error(s, "the accept queue of a TCP listener never became full (%u fillers)",
                           n);
    } else {
        probe_timeouts(s, "TCP", &tcp, 1.0);
    }
    while (n > 0)
        close(fillers[--n]);
    if (lfd >= 0)
        close(lfd);
    /* Unix: the wait is the kernel's SO_SNDTIMEO, counted in jiffies (it may end
     * up to one tick, 10 ms at HZ=100, before the wall-clock timeout). */
    snprintf(name, sizeof(name), "unix:@ipcstorm-stress-sock-full-%d-%" PRIu64, (int)getpid(),
             s->seed);
    if (ipc_sock_addr_parse(&want, name) < 0) {
        stress_setup_error(s, "bad unix address %s", name);
        return;
    }
    lfd = raw_listener(&want, &unx);
    if (lfd < 0) {
        stress_setup_error(s, "Unix listener %s: %s", name, strerror(-lfd));
    } else if (!fill_unix(&unx, fillers, &n)) {
        stress_setup_error(s, "the backlog of a Unix listener never became full (%u fillers)", n);
    } else {
        probe_timeouts(s, "Unix", &unx, 10.0);
    }
    while (n > 0)
        close(fillers[--n]);
    if (lfd >= 0)
        close(lfd);
}

/* ---- a burst of concurrent clients ---------------------------------------------------- */
#define BURST_MIN 140 /* with 2 workers one of them holds > 64 clients at once */

/* BURST_MIN and more clients connected at the same time, each asking for an ECHO of
 * its own text once all of them are connected: every reply must be exact. A
 * worker's per-descriptor tables grow past 64, 128... entries while it serves
 * them, and a client past the end of a table is a lost or wrong reply here. */
static void phase_burst(struct stress *s, const struct ipc_sock_addr *tcp, struct stress_rng *rng)
{
    struct rlimit lim;
    unsigned n = BURST_MIN + (unsigned)stress_rng_below(rng, 60);
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur < (rlim_t)n + 64) {
        snprintf(s->note, sizeof(s->note), "burst skipped: RLIMIT_NOFILE below %u", n + 64);
        return;
    }
    int *fds = calloc(n, sizeof(*fds));
    struct sock_reader *rd = sock_reader_new(256);
    if (!fds || !rd) {
        stress_setup_error(s, "burst: out of memory");
        free(fds);
        free(rd);
        return;
    }
    uint64_t tag = stress_rng_next(rng);
    unsigned opened = 0, exact = 0;
    char first[200] = "";
    for (; opened < n; opened++) {
        fds[opened] = stress_sock_connect(tcp);
        if (fds[opened] < 0) {
            snprintf(first, sizeof(first), "client %u: connect: %s", opened,
                     ipc_strerror(fds[opened]));
            break;
        }
    }
    for (unsigned i = 0; i < opened; i++) {
        char req[96];
        int len = snprintf(req, sizeof(req), "ECHO burst-%" PRIx64 "-%u\r\n", tag, i);
        if (ipc_sock_send_all(fds[i], req, (size_t)len) < 0 && !first[0])
            snprintf(first, sizeof(first), "client %u: send failed", i);
    }
    for (unsigned i = 0; i < opened; i++) {
        char want[96], got[96] = "";
        snprintf(want, sizeof(want), "burst-%" PRIx64 "-%u", tag, i);
        sock_reader_init(rd, rd + 1, 256);
        rd->fd = fds[i];
        rd->deadline = stress_now() + 10 * STRESS_TIME_SCALE;
        char head[32];
        int hl = sock_reader_resp_line(rd, head, sizeof(head));
        int bl = hl > 0 ? sock_reader_resp_line(rd, got, sizeof(got)) : hl;
        char want_head[32];
        snprintf(want_head, sizeof(want_head), "$%zu", strlen(want));
        if (hl > 0 && bl >= 0 && strcmp(head, want_head) == 0 && strcmp(got, want) == 0)
            exact++;
        else if (!first[0])
            snprintf(first, sizeof(first), "client %u: '%s' '%s' (%s), want '%s' '%s'", i,
                     hl > 0 ? head : "", bl >= 0 ? got : "", ipc_strerror(hl < 0 ? hl : bl),
                     want_head, want);
        close(fds[i]);
    }
    stress_check(s, opened == n && exact == n, "burst-exact",
                 "%u clients at once: %u connected, %u exact ECHO replies; first: %s", n, opened,
                 exact, first);
    free(fds);
    free(rd);
}

int ipcstorm_stress_sock(int argc, char **argv)
{
    struct stress s;
    int rc = stress_begin(&s, &spec, argc, argv);
    if (rc != STRESS_RUN)
        return rc;
    /* Before the first stress_running(): no fault is armed yet, the checks are exact. */
    check_connect_timeouts(&s);
    struct ipc_pipe pp;
    if (ipc_pipe_open(&pp, 0) < 0) {
        stress_setup_error(&s, "pipe: out of fds");
        return stress_end(&s);
    }
    struct server_arg sa = {.port_fd = pp.wr, .workers = (unsigned)opt_workers};
    snprintf(sa.unix_name, sizeof(sa.unix_name), "@ipcstorm-stress-sock-%d-%" PRIu64, (int)getpid(),
             s.seed);
    ipc_proc *srv = NULL;
    int r = ipc_proc_fork(&srv, server_main, &sa, NULL);
    close(pp.wr);
    int port = -1;
    if (r < 0 || ipc_pipe_read_full(pp.rd, &port, sizeof(port)) != (ssize_t)sizeof(port) ||
        port <= 0) {
        close(pp.rd);
        stress_setup_error(&s, "server did not start: %s",
                           r < 0      ? ipc_strerror(r)
                           : port < 0 ? ipc_strerror(port)
                                      : "no port");
        ipc_proc_free(srv);
        return stress_end(&s);
    }
    close(pp.rd);
    struct ipc_sock_addr tcp, unx;
    char text[128];
    snprintf(text, sizeof(text), "127.0.0.1:%d", port);
    stress_ignore(ipc_sock_addr_parse(&tcp, text));
    snprintf(text, sizeof(text), "unix:%s", sa.unix_name);
    if (ipc_sock_addr_parse(&unx, text) < 0)
        stress_setup_error(&s, "bad unix address %s", text);
    struct stress_rng rng;
    stress_rng_init(&rng, s.seed, 0);
    if (!stress_faults_on(&s)) /* exact, and the server injects faults of its own */
        phase_burst(&s, &tcp, &rng);
    for (unsigned round = 0; stress_running(&s); round++)
        run_round(&s, round, &tcp, &unx, &rng);
    /* Graceful stop: SIGTERM, then the server must exit 0 by itself. */
    struct ipc_proc_status st;
    memset(&st, 0, sizeof(st));
    r = ipc_proc_kill(srv, SIGTERM);
    if (r == 0)
        r = ipc_proc_wait(srv, 20000, 0, &st);
    stress_check(&s, r == 0 && st.exited && st.code == 0, "server-graceful",
                 "server after SIGTERM: %s, raw status 0x%x", ipc_strerror(r), st.raw);
    ipc_proc_free(srv);
    snprintf(s.note, sizeof(s.note), "worst good-client batch latency %" PRIu64 " ms", g_worst_ms);
    return stress_end(&s);
}
