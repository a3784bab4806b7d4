// safetensors.h: the safetensors format (8-byte little-endian header length N,
// N bytes of JSON header, then the data section). Reading validates the header
// length against the file size, the JSON, every dtype, shape and
// data_offsets (inside the data section, consistent with dtype x shape, no
// overlaps, no gaps, whole data section covered) and converts F32, F16 and
// BF16 tensors to float32 (values are not judged: NaN and infinity are the
// model loaders' business). Inputs go through model/io/file_rules.h (regular
// files only, never blocking). Writing emits F32, sorted by name, atomically.
#pragma once
#include "model/base/check.h"

#define ST_MAX_DIMS 8
#define ST_MAX_NAME 256

typedef struct {
    char name[ST_MAX_NAME];
    char dtype[8];   // dtype in the file: "F32", "F16" or "BF16"
    int ndim;
    long shape[ST_MAX_DIMS];
    long count;      // product of shape
    float *data;     // count float32 values (converted), owned by the StFile
} StTensor;

typedef struct {
    int ntensors;
    StTensor *tensors;
    int nmeta;           // __metadata__ string map, may be empty; sorted by key
    char **meta_keys;
    char **meta_values;
} StFile;

int st_read(const char *path, StFile *out, LzError *err);
const StTensor *st_find(const StFile *f, const char *name);  // NULL if absent
const char *st_meta(const StFile *f, const char *key);       // NULL if absent
void st_free(StFile *f);

typedef struct {
    const char *name;
    int ndim;
    const long *shape;
    const float *data;
} StWriteTensor;

// meta: nmeta key/value string pairs stored under "__metadata__" (may be 0).
int st_write(const char *path, const StWriteTensor *tensors, int ntensors, const char *const *meta_keys,
             const char *const *meta_values, int nmeta, LzError *err);
