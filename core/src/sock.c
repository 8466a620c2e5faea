/* sock.c - TCP, UDP and Unix-domain sockets (see ipc/sock.h). */
#include "ipc/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SUN_OFF offsetof(struct sockaddr_un, sun_path)
#define SUN_MAX sizeof(((struct sockaddr_un *)0)->sun_path)
#define KNOWN_FLAGS                                                                                \
    (IPC_SOCK_NONBLOCK | IPC_SOCK_REUSEPORT | IPC_SOCK_V6ONLY | IPC_SOCK_UNLINK_STALE)

/* ---- addresses ----------------------------------------------------------- */

/* Port: 1..5 decimal digits, value <= 65535, nothing else (no sign, no spaces). */
static int parse_port(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5)
        return -EINVAL;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v > 65535 ? -EINVAL : (int)v;
}

static int parse_unix(struct ipc_sock_addr *out, const char *rest)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->ss;
    size_t n = strlen(rest);
    sun->sun_family = AF_UNIX;
    out->family = AF_UNIX;
    if (rest[0] == '@') {
        /* Abstract: sun_path[0] = 0, then exactly the name bytes; the length, not a
         * NUL, delimits the name, so no trailing NUL is counted. */
        if (n < 2 || n - 1 > SUN_MAX - 1)
            return -EINVAL;
        sun->sun_path[0] = '\0';
        memcpy(sun->sun_path + 1, rest + 1, n - 1);
        out->len = (socklen_t)(SUN_OFF + n);
        return 0;
    }
    if (n == 0 || n >= SUN_MAX)
        return -EINVAL;
    memcpy(sun->sun_path, rest, n + 1);
    out->len = (socklen_t)(SUN_OFF + n + 1);
    return 0;
}

static int parse_ip6(struct ipc_sock_addr *out, const char *host, size_t hlen, int port)
{
    char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    if (hlen == 0 || hlen >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, host, hlen);
    tmp[hlen] = '\0';
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->ss;
    char *pct = strchr(tmp, '%');
    if (pct) {
        *pct++ = '\0';
        if (*pct == '\0')
            return -EINVAL;
        /* A number (any uint32: what ipc_sock_addr_format prints for an index
         * without a name), else an interface name. */
        size_t dn = strspn(pct, "0123456789");
        uint64_t idx = 0;
        if (pct[dn] == '\0' && dn <= 10) {
            for (size_t i = 0; i < dn; i++)
                idx = idx * 10 + (uint64_t)(pct[i] - '0');
            if (idx > UINT32_MAX)
                return -EINVAL;
        } else if ((idx = if_nametoindex(pct)) == 0) {
            return -EINVAL;
        }
        s6->sin6_scope_id = (uint32_t)idx;
    }
    if (inet_pton(AF_INET6, tmp, &s6->sin6_addr) != 1)
        return -EINVAL;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    out->family = AF_INET6;
    out->len = sizeof(*s6);
    return 0;
}

static int parse_ip4(struct ipc_sock_addr *out, const char *host, size_t hlen, int port)
{
    char tmp[INET_ADDRSTRLEN];
    if (hlen == 0 || hlen >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, host, hlen);
    tmp[hlen] = '\0';
    struct sockaddr_in *s4 = (struct sockaddr_in *)&out->ss;
    if (strcmp(tmp, "localhost") == 0)
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, tmp, &s4->sin_addr) != 1)
        return -EINVAL;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    out->family = AF_INET;
    out->len = sizeof(*s4);
    return 0;
}

static int addr_parse(struct ipc_sock_addr *out, const char *text)
{
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(out, text + 5);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        int port = parse_port(close + 2);
        if (port < 0)
            return port;
        return parse_ip6(out, text + 1, (size_t)(close - text - 1), port);
    }
    const char *colon = strrchr(text, ':');
    if (!colon || memchr(text, ':', (size_t)(colon - text)))
        return -EINVAL; /* no port, or a bare IPv6 address without brackets */
    int port = parse_port(colon + 1);
    if (port < 0)
        return port;
    return parse_ip4(out, text, (size_t)(colon - text), port);
}

int ipc_sock_addr_parse(struct ipc_sock_addr *out, const char *text)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (!text)
        return -EINVAL;
    int rc = addr_parse(out, text);
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

