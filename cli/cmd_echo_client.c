/* cmd_echo_client.c - `ipcstorm echo-client`: the tutorial's socket client. It
 * sends one message to an echo-server and prints the answer. Over a stream the end
 * of the message is signalled by shutting down the sending side, so the server
 * knows the message is complete without a length prefix. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"
#include "ipc/sock.h"
#include "ipc_base.h"

const char ipcstorm_cmd_echo_client_summary[] =
    "tutorial socket client: send a message to echo-server, print the answer";

/* Waits until fd is readable or the deadline passes: 1 ready, 0 timeout, -1 error. */
static int wait_readable(int fd, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - ipc__now_ms();
        if (left < 0)
            left = 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc = poll(&pfd, 1, (int)left);
        if (rc >= 0)
            return rc;
        if (errno != EINTR)
            return -1;
    }
}

int ipcstorm_cmd_echo_client(int argc, char **argv)
{
    int udp = 0;
    const char *addr_text = NULL, *msg = "Hello, server!";
    double timeout = 5.0;
    const struct cli_opt opts[] = {
        {.name = "tcp",
         .kind = CLI_OPT_CONST,
         .dest = &udp,
         .min = 0,
         .help = "stream socket (default)"},
        {.name = "udp", .kind = CLI_OPT_CONST, .dest = &udp, .min = 1, .help = "datagram socket"},
        {.name = "addr",
         .kind = CLI_OPT_STR,
         .dest = &addr_text,
         .arg = "ADDR",
         .help = "127.0.0.1:PORT, [::1]:PORT, localhost:PORT,\n"
                 "unix:/path or unix:@name (as echo-server printed it)"},
        {.name = "message",
         .kind = CLI_OPT_STR,
         .dest = &msg,
         .arg = "M",
         .help = "the message to send"},
        {.name = "timeout",
         .kind = CLI_OPT_SECONDS,
         .dest = &timeout,
         .help = "give up connecting or waiting for the answer after S\n"
                 "seconds (default 5)"},
        {0},
    };
    const struct cli_cmd cmd = {
        .prog = "ipcstorm echo-client",
        .synopsis = "[--tcp|--udp] --addr ADDR [--message M] [--timeout S]",
        .intro = "Sends M (default \"Hello, server!\") to an `ipcstorm echo-server` and prints\n"
                 "its answer on stdout.\n",
        .outro = "Examples (the address is the first line `ipcstorm echo-server` prints):\n"
                 "  ipcstorm echo-client --addr 127.0.0.1:40123 --message 'hello'\n"
                 "  ipcstorm echo-client --udp --addr unix:@demo --timeout 2\n"
                 "\n"
                 "Exit status: 0 when an answer arrived, 1 otherwise (could not connect, no\n"
                 "answer within --timeout), 64 usage error.\n",
        .opts = opts,
    };
    int prc = cli_parse(&cmd, argc, argv, NULL);
    if (prc != CLI_RUN)
        return prc;
    if (!addr_text)
        return cli_usage_error(&cmd, "--addr is required");
    struct ipc_sock_addr addr;
    if (ipc_sock_addr_parse(&addr, addr_text) < 0)
        return cli_usage_error(&cmd,
                               "--addr: '%s' is not 127.0.0.1:PORT, [::1]:PORT, localhost:PORT, "
                               "unix:/path or unix:@name",
                               addr_text);
    if (timeout > 86400)
        timeout = 86400;
    int timeout_ms = (int)(timeout * 1000);
    int64_t deadline = ipc__now_ms() + timeout_ms;
    size_t mlen = strlen(msg);
    char reply[65536];
    size_t got = 0;
    int fd;

    if (udp) {
        fd = ipc_sock_dgram_open(addr.family, 0);
        if (fd < 0) {
            fprintf(stderr, "ipcstorm echo-client: socket: %s\n", ipc_strerror(fd));
            return 1;
        }
        ssize_t w = ipc_sock_sendto(fd, msg, mlen, &addr);
        if (w < 0) {
            fprintf(stderr, "ipcstorm echo-client: send to %s: %s\n", addr_text,
                    ipc_strerror((int)w));
            close(fd);
            return 1;
        }
        /* Datagrams carry no connection: the only sign of a missing server is
         * silence (or a late ICMP error), hence the deadline. */
        int ready = wait_readable(fd, deadline);
        ssize_t n = ready > 0 ? ipc_sock_recvfrom(fd, reply, sizeof(reply), NULL) : -ETIMEDOUT;
        if (n < 0) {
            fprintf(stderr, "ipcstorm echo-client: no answer from %s: %s\n", addr_text,
                    ipc_strerror((int)n));
            close(fd);
            return 1;
        }
        got = (size_t)n;
    } else {
        fd = ipc_sock_connect(&addr, SOCK_STREAM, timeout_ms, 0);
        if (fd < 0) {
            fprintf(stderr, "ipcstorm echo-client: cannot connect to %s: %s\n", addr_text,
                    ipc_strerror(fd));
            return 1;
        }
        ssize_t w = ipc_sock_send_all(fd, msg, mlen);
        if (w < 0 || shutdown(fd, SHUT_WR) < 0) {
            fprintf(stderr, "ipcstorm echo-client: send to %s: %s\n", addr_text,
                    w < 0 ? ipc_strerror((int)w) : strerror(errno));
            close(fd);
            return 1;
        }
        while (got < sizeof(reply)) {
            int ready = wait_readable(fd, deadline);
            if (ready <= 0) {
                fprintf(stderr, "ipcstorm echo-client: no answer from %s within %gs\n", addr_text,
                        timeout);
                close(fd);
                return 1;
            }
            ssize_t n = ipc_sock_recv(fd, reply + got, sizeof(reply) - got);
            if (n == 0)
                break;
            if (n < 0) {
                fprintf(stderr, "ipcstorm echo-client: receive from %s: %s\n", addr_text,
                        ipc_strerror((int)n));
                close(fd);
                return 1;
            }
            got += (size_t)n;
        }
        if (got == 0) {
            fprintf(stderr, "ipcstorm echo-client: %s closed the connection without an answer\n",
                    addr_text);
            close(fd);
            return 1;
        }
    }
    close(fd);
    printf("%.*s\n", (int)got, reply);
    return 0;
}
