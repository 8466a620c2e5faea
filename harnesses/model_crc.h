/* model_crc.h - an independent CRC-32C model for the fuzz targets (header-only, see
 * fuzz_util.h for why).
 *
 * CRC-32C from its definition (reflected polynomial 0x82F63B78, initial value and
 * final xor 0xFFFFFFFF), sharing nothing with libipc's implementations:
 *   model_crc_bitwise  one bit at a time, the definition itself;
 *   model_crc          8 bytes per step through tables derived from a byte table
 *                      that is generated bit by bit (model_crc_table[k][b]: byte b
 *                      followed by k zero bytes), for the targets that model every
 *                      input (bit at a time it was a tenth of their time).
 * The first model_crc call builds the tables and holds them to model_crc_bitwise at
 * every length and start of a 64-byte pattern and to the standard check value. */
#ifndef IPC_MODEL_CRC_H
#define IPC_MODEL_CRC_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"

#define MODEL_CRC_POLY 0x82F63B78u

FUZZ_NOCOV static inline uint32_t model_crc_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ MODEL_CRC_POLY : crc >> 1;
    }
    return ~crc;
}

static uint32_t model_crc_table[8][256];

FUZZ_NOCOV static inline uint32_t model_crc_steps(uint32_t crc, const uint8_t *p, size_t n)
{
    const uint32_t(*t)[256] = (const uint32_t(*)[256])model_crc_table;
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        /* the 8 bytes in stream order, the CRC folded into the first four */
        uint32_t lo =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        lo ^= crc;
        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
              t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    }
    while (n--)
        crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

FUZZ_NOCOV static inline void model_crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint8_t b = (uint8_t)i;
        /* the byte table: one byte through the bitwise model, without the xors */
        model_crc_table[0][i] = ~model_crc_bitwise(0xFFFFFFFFu, &b, 1);
    }
    for (int k = 1; k < 8; k++)
        for (uint32_t i = 0; i < 256; i++)
            model_crc_table[k][i] = (model_crc_table[k - 1][i] >> 8) ^
                                    model_crc_table[0][model_crc_table[k - 1][i] & 0xff];
    FUZZ_CHECK(model_crc_bitwise(0, (const uint8_t *)"123456789", 9) == 0xE3069283u);
    uint8_t pat[64];
    for (size_t i = 0; i < sizeof(pat); i++)
        pat[i] = (uint8_t)(i * 151u + 7u);
    for (size_t at = 0; at < 8; at++)
        for (size_t n = 0; at + n <= sizeof(pat); n++)
            FUZZ_CHECK(model_crc_steps(0x12345678u, pat + at, n) ==
                       model_crc_bitwise(0x12345678u, pat + at, n));
}

FUZZ_NOCOV static inline uint32_t model_crc(uint32_t crc, const uint8_t *p, size_t n)
{
    if (!model_crc_table[0][1])
        model_crc_init();
    return model_crc_steps(crc, p, n);
}

#endif
