/* common.c - option parsing, stop condition, progress, violation reports, JSON
 * and the post-run hygiene checks shared by every stress driver. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "ipc_base.h"

/* ---- PRNG ---------------------------------------------------------------------- */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void stress_rng_init(struct stress_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x632be59bd9b4e019ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t stress_rng_next(struct stress_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t stress_rng_below(struct stress_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    /* Rejection sampling: the values above the last whole multiple of n would
     * favour the small results. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do {
        v = stress_rng_next(r);
    } while (v >= limit);
    return v % n;
}

uint64_t stress_rng_range(struct stress_rng *r, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    if (hi - lo == UINT64_MAX)
        return stress_rng_next(r);
    return lo + stress_rng_below(r, hi - lo + 1);
}

void stress_rng_fill(struct stress_rng *r, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len) {
        uint64_t v = stress_rng_next(r);
        size_t n = len < 8 ? len : 8;
        memcpy(p, &v, n);
        p += n;
        len -= n;
    }
}

/* ---- time and small helpers -------------------------------------------------------- */
double stress_now(void)
{
    return ipc__now_s();
}

void stress_sleep_us(uint64_t us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int stress_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream's own fd */
}

const char *stress_self_exe(void)
{
    static char path[PATH_MAX];
    if (!path[0]) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
        if (n <= 0)
            snprintf(path, sizeof(path), "ipcstorm");
        else
            path[n] = '\0';
    }
    return path;
}

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

/* ---- /dev/shm snapshot ------------------------------------------------------------------ */
static void shm_snapshot(struct stress *s)
{
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && s->shm_n < STRESS_MAX_SHM) {
        if (e->d_name[0] == '.')
            continue;
        s->shm_names[s->shm_n] = strdup(e->d_name);
        if (s->shm_names[s->shm_n])
            s->shm_n++;
    }
    closedir(d);
}

static bool shm_known(const struct stress *s, const char *name)
{
    for (size_t i = 0; i < s->shm_n; i++)
        if (!strcmp(s->shm_names[i], name))
            return true;
    return false;
}

/* A new /dev/shm object is ours when its name carries our pid (the library names
 * its objects after the creating process) or when this process still maps it.
 * Other programs on the machine create objects too, so unrelated names are not
 * counted against the driver. */
static bool shm_is_ours(const char *name)
{
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    const char *p = name;
    size_t n = strlen(pid);
    while ((p = strstr(p, pid)) != NULL) {
        bool left = p == name || !(p[-1] >= '0' && p[-1] <= '9');
        bool right = !(p[n] >= '0' && p[n] <= '9');
        if (left && right)
            return true;
        p++;
    }
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return false;
    char line[512], needle[300];
    snprintf(needle, sizeof(needle), "/dev/shm/%s", name);
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void shm_check(struct stress *s)
{
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || shm_known(s, e->d_name))
            continue;
        if (shm_is_ours(e->d_name))
            stress_violation(s, "hygiene-no-shm-left", "/dev/shm/%s left behind", e->d_name);
    }
    closedir(d);
    s->checks++;
    for (size_t i = 0; i < s->shm_n; i++)
        free(s->shm_names[i]);
    s->shm_n = 0;
}

/* Zombies whose parent is this process. waitpid(WNOHANG) alone cannot tell a
 * zombie from a live child, and the report should say which it is. With kill_live,
 * SIGKILLs the live children instead (the clean-up after a violation). */
