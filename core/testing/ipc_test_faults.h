/* ipc_test_faults.h - deliberate faults that the stress self-tests and unit tests
 * plant in libipc to prove that their checks can fail. Not installed; the
 * functions exist only in builds configured with IPC_TEST_FAULTS=ON (the dev,
 * asan, tsan and coverage presets), never in release or a plain `cmake` build.
 * Every setting is per process unless it says otherwise. */
#ifndef IPC_TEST_FAULTS_H
#define IPC_TEST_FAULTS_H

#ifndef IPC_TEST_FAULTS
#error "ipc_test_faults.h is only for builds with IPC_TEST_FAULTS"
#endif

#include <stdint.h>

#include "ipc/pool.h"
#include "ipc/shm.h"

/* Makes every nth ipc_counter_add of the mutex or sem kind skip the lock (0
 * disables), so that an exactness check must fail. The setting lives in the
 * counter's shared memory (children forked later see it); the add count is per
 * thread. Returns 0 or -EINVAL. */
IPC_MUST_USE int ipc_counter_fault_skip_lock(ipc_counter *c, uint32_t every_nth);

enum ipc_pool_fault {
    IPC_POOL_FAULT_NONE = 0,
    IPC_POOL_FAULT_DUP_RESULT = 1,  /* deliver that result twice */
    IPC_POOL_FAULT_DROP_RESULT = 2, /* never deliver that result */
};

/* Plants fault on the nth (1-based) completion, counted from now, of a task
 * submitted with ipc_pool_submit (map's tasks are neither counted nor faulted).
 * IPC_POOL_FAULT_NONE clears it. Returns 0, or -EINVAL (NULL pool, unknown fault,
 * a fault with nth 0). */
IPC_MUST_USE int ipc_pool_fault_set(ipc_pool *p, enum ipc_pool_fault fault, unsigned long nth);

#endif
