/* resp_parse - fuzz target for the incremental RESP2 request parser (ipc/resp.h).
 *
 * Targets: ipc_resp_parser_init, ipc_resp_parse, ipc_resp_parser_errmsg,
 * ipc_resp_errmsg, ipc_resp_parser_reset, ipc_resp_parser_free, and the reply
 * writer: ipc_resp_write_{array,bulk,simple,error,int,null,empty_array,
 * null_array,parse_error}, ipc_resp_buf_consume, ipc_resp_buf_free.
 *
 * A one-byte payload checks argument validation instead (api_edges).
 *
 * Input: a fault schedule (fuzz_util.h: byte 0 = step count K, then K 4-byte
 * steps; 0x00 = none), then the payload: byte 0 = config (bits 0-1: limits
 * profile: 0 defaults, 1 small, 2 tiny, 3 from the input: the next 3 bytes give
 * max_multibulk, max_bulk and max_inline, each & 63, 0 meaning the default, so
 * that a fuzzer reaches limit-1, limit and limit+1 of every limit at once; bits
 * 4-7: largest chunk 2^n bytes), byte 1 = seed of the chunking schedule
 * (fuzz_sched in fuzz_util.h: up to FUZZ_SCHED_CUTS chunks of 1..2^n bytes, from a
 * seed-derived offset when bit 7 is set, then the rest in one piece), [the 3
 * limit bytes], then the request stream.
 *
 * Invariants (abort on violation):
 *  - the oracle: on every buffer the parser is handed (whole and chunked), the
 *    independent request model of model_resp.h (written from the protocol spec,
 *    not from resp.c) reaches the same decision: the same command (consumed
 *    bytes, argc, inline flag, argument bytes), "need more" on the same
 *    truncated prefixes, or the same protocol error code and exact text;
 *  - whole vs chunked: parsing the stream from one buffer and parsing it as it
 *    arrives in chunks (when a chunk arrives the unconsumed bytes move, since the
 *    contract lets the caller's buffer move, and end flush with a heap block;
 *    commands completed by that chunk are then parsed in place, as a server
 *    does) gives the same
 *    commands (consumed offsets, argc, inline flag, argument bytes), the same
 *    protocol error after the same commands, and the same unconsumed tail;
 *  - a consumed count is within the buffer; every argument lies inside the bytes
 *    consumed, or (quoted inline arguments only) inside the parser's scratch;
 *    argc <= max_multibulk and bulk lengths <= max_bulk for multibulk requests,
 *    argument lengths <= max_inline for inline ones;
 *  - IPC_ENEEDMORE never holds more than one request's worth of bytes: with small
 *    limits, the pending bytes stay below what the limits allow;
 *  - errors are one of the five protocol errors, sticky, with the Redis text
 *    "ERR Protocol error: ..." on one line; reset clears them;
 *  - each multibulk command, re-encoded with the reply writer's array and bulk
 *    functions, parses back to the same arguments;
 *  - replies written from the first command's arguments (the first REPLY_ARGS of
 *    them) with every ipc_resp_write_* function (into a small bounded buffer) are
 *    exactly the bytes resp.h's contract gives (built independently here), and a
 *    write fails with -ENOBUFS exactly when they do not fit, leaving the buffer
 *    unchanged;
 *  - under the fault schedule (armed for both passes; the seam calls here are the
 *    parser's and the writer's reallocs): a parse or a write returns -ENOMEM only
 *    when a fault was injected during that call; a write that fails so leaves the
 *    buffer unchanged; a parse that fails so consumed nothing, and calling it again
 *    with the same bytes continues the stream: both passes then still agree, and
 *    with one another pass over the same payload without faults.
 *
 * Speed (scripts/fuzz --bench): per input, the number of parser calls is bounded
 * by the command count + FUZZ_SCHED_CUTS + 2, and bytes are copied once per chunk,
 * not once per call (that was quadratic in the commands per chunk).
 */
// libfuzzer-options: max_len=4096
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "model_resp.h"
#include "resp_validate.h"
#include "ipc/resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input's fault schedule (empty while no input runs). */
static struct fuzz_faults ff;
/* Whether a step of it can land on the only seam call of ipc/resp.h, realloc
 * (fuzz_faults_may_hit); when none can, nothing is ever injected here. */
static int ff_may_hit;

