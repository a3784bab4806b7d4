# Helpers for shell tests that compare result databases (sourced).
# Columns that legitimately differ between two runs of the same thing: when
# and where it ran. Everything else, every row of every table, must be equal.
DB_TIMING_COLUMNS="'started_at', 'finished_at', 'wall_s', 'host'"
DB_TABLES="runs module_steps module_rows metrics sample_metrics weight_norms sample_features feature_references meta"

# db_diff A B: number of rows in one database and not in the other (0 = equal).
db_diff() {
    local a=$1 b=$2 t cols sql="" total
    for t in $DB_TABLES; do
        if [ "$t" = runs ]; then
            cols=$(sqlite3 "$a" "SELECT group_concat(name, ', ') FROM pragma_table_info('runs') WHERE name NOT IN ($DB_TIMING_COLUMNS)")
        else
            cols="*"
        fi
        local where=""
        [ "$t" = meta ] && where="WHERE key != 'created_at'"
        sql="$sql + (SELECT count(*) FROM (SELECT $cols FROM main.$t $where EXCEPT SELECT $cols FROM b.$t $where))"
        sql="$sql + (SELECT count(*) FROM (SELECT $cols FROM b.$t $where EXCEPT SELECT $cols FROM main.$t $where))"
    done
    total=$(sqlite3 "$a" "ATTACH '$b' AS b; SELECT 0 $sql;" 2>&1)
    echo "$total"
}

# db_counts A: "table:rows ..." of every table.
db_counts() {
    local t out=""
    for t in $DB_TABLES; do out="$out $t:$(sqlite3 "$1" "SELECT count(*) FROM $t")"; done
    echo "$out"
}

# db_dump_sum A: a checksum of the whole content.
db_dump_sum() { sqlite3 "$1" .dump | sha256sum; }
