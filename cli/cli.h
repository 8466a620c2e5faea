/* cli.h - shared pieces of the ipcstorm command. Each subcommand lives in its own
 * cli/cmd_<name>.c and defines:
 *     int ipcstorm_cmd_<name>(int argc, char **argv);   argv[0] is "<name>"
 *     extern const char ipcstorm_cmd_<name>_summary[];  one line for --help
 * Each stress driver lives in stress/drv_<name>.c and defines the same pair with
 * the prefix ipcstorm_stress_. CMake generates the dispatch tables from the file
 * names. Exit codes: 0 success, 1 usage or setup error, 2 invariant violation
 * (stress), or what the subcommand documents. */
#ifndef IPCSTORM_CLI_H
#define IPCSTORM_CLI_H

#include <stdint.h>

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

/* Parses a whole decimal (or 0x hex) unsigned number within [min, max]; prints
 * "ipcstorm <cmd>: invalid value for <opt>: '<text>'" and returns -1 on error. */
int cli_parse_u64(const char *cmd, const char *opt, const char *text, uint64_t min, uint64_t max,
                  uint64_t *out);
/* Parses seconds as a decimal with an optional fraction ("2", "0.5"). */
int cli_parse_seconds(const char *cmd, const char *opt, const char *text, double *out);

#endif