/* Faults injected since the arm: fuzz_faults_injected(), known to stay 0 when no
 * step can land on a realloc (then the seam's statistics are not read). */
FUZZ_NOCOV static uint64_t injected(void)
{
    return ff_may_hit ? fuzz_faults_injected(&ff) : 0;
}

/* A call returned -ENOMEM: only an allocation fault injected during it may cause
 * that (before = injected() when the call started). */
FUZZ_NOCOV static void nomem(uint64_t before)
{
    FUZZ_CHECK(ff.armed && injected() != before);
}

/* var = call, called again as long as it fails with an injected -ENOMEM (each
 * step of a schedule fires once, so this ends). */
#define RETRY_NOMEM(var, call)                                                                     \
    do {                                                                                           \
        uint64_t before_ = injected();                                                             \
        while (((var) = (call)) == -ENOMEM) {                                                      \
            nomem(before_);                                                                        \
            before_ = injected();                                                                  \
        }                                                                                          \
    } while (0)

/* Arguments of the first command that the reply writer is exercised with: each
 * one repeats the same eight writes, and argc can reach max_multibulk (1024). */
#define REPLY_ARGS 4

/* Profiles 0-2; profile 3 takes its limits from the input (input_limits). */
static const struct ipc_resp_limits profiles[3] = {
    {0, 0, 0},
    {64, 512, 1024},
    {8, 16, 32},
};
#define PROFILE_FROM_INPUT 3
#define LIMIT_MASK         63 /* limits from the input are 0..63 (0: the default) */

/* The limits of the current input (a profile or the input's own). */
static struct ipc_resp_limits input_limits;

/* The model's answer for the buffer of the current call (static: it is large). */
static struct mresp_result model;

struct outcome {
    uint64_t hash; /* FNV-1a over every command's offset, argc, flag and arguments */
    size_t ncmds;
    int err;
    size_t tail; /* stream offset of the first unconsumed byte */
};

FUZZ_NOCOV static void mix(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 1099511628211ull;
    }
}

FUZZ_NOCOV static size_t eff(size_t v, size_t def)
{
    return v ? v : def;
}

/* Re-encodes a multibulk command with the writer and parses it back. It runs for
 * every command, so its buffer and parser (one per limits profile) are kept from
 * one call to the next (emptied, reset) rather than allocated each time: under
 * ASan a malloc per command cost more than the parse. The whole and chunked
 * passes still start from a fresh parser per input, so its growth paths are
 * exercised there. */
FUZZ_NOCOV static void reencode(int profile, const struct ipc_resp_cmd *cmd)
{
    static struct ipc_resp_buf b;
    static struct ipc_resp_parser parsers[4];
    static int ready[4];
    struct ipc_resp_parser *p = &parsers[profile];
    if (ready[profile] && memcmp(&p->limits, &input_limits, sizeof(input_limits)) != 0) {
        ipc_resp_parser_free(p); /* profile 3: this input brings other limits */
        ready[profile] = 0;
    }
    if (!ready[profile]) {
        FUZZ_CHECK(ipc_resp_parser_init(p, &input_limits) == 0);
        ready[profile] = 1;
    }
    FUZZ_CHECK(ipc_resp_buf_consume(&b, b.len) == 0 && b.len == 0);
    int w;
    RETRY_NOMEM(w, ipc_resp_write_array(&b, cmd->argc));
    FUZZ_CHECK(w == 0);
    for (size_t i = 0; i < cmd->argc; i++) {
        RETRY_NOMEM(w, ipc_resp_write_bulk(&b, cmd->argv[i].ptr, cmd->argv[i].len));
        FUZZ_CHECK(w == 0);
    }
    struct ipc_resp_cmd c2;
    ssize_t r;
    RETRY_NOMEM(r, ipc_resp_parse(p, b.data, b.len, &c2));
    FUZZ_CHECK(r == (ssize_t)b.len);
    FUZZ_CHECK(c2.argc == cmd->argc && !c2.is_inline);
    for (size_t i = 0; i < cmd->argc; i++) {
        FUZZ_CHECK(c2.argv[i].len == cmd->argv[i].len);
        FUZZ_CHECK(cmd->argv[i].len == 0 ||
                   memcmp(c2.argv[i].ptr, cmd->argv[i].ptr, cmd->argv[i].len) == 0);
    }
    ipc_resp_parser_reset(p);
}

