// file_rules.c: input, output, number and temporary-file rules (see file_rules.h).
#include "model/io/file_rules.h"

#include "model/io/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---------------------------------------------------------------------------
// inputs

static const char *kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
}

int lz_open_input(const char *path, struct stat *st, LzError *err) {
    if (!path || !*path) return lz_fail(err, "empty input file name");
    // O_NONBLOCK: opening a FIFO without a writer (or a tty, a device) must not hang.
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return lz_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        return lz_fail(err, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return lz_fail(err, "%s: is %s, not a regular file", path, kind_of(st->st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        return lz_fail(err, "%s: cannot set blocking mode: %s", path, strerror(e));
    }
    return fd;
}

FILE *lz_fopen_input(const char *path, struct stat *st, LzError *err) {
    int fd = lz_open_input(path, st, err);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        lz_fail(err, "%s: cannot open: %s", path, strerror(e));
    }
    return f;
}

// ---------------------------------------------------------------------------
// numbers and text

int lz_parse_long(const char *text, long min, long max, long *out) {
    if (!text) return -1;
    const char *p = text;
    int neg = *p == '-';
    if (neg) p++;
    if (*p < '0' || *p > '9') return -1;
    // Accumulate as a negative number: |LONG_MIN| > LONG_MAX.
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        int d = *p - '0';
        if (v < (LONG_MIN + d) / 10) return -1;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == LONG_MIN) return -1;
        v = -v;
    }
    if (v < min || v > max) return -1;
    *out = v;
    return 0;
}

int lz_parse_int(const char *text, int min, int max, int *out) {
    long v;
    if (lz_parse_long(text, min, max, &v)) return -1;
    *out = (int)v;
    return 0;
}

int lz_parse_u64(const char *text, uint64_t max, uint64_t *out) {
    if (!text || !*text) return -1;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (v > max) return -1;
    *out = v;
    return 0;
}

long lz_find_nonfinite(const float *x, long n) {
    for (long i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

int lz_check_finite(const char *path, const char *what, const float *x, long n, LzError *err) {
    long i = lz_find_nonfinite(x, n);
    if (i < 0) return 0;
    return lz_fail(err, "%s: %s element %ld is %s (not finite)", path, what, i,
                   isnan(x[i]) ? "NaN" : x[i] > 0 ? "+inf" : "-inf");
}

int lz_utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += len;
    }
    return 1;
}

// ---------------------------------------------------------------------------
// temporaries

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = lz_malloc(n, "file name");
    memcpy(p, s, n);
    return p;
}

// Splits path into a directory ("." when there is none) and a final name (both malloc'd).
static void split_path(const char *path, char **dir, char **name) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *dir = copy_string(".");
        *name = copy_string(path);
        return;
    }
    size_t dlen = slash == path ? 1 : (size_t)(slash - path);
    *dir = lz_malloc(dlen + 1, "directory name");
    memcpy(*dir, path, dlen);
    (*dir)[dlen] = 0;
    *name = copy_string(slash + 1);
}

char *lz_temp_name(const char *path, unsigned n) {
    char *dir, *name;
    split_path(path, &dir, &name);
    size_t cap = strlen(dir) + strlen(name) + 64;
    char *t = lz_malloc(cap, "temporary file name");
    // A path without a slash gets a bare name, so messages show what the user typed.
    if (strchr(path, '/'))
        snprintf(t, cap, "%s/.%s.tmp.%ld.%u", !strcmp(dir, "/") ? "" : dir, name, (long)getpid(), n);
    else
        snprintf(t, cap, ".%s.tmp.%ld.%u", name, (long)getpid(), n);
    free(dir);
    free(name);
    return t;
}

// "<digits>" or "<digits>.<digits>": the pid and counter of a temporary's suffix.
static long temp_suffix_pid(const char *s) {
    const char *p = s;
    long pid = 0;
    if (*p < '0' || *p > '9') return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (pid > 100000000) return -1;
        pid = pid * 10 + (*p - '0');
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return -1;
        while (*p >= '0' && *p <= '9') p++;
    }
    return *p ? -1 : pid;
}

