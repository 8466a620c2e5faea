/* model_resp.h - an independent reference model of the RESP2 request grammar, for
 * the fuzz targets (header-only, see fuzz_util.h for why).
 *
 * Written from the protocol description (Redis protocol spec, Redis's
 * sdssplitargs quoting rules, the grammar and limits in ipc/resp.h and
 * docs/design.md section 4), not from core/src/resp.c, and in a different style:
 * the library is an incremental state machine over offsets; this is a plain
 * recursive-descent reading of ONE request from a complete buffer, that starts
 * from the first byte every time. It answers, for buf[0, len):
 *
 *   MRESP_COMMAND   a complete request of `end` bytes (argc may be 0: ignored);
 *   MRESP_NEEDMORE  the bytes are a proper prefix of some valid request;
 *   MRESP_ERROR     no continuation can make them valid: code + Redis text.
 *
 * "Every limit is enforced as soon as the bytes that break it arrive" (ipc/resp.h)
 * is modelled as earliest detection for the multibulk framing: every byte is judged
 * when it is read, so a prefix is an error as soon as no continuation of it is a
 * valid request (a count already above max_multibulk, a '-' in a bulk length, a
 * leading zero, a wrong byte where "\r\n" must be). An inline line is judged when
 * its "\n" arrives, except for its length, which is an error as soon as more than
 * max_inline bytes without "\n" are there.
 *
 * Inline splitting follows sdssplitargs (Redis src/sds.c): whitespace (space, \t,
 * \r, \v, \f) before an argument is skipped; outside quotes, space, \t and \r end
 * an argument (not \v or \f: Redis tests those only with isspace() between
 * arguments - ipc/resp.h's "split on whitespace (space, \t, \r, \v, \f)" is this
 * rule, loosely worded) and a quote opens a quoted part (even in the middle of an
 * argument: ab"c d" is the one argument `abc d`); in "double quotes" the escapes
 * \n \r \t \b \a \\ \" and \xHH (two hex digits, either case) are decoded and any
 * other \c is c; in 'single quotes' only \' is an escape; a closing quote must be
 * followed by whitespace or the end of the line; an unterminated quote is an error.
 * A "\r" just before the "\n" is dropped before splitting. As in Redis, which
 * splits the line as a C string, a NUL byte ends the line's content (what follows
 * it up to the "\n" is ignored; a quote still open there is unbalanced). */
#ifndef IPC_MODEL_RESP_H
#define IPC_MODEL_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ipc/error.h"
#include "ipc/resp.h"

enum { MRESP_ERROR = -1, MRESP_NEEDMORE = 0, MRESP_COMMAND = 1 };

/* The most arguments the model keeps (the limits the targets use stay below; the
 * default max_multibulk is larger, but an input of at most a few KiB cannot hold
 * more than this many arguments either: each takes at least 4 bytes, or 1 inline). */
#define MRESP_MAX_ARGS 8192

struct mresp_limits {
    size_t max_multibulk, max_bulk, max_inline; /* 0 = the ipc/resp.h default */
};

struct mresp_arg {
    size_t off, len; /* bytes at mresp_result.bytes + off */
};

struct mresp_result {
    int kind;   /* MRESP_* */
    size_t end; /* MRESP_COMMAND: bytes of the request */
    int is_inline;
    size_t argc;
    struct mresp_arg argv[MRESP_MAX_ARGS];
    char *bytes; /* argument bytes (copied, unescaped), grown as needed */
    size_t bytes_len, bytes_cap;
    int code;      /* MRESP_ERROR: IPC_EPROTO_* */
    char text[80]; /* MRESP_ERROR: the Redis text without '-' and CRLF */
};

FUZZ_NOCOV static inline size_t mresp_limit(size_t v, size_t def)
{
    return v ? v : def;
}

