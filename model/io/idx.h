// idx.h: the IDX array format of MNIST and Fashion-MNIST (LeCun et al.),
// plain or gzip-compressed.
//
// Layout: 2 zero bytes, a dtype byte, a dimension count byte, then that many
// big-endian uint32 dimensions, then the data in C order. Only dtype 0x08
// (unsigned byte) is supported: it is the only one the datasets use. Files whose
// first two bytes are the gzip magic (1f 8b) are decompressed with zlib while
// reading; anything else is read as is. Every size is validated: the data
// length must equal the product of the dimensions exactly (a truncated file or
// trailing bytes are errors), and every error is one line naming the file.
#pragma once
#include "model/base/check.h"

#define IDX_MAX_DIMS 4

typedef struct {
    int ndim;
    long dims[IDX_MAX_DIMS];  // e.g. (60000, 28, 28) for train-images-idx3
    long count;               // product of dims
    int gzipped;              // 1 if the file was gzip-compressed
    unsigned char *data;      // count bytes, owned
} IdxArray;

int idx_read(const char *path, IdxArray *out, LzError *err);
void idx_free(IdxArray *a);
