/* ipcbench.c - micro-benchmarks behind scripts/bench. Each mode measures one side of
 * a pair (ours or its anchor) for a given time and prints one line:
 *     <mode> <rate> <unit>
 * scripts/bench alternates the two sides of every pair and takes medians, so this
 * program never compares anything itself. Invariant checks stay on while
 * measuring: every decoded frame's CRC is verified by the decoder, every framed
 * pipe message carries a sequence number that the reader checks, and every
 * counter run checks its final value. A broken invariant exits 2. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/crc32c.h"
#include "ipc/frame.h"
#include "ipc/pipe.h"
#include "ipc/shm.h"
#include "ipc_base.h"

static void die(const char *what, long rc)
{
    fprintf(stderr, "ipcbench: %s: %s\n", what, rc < 0 ? ipc_strerror((int)rc) : "failed");
    exit(1);
}

static void violation(const char *what)
{
    fprintf(stderr, "ipcbench: invariant violated: %s\n", what);
    exit(2);
}

/* ---- in-memory decode -------------------------------------------------------- */

/* Builds count frames of payload_len bytes each, back to back. */
static uint8_t *make_stream(size_t payload_len, size_t count, size_t *out_len)
{
    size_t frame_len = ipc_frame_encoded_size(payload_len);
    uint8_t *s = malloc(frame_len * count);
    uint8_t *payload = malloc(payload_len ? payload_len : 1);
    if (!s || !payload)
        die("malloc", -ENOMEM);
    for (size_t i = 0; i < payload_len; i++)
        payload[i] = (uint8_t)(i * 131 + 7);
    for (size_t i = 0; i < count; i++) {
        ssize_t n = ipc_frame_encode(s + i * frame_len, frame_len, 1, payload, payload_len);
        if (n < 0)
            die("ipc_frame_encode", n);
    }
    free(payload);
    *out_len = frame_len * count;
    return s;
}

/* Decodes the stream repeatedly; returns bytes/s (or frames/s). */
static double bench_decode(size_t payload_len, size_t count, double seconds, int per_frame)
{
    size_t len;
    uint8_t *s = make_stream(payload_len, count, &len);
    struct ipc_frame_dec dec = {0};
    uint64_t bytes = 0, frames = 0;
    double t0 = ipc__now_s(), t;
    do {
        ipc_frame_dec_reset(&dec);
        size_t off = 0;
        for (size_t i = 0; i < count; i++) {
            struct ipc_frame f;
            ssize_t n = ipc_frame_decode(&dec, s + off, len - off, &f);
            if (n < 0)
                die("ipc_frame_decode", n);
            if (f.len != payload_len)
                violation("decoded payload length differs from the encoded one");
            off += (size_t)n;
        }
        bytes += len;
        frames += count;
        t = ipc__now_s();
    } while (t - t0 < seconds);
    ipc_frame_dec_free(&dec);
    free(s);
    return (per_frame ? (double)frames : (double)bytes) / (t - t0);
}

/* The anchor for decode throughput: one stream of the SSE4.2 crc32q instruction,
 * the obvious way to checksum a buffer, over the same bytes. */
__attribute__((target("sse4.2"))) static uint32_t crc32q_single(uint32_t crc, const uint8_t *p,
                                                                size_t n)
{
    uint64_t c = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
    }
    uint32_t c32 = (uint32_t)c;
    for (; n; n--, p++)
        c32 = __builtin_ia32_crc32qi(c32, *p);
    return ~c32;
}

static double bench_crc_anchor(size_t payload_len, size_t count, double seconds)
{
    size_t len;
    uint8_t *s = make_stream(payload_len, count, &len);
    size_t frame_len = ipc_frame_encoded_size(payload_len);
    uint64_t bytes = 0;
    volatile uint32_t sink = 0;
    double t0 = ipc__now_s(), t;
    do {
        for (size_t i = 0; i < count; i++)
            sink ^= crc32q_single(0, s + i * frame_len, frame_len - IPC_FRAME_TRAILER_SIZE);
        bytes += len;
        t = ipc__now_s();
    } while (t - t0 < seconds);
    (void)sink;
    free(s);
    return (double)bytes / (t - t0);
}

