/* drv_pipe.c - `ipcstorm stress pipe`: several writer processes send framed
 * messages (docs/design.md section 3) of random sizes down one pipe; the parent reads
 * with random read sizes and feeds the decoder random sub-chunks. Scenarios rotate:
 *   small          frames <= PIPE_BUF, no lock: the kernel keeps them atomic
 *   large-locked   frames far above PIPE_BUF, each written under a shared
 *                  process lock (ipc_counter mutex): still never interleaved
 *   large-unlocked frames above PIPE_BUF with no lock (needs --procs >= 2): the
 *                  bytes of different writers interleave, and the decoder must
 *                  detect it (the atomicity rule, demonstrated)
 *   short-io       one writer, a 4096-byte pipe, non-blocking ends or a timer
 *                  signal without SA_RESTART: short counts, EAGAIN and EINTR
 *                  as each function's contract says, every byte once, in order
 * Payloads carry writer id and sequence number and bytes derived from the seed, so
 * every accepted frame is checked byte for byte, not only by its CRC. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc_base.h"
#include "cli.h"
#include "common.h"
#include "report.h"
#include "rng.h"
#include "ipc/frame.h"
#include "ipc/pipe.h"
#include "ipc/shm.h"

const char ipcstorm_stress_pipe_summary[] =
    "framed messages from several writers, random sizes and chunking, CRC + sequence";

#define MAX_WRITERS 32
#define LARGE_MAX   (256u * 1024u)

static uint64_t opt_frames = 200;

static const struct stress_xopt xopts[] = {
    {"frames", STRESS_XOPT_U64, &opt_frames, 1, 1000000,
     "small frames per writer per round (large rounds send 1/10 of it)", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct stress_fault faults[] = {
    {"unlocked-large", "large-locked writers skip the lock (frames above PIPE_BUF)"},
    {"drop-short-rest", "short-io: a non-blocking writer never sends the rest of a short frame"},
    {"leak-buffer", "the reader never frees its read buffer (sanitizer builds: no-leak)"},
    {"leak-unlocked", "both unlocked-large and leak-buffer: exit 2 whatever LeakSanitizer says"},
    {NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "pipe",
    .examples = "  ipcstorm stress pipe --procs 8 --frames 2000 --duration 20\n",
    .summary = "Framed messages with random sizes and chunking from several writers over one pipe.",
    .invariants =
        "  frame-intact          every frame decodes (magic, version, CRC) in the atomic "
        "scenarios\n"
        "  frame-order           per writer, sequence numbers arrive in order, none missing\n"
        "  payload-exact         every accepted payload equals what the writer generated\n"
        "  interleave-detected   unlocked frames above PIPE_BUF from several writers are\n"
        "                        never accepted as wrong data (whether they interleave at\n"
        "                        all is up to the scheduler: the result line counts the\n"
        "                        rounds where they did and the decoder caught it)\n"
        "  short-io-contract     short-io rounds (pipe of 4096 bytes, non-blocking ends or a\n"
        "                        SIGALRM timer without SA_RESTART): blocking calls never\n"
        "                        return EINTR or a short count before EOF; non-blocking ones\n"
        "                        the full count, a short count > 0 or -EAGAIN\n"
        "  encode-exact          ipc_frame_encode matches the format (independent CRC-32C)\n"
        "  pipe-capacity-exact   ipc_pipe_set_capacity(4096) and ipc_pipe_capacity agree",
    .default_procs = 4,
    .max_procs = MAX_WRITERS,
    .xopts = xopts,
    .faults = faults,
};

enum scen { S_SMALL, S_LARGE_LOCKED, S_LARGE_UNLOCKED, S_SHORT_IO, S_COUNT };

/* Unlocked large rounds run, and those where writers interleaved and the decoder
 * reported it. */
static unsigned g_unlocked_rounds, g_unlocked_caught;
static const char *const scen_names[] = {"small", "large-locked", "large-unlocked", "short-io"};

/* Payload: writer (4) | seq (4) | bytes from a generator keyed by seed/writer/seq. */
static void make_payload(uint8_t *buf, size_t len, uint64_t seed, uint32_t writer, uint32_t seq)
{
    struct stress_rng r;
    stress_rng_init(&r, seed, ((uint64_t)writer << 32) | seq);
    stress_rng_fill(&r, buf, len);
    if (len >= 8) {
        memcpy(buf, &writer, 4);
        memcpy(buf + 4, &seq, 4);
    }
}

