/* ipc/proc.h - child processes: spawn (fork, vfork, posix_spawn), the exec family,
 * wait (blocking, non-blocking, timeout, pidfd), signals, status decoding and a
 * child subreaper for orphaned grandchildren.
 *
 * Model (reproc-like): a spawn call returns an opaque ipc_proc that owns the
 * child until it has been reaped. Exec failures never show up as a confusing
 * "exit 127": the spawn call itself returns -ENOENT/-EACCES/... after reaping the
 * failed child, so no zombie is left behind.
 *
 * Thread safety: distinct ipc_proc objects may be used from different threads; one
 * object must not be used by two threads at once. Spawning from a multithreaded
 * process is safe: only async-signal-safe calls run between fork and exec (function
 * children, see ipc_proc_fork, are the caller's responsibility).
 * Nothing here changes process-wide signal dispositions; a spawn blocks signals in
 * the calling thread only for the few instructions around fork/vfork (not at all
 * for a function child without stdio/setpgid setup, nor for vfork through clone3,
 * whose child starts with the handlers reset by the kernel).
 *
 * Errors under faults (what harnesses/faultsweep.c observed with every seam call
 * of this module failed in turn; the same holds for real failures):
 *   ipc_proc_spawn and     -EAGAIN/-ENOMEM (fork, vfork, posix_spawn), -ENOMEM
 *   ipc_proc_spawnl..vpe   (allocation), -EMFILE/-ENFILE (the error pipe), and the
 *                          child's exec error: -ENOENT, -EACCES, -ENOEXEC, -E2BIG,
 *                          -ETXTBSY, -ENOMEM, or its setup error (dup2, chdir); the
 *                          failed child is reaped. The error record is read whole
 *                          (EINTR retried, short reads continued). A failed
 *                          pidfd_open (-EMFILE/-ENFILE/-ENOSYS) is not an error:
 *                          the object falls back to waitpid.
 *   ipc_proc_fork          -EAGAIN/-ENOMEM (fork, allocation), -EMFILE/-ENFILE
 *                          (the error pipe, when the child's setup can fail).
 *   ipc_proc_wait          EINTR is retried (waitpid, waitid, poll); with a
 *                          timeout, poll's -ENOMEM is returned.
 *   ipc_proc_kill, ipc_proc_kill_group  a signal to the object's own unreaped child
 *                          cannot fail; -ESRCH once reaped.
 *   ipc_proc_reap_orphans  EINTR is retried.
 *   ipc_proc_free, ipc_proc_status*, ipc_proc_signame, ipc_proc_pid/pidfd: none.
 */
#ifndef IPC_PROC_H
#define IPC_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "ipc/error.h"
#include "ipc/redir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A spawned child process (opaque). */
typedef struct ipc_proc ipc_proc;

/* How an argv child is created. AUTO picks the fastest available (vfork). Function
 * children (ipc_proc_fork) always use fork. */
enum ipc_proc_method {
    IPC_PROC_AUTO = 0,
    IPC_PROC_FORK = 1,        /* fork + exec; exec errors through a CLOEXEC error pipe */
    IPC_PROC_VFORK = 2,       /* vfork (CLONE_VM|CLONE_VFORK) + exec; on x86_64 through clone3
                               * with CLONE_CLEAR_SIGHAND (Linux 5.5+; vfork where refused
                               * and in sanitizer builds); exec errors via shared memory
                               * (clone3) or the error pipe (vfork) */
    IPC_PROC_POSIX_SPAWN = 3, /* posix_spawn / posix_spawnp (glibc reports exec errors) */
};

/* Option flags (struct ipc_proc_options.flags). */
#define IPC_PROC_F_PATH     0x1u /* search PATH for the file when it has no '/' (exec*p) */
#define IPC_PROC_F_STDIO    0x2u /* honour options.stdio[] */
#define IPC_PROC_F_SETPGID  0x4u /* the child leads a new process group (pgid == pid) */
#define IPC_PROC_F_NO_PIDFD 0x8u /* do not open a pidfd: forces the waitpid fallback */
#define IPC_PROC_F_ALL      0xfu

/* Spawn options. A zero-initialised struct (or a NULL pointer) means: AUTO method,
 * no PATH search, inherit environment, cwd, stdin/stdout/stderr. */