/* ---- CRC paths and memcpy ------------------------------------------------------ */

/* One mode per CRC-32C implementation (ipc_crc32c_with), the single-stream crc32q
 * loop above, and memcpy, each over len-byte pieces of a 256 KiB working set (it
 * stays in L2 like a pipe's pages do; a longer len is one piece). The CRC of every
 * piece is checked against the table path once before timing, so a wrong fast
 * path cannot post a rate. Returns bytes per second of this thread's CPU time:
 * the work is single-threaded and CPU-bound, and on a shared machine the wall
 * clock would mostly measure the other tenants. */
struct crc_mode {
    const char *mode;
    int impl; /* enum ipc_crc32c_impl, or one of the two below */
};
#define CRC_MODE_CRC32Q -1
#define CRC_MODE_MEMCPY -2
static const struct crc_mode crc_modes[] = {
    {"crc-table", IPC_CRC32C_TABLE},
    {"crc-sse42", IPC_CRC32C_SSE42},
    {"crc-sse42-3way", IPC_CRC32C_SSE42_3WAY},
    {"crc-pclmul", IPC_CRC32C_PCLMUL},
    {"crc-vpclmul", IPC_CRC32C_VPCLMUL},
    {"crc-hybrid", IPC_CRC32C_HYBRID},
    {"crc-isal", IPC_CRC32C_ISAL},
    {"crc-auto", IPC_CRC32C_AUTO},
    {"crc-crc32q", CRC_MODE_CRC32Q},
    {"memcpy", CRC_MODE_MEMCPY},
};

