/* cli.h - shared pieces of the ipcstorm command. Each subcommand lives in its own
 * cli/cmd_<name>.c and defines:
 *     int ipcstorm_cmd_<name>(int argc, char **argv);   argv[0] is "<name>"
 *     extern const char ipcstorm_cmd_<name>_summary[];  one line for --help
 * Each stress driver lives in stress/drv_<name>.c and defines the same pair with
 * the prefix ipcstorm_stress_. CMake generates the dispatch tables from the file
 * names. Options are parsed by cli/opts.h, the same way for every command.
 *
 * Exit status, for every subcommand and stress driver (README "Exit status"):
 *   0   ran, nothing found
 *   1   could not run: setup or runtime error (bind failed, missing tool, I/O
 *       error, interrupted)
 *   2   ran and found a problem (stress invariant violation, a lock that lost
 *       updates, frames that fail to decode)
 *   64  usage error: unknown option, bad value, missing argument (CLI_EXIT_USAGE)
 * `ipcstorm run` exits with its command's status (128+N for signal N, 127 not
 * found, 126 not executable); only its own usage errors are 64. */
#ifndef IPCSTORM_CLI_H
#define IPCSTORM_CLI_H

#define IPC_CMD(name)                                                                              \
    int ipcstorm_cmd_##name(int argc, char **argv);                                                \
    extern const char ipcstorm_cmd_##name##_summary[];
#define IPC_STRESS(name)                                                                           \
    int ipcstorm_stress_##name(int argc, char **argv);                                             \
    extern const char ipcstorm_stress_##name##_summary[];
#include "ipcstorm_table.h"
#undef IPC_CMD
#undef IPC_STRESS

struct ipcstorm_stress_entry {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};
/* The stress drivers compiled in, terminated by an entry with name NULL. */
extern const struct ipcstorm_stress_entry ipcstorm_stress_table[];

#endif
