/* common.c - the driver lifecycle: option parsing and --help, the stop signals,
 * the stop condition and progress line, and the hygiene checks of stress_end. The
 * PRNG (rng.c), the reports (report.c), the clock (clock.c) and the leak-check
 * mechanics (testing/hygiene.c) live in their own modules. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc_base.h"
#include "cli.h"
#include "clock.h"
#include "common.h"
#include "hygiene.h"
#include "opts.h"
#include "report.h"
#include "rng.h"
#include "ipc/error.h"
#include "ipc/pipe.h"
#include "ipc/proc.h"
#if IPC_FAULTS
#include "ipc/faults.h"
#endif

/* LeakSanitizer is part of ASan (gcc: __SANITIZE_ADDRESS__, clang: the
 * address_sanitizer feature) and exists on its own (clang: leak_sanitizer). */
#if defined(__SANITIZE_ADDRESS__)
#define STRESS_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define STRESS_HAVE_LSAN 1
#endif
#endif
#ifndef STRESS_HAVE_LSAN
#define STRESS_HAVE_LSAN 0
#endif
#if STRESS_HAVE_LSAN
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

/* ---- stop signals ------------------------------------------------------------------- */
static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_stop_sig;

static void on_stop_signal(int sig)
{
    g_stop = 1;
    g_stop_sig = sig;
}

/* Every signal starts at its default action, whatever launched the driver: an
 * ignored disposition survives fork and exec (nohup ignores SIGHUP, Python
 * SIGXFSZ), and the drivers' oracles predict how a signal ends a child or a
 * server's worker. Drivers that want a signal ignored say so themselves. */
static void default_ignored_signals(void)
{
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &sa) == 0 &&
            sa.sa_handler == SIG_IGN)
            signal(sig, SIG_DFL);
    }
}