struct ipc_proc_options {
    enum ipc_proc_method method;
    unsigned flags;         /* IPC_PROC_F_* */
    const char *file;       /* program to execute; NULL = argv[0] (execl's "path" != arg0) */
    char *const *env;       /* NULL-terminated environment; NULL = inherit environ */
    const char *cwd;        /* chdir in the child before exec; NULL = inherit */
    int stdio[3];           /* with IPC_PROC_F_STDIO: fd dup2'ed onto 0/1/2, -1 = inherit */
    const ipc_redir *redir; /* optional plan applied in the child (redir.h); a
                             * target may not be set both here and in stdio[];
                             * both are resolved together, declaratively */
};

/* Spawns argv (NULL-terminated, argv[0] non-NULL) with opts (may be NULL).
 * Returns 0 and stores a new process object in *out; the caller owns it and must
 * ipc_proc_free it.
 * Errors: -EINVAL bad arguments/unknown flags; -ENOENT/-EACCES/-ENOEXEC/-ENOTDIR...
 * the exec error seen by the child (the child is already reaped); -EBADF a stdio fd
 * is not open; -EAGAIN/-ENOMEM fork limits; -ENOMEM allocation.
 * The parent's fds are inherited only if they are not close-on-exec; stdio fds and
 * redir plans are applied with dup2 so overlapping targets are safe. Signals, as
 * with libuv: the child starts with an empty signal mask (whatever the calling
 * thread blocks), caught signals revert to the default and ignored ones stay
 * ignored (exec's rule). */
IPC_MUST_USE int ipc_proc_spawn(ipc_proc **out, char *const argv[],
                                const struct ipc_proc_options *opts);

/* A child that runs fn(arg) in a forked copy of the caller and then calls
 * _exit(return value & 0xff) after flushing stdout and stderr. stdout is flushed in
 * the parent before fork so buffered output is not duplicated. opts->stdio/redir are
 * applied before fn runs; method must be AUTO or FORK, file/env/cwd must be NULL.
 * If the caller is multithreaded, fn may only use async-signal-safe functions.
 * Returns 0 and *out, or -EINVAL, -EAGAIN, -ENOMEM, -EBADF. */
typedef int (*ipc_proc_fn)(void *arg);
IPC_MUST_USE int ipc_proc_fork(ipc_proc **out, ipc_proc_fn fn, void *arg,
                               const struct ipc_proc_options *opts);

/* The exec family of the tutorial, as spawns (the caller keeps running):
 *   l  - arguments as a NULL-terminated list, v - as a vector;
 *   p  - PATH search when file has no '/' (PATH of the caller's environment,
 *        "/bin:/usr/bin" when unset; unlike execvp there is no /bin/sh fallback
 *        for ENOEXEC; when no entry runs, the error is -EACCES if an entry gave
 *        it, else the last entry's: an entry whose "dir/file" does not fit 4096
 *        bytes counts as -ENAMETOOLONG);
 *   e  - custom environment envp (NULL-terminated).
 * Without p, path is used as is (relative to the cwd). Lists are bounded by
 * IPC_PROC_MAX_ARGS. The method is AUTO. Returns as ipc_proc_spawn. */
#define IPC_PROC_MAX_ARGS 4096
IPC_MUST_USE int ipc_proc_spawnl(ipc_proc **out, const char *path, const char *arg0,
                                 ... /* (char *)NULL */);
IPC_MUST_USE int ipc_proc_spawnlp(ipc_proc **out, const char *file, const char *arg0,
                                  ... /* (char *)NULL */);
IPC_MUST_USE int ipc_proc_spawnv(ipc_proc **out, const char *path, char *const argv[]);
IPC_MUST_USE int ipc_proc_spawnvp(ipc_proc **out, const char *file, char *const argv[]);
IPC_MUST_USE int ipc_proc_spawnvpe(ipc_proc **out, const char *file, char *const argv[],
                                   char *const envp[]);

/* Decoded wait status. Exactly one of exited / signaled / stopped / continued is set
 * for a valid status. */
struct ipc_proc_status {
    int raw;    /* the waitpid status word */
    int exited; /* normal termination: code is the exit code (0..255) */
    int code;
    int signaled; /* killed by signal `signal`; core_dumped when a core was written */
    int signal;
    int core_dumped;
    int stopped;   /* stopped by signal `signal` (only with IPC_PROC_WAIT_UNTRACED) */
    int continued; /* resumed by SIGCONT (only with IPC_PROC_WAIT_UNTRACED) */
};

/* Fills *st from a raw waitpid status. Returns 0, or -EINVAL (st NULL, or raw is not
 * a status the kernel produces). Async-signal-safe, thread-safe. */
IPC_MUST_USE int ipc_proc_status_decode(int raw, struct ipc_proc_status *st);

