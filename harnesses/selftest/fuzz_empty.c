/* fuzz_empty.c - the empty fuzz target: the engine's own cost per input, the
 * reference that `scripts/fuzz --bench` divides every target's exec/s by.
 * Test-only, like fuzz_selftest.c: it lives in harnesses/selftest/, so it is not in
 * `scripts/fuzz --list`, ClusterFuzzLite's $OUT or any default build; the fuzz
 * preset builds it with the flags of the real targets, on request only
 * (EXCLUDE_FROM_ALL). It checks nothing and finds nothing: its exec/s is what a
 * target that costs nothing would reach on this machine at this moment. */
// libfuzzer-options: max_len=4096
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)data;
    (void)size;
    return 0;
}