static void install_stop_handlers(void)
{
    default_ignored_signals();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocked wait or read returns EINTR so the driver notices. */
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- options --------------------------------------------------------------------------- */
/* The stress-ng arguments of --with-stress-ng, joined with spaces (load.c splits
 * them again at whitespace). */
static char g_stress_ng_args[1024];

#ifdef IPC_TEST_FAULTS
static const char *check_fault(const char *value, const void *ctx)
{
    const struct stress_spec *spec = ctx;
    for (const struct stress_fault *f = spec->faults; f && f->name; f++)
        if (!strcmp(f->name, value))
            return NULL;
    return "a fault this driver can plant";
}
#endif

/* --faults RATE: a decimal probability in [0, 1]. */
static const char *check_fault_rate(const char *value, const void *ctx)
{
    double *out = (double *)ctx;
    char *end;
    errno = 0;
    bool digits = (value[0] >= '0' && value[0] <= '9') || value[0] == '.';
    double r = digits ? strtod(value, &end) : -1;
    if (!digits || errno || *end || !(r >= 0.0 && r <= 1.0))
        return "a decimal probability in 0..1";
    *out = r;
    return NULL;
}

/* --fault-calls LIST: comma-separated seam call kinds (ipc/faults.h). The message
 * names the first unknown kind. */
static char g_fault_calls_err[512];
static uint64_t g_fault_mask;

static const char *check_fault_calls(const char *value, const void *ctx)
{
    (void)ctx;
    uint64_t mask = 0;
    const char *p = value;
    do {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[32];
        bool ok = len > 0 && len < sizeof(name);
        if (ok) {
            memcpy(name, p, len);
            name[len] = '\0';
        }
#if IPC_FAULTS
        int call = -1;
        ok = ok && ipc_fault_call_parse(name, &call) == 0 && call >= 0;
        if (ok)
            mask |= UINT64_C(1) << call;
#endif
        if (!ok) {
            snprintf(g_fault_calls_err, sizeof(g_fault_calls_err),
                     "a list of seam call kinds ('%.*s' is not one; see ipc/faults.h: read, "
                     "write, fork, malloc...)",
                     (int)(len < 64 ? len : 64), p);
            return g_fault_calls_err;
        }
        p = comma ? comma + 1 : NULL;
    } while (p);
    g_fault_mask = mask;
    return NULL;
}

/* --fault-schedule STEPS: parsed by the seam's own parser (ipc_faults_parse). */
#if IPC_FAULTS
static struct ipc_fault_step g_steps[IPC_FAULT_MAX_STEPS];
static int g_nsteps;
#endif
static char g_schedule_err[512];
static char g_schedule_text[512];

static const char *check_fault_schedule(const char *value, const void *ctx)
{
    (void)ctx;
#if IPC_FAULTS
    char err[256] = "";
    int n = ipc_faults_parse(value, g_steps, IPC_FAULT_MAX_STEPS, err, sizeof(err));
    if (n > 0) {
        g_nsteps = n;
        return NULL;
    }
    snprintf(g_schedule_err, sizeof(g_schedule_err),
             "up to %d steps KIND:NTH:ACTION, comma-separated (write:2:EPIPE,any:7:short-half): %s",
             IPC_FAULT_MAX_STEPS, n == 0 ? "no step" : err);
#else
    (void)value;
    snprintf(g_schedule_err, sizeof(g_schedule_err),
             "a schedule, in a build with the fault seam (dev or asan preset)");
#endif
    return g_schedule_err;
}

const char *stress_fault_schedule_text(const struct stress *s)
{
    return s->fault_schedule ? g_schedule_text : NULL;
}

#if IPC_FAULTS
static const char *const short_names[] = {"", "short-one", "short-half", "short-but-one"};

/* Writes the parsed schedule back with the seam's names and parses the text again:
 * the names and the parser must agree (fault-schedule-names), so that the
 * schedule the report prints is the one that ran. */
static void schedule_roundtrip(struct stress *s)
{
    size_t len = 0;
    bool names_ok = true;
    for (int i = 0; i < g_nsteps && len < sizeof(g_schedule_text); i++) {
        const struct ipc_fault_step *st = &g_steps[i];
        const char *kind = st->call == IPC_FAULT_ANY ? "any" : ipc_fault_call_name(st->call);
        const char *action = st->err ? ipc_fault_errno_name(st->err)
                             : (unsigned)st->shortc < sizeof(short_names) / sizeof(short_names[0])
                                 ? short_names[st->shortc]
                                 : NULL;
        int back = 0;
        if (st->err && (!action || ipc_fault_errno_parse(action, &back) != 0 || back != st->err))
            names_ok = false;
        len += (size_t)snprintf(g_schedule_text + len, sizeof(g_schedule_text) - len,
                                "%s%s:%" PRIu32 ":%s", i ? "," : "", kind ? kind : "?", st->nth,
                                action ? action : "?");
    }
    struct ipc_fault_step again[IPC_FAULT_MAX_STEPS];
    char err[256] = "";
    int n = ipc_faults_parse(g_schedule_text, again, IPC_FAULT_MAX_STEPS, err, sizeof(err));
    bool same = n == g_nsteps;
    for (int i = 0; same && i < n; i++)
        same = again[i].call == g_steps[i].call && again[i].nth == g_steps[i].nth &&
               again[i].err == g_steps[i].err && again[i].shortc == g_steps[i].shortc;
    stress_check(s, names_ok && same, "fault-schedule-names",
                 "--fault-schedule '%s' written back as '%s' (%s)", s->fault_schedule,
                 g_schedule_text, !names_ok ? "an errno name does not parse back" : err);
}
#endif

/* Without --fault-calls: every kind but the signal-mask and disposition calls,
 * whose only injected errno (EINVAL) cannot happen to a valid call; libipc ignores
 * their result in places where it cannot fail, and an injected failure there makes
 * a child run with every signal blocked, which no real run can see. --fault-calls
 * can still name them. */
#define STRESS_FAULT_CALLS_DEFAULT "all but sigaction,sigprocmask,pthread_sigmask"

static uint64_t stress_default_fault_mask(void)
{
#if IPC_FAULTS
    uint64_t all = (UINT64_C(1) << IPC_FAULT_CALL_COUNT) - 1;
    return all & ~(UINT64_C(1) << IPC_FAULT_sigaction | UINT64_C(1) << IPC_FAULT_sigprocmask |
                   UINT64_C(1) << IPC_FAULT_pthread_sigmask);
#else
    return 0;
#endif
}

const char *stress_fault_calls_text(const struct stress *s)
{
    return s->fault_calls ? s->fault_calls : STRESS_FAULT_CALLS_DEFAULT;
}

static enum cli_opt_kind xopt_kind(enum stress_xopt_kind k)
{
    switch (k) {
    case STRESS_XOPT_U64:
        return CLI_OPT_U64;
    case STRESS_XOPT_SECONDS:
        return CLI_OPT_SECONDS;
    case STRESS_XOPT_STR:
        return CLI_OPT_STR;
    case STRESS_XOPT_FLAG:
        break;
    }
    return CLI_OPT_FLAG;
}

/* Parses the common options and the driver's xopts with the CLI's one option
 * parser (cli/opts.h). Returns CLI_RUN, 0 after --help or CLI_EXIT_USAGE. */
static int parse_options(struct stress *s, int argc, char **argv)
{
    const struct stress_spec *spec = s->spec;
    struct cli_opt opts[12 + STRESS_MAX_XOPTS];
    size_t n = 0;
    uint64_t procs = s->procs, progress_fd = 0;
    bool seed_given = false, progress_given = false;
    const char *faults_text = NULL;
    struct cli_rest ng = {0};
    char prog[64], procs_help[64], intro[4096], outro[2048];
    snprintf(prog, sizeof(prog), "ipcstorm stress %s", spec->name);
    snprintf(procs_help, sizeof(procs_help), "worker processes (default %u, at most %u)",
             spec->default_procs, spec->max_procs);
    snprintf(intro, sizeof(intro), "%s\n%s%s%s", spec->summary,
             spec->invariants ? "\ninvariants checked:\n" : "",
             spec->invariants ? spec->invariants : "", spec->invariants ? "\n" : "");
    opts[n++] = (struct cli_opt){.name = "duration",
                                 .kind = CLI_OPT_SECONDS,
                                 .dest = &s->duration,
                                 .help = "stop after S seconds (default 5; 0 = only --ops)"};
    opts[n++] = (struct cli_opt){.name = "ops",
                                 .kind = CLI_OPT_U64,
                                 .dest = &s->ops_max,
                                 .min = 1,
                                 .max = UINT64_MAX / 2,
                                 .help = "stop after N operations (default: no limit)"};
    opts[n++] = (struct cli_opt){.name = "procs",
                                 .kind = CLI_OPT_U64,
                                 .dest = &procs,
                                 .min = 1,
                                 .max = spec->max_procs,
                                 .help = procs_help};
    opts[n++] =
        (struct cli_opt){.name = "seed",
                         .kind = CLI_OPT_U64,
                         .dest = &s->seed,
                         .max = UINT64_MAX,
                         .given = &seed_given,
                         .help = "PRNG seed (default: from the clock; printed in every report)"};
    opts[n++] =
        (struct cli_opt){.name = "json",
                         .kind = CLI_OPT_FLAG,
                         .dest = &s->json,
                         .help = "print one JSON object on stdout instead of the result line"};
    opts[n++] =
        (struct cli_opt){.name = "progress-fd",
                         .kind = CLI_OPT_U64,
                         .dest = &progress_fd,
                         .max = INT_MAX,
                         .given = &progress_given,
                         .help = "append a line once a second, and a last one at the end, to the\n"
                                 "open descriptor N (a file, or a pipe that is read): elapsed=S\n"
                                 "ops=N ops_per_sec=R checks=N violations=N. For wrappers such as\n"
                                 "scripts/session; a terminal on stderr gets a live line anyway"};
    opts[n++] =
        (struct cli_opt){.name = "faults",
                         .kind = CLI_OPT_STR,
                         .dest = &faults_text,
                         .arg = "RATE",
                         .help = "fail each libipc system call/allocation with probability RATE\n"
                                 "(0..1, default 0 = off; builds with the fault seam only). The\n"
                                 "fault sequence derives from --seed. Errors libipc reports are\n"
                                 "counted and tolerated; success with wrong data is a violation",
                         .check = check_fault_rate,
                         .ctx = &s->fault_rate};
    opts[n++] =
        (struct cli_opt){.name = "fault-schedule",
                         .kind = CLI_OPT_STR,
                         .dest = &s->fault_schedule,
                         .arg = "STEPS",
                         .help = "fail exactly these seam calls instead of random ones: steps\n"
                                 "KIND:NTH:ACTION (write:2:EPIPE,any:7:short-half), the NTH\n"
                                 "matching call counted from each arming (builds with the seam)",
                         .check = check_fault_schedule};
    opts[n++] = (struct cli_opt){.name = "fault-calls",
                                 .kind = CLI_OPT_STR,
                                 .dest = &s->fault_calls,
                                 .arg = "LIST",
                                 .help = "with --faults: only these call kinds fail\n"
                                         "(comma-separated: read,write,fork,malloc...;\n"
                                         "default " STRESS_FAULT_CALLS_DEFAULT ")",
                                 .check = check_fault_calls};
    for (const struct stress_xopt *x = spec->xopts; x && x->name; x++) {
        if (n >= 9 + STRESS_MAX_XOPTS) {
            fprintf(stderr, "%s: more than %d driver options\n", prog, STRESS_MAX_XOPTS);
            return STRESS_EXIT_SETUP;
        }
        opts[n++] = (struct cli_opt){.name = x->name,
                                     .kind = xopt_kind(x->kind),
                                     .dest = x->ptr,
                                     .min = x->min,
                                     .max = x->max,
                                     .help = x->help,
                                     .check = x->check,
                                     .ctx = spec};
    }
#ifdef IPC_TEST_FAULTS
    char fault_help[2048];
    if (spec->faults && spec->faults[0].name) {
        size_t len = (size_t)snprintf(fault_help, sizeof(fault_help),
                                      "plant a deliberate fault (test builds only):");
        for (const struct stress_fault *f = spec->faults; f->name && len < sizeof(fault_help); f++)
            len += (size_t)snprintf(fault_help + len, sizeof(fault_help) - len, "\n  %-18s %s",
                                    f->name, f->help);
        opts[n++] = (struct cli_opt){.name = "fault",
                                     .kind = CLI_OPT_STR,
                                     .dest = &s->fault,
                                     .arg = "NAME",
                                     .help = fault_help,
                                     .check = check_fault,
                                     .ctx = spec};
    }
#endif
    opts[n++] = (struct cli_opt){
        .name = "with-stress-ng",
        .kind = CLI_OPT_REST,
        .dest = &ng,
        .help = "run `stress-ng ARGS` as background load for the run: every\n"
                "argument after it goes to stress-ng, so it comes last\n"
                "(--with-stress-ng --cpu 1 --fork 1). One quoted argument, or\n"
                "--with-stress-ng=ARGS, is the whole of ARGS (split at spaces)\n"
                "and options may follow it: --with-stress-ng \"--cpu 1 --fork 1\""};
    opts[n] = (struct cli_opt){0};
    snprintf(outro, sizeof(outro),
             "Examples:\n"
             "%s"
             "  ipcstorm stress %s --duration 30\n"
             "  ipcstorm stress %s --seed 42 --json   # a report's seed replays its run\n"
             "\n"
             "Exit status: 0 every invariant held, 1 setup error or interrupted, 2 a\n"
             "violation, 64 usage error.\n",
             spec->examples ? spec->examples : "", spec->name, spec->name);
    const struct cli_cmd cmd = {
        .prog = prog,
        .intro = intro,
        .outro = outro,
        .opts = opts,
    };
    int rc = cli_parse(&cmd, argc, argv, NULL);
    if (rc != CLI_RUN)
        return rc;
    s->procs = (unsigned)procs;
    s->progress_fd = -1;
    if (progress_given) {
        /* A private close-on-exec copy: exec'd children must not hold the wrapper's
         * pipe, and N itself (often 2, stderr) must stay as it is for them. */
        int fd = fcntl((int)progress_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
            fprintf(stderr, "%s: --progress-fd %" PRIu64 ": not an open descriptor (%s)\n", prog,
                    progress_fd, strerror(errno));
            return CLI_EXIT_USAGE;
        }
        s->progress_fd = fd;
        s->progress_pid = getpid();
    }
    if (ng.first || ng.argv) {
        if (cli_rest_join(&ng, g_stress_ng_args, sizeof(g_stress_ng_args)) < 0)
            return cli_usage_error(&cmd,
                                   "--with-stress-ng: the arguments are longer than %zu bytes",
                                   sizeof(g_stress_ng_args) - 1);
        s->stress_ng_args = g_stress_ng_args;
    }
    if (s->duration == 0 && s->ops_max == 0)
        return cli_usage_error(&cmd, "--duration 0 needs --ops N");
    s->fault_mask = s->fault_calls ? g_fault_mask : stress_default_fault_mask();
    if (!seed_given) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
        s->seed = splitmix64(&x) >> 16; /* short enough to type */
    }
    return CLI_RUN;
}

