/* test_crc32c.c - CRC-32C against RFC 3720 vectors on every implementation, and
 * the implementations against each other over many lengths and alignments, every
 * length 0..4096, and buffers that end exactly at an unmapped page. */
#include "testutil.h"

#include <sys/mman.h>
#include <unistd.h>

#include "ipc/crc32c.h"
#include "ipc/error.h"

#define IPCT_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const enum ipc_crc32c_impl all_impls[] = {
    IPC_CRC32C_TABLE,   IPC_CRC32C_SSE42, IPC_CRC32C_SSE42_3WAY, IPC_CRC32C_PCLMUL,
    IPC_CRC32C_VPCLMUL, IPC_CRC32C_ISAL,  IPC_CRC32C_HYBRID,     IPC_CRC32C_AUTO};

/* Bit-at-a-time reference, independent of the library's tables. */
static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void check_vector(const uint8_t *buf, size_t n, uint32_t want)
{
    assert_int_equal(crc_ref(0, buf, n), want);
    for (size_t i = 0; i < IPCT_COUNT(all_impls); i++) {
        if (ipc_crc32c_available(all_impls[i]) != 1)
            continue;
        assert_int_equal(ipc_crc32c_with(all_impls[i], 0, buf, n), want);
        IPCT_OK(ipc_crc32c_force(all_impls[i]));
        assert_int_equal(ipc_crc32c(0, buf, n), want);
        /* Incremental: every split point gives the same value. */
        for (size_t cut = 0; cut <= n; cut++)
            assert_int_equal(ipc_crc32c(ipc_crc32c(0, buf, cut), buf + cut, n - cut), want);
    }
    IPCT_OK(ipc_crc32c_force(IPC_CRC32C_AUTO));
}

