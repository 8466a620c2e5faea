/* ctab.c - the server's table of named 64-bit counters in shared memory. */
#include "ipcsrv/ctab.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipc/shm.h"
#include "ipc_base.h"
#ifdef IPC_TEST_FAULTS
#include "ipcsrv_test_faults.h"
#endif

#define CTAB_MAGIC 0x49435442u /* "ICTB" */

enum { SLOT_EMPTY = 0, SLOT_LIVE = 1, SLOT_TOMB = 2 };

struct ctab_slot {
    unsigned char key[IPC_CTAB_KEY_MAX];
    _Atomic int64_t value;
    uint8_t keylen;
    _Atomic uint8_t state; /* the commit point of an insert or delete */
    uint8_t pad_[6];
};

/* Crash consistency: every mutation becomes visible through ONE final store (a
 * slot's value, a slot's state, or the active-array index after a rebuild into
 * the spare array). live/tombs are hints recomputed from the slots whenever a
 * holder died, so a process killed anywhere inside the lock leaves a table that
 * is exactly "before" or "after" its operation. */
struct ipc_ctab {
    uint32_t magic;
    uint32_t capacity; /* max live keys */
    uint32_t nslots;   /* per array, power of two >= 2 * capacity */
    _Atomic uint32_t active;
    pid_t creator;
    uint32_t live;
    uint32_t tombs;
    size_t map_size;
    size_t slots_off; /* offset of array 0; array 1 follows */
    _Atomic uint64_t recoveries;
    pthread_mutex_t lock;
};

#ifdef IPC_TEST_FAULTS
static int g_ctab_die_mid_insert;
#endif

static struct ctab_slot *ctab_array(const struct ipc_ctab *t, uint32_t which)
{
    return (struct ctab_slot *)((char *)(uintptr_t)t + t->slots_off) + (size_t)which * t->nslots;
}

static struct ctab_slot *ctab_slots(const struct ipc_ctab *t)
{
    return ctab_array(t, atomic_load_explicit(&t->active, memory_order_acquire));
}

static uint64_t ctab_hash(const void *key, size_t len)
{
    /* Eight bytes per multiply (a byte-wise FNV-1a was the worker's hottest
     * function under INCR), then a finaliser for the low bits the mask keeps. */
    const unsigned char *p = key;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 29;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* Runs under the lock after a holder died: the counts are hints that its
 * half-done operation may have left stale. */
static void ctab_recover(void *arg)
{
    struct ipc_ctab *t = arg;
    atomic_fetch_add(&t->recoveries, 1);
    struct ctab_slot *s = ctab_slots(t);
    uint32_t live = 0, tombs = 0;
    for (uint32_t i = 0; i < t->nslots; i++) {
        uint8_t st = atomic_load_explicit(&s[i].state, memory_order_relaxed);
        live += st == SLOT_LIVE;
        tombs += st == SLOT_TOMB;
    }
    t->live = live;
    t->tombs = tombs;
}

int ipc_ctab_new(ipc_ctab **out, size_t capacity)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (capacity == 0)
        capacity = IPC_CTAB_DEFAULT_CAPACITY;
    if (capacity > IPC_CTAB_MAX_CAPACITY)
        return -EINVAL;
    uint32_t nslots = 8;
    while (nslots < 2 * capacity)
        nslots *= 2;
    size_t off = (sizeof(struct ipc_ctab) + 63) & ~(size_t)63;
    size_t size = off + 2 * (size_t)nslots * sizeof(struct ctab_slot);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return ipc__neg_errno();
    struct ipc_ctab *t = p; /* zero-filled: every slot EMPTY */
    t->capacity = (uint32_t)capacity;
    t->nslots = nslots;
    atomic_init(&t->active, 0);
    atomic_init(&t->recoveries, 0);
    t->creator = getpid();
    t->map_size = size;
    t->slots_off = off;
    int rc = ipc_shm_mutex_init(&t->lock);
    if (rc < 0) {
        munmap(p, size);
        return rc;
    }
    t->magic = CTAB_MAGIC;
    *out = t;
    return 0;
}

static int ctab_lock(struct ipc_ctab *t)
{
    return ipc_shm_mutex_lock(&t->lock, ctab_recover, t);
}

/* The prologue of every keyed operation: validates the arguments, then locks.
 * Returns 0 or IPC_EOWNERDEAD with the lock held (both success), or an error. */
