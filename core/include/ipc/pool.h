/* ipc/pool.h - the multiprocessing model: a process object running a function in
 * a forked child, and a pool of worker processes that run a task function on byte
 * strings, talking to the parent over framed pipes (docs/design.md section 3).
 *
 * Fork rule: fork workers before starting threads. A pool forks its workers in
 * ipc_pool_new() and again whenever it replaces a dead worker, and a process object
 * forks in ipc_mp_process_start(). POSIX only allows async-signal-safe calls in the
 * child of a multi-threaded process until it execs, and these children never exec:
 * they run your function. The library's own code in the child is async-signal-safe
 * (read, write, close, _exit, and the frame codec on buffers allocated before the
 * fork), but your function is yours: if the parent has threads when the fork
 * happens, it must not take locks another thread may have held (malloc, stdio,
 * ...). Create pools and start processes before creating threads, and keep task
 * functions that may run in a replacement worker free of such calls, or accept
 * the (glibc-mitigated) risk knowingly.
 *
 * Children leave with _exit(): atexit handlers and stdio buffers inherited from
 * the parent are never run or flushed twice. A process object's child flushes
 * stdout/stderr after fn returns (ipc_proc_fork); in a threaded parent, end fn
 * with _exit() to skip that.
 *
 * Workers and process children are the caller's children: do not reap them
 * behind the library's back (waitpid(-1), ipc_proc_reap_orphans while a pool is
 * live). There is no internal thread: a pool advances (dispatches, reads results,
 * replaces dead workers) only inside submit, collect, map and close.
 *
 * Pool protocol (frames of docs/design.md section 3, one task pipe and one result pipe
 * per worker): TASK frames (type 1) carry id (8 bytes, big-endian) + input; RESULT
 * frames (type 2) carry id + status (int32, big-endian) + output; a QUIT frame
 * (type 3) or EOF on the task pipe makes a worker exit 0. One task is in flight
 * per worker; the others wait in the parent. A worker's death is seen as EOF on
 * its result pipe or through its pidfd (no SIGCHLD handler: the library never
 * touches signal dispositions); it is SIGKILLed if needed, reaped and replaced,
 * and its task is retried once; a task whose second run also loses its worker
 * completes with IPC_ECHILDLOST. A task sent to a worker that had died while idle
 * (before the parent noticed) counts as a run. A worker closes the other workers'
 * pipe ends but otherwise inherits the parent's fds like any fork; QUIT (not only
 * EOF) ends workers whose task pipe leaked into some other child.
 *
 * Memory: besides queued inputs and uncollected results, a pool holds max_in +
 * max_out bytes of frame buffers for its children (allocated before forking, so
 * that a worker never calls malloc) and 64 KiB of read buffer.
 *
 * Errors under faults (what harnesses/faultsweep.c observed with every seam call
 * of this module failed in turn; the same holds for real failures):
 *   ipc_mp_process_new     -ENOMEM.   ipc_mp_process_start  -EAGAIN/-ENOMEM (fork).
 *   ipc_mp_process_join    EINTR is retried; poll's -ENOMEM with a timeout.
 *   ipc_mp_process_terminate/kill  a signal to its own unreaped child cannot fail.
 *   ipc_pool_new           -ENOMEM, -EMFILE/-ENFILE (pipes), -EAGAIN/-ENOMEM (fork);
 *                          nothing is left behind.
 *   ipc_pool_submit, ipc_pool_map  -ENOMEM (queue copies).
 *   ipc_pool_collect       -ETIMEDOUT, -ENOENT; a failed pipe transfer with a
 *                          worker counts as its death (the task is retried once,
 *                          then completes with IPC_ECHILDLOST); a result that cannot
 *                          be copied completes with status -ENOMEM. Every accepted
 *                          task is collected exactly once (the sweep checks it).
 *   ipc_pool_close, ipc_pool_terminate, ipc_pool_free, ipc_pool_pids: none.
 */
#ifndef IPC_POOL_H
#define IPC_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc/error.h"
#include "ipc/proc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- process object (multiprocessing.Process) ------------------------------ */

typedef struct ipc_mp_process ipc_mp_process;

/* Runs in the child. Its return value becomes the exit code (& 0xff). */
typedef int (*ipc_mp_process_fn)(void *arg);

struct ipc_mp_process_options {
    unsigned flags; /* must be 0: reserved */
};

/* Creates a process object that will run fn(arg) in a child when started. NULL
 * opts means defaults. *out owns nothing but itself; arg is borrowed (the child
 * gets a copy-on-write copy of the address space at start).
 * Returns 0, -EINVAL (NULL out/fn, unknown flags) or -ENOMEM. Thread-safe. */
IPC_MUST_USE int ipc_mp_process_new(ipc_mp_process **out, ipc_mp_process_fn fn, void *arg,
                                    const struct ipc_mp_process_options *opts);