/* The bytes a reply must have, written from the contract in resp.h (not from
 * resp.c): the type byte, the text or decimal, CRLF; an error's CR and LF become
 * spaces. Returns the length; out holds n + 48 bytes. */
FUZZ_NOCOV static size_t expected_reply(int kind, const char *a, size_t n, int64_t v, char *out)
{
    size_t k = 0;
    switch (kind) {
    case 0:
    case 1:
        out[k++] = kind == 0 ? '+' : '-';
        for (size_t i = 0; i < n; i++)
            out[k++] = kind == 1 && (a[i] == '\r' || a[i] == '\n') ? ' ' : a[i];
        break;
    case 2:
        k = (size_t)sprintf(out, ":%" PRId64, v);
        break;
    case 3:
        k = (size_t)sprintf(out, "$%zu\r\n", n);
        if (n)
            memcpy(out + k, a, n);
        k += n;
        break;
    default:
        k = (size_t)sprintf(out, "%s", kind == 4 ? "$-1" : kind == 5 ? "*0" : "*-1");
        break;
    }
    out[k++] = '\r';
    out[k++] = '\n';
    return k;
}

/* Writes replies built from a command's arguments with every ipc_resp_write_*
 * function into a buffer bounded at max bytes, and compares each with the bytes
 * the contract gives (expected_reply): a write appends exactly those bytes, or
 * fails with -ENOBUFS exactly when they would take the buffer past max, leaving
 * it untouched; the whole buffer is then a sequence of valid replies. */
FUZZ_NOCOV static void replies(const struct ipc_resp_cmd *cmd, size_t max,
                               const struct ipc_resp_parser *failed)
{
    struct ipc_resp_buf b = {0};
    b.max = max;
    size_t limit = max ? max : IPC_RESP_BUF_DEFAULT_MAX;
    size_t expect = 0;
    size_t nargs = cmd->argc < REPLY_ARGS ? cmd->argc : REPLY_ARGS;
    const char *errmsg = failed ? ipc_resp_parser_errmsg(failed) : "";
    size_t errlen = strlen(errmsg);
    for (size_t i = 0; i < nargs + 1; i++) {
        const char *a = i < nargs ? cmd->argv[i].ptr : "";
        size_t n = i < nargs ? cmd->argv[i].len : 0;
        /* the expected bytes: a buffer kept from one call to the next (a malloc
         * per argument was a trip through ASan's quarantine each time) */
        static char *want;
        static size_t want_cap;
        size_t need = (n > errlen ? n : errlen) + 48;
        if (need > want_cap) {
            free(want);
            want = malloc(need);
            FUZZ_CHECK(want != NULL);
            want_cap = need;
        }
        for (int kind = 0; kind < 8; kind++) {
            size_t before = b.len;
            uint64_t inj = injected();
            int64_t v = (int64_t)n - (int64_t)i * 1000003;
            int r;
            switch (kind) {
            case 0:
                r = ipc_resp_write_simple(&b, a, n);
                if (n && (memchr(a, '\r', n) || memchr(a, '\n', n))) {
                    FUZZ_CHECK(r == -EINVAL && b.len == before);
                    continue;
                }
                break;
            case 1:
                r = ipc_resp_write_error(&b, a, n);
                break;
            case 2:
                r = ipc_resp_write_int(&b, v);
                break;
            case 3:
                r = ipc_resp_write_bulk(&b, a, n);
                break;
            case 4:
                r = ipc_resp_write_null(&b);
                break;
            case 5:
                r = ipc_resp_write_empty_array(&b);
                break;
            case 6:
                r = ipc_resp_write_null_array(&b);
                break;
            default:
                if (!failed)
                    continue;
                r = ipc_resp_write_parse_error(&b, failed);
                break;
            }
            size_t wl = kind == 7 ? expected_reply(1, errmsg, errlen, 0, want)
                                  : expected_reply(kind, a, n, v, want);
            if (r == -ENOMEM) {
                /* all-or-nothing: the buffer is as it was */
                nomem(inj);
                FUZZ_CHECK(b.len == before);
                continue;
            }
            FUZZ_CHECK(r == (before + wl > limit ? -ENOBUFS : 0));
            if (r == -ENOBUFS) {
                FUZZ_CHECK(b.len == before);
                /* make room the way a server does once the socket took bytes */
                FUZZ_CHECK(ipc_resp_buf_consume(&b, b.len) == 0);
                FUZZ_CHECK(b.len == 0);
                expect = 0;
                continue;
            }
            FUZZ_CHECK(b.len == before + wl && memcmp(b.data + before, want, wl) == 0);
            FUZZ_CHECK(reply_one(b.data + before, b.len - before, 0) == b.len - before);
            expect++;
        }
    }
    size_t at = 0, count = 0;
    while (at < b.len) {
        size_t r = reply_one(b.data + at, b.len - at, 0);
        FUZZ_CHECK(r > 0);
        at += r;
        count++;
    }
    FUZZ_CHECK(count == expect);
    FUZZ_CHECK(ipc_resp_buf_consume(&b, b.len + 1) == -EINVAL);
    ipc_resp_buf_free(&b);
}

