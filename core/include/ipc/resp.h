/* ipc/resp.h - incremental RESP2 request parser and reply writer (docs/design.md s.4).
 *
 * No I/O here: the caller reads bytes into its own buffer, hands the unconsumed
 * part to ipc_resp_parse(), executes the command it gets, and writes replies with
 * the ipc_resp_write_* functions into an ipc_resp_buf it flushes itself.
 *
 * Parser contract (picohttpparser-like, chunking-invariant):
 *
 *   ssize_t n = ipc_resp_parse(&p, buf, len, &cmd);
 *   n > 0, cmd.argc > 0   one complete command; its bytes are buf[0, n). Execute it,
 *                         then drop those n bytes and call again with the rest.
 *   n > 0, cmd.argc == 0  n bytes of an ignored request (`*0`, `*-1` or any negative
 *                         count, an empty or blank inline line): drop them, call again.
 *   n == IPC_ENEEDMORE    buf holds no complete request. NOTHING was consumed: keep
 *                         all len bytes, append more, call again with buf pointing at
 *                         the same first byte (the buffer may have moved: the parser
 *                         keeps offsets, not pointers). The caller never needs to
 *                         buffer more than one request: every limit below is enforced
 *                         as soon as the bytes that break it arrive, so a pending
 *                         request is at most (header bytes + max_bulk + 2) per argument.
 *   n < 0, other          a protocol error (below). The parser stays failed and keeps
 *                         returning the same code until ipc_resp_parser_reset(). Reply
 *                         with ipc_resp_write_parse_error() and close the connection.
 *   n == -EINVAL          NULL p/cmd, or NULL buf with len > 0.
 *   n == -ENOMEM          growing the argv array or the inline scratch failed.
 *
 * Any split of a byte stream into calls yields the same commands and the same error
 * after the same complete requests (tested byte-at-a-time).
 *
 * Grammar and errors (text to send, via ipc_resp_parser_errmsg()):
 *   A request starting with '*' is multibulk: "*<count>\r\n" then count times
 *   "$<len>\r\n<len bytes>\r\n". Numbers are plain decimal: digits only, no '+', no
 *   spaces, no leading zeros (as Redis's string2ll); the count may be negative.
 *   - count not a number, or > max_multibulk           IPC_EPROTO_MULTIBULK
 *         "ERR Protocol error: invalid multibulk length"
 *   - count <= 0: the request is ignored (argc 0).
 *   - an argument header not starting with '$'          IPC_EPROTO_DOLLAR
 *         "ERR Protocol error: expected '$', got 'x'"  (x = that byte; CR, LF, NUL shown as
 *         a space so the reply stays one line, as Redis does)
 *   - len not a number, negative, or > max_bulk          IPC_EPROTO_BULK
 *         "ERR Protocol error: invalid bulk length"
 *   - the 2 bytes after the data are not "\r\n"          IPC_EPROTO_BULK (our choice:
 *         Redis skips them unchecked; we refuse a length that does not match the data)
 *   - a header line whose number is followed by anything but "\r\n" is the
 *     MULTIBULK/BULK error of that header.
 *   Any other first byte starts an inline request: one line ended by "\n" (a "\r"
 *   just before it is dropped), split as Redis's sdssplitargs: space, \t, \r end an
 *   unquoted argument (\v and \f are skipped before an argument but do not end
 *   one), "double quotes" with the escapes \n \r \t \b \a \\ \" \xHH (any other
 *   \c is c), 'single quotes' with only \' ; a closing quote must be followed by
 *   whitespace or the end of the line. A NUL byte ends the line's arguments (the
 *   line is a C string to sdssplitargs; Redis itself differs, docs/design.md s.4).
 *   - a line longer than max_inline bytes (with or without its "\n" yet)
 *                                                        IPC_EPROTO_INLINE
 *         "ERR Protocol error: too big inline request"
 *   - an unterminated quote, or a closing quote followed by another character
 *                                                        IPC_EPROTO_QUOTES
 *         "ERR Protocol error: unbalanced quotes in request"
 *
 * argv lifetime: multibulk arguments and unquoted inline arguments point into buf;
 * quoted inline arguments point into the parser's scratch buffer (at most
 * max_inline bytes). Both stay valid until the next ipc_resp_parse/reset/free on
 * this parser or until the caller changes buf. Arguments are not NUL-terminated.
 *
 * Memory: the argv array grows as arguments actually arrive (never sized from the
 * announced count), so it is bounded by max_multibulk entries and in practice by
 * about 3x the bytes buffered; the scratch by max_inline.
 *
 * Thread-safety: a parser is used by one thread at a time; distinct parsers are
 * independent. Not async-signal-safe (may allocate).
 *
 * Errors under faults (what harnesses/faultsweep.c observed with every seam call
 * of this module failed in turn; the same holds for real failures):
 *   ipc_resp_parse         -ENOMEM (argv or unescaping buffer growth).
 *   ipc_resp_buf_append, ipc_resp_write_*  -ENOMEM (buffer growth); the buffer is
 *                          unchanged: no partial reply is ever left in it.
 *   ipc_resp_parser_init/reset/free, ipc_resp_buf_consume/free, the errmsg
 *   functions: none.
 */
