/* ipc/frame.h - length-prefixed frames over byte streams (wire format v1).
 *
 *   offset size  field
 *   0      2     magic 0x49 0x46 ("IF")
 *   2      1     version = 1
 *   3      1     type (application defined, 0..255)
 *   4      4     payload length N, big-endian
 *   8      N     payload
 *   8+N    4     CRC-32C of bytes [0, 8+N), big-endian
 *
 * Encoder: ipc_frame_encode_iov() fills an 8-byte header and a 4-byte trailer so
 * the caller can writev(header, payload, trailer) without copying the payload;
 * ipc_frame_encode() writes a whole frame into a caller buffer.
 *
 * Decoder: struct ipc_frame_dec is caller-allocated; its all-zero value is a valid
 * decoder with the default limit (IPC_FRAME_DEFAULT_MAX_PAYLOAD). Feed it any split
 * of a stream with ipc_frame_decode(); it is chunking-invariant: every split
 * yields the same frames, and the same error with the same error offset.
 *
 * Error offsets (ipc_frame_dec_error_offset(), a byte offset in the stream fed to
 * the decoder since the last reset) are the offset of the first byte of the
 * offending field:
 *   IPC_EBADMAGIC    frame start (the magic field), whichever magic byte is wrong
 *   IPC_EBADVERSION  frame start + 2
 *   IPC_ETOOLARGE    frame start + 4 (the length field), checked before any byte
 *                    of the payload is buffered or any memory allocated
 *   IPC_EBADCRC      frame start + 8 + N (the CRC field)
 *   IPC_ETRUNCATED   frame start of the unfinished frame (the stream ended inside
 *                    it; ipc_frame_dec_offset() gives where the stream ended)
 * Each field is checked as soon as its last byte arrives, so a bad magic byte is
 * rejected without waiting for the rest of the header.
 *
 * Thread safety: the functions are thread-safe on distinct decoders; one decoder
 * must not be used by two threads at once. None of the decoder functions is
 * async-signal-safe (they may call malloc). Encoders are async-signal-safe.
 *
 * Errors under faults (what harnesses/faultsweep.c observed with every seam call
 * of this module failed in turn; the same holds for real failures):
 *   ipc_frame_decode, ipc_frame_dec_finish  -ENOMEM when the payload buffer cannot
 *                          grow (sticky, as documented below).
 *   ipc_frame_write_fd     the errors of ipc_pipe_writev_all: EINTR retried, short
 *                          writes continued, -EPIPE, -EAGAIN (non-blocking fd).
 *   ipc_frame_read_fd      EINTR retried, short reads continued; -ENOMEM (sticky),
 *                          -EAGAIN (non-blocking fd), IPC_ETRUNCATED when a writer
 *                          failed inside a frame. Frames written whole are read
 *                          whole and once (the sweep checks frames written =
 *                          frames read, or an error).
 *   the encoders, ipc_frame_dec_init/reset/free/error*: no call that can fail.
 */
#ifndef IPC_FRAME_H
#define IPC_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ipc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPC_FRAME_MAGIC0              0x49u /* 'I' */
#define IPC_FRAME_MAGIC1              0x46u /* 'F' */
#define IPC_FRAME_VERSION             1u
#define IPC_FRAME_HEADER_SIZE         8u
#define IPC_FRAME_TRAILER_SIZE        4u
#define IPC_FRAME_OVERHEAD            12u
#define IPC_FRAME_DEFAULT_MAX_PAYLOAD (1u << 20) /* 1 MiB: used when max_payload is 0 */
#define IPC_FRAME_MAX_PAYLOAD         (1u << 30) /* 1 GiB: hard limit, encoder and decoder */

/* A decoded frame. payload points either into the buffer passed to
 * ipc_frame_decode() (when the whole frame lay in it: zero-copy; valid as long as
 * that buffer) or into the decoder's internal buffer (valid until the next call
 * of ipc_frame_decode/read_fd/reset/free on that decoder). payload is non-NULL
 * even when len is 0. */
struct ipc_frame {
    const uint8_t *payload;
    size_t len;      /* payload length N, <= the decoder's max_payload */
    uint64_t offset; /* stream offset of the frame's first byte */
    uint8_t type;
};

