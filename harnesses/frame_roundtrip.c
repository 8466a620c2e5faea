/* frame_roundtrip - fuzz target for frame encoding, a real pipe and decoding.
 *
 * Targets: ipc_frame_encode, ipc_frame_encode_iov, ipc_frame_encoded_size,
 * ipc_crc32c_combine, ipc_crc32c_with, ipc_frame_decode,
 * ipc_frame_dec_finish, ipc_frame_write_fd, ipc_frame_read_fd, ipc_pipe_open,
 * ipc_pipe_write_all, ipc_pipe_read_full, ipc_pipe_capacity, ipc_pipe_close.
 *
 * Input: a fault schedule (fuzz_util.h: byte 0 = step count K, then K 4-byte
 * steps; 0x00 = none), then: byte 0 = I/O sizes (low nibble: largest write 2^n, high nibble:
 * largest read 2^n), byte 1 = seed of the size schedule, byte 2 = flags (bit 0: blocking mode with
 * ipc_frame_write_fd/ipc_frame_read_fd when everything fits in the pipe, bit 1: decoder max_payload
 * set to exactly the largest payload, bits 2-3: 1 = the stream is cut short, 2 = one bit is
 * flipped, read back with ipc_frame_read_fd; see through_damaged), then frame descriptors: type,
 * flags (bit 0: payload generated, bit 1: 64 KiB payload, bit 2: encode with the iovec encoder),
 * length (16-bit little-endian), and for copied payloads the payload bytes themselves (truncated at
 * the end of input).
 *
 * The frames are encoded into one stream and pushed through a non-blocking pipe2
 * pipe in one thread, alternating writes and reads of sizes taken from the
 * schedule (so no deadlock is possible: a full pipe is drained, an empty one
 * filled), and every read is fed to the decoder.
 *
 * Invariants (abort on violation): every encoded frame matches the format of
 * docs/design.md section 3 checked here independently (header fields,
 * ipc_frame_encoded_size, the trailer against a CRC-32C model built from the
 * polynomial, through ipc_crc32c_combine for the 64 KiB generated payload, all
 * implementations agreeing for other long ones); the decoded frames equal the encoded ones
 * byte for byte (type, length, payload, stream offset) and in order; nothing more
 * is decoded; ipc_frame_dec_finish at EOF reports a frame boundary; the two
 * encoders produce identical bytes; the pipe always makes progress; the target
 * closes both pipe ends (the replay main checks no fd leaks).
 *
 * Under the fault schedule (armed around everything but the encoding): a library
 * call may fail only with an errno the schedule injects, never EINTR (retried),
 * and then the round stops; the frames decoded up to there are still exactly the
 * encoded ones, in order (none wrong or duplicated). When every injected fault
 * was EINTR or a short transfer, the round completes exactly as without faults;
 * a round in which nothing was injected must make progress at every step.
 */
// libfuzzer-options: max_len=16384
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "model_crc.h"
#include "ipc/crc32c.h"
#include "ipc/frame.h"
#include "ipc/pipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 256
#define MAX_STREAM (1u << 20)

struct frame_desc {
    uint8_t type;
    size_t len;
    size_t offset; /* in the stream */
};

struct rt {
    struct frame_desc f[MAX_FRAMES];
    size_t n;
    uint8_t *stream;
    size_t len;
    size_t max_len; /* largest payload */
    size_t decoded;
};

#define GEN_MAX 65536

/* The input's fault schedule, armed while the pipes run. */
static struct fuzz_faults *ff_cur;
static int aborted; /* a library call failed with an injected error: the round stopped */

/* A library call returned r < 0 other than -EAGAIN: only an injected fault may
 * cause that, and never EINTR: the seam injects it only into calls that list it
 * (read, write, readv, writev; never pipe2), and the pipe helpers retry it there.
 * Stops the round. */
FUZZ_NOCOV static void injected_error(ssize_t r)
{
    FUZZ_CHECK(r < 0 && r >= -4095);
    FUZZ_CHECK(r != -EINTR);
    FUZZ_CHECK(ff_cur && ff_cur->armed && fuzz_faults_may_inject(ff_cur, (int)-r));
    aborted = 1;
}

/* Generated payloads are the last len bytes of one pseudo-random block made once:
 * filling a fresh 64 KiB buffer per frame was a third of the target's time. They end
 * where the block ends, so an encoder reading past a payload still hits ASan's
 * redzone. */
