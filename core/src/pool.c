/* pool.c - process object and worker pool (see ipc/pool.h).
 *
 * Pool architecture. Every worker has a task pipe (parent writes frames of type
 * TASK: id + input bytes) and a result pipe (worker writes frames of type RESULT:
 * id + int32 status + output bytes). One task is in flight per worker; the rest
 * waits in the parent's FIFO. There is no internal thread: the pool advances
 * inside the public calls. At most one thread at a time holds the "poller" role
 * (p->polling): it polls every result pipe, pidfd and the wake pipe *without* the
 * mutex, then takes the mutex to decode results, detect deaths and replace
 * workers. Other threads only enqueue and write tasks to idle workers under the
 * mutex, and wait on the condition variable for results. Only the poller closes
 * worker fds, so the fds in its poll set stay valid while it sleeps.
 *
 * Death: EOF on the result pipe or a readable pidfd (the latter also covers a
 * write end leaked into another process). The worker is SIGKILLed (in case it only
 * closed its pipe), reaped, replaced, and its task goes back to the head of the
 * queue unless it already had two attempts, in which case it fails with
 * IPC_ECHILDLOST.
 *
 * The child never allocates: its frame buffers are allocated by the parent before
 * the fork (each child gets a copy-on-write copy), the decoder is only fed whole
 * frames (zero-copy path), and the encoder builds the result in place.
 */
#include "ipc/pool.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#ifdef IPC_TEST_FAULTS
#include "ipc_test_faults.h"
#endif
#include "ipc/frame.h"
#include "ipc/pipe.h"
#include "ipc/proc.h"

/* ---- process object ----------------------------------------------------------- */

struct ipc_mp_process {
    ipc_mp_process_fn fn;
    void *arg;
    ipc_proc *proc; /* NULL until started */
    bool reaped;
    struct ipc_proc_status st;
};

int ipc_mp_process_new(ipc_mp_process **out, ipc_mp_process_fn fn, void *arg,
                       const struct ipc_mp_process_options *opts)
{
    if (out)
        *out = NULL;
    if (!out || !fn || (opts && opts->flags != 0))
        return -EINVAL;
    ipc_mp_process *p = ipc__sys_calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->fn = fn;
    p->arg = arg;
    *out = p;
    return 0;
}

int ipc_mp_process_start(ipc_mp_process *p)
{
    if (!p)
        return -EINVAL;
    if (p->proc)
        return -EALREADY;
    return ipc_proc_fork(&p->proc, p->fn, p->arg, NULL);
}

/* Records the status of a child that ipc_proc_wait reports as already reaped. */
static int process_take_status(ipc_mp_process *p)
{
    int rc = ipc_proc_status(p->proc, &p->st);
    if (rc < 0)
        return rc;
    p->reaped = true;
    return 0;
}

int ipc_mp_process_join(ipc_mp_process *p, int timeout_ms, struct ipc_proc_status *status)
{
    if (!p || timeout_ms < -1 || !p->proc)
        return -EINVAL;
    if (!p->reaped) {
        int rc = ipc_proc_wait(p->proc, timeout_ms, 0, &p->st);
        if (rc == 0)
            p->reaped = true;
        else if (rc == -ECHILD)
            rc = process_take_status(p);
        if (rc < 0)
            return rc;
    }
    if (status)
        *status = p->st;
    return 0;
}

static int process_signal(ipc_mp_process *p, int sig)
{
    if (!p || !p->proc)
        return -EINVAL;
    if (p->reaped)
        return -ESRCH;
    return ipc_proc_kill(p->proc, sig);
}

int ipc_mp_process_terminate(ipc_mp_process *p)
{
    return process_signal(p, SIGTERM);
}

int ipc_mp_process_kill(ipc_mp_process *p)
{
    return process_signal(p, SIGKILL);
}

int ipc_mp_process_is_alive(ipc_mp_process *p)
{
    if (!p)
        return -EINVAL;
    if (!p->proc || p->reaped)
        return 0;
    int rc = ipc_proc_wait(p->proc, 0, 0, &p->st);
    if (rc == -ETIMEDOUT)
        return 1;
    if (rc == 0) {
        p->reaped = true;
        return 0;
    }
    if (rc == -ECHILD) {
        rc = process_take_status(p);
        return rc < 0 ? rc : 0;
    }
    return rc;
}

pid_t ipc_mp_process_pid(const ipc_mp_process *p)
{
    if (!p || !p->proc)
        return 0;
    return ipc_proc_pid(p->proc);
}

