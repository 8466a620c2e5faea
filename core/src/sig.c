/* sig.c - sigaction wrappers, sigqueue, masks, waits and the signal event source. */
#include "ipc/sig.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Handlers must only touch lock-free atomics to stay async-signal-safe. */
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2, "signal counters need lock-free atomics");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "self-pipe fd needs lock-free atomics");
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2, "handler table needs lock-free atomics");

/* User handlers reached through the errno-preserving trampoline, per signal. */
static _Atomic(ipc_sig_handler_fn) g_fn[_NSIG];
/* Deliveries counted by the ipc_sig_catch handler. */
static atomic_ulong g_caught[_NSIG];
/* Write end of the (single) self-pipe event source, -1 when none. */
static atomic_int g_selfpipe_wfd = -1;
static atomic_ulong g_selfpipe_dropped;

static int signo_valid(int signo)
{
    if (signo <= 0 || signo >= _NSIG)
        return 0;
    /* glibc reserves the signals between the standard ones and SIGRTMIN. */
    if (signo > 31 && signo < SIGRTMIN)
        return 0;
    return 1;
}

/* A signal whose disposition the library may change. */
static int signo_catchable(int signo)
{
    return signo_valid(signo) && signo != SIGKILL && signo != SIGSTOP && signo != SIGPIPE;
}

static void fill_from_siginfo(struct ipc_sig_info *out, int signo, const siginfo_t *si)
{
    memset(out, 0, sizeof(*out));
    out->signo = signo;
    if (!si)
        return;
    out->code = si->si_code;
    int has_sender = si->si_code == SI_USER || si->si_code == SI_QUEUE || si->si_code == SI_TKILL ||
                     (signo == SIGCHLD && si->si_code > 0);
    if (has_sender) {
        out->pid = si->si_pid;
        out->uid = si->si_uid;
    }
    if (si->si_code == SI_QUEUE || si->si_code == SI_TIMER || si->si_code == SI_MESGQ)
        out->value = si->si_value.sival_int;
    if (signo == SIGCHLD && si->si_code > 0)
        out->status = si->si_status;
}

/* ---- handlers ------------------------------------------------------------------- */

static void trampoline(int signo, siginfo_t *si, void *uc)
{
    int saved = errno;
    ipc_sig_handler_fn fn = NULL;
    if (signo > 0 && signo < _NSIG)
        fn = atomic_load_explicit(&g_fn[signo], memory_order_acquire);
    if (fn)
        fn(signo, si, uc);
    errno = saved;
}

static void count_handler(int signo, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    /* An atomic add does not touch errno; nothing else happens here. */
    if (signo > 0 && signo < _NSIG)
        atomic_fetch_add_explicit(&g_caught[signo], 1, memory_order_relaxed);
}

static void selfpipe_handler(int signo, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    struct ipc_sig_info rec;
    fill_from_siginfo(&rec, signo, si);
    int fd = atomic_load_explicit(&g_selfpipe_wfd, memory_order_acquire);
    /* One record is far below PIPE_BUF, so the write is all or nothing; a full
     * pipe (EAGAIN) drops the record rather than blocking in a handler. */
    if (fd < 0 || ipc__sys_write(fd, &rec, sizeof(rec)) != (ssize_t)sizeof(rec))
        atomic_fetch_add_explicit(&g_selfpipe_dropped, 1, memory_order_relaxed);
    errno = saved;
}

static unsigned sa_flags_of(unsigned flags)
{
    unsigned sa = SA_SIGINFO;
    if (flags & IPC_SIG_RESTART)
        sa |= SA_RESTART;
    if (flags & IPC_SIG_NOCLDSTOP)
        sa |= SA_NOCLDSTOP;
    if (flags & IPC_SIG_ONESHOT)
        sa |= SA_RESETHAND;
    return sa;
}

#define IPC_SIG_ALL_FLAGS (IPC_SIG_RESTART | IPC_SIG_NOCLDSTOP | IPC_SIG_ONESHOT)

