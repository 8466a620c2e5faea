/* cmd_version.c - `ipcstorm version` (also `ipcstorm --version`). */
#include <stdio.h>

#include "cli.h"
#include "opts.h"

#ifndef IPCSTORM_VERSION
#define IPCSTORM_VERSION "0.1.0"
#endif

const char ipcstorm_cmd_version_summary[] = "print the version";

int ipcstorm_cmd_version(int argc, char **argv)
{
    const struct cli_cmd cmd = {
        .prog = "ipcstorm version",
        .intro = "Prints the ipcstorm version (also: ipcstorm --version).\n",
        .outro = "Example:\n"
                 "  ipcstorm version\n"
                 "\n"
                 "Exit status: 0 printed, 64 usage error.\n",
    };
    int rc = cli_parse(&cmd, argc, argv, NULL);
    if (rc != CLI_RUN)
        return rc;
    printf("ipcstorm %s\n", IPCSTORM_VERSION);
    return 0;
}
