/* test_resp.c - unit tests of the RESP2 request parser and reply writer. */
#include <stdint.h>
#include <sys/mman.h>

#include "testutil.h"

#include "ipc/error.h"
#include "ipc/resp.h"

#define S(lit) lit, sizeof(lit) - 1

/* ---- helpers ------------------------------------------------------------- */

/* A transcript of what a parser produced: commands as "[n|len:bytes|...]", ignored
 * requests as "_", the final error as "E<code>", so that two runs can be compared. */
struct transcript {
    char *s;
    size_t len, cap;
};

static void tr_add(struct transcript *t, const void *p, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        assert_non_null(t->s);
    }
    memcpy(t->s + t->len, p, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void tr_cmd(struct transcript *t, const struct ipc_resp_cmd *c)
{
    char tmp[64];
    if (c->argc == 0) {
        tr_add(t, "_", 1);
        return;
    }
    int n = snprintf(tmp, sizeof(tmp), "[%zu%s", c->argc, c->is_inline ? "i" : "m");
    tr_add(t, tmp, (size_t)n);
    for (size_t i = 0; i < c->argc; i++) {
        n = snprintf(tmp, sizeof(tmp), "|%zu:", c->argv[i].len);
        tr_add(t, tmp, (size_t)n);
        tr_add(t, c->argv[i].ptr, c->argv[i].len);
    }
    tr_add(t, "]", 1);
}

static void tr_err(struct transcript *t, ssize_t rc, const struct ipc_resp_parser *p)
{
    char tmp[128];
    int n = snprintf(tmp, sizeof(tmp), "E%zd(%s)", rc, ipc_resp_parser_errmsg(p));
    tr_add(t, tmp, (size_t)n);
}

/* Parses the whole input in one buffer. */
static void run_whole(const char *in, size_t len, const struct ipc_resp_limits *lim,
                      struct transcript *t)
{
    struct ipc_resp_parser p;
    IPCT_OK(ipc_resp_parser_init(&p, lim));
    size_t off = 0;
    for (;;) {
        struct ipc_resp_cmd c;
        ssize_t rc = ipc_resp_parse(&p, in + off, len - off, &c);
        if (rc == IPC_ENEEDMORE)
            break;
        if (rc < 0) {
            tr_err(t, rc, &p);
            /* sticky until reset */
            assert_int_equal(ipc_resp_parse(&p, in + off, len - off, &c), rc);
            assert_int_equal(c.argc, 0);
            break;
        }
        assert_true(rc > 0 && (size_t)rc <= len - off);
        for (size_t i = 0; i < c.argc; i++) /* argv lies inside the input or scratch */
            if (c.argv[i].ptr >= in && c.argv[i].ptr < in + len)
                assert_true(c.argv[i].ptr + c.argv[i].len <= in + off + (size_t)rc);
        tr_cmd(t, &c);
        off += (size_t)rc;
    }
    ipc_resp_parser_free(&p);
}

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Feeds the input as a socket would deliver it: chunk sizes from `chunk` (1 = byte
 * at a time, 0 = random 1..64). The caller's buffer is reallocated to its exact size
 * on every append so that it moves, and ASan catches any read beyond it or any
 * pointer the parser kept from an earlier call. */
static void run_chunked(const char *in, size_t len, size_t chunk, const struct ipc_resp_limits *lim,
                        struct transcript *t)
{
    struct ipc_resp_parser p;
    IPCT_OK(ipc_resp_parser_init(&p, lim));
    char *buf = NULL;
    size_t have = 0, fed = 0;
    int done = 0;
    while (!done) {
        struct ipc_resp_cmd c;
        ssize_t rc = ipc_resp_parse(&p, buf, have, &c);
        if (rc == IPC_ENEEDMORE) {
            if (fed == len)
                break;
            size_t n = chunk ? chunk : 1 + (size_t)(rng() % 64);
            if (n > len - fed)
                n = len - fed;
            char *nb = malloc(have + n);
            assert_non_null(nb);
            if (have)
                memcpy(nb, buf, have);
            memcpy(nb + have, in + fed, n);
            free(buf);
            buf = nb;
            have += n;
            fed += n;
            continue;
        }
        if (rc < 0) {
            tr_err(t, rc, &p);
            done = 1;
            break;
        }
        tr_cmd(t, &c);
        memmove(buf, buf + rc, have - (size_t)rc);
        have -= (size_t)rc;
    }
    free(buf);
    ipc_resp_parser_free(&p);
}

static void assert_chunking_invariant(const char *in, size_t len, const struct ipc_resp_limits *lim)
{
    struct transcript whole = {0}, one = {0}, rnd = {0};
    tr_add(&whole, "", 0);
    tr_add(&one, "", 0);
    tr_add(&rnd, "", 0);
    run_whole(in, len, lim, &whole);
    run_chunked(in, len, 1, lim, &one);
    rng_state = 0x9e3779b97f4a7c15ull ^ len;
    run_chunked(in, len, 0, lim, &rnd);
    assert_non_null(whole.s);
    if (strcmp(whole.s, one.s) != 0 || strcmp(whole.s, rnd.s) != 0)
        fail_msg("whole:  %s\nbyte:   %s\nrandom: %s", whole.s, one.s, rnd.s);
    free(whole.s);
    free(one.s);
    free(rnd.s);
}

/* Parses exactly one request from in and returns the result code. */
static ssize_t parse1(struct ipc_resp_parser *p, const char *in, size_t len, struct ipc_resp_cmd *c)
{
    return ipc_resp_parse(p, in, len, c);
}

static void assert_arg(const struct ipc_resp_cmd *c, size_t i, const char *s)
{
    assert_true(i < c->argc);
    if (c->argv[i].len != strlen(s) || memcmp(c->argv[i].ptr, s, c->argv[i].len) != 0)
        fail_msg("argv[%zu] = '%.*s', expected '%s'", i, (int)c->argv[i].len, c->argv[i].ptr, s);
}

/* ---- parser -------------------------------------------------------------- */

static void test_multibulk(void **state)
{
    (void)state;
    struct ipc_resp_parser p = {0}; /* all-zero is a valid parser */
    struct ipc_resp_cmd c;
    static const char in[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhe\0lo\r\n";
    size_t len = sizeof(in) - 1;
    assert_int_equal(parse1(&p, in, len, &c), (ssize_t)len);
    assert_int_equal(c.argc, 3);
    assert_false(c.is_inline);
    assert_arg(&c, 0, "SET");
    assert_arg(&c, 1, "k");
    assert_int_equal(c.argv[2].len, 5);
    assert_memory_equal(c.argv[2].ptr, "he\0lo", 5); /* binary safe */
    /* zero-copy: argv points into the input */
    assert_ptr_equal(c.argv[0].ptr, in + 8);
    assert_ptr_equal(c.argv[2].ptr, in + len - 7);

    /* empty argument, and every prefix is "need more" with nothing consumed */
    static const char in2[] = "*2\r\n$0\r\n\r\n$4\r\nPING\r\n";
    for (size_t k = 0; k < sizeof(in2) - 1; k++)
        assert_int_equal(parse1(&p, in2, k, &c), IPC_ENEEDMORE);
    assert_int_equal(parse1(&p, in2, sizeof(in2) - 1, &c), (ssize_t)sizeof(in2) - 1);
    assert_int_equal(c.argc, 2);
    assert_int_equal(c.argv[0].len, 0);
    assert_arg(&c, 1, "PING");
    ipc_resp_parser_free(&p);
}

static void test_inline(void **state)
{
    (void)state;
    struct ipc_resp_parser p = {0};
    struct ipc_resp_cmd c;
    static const char a[] = "PING\r\n";
    assert_int_equal(parse1(&p, S(a), &c), 6);
    assert_int_equal(c.argc, 1);
    assert_true(c.is_inline);
    assert_arg(&c, 0, "PING");
    assert_ptr_equal(c.argv[0].ptr, a);

    static const char b[] = "  set\tk   v \r\n";
    assert_int_equal(parse1(&p, S(b), &c), (ssize_t)sizeof(b) - 1);
    assert_int_equal(c.argc, 3);
    assert_arg(&c, 0, "set");
    assert_arg(&c, 1, "k");
    assert_arg(&c, 2, "v");
    assert_ptr_equal(c.argv[1].ptr, b + 6);

    /* bare \n ends a line too. As in sdssplitargs, \v and \f are skipped between
     * arguments (isspace) but do not end an unquoted one. */
    assert_int_equal(parse1(&p, S("get x\n"), &c), 6);
    assert_int_equal(c.argc, 2);
    assert_int_equal(parse1(&p, S("\v\fa \fb\n"), &c), 7);
    assert_int_equal(c.argc, 2);
    assert_arg(&c, 0, "a");
    assert_arg(&c, 1, "b");
    assert_int_equal(parse1(&p, S("a\vb\n"), &c), 4);
    assert_int_equal(c.argc, 1);
    assert_arg(&c, 0, "a\vb");
    /* no newline yet: need more */
    assert_int_equal(parse1(&p, S("PING"), &c), IPC_ENEEDMORE);
    assert_int_equal(parse1(&p, S("PING\r"), &c), IPC_ENEEDMORE);
    assert_int_equal(parse1(&p, S("PING\r\n"), &c), 6);
    /* a NUL ends the line's content, as in Redis (sdssplitargs sees a C string) */
    assert_int_equal(parse1(&p, S("a\0b c\n"), &c), 6);
    assert_int_equal(c.argc, 1);
    assert_arg(&c, 0, "a");
    ipc_resp_parser_free(&p);
}

static void test_ignored(void **state)
{
    (void)state;
    struct ipc_resp_parser p = {0};
    struct ipc_resp_cmd c;
    static const struct {
        const char *in;
        size_t len;
    } cases[] = {{S("*0\r\n")}, {S("*-1\r\n")}, {S("*-42\r\n")}, {S("*-9223372036854775808\r\n")},
                 {S("\r\n")},   {S("\n")},      {S("  \t \r\n")}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c.argc = 99;
        assert_int_equal(parse1(&p, cases[i].in, cases[i].len, &c), (ssize_t)cases[i].len);
        assert_int_equal(c.argc, 0);
        assert_null(ipc_resp_parser_errmsg(&p));
    }
    /* an ignored request is consumed on its own, the next one stays */
    assert_int_equal(parse1(&p, S("*0\r\n*1\r\n$4\r\nPI"), &c), 4);
    assert_int_equal(c.argc, 0);
    /* empty input */
    assert_int_equal(parse1(&p, NULL, 0, &c), IPC_ENEEDMORE);
    ipc_resp_parser_free(&p);
}

static void test_pipelined(void **state)
{
    (void)state;
    static const char in[] = "*1\r\n$4\r\nPING\r\n"
                             "ECHO hi\r\n"
                             "*0\r\n"
                             "\r\n"
                             "*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n"
                             "set \"a b\" 'c'\n"
                             "*-1\r\n"
                             "*3\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n";
    struct transcript t = {0};
    run_whole(in, sizeof(in) - 1, NULL, &t);
    assert_string_equal(t.s, "[1m|4:PING][2i|4:ECHO|2:hi]__[2m|4:INCR|1:c]"
                             "[3i|3:set|3:a b|1:c]_[3m|3:DEL|1:a|1:b]");
    free(t.s);
    assert_chunking_invariant(in, sizeof(in) - 1, NULL);
}

static void test_quotes(void **state)
{
    (void)state;
    struct ipc_resp_parser p = {0};
    struct ipc_resp_cmd c;
    static const char in[] = "set \"a b\" 'c d'\r\n";
    assert_int_equal(parse1(&p, S(in), &c), (ssize_t)sizeof(in) - 1);
    assert_int_equal(c.argc, 3);
    assert_arg(&c, 1, "a b");
    assert_arg(&c, 2, "c d");
    /* quoted arguments live in the parser's scratch, unquoted ones in the input */
    assert_ptr_equal(c.argv[0].ptr, in);
    assert_false(c.argv[1].ptr >= in && c.argv[1].ptr < in + sizeof(in));

    static const char esc[] = "x \"\\n\\r\\t\\b\\a\\\\\\\"\\x41\\x4a\\x4G\\q\" 'it\\'s' 'a\\nb'\n";
    assert_int_equal(parse1(&p, S(esc), &c), (ssize_t)sizeof(esc) - 1);
    assert_int_equal(c.argc, 4);
    assert_arg(&c, 1, "\n\r\t\b\a\\\"AJx4Gq");
    assert_arg(&c, 2, "it's");
    assert_arg(&c, 3, "a\\nb");

    /* \x00 makes a NUL byte inside an argument */
    assert_int_equal(parse1(&p, S("\"a\\x00b\"\n"), &c), 9);
    assert_int_equal(c.argv[0].len, 3);
    assert_memory_equal(c.argv[0].ptr, "a\0b", 3);

    /* an unquoted prefix joins the quoted part; empty quotes are an empty arg */
    assert_int_equal(parse1(&p, S("foo\"bar baz\" \"\" ''\n"), &c), 19);
    assert_int_equal(c.argc, 3);
    assert_arg(&c, 0, "foobar baz");
    assert_arg(&c, 1, "");
    assert_arg(&c, 2, "");
    /* a quote just before the CR of CRLF counts as followed by the end */
    assert_int_equal(parse1(&p, S("\"x\"\r\n"), &c), 5);
    assert_arg(&c, 0, "x");
    ipc_resp_parser_free(&p);
}

static void expect_error(const char *in, size_t len, const struct ipc_resp_limits *lim,
                         ssize_t code, const char *text)
{
    struct ipc_resp_parser p;
    IPCT_OK(ipc_resp_parser_init(&p, lim));
    struct ipc_resp_cmd c;
    ssize_t rc = ipc_resp_parse(&p, in, len, &c);
    if (rc != code)
        fail_msg("input '%.*s': got %zd, expected %zd", (int)len, in, rc, code);
    assert_int_equal(c.argc, 0);
    assert_non_null(ipc_resp_parser_errmsg(&p));
    assert_string_equal(ipc_resp_parser_errmsg(&p), text);
    /* sticky, and the reply line is the exact Redis text */
    assert_int_equal(ipc_resp_parse(&p, in, len, &c), code);
    struct ipc_resp_buf out = {0};
    IPCT_OK(ipc_resp_write_parse_error(&out, &p));
    assert_int_equal(out.len, strlen(text) + 3);
    assert_int_equal(out.data[0], '-');
    assert_memory_equal(out.data + 1, text, strlen(text));
    assert_memory_equal(out.data + 1 + strlen(text), "\r\n", 2);
    ipc_resp_buf_free(&out);
    /* reset clears it */
    ipc_resp_parser_reset(&p);
    assert_null(ipc_resp_parser_errmsg(&p));
    assert_int_equal(ipc_resp_parse(&p, S("PING\n"), &c), 5);
    ipc_resp_parser_free(&p);
    assert_chunking_invariant(in, len, lim);
}

#define MB "ERR Protocol error: invalid multibulk length"
#define BL "ERR Protocol error: invalid bulk length"
#define IL "ERR Protocol error: too big inline request"
#define QT "ERR Protocol error: unbalanced quotes in request"

static void test_protocol_errors(void **state)
{
    (void)state;
    expect_error(S("*abc\r\n"), NULL, IPC_EPROTO_MULTIBULK, MB);
    expect_error(S("*1048577\r\n"), NULL, IPC_EPROTO_MULTIBULK, MB);
    expect_error(S("*+1\r\n"), NULL, IPC_EPROTO_MULTIBULK, MB);
    expect_error(S("*-9223372036854775809\r\n"), NULL, IPC_EPROTO_MULTIBULK, MB);
    expect_error(S("* 1\r\n"), NULL, IPC_EPROTO_MULTIBULK, MB);
    expect_error(S("*1 \r\n"), NULL, IPC_EPROTO_MULTIBULK, MB);
    expect_error(S("*01\r\n"), NULL, IPC_EPROTO_MULTIBULK, MB);
    expect_error(S("*-0\r\n"), NULL, IPC_EPROTO_MULTIBULK, MB);
    expect_error(S("*-\r\n"), NULL, IPC_EPROTO_MULTIBULK, MB);
    expect_error(S("*\r\n"), NULL, IPC_EPROTO_MULTIBULK, MB);
    expect_error(S("*1\rX"), NULL, IPC_EPROTO_MULTIBULK, MB);
    expect_error(S("*1\n"), NULL, IPC_EPROTO_MULTIBULK, MB);

    expect_error(S("*1\r\n$abc\r\n"), NULL, IPC_EPROTO_BULK, BL);
    expect_error(S("*1\r\n$-1\r\n"), NULL, IPC_EPROTO_BULK, BL);
    expect_error(S("*1\r\n$+1\r\n"), NULL, IPC_EPROTO_BULK, BL);
    expect_error(S("*1\r\n$01\r\n"), NULL, IPC_EPROTO_BULK, BL);
    expect_error(S("*1\r\n$\r\n"), NULL, IPC_EPROTO_BULK, BL);
    expect_error(S("*1\r\n$1048577\r\n"), NULL, IPC_EPROTO_BULK, BL);
    expect_error(S("*1\r\n$3\r\nabcd\r\n"), NULL, IPC_EPROTO_BULK, BL); /* no CRLF after */
    expect_error(S("*1\r\n$3\r\nabc\rX"), NULL, IPC_EPROTO_BULK, BL);

    expect_error(S("*1\r\nx"), NULL, IPC_EPROTO_DOLLAR,
                 "ERR Protocol error: expected '$', got 'x'");
    expect_error(S("*2\r\n$1\r\na\r\n:5\r\n"), NULL, IPC_EPROTO_DOLLAR,
                 "ERR Protocol error: expected '$', got ':'");
    /* CR, LF and NUL print as a space so the reply stays one line */
    expect_error(S("*1\r\n\r\n"), NULL, IPC_EPROTO_DOLLAR,
                 "ERR Protocol error: expected '$', got ' '");
    expect_error(S("*1\r\n\n"), NULL, IPC_EPROTO_DOLLAR,
                 "ERR Protocol error: expected '$', got ' '");

    expect_error(S("\"abc\n"), NULL, IPC_EPROTO_QUOTES, QT);
    expect_error(S("'abc\n"), NULL, IPC_EPROTO_QUOTES, QT);
    expect_error(S("\"a\"b\n"), NULL, IPC_EPROTO_QUOTES, QT);
    expect_error(S("'a'b\n"), NULL, IPC_EPROTO_QUOTES, QT);
    expect_error(S("set k \"a\\\"\n"), NULL, IPC_EPROTO_QUOTES, QT);
    expect_error(S("\"a\\\n"), NULL, IPC_EPROTO_QUOTES, QT);

    /* inline: 64 KiB of content is fine, one byte more is not, newline or not */
    size_t n = IPC_RESP_DEFAULT_MAX_INLINE;
    char *big = malloc(n + 2);
    assert_non_null(big);
    memset(big, 'a', n + 1);
    big[n] = '\n';
    struct transcript t = {0};
    run_whole(big, n + 1, NULL, &t);
    assert_true(strncmp(t.s, "[1i|65536:", 10) == 0);
    free(t.s);
    memset(big, 'a', n + 2);
    big[n + 1] = '\n';
    expect_error(big, n + 2, NULL, IPC_EPROTO_INLINE, IL);
    expect_error(big, n + 1, NULL, IPC_EPROTO_INLINE, IL); /* no newline yet */
    free(big);

    /* the static texts */
    assert_string_equal(ipc_resp_errmsg(IPC_EPROTO_MULTIBULK), MB);
    assert_string_equal(ipc_resp_errmsg(IPC_EPROTO_BULK), BL);
    assert_string_equal(ipc_resp_errmsg(IPC_EPROTO_INLINE), IL);
    assert_string_equal(ipc_resp_errmsg(IPC_EPROTO_QUOTES), QT);
    assert_null(ipc_resp_errmsg(-EINVAL));
    assert_null(ipc_resp_errmsg(0));
}

/* Limits fail before the data they announce has arrived. */
static void test_limits_early(void **state)
{
    (void)state;
    struct ipc_resp_parser p = {0};
    struct ipc_resp_cmd c;
    assert_int_equal(parse1(&p, S("*1\r\n$2000000000\r\n"), &c), IPC_EPROTO_BULK);
    ipc_resp_parser_free(&p);
    /* even before the header's CRLF: the digit that passes the limit is enough */
    assert_int_equal(parse1(&p, S("*1\r\n$2000000"), &c), IPC_EPROTO_BULK);
    ipc_resp_parser_free(&p);
    assert_int_equal(parse1(&p, S("*1\r\n$104857"), &c), IPC_ENEEDMORE);
    assert_int_equal(parse1(&p, S("*1\r\n$1048576\r\n"), &c), IPC_ENEEDMORE);
    ipc_resp_parser_free(&p);
    assert_int_equal(parse1(&p, S("*9999999"), &c), IPC_EPROTO_MULTIBULK);
    ipc_resp_parser_free(&p);
    assert_int_equal(parse1(&p, S("*1048576\r\n"), &c), IPC_ENEEDMORE);
    /* the argv array grows with the arguments that arrived, not with the count */
    assert_int_equal(parse1(&p, S("*1048576\r\n$1\r\na\r\n$1\r\nb\r\n"), &c), IPC_ENEEDMORE);
    assert_true(p.args_cap < 64);
    ipc_resp_parser_free(&p);

    /* configured limits */
    struct ipc_resp_limits lim = {.max_multibulk = 2, .max_bulk = 10, .max_inline = 8};
    IPCT_OK(ipc_resp_parser_init(&p, &lim));
    static const char ok1[] = "*1\r\n$10\r\n0123456789\r\n";
    static const char ok2[] = "*2\r\n$1\r\na\r\n$1\r\nb\r\n";
    assert_int_equal(parse1(&p, S(ok1), &c), (ssize_t)sizeof(ok1) - 1);
    assert_int_equal(parse1(&p, S(ok2), &c), (ssize_t)sizeof(ok2) - 1);
    assert_int_equal(parse1(&p, S("12345678\n"), &c), 9);
    assert_int_equal(parse1(&p, S("*1\r\n$11"), &c), IPC_EPROTO_BULK);
    ipc_resp_parser_reset(&p);
    assert_int_equal(parse1(&p, S("*3"), &c), IPC_EPROTO_MULTIBULK);
    ipc_resp_parser_reset(&p);
    assert_int_equal(parse1(&p, S("123456789"), &c), IPC_EPROTO_INLINE);
    ipc_resp_parser_free(&p);

    lim = (struct ipc_resp_limits){.max_bulk = (size_t)IPC_RESP_HARD_MAX_BULK + 1};
    assert_int_equal(ipc_resp_parser_init(&p, &lim), -EINVAL);
    lim = (struct ipc_resp_limits){.max_multibulk = IPC_RESP_DEFAULT_MAX_MULTIBULK + 1};
    assert_int_equal(ipc_resp_parser_init(&p, &lim), -EINVAL);
    lim = (struct ipc_resp_limits){.max_inline = (size_t)IPC_RESP_HARD_MAX_INLINE + 1};
    assert_int_equal(ipc_resp_parser_init(&p, &lim), -EINVAL);
    assert_int_equal(ipc_resp_parser_init(NULL, NULL), -EINVAL);
    lim = (struct ipc_resp_limits){.max_bulk = IPC_RESP_HARD_MAX_BULK};
    IPCT_OK(ipc_resp_parser_init(&p, &lim));
    assert_int_equal(parse1(&p, S("*1\r\n$536870912\r\n"), &c), IPC_ENEEDMORE);
    ipc_resp_parser_reset(&p);
    assert_int_equal(parse1(&p, S("*1\r\n$536870913\r\n"), &c), IPC_EPROTO_BULK);
    ipc_resp_parser_free(&p);

    assert_int_equal(ipc_resp_parse(NULL, "x", 1, &c), -EINVAL);
    assert_int_equal(ipc_resp_parse(&p, "x", 1, NULL), -EINVAL);
    assert_int_equal(ipc_resp_parse(&p, NULL, 1, &c), -EINVAL);
}

static void test_chunking_invariance(void **state)
{
    (void)state;
    static const char *streams[] = {
        "*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
        "set \"a\\x41\" 'b c'\r\n\r\n*0\r\n*-1\r\nget a\n*1\r\n$1\r\nx\r\n",
        "PING\r\n*1\r\n$3\r\nabc\r\n*2\r\n$1\r\na\r\nX",
        "*1\r\n$4\r\nPING\r\nset a \"b\"c\n",
        "\n\n\n*3\r\n$1\r\na\r\n$0\r\n\r\n$2\r\nbc\r\n*1\r\n$99999999\r\n",
        "*2\r\n$1\r\na\r\n*1\r\n",
        "ping\r\n*1048577\r\n",
    };
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++)
        assert_chunking_invariant(streams[i], strlen(streams[i]), NULL);

    /* a long multibulk command with many arguments */
    struct transcript t = {0};
    tr_add(&t, "*1000\r\n", 7);
    for (int i = 0; i < 1000; i++) {
        char a[32];
        int n = snprintf(a, sizeof(a), "$%d\r\n%0*d\r\n", i % 10, i % 10, 0);
        tr_add(&t, a, (size_t)n);
    }
    tr_add(&t, "PING\n", 5);
    assert_chunking_invariant(t.s, t.len, NULL);
    free(t.s);

    /* random bytes drawn from a RESP-ish alphabet */
    static const char alpha[] = "*$\r\n0123-+ab\"'\\x ";
    rng_state = 12345;
    for (int k = 0; k < 300; k++) {
        char buf[96];
        size_t n = 1 + (size_t)(rng() % sizeof(buf));
        for (size_t i = 0; i < n; i++)
            buf[i] = alpha[rng() % (sizeof(alpha) - 1)];
        assert_chunking_invariant(buf, n, NULL);
    }
}

/* Inputs that end exactly at a PROT_NONE page: a read one byte too far faults. */
static void test_guard_page(void **state)
{
    (void)state;
    long pg = sysconf(_SC_PAGESIZE);
    char *map =
        mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
    static const char *inputs[] = {
        "*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n",
        "set \"a\\x4\" 'b\\' c\r\n",
        "\"x\\",
        "*1\r\n$3\r\nabc\r",
        "*-12",
        "*1\r\n$12345",
        "PING",
        "'abc'\n",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        size_t len = strlen(inputs[i]);
        for (size_t k = 0; k <= len; k++) {
            /* every prefix, placed so that its last byte is the last readable one */
            char *at = map + pg - k;
            memcpy(at, inputs[i], k);
            struct ipc_resp_parser p = {0};
            struct ipc_resp_cmd c;
            ssize_t rc = ipc_resp_parse(&p, at, k, &c);
            assert_true(rc == IPC_ENEEDMORE || rc < 0 || (size_t)rc <= k);
            for (size_t a = 0; a < c.argc; a++)
                if (c.argv[a].ptr >= map && c.argv[a].ptr < map + pg)
                    assert_true(c.argv[a].ptr + c.argv[a].len <= map + pg);
            ipc_resp_parser_free(&p);
        }
    }
    assert_int_equal(munmap(map, (size_t)pg * 2), 0);
}

/* ---- reply writer -------------------------------------------------------- */

static void expect_buf(struct ipc_resp_buf *b, const char *s, size_t n)
{
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, s, n);
    IPCT_OK(ipc_resp_buf_consume(b, b->len));
    assert_int_equal(b->len, 0);
}