static int install_action(int signo, void (*action)(int, siginfo_t *, void *), unsigned sa_flags,
                          const sigset_t *mask, struct ipc_sig_prev *prev)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = action;
    sa.sa_flags = (int)sa_flags;
    if (mask)
        sa.sa_mask = *mask;
    else
        sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, signo);
    struct sigaction old;
    if (ipc__sys_sigaction(signo, &sa, &old) < 0)
        return ipc__neg_errno();
    if (prev) {
        prev->sa = old;
        prev->signo = signo;
    }
    return 0;
}

int ipc_sig_install(int signo, ipc_sig_handler_fn fn, unsigned flags, struct ipc_sig_prev *prev)
{
    if (!signo_catchable(signo) || !fn || (flags & ~(unsigned)IPC_SIG_ALL_FLAGS))
        return -EINVAL;
    /* Publish the target before the trampoline can run for it. */
    ipc_sig_handler_fn old_fn = atomic_exchange_explicit(&g_fn[signo], fn, memory_order_acq_rel);
    int rc = install_action(signo, trampoline, sa_flags_of(flags), NULL, prev);
    if (rc < 0) {
        atomic_store_explicit(&g_fn[signo], old_fn, memory_order_release);
        return rc;
    }
    if (prev)
        prev->fn = old_fn;
    return 0;
}

int ipc_sig_catch(int signo, unsigned flags, struct ipc_sig_prev *prev)
{
    if (!signo_catchable(signo) || (flags & ~(unsigned)IPC_SIG_ALL_FLAGS))
        return -EINVAL;
    int rc = install_action(signo, count_handler, sa_flags_of(flags), NULL, prev);
    if (rc == 0 && prev)
        prev->fn = atomic_load_explicit(&g_fn[signo], memory_order_acquire);
    return rc;
}

unsigned long ipc_sig_caught(int signo)
{
    if (signo <= 0 || signo >= _NSIG)
        return 0;
    return atomic_load_explicit(&g_caught[signo], memory_order_relaxed);
}

void ipc_sig_caught_reset(int signo)
{
    if (signo > 0 && signo < _NSIG)
        atomic_store_explicit(&g_caught[signo], 0, memory_order_relaxed);
}

int ipc_sig_restore(const struct ipc_sig_prev *prev)
{
    if (!prev || !signo_catchable(prev->signo))
        return -EINVAL;
    atomic_store_explicit(&g_fn[prev->signo], prev->fn, memory_order_release);
    if (ipc__sys_sigaction(prev->signo, &prev->sa, NULL) < 0)
        return ipc__neg_errno();
    return 0;
}

int ipc_sig_set_default(int signo, int ignore, struct ipc_sig_prev *prev)
{
    if (!signo_catchable(signo))
        return -EINVAL;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ignore ? SIG_IGN : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    if (ipc__sys_sigaction(signo, &sa, &old) < 0)
        return ipc__neg_errno();
    if (prev) {
        prev->sa = old;
        prev->signo = signo;
        prev->fn = atomic_load_explicit(&g_fn[signo], memory_order_acquire);
    }
    return 0;
}

int ipc_sig_child_reset(void)
{
    /* Only sigaction, sigemptyset and sigprocmask: all async-signal-safe, so this
     * may run between fork and exec. */
    int err = 0;
    for (int s = 1; s < _NSIG; s++) {
        if (!signo_catchable(s))
            continue;
        struct sigaction old;
        if (ipc__sys_sigaction(s, NULL, &old) < 0) {
            /* Unknown disposition: it may still be caught, so 0 would lie. */
            if (!err)
                err = ipc__neg_errno();
            continue;
        }
        /* sa_handler aliases sa_sigaction: SIG_IGN stays ignored even when it
         * was installed with SA_SIGINFO in sa_flags. */
        if (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN)
            continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        if (ipc__sys_sigaction(s, &sa, NULL) < 0 && !err)
            err = ipc__neg_errno();
    }
    sigset_t none;
    sigemptyset(&none);
    if (ipc__sys_sigprocmask(SIG_SETMASK, &none, NULL) < 0 && !err)
        err = ipc__neg_errno();
    return err;
}

