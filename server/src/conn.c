/* conn.c - the per-connection RESP2 engine of `ipcstorm serve`. */
#include "ipcsrv/conn.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc/resp.h"
#include "ipc_base.h"
#ifdef IPC_TEST_FAULTS
#include "ipcsrv_test_faults.h"
#endif

#define CONN_DEFAULT_MAX_BULK      ((size_t)1 << 20)
#define CONN_DEFAULT_MAX_INLINE    ((size_t)64 << 10)
#define CONN_DEFAULT_MAX_MULTIBULK ((size_t)1048576)
#define CONN_DEFAULT_HIGH_WATER    ((size_t)256 << 10)
#define CONN_MAX_BULK_LIMIT        ((size_t)512 << 20)
#define CONN_IN_INITIAL            ((size_t)16 << 10)
/* An empty output buffer larger than this is freed: one big reply made it grow. */
#define CONN_OUT_KEEP ((size_t)64 << 10)
/* Commands have few arguments; DEL takes many keys, which are executed in chunks
 * of argv slots would complicate the engine, so argv is grown on demand instead. */
#define CONN_ARGV_INITIAL 16

#ifdef IPC_TEST_FAULTS
static int g_debug_faults;

void ipc_conn_debug_faults_enable(int on)
{
    g_debug_faults = on;
}
#endif

struct ipc_conn {
    struct ipc_conn_env *env;
    struct ipc_conn_limits lim;
    struct ipc_resp_parser parser;
    char *in;
    size_t in_cap, in_len, in_pos; /* unparsed input is in[in_pos, in_len) */
    struct ipc_resp_buf out;       /* pending replies; sent bytes are consumed */
    int closing;                   /* QUIT / protocol error / EOF seen */
    int eof;
    int failed; /* socket error: DONE regardless of output */
};

/* ---- output: the resp.h reply writer ---------------------------------------- */

#define OUT_SIMPLE(c, s) ipc_resp_write_simple(&(c)->out, (s), sizeof(s) - 1)
#define OUT_ERROR(c, s)  ipc_resp_write_error(&(c)->out, (s), sizeof(s) - 1)

static int out_errorf(struct ipc_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int out_errorf(struct ipc_conn *c, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof(buf))
        n = (int)sizeof(buf) - 1;
    return ipc_resp_write_error(&c->out, buf, (size_t)n);
}

/* ---- commands ----------------------------------------------------------- */

/* Case-insensitive compare of an argument with a lowercase ASCII name. */
static int arg_is(const char *a, size_t alen, const char *name)
{
    size_t i = 0;
    for (; i < alen; i++) {
        unsigned char ch = (unsigned char)a[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (unsigned char)(ch + 32);
        if (name[i] == 0 || ch != (unsigned char)name[i])
            return 0;
    }
    return name[i] == 0;
}

/* Strict signed 64-bit decimal, as Redis's string2ll: no spaces, no '+', no
 * leading zeros (except "0"), no "-0". */
static int parse_i64(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 20)
        return -1;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1)
            return -1;
    }
    if (s[i] == '0') {
        if (n == 1) {
            *out = 0;
            return 0;
        }
        return -1;
    }
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return -1;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)v;
    }
    return 0;
}

static int reply_arity(struct ipc_conn *c, const char *lname)
{
    return out_errorf(c, "ERR wrong number of arguments for '%s' command", lname);
}

static int reply_table_error(struct ipc_conn *c, int rc)
{
    if (rc == -ERANGE || rc == -EOVERFLOW)
        return OUT_ERROR(c, "ERR increment or decrement would overflow");
    if (rc == -ENAMETOOLONG || rc == -E2BIG)
        return OUT_ERROR(c, "ERR key too long");
    if (rc == -ENOSPC)
        return OUT_ERROR(c, "ERR counter table full");
    return out_errorf(c, "ERR counter table: %s", ipc_strerror(rc));
}

