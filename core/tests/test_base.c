/* test_base.c - the header-only primitives every layer shares (core/base/ipc_base.h):
 * the monotonic clock in its three units, big-endian loads and stores, close and
 * invalidate, and the clamped CPU count. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc_base.h"
#include "testutil.h"

static void test_big_endian(void **state)
{
    (void)state;
    /* Known bytes at every misalignment, so no load or store may assume alignment. */
    unsigned char buf[16 + 8];
    for (size_t off = 0; off < 8; off++) {
        memset(buf, 0xee, sizeof(buf));
        ipc__store_be64(buf + off, 0x0102030405060708ull);
        static const unsigned char want64[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        assert_memory_equal(buf + off, want64, 8);
        assert_int_equal(buf[off + 8], 0xee); /* nothing written past the 8 bytes */
        if (off)
            assert_int_equal(buf[off - 1], 0xee);
        assert_true(ipc__load_be64(buf + off) == 0x0102030405060708ull);
        assert_int_equal(ipc__load_be32(buf + off), 0x01020304u);
        assert_int_equal(ipc__load_be32(buf + off + 4), 0x05060708u);

        ipc__store_be32(buf + off, 0xa1b2c3d4u);
        static const unsigned char want32[4] = {0xa1, 0xb2, 0xc3, 0xd4};
        assert_memory_equal(buf + off, want32, 4);
        assert_int_equal(buf[off + 4], 5); /* the be64's fifth byte is untouched */
        assert_int_equal(ipc__load_be32(buf + off), 0xa1b2c3d4u);
    }
    /* High bits survive (no sign extension through int promotion). */
    unsigned char hi[8];
    ipc__store_be64(hi, UINT64_MAX - 1);
    assert_true(ipc__load_be64(hi) == UINT64_MAX - 1);
    assert_int_equal(hi[7], 0xfe);
    ipc__store_be32(hi, 0x80000001u);
    assert_int_equal(ipc__load_be32(hi), 0x80000001u);
    assert_int_equal(hi[0], 0x80);
}

static void test_close_invalidate(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    int rd = p[0];
    ipc__close_invalidate(&p[0]);
    assert_int_equal(p[0], -1);
    errno = 0;
    assert_int_equal(fcntl(rd, F_GETFD), -1); /* really closed */
    assert_int_equal(errno, EBADF);
    ipc__close_invalidate(&p[0]); /* second call: a no-op, not close(-1) */
    assert_int_equal(p[0], -1);
    ipc__close_invalidate(&p[1]);
    assert_int_equal(p[1], -1);
}

static void test_cpu_count(void **state)
{
    (void)state;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want = n < 1 ? 1 : (unsigned)n;
    assert_int_equal(ipc__cpu_count(1), 1);
    assert_int_equal(ipc__cpu_count(100000), want);
    assert_int_equal(ipc__cpu_count(want), want);
    if (want > 1)
        assert_int_equal(ipc__cpu_count(want - 1), want - 1);
}

static uint64_t raw_monotonic_ns(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The three units read CLOCK_MONOTONIC itself: each lies between two direct reads
 * taken around it (a wrong clock id, unit or overflow would put it outside). */
static void test_clock(void **state)
{
    (void)state;
    uint64_t before = raw_monotonic_ns();
    uint64_t ns = ipc__now_ns();
    int64_t ms = ipc__now_ms();
    double s = ipc__now_s();
    uint64_t after = raw_monotonic_ns();
    assert_true(ns >= before && ns <= after);
    assert_true(ms >= (int64_t)(before / 1000000u) && ms <= (int64_t)(after / 1000000u));
    assert_true(s * 1e9 >= (double)before - 1e3 && s * 1e9 <= (double)after + 1e3);
    assert_true(ipc__now_ns() >= ns); /* never goes back */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_big_endian),
        IPCT_TEST(test_close_invalidate),
        IPCT_TEST(test_cpu_count),
        IPCT_TEST(test_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
