/* test_frame.c - wire format v1: encoder, chunking-invariant decoder, error
 * offsets, guard-page over-read checks and the blocking fd helpers. */
#include "testutil.h"

#include <limits.h>
#include <signal.h>
#include <sys/mman.h>

#include "ipc_base.h"
#include "ipc/crc32c.h"
#include "ipc/frame.h"
#include "ipc/pipe.h"

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng();
}

/* Appends one encoded frame to a growing stream. */
struct stream {
    uint8_t *p;
    size_t len, cap;
};

static void stream_add(struct stream *s, uint8_t type, const void *payload, size_t len)
{
    size_t need = s->len + len + IPC_FRAME_OVERHEAD;
    if (need > s->cap) {
        s->cap = need * 2;
        s->p = realloc(s->p, s->cap);
        assert_non_null(s->p);
    }
    ssize_t r = ipc_frame_encode(s->p + s->len, s->cap - s->len, type, payload, len);
    assert_int_equal(r, (ssize_t)(len + IPC_FRAME_OVERHEAD));
    s->len += (size_t)r;
}

static void stream_raw(struct stream *s, const void *bytes, size_t len)
{
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        s->p = realloc(s->p, s->cap);
        assert_non_null(s->p);
    }
    memcpy(s->p + s->len, bytes, len);
    s->len += len;
}

/* What a decoder made of a whole stream: each frame's digest, then how it ended. */
#define MAX_SEEN 64
struct outcome {
    size_t nframes;
    struct {
        uint8_t type;
        size_t len;
        uint64_t offset;
        uint32_t crc;
    } f[MAX_SEEN];
    int end;             /* 0 clean, or the error */
    uint64_t err_offset; /* valid when end != 0 */
    uint64_t final_pos;  /* ipc_frame_dec_offset at the end */
    size_t zero_copy;    /* frames whose payload pointed into the input */
};

enum schedule { WHOLE, BYTES, RANDOM };

/* Feeds s to a fresh decoder in chunks chosen by sched, then finish(). Chunks are
 * handed over at their real position in s so a guard page after s catches any
 * read beyond the chunk. */
static void run_decoder(const uint8_t *s, size_t len, size_t max_payload, enum schedule sched,
                        struct outcome *o)
{
    struct ipc_frame_dec dec;
    memset(&dec, 0, sizeof(dec));
    dec.max_payload = max_payload;
    memset(o, 0, sizeof(*o));
    size_t pos = 0;
    int err = 0;
    while (pos < len && !err) {
        size_t n = sched == WHOLE ? len - pos : sched == BYTES ? 1 : 1 + rng() % 97;
        if (sched == RANDOM && rng() % 4 == 0)
            n = 1 + rng() % 70000;
        if (n > len - pos)
            n = len - pos;
        const uint8_t *p = s + pos;
        size_t left = n;
        for (;;) {
            struct ipc_frame f;
            ssize_t r = ipc_frame_decode(&dec, p, left, &f);
            if (r == IPC_ENEEDMORE)
                break;
            if (r < 0) {
                err = (int)r;
                break;
            }
            assert_true((size_t)r <= left);
            assert_non_null(f.payload);
            assert_true(o->nframes < MAX_SEEN);
            o->f[o->nframes].type = f.type;
            o->f[o->nframes].len = f.len;
            o->f[o->nframes].offset = f.offset;
            o->f[o->nframes].crc = ipc_crc32c(0, f.payload, f.len);
            o->nframes++;
            if (f.payload >= p && f.payload + f.len <= p + left)
                o->zero_copy++;
            p += r;
            left -= (size_t)r;
            if (left == 0)
                break;
        }
        pos += n;
    }
    if (!err)
        err = ipc_frame_dec_finish(&dec);
    o->end = err;
    o->err_offset = ipc_frame_dec_error_offset(&dec);
    o->final_pos = ipc_frame_dec_offset(&dec);
    /* Sticky: the same error again, whatever is fed. */
    if (err) {
        struct ipc_frame f;
        assert_int_equal(ipc_frame_decode(&dec, s, len, &f), err);
        assert_int_equal(ipc_frame_dec_finish(&dec), err);
        assert_int_equal(ipc_frame_dec_error(&dec), err);
    }
    ipc_frame_dec_free(&dec);
}