/* ---- begin/end ------------------------------------------------------------------------------- */
char *stress_tmp_template(char *buf, size_t size, const char *tag)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || dir[0] != '/')
        dir = "/tmp";
    int n = snprintf(buf, size, "%s/ipcstorm-%s-XXXXXX", dir, tag);
    if (n < 0 || (size_t)n >= size)
        snprintf(buf, size, "/tmp/ipcstorm-%s-XXXXXX", tag);
    return buf;
}

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

/* Every report names libipc's errors with ipc_strerror/ipc_errname: both against
 * error.h's contract, with glibc's own tables as the model of a negated errno. */
static void check_error_texts(struct stress *s)
{
    int bad = 0;
    char first[160] = "";
    for (int e = 1; e < 4096; e++) {
        const char *want_text = strerrordesc_np(e), *want_name = strerrorname_np(e);
        const char *text = ipc_strerror(-e), *name = ipc_errname(-e);
        if (strcmp(text, want_text ? want_text : "unknown error") != 0 ||
            strcmp(name, want_name ? want_name : "unknown") != 0) {
            if (!bad++)
                snprintf(first, sizeof(first), "-%d: '%s' (%s)", e, text, name);
        }
    }
#define CODE_ROW(name, value, text) {IPC_##name, "IPC_" #name, text},
    static const struct {
        int code;
        const char *name, *text;
    } codes[] = {IPC_ERRNO_MAP(CODE_ROW)};
#undef CODE_ROW
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if ((strcmp(ipc_errname(codes[i].code), codes[i].name) != 0 ||
             strcmp(ipc_strerror(codes[i].code), codes[i].text) != 0) &&
            !bad++)
            snprintf(first, sizeof(first), "%d: '%s' (%s)", codes[i].code,
                     ipc_strerror(codes[i].code), ipc_errname(codes[i].code));
    if (strcmp(ipc_strerror(0), "success") != 0 || strcmp(ipc_errname(0), "unknown") != 0 ||
        strcmp(ipc_strerror(IPC_ERR_LAST - 1), "unknown error") != 0)
        if (!bad++)
            snprintf(first, sizeof(first), "0 or out of range: '%s', '%s', '%s'", ipc_strerror(0),
                     ipc_errname(0), ipc_strerror(IPC_ERR_LAST - 1));
    stress_check(s, bad == 0, "error-text",
                 "%d code(s) named or described unlike error.h and glibc, first %s", bad, first);
}

