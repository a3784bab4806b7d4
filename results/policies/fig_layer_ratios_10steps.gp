# fig_layer_ratios_10steps.gp: written by `lazydit report` from the result database.
# Per-layer lazy ratios of attention and MLP, LazyDiT at 10 steps.
# Data: fig_layer_ratios_10steps.dat (columns named at its top). Re-render in this directory:
#   gnuplot fig_layer_ratios_10steps.gp                   -> fig_layer_ratios_10steps.png
#   gnuplot -e "fmt='svg'" fig_layer_ratios_10steps.gp    -> fig_layer_ratios_10steps.svg
if (!exists("fmt")) fmt = "png"
if (fmt eq "svg") {
    set terminal svg size 1200,480 enhanced font "DejaVu Sans,12" background "white"
    set output "fig_layer_ratios_10steps.svg"
} else {
    set terminal pngcairo size 1200,480 enhanced font "DejaVu Sans,11" background "white"
    set output "fig_layer_ratios_10steps.png"
}
set encoding utf8
datafile = "fig_layer_ratios_10steps.dat"
set multiplot layout 1,2 title 'Per-layer lazy ratios of LazyDiT'
set xlabel "block (layer index, input side first)"
set ylabel "lazy ratio of the module (% of model rows x steps)"
set xrange [-0.3:5.3]
set xtics 1
set yrange [0:100]
set grid
set key top left box opaque
set title 'attention (MHSA), 10 steps'
plot \
  datafile index 0 using 1:2 with linespoints lt 1 pt 7 lw 2 title '20% overall', \
  datafile index 1 using 1:2 with linespoints lt 2 pt 7 lw 2 title '30% overall', \
  datafile index 2 using 1:2 with linespoints lt 3 pt 7 lw 2 title '40% overall', \
  datafile index 3 using 1:2 with linespoints lt 4 pt 7 lw 2 title '49% overall'
set title 'MLP, 10 steps'
plot \
  datafile index 0 using 1:3 with linespoints lt 1 pt 7 lw 2 title '20% overall', \
  datafile index 1 using 1:3 with linespoints lt 2 pt 7 lw 2 title '30% overall', \
  datafile index 2 using 1:3 with linespoints lt 3 pt 7 lw 2 title '40% overall', \
  datafile index 3 using 1:3 with linespoints lt 4 pt 7 lw 2 title '49% overall'
unset multiplot
unset output
