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
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/time.h>
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
     "rt-selfpipe, rt-threads, ack, errno; or all (default). scripts/bench\n"
     "runs rt-signalfd with --procs 1: one sender, one receiver,\n"
     "like stress-ng --sigq 1 (which verifies nothing)",
     check_modes},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct stress_fault faults[] = {
    {"drop-rt", "the receiver ignores every 1000th RT signal it gets"},
    {"lose-ack", "the receiver's handler forgets to ack every 50th SIGUSR1"},
    {"errno-unsaved", "the errno round installs its handler without libipc's errno-saving "
                      "trampoline"},
    {NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "signals",
    .examples = "  ipcstorm stress signals --modes rt-signalfd --procs 1 --per-sender 5000\n",
    .summary = "Real-time signals queued with payloads by several senders, SIGUSR1 with "
               "acknowledgements,\nSIGTERM shutdown, and a multi-threaded sigwaitinfo receiver.",
    .invariants =
        "  rt-delivered-once   every queued RT signal arrives exactly once\n"
        "  rt-in-order         per sender, sequence numbers arrive in order\n"
        "  rt-payload-intact   payload checksum, si_code SI_QUEUE, si_pid = sender\n"
        "  ack-count-equal     acks received == SIGUSR1 sent == receiver count\n"
        "  sigterm-graceful    the receiver exits 0 after SIGTERM, reporting its count\n"
        "  errno-preserved     errno after a failed call is the call's, though a handler\n"
        "                      that sets errno ran in between (raise + a sibling's storm)\n"
        "  eintr-exact         a blocking read interrupted by a handler installed\n"
        "                      without IPC_SIG_RESTART fails with EINTR; ipc_sig_timedwait\n"
        "                      interrupted so retries and times out (-EAGAIN, not early)\n"
        "  sig-mask-exact      ipc_sig_block_one/unblock_one/unblock and ipc_sigsrc_free\n"
        "                      leave the mask sigprocmask reports\n"
        "  sig-disposition-exact  install/set_default/restore as sigaction reads them\n"
        "  sig-child-reset     after ipc_sig_child_reset a child has caught signals at\n"
        "                      SIG_DFL, ignored ones ignored, SIGPIPE untouched, no mask\n"
        "  sigsrc-backend-exact ipc_sigsrc_backend matches the fd (/proc/self/fd)\n"
        "  sigsrc-fallback-exact  with signalfd denied by a seccomp filter, ipc_sigsrc_new\n"
        "                      falls back to a working self-pipe only for ENOSYS/EINVAL and\n"
        "                      returns any other errno, leaving no fd and the mask as it was\n"
        "  sigchld-exact     a signal source (signalfd and self-pipe) reports a child's\n"
        "                    SIGCHLD with its pid, CLD_EXITED and exit code\n"
        "  sig-wait-exact    ipc_sig_wait takes pending blocked signals lowest first, with\n"
        "                    their sender, and leaves none pending\n"
        "  sigsrc-dropped-exact  self-pipe source: signals the pipe holds are all read and\n"
        "                    none is counted dropped; past a full pipe (signals sent to\n"
        "                    ourselves, nothing read) ipc_sigsrc_dropped == sent - read\n"
        "                    and the records read are the first ones, in order; in the\n"
        "                    rt-selfpipe rounds, dropped == queued - received\n"
        "  sigsrc-rollback-exact  ipc_sigsrc_new (self-pipe) failing at the sigaction of\n"
        "                    a middle signal of its set (seccomp denies it) returns that\n"
        "                    errno and leaves every signal's disposition (handler, flags,\n"
        "                    mask) and the signal mask as they were; a source created\n"
        "                    after it works, and its free restores them too",
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

enum { MODE_SIGNALFD, MODE_SELFPIPE, MODE_THREADS, MODE_ACK, MODE_ERRNO, MODE_COUNT };
static const char *const mode_names[] = {"rt-signalfd", "rt-selfpipe", "rt-threads", "ack",
                                         "errno"};

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
    int pr = ipc_pipe_open(&ready, 0);
    if (pr == 0)
        pr = ipc_pipe_open(&pids, 0);
    if (pr == 0)
        pr = ipc_pipe_open(&rep, 0);
    if (pr < 0) {
        /* Under --faults an injected pipe2 failure: counted, the round skipped. */
        ipc_pipe_close(&ready);
        ipc_pipe_close(&pids);
        stress_lib_error(s, pr, "ipc_pipe_open");
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
    /* sig.h: every signal sent is read once or counted as dropped (self-pipe),
     * so the count is the loss exactly, not the records that did arrive; a
     * signalfd source drops nothing. */
    uint64_t lost = r.received <= total ? total - r.received : 0;
    if (mode != MODE_THREADS)
        stress_check(s, r.selfpipe_dropped == (mode == MODE_SELFPIPE ? lost : 0),
                     "sigsrc-dropped-exact",
                     "%s: ipc_sigsrc_dropped %" PRIu64 " after %" PRIu64 " of %" PRIu64
                     " queued signals were received",
                     mode_names[mode], r.selfpipe_dropped, r.received, total);
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
    int pr = ipc_pipe_open(&ready, 0);
    if (pr == 0)
        pr = ipc_pipe_open(&rep, 0);
    if (pr < 0) {
        ipc_pipe_close(&ready);
        stress_ignore(ipc_sig_setmask(&old, NULL));
        stress_lib_error(s, pr, "ipc_pipe_open");
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
            int r;
            for (int tries = 0;; tries++) {
                double t0 = stress_now();
                r = ipc_sig_timedwait(&usr2, 2000, &in);
                /* Under --faults sigtimedwait may fail at once with an
                 * injected EAGAIN, which the wrapper reports as its timeout: a
                 * timeout cannot come early, so wait again. */
                if (!(g_inject && r < 0 && stress_now() - t0 < 1.9 && tries < 100))
                    break;
                stress_lib_error(s, r, "ipc_sig_timedwait(ack)");
            }
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
    /* Drain a late ack so it is not left pending when the mask is restored
     * (its default action would end the driver): without faults, so that an
     * injected failure cannot leave one behind. */
    stress_faults_pause(s);
    struct ipc_sig_info in;
    while (ipc_sig_timedwait(&usr2, 0, &in) > 0)
        ;
    stress_faults_resume(s);
    if (ipc_sig_setmask(&old, NULL) < 0)
        stress_setup_error(s, "cannot restore the mask");
    stress_add_ops(s, acked);
}

/* ---- errno round ------------------------------------------------------------------ */
/* A value no system call sets: the user handler stores it into errno, so a
 * trampoline that does not save and restore errno shows up as this value. */
#define ERRNO_CLOBBER 7177
#define SIG_PROBE_A   (SIGRTMIN + 6) /* used by no other round */
#define SIG_PROBE_B   (SIGRTMIN + 7)

static volatile sig_atomic_t g_clobber_runs;

static void clobber_errno(int signo, siginfo_t *info, void *uc)
{
    (void)signo;
    (void)info;
    (void)uc;
    g_clobber_runs++;
    errno = ERRNO_CLOBBER;
}

static bool sig_blocked(int signo)
{
    sigset_t m;
    sigemptyset(&m);
    return sigprocmask(SIG_BLOCK, NULL, &m) == 0 && sigismember(&m, signo) == 1;
}

/* The disposition as the kernel has it: sigaction(2), not the library's tables. */
static void *disposition(int signo, int *flags)
{
    struct sigaction a;
    memset(&a, 0, sizeof(a));
    if (sigaction(signo, NULL, &a) != 0)
        return (void *)-1;
    if (flags)
        *flags = a.sa_flags;
    return (a.sa_flags & SA_SIGINFO) ? (void *)a.sa_sigaction : (void *)a.sa_handler;
}

/* Mask functions: the calling thread's mask read back with sigprocmask. */
static void check_mask_api(struct stress *s)
{
    bool before = sig_blocked(SIG_PROBE_A);
    int r1 = ipc_sig_block_one(SIG_PROBE_A);
    bool after_block = sig_blocked(SIG_PROBE_A);
    int r2 = ipc_sig_unblock_one(SIG_PROBE_A);
    bool after_unblock = sig_blocked(SIG_PROBE_A);
    stress_check(s, !before && r1 == 0 && after_block && r2 == 0 && !after_unblock,
                 "sig-mask-exact", "block_one/unblock_one: blocked %d -> (r %d) %d -> (r %d) %d",
                 before, r1, after_block, r2, after_unblock);
    sigset_t set, old;
    sigemptyset(&old);
    int r3 = ipc_sig_mkset(&set, SIG_PROBE_A, SIG_PROBE_B, 0);
    int r4 = r3 == 0 ? ipc_sig_block(&set, NULL) : r3;
    bool both = sig_blocked(SIG_PROBE_A) && sig_blocked(SIG_PROBE_B);
    int r5 = ipc_sig_unblock(&set, &old);
    bool none = !sig_blocked(SIG_PROBE_A) && !sig_blocked(SIG_PROBE_B);
    stress_check(s,
                 r4 == 0 && both && r5 == 0 && none && sigismember(&old, SIG_PROBE_A) == 1 &&
                     sigismember(&old, SIG_PROBE_B) == 1,
                 "sig-mask-exact",
                 "block/unblock of a set: r %d/%d, blocked after block %d, after unblock any %d, "
                 "old mask had them %d",
                 r4, r5, both, !none,
                 sigismember(&old, SIG_PROBE_A) == 1 && sigismember(&old, SIG_PROBE_B) == 1);
    if (!none)
        stress_ignore(sigprocmask(SIG_UNBLOCK, &set, NULL));
}

/* Dispositions: install, set_default (SIG_DFL and SIG_IGN), restore, read back
 * with sigaction. */
static void check_disposition_api(struct stress *s)
{
    int sig = SIG_PROBE_A, flags = 0;
    void *orig = disposition(sig, NULL);
    struct ipc_sig_prev p_install, p_ign, p_dfl, p_restart;
    int r = ipc_sig_install(sig, clobber_errno, 0, &p_install);
    if (r < 0) {
        stress_lib_error(s, r, "ipc_sig_install");
        return;
    }
    void *installed = disposition(sig, &flags);
    stress_check(s,
                 installed != orig && installed != (void *)SIG_DFL &&
                     installed != (void *)SIG_IGN && (flags & SA_SIGINFO) && !(flags & SA_RESTART),
                 "sig-disposition-exact",
                 "after ipc_sig_install(no restart): handler %p (was %p), flags 0x%x", installed,
                 orig, flags);
    r = ipc_sig_set_default(sig, 1, &p_ign);
    void *ign = disposition(sig, NULL);
    int r2 = ipc_sig_restore(&p_ign);
    void *back = disposition(sig, &flags);
    stress_check(s, r == 0 && ign == (void *)SIG_IGN && r2 == 0 && back == installed,
                 "sig-disposition-exact",
                 "set_default(ignore) r %d gave %p; restore r %d gave %p, expected %p", r, ign, r2,
                 back, installed);
    r = ipc_sig_set_default(sig, 0, &p_dfl);
    void *dfl = disposition(sig, NULL);
    r2 = ipc_sig_restore(&p_dfl);
    back = disposition(sig, NULL);
    stress_check(s, r == 0 && dfl == (void *)SIG_DFL && r2 == 0 && back == installed,
                 "sig-disposition-exact",
                 "set_default(default) r %d gave %p; restore r %d gave %p, expected %p", r, dfl, r2,
                 back, installed);
    r = ipc_sig_install(sig, clobber_errno, IPC_SIG_RESTART, &p_restart);
    int rflags = 0;
    disposition(sig, &rflags);
    r2 = r == 0 ? ipc_sig_restore(&p_restart) : r;
    stress_check(s, r == 0 && (rflags & SA_RESTART) && r2 == 0, "sig-disposition-exact",
                 "ipc_sig_install(IPC_SIG_RESTART): r %d, flags 0x%x, restore r %d", r, rflags, r2);
    r = ipc_sig_restore(&p_install);
    back = disposition(sig, NULL);
    stress_check(s, r == 0 && back == orig, "sig-disposition-exact",
                 "restore of the first install: r %d, handler %p, expected %p", r, back, orig);
    int rp = ipc_sig_set_default(SIGPIPE, 0, NULL);
    int rk = ipc_sig_set_default(SIGKILL, 1, NULL);
    stress_check(s, rp == -EINVAL && rk == -EINVAL, "sig-disposition-exact",
                 "set_default(SIGPIPE) %s, set_default(SIGKILL) %s, expected EINVAL",
                 ipc_errname(rp), ipc_errname(rk));
}

/* In a forked child: ipc_sig_child_reset puts caught signals back to SIG_DFL,
 * keeps ignored ones ignored and SIGPIPE as it was, and empties the mask. The
 * child exits with the number of the first check that failed. */
static int child_reset_probe(void)
{
    struct sigaction pipe_handler;
    memset(&pipe_handler, 0, sizeof(pipe_handler));
    pipe_handler.sa_flags = SA_SIGINFO;
    pipe_handler.sa_sigaction = clobber_errno;
    sigemptyset(&pipe_handler.sa_mask);
    if (sigaction(SIGPIPE, &pipe_handler, NULL) != 0)
        return 20;
    if (ipc_sig_child_reset() != 0)
        return 21;
    if (disposition(SIG_PROBE_A, NULL) != (void *)SIG_DFL)
        return 22; /* was caught */
    if (disposition(SIG_PROBE_B, NULL) != (void *)SIG_IGN)
        return 23; /* was ignored */
    if (disposition(SIGPIPE, NULL) != (void *)clobber_errno)
        return 24; /* must stay as it was */
    sigset_t m;
    sigemptyset(&m);
    if (sigprocmask(SIG_BLOCK, NULL, &m) != 0)
        return 25;
    for (int i = 1; i <= SIGRTMAX; i++)
        if (sigismember(&m, i) == 1)
            return 26;
    return 0;
}

static void check_child_reset(struct stress *s)
{
    struct ipc_sig_prev pa, pb;
    int ra = ipc_sig_install(SIG_PROBE_A, clobber_errno, 0, &pa);
    int rb = ipc_sig_set_default(SIG_PROBE_B, 1, &pb);
    sigset_t set, old;
    int rm = ipc_sig_mkset(&set, SIGUSR2, SIG_PROBE_A, 0);
    if (rm == 0)
        rm = ipc_sig_block(&set, &old);
    if (ra == 0 && rb == 0 && rm == 0) {
        pid_t pid = fork();
        if (pid == 0)
            ipc__exit_child(child_reset_probe());
        if (pid < 0) {
            stress_setup_error(s, "fork: %s", strerror(errno));
        } else {
            int code = 0;
            bool ok = reap(s, pid, "child-reset probe", &code);
            stress_check(s, ok, "sig-child-reset",
                         "after ipc_sig_child_reset the child found check %d failing (22 caught "
                         "signal not SIG_DFL, 23 ignored one not SIG_IGN, 24 SIGPIPE changed, 26 "
                         "mask not empty)",
                         code);
        }
        stress_ignore(ipc_sig_setmask(&old, NULL));
    } else {
        stress_lib_error(s, ra < 0 ? ra : rb < 0 ? rb : rm, "ipc_sig_install/set_default/block");
    }
    if (rb == 0)
        stress_ignore(ipc_sig_restore(&pb));
    if (ra == 0)
        stress_ignore(ipc_sig_restore(&pa));
}

/* ipc_sigsrc_backend against what the fd really is (/proc/self/fd link). */
static void check_sigsrc_backend(struct stress *s)
{
    static const unsigned flag[2] = {IPC_SIGSRC_AUTO, IPC_SIGSRC_FORCE_SELFPIPE};
    for (int i = 0; i < 2; i++) {
        sigset_t set;
        ipc_sigsrc *src = NULL;
        int r = ipc_sig_mkset(&set, SIG_PROBE_B, 0);
        if (r == 0)
            r = ipc_sigsrc_new(&src, &set, flag[i]);
        if (r < 0) {
            stress_lib_error(s, r, "ipc_sigsrc_new");
            continue;
        }
        int backend = ipc_sigsrc_backend(src);
        char path[64], link[128] = "";
        snprintf(path, sizeof(path), "/proc/self/fd/%d", ipc_sigsrc_fd(src));
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = '\0';
        bool is_sfd = strstr(link, "signalfd") != NULL, is_pipe = !strncmp(link, "pipe:", 5);
        /* AUTO is signalfd on Linux unless signalfd itself failed (injected). */
        bool ok = i == 1 ? backend == IPC_SIGSRC_SELFPIPE && is_pipe
                         : (backend == IPC_SIGSRC_SIGNALFD && is_sfd) ||
                               (stress_faults_on(s) && backend == IPC_SIGSRC_SELFPIPE && is_pipe);
        stress_check(s, ok, "sigsrc-backend-exact", "%s source: backend %d, fd is '%s'",
                     i ? "self-pipe" : "auto", backend, link);
        ipc_sigsrc_free(src);
        stress_check(s, !sig_blocked(SIG_PROBE_B), "sig-mask-exact",
                     "ipc_sigsrc_free left signal %d blocked", SIG_PROBE_B);
    }
    stress_check(s, ipc_sigsrc_backend(NULL) == -EINVAL, "sigsrc-backend-exact",
                 "ipc_sigsrc_backend(NULL) is not -EINVAL");
}

static int open_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

enum { FALLBACK_OK = 0, FALLBACK_WRONG = 2, FALLBACK_NO_SECCOMP = 3 };

/* In a child with signalfd denied (err): what ipc_sigsrc_new does, judged by the
 * rule in sig.h. A line explaining a wrong result goes to wfd. */
static int fallback_child(int err, int wfd)
{
    /* The oracle for the fallback rule is the kernel's errno, not the library's. */
    static const long signalfd_nr[] = {__NR_signalfd4};
    if (stress_deny_syscalls(signalfd_nr, 1, err) < 0)
        return FALLBACK_NO_SECCOMP;
    sigset_t set, mask_before, mask_after;
    if (ipc_sig_mkset(&set, SIG_PROBE_B, 0) != 0)
        return FALLBACK_WRONG;
    sigprocmask(SIG_SETMASK, NULL, &mask_before);
    int fds_before = open_fd_count();
    ipc_sigsrc *src = NULL;
    int r = ipc_sigsrc_new(&src, &set, IPC_SIGSRC_AUTO);
    if (err != ENOSYS && err != EINVAL) {
        sigprocmask(SIG_SETMASK, NULL, &mask_after);
        int fds_after = open_fd_count();
        bool same_mask = true;
        for (int sig = 1; sig <= SIGRTMAX; sig++)
            same_mask &= sigismember(&mask_before, sig) == sigismember(&mask_after, sig);
        if (r == -err && !src && fds_after == fds_before && same_mask)
            return FALLBACK_OK;
        dprintf(wfd,
                "signalfd failing with %s: ipc_sigsrc_new gave %d (want %d), source %s, %d fds "
                "(were %d), mask %s",
                strerror(err), r, -err, src ? "set" : "NULL", fds_after, fds_before,
                same_mask ? "unchanged" : "changed");
        return FALLBACK_WRONG;
    }
    struct ipc_sig_info info = {0};
    int backend = r == 0 ? ipc_sigsrc_backend(src) : r, got = 0;
    if (r == 0 && raise(SIG_PROBE_B) == 0)
        got = ipc_sigsrc_read(src, &info);
    ipc_sigsrc_free(src);
    if (r == 0 && backend == IPC_SIGSRC_SELFPIPE && got == 1 && info.signo == SIG_PROBE_B)
        return FALLBACK_OK;
    dprintf(wfd,
            "signalfd failing with %s: ipc_sigsrc_new gave %d, backend %d (want the self-pipe), "
            "read %d signo %d (want 1, %d)",
            strerror(err), r, backend, got, info.signo, SIG_PROBE_B);
    return FALLBACK_WRONG;
}

/* ipc_sigsrc_new's fallback rule, one child per errno signalfd can give. */
static void check_sigsrc_fallback(struct stress *s)
{
    static const int errs[] = {ENOSYS, EINVAL, EMFILE, ENFILE, ENOMEM, ENODEV};
    stress_faults_pause(s);
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        char why[512];
        int status = stress_verdict_child(s, fallback_child, errs[i], why, sizeof(why));
        if (status < 0)
            break;
        if (WIFEXITED(status) && WEXITSTATUS(status) == FALLBACK_NO_SECCOMP) {
            snprintf(s->note, sizeof(s->note), "sigsrc-fallback skipped: no seccomp filter here");
            break;
        }
        stress_check(s, WIFEXITED(status) && WEXITSTATUS(status) == FALLBACK_OK,
                     "sigsrc-fallback-exact", "%s (child status 0x%x)",
                     why[0] ? why : "no explanation from the child", (unsigned)status);
    }
    stress_faults_resume(s);
}

/* SIGCHLD through a signal source, both backends: the record names the child,
 * CLD_EXITED and its exit code (sig.h), as the kernel's waitid reports them. */
static void check_sigsrc_sigchld(struct stress *s, struct stress_rng *rng)
{
    static const unsigned flag[2] = {IPC_SIGSRC_AUTO, IPC_SIGSRC_FORCE_SELFPIPE};
    stress_faults_pause(s);
    for (int i = 0; i < 2; i++) {
        sigset_t set;
        ipc_sigsrc *src = NULL;
        int r = ipc_sig_mkset(&set, SIGCHLD, 0);
        if (r == 0)
            r = ipc_sigsrc_new(&src, &set, flag[i]);
        if (r < 0) {
            stress_setup_error(s, "ipc_sigsrc_new(SIGCHLD): %s", ipc_strerror(r));
            break;
        }
        int code = 1 + (int)stress_rng_below(rng, 120);
        pid_t pid = fork();
        if (pid == 0)
            _exit(code);
        struct ipc_sig_info in = {0};
        bool found = false;
        double end = stress_now() + 10.0 * STRESS_TIME_SCALE;
        while (pid > 0 && !found && stress_now() < end) {
            struct pollfd pf = {.fd = ipc_sigsrc_fd(src), .events = POLLIN};
            if (poll(&pf, 1, 100) <= 0)
                continue;
            /* other children of ours may end too: look for this one's record */
            while (!found && ipc_sigsrc_read(src, &in) == 1)
                found = in.signo == SIGCHLD && in.pid == pid;
        }
        if (pid > 0)
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        ipc_sigsrc_free(src);
        stress_check(s, found && in.code == CLD_EXITED && in.status == code && in.uid == getuid(),
                     "sigchld-exact",
                     "%s source: SIGCHLD of child %d (exit %d): %s, code %d, status %d",
                     i ? "self-pipe" : "auto", (int)pid, code, found ? "read" : "never read",
                     in.code, in.status);
    }
    stress_faults_resume(s);
}

/* ---- self-pipe drop count ------------------------------------------------------------ */
#define SIG_PROBE_C (SIGRTMIN + 10) /* used by no other round */

/* Sends n signals numbered first.. to this thread with pthread_sigqueue
 * (rt_tgsigqueueinfo): the signal is unblocked, so the self-pipe handler runs
 * before each call returns and writes its record, or counts it dropped, in
 * order. Returns how many were sent. */
static unsigned send_to_self(unsigned first, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (pthread_sigqueue(pthread_self(), SIG_PROBE_C,
                             (union sigval){.sival_int = (int)(first + i)}) != 0)
            return i;
    return n;
}

/* Reads every pending record; counts those that are the next expected ones
 * (signo, SI_QUEUE from us, payload next) in *in_order. Returns the count read,
 * or a negative errno. */
static long read_all_records(ipc_sigsrc *src, unsigned *next, unsigned *in_order)
{
    long got = 0;
    struct ipc_sig_info in;
    int r;
    while ((r = ipc_sigsrc_read(src, &in)) == 1) {
        got++;
        if (in.signo == SIG_PROBE_C && in.code == SI_QUEUE && in.pid == getpid() &&
            in.value == (int)*next)
            (*in_order)++;
        (*next)++;
    }
    return r < 0 ? r : got;
}

/* ipc_sigsrc_dropped against the count sent and read, both known here: first
 * fewer signals than any pipe holds (PIPE_BUF bytes fit in an empty one): all
 * read, none dropped; then, without reading, more than the pipe's size in
 * records: what is read is the first ones, and dropped == sent - read. */
static void check_sigsrc_dropped(struct stress *s, struct stress_rng *rng)
{
    if (UNDER_TSAN) {
        /* TSan defers the handler and coalesces the instances of one signal.
         * (The note does not hide an earlier one, say a skipped fallback check.) */
        if (!s->note[0])
            snprintf(s->note, sizeof(s->note), "sigsrc-dropped skipped under TSan");
        return;
    }
    stress_faults_pause(s);
    sigset_t set;
    ipc_sigsrc *src = NULL;
    int r = ipc_sig_mkset(&set, SIG_PROBE_C, 0);
    if (r == 0)
        r = ipc_sigsrc_new(&src, &set, IPC_SIGSRC_FORCE_SELFPIPE);
    if (r < 0) {
        stress_setup_error(s, "ipc_sigsrc_new(self-pipe): %s", ipc_strerror(r));
        stress_faults_resume(s);
        return;
    }
    int fd = ipc_sigsrc_fd(src);
    /* The smallest pipe fills with the fewest signals; failing to shrink it only
     * costs signals, as its size is read back. */
    (void)fcntl(fd, F_SETPIPE_SZ, (int)PIPE_BUF);
    int pipe_bytes = fcntl(fd, F_GETPIPE_SZ);
    const unsigned rec = (unsigned)sizeof(struct ipc_sig_info);
    unsigned fit = (unsigned)PIPE_BUF / rec; /* these always fit in an empty pipe */
    unsigned next = 0, in_order = 0;
    unsigned k = (unsigned)stress_rng_range(rng, 1, fit);
    unsigned sent = send_to_self(0, k);
    long got = read_all_records(src, &next, &in_order);
    unsigned long dropped = ipc_sigsrc_dropped(src);
    stress_check(s, sent == k && got == (long)k && in_order == k && dropped == 0,
                 "sigsrc-dropped-exact",
                 "self-pipe, %u signals to self (an empty pipe holds %u): sent %u, read %ld (%u "
                 "in order), ipc_sigsrc_dropped %lu (want 0)",
                 k, fit, sent, got, in_order, dropped);
    /* More than pipe_bytes / rec records cannot fit. */
    unsigned n =
        pipe_bytes > 0 ? (unsigned)pipe_bytes / rec + (unsigned)stress_rng_range(rng, 1, fit) : 0;
    unsigned first = next;
    in_order = 0;
    sent = send_to_self(first, n);
    got = read_all_records(src, &next, &in_order);
    dropped = ipc_sigsrc_dropped(src);
    stress_check(s,
                 n > 0 && sent == n && got >= (long)fit && got < (long)n &&
                     in_order == (unsigned)got && dropped == (unsigned long)(n - (unsigned)got),
                 "sigsrc-dropped-exact",
                 "self-pipe of %d bytes, %u signals to self without reading: sent %u, read %ld "
                 "(%u the first ones in order), ipc_sigsrc_dropped %lu (want sent - read = %ld)",
                 pipe_bytes, n, sent, got, in_order, dropped, (long)sent - got);
    ipc_sigsrc_free(src);
    stress_faults_resume(s);
}

/* ---- self-pipe setup rollback -------------------------------------------------------- */
enum { ROLLBACK_OK = 0, ROLLBACK_WRONG = 2, ROLLBACK_NO_SECCOMP = 3 };
#define ROLLBACK_ERR EPERM /* what the denied sigaction fails with */

/* A signal's disposition as sigaction(2) reports it, or the query's error. */
struct disposition_rec {
    int rc, err;
    struct sigaction sa;
};

static void read_dispositions(struct disposition_rec *d)
{
    for (int sig = 1; sig < _NSIG; sig++) {
        memset(&d[sig], 0, sizeof(d[sig]));
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        errno = 0;
        d[sig].rc = sigaction(sig, NULL, &d[sig].sa);
        d[sig].err = d[sig].rc ? errno : 0;
    }
}

static bool same_sigset(const sigset_t *a, const sigset_t *b)
{
    for (int sig = 1; sig < _NSIG; sig++)
        if (sigismember(a, sig) != sigismember(b, sig))
            return false;
    return true;
}

/* The first signal whose disposition differs between a and b, or 0. */
static int first_changed(const struct disposition_rec *a, const struct disposition_rec *b)
{
    for (int sig = 1; sig < _NSIG; sig++) {
        if (a[sig].rc != b[sig].rc || a[sig].err != b[sig].err)
            return sig;
        if (a[sig].rc == 0 && (a[sig].sa.sa_handler != b[sig].sa.sa_handler ||
                               a[sig].sa.sa_flags != b[sig].sa.sa_flags ||
                               !same_sigset(&a[sig].sa.sa_mask, &b[sig].sa.sa_mask)))
            return sig;
    }
    return 0;
}

static void plain_probe_handler(int signo)
{
    (void)signo;
}

/* Gives sig the handler fn (SA_SIGINFO when siginfo), flags and a mask of one
 * signal. */
static int set_disposition(int sig, void (*fn)(int), bool siginfo, int flags, int masked)
{
    struct sigaction a;
    memset(&a, 0, sizeof(a));
    if (siginfo)
        a.sa_sigaction = clobber_errno;
    else
        a.sa_handler = fn;
    a.sa_flags = flags | (siginfo ? SA_SIGINFO : 0);
    sigemptyset(&a.sa_mask);
    if (masked)
        sigaddset(&a.sa_mask, masked);
    return sigaction(sig, &a, NULL);
}

/* In a child: gives known dispositions to signals inside and outside a set of
 * four, denies rt_sigaction for the third (seccomp, ROLLBACK_ERR) and, for
 * variant 1, signalfd (ENOSYS: AUTO falls back to the self-pipe); then
 * ipc_sigsrc_new for the set must fail with that errno and leave every
 * disposition and the mask as sigaction/sigprocmask read them before. */
static int rollback_child(int variant, int wfd)
{
    static struct disposition_rec before[_NSIG], after[_NSIG];
    const int first = SIGALRM, second = SIGRTMIN + 3, denied = SIGRTMIN + 4, last = SIGRTMIN + 5;
    /* In the set before the denied one: a SA_SIGINFO handler and a plain one;
     * after it: ignored. Outside the set, below it: a handler, an ignored
     * signal, a plain handler between the set's members. */
    if (set_disposition(first, NULL, true, SA_RESTART, SIGUSR2) != 0 ||
        set_disposition(second, plain_probe_handler, false, SA_NODEFER, SIGTERM) != 0 ||
        set_disposition(last, SIG_IGN, false, 0, 0) != 0 ||
        set_disposition(SIGUSR1, NULL, true, 0, SIGHUP) != 0 ||
        set_disposition(SIGHUP, SIG_IGN, false, 0, 0) != 0 ||
        set_disposition(SIGRTMIN + 1, plain_probe_handler, false, SA_RESTART, 0) != 0) {
        dprintf(wfd, "setting the starting dispositions failed: %s", strerror(errno));
        return ROLLBACK_WRONG;
    }
    sigset_t blocked, set, mask_before, mask_after;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR2);
    sigaddset(&blocked, last); /* a member already blocked stays blocked */
    sigprocmask(SIG_BLOCK, &blocked, NULL);
    static const long signalfd_nr[] = {__NR_signalfd4};
    if ((variant == 1 && stress_deny_syscalls(signalfd_nr, 1, ENOSYS) < 0) ||
        stress_deny_syscall_arg0(__NR_rt_sigaction, denied, ROLLBACK_ERR) < 0)
        return ROLLBACK_NO_SECCOMP;
    if (ipc_sig_mkset(&set, first, second, denied, last, 0) != 0) {
        dprintf(wfd, "ipc_sig_mkset failed");
        return ROLLBACK_WRONG;
    }
    const char *how = variant ? "AUTO with signalfd denied" : "FORCE_SELFPIPE";
    /* The denied signal's query fails before and after alike: the filter also
     * keeps its disposition from changing. */
    read_dispositions(before);
    sigprocmask(SIG_BLOCK, NULL, &mask_before);
    int fds_before = open_fd_count();
    ipc_sigsrc *src = NULL;
    int r = ipc_sigsrc_new(&src, &set, variant ? IPC_SIGSRC_AUTO : IPC_SIGSRC_FORCE_SELFPIPE);
    read_dispositions(after);
    sigprocmask(SIG_BLOCK, NULL, &mask_after);
    int fds_after = open_fd_count();
    int changed = first_changed(before, after);
    if (r != -ROLLBACK_ERR || src || changed || !same_sigset(&mask_before, &mask_after) ||
        fds_after != fds_before) {
        dprintf(wfd,
                "ipc_sigsrc_new(%s) of {%d,%d,%d,%d} with sigaction(%d) denied: %s (want %s), "
                "source %s; signal %d's disposition %s (handler %p -> %p, flags 0x%x -> 0x%x); "
                "mask %s; %d fds (were %d)",
                how, first, second, denied, last, denied, ipc_errname(r),
                ipc_errname(-ROLLBACK_ERR), src ? "set" : "NULL", changed,
                changed ? "changed" : "-", changed ? (void *)before[changed].sa.sa_handler : NULL,
                changed ? (void *)after[changed].sa.sa_handler : NULL,
                changed ? (unsigned)before[changed].sa.sa_flags : 0u,
                changed ? (unsigned)after[changed].sa.sa_flags : 0u,
                same_sigset(&mask_before, &mask_after) ? "unchanged" : "changed", fds_after,
                fds_before);
        return ROLLBACK_WRONG;
    }
    /* The failure released the process's one self-pipe slot: a source without
     * the denied signal works, and its free puts everything back again. */
    sigdelset(&set, denied);
    r = ipc_sigsrc_new(&src, &set, variant ? IPC_SIGSRC_AUTO : IPC_SIGSRC_FORCE_SELFPIPE);
    struct ipc_sig_info in = {0};
    int got = r == 0 && raise(second) == 0 ? ipc_sigsrc_read(src, &in) : r;
    ipc_sigsrc_free(src);
    read_dispositions(after);
    sigprocmask(SIG_BLOCK, NULL, &mask_after);
    changed = first_changed(before, after);
    if (r != 0 || got != 1 || in.signo != second || changed ||
        !same_sigset(&mask_before, &mask_after)) {
        dprintf(wfd,
                "after the failed ipc_sigsrc_new(%s): a new source gave %s, read %d signo %d "
                "(want 1, %d); after its free signal %d's disposition %s, mask %s",
                how, ipc_errname(r), got, in.signo, second, changed, changed ? "changed" : "-",
                same_sigset(&mask_before, &mask_after) ? "unchanged" : "changed");
        return ROLLBACK_WRONG;
    }
    return ROLLBACK_OK;
}

/* ipc_sigsrc_new's rollback when installing a handler fails midway, for a
 * forced self-pipe and for the fallback one. */
static void check_sigsrc_rollback(struct stress *s)
{
    stress_faults_pause(s);
    for (int variant = 0; variant < 2; variant++) {
        char why[768];
        int status = stress_verdict_child(s, rollback_child, variant, why, sizeof(why));
        if (status < 0)
            break;
        if (WIFEXITED(status) && WEXITSTATUS(status) == ROLLBACK_NO_SECCOMP) {
            snprintf(s->note, sizeof(s->note), "sigsrc-rollback skipped: no seccomp filter here");
            break;
        }
        stress_check(s, WIFEXITED(status) && WEXITSTATUS(status) == ROLLBACK_OK,
                     "sigsrc-rollback-exact", "%s (child status 0x%x)",
                     why[0] ? why : "no explanation from the child", (unsigned)status);
    }
    stress_faults_resume(s);
}

/* Sends SIGUSR1 to the parent until it is killed, a few every 20 microseconds:
 * enough to land between many failing calls and their errno reads, and bounded,
 * because on an idle machine an unpaced sender on its own core keeps the parent
 * in its handler (seen: 40 calls/s, a 2 s run lasting 30 s). */
static int storm_main(pid_t target)
{
    if (ipc_sig_child_reset() != 0)
        return 3;
    const struct timespec pace = {0, 20000};
    for (;;) {
        for (int i = 0; i < 4; i++)
            if (kill(target, SIGUSR1) != 0)
                return 4;
        nanosleep(&pace, NULL);
    }
}

static uint64_t g_errno_calls, g_eintr_seen;

/* Calls that fail with a known errno, each followed by a SIGUSR1 to self (the
 * clobbering handler runs before raise returns) and by the async storm of a
 * sibling: errno read right after must be the call's, never ERRNO_CLOBBER. A
 * blocking read on an empty pipe, interrupted by a handler installed without
 * IPC_SIG_RESTART, must fail with EINTR. */
static void errno_storm(struct stress *s, struct stress_rng *rng)
{
    bool raw = stress_fault(s, "errno-unsaved");
    struct ipc_sig_prev prev;
    struct sigaction raw_prev;
    g_clobber_runs = 0;
    if (raw) {
        /* The planted bug: the handler without the library's trampoline. */
        struct sigaction a;
        memset(&a, 0, sizeof(a));
        a.sa_flags = SA_SIGINFO;
        a.sa_sigaction = clobber_errno;
        sigemptyset(&a.sa_mask);
        sigaction(SIGUSR1, &a, &raw_prev);
    } else {
        int r = ipc_sig_install(SIGUSR1, clobber_errno, 0, &prev);
        if (r < 0) {
            stress_lib_error(s, r, "ipc_sig_install(SIGUSR1)");
            return;
        }
    }
    struct ipc_pipe nb = {-1, -1}, bl = {-1, -1};
    int r = ipc_pipe_open(&nb, IPC_PIPE_NONBLOCK);
    if (r == 0)
        r = ipc_pipe_open(&bl, 0);
    pid_t storm = -1;
    if (r < 0) {
        stress_lib_error(s, r, "ipc_pipe_open");
    } else {
        pid_t parent = getpid();
        storm = fork();
        if (storm == 0)
            ipc__exit_child(storm_main(parent));
        if (storm < 0)
            stress_setup_error(s, "fork: %s", strerror(errno));
    }
    unsigned n = storm > 0 ? (unsigned)stress_rng_range(rng, 500, 2000) : 0;
    unsigned raises = 0;
    for (unsigned i = 0; i < n; i++) {
        char buf[8];
        int e, expect = 0;
        long ret = 0;
        const char *what = "";
        switch (i % 5) {
        case 0:
            errno = 0;
            ret = read(nb.rd, buf, sizeof(buf));
            what = "read(empty non-blocking pipe)";
            expect = EAGAIN;
            break;
        case 1:
            errno = 0;
            ret = close(-1);
            what = "close(-1)";
            expect = EBADF;
            break;
        case 2:
            errno = 0;
            ret = sigaction(SIGKILL, &(struct sigaction){.sa_handler = SIG_IGN}, NULL);
            what = "sigaction(SIGKILL)";
            expect = EINVAL;
            break;
        case 3: {
            /* libipc's own return value, with the storm running. */
            ssize_t lr = ipc_pipe_read_full(nb.rd, buf, sizeof(buf));
            int cr = ipc_pipe_capacity(-1);
            if (stress_faults_on(s) && (lr != -EAGAIN || cr != -EBADF)) {
                stress_lib_error(s, lr != -EAGAIN ? (int)lr : cr, "ipc_pipe_read_full/capacity");
                continue;
            }
            stress_check(s, lr == -EAGAIN && cr == -EBADF, "errno-preserved",
                         "ipc_pipe_read_full(empty non-blocking) %s, ipc_pipe_capacity(-1) %s",
                         ipc_errname((int)lr), ipc_errname(cr));
            g_errno_calls += 2;
            continue;
        }
        default: {
            if (i % 100 == 9) {
                /* A wait for a blocked signal nobody sends, interrupted by the
                 * storm's caught SIGUSR1 (outside the set): it retries with the time
                 * left and times out (-EAGAIN), never -EINTR, never early. */
                sigset_t probe, old;
                sigemptyset(&probe);
                sigaddset(&probe, SIG_PROBE_B);
                pthread_sigmask(SIG_BLOCK, &probe, &old);
                double t0 = stress_now();
                int wr = ipc_sig_timedwait(&probe, 3, NULL);
                double took = stress_now() - t0;
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                if (wr != -EAGAIN && wr != SIG_PROBE_B && stress_faults_on(s)) {
                    stress_lib_error(s, wr, "ipc_sig_timedwait(storm)");
                    continue;
                }
                stress_check(s, wr == SIG_PROBE_B || (wr == -EAGAIN && took >= 0.0025),
                             "eintr-exact",
                             "ipc_sig_timedwait(3 ms) while caught signals arrive: %s after "
                             "%.1f ms (want -EAGAIN after 3 ms)",
                             ipc_errname(wr), took * 1e3);
                g_errno_calls++;
                continue;
            }
            if (i % 20 != 4)
                continue;
            /* A blocking read interrupted by the storm (or the timer, so the
             * read always ends): -1/EINTR, as documented for SA_RESTART off. */
            struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = 2000}};
            struct itimerval off = {{0, 0}, {0, 0}};
            struct ipc_sig_prev alrm;
            int cr = ipc_sig_catch(SIGALRM, 0, &alrm);
            if (cr < 0) {
                stress_lib_error(s, cr, "ipc_sig_catch(SIGALRM)");
                continue;
            }
            setitimer(ITIMER_REAL, &it, NULL);
            errno = 0;
            ret = read(bl.rd, buf, sizeof(buf));
            e = errno;
            setitimer(ITIMER_REAL, &off, NULL);
            stress_ignore(ipc_sig_restore(&alrm));
            stress_check(s, ret == -1 && e == EINTR, "eintr-exact",
                         "blocking read interrupted by a handler without SA_RESTART: ret %ld "
                         "errno %d (%s)",
                         ret, e, e == ERRNO_CLOBBER ? "the handler's value" : strerror(e));
            g_eintr_seen++;
            g_errno_calls++;
            continue;
        }
        }
        raise(SIGUSR1); /* the handler runs before raise returns */
        raises++;
        e = errno;
        stress_check(s, ret == -1 && e == expect, "errno-preserved",
                     "%s then a handler that sets errno: ret %ld errno %d (%s), expected %s", what,
                     ret, e, e == ERRNO_CLOBBER ? "the handler's value" : strerror(e),
                     strerror(expect));
        g_errno_calls++;
    }
    if (storm > 0) {
        kill(storm, SIGKILL);
        int code = 0;
        reap(s, storm, "signal storm", &code);
        /* 3: ipc_sig_child_reset failed in the child, possible only when
         * --fault-calls names sigaction/sigprocmask. */
        if (code == 3 && stress_faults_on(s))
            stress_lib_error(s, -EINVAL, "storm child: ipc_sig_child_reset");
        else
            stress_check(s, code == 128 + SIGKILL, "storm-killed",
                         "the signal storm child ended by itself (status %d) instead of being "
                         "killed",
                         code);
    }
    stress_check(s, (unsigned long)g_clobber_runs >= raises, "errno-preserved",
                 "the handler ran %lu times for %u raises", (unsigned long)g_clobber_runs, raises);
    ipc_pipe_close(&nb);
    ipc_pipe_close(&bl);
    if (raw) {
        sigaction(SIGUSR1, &raw_prev, NULL);
    } else {
        r = ipc_sig_restore(&prev);
        void *now = disposition(SIGUSR1, NULL);
        stress_check(s, r == 0 && now == (void *)SIG_DFL, "sig-disposition-exact",
                     "ipc_sig_restore(SIGUSR1): r %d, handler %p, expected SIG_DFL", r, now);
    }
    stress_add_ops(s, n);
}