FUZZ_NOCOV static const uint8_t *generated(size_t len)
{
    static uint8_t *block;
    if (!block) {
        block = malloc(GEN_MAX);
        FUZZ_CHECK(block != NULL);
        struct fuzz_rng r;
        fuzz_rng_seed(&r, 1);
        for (size_t i = 0; i < GEN_MAX; i++)
            block[i] = (uint8_t)(fuzz_rng_next(&r) >> 24);
    }
    return block + GEN_MAX - len;
}

/* ---- the frame format, independently ---------------------------------------------- */
/* docs/design.md section 3: magic "IF", version 1, type, big-endian payload length
 * (8 header bytes), the payload, a big-endian CRC-32C of header and payload (4
 * trailer bytes). The CRC model is model_crc.h, sharing nothing with libipc. */
#define FORMAT_HEADER  8u
#define FORMAT_TRAILER 4u
/* Longest frame checked with the model alone (more would cost exec/s). */
#define CRC_MODEL_MAX 1024u

FUZZ_NOCOV static uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

FUZZ_NOCOV static const uint8_t *generated(size_t len);

/* The model's CRC of the whole generated block, computed once (the model over
 * 64 KiB per input would halve the target's speed). */
FUZZ_NOCOV static uint32_t generated_block_crc(void)
{
    static uint32_t crc;
    static int have;
    if (!have) {
        crc = model_crc(0, generated(GEN_MAX), GEN_MAX);
        have = 1;
    }
    return crc;
}

/* An encoded frame, byte for byte against the format: the header fields, the size
 * (ipc_frame_encoded_size and the encoder's return), and the trailer against the
 * model: directly up to CRC_MODEL_MAX bytes; for the whole generated block through
 * ipc_crc32c_combine with the cached model CRC (combine is then checked too); for
 * other long payloads the hardware implementations must agree (the table one
 * when there is none; frame_decode holds every implementation to the model). */
FUZZ_NOCOV static void check_format(const uint8_t *f, uint8_t type, const uint8_t *payload,
                                    size_t len)
{
    FUZZ_CHECK(ipc_frame_encoded_size(len) == FORMAT_HEADER + len + FORMAT_TRAILER);
    FUZZ_CHECK(f[0] == 0x49 && f[1] == 0x46 && f[2] == 1 && f[3] == type);
    FUZZ_CHECK(be32_at(f + 4) == len);
    uint32_t trailer = be32_at(f + FORMAT_HEADER + len);
    if (FORMAT_HEADER + len <= CRC_MODEL_MAX) {
        FUZZ_CHECK(trailer == model_crc(0, f, FORMAT_HEADER + len));
    } else if (len == GEN_MAX && payload == generated(GEN_MAX)) {
        uint32_t head = model_crc(0, f, FORMAT_HEADER);
        FUZZ_CHECK(trailer == ipc_crc32c_combine(head, generated_block_crc(), len));
    } else {
        /* The hardware implementations (fast) when there are any, else the
         * table one. */
        static const enum ipc_crc32c_impl impls[] = {IPC_CRC32C_SSE42, IPC_CRC32C_SSE42_3WAY,
                                                     IPC_CRC32C_TABLE};
        int checked = 0;
        for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++)
            if (ipc_crc32c_available(impls[i]) == 1 && (!checked || impls[i] != IPC_CRC32C_TABLE)) {
                FUZZ_CHECK(ipc_crc32c_with(impls[i], 0, f, FORMAT_HEADER + len) == trailer);
                checked++;
            }
    }
}

