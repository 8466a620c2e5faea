/* proc.c - spawn, exec family, wait, status, subreaper. See ipc/proc.h.
 *
 * The child side (everything reached from child_main) runs between fork/vfork and
 * exec: it only makes async-signal-safe calls and never allocates; everything it
 * needs (argv, envp, PATH, resolved stdio) is prepared by the parent beforehand. */
#include "ipc/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "ipc/pipe.h"
#include "ipc/redir.h"

extern char **environ;

struct ipc_proc {
    pid_t pid;
    int pidfd;    /* -1 when none */
    int own_pgrp; /* child leads its own process group */
    int reaped;   /* terminal status collected (raw valid) */
    int lost;     /* someone else reaped it: no status */
    int raw;
    /* Registry of live (unreaped) processes, so reap_orphans can tell adopted
     * orphans from children that belong to an object. Guarded by reg_lock. */
    ipc_proc *prev, *next;
    int registered;
    int stashed; /* reap_orphans reaped it: stash_raw holds the status */
    int stash_raw;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static ipc_proc *reg_head;

#if defined(__SANITIZE_THREAD__)
#define IPC_PROC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IPC_PROC_TSAN 1
#endif
#endif
#if defined(IPC_PROC_TSAN) || defined(__SANITIZE_ADDRESS__)
#define IPC_PROC_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) ||                         \
    __has_feature(hwaddress_sanitizer)
#define IPC_PROC_SANITIZED 1
#endif
#endif

/* In a fork child, whose only thread is the copy of the one that held reg_lock
 * across fork (the only thread that can hold it then): the lock is free again.
 * A fresh initializer, as libc does with its own locks after fork, rather than
 * an unlock: a fork child maps each code page it runs with a page fault, and the
 * unlock's three (the PLT and two of libc's) were a tenth of what the library
 * adds to a fork + exit + wait. ThreadSanitizer keeps the unlock, which it must
 * see to know the lock free. */
static void reg_lock_release_in_child(void)
{
#ifdef IPC_PROC_TSAN
    pthread_mutex_unlock(&reg_lock);
#else
    reg_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
#endif
}

static void reg_add_locked(ipc_proc *p)
{
    p->prev = NULL;
    p->next = reg_head;
    if (reg_head)
        reg_head->prev = p;
    reg_head = p;
    p->registered = 1;
}

static void reg_del_locked(ipc_proc *p)
{
    if (!p->registered)
        return;
    if (p->prev)
        p->prev->next = p->next;
    else
        reg_head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
    p->registered = 0;
}

static ipc_proc *reg_find_locked(pid_t pid)
{
    for (ipc_proc *p = reg_head; p; p = p->next)
        if (p->pid == pid)
            return p;
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* Child side                                                                 */

struct child_ctx {
    const char *file;
    char *const *argv;
    char *const *envp;
    const char *path_env; /* non-NULL: search these directories */
    const char *cwd;
    int src[3];
    int setpgid;
    sigset_t oldmask;   /* the spawning thread's mask, restored for function children */
    int blocked;        /* block_all ran: oldmask is valid and every signal is blocked */
    int err_fd;         /* report errno here (CLOEXEC error pipe), or -1: */
    int err_shared;     /* ... here, in memory the parent shares (clone3 path) */
    int handlers_clear; /* created with every caught signal back at SIG_DFL */
    int want_pidfd;     /* the object gets a pidfd (no IPC_PROC_F_NO_PIDFD) */
    int pidfd_done;     /* the spawn settled the pidfd itself (clone3): pidfd, or -1 */
    int pidfd;
    ipc_proc_fn fn;
    void *arg;
#if IPC_COVERAGE
    int vforked; /* the child shares the parent's memory, counters included */
#endif
};

static void child_report(struct child_ctx *c, int err)
{
    if (c->err_fd < 0) {
        c->err_shared = err; /* the parent reads it once the child is gone */
        return;
    }
    ssize_t n;
    do {
        n = ipc__sys_write(c->err_fd, &err, sizeof(err));
    } while (n < 0 && errno == EINTR);
}

static int child_setup(struct child_ctx *c)
{
    /* Every signal is blocked here (see block_all), but in a function child without
     * setup, which is forked with the caller's mask as it is. A function child is a
     * copy of the caller: it gets the caller's handlers and mask back. An exec child must not run
     * a parent handler before exec (with vfork it would run on the parent's stack and
     * memory; with fork it could write to the parent's self-pipe), and starts with an
     * empty mask as with libuv: a caller that blocks SIGTERM for a signalfd must
     * not make its children immune to ipc_run's timeout. Ignored signals stay
     * ignored, as exec keeps them. */
    if (c->fn) {
        if (c->blocked) /* (the parent's call, already bound in a lazily bound program) */
            ipc__sys_pthread_sigmask(SIG_SETMASK, &c->oldmask, NULL);
    } else if (c->handlers_clear) {
        /* The kernel reset the handlers (CLONE_CLEAR_SIGHAND), ignored signals
         * stay ignored: only the mask is left to empty. */
        sigset_t none;
        sigemptyset(&none);
        ipc__sys_pthread_sigmask(SIG_SETMASK, &none, NULL);
    } else
        ipc__child_reset_signals();
    if (c->setpgid && setpgid(0, 0) < 0)
        return errno;
    /* Called only with something to apply: its code is one more page for a fork
     * child to fault in. */
    int rc = c->src[0] >= 0 || c->src[1] >= 0 || c->src[2] >= 0 ? ipc_redir_apply_fds(c->src) : 0;
    if (rc < 0)
        return -rc;
    if (c->cwd && chdir(c->cwd) < 0)
        return errno;
    return 0;
}

void ipc__child_reset_signals(void)
{
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (ipc__sys_sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN &&
            sa.sa_handler != SIG_DFL) {
            memset(&sa, 0, sizeof(sa));
            sa.sa_handler = SIG_DFL;
            (void)ipc__sys_sigaction(sig, &sa, NULL);
        }
    }
    sigset_t none;
    sigemptyset(&none);
    ipc__sys_sigprocmask(SIG_SETMASK, &none, NULL);
}

int ipc__child_exec(const char *file, const char *path_env, char *const argv[], char *const envp[])
{
    if (!path_env || strchr(file, '/')) {
        ipc__sys_execve(file, argv, envp);
        return errno;
    }
    char buf[4096];
    size_t flen = strlen(file);
    int seen_eacces = 0, last = ENOENT;
    const char *p = path_env;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        const char *dir = dlen ? p : ".";
        if (!dlen)
            dlen = 1;
        if (dlen + 1 + flen + 1 <= sizeof(buf)) {
            memcpy(buf, dir, dlen);
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, file, flen + 1);
            ipc__sys_execve(buf, argv, envp);
            switch (errno) {
            case EACCES:
                seen_eacces = 1;
                break;
            case ENOENT:
            case ENOTDIR:
            case ESTALE:
            case ENODEV:
            case ETIMEDOUT:
            case ELOOP:
            case ENAMETOOLONG:
                last = errno;
                break;
            default:
                return errno; /* found but not runnable: stop like execvp */
            }
        } else {
            last = ENAMETOOLONG;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return seen_eacces ? EACCES : last;
}

/* Whether fp holds unwritten output. With glibc, its buffer pointers (public in
 * struct _IO_FILE) are read in place: a call to __fpending would cost a fork
 * child a page fault on libc's code, a tenth of the child's own work. */
static int pending_output(FILE *fp)
{
#if defined(__GLIBC__)
    /* A wide-oriented stream (fwide > 0) keeps its text in a separate wide buffer
     * that these pointers do not see: always flush it. */
    return fp->_mode > 0 || fp->_IO_write_ptr > fp->_IO_write_base;
#else
    return __fpending(fp) > 0;
#endif
}

static _Noreturn void child_main(struct child_ctx *c)
{
    int err = child_setup(c);
    if (err == 0) {
        if (c->fn) {
            /* Setup done: an explicit 0 tells the parent spawn succeeded. It must not
             * wait for EOF instead: a function child forked meanwhile by another
             * thread (outside this library) would hold the pipe open for its life.
             * No pipe at all when the setup had nothing that could fail. */
            if (c->err_fd >= 0) {
                child_report(c, 0);
                ipc__close_invalidate(&c->err_fd);
            }
            int rc = c->fn(c->arg);
            /* Only what fn left buffered (the parent flushed stdout before fork).
             * Looking first spares the child fflush's code, which a fork child
             * maps a page fault at a time (fork copies no page table entries of
             * code): a fifth of a fork + exit + wait. */
            if (pending_output(stdout))
                fflush(stdout);
            if (pending_output(stderr))
                fflush(stderr);
            ipc__exit_child(rc & 0xff); /* function children are always forked */
        }
        err = ipc__child_exec(c->file, c->path_env, c->argv, c->envp);
    }
    child_report(c, err ? err : EIO);
#if IPC_COVERAGE
    if (!c->vforked)
        ipc__exit_child(127); /* a vfork child's counters are the parent's */
#endif
    _exit(127);
}

/* ------------------------------------------------------------------------- */
/* Parent side                                                                */

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    /* pidfd_open always sets O_CLOEXEC on the new fd. */
    long fd = ipc__sys_pidfd_open(pid, 0);
    return fd < 0 ? -1 : (int)fd;
#else
    (void)pid;
    return -1;
#endif
}

