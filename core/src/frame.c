/* frame.c - wire format v1 encoder and the incremental, zero-copy decoder.
 *
 * Decoder state is entirely described by have_ (bytes of the current frame seen):
 *   have_ < 8              inside the header (bytes kept in hdr_)
 *   8 <= have_ < 8 + len_  inside the payload (bytes kept in buf_)
 *   8 + len_ <= have_      inside the trailer (bytes kept in trl_)
 * Fields are validated in wire order as soon as their last byte is seen, and
 * every error is attributed to the first byte of its field, which is what makes
 * the result independent of how the stream is chunked. A frame assembled across
 * calls has its CRC extended as its bytes arrive (crc_), so the checksum of a
 * large frame read in pieces from a pipe is computed while the writer is still
 * sending the rest, not all at once after its last byte. */
#include "ipc/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "ipc/crc32c.h"
#include "ipc/pipe.h"

/* Initial internal buffer: large enough for typical control messages, small
 * enough that a hostile length prefix costs little before data arrives. */
#define DEC_MIN_ALLOC 4096u
/* A buffer above this is dropped when the next frame needs far less of it, so one
 * huge frame does not pin memory for the decoder's lifetime. */
#define DEC_KEEP_ALLOC (1u << 20)

static void put_header(uint8_t h[IPC_FRAME_HEADER_SIZE], uint8_t type, uint32_t len)
{
    h[0] = IPC_FRAME_MAGIC0;
    h[1] = IPC_FRAME_MAGIC1;
    h[2] = IPC_FRAME_VERSION;
    h[3] = type;
    ipc__store_be32(h + 4, len);
}

int ipc_frame_encode_iov(struct ipc_frame_enc *enc, uint8_t type, const void *payload, size_t len,
                         struct iovec iov[3])
{
    if (!enc || !iov || (!payload && len))
        return -EINVAL;
    if (len > IPC_FRAME_MAX_PAYLOAD)
        return IPC_ETOOLARGE;
    put_header(enc->header, type, (uint32_t)len);
    uint32_t crc = ipc_crc32c(0, enc->header, IPC_FRAME_HEADER_SIZE);
    crc = ipc_crc32c(crc, payload, len);
    ipc__store_be32(enc->trailer, crc);
    iov[0].iov_base = enc->header;
    iov[0].iov_len = IPC_FRAME_HEADER_SIZE;
    iov[1].iov_base = (void *)(uintptr_t)payload;
    iov[1].iov_len = len;
    iov[2].iov_base = enc->trailer;
    iov[2].iov_len = IPC_FRAME_TRAILER_SIZE;
    return 0;
}

ssize_t ipc_frame_encode(void *out, size_t cap, uint8_t type, const void *payload, size_t len)
{
    if (!out || (!payload && len))
        return -EINVAL;
    if (len > IPC_FRAME_MAX_PAYLOAD)
        return IPC_ETOOLARGE;
    if (cap < len + IPC_FRAME_OVERHEAD)
        return -ENOBUFS;
    uint8_t *o = out;
    if (len)
        memmove(o + IPC_FRAME_HEADER_SIZE, payload, len);
    put_header(o, type, (uint32_t)len);
    ipc__store_be32(o + IPC_FRAME_HEADER_SIZE + len, ipc_crc32c(0, o, IPC_FRAME_HEADER_SIZE + len));
    return (ssize_t)(len + IPC_FRAME_OVERHEAD);
}

/* ---- decoder ----------------------------------------------------------------- */

int ipc_frame_dec_init(struct ipc_frame_dec *dec, size_t max_payload)
{
    if (!dec || max_payload > IPC_FRAME_MAX_PAYLOAD)
        return -EINVAL;
    memset(dec, 0, sizeof(*dec));
    dec->max_payload = max_payload;
    return 0;
}

