/* clock.c - the monotonic clock and sleeps of the stress framework (see clock.h). */
#include <errno.h>
#include <time.h>

#include "clock.h"
#include "ipc_base.h"

double stress_now(void)
{
    return ipc__now_s();
}

void stress_sleep_us(uint64_t us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}
