/* ipc/ipc.h - umbrella header: includes every libipc module. */
#ifndef IPC_IPC_H
#define IPC_IPC_H

#include "ipc/error.h"

#endif