int lz_clean_stale_temps(const char *path) {
    char *dir, *name;
    split_path(path, &dir, &name);
    int removed = 0;
    DIR *d = *name ? opendir(dir) : NULL;
    if (d) {
        size_t nlen = strlen(name);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            const char *s = e->d_name;
            // ".<name>.tmp.<pid>[.<n>]"
            if (s[0] != '.' || strncmp(s + 1, name, nlen) || strncmp(s + 1 + nlen, ".tmp.", 5)) continue;
            long pid = temp_suffix_pid(s + 1 + nlen + 5);
            if (pid <= 0 || pid == (long)getpid()) continue;
            // Only when the writer is gone: kill(pid, 0) fails with ESRCH.
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
            char *full = lz_malloc(strlen(dir) + strlen(s) + 2, "temporary file name");
            sprintf(full, "%s/%s", dir, s);
            struct stat st;
            if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) && unlink(full) == 0) removed++;
            free(full);
        }
        closedir(d);
    }
    free(dir);
    free(name);
    return removed;
}

// ---------------------------------------------------------------------------
// the files of one run

static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static RunFiles *active_run;
static int atexit_registered;

void run_files_init(RunFiles *rf) { memset(rf, 0, sizeof *rf); }

static RunFile *add_file(RunFiles *rf) {
    if (rf->n == rf->cap) {
        int cap = rf->cap ? 2 * rf->cap : 8;
        RunFile *p = lz_calloc((size_t)cap, sizeof *p, "run file list");
        if (rf->n) memcpy(p, rf->files, sizeof *p * (size_t)rf->n);
        free(rf->files);
        rf->files = p;
        rf->cap = cap;
    }
    RunFile *f = &rf->files[rf->n];
    memset(f, 0, sizeof *f);
    return f;
}

// realpath(dirname(path)) + "/" + basename(path), or NULL if the directory cannot be resolved.
static char *resolve_output(const char *path) {
    char *dir, *name;
    split_path(path, &dir, &name);
    char *real = realpath(dir, NULL);
    char *out = NULL;
    if (real) {
        out = lz_malloc(strlen(real) + strlen(name) + 2, "resolved path");
        sprintf(out, "%s/%s", strcmp(real, "/") ? real : "", name);
        free(real);
    }
    free(dir);
    free(name);
    return out;
}

// Another file of the run that is the same file as (dev, ino) or resolved. NULL if none.
static const RunFile *same_file(const RunFiles *rf, int exists, dev_t dev, ino_t ino, const char *resolved,
                                int outputs_only) {
    for (int i = 0; i < rf->n; i++) {
        const RunFile *f = &rf->files[i];
        if (outputs_only && !f->output) continue;
        if (exists && f->exists && f->dev == dev && f->ino == ino) return f;
        if (resolved && f->resolved && !strcmp(resolved, f->resolved)) return f;
    }
    return NULL;
}

int run_files_input(RunFiles *rf, const char *path, LzError *err) {
    struct stat st;
    if (!path || !*path) return lz_fail(err, "empty input file name");
    if (stat(path, &st) != 0) return lz_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return lz_fail(err, "%s: is %s, not a regular file", path, kind_of(st.st_mode));
    char *resolved = realpath(path, NULL);
    const RunFile *o = same_file(rf, 1, st.st_dev, st.st_ino, resolved, 1);
    if (o) {
        free(resolved);
        return lz_fail(err, "%s: is also an output of this run (%s); writing it would destroy the input", path, o->path);
    }
    RunFile *f = add_file(rf);
    f->path = copy_string(path);
    f->resolved = resolved;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->exists = 1;
    rf->n++;
    return 0;
}