static const struct crc_mode *find_crc_mode(const char *mode)
{
    for (size_t i = 0; i < sizeof(crc_modes) / sizeof(crc_modes[0]); i++)
        if (!strcmp(crc_modes[i].mode, mode))
            return &crc_modes[i];
    return NULL;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double bench_crc_path(const struct crc_mode *m, size_t len, double seconds)
{
    if (m->impl >= 0 && ipc_crc32c_available((enum ipc_crc32c_impl)m->impl) != 1)
        die("this CPU or build lacks the implementation", -ENOTSUP);
    size_t set = len < (256u << 10) ? (256u << 10) / len * len : len;
    size_t pieces = set / len;
    uint8_t *src = malloc(set), *dst = malloc(set);
    if (!src || !dst)
        die("malloc", -ENOMEM);
    for (size_t i = 0; i < set; i++)
        src[i] = (uint8_t)(i * 131 + 7);
    for (size_t i = 0; i < pieces; i++) {
        const uint8_t *piece = src + i * len;
        uint32_t want = ipc_crc32c_with(IPC_CRC32C_TABLE, 0, piece, len);
        uint32_t got = m->impl == CRC_MODE_CRC32Q ? crc32q_single(0, piece, len)
                       : m->impl >= 0
                           ? ipc_crc32c_with((enum ipc_crc32c_impl)m->impl, 0, piece, len)
                           : want;
        if (got != want)
            violation("a CRC-32C path differs from the table implementation");
    }
    volatile uint32_t sink = 0;
    uint64_t bytes = 0;
    double t0 = thread_cpu_s(), t;
    do {
        for (size_t i = 0; i < pieces; i++) {
            uint8_t *piece = src + i * len;
            if (m->impl == CRC_MODE_MEMCPY) {
                memcpy(dst + i * len, piece, len);
                __asm__ volatile("" : : "r"(dst) : "memory"); /* keep the copy */
            } else if (m->impl == CRC_MODE_CRC32Q) {
                sink ^= crc32q_single(0, piece, len);
            } else {
                sink ^= ipc_crc32c_with((enum ipc_crc32c_impl)m->impl, 0, piece, len);
            }
        }
        bytes += set;
        t = thread_cpu_s();
    } while (t - t0 < seconds);
    (void)sink;
    free(src);
    free(dst);
    return (double)bytes / (t - t0);
}

/* ---- pipes ------------------------------------------------------------------- */

/* One writer process, this process reads. Both sides of the pair do the same
 * syscalls on the same pipe (default capacity): the writer one write (raw) or one
 * writev of header, payload, trailer (framed, ipc_frame_write_fd) per chunk, each
 * chunk starting with a sequence number; the reader read()s up to
 * PIPE_READ_BLOCK bytes at a time and checks every chunk's sequence number (raw:
 * at the chunk boundaries of the stream; framed: in each decoded frame, whose CRC
 * the decoder verified; a frame is decoded in place once a later read completed
 * it). Returns bytes/s of stream (frame overhead included, so
 * both sides move the same bytes). */
#define PIPE_READ_BLOCK (256u * 1024)
/* The framed reader reads into a larger buffer so that a frame cut by a read is
 * completed in place by the next one (no copy into the decoder). */
#define PIPE_READ_BUF (1024u * 1024)

/* The raw reader's check: collects the first 8 bytes of every chunk from a
 * stream cut anywhere. */
struct raw_seq_check {
    size_t chunk, pos; /* pos: offset within the current chunk */
    uint64_t expect;
    uint8_t seq[8];
};

static void raw_seq_feed(struct raw_seq_check *c, const uint8_t *p, size_t n)
{
    while (n) {
        if (c->pos < sizeof(c->seq)) {
            size_t k = sizeof(c->seq) - c->pos < n ? sizeof(c->seq) - c->pos : n;
            memcpy(c->seq + c->pos, p, k);
            c->pos += k, p += k, n -= k;
            if (c->pos == sizeof(c->seq)) {
                uint64_t seq;
                memcpy(&seq, c->seq, sizeof(seq));
                if (seq != c->expect++)
                    violation("raw pipe: sequence number out of order");
            }
            continue;
        }
        size_t k = c->chunk - c->pos < n ? c->chunk - c->pos : n;
        c->pos += k, p += k, n -= k;
        if (c->pos == c->chunk)
            c->pos = 0;
    }
}

static double bench_pipe(size_t chunk, double seconds, int framed, size_t pipe_size)
{
    if (chunk <= IPC_FRAME_OVERHEAD + 8)
        die("chunk too small", -EINVAL);
    struct ipc_pipe p, stop;
    int rc = ipc_pipe_open(&p, 0);
    if (rc < 0 || (rc = ipc_pipe_open(&stop, IPC_PIPE_NONBLOCK)) < 0)
        die("ipc_pipe_open", rc);
    if (pipe_size && (rc = ipc_pipe_set_capacity(p.wr, pipe_size)) < 0)
        die("ipc_pipe_set_capacity", rc);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", -errno);
    if (pid == 0) {
        /* The reader closes its end when time is up; the writer then sees EPIPE. */
        signal(SIGPIPE, SIG_IGN);
        int wr = ipc_pipe_use_write_end(&p);
        uint8_t *buf = calloc(1, chunk);
        char c;
        if (!buf)
            _exit(1);
        for (uint64_t seq = 0; read(stop.rd, &c, 1) < 0 && errno == EAGAIN; seq++) {
            ssize_t n;
            memcpy(buf, &seq, sizeof(seq));
            if (framed)
                n = ipc_frame_write_fd(wr, 1, buf, chunk - IPC_FRAME_OVERHEAD,
                                       IPC_PIPE_NO_SIGPIPE_GUARD);
            else
                n = ipc_pipe_write_all(wr, buf, chunk, IPC_PIPE_NO_SIGPIPE_GUARD);
            if (n < 0)
                _exit(n == -EPIPE ? 0 : 1);
        }
        _exit(0);
    }
    int rd = ipc_pipe_use_read_end(&p);
    uint8_t *buf = malloc(PIPE_READ_BUF);
    if (!buf)
        die("malloc", -ENOMEM);
    struct ipc_frame_dec dec = {0};
    struct raw_seq_check raw = {.chunk = chunk};
    uint64_t bytes = 0, expect_seq = 0;
    size_t start = 0, end = 0; /* framed: undecoded bytes are buf[start, end) */
    double t0 = ipc__now_s(), t = t0;
    while (t - t0 < seconds) {
        if (PIPE_READ_BUF - end < PIPE_READ_BLOCK) { /* keep the partial frame */
            memmove(buf, buf + start, end - start);
            end -= start;
            start = 0;
        }
        ssize_t n = read(rd, buf + end, PIPE_READ_BLOCK);
        if (n <= 0)
            die("pipe read", n < 0 ? -errno : -EIO);
        bytes += (uint64_t)n;
        if (!framed) {
            raw_seq_feed(&raw, buf, (size_t)n);
            t = ipc__now_s();
            continue;
        }
        end += (size_t)n;
        while (end - start >= IPC_FRAME_HEADER_SIZE) {
            /* A frame is decoded only once it lies whole in buf: in place, no
             * copy into the decoder. The length is only peeked at here; the
             * decoder checks the header (a bad one fails right away). */
            size_t whole = IPC_FRAME_OVERHEAD + (size_t)ipc__load_be32(buf + start + 4);
            if (end - start < whole && whole <= PIPE_READ_BUF - PIPE_READ_BLOCK &&
                buf[start] == IPC_FRAME_MAGIC0)
                break;
            struct ipc_frame f;
            ssize_t used = ipc_frame_decode(&dec, buf + start, end - start, &f);
            if (used == IPC_ENEEDMORE) { /* larger than the in-place window */
                start = end;
                break;
            }
            if (used < 0)
                die("ipc_frame_decode", used);
            uint64_t seq;
            memcpy(&seq, f.payload, sizeof(seq));
            if (seq != expect_seq++)
                violation("framed pipe: sequence number out of order");
            start += (size_t)used;
        }
        if (start == end)
            start = end = 0;
        t = ipc__now_s();
    }
    if (write(stop.wr, "x", 1) != 1)
        die("stop write", -errno);
    close(rd);
    int status;
    waitpid(pid, &status, 0);
    ipc_pipe_close(&stop);
    ipc_frame_dec_free(&dec);
    free(buf);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("writer process failed", -EIO);
    if (!framed && raw.expect == 0)
        violation("raw pipe: no chunk arrived");
    return (double)bytes / (t - t0);
}

/* ---- counters ------------------------------------------------------------------ */

enum counter_side { OURS_MUTEX, BARE_ROBUST_MUTEX, BARE_ATOMIC };

struct bare_shared {
    pthread_mutex_t mutex;
    int64_t value;
    _Atomic int64_t atomic_value;
};

/* procs processes each add 1 incs times; returns increments/s, checks the total. */
static double bench_counter(enum counter_side side, int procs, uint64_t incs)
{
    ipc_counter *c = NULL;
    struct bare_shared *b =
        mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED)
        die("mmap", -errno);
    if (side == OURS_MUTEX) {
        int rc = ipc_counter_new(&c, IPC_LOCK_MUTEX);
        if (rc < 0)
            die("ipc_counter_new", rc);
    } else {
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        pthread_mutex_init(&b->mutex, &a);
        pthread_mutexattr_destroy(&a);
    }
    double t0 = ipc__now_s();
    for (int i = 0; i < procs; i++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork", -errno);
        if (pid)
            continue;
        for (uint64_t k = 0; k < incs; k++) {
            if (side == OURS_MUTEX) {
                if (ipc_counter_add(c, 1, NULL) < 0)
                    _exit(1);
            } else if (side == BARE_ROBUST_MUTEX) {
                if (pthread_mutex_lock(&b->mutex) != 0)
                    _exit(1);
                b->value++;
                pthread_mutex_unlock(&b->mutex);
            } else {
                atomic_fetch_add_explicit(&b->atomic_value, 1, memory_order_relaxed);
            }
        }
        _exit(0);
    }
    int failed = 0, status;
    for (int i = 0; i < procs; i++)
        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed = 1;
    double t = ipc__now_s() - t0;
    int64_t got = 0;
    if (side == OURS_MUTEX) {
        if (ipc_counter_get(c, &got) < 0)
            failed = 1;
        ipc_counter_free(c);
    } else {
        got = side == BARE_ATOMIC ? atomic_load(&b->atomic_value) : b->value;
        pthread_mutex_destroy(&b->mutex);
    }
    munmap(b, sizeof(*b));
    if (failed)
        die("counter process failed", -EIO);
    if (got != (int64_t)incs * procs)
        violation("counter total differs from the increments made");
    return (double)incs * procs / t;
}

