/* A program outside the project that uses the installed libipc. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ipc/ipc.h>

int main(void)
{
    const char *text = ipc_strerror(-ENOENT);
    if (strcmp(ipc_errname(IPC_EBADCRC), "IPC_EBADCRC") != 0 || !text) {
        fprintf(stderr, "consumer: unexpected libipc answers\n");
        return 1;
    }
    printf("consumer ok: %s\n", text);
    return 0;
}
