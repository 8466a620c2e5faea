/* coverage.c - coverage builds only (IPC_COVERAGE): every forked child starts with
 * zeroed profile counters.
 *
 * A forked child inherits the parent's counters, and ipc__exit_child (or exit)
 * adds them to the profile again when the child writes its own: harmless for
 * which lines ran, but the counts of the parent's code would be multiplied by the
 * number of children (a driver that forks thousands of children would report its
 * loop run millions of times). A pthread_atfork child handler resets them, so the
 * merged profile counts each execution once. It runs after fork() only: vfork and
 * posix_spawn children share or replace the parent's memory and run no handlers.
 * The reset only stores to the counter sections (async-signal-safe in the child of
 * a threaded parent). The libipc target makes every executable that links the
 * static library pull this file in (-u ipc__coverage_init), since nothing calls it. */
#if IPC_COVERAGE
#include <pthread.h>

void __llvm_profile_reset_counters(void);
void ipc__coverage_init(void);

static void reset_in_child(void)
{
    __llvm_profile_reset_counters();
}

__attribute__((constructor)) void ipc__coverage_init(void)
{
    (void)pthread_atfork(NULL, NULL, reset_in_child);
}
#else
typedef int ipc__coverage_unused; /* ISO C: a translation unit declares something */
#endif
