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
set logscale x
set xrange [0.5073:6.759]
set xtics ("1" 1, "2" 2, "5" 5)
set logscale y
plot \
  datafile index 0 using 1:2:3:4 with yerrorbars lt 1 pt 5 ps 1.2 title 'DDIM', \
  datafile index 8 using 1:2 with lines lt 1 lw 1.5 notitle, \
  datafile index 1 using 1:2:3:4 with yerrorbars lt 2 pt 7 ps 1.2 title 'FORA', \
  datafile index 9 using 1:2 with lines lt 2 lw 1.5 notitle, \
  datafile index 2 using 1:2:3:4 with yerrorbars lt 3 pt 9 ps 1.2 title 'L2C', \
  datafile index 10 using 1:2 with lines lt 3 lw 1.5 notitle, \
  datafile index 3 using 1:2:3:4 with yerrorbars lt 4 pt 11 ps 1.2 title 'LazyDiT', \
  datafile index 11 using 1:2 with lines lt 4 lw 1.5 notitle, \
  datafile index 4 using 1:2:3:4 with yerrorbars lt 5 pt 5 ps 1.2 title 'Oracle', \
  datafile index 12 using 1:2 with lines lt 5 lw 1.5 notitle, \
  datafile index 5 using 1:2:3:4 with yerrorbars lt 6 pt 7 ps 1.2 title 'Random', \
  datafile index 13 using 1:2 with lines lt 6 lw 1.5 notitle, \
  datafile index 6 using 1:2:3:4 with yerrorbars lt 7 pt 9 ps 1.2 title 'SmoothCache', \
  datafile index 14 using 1:2 with lines lt 7 lw 1.5 notitle, \
  datafile index 7 using 1:2:3:4 with yerrorbars lt 8 pt 11 ps 1.2 title 'TeaCache', \
  datafile index 15 using 1:2 with lines lt 8 lw 1.5 notitle, \
  datafile index 0 using 1:2:(sprintf("%d", $5)) with labels offset 0,0.9 font ",9" notitle
unset output
