/* main.c - the ipcstorm command: dispatches to the subcommands in cli/cmd_*.c. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
#define IPC_CMD(name) {#name, ipcstorm_cmd_##name, ipcstorm_cmd_##name##_summary},
#define IPC_STRESS(name)
#include "ipcstorm_table.h"
#undef IPC_CMD
#undef IPC_STRESS
};

const struct ipcstorm_stress_entry ipcstorm_stress_table[] = {
#define IPC_CMD(name)
#define IPC_STRESS(name) {#name, ipcstorm_stress_##name, ipcstorm_stress_##name##_summary},
#include "ipcstorm_table.h"
#undef IPC_CMD
#undef IPC_STRESS
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ipcstorm <command> [options]   (ipcstorm <command> --help for details)\n\n"
                 "Linux IPC library harness: run, stress and fuzz libipc.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        /* Dashes read better on the command line than C identifiers allow. */
        char shown[64];
        snprintf(shown, sizeof(shown), "%s", commands[i].name);
        for (char *p = shown; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "  %-14s %s\n", shown, commands[i].summary);
    }
}

int cli_parse_u64(const char *cmd, const char *opt, const char *text, uint64_t min, uint64_t max,
                  uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (!text || !*text || text[0] == '-')
        goto bad;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || *end || v < min || v > max)
        goto bad;
    *out = v;
    return 0;
bad:
    fprintf(stderr, "ipcstorm %s: invalid value for %s: '%s' (expected %" PRIu64 "..%" PRIu64 ")\n",
            cmd, opt, text ? text : "", min, max);
    return -1;
}

int cli_parse_seconds(const char *cmd, const char *opt, const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = text ? strtod(text, &end) : NAN;
    if (!text || errno || end == text || *end || !isfinite(v) || v < 0 || v > 1e7) {
        fprintf(stderr, "ipcstorm %s: invalid value for %s: '%s' (expected seconds >= 0)\n", cmd,
                opt, text ? text : "");
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    char wanted[64];
    snprintf(wanted, sizeof(wanted), "%s", argv[1]);
    for (char *p = wanted; *p; p++)
        if (*p == '-')
            *p = '_';
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(wanted, commands[i].name))
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "ipcstorm: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 1;
}