/* ---- sending -------------------------------------------------------------------- */

int ipc_sig_send(pid_t pid, int signo)
{
    if (signo != 0 && !signo_valid(signo))
        return -EINVAL;
    if (ipc__sys_kill(pid, signo) < 0)
        return ipc__neg_errno();
    return 0;
}

int ipc_sig_queue(pid_t pid, int signo, int value)
{
    if (signo != 0 && !signo_valid(signo))
        return -EINVAL;
    union sigval v;
    memset(&v, 0, sizeof(v));
    v.sival_int = value;
    if (ipc__sys_sigqueue(pid, signo, v) < 0)
        return ipc__neg_errno();
    return 0;
}

/* ---- masks ---------------------------------------------------------------------- */

int ipc_sig_mkset(sigset_t *set, ...)
{
    if (!set)
        return -EINVAL;
    sigemptyset(set);
    va_list ap;
    va_start(ap, set);
    int rc = 0;
    for (;;) {
        int s = va_arg(ap, int);
        if (s == 0)
            break;
        if (!signo_valid(s)) {
            rc = -EINVAL;
            break;
        }
        sigaddset(set, s);
    }
    va_end(ap);
    return rc;
}

static int mask_op(int how, const sigset_t *set, sigset_t *old)
{
    if (!set)
        return -EINVAL;
    int rc = ipc__sys_pthread_sigmask(how, set, old);
    return rc ? -rc : 0;
}

int ipc_sig_block(const sigset_t *set, sigset_t *old)
{
    return mask_op(SIG_BLOCK, set, old);
}

int ipc_sig_unblock(const sigset_t *set, sigset_t *old)
{
    return mask_op(SIG_UNBLOCK, set, old);
}

int ipc_sig_setmask(const sigset_t *set, sigset_t *old)
{
    return mask_op(SIG_SETMASK, set, old);
}

int ipc_sig_block_one(int signo)
{
    if (!signo_valid(signo))
        return -EINVAL;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, signo);
    return mask_op(SIG_BLOCK, &s, NULL);
}

int ipc_sig_unblock_one(int signo)
{
    if (!signo_valid(signo))
        return -EINVAL;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, signo);
    return mask_op(SIG_UNBLOCK, &s, NULL);
}

/* ---- synchronous wait ------------------------------------------------------------ */

int ipc_sig_wait(const sigset_t *set, struct ipc_sig_info *out)
{
    if (!set)
        return -EINVAL;
    siginfo_t si;
    int s = IPC__RETRY(sigwaitinfo(set, &si));
    if (s < 0)
        return ipc__neg_errno();
    if (out)
        fill_from_siginfo(out, s, &si);
    return s;
}

int ipc_sig_timedwait(const sigset_t *set, int timeout_ms, struct ipc_sig_info *out)
{
    if (!set)
        return -EINVAL;
    if (timeout_ms < 0)
        return ipc_sig_wait(set, out);
    int64_t deadline = (int64_t)ipc__now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int64_t left = deadline - (int64_t)ipc__now_ns();
        if (left < 0)
            left = 0;
        struct timespec ts = {.tv_sec = (time_t)(left / 1000000000),
                              .tv_nsec = (long)(left % 1000000000)};
        siginfo_t si;
        int s = ipc__sys_sigtimedwait(set, &si, &ts);
        if (s > 0) {
            if (out)
                fill_from_siginfo(out, s, &si);
            return s;
        }
        if (errno == EINTR)
            continue; /* a handler ran; wait out the rest of the timeout */
        if (errno == EAGAIN)
            return -EAGAIN;
        return ipc__neg_errno();
    }
}

/* ---- event source ----------------------------------------------------------------- */