static int incr_by(struct ipc_conn *c, const struct ipc_resp_arg *key, int64_t delta)
{
    if (!c->env->table)
        return OUT_ERROR(c, "ERR no counter table");
    int64_t v = 0;
    int rc = ipc_ctab_incrby(c->env->table, key->ptr, key->len, delta, &v);
    if (rc < 0 && rc != IPC_EOWNERDEAD)
        return reply_table_error(c, rc);
    return ipc_resp_write_int(&c->out, v);
}

/* Command handlers: argc is already checked against the table's arity. Each returns
 * 0, 1 to close the connection (QUIT), or a negative errno (-ENOMEM). */
#define CMD(name)                                                                                  \
    static int cmd_##name(struct ipc_conn *c, int argc, const struct ipc_resp_arg *argv)

CMD(get)
{
    (void)argc;
    if (!c->env->table)
        return OUT_ERROR(c, "ERR no counter table");
    int64_t v = 0;
    int rc = ipc_ctab_get(c->env->table, argv[1].ptr, argv[1].len, &v);
    if (rc == -ENOENT)
        return ipc_resp_write_null(&c->out);
    if (rc < 0 && rc != IPC_EOWNERDEAD)
        return reply_table_error(c, rc);
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%" PRId64, v);
    return ipc_resp_write_bulk(&c->out, buf, (size_t)n);
}

CMD(del)
{
    if (!c->env->table)
        return OUT_ERROR(c, "ERR no counter table");
    /* Every key is checked before any is deleted: an error reply must mean that
     * nothing happened (Redis, with no key length limit, never fails here). */
    for (int i = 1; i < argc; i++)
        if (argv[i].len > IPC_CTAB_KEY_MAX)
            return reply_table_error(c, -E2BIG);
    int64_t removed = 0;
    for (int i = 1; i < argc; i++) {
        int rc = ipc_ctab_del(c->env->table, argv[i].ptr, argv[i].len);
        if (rc > 0)
            removed++;
        else if (rc < 0 && rc != -ENOENT && rc != IPC_EOWNERDEAD)
            return reply_table_error(c, rc);
    }
    return ipc_resp_write_int(&c->out, removed);
}

CMD(ping)
{
    /* Arity -1 with a maximum of its own, as in Redis. */
    if (argc > 2)
        return reply_arity(c, "ping");
    if (argc == 2)
        return ipc_resp_write_bulk(&c->out, argv[1].ptr, argv[1].len);
    return OUT_SIMPLE(c, "PONG");
}

CMD(incr)
{
    (void)argc;
    return incr_by(c, &argv[1], 1);
}

CMD(decr)
{
    (void)argc;
    return incr_by(c, &argv[1], -1);
}

CMD(incrby)
{
    (void)argc;
    int64_t d;
    if (parse_i64(argv[2].ptr, argv[2].len, &d) < 0)
        return OUT_ERROR(c, "ERR value is not an integer or out of range");
    return incr_by(c, &argv[1], d);
}

CMD(echo)
{
    (void)argc;
    return ipc_resp_write_bulk(&c->out, argv[1].ptr, argv[1].len);
}

CMD(quit)
{
    (void)argc;
    (void)argv;
    int rc = OUT_SIMPLE(c, "OK");
    return rc < 0 ? rc : 1;
}

CMD(dbsize)
{
    (void)argc;
    (void)argv;
    if (!c->env->table)
        return OUT_ERROR(c, "ERR no counter table");
    long n = ipc_ctab_count(c->env->table);
    if (n < 0 && n != IPC_EOWNERDEAD)
        return reply_table_error(c, (int)n);
    return ipc_resp_write_int(&c->out, n < 0 ? 0 : n);
}

