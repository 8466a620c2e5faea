/* crc32c.c - CRC-32C: slicing-by-8 tables, SSE4.2 crc32q, three interleaved
 * crc32q streams joined by precomputed "append L zero bytes" operators (the
 * method of Mark Adler's crc32c.c), and carry-less multiplication folding
 * (PCLMULQDQ on 128-bit lanes, VPCLMULQDQ on 512-bit registers; the method of
 * Intel's "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ"), alone
 * or beside three crc32q streams (hybrid).
 * Internally the CRC register is kept pre-inverted; the public functions invert
 * on entry and exit. The folding constants are computed at load time by the same
 * multmodp/x2nmodp that the combine operator uses, so they cannot disagree with
 * the polynomial. */
#include "ipc/crc32c.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define IPC_CRC_HAVE_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define IPC_CRC_HAVE_X86 0
#endif

#ifdef IPC_HAVE_ISAL
#include <isa-l/crc.h>
#include <limits.h>
#endif

#define POLY 0x82F63B78u /* reflected Castagnoli */

/* Interleave block sizes: LONG amortises the shift over 24 KiB, SHORT handles
 * the remainder of frames too short for a LONG block. */
#define LONG_BLK  8192u
#define SHORT_BLK 256u

/* The hybrid's blocks: `steps` steps, each folding 256 bytes with VPCLMULQDQ and
 * running HYB_LANE_STEP bytes through each of three crc32q streams (the two kinds
 * of instruction use different execution units, so they overlap). The ratio
 * 256 : 3 x 40 and the two block sizes (16 steps = 6016 bytes, then 8 steps =
 * 3008 bytes, so a 4 KiB frame gets one block) were the fastest measured on
 * Zen 4. */
#define HYB_LANE_STEP    40u
#define HYB_LANE(steps)  ((steps)*HYB_LANE_STEP)
#define HYB_BLOCK(steps) ((steps) * (256u + 3u * HYB_LANE_STEP))
#define HYB_LONG_STEPS   16u
#define HYB_SHORT_STEPS  8u

typedef uint32_t (*crc_fn)(uint32_t crc, const unsigned char *p, size_t len);

static uint32_t crc_table[8][256];
static uint32_t x2n_table[72];       /* x^(2^k) mod P */
static uint32_t shift_long[4][256];  /* operator: append LONG_BLK zero bytes */
static uint32_t shift_short[4][256]; /* operator: append SHORT_BLK zero bytes */
/* operators of the hybrid: append one lane, one block (long and short blocks) */
static uint32_t shift_hyb_lane[2][4][256];
static uint32_t shift_hyb_block[2][4][256];
static atomic_int tables_ready;
static _Atomic(crc_fn) current_fn;
static atomic_int current_impl;

/* Folding constants: fold_k[d] = {x^(D+31) mod P, x^(D-33) mod P} for a fold
 * distance of D = 128 * fold_dist[d] bits (see fold_constant below). */
enum { FOLD_128, FOLD_256, FOLD_384, FOLD_512, FOLD_2048, FOLD_COUNT };
static const unsigned fold_dist[FOLD_COUNT] = {1, 2, 3, 4, 16};
static uint64_t fold_k[FOLD_COUNT][2];

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
    build_shift(shift_hyb_lane[0], HYB_LANE(HYB_LONG_STEPS));
    build_shift(shift_hyb_block[0], HYB_BLOCK(HYB_LONG_STEPS));
    build_shift(shift_hyb_lane[1], HYB_LANE(HYB_SHORT_STEPS));
    build_shift(shift_hyb_block[1], HYB_BLOCK(HYB_SHORT_STEPS));
    for (unsigned d = 0; d < FOLD_COUNT; d++) {
        uint64_t bits = 128u * fold_dist[d];
        /* Why these exponents: a 128-bit lane S = H*x^64 + L (H = first 8 bytes)
         * moved D bits forward is S*x^D = H*x^(D+64) + L*x^D (mod P). In the
         * reflected order a carry-less product of two 64-bit operands lands in
         * the lane multiplied by a further x^33 (x^32 for the 32-bit constant
         * zero-extended to 64 bits, x^1 for the 127-bit product in a 128-bit
         * lane), which the constants take back. */
        fold_k[d][0] = x2nmodp(bits + 64 - 33, 0);
        fold_k[d][1] = x2nmodp(bits - 33, 0);
    }
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

/* ---- PCLMULQDQ folding -------------------------------------------------------- */

#define IPC_PCLMUL  __attribute__((target("sse4.2,pclmul")))
#define IPC_VPCLMUL __attribute__((target("sse4.2,pclmul,avx2,avx512f,avx512vl,vpclmulqdq")))

