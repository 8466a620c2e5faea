/* common.h - the driver lifecycle every stress driver (stress/drv_<name>.c)
 * shares: options, stop condition, progress, the end-of-run hygiene checks.
 * The rest of the framework: rng.h (the seeded PRNG), report.h (stress_check and
 * the other reports), clock.h (time, sleeps, spins), load.c (stress-ng) and
 * testing/hygiene.h (the leak-check mechanics).
 *
 * A driver is a loop of bounded rounds:
 *
 *     struct stress s;
 *     int rc = stress_begin(&s, &spec, argc, argv);   // options, baseline, stress-ng
 *     if (rc != STRESS_RUN)
 *         return rc;                                   // --help (0), usage (64), setup (1)
 *     while (stress_running(&s)) {                     // ops/duration/Ctrl-C, progress
 *         ... one round: spawn, hammer, check ...
 *         stress_check(&s, ok, "invariant-name", "detail %d", x);
 *         stress_add_ops(&s, n);
 *     }
 *     ... tear down every child, fd and region ...
 *     return stress_end(&s);                           // hygiene, result, JSON: 0/1/2
 *
 * Exit status: 0 when every invariant held, 2 on any violation, 1 on a setup error
 * (or a run interrupted by SIGINT/SIGTERM without a violation), 64 on a usage
 * error (unknown option, bad value, missing argument). Options are parsed by the
 * CLI's one parser (cli/opts.h): "--name=value" and "--name value" alike.
 * Everything here runs in the driver's parent process only, single-threaded;
 * children report to the parent through pipes or shared memory. */
#ifndef IPCSTORM_STRESS_COMMON_H
#define IPCSTORM_STRESS_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hygiene.h"

#define STRESS_RUN            (-1)
#define STRESS_MAX_XOPTS      16
#define STRESS_EXIT_OK        0
#define STRESS_EXIT_SETUP     1
#define STRESS_EXIT_VIOLATION 2
#define STRESS_EXIT_USAGE     64 /* sysexits' EX_USAGE, as CLI_EXIT_USAGE */

/* Factor for the few wall-clock bounds a driver asserts ("a result is due within
 * 1 s"): sanitizer builds run several times slower, and a late answer there is
 * not a lost one. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STRESS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define STRESS_SANITIZED 1
#endif
#endif
#ifdef STRESS_SANITIZED
#define STRESS_TIME_SCALE 5.0
#else
#define STRESS_SANITIZED  0
#define STRESS_TIME_SCALE 1.0
#endif

/* ---- driver description ------------------------------------------------------ */
enum stress_xopt_kind {
    STRESS_XOPT_U64,     /* uint64_t *, within [min, max] */
    STRESS_XOPT_SECONDS, /* double *, seconds >= 0 */
    STRESS_XOPT_STR,     /* const char **, pointing into argv */
    STRESS_XOPT_FLAG,    /* bool *, no argument */
};

/* A driver-specific option "--name VALUE"; its value also appears in the JSON
 * params object and in the reproduce command. */
struct stress_xopt {
    const char *name; /* without the leading "--" */
    enum stress_xopt_kind kind;
    void *ptr;
    uint64_t min, max; /* STRESS_XOPT_U64 only */
    const char *help;
    /* STRESS_XOPT_STR, optional: NULL when value is acceptable, otherwise what was
     * expected; a bad value is then a usage error (ctx is the driver's spec). */
    const char *(*check)(const char *value, const void *ctx);
};

struct stress_fault {
    const char *name;
    const char *help;
};

struct stress_spec {
    const char *name;                  /* "pipe" */
    const char *summary;               /* one line */
    const char *invariants;            /* paragraph printed by --help */
    unsigned default_procs;            /* --procs default */
    unsigned max_procs;                /* --procs upper bound */
    const struct stress_xopt *xopts;   /* terminated by name NULL; may be NULL */
    const struct stress_fault *faults; /* IPC_TEST_FAULTS only; terminated by name NULL */
    /* Optional example command lines for --help, each "  ipcstorm stress <name> ...\n",
     * printed before two generic ones. */
    const char *examples;
};

