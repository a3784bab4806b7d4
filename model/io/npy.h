// npy.h: NumPy .npy arrays (format versions 1.0-3.0), C order, little-endian.
// Supported dtypes: float32 '<f4', float64 '<f8', int64 '<i8', int32 '<i4',
// uint8 '|u1'. Anything else (Fortran order, big-endian, object arrays,
// truncated data, trailing bytes) is an error naming the file and the problem.
#pragma once
#include "model/base/check.h"

#define NPY_MAX_DIMS 8

typedef enum { NPY_F32, NPY_F64, NPY_I64, NPY_I32, NPY_U8 } NpyDtype;

typedef struct {
    NpyDtype dtype;
    int ndim;
    long shape[NPY_MAX_DIMS];
    long count;   // product of shape (1 for a 0-d array)
    void *data;   // count elements of dtype, owned by the array
} NpyArray;

size_t npy_dtype_size(NpyDtype d);
const char *npy_dtype_name(NpyDtype d);  // "float32", ...

int npy_read(const char *path, NpyArray *out, LzError *err);
// Reads any supported dtype and converts to float32 in out->data (dtype becomes NPY_F32).
int npy_read_f32(const char *path, NpyArray *out, LzError *err);
// Reads an integer array (int64/int32/uint8, or float with integral values) into int64.
int npy_read_i64(const char *path, NpyArray *out, LzError *err);
// Writes atomically: a temporary file in the same directory, renamed on success,
// so a failed write never leaves a half-written file at `path`.
int npy_write(const char *path, NpyDtype dtype, int ndim, const long *shape, const void *data, LzError *err);
void npy_free(NpyArray *a);
