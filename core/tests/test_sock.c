/* test_sock.c - unit tests of ipc/sock.h over real loopback and Unix sockets. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "testutil.h"

#include "ipc/error.h"
#include "ipc/sock.h"

#define SUN_OFF offsetof(struct sockaddr_un, sun_path)

static void assert_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    assert_true(fl >= 0);
    assert_true(fl & FD_CLOEXEC);
}

static int is_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0);
    return (fl & O_NONBLOCK) != 0;
}

static void roundtrip_fmt(const char *text, const char *expect, int family)
{
    struct ipc_sock_addr a;
    char out[IPC_SOCK_ADDRSTRLEN];
    IPCT_OK(ipc_sock_addr_parse(&a, text));
    assert_int_equal(a.family, family);
    assert_int_equal(a.ss.ss_family, family);
    int n = ipc_sock_addr_format(&a, out, sizeof(out));
    assert_int_equal(n, (int)strlen(expect));
    assert_string_equal(out, expect);
}

static void test_addr_parse_good(void **state)
{
    (void)state;
    struct ipc_sock_addr a;
    roundtrip_fmt("127.0.0.1:6380", "127.0.0.1:6380", AF_INET);
    roundtrip_fmt("0.0.0.0:65535", "0.0.0.0:65535", AF_INET);
    roundtrip_fmt("localhost:0", "127.0.0.1:0", AF_INET);
    roundtrip_fmt("[::1]:6380", "[::1]:6380", AF_INET6);
    roundtrip_fmt("[::]:0", "[::]:0", AF_INET6);
    roundtrip_fmt("[2001:db8::42]:1", "[2001:db8::42]:1", AF_INET6);
    roundtrip_fmt("unix:/tmp/x.sock", "unix:/tmp/x.sock", AF_UNIX);
    roundtrip_fmt("unix:@abstract", "unix:@abstract", AF_UNIX);

    IPCT_OK(ipc_sock_addr_parse(&a, "127.0.0.1:6380"));
    assert_int_equal(a.len, sizeof(struct sockaddr_in));
    assert_int_equal(ipc_sock_addr_port(&a), 6380);
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a.ss;
    assert_int_equal(ntohl(s4->sin_addr.s_addr), 0x7f000001);

    IPCT_OK(ipc_sock_addr_parse(&a, "[::1]:7"));
    assert_int_equal(a.len, sizeof(struct sockaddr_in6));
    assert_int_equal(ipc_sock_addr_port(&a), 7);

    /* path: length counts the NUL; abstract: exactly the name bytes, no NUL */
    IPCT_OK(ipc_sock_addr_parse(&a, "unix:/tmp/x.sock"));
    assert_int_equal(a.len, SUN_OFF + strlen("/tmp/x.sock") + 1);
    assert_int_equal(ipc_sock_addr_port(&a), -EINVAL);
    IPCT_OK(ipc_sock_addr_parse(&a, "unix:@abstract"));
    assert_int_equal(a.len, SUN_OFF + 1 + strlen("abstract"));
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.ss;
    assert_int_equal(sun->sun_path[0], '\0');
    assert_memory_equal(sun->sun_path + 1, "abstract", 8);

    /* the longest path that fits sun_path with its NUL */
    char text[300];
    size_t maxp = sizeof(sun->sun_path) - 1;
    strcpy(text, "unix:/");
    memset(text + 6, 'p', maxp - 1);
    text[5 + maxp] = '\0';
    IPCT_OK(ipc_sock_addr_parse(&a, text));
    char out[IPC_SOCK_ADDRSTRLEN];
    assert_int_equal(ipc_sock_addr_format(&a, out, sizeof(out)), (int)strlen(text));
    assert_string_equal(out, text);

    /* host + separate port, as --bind/--port */
    IPCT_OK(ipc_sock_addr_from_host_port(&a, "127.0.0.1", 0));
    assert_int_equal(a.family, AF_INET);
    IPCT_OK(ipc_sock_addr_from_host_port(&a, "::1", 6380));
    assert_int_equal(a.family, AF_INET6);
    assert_int_equal(ipc_sock_addr_port(&a), 6380);
    IPCT_OK(ipc_sock_addr_from_host_port(&a, "[::1]", 1));
    assert_int_equal(a.family, AF_INET6);
    IPCT_OK(ipc_sock_addr_from_host_port(&a, "localhost", 5));
    assert_int_equal(a.family, AF_INET);
    IPCT_OK(ipc_sock_addr_from_host_port(&a, "unix:@h", 99999));
    assert_int_equal(a.family, AF_UNIX);
}

