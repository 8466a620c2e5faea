/* cmd_version.c - `ipcstorm version`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char ipcstorm_cmd_version_summary[] = "print the version";

int ipcstorm_cmd_version(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: ipcstorm version\n\nPrints the ipcstorm version.\n");
        return 0;
    }
    printf("ipcstorm 0.1.0\n");
    return 0;
}
