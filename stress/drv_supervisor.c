/* drv_supervisor.c - `ipcstorm stress supervisor`: the promises of the pre-fork
 * server's supervisor (ipcsrv/server.h, docs/design.md section 5), each checked
 * against an oracle that does not come from the server: the driver's own tallies,
 * the kernel (/proc, getpeername, stat) and the exact texts of the contract.
 *
 * Every round runs a fresh server (ipc_server_new + ipc_server_run in a forked
 * child, the same code as `ipcstorm serve`) with 1-3 workers, UDP, a Unix socket
 * (a path in a private directory over a stale socket file, or an abstract
 * "@name"), max_clients = --procs + 3 and its log in a private file, then:
 *   describe   ipc_server_describe's line == the addresses found independently
 *              (getpeername of a connected client, the path, the workers), and
 *              -ENOSPC for a buffer one byte short; a live path is not stolen
 *   stats      SIGUSR1 at quiescent moments: the aggregate line's deltas ==
 *              the commands, connections and bytes the driver exchanged
 *   udp        one datagram per request, one exact reply from the server's
 *              address, INCR values agreeing with the TCP view of the key
 *   maxclients the (K+1)-th concurrent client gets the documented refusal, and a
 *              client is accepted again once one leaves (also after a worker holding
 *              clients was killed)
 *   emfile     (1-worker rounds) the worker's soft RLIMIT_NOFILE lowered with prlimit to
 *              the K-th free descriptor number + 1 (/proc/<pid>/fd): exactly K clients
 *              served, the next D closed at once with the reserve descriptor (EOF, no
 *              byte), emfile_drops +D and accept_pauses +0 in the stats line; a client
 *              that leaves makes room for one, the reserve is back for the next; then
 *              limit 0: the listeners pause, a queued client is served once the old
 *              limit is restored
 *   kills      workers killed from outside (SIGKILL, SIGTERM, crash signals) while
 *              clients INCR one shared key: every INCR reply is unique, the key ends
 *              within [acknowledged, acknowledged + unanswered], every client gets a
 *              reply or a clean close, the set of workers (the server's children in
 *              /proc) returns to N, one "started" line per replacement, external
 *              kills are replaced at once and a crash of a worker provably younger
 *              than 1 s backs off (only orderings the driver observed are asserted)
 *   noworker   (1-worker rounds) a crash loop leaves no worker for a while; a client
 *              served while /proc shows no worker before and after gets exactly
 *              "-ERR no worker available, try again\r\n" and then EOF
 *   stop       SIGTERM once each client is owed a 1 MB ECHO reply with INCRs
 *              pipelined behind it: the reply arrives whole (unless the workers' 2 s
 *              drain deadline could have passed), then an exact INCR prefix and a
 *              clean close; every worker exits 0 (no SIGKILL escalation), the server
 *              returns 0, the Unix path is gone, no worker process survives.
 * Before the rounds, a server made and freed without running must remove its Unix
 * path (only in the creating process) and close every descriptor it opened.
 * Waiting for the server is always a poll of /proc or of its log with a deadline.
 * Durations are asserted only as bounds the driver observed from both sides (a
 * worker's age from the start lines it saw); a back-off window the driver was too
 * slow to probe is counted in the note, not reported. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "common.h"
#include "report.h"
#include "rng.h"
#include "sock_reader.h"
#include "ipc/pipe.h"
#include "ipc/proc.h"
#include "ipc/shm.h"
#include "ipc/sock.h"
#include "ipcsrv/server.h"

const char ipcstorm_stress_supervisor_summary[] =
    "server supervisor: worker kills and restarts, no-worker answer, SIGUSR1 stats, max "
    "clients, out of descriptors, UDP, Unix path, graceful stop";

#define MAX_PROCS     16
#define MAX_WORKERS   3
#define MAX_PIDS      64
#define VALS_PER_CLI  4096
#define DEADLINE_S    15.0
#define NO_WORKER_TXT "-ERR no worker available, try again\r\n"
#define MAX_CLI_TXT   "-ERR max number of clients reached\r\n"

static uint64_t opt_kills = 4;
static uint64_t opt_depth = 16;

static const struct stress_xopt xopts[] = {
    {"kills", STRESS_XOPT_U64, &opt_kills, 1, 20, "worker kills per round (default 4)", NULL},
    {"depth", STRESS_XOPT_U64, &opt_depth, 1, 64,
     "INCRs each client has in flight when SIGTERM arrives (default 16)", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "supervisor",
    .examples = "  ipcstorm stress supervisor --kills 8 --duration 20\n",
    .summary = "The pre-fork server's supervisor: worker deaths and restarts, the no-worker\n"
               "answer, SIGUSR1 statistics, max clients, a worker out of descriptors, UDP,\n"
               "the Unix path and the graceful stop, each against an exact oracle. --faults\n"
               "is accepted but injection is paused for the whole run: every check here is\n"
               "exact and needs a fault-free server (stress sock covers the server under\n"
               "faults). --procs is the number of concurrent clients; max_clients is\n"
               "--procs + 3. Environment: IPCSTORM_SUP_KEEP_LOGS=1 keeps each round's\n"
               "server log in /tmp/ipcstorm-sup-*.",
    .invariants =
        "  describe-exact    ipc_server_describe == the independently found addresses;\n"
        "                    -ENOSPC one byte short; a live Unix path is not replaced\n"
        "  stats-exact       SIGUSR1 line deltas == commands/connections/bytes exchanged\n"
        "  udp-exact         one exact reply datagram per request, from the server's address\n"
        "  max-clients       the K+1-th client refused with the documented text; room again\n"
        "                    after a client leaves or its worker dies\n"
        "  emfile-exact      1-worker rounds, the worker's soft RLIMIT_NOFILE lowered with\n"
        "                    prlimit: with K descriptors left exactly K clients get +PONG,\n"
        "                    the next D a clean close (no byte), stats emfile_drops +D and\n"
        "                    accept_pauses +0; a leaving client makes room for exactly one,\n"
        "                    the reserve drops the next; with limit 0 the listeners pause,\n"
        "                    a queued client waits and is served once the limit is back;\n"
        "                    the log says 'out of file descriptors'\n"
        "  counter-exact     INCR replies unique, key within [acked, acked + unanswered]\n"
        "  reply-or-close    every client gets an exact reply or a clean close\n"
        "  worker-restart    workers return to N, one start line per death, external kills\n"
        "                    replaced at once, a young crash backs off\n"
        "  no-worker-answer  with no worker alive: exactly the documented text, then EOF\n"
        "  start-failure-reported  a server that cannot fork any worker (clone denied by\n"
        "                    seccomp) returns -EAGAIN from ipc_server_run and logs it\n"
        "  worker-fds-exact  a worker holds as many signalfd and epoll descriptors as the\n"
        "                    supervisor: its own replace the supervisor's, none leaks\n"
        "  stop-graceful     SIGTERM while a 1 MB ECHO reply is owed: the reply whole (unless\n"
        "                    the 2 s drain deadline passed), an exact INCR prefix, a clean\n"
        "                    close; workers exit 0 unescalated, server 0, Unix path removed,\n"
        "                    no worker left\n"
        "  free-cleanup      ipc_server_new + ipc_server_free without a run: the Unix path\n"
        "                    is a live socket in between and stays after a forked child's\n"
        "                    free; the creator's free removes it (stat: ENOENT; an\n"
        "                    abstract name refuses connects) and closes every descriptor",
    .default_procs = 4,
    .max_procs = MAX_PROCS,
    .xopts = xopts,
    .faults = NULL,
};

/* Every client reads replies with a deadline; 8 KiB holds any reply a check reads
 * whole (the 1 MB ECHO is read in chunks). */
#define READ_CAP 8192

/* PING, then one line. A refusal may be sent and the socket closed before the PING
 * arrives (a Unix socket then fails the send with EPIPE, TCP may reset): the reply
 * is read whatever the send did. */
static int send_then_line(struct sock_reader *rd, char *line, size_t cap)
{
    stress_ignore(ipc_sock_send_all(rd->fd, "PING\r\n", 6));
    return sock_reader_line(rd, line, cap);
}

