/* model_cmd.h - an independent reference model of the commands of `ipcstorm serve`
 * and of its counter table, for the fuzz targets (header-only, see fuzz_util.h).
 *
 * Written from docs/design.md section 4 (the command list and the table of
 * deliberate differences from Redis 7), ipcsrv/conn.h, ipcsrv/ctab.h, the unit
 * tests in server/tests/ and Redis 7's own texts - not from server/src/conn.c or
 * ctab.c. It keeps its own key -> int64 map (a plain array searched linearly)
 * and produces the exact reply bytes of each command, one reply per command:
 *
 *   PING -> +PONG; PING msg -> bulk msg; ECHO msg -> bulk msg
 *   INCR/DECR/INCRBY key [n] -> :new value (a missing key starts at 0)
 *   GET key -> bulk of the decimal value, or $-1
 *   DEL key... -> :number of keys that existed (a key named twice counts once)
 *   DBSIZE -> :live keys; COMMAND [...] -> *0; QUIT [...] -> +OK and close
 *   CONFIG GET save -> ["save", ""]; CONFIG GET appendonly -> ["appendonly", "no"];
 *   CONFIG GET anything else -> *0 (names compared case-insensitively, as Redis)
 *   INFO [...] -> a bulk string whose numbers change (uptime, counters): the
 *   targets compare its shape only (a bulk string), see mcmd_reply_is_info.
 *
 * Errors (Redis's texts):
 *   unknown command   "ERR unknown command '<name>', with args beginning with: "
 *                     then "'<arg>' " per argument while the list is under 128
 *                     bytes, each cut to what is left of 128 (Redis 7 printf
 *                     "%.128s" / "%.*s": a NUL byte ends a name or argument there)
 *   wrong arity       "ERR wrong number of arguments for '<name>' command", the
 *                     lowercase name; "config|get" for CONFIG GET
 *   INCRBY amount     "ERR value is not an integer or out of range" (string2ll:
 *                     no '+', spaces, leading zeros or "-0"; within int64)
 *   overflow          "ERR increment or decrement would overflow" (value unchanged)
 *   key > 64 bytes    "ERR key too long" (IPC_CTAB_KEY_MAX; design.md s.4)
 *   new key, full     "ERR counter table full"
 * CR and LF inside an error text go out as spaces (ipc_resp_write_error). */
#ifndef IPC_MODEL_CMD_H
#define IPC_MODEL_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ipcsrv/ctab.h"

#define MCMD_MAX_KEYS 4096

struct mcmd_entry {
    unsigned char key[IPC_CTAB_KEY_MAX];
    size_t len;
    int64_t value;
};

/* The counter table: capacity keys at most. */
struct mcmd_table {
    size_t capacity;
    size_t count;
    struct mcmd_entry e[MCMD_MAX_KEYS];
};

/* The expected replies: bytes, and where each reply starts. */
#define MCMD_MAX_REPLIES 8192
struct mcmd_replies {
    char *buf;
    size_t len, cap;
    size_t n;
    size_t start[MCMD_MAX_REPLIES + 1];
    unsigned char is_info[MCMD_MAX_REPLIES];
};

struct mcmd_arg {
    const char *ptr;
    size_t len;
};

FUZZ_NOCOV static inline void mcmd_table_init(struct mcmd_table *t, size_t capacity)
{
    FUZZ_CHECK(capacity <= MCMD_MAX_KEYS);
    t->capacity = capacity;
    t->count = 0;
}

FUZZ_NOCOV static inline struct mcmd_entry *mcmd_find(struct mcmd_table *t, const char *k,
                                                      size_t len)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->e[i].len == len && (len == 0 || memcmp(t->e[i].key, k, len) == 0))
            return &t->e[i];
    return NULL;
}

FUZZ_NOCOV static inline void mcmd_out(struct mcmd_replies *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4096;
        while (cap < o->len + n)
            cap *= 2;
        char *nb = (char *)realloc(o->buf, cap);
        FUZZ_CHECK(nb != NULL);
        o->buf = nb;
        o->cap = cap;
    }
    if (n)
        memcpy(o->buf + o->len, p, n);
    o->len += n;
}

FUZZ_NOCOV static inline void mcmd_out_str(struct mcmd_replies *o, const char *s)
{
    mcmd_out(o, s, strlen(s));
}

FUZZ_NOCOV static inline void mcmd_reset(struct mcmd_replies *o)
{
    o->len = 0;
    o->n = 0;
    o->start[0] = 0;
}

/* Ends the reply that began at o->start[o->n]. */
FUZZ_NOCOV static inline void mcmd_end_reply(struct mcmd_replies *o, int is_info)
{
    FUZZ_CHECK(o->n < MCMD_MAX_REPLIES);
    o->is_info[o->n] = (unsigned char)is_info;
    o->n++;
    o->start[o->n] = o->len;
}

