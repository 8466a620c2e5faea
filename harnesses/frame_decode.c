/* frame_decode - fuzz target for the incremental frame decoder (ipc/frame.h).
 *
 * Targets: ipc_frame_dec_init, ipc_frame_decode, ipc_frame_dec_finish,
 * ipc_frame_dec_error, ipc_frame_dec_error_offset, ipc_frame_dec_offset,
 * ipc_frame_dec_reset, ipc_frame_dec_free, ipc_frame_encode, ipc_crc32c,
 * ipc_crc32c_with, ipc_crc32c_combine, ipc_crc32c_available, ipc_crc32c_force,
 * ipc_crc32c_current, ipc_crc32c_name, and the
 * argument checks of ipc_frame_encode_iov, ipc_frame_read_fd, ipc_frame_write_fd.
 *
 * A one-byte payload checks argument validation instead (api_edges).
 *
 * Input: a fault schedule (fuzz_util.h: byte 0 = step count K, then K 4-byte
 * steps; 0x00 = none), then the payload: byte 0 = config (bits 0-2: max_payload choice, bit 3:
 * declare EOF with ipc_frame_dec_finish, bits 4-7: largest chunk = 2^n bytes), byte 1 = seed of the
 * chunking schedule (fuzz_sched in fuzz_util.h: up to FUZZ_SCHED_CUTS chunks of 1..2^n bytes, from
 * a seed-derived offset when bit 7 is set, then the rest in one piece), then the byte stream.
 *
 * Invariants (abort on violation):
 *  - whole vs chunked: the stream decoded in one buffer and decoded in chunks
 *    (each chunk copied flush against the end of a heap block, so that ASan
 *    sees a read past it) yields the same frames (offset, type,
 *    payload bytes) and the same sticky error at the same error offset;
 *  - both agree with a reference decoder written here from the wire format
 *    (docs/design.md section 3), including CRC-32C (an independent bytewise
 *    model generated from the polynomial, for frames up to REF_MODEL_MAX bytes;
 *    the table implementation beyond) and which field fails first;
 *  - CRC-32C: every available implementation (ipc_crc32c_with: table, sse4.2,
 *    sse4.2-3way) equals the model on the first CRC_MODEL_MAX bytes, whole and
 *    chained at a split; ipc_crc32c_combine(crc A, crc B, |B|) equals the model's
 *    crc(A||B); all implementations and ipc_crc32c agree on the whole input; once
 *    per process: available/force/current/name as documented, AUTO's choice, and
 *    the check value of "123456789";
 *  - every returned length is within the call's buffer; a frame's payload points
 *    into that buffer (exactly buf + 8 when the frame lay whole in it) or into the
 *    decoder's own buffer; payload length <= max_payload;
 *  - IPC_ENEEDMORE consumes everything; errors are sticky; the stream offset
 *    equals the bytes fed; ipc_frame_dec_finish reports IPC_ETRUNCATED exactly
 *    when EOF falls inside a frame;
 *  - re-encoding each decoded frame with ipc_frame_encode reproduces its bytes
 *    (checked in the whole pass; the chunked pass must then find the same frames
 *    at the same offsets with the same type and payload bytes);
 *  - under the fault schedule (armed for the whole and chunked passes; the
 *    decoder's only seam call is the realloc of its buffer): a pass either agrees
 *    with the reference or stops with the sticky -ENOMEM, only when a fault was
 *    injected during it, after a prefix of the reference's frames (none lost,
 *    wrong or duplicated); the same stream decoded again without faults agrees.
 *
 * Speed (scripts/fuzz --bench): per input, work is linear in the input and the
 * number of decoder calls is bounded by the frame count + FUZZ_SCHED_CUTS + 2;
 * no malloc per input besides the decoder's own buffer.
 */
// libfuzzer-options: max_len=8192
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "model_crc.h"
#include "ipc/crc32c.h"
#include "ipc/frame.h"
#include "ipc/pipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 4096

static const size_t max_payload_choice[8] = {0, 1, 16, 255, 256, 4096, 65535, 65536};