int stress_begin(struct stress *s, const struct stress_spec *spec, int argc, char **argv)
{
    memset(s, 0, sizeof(*s));
    s->spec = spec;
    s->duration = 5;
    s->procs = spec->default_procs;
    s->argc = argc;
    s->argv = argv;
    int rc = parse_options(s, argc, argv);
    if (rc != CLI_RUN)
        return rc; /* 0 after --help, STRESS_EXIT_USAGE */
#if !IPC_FAULTS
    if (s->fault_rate > 0) {
        fprintf(stderr,
                "ipcstorm stress %s: --faults: this build has no fault seam; use the dev or "
                "asan preset\n",
                spec->name);
        return STRESS_EXIT_SETUP;
    }
#endif
    /* A fault stream of its own, reproducible from --seed. */
    uint64_t fx = s->seed ^ UINT64_C(0x6661756c74736565);
    s->fault_seed = splitmix64(&fx);
#if IPC_FAULTS
    if (s->fault_schedule)
        schedule_roundtrip(s);
#endif
    s->tty = isatty(STDERR_FILENO) == 1 && !s->json;
    g_stop = 0;
    install_stop_handlers();
    hygiene_baseline_take(&s->hygiene);
    check_error_texts(s);
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
    double t = stress_elapsed(s);
    if (s->progress_fd >= 0 && getpid() == s->progress_pid)
        dprintf(s->progress_fd,
                "elapsed=%.1f ops=%" PRIu64 " ops_per_sec=%.0f checks=%" PRIu64
                " violations=%" PRIu64 "\n",
                t, s->ops, t > 0 ? (double)s->ops / t : 0.0, s->checks, s->violations);
    if (!s->tty)
        return;
    if (final) {
        fprintf(stderr, "\r\033[K");
        return;
    }
    fprintf(stderr, "\r\033[K%s: %6.1fs  %" PRIu64 " ops  %.0f ops/s  %" PRIu64 " checks%s",
            s->spec->name, t, s->ops, t > 0 ? (double)s->ops / t : 0.0, s->checks,
            s->violations ? "  VIOLATIONS" : "");
}

