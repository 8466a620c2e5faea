/* resp_session - fuzz target for one server connection over a real socket.
 *
 * Targets: ipc_conn_new, ipc_conn_pump (and through it the request parser, every
 * command of docs/design.md section 4 on an in-process counter table, the reply
 * writer of ipc/resp.h (ipc_resp_write_*, ipc_resp_buf_consume) that conn.c
 * answers with, output backpressure and the close after QUIT or a protocol error),
 * ipc_conn_state, ipc_conn_memory, ipc_conn_free, ipc_ctab_new, ipc_ctab_free.
 *
 * Input: a fault schedule (fuzz_util.h: byte 0 = step count K, then K 4-byte
 * steps; 0x00 = none), then: byte 0 = config (bits 0-1: limits profile as in resp_parse, which also
 * selects a small output high-water mark so that backpressure happens; bits 4-7:
 * largest send/recv size 2^n; every send and recv is at least size/64 + 1 bytes,
 * so an input takes about 64 I/O rounds at most), byte 1 = seed of the I/O
 * schedule, then the bytes the client sends.
 *
 * The client end of a non-blocking AF_UNIX socketpair sends the input in schedule
 * sized pieces and then shuts down its write side; the server end is pumped with
 * ipc_conn_pump in the same thread, and the client reads replies in schedule sized
 * pieces, so nothing can deadlock. A fresh counter table per input keeps the
 * target deterministic.
 *
 * Invariants (abort on violation):
 *  - the reply stream is valid RESP2 (simple strings, errors, integers, bulk and
 *    null bulk, arrays; every line CRLF-terminated, lengths exact) and ends on a
 *    reply boundary;
 *  - one reply per command: the number of replies equals the commands a reference
 *    ipc_resp_parse of the same input finds before the first protocol error or
 *    QUIT (inclusive), plus one for the protocol error;
 *  - a protocol error is answered with exactly the parser's Redis text and is the
 *    last reply: the server then closes (state DONE, client sees EOF);
 *  - the connection always makes progress and ends DONE; its memory stays within
 *    the bounds ipcsrv/conn.h documents; both socket ends are closed and nothing leaks;
 *  - under the fault schedule (armed while the connection runs; the seam calls
 *    are the parser's and the reply writer's reallocs, since conn.c does its own
 *    I/O): the connection still ends DONE and frees everything; an out-of-memory
 *    drops the client rather than answer wrongly, so when a fault was injected the
 *    server sends at most the expected number of replies, each valid, a protocol
 *    error reply only where the reference has one (and with its text), and the
 *    last reply may be cut short; when none was injected, exactly as above.
 */
// libfuzzer-options: max_len=4096
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "resp_validate.h"
#include "ipcsrv/conn.h"
#include "ipc/resp.h"
#include "ipcsrv/ctab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ipc_resp_limits profiles[4] = {
    {0, 0, 0},
    {64, 512, 1024},
    {8, 16, 32},
    {1024, 64, 256},
};
static const size_t high_water[4] = {0, 4096, 64, 512};

struct replies {
    char *buf; /* received, not yet validated */
    size_t len, cap;
    size_t count;
    int proto_error; /* the last reply was a protocol error */
    char last[96];   /* first bytes of the last error reply */
};

FUZZ_NOCOV static void on_bytes(struct replies *rp, const char *b, size_t n)
{
    if (rp->len + n > rp->cap) {
        size_t cap = rp->cap ? rp->cap : 4096;
        while (cap < rp->len + n)
            cap *= 2;
        char *nb = realloc(rp->buf, cap);
        FUZZ_CHECK(nb != NULL);
        rp->buf = nb;
        rp->cap = cap;
    }
    memcpy(rp->buf + rp->len, b, n);
    rp->len += n;
    size_t at = 0;
    for (;;) {
        size_t r = reply_one(rp->buf + at, rp->len - at, 0);
        if (r == 0)
            break;
        /* nothing may follow the reply to a protocol error */
        FUZZ_CHECK(!rp->proto_error);
        if (rp->buf[at] == '-') {
            size_t k = r < sizeof(rp->last) - 1 ? r : sizeof(rp->last) - 1;
            memcpy(rp->last, rp->buf + at, k);
            rp->last[k] = 0;
            rp->proto_error = strncmp(rp->last, "-ERR Protocol error", 19) == 0;
        }
        rp->count++;
        at += r;
    }
    memmove(rp->buf, rp->buf + at, rp->len - at);
    rp->len -= at;
}

/* ---- reference: what the server must answer ---- */

struct expect {
    size_t replies;
    int proto_error;
    char msg[96];
};