/* ---- run state --------------------------------------------------------------- */
struct stress {
    const struct stress_spec *spec;
    /* common options */
    double duration;  /* seconds; 0 = no time limit (then --ops must be set) */
    uint64_t ops_max; /* 0 = no ops limit */
    unsigned procs;
    uint64_t seed;
    bool json;
    const char *stress_ng_args;
    const char *fault; /* NULL unless --fault NAME (test builds) */
    /* --faults RATE / --fault-calls LIST: random failures of libipc's seam calls
     * (builds with IPC_FAULTS), armed from the first stress_running() until it
     * returns false, with a fault seed derived from --seed. */
    double fault_rate;
    const char *fault_calls; /* NULL: every kind */
    uint64_t fault_mask;     /* bit i = call kind i; 0 = every kind */
    uint64_t fault_seed;
    /* --fault-schedule STEPS: a deterministic schedule (ipc_faults_parse syntax)
     * armed instead of random faults, counted from each (re)arm. */
    const char *fault_schedule;
    uint64_t fault_arm_calls; /* seam calls seen while armed: ipc_faults_calls_since_arm, summed */
    int faults_state;         /* 0 not yet armed, 1 armed, 2 paused, 3 done */
    unsigned fault_arms;
    uint64_t lib_errors;      /* library errors tolerated under --faults */
    char lib_error_first[96]; /* the first of them, "ipc_pipe_open: IPC_EMFILE" */
    int argc;
    char **argv;

    /* progress */
    double t_start, t_end, t_last_progress;
    uint64_t ops;
    uint64_t checks;
    uint64_t violations;
    bool tty;
    int progress_fd;    /* --progress-fd N: a machine-readable line per second, or -1 */
    pid_t progress_pid; /* only the driver's own process writes it, not its forks */
    bool setup_failed;
    char note[256]; /* driver's extra observation, shown in the result and JSON */

    /* what stress_end compares against: fd count, /dev/shm names */
    struct hygiene_baseline hygiene;

    /* stress-ng load */
    void *load; /* opaque: the ipc process handle */
    pid_t load_pid;
};

/* Parses options, prints --help, takes the hygiene baseline, installs the
 * SIGINT/SIGTERM stop handlers and starts stress-ng when asked. Returns STRESS_RUN
 * to run, otherwise the exit status to return at once (0 after --help, 64 on a
 * usage error, 1 on a setup error, which it has already printed). */
int stress_begin(struct stress *s, const struct stress_spec *spec, int argc, char **argv);

/* True while the run should go on: no stop signal, ops below --ops, elapsed time
 * below --duration. Refreshes the progress line on a terminal (at most 5 times/s). */
bool stress_running(struct stress *s);

/* True once the run was interrupted (SIGINT, SIGTERM) or hit a setup error: unlike
 * the end of --duration, a reason to skip even the work a driver owes every run. */
bool stress_aborted(const struct stress *s);

/* Writes the template "$TMPDIR/ipcstorm-<tag>-" plus mkdtemp's six X into buf
 * (TMPDIR when it is absolute and the result fits size, else /tmp) and returns
 * buf, for mkdtemp or mkstemp. */
char *stress_tmp_template(char *buf, size_t size, const char *tag);

/* Seconds since stress_begin. */
double stress_elapsed(const struct stress *s);

/* Seconds left before --duration (a large number when only --ops bounds the run). */
double stress_remaining(const struct stress *s);

void stress_add_ops(struct stress *s, uint64_t n);

/* True when the test build planted fault NAME with --fault NAME. */
bool stress_fault(const struct stress *s, const char *name);

/* True when the run injects faults into libipc (--faults with a rate above 0, or
 * --fault-schedule). */
bool stress_faults_on(const struct stress *s);

/* Under --faults, counts an error that libipc reported (an allowed outcome: the
 * driver recovers and ends the round cleanly) and returns true. Without faults the
 * same error is not expected: it is reported as a setup error (exit 1, the run
 * stops) and false is returned. err is a negative ipc error code or -errno; what
 * names the call ("ipc_pipe_open"). */
bool stress_lib_error(struct stress *s, int err, const char *what);

/* The --fault-calls list, or a description of the default set. */
const char *stress_fault_calls_text(const struct stress *s);

/* The --fault-schedule steps written back from the parsed schedule with the seam's
 * names (ipc_fault_call_name, ipc_fault_errno_name), or NULL without one. */
const char *stress_fault_schedule_text(const struct stress *s);