static int scan_children(bool kill_live)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int n = 0;
    pid_t me = getpid();
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[len] = '\0';
        /* comm may hold spaces and parentheses: parse after the last ')'. */
        char *rp = strrchr(buf, ')');
        char state;
        int ppid;
        if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2 || ppid != me)
            continue;
        if (kill_live && state != 'Z') {
            kill((pid_t)atoi(e->d_name), SIGKILL);
            n++;
        } else if (!kill_live && state == 'Z') {
            n++;
        }
    }
    closedir(d);
    return n;
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
    s->fd_baseline = stress_fd_count();
    shm_snapshot(s);
    s->t_start = stress_now();
    s->t_last_progress = s->t_start;
    if (s->stress_ng_args && stress_load_start(s) < 0) {
        for (size_t i = 0; i < s->shm_n; i++)
            free(s->shm_names[i]);
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

/* Appends arg to buf quoted for a POSIX shell when it needs it. */
static void shell_append(char *buf, size_t cap, const char *arg)
{
    size_t len = strlen(buf);
    bool plain = *arg != '\0';
    for (const char *p = arg; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./,:+@%", *p))
            plain = false;
    if (plain) {
        snprintf(buf + len, cap - len, " %s", arg);
        return;
    }
    if (len + 2 < cap) {
        buf[len++] = ' ';
        buf[len++] = '\'';
    }
    for (const char *p = arg; *p && len + 5 < cap; p++) {
        if (*p == '\'') {
            memcpy(buf + len, "'\\''", 4);
            len += 4;
        } else {
            buf[len++] = *p;
        }
    }
    if (len + 1 < cap)
        buf[len++] = '\'';
    buf[len < cap ? len : cap - 1] = '\0';
}

/* The exact command line of this run, with the seed made explicit. */
static void reproduce_command(const struct stress *s, char *buf, size_t cap)
{
    /* Copied by hand: the executable path may be longer than buf, and a plain
     * snprintf makes gcc's -Wformat-truncation fail the build. */
    const char *exe = stress_self_exe();
    size_t exe_len = strnlen(exe, cap - 1);
    memcpy(buf, exe, exe_len);
    buf[exe_len] = '\0';
    shell_append(buf, cap, "stress");
    shell_append(buf, cap, s->spec->name);
    for (int i = 1; i < s->argc; i++) {
        if (!strcmp(s->argv[i], "--seed") && i + 1 < s->argc) {
            i++;
            continue;
        }
        if (!strcmp(s->argv[i], "--json"))
            continue;
        shell_append(buf, cap, s->argv[i]);
    }
    char seed[32];
    snprintf(seed, sizeof(seed), "%" PRIu64, s->seed);
    shell_append(buf, cap, "--seed");
    shell_append(buf, cap, seed);
}

#define STRESS_MAX_REPORTED 8

struct recorded {
    char invariant[64];
    char detail[256];
};
static struct recorded g_rec[STRESS_MAX_REPORTED];
static size_t g_rec_n;

static void vviolation(struct stress *s, const char *invariant, const char *fmt, va_list ap)
{
    char detail[256];
    vsnprintf(detail, sizeof(detail), fmt, ap);
    s->violations++;
    if (g_rec_n < STRESS_MAX_REPORTED) {
        snprintf(g_rec[g_rec_n].invariant, sizeof(g_rec[g_rec_n].invariant), "%s", invariant);
        snprintf(g_rec[g_rec_n].detail, sizeof(g_rec[g_rec_n].detail), "%s", detail);
        g_rec_n++;
    } else if (s->violations > STRESS_MAX_REPORTED + 1) {
        return; /* one line per violation would flood a long run */
    }
    char cmd[2048];
    reproduce_command(s, cmd, sizeof(cmd));
    if (s->tty)
        fprintf(stderr, "\r\033[K");
    if (s->violations == STRESS_MAX_REPORTED + 1)
        fprintf(stderr, "ipcstorm stress %s: further violations are counted, not printed\n",
                s->spec->name);
    else
        fprintf(stderr, "VIOLATION %s: %s [%s]; reproduce: %s\n", invariant, detail, s->spec->name,
                cmd);
}

void stress_violation(struct stress *s, const char *invariant, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vviolation(s, invariant, fmt, ap);
    va_end(ap);
}

bool stress_check(struct stress *s, bool ok, const char *invariant, const char *fmt, ...)
{
    s->checks++;
    if (!ok) {
        va_list ap;
        va_start(ap, fmt);
        vviolation(s, invariant, fmt, ap);
        va_end(ap);
    }
    return ok;
}

void stress_setup_error(struct stress *s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s->tty)
        fprintf(stderr, "\r\033[K");
    fprintf(stderr, "ipcstorm stress %s: setup error: %s\n", s->spec->name, msg);
    s->setup_failed = true;
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

static void json_string(FILE *f, const char *str)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void print_json(const struct stress *s, double dur, const char *result)
{
    FILE *f = stdout;
    char cmd[2048];
    reproduce_command(s, cmd, sizeof(cmd));
    fprintf(f, "{\"driver\":");
    json_string(f, s->spec->name);
    fprintf(f, ",\"params\":{\"duration\":%g,\"ops_limit\":%" PRIu64 ",\"procs\":%u,", s->duration,
            s->ops_max, s->procs);
    fprintf(f, "\"with_stress_ng\":");
    if (s->stress_ng_args)
        json_string(f, s->stress_ng_args);
    else
        fprintf(f, "null");
    fprintf(f, ",\"fault\":");
    if (s->fault)
        json_string(f, s->fault);
    else
        fprintf(f, "null");
    for (const struct stress_xopt *x = s->spec->xopts; x && x->name; x++) {
        fprintf(f, ",");
        json_string(f, x->name);
        fputc(':', f);
        switch (x->kind) {
        case STRESS_XOPT_U64:
            fprintf(f, "%" PRIu64, *(uint64_t *)x->ptr);
            break;
        case STRESS_XOPT_SECONDS:
            fprintf(f, "%g", *(double *)x->ptr);
            break;
        case STRESS_XOPT_STR:
            if (*(const char **)x->ptr)
                json_string(f, *(const char **)x->ptr);
            else
                fprintf(f, "null");
            break;
        case STRESS_XOPT_FLAG:
            fprintf(f, "%s", *(bool *)x->ptr ? "true" : "false");
            break;
        }
    }
    fprintf(f,
            "},\"seed\":%" PRIu64 ",\"ops\":%" PRIu64 ",\"ops_per_sec\":%.1f,\"duration_s\":%.3f,"
            "\"checks\":%" PRIu64 ",\"violations\":%" PRIu64 ",\"result\":",
            s->seed, s->ops, dur > 0 ? (double)s->ops / dur : 0.0, dur, s->checks, s->violations);
    json_string(f, result);
    fprintf(f, ",\"violation_details\":[");
    for (size_t i = 0; i < g_rec_n; i++) {
        fprintf(f, "%s{\"invariant\":", i ? "," : "");
        json_string(f, g_rec[i].invariant);
        fprintf(f, ",\"detail\":");
        json_string(f, g_rec[i].detail);
        fprintf(f, "}");
    }
    fprintf(f, "],\"note\":");
    if (s->note[0])
        json_string(f, s->note);
    else
        fprintf(f, "null");
    fprintf(f, ",\"reproduce\":");
    json_string(f, cmd);
    fprintf(f, "}\n");
    fflush(f);
}

int stress_end(struct stress *s)
{
    s->t_end = stress_now();
    double dur = s->t_end - s->t_start;
    progress(s, true);
    stress_load_stop(s);

    /* Hygiene: the driver has torn everything down; anything left is a leak. */
    int zombies = scan_children(false);
    stress_check(s, zombies == 0, "hygiene-no-zombie", "%d zombie child(ren) left", zombies);
    int status;
    pid_t p;
    do {
        p = waitpid(-1, &status, WNOHANG);
    } while (p == -1 && errno == EINTR);
    bool echild = p == -1 && errno == ECHILD;
    stress_check(s, echild, "hygiene-no-child",
                 "waitpid(-1) gave %s instead of ECHILD (child %d left)",
                 p > 0 ? "a child" : (p == 0 ? "a running child" : strerror(errno)), (int)p);
    if (!echild) {
        /* Kill and reap what is left so the run does not leak processes (a
         * hostile sock client, for one, would loop for ever). */
        stress_check_no_stray_children(s, "hygiene-no-child");
        if (scan_children(true) > 0)
            while (waitpid(-1, &status, 0) > 0 || errno == EINTR)
                ;
        while (waitpid(-1, &status, WNOHANG) > 0)
            ;
    }
    int fds = stress_fd_count();
    stress_check(s, fds == s->fd_baseline, "hygiene-fd-count",
                 "open fds %d at the end vs %d at the start", fds, s->fd_baseline);
    shm_check(s);

    bool interrupted = g_stop != 0;
    const char *result = s->violations     ? "FAIL"
                         : s->setup_failed ? "ERROR"
                         : interrupted     ? "INTERRUPTED"
                                           : "PASS";
    if (s->json) {
        print_json(s, dur, result);
    } else {
        fprintf(stdout,
                "%s: %s  ops=%" PRIu64 "  ops/s=%.0f  duration=%.2fs  checks=%" PRIu64
                "  violations=%" PRIu64 "  procs=%u  seed=%" PRIu64 "%s%s\n",
                s->spec->name, result, s->ops, dur > 0 ? (double)s->ops / dur : 0.0, dur, s->checks,
                s->violations, s->procs, s->seed, s->fault ? "  fault=" : "",
                s->fault ? s->fault : "");
        if (s->note[0])
            fprintf(stdout, "%s: note: %s\n", s->spec->name, s->note);
        fflush(stdout);
    }
    if (s->violations)
        return STRESS_EXIT_VIOLATION;
    if (s->setup_failed || interrupted)
        return STRESS_EXIT_SETUP;
    return STRESS_EXIT_OK;
}
