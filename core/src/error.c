#include "ipc/error.h"

#include <errno.h>
#include <string.h>

struct code_name {
    int code;
    const char *name;
    const char *text;
};

static const struct code_name own_codes[] = {
    {IPC_ENEEDMORE, "IPC_ENEEDMORE", "need more input"},
    {IPC_EBADMAGIC, "IPC_EBADMAGIC", "bad frame magic"},
    {IPC_EBADVERSION, "IPC_EBADVERSION", "bad frame version"},
    {IPC_ETOOLARGE, "IPC_ETOOLARGE", "frame payload too large"},
    {IPC_EBADCRC, "IPC_EBADCRC", "frame CRC mismatch"},
    {IPC_ETRUNCATED, "IPC_ETRUNCATED", "truncated frame (end of stream inside a frame)"},
    {IPC_EPROTO_MULTIBULK, "IPC_EPROTO_MULTIBULK", "Protocol error: invalid multibulk length"},
    {IPC_EPROTO_BULK, "IPC_EPROTO_BULK", "Protocol error: invalid bulk length"},
    {IPC_EPROTO_DOLLAR, "IPC_EPROTO_DOLLAR", "Protocol error: expected '$'"},
    {IPC_EPROTO_INLINE, "IPC_EPROTO_INLINE", "Protocol error: too big inline request"},
    {IPC_EPROTO_QUOTES, "IPC_EPROTO_QUOTES", "Protocol error: unbalanced quotes in request"},
    {IPC_EOWNERDEAD, "IPC_EOWNERDEAD", "lock owner died; state recovered"},
    {IPC_ECHILDLOST, "IPC_ECHILDLOST", "worker process died while holding work"},
};

static const struct code_name *find_own(int err)
{
    for (size_t i = 0; i < sizeof(own_codes) / sizeof(own_codes[0]); i++)
        if (own_codes[i].code == err)
            return &own_codes[i];
    return NULL;
}

const char *ipc_strerror(int err)
{
    const struct code_name *c = find_own(err);
    if (c)
        return c->text;
    if (err < 0 && err > -4096) {
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
    const struct code_name *c = find_own(err);
    if (c)
        return c->name;
    if (err < 0 && err > -4096) {
        const char *n = strerrorname_np(-err);
        if (n)
            return n;
    }
    return "unknown";
}
