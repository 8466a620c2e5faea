/* cmd_stress.c - `ipcstorm stress NAME ...`: dispatches to stress/drv_NAME.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char ipcstorm_cmd_stress_summary[] = "run a stress driver with exact invariant checks";

static void usage(FILE *out)
{
    fprintf(out, "usage: ipcstorm stress <driver> [--duration S] [--ops N] [--procs N] [--seed N] "
                 "[--json] [--help]\n\ndrivers:\n");
    for (const struct ipcstorm_stress_entry *e = ipcstorm_stress_table; e->name; e++)
        fprintf(out, "  %-10s %s\n", e->name, e->summary);
}

int ipcstorm_cmd_stress(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    for (const struct ipcstorm_stress_entry *e = ipcstorm_stress_table; e->name; e++)
        if (!strcmp(argv[1], e->name))
            return e->main(argc - 1, argv + 1);
    fprintf(stderr, "ipcstorm stress: unknown driver '%s'\n\n", argv[1]);
    usage(stderr);
    return 1;
}
