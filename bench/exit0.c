/* exit0.c - the smallest program an exec benchmark can run: no libc, no dynamic
 * loader, static and position-dependent, so that an exec of it costs the kernel's
 * execve and nothing else. Both sides of the spawn rows of scripts/bench exec it:
 * ipcbench's bare vfork/posix_spawn loops and `ipcstorm stress forkwait --exec`.
 *
 *     exit0            exits 0
 *     exit0 N          exits N (0..255)
 *     exit0 -S         kills itself with signal S (1..64)
 *
 * A malformed argument exits 125; a signal that did not kill it (ignored or
 * blocked by whoever started it) exits 124: codes the callers never ask for, so
 * either shows up as a wrong status, never as a pass. x86_64 Linux only (the
 * bench directory is built only there). */

#define NR_GETPID     39
#define NR_KILL       62
#define NR_EXIT_GROUP 231

#define EXIT_BAD_ARGUMENT    125
#define EXIT_SIGNAL_SURVIVED 124

static long syscall2(long nr, long a, long b)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return ret;
}

static _Noreturn void exit_group(int code)
{
    for (;;)
        syscall2(NR_EXIT_GROUP, code, 0);
}

/* The decimal number s, or -1 when s is empty, not all digits or above max. */
static long parse_number(const char *s, long max)
{
    long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
    }
    return v;
}

/* Called by _start with the kernel's argc and argv; never returns. */
_Noreturn void exit0_main(long argc, char **argv);
_Noreturn void exit0_main(long argc, char **argv)
{
    if (argc < 2)
        exit_group(0);
    const char *arg = argv[1];
    if (arg[0] == '-') {
        long sig = parse_number(arg + 1, 64);
        if (sig < 1)
            exit_group(EXIT_BAD_ARGUMENT);
        syscall2(NR_KILL, syscall2(NR_GETPID, 0, 0), sig);
        exit_group(EXIT_SIGNAL_SURVIVED);
    }
    long code = parse_number(arg, 255);
    exit_group(code < 0 ? EXIT_BAD_ARGUMENT : (int)code);
}

/* The entry point: argc at the stack pointer, argv right above it. The call
 * needs a 16-byte aligned stack, which the kernel already gives. */
__asm__(".text\n"
        ".globl _start\n"
        ".type _start, @function\n"
        "_start:\n"
        "    xor %ebp, %ebp\n"
        "    mov (%rsp), %rdi\n"
        "    lea 8(%rsp), %rsi\n"
        "    and $-16, %rsp\n"
        "    call exit0_main\n"
        "    hlt\n");
