# fig_ablation_20steps.gp: written by `lazydit report` from the result database.
# Module ablation of LazyDiT at 20 steps.
# Data: fig_ablation_20steps.dat (columns named at its top). Re-render in this directory:
#   gnuplot fig_ablation_20steps.gp                   -> fig_ablation_20steps.png
#   gnuplot -e "fmt='svg'" fig_ablation_20steps.gp    -> fig_ablation_20steps.svg
if (!exists("fmt")) fmt = "png"
if (fmt eq "svg") {
    set terminal svg size 1200,520 enhanced font "DejaVu Sans,12" background "white"
    set output "fig_ablation_20steps.svg"
} else {
    set terminal pngcairo size 1200,520 enhanced font "DejaVu Sans,11" background "white"
    set output "fig_ablation_20steps.png"
}
set encoding utf8
datafile = "fig_ablation_20steps.dat"
set multiplot layout 1,2 title 'Module ablation of LazyDiT'
set ylabel "FID-proxy (lower is better; bars: 95% interval)"
set grid
set key below horizontal
set xrange [0:*]
set offsets 0, graph 0.05, 0, 0
full = 21.0565
set title '20 steps, against the module''s ratio'
set xlabel "lazy ratio of the lazy module(s) (% of that module's slots)"
plot \
  datafile index 0 using 1:3:4:5 with yerrorlines lt 1 pt 7 lw 2 title 'attention only', \
  datafile index 1 using 1:3:4:5 with yerrorlines lt 2 pt 7 lw 2 title 'MLP only', \
  datafile index 2 using 1:3:4:5 with yerrorlines lt 3 pt 7 lw 2 title 'both, equal ratios', \
  full with lines lt -1 dt 2 title 'DDIM-20 (full compute)', \
  1.1 * full with lines lt -1 dt 3 title 'collapse threshold (+10%)'
set title '20 steps, against the overall ratio'
set xlabel "overall lazy ratio (% of all attention and MLP slots)"
plot \
  datafile index 0 using 2:3:4:5 with yerrorlines lt 1 pt 7 lw 2 title 'attention only', \
  datafile index 1 using 2:3:4:5 with yerrorlines lt 2 pt 7 lw 2 title 'MLP only', \
  datafile index 2 using 2:3:4:5 with yerrorlines lt 3 pt 7 lw 2 title 'both, equal ratios', \
  full with lines lt -1 dt 2 title 'DDIM-20 (full compute)', \
  1.1 * full with lines lt -1 dt 3 title 'collapse threshold (+10%)'
unset multiplot
unset output
