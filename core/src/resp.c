/* resp.c - incremental RESP2 request parser and reply writer (see ipc/resp.h). */
#include "ipc/resp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum {
    ST_START = 0, /* all-zero parser: nothing seen of the next request */
    ST_MB_HDR,    /* waiting for "*<count>\r\n" */
    ST_ARG_HDR,   /* waiting for "$<len>\r\n" at pos */
    ST_ARG_DATA,  /* waiting for <bulk_len> bytes + "\r\n" at pos */
    ST_INLINE,    /* scanning for '\n'; bytes before pos hold none */
};

/* While a multibulk request is incomplete its arguments are stored as offsets,
 * because the caller may move its buffer between calls; the slots become pointers
 * only when the command is returned. */
union slot {
    struct ipc_resp_arg arg;
    struct {
        size_t off;
        size_t len;
    } o;
};

/* cmd->argv hands the slot array out as struct ipc_resp_arg[]. */
_Static_assert(sizeof(union slot) == sizeof(struct ipc_resp_arg), "slot layout");

/* The effective limits. Each is worked out where it is needed (the count when a
 * multibulk header is read, ...), not all three on every call: this parser runs
 * once per request, and in the fuzzing build every comparison is a traced call. */
static size_t clamp_limit(size_t v, size_t def, size_t hard)
{
    if (v == 0)
        return def;
    return v > hard ? hard : v;
}

static size_t limit_multibulk(const struct ipc_resp_parser *p)
{
    return clamp_limit(p->limits.max_multibulk, IPC_RESP_DEFAULT_MAX_MULTIBULK,
                       IPC_RESP_DEFAULT_MAX_MULTIBULK);
}

static size_t limit_bulk(const struct ipc_resp_parser *p)
{
    return clamp_limit(p->limits.max_bulk, IPC_RESP_DEFAULT_MAX_BULK, IPC_RESP_HARD_MAX_BULK);
}

static size_t limit_inline(const struct ipc_resp_parser *p)
{
    return clamp_limit(p->limits.max_inline, IPC_RESP_DEFAULT_MAX_INLINE, IPC_RESP_HARD_MAX_INLINE);
}

/* Byte classes of the scanners: one table lookup and one test per byte instead of
 * a chain of comparisons (is it a digit, a space, a tab, ...). The chains were most
 * of the parser's cost under the fuzzing build, where every comparison is a traced
 * call (-fsanitize=fuzzer's trace-cmp), and the table is no slower elsewhere. */
enum {
    CL_DIGIT = 1 << 0,    /* '0'..'9' */
    CL_HEX = 1 << 1,      /* '0'..'9', 'a'..'f', 'A'..'F' */
    CL_SPACE = 1 << 2,    /* isspace() in the C locale: skipped between inline arguments */
    CL_ARG_END = 1 << 3,  /* ' ', '\t', '\n', '\r': end an unquoted inline argument */
    CL_QUOTE = 1 << 4,    /* '"', '\'': open a quoted part */
    CL_LINE_END = 1 << 5, /* '\r', '\n', NUL: one of them ends every inline line */
    CL_DQ_STOP = 1 << 6,  /* '"', '\\': end a run of plain bytes in double quotes */
    CL_SQ_STOP = 1 << 7,  /* '\'', '\\': end a run of plain bytes in single quotes */
};

static const unsigned char byte_class[256] = {
    ['0' ... '9'] = CL_DIGIT | CL_HEX,
    ['a' ... 'f'] = CL_HEX,
    ['A' ... 'F'] = CL_HEX,
    [' '] = CL_SPACE | CL_ARG_END,
    ['\t'] = CL_SPACE | CL_ARG_END,
    ['\n'] = CL_SPACE | CL_ARG_END | CL_LINE_END,
    ['\r'] = CL_SPACE | CL_ARG_END | CL_LINE_END,
    ['\v'] = CL_SPACE,
    ['\f'] = CL_SPACE,
    ['\0'] = CL_LINE_END,
    ['"'] = CL_QUOTE | CL_DQ_STOP,
    ['\''] = CL_QUOTE | CL_SQ_STOP,
    ['\\'] = CL_DQ_STOP | CL_SQ_STOP,
};

static int byte_is(char c, unsigned cls)
{
    return (byte_class[(unsigned char)c] & cls) != 0;
}