/* Below these lengths the single crc32q stream wins (measured on an AMD EPYC
 * Zen 4 with bench/ipcbench crc-*: the folding set-up and the final reduction cost
 * about as much as 64 bytes of crc32q). */
#define PCLMUL_MIN_LEN  128u
#define VPCLMUL_MIN_LEN 256u

static IPC_PCLMUL inline __m128i fold_constant(unsigned d)
{
    return _mm_set_epi64x((long long)fold_k[d][1], (long long)fold_k[d][0]);
}

/* S*x^D mod P as a 128-bit lane (before the XOR with the data D bits later). */
static IPC_PCLMUL inline __m128i fold128(__m128i x, __m128i k)
{
    return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

/* Reduces the last lane exactly: crc32q of its 16 bytes from a zero register
 * (the running CRC was XORed into the first lane, so it is already inside). */
static IPC_PCLMUL inline uint64_t reduce128(__m128i x)
{
    uint64_t c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(x));
    return _mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(x, 1));
}

static IPC_PCLMUL inline __m128i load128(const unsigned char *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* Four 128-bit lanes folded 64 bytes at a time, then into one lane, then 16 bytes
 * at a time; the last len % 16 bytes go through crc32q. */
static IPC_PCLMUL uint32_t crc_pclmul(uint32_t crc, const unsigned char *p, size_t len)
{
    if (len < PCLMUL_MIN_LEN)
        return crc_hw_tail(crc, p, len);
    __m128i x0 = _mm_xor_si128(load128(p), _mm_cvtsi32_si128((int)crc));
    __m128i x1 = load128(p + 16), x2 = load128(p + 32), x3 = load128(p + 48);
    p += 64;
    len -= 64;
    const __m128i k512 = fold_constant(FOLD_512);
    while (len >= 64) {
        x0 = _mm_xor_si128(fold128(x0, k512), load128(p));
        x1 = _mm_xor_si128(fold128(x1, k512), load128(p + 16));
        x2 = _mm_xor_si128(fold128(x2, k512), load128(p + 32));
        x3 = _mm_xor_si128(fold128(x3, k512), load128(p + 48));
        p += 64;
        len -= 64;
    }
    const __m128i k128 = fold_constant(FOLD_128);
    __m128i x = _mm_xor_si128(
        fold128(x0, fold_constant(FOLD_384)),
        _mm_xor_si128(fold128(x1, fold_constant(FOLD_256)), _mm_xor_si128(fold128(x2, k128), x3)));
    while (len >= 16) {
        x = _mm_xor_si128(fold128(x, k128), load128(p));
        p += 16;
        len -= 16;
    }
    return crc_hw_tail(reduce128(x), p, len);
}

/* The same with four 512-bit registers (16 lanes, 256 bytes a step). */
static IPC_VPCLMUL inline __m512i fold512(__m512i x, __m512i k, __m512i data)
{
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                     _mm512_clmulepi64_epi128(x, k, 0x11), data, 0x96);
}

static IPC_VPCLMUL inline __m512i load512(const unsigned char *p)
{
    return _mm512_loadu_si512((const void *)p);
}

static IPC_VPCLMUL inline __m512i broadcast_constant(unsigned d)
{
    return _mm512_broadcast_i32x4(_mm_set_epi64x((long long)fold_k[d][1], (long long)fold_k[d][0]));
}

/* The four 128-bit lanes of z folded into one (the first lane is furthest from
 * the end: 384 bits, then 256, 128, 0). */
static IPC_VPCLMUL inline __m128i zmm_to_lane(__m512i z)
{
    return _mm_xor_si128(
        fold128(_mm512_extracti32x4_epi32(z, 0), fold_constant(FOLD_384)),
        _mm_xor_si128(
            fold128(_mm512_extracti32x4_epi32(z, 1), fold_constant(FOLD_256)),
            _mm_xor_si128(fold128(_mm512_extracti32x4_epi32(z, 2), fold_constant(FOLD_128)),
                          _mm512_extracti32x4_epi32(z, 3))));
}