static void test_addr_parse_bad(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:65536",
        "127.0.0.1:123456",
        "127.0.0.1:-1",
        "127.0.0.1:+1",
        "127.0.0.1: 1",
        "127.0.0.1:1 ",
        "127.0.0.1:0x10",
        " 127.0.0.1:1",
        "256.0.0.1:1",
        "1.2.3:5",
        "example.com:80",
        "::1:80",
        "[::1]",
        "[::1]80",
        "[::1]:",
        "[::1:80",
        "[]:80",
        "[127.0.0.1]:80",
        "unix:",
        "unix:@",
        "tcp://127.0.0.1:1",
        ":80",
        "UNIX:/tmp/x",
    };
    struct ipc_sock_addr a;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = ipc_sock_addr_parse(&a, bad[i]);
        if (rc != -EINVAL)
            fail_msg("'%s' parsed (rc %d)", bad[i], rc);
        assert_int_equal(a.family, 0);
        assert_int_equal(a.len, 0);
    }
    assert_int_equal(ipc_sock_addr_parse(&a, NULL), -EINVAL);
    assert_int_equal(ipc_sock_addr_parse(NULL, "127.0.0.1:1"), -EINVAL);

    /* one byte too long for sun_path, path and abstract */
    char text[300];
    size_t sunmax = sizeof(((struct sockaddr_un *)0)->sun_path);
    strcpy(text, "unix:/");
    memset(text + 6, 'p', sunmax - 1);
    text[5 + sunmax] = '\0';
    assert_int_equal(ipc_sock_addr_parse(&a, text), -EINVAL);
    strcpy(text, "unix:@");
    memset(text + 6, 'p', sunmax);
    text[6 + sunmax] = '\0';
    assert_int_equal(ipc_sock_addr_parse(&a, text), -EINVAL);
    text[6 + sunmax - 1] = '\0'; /* 107 name bytes fit */
    IPCT_OK(ipc_sock_addr_parse(&a, text));

    assert_int_equal(ipc_sock_addr_from_host_port(&a, "127.0.0.1", 65536), -EINVAL);
    assert_int_equal(ipc_sock_addr_from_host_port(&a, "127.0.0.1", -1), -EINVAL);
    assert_int_equal(ipc_sock_addr_from_host_port(&a, "127.0.0.1:5", 5), -EINVAL);
    assert_int_equal(ipc_sock_addr_from_host_port(&a, "host.example", 5), -EINVAL);
    assert_int_equal(ipc_sock_addr_from_host_port(&a, NULL, 5), -EINVAL);

    /* formatter: truncation is reported, NULL/unknown rejected */
    char small[8];
    IPCT_OK(ipc_sock_addr_parse(&a, "127.0.0.1:6380"));
    assert_int_equal(ipc_sock_addr_format(&a, small, sizeof(small)), -ENOSPC);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(ipc_sock_addr_format(NULL, small, sizeof(small)), -EINVAL);
    struct ipc_sock_addr zero = {0};
    assert_int_equal(ipc_sock_addr_format(&zero, small, sizeof(small)), -EINVAL);
}

/* listen on text, connect, accept, exchange in both directions; returns 0 or
 * the skip reason's errno (no IPv6 on this host). */