/* Encoder state for the iovec form: the header and trailer bytes that the iovec
 * entries point to. Must outlive the writev. */
struct ipc_frame_enc {
    uint8_t header[IPC_FRAME_HEADER_SIZE];
    uint8_t trailer[IPC_FRAME_TRAILER_SIZE];
};

/* Decoder. Zero it (or call ipc_frame_dec_init) before first use. Only
 * max_payload is public: the limit for the payload length, 0 meaning
 * IPC_FRAME_DEFAULT_MAX_PAYLOAD; it may be changed between calls and applies to
 * the next length field; above IPC_FRAME_MAX_PAYLOAD makes decode return -EINVAL.
 * The other fields are private. The decoder owns its internal buffer: release it
 * with ipc_frame_dec_free(). */
struct ipc_frame_dec {
    size_t max_payload;
    /* private */
    uint64_t pos_;       /* stream bytes consumed since reset */
    uint64_t frame_pos_; /* stream offset of the current frame's first byte */
    uint64_t err_pos_;   /* error offset, valid when err_ != 0 */
    uint8_t *buf_;       /* internal payload buffer (malloc) */
    size_t buf_cap_;     /* allocated bytes in buf_ */
    size_t have_;        /* bytes of the current frame buffered (header+payload+trailer) */
    uint32_t len_;       /* payload length once the header is complete */
    uint32_t crc_;       /* CRC-32C of the frame's bytes buffered so far (from the header) */
    int err_;            /* sticky error, 0 when healthy */
    uint8_t hdr_[IPC_FRAME_HEADER_SIZE];
    uint8_t trl_[IPC_FRAME_TRAILER_SIZE];
};

/* Returns the size of the encoded frame for a payload of len bytes (len + 12). */
static inline size_t ipc_frame_encoded_size(size_t len)
{
    return len + IPC_FRAME_OVERHEAD;
}

/* Fills enc->header and enc->trailer for a frame of the given type and payload and
 * points iov[0..2] at header, payload, trailer (iov[1] has iov_len 0 when len is
 * 0), ready for writev(fd, iov, 3). The payload is not copied; it is read once to
 * compute the CRC. Returns 0, -EINVAL (enc/iov NULL, payload NULL with len > 0),
 * IPC_ETOOLARGE (len > IPC_FRAME_MAX_PAYLOAD). */
IPC_MUST_USE int ipc_frame_encode_iov(struct ipc_frame_enc *enc, uint8_t type, const void *payload,
                                      size_t len, struct iovec iov[3]);

/* Encodes a whole frame into out[0..cap). The payload may already be in place at
 * out + 8 (it is moved with memmove semantics), which allows building the payload
 * in the output buffer first. Returns the frame size (len + 12), -ENOBUFS (cap too
 * small; nothing written), -EINVAL (out NULL, payload NULL with len > 0),
 * IPC_ETOOLARGE (len > IPC_FRAME_MAX_PAYLOAD). */
IPC_MUST_USE ssize_t ipc_frame_encode(void *out, size_t cap, uint8_t type, const void *payload,
                                      size_t len);

/* Initialises a decoder with a payload limit (0 = default). Equivalent to zeroing
 * it and setting max_payload. Returns 0, -EINVAL (dec NULL, max_payload above
 * IPC_FRAME_MAX_PAYLOAD). */
IPC_MUST_USE int ipc_frame_dec_init(struct ipc_frame_dec *dec, size_t max_payload);

/* Decodes the next frame from the next len bytes of the stream (buf may be NULL
 * when len is 0). Returns:
 *   > 0  a frame is complete: *out describes it and the return value is the number
 *        of bytes of buf consumed (<= len; up to the frame's last byte). Feed the
 *        rest (buf + ret, len - ret) to the next call. When the frame lay whole in
 *        buf, out->payload points into buf (zero-copy); otherwise it points into
 *        the internal buffer.
 *   IPC_ENEEDMORE  no complete frame: ALL len bytes were consumed (the decoder
 *        kept what it needs of them); call again with the bytes that follow.
 *   IPC_EBADMAGIC, IPC_EBADVERSION, IPC_ETOOLARGE, IPC_EBADCRC (or IPC_ETRUNCATED
 *        after ipc_frame_dec_finish, or an I/O error from ipc_frame_read_fd): the
 *        stream is invalid; the error is sticky (every later call returns it)
 *        until ipc_frame_dec_reset(). ipc_frame_dec_error_offset() says where.
 *   -ENOMEM  the internal buffer could not grow; sticky like the errors above
 *        (the stream position within this call is lost).
 *   -EINVAL  dec or out NULL, buf NULL with len > 0, max_payload above the hard
 *        limit (nothing consumed, not sticky).
 * The payload buffer is allocated only after the length passed the max_payload
 * check, and grows geometrically as payload bytes actually arrive. */
