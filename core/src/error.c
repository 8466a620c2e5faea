/* error.c - names and texts of the library's codes (IPC_ERRNO_MAP in ipc/error.h)
 * and of negated errno values. Switches rather than tables: a code that appears
 * twice in the map, or two codes with the same value, fail to compile. */
#include "ipc/error.h"

#include <errno.h>
#include <string.h>

/* Every code lies strictly inside the reserved range, far from any -errno. */
#define XX(name, value, text)                                                                      \
    _Static_assert((value) < IPC_ERR_FIRST && (value) > IPC_ERR_LAST,                              \
                   "IPC_" #name " is outside the reserved range");                                 \
    _Static_assert(sizeof(text) > 1, "IPC_" #name " has an empty text");
IPC_ERRNO_MAP(XX)
#undef XX

/* errno values are positive and below 4096 (the kernel's MAX_ERRNO). */
static int is_neg_errno(int err)
{
    return err < 0 && err > -4096;
}

/* The case labels of the two switches below, defined outside the functions so
 * that coverage tools do not count the directives as lines of the functions. */
#define TEXT_CASE(name, value, text)                                                               \
    case IPC_##name:                                                                               \
        return text;
#define NAME_CASE(name, value, text)                                                               \
    case IPC_##name:                                                                               \
        return "IPC_" #name;

const char *ipc_strerror(int err)
{
    switch (err) {
        IPC_ERRNO_MAP(TEXT_CASE)
    default:
        break;
    }
    if (is_neg_errno(err)) {
        /* strerrordesc_np is async-signal-safe and thread-safe, unlike strerror. */
        const char *d = strerrordesc_np(-err);
        if (d)
            return d;
    }
    if (err >= 0)
        return "success";
    return "unknown error";
}

const char *ipc_errname(int err)
{
    switch (err) {
        IPC_ERRNO_MAP(NAME_CASE)
    default:
        break;
    }
    if (is_neg_errno(err)) {
        const char *n = strerrorname_np(-err);
        if (n)
            return n;
    }
    return "unknown";
}
