/* test_conn.c - the connection engine (ipcsrv/conn.h): every command, protocol
 * errors, chunking, backpressure and the fd pump. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "ipcsrv/conn.h"
#include "ipcsrv/ctab.h"
#include "ipc/sock.h"
#ifdef IPC_TEST_FAULTS
#include "ipcsrv_test_faults.h"
#endif

struct fixture {
    ipc_ctab *table;
    struct ipc_conn_env env;
    ipc_conn *c;
};

static void fx_open(struct fixture *f, const struct ipc_conn_limits *lim)
{
    memset(f, 0, sizeof(*f));
    IPCT_OK(ipc_ctab_new(&f->table, 64));
    f->env.table = f->table;
    if (lim)
        f->env.limits = *lim;
    IPCT_OK(ipc_conn_new(&f->c, &f->env));
}

static void fx_close(struct fixture *f)
{
    ipc_conn_free(f->c);
    ipc_ctab_free(f->table);
}

/* Feeds everything (draining output into out as needed) and returns the output. */
static char *run_bytes(struct fixture *f, const char *in, size_t len, size_t chunk, size_t *outlen)
{
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t off = 0;
    for (int guard = 0; guard < 10000000; guard++) {
        const void *p;
        size_t plen;
        ipc_conn_output(f->c, &p, &plen);
        if (plen) {
            while (n + plen + 1 > cap) {
                cap *= 2;
                out = realloc(out, cap);
                assert_non_null(out);
            }
            memcpy(out + n, p, plen);
            n += plen;
            (void)ipc_conn_consume_output(f->c, plen);
            continue;
        }
        if (off == len || (ipc_conn_state(f->c) & IPC_CONN_CLOSING))
            break;
        size_t want = len - off < chunk ? len - off : chunk;
        long acc = ipc_conn_feed(f->c, in + off, want);
        assert_true(acc >= 0);
        off += (size_t)acc;
    }
    out[n] = 0;
    *outlen = n;
    return out;
}

static void expect_reply(struct fixture *f, const char *in, const char *want)
{
    size_t n;
    char *out = run_bytes(f, in, strlen(in), SIZE_MAX, &n);
    if (n != strlen(want) || memcmp(out, want, n) != 0)
        fail_msg("request %s\ngot  [%s]\nwant [%s]", in, out, want);
    free(out);
}