struct ipc_sigsrc {
    int backend;
    int fd;  /* signalfd, or the self-pipe read end */
    int wfd; /* self-pipe write end, -1 for signalfd */
    sigset_t set;
    sigset_t old_mask; /* calling thread's mask at creation */
    struct ipc_sig_prev prev[_NSIG];
};

static int set_is_valid(const sigset_t *set, int *count)
{
    int n = 0;
    for (int s = 1; s < _NSIG; s++) {
        if (!signo_valid(s))
            continue;
        int m = sigismember(set, s);
        if (m == 1) {
            if (!signo_catchable(s))
                return 0;
            n++;
        }
    }
    *count = n;
    return n > 0;
}

static int sigsrc_open_signalfd(struct ipc_sigsrc *src)
{
    int rc = ipc__sys_pthread_sigmask(SIG_BLOCK, &src->set, &src->old_mask);
    if (rc)
        return -rc;
    int fd = ipc__sys_signalfd(-1, &src->set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) {
        int err = ipc__neg_errno();
        ipc__sys_pthread_sigmask(SIG_SETMASK, &src->old_mask, NULL);
        return err;
    }
    src->fd = fd;
    src->backend = IPC_SIGSRC_SIGNALFD;
    return 0;
}

/* Unblocks the watched signals that were not blocked before the source existed,
 * leaving alone whatever else the caller changed in the meantime. */
static void unblock_new(const struct ipc_sigsrc *src)
{
    sigset_t un;
    sigemptyset(&un);
    for (int s = 1; s < _NSIG; s++)
        if (signo_valid(s) && sigismember(&src->set, s) == 1 && sigismember(&src->old_mask, s) == 0)
            sigaddset(&un, s);
    ipc__sys_pthread_sigmask(SIG_UNBLOCK, &un, NULL);
}