/* Parses the descriptors and encodes every frame into rt->stream. */
FUZZ_NOCOV static void build(struct rt *rt, const uint8_t *in, size_t n)
{
    /* One stream buffer for the whole run, not a 1 MiB malloc per input: under
     * ASan that was an mmap, page faults and 128 KiB of shadow poisoned twice per
     * execution (most of the target's time). Reused, it catches the same
     * overreads: the encoded stream never ends at the end of the block either. */
    static uint8_t *stream;
    if (!stream) {
        stream = malloc(MAX_STREAM);
        FUZZ_CHECK(stream != NULL);
    }
    rt->stream = stream;
    size_t i = 0;
    while (i + 4 <= n && rt->n < MAX_FRAMES) {
        uint8_t type = in[i], fl = in[i + 1];
        size_t len = (size_t)in[i + 2] | (size_t)in[i + 3] << 8;
        i += 4;
        const uint8_t *payload;
        if (fl & 3) {
            if (fl & 2)
                len = GEN_MAX;
            payload = generated(len);
        } else {
            if (len > n - i)
                len = n - i;
            payload = in + i;
            i += len;
        }
        if (rt->len + 12 + len > MAX_STREAM)
            break;
        uint8_t *out = rt->stream + rt->len;
        if (fl & 4) {
            struct ipc_frame_enc enc;
            struct iovec iov[3];
            FUZZ_CHECK(ipc_frame_encode_iov(&enc, type, payload, len, iov) == 0);
            FUZZ_CHECK(iov[0].iov_len == 8 && iov[1].iov_len == len && iov[2].iov_len == 4);
            FUZZ_CHECK(iov[1].iov_base == (void *)payload || len == 0);
            memcpy(out, iov[0].iov_base, 8);
            if (len)
                memcpy(out + 8, iov[1].iov_base, len);
            memcpy(out + 8 + len, iov[2].iov_base, 4);
            /* both encoders agree; the second one writes flush against the end of a
             * heap block kept from one frame to the next (see fuzz_tail_reserve: a
             * fresh 64 KiB block per frame was page faults), so that a byte written
             * past the frame is still an ASan report */
            static struct fuzz_tail alt_tail;
            fuzz_tail_reserve(&alt_tail, 12 + len);
            uint8_t *alt = alt_tail.buf + alt_tail.cap - (12 + len);
            FUZZ_CHECK(ipc_frame_encode(alt, 12 + len, type, payload, len) == (ssize_t)(12 + len));
            FUZZ_CHECK(memcmp(alt, out, 12 + len) == 0);
        } else {
            FUZZ_CHECK(ipc_frame_encode(out, MAX_STREAM - rt->len, type, payload, len) ==
                       (ssize_t)(12 + len));
        }
        check_format(out, type, payload, len);
        rt->f[rt->n].type = type;
        rt->f[rt->n].len = len;
        rt->f[rt->n].offset = rt->len;
        rt->n++;
        rt->len += 12 + len;
        if (len > rt->max_len)
            rt->max_len = len;
    }
}

FUZZ_NOCOV static void expect(struct rt *rt, const struct ipc_frame *f)
{
    FUZZ_CHECK(rt->decoded < rt->n);
    const struct frame_desc *d = &rt->f[rt->decoded++];
    FUZZ_CHECK(f->type == d->type);
    FUZZ_CHECK(f->len == d->len);
    FUZZ_CHECK(f->offset == d->offset);
    FUZZ_CHECK(f->payload != NULL);
    FUZZ_CHECK(d->len == 0 || memcmp(f->payload, rt->stream + d->offset + 8, d->len) == 0);
}

FUZZ_NOCOV static void feed(struct rt *rt, struct ipc_frame_dec *dec, const uint8_t *buf,
                            size_t len)
{
    size_t at = 0;
    for (;;) {
        struct ipc_frame f;
        ssize_t r = ipc_frame_decode(dec, buf + at, len - at, &f);
        if (r == IPC_ENEEDMORE)
            return;
        if (r == -ENOMEM) {
            injected_error(r); /* sticky: the stream ends here */
            return;
        }
        FUZZ_CHECK(r > 0 && (size_t)r <= len - at);
        expect(rt, &f);
        at += (size_t)r;
    }
}

