// atomic_file.c: temporary + fsync + rename (see atomic_file.h); temporaries
// are named and cleaned by the rules of model/io/file_rules.h.
#include "model/io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/io/file_rules.h"

// Distinguishes temporaries made by concurrent writers in one process; O_EXCL
// below settles any remaining clash (another process, a stale file).
static atomic_uint tmp_counter;

static atomic_long published_count;

void lz_fault_after_publish(void) {
    const char *v = getenv("LAZYDIT_FAULT_KILL_AFTER");
    if (!v || !*v) return;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < 1) {
        static atomic_int warned;
        if (!atomic_exchange(&warned, 1))
            fprintf(stderr, "LAZYDIT_FAULT_KILL_AFTER=%.40s: not a positive integer; ignored\n", v);
        return;
    }
    if (atomic_fetch_add(&published_count, 1) + 1 == n) raise(SIGKILL);
}

int atomic_open(AtomicFile *af, const char *path, LzError *err) {
    memset(af, 0, sizeof *af);
    af->path = path;
    // The target itself: never replace a device, a directory or a symlink's target.
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return lz_fail(err, "%s: exists and is not a regular file (%s); refusing to replace it", path,
                       S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISDIR(st.st_mode) ? "a directory" : "a special file");
    lz_clean_stale_temps(path);
    int fd = -1, saved = 0;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        free(af->tmp_path);
        af->tmp_path = lz_temp_name(path, atomic_fetch_add(&tmp_counter, 1));
        // 0666 and the umask give the permissions a plain fopen would have.
        fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        saved = errno;
        if (fd < 0 && saved != EEXIST) break;
    }
    if (fd < 0) {
        free(af->tmp_path);
        af->tmp_path = NULL;
        return lz_fail(err, "%s: cannot create a temporary file next to it: %s", path, strerror(saved));
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        saved = errno;
        close(fd);
        unlink(af->tmp_path);
        free(af->tmp_path);
        af->tmp_path = NULL;
        return lz_fail(err, "%s: cannot open the temporary file: %s", path, strerror(saved));
    }
    return 0;
}

void atomic_write(AtomicFile *af, const void *data, size_t n) {
    if (af->write_errno || n == 0) return;
    errno = 0;
    if (fwrite(data, 1, n, af->f) != n) af->write_errno = errno ? errno : EIO;
}

void atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp_path) {
        unlink(af->tmp_path);
        free(af->tmp_path);
    }
    af->tmp_path = NULL;
}

int atomic_commit(AtomicFile *af, LzError *err) {
    int e = af->write_errno;
    const char *step = "write";
    // fsync before rename: otherwise a crash can leave the new name pointing
    // at a file whose data never reached the disk.
    if (!e && fflush(af->f) != 0) e = errno, step = "flush";
    if (!e && fsync(fileno(af->f)) != 0) e = errno, step = "fsync";
    if (!e) {
        int rc = fclose(af->f);
        af->f = NULL;
        if (rc != 0) e = errno, step = "close";
    }
    // A staged output of the active run keeps its temporary until the run publishes it.
    if (!e && run_files_take_staged(af->path, af->tmp_path)) {
        free(af->tmp_path);
        af->tmp_path = NULL;
        return 0;
    }
    if (!e && rename(af->tmp_path, af->path) != 0) e = errno, step = "rename";
    if (e) {
        atomic_abort(af);
        return lz_fail(err, "%s: %s failed: %s", af->path, step, strerror(e));
    }
    free(af->tmp_path);
    af->tmp_path = NULL;
    lz_fault_after_publish();
    return 0;
}

int lz_mkdir_p(const char *dir, LzError *err) {
    size_t len = strlen(dir);
    if (len == 0) return lz_fail(err, "empty directory name");
    char *path = lz_malloc(len + 1, "directory name");
    memcpy(path, dir, len + 1);
    int rc = 0;
    for (size_t i = 1; i <= len && !rc; i++) {
        if (path[i] != '/' && path[i] != 0) continue;
        char saved = path[i];
        path[i] = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            rc = lz_fail(err, "%s: cannot create directory: %s", path, strerror(errno));
        path[i] = saved;
    }
    free(path);
    if (rc) return rc;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return lz_fail(err, "%s: not a directory", dir);
    return 0;
}
