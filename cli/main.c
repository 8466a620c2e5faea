/* main.c - the ipcstorm command: dispatches to the subcommands in cli/cmd_*.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"

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
    fprintf(out, "usage: ipcstorm <command> [options]   (ipcstorm <command> --help for details)\n"
                 "       ipcstorm --version | --help\n\n"
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
    fprintf(out, "\nExamples:\n"
                 "  ipcstorm stress pipe --duration 30          # one stress driver for 30 s\n"
                 "  ipcstorm serve --port 6380                  # a RESP2 server for redis-cli\n"
                 "  ipcstorm run --timeout 10 -- make test      # subprocess.run from the shell\n"
                 "  ipcstorm stress --help                      # the list of stress drivers\n");
    fprintf(out, "\nExit status: 0 ran and found nothing, 1 could not run (setup or runtime\n"
                 "error), 2 ran and found a problem, 64 usage error; `ipcstorm run` exits with\n"
                 "its command's status.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        char *version_argv[] = {"version", NULL};
        if (argc > 2) {
            fprintf(stderr, "ipcstorm: --version takes no argument\n");
            return CLI_EXIT_USAGE;
        }
        return ipcstorm_cmd_version(1, version_argv);
    }
    char wanted[64];
    snprintf(wanted, sizeof(wanted), "%s", argv[1]);
    for (char *p = wanted; *p; p++)
        if (*p == '-')
            *p = '_';
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(wanted, commands[i].name))
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "ipcstorm: unknown %s '%s'\n\n", argv[1][0] == '-' ? "option" : "command",
            argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