void ipc_mp_process_free(ipc_mp_process *p)
{
    if (!p)
        return;
    ipc_proc_free(p->proc); /* kills and reaps a child still running */
    free(p);
}

/* ---- pool: data structures ---------------------------------------------------- */

enum { FRAME_TASK = 1, FRAME_RESULT = 2, FRAME_QUIT = 3 };
enum { TASK_HDR = 8, RESULT_HDR = 12 }; /* id / id + status */
enum { POOL_OPEN, POOL_CLOSING, POOL_STOPPED };
#define READ_CHUNK 65536u

struct map_ctx;

struct task {
    struct task *next;
    uint64_t id;
    struct map_ctx *owner; /* NULL: collected with ipc_pool_collect */
    size_t index;          /* position in owner->res */
    int attempts;          /* executions started */
    struct result *res;    /* public tasks: the result node, allocated at submit so
                              that completion never fails to allocate it */
    size_t len;            /* TASK_HDR + input bytes */
    unsigned char buf[];   /* id (big-endian) then the input */
};

struct result {
    struct result *next;
    struct ipc_pool_result r;
};

struct map_ctx {
    struct ipc_pool_result *res;
    size_t done;
};

struct worker {
    ipc_proc *proc; /* NULL: slot empty */
    int task_fd;    /* write end of the task pipe */
    int result_fd;  /* read end of the result pipe, non-blocking */
    struct ipc_frame_dec dec;
    struct task *cur; /* in flight, or NULL when idle */
    bool broken;      /* a write failed: the poller must retire it */
};

struct ipc_pool {
    ipc_pool_fn fn;
    void *arg;
    unsigned nworkers;
    size_t max_in, max_out, max_pending;
#ifdef IPC_TEST_FAULTS
    enum ipc_pool_fault fault;
    unsigned long fault_nth;
#endif

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;
    bool polling;    /* some thread holds the poller role */
    int role_wanted; /* close/terminate waiting for the role: collectors yield */
    bool abort_req;  /* terminate is waiting: a draining close gives up */
    struct ipc_pipe wake;

    struct worker *w;
    struct task *qhead, *qtail;
    struct result *rhead, *rtail;
    size_t outstanding; /* public tasks queued or in flight */
    size_t ready;       /* public results not yet collected */
    uint64_t next_id;
    uint64_t replacements;
    uint64_t completed; /* tasks completed so far (public and map) */
#ifdef IPC_TEST_FAULTS
    unsigned long completions; /* public completions since the fault was set */
#endif

    unsigned char *rbuf;      /* READ_CHUNK bytes, used by the poller */
    unsigned char *child_in;  /* the child's task frame buffer */
    unsigned char *child_out; /* the child's result frame buffer */
    struct pollfd *pfd;       /* 2 * nworkers + 1 */
};

/* ---- time ------------------------------------------------------------------------ */

/* Deadline in ms of CLOCK_MONOTONIC, or -1 for none. */
static int64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : ipc__now_ms() + timeout_ms;
}

