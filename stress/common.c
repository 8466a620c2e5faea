/* common.c - the driver lifecycle: option parsing and --help, the stop signals,
 * the stop condition and progress line, and the hygiene checks of stress_end. The
 * PRNG (rng.c), the reports (report.c), the clock (clock.c) and the leak-check
 * mechanics (testing/hygiene.c) live in their own modules. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "common.h"
#include "hygiene.h"
#include "report.h"
#include "rng.h"

/* ---- stop signals ------------------------------------------------------------------- */
static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_stop_sig;

static void on_stop_signal(int sig)
{
    g_stop = 1;
    g_stop_sig = sig;
}

static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocked wait or read returns EINTR so the driver notices. */
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool stress_interrupted(const struct stress *s)
{
    (void)s;
    return g_stop != 0;
}

/* ---- options --------------------------------------------------------------------------- */
static void usage(const struct stress_spec *spec, FILE *out)
{
    fprintf(out,
            "usage: ipcstorm stress %s [--duration S] [--ops N] [--procs N] [--seed N] [--json]\n"
            "       [--with-stress-ng \"ARGS\"]",
            spec->name);
    for (const struct stress_xopt *x = spec->xopts; x && x->name; x++)
        fprintf(out, " [--%s%s]", x->name, x->kind == STRESS_XOPT_FLAG ? "" : " V");
#ifdef IPC_TEST_FAULTS
    if (spec->faults && spec->faults[0].name)
        fprintf(out, " [--fault NAME]");
#endif
    fprintf(out, "\n\n%s\n\n", spec->summary);
    if (spec->invariants)
        fprintf(out, "invariants checked:\n%s\n\n", spec->invariants);
    fprintf(out,
            "options:\n"
            "  --duration S   stop after S seconds (default 5; 0 = only --ops)\n"
            "  --ops N        stop after N operations (default: no limit)\n"
            "  --procs N      worker processes (default %u, at most %u)\n"
            "  --seed N       PRNG seed (default: from the clock; printed in every report)\n"
            "  --json         print one JSON object on stdout instead of the result line\n"
            "  --with-stress-ng \"ARGS\"  run stress-ng ARGS as background load for the run\n",
            spec->default_procs, spec->max_procs);
    for (const struct stress_xopt *x = spec->xopts; x && x->name; x++)
        fprintf(out, "  --%-12s %s\n", x->name, x->help);
#ifdef IPC_TEST_FAULTS
    if (spec->faults && spec->faults[0].name) {
        fprintf(out, "  --fault NAME   plant a deliberate fault (test builds only):\n");
        for (const struct stress_fault *f = spec->faults; f->name; f++)
            fprintf(out, "      %-18s %s\n", f->name, f->help);
    }
#endif
    fprintf(out, "\nexit status: 0 every invariant held, 2 violation, 1 usage/setup error\n");
}

static int parse_xopt(const struct stress *s, const struct stress_xopt *x, const char *val)
{
    char opt[64];
    snprintf(opt, sizeof(opt), "--%s", x->name);
    switch (x->kind) {
    case STRESS_XOPT_U64:
        return cli_parse_u64(s->spec->name, opt, val, x->min, x->max, (uint64_t *)x->ptr);
    case STRESS_XOPT_SECONDS:
        return cli_parse_seconds(s->spec->name, opt, val, (double *)x->ptr);
    case STRESS_XOPT_STR:
        *(const char **)x->ptr = val;
        return 0;
    case STRESS_XOPT_FLAG:
        *(bool *)x->ptr = true;
        return 0;
    }
    return -1;
}