int ipc_sock_addr_from_host_port(struct ipc_sock_addr *out, const char *host, int port)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (!host)
        return -EINVAL;
    if (strncmp(host, "unix:", 5) == 0)
        return ipc_sock_addr_parse(out, host);
    if (port < 0 || port > 65535)
        return -EINVAL;
    size_t n = strlen(host);
    int rc;
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        rc = parse_ip6(out, host + 1, n - 2, port);
    else if (memchr(host, ':', n))
        rc = parse_ip6(out, host, n, port);
    else
        rc = parse_ip4(out, host, n, port);
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* Structural validity of an address handed to bind/connect. */
static int addr_ok(const struct ipc_sock_addr *a)
{
    if (!a || a->ss.ss_family != a->family)
        return 0;
    switch (a->family) {
    case AF_INET:
        return a->len == sizeof(struct sockaddr_in);
    case AF_INET6:
        return a->len == sizeof(struct sockaddr_in6);
    case AF_UNIX:
        return a->len > SUN_OFF && a->len <= sizeof(struct sockaddr_un);
    default:
        return 0;
    }
}

int ipc_sock_addr_format(const struct ipc_sock_addr *addr, char *buf, size_t size)
{
    if (!addr || (!buf && size > 0))
        return -EINVAL;
    char tmp[IPC_SOCK_ADDRSTRLEN + 8];
    int n;
    switch (addr->family) {
    case AF_INET: {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&addr->ss;
        char ip[INET_ADDRSTRLEN];
        if (!inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)))
            return -EINVAL;
        n = snprintf(tmp, sizeof(tmp), "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&addr->ss;
        char ip[INET6_ADDRSTRLEN], scope[IF_NAMESIZE + 12] = "";
        if (!inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip)))
            return -EINVAL;
        if (s6->sin6_scope_id) {
            char ifn[IF_NAMESIZE];
            if (if_indextoname(s6->sin6_scope_id, ifn))
                snprintf(scope, sizeof(scope), "%%%s", ifn);
            else
                snprintf(scope, sizeof(scope), "%%%u", (unsigned)s6->sin6_scope_id);
        }
        n = snprintf(tmp, sizeof(tmp), "[%s%s]:%u", ip, scope, (unsigned)ntohs(s6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)&addr->ss;
        size_t plen = addr->len > SUN_OFF ? addr->len - SUN_OFF : 0;
        if (plen > SUN_MAX)
            plen = SUN_MAX;
        memcpy(tmp, "unix:", 5);
        n = 5;
        if (plen > 0 && sun->sun_path[0] == '\0') {
            tmp[n++] = '@';
            for (size_t i = 1; i < plen; i++) {
                unsigned char c = (unsigned char)sun->sun_path[i];
                tmp[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
            }
        } else if (plen > 0) {
            size_t l = strnlen(sun->sun_path, plen);
            memcpy(tmp + n, sun->sun_path, l);
            n += (int)l;
        }
        tmp[n] = '\0';
        break;
    }
    default:
        return -EINVAL;
    }
    if (n < 0)
        return -EINVAL;
    if (size > 0) {
        size_t c = (size_t)n < size ? (size_t)n : size - 1;
        memcpy(buf, tmp, c);
        buf[c] = '\0';
    }
    return (size_t)n < size ? n : -ENOSPC;
}

int ipc_sock_addr_port(const struct ipc_sock_addr *addr)
{
    if (!addr)
        return -EINVAL;
    if (addr->family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&addr->ss)->sin_port);
    if (addr->family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&addr->ss)->sin6_port);
    return -EINVAL;
}

static int name_of(int fd, struct ipc_sock_addr *out, int peer)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    socklen_t sl = sizeof(out->ss);
    int rc = peer ? getpeername(fd, (struct sockaddr *)&out->ss, &sl)
                  : ipc__sys_getsockname(fd, (struct sockaddr *)&out->ss, &sl);
    if (rc < 0)
        return ipc__neg_errno();
    if (sl < sizeof(sa_family_t)) {
        /* An unnamed Unix socket may report no address at all. */
        out->ss.ss_family = AF_UNIX;
        sl = sizeof(sa_family_t);
    }
    out->len = sl;
    out->family = out->ss.ss_family;
    return 0;
}

int ipc_sock_local_addr(int fd, struct ipc_sock_addr *out)
{
    return name_of(fd, out, 0);
}

int ipc_sock_peer_addr(int fd, struct ipc_sock_addr *out)
{
    return name_of(fd, out, 1);
}

/* ---- socket creation ----------------------------------------------------- */