/* Formats st as "exit 3", "signal 9 (SIGKILL)", "signal 11 (SIGSEGV, core dumped)",
 * "stopped by signal 19 (SIGSTOP)" or "continued" into buf (always NUL-terminated
 * when len > 0). Returns the length written, -ENOSPC when truncated (use
 * IPC_PROC_STATUS_MAX), -EINVAL for NULL arguments. Async-signal-safe, thread-safe. */
#define IPC_PROC_STATUS_MAX 64
IPC_MUST_USE int ipc_proc_status_format(const struct ipc_proc_status *st, char *buf, size_t len);

/* Shell-style exit status: code when exited, 128 + signal when signaled; -EINVAL
 * otherwise. Thread-safe. */
IPC_MUST_USE int ipc_proc_status_shell(const struct ipc_proc_status *st);

/* Name of a signal number: "SIGKILL", "SIGRTMIN+3"; "SIG?" when unknown. Static
 * storage except for real-time signals, which use a per-thread buffer. */
const char *ipc_proc_signame(int sig);

/* Waits for the child. timeout_ms: -1 (IPC_PROC_WAIT_FOREVER) blocks, 0 polls, > 0
 * waits at most that long (poll on a pidfd when the kernel has pidfd_open, otherwise
 * a waitpid WNOHANG loop with short back-off sleeps; SIGCHLD is never touched).
 * flags: 0 or IPC_PROC_WAIT_UNTRACED (also report stop / continue).
 * Returns 0 when the child terminated (it is reaped; *st filled, may be NULL), 1 for
 * a stop/continue event (UNTRACED only), -ETIMEDOUT when still running after the
 * timeout (also for timeout 0), -ECHILD when already reaped (the status stays
 * available from ipc_proc_status), -EINVAL for bad arguments. EINTR is retried. */
#define IPC_PROC_WAIT_FOREVER  (-1)
#define IPC_PROC_WAIT_UNTRACED 0x1u
IPC_MUST_USE int ipc_proc_wait(ipc_proc *p, int timeout_ms, unsigned flags,
                               struct ipc_proc_status *st);

/* Sends sig (0 probes) to the child, through pidfd_send_signal when a pidfd is held
 * (no pid-reuse race). Returns 0, -ESRCH once the child is reaped, -EINVAL, -EPERM. */
IPC_MUST_USE int ipc_proc_kill(ipc_proc *p, int sig);

/* Sends sig to the child's process group (needs IPC_PROC_F_SETPGID). Returns 0,
 * -ESRCH once reaped, -EINVAL when the child has no group of its own. */
IPC_MUST_USE int ipc_proc_kill_group(ipc_proc *p, int sig);

/* The child's pid (> 0), or -EINVAL for NULL. Still valid after reaping. */
pid_t ipc_proc_pid(const ipc_proc *p);

/* The pidfd (readable when the child terminates; owned by p, close-on-exec) for use
 * in a caller's poll/epoll loop, or -ENOSYS when none (old kernel, NO_PIDFD),
 * -EINVAL for NULL. Closed by ipc_proc_wait once the child is reaped. */
int ipc_proc_pidfd(const ipc_proc *p);

/* Status of a reaped child: 0 and *st, -EAGAIN while not reaped, -EINVAL. */
IPC_MUST_USE int ipc_proc_status(const ipc_proc *p, struct ipc_proc_status *st);

/* Frees p. A child that was not reaped yet is SIGKILLed and reaped first so that a
 * freed process never becomes a zombie (wait first to let it finish). NULL is a
 * no-op. */
void ipc_proc_free(ipc_proc *p);

/* Makes the calling process a child subreaper (prctl PR_SET_CHILD_SUBREAPER) when on
 * is non-zero, or stops being one. Orphaned descendants are then re-parented to it
 * instead of init. Returns 0, -EINVAL, or the prctl error. Thread-safe. */
IPC_MUST_USE int ipc_proc_set_subreaper(int on);
/* 1 when the process is a subreaper, 0 when not, or a negative error. */
IPC_MUST_USE int ipc_proc_is_subreaper(void);

/* Reaps adopted orphans: every terminated child of this process that is not owned by
 * a live ipc_proc object (a terminated owned child is reaped too, and its status is
 * handed to its object, so ipc_proc_wait still reports it). When no orphan was
 * reaped and timeout_ms != 0, waits up to timeout_ms for one (-1: until one is
 * reaped or no child is left). Returns the number of orphans reaped (>= 0; 0 also
 * when there is no child), or -EINVAL. Do not use it while other code in the process waits for its
 * own children with waitpid(-1) or by pid: it may take their statuses. Thread-safe. */
IPC_MUST_USE int ipc_proc_reap_orphans(int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