static int ctab_enter(struct ipc_ctab *t, const void *key, size_t keylen)
{
    if (!t || t->magic != CTAB_MAGIC || (!key && keylen))
        return -EINVAL;
    if (keylen > IPC_CTAB_KEY_MAX)
        return -E2BIG;
    return ctab_lock(t);
}

/* Finds key in slots. Returns its index, or -1 with *ins set to the slot an
 * insert should use (first tombstone on the probe path, else the terminating
 * empty slot; UINT32_MAX if the probe met no free slot at all). */
static int64_t ctab_find(const struct ipc_ctab *t, const struct ctab_slot *s, const void *key,
                         size_t keylen, uint32_t *ins)
{
    uint32_t mask = t->nslots - 1;
    uint32_t i = (uint32_t)ctab_hash(key, keylen) & mask;
    uint32_t first_tomb = UINT32_MAX;
    for (uint32_t n = 0; n < t->nslots; n++, i = (i + 1) & mask) {
        uint8_t st = atomic_load_explicit(&s[i].state, memory_order_acquire);
        if (st == SLOT_EMPTY) {
            if (ins)
                *ins = first_tomb != UINT32_MAX ? first_tomb : i;
            return -1;
        }
        if (st == SLOT_TOMB) {
            if (first_tomb == UINT32_MAX)
                first_tomb = i;
            continue;
        }
        if (s[i].keylen == keylen && (keylen == 0 || !memcmp(s[i].key, key, keylen)))
            return i;
    }
    if (ins)
        *ins = first_tomb;
    return -1;
}

/* Copies the live keys into the spare array without tombstones, then switches
 * arrays with one store. A crash before the switch leaves the old array intact. */
static void ctab_rebuild(struct ipc_ctab *t)
{
    uint32_t cur = atomic_load_explicit(&t->active, memory_order_relaxed);
    struct ctab_slot *from = ctab_array(t, cur), *to = ctab_array(t, 1 - cur);
    memset(to, 0, (size_t)t->nslots * sizeof(*to));
    uint32_t mask = t->nslots - 1, live = 0;
    for (uint32_t i = 0; i < t->nslots; i++) {
        if (atomic_load_explicit(&from[i].state, memory_order_relaxed) != SLOT_LIVE)
            continue;
        uint32_t j = (uint32_t)ctab_hash(from[i].key, from[i].keylen) & mask;
        while (atomic_load_explicit(&to[j].state, memory_order_relaxed) != SLOT_EMPTY)
            j = (j + 1) & mask;
        memcpy(to[j].key, from[i].key, from[i].keylen);
        to[j].keylen = from[i].keylen;
        atomic_store_explicit(&to[j].value,
                              atomic_load_explicit(&from[i].value, memory_order_relaxed),
                              memory_order_relaxed);
        atomic_store_explicit(&to[j].state, SLOT_LIVE, memory_order_relaxed);
        live++;
    }
    atomic_store_explicit(&t->active, 1 - cur, memory_order_release);
    t->live = live;
    t->tombs = 0;
}