FUZZ_NOCOV static void reference(const struct ipc_resp_limits *lim, const char *s, size_t n,
                                 struct expect *e)
{
    struct ipc_resp_parser p;
    FUZZ_CHECK(ipc_resp_parser_init(&p, lim) == 0);
    size_t at = 0;
    e->replies = 0;
    e->proto_error = 0;
    for (;;) {
        struct ipc_resp_cmd cmd;
        ssize_t r = ipc_resp_parse(&p, s + at, n - at, &cmd);
        if (r == IPC_ENEEDMORE)
            break;
        if (r < 0) {
            e->proto_error = 1;
            e->replies++;
            snprintf(e->msg, sizeof(e->msg), "-%s\r\n", ipc_resp_parser_errmsg(&p));
            break;
        }
        at += (size_t)r;
        if (cmd.argc == 0)
            continue;
        e->replies++;
        if (cmd.argv[0].len == 4 && strncasecmp(cmd.argv[0].ptr, "quit", 4) == 0)
            break;
    }
    ipc_resp_parser_free(&p);
}

FUZZ_NOCOV int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_faults ff;
    size_t skip = fuzz_faults_parse(&ff, data, size);
    data += skip;
    size -= skip;
    if (size < 2)
        return 0;
    int profile = data[0] & 3;
    size_t max_io = (size_t)1 << (data[0] >> 4);
    struct fuzz_rng rng;
    fuzz_rng_seed(&rng, data[1]);
    const char *s = (const char *)data + 2;
    size_t n = size - 2;
    const struct ipc_resp_limits *lim = &profiles[profile];

    struct expect want;
    reference(lim, s, n, &want);

    ipc_ctab *tab = NULL;
    FUZZ_CHECK(ipc_ctab_new(&tab, 64) == 0);
    struct ipc_conn_env env;
    memset(&env, 0, sizeof(env));
    env.table = tab;
    env.limits.max_bulk = lim->max_bulk;
    env.limits.max_inline = lim->max_inline;
    env.limits.max_multibulk = lim->max_multibulk;
    env.limits.out_high_water = high_water[profile];
    ipc_conn *conn = NULL;
    FUZZ_CHECK(ipc_conn_new(&conn, &env) == 0);

    size_t max_bulk = lim->max_bulk ? lim->max_bulk : IPC_RESP_DEFAULT_MAX_BULK;
    size_t max_req = 2 * max_bulk + 65536;
    size_t hw = high_water[profile] ? high_water[profile] : 256 * 1024;
    size_t mem_bound = 2 * (max_req + hw + max_bulk + 8192);

    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    int cfd = sv[0], sfd = sv[1];
    struct replies rp;
    memset(&rp, 0, sizeof(rp));
    /* At most about 64 sends and reads of the input's size per input, as in
     * frame_roundtrip: byte-at-a-time I/O of a 4 KiB input was some 12,000
     * syscalls per execution (a few hundred exec/s). Short inputs still go a byte
     * at a time, and small reads still meet the output high-water mark. */
    size_t floor = n / 64 + 1;
    char *rbuf = malloc(max_io > floor ? max_io : floor);
    FUZZ_CHECK(rbuf != NULL);
    size_t sent = 0;
    int shut = 0, eof = 0, idle = 0, last_state = -1, server_done = 0;
    fuzz_faults_arm(&ff);
    while (!eof) {
        int progress = 0;
        if (sent < n && !server_done) {
            size_t w = fuzz_rng_size(&rng, max_io);
            if (w < floor)
                w = floor;
            if (w > n - sent)
                w = n - sent;
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
                /* The server side closes once DONE. shutdown, not close: closing an
                 * AF_UNIX socket with unread input resets the peer, which could then
                 * lose replies still queued for it (the lingering-close problem). */
                FUZZ_CHECK(shutdown(sfd, SHUT_WR) == 0);
                server_done = 1;
                progress = 1;
            }
        }
        size_t want_r = fuzz_rng_size(&rng, max_io);
        if (want_r < floor)
            want_r = floor;
        ssize_t r = recv(cfd, rbuf, want_r, MSG_DONTWAIT);
        if (r > 0) {
            on_bytes(&rp, rbuf, (size_t)r);
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
    fuzz_faults_disarm(&ff);
    FUZZ_CHECK(ipc_conn_state(conn) & IPC_CONN_DONE);
    close(cfd);
    close(sfd);
    free(rbuf);
    ipc_conn_free(conn);
    ipc_ctab_free(tab);

    if (fuzz_faults_injected(&ff)) {
        /* dropped for lack of memory: fewer replies, never more or other ones */
        FUZZ_CHECK(rp.count <= want.replies);
        FUZZ_CHECK(!rp.proto_error || want.proto_error);
        if (rp.proto_error)
            FUZZ_CHECK(rp.count == want.replies &&
                       strncmp(rp.last, want.msg, sizeof(rp.last) - 1) == 0);
        free(rp.buf);
        return 0;
    }
    FUZZ_CHECK(rp.len == 0); /* the stream ends on a reply boundary */
    FUZZ_CHECK(rp.count == want.replies);
    FUZZ_CHECK(rp.proto_error == want.proto_error);
    if (want.proto_error)
        FUZZ_CHECK(strncmp(rp.last, want.msg, sizeof(rp.last) - 1) == 0);
    free(rp.buf);
    return 0;
}
