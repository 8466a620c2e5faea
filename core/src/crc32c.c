/* crc32c.c - CRC-32C: slicing-by-8 tables, SSE4.2 crc32q, and three interleaved
 * crc32q streams joined by precomputed "append L zero bytes" operators (the
 * method of Mark Adler's crc32c.c). Internally the CRC register is kept
 * pre-inverted; the public functions invert on entry and exit. */
#include "ipc/crc32c.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define IPC_CRC_HAVE_X86 1
#include <nmmintrin.h>
#else
#define IPC_CRC_HAVE_X86 0
#endif

#define POLY 0x82F63B78u /* reflected Castagnoli */

/* Interleave block sizes: LONG amortises the shift over 24 KiB, SHORT handles
 * the remainder of frames too short for a LONG block. */
#define LONG_BLK  8192u
#define SHORT_BLK 256u

typedef uint32_t (*crc_fn)(uint32_t crc, const unsigned char *p, size_t len);

static uint32_t crc_table[8][256];
static uint32_t x2n_table[72];       /* x^(2^k) mod P */
static uint32_t shift_long[4][256];  /* operator: append LONG_BLK zero bytes */
static uint32_t shift_short[4][256]; /* operator: append SHORT_BLK zero bytes */
static atomic_int tables_ready;
static _Atomic(crc_fn) current_fn;
static atomic_int current_impl;

/* Multiplies a(x) by b(x) modulo P(x), both in reflected bit order. */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
    uint32_t m = (uint32_t)1 << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
    }
    return p;
}

/* x^(n * 2^k) mod P: with k = 3 it is the operator that appends n zero bytes. */
static uint32_t x2nmodp(uint64_t n, unsigned k)
{
    uint32_t p = (uint32_t)1 << 31; /* x^0 */
    while (n) {
        if (n & 1)
            p = multmodp(x2n_table[k], p);
        n >>= 1;
        k++;
    }
    return p;
}

static void build_shift(uint32_t tab[4][256], uint64_t nbytes)
{
    uint32_t op = x2nmodp(nbytes, 3);
    for (unsigned b = 0; b < 4; b++)
        for (uint32_t i = 0; i < 256; i++)
            tab[b][i] = multmodp(op, i << (8 * b));
}

static inline uint32_t apply_shift(const uint32_t tab[4][256], uint32_t crc)
{
    return tab[0][crc & 0xff] ^ tab[1][(crc >> 8) & 0xff] ^ tab[2][(crc >> 16) & 0xff] ^
           tab[3][crc >> 24];
}

static void init_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
    uint32_t p = (uint32_t)1 << 30; /* x^1 */
    x2n_table[0] = p;
    for (size_t k = 1; k < sizeof(x2n_table) / sizeof(x2n_table[0]); k++)
        x2n_table[k] = p = multmodp(p, p);
    build_shift(shift_long, LONG_BLK);
    build_shift(shift_short, SHORT_BLK);
}

/* ---- portable slicing-by-8 ------------------------------------------------ */