int ipc_ctab_incrby(ipc_ctab *t, const void *key, size_t keylen, int64_t delta, int64_t *result)
{
    int lrc = ctab_enter(t, key, keylen);
    if (lrc < 0 && lrc != IPC_EOWNERDEAD)
        return lrc;
    int rc = 0;
    struct ctab_slot *s = ctab_slots(t);
    uint32_t ins = UINT32_MAX;
    int64_t idx = ctab_find(t, s, key, keylen, &ins);
    int64_t nv;
    if (idx >= 0) {
        int64_t v = atomic_load_explicit(&s[idx].value, memory_order_relaxed);
        if (__builtin_add_overflow(v, delta, &nv)) {
            rc = -EOVERFLOW;
            goto out;
        }
        atomic_store_explicit(&s[idx].value, nv, memory_order_release); /* commit */
        goto out;
    }
    if (t->live >= t->capacity) {
        rc = -ENOSPC;
        goto out;
    }
    /* Using an empty slot grows the probe chains; past 3/4 occupancy (tombstones
     * included) rebuild first so lookups stay short and always meet an empty slot. */
    bool reuse_tomb =
        ins != UINT32_MAX && atomic_load_explicit(&s[ins].state, memory_order_relaxed) == SLOT_TOMB;
    if (!reuse_tomb && (uint64_t)(t->live + t->tombs + 1) * 4 > (uint64_t)t->nslots * 3) {
        ctab_rebuild(t);
        s = ctab_slots(t);
        idx = ctab_find(t, s, key, keylen, &ins);
        reuse_tomb = false;
    }
    if (ins == UINT32_MAX) { /* cannot happen while live <= nslots / 2 */
        rc = -ENOSPC;
        goto out;
    }
    nv = delta;
    if (keylen) /* key may be NULL for the empty key; memcpy(NULL, 0) is UB */
        memcpy(s[ins].key, key, keylen);
    s[ins].keylen = (uint8_t)keylen;
    atomic_store_explicit(&s[ins].value, nv, memory_order_relaxed);
#ifdef IPC_TEST_FAULTS
    if (g_ctab_die_mid_insert) {
        g_ctab_die_mid_insert = 0;
        raise(SIGKILL);
    }
#endif
    atomic_store_explicit(&s[ins].state, SLOT_LIVE, memory_order_release); /* commit */
    t->live++;
    if (reuse_tomb)
        t->tombs--;
out:
    pthread_mutex_unlock(&t->lock);
    if (rc < 0)
        return rc;
    if (result)
        *result = nv;
    return lrc;
}

int ipc_ctab_get(ipc_ctab *t, const void *key, size_t keylen, int64_t *out)
{
    if (!out)
        return -EINVAL;
    int lrc = ctab_enter(t, key, keylen);
    if (lrc < 0 && lrc != IPC_EOWNERDEAD)
        return lrc;
    struct ctab_slot *s = ctab_slots(t);
    int64_t idx = ctab_find(t, s, key, keylen, NULL);
    if (idx >= 0)
        *out = atomic_load_explicit(&s[idx].value, memory_order_relaxed);
    pthread_mutex_unlock(&t->lock);
    return idx >= 0 ? lrc : -ENOENT;
}

int ipc_ctab_del(ipc_ctab *t, const void *key, size_t keylen)
{
    int lrc = ctab_enter(t, key, keylen);
    if (lrc < 0 && lrc != IPC_EOWNERDEAD)
        return lrc;
    struct ctab_slot *s = ctab_slots(t);
    int64_t idx = ctab_find(t, s, key, keylen, NULL);
    if (idx >= 0) {
        /* A tombstone, not EMPTY: later keys of the same probe chain stay reachable. */
        atomic_store_explicit(&s[idx].state, SLOT_TOMB, memory_order_release); /* commit */
        t->live--;
        t->tombs++;
    }
    pthread_mutex_unlock(&t->lock);
    return idx >= 0 ? 1 : 0;
}

long ipc_ctab_count(ipc_ctab *t)
{
    if (!t || t->magic != CTAB_MAGIC)
        return -EINVAL;
    int lrc = ctab_lock(t);
    if (lrc < 0 && lrc != IPC_EOWNERDEAD)
        return lrc;
    long n = t->live;
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t ipc_ctab_capacity(const ipc_ctab *t)
{
    return t && t->magic == CTAB_MAGIC ? t->capacity : 0;
}

uint64_t ipc_ctab_recoveries(const ipc_ctab *t)
{
    return t && t->magic == CTAB_MAGIC ? atomic_load(&t->recoveries) : 0;
}

int ipc_ctab_lock(ipc_ctab *t)
{
    if (!t || t->magic != CTAB_MAGIC)
        return -EINVAL;
    return ctab_lock(t);
}

int ipc_ctab_unlock(ipc_ctab *t)
{
    if (!t || t->magic != CTAB_MAGIC)
        return -EINVAL;
    int rc = pthread_mutex_unlock(&t->lock);
    return rc ? -rc : 0;
}

void ipc_ctab_free(ipc_ctab *t)
{
    if (!t || t->magic != CTAB_MAGIC)
        return;
    if (t->creator == getpid())
        pthread_mutex_destroy(&t->lock);
    munmap(t, t->map_size);
}

#ifdef IPC_TEST_FAULTS
int ipc_ctab_fault_die_mid_insert(ipc_ctab *t)
{
    if (!t || t->magic != CTAB_MAGIC)
        return -EINVAL;
    g_ctab_die_mid_insert = 1;
    return 0;
}
#endif