/* ---- fault injection ------------------------------------------------------------------ */
bool stress_faults_on(const struct stress *s)
{
    return s->fault_rate > 0 || s->fault_schedule != NULL;
}

static void faults_arm(struct stress *s)
{
#if IPC_FAULTS
    if (!stress_faults_on(s))
        return;
    if (s->faults_state == 0)
        ipc_faults_reset_stats();
    /* A resumed run continues with a fresh stream rather than repeating it. */
    uint64_t seed = s->fault_seed + UINT64_C(0x9e3779b97f4a7c15) * s->fault_arms++;
    int r = s->fault_schedule ? ipc_faults_arm_schedule(g_steps, (size_t)g_nsteps)
                              : ipc_faults_arm_random(s->fault_rate, seed, s->fault_mask);
    if (r < 0) {
        stress_setup_error(s, "ipc_faults_arm_%s: %s", s->fault_schedule ? "schedule" : "random",
                           ipc_strerror(r));
        return;
    }
    s->faults_state = 1;
#else
    (void)s;
#endif
}

static void faults_disarm(struct stress *s, int state)
{
#if IPC_FAULTS
    if (s->faults_state == 1) {
        /* Read before disarming: a call counted after the read is lost to the
         * sum, never counted twice (check_fault_accounting). */
        s->fault_arm_calls += ipc_faults_calls_since_arm();
        ipc_faults_disarm();
    }
#endif
    if (s->faults_state != 0 || state == 3)
        s->faults_state = state;
}