static size_t frame_len(struct stress_rng *r, enum scen sc)
{
    if (sc == S_SMALL) {
        /* Include the exact PIPE_BUF edge now and then. */
        if (stress_rng_below(r, 16) == 0)
            return PIPE_BUF - IPC_FRAME_OVERHEAD;
        return 8 + stress_rng_below(r, PIPE_BUF - IPC_FRAME_OVERHEAD - 8 + 1);
    }
    return PIPE_BUF + stress_rng_below(r, LARGE_MAX - PIPE_BUF);
}

/* Writer exit statuses: 0 every frame written (or the reader gave up), WR_LIBERR
 * libipc reported an error (allowed under --faults: the writer stops, and the
 * frame it was writing may be in the pipe in part), anything else a failure. */
#define WR_LIBERR 10

/* Per writer, in a shared mapping made by the driver itself: how many frames
 * ipc_frame_write_fd acknowledged in full. */
struct acks {
    uint32_t acked[MAX_WRITERS];
    /* short-io writer: partial and refused (EAGAIN) writes, timer signals */
    uint32_t short_writes, eagain_writes, alarms;
};

static int writer_main(int fd, uint32_t idx, uint64_t seed, enum scen sc, uint32_t nframes,
                       ipc_counter *lock, bool skip_lock, struct acks *acks, bool inject)
{
    uint8_t *buf = malloc(LARGE_MAX);
    if (!buf)
        return 3;
    struct stress_rng r;
    stress_rng_init(&r, seed, 1000 + idx);
    for (uint32_t seq = 0; seq < nframes; seq++) {
        size_t len = frame_len(&r, sc);
        make_payload(buf, len, seed, idx, seq);
        /* Small frames go out unlocked under --faults too: the seam never
         * shortens a write of at most PIPE_BUF bytes to a pipe (the kernel does
         * not), so their atomicity stays checked. */
        bool locked = sc == S_LARGE_LOCKED && !skip_lock;
        if (locked) {
            int lr = ipc_counter_lock(lock);
            if (lr < 0 && lr != IPC_EOWNERDEAD)
                return 4;
        }
        ssize_t w = ipc_frame_write_fd(fd, (uint8_t)idx, buf, len, 0);
        if (locked && ipc_counter_unlock(lock) < 0)
            return 5;
        if (w == (ssize_t)(len + IPC_FRAME_OVERHEAD)) {
            acks->acked[idx] = seq + 1;
            continue;
        }
        /* An error under faults: stop, the stream may hold a part of this frame.
         * A short count is never allowed: a blocking write is continued. */
        if (inject && w < 0)
            return WR_LIBERR;
        if (w == -EPIPE)
            break; /* the reader gave up (a detected interleave): fine */
        return 6;
    }
    free(buf);
    return 0;
}

struct reader {
    struct stress *s;
    enum scen sc;
    uint64_t seed;
    unsigned writers;
    uint32_t next_seq[MAX_WRITERS];
    uint8_t *expect;
    uint64_t frames;
    bool failed; /* the decoder reported a stream error */
    int err;
    uint64_t err_off;
    bool bad_data; /* a frame was accepted with wrong content */
    bool lib_err;  /* the decoder reported an error of its own (ENOMEM under --faults) */
};

/* Errors of the decoder that say the stream is malformed, as opposed to errors of
 * its own (an allocation that failed). */
static bool stream_error(int err)
{
    return err != -ENOMEM;
}

static void on_frame(struct reader *rd, const struct ipc_frame *f)
{
    struct stress *s = rd->s;
    uint32_t w = 0, seq = 0;
    if (f->len >= 8) {
        memcpy(&w, f->payload, 4);
        memcpy(&seq, f->payload + 4, 4);
    }
    bool ok = f->len >= 8 && w < rd->writers && f->type == w;
    if (ok) {
        make_payload(rd->expect, f->len, rd->seed, w, seq);
        ok = memcmp(rd->expect, f->payload, f->len) == 0;
    }
    if (!stress_check(s, ok, rd->sc == S_LARGE_UNLOCKED ? "interleave-detected" : "payload-exact",
                      "%s: frame at offset %" PRIu64 " (len %zu, writer %u seq %u) has wrong "
                      "content but a valid CRC",
                      scen_names[rd->sc], f->offset, f->len, w, seq)) {
        rd->bad_data = true;
        return;
    }
    if (rd->sc != S_LARGE_UNLOCKED)
        stress_check(s, seq == rd->next_seq[w], "frame-order",
                     "%s: writer %u sent seq %u, expected %u", scen_names[rd->sc], w, seq,
                     rd->next_seq[w]);
    rd->next_seq[w] = seq + 1;
    rd->frames++;
}

