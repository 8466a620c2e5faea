/* shm.c - shared-memory regions, the robust shared mutex and the shared counter. */
#include "ipc/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#ifdef IPC_TEST_FAULTS
#include "ipc_test_faults.h"
#endif

/* ---- regions --------------------------------------------------------------------- */

struct ipc_shm {
    void *base;
    size_t size;
    int fd;
    int kind;
    pid_t creator; /* process that may unlink a named object; 0 when not the creator */
    char name[IPC_SHM_NAME_MAX + 1];
};

static int map_region(struct ipc_shm *r, int fd, size_t size)
{
    int flags = MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0);
    void *p = ipc__sys_mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED)
        return ipc__neg_errno();
    r->base = p;
    r->size = size;
    return 0;
}

static struct ipc_shm *region_alloc(int kind)
{
    struct ipc_shm *r = ipc__sys_calloc(1, sizeof(*r));
    if (r) {
        r->fd = -1;
        r->kind = kind;
    }
    return r;
}

int ipc_shm_new_anon(ipc_shm **out, size_t size)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (size == 0 || size > IPC_SHM_MAX_SIZE)
        return -EINVAL;
    struct ipc_shm *r = region_alloc(IPC_SHM_ANON);
    if (!r)
        return -ENOMEM;
    int rc = map_region(r, -1, size);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Sizes the fd (when size != 0 and resize) and maps it; on failure the caller
 * still owns fd. */
static int region_from_fd(struct ipc_shm **out, int kind, int fd, size_t size, bool resize)
{
    if (resize && IPC__RETRY(ipc__sys_ftruncate(fd, (off_t)size)) < 0)
        return ipc__neg_errno();
    struct ipc_shm *r = region_alloc(kind);
    if (!r)
        return -ENOMEM;
    int rc = map_region(r, fd, size);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->fd = fd;
    *out = r;
    return 0;
}

int ipc_shm_new_memfd(ipc_shm **out, const char *name, size_t size)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (size == 0 || size > IPC_SHM_MAX_SIZE)
        return -EINVAL;
    if (!name)
        name = "ipc";
    if (strnlen(name, 250) > 249) /* memfd_create's limit */
        return -EINVAL;
    int fd = ipc__sys_memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return ipc__neg_errno();
    int rc = region_from_fd(out, IPC_SHM_MEMFD, fd, size, true);
    if (rc < 0)
        close(fd);
    return rc;
}

static int name_valid(const char *name)
{
    if (!name || name[0] != '/')
        return 0;
    size_t len = strnlen(name, IPC_SHM_NAME_MAX + 1);
    if (len < 2 || len > IPC_SHM_NAME_MAX)
        return 0;
    if (strchr(name + 1, '/'))
        return 0;
    if (!strcmp(name, "/.") || !strcmp(name, "/.."))
        return 0;
    return 1;
}

int ipc_shm_new_named(ipc_shm **out, const char *name, size_t size, unsigned flags)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!name_valid(name) || (flags & ~(unsigned)IPC_SHM_OPEN_EXISTING) || size > IPC_SHM_MAX_SIZE)
        return -EINVAL;
    bool existing_ok = flags & IPC_SHM_OPEN_EXISTING;
    if (size == 0 && !existing_ok)
        return -EINVAL;

    int fd = -1;
    bool created = false;
    /* A concurrent unlink between the two opens sends us round again; bounded so
     * that a pathological race cannot spin forever. */
    for (int attempt = 0; attempt < 8 && fd < 0; attempt++) {
        if (size > 0) {
            fd = ipc__sys_shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd >= 0) {
                created = true;
                break;
            }
            if (errno != EEXIST || !existing_ok)
                return ipc__neg_errno();
        }
        fd = ipc__sys_shm_open(name, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0 && (errno != ENOENT || size == 0))
            return ipc__neg_errno();
    }
    if (fd < 0)
        return -EAGAIN;

    int rc;
    if (created) {
        rc = region_from_fd(out, IPC_SHM_NAMED, fd, size, true);
    } else {
        struct stat st;
        if (fstat(fd, &st) < 0) {
            rc = ipc__neg_errno();
        } else if (st.st_size <= 0 || (uint64_t)st.st_size < size ||
                   (uint64_t)st.st_size > IPC_SHM_MAX_SIZE) {
            rc = -EINVAL;
        } else {
            rc = region_from_fd(out, IPC_SHM_NAMED, fd, size ? size : (size_t)st.st_size, false);
        }
    }
    if (rc < 0) {
        if (created)
            shm_unlink(name);
        close(fd);
        return rc;
    }
    (*out)->creator = created ? getpid() : 0;
    memcpy((*out)->name, name, strlen(name) + 1);
    return 0;
}