static int parse_options(struct stress *s, int argc, char **argv, bool *help)
{
    const struct stress_spec *spec = s->spec;
    const char *cmd = spec->name;
    bool seed_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            *help = true;
            return 0;
        }
        if (!strcmp(a, "--json")) {
            s->json = true;
            continue;
        }
        const struct stress_xopt *x = NULL;
        if (!strncmp(a, "--", 2))
            for (const struct stress_xopt *y = spec->xopts; y && y->name; y++)
                if (!strcmp(a + 2, y->name))
                    x = y;
        if (x && x->kind == STRESS_XOPT_FLAG) {
            parse_xopt(s, x, NULL);
            continue;
        }
        bool known = x || !strcmp(a, "--duration") || !strcmp(a, "--ops") ||
                     !strcmp(a, "--procs") || !strcmp(a, "--seed") ||
                     !strcmp(a, "--with-stress-ng");
#ifdef IPC_TEST_FAULTS
        known = known || !strcmp(a, "--fault");
#endif
        if (!known) {
            fprintf(stderr, "ipcstorm stress %s: unknown option '%s' (see --help)\n", cmd, a);
            return -1;
        }
        if (!val) {
            fprintf(stderr, "ipcstorm stress %s: option %s needs a value\n", cmd, a);
            return -1;
        }
        i++;
        if (x) {
            if (parse_xopt(s, x, val) < 0)
                return -1;
        } else if (!strcmp(a, "--duration")) {
            if (cli_parse_seconds(cmd, a, val, &s->duration) < 0)
                return -1;
        } else if (!strcmp(a, "--ops")) {
            if (cli_parse_u64(cmd, a, val, 1, UINT64_MAX / 2, &s->ops_max) < 0)
                return -1;
        } else if (!strcmp(a, "--procs")) {
            if (cli_parse_u64(cmd, a, val, 1, spec->max_procs, &u) < 0)
                return -1;
            s->procs = (unsigned)u;
        } else if (!strcmp(a, "--seed")) {
            if (cli_parse_u64(cmd, a, val, 0, UINT64_MAX, &s->seed) < 0)
                return -1;
            seed_given = true;
        } else if (!strcmp(a, "--with-stress-ng")) {
            s->stress_ng_args = val;
        } else {
            const struct stress_fault *f = spec->faults;
            while (f && f->name && strcmp(f->name, val))
                f++;
            if (!f || !f->name) {
                fprintf(stderr, "ipcstorm stress %s: unknown fault '%s' (see --help)\n", cmd, val);
                return -1;
            }
            s->fault = f->name;
        }
    }
    if (s->duration == 0 && s->ops_max == 0) {
        fprintf(stderr, "ipcstorm stress %s: --duration 0 needs --ops N\n", cmd);
        return -1;
    }
    if (!seed_given) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
        s->seed = splitmix64(&x) >> 16; /* short enough to type */
    }
    return 0;
}

/* ---- begin/end ------------------------------------------------------------------------------- */
double stress_elapsed(const struct stress *s)
{
    return stress_now() - s->t_start;
}

double stress_remaining(const struct stress *s)
{
    if (s->duration <= 0)
        return 1e9;
    double r = s->duration - stress_elapsed(s);
    return r > 0 ? r : 0;
}

int stress_begin(struct stress *s, const struct stress_spec *spec, int argc, char **argv)
{
    memset(s, 0, sizeof(*s));
    s->spec = spec;
    s->duration = 5;
    s->procs = spec->default_procs;
    s->argc = argc;
    s->argv = argv;
    s->stop_flag = &g_stop;
    bool help = false;
    if (parse_options(s, argc, argv, &help) < 0)
        return STRESS_EXIT_SETUP;
    if (help) {
        usage(spec, stdout);
        return STRESS_EXIT_OK;
    }
    s->tty = isatty(STDERR_FILENO) == 1 && !s->json;
    g_stop = 0;
    install_stop_handlers();
    hygiene_baseline_take(&s->hygiene);
    s->t_start = stress_now();
    s->t_last_progress = s->t_start;
    if (s->stress_ng_args && stress_load_start(s) < 0) {
        hygiene_baseline_release(&s->hygiene);
        return STRESS_EXIT_SETUP;
    }
    return STRESS_RUN;
}