CMD(info)
{
    (void)argc;
    (void)argv;
    /* sections are ignored: one short text */
    char buf[1024];
    uint64_t up = 0;
    if (c->env->start_ns) {
        uint64_t now = ipc__now_ns();
        up = now > c->env->start_ns ? (now - c->env->start_ns) / 1000000000u : 0;
    }
    const struct ipc_conn_stats *s = &c->env->stats;
    int n = snprintf(buf, sizeof(buf),
                     "# Server\r\n"
                     "server_name:%s\r\n"
                     "redis_version:7.0.0\r\n"
                     "process_id:%ld\r\n"
                     "workers:%u\r\n"
                     "worker_index:%u\r\n"
                     "uptime_in_seconds:%" PRIu64 "\r\n"
                     "# Clients\r\n"
                     "connected_clients:%" PRIu64 "\r\n"
                     "# Stats\r\n"
                     "total_connections_received:%" PRIu64 "\r\n"
                     "total_commands_processed:%" PRIu64 "\r\n",
                     c->env->server_name ? c->env->server_name : "ipcstorm", (long)getpid(),
                     c->env->workers, c->env->worker_index, up, s->clients, s->connections,
                     s->commands);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof(buf))
        n = (int)sizeof(buf) - 1;
    return ipc_resp_write_bulk(&c->out, buf, (size_t)n);
}

/* A two-element array of bulk strings: a CONFIG GET answer. */
static int reply_pair(struct ipc_conn *c, const char *name, const char *value)
{
    int rc = ipc_resp_write_array(&c->out, 2);
    if (rc == 0)
        rc = ipc_resp_write_bulk(&c->out, name, strlen(name));
    if (rc == 0)
        rc = ipc_resp_write_bulk(&c->out, value, strlen(value));
    return rc;
}

CMD(config)
{
    if (!arg_is(argv[1].ptr, argv[1].len, "get"))
        return out_errorf(c, "ERR unknown subcommand '%.*s'. Try CONFIG HELP.",
                          (int)(argv[1].len > 128 ? 128 : argv[1].len), argv[1].ptr);
    if (argc != 3)
        return reply_arity(c, "config|get");
    /* redis-benchmark reads these two to print its header; answer them as a Redis
     * without persistence would. */
    if (arg_is(argv[2].ptr, argv[2].len, "save"))
        return reply_pair(c, "save", "");
    if (arg_is(argv[2].ptr, argv[2].len, "appendonly"))
        return reply_pair(c, "appendonly", "no");
    return ipc_resp_write_empty_array(&c->out);
}

CMD(command)
{
    (void)argc;
    (void)argv;
    return ipc_resp_write_empty_array(&c->out);
}

#ifdef IPC_TEST_FAULTS
CMD(debug)
{
    (void)argc;
    if (!arg_is(argv[1].ptr, argv[1].len, "die-mid-insert"))
        return OUT_ERROR(c, "ERR unknown DEBUG subcommand");
    if (!c->env->table)
        return OUT_ERROR(c, "ERR no counter table");
    int rc = ipc_ctab_fault_die_mid_insert(c->env->table);
    if (rc < 0)
        return out_errorf(c, "ERR faults not available: %s", ipc_strerror(rc));
    return OUT_SIMPLE(c, "OK");
}
#endif

#undef CMD

/* The command table, as Redis's: the lowercase name, the arity counting the name
 * (N: exactly N arguments, -N: at least N) and the handler. The name's length is
 * compared first, so a lookup touches the bytes of at most a few names. */
struct command {
    const char *name;
    size_t len;
    int arity;
    int (*fn)(struct ipc_conn *c, int argc, const struct ipc_resp_arg *argv);
};

#define COMMAND(name, arity, fn)                                                                   \
    {                                                                                              \
        name, sizeof(name) - 1, arity, fn                                                          \
    }
static const struct command commands[] = {
    COMMAND("get", 2, cmd_get),        COMMAND("del", -2, cmd_del),
    COMMAND("ping", -1, cmd_ping),     COMMAND("incr", 2, cmd_incr),
    COMMAND("decr", 2, cmd_decr),      COMMAND("echo", 2, cmd_echo),
    COMMAND("info", -1, cmd_info),     COMMAND("quit", -1, cmd_quit),
    COMMAND("incrby", 3, cmd_incrby),  COMMAND("dbsize", 1, cmd_dbsize),
    COMMAND("config", -2, cmd_config), COMMAND("command", -1, cmd_command),
#ifdef IPC_TEST_FAULTS
    COMMAND("debug", 2, cmd_debug), /* only once enabled, see lookup_command */
#endif
};
#undef COMMAND