/* Whether the two bytes at b are "\r\n": one comparison for both. */
static int is_crlf(const char *b)
{
    uint16_t two, crlf;
    memcpy(&two, b, 2);
    memcpy(&crlf, "\r\n", 2);
    return two == crlf;
}

int ipc_resp_parser_init(struct ipc_resp_parser *p, const struct ipc_resp_limits *lim)
{
    if (!p)
        return -EINVAL;
    memset(p, 0, sizeof(*p));
    if (!lim)
        return 0;
    if (lim->max_multibulk > IPC_RESP_DEFAULT_MAX_MULTIBULK ||
        lim->max_bulk > IPC_RESP_HARD_MAX_BULK || lim->max_inline > IPC_RESP_HARD_MAX_INLINE)
        return -EINVAL;
    p->limits = *lim;
    return 0;
}

static void clear_request(struct ipc_resp_parser *p)
{
    p->state = ST_START;
    p->pos = 0;
    p->remaining = 0;
    p->bulk_len = 0;
    p->nargs = 0;
}

void ipc_resp_parser_reset(struct ipc_resp_parser *p)
{
    if (!p)
        return;
    clear_request(p);
    p->err = 0;
    p->err_byte = 0;
    p->errmsg[0] = '\0';
}

void ipc_resp_parser_free(struct ipc_resp_parser *p)
{
    if (!p)
        return;
    free(p->args);
    free(p->scratch);
    p->args = NULL;
    p->args_cap = 0;
    p->scratch = NULL;
    p->scratch_cap = 0;
    ipc_resp_parser_reset(p);
}

const char *ipc_resp_errmsg(int code)
{
    /* The texts of ipc_strerror (IPC_ERRNO_MAP_RESP, ipc/error.h) after "ERR ". */
    switch (code) {
#define XX(name, value, text)                                                                      \
    case IPC_##name:                                                                               \
        return "ERR " text;
        IPC_ERRNO_MAP_RESP(XX)
#undef XX
    default:
        return NULL;
    }
}

const char *ipc_resp_parser_errmsg(const struct ipc_resp_parser *p)
{
    if (!p || !p->err)
        return NULL;
    return p->errmsg;
}

static ssize_t fail(struct ipc_resp_parser *p, int code, unsigned char byte)
{
    p->err = code;
    p->err_byte = byte;
    if (code == IPC_EPROTO_DOLLAR) {
        /* Redis maps CR/LF to spaces so the error stays one line; NUL too here,
         * because the text is a C string. */
        char c = (byte == '\r' || byte == '\n' || byte == '\0') ? ' ' : (char)byte;
        snprintf(p->errmsg, sizeof(p->errmsg), "ERR Protocol error: expected '$', got '%c'", c);
    } else {
        const char *m = ipc_resp_errmsg(code);
        snprintf(p->errmsg, sizeof(p->errmsg), "%s", m ? m : "ERR Protocol error");
    }
    clear_request(p);
    return code;
}

/* Parses "<decimal>\r\n" starting at buf[i], as Redis's string2ll: optional '-'
 * when neg_ok, no '+', no spaces, no leading zeros, "-0" invalid. Positive values
 * above max are rejected as soon as the digit that exceeds it arrives, so the caller
 * never buffers a header that can only fail. Returns 1 (complete: *val, *neg,
 * *next = offset after "\n"), 0 (need more) or -1 (invalid). */
