/* cmd_frame.c - `ipcstorm frame encode|decode`: the wire format v1 on stdin/stdout. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"
#include "ipc/error.h"
#include "ipc/frame.h"
#include "ipc/pipe.h"

const char ipcstorm_cmd_frame_summary[] = "encode stdin into frames or decode and check frames";

static const char frame_intro[] =
    "Wire format v1: \"IF\", version 1, type, big-endian length, payload, CRC-32C.\n";

static const char encode_intro[] =
    "Frames stdin: all of it as one payload (at most 1 GiB), or with --chunk N one\n"
    "frame per N bytes (the last may be shorter; empty input then gives no frame).\n";

static const char decode_intro[] =
    "Prints one line per frame: type=T len=N crc=ok. On invalid input it prints the\n"
    "error kind and the byte offset where it was detected and exits 2 (bad magic,\n"
    "bad version, payload too large, CRC mismatch, truncated).\n";

/* Shared by `frame --help`, `frame encode --help` and `frame decode --help`. */
static const char frame_outro[] =
    "Examples:\n"
    "  printf hello | ipcstorm frame encode --type 7 | ipcstorm frame decode\n"
    "  ipcstorm frame encode --chunk 4096 < /etc/services > frames.bin\n"
    "  ipcstorm frame decode --payload < frames.bin | cmp - /etc/services\n"
    "\n"
    "Exit status: 0 success, 1 I/O error, 2 invalid frames (decode), 64 usage error.\n";

static void frame_usage(FILE *out)
{
    fprintf(out,
            "usage: ipcstorm frame encode [--type T] [--chunk N] < payload > frames\n"
            "       ipcstorm frame decode [--max-payload N] [--payload] < frames\n"
            "\n%s\n"
            "encode:\n%s\n"
            "decode:\n%s\n"
            "`ipcstorm frame encode --help` and `ipcstorm frame decode --help` list the\n"
            "options.\n\n%s",
            frame_intro, encode_intro, decode_intro, frame_outro);
}

static int frame_encode(int argc, char **argv)
{
    uint64_t type = 0, chunk = 0;
    const struct cli_opt opts[] = {
        {.name = "type",
         .kind = CLI_OPT_U64,
         .dest = &type,
         .max = 255,
         .arg = "T",
         .short_name = 't',
         .help = "frame type, 0..255 (default 0)"},
        {.name = "chunk",
         .kind = CLI_OPT_U64,
         .dest = &chunk,
         .min = 1,
         .max = IPC_FRAME_MAX_PAYLOAD,
         .short_name = 'c',
         .help = "payload bytes per frame, 1..1073741824 (default: all of stdin)"},
        {0},
    };
    const struct cli_cmd cmd = {
        .prog = "ipcstorm frame encode",
        .args = "< payload > frames",
        .intro = encode_intro,
        .outro = frame_outro,
        .opts = opts,
    };
    int prc = cli_parse(&cmd, argc, argv, NULL);
    if (prc != CLI_RUN)
        return prc;

    /* One payload of all stdin: read it into a buffer bounded by the format's
     * hard limit. With --chunk the buffer is one chunk. */
    size_t limit = chunk ? (size_t)chunk : IPC_FRAME_MAX_PAYLOAD;
    size_t cap = chunk ? (size_t)chunk : 65536;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        fprintf(stderr, "ipcstorm frame encode: out of memory\n");
        return 1;
    }
    int rc = 0;
    for (;;) {
        size_t have = 0;
        int eof = 0;
        while (have < limit) {
            if (have == cap) {
                size_t ncap = cap * 2 > limit ? limit : cap * 2;
                uint8_t *nb = realloc(buf, ncap);
                if (!nb) {
                    fprintf(stderr, "ipcstorm frame encode: out of memory\n");
                    free(buf);
                    return 1;
                }
                buf = nb;
                cap = ncap;
            }
            ssize_t r = ipc_pipe_read_full(0, buf + have, cap - have);
            if (r < 0) {
                fprintf(stderr, "ipcstorm frame encode: reading stdin: %s\n", ipc_strerror((int)r));
                free(buf);
                return 1;
            }
            have += (size_t)r;
            if (have < cap) {
                eof = 1;
                break;
            }
        }
        if (!chunk && !eof) {
            /* Exactly at the limit: only acceptable if stdin ends here. */
            uint8_t extra;
            ssize_t r = ipc_pipe_read_full(0, &extra, 1);
            if (r != 0) {
                fprintf(stderr, "ipcstorm frame encode: stdin is larger than the 1 GiB payload "
                                "limit; use --chunk\n");
                free(buf);
                return 1;
            }
            eof = 1;
        }
        if (have > 0 || !chunk) {
            ssize_t w = ipc_frame_write_fd(1, (uint8_t)type, buf, have, 0);
            if (w < 0) {
                fprintf(stderr, "ipcstorm frame encode: writing stdout: %s\n",
                        ipc_strerror((int)w));
                rc = 1;
                break;
            }
        }
        if (eof || !chunk)
            break;
    }
    free(buf);
    return rc;
}