struct outcome {
    size_t nframes;
    uint64_t off[MAX_FRAMES]; /* each frame's stream offset; its bytes are in the input */
    int err;                  /* sticky error, 0 if none */
    uint64_t err_off;
    int finish; /* ipc_frame_dec_finish result, when called */
};

FUZZ_NOCOV static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- CRC-32C model: model_crc.h --------------------------------------------------- */

/* Bytes of each input checked against the model with every implementation: more
 * than 3 x 256, the shortest input the three-stream implementation splits. */
#define CRC_MODEL_MAX 800
/* Longest frame whose CRC the reference takes from the model (exec/s). */
#define REF_MODEL_MAX 256

static const enum ipc_crc32c_impl crc_impls[] = {IPC_CRC32C_TABLE, IPC_CRC32C_SSE42,
                                                 IPC_CRC32C_SSE42_3WAY};
static const char *const crc_impl_names[] = {"table", "sse4.2", "sse4.2-3way"};

/* Once per process: the implementation choice API, and the check value. */
FUZZ_NOCOV static void crc_api_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    FUZZ_CHECK(model_crc(0, (const uint8_t *)"123456789", 9) == 0xE3069283u);
    FUZZ_CHECK(ipc_crc32c_available(IPC_CRC32C_AUTO) == 1);
    FUZZ_CHECK(ipc_crc32c_available(IPC_CRC32C_TABLE) == 1);
    FUZZ_CHECK(ipc_crc32c_available((enum ipc_crc32c_impl)99) == -EINVAL);
    FUZZ_CHECK(ipc_crc32c_force((enum ipc_crc32c_impl)99) == -EINVAL);
    FUZZ_CHECK(strcmp(ipc_crc32c_name((enum ipc_crc32c_impl)99), "unknown") == 0);
    FUZZ_CHECK(strcmp(ipc_crc32c_name(IPC_CRC32C_AUTO), "auto") == 0);
    for (size_t i = 0; i < sizeof(crc_impls) / sizeof(crc_impls[0]); i++) {
        enum ipc_crc32c_impl impl = crc_impls[i];
        FUZZ_CHECK(strcmp(ipc_crc32c_name(impl), crc_impl_names[i]) == 0);
        int avail = ipc_crc32c_available(impl);
        FUZZ_CHECK(avail == 0 || avail == 1);
        enum ipc_crc32c_impl before = ipc_crc32c_current();
        int r = ipc_crc32c_force(impl);
        if (!avail) {
            FUZZ_CHECK(r == -ENOTSUP && ipc_crc32c_current() == before);
            continue;
        }
        FUZZ_CHECK(r == 0 && ipc_crc32c_current() == impl);
        FUZZ_CHECK(ipc_crc32c(0, "123456789", 9) == 0xE3069283u);
    }
    /* AUTO: the fastest available, the first of the hybrid (VPCLMULQDQ folding
     * beside crc32q streams), the three streams, the table
     * (harnesses/crc32c_paths.c checks every path). */
    FUZZ_CHECK(ipc_crc32c_force(IPC_CRC32C_AUTO) == 0);
    enum ipc_crc32c_impl auto_want =
        ipc_crc32c_available(IPC_CRC32C_HYBRID) == 1       ? IPC_CRC32C_HYBRID
        : ipc_crc32c_available(IPC_CRC32C_SSE42_3WAY) == 1 ? IPC_CRC32C_SSE42_3WAY
                                                           : IPC_CRC32C_TABLE;
    FUZZ_CHECK(ipc_crc32c_current() == auto_want);
}

/* Every implementation against the model on a bounded prefix (whole, and chained
 * at a seed-chosen split), combine against the model, and all implementations
 * (ipc_crc32c too) agree on the whole input. */
