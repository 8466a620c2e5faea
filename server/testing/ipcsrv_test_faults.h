/* ipcsrv_test_faults.h - deliberate faults that the tests and stress self-tests
 * plant in the RESP server layer. Not installed; the functions exist only in
 * builds configured with IPC_TEST_FAULTS=ON (see core/testing/ipc_test_faults.h
 * for libipc's). */
#ifndef IPCSRV_TEST_FAULTS_H
#define IPCSRV_TEST_FAULTS_H

#ifndef IPC_TEST_FAULTS
#error "ipcsrv_test_faults.h is only for builds with IPC_TEST_FAULTS"
#endif

#include "ipcsrv/ctab.h"

/* The next ipc_ctab_incrby that inserts a NEW key in the calling process raises
 * SIGKILL on itself after writing the key and value but before the commit store,
 * while holding the table lock. Returns 0 or -EINVAL. */
IPC_MUST_USE int ipc_ctab_fault_die_mid_insert(ipc_ctab *t);

/* Non-zero makes every connection engine of this process (and of the processes
 * it forks later, such as the server's workers) accept "DEBUG DIE-MID-INSERT",
 * which plants the fault above on the connection's table and replies +OK. Zero
 * (the default): DEBUG is an unknown command. */
void ipc_conn_debug_faults_enable(int on);

#endif