static IPC_VPCLMUL uint32_t crc_vpclmul(uint32_t crc, const unsigned char *p, size_t len)
{
    if (len < VPCLMUL_MIN_LEN)
        return crc_pclmul(crc, p, len);
    __m512i z0 = _mm512_xor_si512(load512(p), _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, crc));
    __m512i z1 = load512(p + 64), z2 = load512(p + 128), z3 = load512(p + 192);
    p += 256;
    len -= 256;
    const __m512i k2048 = broadcast_constant(FOLD_2048);
    while (len >= 256) {
        z0 = fold512(z0, k2048, load512(p));
        z1 = fold512(z1, k2048, load512(p + 64));
        z2 = fold512(z2, k2048, load512(p + 128));
        z3 = fold512(z3, k2048, load512(p + 192));
        p += 256;
        len -= 256;
    }
    const __m512i k512 = broadcast_constant(FOLD_512);
    z1 = fold512(z0, k512, z1);
    z2 = fold512(z1, k512, z2);
    __m512i z = fold512(z2, k512, z3);
    while (len >= 64) {
        z = fold512(z, k512, load512(p));
        p += 64;
        len -= 64;
    }
    const __m128i k128 = fold_constant(FOLD_128);
    __m128i x = zmm_to_lane(z);
    while (len >= 16) {
        x = _mm_xor_si128(fold128(x, k128), load128(p));
        p += 16;
        len -= 16;
    }
    return crc_hw_tail(reduce128(x), p, len);
}

/* Hybrid: whole blocks laid out as [vector part | lane 0 | lane 1 | lane 2]; the
 * vector part is folded while the three lanes run through crc32q in the same
 * loop. Each block's CRC is computed from a zero register, so blocks do not wait
 * for each other: crc = shift(crc, block) ^ crc0(block), and inside a block
 * crc0 = shift(shift(shift(V, lane) ^ L0, lane) ^ L1, lane) ^ L2 (the shifts are
 * the tables of "append n zero bytes"). Returns crc0 of the block at p; `steps`
 * is a constant at each (inlined) call. */
static IPC_VPCLMUL inline uint32_t hyb_block(const unsigned char *p, unsigned steps,
                                             const uint32_t lane_shift[4][256])
{
    const __m512i k2048 = broadcast_constant(FOLD_2048);
    const __m512i k512 = broadcast_constant(FOLD_512);
    const unsigned char *v = p, *l0 = p + steps * 256u;
    const unsigned char *l1 = l0 + HYB_LANE(steps), *l2 = l1 + HYB_LANE(steps);
    __m512i z0 = load512(v), z1 = load512(v + 64), z2 = load512(v + 128), z3 = load512(v + 192);
    uint64_t c0 = 0, c1 = 0, c2 = 0;
    for (unsigned i = 0; i < steps; i++) {
        if (i > 0) {
            v += 256;
            z0 = fold512(z0, k2048, load512(v));
            z1 = fold512(z1, k2048, load512(v + 64));
            z2 = fold512(z2, k2048, load512(v + 128));
            z3 = fold512(z3, k2048, load512(v + 192));
        }
        for (unsigned j = 0; j < HYB_LANE_STEP; j += 8) {
            c0 = _mm_crc32_u64(c0, load64(l0 + j));
            c1 = _mm_crc32_u64(c1, load64(l1 + j));
            c2 = _mm_crc32_u64(c2, load64(l2 + j));
        }
        l0 += HYB_LANE_STEP;
        l1 += HYB_LANE_STEP;
        l2 += HYB_LANE_STEP;
    }
    z1 = fold512(z0, k512, z1);
    z2 = fold512(z1, k512, z2);
    uint32_t b = (uint32_t)reduce128(zmm_to_lane(fold512(z2, k512, z3)));
    b = apply_shift(lane_shift, b) ^ (uint32_t)c0;
    b = apply_shift(lane_shift, b) ^ (uint32_t)c1;
    return apply_shift(lane_shift, b) ^ (uint32_t)c2;
}

/* Long blocks, then short ones, then the rest (< one short block) through
 * crc_vpclmul. */
static IPC_VPCLMUL uint32_t crc_hybrid(uint32_t crc, const unsigned char *p, size_t len)
{
    while (len >= HYB_BLOCK(HYB_LONG_STEPS)) {
        uint32_t b = hyb_block(p, HYB_LONG_STEPS, shift_hyb_lane[0]);
        crc = apply_shift(shift_hyb_block[0], crc) ^ b;
        p += HYB_BLOCK(HYB_LONG_STEPS);
        len -= HYB_BLOCK(HYB_LONG_STEPS);
    }
    while (len >= HYB_BLOCK(HYB_SHORT_STEPS)) {
        uint32_t b = hyb_block(p, HYB_SHORT_STEPS, shift_hyb_lane[1]);
        crc = apply_shift(shift_hyb_block[1], crc) ^ b;
        p += HYB_BLOCK(HYB_SHORT_STEPS);
        len -= HYB_BLOCK(HYB_SHORT_STEPS);
    }
    return crc_vpclmul(crc, p, len);
}