FUZZ_NOCOV static void crc_check(const uint8_t *s, size_t n, uint32_t seed)
{
    size_t bound = n < CRC_MODEL_MAX ? n : CRC_MODEL_MAX;
    size_t k = (size_t)seed * 7919u % (bound + 1);
    uint32_t a = model_crc(0, s, k);
    uint32_t ab = model_crc(a, s + k, bound - k);
    /* crc(B) from the table implementation (held to the model just below):
     * a mismatch is a bug of combine or of the table, either way a finding. */
    uint32_t b = ipc_crc32c_with(IPC_CRC32C_TABLE, 0, s + k, bound - k);
    FUZZ_CHECK(ipc_crc32c_combine(a, b, bound - k) == ab);
    FUZZ_CHECK(ipc_crc32c_combine(ab, 0, 0) == ab); /* B empty: crc(B) = 0 */
    uint32_t whole = 0;
    int have = 0;
    for (size_t i = 0; i < sizeof(crc_impls) / sizeof(crc_impls[0]); i++) {
        enum ipc_crc32c_impl impl = crc_impls[i];
        if (ipc_crc32c_available(impl) != 1)
            continue;
        FUZZ_CHECK(ipc_crc32c_with(impl, 0, s, bound) == ab);
        FUZZ_CHECK(ipc_crc32c_with(impl, a, s + k, bound - k) == ab);
        /* The table implementation on long inputs is the reference's (for
         * frames above REF_MODEL_MAX), compared with the decoder's there. */
        if (bound < n && impl == IPC_CRC32C_TABLE)
            continue;
        uint32_t w = bound == n ? ab : ipc_crc32c_with(impl, 0, s, n);
        FUZZ_CHECK(!have || w == whole);
        whole = w;
        have = 1;
    }
    FUZZ_CHECK(!have || ipc_crc32c(0, s, n) == whole);
}

/* The reference's CRC: the model up to REF_MODEL_MAX bytes; beyond, to keep the
 * target fast, the table implementation, which crc_check holds to the model on
 * every input's first CRC_MODEL_MAX bytes, and which is not what the decoder
 * uses whenever the CPU has SSE4.2. */
FUZZ_NOCOV static uint32_t reference_crc(const uint8_t *p, size_t n)
{
    return n <= REF_MODEL_MAX ? model_crc(0, p, n) : ipc_crc32c_with(IPC_CRC32C_TABLE, 0, p, n);
}

/* The wire format, written from the spec without looking at the decoder. */
FUZZ_NOCOV static void reference(const uint8_t *s, size_t n, size_t maxp, int finish,
                                 struct outcome *o)
{
    size_t at = 0;
    o->nframes = 0;
    o->err = 0;
    o->err_off = 0;
    o->finish = 0;
    for (;;) {
        size_t left = n - at;
        if (left >= 1 && s[at] != IPC_FRAME_MAGIC0)
            goto bad_magic;
        if (left >= 2 && s[at + 1] != IPC_FRAME_MAGIC1)
            goto bad_magic;
        if (left >= 3 && s[at + 2] != IPC_FRAME_VERSION) {
            o->err = IPC_EBADVERSION;
            o->err_off = at + 2;
            return;
        }
        if (left < 8)
            break;
        uint32_t len = be32(s + at + 4);
        if (len > maxp) {
            o->err = IPC_ETOOLARGE;
            o->err_off = at + 4;
            return;
        }
        if (left < 12 + (size_t)len)
            break;
        if (be32(s + at + 8 + len) != reference_crc(s + at, 8 + (size_t)len)) {
            o->err = IPC_EBADCRC;
            o->err_off = at + 8 + len;
            return;
        }
        FUZZ_CHECK(o->nframes < MAX_FRAMES);
        o->off[o->nframes++] = at;
        at += 12 + (size_t)len;
    }
    if (finish && at < n) {
        o->err = IPC_ETRUNCATED;
        o->err_off = at;
        o->finish = IPC_ETRUNCATED;
    }
    return;
bad_magic:
    o->err = IPC_EBADMAGIC;
    o->err_off = at;
}

