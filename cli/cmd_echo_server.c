/* cmd_echo_server.c - `ipcstorm echo-server`: the tutorial's socket server.
 *
 * It waits for messages, prints each one and answers "Message Received!". Over a
 * stream (TCP or Unix) a message is everything the client sends until it shuts its
 * write side (or 64 KiB, whichever comes first); over datagrams (UDP or Unix) it is
 * one datagram. A poll loop serves several clients at once, so one slow client
 * does not hold up the others, and SIGTERM/SIGINT arrive through a signal event
 * source in the same loop: the server closes everything, removes its Unix socket
 * path, and exits 0. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"
#include "ipc/sig.h"
#include "ipc/sock.h"

const char ipcstorm_cmd_echo_server_summary[] =
    "tutorial socket server: print each message, answer \"Message Received!\"";

#define ECHO_REPLY  "Message Received!"
#define MAX_CLIENTS 64
#define MAX_MSG     (64 * 1024)

struct client {
    int fd;
    size_t len;
    char peer[IPC_SOCK_ADDRSTRLEN];
    char *buf; /* MAX_MSG bytes */
};

static void print_message(const char *peer, const char *msg, size_t len)
{
    /* Trailing newlines of `echo hi | nc` would only add blank lines. */
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        len--;
    printf("%s: %.*s\n", peer, (int)len, msg);
    fflush(stdout);
}

static void drop_client(struct client *c)
{
    close(c->fd);
    free(c->buf);
    c->fd = -1;
    c->buf = NULL;
}

/* Reads what a stream client sent; answers and closes at EOF or when full. */
static void serve_client(struct client *c)
{
    for (;;) {
        ssize_t n = ipc_sock_recv(c->fd, c->buf + c->len, MAX_MSG - c->len);
        if (n == -EAGAIN)
            return;
        if (n < 0) {
            fprintf(stderr, "ipcstorm echo-server: %s: %s\n", c->peer, ipc_strerror((int)n));
            drop_client(c);
            return;
        }
        c->len += (size_t)n;
        if (n == 0 || c->len == MAX_MSG) {
            print_message(c->peer, c->buf, c->len);
            /* A blocking-style send of 17 bytes to a fresh socket cannot stall;
             * a peer that already left only costs an -EPIPE here. */
            ssize_t w = ipc_sock_send_all(c->fd, ECHO_REPLY, strlen(ECHO_REPLY));
            if (w < 0)
                fprintf(stderr, "ipcstorm echo-server: reply to %s: %s\n", c->peer,
                        ipc_strerror((int)w));
            drop_client(c);
            return;
        }
    }
}

static void accept_clients(int lfd, struct client *clients)
{
    for (;;) {
        int slot = -1;
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (clients[i].fd < 0) {
                slot = i;
                break;
            }
        if (slot < 0)
            return; /* full: the listen fd is not polled until a client leaves */
        struct ipc_sock_addr peer;
        int fd = ipc_sock_accept(lfd, IPC_SOCK_NONBLOCK, &peer);
        if (fd == -EAGAIN || fd == -ECONNABORTED)
            return;
        if (fd < 0) {
            fprintf(stderr, "ipcstorm echo-server: accept: %s\n", ipc_strerror(fd));
            return;
        }
        struct client *c = &clients[slot];
        c->buf = malloc(MAX_MSG);
        if (!c->buf) {
            close(fd);
            return;
        }
        c->fd = fd;
        c->len = 0;
        if (ipc_sock_addr_format(&peer, c->peer, sizeof(c->peer)) < 0 || peer.family == AF_UNIX)
            snprintf(c->peer, sizeof(c->peer), "%s",
                     peer.family == AF_UNIX ? "unix client" : "client");
    }
}

static void serve_datagram(int fd)
{
    static char buf[MAX_MSG];
    for (;;) {
        struct ipc_sock_addr from;
        ssize_t n = ipc_sock_recvfrom(fd, buf, sizeof(buf), &from);
        if (n == -EAGAIN)
            return;
        char peer[IPC_SOCK_ADDRSTRLEN];
        if (ipc_sock_addr_format(&from, peer, sizeof(peer)) < 0)
            snprintf(peer, sizeof(peer), "client");
        if (n == -EMSGSIZE) {
            n = sizeof(buf); /* the first 64 KiB of a larger datagram */
        } else if (n < 0) {
            fprintf(stderr, "ipcstorm echo-server: recvfrom: %s\n", ipc_strerror((int)n));
            return;
        }
        print_message(peer, buf, (size_t)n);
        if (from.family == AF_UNIX && from.len <= sizeof(sa_family_t))
            continue; /* an unbound Unix sender cannot be answered */
        ssize_t w = ipc_sock_sendto(fd, ECHO_REPLY, strlen(ECHO_REPLY), &from);
        if (w < 0)
            fprintf(stderr, "ipcstorm echo-server: reply to %s: %s\n", peer, ipc_strerror((int)w));
    }
}