FUZZ_NOCOV static inline void mresp_error(struct mresp_result *r, int code)
{
    r->kind = MRESP_ERROR;
    r->code = code;
    const char *t = "";
    switch (code) {
    case IPC_EPROTO_MULTIBULK:
        t = "ERR Protocol error: invalid multibulk length";
        break;
    case IPC_EPROTO_BULK:
        t = "ERR Protocol error: invalid bulk length";
        break;
    case IPC_EPROTO_INLINE:
        t = "ERR Protocol error: too big inline request";
        break;
    case IPC_EPROTO_QUOTES:
        t = "ERR Protocol error: unbalanced quotes in request";
        break;
    default:
        FUZZ_CHECK(!"model: unknown protocol error");
    }
    snprintf(r->text, sizeof(r->text), "%s", t);
}

/* Redis: addReplyErrorFormat(c, "Protocol error: expected '$', got '%c'", byte); the
 * reply is made one line by turning CR and LF into spaces. A NUL byte: Redis's
 * printf-built text ends at it and the client gets no usable reply (checked with
 * redis-server 7.0); ipcstorm shows it as a space too, which keeps the reply one
 * well-formed line - modelled so (ipc/resp.h names only CR and LF). */
FUZZ_NOCOV static inline void mresp_error_dollar(struct mresp_result *r, unsigned char got)
{
    r->kind = MRESP_ERROR;
    r->code = IPC_EPROTO_DOLLAR;
    char c = (got == '\r' || got == '\n' || got == 0) ? ' ' : (char)got;
    snprintf(r->text, sizeof(r->text), "ERR Protocol error: expected '$', got '%c'", c);
}

FUZZ_NOCOV static inline void mresp_put(struct mresp_result *r, const void *p, size_t n)
{
    if (r->bytes_len + n > r->bytes_cap) {
        size_t cap = r->bytes_cap ? r->bytes_cap * 2 : 256;
        while (cap < r->bytes_len + n)
            cap *= 2;
        char *nb = (char *)realloc(r->bytes, cap);
        FUZZ_CHECK(nb != NULL);
        r->bytes = nb;
        r->bytes_cap = cap;
    }
    /* the inline splitter puts one byte at a time: a store, not a memcpy call
     * (under ASan each one was an interceptor call with a range check) */
    if (n == 1)
        r->bytes[r->bytes_len] = *(const char *)p;
    else if (n)
        memcpy(r->bytes + r->bytes_len, p, n);
    r->bytes_len += n;
}

/* ---- multibulk ---- */

/* How reading a decimal header number went. */
enum { MNUM_OK, MNUM_MORE, MNUM_BAD };

/* Reads "<number>\r\n" at buf[*at]: plain decimal as Redis's string2ll (no '+', no
 * spaces, no leading zero, "-0" refused, within int64), a '-' only if allow_minus,
 * and a non-negative value at most max. Each byte is judged as it is read. */
