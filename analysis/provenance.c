// provenance.c: run provenance (see provenance.h).
#include "analysis/provenance.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/base/parallel.h"

extern char *openblas_get_corename(void);
extern int openblas_get_num_threads(void);

static char git_rev[64];
static pthread_once_t git_once = PTHREAD_ONCE_INIT;

static void find_git_rev(void) {
    char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) return;
    dir[n] = 0;
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) return;
        *slash = 0;
        char probe[PATH_MAX + 8];
        snprintf(probe, sizeof probe, "%s/.git", dir);
        if (access(probe, F_OK) == 0) break;
    }
    // Single-quote the directory for the shell ('\'' for quotes inside).
    char cmd[3 * PATH_MAX + 96], *o = cmd;
    o += sprintf(o, "git -C '");
    for (const char *c = dir; *c; c++) {
        if (*c == '\'') o += sprintf(o, "'\\''");
        else *o++ = *c;
    }
    sprintf(o, "' describe --always --dirty 2>/dev/null");
    FILE *f = popen(cmd, "r");
    if (!f) return;
    char line[64] = "";
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        snprintf(git_rev, sizeof git_rev, "%s", line);
    }
    if (pclose(f) != 0) git_rev[0] = 0;
}

void provenance_get(Provenance *p) {
    memset(p, 0, sizeof *p);
    pthread_once(&git_once, find_git_rev);
    snprintf(p->git_rev, sizeof p->git_rev, "%s", git_rev);
    if (gethostname(p->host, sizeof p->host - 1) != 0) p->host[0] = 0;
    const char *core = openblas_get_corename();
    snprintf(p->blas_core, sizeof p->blas_core, "%s, %d threads", core ? core : "unknown", openblas_get_num_threads());
    p->threads = parallel_threads();
}

void provenance_utc_now(char buf[32]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