/* The oracle: the independent model (model_resp.h) reads the same bytes and must
 * reach the same decision - the same command (consumed bytes, argc, inline flag,
 * argument bytes), "need more", or the same protocol error code and text. Called
 * on every buffer the parser is handed, whole or chunked, so the error-versus-
 * need-more decision is compared on truncated prefixes too. */
/* Prints both sides of a disagreement (to make a finding readable), then fails. */
FUZZ_NOCOV static void disagree(const char *buf, size_t len, ssize_t r,
                                const struct ipc_resp_cmd *cmd, const char *what)
{
    fprintf(stderr, "resp_parse: parser and model disagree (%s) on %zu bytes: \"", what, len);
    for (size_t i = 0; i < len && i < 200; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c >= 32 && c < 127 && c != '\\' && c != '"')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr,
            "\"\n  parser: %zd argc %zu inline %d\n  model: kind %d end %zu argc %zu "
            "inline %d code %d text %s\n",
            r, r > 0 ? cmd->argc : 0, r > 0 ? cmd->is_inline : 0, model.kind, model.end, model.argc,
            model.is_inline, model.code, model.text);
    for (size_t i = 0; r > 0 && i < cmd->argc && i < 8; i++)
        fprintf(stderr, "  arg %zu: parser %zu bytes, model %zu bytes\n", i, cmd->argv[i].len,
                i < model.argc ? model.argv[i].len : 0);
}

#define MODEL_CHECK(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            disagree(buf, len, r, cmd, #cond);                                                     \
        FUZZ_CHECK(cond);                                                                          \
    } while (0)

FUZZ_NOCOV static void against_model(const char *buf, size_t len, ssize_t r,
                                     const struct ipc_resp_cmd *cmd,
                                     const struct ipc_resp_parser *p)
{
    const struct mresp_limits ml = {input_limits.max_multibulk, input_limits.max_bulk,
                                    input_limits.max_inline};
    mresp_parse(&ml, buf, len, &model);
    if (r > 0) {
        MODEL_CHECK(model.kind == MRESP_COMMAND);
        MODEL_CHECK(model.end == (size_t)r);
        MODEL_CHECK(model.argc == cmd->argc);
        MODEL_CHECK(model.is_inline == cmd->is_inline || cmd->argc == 0);
        for (size_t i = 0; i < cmd->argc; i++) {
            MODEL_CHECK(model.argv[i].len == cmd->argv[i].len);
            MODEL_CHECK(cmd->argv[i].len == 0 ||
                        memcmp(mresp_arg_ptr(&model, i), cmd->argv[i].ptr, cmd->argv[i].len) == 0);
        }
    } else if (r == IPC_ENEEDMORE) {
        MODEL_CHECK(model.kind == MRESP_NEEDMORE);
    } else {
        MODEL_CHECK(model.kind == MRESP_ERROR);
        MODEL_CHECK(model.code == (int)r);
        const char *msg = ipc_resp_parser_errmsg(p);
        MODEL_CHECK(msg != NULL && strcmp(msg, model.text) == 0);
    }
}

/* Checks one parse result on buf[0, len) and folds it into o. Returns 1 to go on
 * (a command was consumed), 0 to stop (need more, or an error). */
