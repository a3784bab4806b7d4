#!/usr/bin/env bash
# Plots the default DiT's training: the loss curve (models/fmnist_dit_loss.csv,
# every 50 steps, with a 20-point moving average) and class consistency of EMA
# snapshots (models/fmnist_dit_consistency.csv: 300 samples, DDIM 50, cfg 1.5,
# seed 1) with the 0.80 bar. Writes docs/images/fmnist_dit_training.png.
set -euo pipefail
cd "$(dirname "$0")/.."
LOSS=${1:-models/fmnist_dit_loss.csv}
CONS=${2:-models/fmnist_dit_consistency.csv}
OUT=${3:-docs/images/fmnist_dit_training.png}
for f in "$LOSS" "$CONS"; do
    [ -f "$f" ] || { echo "plot_training: $f not found" >&2; exit 1; }
done
command -v gnuplot >/dev/null || { echo "plot_training: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 1; }
SMOOTH=$(mktemp)
trap 'rm -f "$SMOOTH"' EXIT
# moving average of the loss over the last 20 logged points (1000 steps),
# drawn once the window is full
awk -F, 'NR > 1 { i = (NR - 2) % 20; s += $2 - (NR > 21 ? b[i] : 0); b[i] = $2; c = (NR - 1 < 20 ? NR - 1 : 20); if (NR > 21) printf "%s,%.6f\n", $1, s / c }' \
    "$LOSS" >"$SMOOTH"
gnuplot <<GP
set terminal pngcairo size 1000,420 font ",10" noenhanced
set output "$OUT"
set datafile separator ","
set multiplot layout 1,2 title "default DiT (experiments/models/fmnist_dit.json): training"
set xlabel "step"
set ylabel "hybrid loss (MSE + VB)"
set logscale y
set grid
plot "$LOSS" every ::1 using 1:2 with lines lc rgb "#b0c4de" title "loss (every 50 steps)", \
     "$SMOOTH" using 1:2 with lines lw 2 lc rgb "#1f4e79" title "1000-step moving average"
unset logscale y
set ylabel "class consistency"
set yrange [0:1]
set xrange [0:*]
set key bottom right
plot "$CONS" every ::1 using 1:2 with linespoints pt 7 lw 2 lc rgb "#b22222" title "EMA snapshot (300 samples)", \
     0.8 with lines dt 2 lc rgb "black" title "bar 0.80"
unset multiplot
GP
echo "wrote $OUT"
