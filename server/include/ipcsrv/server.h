/* ipcsrv/server.h - the pre-fork RESP2 server behind `ipcstorm serve`
 * (docs/design.md, "The server").
 *
 * The parent binds the listening sockets (TCP, optionally a Unix stream socket and
 * UDP on the TCP port number), maps the shared counter table (ipcsrv/ctab.h, robust
 * mutex) and a small shared block of client counts, forks N workers and supervises
 * them from an epoll loop over a signal event source (ipc/sig.h) and one framed
 * control pipe per worker (ipc/frame.h):
 *  - SIGCHLD: dead workers are reaped and replaced. A worker killed from outside
 *    (any signal but a crash: SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS,
 *    SIGTRAP, SIGXCPU, SIGXFSZ) or that exited 0 is replaced at once; one that crashed
 *    or exited non-zero within one second of starting doubles its restart delay
 *    (100 ms .. 5 s); a failed fork does too. If no worker at all could be forked,
 *    startup gives up after 5 tries per worker (about 1.5 s).
 *  - While no worker is alive, the supervisor accepts stream clients itself and
 *    answers "-ERR no worker available, try again", then closes: nobody is left
 *    waiting in a listen queue that no process serves.
 *  - SIGTERM / SIGINT: the listeners are closed, SIGTERM is forwarded, workers stop
 *    accepting, flush what they owe (bounded by a deadline) and exit; the parent
 *    waits for all of them, removes the Unix socket path and returns 0.
 *  - SIGUSR1: each worker sends its statistics as one frame on its control pipe;
 *    the parent logs one aggregate line, "stats workers=A/N commands= connections=
 *    clients= bytes_in= bytes_out= protocol_errors= clients_total= table_recoveries=
 *    emfile_drops= accept_pauses=" (new fields are only ever appended). emfile_drops
 *    counts connections a worker out of descriptors accepted with its reserve and
 *    closed at once; accept_pauses the times it took its listeners out of epoll for
 *    100 ms because no reserve could help (none left, or ENFILE/ENOBUFS/ENOMEM).
 *    A worker that does not answer within a second (stopped, stuck) is left out of
 *    that line (A < N); a late answer belongs to its closed round and is dropped,
 *    never added to a later line.
 * Workers run one connection engine (ipcsrv/conn.h) per client in an epoll loop with
 * EPOLLEXCLUSIVE accept, per-client backpressure, a max-clients limit shared by all
 * workers, and an EMFILE reserve descriptor so accept never spins.
 *
 * Process-wide effects (this is a program's main loop, not a library helper):
 * ipc_server_run blocks SIGCHLD, SIGTERM, SIGINT, SIGUSR1 and SIGHUP in the calling
 * thread (they are consumed through signalfd) and forks. Call it from a
 * single-threaded process. Nothing here is async-signal-safe or thread-safe.
 */
#ifndef IPCSRV_SERVER_H
#define IPCSRV_SERVER_H

#include <stddef.h>
#include <stdio.h>

#include "ipc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPC_SERVER_DEFAULT_PORT         6380
#define IPC_SERVER_MAX_WORKERS          256
#define IPC_SERVER_DEFAULT_MAX_CLIENTS  10000
#define IPC_SERVER_DEFAULT_BUSY_POLL_US 50
#define IPC_SERVER_MAX_BUSY_POLL_US     10000

struct ipc_server_options {
    const char *bind;      /* host for TCP/UDP: "127.0.0.1" (NULL), "::1", "localhost" */
    int port;              /* 0..65535; 0 = ephemeral (UDP then uses the TCP port; if
                              that UDP port is taken, another TCP port is picked) */
    const char *unix_path; /* Unix stream socket path ("unix:" prefix optional;
                              "@name" = abstract), NULL for none */
    int udp;               /* also serve UDP on the same port number */
    int no_tcp;            /* serve only the Unix socket */
    unsigned workers;      /* 1..IPC_SERVER_MAX_WORKERS; 0 = online CPUs */
    unsigned max_clients;  /* across all workers; 0 = IPC_SERVER_DEFAULT_MAX_CLIENTS */
    size_t max_bulk;       /* largest bulk argument; 0 = 1 MiB, at most 512 MiB */
    size_t table_capacity; /* counter keys; 0 = IPC_CTAB_DEFAULT_CAPACITY * 16 */
    FILE *log;             /* lifecycle lines; NULL = stderr */
    int quiet;             /* no lifecycle lines (errors still go to log) */
    int busy_poll_us;      /* after a loop iteration that served clients, a worker polls
                              without sleeping this long before it blocks in epoll_wait:
                              a client that sends its next request within that window
                              pays no cross-CPU wakeup of the worker (nor does the worker
                              hand its core to other work for a gap of microseconds).
                              0 = IPC_SERVER_DEFAULT_BUSY_POLL_US, -1 = never spin (block
                              at once, as Redis does), at most
                              IPC_SERVER_MAX_BUSY_POLL_US. Costs at most that much CPU
                              per burst of requests; an idle worker sleeps. */
};

typedef struct ipc_server ipc_server;

/* Validates opts, binds every socket (SO_REUSEADDR; an existing stale Unix socket
 * path is replaced) and maps the shared state. No process is forked yet.
 * Returns 0 with *out; -EINVAL (bad option, NULL), -EADDRINUSE, -EACCES,
 * -EADDRNOTAVAIL, -ENOMEM, -EMFILE. */
IPC_MUST_USE int ipc_server_new(ipc_server **out, const struct ipc_server_options *opts);

/* Writes the bound addresses as one line without newline, e.g.
 * "listening tcp 127.0.0.1:41234 udp 127.0.0.1:41234 unix /tmp/s.sock workers 2".
 * Returns the length, -EINVAL, or -ENOSPC (truncated). */
IPC_MUST_USE int ipc_server_describe(const ipc_server *srv, char *buf, size_t size);

/* The bound TCP port (the ephemeral one when port 0 was asked), or -EINVAL when
 * there is no TCP listener. */
int ipc_server_port(const ipc_server *srv);

/* Forks the workers and supervises them until SIGTERM or SIGINT, then stops them
 * gracefully (see above). Returns 0 after a clean stop (whatever failed before it,
 * failed restarts included), or a negative error if the supervisor could not start
 * (-ENOMEM, -EMFILE) or could fork no worker at all (-EAGAIN...; also logged as
 * "cannot start any worker"). Call once. */
IPC_MUST_USE int ipc_server_run(ipc_server *srv);

/* Closes the sockets, removes the Unix socket path (in the creating process only)
 * and unmaps the shared state. NULL is a no-op. */
void ipc_server_free(ipc_server *srv);

#ifdef __cplusplus
}
#endif
#endif
