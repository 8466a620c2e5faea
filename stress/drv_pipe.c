/* drv_pipe.c - `ipcstorm stress pipe`: several writer processes send framed
 * messages (docs/design.md section 3) of random sizes down one pipe; the parent reads
 * with random read sizes and feeds the decoder random sub-chunks. Scenarios rotate:
 *   small          frames <= PIPE_BUF, no lock: the kernel keeps them atomic
 *   large-locked   frames far above PIPE_BUF, each written under a shared
 *                  process lock (ipc_counter mutex): still never interleaved
 *   large-unlocked frames above PIPE_BUF with no lock (needs --procs >= 2): the
 *                  bytes of different writers interleave, and the decoder must
 *                  detect it (the atomicity rule, demonstrated)
 * Payloads carry writer id and sequence number and bytes derived from the seed, so
 * every accepted frame is checked byte for byte, not only by its CRC. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
    {"leak-buffer", "the reader never frees its read buffer (sanitizer builds: no-leak)"},
    {"leak-unlocked", "both unlocked-large and leak-buffer: exit 2 whatever LeakSanitizer says"},
    {NULL, NULL},
};

static const struct stress_spec spec = {
    .name = "pipe",
    .summary = "Framed messages with random sizes and chunking from several writers over one pipe.",
    .invariants =
        "  frame-intact          every frame decodes (magic, version, CRC) in the atomic "
        "scenarios\n"
        "  frame-order           per writer, sequence numbers arrive in order, none missing\n"
        "  payload-exact         every accepted payload equals what the writer generated\n"
        "  interleave-detected   unlocked frames above PIPE_BUF from several writers are\n"
        "                        never accepted as wrong data (whether they interleave at\n"
        "                        all is up to the scheduler: the result line counts the\n"
        "                        rounds where they did and the decoder caught it)",
    .default_procs = 4,
    .max_procs = MAX_WRITERS,
    .xopts = xopts,
    .faults = faults,
};

enum scen { S_SMALL, S_LARGE_LOCKED, S_LARGE_UNLOCKED, S_COUNT };

/* Unlocked large rounds run, and those where writers interleaved and the decoder
 * reported it. */
static unsigned g_unlocked_rounds, g_unlocked_caught;
static const char *const scen_names[] = {"small", "large-locked", "large-unlocked"};

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
    struct stress_rng rng;
    stress_rng_init(&rng, s.seed, 0);
    for (unsigned round = 0; stress_running(&s); round++) {
        enum scen sc = (enum scen)(round % S_COUNT);
        if (sc == S_LARGE_UNLOCKED && s.procs < 2)
            continue;
        run_round(&s, sc, &rng, lock, acks);
    }
    munmap(acks, sizeof(struct acks));
    ipc_counter_free(lock);
    if (g_unlocked_rounds)
        snprintf(s.note, sizeof(s.note),
                 "unlocked large rounds %u, interleaving caught by the decoder in %u",
                 g_unlocked_rounds, g_unlocked_caught);
    return stress_end(&s);
}
