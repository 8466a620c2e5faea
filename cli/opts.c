/* opts.c - the table-driven option parser of opts.h, on top of getopt_long. */
#include "opts.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CLI_MAX_OPTS   64
#define CLI_LONG_BASE  256 /* getopt_long value of table entry i: CLI_LONG_BASE + i */
#define CLI_HELP_VALUE 'h'
#define CLI_MAX_SECS   1e7
#define CLI_WRAP       79
#define CLI_HELP_COL   22 /* widest "--name ARG" kept on the help text's line */

int cli_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!text || !*text)
        return -1;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_seconds(const char *text, double *out)
{
    if (!text)
        return -1;
    /* digits, optionally '.' and more digits; at least one digit in all. strtod
     * alone would also take signs, spaces, hex, exponents, inf and nan. */
    size_t digits = 0, dots = 0;
    for (const char *p = text; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p == '.' && dots == 0)
            dots++;
        else
            return -1;
    }
    if (digits == 0)
        return -1;
    char *end = NULL;
    double v = strtod(text, &end);
    if (!end || *end || !isfinite(v) || v < 0 || v > CLI_MAX_SECS)
        return -1;
    *out = v;
    return 0;
}

int cli_rest_join(const struct cli_rest *rest, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap == 0)
        return -1;
    buf[0] = '\0';
    for (int i = -1; i < rest->argc; i++) {
        const char *a = i < 0 ? rest->first : rest->argv[i];
        if (!a)
            continue;
        size_t n = strlen(a);
        if (len + (len ? 1 : 0) + n + 1 > cap)
            return -1;
        if (len)
            buf[len++] = ' ';
        memcpy(buf + len, a, n + 1);
        len += n;
    }
    return 0;
}

static const char *placeholder(const struct cli_opt *o)
{
    if (o->arg)
        return o->arg;
    switch (o->kind) {
    case CLI_OPT_U64:
        return "N";
    case CLI_OPT_SECONDS:
        return "S";
    case CLI_OPT_STR:
        return "VALUE";
    case CLI_OPT_REST:
        return "ARGS...";
    case CLI_OPT_FLAG:
    case CLI_OPT_CONST:
        break;
    }
    return NULL;
}

static bool takes_value(const struct cli_opt *o)
{
    return o->kind != CLI_OPT_FLAG && o->kind != CLI_OPT_CONST;
}

/* "--name ARG" (or "-s, --name ARG") into buf. */
static void option_label(const struct cli_opt *o, char *buf, size_t cap)
{
    const char *ph = placeholder(o);
    char s[8] = "";
    if (o->short_name)
        snprintf(s, sizeof(s), "-%c, ", o->short_name);
    snprintf(buf, cap, "%s--%s%s%s", s, o->name, ph ? " " : "", ph ? ph : "");
}

static void print_synopsis(const struct cli_cmd *cmd, FILE *out)
{
    size_t indent = strlen("usage: ") + strlen(cmd->prog) + 1;
    size_t col = indent;
    fprintf(out, "usage: %s", cmd->prog);
    if (cmd->synopsis) {
        fprintf(out, " %s\n", cmd->synopsis);
        return;
    }
    for (const struct cli_opt *o = cmd->opts; o && o->name; o++) {
        char item[96];
        const char *ph = placeholder(o);
        snprintf(item, sizeof(item), "[--%s%s%s]", o->name, ph ? " " : "", ph ? ph : "");
        size_t n = strlen(item);
        if (col > indent && col + 1 + n > CLI_WRAP) {
            fprintf(out, "\n%*s", (int)indent - 1, "");
            col = indent - 1;
        }
        fprintf(out, " %s", item);
        col += 1 + n;
    }
    if (cmd->args) {
        size_t n = strlen(cmd->args);
        if (col > indent && col + 1 + n > CLI_WRAP)
            fprintf(out, "\n%*s", (int)indent - 1, "");
        fprintf(out, " %s", cmd->args);
    }
    fputc('\n', out);
}