int ipc_shm_map_fd(ipc_shm **out, int fd, size_t size)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (fd < 0)
        return -EBADF;
    if (size > IPC_SHM_MAX_SIZE)
        return -EINVAL;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return ipc__neg_errno();
    if (st.st_size <= 0 || (uint64_t)st.st_size < size)
        return -EINVAL;
    if (size == 0) {
        if ((uint64_t)st.st_size > IPC_SHM_MAX_SIZE)
            return -EINVAL;
        size = (size_t)st.st_size;
    }
    int dup = ipc__sys_fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0)
        return ipc__neg_errno();
    int rc = region_from_fd(out, IPC_SHM_FROM_FD, dup, size, false);
    if (rc < 0)
        close(dup);
    return rc;
}

int ipc_shm_unlink(const char *name)
{
    if (!name_valid(name))
        return -EINVAL;
    if (shm_unlink(name) < 0)
        return ipc__neg_errno();
    return 0;
}

void *ipc_shm_base(const ipc_shm *r)
{
    return r ? r->base : NULL;
}

size_t ipc_shm_size(const ipc_shm *r)
{
    return r ? r->size : 0;
}

int ipc_shm_fd(const ipc_shm *r)
{
    if (!r)
        return -EINVAL;
    return r->fd >= 0 ? r->fd : -EBADF;
}

int ipc_shm_kind(const ipc_shm *r)
{
    return r ? r->kind : -EINVAL;
}

void ipc_shm_free(ipc_shm *r)
{
    if (!r)
        return;
    if (r->base)
        munmap(r->base, r->size);
    if (r->fd >= 0)
        close(r->fd);
    /* A forked child freeing its inherited copy must not pull the name from
     * under the parent. */
    if (r->kind == IPC_SHM_NAMED && r->creator != 0 && r->creator == getpid())
        shm_unlink(r->name);
    free(r);
}

/* ---- robust mutex helpers ---------------------------------------------------------- */

static int robust_mutex_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc)
        return -rc;
    rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!rc)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    /* Error-checking: a holder that locks again gets EDEADLK, as the header
     * documents, instead of blocking forever on its own lock. */
    if (!rc)
        rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    if (!rc)
        rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return rc ? -rc : 0;
}

/* How long a contended locker sleeps before it looks at the lock again. */
#define ROBUST_WAIT_SLICE_NS 20000000L

/* pthread_mutex_lock, except that a blocked caller wakes every slice to try again.
 * An unlock wakes one sleeper; if that sleeper is being killed (SIGKILL already
 * sent, not yet run), the wakeup dies with it, and the kernel passes it on at the
 * exit only if the lock is still free then. Otherwise the other sleepers stay
 * asleep on a lock nobody holds until some later locker contends: with none, for
 * ever (the likely cause of a worker stuck for good, seen once in `stress counter`,
 * which kills lock users at random). The slices bound that loss to one slice. */
static int lock_in_slices(pthread_mutex_t *m)
{
    int rc = pthread_mutex_trylock(m);
    while (rc == EBUSY || rc == ETIMEDOUT) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t); /* timedlock's clock; a jump only resizes a slice */
        t.tv_nsec += ROBUST_WAIT_SLICE_NS;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        rc = pthread_mutex_timedlock(m, &t);
    }
    return rc;
}

/* Locks m; on EOWNERDEAD runs recover(arg) (may be NULL) while holding it, marks
 * the mutex consistent and returns IPC_EOWNERDEAD. */
static int robust_lock(pthread_mutex_t *m, void (*recover)(void *), void *arg,
                       _Atomic uint64_t *recoveries)
{
    int rc = lock_in_slices(m);
    if (rc == 0)
        return 0;
    if (rc == EOWNERDEAD) {
        if (recover)
            recover(arg);
        pthread_mutex_consistent(m);
        if (recoveries)
            atomic_fetch_add(recoveries, 1);
        return IPC_EOWNERDEAD;
    }
    return -rc;
}

int ipc_shm_mutex_init(pthread_mutex_t *m)
{
    return m ? robust_mutex_init(m) : -EINVAL;
}

int ipc_shm_mutex_lock(pthread_mutex_t *m, void (*recover)(void *arg), void *arg)
{
    return m ? robust_lock(m, recover, arg, NULL) : -EINVAL;
}

/* ---- shared counter ------------------------------------------------------------------ */

#define COUNTER_MAGIC 0x49435452u /* "ICTR" */

