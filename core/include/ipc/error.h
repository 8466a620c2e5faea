/* ipc/error.h - error convention shared by every libipc module.
 *
 * Every fallible libipc function returns a value >= 0 on success and a negative
 * code on failure: either a negated errno value (-ENOENT, -EPIPE, ...) or one of
 * the library's own codes below, which live in a reserved range far below any
 * errno. Callers never read errno after a library call. ipc_strerror() names
 * every code. All functions in this header are async-signal-safe and thread-safe.
 */
#ifndef IPC_ERROR_H
#define IPC_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define IPC_MUST_USE __attribute__((warn_unused_result))
#else
#define IPC_MUST_USE
#endif

/* The library's own codes. errno values are below 4096, so these never clash. */
enum ipc_error {
    IPC_ERR_FIRST = -5000,
    IPC_ENEEDMORE = -5001,  /* incremental decoder: input ends inside a frame/request */
    IPC_EBADMAGIC = -5002,  /* frame: the first two bytes are not "IF" */
    IPC_EBADVERSION = -5003,/* frame: unknown wire-format version */
    IPC_ETOOLARGE = -5004,  /* frame: payload length above max_payload */
    IPC_EBADCRC = -5005,    /* frame: CRC-32C mismatch */
    IPC_ETRUNCATED = -5006, /* frame: end of stream inside a frame */
    IPC_EPROTO_MULTIBULK = -5010, /* resp: invalid multibulk length */
    IPC_EPROTO_BULK = -5011,      /* resp: invalid bulk length */
    IPC_EPROTO_DOLLAR = -5012,    /* resp: expected '$' */
    IPC_EPROTO_INLINE = -5013,    /* resp: too big inline request */
    IPC_EPROTO_QUOTES = -5014,    /* resp: unbalanced quotes in request */
    IPC_EOWNERDEAD = -5020,       /* lock acquired, previous holder died (state recovered) */
    IPC_ECHILDLOST = -5021,       /* a worker process died while holding work */
    IPC_ERR_LAST = -5099,
};

/* Returns a static, human-readable description of a code returned by libipc
 * (negated errno or enum ipc_error). Never returns NULL. Async-signal-safe. */
const char *ipc_strerror(int err);

/* Returns the symbolic name ("ENOENT", "IPC_EBADCRC", ...) or "unknown". */
const char *ipc_errname(int err);

#ifdef __cplusplus
}
#endif
#endif
