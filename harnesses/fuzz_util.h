/* fuzz_util.h - small pieces shared by the fuzz targets (header-only, so that each
 * target stays one translation unit for every build: libFuzzer, AFL++, replay,
 * OSS-Fuzz).
 *
 * FUZZ_CHECK(cond) aborts with the failed condition and its line: abort() is what
 * every engine reports as a crash and what the replay main names per input. */
#ifndef IPC_FUZZ_UTIL_H
#define IPC_FUZZ_UTIL_H

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

#endif