static int frame_decode(int argc, char **argv)
{
    uint64_t max = IPC_FRAME_DEFAULT_MAX_PAYLOAD;
    bool payload_out = false;
    const struct cli_opt opts[] = {
        {.name = "max-payload",
         .kind = CLI_OPT_U64,
         .dest = &max,
         .min = 1,
         .max = IPC_FRAME_MAX_PAYLOAD,
         .short_name = 'm',
         .help = "largest accepted payload, 1..1073741824 (default 1048576)"},
        {.name = "payload",
         .kind = CLI_OPT_FLAG,
         .dest = &payload_out,
         .short_name = 'p',
         .help = "write the payloads to stdout instead of the lines"},
        {0},
    };
    const struct cli_cmd cmd = {
        .prog = "ipcstorm frame decode",
        .args = "< frames",
        .intro = decode_intro,
        .outro = frame_outro,
        .opts = opts,
    };
    int prc = cli_parse(&cmd, argc, argv, NULL);
    if (prc != CLI_RUN)
        return prc;
    struct ipc_frame_dec dec;
    if (ipc_frame_dec_init(&dec, (size_t)max) < 0)
        return 1;
    static uint8_t buf[1 << 16];
    int err = 0;
    uint64_t frames = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "ipcstorm frame decode: reading stdin: %s\n", strerror(errno));
            ipc_frame_dec_free(&dec);
            return 1;
        }
        if (n == 0) {
            err = ipc_frame_dec_finish(&dec);
            break;
        }
        const uint8_t *p = buf;
        size_t left = (size_t)n;
        while (left > 0) {
            struct ipc_frame f;
            ssize_t r = ipc_frame_decode(&dec, p, left, &f);
            if (r == IPC_ENEEDMORE)
                break;
            if (r < 0) {
                err = (int)r;
                break;
            }
            frames++;
            if (payload_out) {
                ssize_t w = ipc_pipe_write_all(1, f.payload, f.len, 0);
                if (w < 0) {
                    fprintf(stderr, "ipcstorm frame decode: writing stdout: %s\n",
                            ipc_strerror((int)w));
                    ipc_frame_dec_free(&dec);
                    return 1;
                }
            } else {
                printf("type=%u len=%zu crc=ok\n", (unsigned)f.type, f.len);
            }
            p += r;
            left -= (size_t)r;
        }
        if (err)
            break;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "ipcstorm frame decode: writing stdout failed\n");
        ipc_frame_dec_free(&dec);
        return 1;
    }
    if (err) {
        uint64_t at = ipc_frame_dec_error_offset(&dec);
        if (err == IPC_ETRUNCATED)
            fprintf(stderr,
                    "ipcstorm frame decode: error: %s: %s: the frame starting at byte offset "
                    "%" PRIu64 " is cut off by the end of input at byte %" PRIu64 "\n",
                    ipc_errname(err), ipc_strerror(err), at, ipc_frame_dec_offset(&dec));
        else
            fprintf(stderr,
                    "ipcstorm frame decode: error: %s (%s) at byte offset %" PRIu64
                    " (after %" PRIu64 " good frame%s)\n",
                    ipc_errname(err), ipc_strerror(err), at, frames, frames == 1 ? "" : "s");
        ipc_frame_dec_free(&dec);
        return 2;
    }
    ipc_frame_dec_free(&dec);
    return 0;
}

int ipcstorm_cmd_frame(int argc, char **argv)
{
    if (argc < 2) {
        frame_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        frame_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "encode"))
        return frame_encode(argc - 1, argv + 1);
    if (!strcmp(argv[1], "decode"))
        return frame_decode(argc - 1, argv + 1);
    fprintf(stderr, "ipcstorm frame: unknown action '%s' (expected encode or decode)\n\n", argv[1]);
    frame_usage(stderr);
    return CLI_EXIT_USAGE;
}