static void test_commands(void **state)
{
    (void)state;
    struct fixture f;
    fx_open(&f, NULL);
    expect_reply(&f, "PING\r\n", "+PONG\r\n");
    expect_reply(&f, "*2\r\n$4\r\nping\r\n$2\r\nhi\r\n", "$2\r\nhi\r\n");
    expect_reply(&f, "*2\r\n$4\r\nEcHo\r\n$0\r\n\r\n", "$0\r\n\r\n");
    expect_reply(&f, "INCR k\r\nINCR k\r\nDECR k\r\nGET k\r\n", ":1\r\n:2\r\n:1\r\n$1\r\n1\r\n");
    expect_reply(&f, "INCRBY k -11\r\nGET k\r\n", ":-10\r\n$3\r\n-10\r\n");
    expect_reply(&f, "GET nothere\r\n", "$-1\r\n");
    expect_reply(&f, "INCR j\r\nDBSIZE\r\n", ":1\r\n:2\r\n");
    expect_reply(&f, "DEL k j nothere\r\nDBSIZE\r\n", ":2\r\n:0\r\n");
    expect_reply(&f, "COMMAND DOCS\r\n", "*0\r\n");
    expect_reply(&f, "CONFIG GET save\r\n", "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    expect_reply(&f, "CONFIG GET appendonly\r\n", "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
    expect_reply(&f, "CONFIG GET maxmemory\r\n", "*0\r\n");
    expect_reply(&f, "*0\r\n\r\n*-1\r\nPING\r\n", "+PONG\r\n");
    fx_close(&f);
}

static void test_errors(void **state)
{
    (void)state;
    struct fixture f;
    fx_open(&f, NULL);
    expect_reply(&f, "PING a b\r\n", "-ERR wrong number of arguments for 'ping' command\r\n");
    expect_reply(&f, "get\r\n", "-ERR wrong number of arguments for 'get' command\r\n");
    expect_reply(&f, "IncrBy k\r\n", "-ERR wrong number of arguments for 'incrby' command\r\n");
    expect_reply(&f, "DEL\r\n", "-ERR wrong number of arguments for 'del' command\r\n");
    expect_reply(&f, "nosuch a\r\n",
                 "-ERR unknown command 'nosuch', with args beginning with: 'a' \r\n");
    /* client bytes quoted in an error never break the framing */
    expect_reply(&f, "*1\r\n$5\r\nx\r\ny!\r\n",
                 "-ERR unknown command 'x  y!', with args beginning with: \r\n");
    const char *bad[] = {"INCRBY k 1x\r\n",
                         "INCRBY k +1\r\n",
                         "INCRBY k 01\r\n",
                         "INCRBY k -0\r\n",
                         "INCRBY k 9223372036854775808\r\n",
                         "INCRBY k \"\"\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_reply(&f, bad[i], "-ERR value is not an integer or out of range\r\n");
    expect_reply(&f, "INCRBY k 9223372036854775807\r\nINCR k\r\nGET k\r\n",
                 ":9223372036854775807\r\n-ERR increment or decrement would overflow\r\n"
                 "$19\r\n9223372036854775807\r\n");
    expect_reply(&f, "INCRBY m -9223372036854775808\r\nDECR m\r\n",
                 ":-9223372036854775808\r\n-ERR increment or decrement would overflow\r\n");
    char longkey[200];
    memset(longkey, 'k', sizeof(longkey));
    char req[300];
    snprintf(req, sizeof(req), "INCR %.*s\r\n", (int)sizeof(longkey), longkey);
    size_t n;
    char *out = run_bytes(&f, req, strlen(req), SIZE_MAX, &n);
    assert_true(n > 5 && out[0] == '-');
    free(out);
    assert_true(ipc_conn_state(f.c) & IPC_CONN_WANT_READ); /* not a protocol error */
    /* DEL with one key too long deletes nothing, whatever the key order. */
    snprintf(req, sizeof(req), "INCR d\r\nDEL d %.*s\r\nGET d\r\n", 65, longkey);
    expect_reply(&f, req, ":1\r\n-ERR key too long\r\n$1\r\n1\r\n");
    fx_close(&f);
}

/* Every entry of the command table: too few and too many arguments get the arity
 * error with the lowercase name; commands without a maximum take any number. */
static void test_arity_table(void **state)
{
    (void)state;
    struct fixture f;
    fx_open(&f, NULL);
    static const struct {
        const char *req, *name;
    } wrong[] = {
        {"GET", "get"},
        {"GET a b", "get"},
        {"del", "del"},
        {"PING a b", "ping"},
        {"ping a b c", "ping"},
        {"INCR", "incr"},
        {"INCR a b", "incr"},
        {"DECR", "decr"},
        {"DECR a b", "decr"},
        {"ECHO", "echo"},
        {"ECHO a b", "echo"},
        {"INCRBY a", "incrby"},
        {"INCRBY a 1 2", "incrby"},
        {"DBSIZE x", "dbsize"},
        {"CONFIG", "config"},
        {"CONFIG GET", "config|get"},
        {"config get save x", "config|get"},
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        char req[64], want[128];
        snprintf(req, sizeof(req), "%s\r\n", wrong[i].req);
        snprintf(want, sizeof(want), "-ERR wrong number of arguments for '%s' command\r\n",
                 wrong[i].name);
        expect_reply(&f, req, want);
    }
    expect_reply(&f, "QUIT a b\r\n", "+OK\r\n");
    fx_close(&f);
    fx_open(&f, NULL);
    expect_reply(&f, "COMMAND a b c\r\n", "*0\r\n");
    expect_reply(&f, "DEL a b c d\r\n", ":0\r\n");
    size_t n;
    char *out = run_bytes(&f, "INFO a b c\r\n", 12, SIZE_MAX, &n);
    assert_true(n > 0 && out[0] == '$');
    free(out);
    expect_reply(&f, "debug die-mid-insert\r\n",
                 "-ERR unknown command 'debug', with args beginning with: 'die-mid-insert' \r\n");
#ifdef IPC_TEST_FAULTS
    /* DEBUG exists only once enabled, with its own arity */
    ipc_conn_debug_faults_enable(1);
    expect_reply(&f, "DEBUG\r\n", "-ERR wrong number of arguments for 'debug' command\r\n");
    expect_reply(&f, "DEBUG nosuch\r\n", "-ERR unknown DEBUG subcommand\r\n");
    ipc_conn_debug_faults_enable(0);
#endif
    fx_close(&f);
}

static void check_proto_error(const char *in, const char *want)
{
    struct fixture f;
    fx_open(&f, NULL);
    size_t n;
    char *out = run_bytes(&f, in, strlen(in), SIZE_MAX, &n);
    if (strcmp(out, want) != 0)
        fail_msg("request %s\ngot  [%s]\nwant [%s]", in, out, want);
    free(out);
    assert_true(ipc_conn_state(f.c) & IPC_CONN_DONE);
    /* once failed, more input is refused */
    assert_int_equal(ipc_conn_feed(f.c, "PING\r\n", 6), 0);
    fx_close(&f);
}

static void test_protocol_errors(void **state)
{
    (void)state;
    check_proto_error("PING\r\n*1048577\r\n",
                      "+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n");
    check_proto_error("*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    check_proto_error("*1\r\n$2000000\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    check_proto_error("*1\r\nx\r\n", "-ERR Protocol error: expected '$', got 'x'\r\n");
    check_proto_error("PING \"abc\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n");
    char *big = malloc(70000);
    assert_non_null(big);
    memset(big, 'a', 69999);
    big[69999] = 0;
    check_proto_error(big, "-ERR Protocol error: too big inline request\r\n");
    free(big);
}

static void test_quit_and_eof(void **state)
{
    (void)state;
    struct fixture f;
    fx_open(&f, NULL);
    expect_reply(&f, "PING\r\nQUIT\r\nPING\r\n", "+PONG\r\n+OK\r\n");
    assert_true(ipc_conn_state(f.c) & IPC_CONN_DONE);
    fx_close(&f);

    fx_open(&f, NULL);
    long acc = ipc_conn_feed(f.c, "PING\r\n*2\r\n$4\r\nECHO", 18);
    assert_int_equal(acc, 18);
    ipc_conn_eof(f.c);
    const void *p;
    size_t len;
    ipc_conn_output(f.c, &p, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(p, "+PONG\r\n", 7);
    assert_true(ipc_conn_consume_output(f.c, len) & IPC_CONN_DONE);
    fx_close(&f);
}

/* Any split of the input gives the same replies. */
static void test_chunking_invariant(void **state)
{
    (void)state;
    const char in[] = "*3\r\n$6\r\nINCRBY\r\n$1\r\nx\r\n$2\r\n42\r\nPING\r\necho \"a\\tb\"\r\n"
                      "*2\r\n$4\r\nECHO\r\n$3\r\nx\r\n\r\n*1\r\n$4\r\nPING\r\nGET x\r\n";
    struct fixture f;
    fx_open(&f, NULL);
    size_t wn;
    char *whole = run_bytes(&f, in, sizeof(in) - 1, SIZE_MAX, &wn);
    fx_close(&f);
    for (size_t chunk = 1; chunk < 9; chunk++) {
        fx_open(&f, NULL);
        size_t n;
        char *out = run_bytes(&f, in, sizeof(in) - 1, chunk, &n);
        assert_int_equal(n, wn);
        assert_memory_equal(out, whole, n);
        free(out);
        fx_close(&f);
    }
    assert_string_equal(whole,
                        ":42\r\n+PONG\r\n$3\r\na\tb\r\n$3\r\nx\r\n\r\n+PONG\r\n$2\r\n42\r\n");
    free(whole);
}

/* A client that pipelines without reading stalls itself with bounded memory. */
static void test_backpressure(void **state)
{
    (void)state;
    struct ipc_conn_limits lim = {.out_high_water = 4096};
    struct fixture f;
    fx_open(&f, &lim);
    size_t total = 0, accepted = 0;
    char req[] = "PING\r\n";
    for (int i = 0; i < 100000; i++) {
        long a = ipc_conn_feed(f.c, req, sizeof(req) - 1);
        assert_true(a >= 0);
        total += sizeof(req) - 1;
        accepted += (size_t)a;
        if ((size_t)a < sizeof(req) - 1)
            break;
    }
    assert_true(accepted < total);
    assert_false(ipc_conn_state(f.c) & IPC_CONN_WANT_READ);
    assert_true(ipc_conn_state(f.c) & IPC_CONN_WANT_WRITE);
    assert_true(ipc_conn_memory(f.c) < 256 * 1024);
    /* Draining resumes execution of what was buffered. */
    const void *p;
    size_t len, replies = 0;
    while (ipc_conn_output(f.c, &p, &len)) {
        replies += len / 7;
        (void)ipc_conn_consume_output(f.c, len);
    }
    assert_true(replies * 6 <= accepted && accepted - replies * 6 < 6);
    assert_true(ipc_conn_state(f.c) & IPC_CONN_WANT_READ);
    fx_close(&f);
}

static void test_too_big_request(void **state)
{
    (void)state;
    struct ipc_conn_limits lim = {.max_bulk = 1000, .max_inline = 500, .max_request = 2000};
    struct fixture f;
    fx_open(&f, &lim);
    /* Each argument is within max_bulk, the request is not within max_request. */
    char arg[1100];
    size_t n = (size_t)snprintf(arg, sizeof(arg), "*4\r\n$3\r\nDEL\r\n");
    char *in = malloc(4000);
    assert_non_null(in);
    memcpy(in, arg, n);
    for (int i = 0; i < 3; i++) {
        n += (size_t)sprintf(in + n, "$900\r\n");
        memset(in + n, 'a' + i, 900);
        n += 900;
        memcpy(in + n, "\r\n", 2);
        n += 2;
    }
    size_t on;
    char *out = run_bytes(&f, in, n, SIZE_MAX, &on);
    assert_string_equal(out, "-ERR Protocol error: too big request\r\n");
    assert_true(ipc_conn_state(f.c) & IPC_CONN_DONE);
    free(out);
    free(in);
    fx_close(&f);
    struct ipc_conn_env env = {.limits = {.max_bulk = 1000, .max_request = 10}};
    ipc_conn *c = (ipc_conn *)&env;
    assert_int_equal(ipc_conn_new(&c, &env), -EINVAL);
    assert_null(c);
    assert_int_equal(ipc_conn_new(&c, NULL), -EINVAL);
    /* Regression: the largest max_bulk (what `serve --max-bulk` accepts) made the
     * default max_request exceed its cap, so every connection was refused. */
    struct ipc_conn_env big = {.limits = {.max_bulk = IPC_RESP_HARD_MAX_BULK}};
    IPCT_OK(ipc_conn_new(&c, &big));
    assert_true(ipc_conn_state(c) & IPC_CONN_WANT_READ);
    ipc_conn_free(c);
    big.limits.max_bulk = (size_t)IPC_RESP_HARD_MAX_BULK + 1;
    assert_int_equal(ipc_conn_new(&c, &big), -EINVAL);
    assert_int_equal(ipc_conn_feed(NULL, "x", 1), -EINVAL);
}

static void test_execute_api(void **state)
{
    (void)state;
    struct fixture f;
    fx_open(&f, NULL);
    struct ipc_resp_arg argv[2] = {{"INCRBY", 6}, {"q", 1}};
    assert_int_equal(ipc_conn_execute(f.c, 2, argv), 0);
    struct ipc_resp_arg quit = {"quit", 4};
    assert_int_equal(ipc_conn_execute(f.c, 1, &quit), 1);
    const void *p;
    size_t len;
    ipc_conn_output(f.c, &p, &len);
    const char want[] = "-ERR wrong number of arguments for 'incrby' command\r\n+OK\r\n";
    assert_int_equal(len, sizeof(want) - 1);
    assert_memory_equal(p, want, len);
    assert_int_equal(ipc_conn_execute(f.c, 0, argv), -EINVAL);
    assert_int_equal(f.env.stats.commands, 2);
    /* Regression: {NULL, 0} is a valid empty argument (memcpy from NULL under UBSan). */
    (void)ipc_conn_consume_output(f.c, len);
    struct ipc_resp_arg echo[2] = {{"ECHO", 4}, {NULL, 0}};
    assert_int_equal(ipc_conn_execute(f.c, 2, echo), 0);
    ipc_conn_output(f.c, &p, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(p, "$0\r\n\r\n", 6);
    fx_close(&f);
}

/* Over a real socketpair, a forked client, and counters shared with the child. */
static void test_serve_fd(void **state)
{
    (void)state;
    ipc_ctab *t;
    IPCT_OK(ipc_ctab_new(&t, 16));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[1]);
        struct ipc_conn_env env = {.table = t};
        int rc = ipc_conn_serve_fd(&env, sv[0]);
        ipc__exit_child(rc == 0 ? 0 : 1);
    }
    close(sv[0]);
    /* A large pipelined burst in one write: the server must interleave reads and
     * writes, and we must read concurrently, or both sides block. */
    size_t nreq = 20000;
    const char req[] = "INCR shared\r\n";
    size_t inlen = nreq * (sizeof(req) - 1);
    char *in = malloc(inlen);
    assert_non_null(in);
    for (size_t i = 0; i < nreq; i++)
        memcpy(in + i * (sizeof(req) - 1), req, sizeof(req) - 1);
    size_t off = 0, got = 0;
    char buf[65536];
    char last[32] = {0};
    int shut = 0;
    while (1) {
        struct pollfd pf = {.fd = sv[1], .events = POLLIN | (off < inlen ? POLLOUT : 0)};
        assert_true(poll(&pf, 1, 10000) > 0);
        if ((pf.revents & POLLOUT) && off < inlen) {
            ssize_t w = send(sv[1], in + off, inlen - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            assert_true(w > 0);
            off += (size_t)w;
        }
        if (off == inlen && !shut) {
            assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
            shut = 1;
        }
        if (pf.revents & (POLLIN | POLLHUP)) {
            ssize_t r = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
            if (r == 0)
                break;
            if (r > 0) {
                got += (size_t)r;
                size_t keep = (size_t)r < sizeof(last) - 1 ? (size_t)r : sizeof(last) - 1;
                memcpy(last, buf + r - (ssize_t)keep, keep);
                last[keep] = 0;
            }
        }
    }
    close(sv[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int64_t v = 0;
    IPCT_OK(ipc_ctab_get(t, "shared", 6, &v));
    assert_int_equal(v, (int64_t)nreq);
    assert_non_null(strstr(last, ":20000\r\n"));
    assert_true(got > nreq * 4);
    free(in);
    ipc_ctab_free(t);
}

/* The halves of ipc_conn_pump: pump_in executes without writing, pump_out sends
 * the replies to everything read so far in one write. */
static void test_pump_halves(void **state)
{
    (void)state;
    struct fixture f;
    fx_open(&f, NULL);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    static const char req[] = "PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n";
    assert_int_equal(send(sv[1], req, sizeof(req) - 1, 0), (ssize_t)sizeof(req) - 1);
    int st = ipc_conn_pump_in(f.c, sv[0]);
    assert_int_equal(st, IPC_CONN_WANT_READ | IPC_CONN_WANT_WRITE);
    char buf[64];
    assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), -1); /* nothing sent yet */
    assert_int_equal(errno, EAGAIN);
    st = ipc_conn_pump_out(f.c, sv[0]);
    assert_int_equal(st, IPC_CONN_WANT_READ);
    ssize_t r = recv(sv[1], buf, sizeof(buf) - 1, 0);
    assert_true(r > 0);
    buf[r] = 0;
    assert_string_equal(buf, "+PONG\r\n$2\r\nhi\r\n+PONG\r\n");
    /* EOF: pump_in closes the connection, pump_out is then DONE. */
    assert_int_equal(send(sv[1], "QUIT\r\n", 6, 0), 6);
    st = ipc_conn_pump_in(f.c, sv[0]);
    assert_true(st & IPC_CONN_CLOSING);
    assert_true(st & IPC_CONN_WANT_WRITE);
    st = ipc_conn_pump_out(f.c, sv[0]);
    assert_true(st & IPC_CONN_DONE);
    r = recv(sv[1], buf, sizeof(buf) - 1, 0);
    assert_int_equal(r, 5);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(ipc_conn_pump_in(NULL, 0), -EINVAL);
    assert_int_equal(ipc_conn_pump_out(NULL, 0), -EINVAL);
    fx_close(&f);
}

static void test_pump_nonblocking(void **state)
{
    (void)state;
    struct fixture f;
    fx_open(&f, NULL);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    assert_int_equal(ipc_conn_pump(f.c, sv[0]) & IPC_CONN_WANT_READ, IPC_CONN_WANT_READ);
    assert_int_equal(send(sv[1], "PING\r\n*1\r\n$4\r\nPI", 16, 0), 16);
    int st = ipc_conn_pump(f.c, sv[0]);
    assert_true(st & IPC_CONN_WANT_READ);
    char buf[64];
    assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), 7);
    assert_int_equal(send(sv[1], "NG\r\n*1\r\n!\r\n", 11, 0), 11);
    st = ipc_conn_pump(f.c, sv[0]);
    assert_true(st & IPC_CONN_DONE);
    ssize_t r = recv(sv[1], buf, sizeof(buf) - 1, 0);
    assert_true(r > 0);
    buf[r] = 0;
    assert_string_equal(buf, "+PONG\r\n-ERR Protocol error: expected '$', got '!'\r\n");
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(ipc_conn_pump(NULL, 0), -EINVAL);
    fx_close(&f);
}

/* Regression: ipc_conn_pump() with a buffer at max_request. A request larger than
 * max_request got no reply (the state lost WANT_READ and the server closed the
 * socket silently), and a pipelined stream after one large request was dropped
 * because already-executed bytes still counted against max_request. */
static void test_pump_full_buffer(void **state)
{
    (void)state;
    struct ipc_conn_limits lim = {.max_bulk = 1000, .max_inline = 500, .max_request = 2000};
    struct fixture f;
    fx_open(&f, &lim);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    /* One 1,914-byte request (fills most of the 2,000-byte buffer), then PINGs. */
    char *in = malloc(8192);
    assert_non_null(in);
    size_t n = (size_t)sprintf(in, "*3\r\n$4\r\nPING\r\n$900\r\n");
    memset(in + n, 'a', 900);
    n += 900;
    n += (size_t)sprintf(in + n, "\r\n$990\r\n");
    memset(in + n, 'b', 990);
    n += 990;
    n += (size_t)sprintf(in + n, "\r\n");
    const int npings = 500;
    for (int i = 0; i < npings; i++)
        n += (size_t)sprintf(in + n, "PING\r\n");
    assert_int_equal(send(sv[1], in, n, 0), (ssize_t)n);
    const char want_first[] = "-ERR wrong number of arguments for 'ping' command\r\n";
    size_t want = sizeof(want_first) - 1 + (size_t)npings * 7, got = 0;
    char buf[4096];
    for (int round = 0; round < 1000 && got < want; round++) {
        int st = ipc_conn_pump(f.c, sv[0]);
        assert_true(st >= 0);
        assert_false(st & IPC_CONN_CLOSING);
        assert_true(st & (IPC_CONN_WANT_READ | IPC_CONN_WANT_WRITE));
        ssize_t r;
        while ((r = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
            got += (size_t)r;
    }
    assert_int_equal(got, want);

    /* A request bigger than max_request is answered, then the connection closes. */
    n = (size_t)sprintf(in, "*3\r\n$4\r\nPING\r\n$990\r\n");
    memset(in + n, 'c', 990);
    n += 990;
    n += (size_t)sprintf(in + n, "\r\n$990\r\n");
    memset(in + n, 'd', 990);
    n += 990;
    n += (size_t)sprintf(in + n, "\r\n");
    assert_int_equal(send(sv[1], in, n, 0), (ssize_t)n);
    int st = ipc_conn_pump(f.c, sv[0]);
    assert_true(st >= 0 && (st & IPC_CONN_DONE));
    ssize_t r = recv(sv[1], buf, sizeof(buf) - 1, MSG_DONTWAIT);
    assert_true(r > 0);
    buf[r] = 0;
    assert_string_equal(buf, "-ERR Protocol error: too big request\r\n");
    close(sv[0]);
    close(sv[1]);
    free(in);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_commands),         IPCT_TEST(test_errors),
        IPCT_TEST(test_arity_table),      IPCT_TEST(test_protocol_errors),
        IPCT_TEST(test_quit_and_eof),     IPCT_TEST(test_chunking_invariant),
        IPCT_TEST(test_backpressure),     IPCT_TEST(test_too_big_request),
        IPCT_TEST(test_execute_api),      IPCT_TEST(test_serve_fd),
        IPCT_TEST(test_pump_halves),      IPCT_TEST(test_pump_nonblocking),
        IPCT_TEST(test_pump_full_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