static int remaining_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - ipc__now_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* Waits on the pool's condition variable until woken or the deadline. */
static void cv_wait(ipc_pool *p, int64_t deadline)
{
    if (deadline < 0) {
        pthread_cond_wait(&p->cv, &p->mu);
        return;
    }
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

/* ---- the worker process ---------------------------------------------------------- */

struct child_ctx {
    ipc_pool *p;
    int task_rd, result_wr; /* the child's ends */
    int task_wr, result_rd; /* the parent's ends of this worker's pipes */
};

/* Runs in the forked worker; never returns. Only async-signal-safe calls besides
 * the user's function: read, write, close, _exit and the codec on whole frames in
 * buffers allocated before the fork. */
static int worker_main(void *arg)
{
    struct child_ctx *c = arg;
    ipc_pool *p = c->p;

    /* Other workers' pipe ends would keep their EOFs from ever being seen. */
    for (unsigned i = 0; i < p->nworkers; i++) {
        if (p->w[i].task_fd >= 0)
            close(p->w[i].task_fd);
        if (p->w[i].result_fd >= 0)
            close(p->w[i].result_fd);
    }
    close(c->task_wr);
    close(c->result_rd);
    ipc_pipe_close(&p->wake);

    struct ipc_frame_dec dec;
    if (ipc_frame_dec_init(&dec, TASK_HDR + p->max_in) < 0)
        ipc__exit_child(120);
    unsigned char *in = p->child_in, *out = p->child_out;
    size_t out_cap = IPC_FRAME_HEADER_SIZE + RESULT_HDR + p->max_out + IPC_FRAME_TRAILER_SIZE;

    for (;;) {
        ssize_t n = ipc_pipe_read_full(c->task_rd, in, IPC_FRAME_HEADER_SIZE);
        if (n == 0)
            ipc__exit_child(0); /* the parent closed our task pipe: orderly exit */
        if (n != IPC_FRAME_HEADER_SIZE)
            ipc__exit_child(121);
        /* Bound the length before reading the rest; magic, version and CRC are
         * checked by the decoder on the whole frame. */
        uint32_t len = ipc__load_be32(in + 4);
        if (len > TASK_HDR + p->max_in)
            ipc__exit_child(122);
        size_t rest = (size_t)len + IPC_FRAME_TRAILER_SIZE;
        if (ipc_pipe_read_full(c->task_rd, in + IPC_FRAME_HEADER_SIZE, rest) != (ssize_t)rest)
            ipc__exit_child(123);
        struct ipc_frame f;
        ssize_t used = ipc_frame_decode(&dec, in, IPC_FRAME_HEADER_SIZE + rest, &f);
        if (used != (ssize_t)(IPC_FRAME_HEADER_SIZE + rest))
            ipc__exit_child(124);
        if (f.type == FRAME_QUIT)
            ipc__exit_child(0);
        if (f.type != FRAME_TASK || f.len < TASK_HDR)
            ipc__exit_child(125);

        unsigned char *body = out + IPC_FRAME_HEADER_SIZE;
        size_t out_len = 0;
        int rc = p->fn(f.payload + TASK_HDR, f.len - TASK_HDR, body + RESULT_HDR, p->max_out,
                       &out_len, p->arg);
        if (rc >= 0 && out_len > p->max_out)
            rc = -EOVERFLOW;
        if (rc < 0)
            out_len = 0;
        else
            rc = 0;
        memcpy(body, f.payload, TASK_HDR); /* the id, echoed */
        ipc__store_be32(body + TASK_HDR, (uint32_t)rc);
        ssize_t fs = ipc_frame_encode(out, out_cap, FRAME_RESULT, body, RESULT_HDR + out_len);
        if (fs < 0)
            ipc__exit_child(126);
        /* No SIGPIPE guard (not async-signal-safe): if the parent is gone, SIGPIPE
         * ends this worker, which is what should happen. */
        if (ipc_pipe_write_all(c->result_wr, out, (size_t)fs, IPC_PIPE_NO_SIGPIPE_GUARD) != fs)
            ipc__exit_child(127);
    }
}

/* Forks a worker into slot i (mutex held or single-threaded creation). */
static int spawn_worker(ipc_pool *p, unsigned i)
{
    struct worker *w = &p->w[i];
    struct ipc_pipe tp, rp;
    int rc = ipc_pipe_open(&tp, 0);
    if (rc < 0)
        return rc;
    rc = ipc_pipe_open(&rp, 0);
    if (rc < 0) {
        ipc_pipe_close(&tp);
        return rc;
    }
    struct child_ctx c = {
        .p = p, .task_rd = tp.rd, .result_wr = rp.wr, .task_wr = tp.wr, .result_rd = rp.rd};
    ipc_proc *proc = NULL;
    rc = ipc_proc_fork(&proc, worker_main, &c, NULL);
    close(tp.rd);
    close(rp.wr);
    if (rc < 0) {
        close(tp.wr);
        close(rp.rd);
        return rc;
    }
    rc = ipc_pipe_set_nonblock(rp.rd, 1);
    if (rc >= 0)
        rc = ipc_frame_dec_init(&w->dec, RESULT_HDR + p->max_out);
    if (rc < 0) {
        close(tp.wr);
        close(rp.rd);
        ipc_proc_free(proc); /* kills and reaps */
        return rc;
    }
    w->proc = proc;
    w->task_fd = tp.wr;
    w->result_fd = rp.rd;
    w->cur = NULL;
    w->broken = false;
    return 0;
}

/* Kills (if needed) and reaps the worker in slot i and closes its fds. */
static void retire_worker(ipc_pool *p, unsigned i, bool force)
{
    struct worker *w = &p->w[i];
    if (!w->proc)
        return;
    ipc__close_invalidate(&w->task_fd);
    ipc__close_invalidate(&w->result_fd);
    if (force) /* -ESRCH when already gone: the reap below collects it */
        IPC__IGNORE_RC(ipc_proc_kill(w->proc, SIGKILL));
    /* Without force the worker was told to exit and ipc_proc_free still kills it
     * if it has not, so this never blocks on a hung worker. */
    ipc_proc_free(w->proc);
    w->proc = NULL;
    ipc_frame_dec_free(&w->dec);
    w->broken = false;
}

static unsigned live_workers(const ipc_pool *p)
{
    unsigned n = 0;
    for (unsigned i = 0; i < p->nworkers; i++)
        n += p->w[i].proc != NULL;
    return n;
}

/* ---- queues and completion ---------------------------------------------------------- */

static void queue_push_back(ipc_pool *p, struct task *t)
{
    t->next = NULL;
    if (p->qtail)
        p->qtail->next = t;
    else
        p->qhead = t;
    p->qtail = t;
}

static void queue_push_front(ipc_pool *p, struct task *t)
{
    t->next = p->qhead;
    p->qhead = t;
    if (!p->qtail)
        p->qtail = t;
}

static struct task *queue_pop(ipc_pool *p)
{
    struct task *t = p->qhead;
    if (t) {
        p->qhead = t->next;
        if (!p->qhead)
            p->qtail = NULL;
        t->next = NULL;
    }
    return t;
}

static void result_append(ipc_pool *p, struct result *r)
{
    r->next = NULL;
    if (p->rtail)
        p->rtail->next = r;
    else
        p->rhead = r;
    p->rtail = r;
    p->ready++;
}

/* Fills out with status and a copy of the bytes; a failed copy turns into a
 * failed task rather than a lost one. */
static void fill_result(struct ipc_pool_result *out, uint64_t id, int status, const void *data,
                        size_t len)
{
    out->id = id;
    out->status = status;
    out->data = NULL;
    out->len = 0;
    if (status == 0 && len > 0) {
        out->data = ipc__sys_malloc(len);
        if (!out->data) {
            out->status = -ENOMEM;
            return;
        }
        memcpy(out->data, data, len);
        out->len = len;
    }
}

/* Turns a task into its result and frees it. Mutex held. */
static void complete_task(ipc_pool *p, struct task *t, int status, const void *data, size_t len)
{
    p->completed++;
    if (t->owner) {
        fill_result(&t->owner->res[t->index], t->id, status, data, len);
        t->owner->done++;
    } else {
        p->outstanding--;
        struct result *r = t->res;
        fill_result(&r->r, t->id, status, data, len);
#ifdef IPC_TEST_FAULTS
        if (p->fault && ++p->completions == p->fault_nth) {
            if (p->fault == IPC_POOL_FAULT_DROP_RESULT) {
                free(r->r.data);
                free(r);
                r = NULL;
            } else {
                /* Plain malloc, not the fault seam: an injected ENOMEM here would
                 * silently cancel the planted bug the self-test must catch. */
                struct result *dup = malloc(sizeof(*dup));
                if (dup) {
                    fill_result(&dup->r, t->id, status, data, len);
                    result_append(p, dup);
                } else {
                    p->completions--; /* plant it on the next completion instead */
                }
            }
        }
#endif
        if (r)
            result_append(p, r);
    }
    free(t);
    pthread_cond_broadcast(&p->cv);
}

/* Fails every queued task with err. Mutex held. */
static void fail_queue(ipc_pool *p, int err)
{
    struct task *t;
    while ((t = queue_pop(p)) != NULL)
        complete_task(p, t, err, NULL, 0);
}

/* ---- dispatch and events --------------------------------------------------------- */

/* Sends queued tasks to idle workers. Mutex held; any thread may call it (it only
 * writes to task pipes and never closes fds). Returns whether it marked a worker
 * broken: only the poller retires it, and a broken worker that is still alive
 * raises no event to wake the poller. */
static bool dispatch(ipc_pool *p)
{
    bool broke = false;
    for (unsigned i = 0; i < p->nworkers && p->qhead; i++) {
        struct worker *w = &p->w[i];
        if (!w->proc || w->cur || w->broken)
            continue;
        struct task *t = queue_pop(p);
        /* Blocking write: the worker is idle, so it is reading. The pipe guard
         * keeps SIGPIPE from killing us if it died meanwhile. */
        ssize_t rc = ipc_frame_write_fd(w->task_fd, FRAME_TASK, t->buf, t->len, 0);
        if (rc != (ssize_t)(t->len + IPC_FRAME_OVERHEAD)) {
            /* Dead (EPIPE) or otherwise unusable, or a short count (EAGAIN after
             * part of the frame): the worker cannot run a part of a task, and
             * would wait for the rest forever. The task never ran there. */
            w->broken = true;
            broke = true;
            queue_push_front(p, t);
            continue;
        }
        t->attempts++;
        w->cur = t;
    }
    return broke;
}

/* The worker in slot i died or misbehaved: reap it, retry or fail its task,
 * replace it. Mutex held, poller role held. */
static void worker_lost(ipc_pool *p, unsigned i)
{
    struct worker *w = &p->w[i];
    struct task *t = w->cur;
    w->cur = NULL;
    retire_worker(p, i, true);
    if (t) {
        if (t->attempts >= 2)
            complete_task(p, t, IPC_ECHILDLOST, NULL, 0);
        else
            queue_push_front(p, t);
    }
    if (p->state == POOL_STOPPED)
        return;
    int rc = spawn_worker(p, i);
    if (rc == 0) {
        p->replacements++;
    } else if (live_workers(p) == 0) {
        /* Nobody is left to run the queue: report rather than hang collectors. */
        fail_queue(p, rc);
    }
}

/* Handles one decoded frame from worker i. Returns false on a protocol error. */
static bool handle_frame(ipc_pool *p, unsigned i, const struct ipc_frame *f)
{
    struct worker *w = &p->w[i];
    if (f->type != FRAME_RESULT || f->len < RESULT_HDR || !w->cur)
        return false;
    if (ipc__load_be64(f->payload) != w->cur->id)
        return false;
    int status = (int)ipc__load_be32(f->payload + TASK_HDR);
    if (status > 0)
        return false;
    struct task *t = w->cur;
    w->cur = NULL;
    complete_task(p, t, status, f->payload + RESULT_HDR, f->len - RESULT_HDR);
    return true;
}

/* Reads what worker i has written. Returns false when the worker is gone (EOF, a
 * read error, or a protocol error). Mutex held, poller role held. */
static bool drain_worker(ipc_pool *p, unsigned i)
{
    struct worker *w = &p->w[i];
    for (;;) {
        ssize_t n = ipc__sys_read(w->result_fd, p->rbuf, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0)
            return false;
        size_t off = 0;
        while (off < (size_t)n) {
            struct ipc_frame f;
            ssize_t used = ipc_frame_decode(&w->dec, p->rbuf + off, (size_t)n - off, &f);
            if (used == IPC_ENEEDMORE)
                break;
            if (used <= 0 || !handle_frame(p, i, &f))
                return false;
            off += (size_t)used;
        }
    }
}

/* One round of the poller: dispatch, wait up to timeout_ms for worker events, then
 * handle them. Called with the mutex and the poller role held; drops the mutex
 * while sleeping. */
static void pump(ipc_pool *p, int timeout_ms)
{
    uint64_t completed = p->completed;
    int spawn_err = 0;
    for (unsigned i = 0; i < p->nworkers; i++) {
        if (p->w[i].proc && p->w[i].broken) {
            worker_lost(p, i);
        } else if (!p->w[i].proc && p->state != POOL_STOPPED) {
            /* A replacement that failed earlier (fork limits): try again. */
            int rc = spawn_worker(p, i);
            if (rc == 0)
                p->replacements++;
            else
                spawn_err = rc;
        }
    }
    if (spawn_err && live_workers(p) == 0)
        fail_queue(p, spawn_err);
    /* Only look, do not sleep, when tasks completed above (a lost worker's, or the
     * queue failed for want of workers: the caller has something to take; with no
     * worker left the poll would wait out the whole timeout) or when dispatch
     * broke a worker (the next round must retire it). */
    if (dispatch(p) || p->completed != completed)
        timeout_ms = 0;

    nfds_t n = 0;
    p->pfd[n++] = (struct pollfd){.fd = p->wake.rd, .events = POLLIN};
    for (unsigned i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->w[i];
        p->pfd[n++] = (struct pollfd){.fd = w->proc ? w->result_fd : -1, .events = POLLIN};
        int pidfd = w->proc ? ipc_proc_pidfd(w->proc) : -1;
        p->pfd[n++] = (struct pollfd){.fd = pidfd >= 0 ? pidfd : -1, .events = POLLIN};
    }
    pthread_mutex_unlock(&p->mu);
    int rc = ipc__sys_poll(p->pfd, n, timeout_ms);
    int err = errno;
    pthread_mutex_lock(&p->mu);
    if (rc < 0 && err != EINTR)
        return; /* (ENOMEM) the caller's loop retries until its deadline */
    if (rc <= 0)
        return;
    if (p->pfd[0].revents) {
        char buf[64];
        while (ipc__sys_read(p->wake.rd, buf, sizeof(buf)) > 0)
            ;
    }
    for (unsigned i = 0; i < p->nworkers; i++) {
        struct pollfd *rf = &p->pfd[1 + 2 * i], *pf = &p->pfd[2 + 2 * i];
        if (!p->w[i].proc || !(rf->revents | pf->revents))
            continue;
        /* Results written just before a death still count: drain first. */
        bool alive = drain_worker(p, i);
        if (!alive || pf->revents || p->w[i].broken)
            worker_lost(p, i);
    }
    dispatch(p);
}

static void wake_poller(ipc_pool *p)
{
    char c = 1;
    ssize_t rc = ipc__sys_write(p->wake.wr, &c, 1); /* full pipe: already awake */
    (void)rc;
}

/* Takes the poller role, waiting for the current holder. Mutex held. */
static void acquire_role(ipc_pool *p)
{
    p->role_wanted++;
    while (p->polling) {
        wake_poller(p);
        pthread_cond_wait(&p->cv, &p->mu);
    }
    p->role_wanted--;
    p->polling = true;
}

static void release_role(ipc_pool *p)
{
    p->polling = false;
    pthread_cond_broadcast(&p->cv);
}

/* ---- pool: public API ------------------------------------------------------------- */

static void pool_destroy(ipc_pool *p)
{
    for (unsigned i = 0; p->w && i < p->nworkers; i++)
        retire_worker(p, i, true);
    struct result *r = p->rhead;
    while (r) {
        struct result *next = r->next;
        free(r->r.data);
        free(r);
        r = next;
    }
    struct task *t = p->qhead;
    while (t) {
        struct task *next = t->next;
        free(t->res);
        free(t);
        t = next;
    }
    ipc_pipe_close(&p->wake);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->w);
    free(p->pfd);
    free(p->rbuf);
    free(p->child_in);
    free(p->child_out);
    free(p);
}

