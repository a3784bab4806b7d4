# fig_bound_20steps.gp: written by `lazydit report` from the result database.
# Lower bound 1 - alpha against measured 1 - cos, run ddim-s20/steps=20.
# Data: fig_bound_20steps.dat (columns named at its top). Re-render in this directory:
#   gnuplot fig_bound_20steps.gp                   -> fig_bound_20steps.png
#   gnuplot -e "fmt='svg'" fig_bound_20steps.gp    -> fig_bound_20steps.svg
if (!exists("fmt")) fmt = "png"
if (fmt eq "svg") {
    set terminal svg size 1300,600 enhanced font "DejaVu Sans,12" background "white"
    set output "fig_bound_20steps.svg"
} else {
    set terminal pngcairo size 1300,600 enhanced font "DejaVu Sans,11" background "white"
    set output "fig_bound_20steps.png"
}
set encoding utf8
datafile = "fig_bound_20steps.dat"
set multiplot layout 1,2 title 'Similarity lower bound cos >= 1 - alpha against the measured similarity'
set xlabel "sampling step (execution order; 0 = noisiest)"
set ylabel "1 - cos (solid: measured; dashed: bound's alpha)"
set logscale y
set format y "10^{%L}"
set grid
set key below horizontal maxrows 2
set xrange [1:19]
set title 'attention, 20 steps'
plot \
  datafile index 0 using 1:3 with lines lt 1 lw 2 title 'block 0', \
  datafile index 0 using 1:2 with lines lt 1 lw 1.5 dt 2 notitle, \
  datafile index 1 using 1:3 with lines lt 2 lw 2 title 'block 1', \
  datafile index 1 using 1:2 with lines lt 2 lw 1.5 dt 2 notitle, \
  datafile index 2 using 1:3 with lines lt 3 lw 2 title 'block 2', \
  datafile index 2 using 1:2 with lines lt 3 lw 1.5 dt 2 notitle, \
  datafile index 3 using 1:3 with lines lt 4 lw 2 title 'block 3', \
  datafile index 3 using 1:2 with lines lt 4 lw 1.5 dt 2 notitle, \
  datafile index 4 using 1:3 with lines lt 5 lw 2 title 'block 4', \
  datafile index 4 using 1:2 with lines lt 5 lw 1.5 dt 2 notitle, \
  datafile index 5 using 1:3 with lines lt 6 lw 2 title 'block 5', \
  datafile index 5 using 1:2 with lines lt 6 lw 1.5 dt 2 notitle, \
  2 with lines lt -1 lw 1 dt 3 title 'alpha = 2: vacuous above'
set title 'MLP, 20 steps'
plot \
  datafile index 6 using 1:3 with lines lt 1 lw 2 title 'block 0', \
  datafile index 6 using 1:2 with lines lt 1 lw 1.5 dt 2 notitle, \
  datafile index 7 using 1:3 with lines lt 2 lw 2 title 'block 1', \
  datafile index 7 using 1:2 with lines lt 2 lw 1.5 dt 2 notitle, \
  datafile index 8 using 1:3 with lines lt 3 lw 2 title 'block 2', \
  datafile index 8 using 1:2 with lines lt 3 lw 1.5 dt 2 notitle, \
  datafile index 9 using 1:3 with lines lt 4 lw 2 title 'block 3', \
  datafile index 9 using 1:2 with lines lt 4 lw 1.5 dt 2 notitle, \
  datafile index 10 using 1:3 with lines lt 5 lw 2 title 'block 4', \
  datafile index 10 using 1:2 with lines lt 5 lw 1.5 dt 2 notitle, \
  datafile index 11 using 1:3 with lines lt 6 lw 2 title 'block 5', \
  datafile index 11 using 1:2 with lines lt 6 lw 1.5 dt 2 notitle, \
  2 with lines lt -1 lw 1 dt 3 title 'alpha = 2: vacuous above'
unset multiplot
unset output
