/* drv_signals.c - `ipcstorm stress signals`: real-time signals queued with
 * payloads from several senders, SIGUSR1 with an acknowledgement handshake, a
 * graceful SIGTERM shutdown, and a threaded receiver taking signals with
 * sigwaitinfo. Rounds rotate over the scenarios:
 *   rt-signalfd   receiver reads RT signals from an ipc_sigsrc (signalfd backend)
 *   rt-selfpipe   the same through the self-pipe backend
 *   rt-threads    receiver with busy threads; one thread calls ipc_sig_wait
 *   ack           parent sends SIGUSR1, the receiver's handler acks with a queued
 *                 SIGUSR2 carrying its count; SIGTERM ends it gracefully */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc_base.h"
#include "cli.h"
#include "clock.h"
#include "common.h"
#include "report.h"
#include "rng.h"
#include "ipc/pipe.h"
#include "ipc/sig.h"

const char ipcstorm_stress_signals_summary[] =
    "sigqueue RT payloads from several senders, SIGUSR1 acks, SIGTERM, threaded sigwaitinfo";

#define MAX_SENDERS 16

/* ThreadSanitizer defers signal handlers and keeps one pending instance per
 * signal number, so RT signals queued while a handler is deferred coalesce before
 * they reach it: the self-pipe backend (handler-based) cannot be judged under it. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif
#define NSIGS 3 /* RT signal numbers used: SIGRTMIN .. SIGRTMIN+2 */

static uint64_t opt_per_sender = 300;
static uint64_t opt_acks = 200;
static const char *opt_modes = "all";