static void test_writer(void **state)
{
    (void)state;
    struct ipc_resp_buf b = {0};
    IPCT_OK(ipc_resp_write_simple(&b, S("OK")));
    expect_buf(&b, S("+OK\r\n"));
    IPCT_OK(ipc_resp_write_simple(&b, S("")));
    expect_buf(&b, S("+\r\n"));
    assert_int_equal(ipc_resp_write_simple(&b, S("a\r\nb")), -EINVAL);
    assert_int_equal(b.len, 0);
    IPCT_OK(ipc_resp_write_error(&b, S("ERR unknown command 'a\r\nb'")));
    expect_buf(&b, S("-ERR unknown command 'a  b'\r\n"));
    IPCT_OK(ipc_resp_write_int(&b, 0));
    IPCT_OK(ipc_resp_write_int(&b, INT64_MAX));
    IPCT_OK(ipc_resp_write_int(&b, INT64_MIN));
    expect_buf(&b, S(":0\r\n:9223372036854775807\r\n:-9223372036854775808\r\n"));
    IPCT_OK(ipc_resp_write_bulk(&b, "he\0lo", 5));
    IPCT_OK(ipc_resp_write_bulk(&b, NULL, 0));
    IPCT_OK(ipc_resp_write_null(&b));
    expect_buf(&b, S("$5\r\nhe\0lo\r\n$0\r\n\r\n$-1\r\n"));
    IPCT_OK(ipc_resp_write_array(&b, 2));
    IPCT_OK(ipc_resp_write_bulk(&b, "a", 1));
    IPCT_OK(ipc_resp_write_int(&b, -1));
    IPCT_OK(ipc_resp_write_empty_array(&b));
    IPCT_OK(ipc_resp_write_null_array(&b));
    IPCT_OK(ipc_resp_buf_append(&b, "+X\r\n", 4));
    expect_buf(&b, S("*2\r\n$1\r\na\r\n:-1\r\n*0\r\n*-1\r\n+X\r\n"));

    /* consume keeps the unsent tail in order */
    IPCT_OK(ipc_resp_write_simple(&b, S("ONE")));
    IPCT_OK(ipc_resp_write_simple(&b, S("TWO")));
    IPCT_OK(ipc_resp_buf_consume(&b, 3));
    assert_int_equal(ipc_resp_buf_consume(&b, 100), -EINVAL);
    expect_buf(&b, S("E\r\n+TWO\r\n"));
    ipc_resp_buf_free(&b);
    assert_null(b.data);

    /* bounded: all-or-nothing at max */
    struct ipc_resp_buf s = {.max = 16};
    assert_int_equal(ipc_resp_write_bulk(&s, "0123456789", 10), -ENOBUFS); /* 17 > 16 */
    assert_int_equal(s.len, 0);
    IPCT_OK(ipc_resp_write_simple(&s, S("0123456789")));   /* 13 bytes */
    assert_int_equal(ipc_resp_write_int(&s, 1), -ENOBUFS); /* 13 + 4 > 16 */
    assert_int_equal(s.len, 13);
    IPCT_OK(ipc_resp_write_simple(&s, S(""))); /* exactly 16 */
    assert_int_equal(s.len, 16);
    assert_true(s.cap <= 16);
    ipc_resp_buf_free(&s);

    /* default max: a reply bigger than 8 MiB is refused, not allocated */
    assert_int_equal(ipc_resp_write_bulk(&b, (const char *)&b, IPC_RESP_BUF_DEFAULT_MAX), -ENOBUFS);
    assert_null(b.data);

    assert_int_equal(ipc_resp_write_simple(NULL, S("x")), -EINVAL);
    assert_int_equal(ipc_resp_write_bulk(&b, NULL, 3), -EINVAL);
    assert_int_equal(ipc_resp_buf_append(NULL, "x", 1), -EINVAL);
    struct ipc_resp_parser p = {0};
    assert_int_equal(ipc_resp_write_parse_error(&b, &p), -EINVAL);
    ipc_resp_buf_free(NULL);
    ipc_resp_parser_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_multibulk),    IPCT_TEST(test_inline),
        IPCT_TEST(test_ignored),      IPCT_TEST(test_pipelined),
        IPCT_TEST(test_quotes),       IPCT_TEST(test_protocol_errors),
        IPCT_TEST(test_limits_early), IPCT_TEST(test_chunking_invariance),
        IPCT_TEST(test_guard_page),   IPCT_TEST(test_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