static const struct command *lookup_command(const struct ipc_resp_arg *name)
{
    for (size_t i = 0; i < IPC__ARRAY_SIZE(commands); i++) {
        const struct command *cmd = &commands[i];
        if (cmd->len != name->len || !arg_is(name->ptr, name->len, cmd->name))
            continue;
#ifdef IPC_TEST_FAULTS
        if (cmd->fn == cmd_debug && !g_debug_faults)
            return NULL;
#endif
        return cmd;
    }
    return NULL;
}

/* Redis 7's text; clients print it, the prefix is what scripts match. */
static int reply_unknown(struct ipc_conn *c, int argc, const struct ipc_resp_arg *argv)
{
    char args[160];
    size_t an = 0;
    args[0] = 0;
    for (int i = 1; i < argc && an < 128; i++) {
        int w = snprintf(args + an, sizeof(args) - an, "'%.*s' ",
                         (int)(argv[i].len > 128 - an ? 128 - an : argv[i].len), argv[i].ptr);
        if (w < 0)
            break;
        an += (size_t)w;
        if (an >= sizeof(args))
            an = sizeof(args) - 1;
    }
    return out_errorf(c, "ERR unknown command '%.*s', with args beginning with: %s",
                      (int)(argv[0].len > 128 ? 128 : argv[0].len), argv[0].ptr, args);
}

/* Executes one command: one lookup, one arity check, one dispatch. Returns 1 for
 * QUIT, 0 otherwise, negative on -ENOMEM. */
static int execute(struct ipc_conn *c, int argc, const struct ipc_resp_arg *argv)
{
    c->env->stats.commands++;
    const struct command *cmd = lookup_command(&argv[0]);
    if (!cmd)
        return reply_unknown(c, argc, argv);
    if (cmd->arity >= 0 ? argc != cmd->arity : argc < -cmd->arity)
        return reply_arity(c, cmd->name);
    return cmd->fn(c, argc, argv);
}

/* ---- connection ---------------------------------------------------------- */

static int limits_resolve(const struct ipc_conn_limits *in, struct ipc_conn_limits *out)
{
    *out = *in;
    if (!out->max_bulk)
        out->max_bulk = CONN_DEFAULT_MAX_BULK;
    if (!out->max_inline)
        out->max_inline = CONN_DEFAULT_MAX_INLINE;
    if (!out->max_multibulk)
        out->max_multibulk = CONN_DEFAULT_MAX_MULTIBULK;
    if (!out->out_high_water)
        out->out_high_water = CONN_DEFAULT_HIGH_WATER;
    if (out->max_bulk > CONN_MAX_BULK_LIMIT || out->max_inline > CONN_MAX_BULK_LIMIT ||
        out->max_multibulk > CONN_DEFAULT_MAX_MULTIBULK ||
        out->out_high_water > CONN_MAX_BULK_LIMIT)
        return -EINVAL;
    size_t need = out->max_bulk + 64;
    if (out->max_inline + 2 > need)
        need = out->max_inline + 2;
    if (!out->max_request) {
        out->max_request = 2 * out->max_bulk + ((size_t)64 << 10);
        /* The largest max_bulk would exceed the cap below and make every
         * connection fail: clamp the default (still above what one argument needs). */
        if (out->max_request > 2 * CONN_MAX_BULK_LIMIT)
            out->max_request = 2 * CONN_MAX_BULK_LIMIT;
    }
    if (out->max_request < need || out->max_request > 2 * CONN_MAX_BULK_LIMIT)
        return -EINVAL;
    return 0;
}