static int parse_num(const char *buf, size_t i, size_t len, int neg_ok, uint64_t max, uint64_t *val,
                     int *neg, size_t *next)
{
    int is_neg = neg_ok && i < len && buf[i] == '-';
    i += (size_t)is_neg;
    /* The number ends at its "\r": memchr finds it among the next 20 bytes (20
     * digits are already one too many), and the bytes before it must all be
     * digits, which the class table tells without a test per byte (under the
     * fuzzing build each test is a traced call). v is meaningful only when they
     * are; uint64_t holds any 19 digits, so it cannot wrap before the checks. */
    size_t first = i, window = len - i < 20 ? len - i : 20;
    const char *cr = memchr(buf + i, '\r', window);
    size_t end = cr ? (size_t)(cr - buf) : i + window;
    unsigned all_digits = CL_DIGIT;
    uint64_t v = 0;
    for (; i < end; i++) {
        all_digits &= byte_class[(unsigned char)buf[i]];
        v = v * 10 + (uint64_t)((unsigned char)buf[i] - '0');
    }
    if (!all_digits)
        return -1;
    size_t ndig = i - first;
    /* Judged on the digits so far, so that a number that can only fail fails as
     * soon as the digit that breaks it arrives: more than 19 digits, a leading
     * zero, "-0", or above the limit (a longer number is only larger). Redis takes
     * any int64 (string2ll); a negative count means "ignore". */
    if (ndig > 19 || (ndig > 0 && buf[first] == '0' && (ndig > 1 || is_neg)))
        return -1;
    if (is_neg ? v > (uint64_t)INT64_MAX + 1 : v > max)
        return -1;
    /* the common case first: digits, then the whole "\r\n" */
    if (!(len - i >= 2 && is_crlf(buf + i) && ndig > 0)) {
        if (i == len)
            return 0;
        if (buf[i] != '\r' || ndig == 0)
            return -1;
        if (i + 1 == len)
            return 0;
        return -1; /* "\r" and then not "\n" */
    }
    *val = v;
    *neg = is_neg;
    *next = i + 2;
    return 1;
}

static int grow_args(struct ipc_resp_parser *p, size_t need)
{
    if (need <= p->args_cap)
        return 0;
    size_t cap = p->args_cap ? p->args_cap : 16;
    while (cap < need)
        cap *= 2;
    void *n = ipc__sys_realloc(p->args, cap * sizeof(union slot));
    if (!n)
        return -ENOMEM;
    p->args = n;
    p->args_cap = cap;
    return 0;
}

static int hex_val(unsigned char c)
{
    if (c <= '9')
        return c - '0';
    if (c >= 'a')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

/* The escape that starts with the backslash at line[i], inside double quotes:
 * stores the byte it stands for in *out and returns how many bytes it spans.
 * \xHH is a hex byte, \n \r \t \b \a the usual controls, any other \c is c, and a
 * backslash that ends the line stands for itself. */
static size_t unescape_double_quoted(const char *line, size_t n, size_t i, char *out)
{
    if (i + 3 < n && line[i + 1] == 'x' && byte_is(line[i + 2], CL_HEX) &&
        byte_is(line[i + 3], CL_HEX)) {
        *out =
            (char)(hex_val((unsigned char)line[i + 2]) * 16 + hex_val((unsigned char)line[i + 3]));
        return 4;
    }
    if (i + 1 >= n) {
        *out = '\\';
        return 1;
    }
    static const char names[] = "nrtba", bytes[] = "\n\r\t\b\a";
    const char *named = memchr(names, line[i + 1], sizeof(names) - 1);
    *out = named ? bytes[named - names] : line[i + 1];
    return 2;
}

/* A closing quote at line[i] must end the line or be followed by whitespace. */
static int quote_closes_cleanly(const char *line, size_t n, size_t i)
{
    return i + 1 == n || byte_is(line[i + 1], CL_SPACE);
}

/* Scans the argument that starts at line[*pos] (not whitespace) and leaves *pos
 * just after it. Returns 0 for a plain argument, line[start, *pos); 1 for one with
 * a quote, which is unescaped, its unquoted prefix included (as in Redis), into
 * p->scratch from *sc on (advancing *sc); or IPC_EPROTO_QUOTES.
 * The byte line[n] is readable and is the one that ended the line ('\n', the '\r'
 * before it, or a NUL: CL_LINE_END), so the runs of plain bytes stop there without
 * a bound check of their own. */
static int scan_inline_arg(struct ipc_resp_parser *p, const char *line, size_t n, size_t *pos,
                           size_t *sc)
{
    size_t i = *pos, start = i;
    while (!byte_is(line[i], CL_ARG_END | CL_QUOTE | CL_LINE_END))
        i++;
    if (!byte_is(line[i], CL_QUOTE)) {
        *pos = i; /* i == n, or an argument end */
        return 0;
    }
    char *out = p->scratch + *sc;
    memcpy(out, line + start, i - start);
    out += i - start;
    const char quote = line[i++];
    const unsigned stop = (quote == '"' ? CL_DQ_STOP : CL_SQ_STOP) | CL_LINE_END;
    for (;;) {
        /* a run of plain bytes, then the byte that stopped it */
        size_t run = i;
        while (!byte_is(line[i], stop))
            i++;
        memcpy(out, line + run, i - run);
        out += i - run;
        if (i >= n)
            return IPC_EPROTO_QUOTES; /* unterminated quotes */
        char c = line[i];
        if (c == quote) {
            if (!quote_closes_cleanly(line, n, i))
                return IPC_EPROTO_QUOTES;
            break;
        }
        if (c == '\\' && quote == '"')
            i += unescape_double_quoted(line, n, i, out++);
        else if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
            *out++ = '\'';
            i += 2;
        } else
            *out++ = line[i++]; /* a '\r' inside the line, or a lone '\\' in '...' */
    }
    *pos = i + 1;
    *sc = (size_t)(out - p->scratch);
    return 1;
}

