/* ipcsrv/ctab.h - a fixed-capacity table of named 64-bit counters in one
 * anonymous MAP_SHARED region, guarded by libipc's robust process-shared mutex
 * (ipc/shm.h): the keyspace of `ipcstorm serve`, shared by all its workers.
 *
 * Fork model: create the table before forking the processes that share it; a
 * child that ends with _exit() need not free it. Only the creating process
 * destroys the mutex. Return convention: ipc/error.h. */
#ifndef IPCSRV_CTAB_H
#define IPCSRV_CTAB_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipc_ctab ipc_ctab;

#define IPC_CTAB_KEY_MAX          64   /* bytes; keys are binary, not NUL-terminated */
#define IPC_CTAB_DEFAULT_CAPACITY 4096 /* keys, when capacity 0 is passed */
#define IPC_CTAB_MAX_CAPACITY     (1u << 20)

/* Creates a table for up to capacity live keys (0 -> default, at most
 * IPC_CTAB_MAX_CAPACITY) in an anonymous MAP_SHARED region: create it before
 * forking the processes that share it. Returns 0; -EINVAL, -ENOMEM (with *out
 * NULL when out is not). */
IPC_MUST_USE int ipc_ctab_new(ipc_ctab **out, size_t capacity);

/* Adds delta to key's value (a missing key starts at 0 and is created) and
 * stores the new value in *result (may be NULL).
 * Returns 0; IPC_EOWNERDEAD: SUCCESS too (the operation happened, *result is
 * valid) - a process died holding the table lock and the table was recovered
 * (every mutation commits with one final store, so a half-done one is never
 * visible); -EOVERFLOW (value unchanged); -ENOSPC (new key, table full);
 * -E2BIG (keylen > IPC_CTAB_KEY_MAX); -EINVAL (NULL table, NULL key with
 * keylen > 0); -ENOTRECOVERABLE.
 * Process-safe and thread-safe (one robust mutex), not async-signal-safe. */
IPC_MUST_USE int ipc_ctab_incrby(ipc_ctab *t, const void *key, size_t keylen, int64_t delta,
                                 int64_t *result);

/* Reads key's value. Returns 0 or IPC_EOWNERDEAD (success, recovered) with *out
 * set; -ENOENT (missing), -E2BIG, -EINVAL, -ENOTRECOVERABLE. */
IPC_MUST_USE int ipc_ctab_get(ipc_ctab *t, const void *key, size_t keylen, int64_t *out);

/* Deletes key. Returns 1 if it existed, 0 if not (an owner-death recovery on
 * the way is counted in ipc_ctab_recoveries, not reported); -E2BIG, -EINVAL,
 * -ENOTRECOVERABLE. */
IPC_MUST_USE int ipc_ctab_del(ipc_ctab *t, const void *key, size_t keylen);

/* Number of live keys (DBSIZE), or a negative error. */
IPC_MUST_USE long ipc_ctab_count(ipc_ctab *t);

/* Capacity in keys given at creation, 0 for NULL. */
size_t ipc_ctab_capacity(const ipc_ctab *t);

/* Owner-death recoveries seen by the table since creation (all processes). */
uint64_t ipc_ctab_recoveries(const ipc_ctab *t);

/* Explicit lock / unlock of the table mutex, for stress tests that SIGKILL a
 * holder. lock returns 0, IPC_EOWNERDEAD (acquired and recovered), -EDEADLK,
 * -ENOTRECOVERABLE; unlock 0 or -EPERM. Do not call other ctab functions while
 * holding it. */
IPC_MUST_USE int ipc_ctab_lock(ipc_ctab *t);
IPC_MUST_USE int ipc_ctab_unlock(ipc_ctab *t);

/* Destroys the mutex (creating process only) and unmaps. NULL is a no-op. */
void ipc_ctab_free(ipc_ctab *t);

#ifdef __cplusplus
}
#endif
#endif
