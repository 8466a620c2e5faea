/* sock_addr - fuzz target for the socket address parser and formatter (ipc/sock.h).
 *
 * Targets: ipc_sock_addr_parse, ipc_sock_addr_from_host_port, ipc_sock_addr_format,
 * ipc_sock_addr_port.
 *
 * Input: bytes 0-1 = the port handed to ipc_sock_addr_from_host_port (little
 * endian; byte 2 bit 0 set: 65536 + that, out of range), byte 2 = flags (bit 1:
 * also build an address from the following bytes and format it), then the
 * address text (up to the first NUL).
 *
 * Invariants (abort on violation):
 *  - the oracle: a model of the address grammar written here from sock.h's header
 *    ("127.0.0.1:6380", "[::1]:6380" with an optional scope, "localhost:6380",
 *    "unix:/path" shorter than sun_path, "unix:@name" not empty; a port is 1 to 5
 *    decimal digits up to 65535, a numeric scope up to 4294967295; anything else
 *    is -EINVAL) decides the same way as
 *    ipc_sock_addr_parse and builds the same address: family, length and every
 *    byte of the sockaddr; a failed parse leaves *out all zero;
 *  - ipc_sock_addr_from_host_port(text, port) agrees with the model of the CLI's
 *    --bind/--port rule ("unix:" as parse; port outside 0..65535 refused; "[v6]",
 *    a host with ':' as IPv6, otherwise IPv4 or localhost);
 *  - ipc_sock_addr_format gives the model's text (inet_ntop, "[...]" and scope for
 *    IPv6, '?' for an abstract name's unprintable bytes), -ENOSPC exactly when the
 *    buffer lacks room for the NUL (a truncated, terminated string then), and
 *    that text parses back to the same address when no byte was replaced - also
 *    for addresses built from input bytes (any IPv6 scope id, any port);
 *  - ipc_sock_addr_port is the model's port, -EINVAL for Unix addresses.
 */
// libfuzzer-options: max_len=256
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "fuzz_util.h"
#include "ipc/sock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)0)->sun_path)

/* ---- the model ----------------------------------------------------------------- */

/* 1 to 5 decimal digits, at most 65535; -1 otherwise. */
FUZZ_NOCOV static int model_port(const char *s, size_t n)
{
    if (n < 1 || n > 5)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 65535 ? (int)v : -1;
}

FUZZ_NOCOV static int model_unix(struct ipc_sock_addr *m, const char *rest)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&m->ss;
    size_t n = strlen(rest), off = offsetof(struct sockaddr_un, sun_path);
    if (rest[0] == '@') {
        /* abstract: a zero byte, then the name; the length delimits it */
        if (n - 1 < 1 || n - 1 > SUN_PATH_SIZE - 1)
            return -1;
        memcpy(sun->sun_path + 1, rest + 1, n - 1);
        m->len = (socklen_t)(off + n);
    } else {
        /* a path, with its NUL inside sun_path */
        if (n < 1 || n + 1 > SUN_PATH_SIZE)
            return -1;
        memcpy(sun->sun_path, rest, n);
        m->len = (socklen_t)(off + n + 1);
    }
    sun->sun_family = AF_UNIX;
    m->family = AF_UNIX;
    return 0;
}

/* host[0..hlen) as an IPv6 address with an optional "%scope" (a number up to
 * 65535 or an interface name). */
FUZZ_NOCOV static int model_ip6(struct ipc_sock_addr *m, const char *host, size_t hlen, int port)
{
    char addr[128], scope[128] = "";
    const char *pct = memchr(host, '%', hlen);
    size_t alen = pct ? (size_t)(pct - host) : hlen;
    if (alen >= sizeof(addr) || (pct && hlen - alen - 1 >= sizeof(scope)))
        return -1;
    memcpy(addr, host, alen);
    addr[alen] = '\0';
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&m->ss;
    if (pct) {
        memcpy(scope, pct + 1, hlen - alen - 1);
        scope[hlen - alen - 1] = '\0';
        /* a decimal number up to 4294967295, else an interface name */
        size_t dn = strspn(scope, "0123456789");
        unsigned long long num = dn > 0 && dn <= 10 && !scope[dn] ? strtoull(scope, NULL, 10) : 0;
        bool numeric = dn > 0 && dn <= 10 && !scope[dn] && num <= UINT32_MAX;
        if (dn > 0 && !scope[dn] && !numeric)
            return -1;
        unsigned idx = numeric ? (unsigned)num : scope[0] ? if_nametoindex(scope) : 0;
        if (!numeric && idx == 0)
            return -1;
        s6->sin6_scope_id = idx;
    }
    if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
        return -1;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    m->family = AF_INET6;
    m->len = sizeof(*s6);
    return 0;
}