void ipc_frame_dec_reset(struct ipc_frame_dec *dec)
{
    if (!dec)
        return;
    dec->pos_ = dec->frame_pos_ = dec->err_pos_ = 0;
    dec->have_ = 0;
    dec->len_ = 0;
    dec->err_ = 0;
}

void ipc_frame_dec_free(struct ipc_frame_dec *dec)
{
    if (!dec)
        return;
    free(dec->buf_);
    dec->buf_ = NULL;
    dec->buf_cap_ = 0;
    ipc_frame_dec_reset(dec);
}

int ipc_frame_dec_error(const struct ipc_frame_dec *dec)
{
    return dec ? dec->err_ : -EINVAL;
}

uint64_t ipc_frame_dec_error_offset(const struct ipc_frame_dec *dec)
{
    return dec && dec->err_ ? dec->err_pos_ : 0;
}

uint64_t ipc_frame_dec_offset(const struct ipc_frame_dec *dec)
{
    return dec ? dec->pos_ : 0;
}

/* Makes err sticky. field is the error's offset within the frame; through is how
 * many bytes of the frame had to be seen to detect it (pos_ ends just past them). */
static ssize_t dec_fail(struct ipc_frame_dec *dec, int err, uint64_t field, uint64_t through)
{
    dec->err_ = err;
    dec->err_pos_ = dec->frame_pos_ + field;
    dec->pos_ = dec->frame_pos_ + through;
    return err;
}

static size_t dec_limit(const struct ipc_frame_dec *dec)
{
    return dec->max_payload ? dec->max_payload : IPC_FRAME_DEFAULT_MAX_PAYLOAD;
}

/* Validates the first n (1..8) header bytes in h; returns 0 or a sticky error. */
static ssize_t dec_check_header(struct ipc_frame_dec *dec, const uint8_t *h, size_t n)
{
    if (h[0] != IPC_FRAME_MAGIC0)
        return dec_fail(dec, IPC_EBADMAGIC, 0, 1);
    if (n >= 2 && h[1] != IPC_FRAME_MAGIC1)
        return dec_fail(dec, IPC_EBADMAGIC, 0, 2);
    if (n >= 3 && h[2] != IPC_FRAME_VERSION)
        return dec_fail(dec, IPC_EBADVERSION, 2, 3);
    if (n >= 8 && ipc__load_be32(h + 4) > dec_limit(dec))
        return dec_fail(dec, IPC_ETOOLARGE, 4, 8);
    return 0;
}

/* Ensures the internal buffer holds at least need payload bytes (need <= len_),
 * growing geometrically so memory follows the data that actually arrived. */
static int dec_reserve(struct ipc_frame_dec *dec, size_t need)
{
    if (need <= dec->buf_cap_)
        return 0;
    size_t cap = dec->buf_cap_ ? dec->buf_cap_ * 2 : DEC_MIN_ALLOC;
    if (cap < need)
        cap = need;
    if (cap > dec->len_)
        cap = dec->len_;
    uint8_t *nb = ipc__sys_realloc(dec->buf_, cap);
    if (!nb) {
        dec->err_ = -ENOMEM;
        dec->err_pos_ = dec->pos_;
        return -ENOMEM;
    }
    dec->buf_ = nb;
    dec->buf_cap_ = cap;
    return 0;
}

static void dec_header_done(struct ipc_frame_dec *dec)
{
    dec->len_ = ipc__load_be32(dec->hdr_ + 4);
    dec->crc_ = ipc_crc32c(0, dec->hdr_, IPC_FRAME_HEADER_SIZE);
    if (dec->buf_cap_ > DEC_KEEP_ALLOC && dec->buf_cap_ / 4 > dec->len_) {
        free(dec->buf_);
        dec->buf_ = NULL;
        dec->buf_cap_ = 0;
    }
}

static ssize_t dec_validate_max(const struct ipc_frame_dec *dec)
{
    return dec->max_payload > IPC_FRAME_MAX_PAYLOAD ? -EINVAL : 0;
}

