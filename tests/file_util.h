// file_util.h: scratch directories and whole-file helpers for the I/O tests
// (test_npy.c, test_safetensors.c). Each test binary works in its own fresh
// directory under $TEST_TMP (or /tmp when run by hand) and removes it at exit.
#pragma once
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char test_dir[1024];

static inline void test_dir_make(const char *tag) {
    const char *base = getenv("TEST_TMP");
    snprintf(test_dir, sizeof test_dir, "%s/%s_XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(test_dir)) {
        perror(test_dir);
        exit(1);
    }
}

// Path of `name` inside the scratch directory, in one of a few rotating buffers
// so that a call can take two or three of them.
static inline const char *test_path(const char *name) {
    static char bufs[4][1280];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", test_dir, name);
    return b;
}

static inline int file_write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

// Whole file into a malloc'd buffer (*n bytes), NULL if unreadable.
static inline unsigned char *file_read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    unsigned char *p = malloc(cap);
    for (size_t r; p && (r = fread(p + len, 1, cap - len, f)) > 0;) {
        len += r;
        if (len == cap) p = realloc(p, cap *= 2);
    }
    fclose(f);
    *n = len;
    return p;
}

static inline int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

// Entries of a directory other than . and .. (-1 if it cannot be opened).
static inline int dir_count(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

// Removes the scratch directory, its files and (empty or not) subdirectories one level down.
static inline void test_dir_remove(void) {
    DIR *d = opendir(test_dir);
    if (!d) return;
    char p[2048];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", test_dir, e->d_name);
        if (unlink(p) != 0) {
            DIR *sub = opendir(p);
            char q[3072];
            for (struct dirent *s; sub && (s = readdir(sub));) {
                snprintf(q, sizeof q, "%s/%s", p, s->d_name);
                unlink(q);
            }
            if (sub) closedir(sub);
            rmdir(p);
        }
    }
    closedir(d);
    rmdir(test_dir);
}