static int is_unix_path(const struct ipc_sock_addr *a)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
    return a->family == AF_UNIX && a->len > SUN_OFF && sun->sun_path[0] != '\0';
}

/* NUL-terminated copy of a path address (the stored one may lack the NUL if the
 * caller built the struct by hand with a full sun_path). */
static int unix_path(const struct ipc_sock_addr *a, char out[SUN_MAX + 1])
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
    size_t l = strnlen(sun->sun_path, a->len - SUN_OFF);
    memcpy(out, sun->sun_path, l);
    out[l] = '\0';
    return 0;
}

/* Removes a socket file nobody listens on, so a crashed server can restart. */
static void unlink_stale(const struct ipc_sock_addr *a)
{
    char path[SUN_MAX + 1];
    struct stat st;
    unix_path(a, path);
    if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return;
    int fd = ipc__sys_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return;
    int rc = ipc__sys_connect(fd, (const struct sockaddr *)&a->ss, a->len);
    int err = rc < 0 ? errno : 0; /* errno means nothing after a success */
    close(fd);
    if (err == ECONNREFUSED)
        (void)unlink(path);
}

static int open_bound(const struct ipc_sock_addr *addr, int type, unsigned flags)
{
    if (!addr_ok(addr) || (flags & ~(unsigned)KNOWN_FLAGS))
        return -EINVAL;
    int fd = ipc__sys_socket(
        addr->family, type | SOCK_CLOEXEC | ((flags & IPC_SOCK_NONBLOCK) ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return ipc__neg_errno();
    int one = 1, rc = 0;
    int ip = addr->family == AF_INET || addr->family == AF_INET6;
    if (ip && type == SOCK_STREAM)
        rc = ipc__sys_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (rc == 0 && ip && (flags & IPC_SOCK_REUSEPORT))
        rc = ipc__sys_setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (rc == 0 && addr->family == AF_INET6 && (flags & IPC_SOCK_V6ONLY))
        rc = ipc__sys_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (rc == 0 && (flags & IPC_SOCK_UNLINK_STALE) && is_unix_path(addr))
        unlink_stale(addr);
    if (rc == 0)
        rc = ipc__sys_bind(fd, (const struct sockaddr *)&addr->ss, addr->len);
    if (rc < 0) {
        int err = ipc__neg_errno();
        close(fd);
        return err;
    }
    return fd;
}

/* Best-effort removal of a path this module just bound, on a later failure. */
static void drop_path(const struct ipc_sock_addr *addr)
{
    int ignored = ipc_sock_unlink(addr);
    (void)ignored;
}

int ipc_sock_listen(const struct ipc_sock_addr *addr, int backlog, unsigned flags,
                    struct ipc_sock_addr *bound)
{
    int fd = open_bound(addr, SOCK_STREAM, flags);
    if (fd < 0)
        return fd;
    int rc = ipc__sys_listen(fd, backlog <= 0 ? SOMAXCONN : backlog);
    if (rc == 0 && bound)
        rc = ipc_sock_local_addr(fd, bound);
    else if (rc < 0)
        rc = ipc__neg_errno();
    if (rc < 0) {
        if (is_unix_path(addr))
            drop_path(addr); /* we created it: do not leave it behind */
        close(fd);
        return rc;
    }
    return fd;
}

int ipc_sock_bind_dgram(const struct ipc_sock_addr *addr, unsigned flags,
                        struct ipc_sock_addr *bound)
{
    int fd = open_bound(addr, SOCK_DGRAM, flags);
    if (fd < 0 || !bound)
        return fd;
    int rc = ipc_sock_local_addr(fd, bound);
    if (rc < 0) {
        if (is_unix_path(addr))
            drop_path(addr);
        close(fd);
        return rc;
    }
    return fd;
}

int ipc_sock_dgram_open(int family, unsigned flags)
{
    if ((family != AF_INET && family != AF_INET6 && family != AF_UNIX) ||
        (flags & ~(unsigned)IPC_SOCK_NONBLOCK))
        return -EINVAL;
    int fd = ipc__sys_socket(
        family, SOCK_DGRAM | SOCK_CLOEXEC | ((flags & IPC_SOCK_NONBLOCK) ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return ipc__neg_errno();
    if (family == AF_UNIX) {
        /* Binding just the family asks the kernel for a unique abstract name
         * (autobind), without which the server could not address its reply. */
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (ipc__sys_bind(fd, (struct sockaddr *)&sun, sizeof(sa_family_t)) < 0) {
            int err = ipc__neg_errno();
            close(fd);
            return err;
        }
    }
    return fd;
}

int ipc_sock_accept(int listen_fd, unsigned flags, struct ipc_sock_addr *peer)
{
    if (listen_fd < 0 || (flags & ~(unsigned)IPC_SOCK_NONBLOCK))
        return -EINVAL;
    struct ipc_sock_addr tmp;
    struct ipc_sock_addr *a = peer ? peer : &tmp;
    memset(a, 0, sizeof(*a));
    socklen_t sl = sizeof(a->ss);
    int fd = IPC__RETRY(
        ipc__sys_accept4(listen_fd, (struct sockaddr *)&a->ss, &sl,
                         SOCK_CLOEXEC | ((flags & IPC_SOCK_NONBLOCK) ? SOCK_NONBLOCK : 0)));
    if (fd < 0)
        return ipc__neg_errno();
    if (sl < sizeof(sa_family_t)) {
        a->ss.ss_family = AF_UNIX; /* unnamed Unix client */
        sl = sizeof(sa_family_t);
    }
    a->len = sl;
    a->family = a->ss.ss_family;
    return fd;
}

/* Waits for events on fd, restarting after EINTR with the time left. Returns >0
 * when ready, 0 on timeout, negative errno on error. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    int64_t deadline = timeout_ms >= 0 ? ipc__now_ms() + timeout_ms : 0;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int left = -1;
        if (timeout_ms >= 0) {
            int64_t d = deadline - ipc__now_ms();
            left = d > 0 ? (int)d : 0;
        }
        int rc = ipc__sys_poll(&pfd, 1, left);
        if (rc >= 0)
            return rc;
        if (errno != EINTR)
            return ipc__neg_errno();
    }
}

/* A Unix stream connect to a listener whose backlog is full fails at once with
 * EAGAIN when non-blocking, and there is nothing to poll for; a blocking connect
 * waits for room instead, bounded by SO_SNDTIMEO. Returns 0 or a negative errno. */
static int unix_stream_connect(int fd, const struct ipc_sock_addr *addr, int timeout_ms)
{
    int64_t deadline = ipc__now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int left = timeout_ms;
        if (timeout_ms > 0) {
            int64_t d = deadline - ipc__now_ms();
            if (d <= 0)
                return -ETIMEDOUT;
            left = (int)d;
        }
        /* SO_SNDTIMEO 0 means "forever", so a zero timeout stays non-blocking. */
        if (ipc_sock_set_nonblock(fd, timeout_ms == 0) < 0)
            return ipc__neg_errno();
        struct timeval tv = {0, 0};
        if (left > 0) {
            tv.tv_sec = left / 1000;
            tv.tv_usec = (left % 1000) * 1000;
        }
        if (ipc__sys_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
            return ipc__neg_errno();
        int rc = ipc__sys_connect(fd, (const struct sockaddr *)&addr->ss, addr->len);
        int err = rc < 0 ? errno : 0;
        struct timeval zero = {0, 0};
        (void)ipc__sys_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof(zero));
        if (rc == 0)
            return 0;
        if (err == EINTR)
            continue;      /* a signal: retry with the time left */
        if (err == EAGAIN) /* full backlog, or SO_SNDTIMEO ran out (never EINPROGRESS) */
            return -ETIMEDOUT;
        return -err;
    }
}

int ipc_sock_connect(const struct ipc_sock_addr *addr, int type, int timeout_ms, unsigned flags)
{
    if (!addr_ok(addr) || (type != SOCK_STREAM && type != SOCK_DGRAM) ||
        (flags & ~(unsigned)IPC_SOCK_NONBLOCK))
        return -EINVAL;
    int fd = ipc__sys_socket(addr->family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return ipc__neg_errno();
    int rc;
    if (addr->family == AF_UNIX && type == SOCK_STREAM) {
        rc = unix_stream_connect(fd, addr, timeout_ms);
    } else {
        rc = ipc__sys_connect(fd, (const struct sockaddr *)&addr->ss, addr->len);
        if (rc < 0 && (errno == EINPROGRESS || errno == EINTR)) {
            /* EINTR leaves the connect running in the background: wait for it the
             * same way as for EINPROGRESS. */
            rc = wait_fd(fd, POLLOUT, timeout_ms);
            if (rc == 0) {
                rc = -ETIMEDOUT;
            } else if (rc > 0) {
                int soerr = 0;
                socklen_t sl = sizeof(soerr);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                    rc = ipc__neg_errno();
                else
                    rc = soerr ? -soerr : 0;
            }
        } else if (rc < 0) {
            rc = ipc__neg_errno();
        }
    }
    if (rc == 0)
        rc = ipc_sock_set_nonblock(fd, (flags & IPC_SOCK_NONBLOCK) != 0);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* ---- data transfer ------------------------------------------------------- */

ssize_t ipc_sock_send(int fd, const void *buf, size_t len)
{
    if (!buf && len > 0)
        return -EINVAL;
    ssize_t n = IPC__RETRY(ipc__sys_send(fd, buf, len, MSG_NOSIGNAL));
    return n < 0 ? ipc__neg_errno() : n;
}

ssize_t ipc_sock_send_all(int fd, const void *buf, size_t len)
{
    if ((!buf && len > 0) || len > (size_t)SSIZE_MAX)
        return -EINVAL;
    const char *p = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t n = ipc__sys_send(fd, p, left, MSG_NOSIGNAL);
        if (n >= 0) {
            p += n;
            left -= (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return ipc__neg_errno();
        int rc = wait_fd(fd, POLLOUT, -1);
        if (rc < 0)
            return rc;
    }
    return (ssize_t)len;
}

ssize_t ipc_sock_recv(int fd, void *buf, size_t len)
{
    if (!buf || len == 0)
        return -EINVAL;
    ssize_t n = IPC__RETRY(ipc__sys_recv(fd, buf, len, 0));
    return n < 0 ? ipc__neg_errno() : n;
}

ssize_t ipc_sock_sendto(int fd, const void *buf, size_t len, const struct ipc_sock_addr *to)
{
    if ((!buf && len > 0) || (to && !addr_ok(to)))
        return -EINVAL;
    ssize_t n =
        IPC__RETRY(ipc__sys_sendto(fd, buf, len, MSG_NOSIGNAL,
                                   to ? (const struct sockaddr *)&to->ss : NULL, to ? to->len : 0));
    return n < 0 ? ipc__neg_errno() : n;
}

ssize_t ipc_sock_recvfrom(int fd, void *buf, size_t len, struct ipc_sock_addr *from)
{
    if ((!buf && len > 0) || len > (size_t)SSIZE_MAX)
        return -EINVAL;
    struct ipc_sock_addr tmp;
    struct ipc_sock_addr *a = from ? from : &tmp;
    memset(a, 0, sizeof(*a));
    socklen_t sl = sizeof(a->ss);
    /* MSG_TRUNC makes the kernel report the datagram's real length, so a
     * truncated request is detected instead of parsed as if whole. */
    ssize_t n =
        IPC__RETRY(ipc__sys_recvfrom(fd, buf, len, MSG_TRUNC, (struct sockaddr *)&a->ss, &sl));
    if (n < 0)
        return ipc__neg_errno();
    if (sl < sizeof(sa_family_t)) {
        a->ss.ss_family = AF_UNIX; /* an unbound Unix datagram sender */
        sl = sizeof(sa_family_t);
    }
    a->len = sl;
    a->family = a->ss.ss_family;
    return (size_t)n > len ? -EMSGSIZE : n;
}

/* ---- options and cleanup ------------------------------------------------- */

int ipc_sock_set_nonblock(int fd, int on)
{
    /* fd < 0 gives -EBADF, as fcntl itself would report. */
    return ipc__fd_set_nonblock(fd, on);
}

int ipc_sock_set_nodelay(int fd, int on)
{
    int v = on ? 1 : 0;
    if (ipc__sys_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) < 0)
        return ipc__neg_errno();
    return 0;
}

int ipc_sock_unlink(const struct ipc_sock_addr *addr)
{
    if (!addr)
        return -EINVAL;
    if (addr->family != AF_UNIX || addr->len <= SUN_OFF || !is_unix_path(addr))
        return 0;
    if (addr->len > sizeof(struct sockaddr_un))
        return -EINVAL;
    char path[SUN_MAX + 1];
    struct stat st;
    unix_path(addr, path);
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : ipc__neg_errno();
    if (!S_ISSOCK(st.st_mode))
        return -ENOTSOCK;
    if (unlink(path) < 0)
        return errno == ENOENT ? 0 : ipc__neg_errno();
    return 1;
}