FUZZ_NOCOV static inline void mcmd_error(struct mcmd_replies *o, const char *msg, size_t n)
{
    mcmd_out(o, "-", 1);
    for (size_t i = 0; i < n; i++) {
        char c = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
        mcmd_out(o, &c, 1);
    }
    mcmd_out(o, "\r\n", 2);
}

FUZZ_NOCOV static inline void mcmd_error_str(struct mcmd_replies *o, const char *msg)
{
    mcmd_error(o, msg, strlen(msg));
}

FUZZ_NOCOV static inline void mcmd_int(struct mcmd_replies *o, int64_t v)
{
    char b[32];
    int k = snprintf(b, sizeof(b), ":%lld\r\n", (long long)v);
    mcmd_out(o, b, (size_t)k);
}

FUZZ_NOCOV static inline void mcmd_bulk(struct mcmd_replies *o, const void *p, size_t n)
{
    char b[32];
    int k = snprintf(b, sizeof(b), "$%zu\r\n", n);
    mcmd_out(o, b, (size_t)k);
    mcmd_out(o, p, n);
    mcmd_out(o, "\r\n", 2);
}

/* Case-insensitive equality with a lowercase ASCII word. */
FUZZ_NOCOV static inline int mcmd_is(const struct mcmd_arg *a, const char *word)
{
    size_t n = strlen(word);
    if (a->len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a->ptr[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)word[i])
            return 0;
    }
    return 1;
}

/* Redis's string2ll: "0", or an optional '-' then a digit 1-9 and digits, within
 * int64. Returns 1 and *v, or 0. */
FUZZ_NOCOV static inline int mcmd_string2ll(const char *s, size_t n, int64_t *v)
{
    if (n == 0 || n > 20)
        return 0;
    if (n == 1 && s[0] == '0') {
        *v = 0;
        return 1;
    }
    size_t i = 0;
    int minus = 0;
    if (s[0] == '-') {
        minus = 1;
        i = 1;
        if (n == 1)
            return 0;
    }
    if (s[i] < '1' || s[i] > '9')
        return 0;
    uint64_t u = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (u > (UINT64_MAX - d) / 10)
            return 0;
        u = u * 10 + d;
    }
    if (minus) {
        if (u > (uint64_t)INT64_MAX + 1)
            return 0;
        *v = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > (uint64_t)INT64_MAX)
            return 0;
        *v = (int64_t)u;
    }
    return 1;
}

/* Redis printf "%.*s" of a C string: stops at max bytes or a NUL byte. */
FUZZ_NOCOV static inline size_t mcmd_cstr_len(const char *p, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    const char *nul = n ? (const char *)memchr(p, 0, n) : NULL;
    return nul ? (size_t)(nul - p) : n;
}

FUZZ_NOCOV static inline void mcmd_unknown(struct mcmd_replies *o, size_t argc,
                                           const struct mcmd_arg *argv)
{
    /* Redis 7 (server.c processCommand):
     *   for (i=1; i < c->argc && sdslen(args) < 128; i++)
     *       args = sdscatprintf(args, "'%.*s' ", 128-(int)sdslen(args), argv[i]);
     *   "unknown command '%.128s', with args beginning with: %s" */
    static char msg[512];
    size_t m = 0;
    const char head[] = "ERR unknown command '";
    memcpy(msg, head, sizeof(head) - 1);
    m = sizeof(head) - 1;
    size_t k = mcmd_cstr_len(argv[0].ptr, argv[0].len, 128);
    memcpy(msg + m, argv[0].ptr, k);
    m += k;
    const char mid[] = "', with args beginning with: ";
    memcpy(msg + m, mid, sizeof(mid) - 1);
    m += sizeof(mid) - 1;
    size_t args = 0;
    for (size_t i = 1; i < argc && args < 128; i++) {
        size_t a = mcmd_cstr_len(argv[i].ptr, argv[i].len, 128 - args);
        msg[m++] = '\'';
        memcpy(msg + m, argv[i].ptr, a);
        m += a;
        msg[m++] = '\'';
        msg[m++] = ' ';
        args += a + 3;
    }
    mcmd_error(o, msg, m);
}

FUZZ_NOCOV static inline void mcmd_arity(struct mcmd_replies *o, const char *name)
{
    char msg[96];
    int k = snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command", name);
    mcmd_error(o, msg, (size_t)k);
}

/* INCRBY key by delta on the model table. */
FUZZ_NOCOV static inline void mcmd_incrby(struct mcmd_table *t, struct mcmd_replies *o,
                                          const struct mcmd_arg *key, int64_t delta)
{
    if (key->len > IPC_CTAB_KEY_MAX) {
        mcmd_error_str(o, "ERR key too long");
        return;
    }
    struct mcmd_entry *e = mcmd_find(t, key->ptr, key->len);
    if (!e) {
        if (t->count >= t->capacity) {
            mcmd_error_str(o, "ERR counter table full");
            return;
        }
        e = &t->e[t->count++];
        if (key->len)
            memcpy(e->key, key->ptr, key->len);
        e->len = key->len;
        e->value = 0;
    }
    if ((delta > 0 && e->value > INT64_MAX - delta) ||
        (delta < 0 && e->value < INT64_MIN - delta)) {
        mcmd_error_str(o, "ERR increment or decrement would overflow");
        return;
    }
    e->value += delta;
    mcmd_int(o, e->value);
}

