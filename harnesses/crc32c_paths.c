/* crc32c_paths - fuzz target for the CRC-32C implementations (ipc/crc32c.h).
 *
 * Targets: ipc_crc32c, ipc_crc32c_with (every implementation this CPU and build
 * offer: sse4.2, sse4.2-3way, pclmul, vpclmul-avx512, isa-l, hybrid),
 * ipc_crc32c_combine, ipc_crc32c_available, ipc_crc32c_force,
 * ipc_crc32c_current, ipc_crc32c_name.
 *
 * Input: bytes 0-3 = the initial CRC (little endian), bytes 4-5 = the split
 * point seed (little endian, taken modulo the data length + 1), then the data
 * (up to 8 KiB: every lane count, fold loop and tail of the folding paths, and
 * both block sizes of the hybrid, 3008 and 6016 bytes, are reached below that).
 * Shorter inputs run with zero-filled header fields. No fault schedule: the CRC
 * functions make no seam call.
 *
 * Invariants (abort on violation):
 *  - the table path equals a bitwise model written here from the polynomial, on
 *    the first MODEL_MAX bytes (the table is the oracle beyond);
 *  - every available implementation, with the data placed at every alignment
 *    0..63 and ending flush against the end of its heap block (so that ASan
 *    reports a load one byte too far), returns the table path's value;
 *  - chaining at the split: crc(crc(init, a), b) == crc(init, ab) for every
 *    implementation, also with the two halves on different implementations;
 *  - ipc_crc32c_combine(crc(init, a), crc(0, b), |b|) == crc(init, ab);
 *  - ipc_crc32c (the process-wide choice) equals the table path; once per
 *    process: available/force/current/name as documented for every enum value,
 *    AUTO's choice is the first available of hybrid, sse4.2-3way, table.
 *
 * Speed (scripts/fuzz --bench): per input, 64 placements x the implementations x
 * the length in CRC work (all paths but the table run at > 10 GB/s), one table
 * pass, and 64 allocations (posix_memalign); no other allocation.
 */
// libfuzzer-options: max_len=8198
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "model_crc.h"
#include "ipc/crc32c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER_LEN 6
#define DATA_MAX   8192
#define MODEL_MAX  512
#define ALIGNMENTS 64

static const char *const impl_names[IPC_CRC32C_IMPL_END] = {
    "auto", "table", "sse4.2", "sse4.2-3way", "pclmul", "vpclmul-avx512", "isa-l", "hybrid"};

/* Once per process: the implementation choice API. */
FUZZ_NOCOV static void api_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    FUZZ_CHECK(model_crc_bitwise(0, (const uint8_t *)"123456789", 9) == 0xE3069283u);
    for (int i = 0; i < IPC_CRC32C_IMPL_END; i++) {
        enum ipc_crc32c_impl impl = (enum ipc_crc32c_impl)i;
        FUZZ_CHECK(strcmp(ipc_crc32c_name(impl), impl_names[i]) == 0);
        int avail = ipc_crc32c_available(impl);
        FUZZ_CHECK(avail == 0 || avail == 1);
        FUZZ_CHECK(impl > IPC_CRC32C_TABLE || avail == 1);
        enum ipc_crc32c_impl before = ipc_crc32c_current();
        int r = ipc_crc32c_force(impl);
        if (!avail) {
            FUZZ_CHECK(r == -ENOTSUP && ipc_crc32c_current() == before);
            /* An unavailable implementation falls back to the table path. */
            FUZZ_CHECK(ipc_crc32c_with(impl, 0, "123456789", 9) == 0xE3069283u);
            continue;
        }
        FUZZ_CHECK(r == 0 && ipc_crc32c_current() == (impl == IPC_CRC32C_AUTO ? before : impl));
        FUZZ_CHECK(ipc_crc32c(0, "123456789", 9) == 0xE3069283u);
    }
    enum ipc_crc32c_impl end = (enum ipc_crc32c_impl)IPC_CRC32C_IMPL_END;
    FUZZ_CHECK(ipc_crc32c_available(end) == -EINVAL && ipc_crc32c_force(end) == -EINVAL);
    FUZZ_CHECK(strcmp(ipc_crc32c_name(end), "unknown") == 0);
    /* Folding needs crc32q for its last lane and tail. */
    FUZZ_CHECK(ipc_crc32c_available(IPC_CRC32C_PCLMUL) <= ipc_crc32c_available(IPC_CRC32C_SSE42));
    FUZZ_CHECK(ipc_crc32c_available(IPC_CRC32C_VPCLMUL) <= ipc_crc32c_available(IPC_CRC32C_PCLMUL));
    FUZZ_CHECK(ipc_crc32c_available(IPC_CRC32C_HYBRID) == ipc_crc32c_available(IPC_CRC32C_VPCLMUL));
    FUZZ_CHECK(ipc_crc32c_force(IPC_CRC32C_AUTO) == 0);
    static const enum ipc_crc32c_impl order[] = {IPC_CRC32C_HYBRID, IPC_CRC32C_SSE42_3WAY,
                                                 IPC_CRC32C_TABLE};
    size_t first = 0;
    while (ipc_crc32c_available(order[first]) != 1)
        first++;
    FUZZ_CHECK(ipc_crc32c_current() == order[first]);
}