/* Suspends/resumes fault injection around driver bookkeeping that must not fail
 * (no effect without --faults). The seam's state is one shared mapping: forked
 * children follow every later pause and resume too, so a child that must run
 * without faults needs the pause until it has ended. */
/* Runs fn(arg, wfd) in a forked child and waits for it (at most 10 s, times
 * STRESS_TIME_SCALE, then SIGKILL): a probe whose setup (a seccomp filter, closed
 * descriptors, a lowered limit) must not touch the driver. why receives what the
 * child wrote to wfd. Returns the child's wait status, or -1 when pipe2, fork or
 * waitpid failed (counted as a library error). Callers that need it fault-free
 * pause faults around the call: the seam's state is shared with the child. */
int stress_verdict_child(struct stress *s, int (*fn)(int arg, int wfd), int arg, char *why,
                         size_t why_size);

void stress_faults_pause(struct stress *s);
void stress_faults_resume(struct stress *s);

/* Process helpers that keep teardown exact under --faults (ipc/proc.h objects).
 * stress_proc_kill: ipc_proc_kill; a refusal for a child not yet reaped is a
 * violation (it cannot happen, faults or not), and the signal is then sent
 * with kill(2) directly, so a child meant to die always does.
 * stress_proc_wait: ipc_proc_wait, retrying the errors libipc reports under
 * faults (counted) within the same deadline; returns 0, -ETIMEDOUT, -ECHILD
 * or, without faults, the error.
 * stress_proc_discard: kills (SIGKILL), reaps and frees p (NULL is fine). */
struct ipc_proc;
struct ipc_proc_status;
void stress_proc_kill(struct stress *s, struct ipc_proc *p, int sig);

/* kill(pid, sig) for a pid that libipc reported; a pid <= 1 (which kill() would
 * take as a group or as every process) is a violation (pid-plausible) and is not
 * signalled. Returns whether the signal was sent. */
bool stress_kill_pid(struct stress *s, pid_t pid, int sig);

/* The lowest free descriptor number (dup of fd 2, closed again): a call that
 * leaks a descriptor moves it up. */
int stress_lowest_free_fd(void);

/* Makes the calling process's later system calls nrs[0..n) (at most 8) fail with
 * err, as the kernel would, through a seccomp filter (irreversible: call it in a
 * child). Returns 0, -ENOSYS (no filter for this architecture) or the -errno of
 * prctl (no seccomp here). */
int stress_deny_syscalls(const long *nrs, size_t n, int err);

/* Like stress_deny_syscalls for one system call nr, but only when its first
 * argument is arg0 (compared as a 32-bit int, e.g. a signal number or an fd):
 * rt_sigaction denied for one signal only. Same returns; irreversible. */
int stress_deny_syscall_arg0(long nr, int arg0, int err);
int stress_proc_wait(struct stress *s, struct ipc_proc *p, int timeout_ms,
                     struct ipc_proc_status *st);
void stress_proc_discard(struct stress *s, struct ipc_proc *p);

/* True when pid is the stress-ng load process (drivers that peek at waitid(P_ALL)
 * must leave it alone). */
bool stress_is_load_pid(const struct stress *s, pid_t pid);

/* Reports any child of this process that the driver has not reaped and is not the
 * stress-ng load (peeks with WNOWAIT, never reaps); returns the number found. */
int stress_check_no_stray_children(struct stress *s, const char *invariant);

/* Stops stress-ng, runs the hygiene checks (no child, no zombie, fd count, no new
 * /dev/shm object), prints the result line (and the JSON object with --json) and
 * returns the exit status: 0, 1 or 2. */
int stress_end(struct stress *s);

/* stress/load.c: starts `stress-ng ARGS --timeout T` through libipc's spawn with
 * its own process group, and stops (SIGTERM, grace, SIGKILL to the group) and reaps
 * it. Called by stress_begin/stress_end; load_stop is idempotent. */
int stress_load_start(struct stress *s);
void stress_load_stop(struct stress *s);

/* ---- small helpers shared by drivers ------------------------------------------- */
/* Discards the result of a warn_unused_result call whose failure is harmless
 * (a kill racing with the child's own exit, ...); gcc ignores a (void) cast. */
static inline void stress_ignore(long r)
{
    (void)r;
}

#endif