FUZZ_NOCOV static int model_ip4(struct ipc_sock_addr *m, const char *host, size_t hlen, int port)
{
    char h[64];
    if (hlen >= sizeof(h))
        return -1;
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    struct sockaddr_in *s4 = (struct sockaddr_in *)&m->ss;
    if (strcmp(h, "localhost") == 0)
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, h, &s4->sin_addr) != 1)
        return -1;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    m->family = AF_INET;
    m->len = sizeof(*s4);
    return 0;
}

/* The model's parse: 0 and *m filled, or -1 and *m all zero. */
FUZZ_NOCOV static int model_parse(struct ipc_sock_addr *m, const char *t)
{
    memset(m, 0, sizeof(*m));
    int rc = -1;
    if (strncmp(t, "unix:", 5) == 0) {
        rc = model_unix(m, t + 5);
    } else if (t[0] == '[') {
        const char *rb = strchr(t, ']');
        int port = rb && rb[1] == ':' ? model_port(rb + 2, strlen(rb + 2)) : -1;
        if (port >= 0 && rb > t + 1)
            rc = model_ip6(m, t + 1, (size_t)(rb - t - 1), port);
    } else {
        /* host:port with exactly one ':' (a bare IPv6 address needs brackets) */
        const char *colon = strchr(t, ':');
        int port = colon && !strchr(colon + 1, ':') ? model_port(colon + 1, strlen(colon + 1)) : -1;
        if (port >= 0 && colon > t)
            rc = model_ip4(m, t, (size_t)(colon - t), port);
    }
    if (rc < 0)
        memset(m, 0, sizeof(*m));
    return rc;
}

/* The CLI's --bind HOST --port P. */
FUZZ_NOCOV static int model_host_port(struct ipc_sock_addr *m, const char *host, long port)
{
    if (strncmp(host, "unix:", 5) == 0)
        return model_parse(m, host);
    memset(m, 0, sizeof(*m));
    size_t n = strlen(host);
    int rc = -1;
    if (port >= 0 && port <= 65535 && n > 0) {
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
            rc = model_ip6(m, host + 1, n - 2, (int)port);
        else if (strchr(host, ':'))
            rc = model_ip6(m, host, n, (int)port);
        else
            rc = model_ip4(m, host, n, (int)port);
    }
    if (rc < 0)
        memset(m, 0, sizeof(*m));
    return rc;
}

/* The text ipc_sock_addr_format must give; *replaced tells whether an
 * unprintable byte of an abstract name became '?'. */
FUZZ_NOCOV static void model_format(const struct ipc_sock_addr *m, char *out, size_t cap,
                                    int *replaced)
{
    *replaced = 0;
    char ip[INET6_ADDRSTRLEN];
    if (m->family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&m->ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, ntohs(s4->sin_port));
    } else if (m->family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&m->ss;
        char scope[IF_NAMESIZE + 16] = "", ifn[IF_NAMESIZE];
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        /* a scope by its interface's name, by number when no interface has it */
        if (s6->sin6_scope_id && if_indextoname(s6->sin6_scope_id, ifn))
            snprintf(scope, sizeof(scope), "%%%s", ifn);
        else if (s6->sin6_scope_id)
            snprintf(scope, sizeof(scope), "%%%u", s6->sin6_scope_id);
        snprintf(out, cap, "[%s%s]:%u", ip, scope, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)&m->ss;
        size_t plen = m->len - offsetof(struct sockaddr_un, sun_path), k = 0;
        k += (size_t)snprintf(out, cap, "unix:");
        if (sun->sun_path[0] == '\0') {
            out[k++] = '@';
            for (size_t i = 1; i < plen; i++) {
                unsigned char c = (unsigned char)sun->sun_path[i];
                *replaced |= c < 0x20 || c >= 0x7f;
                out[k++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
            }
        } else {
            for (size_t i = 0; i + 1 < plen; i++)
                out[k++] = sun->sun_path[i];
        }
        out[k] = '\0';
    }
}

/* ---- the checks ---------------------------------------------------------------- */

FUZZ_NOCOV static void same_addr(const struct ipc_sock_addr *got, const struct ipc_sock_addr *want)
{
    FUZZ_CHECK(got->family == want->family && got->len == want->len);
    FUZZ_CHECK(memcmp(&got->ss, &want->ss, sizeof(got->ss)) == 0);
}

/* format against the model, at the exact sizes around the text's length, and the
 * text parsed back. */
