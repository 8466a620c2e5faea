/* ipc/sock.h - TCP, UDP and Unix-domain (path and abstract) sockets.
 *
 * Conventions shared by every function here:
 * - Return >= 0 on success (an fd, a byte count or 0) and a negative errno or IPC_E*
 *   code on failure; errno is never left for the caller to read.
 * - Every fd is created close-on-exec atomically (SOCK_CLOEXEC, accept4).
 * - Sends use MSG_NOSIGNAL: a closed peer yields -EPIPE, never SIGPIPE. The library
 *   never changes signal dispositions.
 * - EINTR is retried internally (except close, which is never retried).
 * - Unless stated otherwise, functions are thread-safe (they touch only their
 *   arguments) and fork-safe; none is async-signal-safe except where marked.
 *
 * Address strings accepted by ipc_sock_addr_parse():
 *   "127.0.0.1:6380"      numeric IPv4 (inet_pton) and a port 0..65535 (0 = ephemeral
 *                         on bind); the port is 1 to 5 decimal digits, leading zeros
 *                         allowed; the text has exactly one ':'
 *   "[::1]:6380"          numeric IPv6 in brackets and a port; a scope after '%' is an
 *                         interface name or a decimal number up to 4294967295
 *                         ("[fe80::1%lo]:1", "[fe80::1%2]:1")
 *   "localhost:6380"      the literal name localhost = 127.0.0.1 (no DNS lookup, ever)
 *   "unix:/tmp/x.sock"    a filesystem Unix socket: any non-empty path (relative too)
 *                         shorter than sizeof(sun_path); len counts the path and its NUL
 *   "unix:@name"          a Linux abstract Unix socket (no file; name may not be empty,
 *                         at most sizeof(sun_path) - 1 bytes)
 * Anything else (a host name, a missing or non-decimal port, a port above 65535,
 * leading '+' or spaces, a Unix path that does not fit sun_path) is -EINVAL. The
 * parsed address is exact: every byte of ss past the address itself is zero, so
 * two parses of the same address compare equal with memcmp.
 *
 * Errors under faults (what harnesses/faultsweep.c observed with every seam call
 * of this module failed in turn; the same holds for real failures):
 *   ipc_sock_listen, ipc_sock_bind_dgram, ipc_sock_dgram_open  -EMFILE, -ENFILE,
 *                          -ENOBUFS, -ENOMEM (socket, setsockopt), -EADDRINUSE,
 *                          -EACCES, -EADDRNOTAVAIL (bind, listen), -ENOBUFS
 *                          (getsockname); the fd is closed on failure.
 *   ipc_sock_accept        EINTR retried; -EAGAIN (non-blocking listener),
 *                          -ECONNABORTED, -EMFILE/-ENFILE, -ENOBUFS; a failed accept
 *                          leaves the connection queued for the next one.
 *   ipc_sock_connect       socket's errors, -ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH,
 *                          -EAGAIN (TCP: no local port left), -ENOMEM/-ENOBUFS
 *                          (setsockopt), poll's -ENOMEM; EINTR is retried.
 *   ipc_sock_send_all      EINTR retried, short sends continued (bytes acknowledged
 *                          = bytes delivered); -EPIPE, -ECONNRESET, -ENOBUFS.
 *   ipc_sock_send          EINTR retried; -EAGAIN, -EPIPE, -ECONNRESET, -ENOBUFS.
 *   ipc_sock_recv          EINTR retried; -EAGAIN (non-blocking, nothing to read),
 *                          -ECONNRESET.
 *   ipc_sock_sendto        -EAGAIN, -ENOBUFS, -ECONNREFUSED.
 *   ipc_sock_recvfrom      EINTR retried; -EAGAIN, -ECONNREFUSED (connected socket);
 *                          a failed call consumes no datagram.
 *   ipc_sock_set_nodelay   -ENOMEM/-ENOBUFS (setsockopt).  ipc_sock_local_addr
 *                          -ENOBUFS (getsockname).  ipc_sock_set_nonblock cannot
 *                          fail on an open fd.  The address helpers make no call.
 */
#ifndef IPC_SOCK_H
#define IPC_SOCK_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "ipc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A parsed socket address. Plain value: copy it freely, no resources owned.
 * family is AF_INET, AF_INET6 or AF_UNIX; len is the length to pass to bind/connect
 * (for abstract Unix names it counts exactly the name bytes, no trailing NUL). */
struct ipc_sock_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    int family;
};

/* Buffer size that always fits ipc_sock_addr_format()'s output (incl. the NUL). */
#define IPC_SOCK_ADDRSTRLEN 128

