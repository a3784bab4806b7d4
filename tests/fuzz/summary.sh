#!/usr/bin/env bash
# One Markdown table row per target from results/fuzz/<target>.log (campaign.sh):
# executions, wall time, coverage (edges), features, corpus size, crashes.
cd "$(dirname "$0")/../.."
echo "| target | executions | seconds | exec/s | edges (cov) | features | corpus | crashes |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for log in results/fuzz/*.log; do
    t=$(basename "$log" .log)
    [ "$t" = campaign ] && continue
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    secs=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
    ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
    corp=$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*')
    crashes=$(ls "results/fuzz/$t/artifacts" 2>/dev/null | wc -l)
    wall=""
    [ -n "$runs" ] && [ -n "$secs" ] && [ "$secs" -gt 0 ] && wall=$((runs / secs))
    echo "| $t | ${runs:-?} | ${wall:-?} | ${secs:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $crashes |"
done
