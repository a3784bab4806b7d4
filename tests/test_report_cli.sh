#!/usr/bin/env bash
# lazydit report on the fixture database: the main table on stdout, --no-render,
# a figure re-rendered by hand from its .gp script gives the same bytes, the
# pngcairo terminal exists, and one-line errors (exit 1; usage errors exit 2).
set -u
source "$(dirname "$0")/shell_lib.sh"
PY=${PYTHON:-/usr/bin/python3}
T="$TEST_TMP/report_cli"
rm -rf "$T"
mkdir -p "$T"

if echo 'set terminal pngcairo' | gnuplot 2>/dev/null; then
    pass report_gnuplot_pngcairo
else
    fail report_gnuplot_pngcairo "gnuplot lacks the pngcairo terminal (Debian gnuplot-nox has it)"
fi

"$LAZYDIT_BUILD/tests/test_report" --fixture "$T/f.db" || fail report_fixture "cannot build the fixture"

out=$("$LAZYDIT" report "$T/f.db" --out "$T/out" 2>"$T/err")
rc=$?
if [ $rc -eq 0 ] && grep -q '^| DDIM | 10 | 0.0% | 1.444 | 26.60 \[25.54, 27.66\]' <<<"$out" &&
    grep -q '^| LazyDiT | 20 | 50.0% | 1.736 | \*\*22.40\*\* \[21.50, 23.30\]' <<<"$out" && [ -f "$T/out/REPORT.md" ]; then
    pass report_cli_prints_main_table
else
    fail report_cli_prints_main_table "rc $rc; stdout: $(head -c 300 <<<"$out"); stderr: $(head -c 300 "$T/err")"
fi

# A reader re-renders a figure from the files next to it.
cp "$T/out/fig_pareto.png" "$T/pareto_before.png"
cp "$T/out/fig_pareto.svg" "$T/pareto_before.svg"
if (cd "$T/out" && gnuplot fig_pareto.gp && gnuplot -e "fmt='svg'" fig_pareto.gp) 2>"$T/err" &&
    cmp -s "$T/out/fig_pareto.png" "$T/pareto_before.png" && cmp -s "$T/out/fig_pareto.svg" "$T/pareto_before.svg"; then
    pass report_figure_rerenders
else
    fail report_figure_rerenders "re-running fig_pareto.gp in the output directory changed the figure: $(head -c 300 "$T/err")"
fi

"$LAZYDIT" report "$T/f.db" --out "$T/norender" --no-render --quiet >"$T/stdout" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$T/stdout" ] && [ -f "$T/norender/fig_pareto.gp" ] && [ -f "$T/norender/fig_pareto.dat" ] &&
    [ ! -e "$T/norender/fig_pareto.png" ] && cmp -s "$T/norender/REPORT.md" "$T/out/REPORT.md"; then
    pass report_cli_no_render
else
    fail report_cli_no_render "rc $rc: --no-render --quiet should write scripts and data only, print nothing, same REPORT.md"
fi

# PSNR is +inf for a full-compute run scored against itself (the demo's DDIM-20):
# the report takes it; an infinite FID is refused.
cp "$T/f.db" "$T/inf.db"
"$PY" -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); r = c.execute('SELECT min(run_id) FROM runs').fetchone()[0]
c.execute(\"INSERT OR REPLACE INTO metrics (run_id, name, value, ci_low, ci_high, n) VALUES (?, 'psnr', 9e999, 9e999, 9e999, 10)\", (r,)); c.commit()" "$T/inf.db"
if "$LAZYDIT" report "$T/inf.db" --out "$T/inf" --no-render --quiet 2>"$T/err" && grep -q "PSNR" "$T/inf/REPORT.md"; then
    pass report_psnr_infinite_accepted
else
    fail report_psnr_infinite_accepted "$(head -c 300 "$T/err")"
fi
cp "$T/f.db" "$T/inffid.db"
"$PY" -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE metrics SET value = 9e999 WHERE name = 'fid'\"); c.commit()" "$T/inffid.db"
expect_fail report_fid_infinite_refused "metric fid is not finite" "$LAZYDIT" report "$T/inffid.db" --out "$T/o_inf"

echo "not a database" >"$T/junk.db"
cp "$T/f.db" "$T/v2.db"
"$PY" -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA user_version = 2'); c.commit()" "$T/v2.db"
expect_fail report_missing_db '^lazydit report: .*/nope\.db: cannot open' "$LAZYDIT" report "$T/nope.db" --out "$T/o1"
expect_fail report_not_sqlite '^lazydit report: .*junk\.db: ' "$LAZYDIT" report "$T/junk.db" --out "$T/o2"
expect_fail report_schema_version '^lazydit report: .*v2\.db: schema version 2, this report reads version 1' \
    "$LAZYDIT" report "$T/v2.db" --out "$T/o3"
expect_fail report_no_gnuplot "^lazydit report: cannot run '/nonexistent/gnuplot'" \
    "$LAZYDIT" report "$T/f.db" --out "$T/o4" --gnuplot /nonexistent/gnuplot --quiet
expect_fail report_bad_paper_csv '^lazydit report: .*junk\.db: line 1: header must be' \
    "$LAZYDIT" report "$T/f.db" --out "$T/o5" --paper-tables "$T/junk.db" --quiet
"$LAZYDIT" report "$T/f.db" >/dev/null 2>&1
rc=$?
[ $rc -eq 2 ] && pass report_usage_exit_2 || fail report_usage_exit_2 "missing --out exited $rc, expected 2"
"$LAZYDIT" report "$T/f.db" --out "$T/o8" --paired-resamples 1 >/dev/null 2>"$T/pr.err"
rc=$?
[ $rc -eq 2 ] && grep -q -- "--paired-resamples 1: give 0 (off) or at least 2" "$T/pr.err" &&
    pass report_paired_resamples_usage || fail report_paired_resamples_usage "exit $rc: $(head -c 200 "$T/pr.err")"
mkfifo "$T/fifo.db"
expect_fail report_fifo_db '^lazydit report: .*fifo\.db: ' timeout 10 "$LAZYDIT" report "$T/fifo.db" --out "$T/o6"
mkdir -p "$T/o7"
ln -sf "$T/elsewhere.md" "$T/o7/REPORT.md"
expect_fail report_symlink_output '^lazydit report: .*o7/REPORT\.md: ' "$LAZYDIT" report "$T/f.db" --out "$T/o7" --quiet