void stress_faults_pause(struct stress *s)
{
    if (s->faults_state == 1)
        faults_disarm(s, 2);
}

void stress_faults_resume(struct stress *s)
{
    if (s->faults_state == 2)
        faults_arm(s);
}

bool stress_lib_error(struct stress *s, int err, const char *what)
{
    if (!stress_faults_on(s)) {
        stress_setup_error(s, "%s: %s", what, ipc_strerror(err));
        return false;
    }
    s->lib_errors++;
    if (!s->lib_error_first[0])
        snprintf(s->lib_error_first, sizeof(s->lib_error_first), "%s: %s", what, ipc_errname(err));
    /* The seam injects neither, and the drivers pass libipc only descriptors and
     * buffers they own: one of these means libipc lost a descriptor (closed it
     * twice, used it after close) or a pointer on an error path. */
    stress_check(s, err != -EBADF && err != -EFAULT, "lib-error-plausible",
                 "%s failed with %s under --faults: no injected fault explains it", what,
                 ipc_errname(err));
    return true;
}

#if defined(__x86_64__)
#define SECCOMP_NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif

int stress_deny_syscalls(const long *nrs, size_t n, int err)
{
#ifdef SECCOMP_NATIVE_ARCH
    enum { MAX_DENIED = 8 };
    if (n == 0 || n > MAX_DENIED)
        return -EINVAL;
    struct sock_filter f[MAX_DENIED + 6];
    size_t k = 0;
    f[k++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_NATIVE_ARCH, 1, 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (size_t i = 0; i < n; i++) /* a match jumps to the last instruction */
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i],
                                              (unsigned char)(n - i), 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
                                          SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA));
    struct sock_fprog prog = {(unsigned short)k, f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return -errno;
    return 0;
#else
    (void)nrs, (void)n, (void)err;
    return -ENOSYS;
#endif
}

int stress_deny_syscall_arg0(long nr, int arg0, int err)
{
#ifdef SECCOMP_NATIVE_ARCH
    /* Both native architectures are little-endian: the low 32 bits of args[0]
     * come first, and an int argument is all in them. */
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_NATIVE_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 2), /* other calls: allow */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)arg0, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof(f) / sizeof(f[0])), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return -errno;
    return 0;
#else
    (void)nr, (void)arg0, (void)err;
    return -ENOSYS;
#endif
}

int stress_lowest_free_fd(void)
{
    int fd = dup(2);
    if (fd >= 0)
        close(fd);
    return fd;
}

bool stress_kill_pid(struct stress *s, pid_t pid, int sig)
{
    /* kill(0) is our own group and kill(-1), as root, every process on the
     * machine: a pid that libipc reported as <= 1 is a bug, not a target. */
    if (!stress_check(s, pid > 1, "pid-plausible", "libipc reported pid %ld for a child",
                      (long)pid))
        return false;
    return kill(pid, sig) == 0;
}

