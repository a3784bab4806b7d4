// idx.c: IDX reader (see idx.h). zlib's gzread reads plain files transparently,
// so one code path serves both encodings; the gzip magic is checked explicitly
// only so that messages can say which kind of file failed.
#include "model/io/idx.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "model/io/file_rules.h"

// Reads exactly n bytes (n may exceed INT_MAX: gzread takes unsigned chunks).
// Returns the number of bytes actually read, or -1 on a zlib error.
static long gz_read_all(gzFile f, unsigned char *dst, long n) {
    long got = 0;
    while (got < n) {
        long want = n - got;
        if (want > (1L << 30)) want = 1L << 30;
        int r = gzread(f, dst + got, (unsigned)want);
        if (r < 0) return -1;
        if (r == 0) break;
        got += r;
    }
    return got;
}

static const char *gz_msg(gzFile f) {
    int code = 0;
    const char *m = gzerror(f, &code);
    if (code == Z_ERRNO) return strerror(errno);
    return m && *m ? m : "unknown zlib error";
}

// deflate cannot expand data by more than about 1032:1, so a gzip file of n
// bytes holds at most this many: a header that claims more is corrupt, and is
// refused before anything is allocated.
#define GZ_MAX_RATIO 1100

int idx_read(const char *path, IdxArray *out, LzError *err) {
    memset(out, 0, sizeof *out);
    struct stat st;
    int fd = lz_open_input(path, &st, err);
    if (fd < 0) return -1;
    unsigned char magic[2] = {0, 0};
    ssize_t nmagic = pread(fd, magic, 2, 0);
    int gz = nmagic == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    const char *kind = gz ? "gzip IDX file" : "IDX file";
    const long file_size = (long)st.st_size;

    gzFile f = gzdopen(fd, "rb");  // owns fd from here on
    if (!f) {
        close(fd);
        return lz_fail(err, "%s: cannot open %s: out of memory", path, kind);
    }
    unsigned char head[4];
    long r = gz_read_all(f, head, 4);
    if (r < 0) {
        lz_fail(err, "%s: %s: read error: %s", path, kind, gz_msg(f));
        gzclose(f);
        return -1;
    }
    if (r < 4) {
        gzclose(f);
        return lz_fail(err, "%s: %s too short for the 4-byte IDX magic (%ld bytes)", path, kind, r);
    }
    if (head[0] != 0 || head[1] != 0) {
        gzclose(f);
        return lz_fail(err, "%s: not an IDX file: magic starts %02x %02x, expected 00 00", path, head[0], head[1]);
    }
    if (head[2] != 0x08) {
        gzclose(f);
        return lz_fail(err, "%s: unsupported IDX dtype 0x%02x (only 0x08 unsigned byte is supported)", path, head[2]);
    }
    int ndim = head[3];
    if (ndim < 1 || ndim > IDX_MAX_DIMS) {
        gzclose(f);
        return lz_fail(err, "%s: IDX dimension count %d outside 1..%d", path, ndim, IDX_MAX_DIMS);
    }
    unsigned char dimbuf[4 * IDX_MAX_DIMS];
    r = gz_read_all(f, dimbuf, 4L * ndim);
    if (r != 4L * ndim) {
        gzclose(f);
        return lz_fail(err, "%s: %s truncated inside the %d dimension sizes", path, kind, ndim);
    }
    long count = 1;
    for (int d = 0; d < ndim; d++) {
        const unsigned char *b = dimbuf + 4 * d;
        uint32_t v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
        if (v == 0) {
            gzclose(f);
            return lz_fail(err, "%s: IDX dimension %d is zero", path, d);
        }
        // 2^40 bytes is far beyond any dataset here; the bound keeps the product from overflowing.
        if ((double)count * (double)v > (double)(1L << 40)) {
            gzclose(f);
            return lz_fail(err, "%s: IDX dimensions multiply to more than 2^40 elements", path);
        }
        out->dims[d] = v;
        count *= (long)v;
    }
    // Sizes come from the file before any allocation: a plain file holds
    // exactly its data after the header, a gzip file at most GZ_MAX_RATIO times its size.
    long header = 4 + 4L * ndim;
    if (!gz && count > file_size - header) {
        gzclose(f);
        return lz_fail(err, "%s: %s truncated: header says %ld data bytes, file has %ld", path, kind, count,
                       file_size - header);
    }
    if (!gz && count < file_size - header) {
        gzclose(f);
        return lz_fail(err, "%s: %s has %ld trailing bytes after the %ld data bytes the header declares", path, kind,
                       file_size - header - count, count);
    }
    if (gz && count / GZ_MAX_RATIO > file_size) {
        gzclose(f);
        return lz_fail(err, "%s: %s header declares %ld data bytes, more than %ld compressed bytes can hold", path, kind,
                       count, file_size);
    }
    unsigned char *data = lz_malloc((size_t)count, "IDX data");
    r = gz_read_all(f, data, count);
    if (r < 0) {
        lz_fail(err, "%s: %s: read error in the data: %s", path, kind, gz_msg(f));
        free(data);
        gzclose(f);
        return -1;
    }
    if (r != count) {
        free(data);
        gzclose(f);
        return lz_fail(err, "%s: %s truncated: header says %ld data bytes, file has %ld", path, kind, count, r);
    }
    // Anything after the data means the header and the file disagree.
    unsigned char extra[256];
    long trailing = 0;
    for (;;) {
        long t = gz_read_all(f, extra, sizeof extra);
        if (t < 0) {
            lz_fail(err, "%s: %s: read error after the data: %s", path, kind, gz_msg(f));
            free(data);
            gzclose(f);
            return -1;
        }
        trailing += t;
        if (t < (long)sizeof extra) break;
    }
    gzclose(f);
    if (trailing) {
        free(data);
        return lz_fail(err, "%s: %s has %ld trailing bytes after the %ld data bytes the header declares", path, kind,
                       trailing, count);
    }
    out->ndim = ndim;
    out->count = count;
    out->gzipped = gz;
    out->data = data;
    return 0;
}

void idx_free(IdxArray *a) {
    free(a->data);
    memset(a, 0, sizeof *a);
}