FUZZ_NOCOV static int step(struct ipc_resp_parser *p, int profile, const char *buf, size_t len,
                           size_t stream_off, struct outcome *o, int check_reencode)
{
    const struct ipc_resp_limits *lim = &input_limits;
    struct ipc_resp_cmd cmd;
    ssize_t r;
    RETRY_NOMEM(r, ipc_resp_parse(p, buf, len, &cmd));
    against_model(buf, len, r, &cmd, p);
    if (r > 0) {
        FUZZ_CHECK((size_t)r <= len);
        size_t max_mb = eff(lim->max_multibulk, IPC_RESP_DEFAULT_MAX_MULTIBULK);
        size_t max_bulk = eff(lim->max_bulk, IPC_RESP_DEFAULT_MAX_BULK);
        size_t max_inl = eff(lim->max_inline, IPC_RESP_DEFAULT_MAX_INLINE);
        FUZZ_CHECK(cmd.argc == 0 || cmd.argv != NULL);
        if (!cmd.is_inline)
            FUZZ_CHECK(cmd.argc <= max_mb && (cmd.argc == 0 || buf[0] == '*'));
        for (size_t i = 0; i < cmd.argc; i++) {
            const struct ipc_resp_arg *a = &cmd.argv[i];
            FUZZ_CHECK(a->len == 0 || a->ptr != NULL);
            if (cmd.is_inline) {
                FUZZ_CHECK(a->len <= max_inl);
                FUZZ_CHECK(a->len == 0 || fuzz_inside(a->ptr, a->len, buf, (size_t)r) ||
                           fuzz_inside(a->ptr, a->len, p->scratch, p->scratch_cap));
            } else {
                FUZZ_CHECK(a->len <= max_bulk);
                FUZZ_CHECK(a->len == 0 || fuzz_inside(a->ptr, a->len, buf, (size_t)r));
            }
        }
        uint64_t end = stream_off + (size_t)r;
        mix(&o->hash, &end, sizeof(end));
        mix(&o->hash, &cmd.argc, sizeof(cmd.argc));
        mix(&o->hash, &cmd.is_inline, sizeof(cmd.is_inline));
        for (size_t i = 0; i < cmd.argc; i++) {
            mix(&o->hash, &cmd.argv[i].len, sizeof(cmd.argv[i].len));
            mix(&o->hash, cmd.argv[i].ptr, cmd.argv[i].len);
        }
        if (check_reencode && !cmd.is_inline && cmd.argc > 0)
            reencode(profile, &cmd);
        /* the writer once per input: per command it would cost more than parsing */
        if (check_reencode && o->ncmds == 0)
            replies(&cmd, 64 + (end & 3) * 512, NULL);
        o->ncmds++;
        o->tail = end;
        return 1;
    }
    if (r == IPC_ENEEDMORE) {
        FUZZ_CHECK(ipc_resp_parser_errmsg(p) == NULL);
        return 0;
    }
    FUZZ_CHECK(r == IPC_EPROTO_MULTIBULK || r == IPC_EPROTO_BULK || r == IPC_EPROTO_DOLLAR ||
               r == IPC_EPROTO_INLINE || r == IPC_EPROTO_QUOTES);
    const char *msg = ipc_resp_parser_errmsg(p);
    FUZZ_CHECK(msg != NULL && strncmp(msg, "ERR Protocol error: ", 20) == 0);
    FUZZ_CHECK(strchr(msg, '\r') == NULL && strchr(msg, '\n') == NULL);
    FUZZ_CHECK(ipc_resp_errmsg((int)r) != NULL);
    FUZZ_CHECK(r != IPC_EPROTO_DOLLAR || strstr(msg, "expected '$', got '") != NULL);
    /* sticky */
    FUZZ_CHECK(ipc_resp_parse(p, buf, len, &cmd) == r);
    o->err = (int)r;
    if (check_reencode) {
        struct ipc_resp_cmd none = {0, NULL, 0};
        replies(&none, 0, p);
    }
    return 0;
}

/* Largest number of bytes a pending (incomplete) request may hold under lim. */
FUZZ_NOCOV static size_t pending_bound(const struct ipc_resp_limits *lim, char first)
{
    size_t max_mb = eff(lim->max_multibulk, IPC_RESP_DEFAULT_MAX_MULTIBULK);
    size_t max_bulk = eff(lim->max_bulk, IPC_RESP_DEFAULT_MAX_BULK);
    if (first != '*')
        return eff(lim->max_inline, IPC_RESP_DEFAULT_MAX_INLINE) + 2;
    return 32 + max_mb * (32 + max_bulk + 2);
}