/* One entry of the option list: the label, then the help aligned at col; the
 * help's further lines are indented to col as well. */
static void print_entry(FILE *out, const char *label, const char *help, int col)
{
    int n = fprintf(out, "  %s", label);
    if (!help || !*help) {
        fputc('\n', out);
        return;
    }
    if (n + 1 > col)
        fprintf(out, "\n%*s", col, "");
    else
        fprintf(out, "%*s", col - n, "");
    for (const char *p = help; *p; p++) {
        fputc(*p, out);
        if (*p == '\n' && p[1])
            fprintf(out, "%*s", col, "");
    }
    fputc('\n', out);
}

void cli_help(const struct cli_cmd *cmd, FILE *out)
{
    print_synopsis(cmd, out);
    if (cmd->intro)
        fprintf(out, "\n%s%s", cmd->intro,
                cmd->intro[0] && cmd->intro[strlen(cmd->intro) - 1] == '\n' ? "" : "\n");
    int width = (int)strlen("-h, --help");
    for (const struct cli_opt *o = cmd->opts; o && o->name; o++) {
        char label[128];
        option_label(o, label, sizeof(label));
        int n = (int)strlen(label);
        if (n > width && n <= CLI_HELP_COL)
            width = n;
    }
    int col = 2 + width + 2;
    fprintf(out, "\noptions:\n");
    for (const struct cli_opt *o = cmd->opts; o && o->name; o++) {
        char label[128];
        option_label(o, label, sizeof(label));
        print_entry(out, label, o->help, col);
    }
    print_entry(out, "-h, --help", "print this help and exit", col);
    if (cmd->outro)
        fprintf(out, "\n%s%s", cmd->outro,
                cmd->outro[0] && cmd->outro[strlen(cmd->outro) - 1] == '\n' ? "" : "\n");
}

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
    fflush(stdout);
    fprintf(stderr, "%s: ", cmd->prog);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see '%s --help')\n", cmd->prog);
    return CLI_EXIT_USAGE;
}

/* The option as written, without an "=value" part (for messages). */
static void written_name(const char *arg, char *buf, size_t cap)
{
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, arg, n);
    buf[n] = '\0';
}

static int store(const struct cli_cmd *cmd, const struct cli_opt *o, const char *val)
{
    switch (o->kind) {
    case CLI_OPT_FLAG:
        *(bool *)o->dest = true;
        break;
    case CLI_OPT_CONST:
        *(int *)o->dest = (int)o->min;
        break;
    case CLI_OPT_U64:
        if (cli_parse_u64(val, o->min, o->max, (uint64_t *)o->dest) < 0)
            return cli_usage_error(cmd,
                                   "--%s: '%s' is not a decimal number in %" PRIu64 "..%" PRIu64,
                                   o->name, val, o->min, o->max);
        break;
    case CLI_OPT_SECONDS:
        if (cli_parse_seconds(val, (double *)o->dest) < 0)
            return cli_usage_error(cmd, "--%s: '%s' is not a decimal number of seconds in 0..%.0f",
                                   o->name, val, CLI_MAX_SECS);
        break;
    case CLI_OPT_STR: {
        const char *want = o->check ? o->check(val, o->ctx) : NULL;
        if (want)
            return cli_usage_error(cmd, "--%s: '%s' is not %s", o->name, val, want);
        *(const char **)o->dest = val;
        break;
    }
    case CLI_OPT_REST:
        break; /* handled by the caller: it needs argv */
    }
    if (o->given)
        *o->given = true;
    return 0;
}

