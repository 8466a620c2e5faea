/* report.h - what a stress run tells its user: one line per violation (with the
 * command that reproduces the run), setup errors, and at the end the result line
 * or, with --json, one JSON object. Output goes to stderr (violations, errors) and
 * stdout (the result); everything runs in the driver's parent process only. */
#ifndef IPCSTORM_STRESS_REPORT_H
#define IPCSTORM_STRESS_REPORT_H

#include <stdbool.h>

struct stress; /* common.h */

/* Counts one check; when ok is false, records a violation of INVARIANT (a short
 * kebab-case name) and prints the one-line report with the reproduce command.
 * Returns ok. */
bool stress_check(struct stress *s, bool ok, const char *invariant, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records a violation unconditionally (same line as a failed stress_check). */
void stress_violation(struct stress *s, const char *invariant, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports a setup failure (not an invariant violation): prints it, makes the
 * exit status 1 unless a violation was seen, and stops the run. */
void stress_setup_error(struct stress *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints the outcome of a finished run of DUR seconds: RESULT ("PASS",
 * "FAIL"...) on the result line, or the JSON object with --json (parameters,
 * counts, the first violations, the note and the reproduce command). */
void stress_report_result(const struct stress *s, double dur, const char *result);

#endif
