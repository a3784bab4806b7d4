# fig_lipschitz_50steps.gp: written by `lazydit report` from the result database.
# Measured Lipschitz ratio against the theory's constant, run ddim-s50/steps=50.
# Data: fig_lipschitz_50steps.dat (columns named at its top). Re-render in this directory:
#   gnuplot fig_lipschitz_50steps.gp                   -> fig_lipschitz_50steps.png
#   gnuplot -e "fmt='svg'" fig_lipschitz_50steps.gp    -> fig_lipschitz_50steps.svg
if (!exists("fmt")) fmt = "png"
if (fmt eq "svg") {
    set terminal svg size 1000,560 enhanced font "DejaVu Sans,12" background "white"
    set output "fig_lipschitz_50steps.svg"
} else {
    set terminal pngcairo size 1000,560 enhanced font "DejaVu Sans,11" background "white"
    set output "fig_lipschitz_50steps.png"
}
set encoding utf8
datafile = "fig_lipschitz_50steps.dat"
set title "Measured Lipschitz ratio |dY| / |dZ| against the theory's constant C, 50 steps"
set xlabel "block (layer index, input side first)"
set ylabel "|Y_t - Y_{t-1}| / |Z_t - Z_{t-1}| (log scale)"
set logscale y
set format y "10^{%L}"
set grid
set key below horizontal
set xrange [-0.5:5.5]
set xtics 1
plot datafile index 0 using 1:2:3:4 with yerrorlines lt 1 pt 7 lw 2 title 'attention, measured (median, range over steps)', \
  datafile index 1 using 1:2:3:4 with yerrorlines lt 2 pt 5 lw 2 title 'MLP, measured (median, range over steps)', \
  datafile index 0 using 1:5 with linespoints lt 1 dt 2 pt 6 title 'attention, theory C = 5 R^4 N D', \
  datafile index 1 using 1:5 with linespoints lt 2 dt 2 pt 4 title 'MLP, theory C = R'
unset output
