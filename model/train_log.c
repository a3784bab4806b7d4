// train_log.c: progress lines and the loss CSV of a training run (see train_log.h).
#include "model/train_log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/base/clock.h"
#include "model/io/atomic_file.h"
#include "model/io/file_rules.h"

// Writes the CSV atomically: the header, then (when resuming) the complete rows
// of steps 1..resume_step of the existing file. A row is complete when it ends
// in a newline and has the header's number of fields, so a row torn by a kill
// is dropped. A fresh CSV thus appears with its header in place, and a kill
// right after the start never leaves it empty or headerless.
static int write_header_and_rows_up_to(const char *path, const char *header, long resume_step, LzError *err) {
    struct stat st;
    LzError open_err;
    FILE *old = resume_step > 0 ? lz_fopen_input(path, &st, &open_err) : NULL;  // NULL: nothing to keep
    int fields = 1;
    for (const char *p = header; *p; p++) fields += *p == ',';
    AtomicFile af;
    if (atomic_open(&af, path, err)) {
        if (old) fclose(old);
        return -1;
    }
    atomic_write(&af, header, strlen(header));
    atomic_write(&af, "\n", 1);
    char line[1024];
    while (old && fgets(line, sizeof line, old)) {
        size_t n = strlen(line);
        int commas = 0;
        for (size_t i = 0; i < n; i++) commas += line[i] == ',';
        long s;
        char *end;
        s = strtol(line, &end, 10);
        if (n && line[n - 1] == '\n' && commas + 1 == fields && end != line && *end == ',' && s >= 1 &&
            s <= resume_step)
            atomic_write(&af, line, n);
    }
    if (old) fclose(old);
    return atomic_commit(&af, err);
}

int train_log_open(TrainLog *l, const char *csv_path, const char *header, long resume_step, long total_steps,
                   const char *unit, int progress, LzError *err) {
    memset(l, 0, sizeof *l);
    l->progress = progress;
    l->tty = isatty(2);
    l->unit = unit;
    l->total_steps = total_steps;
    l->t_open = l->t_window = lz_now_seconds();
    l->window_start_step = resume_step;
    if (!csv_path) return 0;
    l->csv_path = lz_malloc(strlen(csv_path) + 1, "loss CSV path");  // any length: no fixed buffer
    strcpy(l->csv_path, csv_path);
    if (write_header_and_rows_up_to(csv_path, header, resume_step, err)) return -1;
    l->csv = fopen(csv_path, "a");
    if (!l->csv) return lz_fail(err, "%s: cannot open the loss CSV (%s)", csv_path, strerror(errno));
    return 0;
}

void train_log_add(TrainLog *l, const double *values, int n, long items) {
    CHECK(n >= 0 && n <= TRAIN_LOG_MAX_VALUES && (l->window_steps == 0 || n == l->nvalues),
          "train log: %d values per step (at most %d, the same every step)", n, TRAIN_LOG_MAX_VALUES);
    l->nvalues = n;
    for (int i = 0; i < n; i++) l->sum[i] += values[i];
    l->window_steps++;
    l->window_items += items;
}

TrainWindow train_log_window(TrainLog *l, long step) {
    TrainWindow w;
    memset(&w, 0, sizeof w);
    double t = lz_now_seconds(), dt = t - l->t_window;
    w.steps = l->window_steps;
    for (int i = 0; i < l->nvalues; i++) {
        w.sum[i] = l->sum[i];
        w.mean[i] = w.steps ? l->sum[i] / (double)w.steps : 0;
    }
    w.items_per_s = dt > 1e-9 ? (double)l->window_items / dt : 0;
    w.elapsed_s = t - l->t_open;
    long done = step - l->window_start_step;
    w.eta_s = done > 0 ? dt / (double)done * (double)(l->total_steps - step) : 0;
    if (w.eta_s < 0) w.eta_s = 0;
    memset(l->sum, 0, sizeof l->sum);
    l->window_steps = l->window_items = 0;
    l->t_window = t;
    l->window_start_step = step;
    l->last = w;
    return w;
}

void train_log_csv(TrainLog *l, const char *fmt, ...) {
    if (!l->csv) return;
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(l->csv, fmt, ap) < 0 || fputc('\n', l->csv) == EOF || fflush(l->csv)) l->write_failed = 1;
    va_end(ap);
}

void train_log_progress(TrainLog *l, const char *fmt, ...) {
    if (!l->progress) return;
    char e1[32], e2[32];
    if (l->tty) fputc('\r', stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " %.1f %s elapsed %s ETA %s%s", l->last.items_per_s, l->unit,
            train_log_duration(l->last.elapsed_s, e1, sizeof e1), train_log_duration(l->last.eta_s, e2, sizeof e2),
            l->tty ? "   " : "\n");
    l->line_open = l->tty;
    fflush(stderr);
}

void train_log_note(TrainLog *l, const char *fmt, ...) {
    if (!l->progress) return;
    if (l->line_open) fputc('\n', stderr);
    l->line_open = 0;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double train_log_elapsed(const TrainLog *l) { return lz_now_seconds() - l->t_open; }

int train_log_close(TrainLog *l, LzError *err) {
    if (l->line_open) fputc('\n', stderr);
    l->line_open = 0;
    int rc = 0;
    if (l->csv) {
        if (fclose(l->csv) || l->write_failed) rc = lz_fail(err, "%s: writing the loss CSV failed", l->csv_path);
        l->csv = NULL;
    }
    free(l->csv_path);
    l->csv_path = NULL;
    return rc;
}

const char *train_log_duration(double s, char *buf, size_t len) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    return buf;
}