static void run_round(struct stress *s, enum scen sc, struct stress_rng *rng, ipc_counter *lock,
                      struct acks *acks)
{
    struct ipc_pipe p;
    int pr = ipc_pipe_open(&p, 0);
    if (pr < 0) {
        stress_lib_error(s, pr, "ipc_pipe_open");
        return;
    }
    memset(acks, 0, sizeof(*acks));
    bool inject = stress_faults_on(s);
    unsigned nw = s->procs;
    uint32_t nframes = (uint32_t)(sc == S_SMALL ? opt_frames : (opt_frames + 9) / 10);
    uint64_t rseed = stress_rng_next(rng);
    pid_t pids[MAX_WRITERS];
    unsigned started = 0;
    bool skip = stress_fault(s, "unlocked-large") || stress_fault(s, "leak-unlocked");
    for (; started < nw; started++) {
        pid_t pid = fork();
        if (pid == 0) {
            close(p.rd);
            ipc__exit_child(
                writer_main(p.wr, started, rseed, sc, nframes, lock, skip, acks, inject));
        }
        if (pid < 0) {
            stress_setup_error(s, "fork: %s", strerror(errno));
            break;
        }
        pids[started] = pid;
    }
    close(p.wr);
    struct reader rd = {.s = s, .sc = sc, .seed = rseed, .writers = started};
    rd.expect = malloc(LARGE_MAX);
    uint8_t *buf = malloc(2 * LARGE_MAX);
    struct ipc_frame_dec dec;
    int dr = rd.expect && buf ? ipc_frame_dec_init(&dec, LARGE_MAX) : -ENOMEM;
    if (dr < 0) {
        rd.lib_err = stress_lib_error(s, dr, "ipc_frame_dec_init");
        /* Drain to EOF so the writers finish. */
        char sink[4096];
        ssize_t n;
        while ((n = read(p.rd, sink, sizeof(sink))) > 0 || (n < 0 && errno == EINTR))
            ;
    } else {
        for (;;) {
            size_t want = (size_t)stress_rng_range(rng, 1, 2 * LARGE_MAX);
            ssize_t n = read(p.rd, buf, want);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            if (rd.failed)
                continue; /* drain to EOF so writers finish */
            size_t off = 0;
            while (off < (size_t)n) {
                size_t chunk = (size_t)stress_rng_range(rng, 1, (uint64_t)n - off);
                const uint8_t *cp = buf + off;
                size_t left = chunk;
                while (left) {
                    struct ipc_frame f;
                    ssize_t r = ipc_frame_decode(&dec, cp, left, &f);
                    if (r == IPC_ENEEDMORE)
                        break;
                    if (r < 0) {
                        rd.failed = true;
                        rd.err = (int)r;
                        rd.lib_err = !stream_error((int)r) && stress_lib_error(s, (int)r, "decode");
                        break;
                    }
                    on_frame(&rd, &f);
                    cp += r;
                    left -= (size_t)r;
                }
                if (rd.failed)
                    break;
                off += chunk;
            }
        }
        if (!rd.failed) {
            int r = ipc_frame_dec_finish(&dec);
            if (r < 0) {
                rd.failed = true;
                rd.err = r;
            }
        }
        rd.err_off = ipc_frame_dec_error_offset(&dec);
        ipc_frame_dec_free(&dec);
    }
    close(p.rd);
    unsigned writer_errs = 0;
    bool writer_err[MAX_WRITERS] = {0};
    for (unsigned i = 0; i < started; i++) {
        int st;
        pid_t w;
        do {
            w = waitpid(pids[i], &st, 0);
        } while (w == -1 && errno == EINTR);
        bool ok = w == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (inject && w == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == WR_LIBERR) {
            writer_err[i] = true;
            writer_errs++;
            stress_lib_error(s, -EIO, "writer: ipc_frame_write_fd");
            continue;
        }
        stress_check(s, ok, "frame-intact", "%s: writer %u ended with status 0x%x", scen_names[sc],
                     i, st);
    }
    /* Never a frame that was not acknowledged, whatever happened: a writer stops at
     * its first error, and the frame it was writing cannot have been decoded. */
    for (unsigned i = 0; i < started && !rd.bad_data; i++)
        if (!stress_check(s, rd.next_seq[i] <= acks->acked[i], "frame-order",
                          "%s: writer %u: %u frames decoded, only %u acknowledged", scen_names[sc],
                          i, rd.next_seq[i], acks->acked[i]))
            break;
    if (sc == S_LARGE_UNLOCKED) {
        /* Writes above PIPE_BUF interleave only when a writer blocks on a full pipe
         * while another one runs: likely, never certain, so not an invariant. What
         * is one (checked per frame in on_frame) is that no mixed frame is accepted,
         * and, when none interleaved, that every frame arrived as in the other
         * scenarios. */
        g_unlocked_rounds++;
        g_unlocked_caught += rd.failed;
    } else if (!rd.lib_err) {
        /* A malformed stream is allowed only after a writer reported an error (it
         * may have left part of a frame in the pipe). */
        stress_check(s, !rd.failed || writer_errs > 0, "frame-intact",
                     "%s: decoder error %s at stream offset %" PRIu64, scen_names[sc],
                     ipc_errname(rd.err), rd.err_off);
    }
    /* A clean stream: every acknowledged frame arrived, and a writer that saw no
     * error had every frame acknowledged. */
    for (unsigned i = 0; i < started && !rd.failed && !rd.lib_err; i++)
        if (!stress_check(
                s, rd.next_seq[i] == acks->acked[i] && (writer_err[i] || acks->acked[i] == nframes),
                "frame-order", "%s: writer %u: %u of %u frames arrived (%u acknowledged)",
                scen_names[sc], i, rd.next_seq[i], nframes, acks->acked[i]))
            break;
    bool leak = stress_fault(s, "leak-buffer") || stress_fault(s, "leak-unlocked");
    if (!leak)
        free(buf);
    free(rd.expect);
    stress_add_ops(s, rd.frames);
}