#ifndef IPC_RESP_H
#define IPC_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPC_RESP_DEFAULT_MAX_MULTIBULK (1024 * 1024)        /* Redis's 1024*1024 */
#define IPC_RESP_DEFAULT_MAX_BULK      (1024 * 1024)        /* 1 MiB */
#define IPC_RESP_HARD_MAX_BULK         (512u * 1024 * 1024) /* Redis's proto-max-bulk-len */
#define IPC_RESP_DEFAULT_MAX_INLINE    (64 * 1024)          /* Redis's PROTO_INLINE_MAX_SIZE */
#define IPC_RESP_HARD_MAX_INLINE       (64u * 1024 * 1024)

/* Limits; a zero field means its default. */
struct ipc_resp_limits {
    size_t max_multibulk; /* largest accepted `*` count, <= IPC_RESP_DEFAULT_MAX_MULTIBULK */
    size_t max_bulk;      /* largest accepted `$` length, <= IPC_RESP_HARD_MAX_BULK */
    size_t max_inline;    /* longest inline line (bytes before "\n"), <= IPC_RESP_HARD_MAX_INLINE */
};

/* One argument: len bytes at ptr (not NUL-terminated; ptr may be non-NULL with len 0). */
struct ipc_resp_arg {
    const char *ptr;
    size_t len;
};

/* A parsed command. argv[0..argc) is owned by the parser (see argv lifetime). */
struct ipc_resp_cmd {
    size_t argc;
    const struct ipc_resp_arg *argv;
    int is_inline; /* 1 if it came from an inline line */
};

/* Parser state. Caller-allocated; the all-zero value is a valid parser with the
 * default limits. Treat the fields as private. Call ipc_resp_parser_free() when done
 * (it owns heap memory once it has parsed a command). */
struct ipc_resp_parser {
    struct ipc_resp_limits limits; /* may be set directly before the first parse */
    int err;                       /* sticky protocol error, 0 if none */
    unsigned char err_byte;        /* the offending byte of IPC_EPROTO_DOLLAR */
    /* resume state of the request in progress (offsets into the caller's buffer) */
    int state;
    size_t pos;       /* offset of the next unparsed byte */
    size_t remaining; /* multibulk: arguments still to read */
    size_t bulk_len;  /* multibulk: length of the argument being read */
    /* argv storage: offsets while incomplete, pointers when returned */
    void *args;
    size_t nargs, args_cap;
    /* unescaped bytes of quoted inline arguments */
    char *scratch;
    size_t scratch_cap;
    char errmsg[64];
};

/* Initialises p with the given limits (NULL: defaults). Returns 0, or -EINVAL for a
 * NULL p or a limit above its hard maximum (p is then left with defaults). Does not
 * allocate; an all-zero struct is equally valid. */
IPC_MUST_USE int ipc_resp_parser_init(struct ipc_resp_parser *p, const struct ipc_resp_limits *lim);

/* Forgets any partial request and the sticky error; keeps limits and memory. */
void ipc_resp_parser_reset(struct ipc_resp_parser *p);

/* Frees the parser's memory and resets it (limits kept). NULL is a no-op. */
void ipc_resp_parser_free(struct ipc_resp_parser *p);