/* Splits an inline line as Redis's sdssplitargs. line[0, n) has no '\n'. Quoted
 * arguments are unescaped into p->scratch (sized n beforehand, so pointers into it
 * stay stable). Returns argc >= 0, IPC_EPROTO_QUOTES or -ENOMEM. */
static ssize_t split_inline(struct ipc_resp_parser *p, const char *line, size_t n)
{
    /* sdssplitargs works on a C string: a NUL ends the line. */
    const char *nul = memchr(line, '\0', n);
    if (nul)
        n = (size_t)(nul - line);
    if ((memchr(line, '"', n) || memchr(line, '\'', n)) && n > p->scratch_cap) {
        char *s = ipc__sys_realloc(p->scratch, n);
        if (!s)
            return -ENOMEM;
        p->scratch = s;
        p->scratch_cap = n;
    }
    size_t i = 0, argc = 0, sc = 0;
    for (;;) {
        while (i < n && byte_is(line[i], CL_SPACE))
            i++;
        if (i == n)
            return (ssize_t)argc;
        size_t start = i, sc_start = sc;
        int quoted = scan_inline_arg(p, line, n, &i, &sc);
        if (quoted < 0)
            return quoted;
        int rc = grow_args(p, argc + 1);
        if (rc < 0)
            return rc;
        struct ipc_resp_arg *arg = &((union slot *)p->args)[argc++].arg;
        arg->ptr = quoted ? p->scratch + sc_start : line + start;
        arg->len = quoted ? sc - sc_start : i - start;
    }
}

static ssize_t parse_inline(struct ipc_resp_parser *p, const char *buf, size_t len,
                            struct ipc_resp_cmd *cmd)
{
    const size_t inl = limit_inline(p);
    /* A line is at most inl bytes before its '\n': look no further than that, and
     * fail as soon as that many bytes have arrived without one. */
    size_t window = len < inl + 1 ? len : inl + 1;
    const char *nl = p->pos < window ? memchr(buf + p->pos, '\n', window - p->pos) : NULL;
    if (!nl) {
        if (len > inl)
            return fail(p, IPC_EPROTO_INLINE, 0);
        p->pos = len;
        return IPC_ENEEDMORE;
    }
    size_t e = (size_t)(nl - buf);
    size_t consumed = e + 1;
    if (e > 0 && buf[e - 1] == '\r')
        e--;
    ssize_t argc = split_inline(p, buf, e);
    if (argc == IPC_EPROTO_QUOTES)
        return fail(p, IPC_EPROTO_QUOTES, 0);
    if (argc < 0) {
        clear_request(p);
        return argc;
    }
    clear_request(p);
    if (argc > 0) {
        cmd->argc = (size_t)argc;
        cmd->argv = p->args;
        cmd->is_inline = 1;
    }
    return (ssize_t)consumed;
}

