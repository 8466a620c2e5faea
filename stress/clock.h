/* clock.h - time for the stress framework and its drivers: the monotonic clock
 * that bounds a run, and the short waits that spread kills over random moments. */
#ifndef IPCSTORM_STRESS_CLOCK_H
#define IPCSTORM_STRESS_CLOCK_H

#include <stdint.h>

/* Seconds on CLOCK_MONOTONIC. */
double stress_now(void);

/* Sleeps (nanosleep, resumed after a signal) without being a synchronisation
 * primitive: used only to spread kills over random moments. */
void stress_sleep_us(uint64_t us);

/* Burns about n loop iterations of CPU (a window for a kill to land in). */
static inline void stress_spin(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        __asm__ volatile("" : : "r"(i) : "memory");
}

#endif