static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t len)
{
    while (len && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
        len--;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc;
        crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
              crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
              crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
              crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8;
        len -= 8;
    }
#endif
    while (len--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return crc;
}

/* ---- SSE4.2 ------------------------------------------------------------------ */

#if IPC_CRC_HAVE_X86
#define IPC_SSE42 __attribute__((target("sse4.2")))

static IPC_SSE42 inline uint64_t load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Unaligned 8-byte loads cost the same as aligned ones on every CPU with SSE4.2,
 * so there is no alignment prologue: short frames (a 16-byte payload is a
 * 24-byte CRC) would spend most of their time in it. */
static IPC_SSE42 inline uint32_t crc_hw_tail(uint64_t c, const unsigned char *p, size_t len)
{
    while (len >= 8) {
        c = _mm_crc32_u64(c, load64(p));
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    if (len & 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        c32 = _mm_crc32_u32(c32, w);
        p += 4;
    }
    if (len & 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        c32 = _mm_crc32_u16(c32, w);
        p += 2;
    }
    if (len & 1)
        c32 = _mm_crc32_u8(c32, *p);
    return c32;
}

static IPC_SSE42 uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t len)
{
    return crc_hw_tail(crc, p, len);
}

/* Three streams over consecutive blocks of `blk` bytes: the crc32 instruction has
 * a latency of 3 cycles but a throughput of 1, so three independent chains run at
 * full speed. crc(A|B|C) = shift(shift(crcA, |B|) ^ crcB, |C|) ^ crcC, where the
 * stream B and C registers start at 0 (the operator is linear). */
#define IPC_CRC_3WAY(blk, tab)                                                                     \
    while (len >= 3 * (blk)) {                                                                     \
        uint64_t c1 = 0, c2 = 0;                                                                   \
        const unsigned char *end = p + (blk);                                                      \
        do {                                                                                       \
            c0 = _mm_crc32_u64(c0, load64(p));                                                     \
            c1 = _mm_crc32_u64(c1, load64(p + (blk)));                                             \
            c2 = _mm_crc32_u64(c2, load64(p + 2 * (blk)));                                         \
            p += 8;                                                                                \
        } while (p < end);                                                                         \
        c0 = apply_shift(tab, (uint32_t)c0) ^ (uint32_t)c1;                                        \
        c0 = apply_shift(tab, (uint32_t)c0) ^ (uint32_t)c2;                                        \
        p += 2 * (blk);                                                                            \
        len -= 3 * (blk);                                                                          \
    }

static IPC_SSE42 uint32_t crc_hw3(uint32_t crc, const unsigned char *p, size_t len)
{
    uint64_t c0 = crc;
    IPC_CRC_3WAY(LONG_BLK, shift_long)
    IPC_CRC_3WAY(SHORT_BLK, shift_short)
    return crc_hw_tail(c0, p, len);
}

/* 0 = not probed yet, 1 = absent, 2 = present; probing twice is harmless. */
static atomic_int sse42_state;

static int cpu_has_sse42(void)
{
    int st = atomic_load_explicit(&sse42_state, memory_order_relaxed);
    if (st == 0) {
        __builtin_cpu_init(); /* required when called before constructors ran */
        st = __builtin_cpu_supports("sse4.2") ? 2 : 1;
        atomic_store_explicit(&sse42_state, st, memory_order_relaxed);
    }
    return st == 2;
}
#else
static int cpu_has_sse42(void)
{
    return 0;
}
#endif

/* ---- dispatch ---------------------------------------------------------------- */

static crc_fn fn_for(enum ipc_crc32c_impl impl)
{
    switch (impl) {
#if IPC_CRC_HAVE_X86
    case IPC_CRC32C_SSE42:
        return crc_hw;
    case IPC_CRC32C_SSE42_3WAY:
        return crc_hw3;
#endif
    default:
        return crc_sw;
    }
}

static enum ipc_crc32c_impl auto_impl(void)
{
    return cpu_has_sse42() ? IPC_CRC32C_SSE42_3WAY : IPC_CRC32C_TABLE;
}

/* Runs at load time so that the first CRC needs no lock (and stays
 * async-signal-safe). The check in ensure_init covers a call from another
 * constructor that runs before this one; init is idempotent. */
__attribute__((constructor)) static void crc32c_ctor(void)
{
    if (atomic_load_explicit(&tables_ready, memory_order_acquire))
        return;
    init_tables();
    enum ipc_crc32c_impl impl = auto_impl();
    atomic_store_explicit(&current_impl, (int)impl, memory_order_relaxed);
    atomic_store_explicit(&current_fn, fn_for(impl), memory_order_relaxed);
    atomic_store_explicit(&tables_ready, 1, memory_order_release);
}

static inline void ensure_init(void)
{
    if (__builtin_expect(!atomic_load_explicit(&tables_ready, memory_order_acquire), 0))
        crc32c_ctor();
}

int ipc_crc32c_available(enum ipc_crc32c_impl impl)
{
    switch (impl) {
    case IPC_CRC32C_AUTO:
    case IPC_CRC32C_TABLE:
        return 1;
    case IPC_CRC32C_SSE42:
    case IPC_CRC32C_SSE42_3WAY:
        return cpu_has_sse42();
    default:
        return -EINVAL;
    }
}

int ipc_crc32c_force(enum ipc_crc32c_impl impl)
{
    int av = ipc_crc32c_available(impl);
    if (av < 0)
        return av;
    if (!av)
        return -ENOTSUP;
    ensure_init();
    if (impl == IPC_CRC32C_AUTO)
        impl = auto_impl();
    atomic_store_explicit(&current_impl, (int)impl, memory_order_relaxed);
    atomic_store_explicit(&current_fn, fn_for(impl), memory_order_relaxed);
    return 0;
}

enum ipc_crc32c_impl ipc_crc32c_current(void)
{
    ensure_init();
    return (enum ipc_crc32c_impl)atomic_load_explicit(&current_impl, memory_order_relaxed);
}

const char *ipc_crc32c_name(enum ipc_crc32c_impl impl)
{
    switch (impl) {
    case IPC_CRC32C_AUTO:
        return "auto";
    case IPC_CRC32C_TABLE:
        return "table";
    case IPC_CRC32C_SSE42:
        return "sse4.2";
    case IPC_CRC32C_SSE42_3WAY:
        return "sse4.2-3way";
    }
    return "unknown";
}

uint32_t ipc_crc32c(uint32_t crc, const void *buf, size_t len)
{
    ensure_init();
    if (!buf)
        return crc;
    crc_fn fn = atomic_load_explicit(&current_fn, memory_order_relaxed);
    return ~fn(~crc, buf, len);
}

uint32_t ipc_crc32c_with(enum ipc_crc32c_impl impl, uint32_t crc, const void *buf, size_t len)
{
    ensure_init();
    if (!buf)
        return crc;
    if (impl == IPC_CRC32C_AUTO || ipc_crc32c_available(impl) != 1)
        impl = impl == IPC_CRC32C_AUTO ? auto_impl() : IPC_CRC32C_TABLE;
    return ~fn_for(impl)(~crc, buf, len);
}

uint32_t ipc_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2)
{
    ensure_init();
    return multmodp(x2nmodp(len2, 3), crc1) ^ crc2;
}