/* Flags for listen/bind/connect/accept/dgram_open (bitwise OR; unknown bits -> -EINVAL). */
#define IPC_SOCK_NONBLOCK  0x1u /* returned fd is O_NONBLOCK */
#define IPC_SOCK_REUSEPORT 0x2u /* SO_REUSEPORT before bind (several listeners, one port) */
#define IPC_SOCK_V6ONLY    0x4u /* IPV6_V6ONLY on an AF_INET6 socket ("[::]" without v4) */
/* Before binding a filesystem Unix path: if the path exists, is a socket and nobody
 * accepts on it (connect gives ECONNREFUSED), unlink it. Anything else at the path
 * (a live socket, a regular file) still yields -EADDRINUSE. */
#define IPC_SOCK_UNLINK_STALE 0x8u

/* Parses text (see the header comment) into *out. Returns 0, or -EINVAL for NULL
 * arguments or any text not in the accepted forms. *out is zeroed on failure. */
IPC_MUST_USE int ipc_sock_addr_parse(struct ipc_sock_addr *out, const char *text);

/* Builds an IP address from a host without port and a separate port, as the CLI's
 * `--bind ADDR --port P` do: host is "127.0.0.1", "::1", "[::1]" or "localhost";
 * port 0..65535. A host starting with "unix:" is parsed as a Unix address and port
 * is ignored. Returns 0 or -EINVAL. */
IPC_MUST_USE int ipc_sock_addr_from_host_port(struct ipc_sock_addr *out, const char *host,
                                              int port);

/* Formats an address back into the ipc_sock_addr_parse() syntax ("127.0.0.1:6380",
 * "[::1]:6380", "unix:/path", "unix:@name"; an unnamed Unix peer is "unix:").
 * Returns the string length (excluding the NUL), -EINVAL for a NULL/unknown-family
 * address or a NULL buf with size > 0, or -ENOSPC if size is too small (buf then
 * holds a truncated string when size > 0). Bytes of an abstract name outside
 * printable ASCII print as '?'; otherwise the text parses back to the same address
 * (an IPv6 scope prints as its interface's name, or as its number when no
 * interface has it). */
IPC_MUST_USE int ipc_sock_addr_format(const struct ipc_sock_addr *addr, char *buf, size_t size);

/* Returns the port (0..65535) of an IPv4/IPv6 address, -EINVAL for Unix or NULL. */
IPC_MUST_USE int ipc_sock_addr_port(const struct ipc_sock_addr *addr);

/* Creates a SOCK_STREAM socket (TCP or Unix stream), applies SO_REUSEADDR (TCP
 * only, so a restarted server can rebind while old connections sit in TIME_WAIT) and
 * the requested flags, binds it to addr and listens with backlog (<= 0: SOMAXCONN).
 * If bound is non-NULL it receives the actual address (getsockname): the ephemeral
 * port when addr's port was 0. Returns the listening fd (caller closes it; for a
 * filesystem path the caller also removes the path, see ipc_sock_unlink).
 * Errors: -EINVAL (bad argument/flags), -EADDRINUSE, -EACCES, -EADDRNOTAVAIL (e.g.
 * ::1 without IPv6), -EAFNOSUPPORT, -EMFILE/-ENFILE. */
IPC_MUST_USE int ipc_sock_listen(const struct ipc_sock_addr *addr, int backlog, unsigned flags,
                                 struct ipc_sock_addr *bound);

/* Creates a SOCK_DGRAM socket (UDP or Unix datagram) bound to addr, with the
 * flags (SO_REUSEADDR is not set: on UDP it would let two servers share a port
 * silently). bound as in ipc_sock_listen. Returns the fd; errors as ipc_sock_listen. */
IPC_MUST_USE int ipc_sock_bind_dgram(const struct ipc_sock_addr *addr, unsigned flags,
                                     struct ipc_sock_addr *bound);

/* Creates an unconnected SOCK_DGRAM client socket of family AF_INET, AF_INET6 or
 * AF_UNIX. An AF_UNIX socket is autobound to a unique abstract name so that a
 * server can reply to it with ipc_sock_sendto(). flags: IPC_SOCK_NONBLOCK only.
 * Returns the fd, -EINVAL, -EAFNOSUPPORT, -EMFILE/-ENFILE. */
IPC_MUST_USE int ipc_sock_dgram_open(int family, unsigned flags);

/* accept4() with SOCK_CLOEXEC, plus SOCK_NONBLOCK when flags has IPC_SOCK_NONBLOCK
 * (the usual choice for an event loop). peer may be NULL. Returns the new fd (caller
 * closes it). Errors worth handling: -EAGAIN (no pending connection on a
 * non-blocking listener), -ECONNABORTED (peer gone before accept: just retry),
 * -EMFILE/-ENFILE (out of fds: the connection stays queued, so back off rather than
 * spin). */