/* Forks the child, which runs fn(arg) and _exit()s with its return value.
 * Returns 0, -EALREADY if already started, -EAGAIN/-ENOMEM if fork failed.
 * See the fork rule at the top of this file. Not thread-safe per object. */
IPC_MUST_USE int ipc_mp_process_start(ipc_mp_process *p);

/* Waits for the child to end, at most timeout_ms milliseconds (-1: forever, 0:
 * poll), reaps it and stores its status; later calls return the stored status.
 * status may be NULL. Returns 0 when the child has ended (status filled),
 * -ETIMEDOUT if it still runs at the deadline, -EINVAL (not started, timeout_ms
 * < -1). Never leaves a zombie once it returned 0. Not thread-safe per object. */
IPC_MUST_USE int ipc_mp_process_join(ipc_mp_process *p, int timeout_ms,
                                     struct ipc_proc_status *status);

/* Sends SIGTERM / SIGKILL to a started, not yet reaped child. Returns 0, -ESRCH if
 * the child was already reaped (nothing to signal), -EINVAL if not started. The
 * child is not reaped: call ipc_mp_process_join. */
IPC_MUST_USE int ipc_mp_process_terminate(ipc_mp_process *p);
IPC_MUST_USE int ipc_mp_process_kill(ipc_mp_process *p);

/* Returns 1 if the child is started and still running, 0 otherwise (not started,
 * or ended: an ended child is reaped here and its status kept for join), or a
 * negative errno if waitpid failed unexpectedly. */
IPC_MUST_USE int ipc_mp_process_is_alive(ipc_mp_process *p);

/* Returns the child's pid (still valid after reaping), or 0 if not started. */
pid_t ipc_mp_process_pid(const ipc_mp_process *p);

/* Frees the object. A child still running is SIGKILLed and reaped first so that
 * freeing never leaves a zombie or an orphan. NULL is a no-op.
 * None of the ipc_mp_process functions is async-signal-safe; distinct objects may be
 * used from different threads, one object from one thread at a time. */
void ipc_mp_process_free(ipc_mp_process *p);

/* ---- worker pool (multiprocessing.Pool) ------------------------------------ */

typedef struct ipc_pool ipc_pool;

/* The task function, run in a worker process for every task. in/in_len are the
 * submitted bytes; the function writes at most out_cap bytes to out and sets
 * *out_len (initially 0). Return >= 0 for success (the bytes are the result), or
 * a negative code to report the task failed with that code (out is ignored).
 * Setting *out_len > out_cap is reported as -EOVERFLOW. arg is the pool's arg
 * (the worker's copy-on-write copy). The function runs after fork(): see the
 * fork rule above. A worker that dies inside it (signal, _exit, ...) is replaced
 * and the task retried once; a second death reports IPC_ECHILDLOST. */
typedef int (*ipc_pool_fn)(const void *in, size_t in_len, void *out, size_t out_cap,
                           size_t *out_len, void *arg);

/* Limits: a task input or result above the configured maximum is rejected before
 * anything is allocated. */
#define IPC_POOL_MAX_WORKERS         256u
#define IPC_POOL_MAX_BYTES           (64u * 1024u * 1024u) /* ceiling for max_in / max_out */
#define IPC_POOL_DEFAULT_BYTES       (1024u * 1024u)
#define IPC_POOL_DEFAULT_MAX_PENDING 65536u

/* Pool options; a zero-initialised struct (or NULL) means defaults. */
struct ipc_pool_options {
    unsigned workers;   /* 0: number of online CPUs; at most IPC_POOL_MAX_WORKERS */
    size_t max_in;      /* 0: IPC_POOL_DEFAULT_BYTES; at most IPC_POOL_MAX_BYTES */
    size_t max_out;     /* 0: IPC_POOL_DEFAULT_BYTES; at most IPC_POOL_MAX_BYTES */
    size_t max_pending; /* submitted but not collected; 0: IPC_POOL_DEFAULT_MAX_PENDING */
    unsigned flags;     /* must be 0: reserved */
};

/* One collected result. data is malloc'ed and owned by the caller: release it
 * with ipc_pool_result_free (or free(data)). */
struct ipc_pool_result {
    uint64_t id; /* the id ipc_pool_submit returned */
    int status;  /* 0: ok; < 0: failed: the task function's code, -EOVERFLOW
                    (it claimed more than out_cap), IPC_ECHILDLOST (two worker
                    deaths), -ECANCELED (terminate / close deadline), -ENOMEM
                    (result copy), or fork's error when no worker could be started.
                    A corrupt result frame counts as a worker death. */
    void *data;  /* NULL when len == 0 or failed */
    size_t len;
};

