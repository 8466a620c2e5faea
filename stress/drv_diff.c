/* drv_diff.c - `ipcstorm stress diff`: differential testing of `ipcstorm serve`
 * against a real redis-server. Both servers run side by side on ephemeral loopback
 * ports; every round sends both the same random byte stream (valid commands with
 * boundary values, malformed requests, pipelines, random write boundaries) and
 * compares the replies byte for byte. Redis is the oracle: nothing here predicts a
 * reply, except for the deliberate differences of docs/design.md section 4, each
 * of which is one predicate over the command (the table `differences` below, one
 * row per row of the design table). When a predicate says "ipcstorm differs here",
 * ipcstorm's reply is checked against what the design table says it answers, and
 * the keys the command touches are marked diverged for the rest of the round;
 * commands on diverged keys are checked against a small model of ipcstorm's
 * counters instead of against Redis. Every round ends by deleting its keys on both
 * servers, after which both must report DBSIZE 0. A few stateless requests per
 * round also go to ipcstorm's UDP port: the reply datagram must be Redis's reply.
 *
 * Each round also exercises the socket API that the server does not use from the
 * client side (listen/accept, datagrams, address helpers, unlink) with checks
 * against independent views: getsockname/getpeername, inet_ntop, stat. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "common.h"
#include "report.h"
#include "rng.h"
#include "sock_reader.h"
#include "ipc/pipe.h"
#include "ipc/proc.h"
#include "ipc/run.h"
#include "ipc/sock.h"
#include "ipcsrv/server.h"

const char ipcstorm_stress_diff_summary[] =
    "ipcstorm serve vs a real redis-server: same random command streams, replies compared";

#define MAX_ITEMS  256
#define MAX_POOL   96
#define KEY_LIMIT  64 /* IPC_CTAB_KEY_MAX: the key-length difference */
#define STREAM_CAP (256 * 1024)
#define REPLY_CAP  (4 * 1024 * 1024)
static size_t SHOW_BYTES = 96;

static uint64_t opt_cmds = 40;
static uint64_t opt_capacity = 48;
static uint64_t opt_max_bulk = 4096;
static double opt_timeout = 5.0;
static const char *opt_redis = "redis-server";
static bool opt_dump;

