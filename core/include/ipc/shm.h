/* ipc/shm.h - shared memory: regions (anonymous, memfd, named POSIX shm), a
 * shared counter with a selectable lock, and the robust process-shared mutex
 * that guards it.
 *
 * Fork model: a region or counter created BEFORE fork() is shared by the
 * parent and the children (MAP_SHARED). A child that ends with _exit() need not
 * free anything; a child that calls the _free functions only unmaps/closes its
 * own copy: destruction of locks and unlinking of named objects is done only by
 * the creating process (tracked by pid).
 *
 * Safety, unless a function says otherwise: thread-safe (no hidden global
 * state; the counter functions lock what they share), NOT
 * async-signal-safe (they may call mmap/malloc or block on a lock), usable in a
 * forked child of a single-threaded parent.
 *
 * Return convention: see ipc/error.h (>= 0 success, negative errno on failure).
 * The constructors (ipc_shm_new_*, ipc_shm_map_fd, ipc_counter_new) set *out to
 * NULL whenever they fail, so a caller never keeps a stale region by mistake.
 *
 * Errors under faults (what harnesses/faultsweep.c observed with every seam call
 * of this module failed in turn; the same holds for real failures):
 *   ipc_shm_new_anon, ipc_counter_new  -ENOMEM/-EAGAIN (mmap), -ENOMEM.
 *   ipc_shm_new_memfd      -EMFILE/-ENFILE/-ENOMEM (memfd_create), -ENOSPC/-EFBIG
 *                          (ftruncate; EINTR is retried), -ENOMEM/-EAGAIN (mmap).
 *   ipc_shm_new_named      -EMFILE/-ENFILE/-EACCES (shm_open), ftruncate and mmap
 *                          as above; the name is unlinked on failure.
 *   ipc_shm_map_fd         -EMFILE (F_DUPFD_CLOEXEC), -ENOMEM/-EAGAIN (mmap).
 *   The counter and mutex functions make no call the seam can fail: increments
 *   acknowledged = counter value (the sweep checks it from two children).
 */
#ifndef IPC_SHM_H
#define IPC_SHM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- regions ----------------------------------------------------------------- */

typedef struct ipc_shm ipc_shm;

/* Largest region size accepted (1 TiB): a bound, not a promise of memory. */
#define IPC_SHM_MAX_SIZE ((size_t)1 << 40)
/* Longest named-region name including the leading '/' (NAME_MAX of /dev/shm). */
#define IPC_SHM_NAME_MAX 255

enum ipc_shm_kind {
    IPC_SHM_ANON = 1,    /* MAP_SHARED|MAP_ANONYMOUS, no fd */
    IPC_SHM_MEMFD = 2,   /* memfd_create(MFD_CLOEXEC) */
    IPC_SHM_NAMED = 3,   /* shm_open */
    IPC_SHM_FROM_FD = 4, /* ipc_shm_map_fd */
};

/* Flag of ipc_shm_new_named: open the object if it already exists instead of
 * failing with -EEXIST. The region is then not the creator and does not unlink on
 * free; size 0 means "use the existing size". */
#define IPC_SHM_OPEN_EXISTING 0x1u

/* Anonymous shared mapping of size bytes (zero-filled), inherited over fork.
 * Returns 0 with *out set; -EINVAL (out NULL, size 0 or > IPC_SHM_MAX_SIZE),
 * -ENOMEM. Thread-safe, not async-signal-safe. */
IPC_MUST_USE int ipc_shm_new_anon(ipc_shm **out, size_t size);

/* memfd_create(name, MFD_CLOEXEC) sized with ftruncate and mapped MAP_SHARED.
 * name is only a debugging label (may be NULL -> "ipc"; at most 249 bytes).
 * ipc_shm_fd() gives the fd, to be passed to another process (inherit it across
 * fork after clearing FD_CLOEXEC in the child, or send it with SCM_RIGHTS), which
 * maps it with ipc_shm_map_fd. Returns 0; -EINVAL, -ENOMEM, -EMFILE, -ENOSYS,
 * -EFBIG (as ipc_shm_new_named). */