/* Executes one command (argc >= 1) and appends its reply. Returns 1 for QUIT
 * (the connection then closes), else 0. */
FUZZ_NOCOV static inline int mcmd_execute(struct mcmd_table *t, struct mcmd_replies *o, size_t argc,
                                          const struct mcmd_arg *argv)
{
    const struct mcmd_arg *name = &argv[0];
    int quit = 0, info = 0;
    if (mcmd_is(name, "ping")) {
        if (argc > 2)
            mcmd_arity(o, "ping");
        else if (argc == 2)
            mcmd_bulk(o, argv[1].ptr, argv[1].len);
        else
            mcmd_out(o, "+PONG\r\n", 7);
    } else if (mcmd_is(name, "echo")) {
        if (argc != 2)
            mcmd_arity(o, "echo");
        else
            mcmd_bulk(o, argv[1].ptr, argv[1].len);
    } else if (mcmd_is(name, "incr") || mcmd_is(name, "decr")) {
        int incr = mcmd_is(name, "incr");
        if (argc != 2)
            mcmd_arity(o, incr ? "incr" : "decr");
        else
            mcmd_incrby(t, o, &argv[1], incr ? 1 : -1);
    } else if (mcmd_is(name, "incrby")) {
        int64_t delta;
        if (argc != 3)
            mcmd_arity(o, "incrby");
        else if (!mcmd_string2ll(argv[2].ptr, argv[2].len, &delta))
            mcmd_error_str(o, "ERR value is not an integer or out of range");
        else
            mcmd_incrby(t, o, &argv[1], delta);
    } else if (mcmd_is(name, "get")) {
        if (argc != 2) {
            mcmd_arity(o, "get");
        } else if (argv[1].len > IPC_CTAB_KEY_MAX) {
            mcmd_error_str(o, "ERR key too long");
        } else {
            struct mcmd_entry *e = mcmd_find(t, argv[1].ptr, argv[1].len);
            if (!e) {
                mcmd_out(o, "$-1\r\n", 5);
            } else {
                char b[32];
                int k = snprintf(b, sizeof(b), "%lld", (long long)e->value);
                mcmd_bulk(o, b, (size_t)k);
            }
        }
    } else if (mcmd_is(name, "del")) {
        if (argc < 2) {
            mcmd_arity(o, "del");
        } else {
            /* An error reply means no effect: every key is checked first. */
            int64_t deleted = 0;
            int too_long = 0;
            for (size_t i = 1; i < argc; i++)
                too_long |= argv[i].len > IPC_CTAB_KEY_MAX;
            for (size_t i = 1; i < argc && !too_long; i++) {
                struct mcmd_entry *e = mcmd_find(t, argv[i].ptr, argv[i].len);
                if (e) {
                    *e = t->e[--t->count];
                    deleted++;
                }
            }
            if (too_long)
                mcmd_error_str(o, "ERR key too long");
            else
                mcmd_int(o, deleted);
        }
    } else if (mcmd_is(name, "dbsize")) {
        if (argc != 1)
            mcmd_arity(o, "dbsize");
        else
            mcmd_int(o, (int64_t)t->count);
    } else if (mcmd_is(name, "info")) {
        mcmd_out(o, "$0\r\n\r\n", 6); /* shape only: see the top comment */
        info = 1;
    } else if (mcmd_is(name, "quit")) {
        mcmd_out(o, "+OK\r\n", 5);
        quit = 1;
    } else if (mcmd_is(name, "command")) {
        mcmd_out(o, "*0\r\n", 4);
    } else if (mcmd_is(name, "config")) {
        if (argc < 2) {
            mcmd_arity(o, "config");
        } else if (mcmd_is(&argv[1], "get")) {
            if (argc != 3)
                mcmd_arity(o, "config|get");
            else if (mcmd_is(&argv[2], "save"))
                mcmd_out_str(o, "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
            else if (mcmd_is(&argv[2], "appendonly"))
                mcmd_out_str(o, "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
            else
                mcmd_out(o, "*0\r\n", 4);
        } else {
            /* Redis 7: "unknown subcommand '%.128s'. Try CONFIG HELP." */
            char msg[200];
            size_t k = mcmd_cstr_len(argv[1].ptr, argv[1].len, 128);
            int m = snprintf(msg, sizeof(msg), "ERR unknown subcommand '%.*s'. Try CONFIG HELP.",
                             (int)k, argv[1].ptr);
            mcmd_error(o, msg, (size_t)m);
        }
    } else {
        mcmd_unknown(o, argc, argv);
    }
    mcmd_end_reply(o, info);
    return quit;
}

#endif