/* Non-blocking pipe, one thread: alternate a write and a read of schedule sizes. */
FUZZ_NOCOV static void through_nonblocking(struct rt *rt, struct fuzz_rng *rng, size_t wmax,
                                           size_t rmax, struct ipc_frame_dec *dec)
{
    struct ipc_pipe p;
    int rc = ipc_pipe_open(&p, IPC_PIPE_NONBLOCK);
    if (rc < 0) {
        injected_error(rc);
        return;
    }
    size_t wpos = 0, rpos = 0;
    /* At most about 64 writes and reads per input: byte-at-a-time I/O of a 64 KiB
     * stream would take a second and teach the fuzzer nothing new. */
    size_t floor = rt->len / 64 + 1;
    if (rmax < floor)
        rmax = floor;
    /* the read buffer ends where its heap block ends (kept from one input to the
     * next, see fuzz_tail_reserve), so a read past rmax is an ASan report */
    static struct fuzz_tail rtail;
    fuzz_tail_reserve(&rtail, rmax);
    uint8_t *rbuf = rtail.buf + rtail.cap - rmax;
    while (!aborted) {
        int progress = 0;
        uint64_t inj = fuzz_faults_injected(ff_cur);
        if (wpos < rt->len) {
            size_t w = fuzz_rng_size(rng, wmax);
            if (w < floor)
                w = floor;
            if (w > rt->len - wpos)
                w = rt->len - wpos;
            ssize_t r = ipc_pipe_write_all(p.wr, rt->stream + wpos, w, IPC_PIPE_NO_SIGPIPE_GUARD);
            if (r < 0 && r != -EAGAIN) {
                injected_error(r);
                break;
            }
            FUZZ_CHECK(r == -EAGAIN || (r > 0 && (size_t)r <= w));
            if (r > 0) {
                wpos += (size_t)r;
                progress = 1;
            }
        } else if (p.wr >= 0) {
            close(p.wr);
            p.wr = -1;
            progress = 1;
        }
        size_t want = fuzz_rng_size(rng, rmax);
        if (want < floor)
            want = floor;
        ssize_t r = ipc_pipe_read_full(p.rd, rbuf, want);
        if (r == 0) {
            /* EOF: only once the writer closed and everything arrived */
            FUZZ_CHECK(p.wr < 0 && rpos == rt->len);
            break;
        }
        if (r < 0 && r != -EAGAIN) {
            injected_error(r);
            break;
        }
        FUZZ_CHECK(r == -EAGAIN || (r > 0 && (size_t)r <= want));
        if (r > 0) {
            /* the bytes come out of the pipe exactly as they went in */
            FUZZ_CHECK(rpos + (size_t)r <= wpos);
            FUZZ_CHECK(memcmp(rbuf, rt->stream + rpos, (size_t)r) == 0);
            rpos += (size_t)r;
            feed(rt, dec, rbuf, (size_t)r);
            progress = 1;
        }
        /* an injected EAGAIN may stall one step, nothing else may */
        FUZZ_CHECK(progress || fuzz_faults_injected(ff_cur) != inj);
    }
    ipc_pipe_close(&p);
}

/* Blocking helpers: everything fits in the pipe, so the writes never block.
 * Returns 0 without touching the decoder when the pipe is too small for that (the
 * kernel shrinks new pipes to one page once the user's pipe quota is used up). */
FUZZ_NOCOV static int through_blocking(struct rt *rt, struct ipc_frame_dec *dec)
{
    struct ipc_pipe p;
    int rc = ipc_pipe_open(&p, 0);
    if (rc < 0) {
        injected_error(rc);
        return 1;
    }
    int cap = ipc_pipe_capacity(p.wr);
    if (cap < 0) {
        injected_error(cap);
        ipc_pipe_close(&p);
        return 1;
    }
    FUZZ_CHECK(cap > 0);
    /* A pipe holds cap / page-size buffers, and a write only shares the last
     * buffer when its sub-page remainder fits there, so each frame may take up to
     * (size / 4096 + 2) buffers: count those, not bytes, or a write could block. */
    size_t slots = 0;
    for (size_t i = 0; i < rt->n; i++)
        slots += (12 + rt->f[i].len) / 4096 + 2;
    if (slots > (size_t)cap / 4096) {
        ipc_pipe_close(&p);
        return 0;
    }
    for (size_t i = 0; i < rt->n; i++) {
        const struct frame_desc *d = &rt->f[i];
        ssize_t r = ipc_frame_write_fd(p.wr, d->type, rt->stream + d->offset + 8, d->len, 0);
        if (r < 0)
            injected_error(r);
        else /* short only after EAGAIN: never on a blocking fd, real or injected */
            FUZZ_CHECK(r == (ssize_t)(12 + d->len));
        if (aborted) {
            ipc_pipe_close(&p);
            return 1;
        }
    }
    close(p.wr);
    p.wr = -1;
    for (;;) {
        struct ipc_frame f;
        ssize_t r = ipc_frame_read_fd(p.rd, dec, &f);
        if (r == 0)
            break;
        if (r < 0 && r > IPC_ERR_FIRST) {
            injected_error(r);
            break;
        }
        FUZZ_CHECK(r > 0 && (size_t)r == 12 + f.len);
        expect(rt, &f);
    }
    ipc_pipe_close(&p);
    return 1;
}

/* A damaged stream through ipc_frame_read_fd: cut short (mode 1) or with one byte
 * flipped (mode 2). The frames before the damage must come out intact; then a cut
 * at a frame boundary is a clean EOF (0) and a cut inside a frame IPC_ETRUNCATED;
 * a flipped byte is an error (or, with CRC-32C's 2^-32 odds, a different frame). */