/* Checks one decoded frame against the stream it came from and re-encodes it. */
FUZZ_NOCOV static void check_frame(const uint8_t *s, size_t n, const struct ipc_frame *f,
                                   size_t maxp, int reencode)
{
    FUZZ_CHECK(f->payload != NULL);
    FUZZ_CHECK(f->len <= maxp);
    FUZZ_CHECK(f->offset <= n && n - f->offset >= 12 + f->len);
    const uint8_t *raw = s + f->offset;
    FUZZ_CHECK(f->type == raw[3]);
    FUZZ_CHECK(f->len == 0 || memcmp(f->payload, raw + 8, f->len) == 0);
    if (!reencode)
        return;
    static uint8_t small[4096 + 12];
    uint8_t *enc = f->len <= 4096 ? small : malloc(12 + f->len);
    FUZZ_CHECK(enc != NULL);
    /* one byte short must be refused without writing */
    FUZZ_CHECK(ipc_frame_encode(enc, 11 + f->len, f->type, f->payload, f->len) == -ENOBUFS);
    ssize_t e = ipc_frame_encode(enc, 12 + f->len, f->type, f->payload, f->len);
    FUZZ_CHECK(e == (ssize_t)(12 + f->len));
    FUZZ_CHECK(memcmp(enc, raw, 12 + f->len) == 0);
    if (enc != small)
        free(enc);
}

FUZZ_NOCOV static void record(struct outcome *o, const struct ipc_frame *f)
{
    FUZZ_CHECK(o->nframes < MAX_FRAMES);
    o->off[o->nframes++] = f->offset;
}

FUZZ_NOCOV static void check_sticky(struct ipc_frame_dec *dec, int err, uint64_t err_off)
{
    struct ipc_frame f;
    uint8_t b = IPC_FRAME_MAGIC0;
    FUZZ_CHECK(ipc_frame_dec_error(dec) == err);
    FUZZ_CHECK(ipc_frame_dec_error_offset(dec) == err_off);
    FUZZ_CHECK(ipc_frame_decode(dec, &b, 1, &f) == err);
    FUZZ_CHECK(ipc_frame_dec_finish(dec) == err);
}

FUZZ_NOCOV static void record_error(struct outcome *o, struct ipc_frame_dec *dec, int err)
{
    o->err = err;
    o->err_off = ipc_frame_dec_error_offset(dec);
    check_sticky(dec, err, o->err_off);
}

/* Faults are armed: a decode may also fail with -ENOMEM (its realloc). */
static int faults_armed;

/* The error a decode call returned: one of the decoder's, and sticky. */
FUZZ_NOCOV static void decode_error(struct outcome *o, struct ipc_frame_dec *dec, ssize_t r)
{
    FUZZ_CHECK(r == IPC_EBADMAGIC || r == IPC_EBADVERSION || r == IPC_ETOOLARGE ||
               r == IPC_EBADCRC || (r == -ENOMEM && faults_armed));
    record_error(o, dec, (int)r);
}

/* End of stream: a frame cut short is IPC_ETRUNCATED, recorded as the error. */
FUZZ_NOCOV static void finish_stream(struct outcome *o, struct ipc_frame_dec *dec)
{
    o->finish = ipc_frame_dec_finish(dec);
    if (o->finish != 0) {
        FUZZ_CHECK(o->finish == IPC_ETRUNCATED);
        record_error(o, dec, o->finish);
    }
}

FUZZ_NOCOV static void whole(const uint8_t *s, size_t n, size_t maxp, int finish, struct outcome *o)
{
    struct ipc_frame_dec dec;
    FUZZ_CHECK(ipc_frame_dec_init(&dec, maxp) == 0);
    size_t at = 0;
    o->nframes = 0;
    o->err = 0;
    o->err_off = 0;
    o->finish = 0;
    for (;;) {
        struct ipc_frame f;
        ssize_t r = ipc_frame_decode(&dec, s + at, n - at, &f);
        if (r > 0) {
            FUZZ_CHECK((size_t)r <= n - at);
            /* The frame lies whole in buf: zero-copy, starting where the call did. */
            FUZZ_CHECK(f.offset == at);
            FUZZ_CHECK((size_t)r == 12 + f.len);
            FUZZ_CHECK(f.payload == s + at + 8);
            check_frame(s, n, &f, maxp ? maxp : IPC_FRAME_DEFAULT_MAX_PAYLOAD, 1);
            record(o, &f);
            at += (size_t)r;
            FUZZ_CHECK(ipc_frame_dec_offset(&dec) == at);
            continue;
        }
        if (r == IPC_ENEEDMORE) {
            FUZZ_CHECK(ipc_frame_dec_offset(&dec) == n);
            break;
        }
        decode_error(o, &dec, r);
        break;
    }
    if (finish && o->err == 0)
        finish_stream(o, &dec);
    /* reset makes the decoder usable again from offset 0 */
    ipc_frame_dec_reset(&dec);
    FUZZ_CHECK(ipc_frame_dec_error(&dec) == 0 && ipc_frame_dec_offset(&dec) == 0);
    ipc_frame_dec_free(&dec);
}

