/* fuzz_selftest.c - a deliberately broken fuzz target, for the tests of scripts/fuzz
 * (finding, triage, dedupe, minimizing, reproducing, resuming) in both engines.
 * Test-only: it lives in harnesses/selftest/, not harnesses/, so it is not in `scripts/fuzz
 * --list`, ClusterFuzzLite's $OUT or any default build; the presets build it only on request
 * (EXCLUDE_FROM_ALL) and harnesses/selftest/check_triage.sh compiles its own copies.
 *
 * Two planted bugs, each behind its own gate:
 *   "BUG" at the start, compared one byte at a time so that either engine's edge
 *   coverage leads to it within seconds: a store through a wild pointer in
 *   selftest_store_record (SIGSEGV in every build; ASan's "SEGV on unknown address"
 *   under the sanitizers).
 *   "INV!" at the start of an input of at least SELFTEST_INV_MIN bytes: an invariant
 *   failure (FUZZ_CHECK) in selftest_check_length. libFuzzer never makes an input
 *   that long (-max_len below) and AFL++ does not grow one in seconds, so a short
 *   fuzzing run finds exactly one bug; the triage test plants inputs of both. */
// libfuzzer-options: max_len=1024
#include <stddef.h>
#include <stdint.h>

#include "../fuzz_util.h"

#define SELFTEST_INV_MIN 300000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where the record would go: an unmapped address in the zero page (not null, so
 * that UBSan's null check does not report it first: the kind is SEGV everywhere);
 * volatile so that the compiler cannot see through it and drop the store. */
static int *volatile selftest_record_slot = (int *)(uintptr_t)64;

__attribute__((noinline)) static void selftest_store_record(const uint8_t *data, size_t size)
{
    *selftest_record_slot = (int)(size + data[0]);
}

__attribute__((noinline)) static void selftest_check_length(size_t size)
{
    FUZZ_CHECK(size < SELFTEST_INV_MIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 3 && data[0] == 'B') {
        if (data[1] == 'U') {
            if (data[2] == 'G')
                selftest_store_record(data, size);
        }
    }
    if (size >= 4 && memcmp(data, "INV!", 4) == 0)
        selftest_check_length(size);
    return 0;
}