/* Creates a pool of opts->workers processes running fn (fork rule above). NULL
 * opts means defaults. Every fd is close-on-exec; each worker has its own task pipe
 * and result pipe; a worker closes the other workers' pipe ends.
 * Returns 0, -EINVAL (NULL out/fn, limits out of range, unknown flags), -ENOMEM,
 * -EMFILE, or fork's -EAGAIN. On
 * failure nothing is left behind (children reaped, fds closed). Not thread-safe
 * with respect to other forks in the process (see the fork rule). */
IPC_MUST_USE int ipc_pool_new(ipc_pool **out, ipc_pool_fn fn, void *arg,
                              const struct ipc_pool_options *opts);

/* Queues a copy of len bytes as a task; *id receives its id (ids start at 1 and
 * increase). Tasks are sent to idle workers (one task in flight per worker), the
 * rest wait in the parent's queue. Returns 0, -EINVAL (NULL pool/id, NULL in with
 * len > 0), -EMSGSIZE (len > max_in), -EAGAIN (max_pending tasks already
 * submitted and not collected: collect first), -EPIPE after close/terminate began,
 * -ENOMEM. Thread-safe. Writing to a worker's pipe blocks SIGPIPE in the calling
 * thread for the duration of the write only (a pending SIGPIPE it caused is
 * consumed); the process-wide disposition is never changed. */
IPC_MUST_USE int ipc_pool_submit(ipc_pool *p, const void *in, size_t len, uint64_t *id);

/* Waits at most timeout_ms (-1: forever, 0: poll) for the next completed task
 * submitted with ipc_pool_submit, in completion order, and moves it to *res.
 * Returns 0 (res filled; res->status says ok or failed), -ENOENT if nothing is
 * outstanding (every submitted task already collected: returning rather than
 * blocking forever), -ETIMEDOUT, -EINVAL. Thread-safe: concurrent collectors each
 * get distinct results; one of them drives the pool (dispatch, reading results,
 * replacing dead workers) while the others wait on a condition variable. */
IPC_MUST_USE int ipc_pool_collect(ipc_pool *p, int timeout_ms, struct ipc_pool_result *res);

/* One input of ipc_pool_map. */
struct ipc_pool_buf {
    const void *data;
    size_t len;
};

/* Runs n inputs through the pool and stores result i (of input i) in res[i], in
 * input order; results of map are never returned by ipc_pool_collect and the
 * results of other submitters are left for them. Returns 0 when every res[i] is
 * filled (check each res[i].status), -EINVAL (NULL arguments, NULL data with
 * len > 0), -EMSGSIZE (an input above max_in; both checked before anything is
 * submitted), -EPIPE if the pool was or got closed, -ENOMEM. On failure no res[i]
 * needs releasing. At most 4 * workers + 4 inputs are copied at a time. The
 * max_pending limit does not apply. Thread-safe. */
IPC_MUST_USE int ipc_pool_map(ipc_pool *p, const struct ipc_pool_buf *in, size_t n,
                              struct ipc_pool_result *res);

/* Frees res->data and zeroes *res. NULL is a no-op. */
void ipc_pool_result_free(struct ipc_pool_result *res);

/* Graceful shutdown: stops accepting submissions (-EPIPE), runs every queued task
 * to completion (results stay collectable until ipc_pool_free), then closes each
 * worker's task pipe so that it exits, and reaps every worker. timeout_ms bounds
 * the whole drain (-1: forever); at the deadline the remaining workers are killed
 * like ipc_pool_terminate. Returns 0 (also when the pool was already stopped),
 * -ETIMEDOUT (drained by force: unfinished tasks are reported with status
 * -ECANCELED), -ECANCELED (ipc_pool_terminate from another thread cut the drain
 * short), -EINVAL. Thread-safe, but meant to be called once; a map running in
 * another thread stops submitting and returns -EPIPE once its tasks are done.
 * Not async-signal-safe (no pool function is). */
IPC_MUST_USE int ipc_pool_close(ipc_pool *p, int timeout_ms);

/* Abort path: SIGKILLs every worker and reaps it; queued and running tasks are
 * reported with status -ECANCELED (collectable until ipc_pool_free; a map in
 * progress returns -EPIPE). Interrupts a collect, map or close blocked in another
 * thread. Returns 0 or -EINVAL. Thread-safe. */
IPC_MUST_USE int ipc_pool_terminate(ipc_pool *p);

/* Number of live workers and their pids (at most cap written). Returns the
 * number of live workers, or -EINVAL. Thread-safe. Pids change when a worker is
 * replaced. */
IPC_MUST_USE int ipc_pool_pids(ipc_pool *p, pid_t *pids, size_t cap);

/* Number of worker replacements so far (workers that died and were re-forked). */
uint64_t ipc_pool_replacements(ipc_pool *p);

/* Frees the pool; terminates it first if it was not closed. Results not collected
 * are freed. NULL is a no-op. No other thread may be using the pool. */
void ipc_pool_free(ipc_pool *p);

#ifdef __cplusplus
}
#endif
#endif
