#include "analysis/report_plot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *report_gp_quote(char *buf, size_t cap, const char *text) {
    size_t o = 0;
    if (cap < 3) return "''";
    buf[o++] = '\'';
    for (const char *s = text; *s && o + 3 < cap; s++) {
        if (*s == '\'') buf[o++] = '\'';
        buf[o++] = *s;
    }
    buf[o++] = '\'';
    buf[o] = 0;
    return buf;
}

// Runs `gnuplot [-e fmt='svg'] NAME.gp` in the output directory.
static int run_gnuplot(const ReportPlot *p, const char *script, int svg, LzError *err) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return lz_fail(err, "%s/%s: cannot start gnuplot: %s", p->out_dir, script, strerror(errno));
    if (pid == 0) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0) dup2(fd, 0);
        if (chdir(p->out_dir) != 0) _exit(126);
        if (svg)
            execlp(p->gnuplot, p->gnuplot, "-e", "fmt='svg'", script, (char *)NULL);
        else
            execlp(p->gnuplot, p->gnuplot, script, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return lz_fail(err, "%s/%s: waiting for gnuplot: %s", p->out_dir, script, strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return lz_fail(err, "cannot run '%s' (install gnuplot-nox, or pass --no-render)", p->gnuplot);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return lz_fail(err, "%s/%s: gnuplot failed (%s %d) rendering %s", p->out_dir, script,
                       WIFEXITED(status) ? "exit status" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), svg ? "SVG" : "PNG");
    return 0;
}

int report_figure(const ReportPlot *p, const char *name, const char *about, const ReportText *data,
                  const ReportText *body, int width, int height, LzError *err) {
    char file[256];
    snprintf(file, sizeof file, "%s.dat", name);
    if (rt_write_file(data, p->out_dir, file, err)) return -1;
    ReportText gp;
    rt_init(&gp);
    rt_printf(&gp,
              "# %s.gp: written by `lazydit report` from the result database.\n"
              "# %s\n"
              "# Data: %s.dat (columns named at its top). Re-render in this directory:\n"
              "#   gnuplot %s.gp                   -> %s.png\n"
              "#   gnuplot -e \"fmt='svg'\" %s.gp    -> %s.svg\n"
              "if (!exists(\"fmt\")) fmt = \"png\"\n"
              "if (fmt eq \"svg\") {\n"
              "    set terminal svg size %d,%d enhanced font \"DejaVu Sans,12\" background \"white\"\n"
              "    set output \"%s.svg\"\n"
              "} else {\n"
              "    set terminal pngcairo size %d,%d enhanced font \"DejaVu Sans,11\" background \"white\"\n"
              "    set output \"%s.png\"\n"
              "}\n"
              "set encoding utf8\n"
              "datafile = \"%s.dat\"\n",
              name, about, name, name, name, name, name, width, height, name, width, height, name, name);
    rt_puts(&gp, body->s);
    rt_puts(&gp, "unset output\n");
    snprintf(file, sizeof file, "%s.gp", name);
    int rc = rt_write_file(&gp, p->out_dir, file, err);
    rt_free(&gp);
    if (rc) return -1;
    if (!p->render) return 0;
    return run_gnuplot(p, file, 0, err) || run_gnuplot(p, file, 1, err) ? -1 : 0;
}