static int sigsrc_open_selfpipe(struct ipc_sigsrc *src)
{
    int p[2];
    if (ipc__sys_pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        return ipc__neg_errno();
    int expected = -1;
    if (!atomic_compare_exchange_strong(&g_selfpipe_wfd, &expected, p[1])) {
        close(p[0]);
        close(p[1]);
        return -EBUSY;
    }
    atomic_store(&g_selfpipe_dropped, 0);
    src->fd = p[0];
    src->wfd = p[1];
    src->backend = IPC_SIGSRC_SELFPIPE;
    /* Keep the watched signals blocked while the handlers go in, so that none
     * runs half-installed; then let pending ones drain into the pipe. */
    int rc = ipc__sys_pthread_sigmask(SIG_BLOCK, &src->set, &src->old_mask);
    if (rc) {
        rc = -rc;
        goto fail_pipe;
    }
    for (int s = 1; s < _NSIG; s++) {
        if (!signo_valid(s) || sigismember(&src->set, s) != 1)
            continue;
        rc = install_action(s, selfpipe_handler, SA_SIGINFO | SA_RESTART, &src->set, &src->prev[s]);
        if (rc < 0) {
            for (int u = 1; u < s; u++)
                if (signo_valid(u) && sigismember(&src->set, u) == 1)
                    ipc__sys_sigaction(u, &src->prev[u].sa, NULL);
            ipc__sys_pthread_sigmask(SIG_SETMASK, &src->old_mask, NULL);
            goto fail_pipe;
        }
    }
    ipc__sys_pthread_sigmask(SIG_UNBLOCK, &src->set, NULL);
    return 0;
fail_pipe:
    atomic_store(&g_selfpipe_wfd, -1);
    close(p[0]);
    close(p[1]);
    src->fd = src->wfd = -1;
    return rc;
}

int ipc_sigsrc_new(ipc_sigsrc **out, const sigset_t *set, unsigned flags)
{
    if (!out || !set || (flags & ~(unsigned)IPC_SIGSRC_FORCE_SELFPIPE))
        return -EINVAL;
    *out = NULL;
    int count;
    if (!set_is_valid(set, &count))
        return -EINVAL;
    struct ipc_sigsrc *src = ipc__sys_calloc(1, sizeof(*src));
    if (!src)
        return -ENOMEM;
    src->fd = src->wfd = -1;
    src->set = *set;
    int rc = -ENOSYS;
    if (!(flags & IPC_SIGSRC_FORCE_SELFPIPE)) {
        rc = sigsrc_open_signalfd(src);
        /* Only a kernel without signalfd falls back; resource errors are real. */
        if (rc < 0 && rc != -ENOSYS && rc != -EINVAL) {
            free(src);
            return rc;
        }
    }
    if (rc < 0)
        rc = sigsrc_open_selfpipe(src);
    if (rc < 0) {
        free(src);
        return rc;
    }
    *out = src;
    return 0;
}

int ipc_sigsrc_fd(const ipc_sigsrc *src)
{
    return src ? src->fd : -EINVAL;
}

int ipc_sigsrc_backend(const ipc_sigsrc *src)
{
    return src ? src->backend : -EINVAL;
}

int ipc_sigsrc_read(ipc_sigsrc *src, struct ipc_sig_info *out)
{
    if (!src || !out)
        return -EINVAL;
    if (src->backend == IPC_SIGSRC_SIGNALFD) {
        struct signalfd_siginfo ssi;
        ssize_t n = IPC__RETRY(ipc__sys_signalfd_read(src->fd, &ssi, sizeof(ssi)));
        if (n < 0)
            return errno == EAGAIN ? 0 : ipc__neg_errno();
        if (n != (ssize_t)sizeof(ssi))
            return -EIO;
        memset(out, 0, sizeof(*out));
        out->signo = (int)ssi.ssi_signo;
        out->code = ssi.ssi_code;
        int has_sender = ssi.ssi_code == SI_USER || ssi.ssi_code == SI_QUEUE ||
                         ssi.ssi_code == SI_TKILL || (out->signo == SIGCHLD && ssi.ssi_code > 0);
        if (has_sender) {
            out->pid = (pid_t)ssi.ssi_pid;
            out->uid = (uid_t)ssi.ssi_uid;
        }
        if (ssi.ssi_code == SI_QUEUE || ssi.ssi_code == SI_TIMER || ssi.ssi_code == SI_MESGQ)
            out->value = ssi.ssi_int;
        if (out->signo == SIGCHLD && ssi.ssi_code > 0)
            out->status = ssi.ssi_status;
        return 1;
    }
    ssize_t n = IPC__RETRY(ipc__sys_signalfd_read(src->fd, out, sizeof(*out)));
    if (n < 0)
        return errno == EAGAIN ? 0 : ipc__neg_errno();
    /* Records are written whole (below PIPE_BUF) and read whole. */
    if (n != (ssize_t)sizeof(*out))
        return -EIO;
    return 1;
}

unsigned long ipc_sigsrc_dropped(const ipc_sigsrc *src)
{
    if (!src || src->backend != IPC_SIGSRC_SELFPIPE)
        return 0;
    return atomic_load(&g_selfpipe_dropped);
}

void ipc_sigsrc_free(ipc_sigsrc *src)
{
    if (!src)
        return;
    if (src->backend == IPC_SIGSRC_SELFPIPE) {
        /* Block first so no handler writes to a pipe being closed, then put the
         * old handlers back; pending signals then go to those. */
        ipc__sys_pthread_sigmask(SIG_BLOCK, &src->set, NULL);
        for (int s = 1; s < _NSIG; s++)
            if (signo_valid(s) && sigismember(&src->set, s) == 1)
                ipc__sys_sigaction(s, &src->prev[s].sa, NULL);
        int expected = src->wfd;
        atomic_compare_exchange_strong(&g_selfpipe_wfd, &expected, -1);
        close(src->wfd);
    }
    close(src->fd);
    unblock_new(src);
    free(src);
}
