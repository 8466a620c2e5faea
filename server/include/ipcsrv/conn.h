/* ipcsrv/conn.h - one RESP2 server connection, independent of epoll and fork.
 *
 * The protocol engine of `ipcstorm serve` (docs/design.md, "The RESP subset"): bytes in,
 * commands executed against a shared counter table, replies out. It does no
 * polling of its own, so the same engine runs inside the server's epoll loop, in a
 * fuzz target over a socketpair, and in unit tests.
 *
 * Memory is bounded per connection: the input buffer never exceeds
 * ipc_conn_limits.max_request bytes and grows only while a single request needs
 * it; commands stop executing while the output buffer holds out_high_water bytes
 * or more (so the output never exceeds out_high_water + the largest single reply,
 * max(max_bulk + 32, 1 KiB) bytes). A client that never reads stalls only itself.
 *
 * Two ways to drive a connection:
 *  - by bytes: ipc_conn_feed() / ipc_conn_output() / ipc_conn_consume_output() /
 *    ipc_conn_run(), with ipc_conn_state() telling what the connection wants next;
 *  - by fd: ipc_conn_pump() does one non-blocking read/execute/write round on a
 *    socket (or its halves ipc_conn_pump_in() and ipc_conn_pump_out()),
 *    ipc_conn_serve_fd() serves a blocking or non-blocking fd until EOF.
 *
 * Protocol errors (the parser's exact Redis text) and QUIT queue a final reply and
 * put the connection in the closing state: no more input is executed, and once the
 * output has been flushed the state is IPC_CONN_DONE.
 *
 * Thread safety: a connection is used by one thread at a time. Connections of one
 * environment must be used from one thread (they share its statistics). The counter
 * table is process-shared and safe to use from many processes.
 */
#ifndef IPCSRV_CONN_H
#define IPCSRV_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/error.h"
#include "ipc/resp.h"
#include "ipcsrv/ctab.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of one connection. Zero fields take the defaults shown. */
struct ipc_conn_limits {
    size_t max_bulk;       /* largest bulk argument; default 1 MiB (1 << 20) */
    size_t max_inline;     /* longest inline request line; default 64 KiB */
    size_t max_multibulk;  /* most arguments in one request; default 1048576 */
    size_t max_request;    /* input buffer cap (one whole request must fit);
                              default 2 * max_bulk + 64 KiB */
    size_t out_high_water; /* stop executing commands at this much queued output;
                              default 256 KiB */
};

/* Counters of one environment (one worker), updated by every connection in it. */
struct ipc_conn_stats {
    uint64_t commands;    /* commands executed, error replies included */
    uint64_t connections; /* connections ever created in this environment */
    uint64_t clients;     /* connections currently alive */
    uint64_t bytes_in;    /* bytes fed */
    uint64_t bytes_out;   /* bytes consumed from output buffers */
    uint64_t proto_errors;
};

/* What a set of connections share: caller-allocated and owned, it must outlive every
 * connection created with it. Fill table and limits, zero the rest. */
struct ipc_conn_env {
    ipc_ctab *table; /* counters (ipcsrv/ctab.h), shared by every process; NULL: the
                        counter commands reply "-ERR no counter table" */
    struct ipc_conn_limits limits;
    /* INFO shows these; all optional. */
    const char *server_name; /* default "ipcstorm" */
    unsigned workers;
    unsigned worker_index;
    uint64_t start_ns;           /* CLOCK_MONOTONIC at server start, 0: unknown */
    struct ipc_conn_stats stats; /* maintained by the engine */
};

/* One client connection's protocol engine (opaque). */
typedef struct ipc_conn ipc_conn;

/* Bits of ipc_conn_state() / ipc_conn_pump() results. */
enum {
    IPC_CONN_WANT_READ = 1,  /* input accepted: more bytes may be fed */
    IPC_CONN_WANT_WRITE = 2, /* output is pending */
    IPC_CONN_CLOSING = 4,    /* QUIT, protocol error or EOF: flush the output, then close */
    IPC_CONN_DONE = 8,       /* nothing left to do: close the socket, free the connection */
};

/* Creates a connection bound to env (which it does not own). Returns 0 and *out, or
 * -EINVAL (NULL argument, limits out of range: max_bulk > 512 MiB, max_request below
 * what one max_bulk argument needs), -ENOMEM. Thread-safe; not async-signal-safe. */
IPC_MUST_USE int ipc_conn_new(ipc_conn **out, struct ipc_conn_env *env);