FUZZ_NOCOV static void chunked(const uint8_t *s, size_t n, size_t maxp, int finish,
                               unsigned max_chunk, uint32_t seed, struct outcome *o)
{
    struct ipc_frame_dec dec;
    struct fuzz_sched sched;
    fuzz_sched_init(&sched, seed, max_chunk, n);
    FUZZ_CHECK(ipc_frame_dec_init(&dec, maxp) == 0);
    o->nframes = 0;
    o->err = 0;
    o->err_off = 0;
    o->finish = 0;
    size_t fed = 0;
    static struct fuzz_tail tail; /* reused: see fuzz_tail_reserve */
    fuzz_tail_reserve(&tail, n);
    while (fed < n && o->err == 0) {
        size_t clen = fuzz_sched_next(&sched, n - fed);
        uint8_t *chunk = fuzz_tail_put(&tail, s + fed, clen);
        size_t at = 0;
        for (;;) {
            struct ipc_frame f;
            ssize_t r = ipc_frame_decode(&dec, chunk + at, clen - at, &f);
            if (r > 0) {
                FUZZ_CHECK((size_t)r <= clen - at);
                /* an empty payload only has to be non-NULL */
                FUZZ_CHECK(f.len == 0 || fuzz_inside(f.payload, f.len, chunk + at, (size_t)r) ||
                           fuzz_inside(f.payload, f.len, dec.buf_, dec.buf_cap_));
                /* the frame ends exactly at the last byte this call consumed */
                FUZZ_CHECK(f.offset + 12 + f.len == fed + at + (size_t)r);
                check_frame(s, n, &f, maxp ? maxp : IPC_FRAME_DEFAULT_MAX_PAYLOAD, 0);
                record(o, &f);
                at += (size_t)r;
                FUZZ_CHECK(ipc_frame_dec_offset(&dec) == fed + at);
                continue;
            }
            if (r == IPC_ENEEDMORE) {
                FUZZ_CHECK(ipc_frame_dec_offset(&dec) == fed + clen);
                break;
            }
            decode_error(o, &dec, r);
            break;
        }
        fed += clen;
    }
    if (finish && o->err == 0)
        finish_stream(o, &dec);
    ipc_frame_dec_free(&dec);
}

FUZZ_NOCOV static void same(const struct outcome *a, const struct outcome *b)
{
    FUZZ_CHECK(a->nframes == b->nframes);
    FUZZ_CHECK(a->err == b->err);
    FUZZ_CHECK(a->err == 0 || a->err_off == b->err_off);
    FUZZ_CHECK(a->finish == b->finish);
    for (size_t i = 0; i < a->nframes; i++)
        FUZZ_CHECK(a->off[i] == b->off[i]);
}

/* A pass under faults: the reference's outcome, or -ENOMEM (only when a fault was
 * injected during the pass) after a prefix of the reference's frames. */
FUZZ_NOCOV static void same_or_nomem(const struct outcome *ref, const struct outcome *o,
                                     int injected)
{
    if (o->err != -ENOMEM) {
        same(ref, o);
        return;
    }
    FUZZ_CHECK(injected);
    FUZZ_CHECK(o->nframes <= ref->nframes);
    for (size_t i = 0; i < o->nframes; i++)
        FUZZ_CHECK(o->off[i] == ref->off[i]);
}

/* A frame header with payload length n (the decoder checks it before the payload). */
FUZZ_NOCOV static void frame_header(uint8_t h[8], uint32_t n)
{
    h[0] = IPC_FRAME_MAGIC0;
    h[1] = IPC_FRAME_MAGIC1;
    h[2] = IPC_FRAME_VERSION;
    h[3] = 5;
    h[4] = (uint8_t)(n >> 24);
    h[5] = (uint8_t)(n >> 16);
    h[6] = (uint8_t)(n >> 8);
    h[7] = (uint8_t)n;
}