static const struct stress_xopt xopts[] = {
    {"cmds", STRESS_XOPT_U64, &opt_cmds, 1, MAX_ITEMS - 1,
     "largest number of commands per round's stream (default 40)", NULL},
    {"capacity", STRESS_XOPT_U64, &opt_capacity, 8, 4096,
     "ipcstorm's counter table capacity, small so that 'table full' happens (default 48)", NULL},
    {"max-bulk", STRESS_XOPT_U64, &opt_max_bulk, 1024, 1 << 20,
     "ipcstorm's --max-bulk, small so that 'bulk too large' happens (default 4096)", NULL},
    {"reply-timeout", STRESS_XOPT_SECONDS, &opt_timeout, 0, 0,
     "seconds to wait for a round's replies (default 5)", NULL},
    {"redis-server", STRESS_XOPT_STR, &opt_redis, 0, 0,
     "the redis-server program (default: redis-server on PATH)", NULL},
    {"dump", STRESS_XOPT_FLAG, &opt_dump, 0, 0,
     "print every round's stream and both servers' replies on stderr (debugging)", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct stress_fault faults[] = {
    {"flip-reply", "the driver flips one byte of ipcstorm's first reply of each round"},
    {NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "diff",
    .examples =
        "  ipcstorm stress diff --duration 30 --cmds 80   # needs redis-server (scripts/deps)\n",
    .summary =
        "ipcstorm serve and a real redis-server (scripts/deps installs it) get the same random\n"
        "command streams (valid, boundary values, malformed, pipelined, split at random\n"
        "bytes); their replies must be byte-identical except where docs/design.md section 4\n"
        "lists a deliberate difference, which is then checked against the design table.",
    .invariants =
        "  reply-equal       ipcstorm's reply == Redis's reply, byte for byte, in order\n"
        "  close-equal       after a protocol error or QUIT both close, nothing more sent\n"
        "  difference-reply  where a design-table difference applies, ipcstorm answers what\n"
        "                    the table says (diverged keys: what the counter model says)\n"
        "  cleanup-empty     after deleting a round's keys both servers report DBSIZE 0\n"
        "  udp-equal         a stateless request sent to ipcstorm over UDP gets Redis's TCP\n"
        "                    reply as one datagram\n"
        "  sock-api          listen/accept/datagram/address/unlink results match\n"
        "                    getsockname/getpeername, inet_ntop, stat and the payloads sent\n"
        "  server-graceful   describe names the bound sockets; both servers exit 0 on SIGTERM",
    .default_procs = 1,
    .max_procs = 1,
    .xopts = xopts,
    .faults = faults,
};

/* ---- escaping for reports ---------------------------------------------------------- */
static const char *show(const uint8_t *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        if (i == SHOW_BYTES) {
            o += (size_t)snprintf(out + o, cap - o, "...(%zu bytes)", n);
            break;
        }
        uint8_t c = p[i];
        if (c == '\r')
            o += (size_t)snprintf(out + o, cap - o, "\\r");
        else if (c == '\n')
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (c == '\\' || c == '\'')
            o += (size_t)snprintf(out + o, cap - o, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o < cap ? o : cap - 1] = '\0';
    return out;
}

/* ---- the counter model of ipcstorm's keyspace (one round's keys) ------------------- */
struct key {
    char name[256];
    size_t len;
    bool exists;   /* in ipcstorm */
    int64_t value; /* in ipcstorm */
    bool diverged; /* Redis's value may differ from ipcstorm's */
};

struct model {
    struct key keys[MAX_POOL];
    unsigned nkeys;
    unsigned live; /* keys existing in ipcstorm: the table's count */
    bool keyspace_diverged;
};

/* ---- one command of a stream --------------------------------------------------------- */
#define MAX_ARGS 12
enum cmd_name {
    N_PING,
    N_ECHO,
    N_INCR,
    N_DECR,
    N_INCRBY,
    N_GET,
    N_DEL,
    N_DBSIZE,
    N_QUIT,
    N_UNKNOWN,
    N_ABSENT,
    N_CONFIG,
    N_COMMAND,
    N_INFO,
    N_NONE,
};

struct item {
    size_t off, len;    /* bytes in the round's stream */
    unsigned nreplies;  /* from Redis: 0 (ignored request) or 1 */
    bool terminal;      /* both servers close after the reply */
    enum cmd_name name; /* for well-framed commands */
    int argc;
    const uint8_t *argv[MAX_ARGS];
    size_t arglen[MAX_ARGS];
    int keyidx[MAX_ARGS]; /* model key index of argv[i], -1 */
    /* Filled by the difference rules: */
    int diff;           /* index into differences[], or -1 */
    bool redis_stops;   /* Redis's replies are not compared from here on */
    bool ask_redis_cut; /* expectation: Redis's reply to the line cut at its NUL */
    char expect[256];   /* ipcstorm's answer per the rule ("" = see expect_kind) */
    size_t expect_len;
    char expect_prefix[64]; /* or a prefix it must start with */
    const char *expect_contains;
};

struct round {
    uint8_t *stream;
    size_t len;
    struct item items[MAX_ITEMS];
    unsigned nitems;
    struct model m;
    uint8_t argbuf[STREAM_CAP]; /* argument bytes the items point into */
    size_t argused;
};

/* ---- the design table: one predicate per deliberate difference ------------------------
 * Every rule reads only the command (and the model of ipcstorm's counters for
 * "table full" and "diverged key"); none names a test case. */
struct difference {
    const char *topic; /* the design table's row */
    const char *tag;   /* short name in the result note */
    bool (*applies)(const struct round *r, const struct item *it);
    /* Fills it->expect* (what ipcstorm answers) and marks diverged keys. */
    void (*expect)(struct round *r, struct item *it);
};

static bool arg_is(const struct item *it, int i, const char *lower)
{
    size_t n = strlen(lower);
    if (i >= it->argc || it->arglen[i] != n)
        return false;
    for (size_t k = 0; k < n; k++) {
        uint8_t c = it->argv[i][k];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        if (c != (uint8_t)lower[k])
            return false;
    }
    return true;
}

/* Strict signed 64-bit decimal, from Redis's string2ll contract (written from the
 * spec: no sign but '-', no spaces, no leading zeros, no "-0"). */
static bool parse_ll(const uint8_t *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    size_t i = s[0] == '-';
    if (i == n || s[i] < '1' || s[i] > '9')
        return n == 1 && s[0] == '0' ? (*out = 0, true) : false;
    __int128 v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (s[0] == '-')
        v = -v;
    if (v > INT64_MAX || v < INT64_MIN)
        return false;
    *out = (int64_t)v;
    return true;
}

/* A key command with the right arity (INCRBY: with an integer increment), i.e. one
 * that reaches the keyspace in both servers. */
static bool key_command(const struct item *it)
{
    switch (it->name) {
    case N_INCR:
    case N_DECR:
    case N_GET:
        return it->argc == 2;
    case N_INCRBY: {
        int64_t d;
        return it->argc == 3 && parse_ll(it->argv[2], it->arglen[2], &d);
    }
    case N_DEL:
        return it->argc >= 2;
    default:
        return false;
    }
}

static int nkeys_of(const struct item *it)
{
    return it->name == N_DEL ? it->argc - 1 : 1;
}

static void mark_diverged(struct round *r, const struct item *it)
{
    for (int i = 1; i < it->argc; i++)
        if (it->keyidx[i] >= 0) {
            r->m.keys[it->keyidx[i]].diverged = true;
        }
    r->m.keyspace_diverged = true;
}

static void set_expect(struct item *it, const char *bytes)
{
    it->expect_len = strlen(bytes);
    memcpy(it->expect, bytes, it->expect_len + 1);
}

/* -- row "multibulk count": above ipcstorm's 1,048,576, within Redis 7's INT_MAX -- */
static bool multibulk_count_applies(const struct round *r, const struct item *it)
{
    const uint8_t *p = r->stream + it->off;
    if (it->len < 2 || p[0] != '*' || p[1] < '1' || p[1] > '9')
        return false;
    uint64_t n = 0;
    for (size_t i = 1; i < it->len && p[i] >= '0' && p[i] <= '9' && n <= INT32_MAX; i++)
        n = n * 10 + (uint64_t)(p[i] - '0');
    return n > 1048576 && n <= INT32_MAX;
}
static void multibulk_count_expect(struct round *r, struct item *it)
{
    (void)r;
    set_expect(it, "-ERR Protocol error: invalid multibulk length\r\n");
    it->redis_stops = true; /* Redis waits for the arguments */
    it->terminal = true;
}

/* -- row "NUL in an inline request": Redis 7.0 looks for the newline with strchr, so a
 * NUL before it hides it: Redis waits for more (until "too big inline request");
 * ipcstorm ends the line at the NUL and answers that line. -- */
static bool nul_inline_applies(const struct round *r, const struct item *it)
{
    const uint8_t *p = r->stream + it->off;
    if (it->len == 0 || p[0] == '*')
        return false;
    const uint8_t *nl = memchr(p, '\n', it->len);
    return nl && memchr(p, '\0', (size_t)(nl - p)) != NULL;
}
static void nul_inline_expect(struct round *r, struct item *it)
{
    (void)r;
    it->redis_stops = true;
    it->ask_redis_cut = true; /* the expectation: Redis's reply to the line cut at the NUL */
}

static int odd_bulk(const struct round *r, const struct item *it);

/* -- row "too large request": a multibulk request longer than ipcstorm's input cap
 * (2 x --max-bulk + 64 KiB, ipc_conn_limits.max_request); Redis's is 1 GiB -- */
static bool too_big_applies(const struct round *r, const struct item *it)
{
    return it->len > 0 && r->stream[it->off] == '*' &&
           it->len >= 2 * opt_max_bulk + ((size_t)64 << 10) && odd_bulk(r, it) == 0;
}
static void too_big_expect(struct round *r, struct item *it)
{
    (void)r;
    set_expect(it, "-ERR Protocol error: too big request\r\n");
    it->redis_stops = true;
    it->terminal = true;
}

/* -- row "key length": a key longer than 64 bytes -- */
static bool long_key_applies(const struct round *r, const struct item *it)
{
    (void)r;
    if (!key_command(it))
        return false;
    for (int i = 1; i <= nkeys_of(it); i++)
        if (it->arglen[i] > KEY_LIMIT)
            return true;
    return false;
}
static void long_key_expect(struct round *r, struct item *it)
{
    set_expect(it, "-ERR key too long\r\n");
    mark_diverged(r, it);
}

/* -- rows "CONFIG GET", "COMMAND", "INFO": introspection answered by a stub -- */
static bool introspection_applies(const struct round *r, const struct item *it)
{
    (void)r;
    if (it->name == N_CONFIG)
        return (arg_is(it, 1, "get") && it->argc >= 3) || arg_is(it, 1, "help");
    return it->name == N_COMMAND || it->name == N_INFO;
}
static void introspection_expect(struct round *r, struct item *it)
{
    (void)r;
    char buf[200];
    if (it->name == N_COMMAND)
        set_expect(it, "*0\r\n");
    else if (it->name == N_INFO) {
        snprintf(it->expect_prefix, sizeof(it->expect_prefix), "$");
        it->expect_contains = "redis_version:";
    } else if (arg_is(it, 1, "help")) {
        snprintf(buf, sizeof(buf), "-ERR unknown subcommand '%.*s'. Try CONFIG HELP.\r\n",
                 (int)it->arglen[1], (const char *)it->argv[1]);
        set_expect(it, buf);
    } else if (it->argc > 3) /* one parameter only (Redis 7 takes several) */
        set_expect(it, "-ERR wrong number of arguments for 'config|get' command\r\n");
    else if (arg_is(it, 2, "save")) /* the name in lowercase (Redis: as asked) */
        set_expect(it, "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    else if (arg_is(it, 2, "appendonly"))
        set_expect(it, "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
    else
        set_expect(it, "*0\r\n");
}

/* -- row "persistence, replication, AUTH, SELECT": absent commands -- */
static bool absent_applies(const struct round *r, const struct item *it)
{
    (void)r;
    return it->name == N_ABSENT;
}
static void absent_expect(struct round *r, struct item *it)
{
    snprintf(it->expect_prefix, sizeof(it->expect_prefix), "-ERR unknown command '");
    mark_diverged(r, it); /* SET changes Redis's keyspace */
}

/* Walks the bulks of a multibulk request as the servers read them and returns the
 * first one that is odd: 1 = its two trailer bytes are not CRLF, 2 = its declared
 * length is above ipcstorm's --max-bulk; 0 when none is. */
static int odd_bulk(const struct round *r, const struct item *it)
{
    const uint8_t *p = r->stream + it->off, *end = p + it->len;
    if (it->len == 0 || p[0] != '*')
        return 0;
    const uint8_t *nl = memchr(p, '\n', it->len);
    while (nl && nl + 1 < end && nl[1] == '$') {
        const uint8_t *q = nl + 2;
        uint64_t bl = 0;
        size_t digits = 0;
        for (; q < end && *q >= '0' && *q <= '9' && digits < 19; q++, digits++)
            bl = bl * 10 + (uint64_t)(*q - '0');
        if (digits == 0 || q + 2 > end || q[0] != '\r' || q[1] != '\n')
            return 0;
        if (bl > opt_max_bulk)
            return 2;
        const uint8_t *data = q + 2;
        if ((uint64_t)(end - data) < bl + 2)
            return 0;
        if (data[bl] != '\r' || data[bl + 1] != '\n')
            return 1;
        nl = data + bl + 1;
    }
    return 0;
}

/* -- row "bulk trailer": the two bytes after a bulk are not CRLF -- */
static bool trailer_applies(const struct round *r, const struct item *it)
{
    return odd_bulk(r, it) == 1;
}
/* Both rows: the protocol error, then the connection ends; Redis may already have
 * run the mangled command, so the key spaces may differ from here on. */
static void bad_bulk_expect(struct round *r, struct item *it)
{
    set_expect(it, "-ERR Protocol error: invalid bulk length\r\n");
    it->redis_stops = true;
    it->terminal = true;
    r->m.keyspace_diverged = true;
}

/* -- row "bulk length": a bulk above ipcstorm's --max-bulk (Redis: 512 MiB) -- */
static bool bulk_limit_applies(const struct round *r, const struct item *it)
{
    return odd_bulk(r, it) == 2;
}

/* -- row "keyspace": a new key when the table is full -- */
static bool table_full_applies(const struct round *r, const struct item *it)
{
    if (!key_command(it) || it->name == N_GET || it->name == N_DEL)
        return false;
    const struct key *k = &r->m.keys[it->keyidx[1]];
    return !k->exists && r->m.live >= opt_capacity;
}
static void table_full_expect(struct round *r, struct item *it)
{
    set_expect(it, "-ERR counter table full\r\n");
    mark_diverged(r, it);
}

/* -- consequence of the rows above: a key (or DBSIZE) whose Redis state diverged is
 * checked against the model of ipcstorm's counters instead of against Redis. -- */
static bool diverged_applies(const struct round *r, const struct item *it)
{
    if (it->name == N_DBSIZE && it->argc == 1)
        return r->m.keyspace_diverged;
    if (!key_command(it))
        return false;
    for (int i = 1; i <= nkeys_of(it); i++)
        if (r->m.keys[it->keyidx[i]].diverged)
            return true;
    return false;
}
static void diverged_expect(struct round *r, struct item *it)
{
    (void)r;
    (void)it; /* the model's reply is filled in by apply_model */
}

static const struct difference differences[] = {
    {"multibulk count", "mb-count", multibulk_count_applies, multibulk_count_expect},
    {"NUL in an inline request", "nul-inline", nul_inline_applies, nul_inline_expect},
    {"bulk trailer", "trailer", trailer_applies, bad_bulk_expect},
    {"too large request", "too-big", too_big_applies, too_big_expect},
    {"bulk length", "bulk-len", bulk_limit_applies, bad_bulk_expect},
    {"key length", "key-len", long_key_applies, long_key_expect},
    {"keyspace (table full)", "table-full", table_full_applies, table_full_expect},
    {"CONFIG GET / COMMAND / INFO", "stubs", introspection_applies, introspection_expect},
    {"persistence, replication, AUTH, SELECT", "absent", absent_applies, absent_expect},
    {"diverged key (consequence)", "diverged", diverged_applies, diverged_expect},
};
#define DIFF_DIVERGED ((int)(sizeof(differences) / sizeof(differences[0])) - 1)
static uint64_t diff_hits[sizeof(differences) / sizeof(differences[0])];

/* Applies a key command to the model of ipcstorm's counters; for a command under
 * the "diverged" rule, also writes the reply the model predicts. */
static void apply_model(struct round *r, struct item *it, bool predict)
{
    char buf[64];
    if (it->name == N_DBSIZE && it->argc == 1) {
        if (predict) {
            snprintf(buf, sizeof(buf), ":%u\r\n", r->m.live);
            set_expect(it, buf);
        }
        return;
    }
    if (!key_command(it) || (it->diff >= 0 && differences[it->diff].applies == long_key_applies))
        return;
    if (it->name == N_DEL) {
        unsigned removed = 0;
        for (int i = 1; i < it->argc; i++) {
            struct key *k = &r->m.keys[it->keyidx[i]];
            if (k->exists) {
                k->exists = false;
                removed++;
                r->m.live--;
            }
        }
        snprintf(buf, sizeof(buf), ":%u\r\n", removed);
    } else if (it->name == N_GET) {
        const struct key *k = &r->m.keys[it->keyidx[1]];
        if (!k->exists)
            snprintf(buf, sizeof(buf), "$-1\r\n");
        else {
            char v[32];
            int n = snprintf(v, sizeof(v), "%" PRId64, k->value);
            snprintf(buf, sizeof(buf), "$%d\r\n%s\r\n", n, v);
        }
    } else {
        int64_t d = it->name == N_INCR ? 1 : it->name == N_DECR ? -1 : 0;
        if (it->name == N_INCRBY)
            parse_ll(it->argv[2], it->arglen[2], &d);
        struct key *k = &r->m.keys[it->keyidx[1]];
        int64_t v = k->exists ? k->value : 0;
        if (!k->exists && r->m.live >= opt_capacity) {
            snprintf(buf, sizeof(buf), "-ERR counter table full\r\n");
        } else if ((d > 0 && v > INT64_MAX - d) || (d < 0 && v < INT64_MIN - d)) {
            snprintf(buf, sizeof(buf), "-ERR increment or decrement would overflow\r\n");
        } else {
            if (!k->exists) {
                k->exists = true;
                r->m.live++;
            }
            k->value = v + d;
            snprintf(buf, sizeof(buf), ":%" PRId64 "\r\n", k->value);
        }
    }
    if (predict)
        set_expect(it, buf);
}

/* ---- stream generation --------------------------------------------------------------- */
static const char *const numbers[] = {
    "0",
    "1",
    "-1",
    "2",
    "-2",
    "10",
    "100",
    "-100",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775806",
    "-9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "99999999999999999999",
    "abc",
    "+5",
    " 5",
    "5 ",
    "05",
    "-0",
    "",
    "1.5",
    "0x10",
    "-",
    "1e3",
    "00",
    "4611686018427387904",
    "-4611686018427387904",
};

static uint8_t *arg_store(struct round *r, const void *p, size_t n)
{
    if (r->argused + n > sizeof(r->argbuf))
        return NULL;
    uint8_t *d = r->argbuf + r->argused;
    memcpy(d, p, n);
    r->argused += n;
    return d;
}

static void add_arg(struct round *r, struct item *it, const void *p, size_t n, int keyidx)
{
    if (it->argc >= MAX_ARGS)
        return;
    const uint8_t *d = arg_store(r, p, n);
    if (!d)
        return;
    it->argv[it->argc] = d;
    it->arglen[it->argc] = n;
    it->keyidx[it->argc] = keyidx;
    it->argc++;
}

static void add_str(struct round *r, struct item *it, const char *s)
{
    add_arg(r, it, s, strlen(s), -1);
}

/* The command name in random case: Redis matches names case-insensitively. */
static void add_name(struct round *r, struct item *it, struct stress_rng *rng, const char *s)
{
    char n[32];
    size_t len = strlen(s);
    for (size_t i = 0; i <= len && i < sizeof(n); i++)
        n[i] =
            (char)(stress_rng_below(rng, 4) == 0 && s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    add_str(r, it, n);
}

static void add_key(struct round *r, struct item *it, struct stress_rng *rng)
{
    unsigned k = (unsigned)stress_rng_below(rng, r->m.nkeys);
    add_arg(r, it, r->m.keys[k].name, r->m.keys[k].len, (int)k);
}

static void random_payload(struct stress_rng *rng, uint8_t *p, size_t n, bool binary)
{
    static const char printable[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                    "-_:.,;!?*$@#%&()[]{}<>=+/|~^'\"\\ ";
    for (size_t i = 0; i < n; i++)
        p[i] = binary ? (uint8_t)stress_rng_below(rng, 256)
                      : (uint8_t)printable[stress_rng_below(rng, sizeof(printable) - 1)];
}

/* Builds one command's arguments (no bytes yet). */
static void gen_command(struct round *r, struct item *it, struct stress_rng *rng,
                        bool allow_terminal)
{
    uint8_t pay[512];
    uint64_t pick = stress_rng_below(rng, allow_terminal ? 100 : 96);
    it->argc = 0;
    if (pick < 8) {
        it->name = N_PING;
        add_name(r, it, rng, "PING");
        unsigned extra =
            (unsigned)stress_rng_below(rng, 10) == 0 ? 2 : (unsigned)stress_rng_below(rng, 2);
        for (unsigned i = 0; i < extra; i++) {
            size_t n = (size_t)stress_rng_below(rng, 40);
            random_payload(rng, pay, n, stress_rng_below(rng, 3) == 0);
            add_arg(r, it, pay, n, -1);
        }
    } else if (pick < 16) {
        it->name = N_ECHO;
        add_name(r, it, rng, "ECHO");
        unsigned n_args =
            stress_rng_below(rng, 12) == 0 ? (unsigned)stress_rng_below(rng, 3) * 2 : 1;
        for (unsigned i = 0; i < n_args; i++) {
            size_t n = (size_t)stress_rng_below(rng, stress_rng_below(rng, 8) ? 40 : sizeof(pay));
            random_payload(rng, pay, n, stress_rng_below(rng, 3) == 0);
            add_arg(r, it, pay, n, -1);
        }
    } else if (pick < 56) {
        static const char *const names[] = {"INCR", "DECR", "INCRBY", "INCRBY", "INCRBY"};
        unsigned w = (unsigned)stress_rng_below(rng, 5);
        it->name = w == 0 ? N_INCR : w == 1 ? N_DECR : N_INCRBY;
        add_name(r, it, rng, names[w]);
        bool bad_arity = stress_rng_below(rng, 15) == 0;
        if (!bad_arity || stress_rng_below(rng, 2))
            add_key(r, it, rng);
        if (it->name == N_INCRBY && !bad_arity) {
            if (stress_rng_below(rng, 3)) {
                const char *n =
                    numbers[stress_rng_below(rng, sizeof(numbers) / sizeof(numbers[0]))];
                add_str(r, it, n);
            } else {
                char n[32];
                snprintf(n, sizeof(n), "%" PRId64, (int64_t)stress_rng_range(rng, 0, 2000) - 1000);
                add_str(r, it, n);
            }
        } else if (bad_arity && it->argc == 2 && it->name != N_INCRBY)
            add_str(r, it, "1");
    } else if (pick < 70) {
        it->name = N_GET;
        add_name(r, it, rng, "GET");
        if (stress_rng_below(rng, 20))
            add_key(r, it, rng);
    } else if (pick < 78) {
        it->name = N_DEL;
        add_name(r, it, rng, "DEL");
        unsigned n = (unsigned)stress_rng_below(rng, 6);
        for (unsigned i = 0; i < n; i++)
            add_key(r, it, rng);
    } else if (pick < 83) {
        it->name = N_DBSIZE;
        add_name(r, it, rng, "DBSIZE");
        if (stress_rng_below(rng, 10) == 0)
            add_str(r, it, "x");
    } else if (pick < 89) {
        it->name = N_UNKNOWN;
        static const char *const unknown[] = {"XYZZY", "NOSUCHCMD", "PINGX",  "INC",
                                              "GETT",  "E",         "DELETE", "INCRBYFLOATX"};
        add_name(r, it, rng, unknown[stress_rng_below(rng, sizeof(unknown) / sizeof(unknown[0]))]);
        unsigned n = (unsigned)stress_rng_below(rng, 5);
        for (unsigned i = 0; i < n; i++) {
            size_t len = (size_t)stress_rng_below(rng, stress_rng_below(rng, 4) ? 20 : 200);
            /* Binary arguments too: Redis echoes them in the error text (CR/LF
             * mapped to spaces, cut at a NUL by %.*s). */
            random_payload(rng, pay, len, stress_rng_below(rng, 4) == 0);
            if (len > 2 && stress_rng_below(rng, 4) == 0)
                memcpy(pay + stress_rng_below(rng, len - 1), "\r\n", 2);
            add_arg(r, it, pay, len, -1);
        }
    } else if (pick < 92) {
        it->name = N_ABSENT;
        if (stress_rng_below(rng, 2)) {
            add_name(r, it, rng, "SET");
            add_key(r, it, rng);
            add_str(r, it, stress_rng_below(rng, 2) ? "7" : "seven");
        } else {
            add_name(r, it, rng, "AUTH");
            add_str(r, it, "secret");
        }
    } else if (pick < 96) {
        unsigned w = (unsigned)stress_rng_below(rng, 10);
        if (w < 6) {
            it->name = N_CONFIG;
            add_name(r, it, rng, "CONFIG");
            /* GET with 0, 1 or 2 parameters, HELP, or a subcommand nobody has (never
             * one that changes Redis, like SET). */
            uint64_t sub = stress_rng_below(rng, 8);
            add_name(r, it, rng, sub < 6 ? "GET" : sub == 6 ? "HELP" : "NOSUCHSUB");
            static const char *const params[] = {"SAVE", "APPENDONLY", "MAXMEMORY"};
            unsigned np =
                sub < 6 ? (unsigned)(stress_rng_below(rng, 6) == 0 ? stress_rng_below(rng, 3) : 1)
                        : 0;
            for (unsigned k = 0; k < np; k++)
                add_name(r, it, rng, params[stress_rng_below(rng, 3)]);
        } else if (w < 8) {
            it->name = N_INFO;
            add_name(r, it, rng, "INFO");
        } else {
            it->name = N_COMMAND;
            add_name(r, it, rng, "COMMAND");
            add_name(r, it, rng, "COUNT");
        }
    } else {
        it->name = N_QUIT;
        add_name(r, it, rng, "QUIT");
        it->terminal = true;
    }
}

static bool out_add(struct round *r, const void *p, size_t n)
{
    if (r->len + n > STREAM_CAP)
        return false;
    memcpy(r->stream + r->len, p, n);
    r->len += n;
    return true;
}

static bool out_fmt(struct round *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool out_fmt(struct round *r, const char *fmt, ...)
{
    char b[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof(b), fmt, ap);
    va_end(ap);
    return n > 0 && out_add(r, b, (size_t)n);
}

static bool inline_plain(const uint8_t *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == '"' || p[i] == '\'' || p[i] == '\\')
            return false;
    return true;
}

/* Encodes the item's arguments: multibulk, or inline (plain, double-quoted with
 * escapes, single-quoted) when the arguments allow it. */
static void encode(struct round *r, struct item *it, struct stress_rng *rng)
{
    it->off = r->len;
    bool can_inline = true;
    for (int i = 0; i < it->argc; i++)
        if (memchr(it->argv[i], '\0', it->arglen[i]) || it->arglen[i] > 300)
            can_inline = false; /* sdssplitargs works on a C string */
    if (!can_inline || stress_rng_below(rng, 3)) {
        out_fmt(r, "*%d\r\n", it->argc);
        for (int i = 0; i < it->argc; i++) {
            out_fmt(r, "$%zu\r\n", it->arglen[i]);
            out_add(r, it->argv[i], it->arglen[i]);
            out_add(r, "\r\n", 2);
        }
    } else {
        for (int i = 0; i < it->argc; i++) {
            if (i) {
                const char *sep = stress_rng_below(rng, 4) ? " " : " \t ";
                out_add(r, sep, strlen(sep));
            }
            const uint8_t *a = it->argv[i];
            size_t n = it->arglen[i];
            bool single_ok = !memchr(a, '\'', n) && !memchr(a, '\\', n) && !memchr(a, '\n', n) &&
                             !memchr(a, '\r', n);
            if (inline_plain(a, n) && stress_rng_below(rng, 3))
                out_add(r, a, n);
            else if (single_ok && stress_rng_below(rng, 2)) {
                out_add(r, "'", 1);
                out_add(r, a, n);
                out_add(r, "'", 1);
            } else {
                out_add(r, "\"", 1);
                for (size_t k = 0; k < n; k++) {
                    uint8_t c = a[k];
                    if (c == '"' || c == '\\')
                        out_fmt(r, "\\%c", c);
                    else if (c == '\n' && stress_rng_below(rng, 2))
                        out_add(r, "\\n", 2);
                    else if (c < 0x20 || c >= 0x7f || stress_rng_below(rng, 30) == 0)
                        out_fmt(r, "\\x%02x", c);
                    else
                        out_add(r, &c, 1);
                }
                out_add(r, "\"", 1);
            }
        }
        const char *eol = stress_rng_below(rng, 8) ? "\r\n" : "\n";
        out_add(r, eol, strlen(eol));
    }
    it->len = r->len - it->off;
}

/* A malformed or edge-of-protocol request as raw bytes: one both servers ignore
 * (no reply), one they answer, or (last in the stream only) one that closes. */
static void gen_raw(struct round *r, struct item *it, struct stress_rng *rng, bool allow_terminal)
{
    static const char *const terminal[] = {
        "*abc\r\n",
        "*2\r\nX\r\n",
        "*2\r\n$4\r\nECHO\r\n:5\r\n",
        "*1\r\n$-3\r\n",
        "*1\r\n$abc\r\n",
        "*1\r\n$+4\r\nPING\r\n",
        "*1\r\n$ 4\r\nPING\r\n",
        "*01\r\n$4\r\nPING\r\n",
        "*1\r\n$04\r\nPING\r\n",
        "*3000000\r\n",
        "*1048577\r\n",
        "*2147483647\r\n",
        "*2147483648\r\n",
        "*+1\r\n$4\r\nPING\r\n",
        "*1x\r\n",
        "ECHO \"abc\r\n",
        "ECHO 'abc\r\n",
        "ECHO \"a\"b\r\n",
        "ECHO 'a'b\r\n",
        "ECHO \"a\\\"\r\n",
        "*2\r\n$4\r\nECHO\r\n$3\r\nabcXY",
        "*2\r\n$4\r\nECHOxy$1\r\na\r\n",
        "*2\r\n$4\r\nECHO\r\n$5000\r\n<bulk>",
        "ECHO <line>",
        "*20\r\n$4\r\nECHO\r\n<many>",
        "*2\r\n$4\r\nECHO\r\n$99999999999\r\n",
        "*2\r\n$4\r\nECHO\r\n$536870913\r\n",
        "*1\r\n$-1\r\n",
    };
    static const char *const silent[] = {
        "*0\r\n", "*-1\r\n", "*-5\r\n", "\r\n", "   \r\n", "\n", " \t \r\n",
    };
    static const char *const framed[] = {
        "ECHO \"\\x41\\x4a\\x4\"\r\n",
        "ECHO \"a\\tb\\\\c\\qd\"\r\n",
        "ECHO 'it\\'s'\r\n",
        "ECHO 'a\\nb'\r\n",
        "ECHO \"\"\r\n",
        "ECHO ''\r\n",
        "ECHO x\"y\"\r\n",
        "PING\n",
        "   PING   \r\n",
        "*1\r\n$4\r\nPING\r\n",
        "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
        "*1\r\n$0\r\n\r\n",
        "*2\r\n$0\r\n\r\n$0\r\n\r\n",
        "ECHO a\001b\r\n",
        "ECHO ab|cd\r\n",
        "PING|garbage\r\n",
    };
    uint64_t w = stress_rng_below(rng, allow_terminal ? 10 : 7);
    const char *s;
    it->name = N_NONE;
    it->off = r->len;
    if (w < 3) {
        s = silent[stress_rng_below(rng, sizeof(silent) / sizeof(silent[0]))];
        it->nreplies = 0;
    } else if (w < 7) {
        s = framed[stress_rng_below(rng, sizeof(framed) / sizeof(framed[0]))];
        it->nreplies = 1;
    } else {
        s = terminal[stress_rng_below(rng, sizeof(terminal) / sizeof(terminal[0]))];
        it->nreplies = 1;
        it->terminal = true;
    }
    out_add(r, s, strlen(s));
    /* Markers in the table: '|' stands for a NUL byte (an inline line is a C string
     * to Redis: the NUL ends it); "<bulk>" for a 5000-byte payload with its CRLF;
     * "<line>" for 100000 bytes without a newline (Redis: too big inline request). */
    for (size_t i = it->off; i < r->len; i++)
        if (r->stream[i] == '|')
            r->stream[i] = '\0';
    if (strstr(s, "<many>")) { /* 19 bulks of 4000 bytes: a long request */
        r->len -= 6;
        for (int b = 0; b < 19; b++) {
            out_fmt(r, "$4000\r\n");
            for (int i = 0; i < 4000; i++)
                out_add(r, "m", 1);
            out_add(r, "\r\n", 2);
        }
    }
    if (strstr(s, "<bulk>") || strstr(s, "<line>")) {
        bool line = strstr(s, "<line>") != NULL;
        r->len -= 6;
        for (int i = 0; i < (line ? 100000 : 5000); i++)
            out_add(r, i % 2 ? "b" : "a", 1);
        if (!line)
            out_add(r, "\r\n", 2);
    }
    it->len = r->len - it->off;
}

static void gen_keys(struct round *r, struct stress_rng *rng, unsigned round)
{
    /* Mostly a few keys (INCR sequences on them reach the boundary values); some
     * rounds have more keys than ipcstorm's table holds. */
    unsigned n = stress_rng_below(rng, 4) ? (unsigned)stress_rng_range(rng, 1, 6)
                                          : (unsigned)stress_rng_range(rng, 1, MAX_POOL);
    r->m.nkeys = n;
    for (unsigned i = 0; i < n; i++) {
        struct key *k = &r->m.keys[i];
        memset(k, 0, sizeof(*k));
        int p = snprintf(k->name, sizeof(k->name), "d%u:%u:", round, i);
        uint64_t lw = stress_rng_below(rng, 10);
        size_t len = lw == 0   ? KEY_LIMIT
                     : lw == 1 ? (size_t)stress_rng_range(rng, KEY_LIMIT + 1, 200)
                               : (size_t)stress_rng_range(rng, (uint64_t)p, 40);
        random_payload(rng, (uint8_t *)k->name + p, len - (size_t)p, stress_rng_below(rng, 8) == 0);
        for (size_t c = (size_t)p; c < len; c++)
            if (k->name[c] == '\0')
                k->name[c] = '0'; /* keep inline encodable most of the time */
        k->len = len;
    }
}

/* Classifies one item by the difference rules, then updates the model. */
static void classify(struct round *r, struct item *it)
{
    it->diff = -1;
    for (int d = 0; d < (int)(sizeof(differences) / sizeof(differences[0])); d++)
        if (differences[d].applies(r, it)) {
            it->diff = d;
            diff_hits[d]++;
            differences[d].expect(r, it);
            break;
        }
    apply_model(r, it, it->diff == DIFF_DIVERGED);
}

static void gen_round(struct round *r, struct stress_rng *rng, unsigned round)
{
    memset(r->items, 0, sizeof(r->items));
    r->len = 0;
    r->argused = 0;
    r->nitems = 0;
    memset(&r->m, 0, sizeof(r->m));
    gen_keys(r, rng, round);
    unsigned n = (unsigned)stress_rng_range(rng, 1, opt_cmds);
    /* Fill phase (some rounds with many keys): one INCR per key first, so the
     * table-full difference is reached. */
    unsigned fill = r->m.nkeys > 8 && stress_rng_below(rng, 2) ? r->m.nkeys : 0;
    if (n + fill > MAX_ITEMS - 1)
        n = MAX_ITEMS - 1 - fill;
    for (unsigned i = 0; i < fill; i++) {
        struct item *it = &r->items[r->nitems++];
        for (int a = 0; a < MAX_ARGS; a++)
            it->keyidx[a] = -1;
        it->nreplies = 1;
        it->name = N_INCR;
        add_name(r, it, rng, "INCR");
        add_arg(r, it, r->m.keys[i].name, r->m.keys[i].len, (int)i);
        encode(r, it, rng);
        classify(r, it);
    }
    for (unsigned i = 0; i < n; i++) {
        struct item *it = &r->items[r->nitems++];
        for (int a = 0; a < MAX_ARGS; a++)
            it->keyidx[a] = -1;
        it->nreplies = 1;
        bool last = i + 1 == n; /* only the last request may close the connection */
        if (stress_rng_below(rng, last ? 3 : 8) == 0)
            gen_raw(r, it, rng, last);
        else {
            gen_command(r, it, rng, last);
            encode(r, it, rng);
        }
        classify(r, it);
        if (it->terminal)
            break;
    }
}

/* ---- a peer connection: send the stream, collect the replies ------------------------ */
struct peer {
    const char *name;
    int fd;
    uint8_t *buf;
    size_t have;
    bool eof;
    bool send_done;
    bool check_extra; /* every expected reply matched: anything more is a violation */
    int err;
    size_t replies_end[MAX_ITEMS + 1]; /* end offset of each complete reply */
    unsigned nreplies;
};

/* Length of the complete RESP2 reply at p[0, n): > 0, 0 when incomplete, -1 when
 * malformed. Written from the RESP2 spec (simple, error, integer, bulk, array). */
static long reply_len(const uint8_t *p, size_t n, int depth)
{
    if (n == 0)
        return 0;
    const uint8_t *nl = memchr(p, '\n', n);
    if (!nl)
        return 0;
    size_t line = (size_t)(nl - p) + 1;
    if (line < 3 || nl[-1] != '\r')
        return -1;
    if (p[0] == '+' || p[0] == '-' || p[0] == ':')
        return (long)line;
    if (p[0] != '$' && p[0] != '*')
        return -1;
    char *e;
    long long v = strtoll((const char *)p + 1, &e, 10);
    if ((const uint8_t *)e != nl - 1 || v < -1)
        return -1;
    if (p[0] == '$') {
        if (v < 0)
            return (long)line;
        if (line + (size_t)v + 2 > n)
            return 0;
        return p[line + (size_t)v] == '\r' && p[line + (size_t)v + 1] == '\n'
                   ? (long)(line + (size_t)v + 2)
                   : -1;
    }
    if (depth > 8)
        return -1;
    size_t off = line;
    for (long long i = 0; i < v; i++) {
        long l = reply_len(p + off, n - off, depth + 1);
        if (l <= 0)
            return l;
        off += (size_t)l;
    }
    return (long)off;
}

static void peer_scan(struct peer *pe)
{
    size_t off = pe->nreplies ? pe->replies_end[pe->nreplies - 1] : 0;
    while (pe->nreplies < MAX_ITEMS) {
        long l = reply_len(pe->buf + off, pe->have - off, 0);
        if (l <= 0)
            break;
        off += (size_t)l;
        pe->replies_end[pe->nreplies++] = off;
    }
}

/* Reads what is available (waiting at most wait_ms). */
static void peer_read(struct stress *s, struct peer *pe, int wait_ms)
{
    if (pe->fd < 0 || pe->eof || pe->err)
        return;
    struct pollfd p = {.fd = pe->fd, .events = POLLIN};
    int r = poll(&p, 1, wait_ms);
    if (r <= 0)
        return;
    if (pe->have == REPLY_CAP) {
        pe->err = -ENOBUFS;
        return;
    }
    ssize_t n = ipc_sock_recv(pe->fd, pe->buf + pe->have, REPLY_CAP - pe->have);
    if (n > 0) {
        pe->have += (size_t)n;
        peer_scan(pe);
    } else if (n == 0)
        pe->eof = true;
    else if (n == -ECONNRESET && !stress_faults_on(s))
        pe->eof = true; /* a close with our bytes unread: the replies came before it */
    else if (n != -EAGAIN) {
        if (stress_faults_on(s))
            stress_lib_error(s, (int)n, "ipc_sock_recv");
        pe->err = (int)n;
    }
}

static void peer_send(struct stress *s, struct peer *pe, const uint8_t *p, size_t n)
{
    if (pe->fd < 0 || pe->send_done || n == 0)
        return;
    ssize_t w = ipc_sock_send_all(pe->fd, p, n);
    if ((w == -EPIPE || w == -ECONNRESET) && !stress_faults_on(s))
        pe->send_done = true; /* the server closed after a protocol error */
    else if (w != (ssize_t)n) {
        /* Under --faults an injected EPIPE looks like a close: the round is lost. */
        if (stress_faults_on(s))
            stress_lib_error(s, (int)w, "ipc_sock_send_all");
        pe->err = w < 0 ? (int)w : -EIO;
        pe->send_done = true;
    }
}

static struct stress_rng g_rng;

static int connect_peer(struct stress *s, const struct ipc_sock_addr *a)
{
    int fd = stress_sock_connect(a);
    if (fd < 0 && stress_faults_on(s))
        stress_lib_error(s, fd, "ipc_sock_connect");
    return fd;
}

/* ---- comparison --------------------------------------------------------------------- */
struct servers {
    struct ipc_sock_addr ipc_tcp, ipc_udp, ipc_unix, redis;
};

static bool reply_at(const struct peer *pe, unsigned i, const uint8_t **p, size_t *n)
{
    if (i >= pe->nreplies)
        return false;
    size_t start = i ? pe->replies_end[i - 1] : 0;
    *p = pe->buf + start;
    *n = pe->replies_end[i] - start;
    return true;
}

static void describe_item(const struct round *r, const struct item *it, char *out, size_t cap)
{
    show(r->stream + it->off, it->len, out, cap);
}

static bool expect_ok(const struct item *it, const uint8_t *p, size_t n)
{
    if (it->expect_len)
        return n == it->expect_len && !memcmp(p, it->expect, n);
    size_t pl = strlen(it->expect_prefix);
    if (n < pl || memcmp(p, it->expect_prefix, pl))
        return false;
    if (it->expect_contains) {
        size_t cl = strlen(it->expect_contains);
        for (size_t i = 0; i + cl <= n; i++)
            if (!memcmp(p + i, it->expect_contains, cl))
                return true;
        return false;
    }
    return true;
}

/* Sends the item's line cut at its first NUL (plus CRLF) to Redis on a fresh
 * connection and makes Redis's one reply the item's expectation. */
static void ask_redis_cut(struct stress *s, struct round *r, struct item *it,
                          const struct ipc_sock_addr *redis_addr)
{
    const uint8_t *p = r->stream + it->off;
    size_t cut = (size_t)((const uint8_t *)memchr(p, '\0', it->len) - p);
    uint8_t req[512];
    uint8_t reply[sizeof(it->expect)];
    size_t have = 0;
    long len = 0;
    set_expect(it, "(Redis did not answer the cut line)");
    if (cut + 2 > sizeof(req))
        return;
    memcpy(req, p, cut);
    memcpy(req + cut, "\r\n", 2);
    stress_faults_pause(s);
    int fd = ipc_sock_connect(redis_addr, SOCK_STREAM, 5000, 0);
    if (fd >= 0 && ipc_sock_send_all(fd, req, cut + 2) == (ssize_t)(cut + 2)) {
        double deadline = stress_now() + opt_timeout;
        while (stress_now() < deadline && have < sizeof(reply) &&
               (len = reply_len(reply, have, 0)) == 0) {
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            if (poll(&pf, 1, 50) <= 0)
                continue;
            ssize_t n = ipc_sock_recv(fd, reply + have, sizeof(reply) - have);
            if (n <= 0)
                break;
            have += (size_t)n;
        }
    }
    if (fd >= 0)
        close(fd);
    stress_faults_resume(s);
    if (len > 0 && (size_t)len < sizeof(it->expect)) {
        memcpy(it->expect, reply, (size_t)len);
        it->expect_len = (size_t)len;
    }
}

/* UDP: one request per datagram, one reply datagram (docs/design.md section 4).
 * A stateless request whose TCP replies matched is sent to ipcstorm's UDP port;
 * the reply datagram must be Redis's TCP reply, byte for byte. */
static bool udp_eligible(const struct item *it)
{
    return it->diff < 0 && it->len <= 1400 &&
           (it->name == N_PING || it->name == N_ECHO || it->name == N_UNKNOWN);
}

static void udp_check(struct stress *s, const struct round *r, const struct item *it,
                      const struct ipc_sock_addr *udp, const uint8_t *want, size_t wlen,
                      unsigned round, unsigned idx)
{
    int fd = ipc_sock_dgram_open(AF_INET, 0);
    if (fd < 0) {
        if (stress_faults_on(s))
            stress_lib_error(s, fd, "ipc_sock_dgram_open");
        else
            stress_setup_error(s, "ipc_sock_dgram_open: %s", ipc_strerror(fd));
        return;
    }
    uint8_t got[2048];
    ssize_t n = ipc_sock_sendto(fd, r->stream + it->off, it->len, udp);
    struct ipc_sock_addr from;
    if (n == (ssize_t)it->len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        n = poll(&p, 1, (int)(opt_timeout * 1000)) > 0
                ? ipc_sock_recvfrom(fd, got, sizeof(got), &from)
                : -ETIMEDOUT;
    } else if (n >= 0)
        n = -EIO;
    close(fd);
    if (n < 0 && n != -ETIMEDOUT && stress_faults_on(s)) {
        stress_lib_error(s, (int)n, "udp request");
        return;
    }
    if (n == -ETIMEDOUT && stress_faults_on(s))
        return; /* the request or its reply may have been a faulted call */
    char c1[400], c2[400], c3[400];
    stress_check(s, n == (ssize_t)wlen && !memcmp(got, want, wlen), "udp-equal",
                 "seed %" PRIu64 " round %u cmd #%u %s over UDP: ipcstorm '%s' (%s), redis over "
                 "TCP '%s'",
                 s->seed, round, idx, show(r->stream + it->off, it->len, c1, sizeof(c1)),
                 n >= 0 ? show(got, (size_t)n, c2, sizeof(c2)) : "",
                 n >= 0 ? "ok" : ipc_strerror((int)n), show(want, wlen, c3, sizeof(c3)));
    if (n >= 0)
        stress_check(s, ipc_sock_addr_port(&from) == ipc_sock_addr_port(udp), "sock-api",
                     "the UDP reply came from port %d, the server's is %d",
                     ipc_sock_addr_port(&from), ipc_sock_addr_port(udp));
}

/* Returns true when every reply matched (or matched its rule). */
static bool compare_round(struct stress *s, struct round *r, struct peer *ipc, struct peer *red,
                          const struct servers *sv, unsigned round)
{
    const struct ipc_sock_addr *redis_addr = &sv->redis;
    unsigned udp_left = 4;
    unsigned ri = 0, rr = 0;
    bool redis_on = true;
    char c1[400], c2[400], c3[400];
    for (unsigned i = 0; i < r->nitems; i++) {
        struct item *it = &r->items[i];
        if (it->nreplies == 0)
            continue;
        const uint8_t *ip = NULL, *rp = NULL;
        size_t in = 0, rn = 0;
        bool have_i = reply_at(ipc, ri++, &ip, &in);
        if (it->diff >= 0 && it->diff != DIFF_DIVERGED) {
            if (!it->redis_stops)
                rr++;
            else
                redis_on = false;
        }
        if (it->ask_redis_cut)
            ask_redis_cut(s, r, it, redis_addr);
        if (it->diff >= 0) {
            if (!stress_check(s, have_i && expect_ok(it, ip, in), "difference-reply",
                              "seed %" PRIu64 " round %u cmd #%u %s (rule '%s'): ipcstorm '%s', "
                              "the rule expects '%s%s'",
                              s->seed, round, i, (describe_item(r, it, c1, sizeof(c1)), c1),
                              differences[it->diff].topic,
                              have_i ? show(ip, in, c2, sizeof(c2)) : "(no reply)",
                              it->expect_len ? show((const uint8_t *)it->expect, it->expect_len, c3,
                                                    sizeof(c3))
                                             : it->expect_prefix,
                              it->expect_len ? "" : "...")) {
                return false;
            }
            if (it->diff == DIFF_DIVERGED && redis_on)
                rr++;
            continue;
        }
        if (!redis_on)
            continue; /* ipcstorm's replies are still counted for close-equal */
        bool have_r = reply_at(red, rr++, &rp, &rn);
        bool same = have_i && have_r && in == rn && !memcmp(ip, rp, in);
        if (!have_r && !have_i)
            same = false;
        if (!stress_check(s, same, "reply-equal",
                          "seed %" PRIu64 " round %u cmd #%u %s: ipcstorm '%s', redis '%s'",
                          s->seed, round, i, (describe_item(r, it, c1, sizeof(c1)), c1),
                          have_i ? show(ip, in, c2, sizeof(c2)) : "(no reply)",
                          have_r ? show(rp, rn, c3, sizeof(c3)) : "(no reply)"))
            return false; /* the streams are out of step from here on */
        if (udp_left && udp_eligible(it)) {
            udp_left--;
            udp_check(s, r, it, &sv->ipc_udp, rp, rn, round, i);
        }
    }
    /* After the last reply: a closing request closes both; otherwise nothing more
     * (finish_peer reads what a half-close still brings). */
    const struct item *last = r->nitems ? &r->items[r->nitems - 1] : NULL;
    bool closes = last && last->terminal;
    size_t iend = ri ? ipc->replies_end[ri - 1] : 0;
    bool ok = stress_check(s, ipc->have == iend && ipc->eof == closes, "close-equal",
                           "seed %" PRIu64 " round %u: ipcstorm %s after its last expected reply, "
                           "%zu bytes more: '%s'",
                           s->seed, round, ipc->eof ? "closed" : "stayed open", ipc->have - iend,
                           show(ipc->buf + iend, ipc->have - iend, c1, sizeof(c1)));
    ipc->check_extra = ok && !closes;
    if (redis_on) {
        size_t rend = rr ? red->replies_end[rr - 1] : 0;
        bool rok =
            stress_check(s, red->have == rend && red->eof == closes, "close-equal",
                         "seed %" PRIu64 " round %u: redis %s after its last expected "
                         "reply, %zu bytes more: '%s' (the driver's expectation of Redis "
                         "is wrong)",
                         s->seed, round, red->eof ? "closed" : "stayed open", red->have - rend,
                         show(red->buf + rend, red->have - rend, c1, sizeof(c1)));
        red->check_extra = rok && !closes;
        ok = ok && rok;
    }
    return ok;
}

/* ---- one round ---------------------------------------------------------------------- */

static bool round_done(const struct peer *pe, unsigned want, bool want_eof)
{
    if (pe->fd < 0 || pe->err || pe->eof)
        return true; /* nothing more can come */
    return pe->nreplies >= want && !want_eof;
}

static void run_exchange(struct stress *s, struct round *r, const struct servers *sv,
                         struct peer *ipc, struct peer *red, unsigned round)
{
    ipc->fd = connect_peer(s, round % 3 == 2 ? &sv->ipc_unix : &sv->ipc_tcp);
    red->fd = connect_peer(s, &sv->redis);
    if (ipc->fd < 0 || red->fd < 0) {
        if (!stress_faults_on(s))
            stress_setup_error(s, "connect: %s / %s", ipc_strerror(ipc->fd), ipc_strerror(red->fd));
        return;
    }
    /* Expected replies: up to the first item Redis's comparison stops at. */
    unsigned want_ipc = 0, want_red = 0;
    bool red_counting = true;
    for (unsigned i = 0; i < r->nitems; i++) {
        want_ipc += r->items[i].nreplies;
        if (r->items[i].redis_stops)
            red_counting = false;
        if (red_counting)
            want_red += r->items[i].nreplies;
    }
    bool closes = r->nitems && r->items[r->nitems - 1].terminal;
    /* Write modes: everything at once, one write per command, random slices, bytes. */
    uint64_t mode = stress_rng_below(&g_rng, 4);
    size_t off = 0;
    unsigned next_item = 0;
    while (off < r->len) {
        size_t n;
        if (mode == 0)
            n = r->len - off;
        else if (mode == 1 && next_item < r->nitems) {
            const struct item *it = &r->items[next_item++];
            n = it->off + it->len - off;
        } else if (mode == 1)
            n = r->len - off;
        else if (mode == 2)
            n = (size_t)stress_rng_range(&g_rng, 1, 64);
        else
            n = r->len < 400 ? 1 : (size_t)stress_rng_range(&g_rng, 1, 7);
        if (n > r->len - off)
            n = r->len - off;
        if (n == 0)
            continue;
        peer_send(s, ipc, r->stream + off, n);
        peer_send(s, red, r->stream + off, n);
        off += n;
        /* Take what has arrived so the servers never block on a full socket. */
        peer_read(s, ipc, 0);
        peer_read(s, red, 0);
    }
    double deadline = stress_now() + opt_timeout;
    while (stress_now() < deadline && !(round_done(ipc, want_ipc, closes) &&
                                        round_done(red, want_red, closes && red_counting))) {
        if (!round_done(ipc, want_ipc, closes))
            peer_read(s, ipc, 20);
        if (!round_done(red, want_red, closes && red_counting))
            peer_read(s, red, 20);
    }
    /* A reply nobody expected would arrive now: give both a short moment. */
    if (!closes) {
        peer_read(s, ipc, 5);
        peer_read(s, red, 5);
    }
    if (ipc->err || red->err) {
        if (!stress_faults_on(s))
            stress_setup_error(s, "round %u: socket error %s / %s", round, ipc_strerror(ipc->err),
                               ipc_strerror(red->err));
        return;
    }
    if (stress_fault(s, "flip-reply") && ipc->have)
        ipc->buf[0] ^= 0x20;
    if (opt_dump) {
        SHOW_BYTES = 1500; /* --dump shows long streams (and long violation lines) */
        char b[4000];
        fprintf(stderr,
                "round %u: write mode %d, %u requests, replies expected ipcstorm %u redis %u, "
                "received %u/%u, closed %d/%d\n  sent %s\n",
                round, (int)mode, r->nitems, want_ipc, want_red, ipc->nreplies, red->nreplies,
                ipc->eof, red->eof, show(r->stream, r->len, b, sizeof(b)));
        fprintf(stderr, "  ipcstorm %s\n", show(ipc->buf, ipc->have, b, sizeof(b)));
        fprintf(stderr, "  redis    %s\n", show(red->buf, red->have, b, sizeof(b)));
    }
    compare_round(s, r, ipc, red, sv, round);
}

/* Half-closes and reads to EOF before closing: a server must have run everything
 * it received on this connection (an abandoned round under --faults included)
 * before the cleanup's DELs arrive on another connection. */
static void finish_peer(struct stress *s, struct peer *pe, unsigned round)
{
    if (pe->fd < 0)
        return;
    stress_faults_pause(s);
    shutdown(pe->fd, SHUT_WR);
    double deadline = stress_now() + opt_timeout;
    uint8_t extra[4096];
    size_t nextra = 0;
    while (stress_now() < deadline) {
        struct pollfd p = {.fd = pe->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        uint8_t *dst = nextra < sizeof(extra) ? extra + nextra : extra;
        size_t room = nextra < sizeof(extra) ? sizeof(extra) - nextra : sizeof(extra);
        ssize_t n = ipc_sock_recv(pe->fd, dst, room);
        if (n <= 0 && n != -EAGAIN)
            break;
        if (n > 0 && nextra < sizeof(extra))
            nextra += (size_t)n;
    }
    stress_faults_resume(s);
    if (pe->check_extra) {
        char c[400];
        stress_check(s, nextra == 0, "close-equal",
                     "seed %" PRIu64 " round %u: %s sent %zu bytes after its last expected "
                     "reply: '%s'",
                     s->seed, round, pe->name, nextra, show(extra, nextra, c, sizeof(c)));
    }
    pe->check_extra = false;
    close(pe->fd);
    pe->fd = -1;
}

/* Deletes the round's keys on both servers; then both must hold no key at all. */
static void cleanup_round(struct stress *s, struct round *r, const struct servers *sv,
                          unsigned round)
{
    stress_faults_pause(s); /* bookkeeping that must not fail */
    for (int side = 0; side < 2; side++) {
        const struct ipc_sock_addr *a = side ? &sv->redis : &sv->ipc_tcp;
        struct peer pe = {.name = side ? "redis" : "ipcstorm", .buf = malloc(65536)};
        uint8_t *req = malloc(STREAM_CAP);
        pe.fd = pe.buf && req ? ipc_sock_connect(a, SOCK_STREAM, 5000, 0) : -ENOMEM;
        if (pe.fd < 0) {
            stress_setup_error(s, "cleanup connect to %s: %s", pe.name, ipc_strerror(pe.fd));
            free(pe.buf);
            free(req);
            break;
        }
        size_t len = 0;
        unsigned dels = 0;
        for (unsigned k = 0; k < r->m.nkeys; k++) {
            const struct key *key = &r->m.keys[k];
            if (!side && key->len > KEY_LIMIT)
                continue; /* ipcstorm never stored it (and refuses the name) */
            if (len + key->len + 64 > STREAM_CAP)
                break; /* cannot happen with the generator's key counts; DBSIZE will say */
            len += (size_t)snprintf((char *)req + len, STREAM_CAP - len,
                                    "*2\r\n$3\r\nDEL\r\n$%zu\r\n", key->len);
            memcpy(req + len, key->name, key->len);
            len += key->len;
            memcpy(req + len, "\r\n", 2);
            len += 2;
            dels++;
        }
        len += (size_t)snprintf((char *)req + len, STREAM_CAP - len, "*1\r\n$6\r\nDBSIZE\r\n");
        peer_send(s, &pe, req, len);
        /* Blocking reads until DBSIZE's reply: the reader fills pe.buf and never
         * consumes (pos stays 0), so peer_scan's offsets stay valid. EOF, an error,
         * the deadline or a full buffer (the replies of a cleanup are short: a bug)
         * end it, and the DBSIZE check below says what is missing. */
        struct sock_reader rd;
        sock_reader_init(&rd, pe.buf, 65536);
        rd.fd = pe.fd;
        rd.deadline = stress_now() + opt_timeout;
        while (pe.nreplies < dels + 1 && !pe.eof && !pe.err && sock_reader_fill(&rd) > 0) {
            pe.have = rd.have;
            peer_scan(&pe);
        }
        const uint8_t *p;
        size_t n;
        char c[200];
        bool got = reply_at(&pe, dels, &p, &n);
        stress_check(s, got && n == 4 && !memcmp(p, ":0\r\n", 4), "cleanup-empty",
                     "seed %" PRIu64 " round %u: after deleting the round's %u keys %s's DBSIZE "
                     "is '%s'",
                     s->seed, round, dels, pe.name, got ? show(p, n, c, sizeof(c)) : "(no reply)");
        close(pe.fd);
        free(pe.buf);
        free(req);
    }
    stress_faults_resume(s);
}

/* ---- the socket API checks --------------------------------------------------------- */
static bool same_sockaddr(const struct sockaddr_storage *a, socklen_t alen,
                          const struct ipc_sock_addr *b)
{
    if (a->ss_family != b->ss.ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)&b->ss;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr &&
               b->family == AF_INET;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)&b->ss;
        return x->sin6_port == y->sin6_port &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) &&
               x->sin6_scope_id == y->sin6_scope_id && b->family == AF_INET6;
    }
    if (a->ss_family == AF_UNIX)
        return alen == b->len && !memcmp(a, &b->ss, alen) && b->family == AF_UNIX;
    return false;
}

/* The expected ipc_sock_addr_format text, built from the kernel's view only. */
static void format_independently(const struct sockaddr_storage *ss, socklen_t len, char *out,
                                 size_t cap)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ss;
        char h[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &in->sin_addr, h, sizeof(h));
        snprintf(out, cap, "%s:%u", h, (unsigned)ntohs(in->sin_port));
        return;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)ss;
        char h[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &in6->sin6_addr, h, sizeof(h));
        snprintf(out, cap, "[%s]:%u", h, (unsigned)ntohs(in6->sin6_port));
        return;
    }
    const struct sockaddr_un *un = (const void *)ss;
    size_t plen = len - offsetof(struct sockaddr_un, sun_path);
    if (plen == 0) {
        snprintf(out, cap, "unix:");
    } else if (un->sun_path[0] == '\0') {
        size_t o = (size_t)snprintf(out, cap, "unix:@");
        for (size_t i = 1; i < plen && o + 1 < cap; i++) {
            char c = un->sun_path[i];
            out[o++] = c >= 0x20 && c < 0x7f ? c : '?';
        }
        out[o] = '\0';
    } else {
        snprintf(out, cap, "unix:%.*s", (int)strnlen(un->sun_path, plen), un->sun_path);
    }
}

struct api_ctx {
    struct stress *s;
    unsigned round;
};

static bool api_check(struct api_ctx *c, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool api_check(struct api_ctx *c, bool ok, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return stress_check(c->s, ok, "sock-api", "round %u: %s", c->round, msg);
}

/* A libipc call failed: tolerated under --faults, a setup error otherwise. */
static bool api_failed(struct api_ctx *c, int rc, const char *what)
{
    if (rc >= 0)
        return false;
    if (!stress_faults_on(c->s))
        api_check(c, false, "%s failed: %s", what, ipc_strerror(rc));
    else
        stress_lib_error(c->s, rc, what);
    return true;
}

/* The address a libipc helper returned equals what the kernel says, and formats as
 * the kernel's view formats independently. */
static void check_addr(struct api_ctx *c, const char *what, const struct ipc_sock_addr *got,
                       const struct sockaddr_storage *kern, socklen_t klen)
{
    api_check(c, same_sockaddr(kern, klen, got), "%s differs from the kernel's address", what);
    char want[IPC_SOCK_ADDRSTRLEN], text[IPC_SOCK_ADDRSTRLEN];
    format_independently(kern, klen, want, sizeof(want));
    int n = ipc_sock_addr_format(got, text, sizeof(text));
    api_check(c, n == (int)strlen(want) && !strcmp(text, want),
              "ipc_sock_addr_format(%s) = %d '%s', expected '%s'", what, n, n >= 0 ? text : "",
              want);
    if (got->family == AF_INET || got->family == AF_INET6) {
        int port = ipc_sock_addr_port(got);
        int kport = got->family == AF_INET
                        ? ntohs(((const struct sockaddr_in *)(const void *)kern)->sin_port)
                        : ntohs(((const struct sockaddr_in6 *)(const void *)kern)->sin6_port);
        api_check(c, port == kport, "ipc_sock_addr_port(%s) = %d, the kernel's port is %d", what,
                  port, kport);
        /* Exactly the length (no room for the NUL): -ENOSPC and the prefix; one more
         * byte: the whole text. */
        size_t wl = strlen(want);
        int r0 = ipc_sock_addr_format(got, text, wl);
        api_check(c, r0 == -ENOSPC && strlen(text) == wl - 1 && !strncmp(text, want, wl - 1),
                  "ipc_sock_addr_format into %zu bytes for '%s' = %d '%s'", wl, want, r0, text);
        r0 = ipc_sock_addr_format(got, text, wl + 1);
        api_check(c, r0 == (int)wl && !strcmp(text, want),
                  "ipc_sock_addr_format into %zu bytes for '%s' = %d '%s'", wl + 1, want, r0, text);
        /* Too small a buffer: -ENOSPC and a NUL-terminated prefix. */
        char small[6];
        int r = ipc_sock_addr_format(got, small, sizeof(small));
        api_check(c,
                  r == -ENOSPC && strlen(small) == sizeof(small) - 1 &&
                      !strncmp(small, want, sizeof(small) - 1),
                  "ipc_sock_addr_format into 6 bytes = %d '%s'", r, small);
    } else {
        api_check(c, ipc_sock_addr_port(got) == -EINVAL, "ipc_sock_addr_port of a Unix %s", what);
    }
}

static void kernel_name(int fd, bool peer, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    *len = sizeof(*ss);
    if ((peer ? getpeername(fd, (struct sockaddr *)ss, len)
              : getsockname(fd, (struct sockaddr *)ss, len)) < 0)
        *len = 0;
}

/* Stream: listen, connect, accept; every address helper against the kernel; an
 * echo of random bytes through the accepted socket. */
static bool api_stream(struct api_ctx *c, const struct ipc_sock_addr *where, struct stress_rng *rng)
{
    struct ipc_sock_addr bound, peer, got;
    int lfd = ipc_sock_listen(where, 4, 0, &bound);
    if (api_failed(c, lfd, "ipc_sock_listen"))
        return false;
    struct sockaddr_storage ks;
    socklen_t kl;
    kernel_name(lfd, false, &ks, &kl);
    check_addr(c, "listen's bound address", &bound, &ks, kl);
    int r = ipc_sock_local_addr(lfd, &got);
    if (!api_failed(c, r, "ipc_sock_local_addr"))
        check_addr(c, "ipc_sock_local_addr(listener)", &got, &ks, kl);
    int cfd = ipc_sock_connect(&bound, SOCK_STREAM, 5000, 0);
    if (api_failed(c, cfd, "ipc_sock_connect")) {
        close(lfd);
        return true;
    }
    int afd = ipc_sock_accept(lfd, 0, &peer);
    if (!api_failed(c, afd, "ipc_sock_accept")) {
        kernel_name(cfd, false, &ks, &kl);
        check_addr(c, "accept's peer (the client's own name)", &peer, &ks, kl);
        kernel_name(afd, true, &ks, &kl);
        r = ipc_sock_peer_addr(afd, &got);
        if (!api_failed(c, r, "ipc_sock_peer_addr"))
            check_addr(c, "ipc_sock_peer_addr(accepted)", &got, &ks, kl);
        kernel_name(cfd, true, &ks, &kl);
        r = ipc_sock_peer_addr(cfd, &got);
        if (!api_failed(c, r, "ipc_sock_peer_addr"))
            check_addr(c, "ipc_sock_peer_addr(client)", &got, &ks, kl);
        r = ipc_sock_peer_addr(lfd, &got);
        api_check(c, r == -ENOTCONN, "ipc_sock_peer_addr(listener) = %s, expected ENOTCONN",
                  ipc_strerror(r));
        /* Echo: client -> accepted -> client, byte-exact. */
        uint8_t out[3000], back[3000];
        size_t n = (size_t)stress_rng_range(rng, 1, sizeof(out));
        stress_rng_fill(rng, out, n);
        ssize_t w = ipc_sock_send_all(cfd, out, n);
        size_t got_n = 0;
        while (w == (ssize_t)n && got_n < n) {
            ssize_t k = ipc_sock_recv(afd, back + got_n, n - got_n);
            if (k <= 0)
                break;
            got_n += (size_t)k;
        }
        if (got_n == n)
            w = ipc_sock_send_all(afd, back, n);
        size_t echoed = 0;
        while (got_n == n && w == (ssize_t)n && echoed < n) {
            ssize_t k = ipc_sock_recv(cfd, back + echoed, n - echoed);
            if (k <= 0)
                break;
            echoed += (size_t)k;
        }
        if (echoed != n && stress_faults_on(c->s))
            stress_lib_error(c->s, w < 0 ? (int)w : -EIO, "stream echo");
        else
            api_check(c, echoed == n && !memcmp(out, back, n),
                      "stream echo of %zu bytes came back as %zu bytes%s", n, echoed,
                      echoed == n ? " with different content" : "");
        close(afd);
    }
    close(cfd);
    close(lfd);
    return true;
}

/* Datagrams: boundaries, sizes (0 included), sender addresses, truncation. */
static void api_dgram(struct api_ctx *c, const struct ipc_sock_addr *where, struct stress_rng *rng)
{
    struct ipc_sock_addr bound, from, got;
    int sfd = ipc_sock_bind_dgram(where, 0, &bound);
    if (api_failed(c, sfd, "ipc_sock_bind_dgram"))
        return;
    struct sockaddr_storage ks;
    socklen_t kl;
    kernel_name(sfd, false, &ks, &kl);
    check_addr(c, "bind_dgram's bound address", &bound, &ks, kl);
    int cfd = ipc_sock_dgram_open(where->family, 0);
    if (api_failed(c, cfd, "ipc_sock_dgram_open")) {
        close(sfd);
        return;
    }
    if (where->family == AF_UNIX) {
        /* Autobound to an abstract name, so the server can answer. */
        int r = ipc_sock_local_addr(cfd, &got);
        kernel_name(cfd, false, &ks, &kl);
        if (!api_failed(c, r, "ipc_sock_local_addr"))
            check_addr(c, "ipc_sock_local_addr(dgram client)", &got, &ks, kl);
        api_check(c,
                  kl > offsetof(struct sockaddr_un, sun_path) + 1 &&
                      ((struct sockaddr_un *)(void *)&ks)->sun_path[0] == '\0',
                  "ipc_sock_dgram_open(AF_UNIX) not autobound to an abstract name");
    }
    kernel_name(cfd, false, &ks, &kl); /* UDP: bound by the first sendto */
    enum { NDG = 6 };
    uint8_t dg[NDG][512];
    size_t len[NDG];
    unsigned sent = 0;
    for (unsigned i = 0; i < NDG; i++) {
        len[i] = i == 0 ? 0 : (size_t)stress_rng_below(rng, sizeof(dg[i]) + 1);
        stress_rng_fill(rng, dg[i], len[i]);
        ssize_t w = ipc_sock_sendto(cfd, dg[i], len[i], &bound);
        if (w < 0 && stress_faults_on(c->s)) {
            stress_lib_error(c->s, (int)w, "ipc_sock_sendto");
            break;
        }
        api_check(c, w == (ssize_t)len[i], "ipc_sock_sendto of %zu bytes = %zd", len[i], w);
        sent++;
    }
    kernel_name(cfd, false, &ks, &kl);
    if (ks.ss_family == AF_INET) {
        /* An unbound UDP socket is autobound to 0.0.0.0:port; its datagrams to a
         * loopback address leave from 127.0.0.1 (and from ::1 for IPv6). */
        struct sockaddr_in *in = (void *)&ks;
        if (in->sin_addr.s_addr == htonl(INADDR_ANY))
            in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (ks.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (void *)&ks;
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
            in6->sin6_addr = in6addr_loopback;
    }
    for (unsigned i = 0; i < sent; i++) {
        uint8_t buf[600];
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0) {
            api_check(c, false, "datagram %u of %u never arrived", i, sent);
            break;
        }
        /* Every other datagram into a buffer of exactly its size: it fits. */
        ssize_t n = ipc_sock_recvfrom(sfd, buf, i % 2 ? len[i] : sizeof(buf), &from);
        if (n < 0 && stress_faults_on(c->s)) {
            stress_lib_error(c->s, (int)n, "ipc_sock_recvfrom");
            break;
        }
        api_check(c, n == (ssize_t)len[i] && !memcmp(buf, dg[i], len[i]),
                  "datagram %u: %zu bytes sent, recvfrom into %zu bytes = %zd%s", i, len[i],
                  i % 2 ? len[i] : sizeof(buf), n,
                  n == (ssize_t)len[i] ? " with different bytes" : "");
        check_addr(c, "recvfrom's sender", &from, &ks, kl);
    }
    /* A reply to the sender address, then truncation: -EMSGSIZE with the prefix. */
    uint8_t big[300], small[10];
    stress_rng_fill(rng, big, sizeof(big));
    ssize_t w = ipc_sock_sendto(sfd, big, sizeof(big), &from);
    if (!(w < 0 && stress_faults_on(c->s)) && sent == NDG) {
        api_check(c, w == (ssize_t)sizeof(big), "ipc_sock_sendto(reply) = %zd", w);
        struct pollfd p = {.fd = cfd, .events = POLLIN};
        ssize_t n =
            poll(&p, 1, 5000) > 0 ? ipc_sock_recvfrom(cfd, small, sizeof(small), &got) : -ETIMEDOUT;
        if (!(n < 0 && n != -EMSGSIZE && stress_faults_on(c->s))) {
            api_check(c, n == -EMSGSIZE && !memcmp(small, big, sizeof(small)),
                      "recvfrom of a %zu-byte datagram into %zu bytes = %zd", sizeof(big),
                      sizeof(small), n);
            kernel_name(sfd, false, &ks, &kl);
            if (n == -EMSGSIZE)
                check_addr(c, "the reply's sender", &got, &ks, kl);
        }
        /* The truncated datagram is consumed: nothing is left. */
        p.revents = 0;
        api_check(c, poll(&p, 1, 0) == 0, "a truncated datagram stayed queued");
    }
    close(cfd);
    close(sfd);
}

static void api_addresses(struct api_ctx *c)
{
    struct ipc_sock_addr a;
    char t[IPC_SOCK_ADDRSTRLEN];
    struct {
        const char *host;
        int port;
        const char *want; /* NULL: -EINVAL */
    } cases[] = {
        {"127.0.0.1", 6380, "127.0.0.1:6380"},
        {"localhost", 1, "127.0.0.1:1"},
        {"127.0.0.1", 65535, "127.0.0.1:65535"},
        {"[::1]", 80, "[::1]:80"},
        {"::1", 0, "[::1]:0"},
        {"127.0.0.1", 65536, NULL},
        {"127.0.0.1", -1, NULL},
        {"example.com", 80, NULL},
        {"", 80, NULL},
        {"unix:@ipcstorm-x", 99, "unix:@ipcstorm-x"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int r = ipc_sock_addr_from_host_port(&a, cases[i].host, cases[i].port);
        if (!cases[i].want) {
            api_check(c, r == -EINVAL, "from_host_port('%s', %d) = %s, expected EINVAL",
                      cases[i].host, cases[i].port, ipc_strerror(r));
            continue;
        }
        int n = r == 0 ? ipc_sock_addr_format(&a, t, sizeof(t)) : r;
        api_check(c, n == (int)strlen(cases[i].want) && !strcmp(t, cases[i].want),
                  "from_host_port('%s', %d) formats as '%s' (%d), expected '%s'", cases[i].host,
                  cases[i].port, n >= 0 ? t : "", n, cases[i].want);
        int port = ipc_sock_addr_port(&a);
        api_check(c, a.family == AF_UNIX ? port == -EINVAL : port == cases[i].port,
                  "ipc_sock_addr_port of '%s' = %d", cases[i].want, port);
    }
}

/* unlink: removes exactly a socket path, reports 1/0, refuses other files. */
static void api_unlink(struct api_ctx *c, const struct ipc_sock_addr *path_addr, const char *path)
{
    struct stat st;
    int r = ipc_sock_unlink(path_addr);
    api_check(c, r == 1 && stat(path, &st) < 0 && errno == ENOENT,
              "ipc_sock_unlink(%s) = %d, path %s", path, r,
              stat(path, &st) == 0 ? "still there" : "gone");
    r = ipc_sock_unlink(path_addr);
    api_check(c, r == 0, "ipc_sock_unlink of a removed path = %d, expected 0", r);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        r = ipc_sock_unlink(path_addr);
        api_check(c, r == -ENOTSOCK && stat(path, &st) == 0,
                  "ipc_sock_unlink of a regular file = %d (%s)", r,
                  stat(path, &st) == 0 ? "kept" : "deleted");
        unlink(path);
    }
    struct ipc_sock_addr tcp;
    if (ipc_sock_addr_parse(&tcp, "127.0.0.1:1") == 0)
        api_check(c, ipc_sock_unlink(&tcp) == 0, "ipc_sock_unlink of a TCP address is not 0");
}

/* Connects that fail (no listener on a TCP port, an abstract name or a path)
 * give the kernel's error and leave no descriptor behind. */
static void api_refused(struct api_ctx *c, const char *tmpdir)
{
    char text[3][160];
    struct ipc_sock_addr a, bound;
    int port = -1, lfd = -1;
    if (ipc_sock_addr_parse(&a, "127.0.0.1:0") == 0 &&
        (lfd = ipc_sock_listen(&a, 1, 0, &bound)) >= 0) {
        port = ipc_sock_addr_port(&bound);
        close(lfd); /* the port is free again: nobody listens there now */
    }
    snprintf(text[0], sizeof(text[0]), "127.0.0.1:%d", port);
    snprintf(text[1], sizeof(text[1]), "unix:@ipcstorm-nobody-%d", (int)getpid());
    snprintf(text[2], sizeof(text[2]), "unix:%s/nobody.sock", tmpdir);
    static const int want[3] = {-ECONNREFUSED, -ECONNREFUSED, -ENOENT};
    for (int i = port > 0 ? 0 : 1; i < 3; i++) {
        if (ipc_sock_addr_parse(&a, text[i]) != 0)
            continue;
        int before = stress_lowest_free_fd();
        int fd = ipc_sock_connect(&a, SOCK_STREAM, 5000, 0);
        if (fd >= 0) { /* someone took the port in between: nothing to judge */
            close(fd);
            continue;
        }
        int after = stress_lowest_free_fd();
        if (fd != want[i] && stress_faults_on(c->s)) {
            stress_lib_error(c->s, fd, "ipc_sock_connect(nobody)");
            continue;
        }
        api_check(c, fd == want[i] && after == before,
                  "ipc_sock_connect(%s) with nobody there = %s (want %s), lowest free fd %d -> %d",
                  text[i], ipc_errname(fd), ipc_errname(want[i]), before, after);
    }
}

static void socket_api_round(struct stress *s, const char *tmpdir, unsigned round)
{
    struct api_ctx c = {.s = s, .round = round};
    struct stress_rng rng;
    stress_rng_init(&rng, s->seed, 1000 + round);
    struct ipc_sock_addr a;
    char text[256];
    api_addresses(&c);
    if (ipc_sock_addr_from_host_port(&a, "127.0.0.1", 0) == 0) {
        api_stream(&c, &a, &rng);
        api_dgram(&c, &a, &rng);
    }
    /* IPv6 loopback, when the machine has it (a container may not). */
    if (ipc_sock_addr_from_host_port(&a, "::1", 0) == 0) {
        int probe = ipc_sock_listen(&a, 1, 0, NULL);
        if (probe >= 0) {
            close(probe);
            api_stream(&c, &a, &rng);
            api_dgram(&c, &a, &rng);
        }
    }
    snprintf(text, sizeof(text), "unix:@ipcstorm-diff-%d-%u", (int)getpid(), round);
    if (ipc_sock_addr_parse(&a, text) == 0) {
        api_stream(&c, &a, &rng);
        api_dgram(&c, &a, &rng);
    }
    snprintf(text, sizeof(text), "unix:%s/api%u.sock", tmpdir, round % 4);
    if (ipc_sock_addr_parse(&a, text) == 0) {
        if (api_stream(&c, &a, &rng))
            api_unlink(&c, &a, text + 5);
    }
    api_refused(&c, tmpdir);
}

/* ---- the two servers ----------------------------------------------------------------- */
struct ipc_server_arg {
    int report_fd;
    char unix_name[96];
};

/* The ipcstorm server child: reports its port and describe line, then serves. */
static int ipc_server_main(void *p)
{
    struct ipc_server_arg *a = p;
    struct ipc_server_options o;
    memset(&o, 0, sizeof(o));
    o.bind = "127.0.0.1";
    o.unix_path = a->unix_name;
    o.udp = 1;
    o.workers = 1;
    o.quiet = 1;
    o.max_bulk = opt_max_bulk;
    o.table_capacity = opt_capacity;
    ipc_server *srv = NULL;
    struct {
        int port;
        int desc_rc;
        int small_rc;
        char small[16];
        char desc[200];
    } rep;
    memset(&rep, 0, sizeof(rep));
    int r = ipc_server_new(&srv, &o);
    rep.port = r < 0 ? r : ipc_server_port(srv);
    if (r == 0) {
        rep.desc_rc = ipc_server_describe(srv, rep.desc, sizeof(rep.desc));
        rep.small_rc = ipc_server_describe(srv, rep.small, sizeof(rep.small));
    }
    if (ipc_pipe_write_all(a->report_fd, &rep, sizeof(rep), 0) != (ssize_t)sizeof(rep) || r < 0) {
        ipc_server_free(srv);
        return 3;
    }
    close(a->report_fd);
    r = ipc_server_run(srv);
    ipc_server_free(srv);
    return r == 0 ? 0 : 4;
}

static ipc_proc *start_ipcstorm(struct stress *s, struct servers *sv)
{
    struct ipc_pipe pp;
    if (ipc_pipe_open(&pp, 0) < 0) {
        stress_setup_error(s, "pipe: out of fds");
        return NULL;
    }
    struct ipc_server_arg sa = {.report_fd = pp.wr};
    snprintf(sa.unix_name, sizeof(sa.unix_name), "@ipcstorm-stress-diff-%d-%" PRIu64, (int)getpid(),
             s->seed);
    ipc_proc *srv = NULL;
    struct ipc_proc_options po = {.flags = IPC_PROC_F_SETPGID}; /* as redis, see there */
    int r = ipc_proc_fork(&srv, ipc_server_main, &sa, &po);
    close(pp.wr);
    struct {
        int port;
        int desc_rc;
        int small_rc;
        char small[16];
        char desc[200];
    } rep;
    memset(&rep, 0, sizeof(rep));
    if (r < 0 || ipc_pipe_read_full(pp.rd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep) ||
        rep.port <= 0) {
        close(pp.rd);
        stress_setup_error(s, "ipcstorm server did not start: %s",
                           r < 0 ? ipc_strerror(r) : ipc_strerror(rep.port));
        if (srv)
            stress_proc_discard(s, srv);
        return NULL;
    }
    close(pp.rd);
    char text[160], want[256];
    snprintf(text, sizeof(text), "127.0.0.1:%d", rep.port);
    stress_ignore(ipc_sock_addr_parse(&sv->ipc_tcp, text));
    stress_ignore(ipc_sock_addr_parse(&sv->ipc_udp, text)); /* UDP on the same port */
    snprintf(text, sizeof(text), "unix:%s", sa.unix_name);
    stress_ignore(ipc_sock_addr_parse(&sv->ipc_unix, text));
    /* describe: the sockets actually bound, built from what we asked and the port. */
    snprintf(want, sizeof(want), "listening tcp 127.0.0.1:%d udp 127.0.0.1:%d unix %s workers 1",
             rep.port, rep.port, sa.unix_name);
    stress_check(s, rep.desc_rc == (int)strlen(want) && !strcmp(rep.desc, want), "server-graceful",
                 "ipc_server_describe = %d '%s', expected '%s'", rep.desc_rc, rep.desc, want);
    stress_check(s,
                 rep.small_rc == -ENOSPC && strlen(rep.small) == sizeof(rep.small) - 1 &&
                     !strncmp(rep.small, want, sizeof(rep.small) - 1),
                 "server-graceful", "ipc_server_describe into %zu bytes = %d '%s'",
                 sizeof(rep.small), rep.small_rc, rep.small);
    return srv;
}

static bool on_path(const char *prog, char *found, size_t cap)
{
    if (strchr(prog, '/')) {
        snprintf(found, cap, "%s", prog);
        return access(prog, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(found, cap, "%.*s/%s", (int)n, n ? path : ".", prog);
        if (access(found, X_OK) == 0)
            return true;
        path += n + (colon != NULL);
    }
    return false;
}

struct redis {
    ipc_proc *proc;
    int log_fd; /* its stdout+stderr, non-blocking once it is ready */
};

/* A free loopback port: bind 127.0.0.1:0, read the port, close. Redis cannot take
 * port 0, so a race with another process is possible: the caller retries. */
static int free_port(struct stress *s)
{
    struct ipc_sock_addr a, bound;
    if (ipc_sock_addr_parse(&a, "127.0.0.1:0") < 0)
        return -EINVAL;
    int fd = ipc_sock_listen(&a, 1, 0, &bound);
    if (fd < 0)
        return fd;
    /* The port comes from the kernel; libipc's bound address must agree. */
    struct sockaddr_in kern;
    socklen_t kl = sizeof(kern);
    int port = getsockname(fd, (struct sockaddr *)&kern, &kl) == 0 ? ntohs(kern.sin_port) : -EIO;
    int lib_port = ipc_sock_addr_port(&bound);
    stress_check(s, lib_port == port, "sock-api",
                 "ipc_sock_listen(127.0.0.1:0) bound port %d, getsockname says %d", lib_port, port);
    close(fd);
    return port;
}

/* Starts redis-server and waits for "Ready to accept connections" on its stdout.
 * Returns 1 when ready, 0 when the port was taken (try another), -1 on failure. */
static int start_redis_once(struct stress *s, struct redis *rd, const char *prog, const char *dir,
                            int port, struct ipc_sock_addr *addr)
{
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    char *argv[] = {
        (char *)prog, "--port",       portstr,     "--bind",           "127.0.0.1", "--save",
        "",           "--appendonly", "no",        "--protected-mode", "no",        "--daemonize",
        "no",         "--dir",        (char *)dir, "--loglevel",       "notice",    NULL};
    struct ipc_pipe lp;
    int r = ipc_pipe_open(&lp, 0);
    if (r < 0) {
        stress_setup_error(s, "pipe: %s", ipc_strerror(r));
        return -1;
    }
    struct ipc_proc_options o;
    memset(&o, 0, sizeof(o));
    /* Its own process group: a Ctrl-C reaches the driver only, which then finishes
     * the round and stops both servers itself (and checks that they stop cleanly). */
    o.flags = IPC_PROC_F_STDIO | IPC_PROC_F_SETPGID;
    o.stdio[0] = -1;
    o.stdio[1] = lp.wr;
    o.stdio[2] = lp.wr;
    r = ipc_proc_spawn(&rd->proc, argv, &o);
    close(lp.wr);
    if (r < 0) {
        close(lp.rd);
        stress_setup_error(s, "cannot start %s: %s", prog, ipc_strerror(r));
        return -1;
    }
    char log[8192];
    size_t have = 0;
    double deadline = stress_now() + 20;
    for (;;) {
        struct pollfd p = {.fd = lp.rd, .events = POLLIN};
        double left = deadline - stress_now();
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0) {
            if (errno == EINTR && left > 0)
                continue;
            break;
        }
        ssize_t n = read(lp.rd, log + have, sizeof(log) - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        log[have] = '\0';
        if (strstr(log, "Ready to accept connections")) {
            rd->log_fd = lp.rd;
            stress_ignore(fcntl(lp.rd, F_SETFL, O_NONBLOCK));
            char text[64];
            snprintf(text, sizeof(text), "127.0.0.1:%d", port);
            stress_ignore(ipc_sock_addr_parse(addr, text));
            return 1;
        }
        if (have + 1 >= sizeof(log))
            have = 0; /* keep reading; only the marker matters */
    }
    close(lp.rd);
    log[have] = '\0';
    struct ipc_proc_status st;
    stress_proc_kill(s, rd->proc, SIGKILL);
    stress_ignore(stress_proc_wait(s, rd->proc, 10000, &st));
    ipc_proc_free(rd->proc);
    rd->proc = NULL;
    if (strstr(log, "Address already in use"))
        return 0;
    const char *tail = have > 600 ? log + have - 600 : log;
    stress_setup_error(s, "%s did not become ready; its output ends: %s", prog, tail);
    return -1;
}

static bool start_redis(struct stress *s, struct redis *rd, const char *dir,
                        struct ipc_sock_addr *addr)
{
    char prog[4096];
    if (!on_path(opt_redis, prog, sizeof(prog))) {
        stress_setup_error(s,
                           "%s not found on PATH: the diff driver needs a real Redis as its "
                           "oracle (scripts/deps installs the redis-server package)",
                           opt_redis);
        return false;
    }
    /* The design table and the rules were measured against Redis 7: another major
     * version answers some errors in other words, which is not a finding. */
    char *const version_argv[] = {prog, "--version", NULL};
    struct ipc_run_options ro = {.timeout_ms = 10000};
    struct ipc_run_result rr;
    int r = ipc_run(version_argv, &ro, &rr);
    bool seven = r == 0 && rr.status.exited && rr.status.code == 0 &&
                 strstr((const char *)rr.out, " v=7.") != NULL;
    if (!seven)
        stress_setup_error(s, "%s --version: %s; the diff driver's rules are those of Redis 7.x",
                           prog, r < 0 ? ipc_strerror(r) : (const char *)rr.out);
    ipc_run_result_free(&rr);
    if (!seven)
        return false;
    for (int attempt = 0; attempt < 8; attempt++) {
        int port = free_port(s);
        if (port <= 0) {
            stress_setup_error(s, "no free loopback port: %s", ipc_strerror(port));
            return false;
        }
        r = start_redis_once(s, rd, prog, dir, port, addr);
        if (r != 0)
            return r > 0;
    }
    stress_setup_error(s, "every port tried for redis-server was taken");
    return false;
}

static void drain_log(struct redis *rd)
{
    char junk[4096];
    while (rd->log_fd >= 0 && read(rd->log_fd, junk, sizeof(junk)) > 0)
        ;
}

static void stop_server(struct stress *s, ipc_proc *p, const char *what)
{
    if (!p)
        return;
    struct ipc_proc_status st;
    memset(&st, 0, sizeof(st));
    stress_proc_kill(s, p, SIGTERM);
    int r = stress_proc_wait(s, p, 20000, &st);
    stress_check(s, r == 0 && st.exited && st.code == 0, "server-graceful",
                 "%s after SIGTERM: %s, raw status 0x%x", what, ipc_strerror(r), st.raw);
    stress_proc_discard(s, p);
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                unlink(path);
            }
        closedir(d);
    }
    rmdir(dir);
}

int ipcstorm_stress_diff(int argc, char **argv)
{
    struct stress s;
    int rc = stress_begin(&s, &spec, argc, argv);
    if (rc != STRESS_RUN)
        return rc;
    char tmpdir[64];
    if (!mkdtemp(stress_tmp_template(tmpdir, sizeof(tmpdir), "diff"))) {
        stress_setup_error(&s, "mkdtemp: %s", strerror(errno));
        return stress_end(&s);
    }
    struct servers sv;
    memset(&sv, 0, sizeof(sv));
    struct redis rd = {.proc = NULL, .log_fd = -1};
    ipc_proc *ipcsrv = NULL;
    struct round *r = calloc(1, sizeof(*r));
    struct peer ipc = {.name = "ipcstorm"}, red = {.name = "redis"};
    if (r)
        r->stream = malloc(STREAM_CAP);
    ipc.buf = malloc(REPLY_CAP);
    red.buf = malloc(REPLY_CAP);
    if (!r || !r->stream || !ipc.buf || !red.buf) {
        stress_setup_error(&s, "out of memory");
        goto out;
    }
    if (!start_redis(&s, &rd, tmpdir, &sv.redis))
        goto out;
    ipcsrv = start_ipcstorm(&s, &sv);
    if (!ipcsrv)
        goto out;
    stress_rng_init(&g_rng, s.seed, 0);
    for (unsigned round = 0; stress_running(&s); round++) {
        gen_round(r, &g_rng, round);
        ipc.have = red.have = 0;
        ipc.nreplies = red.nreplies = 0;
        ipc.eof = red.eof = ipc.send_done = red.send_done = false;
        ipc.err = red.err = 0;
        run_exchange(&s, r, &sv, &ipc, &red, round);
        finish_peer(&s, &ipc, round);
        finish_peer(&s, &red, round);
        ipc.fd = red.fd = -1;
        cleanup_round(&s, r, &sv, round);
        socket_api_round(&s, tmpdir, round);
        drain_log(&rd);
        stress_add_ops(&s, r->nitems);
    }
out:
    stop_server(&s, ipcsrv, "ipcstorm serve");
    stop_server(&s, rd.proc, "redis-server");
    if (rd.log_fd >= 0)
        close(rd.log_fd);
    remove_tree(tmpdir);
    if (r)
        free(r->stream);
    free(r);
    free(ipc.buf);
    free(red.buf);
    size_t o = 0;
    for (size_t d = 0; d < sizeof(differences) / sizeof(differences[0]) && o < sizeof(s.note); d++)
        o += (size_t)snprintf(s.note + o, sizeof(s.note) - o, "%s%s %" PRIu64,
                              d ? " " : "rule hits: ", differences[d].tag, diff_hits[d]);
    return stress_end(&s);
}
