/* opts.h - the one option parser of the ipcstorm command, shared by every
 * subcommand (cli/cmd_*.c) and every stress driver (stress/common.c).
 *
 * A command describes its options in a table; cli_parse() builds the getopt_long
 * array from it and parses argv, and cli_help() prints --help from the same table,
 * so the two never disagree:
 *
 *     uint64_t port = 6380;
 *     bool quiet = false;
 *     const struct cli_opt opts[] = {
 *         {.name = "port", .kind = CLI_OPT_U64, .dest = &port, .max = 65535, .arg = "P",
 *          .help = "TCP port (default 6380)"},
 *         {.name = "quiet", .kind = CLI_OPT_FLAG, .dest = &quiet, .help = "no log lines"},
 *         {0},
 *     };
 *     const struct cli_cmd cmd = {.prog = "ipcstorm serve", .opts = opts, ...};
 *     int rc = cli_parse(&cmd, argc, argv, NULL);
 *     if (rc != CLI_RUN)
 *         return rc;   // 0 after --help, CLI_EXIT_USAGE after a usage error
 *
 * Rules, the same for every command: "--name=value" and "--name value" are
 * equivalent; long names must be spelled out (no abbreviations); -h and --help
 * print the help on stdout; parsing stops at "--" or at the first argument that
 * is not an option (then the command must accept positional arguments);
 * integers are decimal only (leading zeros allowed; no sign, no 0x, no spaces),
 * seconds are decimal with an optional fraction. Every usage error prints one line
 * "<prog>: <what>" on stderr naming the option, and is exit status 64. */
#ifndef IPCSTORM_CLI_OPTS_H
#define IPCSTORM_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cli_parse(): go on and run the command. */
#define CLI_RUN (-1)
/* Exit status of a usage error (sysexits' EX_USAGE), for every command. */
#define CLI_EXIT_USAGE 64

enum cli_opt_kind {
    CLI_OPT_FLAG,    /* bool *dest = true; takes no value */
    CLI_OPT_CONST,   /* int *dest = (int)min; takes no value (e.g. --tcp / --udp) */
    CLI_OPT_U64,     /* uint64_t *dest, decimal within [min, max] */
    CLI_OPT_SECONDS, /* double *dest, decimal seconds with optional fraction, 0..1e7 */
    CLI_OPT_STR,     /* const char **dest, pointing into argv */
    CLI_OPT_REST,    /* struct cli_rest *dest: every argument after the option (below) */
};

/* CLI_OPT_REST: "--name A B C" takes every remaining argument: argv {A, B, C},
 * and parsing ends there. "--name=X" or "--name 'X Y'" (one argument holding
 * whitespace: the quoted form) take that one value as first, and parsing goes on. */
struct cli_rest {
    const char *first; /* the one-value form, or NULL */
    char **argv;       /* the remaining arguments, or NULL */
    int argc;
};

struct cli_opt {
    const char *name; /* long name without "--"; NULL ends the table */
    enum cli_opt_kind kind;
    void *dest;
    uint64_t min, max; /* CLI_OPT_U64: the accepted range; CLI_OPT_CONST: min is the value */
    const char *arg;   /* value placeholder in the help (default N, S, VALUE, ARGS...) */
    const char *help;  /* lines after the first are indented under it */
    char short_name;   /* optional one-letter alias ("-t"), 0 for none */
    /* CLI_OPT_STR/REST, optional: returns NULL when value is acceptable, otherwise
     * what was expected; the error then reads "--name: 'value' is not <that>". */
    const char *(*check)(const char *value, const void *ctx);
    const void *ctx;
    bool *given; /* optional: set true when the option appears */
};

struct cli_cmd {
    const char *prog;     /* "ipcstorm serve": prefixes every message */
    const char *synopsis; /* after "usage: <prog>"; NULL: generated from opts */
    const char *args;     /* positional part appended to the synopsis ("-- CMD") */
    const char *intro;    /* paragraph(s) between the usage line and the options */
    const char *outro;    /* text after the options (exit status, notes) */
    const struct cli_opt *opts;
};

/* Parses argv[1..] (argv[0] is the command's name). Returns CLI_RUN to go on, 0
 * after printing --help on stdout, CLI_EXIT_USAGE after printing a usage error on
 * stderr. When first_arg is NULL a positional argument is a usage error; otherwise
 * *first_arg is the index of the first positional argument (argc if none). */
int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, int *first_arg);

/* Prints the help generated from cmd: usage line, intro, option list, outro. */
void cli_help(const struct cli_cmd *cmd, FILE *out);

/* Prints "<prog>: <message>" and a pointer to --help on stderr; returns
 * CLI_EXIT_USAGE, for usage errors found after cli_parse (missing --addr, ...). */
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The value parsers behind CLI_OPT_U64 and CLI_OPT_SECONDS: 0 on success, -1 when
 * text is not a decimal number in range (nothing printed). */
int cli_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);
int cli_parse_seconds(const char *text, double *out);

/* Joins rest's arguments with single spaces into buf; -1 when it does not fit. */
int cli_rest_join(const struct cli_rest *rest, char *buf, size_t cap);

#endif