/* See the contract at the top of this header. */
IPC_MUST_USE ssize_t ipc_resp_parse(struct ipc_resp_parser *p, const char *buf, size_t len,
                                    struct ipc_resp_cmd *cmd);

/* The Redis error text for the parser's sticky error, without the leading '-' and
 * without CRLF ("ERR Protocol error: invalid bulk length"), or NULL if the parser is
 * not failed. The string lives in p until the next reset. */
const char *ipc_resp_parser_errmsg(const struct ipc_resp_parser *p);

/* Static error text for a protocol error code (as ipc_resp_parser_errmsg, but
 * IPC_EPROTO_DOLLAR gives "ERR Protocol error: expected '$'" without the byte, since
 * the code alone does not carry it). NULL for codes that are not protocol errors. */
const char *ipc_resp_errmsg(int code);

/* ---- reply writer ----------------------------------------------------------
 * Appends RESP2 replies to a growable, bounded output buffer. The all-zero
 * ipc_resp_buf is valid (cap grows on demand up to max; max 0 means
 * IPC_RESP_BUF_DEFAULT_MAX). Each write is all-or-nothing: on -ENOBUFS (the reply
 * would take len past max) or -ENOMEM the buffer is unchanged, so the caller can
 * stop reading from that client until it has flushed (backpressure). Returns 0.
 * One thread at a time per buffer; not async-signal-safe. */
#define IPC_RESP_BUF_DEFAULT_MAX (8u * 1024 * 1024)

struct ipc_resp_buf {
    char *data; /* owned; bytes [0, len) are pending output */
    size_t len;
    size_t cap;
    size_t max; /* upper bound for len; 0 = IPC_RESP_BUF_DEFAULT_MAX */
};

/* Frees data and zeroes everything but max. NULL is a no-op. */
void ipc_resp_buf_free(struct ipc_resp_buf *b);

/* Drops the first n bytes (those just written to the socket); n > len is -EINVAL. */
IPC_MUST_USE int ipc_resp_buf_consume(struct ipc_resp_buf *b, size_t n);

/* Appends raw bytes (already valid RESP). */
IPC_MUST_USE int ipc_resp_buf_append(struct ipc_resp_buf *b, const void *p, size_t n);

/* "+<s>\r\n". s must not contain CR or LF (-EINVAL). */
IPC_MUST_USE int ipc_resp_write_simple(struct ipc_resp_buf *b, const char *s, size_t len);

/* "-<msg>\r\n"; msg includes its prefix ("ERR ...", "WRONGTYPE ..."). CR and LF
 * inside msg are replaced by spaces (as Redis does) so that echoing client data in an
 * error ("unknown command 'x'") can never break the reply stream. */
IPC_MUST_USE int ipc_resp_write_error(struct ipc_resp_buf *b, const char *msg, size_t len);

/* ipc_resp_write_error of ipc_resp_parser_errmsg(p); -EINVAL if p is not failed. */
IPC_MUST_USE int ipc_resp_write_parse_error(struct ipc_resp_buf *b,
                                            const struct ipc_resp_parser *p);

/* ":<v>\r\n" */
IPC_MUST_USE int ipc_resp_write_int(struct ipc_resp_buf *b, int64_t v);

/* "$<len>\r\n<bytes>\r\n" (p may be NULL when len is 0). */
IPC_MUST_USE int ipc_resp_write_bulk(struct ipc_resp_buf *b, const void *p, size_t len);

/* "$-1\r\n" (null bulk: GET of a missing key). */
IPC_MUST_USE int ipc_resp_write_null(struct ipc_resp_buf *b);

/* "*<n>\r\n"; the caller then writes n elements. n = 0 is the empty array. */
IPC_MUST_USE int ipc_resp_write_array(struct ipc_resp_buf *b, size_t n);

/* "*0\r\n" */
IPC_MUST_USE int ipc_resp_write_empty_array(struct ipc_resp_buf *b);

/* "*-1\r\n" */
IPC_MUST_USE int ipc_resp_write_null_array(struct ipc_resp_buf *b);

#ifdef __cplusplus
}
#endif
#endif
