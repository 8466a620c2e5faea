/* sock_reader.h - the stress drivers' blocking reader over a stream socket: every
 * read waits at most until one absolute deadline (stress_now() clock), so that a
 * server that stops answering becomes an -ETIMEDOUT the driver can report instead
 * of a hung run. One module so that the drivers that talk to a server (supervisor,
 * sock, diff) read the same way; each keeps its own error conventions on top. */
#ifndef IPCSTORM_STRESS_SOCK_READER_H
#define IPCSTORM_STRESS_SOCK_READER_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/sock.h"

struct sock_reader {
    int fd;
    double deadline; /* absolute, stress_now(); the caller moves it per request */
    uint8_t *buf;    /* cap bytes; the unread ones are buf[pos, have) */
    size_t cap, have, pos;
};

/* A reader over the caller's buffer of cap bytes, with fd -1 and no time left:
 * the caller sets fd and deadline. */
void sock_reader_init(struct sock_reader *r, void *buf, size_t cap);

/* A reader with its cap-byte buffer in the same allocation (free() frees both),
 * fd -1 and no time left: the caller sets fd and deadline. NULL on ENOMEM. */
struct sock_reader *sock_reader_new(size_t cap);

/* One recv after waiting for data until the deadline; the unread bytes first move
 * to the front of the buffer. Returns the bytes added (> 0), 0 on EOF, -ENOBUFS
 * when the buffer is full of unread bytes, -ETIMEDOUT at the deadline, or
 * ipc_sock_recv's or poll's error. poll's EINTR and recv's EAGAIN (readiness can be
 * spurious) are waited out; recv's EINTR is not, as ipc_sock_recv promises to
 * retry it. */
int sock_reader_fill(struct sock_reader *r);

/* Exactly n bytes into out: 1, 0 on EOF before any byte, -EPIPE on EOF after some,
 * or sock_reader_fill's error. */
int sock_reader_exact(struct sock_reader *r, void *out, size_t n);

/* One line up to and including the first CRLF (a lone LF is part of the line),
 * NUL-terminated in out: its length; 0 on EOF before any byte, -EPIPE on EOF in
 * the middle, -ENOBUFS when the first cap - 1 bytes hold no CRLF, or
 * sock_reader_fill's error. */
int sock_reader_line(struct sock_reader *r, char *out, size_t cap);

/* One RESP line, strictly: the first LF must end it and follow a CR. Stored without
 * its CRLF, NUL-terminated: returns its length (>= 0); -EPROTO for a lone LF or a
 * line of cap bytes or more, -EPIPE on EOF before the LF, or sock_reader_fill's
 * error (-ENOBUFS: the buffer is full without an LF). */
int sock_reader_resp_line(struct sock_reader *r, char *out, size_t cap);

/* Reads one more byte expecting EOF: 1 on EOF with nothing more, 0 if a byte came
 * (it is consumed), or sock_reader_fill's error (-ECONNRESET is a close too for
 * the callers that say so). */
int sock_reader_eof(struct sock_reader *r);

/* ipc_sock_connect with the drivers' 5 s timeout, then TCP_NODELAY on an IP
 * socket (a request/reply client must not wait for Nagle). The fd or a negative
 * error. */
int stress_sock_connect(const struct ipc_sock_addr *a);

#endif
