/* rng.c - xoshiro256** seeded through splitmix64 (see rng.h). */
#include <string.h>

#include "rng.h"

uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void stress_rng_init(struct stress_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x632be59bd9b4e019ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t stress_rng_next(struct stress_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t stress_rng_below(struct stress_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    /* Rejection sampling: the values above the last whole multiple of n would
     * favour the small results. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do {
        v = stress_rng_next(r);
    } while (v >= limit);
    return v % n;
}

uint64_t stress_rng_range(struct stress_rng *r, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    if (hi - lo == UINT64_MAX)
        return stress_rng_next(r);
    return lo + stress_rng_below(r, hi - lo + 1);
}

void stress_rng_fill(struct stress_rng *r, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len) {
        uint64_t v = stress_rng_next(r);
        size_t n = len < 8 ? len : 8;
        memcpy(p, &v, n);
        p += n;
        len -= n;
    }
}