int ipc_pool_new(ipc_pool **out, ipc_pool_fn fn, void *arg, const struct ipc_pool_options *opts)
{
    if (out)
        *out = NULL;
    struct ipc_pool_options o = {0};
    if (opts)
        o = *opts;
    if (!out || !fn || o.flags != 0 || o.workers > IPC_POOL_MAX_WORKERS ||
        o.max_in > IPC_POOL_MAX_BYTES || o.max_out > IPC_POOL_MAX_BYTES)
        return -EINVAL;
    if (o.workers == 0)
        o.workers = ipc__cpu_count(IPC_POOL_MAX_WORKERS);
    if (o.max_in == 0)
        o.max_in = IPC_POOL_DEFAULT_BYTES;
    if (o.max_out == 0)
        o.max_out = IPC_POOL_DEFAULT_BYTES;
    if (o.max_pending == 0)
        o.max_pending = IPC_POOL_DEFAULT_MAX_PENDING;

    ipc_pool *p = ipc__sys_calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->fn = fn;
    p->arg = arg;
    p->nworkers = o.workers;
    p->max_in = o.max_in;
    p->max_out = o.max_out;
    p->max_pending = o.max_pending;
    p->next_id = 1;
    p->wake.rd = p->wake.wr = -1;

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&p->mu, NULL);

    p->w = ipc__sys_calloc(o.workers, sizeof(*p->w));
    p->pfd = ipc__sys_calloc(2 * (size_t)o.workers + 1, sizeof(*p->pfd));
    p->rbuf = ipc__sys_malloc(READ_CHUNK);
    p->child_in = ipc__sys_malloc(IPC_FRAME_OVERHEAD + TASK_HDR + o.max_in);
    p->child_out = ipc__sys_malloc(IPC_FRAME_OVERHEAD + RESULT_HDR + o.max_out);
    int rc = -ENOMEM;
    if (!p->w || !p->pfd || !p->rbuf || !p->child_in || !p->child_out)
        goto fail;
    for (unsigned i = 0; i < o.workers; i++)
        p->w[i].task_fd = p->w[i].result_fd = -1;
    rc = ipc_pipe_open(&p->wake, IPC_PIPE_NONBLOCK);
    if (rc < 0)
        goto fail;
    for (unsigned i = 0; i < o.workers; i++) {
        rc = spawn_worker(p, i);
        if (rc < 0)
            goto fail;
    }
    *out = p;
    return 0;