int ipcstorm_cmd_echo_server(int argc, char **argv)
{
    int udp = 0;
    const char *bind_host = "127.0.0.1";
    uint64_t port = 0;
    const struct cli_opt opts[] = {
        {.name = "tcp",
         .kind = CLI_OPT_CONST,
         .dest = &udp,
         .min = 0,
         .help = "stream socket (default): a message ends when the client shuts\n"
                 "down its sending side, or at 64 KiB"},
        {.name = "udp",
         .kind = CLI_OPT_CONST,
         .dest = &udp,
         .min = 1,
         .help = "datagram socket: one datagram is one message"},
        {.name = "bind",
         .kind = CLI_OPT_STR,
         .dest = &bind_host,
         .arg = "ADDR",
         .help = "127.0.0.1 (default), ::1, localhost, or a Unix socket\n"
                 "unix:/path or unix:@abstract (then --port is ignored and\n"
                 "--tcp/--udp pick stream/datagram)"},
        {.name = "port",
         .kind = CLI_OPT_U64,
         .dest = &port,
         .max = 65535,
         .arg = "P",
         .help = "0..65535 (default 0: an ephemeral port)"},
        {0},
    };
    const struct cli_cmd cmd = {
        .prog = "ipcstorm echo-server",
        .synopsis = "[--tcp|--udp] [--bind ADDR] [--port P]",
        .intro = "The tutorial's socket server. Prints the bound address (with the actual port\n"
                 "when --port is 0) as the first line on stdout, then one line per message\n"
                 "received (\"<peer>: <message>\"), answering each with \"" ECHO_REPLY "\".\n"
                 "Serves until SIGTERM or SIGINT, then exits 0.\n",
        .outro = "Examples:\n"
                 "  ipcstorm echo-server --port 0            # prints e.g. 127.0.0.1:40123\n"
                 "  ipcstorm echo-server --udp --bind unix:@demo\n"
                 "\n"
                 "Exit status: 0 stopped by SIGTERM/SIGINT, 1 could not bind or serve, 64 usage\n"
                 "error.\n",
        .opts = opts,
    };
    int prc = cli_parse(&cmd, argc, argv, NULL);
    if (prc != CLI_RUN)
        return prc;

    struct ipc_sock_addr addr, bound;
    int rc = ipc_sock_addr_from_host_port(&addr, bind_host, (int)port);
    if (rc < 0) {
        return cli_usage_error(&cmd,
                               "--bind: '%s' is not a numeric IPv4/IPv6 address, localhost, "
                               "unix:/path or unix:@name",
                               bind_host);
    }

    /* Block the stop signals before anything else so that none is lost between
     * binding (when a script may already send SIGTERM) and the loop. */
    sigset_t set;
    ipc_sigsrc *sigs = NULL;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    rc = ipc_sigsrc_new(&sigs, &set, 0);
    if (rc < 0) {
        fprintf(stderr, "ipcstorm echo-server: signal setup: %s\n", ipc_strerror(rc));
        return 1;
    }

    int lfd = udp ? ipc_sock_bind_dgram(&addr, IPC_SOCK_NONBLOCK, &bound)
                  : ipc_sock_listen(&addr, 64, IPC_SOCK_NONBLOCK | IPC_SOCK_UNLINK_STALE, &bound);
    if (lfd < 0) {
        fprintf(stderr, "ipcstorm echo-server: cannot bind %s: %s\n", bind_host, ipc_strerror(lfd));
        ipc_sigsrc_free(sigs);
        return 1;
    }
    char shown[IPC_SOCK_ADDRSTRLEN];
    if (ipc_sock_addr_format(&bound, shown, sizeof(shown)) < 0)
        snprintf(shown, sizeof(shown), "%s", bind_host);
    printf("%s\n", shown);
    fflush(stdout);
    fprintf(stderr, "ipcstorm echo-server: listening on %s (%s)\n", shown, udp ? "udp" : "tcp");

    struct client clients[MAX_CLIENTS];
    for (int i = 0; i < MAX_CLIENTS; i++)
        clients[i] = (struct client){.fd = -1};
    int stop = 0, status = 0;
    while (!stop) {
        struct pollfd pfd[MAX_CLIENTS + 2];
        int map[MAX_CLIENTS + 2];
        nfds_t n = 0;
        pfd[n++] = (struct pollfd){.fd = ipc_sigsrc_fd(sigs), .events = POLLIN};
        int full = 1;
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (clients[i].fd < 0) {
                full = 0;
                continue;
            }
            map[n] = i;
            pfd[n++] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
        }
        nfds_t lidx = n;
        if (!full)
            pfd[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("ipcstorm echo-server: poll");
            status = 1;
            break;
        }
        if (pfd[0].revents) {
            struct ipc_sig_info si;
            while (ipc_sigsrc_read(sigs, &si) == 1) {
                fprintf(stderr, "ipcstorm echo-server: %s, stopping\n",
                        si.signo == SIGTERM ? "SIGTERM" : "SIGINT");
                stop = 1;
            }
            continue;
        }
        for (nfds_t k = 1; k < lidx; k++)
            if (pfd[k].revents)
                serve_client(&clients[map[k]]);
        if (lidx < n && pfd[lidx].revents) {
            if (udp)
                serve_datagram(lfd);
            else
                accept_clients(lfd, clients);
        }
    }

    for (int i = 0; i < MAX_CLIENTS; i++)
        if (clients[i].fd >= 0)
            drop_client(&clients[i]);
    close(lfd);
    rc = ipc_sock_unlink(&bound);
    if (rc < 0)
        fprintf(stderr, "ipcstorm echo-server: cannot remove %s: %s\n", shown, ipc_strerror(rc));
    ipc_sigsrc_free(sigs);
    return status;
}