/* Argument validation and the documented corner cases of the API. */
/* ipc_resp_parser_init with one limit set to v (the others 0: default); on success
 * the parser must keep exactly that limit, on -EINVAL it is left with defaults. */
FUZZ_NOCOV static int init_with(int which, size_t v)
{
    struct ipc_resp_parser p;
    memset(&p, 0xa5, sizeof(p));
    struct ipc_resp_limits lim = {0, 0, 0};
    size_t *field = which == 0 ? &lim.max_multibulk : which == 1 ? &lim.max_bulk : &lim.max_inline;
    *field = v;
    int rc = ipc_resp_parser_init(&p, &lim);
    if (rc == 0)
        FUZZ_CHECK(memcmp(&p.limits, &lim, sizeof(lim)) == 0);
    else
        FUZZ_CHECK(p.limits.max_multibulk == 0 && p.limits.max_bulk == 0 &&
                   p.limits.max_inline == 0 && p.err == 0 && p.args == NULL);
    ipc_resp_parser_free(&p);
    return rc;
}

/* Argument validation: every documented -EINVAL of ipc/resp.h, each limit at its
 * hard maximum (accepted) and one above (refused), and the no-ops. */
FUZZ_NOCOV static void api_edges(void)
{
    struct ipc_resp_parser p;
    struct ipc_resp_cmd cmd;
    /* "a limit above its hard maximum" is -EINVAL; the maximum itself is accepted */
    CONTRACT(ipc_resp_parser_init(NULL, NULL), -EINVAL);
    CONTRACT(init_with(0, IPC_RESP_DEFAULT_MAX_MULTIBULK), 0);
    CONTRACT(init_with(0, (size_t)IPC_RESP_DEFAULT_MAX_MULTIBULK + 1), -EINVAL);
    CONTRACT(init_with(0, SIZE_MAX), -EINVAL);
    CONTRACT(init_with(1, IPC_RESP_HARD_MAX_BULK), 0);
    CONTRACT(init_with(1, (size_t)IPC_RESP_HARD_MAX_BULK + 1), -EINVAL);
    CONTRACT(init_with(1, SIZE_MAX), -EINVAL);
    CONTRACT(init_with(2, IPC_RESP_HARD_MAX_INLINE), 0);
    CONTRACT(init_with(2, (size_t)IPC_RESP_HARD_MAX_INLINE + 1), -EINVAL);
    CONTRACT(init_with(2, SIZE_MAX), -EINVAL);
    CONTRACT(init_with(2, 1), 0);
    CONTRACT(ipc_resp_parser_init(&p, NULL), 0);
    /* "NULL p/cmd, or NULL buf with len > 0" is -EINVAL; NULL buf with len 0 is not */
    CONTRACT(ipc_resp_parse(NULL, "x", 1, &cmd), -EINVAL);
    CONTRACT(ipc_resp_parse(&p, NULL, 1, &cmd), -EINVAL);
    CONTRACT(ipc_resp_parse(&p, "x", 1, NULL), -EINVAL);
    CONTRACT(ipc_resp_parse(&p, NULL, 0, &cmd), IPC_ENEEDMORE);
    /* a caller that drops bytes it was told to keep makes the parser start over */
    const char *req = "*1\r\n$4\r\nPING\r\n";
    CONTRACT(ipc_resp_parse(&p, req, 12, &cmd), IPC_ENEEDMORE);
    CONTRACT(ipc_resp_parse(&p, req, 2, &cmd), IPC_ENEEDMORE);
    CONTRACT(ipc_resp_parse(&p, req, 14, &cmd), 14);
    FUZZ_CHECK(cmd.argc == 1);
    FUZZ_CHECK(ipc_resp_parser_errmsg(&p) == NULL);
    FUZZ_CHECK(ipc_resp_errmsg(0) == NULL && ipc_resp_errmsg(-EINVAL) == NULL);
    ipc_resp_parser_reset(NULL);
    ipc_resp_parser_free(NULL);

    struct ipc_resp_buf b = {0};
    b.max = 32;
    /* -EINVAL of the writer: NULL buffer, NULL bytes with len > 0, CR/LF in a simple
     * string, a parser that is not failed, consuming more than len */
    CONTRACT(ipc_resp_buf_append(NULL, "x", 1), -EINVAL);
    CONTRACT(ipc_resp_buf_append(&b, NULL, 1), -EINVAL);
    CONTRACT(ipc_resp_buf_append(&b, NULL, 0), 0);
    CONTRACT(ipc_resp_write_simple(NULL, "x", 1), -EINVAL);
    CONTRACT(ipc_resp_write_simple(&b, NULL, 1), -EINVAL);
    CONTRACT(ipc_resp_write_simple(&b, "a\rb", 3), -EINVAL);
    CONTRACT(ipc_resp_write_simple(&b, "a\nb", 3), -EINVAL);
    CONTRACT(ipc_resp_write_error(NULL, "x", 1), -EINVAL);
    CONTRACT(ipc_resp_write_error(&b, NULL, 1), -EINVAL);
    CONTRACT(ipc_resp_write_parse_error(&b, &p), -EINVAL);
    CONTRACT(ipc_resp_write_parse_error(&b, NULL), -EINVAL);
    CONTRACT(ipc_resp_write_int(NULL, 1), -EINVAL);
    CONTRACT(ipc_resp_write_bulk(NULL, "x", 1), -EINVAL);
    CONTRACT(ipc_resp_write_bulk(&b, NULL, 1), -EINVAL);
    CONTRACT(ipc_resp_write_null(NULL), -EINVAL);
    CONTRACT(ipc_resp_write_array(NULL, 1), -EINVAL);
    CONTRACT(ipc_resp_write_empty_array(NULL), -EINVAL);
    CONTRACT(ipc_resp_write_null_array(NULL), -EINVAL);
    CONTRACT(ipc_resp_buf_consume(NULL, 0), -EINVAL);
    CONTRACT(ipc_resp_buf_consume(&b, 1), -EINVAL);
    FUZZ_CHECK(b.len == 0);
    /* max is a bound on len: a reply of exactly max bytes fits, one more does not and
     * leaves the buffer unchanged */
    CONTRACT(ipc_resp_write_bulk(&b, "0123456789abcdef0123456789abcdef", 32), -ENOBUFS);
    FUZZ_CHECK(b.len == 0);
    CONTRACT(ipc_resp_write_simple(&b, "0123456789abcdef0123456789abcd", 30), -ENOBUFS);
    FUZZ_CHECK(b.len == 0);
    CONTRACT(ipc_resp_write_simple(&b, "0123456789abcdef0123456789abc", 29), 0);
    FUZZ_CHECK(b.len == 32 && memcmp(b.data, "+0123456789abcdef0123456789abc\r\n", 32) == 0);
    CONTRACT(ipc_resp_buf_append(&b, "a", 1), -ENOBUFS);
    CONTRACT(ipc_resp_buf_append(&b, "", 0), 0);
    FUZZ_CHECK(b.len == 32);
    CONTRACT(ipc_resp_buf_consume(&b, 33), -EINVAL);
    CONTRACT(ipc_resp_buf_consume(&b, 32), 0);
    FUZZ_CHECK(b.len == 0);
    CONTRACT(ipc_resp_write_int(&b, INT64_MIN), 0);
    FUZZ_CHECK(reply_one(b.data, b.len, 0) == b.len);
    size_t before = b.len;
    CONTRACT(ipc_resp_buf_consume(&b, 1), 0);
    FUZZ_CHECK(b.len == before - 1);
    /* a failed parser: its error is written, reset clears it */
    CONTRACT(ipc_resp_parse(&p, "*x\r\n", 4, &cmd), IPC_EPROTO_MULTIBULK);
    CONTRACT(ipc_resp_buf_consume(&b, b.len), 0);
    b.max = 64;
    CONTRACT(ipc_resp_write_parse_error(&b, &p), 0);
    static const char want_err[] = "-ERR Protocol error: invalid multibulk length\r\n";
    FUZZ_CHECK(b.len == sizeof(want_err) - 1 && memcmp(b.data, want_err, b.len) == 0);
    ipc_resp_parser_reset(&p);
    CONTRACT(ipc_resp_write_parse_error(&b, &p), -EINVAL);
    ipc_resp_parser_free(&p);
    ipc_resp_buf_free(NULL);
    ipc_resp_buf_free(&b);
    FUZZ_CHECK(b.data == NULL && b.len == 0 && b.max == 64);
}