int run_files_output(RunFiles *rf, const char *path, int flags, LzError *err) {
    if (!path || !*path) return lz_fail(err, "empty output file name");
    size_t len = strlen(path);
    if (path[len - 1] == '/') return lz_fail(err, "%s: output names a directory, not a file", path);
    struct stat st;
    int exists = lstat(path, &st) == 0;
    if (!exists && errno != ENOENT) return lz_fail(err, "%s: cannot check the output: %s", path, strerror(errno));
    if (exists && S_ISLNK(st.st_mode))
        return lz_fail(err, "%s: output is a symbolic link; refusing to replace it (name its target instead)", path);
    if (exists && !S_ISREG(st.st_mode))
        return lz_fail(err, "%s: output is %s; refusing to replace it", path, kind_of(st.st_mode));
    char *dir, *name;
    split_path(path, &dir, &name);
    if (!strcmp(name, ".") || !strcmp(name, "..")) {
        free(dir), free(name);
        return lz_fail(err, "%s: output names a directory, not a file", path);
    }
    if ((flags & RF_MKDIR) && lz_mkdir_p(dir, err)) {
        free(dir), free(name);
        return -1;
    }
    struct stat dst;
    int rc = 0;
    if (stat(dir, &dst) != 0)
        rc = lz_fail(err, "%s: output directory %s does not exist", path, dir);
    else if (!S_ISDIR(dst.st_mode))
        rc = lz_fail(err, "%s: %s is not a directory", path, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        rc = lz_fail(err, "%s: cannot write to directory %s: %s", path, dir, strerror(errno));
    free(dir);
    free(name);
    if (rc) return rc;
    char *resolved = resolve_output(path);
    if (!resolved) return lz_fail(err, "%s: cannot resolve the output's directory: %s", path, strerror(errno));
    const RunFile *o = same_file(rf, exists, st.st_dev, st.st_ino, resolved, 0);
    if (o) {
        free(resolved);
        if (o->output) return lz_fail(err, "%s: is given twice as an output of this run (also as %s)", path, o->path);
        return lz_fail(err, "%s: is also an input of this run (%s); writing it would destroy the input", path, o->path);
    }
    lz_clean_stale_temps(path);
    RunFile *f = add_file(rf);
    f->path = copy_string(path);
    f->resolved = resolved;
    f->exists = exists;
    if (exists) f->dev = st.st_dev, f->ino = st.st_ino;
    f->output = 1;
    f->flags = flags;
    rf->n++;
    return 0;
}

static void remove_staged(RunFiles *rf) {
    for (int i = 0; i < rf->n; i++)
        if (rf->files[i].staged) {
            unlink(rf->files[i].staged);
            free(rf->files[i].staged);
            rf->files[i].staged = NULL;
        }
}

static void deactivate(RunFiles *rf) {
    pthread_mutex_lock(&active_lock);
    if (active_run == rf) active_run = NULL;
    pthread_mutex_unlock(&active_lock);
    rf->active = 0;
}

// exit() before publication (a CLI error after work started): publish nothing.
static void abort_at_exit(void) {
    pthread_mutex_lock(&active_lock);
    RunFiles *rf = active_run;
    active_run = NULL;
    pthread_mutex_unlock(&active_lock);
    if (rf) remove_staged(rf);
}

void run_files_begin(RunFiles *rf) {
    pthread_mutex_lock(&active_lock);
    CHECK(!active_run || active_run == rf, "internal: two output sets active at once");
    active_run = rf;
    if (!atexit_registered) atexit(abort_at_exit), atexit_registered = 1;
    pthread_mutex_unlock(&active_lock);
    rf->active = 1;
}

int run_files_take_staged(const char *path, const char *tmp_path) {
    int took = 0;
    pthread_mutex_lock(&active_lock);
    RunFiles *rf = active_run;
    if (rf) {
        char *resolved = resolve_output(path);
        for (int i = 0; resolved && i < rf->n && !took; i++) {
            RunFile *f = &rf->files[i];
            if (!f->output || !(f->flags & RF_STAGED) || strcmp(f->resolved, resolved)) continue;
            if (f->staged) {  // written twice: the later file wins
                unlink(f->staged);
                free(f->staged);
            }
            f->staged = copy_string(tmp_path);
            took = 1;
        }
        free(resolved);
    }
    pthread_mutex_unlock(&active_lock);
    return took;
}

int run_files_publish(RunFiles *rf, LzError *err) {
    deactivate(rf);
    for (int i = 0; i < rf->n; i++) {
        const RunFile *f = &rf->files[i];
        if (f->output && (f->flags & RF_STAGED) && !f->staged) {
            remove_staged(rf);
            return lz_fail(err, "%s: internal: the run did not write this output", f->path);
        }
    }
    for (int i = 0; i < rf->n; i++) {
        RunFile *f = &rf->files[i];
        if (!f->staged) continue;
        if (rename(f->staged, f->path) != 0) {
            int e = errno;
            remove_staged(rf);
            return lz_fail(err, "%s: cannot publish the output: %s", f->path, strerror(e));
        }
        free(f->staged);
        f->staged = NULL;
        lz_fault_after_publish();
    }
    rf->published = 1;
    return 0;
}

void run_files_abort(RunFiles *rf) {
    deactivate(rf);
    remove_staged(rf);
}

void run_files_free(RunFiles *rf) {
    if (rf->active) run_files_abort(rf);
    remove_staged(rf);
    for (int i = 0; i < rf->n; i++) {
        free(rf->files[i].path);
        free(rf->files[i].resolved);
    }
    free(rf->files);
    memset(rf, 0, sizeof *rf);
}