/* Frees the connection and its buffers; NULL is a no-op. Never closes any fd. */
void ipc_conn_free(ipc_conn *conn);

/* Appends up to len bytes of client input and executes every complete request in
 * the buffered input while the output stays below the high-water mark. Returns the
 * number of bytes accepted, which is less than len when the input buffer is full
 * (output above the high-water mark, or a request longer than max_request, which is
 * answered "-ERR Protocol error: too big request" and closes) and 0 once closing.
 * Feed the rest after draining output. -EINVAL for a NULL conn or NULL bytes with
 * len > 0. len == 0 just resumes execution (like ipc_conn_run). */
IPC_MUST_USE long ipc_conn_feed(ipc_conn *conn, const void *bytes, size_t len);

/* Resumes executing buffered requests (after output drained). Returns the state. */
int ipc_conn_run(ipc_conn *conn);

/* Tells the connection the peer will send no more (EOF): buffered complete requests
 * still run, an incomplete tail is dropped, and the state becomes CLOSING once the
 * last of them has run (while output above the high-water mark holds them back,
 * they run as ipc_conn_consume_output drains it; WANT_READ is off from now on). */
void ipc_conn_eof(ipc_conn *conn);

/* Pending reply bytes: *ptr and *len stay valid until the next call on conn. Returns
 * the length; 0 once the connection was dropped (out of memory, socket error): it is
 * then DONE and what it had queued is not to be sent. */
size_t ipc_conn_output(const ipc_conn *conn, const void **ptr, size_t *len);

/* Marks n bytes of the output as sent (n is clamped to what is pending), then resumes
 * executing buffered requests if the output fell below the high-water mark. Returns
 * the new state. */
int ipc_conn_consume_output(ipc_conn *conn, size_t n);

/* Returns the IPC_CONN_* bits: WANT_READ when more input is welcome, WANT_WRITE when
 * output is pending, CLOSING, DONE when closing and flushed. */
int ipc_conn_state(const ipc_conn *conn);

/* Bytes held by the connection's buffers (input + output capacity): what a client
 * can make it allocate. */
size_t ipc_conn_memory(const ipc_conn *conn);

/* One round of I/O on a connected stream socket fd, blocking or not (every call
 * uses MSG_DONTWAIT, so it never blocks): reads what is available while input is
 * welcome, executes, writes the output with MSG_NOSIGNAL until it would block.
 * Returns the IPC_CONN_* state - DONE after EOF, QUIT or a protocol error once the
 * output is flushed, or after a reset/EPIPE - or a negative errno for an unexpected
 * socket error (the connection is then DONE). Poll for the WANT_READ / WANT_WRITE
 * bits between calls. Never closes fd. One thread at a time per connection. */
int ipc_conn_pump(ipc_conn *conn, int fd);

/* ipc_conn_pump in two halves, for an event loop that answers like Redis: first
 * ipc_conn_pump_in on every ready connection (reads what is available while input
 * is welcome and executes it; sends nothing), then ipc_conn_pump_out on each that
 * has output (executes what the high-water mark held back and writes until done or
 * it would block), so a client gets one write per loop iteration with the replies
 * to everything it had sent. Same results and rules as ipc_conn_pump, which is
 * ipc_conn_pump_in followed by ipc_conn_pump_out. */
int ipc_conn_pump_in(ipc_conn *conn, int fd);
int ipc_conn_pump_out(ipc_conn *conn, int fd);

/* Serves fd until the connection is DONE (EOF, QUIT, protocol error, peer reset):
 * creates a connection on env, pumps it (polling when fd is non-blocking) and frees
 * it. Returns 0, -EINVAL, -ENOMEM or a socket error. Never closes fd. Blocking:
 * use it from a thread or child whose peer writes and reads concurrently. */
IPC_MUST_USE int ipc_conn_serve_fd(struct ipc_conn_env *env, int fd);

/* Executes one request given as argv[0..argc) and appends its reply to the
 * connection's output regardless of the high-water mark. Returns 0, 1 when the
 * command asks to close (QUIT: the connection is then CLOSING), -EINVAL for bad
 * arguments (argc < 1, NULL argv, NULL ptr with len > 0), -ENOMEM. */
IPC_MUST_USE int ipc_conn_execute(ipc_conn *conn, int argc, const struct ipc_resp_arg *argv);

#ifdef __cplusplus
}
#endif
#endif