/* Blocks every signal in the calling thread across fork/vfork, so that no handler
 * runs in the child before child_setup has reset it. */
static void block_all(struct child_ctx *c)
{
    sigset_t all;
    sigfillset(&all);
    ipc__sys_pthread_sigmask(SIG_SETMASK, &all, &c->oldmask);
    c->blocked = 1;
}

static void reap_failed(pid_t pid)
{
    int st;
    while (ipc__sys_waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

/* The CLOEXEC error pipe: the child writes its errno (or 0 for a function child
 * that is set up) and the exec closes the write end. */
static int err_pipe_open(int ep[2])
{
    if (ipc__sys_pipe2(ep, O_CLOEXEC) < 0)
        return ipc__neg_errno();
    /* The write end must survive the dup2s onto 0-2 (fds 0-2 may be closed here). */
    if (ep[1] <= 2) {
        int hi = ipc__sys_fcntl(ep[1], F_DUPFD_CLOEXEC, 3);
        int e = hi < 0 ? ipc__neg_errno() : 0;
        close(ep[1]);
        if (hi < 0) {
            close(ep[0]);
            return e;
        }
        ep[1] = hi;
    }
    return 0;
}

/* Parent side, after closing ep[1]: 0 when the child exec'd (EOF) or reported
 * success, else the child's error, the child already reaped. */
static int err_pipe_collect(int ep0, pid_t pid)
{
    int err = 0;
    /* The child writes the 4 bytes at once, but a read may still return fewer
     * (a signal, or a future change of the writer): read until 4 or EOF, or a
     * short read would pass for "exec'd" and the child's error would be lost. */
    ssize_t n = ipc_pipe_read_full(ep0, &err, sizeof(err));
    close(ep0);
    if (n == (ssize_t)sizeof(err) && err != 0) {
        reap_failed(pid);
        return err > 0 ? -err : -EIO;
    }
    return 0;
}

/* A function child whose setup is only the signal mask restore cannot fail: no
 * setpgid, no stdio to dup2. Its spawn needs no error pipe, which saves three
 * syscalls and, above all, waiting for the child to be scheduled before fork
 * returns (the fork-then-reap rate nearly doubles on a small machine). */
static int setup_cannot_fail(const struct child_ctx *c)
{
    return c->fn && !c->setpgid && !c->cwd && c->src[0] < 0 && c->src[1] < 0 && c->src[2] < 0;
}

static int spawn_fork(struct child_ctx *c, pid_t *pid_out)
{
    int ep[2] = {-1, -1};
    int rc;
    int setup = !setup_cannot_fail(c);
    if (setup) {
        rc = err_pipe_open(ep);
        if (rc < 0)
            return rc;
    }
    c->err_fd = ep[1];
    /* Otherwise buffered parent output would be written twice, once per process. */
    if (c->fn && pending_output(stdout))
        fflush(stdout);
    /* A function child without setup goes straight to fn, a copy of the caller with
     * the caller's handlers and mask: blocking signals across its fork would only
     * delay them by a few instructions, at the cost of three system calls. */
    if (setup)
        block_all(c);
    pid_t pid = ipc__sys_fork();
    if (pid == 0) {
        /* The forking thread held reg_lock (see spawn_common); this copy of it is
         * the child's only thread, so a function child can use the library. */
        reg_lock_release_in_child();
        if (ep[0] >= 0)
            close(ep[0]);
        child_main(c);
    }
    int e = pid < 0 ? ipc__neg_errno() : 0;
    if (c->blocked)
        ipc__sys_pthread_sigmask(SIG_SETMASK, &c->oldmask, NULL);
    if (ep[0] < 0) {
        if (pid < 0)
            return e;
        *pid_out = pid;
        return 0;
    }
    if (pid < 0) {
        close(ep[0]);
        close(ep[1]);
        return e;
    }
    close(ep[1]);
    rc = err_pipe_collect(ep[0], pid);
    if (rc < 0)
        return rc;
    *pid_out = pid;
    return 0;
}

/* vfork through clone3 (x86_64, Linux 5.5+): CLONE_VM | CLONE_VFORK as vfork, plus
 * CLONE_CLEAR_SIGHAND, with which the kernel gives the child the dispositions an
 * exec would (caught signals at SIG_DFL, ignored ones ignored). That spares the
 * child its walk over every signal (a sigaction query each, 64 system calls
 * while the parent is suspended) and the parent its signal block around the
 * vfork (two more): no parent handler can run in the child. The child runs on a
 * stack of its own in the parent's frame (the parent is suspended until the exec
 * or the exit) and reports an exec error in the memory both share, as glibc's
 * posix_spawn does, instead of through a pipe (four system calls fewer).
 * Sanitizer builds keep vfork: their runtimes must see it (ThreadSanitizer makes
 * it a fork, where the memory is not shared). */
#if defined(__x86_64__) && defined(SYS_clone3) && !defined(IPC_PROC_SANITIZED)
#define IPC_PROC_CLONE3         1
#define IPC_CLONE_VM            0x00000100ull
#define IPC_CLONE_VFORK         0x00004000ull
#define IPC_CLONE_PIDFD         0x00001000ull
#define IPC_CLONE_CLEAR_SIGHAND 0x100000000ull
#define IPC_CLONE_STACK         (32 * 1024)

struct ipc_clone_args { /* struct clone_args of linux/sched.h, version 0 (64 bytes) */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static __attribute__((noinline, noreturn, used)) void clone3_child(struct child_ctx *c)
{
    child_main(c);
}

/* clone3 with the child calling clone3_child(c) on ca->stack. Returns the child's
 * pid (the child has exec'd or exited), or -1 with errno. */
static __attribute__((noinline)) long clone3_vfork(struct ipc_clone_args *ca, struct child_ctx *c)
{
    long ret;
    /* The child starts on the new stack with the parent's registers but rax:
     * aligned, no frame to return to, it calls clone3_child, which never returns.
     * Both operands are read before rbp is cleared (either may live in rbp). */
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov %[entry], %%rax\n\t"
                     "mov %[c], %%rdi\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "and $-16, %%rsp\n\t"
                     "call *%%rax\n\t"
                     "ud2\n"
                     "1:"
                     : "=a"(ret)
                     : "a"((long)SYS_clone3), "D"(ca),
                       "S"(sizeof(*ca)), [c] "r"(c), [entry] "r"(clone3_child)
                     : "rcx", "r11", "memory");
    if (ret < 0) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

#if IPC_FAULTS
/* The seam sees it as the vfork it replaces (same errors: EAGAIN, ENOMEM). */
#define ipc__sys_clone3_vfork(ca, c) IPC__SYS_INT(vfork, clone3_vfork(ca, c))
#else
#define ipc__sys_clone3_vfork clone3_vfork
#endif

/* 1 once clone3 (or its CLONE_CLEAR_SIGHAND) proved missing: an older kernel, or a
 * seccomp filter that refuses it. */
static _Atomic int clone3_missing;

/* Whether the seam fails the pidfd that CLONE_PIDFD stands in for, as it would
 * fail the pidfd_open that the other methods make. */
static int pidfd_fault(void)
{
#if IPC_FAULTS
    return ipc__fault_int(IPC_FAULT_pidfd_open, IPC__SITE) != 0;
#else
    return 0;
#endif
}

/* Returns 0 and *pid_out, a negative errno, or 1 when clone3 cannot be used. */
static int spawn_clone3(struct child_ctx *c, pid_t *pid_out)
{
    if (atomic_load_explicit(&clone3_missing, memory_order_relaxed))
        return 1;
    _Alignas(16) unsigned char stack[IPC_CLONE_STACK];
    struct ipc_clone_args ca;
    memset(&ca, 0, sizeof(ca));
    ca.flags = IPC_CLONE_VM | IPC_CLONE_VFORK | IPC_CLONE_CLEAR_SIGHAND;
    ca.exit_signal = SIGCHLD;
    ca.stack = (uint64_t)(uintptr_t)stack;
    ca.stack_size = sizeof(stack);
    c->err_fd = -1;
    c->err_shared = 0;
    c->handlers_clear = 1;
#if IPC_COVERAGE
    c->vforked = 1;
#endif
    /* The pidfd comes with the child (CLONE_PIDFD, close-on-exec) instead of from a
     * pidfd_open afterwards. When it cannot be had (injected, EMFILE, ENFILE) the
     * object goes without, as after a failed pidfd_open. */
    int pidfd = -1;
    if (c->want_pidfd && !pidfd_fault()) {
        ca.flags |= IPC_CLONE_PIDFD;
        ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
    }
    long pid = ipc__sys_clone3_vfork(&ca, c);
    if (pid < 0 && (ca.flags & IPC_CLONE_PIDFD) && (errno == EMFILE || errno == ENFILE)) {
        ca.flags &= ~IPC_CLONE_PIDFD;
        ca.pidfd = 0;
        pid = ipc__sys_clone3_vfork(&ca, c);
    }
    /* What the child wrote, read after it is gone (the compiler must not reuse an
     * earlier load: the asm above clobbers memory). */
    int err = *(volatile int *)&c->err_shared;
    if (pid < 0) {
        int e = errno;
        /* Only a shortage is the spawn's own error; any other refusal (ENOSYS on
         * old kernels, EINVAL before CLONE_CLEAR_SIGHAND, whatever errno a seccomp
         * filter returns) means clone3 is unusable here: plain vfork from now on. */
        if (e != EAGAIN && e != ENOMEM && e != EINTR && e != EMFILE && e != ENFILE) {
            atomic_store_explicit(&clone3_missing, 1, memory_order_relaxed);
            c->handlers_clear = 0;
            return 1;
        }
        return -e;
    }
    if (err != 0) {
        if (pidfd >= 0)
            close(pidfd);
        reap_failed((pid_t)pid);
        return err > 0 ? -err : -EIO;
    }
    c->pidfd_done = 1;
    c->pidfd = pidfd;
    *pid_out = (pid_t)pid;
    return 0;
}
#endif

static __attribute__((noinline)) pid_t do_vfork(struct child_ctx *c)
{
    pid_t pid = ipc__sys_vfork();
    if (pid == 0)
        child_main(c);
    return pid;
}

/* The error goes through a pipe rather than through the shared memory alone:
 * ThreadSanitizer (and some other interposers) turn vfork into fork, and a write to
 * shared memory would then never reach the parent, losing every exec error. With a
 * real vfork the child has exec'd or exited when we resume, so the read does not
 * block. */
static int spawn_vfork(struct child_ctx *c, pid_t *pid_out)
{
#ifdef IPC_PROC_CLONE3
    int cr = spawn_clone3(c, pid_out);
    if (cr <= 0)
        return cr;
#endif
    int ep[2];
    int rc = err_pipe_open(ep);
    if (rc < 0)
        return rc;
    c->err_fd = ep[1];
    block_all(c);
#if IPC_COVERAGE
    c->vforked = 1;
#endif
    pid_t pid = do_vfork(c);
    int e = pid < 0 ? ipc__neg_errno() : 0;
    ipc__sys_pthread_sigmask(SIG_SETMASK, &c->oldmask, NULL);
    close(ep[1]);
    if (pid < 0) {
        close(ep[0]);
        return e;
    }
    rc = err_pipe_collect(ep[0], pid);
    if (rc < 0)
        return rc;
    *pid_out = pid;
    return 0;
}

static int spawn_posix(struct child_ctx *c, pid_t *pid_out)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int tmp[3] = {-1, -1, -1};
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return -rc;
    rc = posix_spawnattr_init(&attr);
    if (rc) {
        posix_spawn_file_actions_destroy(&fa);
        return -rc;
    }
    /* File actions run in order and cannot F_DUPFD: copy sources that are
     * themselves targets above 2 here, so the dup2s cannot clobber each other. */
    for (int t = 0; t < 3 && !rc; t++) {
        int s = c->src[t];
        if (s < 0)
            continue;
        if (s <= 2) {
            tmp[t] = ipc__sys_fcntl(s, F_DUPFD_CLOEXEC, 3);
            if (tmp[t] < 0) {
                rc = errno;
                break;
            }
            s = tmp[t];
        }
        rc = posix_spawn_file_actions_adddup2(&fa, s, t);
    }
    if (!rc && c->cwd)
        rc = posix_spawn_file_actions_addchdir_np(&fa, c->cwd);
    if (!rc) {
        /* Same start as the other methods: an empty signal mask (glibc already
         * defaults caught signals in the child). */
        sigset_t none;
        sigemptyset(&none);
        rc = posix_spawnattr_setsigmask(&attr, &none);
    }
    if (!rc)
        rc = posix_spawnattr_setflags(
            &attr, (short)(POSIX_SPAWN_SETSIGMASK | (c->setpgid ? POSIX_SPAWN_SETPGROUP : 0)));
    if (!rc && c->setpgid)
        rc = posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid = -1;
    if (!rc) {
        if (c->path_env && !strchr(c->file, '/'))
            rc = ipc__sys_posix_spawnp(&pid, c->file, &fa, &attr, c->argv, c->envp);
        else
            rc = ipc__sys_posix_spawn(&pid, c->file, &fa, &attr, c->argv, c->envp);
    }
    for (int t = 0; t < 3; t++)
        if (tmp[t] >= 0)
            close(tmp[t]);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -rc; /* glibc already reaped a child whose exec failed */
    *pid_out = pid;
    return 0;
}

static int valid_options(const struct ipc_proc_options *o)
{
    if (!o)
        return 1;
    if (o->flags & ~IPC_PROC_F_ALL)
        return 0;
    if ((unsigned)o->method > IPC_PROC_POSIX_SPAWN)
        return 0;
    if (o->flags & IPC_PROC_F_STDIO)
        for (int t = 0; t < 3; t++)
            if (o->stdio[t] < -1)
                return 0;
    if (o->cwd && !*o->cwd)
        return 0;
    return 1;
}

/* Fills c->src from stdio[] and the redir plan. */
static int resolve_stdio(struct child_ctx *c, const struct ipc_proc_options *o)
{
    for (int t = 0; t < 3; t++)
        c->src[t] = -1;
    if (!o)
        return 0;
    if (o->redir) {
        int rc = ipc_redir_resolve(o->redir, c->src);
        if (rc < 0)
            return rc;
    }
    if (o->flags & IPC_PROC_F_STDIO) {
        for (int t = 0; t < 3; t++) {
            if (o->stdio[t] < 0)
                continue;
            if (c->src[t] >= 0)
                return -EINVAL;
            if (ipc__sys_fcntl(o->stdio[t], F_GETFD) < 0)
                return -EBADF;
            c->src[t] = o->stdio[t];
        }
    }
    return 0;
}

/* Creates the child with method m and registers its object. reg_lock is held from
 * before the fork until the child is registered, so that:
 * - ipc_proc_reap_orphans (another thread) cannot take a child that exits at once
 *   for an orphan, losing its status and letting pidfd_open meet a reused pid;
 * - no other spawn's error pipe is open in this process while we fork: a function
 *   child would otherwise inherit it and keep that spawn waiting for EOF for as
 *   long as it runs. */
static int spawn_common(ipc_proc **out, struct child_ctx *c, enum ipc_proc_method m,
                        const struct ipc_proc_options *o)
{
    /* malloc, not calloc: glibc's calloc bypasses the per-thread cache that free
     * fills, so every spawn + free would go through the arena (and, after a fork,
     * take a page fault on it). Not memset either, which compilers turn back into
     * calloc: a literal with a field that is not zero. */
    ipc_proc *p = ipc__sys_malloc(sizeof(*p));
    if (!p)
        return -ENOMEM;
    *p = (ipc_proc){.pidfd = -1};
    pid_t pid = -1;
    int rc;
    c->want_pidfd = !(o && (o->flags & IPC_PROC_F_NO_PIDFD));
    c->pidfd_done = 0;
    c->pidfd = -1;
    pthread_mutex_lock(&reg_lock);
    switch (m) {
    case IPC_PROC_FORK:
        rc = spawn_fork(c, &pid);
        break;
    case IPC_PROC_POSIX_SPAWN:
        rc = spawn_posix(c, &pid);
        break;
    default:
        rc = spawn_vfork(c, &pid);
        break;
    }
    if (rc < 0) {
        pthread_mutex_unlock(&reg_lock);
        free(p);
        return rc;
    }
    p->pid = pid;
    p->pidfd = c->pidfd_done ? c->pidfd : c->want_pidfd ? open_pidfd(pid) : -1;
    if (o && (o->flags & IPC_PROC_F_SETPGID)) {
        /* Also in the parent, so a signal to the group right after spawn cannot race
         * the child's own setpgid (EACCES once it has exec'd is fine). */
        (void)setpgid(pid, pid);
        p->own_pgrp = 1;
    }
    reg_add_locked(p);
    pthread_mutex_unlock(&reg_lock);
    *out = p;
    return 0;
}

int ipc_proc_spawn(ipc_proc **out, char *const argv[], const struct ipc_proc_options *opts)
{
    if (!out || !argv || !argv[0] || !valid_options(opts))
        return -EINVAL;
    *out = NULL;
    struct child_ctx c;
    memset(&c, 0, sizeof(c));
    c.file = (opts && opts->file) ? opts->file : argv[0];
    if (!*c.file)
        return -ENOENT;
    c.argv = argv;
    c.envp = (opts && opts->env) ? opts->env : environ;
    c.cwd = opts ? opts->cwd : NULL;
    c.setpgid = opts && (opts->flags & IPC_PROC_F_SETPGID);
    c.err_fd = -1;
    if (opts && (opts->flags & IPC_PROC_F_PATH)) {
        const char *path = getenv("PATH");
        c.path_env = path ? path : "/bin:/usr/bin";
    }
    int rc = resolve_stdio(&c, opts);
    if (rc < 0)
        return rc;
    return spawn_common(out, &c, opts ? opts->method : IPC_PROC_AUTO, opts);
}

int ipc_proc_fork(ipc_proc **out, ipc_proc_fn fn, void *arg, const struct ipc_proc_options *opts)
{
    if (!out || !fn || !valid_options(opts))
        return -EINVAL;
    *out = NULL;
    if (opts && ((opts->method != IPC_PROC_AUTO && opts->method != IPC_PROC_FORK) || opts->file ||
                 opts->env || opts->cwd || (opts->flags & IPC_PROC_F_PATH)))
        return -EINVAL;
    struct child_ctx c;
    memset(&c, 0, sizeof(c));
    c.fn = fn;
    c.arg = arg;
    c.err_fd = -1;
    c.setpgid = opts && (opts->flags & IPC_PROC_F_SETPGID);
    int rc = resolve_stdio(&c, opts);
    if (rc < 0)
        return rc;
    return spawn_common(out, &c, IPC_PROC_FORK, opts);
}

/* Collects the list arguments of the spawnl* variants into a malloc'ed vector. */
static int collect_list(const char *arg0, va_list ap, char ***argv_out)
{
    if (!arg0)
        return -EINVAL;
    va_list cp;
    va_copy(cp, ap);
    size_t n = 1;
    while (va_arg(cp, const char *) != NULL) {
        if (++n >= IPC_PROC_MAX_ARGS) {
            va_end(cp);
            return -E2BIG;
        }
    }
    va_end(cp);
    char **argv = ipc__sys_calloc(n + 1, sizeof(*argv));
    if (!argv)
        return -ENOMEM;
    argv[0] = (char *)arg0;
    for (size_t i = 1; i < n; i++)
        argv[i] = va_arg(ap, char *);
    argv[n] = NULL;
    *argv_out = argv;
    return 0;
}

static int spawn_simple(ipc_proc **out, const char *file, char *const argv[], char *const envp[],
                        unsigned flags)
{
    if (!out || !file)
        return -EINVAL;
    struct ipc_proc_options o;
    memset(&o, 0, sizeof(o));
    o.file = file;
    o.env = envp;
    o.flags = flags;
    return ipc_proc_spawn(out, argv, &o);
}

/* The list forms: collect the NULL-terminated variadic arguments into argv. */
static int spawn_list(ipc_proc **out, const char *file, const char *arg0, va_list ap,
                      unsigned flags)
{
    if (!out || !file || !arg0)
        return -EINVAL;
    char **argv = NULL;
    int rc = collect_list(arg0, ap, &argv);
    if (rc < 0)
        return rc;
    rc = spawn_simple(out, file, argv, NULL, flags);
    free(argv);
    return rc;
}

int ipc_proc_spawnl(ipc_proc **out, const char *path, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    int rc = spawn_list(out, path, arg0, ap, 0);
    va_end(ap);
    return rc;
}

int ipc_proc_spawnlp(ipc_proc **out, const char *file, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    int rc = spawn_list(out, file, arg0, ap, IPC_PROC_F_PATH);
    va_end(ap);
    return rc;
}

int ipc_proc_spawnv(ipc_proc **out, const char *path, char *const argv[])
{
    return spawn_simple(out, path, argv, NULL, 0);
}

int ipc_proc_spawnvp(ipc_proc **out, const char *file, char *const argv[])
{
    return spawn_simple(out, file, argv, NULL, IPC_PROC_F_PATH);
}

int ipc_proc_spawnvpe(ipc_proc **out, const char *file, char *const argv[], char *const envp[])
{
    if (!envp)
        return -EINVAL;
    return spawn_simple(out, file, argv, envp, IPC_PROC_F_PATH);
}

/* ------------------------------------------------------------------------- */
/* Status                                                                     */

int ipc_proc_status_decode(int raw, struct ipc_proc_status *st)
{
    if (!st)
        return -EINVAL;
    struct ipc_proc_status s;
    memset(&s, 0, sizeof(s));
    s.raw = raw;
    if (raw & ~0xffff)
        return -EINVAL;
    if (raw == 0xffff) {
        s.continued = 1;
    } else if ((raw & 0xff) == 0x7f) {
        int sig = (raw >> 8) & 0xff;
        if (sig < 1 || sig >= NSIG)
            return -EINVAL;
        s.stopped = 1;
        s.signal = sig;
    } else if ((raw & 0x7f) == 0) {
        if (raw & 0x80)
            return -EINVAL;
        s.exited = 1;
        s.code = (raw >> 8) & 0xff;
    } else {
        int sig = raw & 0x7f;
        if ((raw >> 8) != 0 || sig >= NSIG)
            return -EINVAL;
        s.signaled = 1;
        s.signal = sig;
        s.core_dumped = (raw & 0x80) != 0;
    }
    *st = s;
    return 0;
}

static const char *const signames[] = {
    [SIGHUP] = "SIGHUP",       [SIGINT] = "SIGINT",   [SIGQUIT] = "SIGQUIT",
    [SIGILL] = "SIGILL",       [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",
    [SIGBUS] = "SIGBUS",       [SIGFPE] = "SIGFPE",   [SIGKILL] = "SIGKILL",
    [SIGUSR1] = "SIGUSR1",     [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
    [SIGPIPE] = "SIGPIPE",     [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM",
#ifdef SIGSTKFLT
    [SIGSTKFLT] = "SIGSTKFLT",
#endif
    [SIGCHLD] = "SIGCHLD",     [SIGCONT] = "SIGCONT", [SIGSTOP] = "SIGSTOP",
    [SIGTSTP] = "SIGTSTP",     [SIGTTIN] = "SIGTTIN", [SIGTTOU] = "SIGTTOU",
    [SIGURG] = "SIGURG",       [SIGXCPU] = "SIGXCPU", [SIGXFSZ] = "SIGXFSZ",
    [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH",
    [SIGIO] = "SIGIO",         [SIGPWR] = "SIGPWR",   [SIGSYS] = "SIGSYS",
};

/* Small async-signal-safe string builder (snprintf is not async-signal-safe). */
struct sbuf {
    char *buf;
    size_t len, pos;
    int overflow;
};

static void sb_puts(struct sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (b->pos + 1 < b->len)
            b->buf[b->pos++] = *s;
        else
            b->overflow = 1;
    }
    if (b->len)
        b->buf[b->pos < b->len ? b->pos : b->len - 1] = '\0';
}

static void sb_putu(struct sbuf *b, unsigned v)
{
    char tmp[16];
    int i = (int)sizeof(tmp) - 1;
    tmp[i] = '\0';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    sb_puts(b, tmp + i);
}

/* Writes the name of sig into b. */
static void sb_signame(struct sbuf *b, int sig)
{
    if (sig > 0 && (size_t)sig < IPC__ARRAY_SIZE(signames) && signames[sig]) {
        sb_puts(b, signames[sig]);
    } else if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
        sb_puts(b, "SIGRTMIN+");
        sb_putu(b, (unsigned)(sig - SIGRTMIN));
    } else {
        sb_puts(b, "SIG?");
    }
}

const char *ipc_proc_signame(int sig)
{
    if (sig > 0 && (size_t)sig < IPC__ARRAY_SIZE(signames) && signames[sig])
        return signames[sig];
    static _Thread_local char buf[24];
    struct sbuf b = {buf, sizeof(buf), 0, 0};
    sb_signame(&b, sig);
    return buf;
}

int ipc_proc_status_format(const struct ipc_proc_status *st, char *buf, size_t len)
{
    if (!st || !buf || !len)
        return -EINVAL;
    struct sbuf b = {buf, len, 0, 0};
    buf[0] = '\0';
    if (st->exited) {
        sb_puts(&b, "exit ");
        sb_putu(&b, (unsigned)st->code);
    } else if (st->signaled || st->stopped) {
        sb_puts(&b, st->signaled ? "signal " : "stopped by signal ");
        sb_putu(&b, (unsigned)st->signal);
        sb_puts(&b, " (");
        sb_signame(&b, st->signal);
        if (st->signaled && st->core_dumped)
            sb_puts(&b, ", core dumped");
        sb_puts(&b, ")");
    } else if (st->continued) {
        sb_puts(&b, "continued");
    } else {
        return -EINVAL;
    }
    return b.overflow ? -ENOSPC : (int)b.pos;
}

int ipc_proc_status_shell(const struct ipc_proc_status *st)
{
    if (!st)
        return -EINVAL;
    if (st->exited)
        return st->code & 0xff;
    if (st->signaled)
        return 128 + st->signal;
    return -EINVAL;
}

/* ------------------------------------------------------------------------- */
/* Wait, kill, accessors                                                      */

/* Milliseconds until deadline_ns, rounded up so a timeout never fires early. */
static int64_t ms_left(int64_t deadline_ns)
{
    int64_t d = deadline_ns - (int64_t)ipc__now_ns();
    return d <= 0 ? 0 : (d + 999999) / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* EINTR just ends the nap early */
}

static void mark_reaped(ipc_proc *p, int raw)
{
    p->reaped = 1;
    p->raw = raw;
    ipc__close_invalidate(&p->pidfd);
}

/* One waitpid attempt: 0 terminated (reaped), 1 stop/continue event, -EAGAIN
 * nothing yet (only with WNOHANG), -ECHILD reaped elsewhere. */
static int try_wait(ipc_proc *p, int options, struct ipc_proc_status *st)
{
    int raw = 0;
    pid_t r = IPC__RETRY(ipc__sys_waitpid(p->pid, &raw, options));
    if (r == 0)
        return -EAGAIN;
    if (r < 0) {
        int e = ipc__neg_errno();
        if (e != -ECHILD)
            return e;
        pthread_mutex_lock(&reg_lock);
        int stashed = p->stashed;
        raw = p->stash_raw;
        reg_del_locked(p);
        pthread_mutex_unlock(&reg_lock);
        if (!stashed) {
            p->lost = 1;
            mark_reaped(p, 0);
            return -ECHILD;
        }
    }
    struct ipc_proc_status s;
    if (ipc_proc_status_decode(raw, &s) < 0)
        return -EIO;
    if (s.stopped || s.continued) {
        if (st)
            *st = s;
        return 1;
    }
    if (r > 0) {
        pthread_mutex_lock(&reg_lock);
        reg_del_locked(p);
        pthread_mutex_unlock(&reg_lock);
    }
    mark_reaped(p, raw);
    if (st)
        *st = s;
    return 0;
}

int ipc_proc_wait(ipc_proc *p, int timeout_ms, unsigned flags, struct ipc_proc_status *st)
{
    if (!p || timeout_ms < -1 || (flags & ~IPC_PROC_WAIT_UNTRACED))
        return -EINVAL;
    if (p->reaped)
        return -ECHILD;
    int options = (flags & IPC_PROC_WAIT_UNTRACED) ? (WUNTRACED | WCONTINUED) : 0;
    if (timeout_ms < 0)
        return try_wait(p, options, st);
    int64_t deadline = (int64_t)ipc__now_ns() + (int64_t)timeout_ms * 1000000;
    int nap = 1;
    for (;;) {
        int64_t left = ms_left(deadline);
        if (p->pidfd >= 0 && !options && left > 0) {
            /* Readable once the child has terminated (at once if it has): polled
             * before the first waitpid, which would only find a live child. */
            struct pollfd pfd = {p->pidfd, POLLIN, 0};
            if (ipc__sys_poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
                return ipc__neg_errno();
            int rc = try_wait(p, WNOHANG, st);
            if (rc != -EAGAIN)
                return rc;
            continue; /* EINTR, or the time ran out: the deadline decides */
        }
        int rc = try_wait(p, options | WNOHANG, st);
        if (rc != -EAGAIN)
            return rc;
        left = ms_left(deadline);
        if (left <= 0)
            return -ETIMEDOUT;
        sleep_ms(left < nap ? (int)left : nap);
        if (nap < 16)
            nap *= 2;
    }
}

int ipc_proc_kill(ipc_proc *p, int sig)
{
    if (!p || sig < 0 || sig >= NSIG)
        return -EINVAL;
    /* pid <= 0 cannot be a child; kill() would take it as "my group" or, with -1,
     * "every process I may signal" - as root, the whole machine. */
    if (p->reaped || p->pid <= 0)
        return -ESRCH;
    /* Reaped by ipc_proc_reap_orphans: without a pidfd the pid may be reused. */
    pthread_mutex_lock(&reg_lock);
    int gone = p->stashed;
    pthread_mutex_unlock(&reg_lock);
    if (gone)
        return -ESRCH;
#ifdef SYS_pidfd_send_signal
    if (p->pidfd >= 0) {
        if (ipc__sys_pidfd_send_signal(p->pidfd, sig, NULL, 0) == 0)
            return 0;
        if (errno != ENOSYS)
            return ipc__neg_errno();
    }
#endif
    return ipc__sys_kill(p->pid, sig) < 0 ? ipc__neg_errno() : 0;
}

int ipc_proc_kill_group(ipc_proc *p, int sig)
{
    if (!p || sig < 0 || sig >= NSIG || !p->own_pgrp)
        return -EINVAL;
    if (p->reaped || p->pid <= 1) /* killpg(1) would be kill(-1): see ipc_proc_kill */
        return -ESRCH;
    /* Reaped by ipc_proc_reap_orphans: the group id may belong to someone else now. */
    pthread_mutex_lock(&reg_lock);
    int gone = p->stashed;
    pthread_mutex_unlock(&reg_lock);
    if (gone)
        return -ESRCH;
    return killpg(p->pid, sig) < 0 ? ipc__neg_errno() : 0;
}

pid_t ipc_proc_pid(const ipc_proc *p)
{
    return p ? p->pid : -EINVAL;
}

int ipc_proc_pidfd(const ipc_proc *p)
{
    if (!p)
        return -EINVAL;
    return p->pidfd >= 0 ? p->pidfd : -ENOSYS;
}

int ipc_proc_status(const ipc_proc *p, struct ipc_proc_status *st)
{
    if (!p || !st)
        return -EINVAL;
    if (!p->reaped)
        return -EAGAIN;
    if (p->lost)
        return -ECHILD;
    return ipc_proc_status_decode(p->raw, st);
}

void ipc_proc_free(ipc_proc *p)
{
    if (!p)
        return;
    if (!p->reaped) {
        /* Errors only mean it is already gone (or reaped elsewhere). */
        int rc = ipc_proc_kill(p, SIGKILL);
        rc = ipc_proc_wait(p, IPC_PROC_WAIT_FOREVER, 0, NULL);
        (void)rc;
    }
    pthread_mutex_lock(&reg_lock);
    reg_del_locked(p);
    pthread_mutex_unlock(&reg_lock);
    if (p->pidfd >= 0)
        close(p->pidfd);
    free(p);
}

/* ------------------------------------------------------------------------- */
/* Subreaper                                                                  */

int ipc_proc_set_subreaper(int on)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, on ? 1UL : 0UL, 0UL, 0UL, 0UL) < 0)
        return ipc__neg_errno();
    return 0;
}

int ipc_proc_is_subreaper(void)
{
    int v = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&v, 0UL, 0UL, 0UL) < 0)
        return ipc__neg_errno();
    return v != 0;
}