int ipc_conn_new(struct ipc_conn **out, struct ipc_conn_env *env)
{
    if (!env || !out)
        return -EINVAL;
    *out = NULL;
    struct ipc_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    int rc = limits_resolve(&env->limits, &c->lim);
    if (rc < 0) {
        free(c);
        return rc;
    }
    c->env = env;
    /* No cap of the writer's own: the high-water mark stops execution, so pending
     * output stays below it plus one reply (at most one argument plus a header). */
    c->out.max = SIZE_MAX;
    struct ipc_resp_limits rl = {
        .max_bulk = c->lim.max_bulk,
        .max_inline = c->lim.max_inline,
        .max_multibulk = c->lim.max_multibulk,
    };
    rc = ipc_resp_parser_init(&c->parser, &rl);
    if (rc < 0) {
        free(c);
        return rc;
    }
    env->stats.connections++;
    env->stats.clients++;
    *out = c;
    return 0;
}

void ipc_conn_free(struct ipc_conn *c)
{
    if (!c)
        return;
    if (c->env->stats.clients)
        c->env->stats.clients--;
    ipc_resp_parser_free(&c->parser);
    free(c->in);
    ipc_resp_buf_free(&c->out);
    free(c);
}

static size_t out_pending(const struct ipc_conn *c)
{
    return c->out.len;
}

int ipc_conn_state(const struct ipc_conn *c)
{
    if (!c)
        return IPC_CONN_DONE;
    if (c->failed)
        return IPC_CONN_DONE | IPC_CONN_CLOSING;
    int st = 0;
    if (out_pending(c))
        st |= IPC_CONN_WANT_WRITE;
    if (c->closing) {
        st |= IPC_CONN_CLOSING;
        if (!out_pending(c))
            st |= IPC_CONN_DONE;
        return st;
    }
    /* Unparsed bytes, not in_len: in_space() compacts consumed input away, so a
     * buffer that is full only because of executed requests still has room. */
    if (out_pending(c) < c->lim.out_high_water && c->in_len - c->in_pos < c->lim.max_request)
        st |= IPC_CONN_WANT_READ;
    return st;
}

static void protocol_error(struct ipc_conn *c, int rc)
{
    c->env->stats.proto_errors++;
    const char *text = ipc_resp_parser_errmsg(&c->parser);
    if (!text)
        text = ipc_resp_errmsg(rc);
    if (!text)
        text = "ERR Protocol error";
    IPC__IGNORE_RC(ipc_resp_write_error(&c->out, text, strlen(text)));
    c->closing = 1;
}

static void too_big(struct ipc_conn *c)
{
    c->env->stats.proto_errors++;
    IPC__IGNORE_RC(OUT_ERROR(c, "ERR Protocol error: too big request"));
    c->closing = 1;
}

/* Rewinds the fully consumed input buffer, and gives it back if a single large
 * request made it grow, so that an idle connection keeps little memory. */
static void in_drained(struct ipc_conn *c)
{
    c->in_pos = c->in_len = 0;
    if (c->in_cap > CONN_IN_INITIAL * 4) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
}

/* Runs complete requests from the input buffer while output is below high water. */
static void run_input(struct ipc_conn *c)
{
    while (!c->closing && out_pending(c) < c->lim.out_high_water && c->in_pos < c->in_len) {
        struct ipc_resp_cmd req;
        ssize_t n = ipc_resp_parse(&c->parser, c->in + c->in_pos, c->in_len - c->in_pos, &req);
        if (n == IPC_ENEEDMORE) {
            /* A request that cannot fit must be refused here: once the buffer is
             * full nothing would ever wake the connection again. */
            if (c->in_len - c->in_pos >= c->lim.max_request)
                too_big(c);
            break;
        }
        if (n == -ENOMEM) {
            c->failed = 1;
            c->closing = 1;
            break;
        }
        if (n < 0) {
            protocol_error(c, (int)n);
            break;
        }
        c->in_pos += (size_t)n;
        if (req.argc == 0)
            continue; /* "*0", "*-1" and empty lines are ignored */
        int rc = execute(c, (int)req.argc, req.argv);
        if (rc == 1) {
            c->closing = 1;
        } else if (rc < 0) {
            /* Out of memory for a reply: drop the client rather than lie to it. */
            c->failed = 1;
            c->closing = 1;
        }
    }
    if (c->in_pos == c->in_len)
        in_drained(c);
    /* The loop only stops below high water when no complete request is left. */
    if (c->eof && !c->closing && out_pending(c) < c->lim.out_high_water)
        c->closing = 1;
}