static void progress(struct stress *s, bool final)
{
    if (!s->tty)
        return;
    double t = stress_elapsed(s);
    if (final) {
        fprintf(stderr, "\r\033[K");
        return;
    }
    fprintf(stderr, "\r\033[K%s: %6.1fs  %" PRIu64 " ops  %.0f ops/s  %" PRIu64 " checks%s",
            s->spec->name, t, s->ops, t > 0 ? (double)s->ops / t : 0.0, s->checks,
            s->violations ? "  VIOLATIONS" : "");
}

bool stress_running(struct stress *s)
{
    if (g_stop || s->setup_failed)
        return false;
    if (s->ops_max && s->ops >= s->ops_max)
        return false;
    double now = stress_now();
    if (s->duration > 0 && now - s->t_start >= s->duration)
        return false;
    if (s->tty && now - s->t_last_progress >= 0.2) {
        s->t_last_progress = now;
        progress(s, false);
    }
    return true;
}

void stress_add_ops(struct stress *s, uint64_t n)
{
    s->ops += n;
}

bool stress_fault(const struct stress *s, const char *name)
{
#ifdef IPC_TEST_FAULTS
    return s->fault && !strcmp(s->fault, name);
#else
    (void)s;
    (void)name;
    return false;
#endif
}

bool stress_is_load_pid(const struct stress *s, pid_t pid)
{
    return s->load_pid > 0 && pid == s->load_pid;
}

int stress_check_no_stray_children(struct stress *s, const char *invariant)
{
    int n = 0;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        int r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1 || si.si_pid == 0 || stress_is_load_pid(s, si.si_pid))
            break;
        /* Reap it so the report names each stray once, then keep looking. */
        waitpid(si.si_pid, NULL, 0);
        stress_violation(s, invariant, "child %d was left unreaped", (int)si.si_pid);
        n++;
    }
    s->checks++;
    return n;
}

static void report_shm_left(const char *name, void *s)
{
    stress_violation(s, "hygiene-no-shm-left", "/dev/shm/%s left behind", name);
}

/* The driver has torn everything down: anything left is a leak. */
static void check_hygiene(struct stress *s)
{
    int zombies = hygiene_count_zombie_children();
    stress_check(s, zombies == 0, "hygiene-no-zombie", "%d zombie child(ren) left", zombies);
    struct hygiene_child_probe probe;
    bool no_child = hygiene_no_children(&probe);
    stress_check(
        s, no_child, "hygiene-no-child", "waitpid(-1) gave %s instead of ECHILD (child %d left)",
        probe.pid > 0 ? "a child" : (probe.pid == 0 ? "a running child" : strerror(probe.error)),
        (int)probe.pid);
    if (!no_child) {
        /* Name each stray (the stress-ng load aside), then kill and reap what is
         * left so that the run does not leak processes. */
        stress_check_no_stray_children(s, "hygiene-no-child");
        hygiene_kill_and_reap_children();
    }
    int fds = hygiene_fd_count();
    stress_check(s, fds == s->hygiene.fd_count, "hygiene-fd-count",
                 "open fds %d at the end vs %d at the start", fds, s->hygiene.fd_count);
    hygiene_new_shm_objects(&s->hygiene, report_shm_left, s);
    s->checks++;
    hygiene_baseline_release(&s->hygiene);
}

int stress_end(struct stress *s)
{
    s->t_end = stress_now();
    double dur = s->t_end - s->t_start;
    progress(s, true);
    stress_load_stop(s);
    check_hygiene(s);

    bool interrupted = g_stop != 0;
    const char *result = s->violations     ? "FAIL"
                         : s->setup_failed ? "ERROR"
                         : interrupted     ? "INTERRUPTED"
                                           : "PASS";
    stress_report_result(s, dur, result);
    if (s->violations)
        return STRESS_EXIT_VIOLATION;
    if (s->setup_failed || interrupted)
        return STRESS_EXIT_SETUP;
    return STRESS_EXIT_OK;
}