/* ---- processes: the bare loops behind the spawn rows -------------------------- */

/* The anchors of `ipcstorm stress forkwait --method fork|vfork|posix_spawn --batch 1`:
 * one child at a time, created, reaped with waitpid and its status checked against
 * what it was told, nothing else. The exec'd program is bench/exit0 (built next to
 * this program), the same one the forkwait side runs with --exec: half the children
 * exit with a code (0..255), half kill themselves with a terminating signal, as
 * forkwait draws them. Returns processes/s. */
enum proc_anchor { BARE_FORK, BARE_VFORK_EXEC, BARE_POSIX_SPAWN };

extern char **environ;

/* bench/exit0 in this program's directory. */
static void exit0_path(char *out, size_t cap)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        die("readlink /proc/self/exe", -errno);
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    if ((size_t)snprintf(out, cap, "%s/exit0", self) >= cap)
        die("path of exit0", -ENAMETOOLONG);
    if (access(out, X_OK) != 0)
        die(out, -errno);
}

static double bench_proc(enum proc_anchor how, double seconds)
{
    static const int term_sigs[] = {SIGTERM, SIGKILL, SIGHUP, SIGINT, SIGUSR1, SIGUSR2, SIGALRM};
    /* The children die by these signals: an ignore inherited from whatever launched
     * the bench (nohup's SIGHUP) would survive the exec and make them live on, as
     * the forkwait side resets them too (stress_begin). */
    for (size_t i = 0; i < sizeof(term_sigs) / sizeof(term_sigs[0]); i++)
        if (term_sigs[i] != SIGKILL)
            signal(term_sigs[i], SIG_DFL);
    char exe[4096], arg[16];
    if (how != BARE_FORK)
        exit0_path(exe, sizeof(exe));
    char *argv[] = {exe, arg, NULL};
    uint64_t procs = 0, draw = 0x9e3779b97f4a7c15u;
    double t0 = ipc__now_s(), t;
    do {
        draw = draw * 6364136223846793005u + 1442695040888963407u; /* an LCG: any mix */
        uint32_t r = (uint32_t)(draw >> 33);
        int code = (int)(r & 0xff), sig = 0;
        if (how != BARE_FORK && (r & 0x100))
            sig = term_sigs[(r >> 9) % (sizeof(term_sigs) / sizeof(term_sigs[0]))];
        snprintf(arg, sizeof(arg), sig ? "-%d" : "%d", sig ? sig : code);
        pid_t pid;
        if (how == BARE_FORK) {
            pid = fork();
            if (pid == 0)
                _exit(code);
        } else if (how == BARE_VFORK_EXEC) {
            pid = vfork();
            if (pid == 0) {
                execve(exe, argv, environ);
                _exit(127);
            }
        } else {
            int rc = posix_spawn(&pid, exe, NULL, NULL, argv, environ);
            if (rc != 0)
                die("posix_spawn", -rc);
        }
        if (pid < 0)
            die("fork", -errno);
        int st;
        pid_t w;
        while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
            ;
        if (w != pid)
            die("waitpid", -errno);
        if (sig ? !(WIFSIGNALED(st) && WTERMSIG(st) == sig)
                : !(WIFEXITED(st) && WEXITSTATUS(st) == code))
            violation("a child's status is not the exit code or signal it was given");
        procs++;
        t = ipc__now_s();
    } while (t - t0 < seconds);
    return (double)procs / (t - t0);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ipcbench MODE [--seconds S] [--chunk BYTES] [--incs N] [--len BYTES] ...\n\n"
            "Prints \"MODE RATE UNIT\". Modes (ours / anchor pairs):\n"
            "  decode-64k        frame decoder on 64 KiB frames, bytes/s\n"
            "  crc32q-64k        single-stream SSE4.2 crc32q over the same bytes, bytes/s\n"
            "  decode-16         frame decoder on 16-byte payloads, frames/s\n"
            "  pipe-framed       framed pipe, one writer, --chunk bytes per frame, bytes/s\n"
            "  pipe-raw          raw pipe, one write per --chunk bytes, same reads, bytes/s\n"
            "  counter-mutex     libipc counter (robust mutex), 2 processes, incs/s\n"
            "  counter-bare      bare glibc robust-mutex loop, 2 processes, incs/s\n"
            "  counter-atomic    bare atomic fetch_add loop, 2 processes, incs/s\n"
            "  crc-table, crc-sse42, crc-sse42-3way, crc-pclmul, crc-vpclmul, crc-hybrid,\n"
            "  crc-isal,\n"
            "  crc-auto          ipc_crc32c_with(that implementation) over --len-byte\n"
            "                    buffers, bytes per CPU second (exit 1 if the CPU or\n"
            "                    build lacks it)\n"
            "  crc-crc32q        single-stream crc32q loop, same buffers, bytes per CPU second\n"
            "  memcpy            memcpy of --len-byte buffers, bytes per CPU second\n"
            "  proc-fork         bare fork + _exit(code) + waitpid, status checked, procs/s\n"
            "  proc-vfork-exec   bare vfork + execve of bench/exit0 + waitpid, procs/s\n"
            "  proc-posix-spawn  bare posix_spawn of bench/exit0 + waitpid, procs/s\n"
            "                    (exit0 children: half exit with a code, half kill\n"
            "                    themselves; every status checked; one at a time)\n"
            "\n"
            "Options (each takes a value):\n"
            "  --seconds S       time per measurement (default 1; decode, crc, pipe, proc modes)\n"
            "  --chunk BYTES     bytes per write/frame (default 65536; pipe modes)\n"
            "  --incs N          increments per process (default 2000000; counter modes)\n"
            "  --len BYTES       buffer length (default 65536; crc-* and memcpy modes)\n"
            "  --pipe-size BYTES pipe capacity, F_SETPIPE_SZ (default: the system's, 64 KiB;\n"
            "                    pipe modes, both sides alike)\n"
            "  --crc-impl N      ipc_crc32c_force(N) first (enum ipc_crc32c_impl: 1 table,\n"
            "                    2 sse4.2, 3 sse4.2-3way, 4 pclmul, 5 vpclmul, 6 isa-l,\n"
            "                    7 hybrid;\n"
            "                    default 0, auto; pipe and decode modes)\n"
            "\n"
            "scripts/bench runs it in pairs (ours, anchor) and prints the ratios.\n"
            "\n"
            "Examples:\n"
            "  build/release/bench/ipcbench pipe-framed --chunk 4096 --seconds 2\n"
            "  build/release/bench/ipcbench counter-mutex --incs 4000000\n"
            "\n"
            "Exit status: 0 measured, 1 could not run (a system call failed), 2 an\n"
            "invariant was violated (a counter total or a decoded frame is wrong),\n"
            "64 usage error.\n");
}