IPC_MUST_USE ssize_t ipc_frame_decode(struct ipc_frame_dec *dec, const void *buf, size_t len,
                                      struct ipc_frame *out);

/* Declares the end of the stream. Returns 0 when the decoder is at a frame
 * boundary, IPC_ETRUNCATED (now sticky; error offset = start of the unfinished
 * frame) when the stream ended inside a frame, the sticky error if already failed,
 * -EINVAL if dec is NULL. */
IPC_MUST_USE int ipc_frame_dec_finish(struct ipc_frame_dec *dec);

/* The sticky error (0 if none, -EINVAL for a NULL decoder) and the stream offset
 * where it was detected (see the table at the top; 0 if no error). */
int ipc_frame_dec_error(const struct ipc_frame_dec *dec);
uint64_t ipc_frame_dec_error_offset(const struct ipc_frame_dec *dec);

/* Number of stream bytes the decoder has consumed since the last reset. After a
 * decode error it is the offset just past the byte that revealed the error (e.g.
 * error offset + 1 for a wrong first magic byte, + 4 for a bad length field),
 * independent of chunking; after IPC_ETRUNCATED, where the stream ended. */
uint64_t ipc_frame_dec_offset(const struct ipc_frame_dec *dec);

/* Clears the error and any partial frame; the stream offset restarts at 0;
 * max_payload and the internal buffer (for reuse) are kept. NULL is a no-op. */
void ipc_frame_dec_reset(struct ipc_frame_dec *dec);

/* Releases the internal buffer and resets (max_payload kept); the decoder can be
 * used again. Frames pointing into the internal buffer become invalid. NULL is a
 * no-op. */
void ipc_frame_dec_free(struct ipc_frame_dec *dec);

/* Blocking helper: writes one frame to fd with writev (header, payload, trailer;
 * no payload copy), resuming after partial writes and EINTR. A frame of at most
 * PIPE_BUF bytes (payload <= PIPE_BUF - 12) is written to a pipe atomically, i.e.
 * never interleaved with other writers' frames. flags are those of
 * ipc_pipe_writev_all (IPC_PIPE_NO_SIGPIPE_GUARD). Returns the frame size (len +
 * 12); on a non-blocking fd that fills up, the short count of frame bytes written
 * (the rest must be sent before anything else) or -EAGAIN if none; otherwise the
 * errors of ipc_frame_encode_iov and ipc_pipe_writev_all (-EPIPE, -EBADF...).
 * Thread-safe; not async-signal-safe unless IPC_PIPE_NO_SIGPIPE_GUARD. */
IPC_MUST_USE ssize_t ipc_frame_write_fd(int fd, uint8_t type, const void *payload, size_t len,
                                        unsigned flags);

/* Blocking helper: reads exactly one frame from fd (never past its last byte, so
 * other data on the fd is left alone) using dec's limit, buffer and offsets.
 * dec must be at a frame boundary (fresh, or only used with ipc_frame_read_fd).
 * Returns the frame size (> 0) with *out filled (payload in the internal
 * buffer), 0 on a clean EOF before the first byte of a frame, IPC_ETRUNCATED on
 * EOF inside a frame, the decode errors above (sticky, same offsets), or a
 * negative errno from read (-EAGAIN on a non-blocking fd, -EBADF...; an I/O error
 * in the middle of a frame becomes the sticky error, since the stream position is
 * lost). -EINVAL for NULL arguments or a decoder holding a partial frame. */
IPC_MUST_USE ssize_t ipc_frame_read_fd(int fd, struct ipc_frame_dec *dec, struct ipc_frame *out);

#ifdef __cplusplus
}
#endif
#endif