/* Reaps what has terminated now. Returns orphans reaped, or -ECHILD when this
 * process has no child at all. */
static int reap_once(void)
{
    int count = 0;
    pthread_mutex_lock(&reg_lock);
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        /* Peek first: the child may belong to an object, whose status must be kept. */
        if (ipc__sys_waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECHILD && count == 0) {
                pthread_mutex_unlock(&reg_lock);
                return -ECHILD;
            }
            break;
        }
        if (si.si_pid == 0)
            break;
        int raw = 0;
        if (IPC__RETRY(ipc__sys_waitpid(si.si_pid, &raw, WNOHANG)) <= 0)
            break;
        ipc_proc *p = reg_find_locked(si.si_pid);
        if (p) {
            p->stashed = 1;
            p->stash_raw = raw;
        } else {
            count++;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return count;
}

int ipc_proc_reap_orphans(int timeout_ms)
{
    if (timeout_ms < -1)
        return -EINVAL;
    int64_t deadline = timeout_ms > 0 ? (int64_t)ipc__now_ns() + (int64_t)timeout_ms * 1000000 : 0;
    int nap = 1;
    for (;;) {
        int n = reap_once();
        if (n == -ECHILD)
            return 0;
        if (n > 0 || timeout_ms == 0)
            return n;
        if (timeout_ms > 0) {
            int64_t left = ms_left(deadline);
            if (left <= 0)
                return 0;
            sleep_ms(left < nap ? (int)left : nap);
        } else {
            sleep_ms(nap);
        }
        if (nap < 16)
            nap *= 2;
    }
}
