/* ipc/crc32c.h - CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected
 * 0x82F63B78), as used by iSCSI (RFC 3720), ext4, SCTP and the frame format.
 *
 * The conventional pre- and post-inversion is applied inside, so the value is the
 * standard CRC-32C ("123456789" -> 0xE3069283) and calls chain like zlib's crc32():
 *     ipc_crc32c(ipc_crc32c(0, a, na), b, nb) == ipc_crc32c(0, ab, na + nb)
 *
 * Implementations, chosen once at first use by CPU feature detection:
 *   TABLE     portable slicing-by-8 tables (any CPU);
 *   SSE42     one stream of the SSE4.2 crc32q instruction (x86-64 only);
 *   SSE42_3WAY  three interleaved crc32q streams over long buffers, joined by a
 *             table-driven "shift by L zero bytes" operator, which hides the
 *             instruction's 3-cycle latency (about 3x SSE42 on 64 KiB buffers);
 *   PCLMUL    four 128-bit lanes folded with PCLMULQDQ carry-less multiplication
 *             by x^k mod P constants, the last lane reduced with crc32q (needs
 *             SSE4.2 and PCLMULQDQ; below 128 bytes it runs SSE42);
 *   VPCLMUL   the same folding on four 512-bit registers (16 lanes) with
 *             VPCLMULQDQ (needs AVX-512 F/VL enabled by the OS; below 256
 *             bytes it runs PCLMUL);
 *   ISAL      Intel ISA-L's crc32_iscsi(), only in a build configured with
 *             -DIPC_ISAL=ON (never chosen by AUTO);
 *   HYBRID    VPCLMUL's folding and three crc32q streams in one loop over
 *             blocks of 3008 and 6016 bytes (the two instructions run on
 *             different execution units: about 1.1x VPCLMUL at 4 KiB, 1.25x at
 *             64 KiB on Zen 4); needs what VPCLMUL needs; shorter rests run VPCLMUL.
 * AUTO picks the first available of HYBRID, SSE42_3WAY, TABLE (the fastest
 * measured on x86-64: PCLMUL's four 128-bit lanes run at about half the speed
 * of three crc32q streams; docs/design.md has the table).
 * All implementations return identical values for every input.
 *
 * Everything here is thread-safe and async-signal-safe (no allocation, no locks;
 * the implementation choice is an atomic pointer) and fork-safe.
 *
 * Errors under faults: none. No function here makes a system call or allocates,
 * so the fault-injection seam (and harnesses/faultsweep.c) cannot fail them.
 */
#ifndef IPC_CRC32C_H
#define IPC_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ipc_crc32c_impl {
    IPC_CRC32C_AUTO = 0,       /* the fastest available */
    IPC_CRC32C_TABLE = 1,      /* slicing-by-8, always available */
    IPC_CRC32C_SSE42 = 2,      /* single-stream crc32q */
    IPC_CRC32C_SSE42_3WAY = 3, /* three interleaved crc32q streams */
    IPC_CRC32C_PCLMUL = 4,     /* PCLMULQDQ folding, 4 x 128-bit lanes */
    IPC_CRC32C_VPCLMUL = 5,    /* VPCLMULQDQ folding, 4 x 512-bit registers */
    IPC_CRC32C_ISAL = 6,       /* ISA-L crc32_iscsi (IPC_ISAL builds only) */
    IPC_CRC32C_HYBRID = 7,     /* VPCLMULQDQ folding beside three crc32q streams */
};
/* One past the largest value, for loops over every implementation. */
#define IPC_CRC32C_IMPL_END 8

/* Extends crc (0 to start, or a previous return value) with len bytes at buf and
 * returns the new CRC-32C. buf may be NULL when len is 0. Uses the implementation
 * selected by ipc_crc32c_force() (AUTO by default). */
uint32_t ipc_crc32c(uint32_t crc, const void *buf, size_t len);

/* Same with an explicit implementation, ignoring the process-wide choice (for
 * tests and benchmarks). An implementation the CPU lacks falls back to TABLE;
 * check ipc_crc32c_available() first when that matters. */
uint32_t ipc_crc32c_with(enum ipc_crc32c_impl impl, uint32_t crc, const void *buf, size_t len);

/* Returns 1 when the CPU (and this build) supports impl, 0 if not, -EINVAL for an
 * unknown value. AUTO and TABLE are always available. */
IPC_MUST_USE int ipc_crc32c_available(enum ipc_crc32c_impl impl);

/* Selects the implementation used by ipc_crc32c() process-wide (AUTO restores the
 * default choice). Returns 0, -ENOTSUP (the CPU lacks it), -EINVAL (unknown).
 * Meant for tests and benchmarks; safe to call concurrently with ipc_crc32c(). */
IPC_MUST_USE int ipc_crc32c_force(enum ipc_crc32c_impl impl);

/* Returns the implementation ipc_crc32c() currently uses (never AUTO). */
enum ipc_crc32c_impl ipc_crc32c_current(void);

/* Returns a static name: "auto", "table", "sse4.2", "sse4.2-3way", "pclmul",
 * "vpclmul-avx512", "isa-l", "hybrid", or "unknown". */
const char *ipc_crc32c_name(enum ipc_crc32c_impl impl);

/* Given crc1 = CRC of A and crc2 = CRC of B where B is len2 bytes long, returns
 * the CRC of A followed by B (like zlib's crc32_combine), in O(log len2). */
uint32_t ipc_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2);

#ifdef __cplusplus
}
#endif
#endif