/* ipc_sig_wait consumes pending blocked signals one at a time, lowest number first,
 * with the sender (raise: SI_TKILL or SI_USER from this process), and leaves none
 * pending. */
static void check_sig_wait(struct stress *s)
{
    const int hi = SIGRTMIN + 9, lo = SIGRTMIN + 8; /* used by no other round */
    sigset_t set, old, pending;
    sigemptyset(&set);
    sigaddset(&set, hi);
    sigaddset(&set, lo);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    raise(hi);
    raise(lo);
    struct ipc_sig_info first = {0}, second = {0};
    int r1 = ipc_sig_wait(&set, &first);
    int r2 = ipc_sig_wait(&set, &second);
    sigpending(&pending);
    stress_check(
        s,
        r1 == lo && first.signo == lo && (first.code == SI_TKILL || first.code == SI_USER) &&
            first.pid == getpid() && r2 == hi && second.signo == hi && !sigismember(&pending, lo) &&
            !sigismember(&pending, hi),
        "sig-wait-exact",
        "ipc_sig_wait gave %d (signo %d code %d pid %d) then %d (signo %d), want %d "
        "(SI_TKILL or SI_USER from %d) then %d, none left pending",
        r1, first.signo, first.code, (int)first.pid, r2, second.signo, lo, (int)getpid(), hi);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void round_errno(struct stress *s, struct stress_rng *rng)
{
    check_sig_wait(s);
    check_mask_api(s);
    check_disposition_api(s);
    check_child_reset(s);
    check_sigsrc_backend(s);
    /* Forks (two, six): every 16th and 64th round, a small part of the errno mode. */
    static unsigned rounds;
    if (rounds % 16 == 0)
        check_sigsrc_sigchld(s, rng);
    check_sigsrc_dropped(s, rng);
    if (rounds++ % 64 == 0) {
        check_sigsrc_fallback(s);
        check_sigsrc_rollback(s);
    }
    errno_storm(s, rng);
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
               ? "all or a comma-separated list of rt-signalfd, rt-selfpipe, rt-threads, ack, errno"
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
                "rt-signalfd, rt-selfpipe, rt-threads, ack, errno; not '%s'\n",
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
        else if (mode == MODE_ERRNO)
            round_errno(&s, &rng);
        else
            round_rt(&s, mode, &rng);
    }
    return stress_end(&s);
}