FUZZ_NOCOV static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    api_once();
    uint8_t header[HEADER_LEN] = {0};
    memcpy(header, data, size < HEADER_LEN ? size : HEADER_LEN);
    const uint8_t *d = size > HEADER_LEN ? data + HEADER_LEN : data;
    size_t n = size > HEADER_LEN ? size - HEADER_LEN : 0;
    if (n > DATA_MAX)
        n = DATA_MAX;
    uint32_t init = le32(header);
    size_t split = ((size_t)header[4] | (size_t)header[5] << 8) % (n + 1);

    /* The oracle: the table path, itself checked against the model. */
    uint32_t want = ipc_crc32c_with(IPC_CRC32C_TABLE, init, d, n);
    size_t m = n < MODEL_MAX ? n : MODEL_MAX;
    FUZZ_CHECK(ipc_crc32c_with(IPC_CRC32C_TABLE, init, d, m) == model_crc_bitwise(init, d, m));
    FUZZ_CHECK(ipc_crc32c(init, d, n) == want);
    uint32_t head = ipc_crc32c_with(IPC_CRC32C_TABLE, init, d, split);
    uint32_t tail0 = ipc_crc32c_with(IPC_CRC32C_TABLE, 0, d + split, n - split);
    FUZZ_CHECK(ipc_crc32c_combine(head, tail0, n - split) == want);

    int avail[IPC_CRC32C_IMPL_END] = {0};
    for (int i = IPC_CRC32C_SSE42; i < IPC_CRC32C_IMPL_END; i++)
        avail[i] = ipc_crc32c_available((enum ipc_crc32c_impl)i) == 1;

    /* Every placement: a block of exactly a + n bytes aligned to 64 with the data
     * at a, so it starts at alignment a and ends where ASan's redzone begins
     * (posix_memalign, unlike aligned_alloc, takes any size). */
    for (size_t a = 0; a < ALIGNMENTS; a++) {
        void *block = NULL;
        FUZZ_CHECK(posix_memalign(&block, ALIGNMENTS, a + n ? a + n : 1) == 0);
        uint8_t *p = (uint8_t *)block + a;
        memcpy(p, d, n);
        for (int i = IPC_CRC32C_SSE42; i < IPC_CRC32C_IMPL_END; i++)
            if (avail[i])
                FUZZ_CHECK(ipc_crc32c_with((enum ipc_crc32c_impl)i, init, p, n) == want);
        free(block);
    }

    /* Chaining at the split, on one implementation and across two. */
    for (int i = IPC_CRC32C_SSE42; i < IPC_CRC32C_IMPL_END; i++) {
        if (!avail[i])
            continue;
        enum ipc_crc32c_impl impl = (enum ipc_crc32c_impl)i;
        uint32_t h = ipc_crc32c_with(impl, init, d, split);
        FUZZ_CHECK(h == head);
        FUZZ_CHECK(ipc_crc32c_with(impl, h, d + split, n - split) == want);
        FUZZ_CHECK(ipc_crc32c_with(IPC_CRC32C_TABLE, h, d + split, n - split) == want);
        FUZZ_CHECK(ipc_crc32c_with(impl, 0, d + split, n - split) == tail0);
    }
    return 0;
}