IPC_MUST_USE int ipc_shm_new_memfd(ipc_shm **out, const char *name, size_t size);

/* Named POSIX shared memory: shm_open(name, O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC,
 * 0600), ftruncate(size), mmap MAP_SHARED. name must start with '/', contain no
 * other '/', and be 2..IPC_SHM_NAME_MAX bytes long. The creator unlinks the name
 * on free (only in the creating process, not in forked children).
 * Returns 0; -EEXIST if the name exists and IPC_SHM_OPEN_EXISTING is not given;
 * -EINVAL (bad name, size 0 without OPEN_EXISTING, size > IPC_SHM_MAX_SIZE,
 * existing object smaller than size, unknown flags); -EACCES; -ENOENT
 * (/dev/shm missing); -EMFILE; -ENOMEM; -EFBIG (size above RLIMIT_FSIZE: the
 * kernel also sends SIGXFSZ, whose default action ends the process). A failed
 * creation unlinks the name it created and closes its descriptor. */
IPC_MUST_USE int ipc_shm_new_named(ipc_shm **out, const char *name, size_t size, unsigned flags);

/* Maps an existing shared-memory fd (a memfd or shm_open fd, e.g. inherited or
 * received). size 0 means the object's current size (fstat). The caller keeps
 * ownership of fd: the region holds its own F_DUPFD_CLOEXEC duplicate, so the
 * caller may close fd right after. Returns 0; -EBADF, -EINVAL (size larger than
 * the object, zero-sized object), -ENOMEM. */
IPC_MUST_USE int ipc_shm_map_fd(ipc_shm **out, int fd, size_t size);

/* Unlinks a named object (e.g. a leftover from a crashed run). Returns 0,
 * -ENOENT, -EINVAL (bad name), -EACCES. */
IPC_MUST_USE int ipc_shm_unlink(const char *name);

/* Base address of the mapping (page-aligned), NULL for a NULL region. */
void *ipc_shm_base(const ipc_shm *r);
/* Size in bytes requested (or found, for OPEN_EXISTING / map_fd); 0 for NULL. */
size_t ipc_shm_size(const ipc_shm *r);
/* The region's fd (memfd, named, from-fd), owned by the region: do not close.
 * Returns -EBADF for an anonymous region, -EINVAL for NULL. */
int ipc_shm_fd(const ipc_shm *r);
/* enum ipc_shm_kind, or -EINVAL for NULL. */
int ipc_shm_kind(const ipc_shm *r);

/* Unmaps, closes the fd and, in the creating process of a named region, unlinks
 * the name. NULL is a no-op. Not async-signal-safe. */
void ipc_shm_free(ipc_shm *r);

/* ---- shared counter ----------------------------------------------------------- */

enum ipc_lock_kind {
    IPC_LOCK_MUTEX = 1,  /* robust PTHREAD_PROCESS_SHARED mutex; holder death is recovered */
    IPC_LOCK_SEM = 2,    /* sem_init(pshared=1) binary semaphore; NO owner-death recovery:
                          * a holder killed while holding it blocks everyone forever */
    IPC_LOCK_ATOMIC = 3, /* C11 atomic_fetch_add; no lock at all */
    IPC_LOCK_NONE = 4,   /* deliberately racy read / yield window / write: loses updates */
};

/* Parses "mutex", "sem", "atomic", "none" into *out. Returns 0 or -EINVAL. */
IPC_MUST_USE int ipc_lock_kind_parse(const char *name, enum ipc_lock_kind *out);
/* "mutex", "sem", "atomic", "none", or "?" */
const char *ipc_lock_kind_name(enum ipc_lock_kind kind);

/* A counter placed by the caller inside shared memory (e.g. at the base of an
 * ipc_shm region created before fork). Its contents are private; only its size
 * and alignment are public. */
typedef struct ipc_counter {
    _Alignas(64) unsigned char opaque_[192];
} ipc_counter;

/* Initialises *c in place with the given lock kind and value 0. c must be in
 * memory shared by every process that will use it (MAP_SHARED) and must not be
 * in use. Returns 0; -EINVAL (NULL, unknown kind, misaligned), or the error of
 * pthread_mutex_init/sem_init. Not thread-safe against users of c. */