IPC_MUST_USE int ipc_sock_accept(int listen_fd, unsigned flags, struct ipc_sock_addr *peer);

/* Creates a socket of type SOCK_STREAM or SOCK_DGRAM and connects it to addr,
 * waiting at most timeout_ms milliseconds (< 0: no limit; 0: fail with -ETIMEDOUT
 * unless the connection completes at once). TCP connects non-blocking and waits
 * with poll + SO_ERROR; a Unix stream connect to a listener whose backlog is full
 * waits for room (blocking connect bounded by SO_SNDTIMEO). The fd is left blocking
 * unless flags has IPC_SOCK_NONBLOCK. For SOCK_DGRAM this only fixes the default
 * peer. Returns the connected fd. Errors: -ETIMEDOUT, -ECONNREFUSED (nobody listening; also a Unix
 * path whose socket is not listening), -ENOENT (Unix path missing), -ENETUNREACH,
 * -EINVAL, -EMFILE/-ENFILE. */
IPC_MUST_USE int ipc_sock_connect(const struct ipc_sock_addr *addr, int type, int timeout_ms,
                                  unsigned flags);

/* One send(MSG_NOSIGNAL) attempt (EINTR retried): returns the bytes sent (possibly
 * fewer than len), -EAGAIN on a full non-blocking socket, -EPIPE/-ECONNRESET when the
 * peer is gone. For event loops. Async-signal-safe. */
IPC_MUST_USE ssize_t ipc_sock_send(int fd, const void *buf, size_t len);

/* Sends all len bytes, looping over partial sends and EINTR; on a non-blocking
 * socket it waits with poll() for writability instead of returning -EAGAIN. Returns
 * len, or a negative error (-EPIPE or -ECONNRESET: peer gone; bytes already sent are
 * not reported). len 0 returns 0 without a syscall. */
IPC_MUST_USE ssize_t ipc_sock_send_all(int fd, const void *buf, size_t len);

/* One recv() (EINTR retried): returns the bytes read (> 0), 0 on orderly EOF (peer
 * closed its write side), -EAGAIN on an empty non-blocking socket, -ECONNRESET etc.
 * len 0 returns -EINVAL (0 must mean EOF). Async-signal-safe. */
IPC_MUST_USE ssize_t ipc_sock_recv(int fd, void *buf, size_t len);

/* sendto(MSG_NOSIGNAL) of one datagram; to == NULL sends on a connected socket.
 * Returns len (datagrams are never partial), -EMSGSIZE (too big for the transport),
 * -EAGAIN, -ECONNREFUSED (an earlier datagram on a connected UDP socket was
 * refused), -ENOENT/-ECONNREFUSED (Unix peer gone). */
IPC_MUST_USE ssize_t ipc_sock_sendto(int fd, const void *buf, size_t len,
                                     const struct ipc_sock_addr *to);

/* Receives one datagram into buf; from (may be NULL) receives the sender's
 * address. Returns its length; -EMSGSIZE if it was longer than len (the datagram
 * is consumed and its first len bytes are in buf); -EAGAIN on an empty non-blocking
 * socket. A zero-length datagram returns 0 (it is not EOF for datagrams).
 * SOCK_DGRAM sockets only: it passes MSG_TRUNC, which on TCP would discard data. */
IPC_MUST_USE ssize_t ipc_sock_recvfrom(int fd, void *buf, size_t len, struct ipc_sock_addr *from);

/* Sets (on != 0) or clears O_NONBLOCK. Returns 0 or -EBADF/-EINVAL. */
IPC_MUST_USE int ipc_sock_set_nonblock(int fd, int on);

/* Sets TCP_NODELAY (small replies leave at once). Returns 0, -EOPNOTSUPP on a non-TCP
 * socket, -EBADF. */
IPC_MUST_USE int ipc_sock_set_nodelay(int fd, int on);

/* getsockname()/getpeername() into *out. Returns 0 or a negative errno
 * (-ENOTCONN for the peer of an unconnected socket). */
IPC_MUST_USE int ipc_sock_local_addr(int fd, struct ipc_sock_addr *out);
IPC_MUST_USE int ipc_sock_peer_addr(int fd, struct ipc_sock_addr *out);

/* Removes the filesystem path of a Unix address (the server's cleanup at exit).
 * Returns 1 if a path was removed, 0 if there was nothing to remove (an IP or
 * abstract address, or the path is already gone), a negative errno otherwise
 * (-EACCES...). It unlinks only if the path is a socket (-ENOTSOCK otherwise), so a
 * mistyped --unix cannot delete a regular file. Async-signal-safe. */
IPC_MUST_USE int ipc_sock_unlink(const struct ipc_sock_addr *addr);

#ifdef __cplusplus
}
#endif
#endif