struct counter_impl {
    /* Read-mostly line: every add reads magic and kind before it locks. Were they
     * on the lock's line, that read would fetch the contended line in the shared
     * state and the lock's CAS would then need a second transfer to own it. */
    uint32_t magic;
    uint32_t kind;
    _Atomic uint64_t recoveries;
    _Atomic uint32_t fault_every;
    pid_t creator;
    uint32_t own_region; /* allocated by ipc_counter_new */
    /* Hot line: the lock and the value it guards travel together. Every access is
     * atomic, even under a lock: the none kind relies on relaxed loads and stores
     * to race without undefined behaviour, and locked kinds pay nothing extra on
     * x86/arm64 for relaxed accesses. */
    _Alignas(64) _Atomic int64_t value;
    union {
        pthread_mutex_t mutex;
        sem_t sem;
    } lock;
};

_Static_assert(sizeof(struct counter_impl) <= sizeof(ipc_counter), "ipc_counter too small");
_Static_assert(alignof(struct counter_impl) <= alignof(ipc_counter), "ipc_counter misaligned");

static struct counter_impl *counter_impl(const ipc_counter *c)
{
    if (!c)
        return NULL;
    struct counter_impl *ci = (struct counter_impl *)(uintptr_t)c->opaque_;
    if (ci->magic != COUNTER_MAGIC)
        return NULL;
    return ci;
}

int ipc_lock_kind_parse(const char *name, enum ipc_lock_kind *out)
{
    static const struct {
        const char *name;
        enum ipc_lock_kind kind;
    } names[] = {{"mutex", IPC_LOCK_MUTEX},
                 {"sem", IPC_LOCK_SEM},
                 {"atomic", IPC_LOCK_ATOMIC},
                 {"none", IPC_LOCK_NONE}};
    if (!name || !out)
        return -EINVAL;
    for (size_t i = 0; i < IPC__ARRAY_SIZE(names); i++) {
        if (!strcmp(name, names[i].name)) {
            *out = names[i].kind;
            return 0;
        }
    }
    return -EINVAL;
}

const char *ipc_lock_kind_name(enum ipc_lock_kind kind)
{
    switch (kind) {
    case IPC_LOCK_MUTEX:
        return "mutex";
    case IPC_LOCK_SEM:
        return "sem";
    case IPC_LOCK_ATOMIC:
        return "atomic";
    case IPC_LOCK_NONE:
        return "none";
    }
    return "?";
}

int ipc_counter_init(ipc_counter *c, enum ipc_lock_kind kind)
{
    if (!c || ((uintptr_t)c % alignof(ipc_counter)) != 0)
        return -EINVAL;
    if (kind < IPC_LOCK_MUTEX || kind > IPC_LOCK_NONE)
        return -EINVAL;
    struct counter_impl *ci = (struct counter_impl *)(uintptr_t)c->opaque_;
    memset(c, 0, sizeof(*c));
    atomic_init(&ci->value, 0);
    atomic_init(&ci->recoveries, 0);
    atomic_init(&ci->fault_every, 0);
    ci->kind = (uint32_t)kind;
    ci->creator = getpid();
    int rc = 0;
    if (kind == IPC_LOCK_MUTEX)
        rc = robust_mutex_init(&ci->lock.mutex);
    else if (kind == IPC_LOCK_SEM && sem_init(&ci->lock.sem, 1, 1) < 0)
        rc = ipc__neg_errno();
    if (rc < 0)
        return rc;
    /* The magic goes last: a half-initialised counter is never accepted. */
    atomic_thread_fence(memory_order_release);
    ci->magic = COUNTER_MAGIC;
    return 0;
}

int ipc_counter_new(ipc_counter **out, enum ipc_lock_kind kind)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    void *p = ipc__sys_mmap(NULL, sizeof(ipc_counter), PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return ipc__neg_errno();
    int rc = ipc_counter_init(p, kind);
    if (rc < 0) {
        munmap(p, sizeof(ipc_counter));
        return rc;
    }
    counter_impl(p)->own_region = 1;
    *out = p;
    return 0;
}

static int counter_lock(struct counter_impl *ci)
{
    if (ci->kind == IPC_LOCK_MUTEX)
        return robust_lock(&ci->lock.mutex, NULL, NULL, &ci->recoveries);
    if (ci->kind == IPC_LOCK_SEM) {
        if (IPC__RETRY(sem_wait(&ci->lock.sem)) < 0)
            return ipc__neg_errno();
        return 0;
    }
    return -ENOTSUP;
}