/* Usage errors are exit status 64, as every ipcstorm command's. */
#define IPCBENCH_EXIT_USAGE 64

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IPCBENCH_EXIT_USAGE : 0;
    }
    const char *mode = argv[1];
    double seconds = 1.0;
    size_t chunk = 65536;
    uint64_t incs = 2000000;
    size_t crc_len = 65536, pipe_size = 0;
    int crc_impl = IPC_CRC32C_AUTO;
    if ((argc - 2) % 2 != 0) {
        fprintf(stderr, "ipcbench: option %s needs a value\n", argv[argc - 1]);
        return IPCBENCH_EXIT_USAGE;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        char *end;
        errno = 0;
        double v = strtod(argv[i + 1], &end);
        if (errno || *end || v <= 0) {
            fprintf(stderr, "ipcbench: invalid value for %s: '%s'\n", argv[i], argv[i + 1]);
            return IPCBENCH_EXIT_USAGE;
        }
        if (!strcmp(argv[i], "--seconds"))
            seconds = v;
        else if (!strcmp(argv[i], "--chunk"))
            chunk = (size_t)v;
        else if (!strcmp(argv[i], "--incs"))
            incs = (uint64_t)v;
        else if (!strcmp(argv[i], "--crc-impl") && v < IPC_CRC32C_IMPL_END && v == (int)v)
            crc_impl = (int)v;
        else if (!strcmp(argv[i], "--pipe-size") && v <= (1u << 30))
            pipe_size = (size_t)v;
        else if (!strcmp(argv[i], "--len") && v >= 1 && v <= (1u << 30))
            crc_len = (size_t)v;
        else {
            fprintf(stderr, "ipcbench: unknown option '%s'\n", argv[i]);
            return IPCBENCH_EXIT_USAGE;
        }
    }
    int frc = ipc_crc32c_force((enum ipc_crc32c_impl)crc_impl);
    if (frc < 0)
        die("ipc_crc32c_force (--crc-impl)", frc);
    double rate;
    const char *unit = "bytes/s";
    if (!strcmp(mode, "decode-64k"))
        rate = bench_decode(65536, 64, seconds, 0);
    else if (!strcmp(mode, "crc32q-64k"))
        rate = bench_crc_anchor(65536, 64, seconds);
    else if (!strcmp(mode, "decode-16"))
        rate = bench_decode(16, 65536, seconds, 1), unit = "frames/s";
    else if (!strcmp(mode, "pipe-framed"))
        rate = bench_pipe(chunk, seconds, 1, pipe_size);
    else if (!strcmp(mode, "pipe-raw"))
        rate = bench_pipe(chunk, seconds, 0, pipe_size);
    else if (!strcmp(mode, "counter-mutex"))
        rate = bench_counter(OURS_MUTEX, 2, incs), unit = "incs/s";
    else if (!strcmp(mode, "counter-bare"))
        rate = bench_counter(BARE_ROBUST_MUTEX, 2, incs), unit = "incs/s";
    else if (!strcmp(mode, "counter-atomic"))
        rate = bench_counter(BARE_ATOMIC, 2, incs), unit = "incs/s";
    else if (find_crc_mode(mode))
        rate = bench_crc_path(find_crc_mode(mode), crc_len, seconds);
    else if (!strcmp(mode, "proc-fork"))
        rate = bench_proc(BARE_FORK, seconds), unit = "procs/s";
    else if (!strcmp(mode, "proc-vfork-exec"))
        rate = bench_proc(BARE_VFORK_EXEC, seconds), unit = "procs/s";
    else if (!strcmp(mode, "proc-posix-spawn"))
        rate = bench_proc(BARE_POSIX_SPAWN, seconds), unit = "procs/s";
    else {
        fprintf(stderr, "ipcbench: unknown mode '%s'\n", mode);
        usage(stderr);
        return IPCBENCH_EXIT_USAGE;
    }
    printf("%s %.0f %s\n", mode, rate, unit);
    return 0;
}
