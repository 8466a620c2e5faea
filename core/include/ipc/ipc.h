/* ipc/ipc.h - umbrella header: includes every libipc module. */
#ifndef IPC_IPC_H
#define IPC_IPC_H

#include "ipc/error.h"

#include "ipc/crc32c.h"
#include "ipc/frame.h"
#include "ipc/pipe.h"
#include "ipc/pool.h"
#include "ipc/proc.h"
#include "ipc/redir.h"
#include "ipc/resp.h"
#include "ipc/run.h"
#include "ipc/shm.h"
#include "ipc/sig.h"
#include "ipc/sock.h"

#endif