ssize_t ipc_frame_decode(struct ipc_frame_dec *dec, const void *buf, size_t len,
                         struct ipc_frame *out)
{
    if (!dec || !out || (!buf && len))
        return -EINVAL;
    if (dec->err_)
        return dec->err_;
    if (dec_validate_max(dec))
        return -EINVAL;
    const uint8_t *p = buf;
    size_t n = len;

    /* Fast path: a frame starting at a boundary and lying whole in buf is
     * checked in place and returned without a copy. */
    if (dec->have_ == 0 && n >= IPC_FRAME_HEADER_SIZE) {
        dec->frame_pos_ = dec->pos_;
        ssize_t e = dec_check_header(dec, p, IPC_FRAME_HEADER_SIZE);
        if (e)
            return e;
        size_t plen = ipc__load_be32(p + 4);
        if (n - IPC_FRAME_HEADER_SIZE >= plen + IPC_FRAME_TRAILER_SIZE) {
            size_t body = IPC_FRAME_HEADER_SIZE + plen;
            if (ipc_crc32c(0, p, body) != ipc__load_be32(p + body))
                return dec_fail(dec, IPC_EBADCRC, body, body + IPC_FRAME_TRAILER_SIZE);
            out->payload = p + IPC_FRAME_HEADER_SIZE;
            out->len = plen;
            out->type = p[3];
            out->offset = dec->pos_;
            dec->pos_ += body + IPC_FRAME_TRAILER_SIZE;
            return (ssize_t)(body + IPC_FRAME_TRAILER_SIZE);
        }
    }

    /* Slow path: the frame straddles calls; keep its bytes internally. */
    while (n > 0) {
        size_t k;
        if (dec->have_ < IPC_FRAME_HEADER_SIZE) {
            if (dec->have_ == 0)
                dec->frame_pos_ = dec->pos_;
            k = IPC_FRAME_HEADER_SIZE - dec->have_;
            if (k > n)
                k = n;
            memcpy(dec->hdr_ + dec->have_, p, k);
            dec->have_ += k;
            ssize_t e = dec_check_header(dec, dec->hdr_, dec->have_);
            if (e)
                return e;
            if (dec->have_ == IPC_FRAME_HEADER_SIZE)
                dec_header_done(dec);
        } else if (dec->have_ < IPC_FRAME_HEADER_SIZE + (size_t)dec->len_) {
            size_t got = dec->have_ - IPC_FRAME_HEADER_SIZE;
            k = dec->len_ - got;
            if (k > n)
                k = n;
            if (dec_reserve(dec, got + k) < 0)
                return -ENOMEM;
            memcpy(dec->buf_ + got, p, k);
            dec->crc_ = ipc_crc32c(dec->crc_, p, k);
            dec->have_ += k;
        } else {
            size_t got = dec->have_ - IPC_FRAME_HEADER_SIZE - dec->len_;
            k = IPC_FRAME_TRAILER_SIZE - got;
            if (k > n)
                k = n;
            memcpy(dec->trl_ + got, p, k);
            dec->have_ += k;
            if (got + k == IPC_FRAME_TRAILER_SIZE) {
                size_t body = IPC_FRAME_HEADER_SIZE + dec->len_;
                if (dec->crc_ != ipc__load_be32(dec->trl_))
                    return dec_fail(dec, IPC_EBADCRC, body, body + IPC_FRAME_TRAILER_SIZE);
                /* Non-NULL even for an empty payload, as documented. */
                out->payload = dec->len_ ? dec->buf_ : dec->trl_;
                out->len = dec->len_;
                out->type = dec->hdr_[3];
                out->offset = dec->frame_pos_;
                dec->pos_ += k;
                dec->have_ = 0;
                return (ssize_t)(len - n + k);
            }
        }
        dec->pos_ += k;
        p += k;
        n -= k;
    }
    return IPC_ENEEDMORE;
}

