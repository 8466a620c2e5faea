/* hygiene.h - what a process must have cleaned up after a unit test, a fuzz input
 * or a stress run: its children, its open fds and its /dev/shm objects.
 *
 * One implementation of the mechanics, used by three callers that each keep
 * their own policy:
 *   - the cmocka unit tests (core/tests/testutil.h, around every test): same fd
 *     count, same number of /dev/shm objects named with the pid, no child;
 *   - the corpus replay (harnesses/replay_main.c, around every input): same fd
 *     count, no child;
 *   - the stress drivers (stress/common.c, stress_begin to stress_end): no zombie,
 *     no child, same fd count, no /dev/shm object of this process that was not
 *     there at the start.
 * Each function below says which policy it implements.
 *
 * Not installed: a static library (CMake target ipc_hygiene) without libipc, so
 * that it checks libipc from the outside. Single-threaded callers only. */
#ifndef IPC_TESTING_HYGIENE_H
#define IPC_TESTING_HYGIENE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- fds --------------------------------------------------------------------- */
/* Open fds of this process, not counting the one the directory scan itself uses;
 * -1 when /proc/self/fd cannot be read. Every caller compares it before and after. */
int hygiene_fd_count(void);

/* ---- children ---------------------------------------------------------------- */
/* What waitpid(-1, WNOHANG) answered, for the caller's report. */
struct hygiene_child_probe {
    pid_t pid; /* > 0: an exited child (now reaped); 0: a live child; -1: error */
    int error; /* errno when pid is -1 (ECHILD: no child at all) */
};

/* The policy of all three callers: true when this process has no child at all,
 * that is waitpid(-1, WNOHANG) reports ECHILD. A zombie is still a child, so an
 * unreaped child fails the check too (and is reaped by it, as waitpid does).
 * probe may be NULL. */
bool hygiene_no_children(struct hygiene_child_probe *probe);

/* Calls fn for every process whose parent is `parent`, with its state letter from
 * /proc/<pid>/stat ('Z' for a zombie), reading /proc once. */
void hygiene_for_each_child(pid_t parent, void (*fn)(pid_t pid, char state, void *arg), void *arg);

/* Children of this process that are zombies, read from /proc: waitpid alone cannot
 * tell a zombie from a live child, and the stress report says which it is. */
int hygiene_count_zombie_children(void);

/* Reaps every child that has already exited, without waiting; returns how many.
 * The clean-up after a failed check, so that one leak does not fail every later
 * check too. */
int hygiene_reap_exited_children(void);

/* SIGKILLs every live child (found in /proc) and reaps all children. The stress
 * drivers' clean-up after a failed no-child check: a leftover child may loop for
 * ever (a hostile socket client, for one). */
void hygiene_kill_and_reap_children(void);

/* ---- /dev/shm ---------------------------------------------------------------- */
/* Unit-test policy: the number of objects in /dev/shm whose name contains this
 * process's pid as a whole number (not inside a longer number). The tests name
 * their objects with their pid, so tests running in parallel (and anything else
 * on the machine) cannot disturb each other's counts. 0 without /dev/shm. */
int hygiene_shm_count_own(void);

#define HYGIENE_MAX_SHM_NAMES 256

/* The stress drivers' snapshot of the start of a run. */
struct hygiene_baseline {
    int fd_count;
    size_t shm_n; /* the first HYGIENE_MAX_SHM_NAMES names only */
    char *shm_names[HYGIENE_MAX_SHM_NAMES];
};

/* Records the fd count and the names in /dev/shm. */
void hygiene_baseline_take(struct hygiene_baseline *b);
/* Frees the recorded names; the baseline can be taken again. */
void hygiene_baseline_release(struct hygiene_baseline *b);

/* Stress-driver policy: calls found(name, ctx) for every object in /dev/shm that
 * is not in the baseline and belongs to this process (its name carries our pid,
 * as libipc names its objects after the creating process, or this process still
 * maps it); returns how many. Other programs on the machine create objects too, so
 * new names of others are not counted. */
int hygiene_new_shm_objects(const struct hygiene_baseline *b,
                            void (*found)(const char *name, void *ctx), void *ctx);

#endif
