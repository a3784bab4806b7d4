// sha256.h: SHA-256 (FIPS 180-4) of byte strings and files. Used to key cached
// reference statistics by the exact bytes of the classifier that produced
// them (analysis/refstats.h) and to report which classifier a metric came
// from. The hex digest of a file equals `sha256sum FILE`.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "model/base/check.h"

#define SHA256_BYTES 32
#define SHA256_HEX_LEN 65  // 64 hex digits and the terminating NUL

typedef struct {
    uint32_t h[8];       // chaining state
    uint64_t bytes;      // message length so far
    uint8_t block[64];   // pending partial block
    size_t nblock;       // bytes in block
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
void sha256_final(Sha256 *s, uint8_t out[SHA256_BYTES]);
// One-shot digest of n bytes.
void sha256(const void *data, size_t n, uint8_t out[SHA256_BYTES]);
// Lower-case hex of a digest into hex (SHA256_HEX_LEN chars with the NUL).
void sha256_hex(const uint8_t d[SHA256_BYTES], char hex[SHA256_HEX_LEN]);
// Digest of a whole file, read in blocks. Errors name the file.
int sha256_file(const char *path, uint8_t out[SHA256_BYTES], LzError *err);
