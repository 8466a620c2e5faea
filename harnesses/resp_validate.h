/* resp_validate.h - a strict RESP2 reply validator for the fuzz targets, written
 * from the protocol description rather than from libipc's writer, so that it can
 * judge the writer. Header-only (see fuzz_util.h for why). */
#ifndef IPC_RESP_VALIDATE_H
#define IPC_RESP_VALIDATE_H

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"
#include "ipc/resp.h"

/* Length of the line body at b (up to CR LF), or -1 if incomplete. A bare CR or LF
 * inside a line is invalid RESP. */
FUZZ_NOCOV static inline long line_len(const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '\r') {
            if (i + 1 == n)
                return -1;
            FUZZ_CHECK(b[i + 1] == '\n');
            return (long)i;
        }
        FUZZ_CHECK(b[i] != '\n');
    }
    return -1;
}

/* Parses a RESP integer body: "-1", "0", "42"; no '+', no leading zero. */
FUZZ_NOCOV static inline int64_t parse_int(const char *b, long len)
{
    long i = 0;
    int neg = 0;
    if (len > 0 && b[0] == '-') {
        neg = 1;
        i = 1;
    }
    FUZZ_CHECK(i < len && len - i <= 19);
    FUZZ_CHECK(b[i] != '0' || len - i == 1);
    uint64_t v = 0;
    for (; i < len; i++) {
        FUZZ_CHECK(isdigit((unsigned char)b[i]));
        v = v * 10 + (uint64_t)(b[i] - '0');
    }
    /* within int64_t: INT64_MIN has one more unit than INT64_MAX */
    FUZZ_CHECK(v <= (uint64_t)INT64_MAX + (uint64_t)neg);
    if (!neg)
        return (int64_t)v;
    return v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
}

/* Returns the bytes of one complete reply at b, 0 if incomplete; aborts if invalid. */
FUZZ_NOCOV static inline size_t reply_one(const char *b, size_t n, int depth)
{
    FUZZ_CHECK(depth < 8);
    if (n == 0)
        return 0;
    long l = line_len(b + 1, n - 1);
    if (l < 0)
        return 0;
    size_t head = 1 + (size_t)l + 2;
    switch (b[0]) {
    case '+':
    case '-':
        return head;
    case ':':
        (void)parse_int(b + 1, l);
        return head;
    case '$': {
        int64_t len = parse_int(b + 1, l);
        if (len == -1)
            return head;
        FUZZ_CHECK(len >= 0 && len <= (int64_t)IPC_RESP_HARD_MAX_BULK);
        if (n - head < (size_t)len + 2)
            return 0;
        FUZZ_CHECK(b[head + len] == '\r' && b[head + len + 1] == '\n');
        return head + (size_t)len + 2;
    }
    case '*': {
        int64_t cnt = parse_int(b + 1, l);
        if (cnt == -1)
            return head;
        FUZZ_CHECK(cnt >= 0);
        size_t at = head;
        for (int64_t i = 0; i < cnt; i++) {
            size_t r = reply_one(b + at, n - at, depth + 1);
            if (r == 0)
                return 0;
            at += r;
        }
        return at;
    }
    default:
        FUZZ_CHECK(!"reply starts with an unknown type byte");
        return 0;
    }
}

#endif