static size_t resp_cmd(char *out, size_t cap, int argc, const char *const *argv)
{
    size_t n = (size_t)snprintf(out, cap, "*%d\r\n", argc);
    for (int i = 0; i < argc && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    return n < cap ? n : cap;
}

/* ---- the server child --------------------------------------------------------------- */
struct start_msg {
    int rc_new;
    int port; /* ipc_server_port */
    int desc_len, desc_short, desc_exact, desc_tiny;
    char desc[256];
};

struct server_arg {
    int out_fd;
    struct ipc_server_options o;
    char log_path[PATH_MAX];
};

static int server_main(void *p)
{
    struct server_arg *a = p;
    /* Crash signals from the driver must not write core files. */
    struct rlimit no_core = {0, 0};
    stress_ignore(setrlimit(RLIMIT_CORE, &no_core));
    FILE *log = fopen(a->log_path, "a");
    struct start_msg m;
    memset(&m, 0, sizeof(m));
    ipc_server *srv = NULL;
    a->o.log = log;
    m.rc_new = log ? ipc_server_new(&srv, &a->o) : -errno;
    if (srv) {
        char shortbuf[256];
        m.port = ipc_server_port(srv);
        m.desc_len = ipc_server_describe(srv, m.desc, sizeof(m.desc));
        if (m.desc_len > 0 && m.desc_len < (int)sizeof(shortbuf)) {
            m.desc_short = ipc_server_describe(srv, shortbuf, (size_t)m.desc_len);
            m.desc_exact = ipc_server_describe(srv, shortbuf, (size_t)m.desc_len + 1);
            m.desc_tiny = ipc_server_describe(srv, shortbuf, 5);
        }
    }
    int wr = (int)ipc_pipe_write_all(a->out_fd, &m, sizeof(m), 0);
    close(a->out_fd);
    if (wr != (int)sizeof(m) || !srv) {
        ipc_server_free(srv);
        return 3;
    }
    int r = ipc_server_run(srv);
    ipc_server_free(srv);
    if (log)
        fclose(log);
    return r == 0 ? 0 : 4;
}

/* ---- per-round state ------------------------------------------------------------------ */
struct pidinfo {
    pid_t pid;
    /* The supervisor's start time of this worker lies within [start_lo, start_hi]:
     * start_lo is before its fork, start_hi when the driver first saw its "started"
     * line (logged after the supervisor took the time; 0 until seen). The pid in
     * /proc is no bound: it appears before the supervisor takes the time. */
    double start_lo, start_hi;
};

struct round {
    struct stress *s;
    unsigned no;
    unsigned workers, max_clients;
    bool abstract;
    char unix_path[128];
    char log_path[128];
    ipc_proc *srv;
    pid_t srv_pid;
    double t_forked;
    int port;
    struct ipc_sock_addr tcp, udp, unx;
    struct stress_rng rng;
    struct pidinfo known[MAX_PIDS];
    unsigned nknown;
    unsigned deaths; /* worker deaths the driver caused */
};

static char g_tmpdir[64];
static uint64_t g_stop_late, g_young_crash, g_old_crash;
static uint64_t g_certified, g_turned_away, g_restarts, g_backoffs, g_windows_missed;
static uint64_t g_emfile_rounds, g_emfile_drops;

struct live_children {
    pid_t *out;
    unsigned n, cap;
};

static void add_live_child(pid_t pid, char state, void *arg)
{
    struct live_children *lc = arg;
    if (state != 'Z' && state != 'X' && lc->n < lc->cap)
        lc->out[lc->n++] = pid;
}

/* The server's live children (not zombies), from /proc. */
static unsigned worker_pids(const struct round *R, pid_t *out, unsigned cap)
{
    struct live_children lc = {.out = out, .cap = cap};
    hygiene_for_each_child(R->srv_pid, add_live_child, &lc);
    return lc.n;
}

static struct pidinfo *known_pid(struct round *R, pid_t pid, double start_lo)
{
    for (unsigned i = 0; i < R->nknown; i++)
        if (R->known[i].pid == pid)
            return &R->known[i];
    if (R->nknown == MAX_PIDS)
        return NULL;
    struct pidinfo *p = &R->known[R->nknown++];
    p->pid = pid;
    p->start_lo = start_lo;
    p->start_hi = 0;
    return p;
}

static char *log_read(const struct round *R);

/* Sets start_hi of every known worker whose "started" line is in the log now. */
static void note_starts(struct round *R)
{
    char *t = log_read(R);
    double now = stress_now();
    for (unsigned i = 0; t && i < R->nknown; i++) {
        char needle[48];
        snprintf(needle, sizeof(needle), " started (pid %ld)\n", (long)R->known[i].pid);
        if (R->known[i].start_hi == 0 && strstr(t, needle))
            R->known[i].start_hi = now;
    }
    free(t);
}

/* Waits for pid's "started" line and returns its pidinfo with start_hi set. */
static struct pidinfo *confirm_start(struct round *R, pid_t pid, double start_lo)
{
    struct pidinfo *pi = known_pid(R, pid, start_lo);
    if (!pi || pi->start_hi > 0)
        return pi;
    char needle[48];
    snprintf(needle, sizeof(needle), " started (pid %ld)\n", (long)pid);
    double end = stress_now() + DEADLINE_S;
    for (;;) {
        char *t = log_read(R);
        bool found = t && strstr(t, needle);
        free(t);
        if (found) {
            pi->start_hi = stress_now();
            return pi;
        }
        if (stress_now() > end)
            return NULL;
        stress_sleep_us(2000);
    }
}

/* Waits until exactly R->workers live workers, none of them `gone`; new pids are
 * recorded with start_lo. Returns the count seen last. */
static unsigned wait_workers(struct round *R, pid_t gone, double start_lo, pid_t *pids)
{
    double end = stress_now() + DEADLINE_S;
    unsigned n;
    for (;;) {
        n = worker_pids(R, pids, MAX_PIDS);
        bool ok = n == R->workers;
        for (unsigned i = 0; i < n; i++)
            if (pids[i] == gone)
                ok = false;
        if (ok || stress_now() > end)
            break;
        stress_sleep_us(2000);
    }
    for (unsigned i = 0; i < n; i++)
        known_pid(R, pids[i], start_lo);
    return n;
}

/* ---- the log ---------------------------------------------------------------------------- */
static char *log_read(const struct round *R)
{
    FILE *f = fopen(R->log_path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t k; buf && (k = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += k;
        if (n == cap) {
            char *nb = cap < (1u << 24) ? realloc(buf, cap * 2 + 1) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static unsigned count_in(const char *text, const char *needle)
{
    unsigned n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Finds the supervisor's line about worker pid's death: fills what and ms (ms =
 * UINT32_MAX when the line has no "replacing" part). Returns true when found. */
static bool death_line(const char *text, pid_t pid, char *what, size_t cap, unsigned *ms)
{
    char needle[48];
    snprintf(needle, sizeof(needle), "(pid %ld) ", (long)pid);
    const char *p = text ? strstr(text, needle) : NULL;
    for (; p; p = strstr(p + 1, needle)) {
        const char *q = p + strlen(needle);
        if (strncmp(q, "started", 7) == 0)
            continue;
        const char *eol = strchr(q, '\n');
        size_t len = eol ? (size_t)(eol - q) : strlen(q);
        if (len >= cap)
            len = cap - 1;
        memcpy(what, q, len);
        what[len] = '\0';
        const char *rep = strstr(what, "; replacing it in ");
        *ms = UINT32_MAX;
        if (rep && sscanf(rep, "; replacing it in %u ms", ms) != 1)
            *ms = UINT32_MAX;
        return true;
    }
    return false;
}

/* Waits for the death line of pid; returns the time it was seen (0: never). */
static double wait_death_line(struct round *R, pid_t pid, char *what, size_t cap, unsigned *ms)
{
    double end = stress_now() + DEADLINE_S;
    for (;;) {
        char *t = log_read(R);
        bool found = death_line(t, pid, what, cap, ms);
        free(t);
        double now = stress_now();
        if (found)
            return now;
        if (now > end)
            return 0;
        stress_sleep_us(2000);
    }
}

struct stats {
    unsigned answered, asked;
    uint64_t commands, connections, clients, bytes_in, bytes_out, perr, recov;
    long clients_total;
    uint64_t emfile_drops, accept_pauses;
};

static bool parse_last_stats(const char *text, struct stats *st)
{
    const char *last = NULL;
    for (const char *p = text; p && (p = strstr(p, "]: stats workers=")) != NULL; p++)
        last = p;
    return last && sscanf(last,
                          "]: stats workers=%u/%u commands=%" SCNu64 " connections=%" SCNu64
                          " clients=%" SCNu64 " bytes_in=%" SCNu64 " bytes_out=%" SCNu64
                          " protocol_errors=%" SCNu64 " clients_total=%ld table_recoveries=%" SCNu64
                          " emfile_drops=%" SCNu64 " accept_pauses=%" SCNu64,
                          &st->answered, &st->asked, &st->commands, &st->connections, &st->clients,
                          &st->bytes_in, &st->bytes_out, &st->perr, &st->clients_total, &st->recov,
                          &st->emfile_drops, &st->accept_pauses) == 12;
}

/* One SIGUSR1 and the line it produces. */
static bool request_stats(struct round *R, struct stats *st)
{
    char *t = log_read(R);
    unsigned before = count_in(t, "]: stats workers=");
    free(t);
    if (kill(R->srv_pid, SIGUSR1) < 0)
        return false;
    double end = stress_now() + DEADLINE_S;
    while (stress_now() < end) {
        t = log_read(R);
        bool ok = count_in(t, "]: stats workers=") > before && parse_last_stats(t, st);
        free(t);
        if (ok)
            return true;
        stress_sleep_us(2000);
    }
    return false;
}

/* A statistics line taken when every worker answered and no client is connected. */
static bool quiescent_stats(struct round *R, struct stats *st, const char *when)
{
    double end = stress_now() + DEADLINE_S;
    bool got = false;
    while (stress_now() < end) {
        got = request_stats(R, st);
        if (got && st->answered == R->workers && st->asked == R->workers && st->clients == 0 &&
            st->clients_total == 0)
            return true;
        stress_sleep_us(5000);
    }
    stress_violation(R->s, "stats-exact",
                     "%s: no quiescent statistics line within %.0f s (%s; last workers=%u/%u "
                     "clients=%" PRIu64 " clients_total=%ld, %u workers run)",
                     when, DEADLINE_S, got ? "lines came" : "no line", st->answered, st->asked,
                     st->clients, st->clients_total, R->workers);
    return false;
}

/* ---- start ------------------------------------------------------------------------------- */
static void make_stale_socket(struct round *R)
{
    struct ipc_sock_addr a;
    char text[160];
    snprintf(text, sizeof(text), "unix:%s", R->unix_path);
    if (ipc_sock_addr_parse(&a, text) < 0)
        return;
    int fd = ipc_sock_listen(&a, 1, 0, NULL);
    if (fd >= 0)
        close(fd); /* the file stays: a stale socket nobody listens on */
}

/* A PING answered on a fresh TCP and a fresh Unix connection: every connection made
 * before has been taken off its (FIFO) accept queue by then. */
static void settle(struct round *R)
{
    for (int i = 0; i < 2; i++) {
        struct sock_reader *rd = sock_reader_new(READ_CAP);
        if (!rd)
            return;
        rd->fd = stress_sock_connect(i ? &R->unx : &R->tcp);
        if (rd->fd >= 0) {
            char line[128];
            rd->deadline = stress_now() + DEADLINE_S;
            int k = send_then_line(rd, line, sizeof(line));
            stress_check(R->s, k > 0 && strcmp(line, "+PONG\r\n") == 0, "reply-or-close",
                         "PING over %s answered %s '%s'", i ? "unix" : "tcp", k > 0 ? "with" : "by",
                         k > 0 ? line : ipc_strerror(k));
            close(rd->fd);
        }
        free(rd);
    }
}

static bool start_server(struct round *R)
{
    struct stress *s = R->s;
    R->abstract = R->no % 2 == 1;
    if (R->abstract)
        snprintf(R->unix_path, sizeof(R->unix_path), "@ipcstorm-sup-%ld-%u", (long)getpid(), R->no);
    else
        snprintf(R->unix_path, sizeof(R->unix_path), "%s/s%u.sock", g_tmpdir, R->no);
    snprintf(R->log_path, sizeof(R->log_path), "%s/log%u.txt", g_tmpdir, R->no);
    if (!R->abstract)
        make_stale_socket(R);
    struct ipc_pipe pp;
    int r = ipc_pipe_open(&pp, 0);
    if (r < 0) {
        stress_setup_error(s, "ipc_pipe_open: %s", ipc_strerror(r));
        return false;
    }
    struct server_arg *sa = calloc(1, sizeof(*sa));
    if (!sa) {
        ipc_pipe_close(&pp);
        stress_setup_error(s, "out of memory");
        return false;
    }
    sa->out_fd = pp.wr;
    sa->o.bind = "127.0.0.1";
    sa->o.unix_path = R->unix_path;
    sa->o.udp = 1;
    sa->o.workers = R->workers;
    sa->o.max_clients = R->max_clients;
    snprintf(sa->log_path, sizeof(sa->log_path), "%s", R->log_path);
    R->t_forked = stress_now();
    r = ipc_proc_fork(&R->srv, server_main, sa, NULL);
    close(pp.wr);
    struct start_msg m;
    memset(&m, 0, sizeof(m));
    ssize_t got = r < 0 ? r : ipc_pipe_read_full(pp.rd, &m, sizeof(m));
    close(pp.rd);
    free(sa);
    if (got != (ssize_t)sizeof(m) || m.rc_new < 0) {
        stress_check(s, m.rc_new != -EADDRINUSE || R->abstract, "describe-exact",
                     "ipc_server_new refused to replace a stale socket file at %s: %s",
                     R->unix_path, ipc_strerror(m.rc_new));
        stress_setup_error(s, "server did not start: %s",
                           r < 0 ? ipc_strerror(r) : ipc_strerror(m.rc_new));
        return false;
    }
    R->srv_pid = ipc_proc_pid(R->srv);
    R->port = m.port;
    char text[160];
    snprintf(text, sizeof(text), "127.0.0.1:%d", m.port);
    stress_ignore(ipc_sock_addr_parse(&R->tcp, text));
    stress_ignore(ipc_sock_addr_parse(&R->udp, text));
    snprintf(text, sizeof(text), "unix:%s", R->unix_path);
    stress_ignore(ipc_sock_addr_parse(&R->unx, text));

    /* describe: the port as the kernel reports it for a connected client. */
    int fd = stress_sock_connect(&R->tcp);
    struct ipc_sock_addr peer;
    int peer_port = -1;
    if (fd >= 0 && ipc_sock_peer_addr(fd, &peer) == 0)
        peer_port = ipc_sock_addr_port(&peer);
    if (fd >= 0)
        close(fd);
    char want[256];
    int wl = snprintf(want, sizeof(want),
                      "listening tcp 127.0.0.1:%d udp 127.0.0.1:%d unix %s workers %u", peer_port,
                      peer_port, R->unix_path, R->workers);
    stress_check(s, peer_port > 0 && m.port == peer_port, "describe-exact",
                 "ipc_server_port says %d, a connected client's peer port is %d", m.port,
                 peer_port);
    /* Wait for this client to be served so that later counts start from a known state. */
    settle(R);
    stress_check(s, m.desc_len == wl && strcmp(m.desc, want) == 0, "describe-exact",
                 "describe returned %d '%s', expected %d '%s'", m.desc_len, m.desc, wl, want);
    stress_check(s, m.desc_short == -ENOSPC && m.desc_tiny == -ENOSPC && m.desc_exact == wl,
                 "describe-exact",
                 "describe with a buffer of %d bytes: %d, of %d bytes: %d (want -ENOSPC, %d), "
                 "of 5 bytes: %d",
                 wl, m.desc_short, wl + 1, m.desc_exact, wl, m.desc_tiny);
    pid_t pids[MAX_PIDS];
    unsigned n = wait_workers(R, 0, R->t_forked, pids);
    for (unsigned i = 0; i < n; i++)
        stress_ignore(confirm_start(R, pids[i], R->t_forked) != NULL);
    stress_check(s, n == R->workers, "worker-restart", "%u workers running after start, want %u", n,
                 R->workers);
    return true;
}

/* A second server on the same live path must not take it over. */
static void check_live_path(struct round *R)
{
    if (R->abstract)
        return;
    struct ipc_server_options o;
    memset(&o, 0, sizeof(o));
    o.unix_path = R->unix_path;
    o.no_tcp = 1;
    o.workers = 1;
    o.quiet = 1;
    ipc_server *other = NULL;
    int r = ipc_server_new(&other, &o);
    ipc_server_free(other);
    stress_check(R->s, r == -EADDRINUSE, "describe-exact",
                 "a second server on the live path %s: %s (want -EADDRINUSE)", R->unix_path,
                 ipc_strerror(r));
    struct stat sb;
    stress_check(R->s, stat(R->unix_path, &sb) == 0 && S_ISSOCK(sb.st_mode), "describe-exact",
                 "the live socket path %s vanished after a refused second server", R->unix_path);
}

/* ---- one exact request/reply ------------------------------------------------------------- */
struct tally {
    uint64_t commands, bytes_in, bytes_out;
};

/* Sends req on fd and expects exactly `want` back; counts both in t. */
static bool exchange(struct round *R, struct sock_reader *rd, const char *req, size_t reqlen,
                     const char *want, struct tally *t, const char *inv)
{
    rd->deadline = stress_now() + DEADLINE_S;
    if (ipc_sock_send_all(rd->fd, req, reqlen) != (ssize_t)reqlen) {
        stress_violation(R->s, inv, "send of a %zu-byte request failed", reqlen);
        return false;
    }
    size_t wl = strlen(want);
    char got[256];
    int k = wl < sizeof(got) ? sock_reader_exact(rd, got, wl) : -ENOBUFS;
    if (k == 1 && memcmp(got, want, wl) == 0) {
        t->commands++;
        t->bytes_in += reqlen;
        t->bytes_out += wl;
        return true;
    }
    if (k == 1)
        got[wl] = '\0';
    stress_violation(R->s, inv, "request '%.*s' answered %s '%s', want '%s'",
                     (int)(reqlen > 40 ? 40 : reqlen), req, k == 1 ? "with" : "by",
                     k == 1 ? got : ipc_strerror(k), want);
    return false;
}

/* ---- phase: UDP ------------------------------------------------------------------------------ */
/* Returns the stream connections it made (1) and adds its UDP exchange to t_udp and
 * its TCP exchange to t_tcp. */
static unsigned phase_udp(struct round *R, struct tally *t_udp, struct tally *t_tcp)
{
    int fds[2];
    for (int i = 0; i < 2; i++)
        fds[i] = ipc_sock_dgram_open(AF_INET, 0);
    if (fds[0] < 0 || fds[1] < 0) {
        stress_setup_error(R->s, "ipc_sock_dgram_open failed");
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        return 0;
    }
    char key[64], req[256], want[64], got[512], want_from[IPC_SOCK_ADDRSTRLEN],
        from_text[IPC_SOCK_ADDRSTRLEN];
    snprintf(key, sizeof(key), "udp:%u", R->no);
    stress_ignore(ipc_sock_addr_format(&R->udp, want_from, sizeof(want_from)));
    unsigned n = 5 + (unsigned)stress_rng_below(&R->rng, 20), incrs = 0;
    for (unsigned i = 0; i < n; i++) {
        int fd = fds[stress_rng_below(&R->rng, 2)];
        size_t len;
        if (stress_rng_below(&R->rng, 4) == 0) {
            len = (size_t)snprintf(req, sizeof(req), "PING\r\n");
            snprintf(want, sizeof(want), "+PONG\r\n");
        } else {
            const char *argv[] = {"INCR", key};
            len = resp_cmd(req, sizeof(req), 2, argv);
            snprintf(want, sizeof(want), ":%u\r\n", ++incrs);
        }
        if (ipc_sock_sendto(fd, req, len, &R->udp) != (ssize_t)len) {
            stress_violation(R->s, "udp-exact", "sendto failed");
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        double end = stress_now() + DEADLINE_S;
        int pr = 0;
        while (pr <= 0 && stress_now() < end)
            pr = poll(&p, 1, 100);
        if (!stress_check(R->s, pr > 0, "udp-exact", "no reply datagram within %.0f s to '%s'",
                          DEADLINE_S, want))
            break;
        struct ipc_sock_addr from;
        ssize_t k = ipc_sock_recvfrom(fd, got, sizeof(got) - 1, &from);
        got[k > 0 ? k : 0] = '\0';
        if (ipc_sock_addr_format(&from, from_text, sizeof(from_text)) < 0)
            from_text[0] = '\0';
        if (!stress_check(R->s,
                          k == (ssize_t)strlen(want) && strcmp(got, want) == 0 &&
                              strcmp(from_text, want_from) == 0,
                          "udp-exact", "datagram reply '%s' (%zd bytes) from %s, want '%s' from %s",
                          got, k, from_text, want, want_from))
            break;
        t_udp->commands++;
        t_udp->bytes_in += len;
        t_udp->bytes_out += (uint64_t)k;
        /* Exactly one datagram per request. */
        if (!stress_check(R->s, poll(&p, 1, 0) == 0, "udp-exact",
                          "a second datagram followed the reply to '%s'", want))
            break;
        stress_add_ops(R->s, 1);
    }
    close(fds[0]);
    close(fds[1]);
    /* The TCP view of the same counter. */
    struct sock_reader *rd = sock_reader_new(READ_CAP);
    if (!rd)
        return 0;
    unsigned conns = 0;
    rd->fd = stress_sock_connect(&R->tcp);
    if (rd->fd >= 0) {
        conns++;
        const char *argv[] = {"INCRBY", key, "0"};
        size_t len = resp_cmd(req, sizeof(req), 3, argv);
        snprintf(want, sizeof(want), ":%u\r\n", incrs);
        exchange(R, rd, req, len, want, t_tcp, "udp-exact");
        close(rd->fd);
    }
    free(rd);
    return conns;
}

/* ---- phase: statistics --------------------------------------------------------------------- */
static void check_worker_fds(struct round *R);

/* A worker that cannot answer (stopped) must not hold the line back: after its
 * wait the supervisor prints what it has, workers=(N-1)/N (server.h). */
static void check_stats_overdue(struct round *R)
{
    pid_t pids[MAX_PIDS];
    if (R->workers < 2 || worker_pids(R, pids, MAX_PIDS) != R->workers)
        return;
    if (kill(pids[0], SIGSTOP) != 0)
        return;
    struct stats st;
    memset(&st, 0, sizeof(st));
    bool got = request_stats(R, &st);
    stress_ignore(kill(pids[0], SIGCONT));
    stress_check(R->s, got && st.asked == R->workers && st.answered == R->workers - 1,
                 "stats-exact",
                 "statistics with worker %ld stopped: %s (workers=%u/%u, want %u/%u)",
                 (long)pids[0], got ? "a line" : "no line within the deadline", st.answered,
                 st.asked, R->workers - 1, R->workers);
}

static void phase_stats(struct round *R)
{
    struct stats a, b;
    if (!quiescent_stats(R, &a, "before the workload"))
        return;
    /* Every worker answered the statistics request: each is past its setup. */
    check_worker_fds(R);
    check_stats_overdue(R);
    struct tally t = {0};
    unsigned nconn = 2 + (unsigned)stress_rng_below(&R->rng, 4);
    char key[64], req[256], want[64];
    snprintf(key, sizeof(key), "stats:%u", R->no);
    unsigned incrs = 0;
    for (unsigned c = 0; c < nconn; c++) {
        struct sock_reader *rd = sock_reader_new(READ_CAP);
        if (!rd)
            return;
        rd->fd = stress_sock_connect(c % 2 ? &R->unx : &R->tcp);
        if (rd->fd < 0) {
            stress_violation(R->s, "stats-exact", "connect failed: %s", ipc_strerror(rd->fd));
            free(rd);
            return;
        }
        unsigned m = 1 + (unsigned)stress_rng_below(&R->rng, 6);
        bool ok = true;
        for (unsigned i = 0; i < m && ok; i++) {
            switch (stress_rng_below(&R->rng, 3)) {
            case 0:
                ok = exchange(R, rd, "PING\r\n", 6, "+PONG\r\n", &t, "stats-exact");
                break;
            case 1: {
                const char *argv[] = {"ECHO", "supervisor"};
                size_t n = resp_cmd(req, sizeof(req), 2, argv);
                ok = exchange(R, rd, req, n, "$10\r\nsupervisor\r\n", &t, "stats-exact");
                break;
            }
            default: {
                const char *argv[] = {"INCR", key};
                size_t n = resp_cmd(req, sizeof(req), 2, argv);
                snprintf(want, sizeof(want), ":%u\r\n", ++incrs);
                ok = exchange(R, rd, req, n, want, &t, "stats-exact");
                break;
            }
            }
        }
        close(rd->fd);
        free(rd);
        if (!ok)
            return;
    }
    struct tally u = {0};
    nconn += phase_udp(R, &u, &t);
    if (!quiescent_stats(R, &b, "after the workload"))
        return;
    uint64_t out = b.bytes_out - a.bytes_out;
    t.commands += u.commands;
    t.bytes_in += u.bytes_in;
    stress_check(R->s,
                 b.commands - a.commands == t.commands && b.connections - a.connections == nconn &&
                     b.bytes_in - a.bytes_in == t.bytes_in && out == t.bytes_out + u.bytes_out &&
                     b.perr == a.perr,
                 "stats-exact",
                 "stats deltas commands=%" PRIu64 " connections=%" PRIu64 " bytes_in=%" PRIu64
                 " bytes_out=%" PRIu64 " protocol_errors=%" PRIu64 "; the driver did %" PRIu64
                 " commands on %u connections, %" PRIu64 " bytes in, %" PRIu64
                 " bytes out (+%" PRIu64 " in UDP replies)",
                 b.commands - a.commands, b.connections - a.connections, b.bytes_in - a.bytes_in,
                 b.bytes_out - a.bytes_out, b.perr - a.perr, t.commands, nconn, t.bytes_in,
                 t.bytes_out, u.bytes_out);
    stress_add_ops(R->s, t.commands);
}

/* ---- phase: max clients ------------------------------------------------------------------------
 */
/* Connects and expects PONG (accepted) or the refusal text then EOF (refused).
 * Returns 1 accepted (fd kept in *keep), 0 refused, -1 anything else (reported). */
static int try_client(struct round *R, int *keep)
{
    struct sock_reader *rd = sock_reader_new(READ_CAP);
    if (!rd)
        return -1;
    rd->fd = stress_sock_connect(R->no % 2 ? &R->unx : &R->tcp);
    if (rd->fd < 0) {
        stress_violation(R->s, "max-clients", "connect failed: %s", ipc_strerror(rd->fd));
        free(rd);
        return -1;
    }
    rd->deadline = stress_now() + DEADLINE_S;
    char line[128];
    int k = send_then_line(rd, line, sizeof(line));
    int res = -1;
    if (k > 0 && strcmp(line, "+PONG\r\n") == 0) {
        *keep = rd->fd;
        free(rd);
        return 1;
    }
    if (k > 0 && strcmp(line, MAX_CLI_TXT) == 0) {
        int e = sock_reader_eof(rd);
        res = e == 1 || e == -ECONNRESET ? 0 : -1;
        if (res < 0)
            stress_violation(R->s, "max-clients", "more than the refusal before the close: %s",
                             e == 0 ? "bytes" : ipc_strerror(e));
    } else {
        stress_violation(R->s, "max-clients", "a new client got %s '%s'",
                         k > 0 ? "the line" : "the error", k > 0 ? line : ipc_strerror(k));
    }
    close(rd->fd);
    free(rd);
    return res;
}

static void kill_and_check(struct round *R, pid_t pid, int sig);

/* PING on a held client: true for PONG, false when its worker is gone (EOF/reset). */
static bool client_alive(struct round *R, int fd)
{
    struct sock_reader *rd = sock_reader_new(READ_CAP);
    if (!rd)
        return false;
    rd->fd = fd;
    rd->deadline = stress_now() + DEADLINE_S;
    char line[128];
    int k = send_then_line(rd, line, sizeof(line));
    free(rd);
    if (k > 0 && strcmp(line, "+PONG\r\n") == 0)
        return true;
    stress_check(R->s, k == 0 || k == -ECONNRESET || k == -EPIPE, "max-clients",
                 "a held client got %s '%s'", k > 0 ? "the line" : "the error",
                 k > 0 ? line : ipc_strerror(k));
    return false;
}

/* A worker dies holding some of the K clients: the supervisor gives its share
 * back, so the survivors plus new clients reach K again, and no more. */
static void max_clients_after_kill(struct round *R, int *held, unsigned *nheld)
{
    unsigned K = R->max_clients;
    pid_t pids[MAX_PIDS];
    unsigned n = worker_pids(R, pids, MAX_PIDS);
    if (n == 0)
        return;
    kill_and_check(R, pids[stress_rng_below(&R->rng, n)], SIGKILL);
    unsigned kept = 0;
    for (unsigned i = 0; i < *nheld; i++) {
        if (client_alive(R, held[i]))
            held[kept++] = held[i];
        else
            close(held[i]);
    }
    unsigned survivors = kept;
    *nheld = kept;
    while (*nheld < K) {
        double end = stress_now() + DEADLINE_S;
        int r;
        while ((r = try_client(R, &held[*nheld])) == 0 && stress_now() < end)
            stress_sleep_us(2000);
        if (!stress_check(R->s, r == 1, "max-clients",
                          "after a worker died, %u survivors + %u new clients, and client %u is "
                          "not accepted (max_clients %u)",
                          survivors, *nheld - survivors, *nheld + 1, K))
            return;
        (*nheld)++;
    }
    int extra = -1;
    int r = try_client(R, &extra);
    stress_check(R->s, r == 0, "max-clients",
                 "after a worker died, client %u accepted (max_clients %u)", K + 1, K);
    if (r == 1)
        close(extra);
}

static void phase_max_clients(struct round *R)
{
    unsigned K = R->max_clients;
    int held[MAX_PROCS + 8];
    unsigned nheld = 0;
    for (unsigned i = 0; i < K; i++) {
        /* Earlier phases' clients may still be counted for a moment: retry. */
        double end = stress_now() + DEADLINE_S;
        int r;
        while ((r = try_client(R, &held[nheld])) == 0 && stress_now() < end)
            stress_sleep_us(2000);
        if (!stress_check(R->s, r == 1, "max-clients", "client %u of max_clients %u not accepted",
                          i + 1, K))
            goto out;
        nheld++;
    }
    int extra = -1;
    int r = try_client(R, &extra);
    stress_check(R->s, r == 0, "max-clients", "client %u with max_clients %u was %s", K + 1, K,
                 r == 1 ? "accepted" : "not refused as documented");
    if (r == 1)
        close(extra);
    if (r != 0)
        goto out;
    /* One leaves: room for exactly one more (retry while the close is processed). */
    close(held[--nheld]);
    double end = stress_now() + DEADLINE_S;
    while ((r = try_client(R, &held[nheld])) == 0 && stress_now() < end)
        stress_sleep_us(2000);
    if (!stress_check(R->s, r == 1, "max-clients",
                      "no client accepted after one of %u left (max_clients %u)", K, K))
        goto out;
    nheld++;
    r = try_client(R, &extra);
    stress_check(R->s, r == 0, "max-clients", "client %u accepted after a replacement (max %u)",
                 K + 1, K);
    if (r == 1)
        close(extra);
    if (r == 0)
        max_clients_after_kill(R, held, &nheld);
out:
    while (nheld)
        close(held[--nheld]);
    stress_add_ops(R->s, K + 2);
}

/* ---- phase: out of descriptors (1-worker rounds) ----------------------------------------------
 */
/* The k-th lowest descriptor number not open in process pid (/proc/<pid>/fd), or -1.
 * RLIMIT_NOFILE bounds descriptor numbers, not counts: a soft limit of that number + 1
 * lets the process open exactly k more. */
static int kth_free_fd(pid_t pid, unsigned k)
{
    enum { FD_SCAN = 4096 };
    bool used[FD_SCAN] = {false};
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
    DIR *d = k ? opendir(path) : NULL;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char *end;
        long n = strtol(e->d_name, &end, 10);
        if (e->d_name[0] != '.' && *end == '\0' && n >= 0 && n < FD_SCAN)
            used[n] = true;
    }
    closedir(d);
    for (int fd = 0; fd < FD_SCAN; fd++)
        if (!used[fd] && --k == 0)
            return fd;
    return -1;
}

/* How many of pid's descriptors link to target ("anon_inode:[signalfd]"), or -1. */
static int count_fd_links(pid_t pid, const char *target)
{
    char path[64], fdpath[352], link[128];
    snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(fdpath, sizeof(fdpath), "%s/%s", path, e->d_name);
        ssize_t k = readlink(fdpath, link, sizeof(link) - 1);
        link[k > 0 ? k : 0] = '\0';
        n += strcmp(link, target) == 0;
    }
    closedir(d);
    return n;
}

/* A worker replaces the supervisor's signal source and epoll with its own: once
 * past its setup it has as many of each as the supervisor (whatever both
 * inherited), never one more. */
static void check_worker_fds(struct round *R)
{
    pid_t pids[MAX_PIDS];
    unsigned n = worker_pids(R, pids, MAX_PIDS);
    static const char *const kinds[] = {"anon_inode:[signalfd]", "anon_inode:[eventpoll]"};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        int sup = count_fd_links(R->srv_pid, kinds[k]);
        for (unsigned i = 0; i < n && sup >= 0; i++) {
            int w = count_fd_links(pids[i], kinds[k]);
            stress_check(R->s, w < 0 || w == sup, "worker-fds-exact",
                         "worker %ld holds %d '%s' descriptors, the supervisor %d", (long)pids[i],
                         w, kinds[k], sup);
        }
    }
}

/* A new client (TCP or Unix at random) whose PING gets exactly +PONG: its fd, or -1
 * (reported as emfile-exact). */
static int emfile_served(struct round *R, const char *what)
{
    struct sock_reader *rd = sock_reader_new(READ_CAP);
    if (!rd)
        return -1;
    rd->fd = stress_sock_connect(stress_rng_below(&R->rng, 2) ? &R->unx : &R->tcp);
    int fd = -1;
    if (rd->fd < 0) {
        stress_violation(R->s, "emfile-exact", "%s: connect failed: %s", what,
                         ipc_strerror(rd->fd));
    } else {
        rd->deadline = stress_now() + DEADLINE_S;
        char line[128];
        int k = send_then_line(rd, line, sizeof(line));
        if (k > 0 && strcmp(line, "+PONG\r\n") == 0)
            fd = rd->fd;
        else
            stress_violation(R->s, "emfile-exact", "%s: PING answered %s '%s', want +PONG", what,
                             k > 0 ? "with" : "by", k > 0 ? line : ipc_strerror(k));
        if (fd < 0)
            close(rd->fd);
    }
    free(rd);
    return fd;
}

/* A new client that sends nothing: a worker out of descriptors must take it off the
 * queue with its reserve descriptor and close it, so it reads EOF and not one byte
 * (a client left open would time out; a reply would be bytes). */
static bool emfile_dropped(struct round *R, const char *what)
{
    struct sock_reader *rd = sock_reader_new(READ_CAP);
    if (!rd)
        return false;
    rd->fd = stress_sock_connect(stress_rng_below(&R->rng, 2) ? &R->unx : &R->tcp);
    int e = rd->fd;
    if (rd->fd >= 0) {
        rd->deadline = stress_now() + DEADLINE_S;
        e = sock_reader_eof(rd);
        close(rd->fd);
    }
    free(rd);
    return stress_check(R->s, e == 1, "emfile-exact",
                        "%s: want a clean close (EOF, no byte) within %.0f s, got %s", what,
                        DEADLINE_S, e == 0 ? "bytes" : ipc_strerror(e));
}

/* Closes a served client so that its worker has closed its side on return: our FIN,
 * then the worker's (sent by close(), nothing else in the server shuts down). */
static bool emfile_release(struct round *R, int fd)
{
    struct sock_reader *rd = sock_reader_new(READ_CAP);
    int e = -ENOMEM;
    if (rd) {
        rd->fd = fd;
        rd->deadline = stress_now() + DEADLINE_S;
        e = shutdown(fd, SHUT_WR) < 0 ? -errno : sock_reader_eof(rd);
        free(rd);
    }
    close(fd);
    return stress_check(R->s, e == 1, "emfile-exact",
                        "a served client that closed its side: want the worker's EOF, got %s",
                        e == 0 ? "bytes" : ipc_strerror(e));
}

/* Stats deltas since a (the worker lives through the whole phase) against the driver's
 * counts: cmds PINGs on conns connections, drops reserve drops, no pause unless
 * pauses_min > 0 (then at least that many: one per 100 ms while no descriptor is
 * free, so only a bound). clients: the connections the driver holds now. */
static void emfile_check_stats(struct round *R, const struct stats *a, const struct stats *b,
                               const char *when, uint64_t conns, uint64_t drops,
                               uint64_t pauses_min, uint64_t clients)
{
    uint64_t pauses = b->accept_pauses - a->accept_pauses;
    stress_check(
        R->s,
        b->answered == 1 && b->asked == 1 && b->emfile_drops - a->emfile_drops == drops &&
            (pauses_min ? pauses >= pauses_min : pauses == 0) &&
            b->connections - a->connections == conns && b->commands - a->commands == conns &&
            b->bytes_in - a->bytes_in == 6 * conns && b->bytes_out - a->bytes_out == 7 * conns &&
            b->perr == a->perr && b->clients == clients && b->clients_total == (long)clients,
        "emfile-exact",
        "%s: workers=%u/%u deltas emfile_drops=%" PRIu64 " accept_pauses=%" PRIu64
        " connections=%" PRIu64 " commands=%" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64
        " protocol_errors=%" PRIu64 ", clients=%" PRIu64 " clients_total=%ld; the driver: %" PRIu64
        " drops, %s%" PRIu64 " pauses, %" PRIu64 " PINGs on as many connections, %" PRIu64 " held",
        when, b->answered, b->asked, b->emfile_drops - a->emfile_drops, pauses,
        b->connections - a->connections, b->commands - a->commands, b->bytes_in - a->bytes_in,
        b->bytes_out - a->bytes_out, b->perr - a->perr, b->clients, b->clients_total, drops,
        pauses_min ? ">= " : "", pauses_min, conns, clients);
}

/* The only worker runs out of descriptors (its soft RLIMIT_NOFILE lowered from here
 * with prlimit): exactly K more clients are served, the next D are closed at once
 * with the reserve descriptor and counted as emfile_drops, the listeners are never
 * paused; a client that leaves makes room for exactly one more, and the reserve is
 * back for the drop after it. Then no descriptor at all (soft limit 0): no reserve
 * can help, the listeners pause (accept_pauses), a queued client waits unanswered
 * and is served once the limit is restored. */
static void phase_emfile(struct round *R)
{
    if (R->workers != 1)
        return;
    struct stats a, b;
    if (!quiescent_stats(R, &a, "before the out-of-descriptors phase"))
        return;
    pid_t pids[MAX_PIDS];
    if (!stress_check(R->s, worker_pids(R, pids, MAX_PIDS) == 1, "emfile-exact",
                      "not exactly one worker in a 1-worker round"))
        return;
    pid_t w = pids[0];
    unsigned room = R->max_clients - 2; /* the held clients plus the queued one */
    unsigned K = 1 + (unsigned)stress_rng_below(&R->rng, room < 3 ? room : 3);
    unsigned D = 1 + (unsigned)stress_rng_below(&R->rng, 4);
    int f = kth_free_fd(w, K);
    struct rlimit old;
    if (f < 0 || prlimit(w, RLIMIT_NOFILE, NULL, &old) < 0) {
        stress_setup_error(R->s, "the descriptors of worker %ld: %s", (long)w,
                           f < 0 ? "/proc/<pid>/fd unreadable" : strerror(errno));
        return;
    }
    struct rlimit low = {.rlim_cur = (rlim_t)f + 1, .rlim_max = old.rlim_max};
    if (prlimit(w, RLIMIT_NOFILE, &low, NULL) < 0) {
        stress_setup_error(R->s, "prlimit(%ld, RLIMIT_NOFILE): %s", (long)w, strerror(errno));
        return;
    }
    int held[8];
    unsigned nheld = 0;
    uint64_t conns = 0, drops = 0, pauses_min = 0;
    char what[96];
    for (unsigned i = 0; i < K; i++) {
        snprintf(what, sizeof(what), "client %u of the %u descriptors left", i + 1, K);
        if ((held[nheld] = emfile_served(R, what)) < 0)
            goto restore;
        nheld++;
        conns++;
    }
    for (unsigned i = 0; i < D; i++) {
        snprintf(what, sizeof(what), "client %u past the %u descriptors left", i + 1, K);
        if (!emfile_dropped(R, what))
            goto restore;
        drops++;
    }
    if (!stress_check(R->s, request_stats(R, &b), "emfile-exact", "no statistics line"))
        goto restore;
    emfile_check_stats(R, &a, &b, "after the drops", conns, drops, 0, nheld);
    char *t = log_read(R);
    stress_check(R->s, t && strstr(t, "]: worker 0: out of file descriptors ("), "emfile-exact",
                 "no 'out of file descriptors' line in the server log after %u drops", D);
    free(t);

    /* One leaves: its descriptor serves exactly the next client, and the reserve,
     * reopened after every drop, takes the one after. */
    if (!emfile_release(R, held[--nheld]))
        goto restore;
    if ((held[nheld] = emfile_served(R, "the client after one left")) < 0)
        goto restore;
    nheld++;
    conns++;
    if (!emfile_dropped(R, "the client after the replacement"))
        goto restore;
    drops++;

    /* No descriptor at all: the reserve cannot help, the listeners pause. */
    struct stats c;
    if (!stress_check(R->s, request_stats(R, &c), "emfile-exact", "no statistics line"))
        goto restore;
    low.rlim_cur = 0;
    if (prlimit(w, RLIMIT_NOFILE, &low, NULL) < 0) {
        stress_setup_error(R->s, "prlimit(%ld, RLIMIT_NOFILE, 0): %s", (long)w, strerror(errno));
        goto restore;
    }
    struct sock_reader *q = sock_reader_new(READ_CAP);
    if (!q)
        goto restore;
    q->fd = stress_sock_connect(stress_rng_below(&R->rng, 2) ? &R->unx : &R->tcp);
    if (!stress_check(R->s, q->fd >= 0, "emfile-exact", "connect failed: %s",
                      ipc_strerror(q->fd))) {
        free(q);
        goto restore;
    }
    stress_ignore(ipc_sock_send_all(q->fd, "PING\r\n", 6));
    double end = stress_now() + DEADLINE_S;
    bool paused = false;
    while (!paused && stress_now() < end)
        paused = request_stats(R, &b) && b.accept_pauses > c.accept_pauses;
    struct pollfd p = {.fd = q->fd, .events = POLLIN};
    int ready = poll(&p, 1, 0);
    bool ok =
        stress_check(R->s, paused, "emfile-exact",
                     "no accept pause counted within %.0f s with no descriptor free", DEADLINE_S) &&
        stress_check(R->s, ready == 0 && b.emfile_drops == c.emfile_drops, "emfile-exact",
                     "with no descriptor free: the queued client %s, emfile_drops %" PRIu64
                     " -> %" PRIu64,
                     ready ? "saw data or a close" : "waits", c.emfile_drops, b.emfile_drops);
    pauses_min = 1;
    /* The limit back: the paused listeners resume and the queued client is served. */
    if (prlimit(w, RLIMIT_NOFILE, &old, NULL) < 0)
        stress_setup_error(R->s, "prlimit(%ld) restore: %s", (long)w, strerror(errno));
    if (ok) {
        q->deadline = stress_now() + DEADLINE_S;
        char line[128];
        int k = sock_reader_line(q, line, sizeof(line));
        if (stress_check(R->s, k > 0 && strcmp(line, "+PONG\r\n") == 0, "emfile-exact",
                         "the client queued while no descriptor was free, once the limit is "
                         "back: %s '%s', want +PONG within %.0f s",
                         k > 0 ? "the line" : "the error", k > 0 ? line : ipc_strerror(k),
                         DEADLINE_S)) {
            conns++;
            held[nheld++] = q->fd;
            q->fd = -1;
        }
    }
    if (q->fd >= 0)
        close(q->fd);
    free(q);
    if (!ok)
        goto restore;
    if (!stress_check(R->s, request_stats(R, &b), "emfile-exact", "no statistics line"))
        goto restore;
    emfile_check_stats(R, &a, &b, "after the pause", conns, drops, pauses_min, nheld);

    /* The reserve comes back with the descriptors: with none free again but its
     * own, the next client is dropped with it, not left waiting behind a pause. */
    int f0 = kth_free_fd(w, 1);
    low.rlim_cur = (rlim_t)(f0 < 0 ? 0 : f0);
    if (f0 < 0 || prlimit(w, RLIMIT_NOFILE, &low, NULL) < 0) {
        stress_setup_error(R->s, "prlimit(%ld, RLIMIT_NOFILE, %d): %s", (long)w, f0,
                           f0 < 0 ? "/proc/<pid>/fd unreadable" : strerror(errno));
        goto restore;
    }
    if (!emfile_dropped(R, "the client after the pause, with no descriptor free"))
        goto restore;
    drops++;
    if (stress_check(R->s, request_stats(R, &c), "emfile-exact", "no statistics line"))
        stress_check(R->s,
                     c.emfile_drops == b.emfile_drops + 1 && c.accept_pauses == b.accept_pauses,
                     "emfile-exact",
                     "after the pause, a client with no descriptor free: emfile_drops %" PRIu64
                     " -> %" PRIu64 ", accept_pauses %" PRIu64 " -> %" PRIu64
                     " (want one drop with the reopened reserve, no pause)",
                     b.emfile_drops, c.emfile_drops, b.accept_pauses, c.accept_pauses);
restore:
    /* Restored even after a violation, so that the later phases run unchanged. */
    if (prlimit(w, RLIMIT_NOFILE, &old, NULL) < 0 && errno != ESRCH)
        stress_setup_error(R->s, "prlimit(%ld) restore: %s", (long)w, strerror(errno));
    while (nheld)
        close(held[--nheld]);
    stress_add_ops(R->s, conns + drops);
    g_emfile_rounds += pauses_min > 0;
    g_emfile_drops += drops;
    if (quiescent_stats(R, &b, "after the out-of-descriptors phase"))
        emfile_check_stats(R, &a, &b, "once every client left", conns, drops, pauses_min, 0);
}

/* ---- phase: worker kills under INCR load
 * ---------------------------------------------------------- */
struct cli_shared {
    _Atomic uint64_t acked, unknown, refused, bad;
    uint32_t nvals;
    int64_t vals[VALS_PER_CLI];
    char first_bad[160];
};

struct cli_arg {
    struct round *R;
    struct cli_shared *sh;
    int stop_rd, stop_wr;
    unsigned idx;
};

static bool stop_asked(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

static void cli_bad(struct cli_shared *sh, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void cli_bad(struct cli_shared *sh, const char *fmt, ...)
{
    if (atomic_fetch_add(&sh->bad, 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sh->first_bad, sizeof(sh->first_bad), fmt, ap);
        va_end(ap);
    }
}

static int incr_client(void *p)
{
    struct cli_arg *a = p;
    struct cli_shared *sh = a->sh;
    close(a->stop_wr);
    struct sock_reader *rd = sock_reader_new(READ_CAP);
    if (!rd)
        return 1;
    char key[48], req[128], line[128];
    snprintf(key, sizeof(key), "kills:%u", a->R->no);
    const char *argv[] = {"INCR", key};
    size_t reqlen = resp_cmd(req, sizeof(req), 2, argv);
    rd->fd = -1;
    unsigned conn_no = 0;
    while (!stop_asked(a->stop_rd)) {
        if (rd->fd < 0) {
            rd->fd = stress_sock_connect((a->idx + conn_no++) % 2 ? &a->R->unx : &a->R->tcp);
            rd->have = rd->pos = 0;
            if (rd->fd < 0) {
                cli_bad(sh, "connect failed: %s", ipc_strerror(rd->fd));
                break;
            }
        }
        rd->deadline = stress_now() + DEADLINE_S;
        /* Read even when the send failed: a refusal may already be waiting. */
        stress_ignore(ipc_sock_send_all(rd->fd, req, reqlen));
        int k = sock_reader_line(rd, line, sizeof(line));
        char *end = NULL;
        long long v = k > 0 && line[0] == ':' ? strtoll(line + 1, &end, 10) : 0;
        if (k > 0 && line[0] == ':' && end && strcmp(end, "\r\n") == 0 && v > 0) {
            if (sh->nvals < VALS_PER_CLI) /* later values are counted, not kept */
                sh->vals[sh->nvals++] = v;
            atomic_fetch_add(&sh->acked, 1);
            continue;
        }
        if (k > 0 && (strcmp(line, NO_WORKER_TXT) == 0 || strcmp(line, MAX_CLI_TXT) == 0)) {
            /* Turned away (no worker alive, or the clients of a dying worker still
             * count against max_clients): never executed; the close must follow. */
            int e = sock_reader_eof(rd);
            if (e != 1 && e != -ECONNRESET)
                cli_bad(sh, "no-worker answer not followed by a close: %s",
                        e == 0 ? "more bytes" : ipc_strerror(e));
            atomic_fetch_add(&sh->refused, 1);
            /* Retry back-off (not synchronisation): a refused client reconnecting at
             * full speed would burn thousands of ephemeral ports per second. */
            struct pollfd pf = {.fd = a->stop_rd, .events = POLLIN};
            stress_ignore(poll(&pf, 1, 5));
        } else if (k == 0 || k == -ECONNRESET || k == -EPIPE) {
            atomic_fetch_add(&sh->unknown, 1); /* its worker died: applied or not */
        } else {
            cli_bad(sh, "INCR answered %s '%s'", k > 0 ? "with" : "by",
                    k > 0 ? line : ipc_strerror(k));
            atomic_fetch_add(&sh->unknown, 1);
        }
        close(rd->fd);
        rd->fd = -1;
    }
    if (rd->fd >= 0)
        close(rd->fd);
    free(rd);
    return 0;
}

static uint64_t total_acked(struct cli_shared *sh, unsigned n)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < n; i++)
        t += atomic_load(&sh[i].acked) + atomic_load(&sh[i].refused);
    return t;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int crash_signal(struct stress_rng *rng)
{
    /* Crash signals that the sanitizers leave to the kernel. */
    static const int sigs[] = {SIGABRT, SIGSYS, SIGXCPU, SIGXFSZ, SIGTRAP};
    return sigs[stress_rng_below(rng, sizeof(sigs) / sizeof(sigs[0]))];
}

/* Kills pid with sig and checks the supervisor's account of it and the restart. */
static void kill_and_check(struct round *R, pid_t pid, int sig)
{
    struct pidinfo *pi = confirm_start(R, pid, R->t_forked);
    double t_kill = stress_now();
    if (kill(pid, sig) < 0) {
        stress_setup_error(R->s, "kill(%ld): %s", (long)pid, strerror(errno));
        return;
    }
    R->deaths++;
    char what[160];
    unsigned ms = 0;
    double t_seen = wait_death_line(R, pid, what, sizeof(what), &ms);
    if (!stress_check(R->s, t_seen > 0, "worker-restart",
                      "no log line about worker pid %ld after %s within %.0f s", (long)pid,
                      ipc_proc_signame(sig), DEADLINE_S))
        return;
    char want_what[64];
    if (sig == SIGTERM)
        snprintf(want_what, sizeof(want_what), "exited with code 0");
    else
        snprintf(want_what, sizeof(want_what), "killed by signal %d ", sig);
    stress_check(R->s, strncmp(what, want_what, strlen(want_what)) == 0 && ms != UINT32_MAX,
                 "worker-restart", "worker pid %ld sent %s: log says '%s'", (long)pid,
                 ipc_proc_signame(sig), what);
    bool crash = sig != SIGKILL && sig != SIGTERM;
    if (!crash) {
        stress_check(R->s, ms == 0, "worker-restart",
                     "worker pid %ld killed from outside (%s) replaced in %u ms, not at once",
                     (long)pid, ipc_proc_signame(sig), ms);
    } else if (pi) {
        /* Its age at death lies within [kill sent - latest start, line seen - earliest start]. */
        double age_lo = t_kill - pi->start_hi, age_hi = t_seen - pi->start_lo;
        g_old_crash += age_lo > 1.02;
        g_young_crash += age_hi < 0.98;
        if (age_lo > 1.02)
            stress_check(R->s, ms == 0, "worker-restart",
                         "worker pid %ld crashed (%s) after at least %.2f s, replaced in %u ms "
                         "instead of at once",
                         (long)pid, ipc_proc_signame(sig), age_lo, ms);
        else if (age_hi < 0.98)
            stress_check(R->s, ms >= 100 && ms <= 5000, "worker-restart",
                         "worker pid %ld crashed (%s) within %.2f s of its start, replaced in %u "
                         "ms (want a back-off of 100..5000 ms)",
                         (long)pid, ipc_proc_signame(sig), age_hi, ms);
        if (ms > 0)
            g_backoffs++;
    }
    pid_t pids[MAX_PIDS];
    unsigned n = wait_workers(R, pid, t_kill, pids);
    bool gone = true;
    for (unsigned i = 0; i < n; i++)
        gone = gone && pids[i] != pid;
    stress_check(R->s, n == R->workers && gone, "worker-restart",
                 "after killing worker %ld (%s): %u workers run%s, want %u", (long)pid,
                 ipc_proc_signame(sig), n, gone ? "" : " (the killed one among them)", R->workers);
    /* A new worker is in /proc as soon as it is forked, a moment before the
     * supervisor logs its start: wait for the line. */
    unsigned starts = 0, want_starts = R->workers + R->deaths;
    double end = stress_now() + DEADLINE_S;
    for (;;) {
        char *t = log_read(R);
        starts = 0;
        for (const char *p = t; p && (p = strstr(p, " started (pid ")) != NULL; p++)
            starts++;
        free(t);
        if (starts >= want_starts || stress_now() > end)
            break;
        stress_sleep_us(2000);
    }
    note_starts(R);
    stress_check(R->s, starts == want_starts, "worker-restart",
                 "%u worker start lines after %u deaths of %u workers", starts, R->deaths,
                 R->workers);
    g_restarts++;
}

static void phase_kills(struct round *R)
{
    struct stress *s = R->s;
    unsigned nc = s->procs;
    ipc_shm *region = NULL;
    int r = ipc_shm_new_anon(&region, sizeof(struct cli_shared) * nc);
    if (r < 0) {
        stress_setup_error(s, "ipc_shm_new_anon: %s", ipc_strerror(r));
        return;
    }
    struct cli_shared *sh = ipc_shm_base(region);
    struct ipc_pipe stop;
    r = ipc_pipe_open(&stop, 0);
    if (r < 0) {
        ipc_shm_free(region);
        stress_setup_error(s, "ipc_pipe_open: %s", ipc_strerror(r));
        return;
    }
    ipc_proc *cp[MAX_PROCS] = {0};
    struct cli_arg ca[MAX_PROCS];
    for (unsigned i = 0; i < nc; i++) {
        ca[i] = (struct cli_arg){
            .R = R, .sh = &sh[i], .stop_rd = stop.rd, .stop_wr = stop.wr, .idx = i};
        r = ipc_proc_fork(&cp[i], incr_client, &ca[i], NULL);
        if (r < 0) {
            stress_setup_error(s, "ipc_proc_fork: %s", ipc_strerror(r));
            cp[i] = NULL;
        }
    }
    unsigned kills = (unsigned)opt_kills;
    for (unsigned k = 0; k < kills && !s->setup_failed; k++) {
        /* Let the clients make progress first, so that every kill lands under load. */
        uint64_t base = total_acked(sh, nc);
        double end = stress_now() + DEADLINE_S;
        while (total_acked(sh, nc) < base + 5 && stress_now() < end)
            stress_sleep_us(1000);
        stress_check(s, total_acked(sh, nc) >= base + 5, "reply-or-close",
                     "clients made no progress for %.0f s before kill %u", DEADLINE_S, k + 1);
        pid_t pids[MAX_PIDS];
        unsigned n = worker_pids(R, pids, MAX_PIDS);
        if (n == 0)
            break;
        pid_t victim = pids[stress_rng_below(&R->rng, n)];
        unsigned pick = (unsigned)stress_rng_below(&R->rng, 3);
        int sig = pick == 0 ? SIGKILL : pick == 1 ? SIGTERM : crash_signal(&R->rng);
        if (k == 0) {
            /* The first kill is a crash of a worker provably older than 1 s (its
             * start line was seen more than 1.05 s ago): it must be replaced at once. */
            struct pidinfo *pi = confirm_start(R, victim, R->t_forked);
            double ripe = pi ? pi->start_hi + 1.05 : 0;
            while (pi && stress_now() < ripe)
                stress_sleep_us(10000);
            sig = crash_signal(&R->rng);
        }
        kill_and_check(R, victim, sig);
    }
    close(stop.wr);
    for (unsigned i = 0; i < nc; i++) {
        if (!cp[i])
            continue;
        struct ipc_proc_status st;
        memset(&st, 0, sizeof(st));
        r = stress_proc_wait(s, cp[i], 60000, &st);
        stress_check(s, r == 0 && st.exited && st.code == 0, "reply-or-close",
                     "INCR client %u ended badly (%s, raw 0x%x)", i, ipc_strerror(r), st.raw);
        stress_proc_discard(s, cp[i]);
    }
    close(stop.rd);
    /* The oracle: replies are unique, and the key lies within the acknowledged range. */
    uint64_t acked = 0, unknown = 0, nvals = 0;
    for (unsigned i = 0; i < nc; i++) {
        acked += sh[i].acked;
        unknown += sh[i].unknown;
        g_turned_away += sh[i].refused;
        stress_check(s, sh[i].bad == 0, "reply-or-close", "client %u: %" PRIu64 " bad, first: %s",
                     i, (uint64_t)sh[i].bad, sh[i].first_bad);
        nvals += sh[i].nvals;
    }
    int64_t *all = malloc(sizeof(int64_t) * (nvals ? nvals : 1));
    size_t m = 0;
    for (unsigned i = 0; all && i < nc; i++)
        for (uint32_t j = 0; j < sh[i].nvals; j++)
            all[m++] = sh[i].vals[j];
    if (all) {
        qsort(all, m, sizeof(int64_t), cmp_i64);
        size_t dups = 0;
        for (size_t i = 1; i < m; i++)
            dups += all[i] == all[i - 1];
        stress_check(s, dups == 0, "counter-exact",
                     "%zu INCR replies repeat a value another reply had", dups);
    }
    struct sock_reader *rd = sock_reader_new(READ_CAP);
    if (rd) {
        rd->fd = stress_sock_connect(&R->tcp);
        rd->deadline = stress_now() + DEADLINE_S;
        char req[128], line[128], key[48];
        snprintf(key, sizeof(key), "kills:%u", R->no);
        const char *argv[] = {"INCRBY", key, "0"};
        size_t len = resp_cmd(req, sizeof(req), 3, argv);
        int k = rd->fd < 0 ? rd->fd
                : ipc_sock_send_all(rd->fd, req, len) != (ssize_t)len
                    ? -EPIPE
                    : sock_reader_line(rd, line, sizeof(line));
        long long v = k > 0 && line[0] == ':' ? strtoll(line + 1, NULL, 10) : -1;
        int64_t top = all && m ? all[m - 1] : 0;
        stress_check(
            s, k > 0 && v >= (long long)acked && v <= (long long)(acked + unknown) && top <= v,
            "counter-exact",
            "shared key reads %s (%lld) after %" PRIu64 " acknowledged INCRs and %" PRIu64
            " unanswered; largest reply %" PRId64,
            k > 0 ? "a value" : ipc_strerror(k), v, acked, unknown, top);
        if (rd->fd >= 0)
            close(rd->fd);
        free(rd);
    }
    free(all);
    ipc_shm_free(region);
    stress_add_ops(s, acked);
    /* Every client has gone and every dead worker gave its share of max-clients
     * back: the count is 0 again, whatever slot died how often. */
    struct stats q;
    stress_ignore(quiescent_stats(R, &q, "after the worker kills"));
}

/* ---- phase: no worker alive (1-worker rounds)
 * ----------------------------------------------------- */
/* One probe: PING, then everything until EOF. Returns 1 no-worker text + EOF, 2 PONG,
 * 0 anything else (detail in out). */
static int probe(struct round *R, unsigned i, char *out, size_t cap)
{
    struct sock_reader *rd = sock_reader_new(READ_CAP);
    if (!rd)
        return 0;
    int res = 0;
    rd->fd = stress_sock_connect(i % 2 ? &R->unx : &R->tcp);
    if (rd->fd < 0) {
        snprintf(out, cap, "connect: %s", ipc_strerror(rd->fd));
        free(rd);
        return 0;
    }
    rd->deadline = stress_now() + DEADLINE_S;
    char line[128];
    int k = send_then_line(rd, line, sizeof(line));
    if (k > 0 && strcmp(line, "+PONG\r\n") == 0) {
        res = 2;
    } else if (k > 0 && strcmp(line, NO_WORKER_TXT) == 0) {
        int e = sock_reader_eof(rd);
        res = e == 1 || e == -ECONNRESET ? 1 : 0;
        snprintf(out, cap, "the answer then %s", e == 0 ? "more bytes" : ipc_strerror(e));
    } else {
        snprintf(out, cap, "%s '%s'", k > 0 ? "line" : "error", k > 0 ? line : ipc_strerror(k));
    }
    close(rd->fd);
    free(rd);
    return res;
}

static void phase_no_worker(struct round *R)
{
    if (R->workers != 1)
        return;
    unsigned ms = 0;
    pid_t pids[MAX_PIDS];
    /* Crash each replacement as soon as it appears: a crash loop backs off 100, 200,
     * 400 ms... and while it waits, no worker is alive. */
    for (unsigned i = 0; i < 8 && ms < 400; i++) {
        unsigned n = worker_pids(R, pids, MAX_PIDS);
        if (n != 1)
            n = wait_workers(R, 0, R->t_forked, pids);
        if (!stress_check(R->s, n == 1, "worker-restart", "%u workers before crash %u, want 1", n,
                          i + 1))
            return;
        struct pidinfo *pi = confirm_start(R, pids[0], R->t_forked);
        double t_kill = stress_now();
        if (kill(pids[0], SIGABRT) < 0)
            return;
        R->deaths++;
        char what[160];
        double t_seen = wait_death_line(R, pids[0], what, sizeof(what), &ms);
        if (!stress_check(R->s, t_seen > 0 && ms != UINT32_MAX, "worker-restart",
                          "no restart line for crashed worker %ld", (long)pids[0]))
            return;
        g_young_crash += pi && t_seen - pi->start_lo < 0.98;
        g_old_crash += pi && t_kill - pi->start_hi > 1.02;
        if (pi && t_seen - pi->start_lo < 0.98)
            stress_check(
                R->s, ms >= 100 && ms <= 5000, "worker-restart",
                "crash loop: worker %ld died within %.2f s of its start, replaced in %u ms",
                (long)pids[0], t_seen - pi->start_lo, ms);
        if (pi && t_kill - pi->start_hi > 1.02)
            stress_check(R->s, ms == 0, "worker-restart",
                         "worker %ld crashed after %.2f s, replaced in %u ms, not at once",
                         (long)pids[0], t_kill - pi->start_hi, ms);
        if (ms < 400) {
            /* The replacement's earliest start is now. */
            unsigned k = wait_workers(R, pids[0], t_kill, pids);
            (void)k;
        }
    }
    if (ms < 400)
        return; /* the loop never got long enough (reported above if wrong) */
    g_backoffs++;
    unsigned certified = 0;
    for (unsigned i = 0; i < 6; i++) {
        if (worker_pids(R, pids, MAX_PIDS) != 0)
            break;
        char detail[192] = "";
        int r = probe(R, i, detail, sizeof(detail));
        bool none_after = worker_pids(R, pids, MAX_PIDS) == 0;
        if (none_after) {
            certified++;
            stress_check(R->s, r == 1, "no-worker-answer",
                         "with no worker alive, a client got %s instead of exactly "
                         "'-ERR no worker available, try again' then EOF",
                         r == 2 ? "PONG" : detail);
        } else {
            stress_check(R->s, r == 1 || r == 2, "no-worker-answer",
                         "while a worker was being restarted, a client got %s", detail);
            break;
        }
        g_turned_away += r == 1;
    }
    /* A descheduled driver can miss the whole back-off window: that proves nothing
     * either way (a wrong answer inside the window is what is reported above). */
    g_windows_missed += certified == 0;
    g_certified += certified;
    unsigned n = wait_workers(R, 0, R->t_forked, pids);
    stress_check(R->s, n == 1, "worker-restart", "no worker came back after the crash loop (%u)",
                 n);
}

/* ---- phase: graceful stop ----------------------------------------------------------------------
 */
struct stop_arg {
    struct round *R;
    unsigned idx;
    int ready_wr;
    int res_wr;
    int go_rd, go_wr;
};

struct stop_report {
    unsigned idx;
    unsigned replies; /* INCR replies after the large ECHO */
    int end;          /* 1 EOF, -ECONNRESET, or 2: something else (see bad) */
    int late;         /* the ECHO reply was cut after the workers' drain deadline could pass */
    char bad[160];
};

/* The ECHO whose reply the server owes when SIGTERM comes: larger than the socket
 * buffers can absorb, under the default 1 MiB bulk limit. */
#define STOP_ECHO_LEN 1000000u

static char stop_pattern(unsigned idx, size_t i)
{
    return (char)('a' + (i * 7 + idx) % 26);
}

/* Reads the ECHO reply and checks every byte: 1 intact, 0 cut short or wrong. */
static int read_big_echo(struct sock_reader *rd, unsigned idx, char *bad, size_t cap)
{
    char hdr[32], want_hdr[32], chunk[4096];
    snprintf(want_hdr, sizeof(want_hdr), "$%u\r\n", STOP_ECHO_LEN);
    int k = sock_reader_line(rd, hdr, sizeof(hdr));
    if (k <= 0 || strcmp(hdr, want_hdr) != 0) {
        snprintf(bad, cap, "ECHO reply header: %s", k > 0 ? "wrong" : ipc_strerror(k));
        return 0;
    }
    for (size_t off = 0; off < STOP_ECHO_LEN;) {
        size_t n = STOP_ECHO_LEN - off < sizeof(chunk) ? STOP_ECHO_LEN - off : sizeof(chunk);
        k = sock_reader_exact(rd, chunk, n);
        if (k != 1) {
            snprintf(bad, cap, "ECHO reply cut at byte %zu of %u: %s", off, STOP_ECHO_LEN,
                     k == 0 ? "EOF" : ipc_strerror(k));
            return 0;
        }
        for (size_t i = 0; i < n; i++)
            if (chunk[i] != stop_pattern(idx, off + i)) {
                snprintf(bad, cap, "ECHO reply byte %zu differs", off + i);
                return 0;
            }
        off += n;
    }
    k = sock_reader_exact(rd, chunk, 2);
    if (k != 1 || memcmp(chunk, "\r\n", 2) != 0) {
        snprintf(bad, cap, "ECHO reply trailer: %s", k == 1 ? "wrong" : ipc_strerror(k));
        return 0;
    }
    return 1;
}

static int stop_client(void *p)
{
    struct stop_arg *a = p;
    close(a->go_wr);
    struct stop_report rep = {.idx = a->idx, .end = 2};
    struct sock_reader *rd = sock_reader_new(READ_CAP);
    char key[48], req[128], line[128], want[48];
    snprintf(key, sizeof(key), "stop:%u:%u", a->R->no, a->idx);
    const char *argv[] = {"INCR", key};
    size_t one = resp_cmd(req, sizeof(req), 2, argv);
    unsigned depth = (unsigned)opt_depth;
    char hdr[64];
    size_t hl = (size_t)snprintf(hdr, sizeof(hdr), "*2\r\n$4\r\nECHO\r\n$%u\r\n", STOP_ECHO_LEN);
    size_t total = hl + STOP_ECHO_LEN + 2 + one * depth;
    char *big = malloc(total);
    bool readied = false;
    if (!rd || !big) {
        snprintf(rep.bad, sizeof(rep.bad), "out of memory");
        goto out;
    }
    memcpy(big, hdr, hl);
    for (size_t i = 0; i < STOP_ECHO_LEN; i++)
        big[hl + i] = stop_pattern(a->idx, i);
    memcpy(big + hl + STOP_ECHO_LEN, "\r\n", 2);
    for (unsigned i = 0; i < depth; i++)
        memcpy(big + hl + STOP_ECHO_LEN + 2 + i * one, req, one);
    rd->fd = stress_sock_connect(a->idx % 2 ? &a->R->unx : &a->R->tcp);
    rd->deadline = stress_now() + 60;
    if (rd->fd < 0) {
        snprintf(rep.bad, sizeof(rep.bad), "connect: %s", ipc_strerror(rd->fd));
        goto out;
    }
    /* A first batch answered in full: the connection is being served. */
    for (unsigned i = 1; i <= depth; i++) {
        snprintf(want, sizeof(want), ":%u\r\n", i);
        int k = ipc_sock_send_all(rd->fd, req, one) == (ssize_t)one
                    ? sock_reader_line(rd, line, sizeof(line))
                    : -EPIPE;
        if (k <= 0 || strcmp(line, want) != 0) {
            snprintf(rep.bad, sizeof(rep.bad), "first batch reply %u: %.60s", i,
                     k > 0 ? line : ipc_strerror(k));
            goto out;
        }
    }
    /* Then the large ECHO and a batch of INCRs behind it. Once the first reply byte
     * is readable, the server has read the whole ECHO and owes its whole reply. */
    if (ipc_sock_send_all(rd->fd, big, total) != (ssize_t)total) {
        snprintf(rep.bad, sizeof(rep.bad), "send of the ECHO batch failed");
        goto out;
    }
    struct pollfd pf = {.fd = rd->fd, .events = POLLIN};
    int pr = 0;
    while (pr <= 0 && stress_now() < rd->deadline)
        pr = poll(&pf, 1, 1000);
    char c = 1;
    stress_ignore(write(a->ready_wr, &c, 1));
    readied = true;
    double t_term = 0;
    if (read(a->go_rd, &t_term, sizeof(t_term)) != (ssize_t)sizeof(t_term) || t_term <= 0) {
        snprintf(rep.bad, sizeof(rep.bad), "no go from the driver");
        goto out;
    }
    if (!read_big_echo(rd, a->idx, rep.bad, sizeof(rep.bad))) {
        /* A stopping worker flushes for 2 s at most: past that, a cut is allowed. */
        rep.late = stress_now() >= t_term + 1.9;
        goto out;
    }
    for (;;) {
        snprintf(want, sizeof(want), ":%u\r\n", depth + rep.replies + 1);
        int k = sock_reader_line(rd, line, sizeof(line));
        if (k > 0 && strcmp(line, want) == 0) {
            rep.replies++;
            continue;
        }
        if (k == 0 || k == -ECONNRESET)
            rep.end = k == 0 ? 1 : k;
        else
            snprintf(rep.bad, sizeof(rep.bad), "INCR reply %u after the ECHO: %.60s",
                     rep.replies + 1, k > 0 ? line : ipc_strerror(k));
        break;
    }
out:
    if (!readied)
        stress_ignore(write(a->ready_wr, &c, 1));
    stress_ignore(write(a->res_wr, &rep, sizeof(rep)));
    if (rd && rd->fd >= 0)
        close(rd->fd);
    free(rd);
    free(big);
    return 0;
}

static void phase_stop(struct round *R)
{
    struct stress *s = R->s;
    unsigned nc = s->procs;
    struct ipc_pipe ready, res, go;
    if (ipc_pipe_open(&ready, 0) < 0)
        return;
    if (ipc_pipe_open(&res, 0) < 0) {
        ipc_pipe_close(&ready);
        return;
    }
    if (ipc_pipe_open(&go, 0) < 0) {
        ipc_pipe_close(&ready);
        ipc_pipe_close(&res);
        return;
    }
    ipc_proc *cp[MAX_PROCS] = {0};
    struct stop_arg sa[MAX_PROCS];
    unsigned started = 0;
    for (unsigned i = 0; i < nc; i++) {
        sa[i] = (struct stop_arg){.R = R,
                                  .idx = i,
                                  .ready_wr = ready.wr,
                                  .res_wr = res.wr,
                                  .go_rd = go.rd,
                                  .go_wr = go.wr};
        if (ipc_proc_fork(&cp[i], stop_client, &sa[i], NULL) < 0)
            cp[i] = NULL;
        else
            started++;
    }
    close(ready.wr);
    close(res.wr);
    /* Every client has its second batch written (or failed) before the stop. */
    for (unsigned i = 0; i < started; i++) {
        char c;
        if (read(ready.rd, &c, 1) != 1)
            break;
    }
    pid_t pids[MAX_PIDS];
    unsigned nw = worker_pids(R, pids, MAX_PIDS);
    double t_term = stress_now();
    stress_check(s, kill(R->srv_pid, SIGTERM) == 0, "stop-graceful", "kill(SIGTERM) failed");
    for (unsigned i = 0; i < started; i++)
        stress_ignore(write(go.wr, &t_term, sizeof(t_term)));
    ipc_pipe_close(&go);
    unsigned reports = 0;
    struct stop_report rep;
    while (read(res.rd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep)) {
        reports++;
        if (rep.late) {
            g_stop_late++;
            continue;
        }
        stress_check(s, rep.end == 1 || rep.end == -ECONNRESET, "stop-graceful",
                     "client %u after SIGTERM: %s (after the ECHO reply and %u exact INCR "
                     "replies)",
                     rep.idx, rep.bad[0] ? rep.bad : ipc_strerror(rep.end), rep.replies);
        stress_add_ops(s, rep.replies + opt_depth + 1);
    }
    stress_check(s, reports == started, "stop-graceful", "%u of %u stop clients reported", reports,
                 started);
    for (unsigned i = 0; i < nc; i++) {
        if (!cp[i])
            continue;
        struct ipc_proc_status st;
        memset(&st, 0, sizeof(st));
        stress_ignore(stress_proc_wait(s, cp[i], 60000, &st));
        stress_proc_discard(s, cp[i]);
    }
    close(ready.rd);
    close(res.rd);
    struct ipc_proc_status st;
    memset(&st, 0, sizeof(st));
    int r = stress_proc_wait(s, R->srv, 30000, &st);
    stress_check(s, r == 0 && st.exited && st.code == 0, "stop-graceful",
                 "server after SIGTERM: %s, raw status 0x%x", ipc_strerror(r), st.raw);
    stress_proc_discard(s, R->srv);
    R->srv = NULL;
    char *t = log_read(R);
    const char *after = t ? strstr(t, "SIGTERM received: stopping") : NULL;
    char stop_line[64];
    snprintf(stop_line, sizeof(stop_line), "SIGTERM received: stopping %u workers\n", nw);
    stress_check(s, after && strncmp(after, stop_line, strlen(stop_line)) == 0, "stop-graceful",
                 "the stop line does not count the %u live workers: '%.60s'", nw,
                 after ? after : "(none)");
    unsigned clean = count_in(after, ") exited with code 0\n");
    stress_check(s,
                 after && clean == nw && count_in(after, "did not stop in time") == 0 &&
                     strstr(after, "]: stopped\n"),
                 "stop-graceful", "log after SIGTERM: %s, %u of %u workers exited 0, %s, %s",
                 after ? "stop line" : "no stop line", clean, nw,
                 after && strstr(after, "did not stop in time") ? "stragglers killed"
                                                                : "no escalation",
                 after && strstr(after, "]: stopped\n") ? "'stopped'" : "no 'stopped' line");
    free(t);
    for (unsigned i = 0; i < nw; i++) {
        errno = 0;
        bool gone = kill(pids[i], 0) < 0 && errno == ESRCH;
        stress_check(s, gone, "stop-graceful", "worker pid %ld still exists after the server exit",
                     (long)pids[i]);
    }
    if (!R->abstract) {
        struct stat sb;
        errno = 0;
        bool removed = stat(R->unix_path, &sb) < 0 && errno == ENOENT;
        stress_check(s, removed, "stop-graceful", "the Unix socket path %s remains after the stop",
                     R->unix_path);
        if (!removed)
            unlink(R->unix_path);
    }
}

static void end_round(struct round *R)
{
    if (R->srv) {
        stress_proc_discard(R->s, R->srv);
        R->srv = NULL;
    }
    /* PR_SET_PDEATHSIG stops workers of a killed server; wait until none is left. */
    pid_t pids[MAX_PIDS];
    double end = stress_now() + DEADLINE_S;
    while (R->srv_pid && worker_pids(R, pids, MAX_PIDS) && stress_now() < end)
        stress_sleep_us(2000);
    if (!R->abstract)
        unlink(R->unix_path);
    if (!getenv("IPCSTORM_SUP_KEEP_LOGS"))
        unlink(R->log_path);
}

/* A server whose workers cannot be forked at all (clone denied by a seccomp
 * filter in its process): ipc_server_run gives up after its tries and returns
 * the fork's error, -EAGAIN, with the documented log line (server.h). */
static int no_fork_main(void *p)
{
    const char *log_path = p;
    struct rlimit no_core = {0, 0};
    stress_ignore(setrlimit(RLIMIT_CORE, &no_core));
    FILE *log = fopen(log_path, "w");
    struct ipc_server_options o;
    memset(&o, 0, sizeof(o));
    o.bind = "127.0.0.1";
    o.workers = 1;
    o.log = log;
    ipc_server *srv = NULL;
    if (!log || ipc_server_new(&srv, &o) < 0)
        return 3;
    static const long clone_nrs[] = {
        __NR_clone,
#ifdef __NR_clone3
        __NR_clone3,
#endif
#ifdef __NR_fork
        __NR_fork,
        __NR_vfork,
#endif
    };
    if (stress_deny_syscalls(clone_nrs, sizeof(clone_nrs) / sizeof(clone_nrs[0]), EAGAIN) < 0)
        return 5;
    int r = ipc_server_run(srv);
    ipc_server_free(srv);
    fclose(log);
    return r == -EAGAIN ? 0 : r == 0 ? 4 : 2;
}

static void phase_no_fork(struct stress *s)
{
    char log_path[96];
    snprintf(log_path, sizeof(log_path), "%s/nofork.txt", g_tmpdir);
    ipc_proc *p = NULL;
    int r = ipc_proc_fork(&p, no_fork_main, log_path, NULL);
    if (r < 0) {
        stress_setup_error(s, "ipc_proc_fork: %s", ipc_strerror(r));
        return;
    }
    struct ipc_proc_status st;
    memset(&st, 0, sizeof(st));
    r = stress_proc_wait(s, p, (int)(30000 * STRESS_TIME_SCALE), &st);
    stress_proc_discard(s, p);
    FILE *f = fopen(log_path, "r");
    char text[4096] = "";
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    unlink(log_path);
    if (r == 0 && st.exited && st.code == 5) {
        snprintf(s->note, sizeof(s->note), "no-fork check skipped: no seccomp filter here");
        return;
    }
    stress_check(
        s, r == 0 && st.exited && st.code == 0 && strstr(text, "cannot start any worker") != NULL,
        "start-failure-reported",
        "a server that cannot fork: %s, exit %d (0: -EAGAIN, 2: another error, 4: "
        "returned 0, 3: no server), log %s",
        r == 0 ? "exited" : ipc_strerror(r), st.exited ? st.code : -1,
        strstr(text, "cannot start any worker") ? "says so" : "does not say so");
}

/* A server made and freed without running (what `ipcstorm serve` does when a
 * later start step fails): in between, its Unix path is a socket that accepts;
 * a forked child's ipc_server_free leaves it (only the creating process removes
 * it); the creator's free removes the path (stat: ENOENT) or, for an abstract
 * name, closes the listener (connect: ECONNREFUSED), and closes every descriptor
 * ipc_server_new opened. */
static int free_in_child(void *p)
{
    ipc_server_free(p);
    return 0;
}

static int raw_connect(const struct ipc_sock_addr *a)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    close(fd);
    return 0;
}

static void phase_new_free(struct stress *s, bool abstract)
{
    char path[128], text[160];
    if (abstract)
        snprintf(path, sizeof(path), "@ipcstorm-sup-free-%ld", (long)getpid());
    else
        snprintf(path, sizeof(path), "%s/free.sock", g_tmpdir);
    snprintf(text, sizeof(text), "unix:%s", path);
    struct ipc_sock_addr a;
    if (ipc_sock_addr_parse(&a, text) < 0) {
        stress_setup_error(s, "bad unix address %s", text);
        return;
    }
    int free_before = stress_lowest_free_fd();
    struct ipc_server_options o;
    memset(&o, 0, sizeof(o));
    o.bind = "127.0.0.1";
    o.unix_path = path;
    o.workers = 1;
    o.quiet = 1;
    ipc_server *srv = NULL;
    int r = ipc_server_new(&srv, &o);
    if (r < 0) {
        stress_setup_error(s, "ipc_server_new on %s: %s", path, ipc_strerror(r));
        return;
    }
    struct stat sb;
    if (!abstract)
        stress_check(s, stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode), "free-cleanup",
                     "after ipc_server_new the path %s is not a socket", path);
    r = raw_connect(&a);
    stress_check(s, r == 0, "free-cleanup", "a connect to %s after ipc_server_new: %s", path,
                 strerror(-r));
    ipc_proc *child = NULL;
    r = ipc_proc_fork(&child, free_in_child, srv, NULL);
    if (r < 0) {
        stress_setup_error(s, "ipc_proc_fork: %s", ipc_strerror(r));
    } else {
        struct ipc_proc_status st;
        memset(&st, 0, sizeof(st));
        r = stress_proc_wait(s, child, 30000, &st);
        stress_check(s, r == 0 && st.exited && st.code == 0, "free-cleanup",
                     "a child freeing the inherited server: %s, raw status 0x%x", ipc_strerror(r),
                     st.raw);
        stress_proc_discard(s, child);
        if (!abstract)
            stress_check(s, stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode), "free-cleanup",
                         "a forked child's ipc_server_free removed the creator's path %s", path);
        r = raw_connect(&a);
        stress_check(s, r == 0, "free-cleanup",
                     "a connect to %s after a child's ipc_server_free: %s", path, strerror(-r));
    }
    ipc_server_free(srv);
    if (abstract) {
        r = raw_connect(&a);
        stress_check(s, r == -ECONNREFUSED, "free-cleanup",
                     "a connect to %s after ipc_server_free: %s (want ECONNREFUSED)", path,
                     r == 0 ? "connected" : strerror(-r));
    } else {
        errno = 0;
        bool removed = stat(path, &sb) < 0 && errno == ENOENT;
        stress_check(s, removed, "free-cleanup", "the Unix path %s remains after ipc_server_free",
                     path);
        if (!removed)
            unlink(path);
    }
    int free_after = stress_lowest_free_fd();
    stress_check(s, free_after == free_before, "free-cleanup",
                 "ipc_server_new + ipc_server_free: lowest free fd %d before, %d after",
                 free_before, free_after);
}

static void run_round(struct stress *s, unsigned no, uint64_t seed)
{
    struct round *R = calloc(1, sizeof(*R));
    if (!R) {
        stress_setup_error(s, "out of memory");
        return;
    }
    R->s = s;
    R->no = no;
    stress_rng_init(&R->rng, seed, no);
    /* Every third round has one worker (the no-worker and out-of-descriptors
     * phases need it), the others two or more (a stopped worker's statistics). */
    R->workers = no % 3 == 0 ? 1 : 2 + (unsigned)stress_rng_below(&R->rng, MAX_WORKERS - 1);
    R->max_clients = s->procs + 3;
    if (start_server(R)) {
        check_live_path(R);
        settle(R);
        phase_stats(R);
        phase_max_clients(R);
        phase_emfile(R);
        phase_kills(R);
        phase_no_worker(R);
        phase_stop(R);
    }
    end_round(R);
    free(R);
}

int ipcstorm_stress_supervisor(int argc, char **argv)
{
    struct stress s;
    int rc = stress_begin(&s, &spec, argc, argv);
    if (rc != STRESS_RUN)
        return rc;
    if (!mkdtemp(stress_tmp_template(g_tmpdir, sizeof(g_tmpdir), "sup"))) {
        stress_setup_error(&s, "mkdtemp: %s", strerror(errno));
        return stress_end(&s);
    }
    if (stress_faults_on(&s))
        fprintf(stderr, "supervisor: --faults accepted, injection stays paused: every check "
                        "here is exact and needs a fault-free server\n");
    stress_faults_pause(&s);
    phase_no_fork(&s);
    phase_new_free(&s, false);
    phase_new_free(&s, true);
    struct stress_rng rng;
    stress_rng_init(&rng, s.seed, 0);
    for (unsigned no = 0; stress_running(&s); no++) {
        /* Every oracle here is exact: the server must run without injected faults. */
        stress_faults_pause(&s);
        run_round(&s, no, stress_rng_next(&rng));
        if (s.setup_failed)
            break;
    }
    if (!getenv("IPCSTORM_SUP_KEEP_LOGS"))
        rmdir(g_tmpdir);
    snprintf(s.note, sizeof(s.note),
             "%" PRIu64 " restarts, %" PRIu64 " back-offs, %" PRIu64 " turned away (%" PRIu64
             " with no worker, %" PRIu64
             " back-off windows missed); stop replies cut late: %" PRIu64 "; crashes young %" PRIu64
             ", old %" PRIu64 "; out of descriptors: %" PRIu64 " rounds to the pause, %" PRIu64
             " reserve drops",
             g_restarts, g_backoffs, g_turned_away, g_certified, g_windows_missed, g_stop_late,
             g_young_crash, g_old_crash, g_emfile_rounds, g_emfile_drops);
    return stress_end(&s);
}