fail:
    pool_destroy(p);
    return rc;
}

static struct task *task_new(ipc_pool *p, const void *in, size_t len)
{
    struct task *t = ipc__sys_malloc(sizeof(*t) + TASK_HDR + len);
    if (!t)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->id = p->next_id++;
    t->len = TASK_HDR + len;
    ipc__store_be64(t->buf, t->id);
    if (len)
        memcpy(t->buf + TASK_HDR, in, len);
    return t;
}

int ipc_pool_submit(ipc_pool *p, const void *in, size_t len, uint64_t *id)
{
    if (!p || !id || (!in && len > 0))
        return -EINVAL;
    if (len > p->max_in)
        return -EMSGSIZE;
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    if (p->state != POOL_OPEN) {
        rc = -EPIPE;
    } else if (p->outstanding + p->ready >= p->max_pending) {
        rc = -EAGAIN;
    } else {
        struct task *t = task_new(p, in, len);
        struct result *r = t ? ipc__sys_malloc(sizeof(*r)) : NULL;
        if (!r) {
            free(t);
            rc = -ENOMEM;
        } else {
            t->res = r;
            *id = t->id;
            p->outstanding++;
            queue_push_back(p, t);
            if (dispatch(p) && p->polling)
                wake_poller(p); /* it must retire the worker dispatch broke */
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* Pops the first public result. Mutex held. */
static bool take_result(ipc_pool *p, struct ipc_pool_result *res)
{
    struct result *r = p->rhead;
    if (!r)
        return false;
    p->rhead = r->next;
    if (!p->rhead)
        p->rtail = NULL;
    p->ready--;
    *res = r->r;
    free(r);
    return true;
}

int ipc_pool_collect(ipc_pool *p, int timeout_ms, struct ipc_pool_result *res)
{
    if (!p || !res || timeout_ms < -1)
        return -EINVAL;
    int64_t deadline = deadline_of(timeout_ms);
    pthread_mutex_lock(&p->mu);
    int rc;
    for (;;) {
        if (take_result(p, res)) {
            rc = 0;
            break;
        }
        if (p->outstanding == 0) {
            rc = -ENOENT;
            break;
        }
        int left = remaining_ms(deadline);
        if (p->polling || p->role_wanted || p->state == POOL_STOPPED) {
            if (left == 0) {
                rc = -ETIMEDOUT;
                break;
            }
            cv_wait(p, deadline);
            continue;
        }
        p->polling = true;
        pump(p, left);
        release_role(p);
        if (left == 0 && !p->rhead) {
            rc = p->outstanding ? -ETIMEDOUT : -ENOENT;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void ipc_pool_result_free(struct ipc_pool_result *res)
{
    if (!res)
        return;
    free(res->data);
    memset(res, 0, sizeof(*res));
}

int ipc_pool_map(ipc_pool *p, const struct ipc_pool_buf *in, size_t n, struct ipc_pool_result *res)
{
    if (!p || !in || !res || n > SIZE_MAX / sizeof(*res))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!in[i].data && in[i].len > 0)
            return -EINVAL;
        if (in[i].len > p->max_in)
            return -EMSGSIZE;
    }
    memset(res, 0, n * sizeof(*res));
    struct map_ctx ctx = {.res = res, .done = 0};
    /* Enough queued work to keep every worker busy without copying every input
     * up front. */
    size_t window = 4 * (size_t)p->nworkers + 4, next = 0;
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (rc == 0 && next < n && next - ctx.done < window) {
            if (p->state != POOL_OPEN) {
                rc = -EPIPE;
                break;
            }
            struct task *t = task_new(p, in[next].data, in[next].len);
            if (!t) {
                rc = -ENOMEM;
                break;
            }
            t->owner = &ctx;
            t->index = next++;
            queue_push_back(p, t);
        }
        /* Done, or failed and every submitted task came back. */
        if (ctx.done == next && (rc != 0 || next == n))
            break;
        if (dispatch(p) && p->polling)
            wake_poller(p); /* it must retire the worker dispatch broke */
        if (p->polling || p->role_wanted || p->state == POOL_STOPPED) {
            cv_wait(p, -1);
            continue;
        }
        p->polling = true;
        pump(p, -1);
        release_role(p);
    }
    pthread_mutex_unlock(&p->mu);
    if (rc < 0)
        for (size_t i = 0; i < next; i++)
            ipc_pool_result_free(&res[i]);
    return rc;
}

/* Kills every worker and cancels every task. Mutex and poller role held. */
static void stop_all(ipc_pool *p)
{
    p->state = POOL_STOPPED;
    for (unsigned i = 0; i < p->nworkers; i++) {
        struct task *t = p->w[i].cur;
        p->w[i].cur = NULL;
        retire_worker(p, i, true);
        if (t)
            complete_task(p, t, -ECANCELED, NULL, 0);
    }
    fail_queue(p, -ECANCELED);
}

static bool busy(const ipc_pool *p)
{
    if (p->qhead)
        return true;
    for (unsigned i = 0; i < p->nworkers; i++)
        if (p->w[i].cur)
            return true;
    return false;
}

int ipc_pool_close(ipc_pool *p, int timeout_ms)
{
    if (!p || timeout_ms < -1)
        return -EINVAL;
    int64_t deadline = deadline_of(timeout_ms);
    pthread_mutex_lock(&p->mu);
    if (p->state == POOL_STOPPED) {
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    p->state = POOL_CLOSING;
    acquire_role(p);
    int rc = 0;
    if (p->state == POOL_STOPPED)
        rc = -ECANCELED; /* terminated while we waited for the role */
    while (rc == 0 && busy(p) && live_workers(p) > 0) {
        if (p->abort_req) {
            rc = -ECANCELED;
            break;
        }
        int left = remaining_ms(deadline);
        if (left == 0) {
            rc = -ETIMEDOUT;
            break;
        }
        pump(p, left);
    }
    if (rc == 0) {
        /* Idle workers: a QUIT frame (for a task pipe whose write end leaked into
         * some other child) and EOF, then wait for each to exit. */
        for (unsigned i = 0; i < p->nworkers; i++) {
            struct worker *w = &p->w[i];
            if (!w->proc)
                continue;
            if (ipc_frame_write_fd(w->task_fd, FRAME_QUIT, NULL, 0, 0) < 0) {
                /* Dead already: the wait below reaps it. */
            }
            close(w->task_fd);
            w->task_fd = -1;
        }
        for (unsigned i = 0; i < p->nworkers; i++) {
            struct worker *w = &p->w[i];
            if (!w->proc)
                continue;
            int wr = ipc_proc_wait(w->proc, remaining_ms(deadline), 0, NULL);
            if (wr == -ETIMEDOUT)
                rc = -ETIMEDOUT;
            retire_worker(p, i, wr == -ETIMEDOUT);
        }
    }
    stop_all(p); /* no-op for workers already retired; cancels what is left */
    release_role(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int ipc_pool_terminate(ipc_pool *p)
{
    if (!p)
        return -EINVAL;
    pthread_mutex_lock(&p->mu);
    if (p->state != POOL_STOPPED) {
        p->abort_req = true;
        acquire_role(p);
        if (p->state != POOL_STOPPED)
            stop_all(p);
        p->abort_req = false;
        release_role(p);
    }
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int ipc_pool_pids(ipc_pool *p, pid_t *pids, size_t cap)
{
    if (!p || (!pids && cap > 0))
        return -EINVAL;
    pthread_mutex_lock(&p->mu);
    int n = 0;
    for (unsigned i = 0; i < p->nworkers; i++) {
        if (!p->w[i].proc)
            continue;
        if ((size_t)n < cap)
            pids[n] = ipc_proc_pid(p->w[i].proc);
        n++;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

uint64_t ipc_pool_replacements(ipc_pool *p)
{
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    uint64_t n = p->replacements;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void ipc_pool_free(ipc_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->state != POOL_STOPPED) {
        p->polling = true; /* no other thread may use the pool now */
        stop_all(p);
        p->polling = false;
    }
    pthread_mutex_unlock(&p->mu);
    pool_destroy(p);
}

#ifdef IPC_TEST_FAULTS
int ipc_pool_fault_set(ipc_pool *p, enum ipc_pool_fault fault, unsigned long nth)
{
    if (!p || fault < IPC_POOL_FAULT_NONE || fault > IPC_POOL_FAULT_DROP_RESULT ||
        (fault != IPC_POOL_FAULT_NONE && nth == 0))
        return -EINVAL;
    pthread_mutex_lock(&p->mu);
    p->fault = fault;
    p->fault_nth = nth;
    p->completions = 0;
    pthread_mutex_unlock(&p->mu);
    return 0;
}
#endif