static void assert_same_outcome(const struct outcome *a, const struct outcome *b)
{
    assert_int_equal(a->nframes, b->nframes);
    for (size_t i = 0; i < a->nframes; i++) {
        assert_int_equal(a->f[i].type, b->f[i].type);
        assert_int_equal(a->f[i].len, b->f[i].len);
        assert_int_equal(a->f[i].offset, b->f[i].offset);
        assert_int_equal(a->f[i].crc, b->f[i].crc);
    }
    assert_int_equal(a->end, b->end);
    assert_int_equal(a->err_offset, b->err_offset);
    assert_int_equal(a->final_pos, b->final_pos);
}

/* Runs every schedule on s (also from a copy ending at a guard page) and checks
 * they agree; returns the WHOLE outcome. */
static void decode_all_ways(const uint8_t *s, size_t len, size_t max_payload, struct outcome *o)
{
    struct outcome other;
    run_decoder(s, len, max_payload, WHOLE, o);
    if (len <= 300000) {
        run_decoder(s, len, max_payload, BYTES, &other);
        assert_same_outcome(o, &other);
        assert_int_equal(other.zero_copy, 0);
    }
    for (int i = 0; i < 4; i++) {
        run_decoder(s, len, max_payload, RANDOM, &other);
        assert_same_outcome(o, &other);
    }
    /* Guard page: the stream's last byte is the last readable byte. */
    long pg = sysconf(_SC_PAGESIZE);
    size_t span = (len + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
    uint8_t *m =
        mmap(NULL, span + (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(mprotect(m + span, (size_t)pg, PROT_NONE), 0);
    uint8_t *g = m + span - len;
    if (len)
        memcpy(g, s, len);
    run_decoder(g, len, max_payload, WHOLE, &other);
    assert_same_outcome(o, &other);
    if (len <= 300000) {
        run_decoder(g, len, max_payload, BYTES, &other);
        assert_same_outcome(o, &other);
    }
    run_decoder(g, len, max_payload, RANDOM, &other);
    assert_same_outcome(o, &other);
    assert_int_equal(munmap(m, span + (size_t)pg), 0);
}

static void roundtrip(size_t plen, size_t max_payload)
{
    uint8_t *payload = malloc(plen ? plen : 1);
    assert_non_null(payload);
    fill(payload, plen);
    struct stream s = {0};
    stream_add(&s, 7, payload, plen);
    stream_add(&s, 0, "x", 1); /* a second frame after it */

    /* The iovec form produces the same bytes as the buffer form. */
    struct ipc_frame_enc enc;
    struct iovec iov[3];
    IPCT_OK(ipc_frame_encode_iov(&enc, 7, payload, plen, iov));
    assert_ptr_equal(iov[1].iov_base, payload);
    assert_int_equal(iov[0].iov_len + iov[1].iov_len + iov[2].iov_len, plen + 12);
    assert_memory_equal(s.p, iov[0].iov_base, 8);
    assert_memory_equal(s.p + 8 + plen, iov[2].iov_base, 4);
    assert_int_equal(s.p[0], 0x49);
    assert_int_equal(s.p[1], 0x46);
    assert_int_equal(s.p[2], 1);
    assert_int_equal(s.p[3], 7);
    assert_int_equal(ipc__load_be32(s.p + 4), plen);
    uint32_t crc = ipc_crc32c(0, s.p, 8 + plen);
    const uint8_t *t = s.p + 8 + plen;
    assert_int_equal(ipc__load_be32(t), crc);

    struct outcome o;
    decode_all_ways(s.p, s.len, max_payload, &o);
    assert_int_equal(o.end, 0);
    assert_int_equal(o.nframes, 2);
    assert_int_equal(o.zero_copy, 2);
    assert_int_equal(o.f[0].type, 7);
    assert_int_equal(o.f[0].len, plen);
    assert_int_equal(o.f[0].offset, 0);
    assert_int_equal(o.f[0].crc, ipc_crc32c(0, payload, plen));
    assert_int_equal(o.f[1].offset, plen + 12);
    assert_int_equal(o.final_pos, s.len);

    /* Zero-copy: the payload pointer is inside the input. */
    struct ipc_frame_dec dec = {0};
    dec.max_payload = max_payload;
    struct ipc_frame f;
    assert_int_equal(ipc_frame_decode(&dec, s.p, s.len, &f), (ssize_t)(plen + 12));
    assert_ptr_equal(f.payload, s.p + 8);
    ipc_frame_dec_free(&dec);

    free(s.p);
    free(payload);
}

static void test_roundtrip_sizes(void **state)
{
    (void)state;
    roundtrip(0, 0);
    roundtrip(1, 0);
    roundtrip(PIPE_BUF, 0);
    roundtrip(PIPE_BUF - 12, 0);
    roundtrip(65536, 0);
    roundtrip(IPC_FRAME_DEFAULT_MAX_PAYLOAD, 0);
    roundtrip(100, 100); /* exactly a small configured max */
    roundtrip(3 * 8192 * 2 + 5, 1u << 30);
}

static void test_many_frames_chunked(void **state)
{
    (void)state;
    struct stream s = {0};
    uint8_t buf[5000];
    for (int i = 0; i < 40; i++) {
        size_t n = rng() % sizeof(buf);
        if (i % 5 == 0)
            n = 0;
        fill(buf, n);
        stream_add(&s, (uint8_t)i, buf, n);
    }
    struct outcome o;
    decode_all_ways(s.p, s.len, 0, &o);
    assert_int_equal(o.end, 0);
    assert_int_equal(o.nframes, 40);
    for (int i = 0; i < 40; i++)
        assert_int_equal(o.f[i].type, i);
    free(s.p);
}

/* A good frame, then bytes that must fail with err at stream offset want. */
static void expect_error(const uint8_t *bad, size_t n, size_t max_payload, int err,
                         uint64_t off_in_bad)
{
    struct stream s = {0};
    stream_add(&s, 1, "hello", 5);
    size_t first = s.len;
    stream_raw(&s, bad, n);
    struct outcome o;
    decode_all_ways(s.p, s.len, max_payload, &o);
    assert_int_equal(o.nframes, 1);
    assert_int_equal(o.end, err);
    assert_int_equal(o.err_offset, first + off_in_bad);
    free(s.p);
}

static void test_error_offsets(void **state)
{
    (void)state;
    uint8_t f[64];
    ssize_t n = ipc_frame_encode(f, sizeof(f), 9, "payload!", 8);
    assert_int_equal(n, 20);
    uint8_t b[64];

    memcpy(b, f, 20);
    b[0] = 'X';
    expect_error(b, 20, 0, IPC_EBADMAGIC, 0);
    expect_error(b, 1, 0, IPC_EBADMAGIC, 0); /* detected without the rest */
    memcpy(b, f, 20);
    b[1] = 'X';
    expect_error(b, 20, 0, IPC_EBADMAGIC, 0);
    expect_error(b, 2, 0, IPC_EBADMAGIC, 0);
    memcpy(b, f, 20);
    b[2] = 2;
    expect_error(b, 20, 0, IPC_EBADVERSION, 2);
    expect_error(b, 3, 0, IPC_EBADVERSION, 2);
    memcpy(b, f, 20);
    b[5] = 1; /* length 65544 > max 100 */
    expect_error(b, 20, 100, IPC_ETOOLARGE, 4);
    expect_error(b, 8, 100, IPC_ETOOLARGE, 4);
    memcpy(b, f, 20);
    b[10] ^= 1; /* payload bit flip */
    expect_error(b, 20, 0, IPC_EBADCRC, 16);
    memcpy(b, f, 20);
    b[19] ^= 0x80; /* trailer bit flip */
    expect_error(b, 20, 0, IPC_EBADCRC, 16);
    memcpy(b, f, 20);
    b[3] ^= 1; /* type is covered by the CRC too */
    expect_error(b, 20, 0, IPC_EBADCRC, 16);
    /* Truncated at every point inside the frame: offset = frame start. */
    for (size_t cut = 1; cut < 20; cut++)
        expect_error(f, cut, 0, IPC_ETRUNCATED, 0);
    /* Bad magic wins over truncation, too large over a bad CRC. */
    memcpy(b, f, 20);
    b[0] = 0;
    expect_error(b, 1, 0, IPC_EBADMAGIC, 0);
}

static void test_huge_length_no_alloc(void **state)
{
    (void)state;
    static const uint8_t hdr[8] = {0x49, 0x46, 1, 0, 0xFF, 0xFF, 0xFF, 0xFF};
    size_t limits[] = {0, 100, IPC_FRAME_MAX_PAYLOAD};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        struct ipc_frame_dec dec = {0};
        dec.max_payload = limits[i];
        struct ipc_frame f;
        assert_int_equal(ipc_frame_decode(&dec, hdr, 8, &f), IPC_ETOOLARGE);
        assert_int_equal(ipc_frame_dec_error_offset(&dec), 4);
        assert_null(dec.buf_);
        assert_int_equal(dec.buf_cap_, 0);
        ipc_frame_dec_free(&dec);
        /* Byte by byte: same, still nothing allocated. */
        for (size_t k = 0; k < 8; k++) {
            ssize_t r = ipc_frame_decode(&dec, hdr + k, 1, &f);
            assert_int_equal(r, k < 7 ? IPC_ENEEDMORE : IPC_ETOOLARGE);
        }
        assert_null(dec.buf_);
        ipc_frame_dec_free(&dec);
    }
    /* A 1 GiB length under a 1 GiB limit: memory follows the data that arrives,
     * not the announced length. */
    static const uint8_t gib[8] = {0x49, 0x46, 1, 0, 0x40, 0, 0, 0};
    struct ipc_frame_dec dec;
    IPCT_OK(ipc_frame_dec_init(&dec, IPC_FRAME_MAX_PAYLOAD));
    struct ipc_frame f;
    assert_int_equal(ipc_frame_decode(&dec, gib, 8, &f), IPC_ENEEDMORE);
    assert_null(dec.buf_);
    uint8_t some[100] = {0};
    assert_int_equal(ipc_frame_decode(&dec, some, sizeof(some), &f), IPC_ENEEDMORE);
    assert_true(dec.buf_cap_ <= 4096);
    assert_int_equal(ipc_frame_dec_finish(&dec), IPC_ETRUNCATED);
    assert_int_equal(ipc_frame_dec_error_offset(&dec), 0);
    assert_int_equal(ipc_frame_dec_offset(&dec), 108);
    ipc_frame_dec_free(&dec);
}

static void test_sticky_and_reset(void **state)
{
    (void)state;
    uint8_t good[32], bad[32];
    ssize_t n = ipc_frame_encode(good, sizeof(good), 3, "abc", 3);
    assert_int_equal(n, 15);
    memcpy(bad, good, 15);
    bad[14] ^= 1;
    struct ipc_frame_dec dec = {0};
    struct ipc_frame f;
    assert_int_equal(ipc_frame_decode(&dec, bad, 15, &f), IPC_EBADCRC);
    assert_int_equal(ipc_frame_decode(&dec, good, 15, &f), IPC_EBADCRC);
    assert_int_equal(ipc_frame_decode(&dec, NULL, 0, &f), IPC_EBADCRC);
    assert_int_equal(ipc_frame_dec_finish(&dec), IPC_EBADCRC);
    assert_int_equal(ipc_frame_dec_error_offset(&dec), 11);
    assert_int_equal(ipc_frame_dec_offset(&dec), 15);
    ipc_frame_dec_reset(&dec);
    assert_int_equal(ipc_frame_dec_error(&dec), 0);
    assert_int_equal(ipc_frame_decode(&dec, good, 15, &f), 15);
    assert_int_equal(f.len, 3);
    assert_memory_equal(f.payload, "abc", 3);
    assert_int_equal(ipc_frame_dec_finish(&dec), 0);
    /* A partial frame, reset, then a whole frame: the partial one is forgotten. */
    assert_int_equal(ipc_frame_decode(&dec, good, 10, &f), IPC_ENEEDMORE);
    ipc_frame_dec_reset(&dec);
    assert_int_equal(ipc_frame_decode(&dec, good, 15, &f), 15);
    assert_int_equal(f.offset, 0);
    ipc_frame_dec_free(&dec);
    ipc_frame_dec_free(NULL);
    ipc_frame_dec_reset(NULL);
}

static void test_buffered_payload_lifetime(void **state)
{
    (void)state;
    /* Across two calls the payload lives in the decoder; the input may be gone. */
    uint8_t fr[2000], payload[1988];
    fill(payload, sizeof(payload));
    assert_int_equal(ipc_frame_encode(fr, sizeof(fr), 5, payload, sizeof(payload)), 2000);
    struct ipc_frame_dec dec = {0};
    struct ipc_frame f;
    uint8_t *a = malloc(1000), *b = malloc(1000);
    memcpy(a, fr, 1000);
    memcpy(b, fr + 1000, 1000);
    assert_int_equal(ipc_frame_decode(&dec, a, 1000, &f), IPC_ENEEDMORE);
    free(a);
    assert_int_equal(ipc_frame_decode(&dec, b, 1000, &f), 1000);
    free(b);
    assert_int_equal(f.len, sizeof(payload));
    assert_memory_equal(f.payload, payload, sizeof(payload));
    ipc_frame_dec_free(&dec);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct ipc_frame_dec dec = {0};
    struct ipc_frame f;
    struct ipc_frame_enc enc;
    struct iovec iov[3];
    uint8_t out[64] = {0};
    assert_int_equal(ipc_frame_decode(NULL, out, 1, &f), -EINVAL);
    assert_int_equal(ipc_frame_decode(&dec, out, 1, NULL), -EINVAL);
    assert_int_equal(ipc_frame_decode(&dec, NULL, 1, &f), -EINVAL);
    assert_int_equal(ipc_frame_decode(&dec, NULL, 0, &f), IPC_ENEEDMORE);
    dec.max_payload = (size_t)IPC_FRAME_MAX_PAYLOAD + 1;
    assert_int_equal(ipc_frame_decode(&dec, out, 1, &f), -EINVAL);
    assert_int_equal(ipc_frame_dec_init(&dec, (size_t)IPC_FRAME_MAX_PAYLOAD + 1), -EINVAL);
    assert_int_equal(ipc_frame_dec_init(NULL, 0), -EINVAL);
    IPCT_OK(ipc_frame_dec_init(&dec, 0));
    assert_int_equal(ipc_frame_dec_finish(NULL), -EINVAL);
    assert_int_equal(ipc_frame_encode(NULL, 64, 0, "a", 1), -EINVAL);
    assert_int_equal(ipc_frame_encode(out, 64, 0, NULL, 1), -EINVAL);
    assert_int_equal(ipc_frame_encode(out, 12, 0, "a", 1), -ENOBUFS);
    assert_int_equal(ipc_frame_encode(out, 13, 0, "a", 1), 13);
    assert_int_equal(ipc_frame_encode(out, SIZE_MAX, 0, "a", (size_t)IPC_FRAME_MAX_PAYLOAD + 1),
                     IPC_ETOOLARGE);
    assert_int_equal(ipc_frame_encode_iov(NULL, 0, "a", 1, iov), -EINVAL);
    assert_int_equal(ipc_frame_encode_iov(&enc, 0, "a", 1, NULL), -EINVAL);
    assert_int_equal(ipc_frame_encode_iov(&enc, 0, NULL, 1, iov), -EINVAL);
    assert_int_equal(ipc_frame_encode_iov(&enc, 0, "a", (size_t)IPC_FRAME_MAX_PAYLOAD + 1, iov),
                     IPC_ETOOLARGE);
    assert_int_equal(ipc_frame_read_fd(0, NULL, &f), -EINVAL);
    assert_int_equal(ipc_frame_read_fd(-1, &dec, &f), -EBADF);
    assert_int_equal(ipc_frame_write_fd(-1, 0, "a", 1, 0), -EBADF);
    assert_int_equal(ipc_frame_write_fd(1, 0, NULL, 1, 0), -EINVAL);
    /* In-place encoding: payload already at out + 8. */
    memcpy(out + 8, "inplace", 7);
    assert_int_equal(ipc_frame_encode(out, sizeof(out), 4, out + 8, 7), 19);
    assert_int_equal(ipc_frame_decode(&dec, out, 19, &f), 19);
    assert_memory_equal(f.payload, "inplace", 7);
    ipc_frame_dec_free(&dec);
}

/* Child writes frames (and optionally garbage) to a pipe; parent reads them. */
static void test_fd_helpers(void **state)
{
    (void)state;
    struct ipc_pipe p;
    IPCT_OK(ipc_pipe_open(&p, 0));
    static uint8_t big[200000];
    fill(big, sizeof(big));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int w = ipc_pipe_use_write_end(&p);
        int ok = ipc_frame_write_fd(w, 1, "one", 3, 0) == 15 &&
                 ipc_frame_write_fd(w, 2, NULL, 0, 0) == 12 &&
                 ipc_frame_write_fd(w, 3, big, sizeof(big), 0) == (ssize_t)sizeof(big) + 12 &&
                 ipc_frame_write_fd(w, 4, "tail", 4, 0) == 16;
        /* Then half a frame and EOF. */
        uint8_t fr[32];
        ok = ok && ipc_frame_encode(fr, sizeof(fr), 5, "truncated", 9) == 21 &&
             ipc_pipe_write_all(w, fr, 10, 0) == 10;
        ipc__exit_child(ok ? 0 : 1);
    }
    int r = ipc_pipe_use_read_end(&p);
    struct ipc_frame_dec dec;
    IPCT_OK(ipc_frame_dec_init(&dec, 300000));
    struct ipc_frame f;
    assert_int_equal(ipc_frame_read_fd(r, &dec, &f), 15);
    assert_int_equal(f.type, 1);
    assert_memory_equal(f.payload, "one", 3);
    assert_int_equal(ipc_frame_read_fd(r, &dec, &f), 12);
    assert_int_equal(f.type, 2);
    assert_int_equal(f.len, 0);
    assert_int_equal(ipc_frame_read_fd(r, &dec, &f), (ssize_t)sizeof(big) + 12);
    assert_int_equal(f.type, 3);
    assert_int_equal(f.len, sizeof(big));
    assert_memory_equal(f.payload, big, sizeof(big));
    assert_int_equal(ipc_frame_read_fd(r, &dec, &f), 16);
    assert_int_equal(f.offset, 15 + 12 + sizeof(big) + 12);
    assert_memory_equal(f.payload, "tail", 4);
    uint64_t start = ipc_frame_dec_offset(&dec);
    assert_int_equal(ipc_frame_read_fd(r, &dec, &f), IPC_ETRUNCATED);
    assert_int_equal(ipc_frame_dec_error_offset(&dec), start);
    assert_int_equal(ipc_frame_dec_offset(&dec), start + 10);
    assert_int_equal(ipc_frame_read_fd(r, &dec, &f), IPC_ETRUNCATED); /* sticky */
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ipc_pipe_close(&p);
    ipc_frame_dec_free(&dec);
}

static void test_fd_read_errors(void **state)
{
    (void)state;
    struct ipc_pipe p;
    IPCT_OK(ipc_pipe_open(&p, 0));
    struct ipc_frame_dec dec = {0};
    struct ipc_frame f;
    /* Clean EOF before any frame: 0, not an error. */
    close(p.wr);
    p.wr = -1;
    assert_int_equal(ipc_frame_read_fd(p.rd, &dec, &f), 0);
    assert_int_equal(ipc_frame_dec_error(&dec), 0);
    ipc_pipe_close(&p);

    /* A frame too large for the limit: rejected after its header, which is all
     * that was consumed from the pipe. */
    IPCT_OK(ipc_pipe_open(&p, 0));
    dec.max_payload = 16;
    uint8_t fr[64] = {0};
    assert_int_equal(ipc_frame_encode(fr, sizeof(fr), 0, fr + 40, 17), 29);
    assert_int_equal(ipc_pipe_write_all(p.wr, fr, 29, 0), 29);
    assert_int_equal(ipc_frame_read_fd(p.rd, &dec, &f), IPC_ETOOLARGE);
    assert_int_equal(ipc_frame_dec_error_offset(&dec), 4);
    uint8_t rest[32];
    IPCT_OK(ipc_pipe_set_nonblock(p.rd, 1));
    assert_int_equal(ipc_pipe_read_full(p.rd, rest, sizeof(rest)), 21);
    /* Non-blocking and empty: -EAGAIN, not sticky, nothing consumed. */
    ipc_frame_dec_reset(&dec);
    assert_int_equal(ipc_frame_read_fd(p.rd, &dec, &f), -EAGAIN);
    assert_int_equal(ipc_frame_dec_error(&dec), 0);
    /* A bad CRC through a pipe, at the same offset as in memory. */
    dec.max_payload = 0;
    assert_int_equal(ipc_frame_encode(fr, sizeof(fr), 0, "abc", 3), 15);
    fr[9] ^= 1;
    assert_int_equal(ipc_pipe_write_all(p.wr, fr, 15, 0), 15);
    assert_int_equal(ipc_frame_read_fd(p.rd, &dec, &f), IPC_EBADCRC);
    assert_int_equal(ipc_frame_dec_error_offset(&dec), 11);
    ipc_pipe_close(&p);
    ipc_frame_dec_free(&dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_roundtrip_sizes),  IPCT_TEST(test_many_frames_chunked),
        IPCT_TEST(test_error_offsets),    IPCT_TEST(test_huge_length_no_alloc),
        IPCT_TEST(test_sticky_and_reset), IPCT_TEST(test_buffered_payload_lifetime),
        IPCT_TEST(test_bad_arguments),    IPCT_TEST(test_fd_helpers),
        IPCT_TEST(test_fd_read_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
