// st_compare.c: test helper for tests/test_convert.sh (not a test binary by
// itself, hence not named test_*.c; the shell test compiles it against
// liblazydit.a).
//
//   st_compare FILE.safetensors NPYDIR [KEY=VALUE ...]
//
// Checks that FILE holds exactly the tensors NPYDIR/<name>.npy holds (names in
// both directions), with equal shapes and bit-identical float32 values (any NaN
// matches any NaN), and that each metadata KEY has VALUE. Prints one line and
// exits 0 on success; one line on stderr and exit 1 on the first difference.
#include <dirent.h>
#include <math.h>
#include <string.h>

#include "model/io/npy.h"
#include "model/io/safetensors.h"

static int compare(const char *st_path, const char *dir, char **meta, int nmeta) {
    LzError err;
    StFile f;
    if (st_read(st_path, &f, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int rc = 0, matched = 0;
    for (int i = 0; i < nmeta && !rc; i++) {
        char *eq = strchr(meta[i], '=');
        if (!eq) {
            fprintf(stderr, "st_compare: metadata argument '%s' is not KEY=VALUE\n", meta[i]);
            rc = 1;
            break;
        }
        *eq = 0;
        const char *got = st_meta(&f, meta[i]);
        if (!got || strcmp(got, eq + 1)) {
            fprintf(stderr, "%s: metadata %s is '%s', want '%s'\n", st_path, meta[i], got ? got : "(absent)", eq + 1);
            rc = 1;
        }
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot open directory\n", dir);
        st_free(&f);
        return 1;
    }
    for (struct dirent *e; !rc && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".npy")) continue;
        char name[ST_MAX_NAME], path[4096];
        snprintf(name, sizeof name, "%.*s", (int)(n - 4), e->d_name);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        const StTensor *t = st_find(&f, name);
        NpyArray a;
        if (!t) {
            fprintf(stderr, "%s: tensor %s is missing (expected from %s)\n", st_path, name, path);
            rc = 1;
        } else if (npy_read_f32(path, &a, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            rc = 1;
        } else {
            int same_shape = a.ndim == t->ndim && !memcmp(a.shape, t->shape, sizeof(long) * (size_t)a.ndim);
            long bad = -1;
            const float *want = a.data;
            for (long k = 0; same_shape && k < a.count && bad < 0; k++)
                if (!(isnan(want[k]) && isnan(t->data[k])) && memcmp(&want[k], &t->data[k], sizeof(float))) bad = k;
            if (!same_shape) {
                fprintf(stderr, "%s: tensor %s has %d dims / %ld elements, expected %d / %ld\n", st_path, name,
                        t->ndim, t->count, a.ndim, a.count);
                rc = 1;
            } else if (bad >= 0) {
                fprintf(stderr, "%s: tensor %s element %ld is %.9g, expected %.9g\n", st_path, name, bad,
                        (double)t->data[bad], (double)want[bad]);
                rc = 1;
            }
            matched++;
            npy_free(&a);
        }
    }
    closedir(d);
    if (!rc && matched != f.ntensors) {
        fprintf(stderr, "%s: has %d tensors, %s has %d\n", st_path, f.ntensors, dir, matched);
        rc = 1;
    }
    if (!rc) printf("%s: %d tensors match %s\n", st_path, matched, dir);
    st_free(&f);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: st_compare FILE.safetensors NPYDIR [KEY=VALUE ...]\n");
        return 2;
    }
    return compare(argv[1], argv[2], argv + 3, argc - 3);
}