void stress_proc_kill(struct stress *s, ipc_proc *p, int sig)
{
    if (!p)
        return;
    int r = ipc_proc_kill(p, sig);
    if (r == 0)
        return;
    /* A signal to an unreaped child of ours cannot fail, and the seam never
     * injects that failure either: a refusal is a libipc bug. The child is still
     * killed directly, so that the round's teardown stays exact. */
    struct ipc_proc_status st;
    bool unreaped = ipc_proc_status(p, &st) == -EAGAIN;
    stress_check(s, !unreaped, "kill-own-child", "ipc_proc_kill(%d) of an unreaped child: %s", sig,
                 ipc_errname(r));
    if (unreaped)
        stress_ignore(stress_kill_pid(s, ipc_proc_pid(p), sig));
}

int stress_proc_wait(struct stress *s, ipc_proc *p, int timeout_ms, struct ipc_proc_status *st)
{
    double deadline = timeout_ms < 0 ? 0 : stress_now() + timeout_ms / 1000.0;
    for (int tries = 0;; tries++) {
        int left = timeout_ms;
        if (timeout_ms >= 0) {
            double l = deadline - stress_now();
            left = l <= 0 ? 0 : (int)(l * 1000) + 1;
        }
        bool paused = tries >= 100 && s->faults_state == 1;
        if (paused)
            stress_faults_pause(s); /* a run of injected failures: wait for real */
        int r = ipc_proc_wait(p, left, 0, st);
        if (paused)
            stress_faults_resume(s);
        if (r == 0 || r == -ETIMEDOUT || r == -ECHILD || !stress_faults_on(s) || tries >= 100)
            return r;
        s->lib_errors++;
    }
}

/* Runs fn(arg, wfd) in a forked child and waits for it: a child stuck (inside
 * a library call, say) must not hang the driver, so at the deadline it is
 * killed, and its status says so. why receives the line the child wrote to wfd.
 * Returns the child's wait status, or -1 when pipe2, fork or waitpid failed
 * (counted). */
int stress_verdict_child(struct stress *s, int (*fn)(int arg, int wfd), int arg, char *why,
                         size_t why_size)
{
    why[0] = '\0';
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        stress_lib_error(s, -errno, "pipe2");
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        ipc__exit_child(fn(arg, p[1]));
    }
    close(p[1]);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    bool ready = pid > 0 && poll(&pf, 1, (int)(10000 * STRESS_TIME_SCALE)) > 0;
    if (pid > 0 && !ready)
        kill(pid, SIGKILL);
    ssize_t n = ready ? ipc_pipe_read_full(p[0], why, why_size - 1) : 0;
    why[n > 0 ? n : 0] = '\0';
    close(p[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        stress_lib_error(s, -errno, "fork/waitpid");
        return -1;
    }
    return status;
}

void stress_proc_discard(struct stress *s, ipc_proc *p)
{
    if (!p)
        return;
    struct ipc_proc_status st;
    if (ipc_proc_status(p, &st) == -EAGAIN) {
        stress_proc_kill(s, p, SIGKILL);
        stress_ignore(stress_proc_wait(s, p, IPC_PROC_WAIT_FOREVER, &st));
    }
    ipc_proc_free(p);
}

bool stress_running(struct stress *s)
{
    bool go = !g_stop && !s->setup_failed && !(s->ops_max && s->ops >= s->ops_max);
    double now = stress_now();
    if (go && s->duration > 0 && now - s->t_start >= s->duration)
        go = false;
    if (!go) {
        faults_disarm(s, 3);
        return false;
    }
    if (s->faults_state == 0)
        faults_arm(s);
    if ((s->tty || s->progress_fd >= 0) && now - s->t_last_progress >= (s->tty ? 0.2 : 1.0)) {
        s->t_last_progress = now;
        progress(s, false);
    }
    return true;
}

bool stress_aborted(const struct stress *s)
{
    return g_stop || s->setup_failed;
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
    stress_check(s, fds >= 0 && fds == s->hygiene.fd_count, "hygiene-fd-count",
                 "open fds %d at the end vs %d at the start", fds, s->hygiene.fd_count);
    hygiene_new_shm_objects(&s->hygiene, report_shm_left, s);
    s->checks++;
    hygiene_baseline_release(&s->hygiene);
}

/* ---- the leak check and the exit status ----------------------------------------- */
/* The status stress_end decided, for the sanitizer's death callback. */
static volatile sig_atomic_t g_decided_status = -1;