/* ---- short-io scenario ------------------------------------------------------------ */
/* One writer and the parent over a pipe shrunk to 4096 bytes (F_SETPIPE_SZ), frames
 * up to three times that. Per round the writer is either non-blocking (EAGAIN and
 * partial writes, which the driver continues itself from the encoded frame, as
 * ipc/frame.h asks) or blocking with a SIGALRM timer whose handler has no
 * SA_RESTART (every blocked write is interrupted); the parent reads blocking with
 * the same timer, or non-blocking, either the raw bytes with ipc_pipe_read_full in
 * random pieces (parsed here and checked with an independent CRC-32C) or frames
 * with ipc_frame_read_fd. The contracts asserted: a blocking call never returns
 * EINTR or a short count (short only at EOF), a non-blocking one returns the full
 * count, a short count > 0 or -EAGAIN, and every byte arrives once, in order. */
#define SHORT_PIPE_CAP   4096u
#define SHORT_MAX        (3u * SHORT_PIPE_CAP)
#define SHORT_TIMER_USEC 150

/* Writer exit statuses beyond WR_LIBERR, each a broken contract. */
#define WR_BLOCKING_SHORT 11 /* a blocking write returned a short count or EINTR */
#define WR_NB_RESULT      12 /* a non-blocking write returned none of len, short, EAGAIN */
#define WR_ENCODE         13 /* ipc_frame_encode disagreed with the independent model */

static uint32_t g_crc_table[256];

/* CRC-32C from its definition (reflected polynomial 0x82F63B78, initial and final
 * value 0xFFFFFFFF), independent of libipc's implementations. */
static void crc_model_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        g_crc_table[i] = c;
    }
}

