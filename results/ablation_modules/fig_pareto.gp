# fig_pareto.gp: written by `lazydit report` from the result database.
# FID-proxy against executed MACs per sample, one series per policy.
# Data: fig_pareto.dat (columns named at its top). Re-render in this directory:
#   gnuplot fig_pareto.gp                   -> fig_pareto.png
#   gnuplot -e "fmt='svg'" fig_pareto.gp    -> fig_pareto.svg
if (!exists("fmt")) fmt = "png"
if (fmt eq "svg") {
    set terminal svg size 1000,650 enhanced font "DejaVu Sans,12" background "white"
    set output "fig_pareto.svg"
} else {
    set terminal pngcairo size 1000,650 enhanced font "DejaVu Sans,11" background "white"
    set output "fig_pareto.png"
}
set encoding utf8
datafile = "fig_pareto.dat"
set title "FID-proxy against executed compute, every policy"
set xlabel "executed MACs per sample (GMAC; linear and conv layers, both CFG rows, gates included)"
set ylabel "FID-proxy (lower is better; bars: 95% interval)"
set grid
set key top right box opaque
set offsets graph 0.05, graph 0.05, 0, 0
plot \
  datafile index 0 using 1:2:3:4 with yerrorbars lt 1 pt 5 ps 1.2 title 'DDIM', \
  datafile index 4 using 1:2 with lines lt 1 lw 1.5 notitle, \
  datafile index 1 using 1:2:3:4 with yerrorbars lt 2 pt 7 ps 1.2 title 'LazyDiT (attention only)', \
  datafile index 5 using 1:2 with lines lt 2 lw 1.5 notitle, \
  datafile index 2 using 1:2:3:4 with yerrorbars lt 3 pt 9 ps 1.2 title 'LazyDiT', \
  datafile index 6 using 1:2 with lines lt 3 lw 1.5 notitle, \
  datafile index 3 using 1:2:3:4 with yerrorbars lt 4 pt 11 ps 1.2 title 'LazyDiT (MLP only)', \
  datafile index 7 using 1:2 with lines lt 4 lw 1.5 notitle, \
  datafile index 0 using 1:2:(sprintf("%d", $5)) with labels offset 0,0.9 font ",9" notitle
unset output
