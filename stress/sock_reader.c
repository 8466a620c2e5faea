/* sock_reader.c - the stress drivers' blocking socket reader with a deadline (see
 * sock_reader.h). */
#include "sock_reader.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "common.h"

void sock_reader_init(struct sock_reader *r, void *buf, size_t cap)
{
    *r = (struct sock_reader){.fd = -1, .buf = buf, .cap = cap};
}

struct sock_reader *sock_reader_new(size_t cap)
{
    struct sock_reader *r = malloc(sizeof(*r) + cap);
    if (r)
        sock_reader_init(r, r + 1, cap);
    return r;
}

int sock_reader_fill(struct sock_reader *r)
{
    if (r->pos > 0) { /* keep the unread bytes at the front: room for more */
        memmove(r->buf, r->buf + r->pos, r->have - r->pos);
        r->have -= r->pos;
        r->pos = 0;
    }
    if (r->have == r->cap)
        return -ENOBUFS;
    for (;;) {
        double left = r->deadline - stress_now();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        /* +1 ms: poll rounds down, and a wait that ends just short of the deadline
         * would only spin once more. */
        int ready = poll(&p, 1, (int)(left * 1000) + 1);
        if (ready < 0 && errno != EINTR)
            return -errno;
        if (ready <= 0)
            continue;
        ssize_t n = ipc_sock_recv(r->fd, r->buf + r->have, r->cap - r->have);
        if (n == -EAGAIN)
            continue;
        if (n > 0)
            r->have += (size_t)n;
        return (int)n;
    }
}

int sock_reader_exact(struct sock_reader *r, void *out, size_t n)
{
    uint8_t *dst = out;
    size_t got = 0;
    while (got < n) {
        if (r->pos == r->have) {
            int k = sock_reader_fill(r);
            if (k <= 0)
                return k == 0 ? (got ? -EPIPE : 0) : k;
        }
        size_t k = r->have - r->pos < n - got ? r->have - r->pos : n - got;
        memcpy(dst + got, r->buf + r->pos, k);
        r->pos += k;
        got += k;
    }
    return 1;
}

/* Offset (from pos) just past the first CRLF within the first `limit` unread
 * bytes, or 0 when there is none. */
static size_t crlf_end(const struct sock_reader *r, size_t limit)
{
    const uint8_t *p = r->buf + r->pos;
    for (size_t i = 1; i < limit; i++) {
        const uint8_t *lf = memchr(p + i, '\n', limit - i);
        if (!lf)
            return 0;
        i = (size_t)(lf - p);
        if (p[i - 1] == '\r')
            return i + 1;
    }
    return 0;
}

/* Moves the first n unread bytes to out (cap > n) and NUL-terminates them. */
static void take(struct sock_reader *r, char *out, size_t n)
{
    memcpy(out, r->buf + r->pos, n);
    out[n] = '\0';
    r->pos += n;
}

int sock_reader_line(struct sock_reader *r, char *out, size_t cap)
{
    size_t limit = cap ? cap - 1 : 0; /* room for the NUL */
    for (;;) {
        size_t unread = r->have - r->pos;
        size_t scan = unread < limit ? unread : limit;
        size_t end = crlf_end(r, scan);
        if (end) {
            take(r, out, end);
            return (int)end;
        }
        if (unread >= limit) {
            if (limit)
                take(r, out, limit); /* consumed, as a byte-wise reader would have */
            return -ENOBUFS;
        }
        int k = sock_reader_fill(r);
        if (k <= 0) {
            /* The partial line is consumed too: the stream position after an error
             * is the same as a byte-wise reader's. */
            take(r, out, unread);
            return k == 0 ? (unread ? -EPIPE : 0) : k;
        }
    }
}

int sock_reader_resp_line(struct sock_reader *r, char *out, size_t cap)
{
    for (;;) {
        const uint8_t *p = r->buf + r->pos;
        const uint8_t *lf = memchr(p, '\n', r->have - r->pos);
        if (lf) {
            size_t len = (size_t)(lf - p);
            if (len == 0 || p[len - 1] != '\r' || len - 1 >= cap)
                return -EPROTO;
            take(r, out, len - 1);
            r->pos += 2; /* the CRLF */
            return (int)(len - 1);
        }
        int k = sock_reader_fill(r);
        if (k <= 0)
            return k == 0 ? -EPIPE : k;
    }
}

int sock_reader_eof(struct sock_reader *r)
{
    uint8_t c;
    int k = sock_reader_exact(r, &c, 1);
    return k == 0 ? 1 : k < 0 ? k : 0;
}

int stress_sock_connect(const struct ipc_sock_addr *a)
{
    int fd = ipc_sock_connect(a, SOCK_STREAM, 5000, 0);
    if (fd >= 0 && a->family != AF_UNIX)
        stress_ignore(ipc_sock_set_nodelay(fd, 1));
    return fd;
}