static const char *check_modes(const char *value, const void *ctx);
static const struct stress_xopt xopts[] = {
    {"per-sender", STRESS_XOPT_U64, &opt_per_sender, 1, 100000,
     "RT signals each sender queues per round (default 300)", NULL},
    {"acks", STRESS_XOPT_U64, &opt_acks, 1, 100000,
     "SIGUSR1/ack exchanges per ack round (default 200)", NULL},
    {"modes", STRESS_XOPT_STR, &opt_modes, 0, 0,
     "comma-separated scenarios the rounds rotate over: rt-signalfd,\n"
     "rt-selfpipe, rt-threads, ack; or all (default). scripts/bench\n"
     "runs rt-signalfd with --procs 1: one sender, one receiver,\n"
     "like stress-ng --sigq 1 (which verifies nothing)",
     check_modes},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct stress_fault faults[] = {
    {"drop-rt", "the receiver ignores every 1000th RT signal it gets"},
    {"lose-ack", "the receiver's handler forgets to ack every 50th SIGUSR1"},
    {NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "signals",
    .summary = "Real-time signals queued with payloads by several senders, SIGUSR1 with "
               "acknowledgements,\nSIGTERM shutdown, and a multi-threaded sigwaitinfo receiver.",
    .invariants = "  rt-delivered-once   every queued RT signal arrives exactly once\n"
                  "  rt-in-order         per sender, sequence numbers arrive in order\n"
                  "  rt-payload-intact   payload checksum, si_code SI_QUEUE, si_pid = sender\n"
                  "  ack-count-equal     acks received == SIGUSR1 sent == receiver count\n"
                  "  sigterm-graceful    the receiver exits 0 after SIGTERM, reporting its count",
    .default_procs = 4,
    .max_procs = MAX_SENDERS,
    .xopts = xopts,
    .faults = faults,
};

/* Payload: sender (4 bits) | seq (20 bits) | check (8 bits). */
static uint8_t payload_check(unsigned sender, unsigned seq)
{
    uint32_t h = (seq * 2654435761u) ^ (sender * 40503u);
    return (uint8_t)((h >> 24) ^ (h >> 8) ^ 0x5a);
}

static int payload_make(unsigned sender, unsigned seq)
{
    uint32_t v = (sender & 0xf) << 28 | (seq & 0xfffff) << 8 | payload_check(sender, seq);
    return (int)v;
}

struct rt_report {
    uint64_t received;
    uint64_t dups, gaps, bad_payload, bad_code, bad_pid;
    uint64_t selfpipe_dropped;
    uint32_t next_seq[MAX_SENDERS];
    int setup_err;
    int timed_out;
};

enum { MODE_SIGNALFD, MODE_SELFPIPE, MODE_THREADS, MODE_ACK, MODE_COUNT };
static const char *const mode_names[] = {"rt-signalfd", "rt-selfpipe", "rt-threads", "ack"};

struct rt_rx {
    unsigned senders;
    unsigned per_sender;
    pid_t sender_pid[MAX_SENDERS];
    uint64_t drop_base; /* RT signals received in earlier rounds (for the fault) */
    bool fault_drop;
    struct rt_report rep;
};

/* Accounts one received record. */
static void rt_account(struct rt_rx *rx, const struct ipc_sig_info *in)
{
    struct rt_report *r = &rx->rep;
    if (rx->fault_drop && (rx->drop_base + r->received + 1) % 1000 == 0) {
        rx->drop_base++; /* the planted bug: this one is forgotten */
        return;
    }
    r->received++;
    uint32_t v = (uint32_t)in->value;
    unsigned sender = v >> 28, seq = (v >> 8) & 0xfffff;
    if (in->code != SI_QUEUE)
        r->bad_code++;
    if (sender >= rx->senders || (v & 0xff) != payload_check(sender, seq) ||
        in->signo != SIGRTMIN + (int)(sender % NSIGS)) {
        r->bad_payload++;
        return;
    }
    if (in->pid != rx->sender_pid[sender])
        r->bad_pid++;
    if (seq == r->next_seq[sender])
        r->next_seq[sender]++;
    else if (seq < r->next_seq[sender])
        r->dups++;
    else {
        r->gaps++;
        r->next_seq[sender] = seq + 1;
    }
}

static void rt_set(sigset_t *set)
{
    sigemptyset(set);
    for (int i = 0; i < NSIGS; i++)
        sigaddset(set, SIGRTMIN + i);
}

struct waiter_arg {
    struct rt_rx *rx;
    sigset_t set;
    atomic_int *stop;
};

static void *waiter_thread(void *p)
{
    struct waiter_arg *w = p;
    uint64_t total = (uint64_t)w->rx->senders * w->rx->per_sender;
    while (w->rx->rep.received < total) {
        struct ipc_sig_info in;
        int r = ipc_sig_timedwait(&w->set, 3000, &in);
        if (r == -EAGAIN) {
            w->rx->rep.timed_out = 1;
            break;
        }
        if (r < 0) {
            w->rx->rep.setup_err = r;
            break;
        }
        rt_account(w->rx, &in);
    }
    atomic_store(w->stop, 1);
    return NULL;
}

static void *busy_thread(void *p)
{
    atomic_int *stop = p;
    while (!atomic_load(stop))
        stress_spin(1000);
    return NULL;
}

/* The receiver child: sets up its mode, reports readiness, gets the sender pids,
 * receives until every signal arrived or 3 s pass without one, reports. */
static int rt_receiver(int mode, struct rt_rx *rx, int ready_wr, int pids_rd, int rep_wr)
{
    sigset_t set;
    rt_set(&set);
    ipc_sigsrc *src = NULL;
    int r = 0;
    if (mode == MODE_THREADS) {
        r = ipc_sig_block(&set, NULL); /* before any thread: they inherit it */
    } else {
        r = ipc_sigsrc_new(&src, &set,
                           mode == MODE_SELFPIPE ? IPC_SIGSRC_FORCE_SELFPIPE : IPC_SIGSRC_AUTO);
    }
    char c = r < 0 ? 'E' : 'R';
    if (ipc_pipe_write_all(ready_wr, &c, 1, 0) != 1 || r < 0)
        return 3;
    if (ipc_pipe_read_full(pids_rd, rx->sender_pid, sizeof(pid_t) * rx->senders) !=
        (ssize_t)(sizeof(pid_t) * rx->senders))
        return 4;
    uint64_t total = (uint64_t)rx->senders * rx->per_sender;
    if (mode == MODE_THREADS) {
        atomic_int stop = 0;
        struct waiter_arg w = {.rx = rx, .set = set, .stop = &stop};
        pthread_t busy[2], wt;
        int nb = 0;
        for (; nb < 2; nb++)
            if (pthread_create(&busy[nb], NULL, busy_thread, &stop) != 0)
                break;
        if (pthread_create(&wt, NULL, waiter_thread, &w) == 0)
            pthread_join(wt, NULL);
        else
            rx->rep.setup_err = -EAGAIN;
        atomic_store(&stop, 1);
        for (int i = 0; i < nb; i++)
            pthread_join(busy[i], NULL);
    } else {
        int fd = ipc_sigsrc_fd(src);
        double last = stress_now();
        while (rx->rep.received < total) {
            struct ipc_sig_info in;
            r = ipc_sigsrc_read(src, &in);
            if (r == 1) {
                rt_account(rx, &in);
                last = stress_now();
                continue;
            }
            if (r < 0) {
                rx->rep.setup_err = r;
                break;
            }
            if (stress_now() - last > 3.0) {
                rx->rep.timed_out = 1;
                break;
            }
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            poll(&pfd, 1, 200);
        }
        rx->rep.selfpipe_dropped = ipc_sigsrc_dropped(src);
        ipc_sigsrc_free(src);
    }
    if (ipc_pipe_write_all(rep_wr, &rx->rep, sizeof(rx->rep), 0) != (ssize_t)sizeof(rx->rep))
        return 5;
    return 0;
}

/* A sender's exit status when ipc_sig_queue reported an error other than EAGAIN
 * under --faults: it stops there, having queued seq 0..k-1 exactly. */
#define SENDER_LIBERR 10
static bool g_inject;

static int rt_sender(pid_t rx_pid, unsigned idx, unsigned per_sender)
{
    int signo = SIGRTMIN + (int)(idx % NSIGS);
    for (unsigned seq = 0; seq < per_sender; seq++) {
        double t0 = 0;
        for (;;) {
            int r = ipc_sig_queue(rx_pid, signo, payload_make(idx, seq));
            if (r == 0)
                break;
            if (r != -EAGAIN)
                return g_inject ? SENDER_LIBERR : 6;
            /* The receiver's pending queue is full (RLIMIT_SIGPENDING): back off. */
            if (t0 == 0)
                t0 = stress_now();
            else if (stress_now() - t0 > 5.0)
                return 7;
            sched_yield();
        }
    }
    return 0;
}

static bool reap(struct stress *s, pid_t pid, const char *who, int *code)
{
    int st;
    pid_t r;
    do {
        r = waitpid(pid, &st, 0);
    } while (r == -1 && errno == EINTR);
    if (r != pid) {
        stress_violation(s, "reap-once", "waitpid(%s %d) failed: %s", who, (int)pid,
                         strerror(errno));
        return false;
    }
    if (code)
        *code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static uint64_t g_rt_total;

static void round_rt(struct stress *s, int mode, struct stress_rng *rng)
{
    struct rt_rx rx;
    memset(&rx, 0, sizeof(rx));
    rx.senders = s->procs;
    rx.per_sender = (unsigned)stress_rng_range(rng, opt_per_sender / 2 + 1, opt_per_sender);
    rx.drop_base = g_rt_total;
    rx.fault_drop = stress_fault(s, "drop-rt");
    struct ipc_pipe ready = {-1, -1}, pids = {-1, -1}, rep = {-1, -1};
    if (ipc_pipe_open(&ready, 0) < 0 || ipc_pipe_open(&pids, 0) < 0 || ipc_pipe_open(&rep, 0) < 0) {
        ipc_pipe_close(&ready);
        ipc_pipe_close(&pids);
        stress_setup_error(s, "pipe: out of fds");
        return;
    }
    pid_t rpid = fork();
    if (rpid == 0) {
        close(ready.rd);
        close(pids.wr);
        close(rep.rd);
        ipc__exit_child(rt_receiver(mode, &rx, ready.wr, pids.rd, rep.wr));
    }
    close(ready.wr);
    close(pids.rd);
    close(rep.wr);
    char c = 0;
    ssize_t n = rpid > 0 ? ipc_pipe_read_full(ready.rd, &c, 1) : -1;
    pid_t spid[MAX_SENDERS];
    unsigned ns = 0;
    if (n == 1 && c == 'R') {
        for (; ns < rx.senders; ns++) {
            spid[ns] = fork();
            if (spid[ns] == 0)
                ipc__exit_child(rt_sender(rpid, ns, rx.per_sender));
            if (spid[ns] < 0)
                break;
        }
    }
    if (ns == rx.senders) {
        if (ipc_pipe_write_all(pids.wr, spid, sizeof(pid_t) * ns, 0) < 0)
            stress_lib_error(s, -EIO, "cannot send pids to the receiver");
    } else if (!(g_inject && rpid > 0)) {
        stress_setup_error(s, "receiver/sender setup failed (%s)", rpid < 0 ? "fork" : "ready");
    }
    close(pids.wr);
    bool sender_err[MAX_SENDERS] = {0};
    for (unsigned i = 0; i < ns; i++) {
        int code;
        if (reap(s, spid[i], "sender", &code))
            continue;
        if (g_inject && code == SENDER_LIBERR) {
            sender_err[i] = true; /* it stopped at an error: its signals so far count */
            stress_lib_error(s, -EPERM, "sender: ipc_sig_queue");
            continue;
        }
        stress_violation(s, "rt-delivered-once", "sender %u exited with %d (queue failed)", i,
                         code);
    }
    struct rt_report r;
    memset(&r, 0, sizeof(r));
    n = ipc_pipe_read_full(rep.rd, &r, sizeof(r));
    close(ready.rd);
    close(rep.rd);
    int code = 0;
    bool rx_ok = rpid > 0 && reap(s, rpid, "receiver", &code);
    if (!rx_ok && g_inject && code >= 3 && code <= 5) {
        /* A libipc call of the receiver's setup or plumbing failed (3 source,
         * 4 pids, 5 report): no report to judge. */
        stress_lib_error(s, -EIO, "receiver setup");
        return;
    }
    if (!rx_ok && !s->setup_failed)
        stress_violation(s, "rt-delivered-once", "%s receiver exited with %d", mode_names[mode],
                         code);
    if (n != (ssize_t)sizeof(r) || ns != rx.senders)
        return;
    uint64_t total = (uint64_t)rx.senders * rx.per_sender;
    if (r.setup_err && stress_lib_error(s, r.setup_err, "receiver"))
        return; /* the receiver stopped reading: nothing exact to check */
    unsigned nerr = 0;
    for (unsigned i = 0; i < rx.senders; i++)
        nerr += sender_err[i];
    if (g_inject && r.selfpipe_dropped) {
        /* The self-pipe backend reported records it dropped (its handler's write
         * failed): gaps are reported losses; duplicates and bad payloads are not. */
        stress_lib_error(s, -EAGAIN, "self-pipe: dropped records");
        stress_check(s, r.dups == 0 && r.gaps <= r.selfpipe_dropped, "rt-in-order",
                     "%s: %" PRIu64 " duplicates, %" PRIu64 " gaps, %" PRIu64 " reported drops",
                     mode_names[mode], r.dups, r.gaps, r.selfpipe_dropped);
        stress_check(s, r.bad_payload == 0, "rt-payload-intact", "%s: %" PRIu64 " bad payloads",
                     mode_names[mode], r.bad_payload);
        g_rt_total += r.received;
        stress_add_ops(s, r.received);
        return;
    }
    if (nerr) {
        /* Senders that stopped at an error: what they queued arrives exactly
         * once, in order, and intact; the receiver waits for the rest in vain. */
        stress_check(s, r.dups == 0 && r.gaps == 0, "rt-in-order",
                     "%s: %" PRIu64 " duplicates, %" PRIu64 " sequence gaps", mode_names[mode],
                     r.dups, r.gaps);
        stress_check(s, r.bad_payload == 0 && r.bad_code == 0 && r.bad_pid == 0,
                     "rt-payload-intact", "%s: %" PRIu64 " bad payloads", mode_names[mode],
                     r.bad_payload);
        for (unsigned i = 0; i < rx.senders; i++)
            if (!sender_err[i])
                stress_check(s, r.next_seq[i] == rx.per_sender, "rt-delivered-once",
                             "%s: sender %u: last in-order seq %u of %u", mode_names[mode], i,
                             r.next_seq[i], rx.per_sender);
        g_rt_total += r.received;
        stress_add_ops(s, r.received);
        return;
    }
    stress_check(s, r.received == total && !r.timed_out, "rt-delivered-once",
                 "%s: received %" PRIu64 " of %" PRIu64
                 " queued RT signals%s (self-pipe drops %" PRIu64 ")",
                 mode_names[mode], r.received, total, r.timed_out ? " before a 3 s silence" : "",
                 r.selfpipe_dropped);
    stress_check(s, r.dups == 0 && r.gaps == 0, "rt-in-order",
                 "%s: %" PRIu64 " duplicates, %" PRIu64 " sequence gaps", mode_names[mode], r.dups,
                 r.gaps);
    stress_check(s, r.bad_payload == 0 && r.bad_code == 0 && r.bad_pid == 0, "rt-payload-intact",
                 "%s: %" PRIu64 " bad payloads, %" PRIu64 " not SI_QUEUE, %" PRIu64 " wrong si_pid",
                 mode_names[mode], r.bad_payload, r.bad_code, r.bad_pid);
    for (unsigned i = 0; i < rx.senders; i++)
        if (!stress_check(s, r.next_seq[i] == rx.per_sender, "rt-delivered-once",
                          "%s: sender %u: last in-order seq %u of %u", mode_names[mode], i,
                          r.next_seq[i], rx.per_sender))
            break;
    g_rt_total += r.received;
    stress_add_ops(s, r.received);
}

/* ---- ack round ------------------------------------------------------------------ */
static volatile sig_atomic_t g_usr1_count;
static bool g_lose_ack;

static void on_usr1(int signo, siginfo_t *info, void *uc)
{
    (void)signo;
    (void)uc;
    g_usr1_count++;
    if (g_lose_ack && g_usr1_count % 50 == 0)
        return;
    union sigval v = {.sival_int = (int)g_usr1_count};
    sigqueue(info->si_pid, SIGUSR2, v);
}

static int ack_receiver(int ready_wr, int rep_wr)
{
    sigset_t term, old;
    if (ipc_sig_mkset(&term, SIGTERM, SIGUSR1, 0) < 0 || ipc_sig_block(&term, &old) < 0 ||
        ipc_sig_install(SIGUSR1, on_usr1, IPC_SIG_RESTART, NULL) < 0 ||
        ipc_sig_catch(SIGTERM, 0, NULL) < 0)
        return 3;
    ipc_sig_caught_reset(SIGTERM);
    char c = 'R';
    if (ipc_pipe_write_all(ready_wr, &c, 1, 0) != 1)
        return 4;
    sigset_t wait_mask = old;
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGUSR1);
    /* SIGTERM and SIGUSR1 stay blocked outside sigsuspend: SIGTERM cannot slip
     * in between the check and the wait, and handlers only ever run inside it
     * (which also keeps ThreadSanitizer's deferred delivery from stranding one). */
    while (ipc_sig_caught(SIGTERM) == 0)
        sigsuspend(&wait_mask);
    int64_t count = g_usr1_count;
    if (ipc_pipe_write_all(rep_wr, &count, sizeof(count), 0) != sizeof(count))
        return 5;
    return 0;
}

static void round_ack(struct stress *s, struct stress_rng *rng)
{
    unsigned n = (unsigned)stress_rng_range(rng, opt_acks / 2 + 1, opt_acks);
    sigset_t usr2, old;
    if (ipc_sig_mkset(&usr2, SIGUSR2, 0) < 0 || ipc_sig_block(&usr2, &old) < 0) {
        stress_setup_error(s, "cannot block SIGUSR2");
        return;
    }
    struct ipc_pipe ready = {-1, -1}, rep = {-1, -1};
    if (ipc_pipe_open(&ready, 0) < 0 || ipc_pipe_open(&rep, 0) < 0) {
        ipc_pipe_close(&ready);
        stress_ignore(ipc_sig_setmask(&old, NULL));
        stress_setup_error(s, "pipe: out of fds");
        return;
    }
    g_lose_ack = stress_fault(s, "lose-ack");
    pid_t pid = fork();
    if (pid == 0) {
        close(ready.rd);
        close(rep.rd);
        ipc__exit_child(ack_receiver(ready.wr, rep.wr));
    }
    close(ready.wr);
    close(rep.wr);
    char c = 0;
    unsigned acked = 0;
    if (pid > 0 && ipc_pipe_read_full(ready.rd, &c, 1) == 1 && c == 'R') {
        for (unsigned i = 1; i <= n; i++) {
            if (ipc_sig_send(pid, SIGUSR1) < 0)
                break;
            struct ipc_sig_info in;
            int r = ipc_sig_timedwait(&usr2, 2000, &in);
            if (!stress_check(s, r == SIGUSR2, "ack-count-equal",
                              "no ack for SIGUSR1 #%u within 2 s", i))
                break;
            if (!stress_check(s, in.value == (int)i && in.pid == pid && in.code == SI_QUEUE,
                              "ack-count-equal", "ack #%u carried count %d from pid %d", i,
                              in.value, (int)in.pid))
                break;
            acked++;
        }
        int r = ipc_sig_send(pid, SIGTERM);
        int64_t count = -1;
        ssize_t got = r == 0 ? ipc_pipe_read_full(rep.rd, &count, sizeof(count)) : -1;
        stress_check(s, got == sizeof(count), "sigterm-graceful",
                     "receiver sent no count after SIGTERM");
        stress_check(s, got != sizeof(count) || count == (int64_t)acked + (acked < n),
                     "ack-count-equal", "receiver counted %" PRId64 " SIGUSR1, parent sent %u",
                     count, acked + (acked < n));
    } else {
        stress_setup_error(s, "ack receiver did not start");
    }
    close(ready.rd);
    close(rep.rd);
    int code = 0;
    if (pid > 0)
        stress_check(s, reap(s, pid, "ack receiver", &code), "sigterm-graceful",
                     "receiver exit status %d after SIGTERM, expected 0", code);
    /* Drain a late ack so it is not left pending when the mask is restored. */
    struct ipc_sig_info in;
    while (ipc_sig_timedwait(&usr2, 0, &in) > 0)
        ;
    if (ipc_sig_setmask(&old, NULL) < 0)
        stress_setup_error(s, "cannot restore the mask");
    stress_add_ops(s, acked);
}

/* Parses --modes into the rotation; returns its length, 0 on a bad name. */
static unsigned parse_modes(const char *spec_, int *rot)
{
    if (!strcmp(spec_, "all")) {
        for (int m = 0; m < MODE_COUNT; m++)
            rot[m] = m;
        return MODE_COUNT;
    }
    unsigned n = 0;
    const char *p = spec_;
    for (;;) {
        size_t len = strcspn(p, ",");
        int m = 0;
        for (; m < MODE_COUNT; m++)
            if (strlen(mode_names[m]) == len && !strncmp(p, mode_names[m], len))
                break;
        if (m == MODE_COUNT || n == MODE_COUNT)
            return 0;
        rot[n++] = m;
        if (!p[len])
            return n;
        p += len + 1;
    }
}

static const char *check_modes(const char *value, const void *ctx)
{
    (void)ctx;
    int rot[MODE_COUNT];
    return parse_modes(value, rot) == 0
               ? "all or a comma-separated list of rt-signalfd, rt-selfpipe, rt-threads, ack"
               : NULL;
}

int ipcstorm_stress_signals(int argc, char **argv)
{
    struct stress s;
    int rc = stress_begin(&s, &spec, argc, argv);
    if (rc != STRESS_RUN)
        return rc;
    g_inject = stress_faults_on(&s);
    int rot[MODE_COUNT];
    unsigned nrot = parse_modes(opt_modes, rot);
    if (nrot == 0) {
        fprintf(stderr,
                "ipcstorm stress signals: --modes takes all or a comma-separated list of "
                "rt-signalfd, rt-selfpipe, rt-threads, ack; not '%s'\n",
                opt_modes);
        stress_setup_error(&s, "bad --modes");
        return stress_end(&s);
    }
    struct stress_rng rng;
    stress_rng_init(&rng, s.seed, 0);
    for (unsigned round = 0; stress_running(&s); round++) {
        int mode = rot[round % nrot];
        if (mode == MODE_SELFPIPE && UNDER_TSAN) {
            snprintf(s.note, sizeof(s.note),
                     "rt-selfpipe skipped: TSan coalesces queued RT signals before handlers run");
            continue;
        }
        if (mode == MODE_ACK)
            round_ack(&s, &rng);
        else
            round_rt(&s, mode, &rng);
    }
    return stress_end(&s);
}