#if STRESS_HAVE_LSAN
/* Runs when a sanitizer is about to end the process after stress_end: the
 * LeakSanitizer check at exit, which reports the leaks that check_no_leak already
 * made a violation again, or an error in code that runs after stress_end. A
 * violation was decided: the process exits 2 whatever the sanitizer's own exit
 * code (1, or an abort with abort_on_error). Otherwise the sanitizer's verdict
 * stands: a leak made after stress_end still fails the run. */
static void on_sanitizer_death(void)
{
    if (g_decided_status == STRESS_EXIT_VIOLATION)
        _exit(STRESS_EXIT_VIOLATION);
}
#endif

/* Sanitizer builds: the leak check runs now, before the status is decided, so a
 * leak is a violation (no-leak, exit 2) and not an exit code the sanitizer picks
 * at exit. Everything the driver allocated is freed by now (stress_end comes
 * after the teardown); the check is a no-op with detect_leaks=0. */
static void check_no_leak(struct stress *s)
{
#if STRESS_HAVE_LSAN
    fflush(stdout);
    fflush(stderr);
    int leaked = __lsan_do_recoverable_leak_check();
    stress_check(s, leaked == 0, "no-leak",
                 "LeakSanitizer found heap memory the run never freed (its report is above)");
#else
    (void)s;
#endif
}

static int decide_status(struct stress *s, bool interrupted)
{
    int status = s->violations                    ? STRESS_EXIT_VIOLATION
                 : s->setup_failed || interrupted ? STRESS_EXIT_SETUP
                                                  : STRESS_EXIT_OK;
    g_decided_status = status;
#if STRESS_HAVE_LSAN
    __sanitizer_set_death_callback(on_sanitizer_death);
#endif
    return status;
}

/* The seam's two counts of one thing: every call seen while armed increments the
 * per-arm counter (ipc_faults_calls_since_arm, summed at each disarm) and the
 * per-kind statistics (reset at the first arm). The sum cannot exceed the
 * statistics (equal but for calls racing a disarm in a child). */
static void check_fault_accounting(struct stress *s)
{
#if IPC_FAULTS
    if (s->fault_arms == 0)
        return;
    struct ipc_fault_stats st;
    ipc_faults_stats(&st);
    stress_check(s, s->fault_arm_calls <= st.total_calls, "fault-accounting",
                 "%" PRIu64 " seam calls counted per arm over %u arms, %" PRIu64
                 " in the statistics",
                 s->fault_arm_calls, s->fault_arms, st.total_calls);
    /* The per-site table names real sites ("file.c:LINE" of a known kind). */
    struct ipc_fault_site sites[512];
    const size_t cap = sizeof(sites) / sizeof(sites[0]);
    size_t total = ipc_faults_sites(sites, cap);
    size_t n = total < cap ? total : cap; /* beyond cap: only the first are checked */
    bool sane = true;
    uint64_t injected = 0;
    for (size_t i = 0; sane && i < n; i++) {
        const char *colon = sites[i].where ? strrchr(sites[i].where, ':') : NULL;
        sane = colon && colon[1] >= '1' && colon[1] <= '9' && sites[i].call >= 0 &&
               sites[i].call < IPC_FAULT_CALL_COUNT && sites[i].injected <= sites[i].calls;
        injected += sites[i].injected;
    }
    /* A site is counted just after its kind (a process killed in between leaves
     * the kind one ahead), so the sites never hold more. */
    stress_check(s, sane && injected <= st.total_injected, "fault-accounting",
                 "the seam's site table (%zu sites, %" PRIu64 " injected) does not match its "
                 "statistics (%" PRIu64 " injected)",
                 n, injected, st.total_injected);
#else
    (void)s;
#endif
}

int stress_end(struct stress *s)
{
    faults_disarm(s, 3);
    check_fault_accounting(s);
    s->t_end = stress_now();
    double dur = s->t_end - s->t_start;
    progress(s, true);
    stress_load_stop(s);
    check_hygiene(s);
    check_no_leak(s);

    bool interrupted = g_stop != 0;
    const char *result = s->violations     ? "FAIL"
                         : s->setup_failed ? "ERROR"
                         : interrupted     ? "INTERRUPTED"
                                           : "PASS";
    stress_report_result(s, dur, result);
    return decide_status(s, interrupted);
}