/* Makes room for at least one more byte of input (up to max_request); returns the
 * free space, 0 when no more input can be taken: the buffer is at its cap (a
 * request that fills it is answered as too big, closing the connection) or it
 * could not grow (the connection has failed). */
static size_t in_space(struct ipc_conn *c)
{
    if (c->in_pos > 0 && (c->in_cap - c->in_len < CONN_IN_INITIAL / 2 || c->in_pos == c->in_len)) {
        memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
        c->in_len -= c->in_pos;
        c->in_pos = 0;
    }
    if (c->in_cap - c->in_len > 0)
        return c->in_cap - c->in_len;
    if (c->in_cap >= c->lim.max_request) {
        if (c->in_len - c->in_pos >= c->lim.max_request)
            too_big(c);
        return 0;
    }
    size_t cap = c->in_cap ? c->in_cap * 2 : CONN_IN_INITIAL;
    if (cap > c->lim.max_request)
        cap = c->lim.max_request;
    char *p = realloc(c->in, cap);
    if (!p) {
        /* Cannot hold the request: drop the client rather than stall it forever. */
        c->failed = 1;
        c->closing = 1;
        return 0;
    }
    c->in = p;
    c->in_cap = cap;
    return c->in_cap - c->in_len;
}

long ipc_conn_feed(struct ipc_conn *c, const void *bytes, size_t len)
{
    if (!c || (!bytes && len))
        return -EINVAL;
    size_t done = 0;
    while (!c->closing) {
        run_input(c);
        if (c->closing || done == len || out_pending(c) >= c->lim.out_high_water)
            break;
        size_t space = in_space(c);
        if (space == 0)
            break;
        size_t n = len - done < space ? len - done : space;
        memcpy(c->in + c->in_len, (const char *)bytes + done, n);
        c->in_len += n;
        done += n;
        c->env->stats.bytes_in += n;
    }
    return (long)done;
}

int ipc_conn_run(struct ipc_conn *c)
{
    if (!c)
        return IPC_CONN_DONE;
    run_input(c);
    return ipc_conn_state(c);
}

void ipc_conn_eof(struct ipc_conn *c)
{
    if (!c)
        return;
    c->eof = 1;
    run_input(c); /* which closes it once nothing is left to answer */
}

size_t ipc_conn_output(const struct ipc_conn *c, const void **ptr, size_t *len)
{
    /* A dropped connection is DONE: what it had queued may end mid-reply and is
     * never to be sent. */
    size_t n = c && !c->failed ? out_pending(c) : 0;
    if (ptr)
        *ptr = c && n ? c->out.data : NULL;
    if (len)
        *len = n;
    return n;
}

int ipc_conn_consume_output(struct ipc_conn *c, size_t n)
{
    if (!c)
        return IPC_CONN_DONE;
    if (n > out_pending(c))
        n = out_pending(c);
    /* Sends are rarely partial, so consuming (moving the unsent tail down) is
     * cheap; a buffer that one large reply made grow is given back once empty. */
    IPC__IGNORE_RC(ipc_resp_buf_consume(&c->out, n)); /* n <= len */
    c->env->stats.bytes_out += n;
    if (c->out.len == 0 && c->out.cap > CONN_OUT_KEEP)
        ipc_resp_buf_free(&c->out);
    if (out_pending(c) < c->lim.out_high_water)
        run_input(c);
    return ipc_conn_state(c);
}

size_t ipc_conn_memory(const struct ipc_conn *c)
{
    return c ? c->in_cap + c->out.cap : 0;
}