static uint32_t crc_model(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = g_crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static volatile sig_atomic_t g_alarms;

static void on_alarm(int sig)
{
    (void)sig;
    g_alarms++;
}

/* SIGALRM every SHORT_TIMER_USEC with a handler that does not restart calls. */
static void interrupt_timer(bool on, struct sigaction *saved)
{
    struct itimerval it = {{0, on ? SHORT_TIMER_USEC : 0}, {0, on ? SHORT_TIMER_USEC : 0}};
    if (on) {
        struct sigaction a;
        memset(&a, 0, sizeof(a));
        a.sa_handler = on_alarm;
        sigemptyset(&a.sa_mask);
        a.sa_flags = 0; /* no SA_RESTART: blocked reads and writes return EINTR */
        sigaction(SIGALRM, &a, saved);
        setitimer(ITIMER_REAL, &it, NULL);
    } else {
        setitimer(ITIMER_REAL, &it, NULL);
        sigaction(SIGALRM, saved, NULL);
    }
}

static bool wait_fd(int fd, short ev)
{
    struct pollfd pfd = {.fd = fd, .events = ev};
    for (;;) {
        int r = poll(&pfd, 1, 5000);
        if (r > 0)
            return true;
        if (r == 0 || errno != EINTR)
            return false;
    }
}

static size_t short_len(struct stress_rng *r)
{
    switch (stress_rng_below(r, 8)) {
    case 0:
        return stress_rng_below(r, 9); /* tiny, 0 included (no seq inside) */
    case 1:
        return PIPE_BUF - IPC_FRAME_OVERHEAD;
    default:
        return 8 + stress_rng_below(r, SHORT_MAX - 8 + 1);
    }
}

/* The encoded frame of ipc_frame_encode, checked against the format. */
static bool frame_bytes_ok(const uint8_t *f, size_t flen, uint8_t type, const uint8_t *pl,
                           size_t len)
{
    return flen == ipc_frame_encoded_size(len) && f[0] == 0x49 && f[1] == 0x46 && f[2] == 1 &&
           f[3] == type && get_be32(f + 4) == len && memcmp(f + 8, pl, len) == 0 &&
           get_be32(f + 8 + len) == crc_model(0, f, 8 + len);
}

static int short_writer(int fd, uint64_t seed, uint32_t nframes, bool nonblock, bool drop_rest,
                        struct acks *acks, bool inject)
{
    uint8_t *pl = malloc(SHORT_MAX), *frame = malloc(SHORT_MAX + IPC_FRAME_OVERHEAD);
    if (!pl || !frame)
        return 3;
    struct sigaction saved;
    if (!nonblock)
        interrupt_timer(true, &saved);
    struct stress_rng r;
    stress_rng_init(&r, seed, 77);
    int rc = 0;
    for (uint32_t seq = 0; seq < nframes && rc == 0; seq++) {
        size_t len = short_len(&r);
        uint8_t type = (uint8_t)seq;
        make_payload(pl, len, seed, 0, seq);
        size_t flen = ipc_frame_encoded_size(len);
        ssize_t el = ipc_frame_encode(frame, SHORT_MAX + IPC_FRAME_OVERHEAD, type, pl, len);
        if (el != (ssize_t)flen || !frame_bytes_ok(frame, flen, type, pl, len)) {
            rc = WR_ENCODE;
            break;
        }
        if (!nonblock) {
            /* Blocking: the whole frame whatever the interruptions; alternately
             * the frame helper and a plain write_all of the encoded bytes. */
            ssize_t w = seq % 2 ? ipc_frame_write_fd(fd, type, pl, len, 0)
                                : ipc_pipe_write_all(fd, frame, flen, 0);
            if (w == (ssize_t)flen) {
                acks->acked[0] = seq + 1;
                continue;
            }
            rc = w == -EPIPE                        ? -1
                 : (inject && w < 0 && w != -EINTR) ? WR_LIBERR
                                                    : WR_BLOCKING_SHORT;
            break;
        }
        size_t off = 0;
        while (off == 0) {
            ssize_t w = ipc_frame_write_fd(fd, type, pl, len, 0);
            acks->short_writes += w > 0 && (size_t)w < flen;
            acks->eagain_writes += w == -EAGAIN;
            if (w == -EAGAIN) {
                if (!wait_fd(fd, POLLOUT))
                    rc = WR_NB_RESULT;
            } else if (w > 0 && (size_t)w <= flen) {
                off = (size_t)w;
            } else {
                rc = w == -EPIPE ? -1 : (inject && w < 0 && w != -EINTR) ? WR_LIBERR : WR_NB_RESULT;
            }
            if (rc)
                break;
        }
        if (drop_rest)
            off = flen; /* the planted bug: the rest of a short frame is never sent */
        while (rc == 0 && off < flen) {
            ssize_t w = ipc_pipe_write_all(fd, frame + off, flen - off, 0);
            acks->short_writes += w > 0 && (size_t)w < flen - off;
            acks->eagain_writes += w == -EAGAIN;
            if (w == -EAGAIN) {
                if (!wait_fd(fd, POLLOUT))
                    rc = WR_NB_RESULT;
            } else if (w > 0 && (size_t)w <= flen - off) {
                off += (size_t)w;
            } else {
                rc = w == -EPIPE ? -1 : (inject && w < 0 && w != -EINTR) ? WR_LIBERR : WR_NB_RESULT;
            }
        }
        if (rc == 0)
            acks->acked[0] = seq + 1;
    }
    if (!nonblock)
        interrupt_timer(false, &saved);
    acks->alarms = (uint32_t)g_alarms;
    free(pl);
    free(frame);
    return rc < 0 ? 0 : rc; /* -1: the reader gave up (EPIPE) */
}

struct short_reader {
    struct stress *s;
    int fd;
    bool nonblock;
    bool eof;
    bool contract_broken;
    bool lib_err;
    uint64_t bytes;
};

/* Reads exactly len bytes in random pieces with ipc_pipe_read_full, checking each
 * result against its contract. Returns false at EOF or on an error. */
static bool read_exact(struct short_reader *sr, struct stress_rng *rng, uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        size_t piece = (size_t)stress_rng_range(rng, 1, len - off);
        ssize_t r = ipc_pipe_read_full(sr->fd, buf + off, piece);
        if (r == (ssize_t)piece) {
            off += piece;
            sr->bytes += piece;
            continue;
        }
        if (r == -EAGAIN && sr->nonblock) {
            if (!wait_fd(sr->fd, POLLIN))
                return false;
            continue;
        }
        if (r >= 0 && (size_t)r < piece) {
            off += (size_t)r;
            sr->bytes += (size_t)r;
            if (sr->nonblock && r > 0)
                continue; /* a non-blocking short count: the rest is not there yet */
            /* Blocking: short only at EOF, and then nothing follows. */
            uint8_t probe;
            ssize_t again = ipc_pipe_read_full(sr->fd, &probe, 1);
            if (!stress_check(sr->s, again == 0, "short-io-contract",
                              "ipc_pipe_read_full(%zu) on a %s fd returned %zd before EOF (then "
                              "%zd)",
                              piece, sr->nonblock ? "non-blocking" : "blocking", r, again))
                sr->contract_broken = true;
            sr->eof = true;
            return false;
        }
        if (stress_faults_on(sr->s) && r < 0 && r != -EINTR) {
            sr->lib_err = stress_lib_error(sr->s, (int)r, "ipc_pipe_read_full");
            return false;
        }
        stress_violation(sr->s, "short-io-contract",
                         "ipc_pipe_read_full(%zu) on a %s fd returned %s", piece,
                         sr->nonblock ? "non-blocking" : "blocking",
                         r < 0 ? ipc_errname((int)r) : "more than asked");
        sr->contract_broken = true;
        return false;
    }
    return true;
}

