/* cmd_serve.c - `ipcstorm serve`: the pre-fork RESP2 server (ipcsrv/server.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "ipc/resp.h"
#include "ipcsrv/server.h"
#include "ipc/sig.h"
#ifdef IPC_TEST_FAULTS
#include "ipcsrv_test_faults.h"
#endif

const char ipcstorm_cmd_serve_summary[] = "pre-fork RESP2 server (redis-cli/redis-benchmark)";

int ipcstorm_cmd_serve(int argc, char **argv)
{
    struct ipc_server_options o = {.port = IPC_SERVER_DEFAULT_PORT};
    uint64_t port = IPC_SERVER_DEFAULT_PORT, workers = 0, max_clients = 0, max_bulk = 0;
    uint64_t busy_poll_us = IPC_SERVER_DEFAULT_BUSY_POLL_US;
    bool udp = false, no_tcp = false, quiet = false, debug_faults = false;
    const char *bind = NULL, *unix_path = NULL;
    char port_help[64], maxc_help[64], busy_help[160];
    snprintf(port_help, sizeof(port_help), "TCP port (default %d; 0 = ephemeral)",
             IPC_SERVER_DEFAULT_PORT);
    snprintf(maxc_help, sizeof(maxc_help), "connections across all workers (default %d)",
             IPC_SERVER_DEFAULT_MAX_CLIENTS);
    snprintf(busy_help, sizeof(busy_help),
             "after serving clients, poll this long without sleeping before\n"
             "blocking (default %d; 0 = block at once, as Redis does)",
             IPC_SERVER_DEFAULT_BUSY_POLL_US);
    const struct cli_opt opts[] = {
        {.name = "bind",
         .kind = CLI_OPT_STR,
         .dest = &bind,
         .arg = "ADDR",
         .help = "TCP/UDP address: 127.0.0.1 (default), ::1, localhost"},
        {.name = "port",
         .kind = CLI_OPT_U64,
         .dest = &port,
         .max = 65535,
         .arg = "P",
         .help = port_help},
        {.name = "unix",
         .kind = CLI_OPT_STR,
         .dest = &unix_path,
         .arg = "PATH",
         .help = "also listen on a Unix stream socket (@name: abstract)"},
        {.name = "no-tcp",
         .kind = CLI_OPT_FLAG,
         .dest = &no_tcp,
         .help = "only the Unix socket (needs --unix)"},
        {.name = "udp",
         .kind = CLI_OPT_FLAG,
         .dest = &udp,
         .help = "also answer one request per UDP datagram on the same port"},
        {.name = "workers",
         .kind = CLI_OPT_U64,
         .dest = &workers,
         .min = 1,
         .max = IPC_SERVER_MAX_WORKERS,
         .help = "worker processes (default: online CPUs)"},
        {.name = "max-clients",
         .kind = CLI_OPT_U64,
         .dest = &max_clients,
         .min = 1,
         .max = 10000000,
         .help = maxc_help},
        {.name = "max-bulk",
         .kind = CLI_OPT_U64,
         .dest = &max_bulk,
         .min = 1,
         .max = IPC_RESP_HARD_MAX_BULK,
         .arg = "BYTES",
         .help = "largest bulk argument (default 1048576)"},
        {.name = "busy-poll-us",
         .kind = CLI_OPT_U64,
         .dest = &busy_poll_us,
         .max = IPC_SERVER_MAX_BUSY_POLL_US,
         .arg = "US",
         .help = busy_help},
        {.name = "quiet",
         .kind = CLI_OPT_FLAG,
         .dest = &quiet,
         .help = "no lifecycle lines on stderr"},
        {.name = "debug-faults",
         .kind = CLI_OPT_FLAG,
         .dest = &debug_faults,
         .help = "accept DEBUG DIE-MID-INSERT (test builds: the next INCR of a\n"
                 "new key kills its worker while it holds the table lock)"},
        {0},
    };
    const struct cli_cmd cmd = {
        .prog = "ipcstorm serve",
        .intro =
            "Serves PING, ECHO, INCR, DECR, INCRBY, GET, DEL, DBSIZE, INFO, QUIT (RESP2) from\n"
            "N forked workers sharing one counter table in shared memory.\n",
        .outro =
            "Prints \"listening tcp HOST:PORT ...\" on stdout once bound. SIGTERM/SIGINT stop\n"
            "gracefully (exit 0); SIGUSR1 logs aggregate worker statistics on stderr.\n"
            "\n"
            "Examples:\n"
            "  ipcstorm serve --port 6380 --workers 2      # then: redis-cli -p 6380 INCR hits\n"
            "  ipcstorm serve --port 0 --unix @ipcstorm --quiet\n"
            "\n"
            "Exit status: 0 stopped by SIGTERM/SIGINT, 1 could not start or failed,\n"
            "64 usage error.\n",
        .opts = opts,
    };
    int prc = cli_parse(&cmd, argc, argv, NULL);
    if (prc != CLI_RUN)
        return prc;
    o.bind = bind;
    o.port = (int)port;
    o.unix_path = unix_path;
    o.udp = udp;
    o.no_tcp = no_tcp;
    o.workers = (unsigned)workers;
    o.max_clients = (unsigned)max_clients;
    o.max_bulk = (size_t)max_bulk;
    o.quiet = quiet;
    /* The library's 0 means its default; the command's 0 means no spinning. */
    o.busy_poll_us = busy_poll_us ? (int)busy_poll_us : -1;
    if (debug_faults) {
#ifdef IPC_TEST_FAULTS
        ipc_conn_debug_faults_enable(1);
#else
        fprintf(stderr, "ipcstorm serve: --debug-faults needs a build with IPC_TEST_FAULTS\n");
        return 1;
#endif
    }
    if (o.no_tcp && !o.unix_path)
        return cli_usage_error(&cmd, "--no-tcp needs --unix PATH");
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
