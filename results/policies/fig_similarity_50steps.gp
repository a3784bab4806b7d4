# fig_similarity_50steps.gp: written by `lazydit report` from the result database.
# Consecutive-step cosine similarity, step x layer, run ddim-s50/steps=50.
# Data: fig_similarity_50steps.dat (columns named at its top). Re-render in this directory:
#   gnuplot fig_similarity_50steps.gp                   -> fig_similarity_50steps.png
#   gnuplot -e "fmt='svg'" fig_similarity_50steps.gp    -> fig_similarity_50steps.svg
if (!exists("fmt")) fmt = "png"
if (fmt eq "svg") {
    set terminal svg size 1300,450 enhanced font "DejaVu Sans,12" background "white"
    set output "fig_similarity_50steps.svg"
} else {
    set terminal pngcairo size 1300,450 enhanced font "DejaVu Sans,11" background "white"
    set output "fig_similarity_50steps.png"
}
set encoding utf8
datafile = "fig_similarity_50steps.dat"
set multiplot layout 1,2 title 'Consecutive-step similarity of module outputs (full compute)'
set xlabel "sampling step (execution order; 0 = noisiest)"
set ylabel "block (layer index)"
set cblabel "1 - cos (log scale)"
set rmargin 16
set logscale cb
set cbrange [1e-06:1]
set format cb "10^{%L}"
set palette defined (0 "#fde725", 0.25 "#5ec962", 0.5 "#21918c", 0.75 "#3b528b", 1 "#440154")
set xrange [0.5:49.5]
set yrange [-0.5:5.5]
set ytics 1
set tics out
set title 'attention, 50 steps'
plot datafile index 0 using 1:2:4 with image notitle
set title 'MLP, 50 steps'
plot datafile index 1 using 1:2:4 with image notitle
unset multiplot
unset output