FUZZ_NOCOV static int through_damaged(struct rt *rt, struct ipc_frame_dec *dec,
                                      struct fuzz_rng *rng, int mode)
{
    if (rt->len == 0)
        return 0;
    struct ipc_pipe p;
    int rc = ipc_pipe_open(&p, 0);
    if (rc < 0) {
        injected_error(rc);
        return 1;
    }
    int cap = ipc_pipe_capacity(p.wr);
    if (cap < 0) {
        injected_error(cap);
        ipc_pipe_close(&p);
        return 1;
    }
    FUZZ_CHECK(cap > 0);
    if ((size_t)cap < rt->len) {
        ipc_pipe_close(&p);
        return 0;
    }
    size_t pos = fuzz_rng_next(rng) % rt->len; /* cut length, or the flipped byte */
    size_t wlen = mode == 1 ? pos : rt->len;
    if (mode == 2)
        rt->stream[pos] ^= (uint8_t)(1u << (fuzz_rng_next(rng) & 7));
    ssize_t wr = ipc_pipe_write_all(p.wr, rt->stream, wlen, 0);
    if (wr < 0)
        injected_error(wr);
    else /* short only after EAGAIN: never on a blocking fd, real or injected */
        FUZZ_CHECK(wr == (ssize_t)wlen);
    if (aborted) {
        ipc_pipe_close(&p);
        return 1;
    }
    close(p.wr);
    p.wr = -1;
    size_t intact = 0; /* frames wholly before the damage */
    while (intact < rt->n && rt->f[intact].offset + 12 + rt->f[intact].len <= pos)
        intact++;
    for (size_t i = 0; i < intact; i++) {
        struct ipc_frame f;
        ssize_t r = ipc_frame_read_fd(p.rd, dec, &f);
        if (r < 0 && r > IPC_ERR_FIRST) {
            injected_error(r);
            ipc_pipe_close(&p);
            return 1;
        }
        FUZZ_CHECK(r == (ssize_t)(12 + f.len));
        expect(rt, &f);
    }
    struct ipc_frame f;
    ssize_t r = ipc_frame_read_fd(p.rd, dec, &f);
    if (r < 0 && r > IPC_ERR_FIRST) {
        injected_error(r);
        ipc_pipe_close(&p);
        return 1;
    }
    if (mode == 1) {
        int boundary = intact == rt->n || rt->f[intact].offset == pos;
        FUZZ_CHECK(boundary ? r == 0 : r == IPC_ETRUNCATED);
        if (!boundary)
            FUZZ_CHECK(ipc_frame_dec_error_offset(dec) == rt->f[intact].offset);
    } else {
        FUZZ_CHECK(r != 0);
        if (r < 0)
            FUZZ_CHECK(ipc_frame_read_fd(p.rd, dec, &f) == r); /* sticky */
    }
    ipc_pipe_close(&p);
    return 1;
}

FUZZ_NOCOV int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_faults ff;
    size_t skip = fuzz_faults_parse(&ff, data, size);
    data += skip;
    size -= skip;
    if (size < 3)
        return 0;
    size_t wmax = (size_t)1 << (data[0] & 15);
    size_t rmax = (size_t)1 << (data[0] >> 4);
    struct fuzz_rng rng;
    fuzz_rng_seed(&rng, data[1]);
    uint8_t flags = data[2];

    /* every field but the frame table (written before it is read, up to n) */
    static struct rt rt;
    rt.n = 0;
    rt.stream = NULL;
    rt.len = 0;
    rt.max_len = 0;
    rt.decoded = 0;
    build(&rt, data + 3, size - 3);

    struct ipc_frame_dec dec;
    FUZZ_CHECK(ipc_frame_dec_init(&dec, (flags & 2) ? (rt.max_len ? rt.max_len : 1) : 0) == 0);
    int mode = (flags >> 2) & 3;
    ff_cur = &ff;
    aborted = 0;
    fuzz_faults_arm(&ff);
    if (mode == 1 || mode == 2) {
        (void)through_damaged(&rt, &dec, &rng, mode);
    } else if (!((flags & 1) && through_blocking(&rt, &dec))) {
        through_nonblocking(&rt, &rng, wmax, rmax, &dec);
        if (!aborted)
            FUZZ_CHECK(ipc_frame_dec_finish(&dec) == 0);
    }
    fuzz_faults_disarm(&ff);
    /* EINTR and short transfers are absorbed: the round then completes */
    FUZZ_CHECK(!aborted || !fuzz_faults_transparent(&ff));
    if (mode != 1 && mode != 2 && !aborted) {
        FUZZ_CHECK(rt.decoded == rt.n);
        FUZZ_CHECK(ipc_frame_dec_offset(&dec) == rt.len);
    }
    ff_cur = NULL;
    ipc_frame_dec_free(&dec);
    return 0;
}