static int stream_roundtrip(const char *text)
{
    struct ipc_sock_addr a, bound, peer;
    IPCT_OK(ipc_sock_addr_parse(&a, text));
    int lfd = ipc_sock_listen(&a, 16, 0, &bound);
    if (lfd == -EADDRNOTAVAIL || lfd == -EAFNOSUPPORT)
        return -lfd;
    IPCT_OK(lfd);
    assert_cloexec(lfd);
    assert_int_equal(bound.family, a.family);
    if (a.family != AF_UNIX) {
        assert_int_equal(ipc_sock_addr_port(&a), 0);
        assert_true(ipc_sock_addr_port(&bound) > 0); /* the ephemeral port is reported */
    }

    /* a non-blocking listener with nothing pending says EAGAIN */
    IPCT_OK(ipc_sock_set_nonblock(lfd, 1));
    assert_int_equal(ipc_sock_accept(lfd, IPC_SOCK_NONBLOCK, NULL), -EAGAIN);
    IPCT_OK(ipc_sock_set_nonblock(lfd, 0));

    int cfd = ipc_sock_connect(&bound, SOCK_STREAM, 2000, 0);
    IPCT_OK(cfd);
    assert_cloexec(cfd);
    assert_false(is_nonblock(cfd));
    int sfd = ipc_sock_accept(lfd, IPC_SOCK_NONBLOCK, &peer);
    IPCT_OK(sfd);
    assert_cloexec(sfd);
    assert_true(is_nonblock(sfd));
    assert_int_equal(peer.family, a.family);
    if (a.family != AF_UNIX) {
        struct ipc_sock_addr local;
        IPCT_OK(ipc_sock_local_addr(cfd, &local));
        assert_int_equal(ipc_sock_addr_port(&local), ipc_sock_addr_port(&peer));
        IPCT_OK(ipc_sock_set_nodelay(cfd, 1));
    } else {
        assert_int_equal(ipc_sock_set_nodelay(cfd, 1), -EOPNOTSUPP);
    }

    char big[200000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7 + 3);
    /* client -> server, larger than socket buffers: send_all must loop on partial
     * sends while the reader drains the other end, so do it from a child. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ssize_t n = ipc_sock_send_all(cfd, big, sizeof(big));
        ipc__exit_child(n == (ssize_t)sizeof(big) ? 0 : 1);
    }
    char got[sizeof(big)];
    size_t have = 0;
    while (have < sizeof(got)) {
        struct pollfd pfd = {.fd = sfd, .events = POLLIN};
        assert_true(poll(&pfd, 1, 5000) == 1);
        ssize_t n = ipc_sock_recv(sfd, got + have, sizeof(got) - have);
        if (n == -EAGAIN)
            continue;
        IPCT_OK(n);
        assert_true(n > 0);
        have += (size_t)n;
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_memory_equal(got, big, sizeof(big));

    /* server -> client through a non-blocking fd: send_all waits instead of EAGAIN */
    assert_int_equal(ipc_sock_send_all(sfd, "pong", 4), 4);
    char r[8];
    assert_int_equal(ipc_sock_recv(cfd, r, sizeof(r)), 4);
    assert_memory_equal(r, "pong", 4);
    assert_int_equal(ipc_sock_recv(sfd, r, sizeof(r)), -EAGAIN);
    assert_int_equal(ipc_sock_recv(cfd, r, 0), -EINVAL);

    /* EOF is 0, distinct from errors */
    close(cfd);
    struct pollfd pfd = {.fd = sfd, .events = POLLIN};
    assert_true(poll(&pfd, 1, 5000) == 1);
    assert_int_equal(ipc_sock_recv(sfd, r, sizeof(r)), 0);
    close(sfd);
    close(lfd);
    return 0;
}

static void test_tcp4_roundtrip(void **state)
{
    (void)state;
    assert_int_equal(stream_roundtrip("127.0.0.1:0"), 0);
}

static void test_tcp6_roundtrip(void **state)
{
    (void)state;
    int rc = stream_roundtrip("[::1]:0");
    if (rc)
        skip(); /* no IPv6 loopback in this sandbox */
}