FUZZ_NOCOV static void check_format(const struct ipc_sock_addr *a)
{
    char want[IPC_SOCK_ADDRSTRLEN + 16], got[IPC_SOCK_ADDRSTRLEN + 16];
    int replaced;
    model_format(a, want, sizeof(want), &replaced);
    int len = (int)strlen(want);
    FUZZ_CHECK(len < IPC_SOCK_ADDRSTRLEN);
    FUZZ_CHECK(ipc_sock_addr_format(a, got, sizeof(got)) == len && strcmp(got, want) == 0);
    /* one byte short of the NUL: -ENOSPC, the text cut by one, terminated */
    memset(got, 'x', sizeof(got));
    FUZZ_CHECK(ipc_sock_addr_format(a, got, (size_t)len) == -ENOSPC);
    FUZZ_CHECK(len == 0 || (memcmp(got, want, (size_t)len - 1) == 0 && got[len - 1] == '\0'));
    FUZZ_CHECK(ipc_sock_addr_format(a, got, (size_t)len + 1) == len && strcmp(got, want) == 0);
    FUZZ_CHECK(ipc_sock_addr_format(a, NULL, 0) == -ENOSPC);
    if (!replaced) {
        struct ipc_sock_addr back;
        FUZZ_CHECK(ipc_sock_addr_parse(&back, want) == 0);
        same_addr(&back, a);
    }
}

FUZZ_NOCOV static void check_port(const struct ipc_sock_addr *a)
{
    int want = -EINVAL;
    if (a->family == AF_INET)
        want = ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    else if (a->family == AF_INET6)
        want = ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    FUZZ_CHECK(ipc_sock_addr_port(a) == want);
}

/* An address built from bytes (an IPv6 address, any scope id, any port; or an
 * IPv4 one): its text is the model's and parses back to the same bytes. */
FUZZ_NOCOV static void check_synthetic(const uint8_t *data, size_t size)
{
    struct ipc_sock_addr a;
    memset(&a, 0, sizeof(a));
    uint8_t b[22] = {0};
    memcpy(b, data, size < sizeof(b) ? size : sizeof(b));
    if (b[0] & 1) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, b + 2, 16);
        memcpy(&s6->sin6_port, b + 18, 2);
        s6->sin6_scope_id = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | b[1];
        a.family = AF_INET6;
        a.len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&a.ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, b + 2, 4);
        memcpy(&s4->sin_port, b + 6, 2);
        a.family = AF_INET;
        a.len = sizeof(*s4);
    }
    check_format(&a);
    check_port(&a);
}

FUZZ_NOCOV static void api_edges(void)
{
    struct ipc_sock_addr a;
    char buf[8];
    CONTRACT(ipc_sock_addr_parse(NULL, "127.0.0.1:1"), -EINVAL);
    CONTRACT(ipc_sock_addr_parse(&a, NULL), -EINVAL);
    CONTRACT(ipc_sock_addr_from_host_port(NULL, "127.0.0.1", 1), -EINVAL);
    CONTRACT(ipc_sock_addr_from_host_port(&a, NULL, 1), -EINVAL);
    CONTRACT(ipc_sock_addr_format(NULL, buf, sizeof(buf)), -EINVAL);
    CONTRACT(ipc_sock_addr_parse(&a, "127.0.0.1:1"), 0);
    CONTRACT(ipc_sock_addr_format(&a, NULL, 1), -EINVAL);
    CONTRACT(ipc_sock_addr_port(NULL), -EINVAL);
    memset(&a, 0, sizeof(a));
    a.family = AF_APPLETALK;
    CONTRACT(ipc_sock_addr_format(&a, buf, sizeof(buf)), -EINVAL);
    CONTRACT(ipc_sock_addr_port(&a), -EINVAL);
}

FUZZ_NOCOV int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) {
        if (size == 1)
            api_edges();
        return 0;
    }
    long port = (long)data[0] | (long)data[1] << 8;
    if (data[2] & 1)
        port += 65536;
    char text[300];
    size_t n = size - 3 < sizeof(text) - 1 ? size - 3 : sizeof(text) - 1;
    memcpy(text, data + 3, n);
    text[n] = '\0'; /* the text is what a C caller can pass: up to its first NUL */

    struct ipc_sock_addr got, want;
    memset(&got, 0xa5, sizeof(got)); /* the parser must clear it, success or not */
    int r = ipc_sock_addr_parse(&got, text);
    int m = model_parse(&want, text);
    if (r != (m == 0 ? 0 : -EINVAL))
        fprintf(stderr, "sock_addr: parse('%s') = %d, the model says %s\n", text, r,
                m == 0 ? "valid" : "-EINVAL");
    FUZZ_CHECK(r == (m == 0 ? 0 : -EINVAL));
    same_addr(&got, &want);
    check_port(&got);
    if (r == 0)
        check_format(&got);

    if (data[2] & 2)
        check_synthetic(data + 3, size - 3);

    memset(&got, 0xa5, sizeof(got));
    r = ipc_sock_addr_from_host_port(&got, text, (int)port);
    m = model_host_port(&want, text, port);
    FUZZ_CHECK(r == (m == 0 ? 0 : -EINVAL));
    same_addr(&got, &want);
    if (r == 0)
        check_format(&got);
    return 0;
}
