/* report.c - violation lines, setup errors, the result line, the JSON object and
 * the reproduce command of a stress run (see report.h). */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "report.h"
#if IPC_FAULTS
#include "ipc/faults.h"
#endif

/* Path of the running ipcstorm binary (/proc/self/exe resolved), static storage. */
static const char *self_exe(void)
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
    const char *exe = self_exe();
    size_t exe_len = strnlen(exe, cap - 1);
    memcpy(buf, exe, exe_len);
    buf[exe_len] = '\0';
    shell_append(buf, cap, "stress");
    shell_append(buf, cap, s->spec->name);
    for (int i = 1; i < s->argc; i++) {
        const char *a = s->argv[i];
        bool takes_next = i + 1 < s->argc;
        /* --progress-fd names a descriptor of the wrapper that ran it: not there
         * when the line is pasted into a shell. */
        if ((!strcmp(a, "--seed") || !strcmp(a, "--progress-fd")) && takes_next) {
            i++;
            continue;
        }
        if (!strncmp(a, "--seed=", 7) || !strcmp(a, "--json") ||
            !strncmp(a, "--progress-fd=", 14) || !strncmp(a, "--with-stress-ng=", 17))
            continue;
        if (!strcmp(a, "--with-stress-ng")) {
            /* Its one-value form (options may follow), or every remaining argument. */
            if (takes_next && strpbrk(s->argv[i + 1], " \t\n")) {
                i++;
                continue;
            }
            break;
        }
        shell_append(buf, cap, a);
    }
    char seed[32];
    snprintf(seed, sizeof(seed), "%" PRIu64, s->seed);
    shell_append(buf, cap, "--seed");
    shell_append(buf, cap, seed);
    /* Last: every argument after --with-stress-ng belongs to stress-ng. */
    if (s->stress_ng_args) {
        shell_append(buf, cap, "--with-stress-ng");
        shell_append(buf, cap, s->stress_ng_args);
    }
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

/* "faults":{...} of the JSON object: rate, seed, the injected faults and the seam
 * calls per kind (kinds with no call are left out), and the library errors the
 * driver tolerated. */
static void json_faults(FILE *f, const struct stress *s)
{
    fprintf(f, ",\"faults\":{\"rate\":%g,\"seed\":%" PRIu64 ",\"calls_filter\":", s->fault_rate,
            s->fault_seed);
    json_string(f, stress_fault_calls_text(s));
    fprintf(f, ",\"schedule\":");
    if (stress_fault_schedule_text(s))
        json_string(f, stress_fault_schedule_text(s));
    else
        fprintf(f, "null");
    fprintf(f, ",\"arm_calls\":%" PRIu64, s->fault_arm_calls);
    uint64_t total_inj = 0, total_calls = 0;
#if IPC_FAULTS
    struct ipc_fault_stats st;
    if (stress_faults_on(s))
        ipc_faults_stats(&st);
    else
        memset(&st, 0, sizeof(st));
    total_inj = st.total_injected;
    total_calls = st.total_calls;
    for (int pass = 0; pass < 2; pass++) {
        const uint64_t *v = pass ? st.calls : st.injected;
        fprintf(f, ",\"%s\":{", pass ? "calls" : "injected");
        bool first = true;
        for (int i = 0; i < IPC_FAULT_CALL_COUNT; i++) {
            if (!v[i])
                continue;
            fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", ipc_fault_call_name(i), v[i]);
            first = false;
        }
        fputc('}', f);
    }
#else
    fprintf(f, ",\"injected\":{},\"calls\":{}");
#endif
    fprintf(f,
            ",\"injected_total\":%" PRIu64 ",\"calls_total\":%" PRIu64 ",\"lib_errors\":%" PRIu64
            ",\"first_lib_error\":",
            total_inj, total_calls, s->lib_errors);
    if (s->lib_error_first[0])
        json_string(f, s->lib_error_first);
    else
        fprintf(f, "null");
    fputc('}', f);
}

/* The text form: "faults: rate 0.01, 123 injected in 4567 calls (write 50, read
 * 40, fork 9, ...), 17 library errors tolerated (first: ...)". */
static void text_faults(FILE *f, const struct stress *s)
{
#if IPC_FAULTS
    struct ipc_fault_stats st;
    ipc_faults_stats(&st);
    if (stress_fault_schedule_text(s))
        fprintf(f, "%s: faults: schedule %s, %" PRIu64 " injected in %" PRIu64 " seam calls",
                s->spec->name, stress_fault_schedule_text(s), st.total_injected, st.total_calls);
    else
        fprintf(f, "%s: faults: rate %g, %" PRIu64 " injected in %" PRIu64 " seam calls",
                s->spec->name, s->fault_rate, st.total_injected, st.total_calls);
    bool used[IPC_FAULT_CALL_COUNT] = {0};
    for (int k = 0; k < 4; k++) {
        int best = -1;
        for (int i = 0; i < IPC_FAULT_CALL_COUNT; i++)
            if (!used[i] && st.injected[i] && (best < 0 || st.injected[i] > st.injected[best]))
                best = i;
        if (best < 0)
            break;
        used[best] = true;
        fprintf(f, "%s%s %" PRIu64, k ? ", " : " (", ipc_fault_call_name(best), st.injected[best]);
        if (k == 3)
            fprintf(f, ", ...");
    }
    if (st.total_injected)
        fputc(')', f);
    fprintf(f, "; %" PRIu64 " library errors tolerated", s->lib_errors);
    if (s->lib_error_first[0])
        fprintf(f, " (first: %s)", s->lib_error_first);
    fputc('\n', f);
#else
    (void)f;
    (void)s;
#endif
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
    fprintf(f, "]");
    json_faults(f, s);
    fprintf(f, ",\"note\":");
    if (s->note[0])
        json_string(f, s->note);
    else
        fprintf(f, "null");
    fprintf(f, ",\"reproduce\":");
    json_string(f, cmd);
    fprintf(f, "}\n");
    fflush(f);
}

void stress_report_result(const struct stress *s, double dur, const char *result)
{
    if (s->json) {
        print_json(s, dur, result);
        return;
    }
    fprintf(stdout,
            "%s: %s  ops=%" PRIu64 "  ops/s=%.0f  duration=%.2fs  checks=%" PRIu64
            "  violations=%" PRIu64 "  procs=%u  seed=%" PRIu64 "%s%s\n",
            s->spec->name, result, s->ops, dur > 0 ? (double)s->ops / dur : 0.0, dur, s->checks,
            s->violations, s->procs, s->seed, s->fault ? "  fault=" : "", s->fault ? s->fault : "");
    if (stress_faults_on(s))
        text_faults(stdout, s);
    if (s->note[0])
        fprintf(stdout, "%s: note: %s\n", s->spec->name, s->note);
    fflush(stdout);
}