int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, int *first_arg)
{
    struct option lo[CLI_MAX_OPTS + 2];
    char shorts[2 * CLI_MAX_OPTS + 8];
    size_t n = 0, sl = 0;
    /* '+': stop at the first non-option (subcommands such as `run` take a command
     * line after their options); ':': report a missing value as ':'. */
    shorts[sl++] = '+';
    shorts[sl++] = ':';
    shorts[sl++] = CLI_HELP_VALUE;
    for (const struct cli_opt *o = cmd->opts; o && o->name; o++, n++) {
        if (n >= CLI_MAX_OPTS) {
            fprintf(stderr, "%s: too many options in the table\n", cmd->prog);
            return 1;
        }
        lo[n].name = o->name;
        lo[n].has_arg = o->kind == CLI_OPT_REST ? optional_argument
                        : takes_value(o)        ? required_argument
                                                : no_argument;
        lo[n].flag = NULL;
        lo[n].val = CLI_LONG_BASE + (int)n;
        if (o->short_name) {
            shorts[sl++] = o->short_name;
            if (takes_value(o) && o->kind != CLI_OPT_REST)
                shorts[sl++] = ':';
        }
    }
    shorts[sl] = '\0';
    lo[n] = (struct option){"help", no_argument, NULL, CLI_HELP_VALUE};
    lo[n + 1] = (struct option){NULL, 0, NULL, 0};

    /* Subcommands and drivers parse their own argv: start afresh every time. */
    optind = 0;
    opterr = 0;
    for (;;) {
        int at = optind > 0 ? optind : 1; /* the element a long option is read from */
        int li = -1;
        int c = getopt_long(argc, argv, shorts, lo, &li);
        if (c == -1)
            break;
        char written[64];
        if (c == ':') {
            if (optopt >= CLI_LONG_BASE && optopt < CLI_LONG_BASE + (int)n)
                return cli_usage_error(cmd, "--%s needs a value",
                                       cmd->opts[optopt - CLI_LONG_BASE].name);
            return cli_usage_error(cmd, "-%c needs a value", optopt);
        }
        if (c == '?') {
            if (optopt >= CLI_LONG_BASE && optopt < CLI_LONG_BASE + (int)n)
                return cli_usage_error(cmd, "--%s takes no value",
                                       cmd->opts[optopt - CLI_LONG_BASE].name);
            if (optopt == CLI_HELP_VALUE)
                return cli_usage_error(cmd, "--help takes no value");
            if (optopt)
                return cli_usage_error(cmd, "unknown option '-%c'", optopt);
            written_name(argv[optind - 1], written, sizeof(written));
            return cli_usage_error(cmd, "unknown option '%s'", written);
        }
        /* getopt_long accepts unambiguous abbreviations; this parser does not, so
         * that adding an option never changes what an existing command line means. */
        if (li >= 0) {
            size_t len = strlen(lo[li].name);
            const char *a = argv[at];
            if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, lo[li].name, len) != 0 ||
                (a[2 + len] != '\0' && a[2 + len] != '=')) {
                written_name(a, written, sizeof(written));
                return cli_usage_error(cmd, "unknown option '%s'", written);
            }
        }
        if (c == CLI_HELP_VALUE) {
            cli_help(cmd, stdout);
            return 0;
        }
        const struct cli_opt *o = NULL;
        if (c >= CLI_LONG_BASE && c < CLI_LONG_BASE + (int)n) {
            o = &cmd->opts[c - CLI_LONG_BASE];
        } else {
            for (size_t i = 0; i < n && !o; i++)
                if (cmd->opts[i].short_name == c)
                    o = &cmd->opts[i];
        }
        if (!o)
            return cli_usage_error(cmd, "unknown option '-%c'", c);
        if (o->kind == CLI_OPT_REST) {
            struct cli_rest *r = o->dest;
            *r = (struct cli_rest){.first = optarg};
            if (o->given)
                *o->given = true;
            if (!optarg && optind < argc && strpbrk(argv[optind], " \t\n"))
                r->first = argv[optind++]; /* one quoted string: options may follow */
            if (r->first)
                continue;
            if (optind >= argc)
                return cli_usage_error(cmd, "--%s needs arguments", o->name);
            r->argv = argv + optind;
            r->argc = argc - optind;
            if (first_arg)
                *first_arg = argc;
            return CLI_RUN;
        }
        int rc = store(cmd, o, optarg);
        if (rc)
            return rc;
    }
    if (optind < argc && !first_arg)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (first_arg)
        *first_arg = optind;
    return CLI_RUN;
}
