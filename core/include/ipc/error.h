/* ipc/error.h - error convention shared by every libipc module.
 *
 * Every fallible libipc function returns a value >= 0 on success and a negative
 * code on failure: either a negated errno value (-ENOENT, -EPIPE, ...) or one of
 * the library's own codes below, which live in a reserved range far below any
 * errno. Callers never read errno after a library call. ipc_strerror() names
 * every code. All functions in this header are async-signal-safe and thread-safe.
 *
 * Errors under faults: none. No function here makes a system call or allocates,
 * so the fault-injection seam (and harnesses/faultsweep.c) cannot fail them.
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

/* The library's own codes, in one list: XX(name, value, text) gives the code
 * IPC_<name> = value, the symbolic name "IPC_<name>" (ipc_errname) and the text
 * (ipc_strerror). Everything else is generated from it: the enum below, both
 * lookups in error.c, the RESP wire texts (ipc_resp_errmsg) and test_error.c,
 * which checks every entry. errno values are below 4096, so the codes, which live
 * in the reserved range (IPC_ERR_LAST, IPC_ERR_FIRST), never clash with -errno.
 * A value is part of the ABI: never renumber one, only append. As with libuv's
 * UV_ERRNO_MAP, a caller may expand the map with its own XX, e.g.
 *     #define XX(name, value, text) case IPC_##name: ...
 *     IPC_ERRNO_MAP(XX)
 *     #undef XX
 */
#define IPC_ERRNO_MAP(XX)                                                                          \
    /* incremental decoders (frame and RESP): input ends inside a frame/request */                 \
    XX(ENEEDMORE, -5001, "need more input")                                                        \
    /* frame decoder (ipc/frame.h) */                                                              \
    XX(EBADMAGIC, -5002, "bad frame magic")         /* the first two bytes are not "IF" */         \
    XX(EBADVERSION, -5003, "bad frame version")     /* unknown wire-format version */              \
    XX(ETOOLARGE, -5004, "frame payload too large") /* payload length above max_payload */         \
    XX(EBADCRC, -5005, "frame CRC mismatch")        /* CRC-32C mismatch */                         \
    XX(ETRUNCATED, -5006, "truncated frame (end of stream inside a frame)")                        \
    /* RESP parser (ipc/resp.h) */                                                                 \
    IPC_ERRNO_MAP_RESP(XX)                                                                         \
    /* shared-memory locks (ipc/shm.h): lock acquired, previous holder died (state recovered) */   \
    XX(EOWNERDEAD, -5020, "lock owner died; state recovered")                                      \
    /* pool (ipc/pool.h): a worker process died while holding work */                              \
    XX(ECHILDLOST, -5021, "worker process died while holding work")

/* The RESP parser's protocol errors, a part of IPC_ERRNO_MAP. Their texts are
 * Redis's: a server replies "-ERR <text>" (ipc_resp_errmsg). */
#define IPC_ERRNO_MAP_RESP(XX)                                                                     \
    XX(EPROTO_MULTIBULK, -5010, "Protocol error: invalid multibulk length")                        \
    XX(EPROTO_BULK, -5011, "Protocol error: invalid bulk length")                                  \
    XX(EPROTO_DOLLAR, -5012, "Protocol error: expected '$'")                                       \
    XX(EPROTO_INLINE, -5013, "Protocol error: too big inline request")                             \
    XX(EPROTO_QUOTES, -5014, "Protocol error: unbalanced quotes in request")

enum ipc_error {
    IPC_ERR_FIRST = -5000, /* the reserved range, bounds excluded */
    IPC_ERR_LAST = -5099,
#define IPC__ERRNO_ENUM(name, value, text) IPC_##name = (value),
    IPC_ERRNO_MAP(IPC__ERRNO_ENUM)
#undef IPC__ERRNO_ENUM
};

/* Returns a static, human-readable description of a code returned by libipc
 * (negated errno or enum ipc_error). Never returns NULL. Async-signal-safe. */
const char *ipc_strerror(int err);

/* Returns the symbolic name ("ENOENT", "IPC_EBADCRC", ...) or "unknown" (also
 * for 0 and positive values). Async-signal-safe. */
const char *ipc_errname(int err);

#ifdef __cplusplus
}
#endif
#endif