/* The limits at their boundaries: every hard or configured maximum is accepted and
 * one above it is refused with the documented code (and error offset). */
FUZZ_NOCOV static void api_limits(void)
{
    struct ipc_frame_dec dec;
    struct ipc_frame f;
    struct ipc_frame_enc enc;
    struct iovec iov[3];
    uint8_t b[32] = {0};
    /* dec_init: "-EINVAL (dec NULL, max_payload above IPC_FRAME_MAX_PAYLOAD)" */
    CONTRACT(ipc_frame_dec_init(&dec, IPC_FRAME_MAX_PAYLOAD), 0);
    FUZZ_CHECK(dec.max_payload == IPC_FRAME_MAX_PAYLOAD);
    ipc_frame_dec_free(&dec);
    CONTRACT(ipc_frame_dec_init(&dec, SIZE_MAX), -EINVAL);
    /* a length field equal to max_payload is decoded, one more is IPC_ETOOLARGE at
     * frame start + 4, before any payload byte arrives */
    CONTRACT(ipc_frame_dec_init(&dec, 3), 0);
    CONTRACT(ipc_frame_encode(b, sizeof(b), 5, "abc", 3), 15);
    CONTRACT(ipc_frame_decode(&dec, b, 15, &f), 15);
    FUZZ_CHECK(f.type == 5 && f.len == 3 && memcmp(f.payload, "abc", 3) == 0);
    frame_header(b, 4);
    CONTRACT(ipc_frame_decode(&dec, b, 8, &f), IPC_ETOOLARGE);
    FUZZ_CHECK(ipc_frame_dec_error(&dec) == IPC_ETOOLARGE);
    FUZZ_CHECK(ipc_frame_dec_error_offset(&dec) == 15 + 4);
    ipc_frame_dec_free(&dec);
    /* the hard maximum with max_payload = IPC_FRAME_MAX_PAYLOAD: the header of a
     * 1 GiB frame is accepted (more is needed), one byte more is refused */
    CONTRACT(ipc_frame_dec_init(&dec, IPC_FRAME_MAX_PAYLOAD), 0);
    frame_header(b, IPC_FRAME_MAX_PAYLOAD);
    CONTRACT(ipc_frame_decode(&dec, b, 8, &f), IPC_ENEEDMORE);
    ipc_frame_dec_reset(&dec);
    frame_header(b, IPC_FRAME_MAX_PAYLOAD + 1u);
    CONTRACT(ipc_frame_decode(&dec, b, 8, &f), IPC_ETOOLARGE);
    FUZZ_CHECK(ipc_frame_dec_error_offset(&dec) == 4);
    ipc_frame_dec_free(&dec);
    FUZZ_CHECK(ipc_frame_dec_error(NULL) == -EINVAL);
    /* encode: the hard maximum is not IPC_ETOOLARGE (here -ENOBUFS: nothing is
     * read or written), one more is; cap exactly len + 12 fits, one less does not */
    memset(b, 0x5a, sizeof(b));
    CONTRACT(ipc_frame_encode(b, sizeof(b), 0, b, IPC_FRAME_MAX_PAYLOAD), -ENOBUFS);
    CONTRACT(ipc_frame_encode(b, sizeof(b), 0, b, (size_t)IPC_FRAME_MAX_PAYLOAD + 1),
             IPC_ETOOLARGE);
    CONTRACT(ipc_frame_encode(b, 14, 0, "xy", 2), 14);
    CONTRACT(ipc_frame_encode(b + 16, 13, 0, "xyz", 3), -ENOBUFS);
    for (size_t i = 16; i < sizeof(b); i++)
        FUZZ_CHECK(b[i] == 0x5a);
    CONTRACT(ipc_frame_encode(b, 12, 9, NULL, 0), 12);
    /* encode_iov: "-EINVAL (enc/iov NULL, payload NULL with len > 0)" */
    CONTRACT(ipc_frame_encode_iov(&enc, 0, b, 1, NULL), -EINVAL);
    CONTRACT(ipc_frame_encode_iov(&enc, 0, NULL, 0, iov), 0);
    FUZZ_CHECK(iov[0].iov_len + iov[1].iov_len + iov[2].iov_len == IPC_FRAME_OVERHEAD);
    /* write_fd: the errors of encode_iov and ipc_pipe_writev_all (unknown flag) */
    struct ipc_pipe p;
    CONTRACT(ipc_pipe_open(&p, 0), 0);
    CONTRACT(ipc_frame_write_fd(p.wr, 0, b, 1, IPC_PIPE_NO_SIGPIPE_GUARD << 1), -EINVAL);
    CONTRACT(ipc_frame_write_fd(p.wr, 0, b, (size_t)IPC_FRAME_MAX_PAYLOAD + 1, 0), IPC_ETOOLARGE);
    CONTRACT(ipc_frame_write_fd(p.wr, 0, NULL, 0, 0), 12);
    /* read_fd: a writer gone inside a frame is IPC_ETRUNCATED */
    CONTRACT(ipc_frame_dec_init(&dec, 0), 0);
    CONTRACT(ipc_frame_read_fd(p.rd, &dec, &f), 12);
    FUZZ_CHECK(f.len == 0 && f.type == 0);
    CONTRACT(ipc_pipe_write_all(p.wr, "IF\x01", 3, 0), 3);
    close(p.wr);
    p.wr = -1;
    CONTRACT(ipc_frame_read_fd(p.rd, &dec, &f), IPC_ETRUNCATED);
    FUZZ_CHECK(ipc_frame_dec_error(&dec) == IPC_ETRUNCATED);
    ipc_pipe_close(&p);
    ipc_frame_dec_free(&dec);
}