int ipc_conn_execute(struct ipc_conn *c, int argc, const struct ipc_resp_arg *argv)
{
    if (!c || argc < 1 || !argv)
        return -EINVAL;
    for (int i = 0; i < argc; i++)
        if (!argv[i].ptr && argv[i].len)
            return -EINVAL;
    int rc = execute(c, argc, argv);
    if (rc == 1)
        c->closing = 1;
    return rc;
}

/* Writes pending output until it would block. Returns 0, or a negative errno. */
static int flush_out(struct ipc_conn *c, int fd)
{
    while (out_pending(c)) {
        ssize_t w = send(fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -errno;
        }
        (void)ipc_conn_consume_output(c, (size_t)w);
        if (c->closing && !out_pending(c))
            break;
    }
    return 0;
}

/* A socket error ends the connection: a reset or a broken pipe is the peer going
 * away (DONE); anything else is also returned, as the negative errno. */
static int socket_failed(struct ipc_conn *c, int err)
{
    c->failed = 1;
    c->closing = 1;
    return (err == -ECONNRESET || err == -EPIPE) ? (IPC_CONN_DONE | IPC_CONN_CLOSING) : err;
}

/* Reads what is available while input is welcome and executes it, writing
 * nothing. Returns 0, or the negative errno of a socket error. A full read loops
 * (at most 8 times) so that a large pipelined burst is taken in one call; a short
 * read means the socket is drained for now and level-triggered readiness brings
 * the caller back. Reading stops at the output high-water mark: the caller's
 * flush lets it go on. */
static int read_input(struct ipc_conn *c, int fd)
{
    for (int rounds = 0; rounds < 8; rounds++) {
        if (!(ipc_conn_state(c) & IPC_CONN_WANT_READ))
            break;
        size_t space = in_space(c);
        if (space == 0)
            break;
        ssize_t r = recv(fd, c->in + c->in_len, space, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -errno;
        }
        if (r == 0) {
            ipc_conn_eof(c);
            break;
        }
        c->in_len += (size_t)r;
        c->env->stats.bytes_in += (size_t)r;
        run_input(c);
        if ((size_t)r < space)
            break;
    }
    return 0;
}

int ipc_conn_pump_in(struct ipc_conn *c, int fd)
{
    if (!c || fd < 0)
        return -EINVAL;
    if (c->failed)
        return IPC_CONN_DONE | IPC_CONN_CLOSING;
    int rc = read_input(c, fd);
    if (rc < 0)
        return socket_failed(c, rc);
    return ipc_conn_state(c);
}

int ipc_conn_pump_out(struct ipc_conn *c, int fd)
{
    if (!c || fd < 0)
        return -EINVAL;
    if (c->failed)
        return IPC_CONN_DONE | IPC_CONN_CLOSING;
    run_input(c);
    int rc = flush_out(c, fd);
    if (rc < 0)
        return socket_failed(c, rc);
    return ipc_conn_state(c);
}

int ipc_conn_pump(struct ipc_conn *c, int fd)
{
    int st = ipc_conn_pump_in(c, fd);
    if (st < 0 || (st & IPC_CONN_DONE))
        return st;
    return ipc_conn_pump_out(c, fd);
}

int ipc_conn_serve_fd(struct ipc_conn_env *env, int fd)
{
    if (!env || fd < 0)
        return -EINVAL;
    struct ipc_conn *c;
    int rc = ipc_conn_new(&c, env);
    if (rc < 0)
        return rc;
    rc = 0;
    for (;;) {
        int st = ipc_conn_pump(c, fd);
        if (st < 0) {
            rc = st;
            break;
        }
        if (st & IPC_CONN_DONE)
            break;
        struct pollfd p = {.fd = fd, .events = 0};
        if (st & IPC_CONN_WANT_READ)
            p.events |= POLLIN;
        if (st & IPC_CONN_WANT_WRITE)
            p.events |= POLLOUT;
        if (poll(&p, 1, -1) < 0 && errno != EINTR) {
            rc = ipc__neg_errno();
            break;
        }
    }
    ipc_conn_free(c);
    return rc;
}