static ssize_t parse_multibulk(struct ipc_resp_parser *p, const char *buf, size_t len,
                               struct ipc_resp_cmd *cmd)
{
    uint64_t v;
    int neg;
    size_t next;
    if (p->state == ST_MB_HDR) {
        int r = parse_num(buf, 1, len, 1, limit_multibulk(p), &v, &neg, &next);
        if (r == 0)
            return IPC_ENEEDMORE;
        if (r < 0)
            return fail(p, IPC_EPROTO_MULTIBULK, 0);
        if (neg || v == 0) {
            clear_request(p);
            return (ssize_t)next;
        }
        p->remaining = (size_t)v;
        p->nargs = 0;
        p->pos = next;
        p->state = ST_ARG_HDR;
    }
    const size_t max_bulk = limit_bulk(p);
    while (p->remaining > 0) {
        if (p->state == ST_ARG_HDR) {
            if (p->pos >= len)
                return IPC_ENEEDMORE;
            if (buf[p->pos] != '$')
                return fail(p, IPC_EPROTO_DOLLAR, (unsigned char)buf[p->pos]);
            int r = parse_num(buf, p->pos + 1, len, 0, max_bulk, &v, &neg, &next);
            if (r == 0)
                return IPC_ENEEDMORE;
            if (r < 0)
                return fail(p, IPC_EPROTO_BULK, 0);
            p->bulk_len = (size_t)v;
            p->pos = next;
            p->state = ST_ARG_DATA;
        }
        /* ST_ARG_DATA */
        size_t avail = len - p->pos;
        if (!(avail >= p->bulk_len + 2 && is_crlf(buf + p->pos + p->bulk_len))) {
            /* not the data and its "\r\n" (the common case): a wrong byte where
             * they must be, else more is needed */
            if (avail > p->bulk_len && buf[p->pos + p->bulk_len] != '\r')
                return fail(p, IPC_EPROTO_BULK, 0);
            if (avail < p->bulk_len + 2)
                return IPC_ENEEDMORE;
            return fail(p, IPC_EPROTO_BULK, 0); /* "\r" and then not "\n" */
        }
        /* nargs < remaining + nargs = count <= max_multibulk bounds this allocation */
        int rc = grow_args(p, p->nargs + 1);
        if (rc < 0) {
            clear_request(p);
            return rc;
        }
        union slot *s = p->args;
        s[p->nargs].o.off = p->pos;
        s[p->nargs].o.len = p->bulk_len;
        p->nargs++;
        p->pos += p->bulk_len + 2;
        p->remaining--;
        p->state = ST_ARG_HDR;
    }
    union slot *s = p->args;
    for (size_t k = 0; k < p->nargs; k++) {
        size_t off = s[k].o.off, n = s[k].o.len;
        s[k].arg.ptr = buf + off;
        s[k].arg.len = n;
    }
    cmd->argc = p->nargs;
    cmd->argv = p->args;
    cmd->is_inline = 0;
    size_t consumed = p->pos;
    clear_request(p);
    return (ssize_t)consumed;
}

ssize_t ipc_resp_parse(struct ipc_resp_parser *p, const char *buf, size_t len,
                       struct ipc_resp_cmd *cmd)
{
    if (!p || !cmd || (!buf && len > 0))
        return -EINVAL;
    cmd->argc = 0;
    cmd->argv = NULL;
    cmd->is_inline = 0;
    if (p->err)
        return p->err;
    if (p->pos > len)
        clear_request(p); /* the caller dropped bytes it was told to keep: start over */
    if (p->state == ST_START) {
        if (len == 0)
            return IPC_ENEEDMORE;
        p->state = buf[0] == '*' ? ST_MB_HDR : ST_INLINE;
        p->pos = 0;
    }
    if (p->state == ST_INLINE)
        return parse_inline(p, buf, len, cmd);
    return parse_multibulk(p, buf, len, cmd);
}

/* ---- reply writer -------------------------------------------------------- */

static size_t buf_max(const struct ipc_resp_buf *b)
{
    return b->max ? b->max : IPC_RESP_BUF_DEFAULT_MAX;
}

/* Makes room for n more bytes, all-or-nothing. */
static int reserve(struct ipc_resp_buf *b, size_t n)
{
    size_t max = buf_max(b);
    if (n > max || b->len > max - n)
        return -ENOBUFS;
    size_t need = b->len + n;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > max)
        cap = max;
    char *d = ipc__sys_realloc(b->data, cap);
    if (!d)
        return -ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