static uint64_t g_short_rounds, g_short_frames, g_short_writes, g_eagain_writes, g_writer_alarms,
    g_reader_alarms;

static void run_short_round(struct stress *s, struct stress_rng *rng, struct acks *acks)
{
    struct ipc_pipe p;
    int pr = ipc_pipe_open(&p, 0);
    if (pr < 0) {
        stress_lib_error(s, pr, "ipc_pipe_open");
        return;
    }
    int cap = ipc_pipe_set_capacity(p.wr, SHORT_PIPE_CAP);
    if (cap < 0) {
        stress_lib_error(s, cap, "ipc_pipe_set_capacity");
    } else {
        int got = ipc_pipe_capacity(p.rd);
        stress_check(s, cap == (int)SHORT_PIPE_CAP && got == cap, "pipe-capacity-exact",
                     "ipc_pipe_set_capacity(4096) returned %d, ipc_pipe_capacity says %d", cap,
                     got);
    }
    bool wr_nb = stress_rng_below(rng, 2), rd_nb = stress_rng_below(rng, 3) == 0;
    bool use_frame_read = !rd_nb && stress_rng_below(rng, 2);
    int r1 = wr_nb ? ipc_pipe_set_nonblock(p.wr, 1) : 0;
    int r2 = rd_nb ? ipc_pipe_set_nonblock(p.rd, 1) : 0;
    if (r1 < 0 || r2 < 0) {
        stress_lib_error(s, r1 < 0 ? r1 : r2, "ipc_pipe_set_nonblock");
        ipc_pipe_close(&p);
        return;
    }
    memset(acks, 0, sizeof(*acks));
    uint32_t nframes = (uint32_t)stress_rng_range(rng, opt_frames / 4 + 1, opt_frames / 2 + 2);
    uint64_t seed = stress_rng_next(rng);
    bool inject = stress_faults_on(s);
    pid_t pid = fork();
    if (pid == 0) {
        close(p.rd);
        ipc__exit_child(short_writer(p.wr, seed, nframes, wr_nb, stress_fault(s, "drop-short-rest"),
                                     acks, inject));
    }
    close(p.wr);
    if (pid < 0) {
        stress_setup_error(s, "fork: %s", strerror(errno));
        close(p.rd);
        return;
    }
    const char *mode = use_frame_read ? "frame_read_fd"
                       : rd_nb        ? "non-blocking read_full"
                                      : "read_full";
    struct short_reader sr = {.s = s, .fd = p.rd, .nonblock = rd_nb};
    uint8_t *frame = malloc(SHORT_MAX + IPC_FRAME_OVERHEAD), *expect = malloc(SHORT_MAX);
    struct sigaction saved;
    g_alarms = 0;
    if (!rd_nb)
        interrupt_timer(true, &saved);
    struct ipc_frame_dec dec;
    int dr = ipc_frame_dec_init(&dec, SHORT_MAX);
    uint32_t seq = 0;
    bool broken = !frame || !expect || dr < 0;
    const char *fail_inv = NULL; /* a failure judged after the writer's status */
    int fail_err = 0;
    char fail[160] = "";
    while (!broken) {
        const uint8_t *payload = NULL;
        size_t len = 0;
        uint8_t type = 0;
        if (use_frame_read) {
            struct ipc_frame f;
            ssize_t r = ipc_frame_read_fd(p.rd, &dec, &f);
            if (r == 0)
                break;
            if (r < 0) {
                /* EINTR is never allowed; anything else is judged once the
                 * writer's status is known (under --faults it may have left a
                 * partial frame, or the read itself failed by injection). */
                fail_inv = r == -EINTR ? "short-io-contract" : "frame-intact";
                fail_err = (int)r;
                snprintf(fail, sizeof(fail), "ipc_frame_read_fd returned %s after %u frames",
                         ipc_errname((int)r), seq);
                broken = true;
                break;
            }
            stress_check(s, (size_t)r == ipc_frame_encoded_size(f.len), "short-io-contract",
                         "ipc_frame_read_fd returned %zd for a payload of %zu", r, f.len);
            payload = f.payload;
            len = f.len;
            type = f.type;
        } else {
            uint64_t at = sr.bytes;
            if (!read_exact(&sr, rng, frame, IPC_FRAME_HEADER_SIZE)) {
                /* EOF before the first byte of a header is the end. */
                broken = !sr.eof || sr.contract_broken || sr.bytes != at;
                if (broken && !sr.contract_broken && !sr.lib_err) {
                    fail_inv = "frame-intact";
                    snprintf(fail, sizeof(fail),
                             "frame %u at stream offset %" PRIu64 " ends "
                             "inside its header",
                             seq, at);
                }
                break;
            }
            len = get_be32(frame + 4);
            bool hdr_ok = frame[0] == 0x49 && frame[1] == 0x46 && frame[2] == 1 && len <= SHORT_MAX;
            if (!hdr_ok || !read_exact(&sr, rng, frame + 8, len + IPC_FRAME_TRAILER_SIZE) ||
                get_be32(frame + 8 + len) != crc_model(0, frame, 8 + len)) {
                if (!sr.lib_err && !sr.contract_broken) {
                    fail_inv = "frame-intact";
                    snprintf(fail, sizeof(fail), "frame %u at stream offset %" PRIu64 " is %s", seq,
                             at, !hdr_ok ? "a bad header" : "truncated or has a bad CRC");
                }
                broken = true;
                break;
            }
            payload = frame + 8;
            type = frame[3];
        }
        /* Order and content from the writer's generator, not from the library. */
        make_payload(expect, len, seed, 0, seq);
        bool ok = type == (uint8_t)seq && memcmp(expect, payload, len) == 0;
        if (!stress_check(s, ok, "payload-exact",
                          "short-io (%s): frame %u (len %zu, type %u) differs from what the "
                          "writer sent",
                          mode, seq, len, type)) {
            broken = true;
            break;
        }
        seq++;
    }
    if (!rd_nb)
        interrupt_timer(false, &saved);
    g_reader_alarms += (uint64_t)g_alarms;
    if (dr == 0)
        ipc_frame_dec_free(&dec);
    close(p.rd);
    int st = 0;
    pid_t w;
    do {
        w = waitpid(pid, &st, 0);
    } while (w == -1 && errno == EINTR);
    int code = w == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    bool writer_liberr = inject && code == WR_LIBERR;
    if (writer_liberr)
        stress_lib_error(s, -EIO, "short writer");
    else
        stress_check(s, code == 0, code == WR_ENCODE ? "encode-exact" : "short-io-contract",
                     "short-io writer (%s) ended with status %d (11 a blocking write was short "
                     "or EINTR, 12 a non-blocking write returned none of full/short/EAGAIN, 13 "
                     "ipc_frame_encode disagreed with the model)",
                     wr_nb ? "non-blocking" : "blocking", code);
    if (fail_inv) {
        /* Under --faults a broken stream is allowed after the writer failed, and
         * the reader's own failures (not a stream error, not EINTR) are errors
         * libipc reported. */
        bool tolerated =
            inject && fail_err != -EINTR &&
            (writer_liberr ||
             (fail_err < 0 && fail_err != IPC_EBADMAGIC && fail_err != IPC_EBADVERSION &&
              fail_err != IPC_EBADCRC && fail_err != IPC_ETOOLARGE && fail_err != IPC_ETRUNCATED));
        if (tolerated)
            stress_lib_error(s, fail_err ? fail_err : -EIO, "short-io reader");
        else
            stress_violation(s, fail_inv, "short-io (%s, writer %s): %s", mode,
                             wr_nb ? "non-blocking" : "blocking", fail);
    }
    if (!broken && !sr.lib_err && !writer_liberr && code == 0)
        stress_check(s, seq == nframes && acks->acked[0] == nframes, "frame-order",
                     "short-io (%s): %u of %u frames arrived (%u acknowledged)", mode, seq, nframes,
                     acks->acked[0]);
    g_short_rounds++;
    g_short_frames += seq;
    g_short_writes += acks->short_writes;
    g_eagain_writes += acks->eagain_writes;
    g_writer_alarms += acks->alarms;
    free(frame);
    free(expect);
    stress_add_ops(s, seq);
}