static void test_rfc3720_vectors(void **state)
{
    (void)state;
    uint8_t b[48];
    memset(b, 0, 32);
    check_vector(b, 32, 0x8A9136AAu);
    memset(b, 0xFF, 32);
    check_vector(b, 32, 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    check_vector(b, 32, 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    check_vector(b, 32, 0x113FDB5Cu);
    /* iSCSI SCSI Read (10) command PDU of RFC 3720 B.4 (the value every
     * CRC-32C implementation checks: 0xD9963A56). */
    static const uint8_t pdu[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
                                    0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    check_vector(pdu, sizeof(pdu), 0xD9963A56u);
    check_vector((const uint8_t *)"123456789", 9, 0xE3069283u);
    check_vector(b, 0, 0);
}

static void test_impls_agree(void **state)
{
    (void)state;
    /* Lengths around every internal block boundary (8, 3*256, 3*8192) plus
     * random ones, at every alignment 0..15, from a random initial CRC. */
    size_t max = 3 * 8192 * 2 + 3 * 256 * 3 + 64;
    uint8_t *buf = malloc(max + 16);
    assert_non_null(buf);
    for (size_t i = 0; i < max + 16; i++)
        buf[i] = (uint8_t)rng();
    size_t lens[] = {0,           1,
                     2,           7,
                     8,           9,
                     15,          16,
                     17,          63,
                     64,          255,
                     256,         257,
                     767,         768,
                     769,         1000,
                     4096,        8191,
                     8192,        24575,
                     24576,       24577,
                     24576 + 768, 49152 + 768 * 3 + 7,
                     65536 - 1,   0};
    lens[IPCT_COUNT(lens) - 1] = max;
    for (size_t li = 0; li < IPCT_COUNT(lens) + 200; li++) {
        size_t len = li < IPCT_COUNT(lens) ? lens[li] : rng() % max;
        if (len > max)
            len = max;
        for (size_t al = 0; al < 16; al++) {
            uint32_t init = (uint32_t)rng();
            uint32_t t = ipc_crc32c_with(IPC_CRC32C_TABLE, init, buf + al, len);
            if (len < 2000)
                assert_int_equal(t, crc_ref(init, buf + al, len));
            for (int impl = IPC_CRC32C_SSE42; impl < IPC_CRC32C_IMPL_END; impl++)
                if (ipc_crc32c_available((enum ipc_crc32c_impl)impl) == 1)
                    assert_int_equal(
                        ipc_crc32c_with((enum ipc_crc32c_impl)impl, init, buf + al, len), t);
            assert_int_equal(ipc_crc32c(init, buf + al, len), t);
        }
    }
    free(buf);
}

/* Every implementation equals the table path at every length 0..4096 (each
 * internal threshold and lane count is crossed), at a rotating alignment. */
static void test_every_length(void **state)
{
    (void)state;
    enum { MAX = 4096 };
    uint8_t *buf = malloc(MAX + 64);
    assert_non_null(buf);
    for (size_t i = 0; i < MAX + 64; i++)
        buf[i] = (uint8_t)rng();
    for (int impl = IPC_CRC32C_SSE42; impl < IPC_CRC32C_IMPL_END; impl++) {
        if (ipc_crc32c_available((enum ipc_crc32c_impl)impl) != 1)
            continue;
        for (size_t len = 0; len <= MAX; len++) {
            size_t al = len % 64;
            uint32_t init = (uint32_t)rng();
            assert_int_equal(ipc_crc32c_with((enum ipc_crc32c_impl)impl, init, buf + al, len),
                             ipc_crc32c_with(IPC_CRC32C_TABLE, init, buf + al, len));
        }
    }
    free(buf);
}

/* Buffers that start at a page boundary or end exactly where a PROT_NONE page
 * begins: a path that reads one byte too far (a 16- or 64-byte load past the
 * end) takes SIGSEGV here even without ASan. */
static void test_page_boundaries(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *map = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map + 2 * page, page, PROT_NONE), 0);
    uint8_t *end = map + 2 * page; /* first byte of the guard page */
    for (size_t i = 0; i < 2 * page; i++)
        map[i] = (uint8_t)rng();
    for (int impl = IPC_CRC32C_SSE42; impl < IPC_CRC32C_IMPL_END; impl++) {
        if (ipc_crc32c_available((enum ipc_crc32c_impl)impl) != 1)
            continue;
        for (size_t len = 0; len <= 2 * page; len += len < 600 ? 1 : 61) {
            uint32_t init = (uint32_t)rng();
            /* Ending at the guard page. */
            const uint8_t *p = end - len;
            assert_int_equal(ipc_crc32c_with((enum ipc_crc32c_impl)impl, init, p, len),
                             ipc_crc32c_with(IPC_CRC32C_TABLE, init, p, len));
            /* Straddling the boundary between the two mapped pages. */
            if (len <= page) {
                p = map + page - len / 2;
                assert_int_equal(ipc_crc32c_with((enum ipc_crc32c_impl)impl, init, p, len),
                                 ipc_crc32c_with(IPC_CRC32C_TABLE, init, p, len));
            }
        }
    }
    munmap(map, 3 * page);
}

static void test_combine(void **state)
{
    (void)state;
    uint8_t buf[5000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)rng();
    for (int it = 0; it < 200; it++) {
        size_t a = rng() % sizeof(buf), b = rng() % (sizeof(buf) - a + 1);
        uint32_t ca = ipc_crc32c(0, buf, a), cb = ipc_crc32c(0, buf + a, b);
        assert_int_equal(ipc_crc32c_combine(ca, cb, b), ipc_crc32c(0, buf, a + b));
    }
    /* A long run of zeros: the combine must match direct computation. */
    size_t big = 3u << 20;
    uint8_t *z = calloc(1, big);
    assert_non_null(z);
    uint32_t c1 = ipc_crc32c(0, buf, 100);
    assert_int_equal(ipc_crc32c_combine(c1, ipc_crc32c(0, z, big), big), ipc_crc32c(c1, z, big));
    free(z);
}

static void test_api_validation(void **state)
{
    (void)state;
    assert_int_equal(ipc_crc32c_available((enum ipc_crc32c_impl)99), -EINVAL);
    assert_int_equal(ipc_crc32c_force((enum ipc_crc32c_impl)99), -EINVAL);
    assert_int_equal(ipc_crc32c_available(IPC_CRC32C_TABLE), 1);
    assert_int_equal(ipc_crc32c(0x1234, NULL, 0), 0x1234);
    assert_string_equal(ipc_crc32c_name(IPC_CRC32C_TABLE), "table");
    assert_string_equal(ipc_crc32c_name((enum ipc_crc32c_impl)99), "unknown");
    IPCT_OK(ipc_crc32c_force(IPC_CRC32C_TABLE));
    assert_int_equal(ipc_crc32c_current(), IPC_CRC32C_TABLE);
    IPCT_OK(ipc_crc32c_force(IPC_CRC32C_AUTO));
    assert_int_not_equal(ipc_crc32c_current(), IPC_CRC32C_AUTO);
    /* AUTO is the first available of the fastest-first list. */
    if (ipc_crc32c_available(IPC_CRC32C_HYBRID) == 1)
        assert_int_equal(ipc_crc32c_current(), IPC_CRC32C_HYBRID);
    else if (ipc_crc32c_available(IPC_CRC32C_SSE42) == 1)
        assert_int_equal(ipc_crc32c_current(), IPC_CRC32C_SSE42_3WAY);
    else
        assert_int_equal(ipc_crc32c_force(IPC_CRC32C_SSE42), -ENOTSUP);
    /* Folding needs crc32q for its tail: never without SSE4.2. */
    if (ipc_crc32c_available(IPC_CRC32C_SSE42) != 1) {
        assert_int_equal(ipc_crc32c_available(IPC_CRC32C_PCLMUL), 0);
        assert_int_equal(ipc_crc32c_available(IPC_CRC32C_VPCLMUL), 0);
    }
    if (ipc_crc32c_available(IPC_CRC32C_PCLMUL) != 1)
        assert_int_equal(ipc_crc32c_available(IPC_CRC32C_VPCLMUL), 0);
    assert_int_equal(ipc_crc32c_available(IPC_CRC32C_HYBRID),
                     ipc_crc32c_available(IPC_CRC32C_VPCLMUL));
    assert_string_equal(ipc_crc32c_name(IPC_CRC32C_HYBRID), "hybrid");
    assert_string_equal(ipc_crc32c_name(IPC_CRC32C_PCLMUL), "pclmul");
    assert_string_equal(ipc_crc32c_name(IPC_CRC32C_VPCLMUL), "vpclmul-avx512");
    assert_string_equal(ipc_crc32c_name(IPC_CRC32C_ISAL), "isa-l");
    assert_int_equal(ipc_crc32c_available((enum ipc_crc32c_impl)IPC_CRC32C_IMPL_END), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_rfc3720_vectors), IPCT_TEST(test_impls_agree),
        IPCT_TEST(test_every_length),    IPCT_TEST(test_page_boundaries),
        IPCT_TEST(test_combine),         IPCT_TEST(test_api_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
