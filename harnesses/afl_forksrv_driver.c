/* afl_forksrv_driver.c - the same target behind AFL++'s plain fork server: one
 * fork per test case, the test case read from the file named on the command line
 * (afl-fuzz ... -- target @@) or from stdin. It exists only as the baseline for
 * `scripts/fuzz --bench`, which compares it with the persistent driver. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define FORKSRV_MAX (1u << 20)

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        (void)LLVMFuzzerInitialize(&argc, &argv);
    int fd = 0;
    if (argc > 1) {
        fd = open(argv[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "afl_forksrv_driver: %s: %s\n", argv[1], strerror(errno));
            return 1;
        }
    }
    uint8_t *buf = malloc(FORKSRV_MAX);
    if (!buf)
        abort();
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, FORKSRV_MAX - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == FORKSRV_MAX)
            break;
    }
    if (fd != 0)
        close(fd);
    (void)LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}
