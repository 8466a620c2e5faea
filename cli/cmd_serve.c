/* cmd_serve.c - `ipcstorm serve`: the pre-fork RESP2 server (ipc/server.h). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipc/resp.h"
#include "ipcsrv/server.h"
#include "ipc/sig.h"
#ifdef IPC_TEST_FAULTS
#include "ipcsrv_test_faults.h"
#endif

const char ipcstorm_cmd_serve_summary[] = "pre-fork RESP2 server (redis-cli/redis-benchmark)";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ipcstorm serve [--bind ADDR] [--port P] [--unix PATH] [--udp]\n"
            "                      [--workers N] [--max-clients N] [--max-bulk BYTES] [--quiet]\n"
            "\n"
            "Serves PING, ECHO, INCR, DECR, INCRBY, GET, DEL, DBSIZE, INFO, QUIT (RESP2) from\n"
            "N forked workers sharing one counter table in shared memory.\n"
            "\n"
            "  --bind ADDR        TCP/UDP address: 127.0.0.1 (default), ::1, localhost\n"
            "  --port P           TCP port (default %d; 0 = ephemeral)\n"
            "  --unix PATH        also listen on a Unix stream socket (@name: abstract)\n"
            "  --no-tcp           only the Unix socket (needs --unix)\n"
            "  --udp              also answer one request per UDP datagram on the same port\n"
            "  --workers N        worker processes (default: online CPUs)\n"
            "  --max-clients N    connections across all workers (default %d)\n"
            "  --max-bulk BYTES   largest bulk argument (default 1048576)\n"
            "  --quiet            no lifecycle lines on stderr\n"
            "  --debug-faults     accept DEBUG DIE-MID-INSERT (test builds: the next INCR of a\n"
            "                     new key kills its worker while it holds the table lock)\n"
            "\n"
            "Prints \"listening tcp HOST:PORT ...\" on stdout once bound. SIGTERM/SIGINT stop\n"
            "gracefully (exit 0); SIGUSR1 logs aggregate worker statistics on stderr.\n",
            IPC_SERVER_DEFAULT_PORT, IPC_SERVER_DEFAULT_MAX_CLIENTS);
}

int ipcstorm_cmd_serve(int argc, char **argv)
{
    enum {
        O_BIND = 256,
        O_PORT,
        O_UNIX,
        O_UDP,
        O_WORKERS,
        O_MAXC,
        O_MAXB,
        O_QUIET,
        O_NOTCP,
        O_DEBUG
    };
    static const struct option longopts[] = {
        {"bind", required_argument, NULL, O_BIND},
        {"port", required_argument, NULL, O_PORT},
        {"unix", required_argument, NULL, O_UNIX},
        {"udp", no_argument, NULL, O_UDP},
        {"no-tcp", no_argument, NULL, O_NOTCP},
        {"workers", required_argument, NULL, O_WORKERS},
        {"max-clients", required_argument, NULL, O_MAXC},
        {"max-bulk", required_argument, NULL, O_MAXB},
        {"quiet", no_argument, NULL, O_QUIET},
        {"debug-faults", no_argument, NULL, O_DEBUG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ipc_server_options o = {.port = IPC_SERVER_DEFAULT_PORT};
    uint64_t v;
    optind = 1;
    opterr = 1;
    for (;;) {
        int c = getopt_long(argc, argv, "h", longopts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case O_BIND:
            o.bind = optarg;
            break;
        case O_PORT:
            if (cli_parse_u64("serve", "--port", optarg, 0, 65535, &v) < 0)
                return 1;
            o.port = (int)v;
            break;
        case O_UNIX:
            o.unix_path = optarg;
            break;
        case O_UDP:
            o.udp = 1;
            break;
        case O_NOTCP:
            o.no_tcp = 1;
            break;
        case O_WORKERS:
            if (cli_parse_u64("serve", "--workers", optarg, 1, IPC_SERVER_MAX_WORKERS, &v) < 0)
                return 1;
            o.workers = (unsigned)v;
            break;
        case O_MAXC:
            if (cli_parse_u64("serve", "--max-clients", optarg, 1, 10000000, &v) < 0)
                return 1;
            o.max_clients = (unsigned)v;
            break;
        case O_MAXB:
            if (cli_parse_u64("serve", "--max-bulk", optarg, 1, IPC_RESP_HARD_MAX_BULK, &v) < 0)
                return 1;
            o.max_bulk = (size_t)v;
            break;
        case O_QUIET:
            o.quiet = 1;
            break;
        case O_DEBUG:
#ifdef IPC_TEST_FAULTS
            ipc_conn_debug_faults_enable(1);
            break;
#else
            fprintf(stderr, "ipcstorm serve: --debug-faults needs a build with IPC_TEST_FAULTS\n");
            return 1;
#endif
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ipcstorm serve: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 1;
    }
    if (o.no_tcp && !o.unix_path) {
        fprintf(stderr, "ipcstorm serve: --no-tcp needs --unix PATH\n");
        return 1;
    }
    /* Block the signals the server consumes through signalfd before the listening
     * line goes out: a SIGTERM sent as soon as a script reads it must stay pending
     * for the supervisor (graceful stop, exit 0), not kill us by default action. */
    sigset_t sigs;
    if (ipc_sig_mkset(&sigs, SIGCHLD, SIGTERM, SIGINT, SIGUSR1, SIGHUP, 0) < 0 ||
        ipc_sig_block(&sigs, NULL) < 0) {
        fprintf(stderr, "ipcstorm serve: cannot block signals\n");
        return 1;
    }
    ipc_server *srv;
    int rc = ipc_server_new(&srv, &o);
    if (rc < 0) {
        fprintf(stderr, "ipcstorm serve: cannot start: %s\n", ipc_strerror(rc));
        return 1;
    }
    char line[512];
    if (ipc_server_describe(srv, line, sizeof(line)) >= 0) {
        printf("%s\n", line);
        fflush(stdout);
    }
    rc = ipc_server_run(srv);
    ipc_server_free(srv);
    if (rc < 0) {
        fprintf(stderr, "ipcstorm serve: %s\n", ipc_strerror(rc));
        return 1;
    }
    return 0;
}
