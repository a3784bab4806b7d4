// train_log.h: the progress lines and the loss CSV of a training run, one
// implementation for DiT training (model/dit_train_job.c) and classifier
// training (model/classifier_train.c).
//
// A loop calls train_log_add after every optimizer step with that step's
// values (e.g. loss, accuracy) and the images it consumed. At a log point
// train_log_window closes the window since the last one: the mean of each
// value, the throughput, the elapsed time and the ETA (remaining steps at the
// window's rate). The loop then writes its CSV row (train_log_csv) and its
// progress line (train_log_progress, which appends "<rate> <unit>/s elapsed
// <t> ETA <t>"). On a terminal the progress line is redrawn in place; in a
// log file every line stays.
//
// The CSV is created with its header line; a resumed run (resume_step > 0)
// keeps the rows of steps <= resume_step of an existing file and drops the
// later ones (written before an interruption), so the curve of a resumed run
// equals that of an uninterrupted one. Rows are flushed as written; a write
// error is remembered and reported by train_log_close.
#pragma once
#include <stdio.h>

#include "model/base/check.h"

#define TRAIN_LOG_MAX_VALUES 8

typedef struct {
    double sum[TRAIN_LOG_MAX_VALUES];   // window sums of the values passed to train_log_add
    double mean[TRAIN_LOG_MAX_VALUES];  // and their means over the window's steps
    long steps;                         // steps in the window
    double items_per_s;                 // images per second over the window
    double elapsed_s;                   // since train_log_open
    double eta_s;                       // remaining steps at the window's rate
} TrainWindow;

typedef struct {
    FILE *csv;               // NULL without a CSV
    char *csv_path;          // owned; NULL without a CSV
    int write_failed;
    int progress;            // print progress lines on stderr
    int tty;                 // stderr is a terminal: redraw the line in place
    int line_open;           // a redrawn line is on the terminal without its newline
    const char *unit;        // "img/s", "samples/s"
    long total_steps;        // for the ETA
    double t_open, t_window;
    long window_start_step;
    double sum[TRAIN_LOG_MAX_VALUES];
    int nvalues;
    long window_steps, window_items;
    TrainWindow last;        // the last closed window (train_log_progress's suffix)
} TrainLog;

// csv_path may be NULL (no CSV). header is the CSV's first line without the
// newline. Errors: the file cannot be created or rewritten.
int train_log_open(TrainLog *l, const char *csv_path, const char *header, long resume_step, long total_steps,
                   const char *unit, int progress, LzError *err);
// One step: n values (n <= TRAIN_LOG_MAX_VALUES, the same n every step) and the images it used.
void train_log_add(TrainLog *l, const double *values, int n, long items);
// Closes the window ending after step `step` (steps done so far) and starts the next.
TrainWindow train_log_window(TrainLog *l, long step);
// Appends one CSV row (fmt without the newline) and flushes.
void train_log_csv(TrainLog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// One progress line on stderr: fmt, then the last window's rate, elapsed time and ETA.
void train_log_progress(TrainLog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// A line of its own on stderr (epoch summaries, resume notes), after any redrawn line.
void train_log_note(TrainLog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Seconds since train_log_open.
double train_log_elapsed(const TrainLog *l);
// Closes the CSV; -1 if any row could not be written.
int train_log_close(TrainLog *l, LzError *err);
// "1h02m" (an hour or more) or "3m05s".
const char *train_log_duration(double seconds, char *buf, size_t len);
