/* fuzz_util.h - small pieces shared by the fuzz targets (header-only, so that each
 * target stays one translation unit for every build: libFuzzer, AFL++, replay,
 * OSS-Fuzz).
 *
 * FUZZ_CHECK(cond) aborts with the failed condition and its line: abort() is what
 * every engine reports as a crash and what the replay main names per input. */
#ifndef IPC_FUZZ_UTIL_H
#define IPC_FUZZ_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Harness-only helpers (reference decoders, validators, the size generator) are
 * not instrumented for coverage: their branches say nothing about libipc, and
 * comparison tracing in their loops would cost more than the code under test. */
#if defined(__clang__) && __clang_major__ >= 13
#define FUZZ_NOCOV __attribute__((no_sanitize("coverage")))
#else
#define FUZZ_NOCOV
#endif

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* One documented argument contract: `call` returns exactly `want` (the header's
 * value); the api_edges checks of the targets are one line each. */
#define CONTRACT(call, want)                                                                       \
    do {                                                                                           \
        long long got_ = (long long)(call), want_ = (long long)(want);                             \
        if (got_ != want_) {                                                                       \
            fprintf(stderr, "%s:%d: contract violated: %s returned %lld, the header says %lld\n",  \
                    __FILE__, __LINE__, #call, got_, want_);                                       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Deterministic generator for chunk and I/O sizes: the schedule is part of the
 * input, so a finding replays exactly. */
struct fuzz_rng {
    uint32_t s;
};

FUZZ_NOCOV static inline void fuzz_rng_seed(struct fuzz_rng *r, uint32_t seed)
{
    r->s = seed * 2654435761u + 0x9e3779b9u;
    if (r->s == 0)
        r->s = 1;
}

FUZZ_NOCOV static inline uint32_t fuzz_rng_next(struct fuzz_rng *r)
{
    uint32_t x = r->s; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    r->s = x;
    return x;
}

/* A size in [1, max]. */
FUZZ_NOCOV static inline size_t fuzz_rng_size(struct fuzz_rng *r, size_t max)
{
    return max <= 1 ? 1 : 1 + (size_t)(fuzz_rng_next(r) % max);
}

/* Chunking schedule for the whole-vs-chunked targets. At most FUZZ_SCHED_CUTS
 * chunks of 1..max_chunk bytes are drawn; whatever is left then goes in one piece.
 * Why bounded: the number of decoder calls, not the byte count, is what costs
 * under libFuzzer (each call runs the comparison tracing of the code under test),
 * and a 1-byte schedule over an 8 KiB input made ~8,000 calls per input
 * (and, for a parser that is handed its pending bytes again on every call, a
 * quadratic amount of copying and rescanning). The interesting splits are inside
 * a header, a length line or a trailer, a few dozen bytes at a time: a window of
 * FUZZ_SCHED_CUTS small chunks reaches them anywhere in the stream, because with
 * the seed's top bit set the window starts at a seed-derived offset (the bytes
 * before it go in one piece). The schedule is a function of the input alone, so
 * a finding replays exactly. */
#define FUZZ_SCHED_CUTS 16

struct fuzz_sched {
    struct fuzz_rng rng;
    size_t max_chunk;
    size_t lead; /* bytes fed in one piece before the window of small chunks */
    unsigned cuts;
};

FUZZ_NOCOV static inline void fuzz_sched_init(struct fuzz_sched *s, uint32_t seed, size_t max_chunk,
                                              size_t n)
{
    fuzz_rng_seed(&s->rng, seed);
    s->max_chunk = max_chunk ? max_chunk : 1;
    s->cuts = FUZZ_SCHED_CUTS;
    s->lead = (seed & 0x80) && n > 1 ? fuzz_rng_next(&s->rng) % n : 0;
}

/* The size of the next chunk, in [1, left] (left > 0). */
FUZZ_NOCOV static inline size_t fuzz_sched_next(struct fuzz_sched *s, size_t left)
{
    size_t c;
    if (s->lead) {
        c = s->lead;
        s->lead = 0;
    } else if (s->cuts) {
        s->cuts--;
        c = fuzz_rng_size(&s->rng, s->max_chunk);
    } else {
        c = left;
    }
    return c < left ? c : left;
}

/* An exact-size heap copy, so that ASan reports a read one byte past a chunk
 * (a stack or input-relative slice would hide it). Never returns NULL. */
FUZZ_NOCOV static inline uint8_t *fuzz_dup(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    FUZZ_CHECK(d != NULL);
    if (n)
        memcpy(d, p, n);
    return d;
}

/* A scratch buffer of cap bytes in which a slice is placed flush against the end
 * of the allocation: a read one byte past the slice is a heap overflow that ASan
 * reports, without a malloc per slice. */
struct fuzz_tail {
    uint8_t *buf;
    size_t cap;
};

static inline void fuzz_tail_init(struct fuzz_tail *t, size_t cap)
{
    t->cap = cap;
    t->buf = malloc(cap ? cap : 1);
    FUZZ_CHECK(t->buf != NULL);
}

/* Copies p[0, n) to the end of the buffer (n <= cap) and returns where it starts. */
FUZZ_NOCOV static inline uint8_t *fuzz_tail_put(struct fuzz_tail *t, const void *p, size_t n)
{
    FUZZ_CHECK(n <= t->cap);
    uint8_t *d = t->buf + (t->cap - n);
    if (n)
        memmove(d, p, n);
    return d;
}

/* Makes a tail buffer (zero-initialised, typically static) hold at least n bytes.
 * A fuzz target reuses one buffer for every input instead of a malloc + free per
 * input: under ASan each fresh block is a trip through the quarantine (new pages,
 * page faults, 0xbe fill). Slices still end flush with the end of the block, so an
 * overread is still reported. The buffer only grows, bounded by the largest input;
 * it stays reachable from a static, so LeakSanitizer does not report it. */
static inline void fuzz_tail_reserve(struct fuzz_tail *t, size_t n)
{
    if (t->buf && t->cap >= n)
        return;
    free(t->buf);
    fuzz_tail_init(t, n);
}

static inline void fuzz_tail_free(struct fuzz_tail *t)
{
    free(t->buf);
    t->buf = NULL;
}

FUZZ_NOCOV static inline int fuzz_inside(const void *p, size_t n, const void *base, size_t len)
{
    const uint8_t *a = p, *b = base;
    return a >= b && n <= len && (size_t)(a - b) <= len - n;
}

/* ---- fault schedules from the input ------------------------------------------
 *
 * Every target's input starts with a fault schedule for the seam of
 * core/src/sys.h (ipc/faults.h), followed by the target's own payload:
 *
 *   byte 0        K = byte % (IPC_FAULT_MAX_STEPS + 1): number of steps (0..16);
 *                 fewer when the input ends before K whole steps
 *   K x 4 bytes   one step each:
 *     [0] kind    byte % (IPC_FAULT_CALL_COUNT + 1); IPC_FAULT_CALL_COUNT = any kind
 *     [1] nth     low 8 bits of nth - 1
 *     [2] nth_hi  bits 0-1: bits 8-9 of nth - 1 (nth is 1..1024); bits 2-7 ignored
 *     [3] action  a kind: byte % (its errno count + 3 if it can be short): an
 *                 index into ipc_fault_call_errnos(kind), then the short classes
 *                 short-one, short-half, short-but-one; any kind: byte % 6 into
 *                 {short-one, short-half, short-but-one, EINTR, EAGAIN, ENOMEM}
 *   payload       the rest, laid out as the target's comment says
 *
 * So a leading 0x00 is the empty schedule (no faults) and the old layout follows
 * unchanged. Every step, an any-kind one included, injects only what the call it
 * lands on could really fail with at that moment (ipc/faults.h): an EINTR landing
 * on pipe2 or on a non-blocking read injects nothing. The schedule is armed
 * (ipc_faults_arm_schedule) just before the target calls into libipc and
 * disarmed after; an empty schedule arms nothing, so the seam costs nothing then.
 * Builds without the seam (IPC_FAULTS off) parse the same prefix and ignore it.
 * The targets' contract under faults: the documented error, or success with the
 * exact fault-free result (EINTR retried, short transfers continued); never a
 * wrong value, a leak, a lost or duplicated frame. */
#if defined(IPC_FAULTS) && IPC_FAULTS
#include "ipc/faults.h"
#define FUZZ_FAULTS 1
#else
#define FUZZ_FAULTS         0
#define IPC_FAULT_MAX_STEPS 16
#endif

#define FUZZ_FAULT_STEP_BYTES  4
#define FUZZ_FAULT_ANY_ACTIONS 6

struct fuzz_faults {
#if FUZZ_FAULTS
    struct ipc_fault_step steps[IPC_FAULT_MAX_STEPS];
    /* the seam's statistics at the arm: the counts of this input are the
     * differences (resetting the statistics clears 2048 call-site slots, which
     * cost more than a small input's whole execution) */
    struct ipc_fault_stats base;
#endif
    size_t n;
    int armed;
};

/* Parses the schedule at the start of data[0, size). Returns the number of bytes
 * it takes (the payload starts there); 0 for an empty input. */
FUZZ_NOCOV static inline size_t fuzz_faults_parse(struct fuzz_faults *f, const uint8_t *data,
                                                  size_t size)
{
    f->n = 0;
    f->armed = 0;
    if (size == 0)
        return 0;
    size_t k = data[0] % (IPC_FAULT_MAX_STEPS + 1);
    if (k > (size - 1) / FUZZ_FAULT_STEP_BYTES)
        k = (size - 1) / FUZZ_FAULT_STEP_BYTES;
#if FUZZ_FAULTS
    size_t kept = 0;
    for (size_t i = 0; i < k; i++) {
        const uint8_t *b = data + 1 + i * FUZZ_FAULT_STEP_BYTES;
        struct ipc_fault_step *st = &f->steps[kept];
        int kind = b[0] % (IPC_FAULT_CALL_COUNT + 1);
        st->call = kind == IPC_FAULT_CALL_COUNT ? IPC_FAULT_ANY : kind;
        st->nth = 1u + b[1] + ((uint32_t)(b[2] & 3) << 8);
        st->err = 0;
        st->shortc = IPC_FAULT_SHORT_NONE;
        if (st->call == IPC_FAULT_ANY) {
            static const int any_err[FUZZ_FAULT_ANY_ACTIONS] = {0, 0, 0, EINTR, EAGAIN, ENOMEM};
            unsigned a = b[3] % FUZZ_FAULT_ANY_ACTIONS;
            st->err = any_err[a];
            if (!st->err)
                st->shortc = (enum ipc_fault_short)(a + 1);
        } else {
            const int *errs;
            size_t ne = ipc_fault_call_errnos(st->call, &errs);
            size_t ns = ipc_fault_call_can_short(st->call) ? IPC_FAULT_SHORT_COUNT - 1 : 0;
            if (ne + ns == 0)
                continue; /* a kind that cannot fail (sigprocmask): an inert step */
            size_t a = b[3] % (ne + ns);
            if (a < ne)
                st->err = errs[a];
            else
                st->shortc = (enum ipc_fault_short)(a - ne + 1);
        }
        kept++;
    }
    f->n = kept;
#else
    f->n = k;
#endif
    return 1 + k * FUZZ_FAULT_STEP_BYTES;
}

FUZZ_NOCOV static inline void fuzz_faults_arm(struct fuzz_faults *f)
{
#if FUZZ_FAULTS
    if (f->n == 0)
        return;
    ipc_faults_stats(&f->base);
    FUZZ_CHECK(ipc_faults_arm_schedule(f->steps, f->n) == 0);
    f->armed = 1;
#else
    (void)f;
#endif
}

/* With IPC_FUZZ_FAULTS_VERBOSE set in the environment, the disarm prints what the
 * schedule injected (kind: count) to stderr: to check that a seed's schedule hits. */
FUZZ_NOCOV static inline void fuzz_faults_disarm(struct fuzz_faults *f)
{
#if FUZZ_FAULTS
    if (f->armed) {
        ipc_faults_disarm();
        if (getenv("IPC_FUZZ_FAULTS_VERBOSE")) {
            struct ipc_fault_stats s;
            ipc_faults_stats(&s);
            fprintf(stderr, "fuzz faults: %zu steps, %llu calls, %llu injected:", f->n,
                    (unsigned long long)(s.total_calls - f->base.total_calls),
                    (unsigned long long)(s.total_injected - f->base.total_injected));
            for (int c = 0; c < IPC_FAULT_CALL_COUNT; c++)
                if (s.injected[c] != f->base.injected[c])
                    fprintf(stderr, " %s=%llu", ipc_fault_call_name(c),
                            (unsigned long long)(s.injected[c] - f->base.injected[c]));
            fprintf(stderr, "\n");
            /* where (cumulative since the process started: replay one input) */
            struct ipc_fault_site sites[256];
            size_t ns = ipc_faults_sites(sites, 256);
            for (size_t i = 0; i < ns && i < 256; i++)
                if (sites[i].injected)
                    fprintf(stderr, "fuzz faults:   at %s (%s) %llu of %llu calls\n",
                            sites[i].where, ipc_fault_call_name(sites[i].call),
                            (unsigned long long)sites[i].injected,
                            (unsigned long long)sites[i].calls);
        }
    }
#endif
    f->armed = 0;
}

/* Faults injected since fuzz_faults_arm (also after the disarm, until the next arm;
 * the sums are over every process that shares the seam's state: forked children):
 * compare two readings to learn whether a library call met one. */
FUZZ_NOCOV static inline uint64_t fuzz_faults_injected(const struct fuzz_faults *f)
{
#if FUZZ_FAULTS
    if (f->n == 0)
        return 0;
    struct ipc_fault_stats s;
    ipc_faults_stats(&s);
    return s.total_injected - f->base.total_injected;
#else
    (void)f;
    return 0;
#endif
}

/* Whether a step of the schedule can land on a seam call of this kind: a step of
 * that kind, or of any kind. When none can, no fault is ever injected into such
 * calls, and fuzz_faults_injected() stays 0 around them: a target whose library
 * calls are all of one kind (the RESP parser and writer: realloc) then skips
 * reading the seam's statistics before and after each call (ipc_faults_stats
 * copies every kind's counters, and under ASan that was a tenth of such a
 * target's time). */
FUZZ_NOCOV static inline int fuzz_faults_may_hit(const struct fuzz_faults *f, int call)
{
#if FUZZ_FAULTS
    for (size_t i = 0; i < f->n; i++)
        if (f->steps[i].call == call || f->steps[i].call == IPC_FAULT_ANY)
            return 1;
#else
    (void)f;
    (void)call;
#endif
    return 0;
}

/* Whether err (a positive errno) may have been injected by the schedule: some step
 * fails with it (an allocation fault is always ENOMEM to its caller). */
FUZZ_NOCOV static inline int fuzz_faults_may_inject(const struct fuzz_faults *f, int err)
{
#if FUZZ_FAULTS
    for (size_t i = 0; i < f->n; i++) {
        const struct ipc_fault_step *st = &f->steps[i];
        if (st->err == err)
            return 1;
        if (err == ENOMEM && st->err &&
            (st->call == IPC_FAULT_malloc || st->call == IPC_FAULT_calloc ||
             st->call == IPC_FAULT_realloc || st->call == IPC_FAULT_ANY))
            return 1;
    }
#else
    (void)f;
    (void)err;
#endif
    return 0;
}

/* Faults of one kind injected since the last arm. */
FUZZ_NOCOV static inline uint64_t fuzz_faults_injected_kind(const struct fuzz_faults *f, int call)
{
#if FUZZ_FAULTS
    if (f->n == 0)
        return 0;
    struct ipc_fault_stats s;
    ipc_faults_stats(&s);
    return s.injected[call] - f->base.injected[call];
#else
    (void)f;
    (void)call;
    return 0;
#endif
}

/* 1 when every fault injected so far was one the library must absorb: EINTR or a
 * short transfer on a read/write-family call (retried, continued). Injections are
 * known per kind, so a kind counts as absorbed when every step that could have hit
 * it (its own steps and the any-kind steps) is EINTR or short. */
FUZZ_NOCOV static inline int fuzz_faults_transparent(const struct fuzz_faults *f)
{
#if FUZZ_FAULTS
    if (f->n == 0)
        return 1;
    struct ipc_fault_stats s;
    ipc_faults_stats(&s);
    for (int c = 0; c < IPC_FAULT_CALL_COUNT; c++) {
        if (s.injected[c] == f->base.injected[c])
            continue;
        if (c != IPC_FAULT_read && c != IPC_FAULT_write && c != IPC_FAULT_readv &&
            c != IPC_FAULT_writev)
            return 0;
        for (size_t i = 0; i < f->n; i++) {
            const struct ipc_fault_step *st = &f->steps[i];
            if ((st->call == c || st->call == IPC_FAULT_ANY) && st->err && st->err != EINTR)
                return 0;
        }
    }
#else
    (void)f;
#endif
    return 1;
}

#endif