/* ---- CPU features ------------------------------------------------------------- */

enum {
    FEAT_SSE42 = 1,
    FEAT_PCLMUL = 2,   /* and SSE4.2 */
    FEAT_VPCLMUL = 4,  /* and AVX-512 F/VL with the ZMM state enabled by the OS */
    FEAT_PROBED = 256, /* 0 = not probed yet; probing twice is harmless */
};
static atomic_int cpu_features;

static int probe_features(void)
{
    unsigned a, b, c, d, f = FEAT_PROBED;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return f;
    int sse42 = (c >> 20) & 1, pclmul = (c >> 1) & 1, osxsave = (c >> 27) & 1;
    if (sse42)
        f |= FEAT_SSE42;
    if (sse42 && pclmul)
        f |= FEAT_PCLMUL;
    if (!(f & FEAT_PCLMUL) || !osxsave || __get_cpuid_max(0, NULL) < 7)
        return f;
    __cpuid_count(7, 0, a, b, c, d);
    int avx512f = (b >> 16) & 1, avx512vl = (b >> 31) & 1, vpclmul = (c >> 10) & 1;
    /* XCR0: SSE (1), AVX (2), opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7) all enabled,
     * or the OS does not save the registers and the instructions fault. */
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    (void)xhi;
    if (avx512f && avx512vl && vpclmul && (xlo & 0xE6) == 0xE6)
        f |= FEAT_VPCLMUL;
    return f;
}

static int cpu_has(int feature)
{
    int f = atomic_load_explicit(&cpu_features, memory_order_relaxed);
    if (!f) {
        f = probe_features();
        atomic_store_explicit(&cpu_features, f, memory_order_relaxed);
    }
    return (f & feature) != 0;
}
#else
static int cpu_has(int feature)
{
    (void)feature;
    return 0;
}
#define FEAT_SSE42   1
#define FEAT_PCLMUL  2
#define FEAT_VPCLMUL 4
#endif

/* ---- ISA-L (optional, IPC_ISAL=ON) ---------------------------------------------- */

#ifdef IPC_HAVE_ISAL
/* crc32_iscsi(buf, len, init) takes and returns the raw register, which is the
 * convention of the internal functions here: the caller inverts. Its length is an
 * int, hence the 1 GiB steps. */
static uint32_t crc_isal(uint32_t crc, const unsigned char *p, size_t len)
{
    while (len) {
        size_t n = len > (1u << 30) ? (1u << 30) : len;
        crc = crc32_iscsi((unsigned char *)(uintptr_t)p, (int)n, crc);
        p += n;
        len -= n;
    }
    return crc;
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
    case IPC_CRC32C_PCLMUL:
        return crc_pclmul;
    case IPC_CRC32C_VPCLMUL:
        return crc_vpclmul;
    case IPC_CRC32C_HYBRID:
        return crc_hybrid;
#endif
#ifdef IPC_HAVE_ISAL
    case IPC_CRC32C_ISAL:
        return crc_isal;
#endif
    default:
        return crc_sw;
    }
}

/* The fastest available, measured on Zen 4 (HYBRID > VPCLMUL > SSE42_3WAY >
 * PCLMUL > SSE42 from 256 bytes up; each falls back to the next below its
 * block size, down to single-stream crc32q). PCLMUL (4 lanes of 128 bits, 16
 * GB/s) loses to the three crc32q streams (30 GB/s), so a CPU without AVX-512
 * gets SSE42_3WAY. ISA-L is never chosen automatically: docs/design.md. */
static enum ipc_crc32c_impl auto_impl(void)
{
    if (cpu_has(FEAT_VPCLMUL))
        return IPC_CRC32C_HYBRID;
    return cpu_has(FEAT_SSE42) ? IPC_CRC32C_SSE42_3WAY : IPC_CRC32C_TABLE;
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
        return cpu_has(FEAT_SSE42);
    case IPC_CRC32C_PCLMUL:
        return cpu_has(FEAT_PCLMUL);
    case IPC_CRC32C_VPCLMUL:
    case IPC_CRC32C_HYBRID:
        return cpu_has(FEAT_VPCLMUL);
    case IPC_CRC32C_ISAL:
#ifdef IPC_HAVE_ISAL
        return 1;
#else
        return 0;
#endif
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
    case IPC_CRC32C_PCLMUL:
        return "pclmul";
    case IPC_CRC32C_VPCLMUL:
        return "vpclmul-avx512";
    case IPC_CRC32C_ISAL:
        return "isa-l";
    case IPC_CRC32C_HYBRID:
        return "hybrid";
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