int ipcstorm_stress_pipe(int argc, char **argv)
{
    struct stress s;
    int rc = stress_begin(&s, &spec, argc, argv);
    if (rc != STRESS_RUN)
        return rc;
    ipc_counter *lock = NULL;
    int r = ipc_counter_new(&lock, IPC_LOCK_MUTEX);
    if (r < 0) {
        stress_setup_error(&s, "ipc_counter_new: %s", ipc_strerror(r));
        return stress_end(&s);
    }
    /* The driver's own mapping (not libipc's): never fails under --faults. */
    struct acks *acks =
        mmap(NULL, sizeof(struct acks), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (acks == MAP_FAILED) {
        ipc_counter_free(lock);
        stress_setup_error(&s, "mmap: %s", strerror(errno));
        return stress_end(&s);
    }
    crc_model_init();
    struct stress_rng rng;
    stress_rng_init(&rng, s.seed, 0);
    for (unsigned round = 0; stress_running(&s); round++) {
        enum scen sc = (enum scen)(round % S_COUNT);
        if (sc == S_LARGE_UNLOCKED && s.procs < 2)
            continue;
        if (sc == S_SHORT_IO)
            run_short_round(&s, &rng, acks);
        else
            run_round(&s, sc, &rng, lock, acks);
    }
    munmap(acks, sizeof(struct acks));
    ipc_counter_free(lock);
    snprintf(s.note, sizeof(s.note),
             "unlocked large rounds %u, interleaving caught by the decoder in %u; short-io rounds "
             "%" PRIu64 ", %" PRIu64 " frames, %" PRIu64 " short and %" PRIu64
             " EAGAIN writes, timer signals writer %" PRIu64 " reader %" PRIu64,
             g_unlocked_rounds, g_unlocked_caught, g_short_rounds, g_short_frames, g_short_writes,
             g_eagain_writes, g_writer_alarms, g_reader_alarms);
    return stress_end(&s);
}
