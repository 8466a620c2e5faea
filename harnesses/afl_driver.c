/* afl_driver.c - AFL++ persistent-mode driver for an LLVMFuzzerTestOneInput target.
 *
 * Test cases arrive through shared memory (__AFL_FUZZ_TESTCASE_BUF/LEN) and the
 * target runs many of them per fork (__AFL_LOOP), which is what makes AFL++ an
 * order of magnitude faster than its plain fork server. Built only by afl-clang-fast
 * (preset afl), which defines the __AFL_* macros.
 *
 * Outside afl-fuzz, `driver FILE...` runs each file once, and `driver` with no
 * argument runs the test case read from stdin (the macros' own fallback). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#ifndef __AFL_FUZZ_TESTCASE_LEN
#error "afl_driver.c must be compiled with afl-clang-fast or afl-clang-lto"
#endif

__AFL_FUZZ_INIT();

/* Test cases above this are truncated, as libFuzzer's -max_len would. */
#define AFL_DRIVER_MAX (1u << 20)

static int run_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "afl_driver: %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint8_t *buf = malloc(AFL_DRIVER_MAX);
    if (!buf)
        abort();
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, AFL_DRIVER_MAX - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == AFL_DRIVER_MAX)
            break;
    }
    close(fd);
    (void)LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        (void)LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1) {
        int rc = 0;
        for (int i = 1; i < argc; i++)
            rc |= run_file(argv[i]);
        return rc;
    }
#ifdef __AFL_HAVE_MANUAL_CONTROL
    /* Deferred fork server: everything above runs once, not once per fork. */
    __AFL_INIT();
#endif
    /* Must be read after __AFL_INIT: the shared-memory mapping is set up there. */
    const uint8_t *buf = __AFL_FUZZ_TESTCASE_BUF;
    while (__AFL_LOOP(100000)) {
        size_t len = (size_t)__AFL_FUZZ_TESTCASE_LEN;
        (void)LLVMFuzzerTestOneInput(buf, len);
    }
    return 0;
}