FUZZ_NOCOV static inline int mresp_number(const unsigned char *buf, size_t len, size_t *at,
                                          int allow_minus, uint64_t max, int64_t *value)
{
    size_t i = *at;
    int minus = 0;
    if (i == len)
        return MNUM_MORE;
    if (buf[i] == '-') {
        if (!allow_minus)
            return MNUM_BAD;
        minus = 1;
        i++;
        if (i == len)
            return MNUM_MORE;
    }
    if (buf[i] < '0' || buf[i] > '9')
        return MNUM_BAD; /* includes an empty number: "*\r\n" */
    uint64_t v = 0;
    size_t digits = 0;
    while (i < len && buf[i] >= '0' && buf[i] <= '9') {
        if (digits == 1 && v == 0)
            return MNUM_BAD; /* leading zero */
        if (minus && buf[i] == '0' && digits == 0)
            return MNUM_BAD; /* "-0..." */
        uint64_t d = (uint64_t)(buf[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return MNUM_BAD;
        v = v * 10 + d;
        digits++;
        if (minus ? v > (uint64_t)INT64_MAX + 1 : v > max)
            return MNUM_BAD;
        i++;
    }
    if (i == len)
        return MNUM_MORE;
    if (buf[i] != '\r')
        return MNUM_BAD;
    i++;
    if (i == len)
        return MNUM_MORE;
    if (buf[i] != '\n')
        return MNUM_BAD;
    *at = i + 1;
    *value = minus ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return MNUM_OK;
}

FUZZ_NOCOV static inline void mresp_multibulk(const struct mresp_limits *lim,
                                              const unsigned char *buf, size_t len,
                                              struct mresp_result *r)
{
    size_t at = 1;
    int64_t count;
    int st = mresp_number(buf, len, &at, 1,
                          mresp_limit(lim->max_multibulk, IPC_RESP_DEFAULT_MAX_MULTIBULK), &count);
    if (st == MNUM_MORE)
        return;
    if (st == MNUM_BAD) {
        mresp_error(r, IPC_EPROTO_MULTIBULK);
        return;
    }
    size_t max_bulk = mresp_limit(lim->max_bulk, IPC_RESP_DEFAULT_MAX_BULK);
    for (int64_t k = 0; k < count; k++) {
        if (at == len)
            return;
        if (buf[at] != '$') {
            mresp_error_dollar(r, buf[at]);
            return;
        }
        at++;
        int64_t blen;
        st = mresp_number(buf, len, &at, 0, max_bulk, &blen);
        if (st == MNUM_MORE)
            return;
        if (st == MNUM_BAD) {
            mresp_error(r, IPC_EPROTO_BULK);
            return;
        }
        if (len - at < (size_t)blen + 1)
            return; /* the data, or its first trailer byte, is still to come */
        /* our choice (design.md s.4): the two bytes after the data must be CRLF */
        if (buf[at + (size_t)blen] != '\r') {
            mresp_error(r, IPC_EPROTO_BULK);
            return;
        }
        if (len - at < (size_t)blen + 2)
            return;
        if (buf[at + (size_t)blen + 1] != '\n') {
            mresp_error(r, IPC_EPROTO_BULK);
            return;
        }
        FUZZ_CHECK(r->argc < MRESP_MAX_ARGS);
        r->argv[r->argc].off = r->bytes_len;
        r->argv[r->argc].len = (size_t)blen;
        mresp_put(r, buf + at, (size_t)blen);
        r->argc++;
        at += (size_t)blen + 2;
    }
    r->kind = MRESP_COMMAND;
    r->end = at;
}

/* ---- inline ---- */

/* sdssplitargs skips (and accepts after a closing quote) isspace() bytes... */
FUZZ_NOCOV static inline int mresp_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* ...but ends an unquoted argument only at ' ', '\n', '\r', '\t' or NUL: "a\vb" is
 * one argument of three bytes in Redis. */
FUZZ_NOCOV static inline int mresp_ends_arg(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

FUZZ_NOCOV static inline int mresp_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* sdssplitargs over line[0, n). Returns 0, or -1 for unbalanced quotes. */
FUZZ_NOCOV static inline int mresp_split(const unsigned char *line, size_t n,
                                         struct mresp_result *r)
{
    size_t p = 0;
    for (;;) {
        while (p < n && mresp_space(line[p]))
            p++;
        if (p == n)
            return 0;
        FUZZ_CHECK(r->argc < MRESP_MAX_ARGS);
        struct mresp_arg *a = &r->argv[r->argc++];
        a->off = r->bytes_len;
        int quote = 0; /* 0, '"' or '\'' */
        for (;;) {
            if (quote == '"') {
                if (p == n)
                    return -1;
                unsigned char c = line[p];
                if (c == '\\' && p + 3 < n && line[p + 1] == 'x' && mresp_hex(line[p + 2]) >= 0 &&
                    mresp_hex(line[p + 3]) >= 0) {
                    char b = (char)(mresp_hex(line[p + 2]) * 16 + mresp_hex(line[p + 3]));
                    mresp_put(r, &b, 1);
                    p += 4;
                } else if (c == '\\' && p + 1 < n) {
                    char e = (char)line[p + 1];
                    switch (e) {
                    case 'n':
                        e = '\n';
                        break;
                    case 'r':
                        e = '\r';
                        break;
                    case 't':
                        e = '\t';
                        break;
                    case 'b':
                        e = '\b';
                        break;
                    case 'a':
                        e = '\a';
                        break;
                    default:
                        break;
                    }
                    mresp_put(r, &e, 1);
                    p += 2;
                } else if (c == '"') {
                    if (p + 1 < n && !mresp_space(line[p + 1]))
                        return -1;
                    p++;
                    break;
                } else {
                    mresp_put(r, &c, 1);
                    p++;
                }
            } else if (quote == '\'') {
                if (p == n)
                    return -1;
                unsigned char c = line[p];
                if (c == '\\' && p + 1 < n && line[p + 1] == '\'') {
                    mresp_put(r, "'", 1);
                    p += 2;
                } else if (c == '\'') {
                    if (p + 1 < n && !mresp_space(line[p + 1]))
                        return -1;
                    p++;
                    break;
                } else {
                    mresp_put(r, &c, 1);
                    p++;
                }
            } else {
                if (p == n || mresp_ends_arg(line[p]))
                    break;
                if (line[p] == '"' || line[p] == '\'')
                    quote = line[p];
                else
                    mresp_put(r, &line[p], 1);
                p++;
            }
        }
        a->len = r->bytes_len - a->off;
    }
}

FUZZ_NOCOV static inline void mresp_inline(const struct mresp_limits *lim, const unsigned char *buf,
                                           size_t len, struct mresp_result *r)
{
    size_t max_inline = mresp_limit(lim->max_inline, IPC_RESP_DEFAULT_MAX_INLINE);
    const unsigned char *nl = (const unsigned char *)memchr(buf, '\n', len);
    size_t line = nl ? (size_t)(nl - buf) : len; /* bytes before the "\n" (so far) */
    if (line > max_inline) {
        mresp_error(r, IPC_EPROTO_INLINE);
        return;
    }
    if (!nl)
        return;
    size_t body = line;
    if (body > 0 && buf[body - 1] == '\r')
        body--;
    /* Redis splits the line as a C string: a NUL byte ends it (and so leaves an
     * open quote unterminated). */
    const unsigned char *nul = (const unsigned char *)memchr(buf, 0, body);
    if (nul)
        body = (size_t)(nul - buf);
    if (mresp_split(buf, body, r) != 0) {
        r->argc = 0;
        mresp_error(r, IPC_EPROTO_QUOTES);
        return;
    }
    r->kind = MRESP_COMMAND;
    r->is_inline = 1;
    r->end = line + 1;
}

/* Reads the request at the start of buf[0, len) into r (whose bytes buffer is
 * reused). Never reads past len. */
FUZZ_NOCOV static inline void mresp_parse(const struct mresp_limits *lim, const void *data,
                                          size_t len, struct mresp_result *r)
{
    const unsigned char *buf = (const unsigned char *)data;
    r->kind = MRESP_NEEDMORE;
    r->end = 0;
    r->is_inline = 0;
    r->argc = 0;
    r->bytes_len = 0;
    r->code = 0;
    r->text[0] = 0;
    if (len == 0)
        return;
    if (buf[0] == '*')
        mresp_multibulk(lim, buf, len, r);
    else
        mresp_inline(lim, buf, len, r);
    if (r->kind != MRESP_COMMAND)
        r->argc = 0;
}

FUZZ_NOCOV static inline const char *mresp_arg_ptr(const struct mresp_result *r, size_t i)
{
    return r->bytes ? r->bytes + r->argv[i].off : ""; /* no bytes yet: all empty */
}

#endif