IPC_MUST_USE int ipc_counter_init(ipc_counter *c, enum ipc_lock_kind kind);

/* Creates a counter in its own anonymous shared region (inherited over fork).
 * Free with ipc_counter_free. Returns 0; -EINVAL, -ENOMEM. */
IPC_MUST_USE int ipc_counter_new(ipc_counter **out, enum ipc_lock_kind kind);

/* Adds n and stores the new value in *out_new (may be NULL).
 * Returns 0; IPC_EOWNERDEAD (mutex kind: the add DID happen and *out_new is
 * valid, but a previous holder died holding the lock; the lock was made
 * consistent again: the value is the last one a holder stored); -EOVERFLOW for
 * mutex/sem when the result would leave int64_t (value unchanged); -EINVAL;
 * -ENOTRECOVERABLE. The atomic and none kinds wrap modulo 2^64 instead of
 * reporting overflow (no undefined behaviour either way).
 * Thread-safe and process-safe (except kind none, by design). Not
 * async-signal-safe. */
IPC_MUST_USE int ipc_counter_add(ipc_counter *c, int64_t n, int64_t *out_new);

/* Reads the current value (an atomic load: no lock taken). Returns 0 or -EINVAL.
 * Thread-safe, async-signal-safe. */
IPC_MUST_USE int ipc_counter_get(const ipc_counter *c, int64_t *out);

/* Takes / releases the counter's lock explicitly (mutex and sem kinds), e.g.
 * to hold it while being killed in a stress test. lock returns 0,
 * IPC_EOWNERDEAD (acquired, previous holder died, recovered), -ENOTSUP (atomic,
 * none), -EINVAL, -EDEADLK (mutex kind, already held by the caller; a sem
 * has no owner, so relocking it blocks forever). unlock returns 0, -EPERM (mutex
 * not held by the caller), -ENOTSUP, -EINVAL. Do not call ipc_counter_add while
 * holding it. */
IPC_MUST_USE int ipc_counter_lock(ipc_counter *c);
IPC_MUST_USE int ipc_counter_unlock(ipc_counter *c);

/* The kind given at init, or -EINVAL. */
int ipc_counter_kind(const ipc_counter *c);

/* Number of owner-death recoveries this counter has seen (mutex kind). */
uint64_t ipc_counter_recoveries(const ipc_counter *c);

/* Destroys the lock of an in-place counter (no process may use it any more).
 * Only the process that called ipc_counter_init destroys; in others it is a
 * no-op. NULL is a no-op. A destroyed counter reads as never initialised: the
 * functions above return -EINVAL for it. */
void ipc_counter_destroy(ipc_counter *c);

/* Destroys (in the creating process) and unmaps a counter from
 * ipc_counter_new. In a forked child it only unmaps. NULL is a no-op. */
void ipc_counter_free(ipc_counter *c);

/* ---- robust process-shared mutex ------------------------------------------------ */

/* Initialises *m (inside a MAP_SHARED region) as a process-shared, robust,
 * error-checking mutex: the lock of "shared memory guarded by a lock" that the
 * counter uses, for callers that guard their own shared structures. Returns 0,
 * -EINVAL, or a pthread error as a negative errno. */
IPC_MUST_USE int ipc_shm_mutex_init(pthread_mutex_t *m);

/* Locks *m. When its previous holder died holding it, runs recover(arg) (may be
 * NULL) while holding the lock, marks the mutex consistent and returns
 * IPC_EOWNERDEAD, which is success: the lock is held. Otherwise 0, -EDEADLK (held
 * by the caller), -ENOTRECOVERABLE, -EINVAL. Unlock with pthread_mutex_unlock.
 * A blocked caller also looks at the lock again every 20 ms, so a wakeup lost
 * with a waiter killed at that moment costs one such wait, not a hang (the
 * counter's mutex kind and the server's table lock the same way). */
IPC_MUST_USE int ipc_shm_mutex_lock(pthread_mutex_t *m, void (*recover)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif
#endif