FUZZ_NOCOV int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t skip = fuzz_faults_parse(&ff, data, size);
#if FUZZ_FAULTS
    ff_may_hit = fuzz_faults_may_hit(&ff, IPC_FAULT_realloc);
#endif
    data += skip;
    size -= skip;
    if (size == 1)
        api_edges();
    if (size < 2)
        return 0;
    int profile = data[0] & 3;
    size_t max_chunk = (size_t)1 << (data[0] >> 4);
    const char *s = (const char *)data + 2;
    size_t n = size - 2;
    if (profile == PROFILE_FROM_INPUT) {
        if (n < 3)
            return 0;
        input_limits.max_multibulk = s[0] & LIMIT_MASK;
        input_limits.max_bulk = s[1] & LIMIT_MASK;
        input_limits.max_inline = s[2] & LIMIT_MASK;
        s += 3;
        n -= 3;
    } else {
        input_limits = profiles[profile];
    }
    const struct ipc_resp_limits *lim = &input_limits;
    struct fuzz_sched sched;
    fuzz_sched_init(&sched, data[1], max_chunk, n);

    fuzz_faults_arm(&ff);
    /* whole */
    struct outcome w = {14695981039346656037ull, 0, 0, 0};
    struct ipc_resp_parser p;
    FUZZ_CHECK(ipc_resp_parser_init(&p, lim) == 0);
    /* reused, exact-size-at-the-end copy: see fuzz_tail_reserve */
    static struct fuzz_tail tail;
    fuzz_tail_reserve(&tail, n);
    char *copy = (char *)fuzz_tail_put(&tail, s, n);
    while (step(&p, profile, copy + w.tail, n - w.tail, w.tail, &w, 1))
        ;
    if (w.err) {
        ipc_resp_parser_reset(&p);
        FUZZ_CHECK(ipc_resp_parser_errmsg(&p) == NULL);
    }
    ipc_resp_parser_free(&p);

    /* chunked */
    struct outcome c = {14695981039346656037ull, 0, 0, 0};
    FUZZ_CHECK(ipc_resp_parser_init(&p, lim) == 0);
    size_t avail = 0;
    while (avail < n && !c.err) {
        avail += fuzz_sched_next(&sched, n - avail);
        /* the unconsumed bytes move to a new place when a chunk arrives, and end
         * where the heap block ends; the commands it completes are parsed in
         * place (moving before every call made the copying quadratic) */
        size_t base = c.tail;
        char *win = (char *)fuzz_tail_put(&tail, s + base, avail - base);
        while (step(&p, profile, win + (c.tail - base), avail - c.tail, c.tail, &c, 0))
            ;
        if (!c.err && profile != 0 && avail > c.tail)
            FUZZ_CHECK(avail - c.tail <= pending_bound(lim, s[c.tail]));
    }
    ipc_resp_parser_free(&p);
    fuzz_faults_disarm(&ff);
    /* free also resets (resp.h): whatever the pass left (a partial request, an
     * error), the freed parser reads a new request from its first byte. The
     * request fits every limit profile (one empty argument). */
    FUZZ_CHECK(ipc_resp_parser_errmsg(&p) == NULL);
    struct ipc_resp_cmd fresh;
    FUZZ_CHECK(ipc_resp_parse(&p, "*1\r\n$0\r\n\r\n", 10, &fresh) == 10 && fresh.argc == 1 &&
               fresh.argv[0].len == 0);
    ipc_resp_parser_free(&p);

    FUZZ_CHECK(w.ncmds == c.ncmds);
    FUZZ_CHECK(w.hash == c.hash);
    FUZZ_CHECK(w.err == c.err);
    FUZZ_CHECK(w.tail == c.tail);
    if (injected()) {
        /* the same payload without faults: the same commands */
        struct outcome f = {14695981039346656037ull, 0, 0, 0};
        FUZZ_CHECK(ipc_resp_parser_init(&p, lim) == 0);
        copy = (char *)fuzz_tail_put(&tail, s, n);
        while (step(&p, profile, copy + f.tail, n - f.tail, f.tail, &f, 0))
            ;
        ipc_resp_parser_free(&p);
        FUZZ_CHECK(f.ncmds == w.ncmds && f.hash == w.hash && f.err == w.err && f.tail == w.tail);
    }
    ff.n = 0;
    ff_may_hit = 0;
    return 0;
}