void ipc_resp_buf_free(struct ipc_resp_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int ipc_resp_buf_consume(struct ipc_resp_buf *b, size_t n)
{
    if (!b || n > b->len)
        return -EINVAL;
    if (n > 0 && n < b->len)
        memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    return 0;
}

int ipc_resp_buf_append(struct ipc_resp_buf *b, const void *p, size_t n)
{
    if (!b || (!p && n > 0))
        return -EINVAL;
    int rc = reserve(b, n);
    if (rc < 0)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Replaces every byte c of p[0, n) with r. memchr finds them rather than a test of
 * every byte: an error reply echoes client bytes, and under the fuzzing build each
 * test was a traced call. */
static void replace_byte(char *p, size_t n, char c, char r)
{
    char *end = p + n;
    while ((p = memchr(p, c, (size_t)(end - p))) != NULL)
        *p++ = r;
}

/* "<prefix><body>\r\n" in one reservation; sanitize maps CR/LF in body to spaces. */
static int write_line(struct ipc_resp_buf *b, char prefix, const char *body, size_t n, int sanitize)
{
    if (!b || (!body && n > 0) || n > SIZE_MAX - 3)
        return -EINVAL;
    int rc = reserve(b, n + 3);
    if (rc < 0)
        return rc;
    char *d = b->data + b->len;
    d[0] = prefix;
    if (n > 0)
        memcpy(d + 1, body, n);
    if (sanitize) {
        replace_byte(d + 1, n, '\r', ' ');
        replace_byte(d + 1, n, '\n', ' ');
    }
    d[1 + n] = '\r';
    d[2 + n] = '\n';
    b->len += n + 3;
    return 0;
}

int ipc_resp_write_simple(struct ipc_resp_buf *b, const char *s, size_t len)
{
    if (s && (memchr(s, '\r', len) || memchr(s, '\n', len)))
        return -EINVAL;
    return write_line(b, '+', s, len, 0);
}

int ipc_resp_write_error(struct ipc_resp_buf *b, const char *msg, size_t len)
{
    return write_line(b, '-', msg, len, 1);
}

int ipc_resp_write_parse_error(struct ipc_resp_buf *b, const struct ipc_resp_parser *p)
{
    const char *m = ipc_resp_parser_errmsg(p);
    if (!m)
        return -EINVAL;
    return ipc_resp_write_error(b, m, strlen(m));
}

/* Formats "<prefix>[-]<mag>\r\n" so that it ends at end (at least NUM_LINE_MAX bytes
 * after the buffer's start); returns where it starts. By hand, not snprintf: an
 * integer reply (INCR) or a bulk header is written for nearly every request. */
#define NUM_LINE_MAX 24

static char *num_line(char *end, char prefix, int neg, uint64_t mag)
{
    char *p = end;
    *--p = '\n';
    *--p = '\r';
    do {
        *--p = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag);
    if (neg)
        *--p = '-';
    *--p = prefix;
    return p;
}

static int write_num_line(struct ipc_resp_buf *b, char prefix, int neg, uint64_t mag)
{
    char tmp[NUM_LINE_MAX];
    char *p = num_line(tmp + sizeof(tmp), prefix, neg, mag);
    return ipc_resp_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

int ipc_resp_write_int(struct ipc_resp_buf *b, int64_t v)
{
    return write_num_line(b, ':', v < 0, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

int ipc_resp_write_bulk(struct ipc_resp_buf *b, const void *p, size_t len)
{
    if (!b || (!p && len > 0))
        return -EINVAL;
    if (len > SIZE_MAX - 64)
        return -ENOBUFS;
    char tmp[NUM_LINE_MAX];
    char *hdr = num_line(tmp + sizeof(tmp), '$', 0, len);
    size_t h = (size_t)(tmp + sizeof(tmp) - hdr);
    int rc = reserve(b, h + len + 2);
    if (rc < 0)
        return rc;
    char *d = b->data + b->len;
    memcpy(d, hdr, h);
    if (len > 0)
        memcpy(d + h, p, len);
    memcpy(d + h + len, "\r\n", 2);
    b->len += h + len + 2;
    return 0;
}

int ipc_resp_write_null(struct ipc_resp_buf *b)
{
    return ipc_resp_buf_append(b, "$-1\r\n", 5);
}

int ipc_resp_write_array(struct ipc_resp_buf *b, size_t n)
{
    return write_num_line(b, '*', 0, n);
}

int ipc_resp_write_empty_array(struct ipc_resp_buf *b)
{
    return ipc_resp_buf_append(b, "*0\r\n", 4);
}

int ipc_resp_write_null_array(struct ipc_resp_buf *b)
{
    return ipc_resp_buf_append(b, "*-1\r\n", 5);
}