/* Argument validation: every documented -EINVAL/IPC_ETOOLARGE, and the no-ops. */
FUZZ_NOCOV static void api_edges(void)
{
    struct ipc_frame_dec dec;
    struct ipc_frame f;
    struct ipc_frame_enc enc;
    struct iovec iov[3];
    uint8_t b[16] = {0};
    FUZZ_CHECK(ipc_frame_dec_init(NULL, 0) == -EINVAL);
    FUZZ_CHECK(ipc_frame_dec_init(&dec, (size_t)IPC_FRAME_MAX_PAYLOAD + 1) == -EINVAL);
    FUZZ_CHECK(ipc_frame_dec_init(&dec, 0) == 0);
    FUZZ_CHECK(ipc_frame_decode(NULL, b, 1, &f) == -EINVAL);
    FUZZ_CHECK(ipc_frame_decode(&dec, NULL, 1, &f) == -EINVAL);
    FUZZ_CHECK(ipc_frame_decode(&dec, b, 1, NULL) == -EINVAL);
    dec.max_payload = (size_t)IPC_FRAME_MAX_PAYLOAD + 1;
    FUZZ_CHECK(ipc_frame_decode(&dec, b, 1, &f) == -EINVAL);
    dec.max_payload = 0;
    FUZZ_CHECK(ipc_frame_decode(&dec, NULL, 0, &f) == IPC_ENEEDMORE);
    FUZZ_CHECK(ipc_frame_dec_finish(NULL) == -EINVAL);
    FUZZ_CHECK(ipc_frame_dec_finish(&dec) == 0);
    FUZZ_CHECK(ipc_frame_encode_iov(NULL, 0, b, 1, iov) == -EINVAL);
    FUZZ_CHECK(ipc_frame_encode_iov(&enc, 0, NULL, 1, iov) == -EINVAL);
    FUZZ_CHECK(ipc_frame_encode_iov(&enc, 0, b, (size_t)IPC_FRAME_MAX_PAYLOAD + 1, iov) ==
               IPC_ETOOLARGE);
    FUZZ_CHECK(ipc_frame_encode(NULL, 16, 0, b, 1) == -EINVAL);
    FUZZ_CHECK(ipc_frame_encode(b, 16, 0, NULL, 1) == -EINVAL);
    FUZZ_CHECK(ipc_frame_encode(b, 16, 0, b, (size_t)IPC_FRAME_MAX_PAYLOAD + 1) == IPC_ETOOLARGE);
    /* the payload may already sit at out + 8 */
    memcpy(b + 8, "ab", 2);
    FUZZ_CHECK(ipc_frame_encode(b, sizeof(b), 7, b + 8, 2) == 14);
    FUZZ_CHECK(ipc_frame_decode(&dec, b, 14, &f) == 14 && f.len == 2 && f.type == 7 &&
               memcmp(f.payload, "ab", 2) == 0);
    FUZZ_CHECK(ipc_frame_read_fd(-1, &dec, &f) == -EBADF);
    /* "-EINVAL for NULL arguments" comes before the fd is looked at */
    CONTRACT(ipc_frame_read_fd(-1, NULL, &f), -EINVAL);
    CONTRACT(ipc_frame_read_fd(-1, &dec, NULL), -EINVAL);
    FUZZ_CHECK(ipc_frame_write_fd(-1, 0, b, 1, 0) == -EBADF);
    /* read_fd refuses a decoder that holds part of a frame */
    FUZZ_CHECK(ipc_frame_decode(&dec, b, 3, &f) == IPC_ENEEDMORE);
    FUZZ_CHECK(ipc_frame_read_fd(0, &dec, &f) == -EINVAL);
    FUZZ_CHECK(ipc_frame_write_fd(-1, 0, NULL, 1, 0) == -EINVAL);

    /* read_fd on a non-blocking pipe: nothing there is -EAGAIN and not sticky;
     * part of a header and then nothing is an I/O error inside a frame: sticky */
    struct ipc_pipe p;
    FUZZ_CHECK(ipc_pipe_open(&p, IPC_PIPE_NONBLOCK) == 0);
    ipc_frame_dec_reset(&dec);
    FUZZ_CHECK(ipc_frame_read_fd(p.rd, &dec, &f) == -EAGAIN);
    FUZZ_CHECK(ipc_frame_dec_error(&dec) == 0);
    FUZZ_CHECK(ipc_pipe_write_all(p.wr, "IF\x01", 3, 0) == 3);
    FUZZ_CHECK(ipc_frame_read_fd(p.rd, &dec, &f) == -EAGAIN);
    FUZZ_CHECK(ipc_frame_dec_error(&dec) == -EAGAIN);
    FUZZ_CHECK(ipc_frame_read_fd(p.rd, &dec, &f) == -EAGAIN);
    ipc_pipe_close(&p);

    ipc_frame_dec_reset(NULL);
    ipc_frame_dec_free(NULL);
    ipc_frame_dec_free(&dec);
    api_limits();
}

