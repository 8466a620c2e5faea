/* rng.h - the deterministic PRNG of the stress drivers: xoshiro256**, seeded
 * through splitmix64. Every draw follows from the run's --seed, so the reproduce
 * command of a violation replays the same choices. */
#ifndef IPCSTORM_STRESS_RNG_H
#define IPCSTORM_STRESS_RNG_H

#include <stddef.h>
#include <stdint.h>

struct stress_rng {
    uint64_t s[4];
};

/* Seeds a generator from the run's seed and a stream number (child index...), so
 * that every process of a run draws its own reproducible sequence. */
void stress_rng_init(struct stress_rng *r, uint64_t seed, uint64_t stream);
uint64_t stress_rng_next(struct stress_rng *r);
/* Uniform in [0, n) (n > 0), without modulo bias. */
uint64_t stress_rng_below(struct stress_rng *r, uint64_t n);
/* Uniform in [lo, hi]. */
uint64_t stress_rng_range(struct stress_rng *r, uint64_t lo, uint64_t hi);
/* Fills buf with bytes from the generator. */
void stress_rng_fill(struct stress_rng *r, void *buf, size_t len);

/* One step of splitmix64 on *state (advances it). Public, and under its
 * algorithm's name, because the option parser of common.c also draws the default
 * --seed with it. */
uint64_t splitmix64(uint64_t *state);

#endif