static int counter_unlock(struct counter_impl *ci)
{
    if (ci->kind == IPC_LOCK_MUTEX) {
        int rc = pthread_mutex_unlock(&ci->lock.mutex);
        return rc ? -rc : 0;
    }
    if (ci->kind == IPC_LOCK_SEM)
        return sem_post(&ci->lock.sem) < 0 ? ipc__neg_errno() : 0;
    return -ENOTSUP;
}

/* The lost-update demonstration: read, give the other processes a chance to
 * read the same value, write back. Relaxed atomics keep this free of undefined
 * behaviour (and TSan reports) while the read-modify-write stays non-atomic. */
static int64_t racy_add(struct counter_impl *ci, int64_t n)
{
    int64_t v = atomic_load_explicit(&ci->value, memory_order_relaxed);
    sched_yield();
    int64_t nv = (int64_t)((uint64_t)v + (uint64_t)n);
    atomic_store_explicit(&ci->value, nv, memory_order_relaxed);
    return nv;
}

#ifdef IPC_TEST_FAULTS
static _Thread_local uint64_t g_fault_adds;
#endif

int ipc_counter_add(ipc_counter *c, int64_t n, int64_t *out_new)
{
    struct counter_impl *ci = counter_impl(c);
    if (!ci)
        return -EINVAL;
    int64_t nv;
    switch (ci->kind) {
    case IPC_LOCK_ATOMIC: {
        int64_t old = atomic_fetch_add_explicit(&ci->value, n, memory_order_seq_cst);
        nv = (int64_t)((uint64_t)old + (uint64_t)n);
        break;
    }
    case IPC_LOCK_NONE:
        nv = racy_add(ci, n);
        break;
    case IPC_LOCK_MUTEX:
    case IPC_LOCK_SEM: {
#ifdef IPC_TEST_FAULTS
        uint32_t every = atomic_load_explicit(&ci->fault_every, memory_order_relaxed);
        if (every && ++g_fault_adds % every == 0) {
            nv = racy_add(ci, n);
            break;
        }
#endif
        int rc = counter_lock(ci);
        if (rc < 0 && rc != IPC_EOWNERDEAD)
            return rc;
        int64_t v = atomic_load_explicit(&ci->value, memory_order_relaxed);
        if (__builtin_add_overflow(v, n, &nv)) {
            counter_unlock(ci);
            return -EOVERFLOW;
        }
        atomic_store_explicit(&ci->value, nv, memory_order_relaxed);
        int urc = counter_unlock(ci);
        if (out_new)
            *out_new = nv;
        return urc < 0 ? urc : rc;
    }
    default:
        return -EINVAL;
    }
    if (out_new)
        *out_new = nv;
    return 0;
}

int ipc_counter_get(const ipc_counter *c, int64_t *out)
{
    struct counter_impl *ci = counter_impl(c);
    if (!ci || !out)
        return -EINVAL;
    *out = atomic_load(&ci->value);
    return 0;
}

int ipc_counter_lock(ipc_counter *c)
{
    struct counter_impl *ci = counter_impl(c);
    if (!ci)
        return -EINVAL;
    return counter_lock(ci);
}

int ipc_counter_unlock(ipc_counter *c)
{
    struct counter_impl *ci = counter_impl(c);
    if (!ci)
        return -EINVAL;
    return counter_unlock(ci);
}

int ipc_counter_kind(const ipc_counter *c)
{
    struct counter_impl *ci = counter_impl(c);
    return ci ? (int)ci->kind : -EINVAL;
}

uint64_t ipc_counter_recoveries(const ipc_counter *c)
{
    struct counter_impl *ci = counter_impl(c);
    return ci ? atomic_load(&ci->recoveries) : 0;
}

void ipc_counter_destroy(ipc_counter *c)
{
    struct counter_impl *ci = counter_impl(c);
    if (!ci || ci->creator != getpid())
        return;
    if (ci->kind == IPC_LOCK_MUTEX)
        pthread_mutex_destroy(&ci->lock.mutex);
    else if (ci->kind == IPC_LOCK_SEM)
        sem_destroy(&ci->lock.sem);
    ci->magic = 0;
}

void ipc_counter_free(ipc_counter *c)
{
    struct counter_impl *ci = counter_impl(c);
    if (!ci || !ci->own_region)
        return;
    ipc_counter_destroy(c);
    munmap(c, sizeof(ipc_counter));
}

#ifdef IPC_TEST_FAULTS
int ipc_counter_fault_skip_lock(ipc_counter *c, uint32_t every_nth)
{
    struct counter_impl *ci = counter_impl(c);
    if (!ci)
        return -EINVAL;
    atomic_store(&ci->fault_every, every_nth);
    return 0;
}
#endif