static void test_unix_path_stream(void **state)
{
    (void)state;
    char text[128];
    snprintf(text, sizeof(text), "unix:/tmp/ipct-sock-%d.sock", (int)getpid());
    struct ipc_sock_addr a;
    IPCT_OK(ipc_sock_addr_parse(&a, text));
    assert_int_equal(ipc_sock_unlink(&a), 0); /* nothing there yet */
    assert_int_equal(stream_roundtrip(text), 0);

    /* closing the listener leaves the file: a plain rebind fails, the stale flag
     * removes it because nobody listens any more */
    struct stat st;
    assert_int_equal(lstat(text + 5, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(ipc_sock_listen(&a, 0, 0, NULL), -EADDRINUSE);
    int lfd = ipc_sock_listen(&a, 0, IPC_SOCK_UNLINK_STALE, NULL);
    IPCT_OK(lfd);
    /* ... but a live listener is never removed */
    assert_int_equal(ipc_sock_listen(&a, 0, IPC_SOCK_UNLINK_STALE, NULL), -EADDRINUSE);
    int cfd = ipc_sock_connect(&a, SOCK_STREAM, 1000, 0);
    IPCT_OK(cfd);
    close(cfd);
    close(lfd);

    assert_int_equal(ipc_sock_unlink(&a), 1);
    assert_int_equal(ipc_sock_unlink(&a), 0);
    assert_int_equal(lstat(text + 5, &st), -1);
    assert_int_equal(ipc_sock_connect(&a, SOCK_STREAM, 1000, 0), -ENOENT);

    /* unlink refuses to delete something that is not a socket */
    int ffd = open(text + 5, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(ffd >= 0);
    close(ffd);
    assert_int_equal(ipc_sock_unlink(&a), -ENOTSOCK);
    assert_int_equal(ipc_sock_listen(&a, 0, IPC_SOCK_UNLINK_STALE, NULL), -EADDRINUSE);
    assert_int_equal(unlink(text + 5), 0);

    /* IP and abstract addresses have nothing to unlink */
    IPCT_OK(ipc_sock_addr_parse(&a, "unix:@x"));
    assert_int_equal(ipc_sock_unlink(&a), 0);
    IPCT_OK(ipc_sock_addr_parse(&a, "127.0.0.1:1"));
    assert_int_equal(ipc_sock_unlink(&a), 0);
    assert_int_equal(ipc_sock_unlink(NULL), -EINVAL);
}

static void test_unix_abstract_stream(void **state)
{
    (void)state;
    char text[128];
    snprintf(text, sizeof(text), "unix:@ipct-sock-%d", (int)getpid());
    assert_int_equal(stream_roundtrip(text), 0);

    /* the bound address formats back to the same text */
    struct ipc_sock_addr a, bound;
    IPCT_OK(ipc_sock_addr_parse(&a, text));
    int lfd = ipc_sock_listen(&a, 0, 0, &bound);
    IPCT_OK(lfd);
    char out[IPC_SOCK_ADDRSTRLEN];
    IPCT_OK(ipc_sock_addr_format(&bound, out, sizeof(out)));
    assert_string_equal(out, text);
    assert_int_equal(ipc_sock_listen(&a, 0, 0, NULL), -EADDRINUSE);
    close(lfd);
}

static void dgram_roundtrip(const char *text, int family)
{
    struct ipc_sock_addr a, bound, from, from2;
    IPCT_OK(ipc_sock_addr_parse(&a, text));
    int sfd = ipc_sock_bind_dgram(&a, 0, &bound);
    IPCT_OK(sfd);
    assert_cloexec(sfd);
    if (family != AF_UNIX)
        assert_true(ipc_sock_addr_port(&bound) > 0);
    int cfd = ipc_sock_dgram_open(family, 0);
    IPCT_OK(cfd);
    assert_cloexec(cfd);

    assert_int_equal(ipc_sock_sendto(cfd, "hello", 5, &bound), 5);
    char buf[64];
    assert_int_equal(ipc_sock_recvfrom(sfd, buf, sizeof(buf), &from), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(from.family, family);
    /* reply to whoever sent it (an autobound abstract name for Unix) */
    assert_int_equal(ipc_sock_sendto(sfd, "Message Received!", 17, &from), 17);
    assert_int_equal(ipc_sock_recvfrom(cfd, buf, sizeof(buf), &from2), 17);
    assert_memory_equal(buf, "Message Received!", 17);
    char f1[IPC_SOCK_ADDRSTRLEN], f2[IPC_SOCK_ADDRSTRLEN];
    IPCT_OK(ipc_sock_addr_format(&bound, f1, sizeof(f1)));
    IPCT_OK(ipc_sock_addr_format(&from2, f2, sizeof(f2)));
    assert_string_equal(f1, f2);

    /* a datagram larger than the buffer is reported, not silently cut */
    char big[100];
    memset(big, 'b', sizeof(big));
    assert_int_equal(ipc_sock_sendto(cfd, big, sizeof(big), &bound), (ssize_t)sizeof(big));
    assert_int_equal(ipc_sock_recvfrom(sfd, buf, 10, NULL), -EMSGSIZE);
    /* empty datagram: 0, not EOF */
    assert_int_equal(ipc_sock_sendto(cfd, "", 0, &bound), 0);
    assert_int_equal(ipc_sock_recvfrom(sfd, buf, sizeof(buf), NULL), 0);
    IPCT_OK(ipc_sock_set_nonblock(sfd, 1));
    assert_int_equal(ipc_sock_recvfrom(sfd, buf, sizeof(buf), NULL), -EAGAIN);

    /* a connected datagram socket: sendto with NULL */
    int kfd = ipc_sock_connect(&bound, SOCK_DGRAM, 1000, 0);
    IPCT_OK(kfd);
    assert_int_equal(ipc_sock_sendto(kfd, "c", 1, NULL), 1);
    struct pollfd pfd = {.fd = sfd, .events = POLLIN};
    assert_true(poll(&pfd, 1, 5000) == 1);
    assert_int_equal(ipc_sock_recvfrom(sfd, buf, sizeof(buf), NULL), 1);
    close(kfd);
    close(cfd);
    close(sfd);
    if (family == AF_UNIX)
        assert_true(ipc_sock_unlink(&a) >= 0);
}

static void test_udp_roundtrip(void **state)
{
    (void)state;
    dgram_roundtrip("127.0.0.1:0", AF_INET);
    struct ipc_sock_addr a;
    IPCT_OK(ipc_sock_addr_parse(&a, "[::1]:0"));
    int fd = ipc_sock_bind_dgram(&a, 0, NULL);
    if (fd >= 0) {
        close(fd);
        dgram_roundtrip("[::1]:0", AF_INET6);
    }
}

static void test_unix_dgram_roundtrip(void **state)
{
    (void)state;
    char text[128];
    snprintf(text, sizeof(text), "unix:@ipct-dg-%d", (int)getpid());
    dgram_roundtrip(text, AF_UNIX);
    snprintf(text, sizeof(text), "unix:/tmp/ipct-dg-%d.sock", (int)getpid());
    dgram_roundtrip(text, AF_UNIX);
    struct stat st;
    assert_int_equal(lstat(text + 5, &st), -1); /* removed by ipc_sock_unlink */
}

static void test_connect_refused_and_timeout(void **state)
{
    (void)state;
    struct ipc_sock_addr a, bound;
    IPCT_OK(ipc_sock_addr_parse(&a, "127.0.0.1:0"));
    int lfd = ipc_sock_listen(&a, 0, 0, &bound);
    IPCT_OK(lfd);
    close(lfd); /* the port is now closed: connect is refused, not timed out */
    assert_int_equal(ipc_sock_connect(&bound, SOCK_STREAM, 2000, 0), -ECONNREFUSED);

    /* A TCP listener whose accept queue is full drops SYNs, so a connect to it can
     * only time out. backlog 1 admits at most 2 queued connections. */
    lfd = ipc_sock_listen(&a, 1, 0, &bound);
    IPCT_OK(lfd);
    int fds[8], n = 0, timed_out = 0;
    while (n < 8) {
        /* Generous: an admitted connect needs a softirq to run, which a loaded
         * 2-core box may delay; only the one refused connect waits it out. */
        int fd = ipc_sock_connect(&bound, SOCK_STREAM, 1000, 0);
        if (fd == -ETIMEDOUT) {
            timed_out = 1;
            break;
        }
        IPCT_OK(fd);
        fds[n++] = fd;
    }
    assert_true(timed_out);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    close(lfd);

    /* Unix stream: a full backlog times out too (blocking connect + SO_SNDTIMEO) */
    char text[128];
    snprintf(text, sizeof(text), "unix:@ipct-full-%d", (int)getpid());
    IPCT_OK(ipc_sock_addr_parse(&a, text));
    lfd = ipc_sock_listen(&a, 1, 0, NULL);
    IPCT_OK(lfd);
    n = 0;
    timed_out = 0;
    while (n < 8) {
        int fd = ipc_sock_connect(&a, SOCK_STREAM, 100, 0);
        if (fd == -ETIMEDOUT) {
            timed_out = 1;
            break;
        }
        IPCT_OK(fd);
        fds[n++] = fd;
    }
    assert_true(timed_out);
    /* zero timeout fails at once instead of waiting */
    assert_int_equal(ipc_sock_connect(&a, SOCK_STREAM, 0, 0), -ETIMEDOUT);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    close(lfd);
    IPCT_OK(ipc_sock_addr_parse(&a, text));
    assert_int_equal(ipc_sock_connect(&a, SOCK_STREAM, 100, 0), -ECONNREFUSED);
}

/* With SIGPIPE at its default (terminate) disposition, a send to a closed peer must
 * come back as -EPIPE instead of killing the process. */
static void epipe_case(const char *text)
{
    struct ipc_sock_addr a, bound;
    IPCT_OK(ipc_sock_addr_parse(&a, text));
    int lfd = ipc_sock_listen(&a, 0, 0, &bound);
    IPCT_OK(lfd);
    int cfd = ipc_sock_connect(&bound, SOCK_STREAM, 1000, 0);
    IPCT_OK(cfd);
    int sfd = ipc_sock_accept(lfd, 0, NULL);
    IPCT_OK(sfd);
    close(sfd);
    ssize_t rc = 0;
    char buf[4096] = {0};
    /* TCP: the first send may still succeed (the peer answers it with RST) */
    for (int i = 0; i < 100 && rc >= 0; i++)
        rc = ipc_sock_send_all(cfd, buf, sizeof(buf));
    assert_true(rc == -EPIPE || rc == -ECONNRESET);
    rc = ipc_sock_send(cfd, buf, 1);
    assert_true(rc == -EPIPE || rc == -ECONNRESET);
    close(cfd);
    close(lfd);
}

static void test_epipe_no_signal(void **state)
{
    (void)state;
    struct sigaction old, dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    assert_int_equal(sigaction(SIGPIPE, &dfl, &old), 0);
    epipe_case("127.0.0.1:0");
    char text[128];
    snprintf(text, sizeof(text), "unix:@ipct-pipe-%d", (int)getpid());
    epipe_case(text);
    assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
}

static void test_reuseport_and_args(void **state)
{
    (void)state;
    struct ipc_sock_addr a, bound;
    IPCT_OK(ipc_sock_addr_parse(&a, "127.0.0.1:0"));
    int l1 = ipc_sock_listen(&a, 0, IPC_SOCK_REUSEPORT | IPC_SOCK_NONBLOCK, &bound);
    IPCT_OK(l1);
    assert_true(is_nonblock(l1));
    assert_int_equal(ipc_sock_listen(&bound, 0, 0, NULL), -EADDRINUSE);
    int l2 = ipc_sock_listen(&bound, 0, IPC_SOCK_REUSEPORT, NULL);
    IPCT_OK(l2);
    close(l2);
    close(l1);

    assert_int_equal(ipc_sock_listen(NULL, 0, 0, NULL), -EINVAL);
    assert_int_equal(ipc_sock_listen(&a, 0, 1u << 20, NULL), -EINVAL);
    assert_int_equal(ipc_sock_bind_dgram(&a, 1u << 20, NULL), -EINVAL);
    assert_int_equal(ipc_sock_connect(&a, 99, 0, 0), -EINVAL);
    assert_int_equal(ipc_sock_connect(NULL, SOCK_STREAM, 0, 0), -EINVAL);
    assert_int_equal(ipc_sock_connect(&a, SOCK_STREAM, 0, IPC_SOCK_REUSEPORT), -EINVAL);
    assert_int_equal(ipc_sock_dgram_open(AF_PACKET, 0), -EINVAL);
    assert_int_equal(ipc_sock_dgram_open(AF_INET, IPC_SOCK_V6ONLY), -EINVAL);
    assert_int_equal(ipc_sock_accept(-1, 0, NULL), -EINVAL);
    assert_int_equal(ipc_sock_accept(0, 1u << 9, NULL), -EINVAL);
    assert_int_equal(ipc_sock_send(-1, NULL, 3), -EINVAL);
    assert_int_equal(ipc_sock_send_all(-1, NULL, 3), -EINVAL);
    assert_int_equal(ipc_sock_send_all(-1, "x", 0), 0);
    assert_int_equal(ipc_sock_recv(-1, NULL, 3), -EINVAL);
    assert_int_equal(ipc_sock_recv(-1, (char[1]){0}, 1), -EBADF);
    assert_int_equal(ipc_sock_set_nonblock(-1, 1), -EBADF);
    assert_int_equal(ipc_sock_local_addr(0, NULL), -EINVAL);
    struct ipc_sock_addr bogus = a;
    bogus.len = 3; /* inconsistent with the family */
    assert_int_equal(ipc_sock_listen(&bogus, 0, 0, NULL), -EINVAL);
    bogus = a;
    bogus.family = AF_INET6;
    assert_int_equal(ipc_sock_connect(&bogus, SOCK_STREAM, 0, 0), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_addr_parse_good),
        IPCT_TEST(test_addr_parse_bad),
        IPCT_TEST(test_tcp4_roundtrip),
        IPCT_TEST(test_tcp6_roundtrip),
        IPCT_TEST(test_unix_path_stream),
        IPCT_TEST(test_unix_abstract_stream),
        IPCT_TEST(test_udp_roundtrip),
        IPCT_TEST(test_unix_dgram_roundtrip),
        IPCT_TEST(test_connect_refused_and_timeout),
        IPCT_TEST(test_epipe_no_signal),
        IPCT_TEST(test_reuseport_and_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