FUZZ_NOCOV int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_faults ff;
    size_t skip = fuzz_faults_parse(&ff, data, size);
    data += skip;
    size -= skip;
    if (size == 1)
        api_edges();
    static struct outcome ref, w, c;
    if (size < 2)
        return 0;
    uint8_t cfg = data[0];
    size_t maxp = max_payload_choice[cfg & 7];
    int finish = (cfg >> 3) & 1;
    unsigned max_chunk = 1u << (cfg >> 4); /* 1 (byte at a time) .. 32768 */
    uint32_t seed = data[1];
    const uint8_t *s = data + 2;
    size_t n = size - 2;

    crc_api_once();
    crc_check(s, n, seed);
    reference(s, n, maxp ? maxp : IPC_FRAME_DEFAULT_MAX_PAYLOAD, finish, &ref);
    fuzz_faults_arm(&ff);
    faults_armed = ff.armed;
    uint64_t inj0 = fuzz_faults_injected(&ff);
    whole(s, n, maxp, finish, &w);
    uint64_t inj1 = fuzz_faults_injected(&ff);
    chunked(s, n, maxp, finish, max_chunk, seed, &c);
    uint64_t inj2 = fuzz_faults_injected(&ff);
    fuzz_faults_disarm(&ff);
    faults_armed = 0;
    same_or_nomem(&ref, &w, inj1 != inj0);
    same_or_nomem(&ref, &c, inj2 != inj1);
    if (w.err == -ENOMEM || c.err == -ENOMEM) {
        /* what failed for lack of memory alone decodes without the faults */
        chunked(s, n, maxp, finish, max_chunk, seed, &c);
        same(&ref, &c);
    }
    return 0;
}