int ipc_frame_dec_finish(struct ipc_frame_dec *dec)
{
    if (!dec)
        return -EINVAL;
    if (dec->err_)
        return dec->err_;
    if (dec->have_ == 0)
        return 0;
    dec->err_ = IPC_ETRUNCATED;
    dec->err_pos_ = dec->frame_pos_;
    return IPC_ETRUNCATED;
}

/* ---- blocking fd helpers -------------------------------------------------------- */

ssize_t ipc_frame_write_fd(int fd, uint8_t type, const void *payload, size_t len, unsigned flags)
{
    struct ipc_frame_enc enc;
    struct iovec iov[3];
    int e = ipc_frame_encode_iov(&enc, type, payload, len, iov);
    if (e < 0)
        return e;
    return ipc_pipe_writev_all(fd, iov, 3, flags);
}

/* Reads len bytes into buf. Returns 0 (all read), 1 (EOF first) or a negative
 * errno (-EAGAIN on a non-blocking fd); *got says how many bytes arrived either
 * way, which ipc_pipe_read_full cannot report alongside an error. */
static int read_exact(int fd, void *buf, size_t len, size_t *got)
{
    uint8_t *p = buf;
    *got = 0;
    while (*got < len) {
        ssize_t r = ipc__sys_read(fd, p + *got, len - *got);
        if (r > 0)
            *got += (size_t)r;
        else if (r == 0)
            return 1;
        else if (errno != EINTR)
            return ipc__neg_errno();
    }
    return 0;
}

/* An EOF or I/O failure inside a frame loses the stream position: sticky. */
static ssize_t dec_io_fail(struct ipc_frame_dec *dec, int rc)
{
    if (rc == 1) {
        dec->err_ = IPC_ETRUNCATED;
        dec->err_pos_ = dec->frame_pos_;
        return IPC_ETRUNCATED;
    }
    dec->err_ = rc;
    dec->err_pos_ = dec->pos_;
    return rc;
}

ssize_t ipc_frame_read_fd(int fd, struct ipc_frame_dec *dec, struct ipc_frame *out)
{
    if (!dec || !out)
        return -EINVAL;
    if (dec->err_)
        return dec->err_;
    if (dec->have_ != 0 || dec_validate_max(dec))
        return -EINVAL;
    if (fd < 0)
        return -EBADF;

    uint8_t hdr[IPC_FRAME_HEADER_SIZE];
    size_t got;
    int rc = read_exact(fd, hdr, sizeof(hdr), &got);
    if (got == 0)
        return rc == 1 ? 0 : rc; /* clean EOF, or nothing consumed: not sticky */
    /* The decoder judges the bytes that did arrive, so a bad magic wins over a
     * truncation exactly as in the in-memory decoder. */
    ssize_t d = ipc_frame_decode(dec, hdr, got, out);
    if (d != IPC_ENEEDMORE)
        return d;
    if (rc)
        return dec_io_fail(dec, rc);

    /* Payload straight into the internal buffer, growing as it arrives. */
    size_t plen = dec->len_, done = 0;
    while (done < plen) {
        if (dec->buf_cap_ <= done && dec_reserve(dec, done + 1) < 0)
            return -ENOMEM;
        size_t want = plen - done;
        if (want > dec->buf_cap_ - done)
            want = dec->buf_cap_ - done;
        rc = read_exact(fd, dec->buf_ + done, want, &got);
        dec->crc_ = ipc_crc32c(dec->crc_, dec->buf_ + done, got);
        done += got;
        dec->have_ += got;
        dec->pos_ += got;
        if (rc)
            return dec_io_fail(dec, rc);
    }
    uint8_t trl[IPC_FRAME_TRAILER_SIZE];
    rc = read_exact(fd, trl, sizeof(trl), &got);
    if (got) {
        d = ipc_frame_decode(dec, trl, got, out);
        if (d > 0)
            return (ssize_t)(plen + IPC_FRAME_OVERHEAD);
        if (d != IPC_ENEEDMORE)
            return d;
    }
    return dec_io_fail(dec, rc ? rc : 1);
}
