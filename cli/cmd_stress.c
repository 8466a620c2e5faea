/* cmd_stress.c - `ipcstorm stress NAME ...`: dispatches to stress/drv_NAME.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opts.h"

const char ipcstorm_cmd_stress_summary[] = "run a stress driver with exact invariant checks";

static void usage(FILE *out)
{
    fprintf(out, "usage: ipcstorm stress <driver> [--duration S] [--ops N] [--procs N] [--seed N]\n"
                 "                                [--json] [--with-stress-ng ARGS...]\n"
                 "       ipcstorm stress <driver> --help\n\ndrivers:\n");
    for (const struct ipcstorm_stress_entry *e = ipcstorm_stress_table; e->name; e++)
        fprintf(out, "  %-10s %s\n", e->name, e->summary);
    fprintf(out,
            "\nExamples:\n"
            "  ipcstorm stress pipe --duration 30\n"
            "  ipcstorm stress counter --seed 42 --json   # the seed replays a run\n"
            "  ipcstorm stress sock --duration 60 --with-stress-ng --cpu 1\n"
            "  ipcstorm stress forkwait --help            # a driver's invariants and options\n");
    fprintf(out, "\nExit status: 0 every invariant held, 1 setup error or interrupted, 2 a\n"
                 "violation, 64 usage error.\n");
}

int ipcstorm_cmd_stress(int argc, char **argv)
{
    /* Without a driver: the list of drivers is what was asked for. */
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        if (argc > 2) {
            fprintf(stderr, "ipcstorm stress: unexpected argument '%s'\n", argv[2]);
            return CLI_EXIT_USAGE;
        }
        usage(stdout);
        return 0;
    }
    for (const struct ipcstorm_stress_entry *e = ipcstorm_stress_table; e->name; e++)
        if (!strcmp(argv[1], e->name))
            return e->main(argc - 1, argv + 1);
    fprintf(stderr, "ipcstorm stress: unknown %s '%s'\n\n", argv[1][0] == '-' ? "option" : "driver",
            argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
