-- schema.sql: the SQLite schema of lazydit result databases (schema version 1).
-- analysis/result_db.c creates it (the text is compiled into the binary);
-- `lazydit sample --record` and `lazydit run` write it, `lazydit merge` and
-- `lazydit report` read it. Column names are a public interface: other tools
-- query them with sqlite3. Conventions:
--   * step is the index in execution order: 0 = the first (noisiest) step;
--     timestep is the original DDPM timestep (0..999) the model was called with.
--   * module is the text 'attn' or 'mlp'; layer is the block index 0..L-1.
--   * "model rows" are the rows of the DiT batch: under classifier-free guidance
--     each sample has a conditional row and a null-label row, and both count.
--   * Similarities compare a module's pre-gate output Y (T x D per model row) at
--     a step with the same row's output at the previous step. Where a policy
--     skipped a row, the output compared is the one that was USED (the reused
--     cache), so a reused row has cos = 1 and rel_l2 = 0 at that step.
--   * A row that bypassed the whole block stack at a step (stack-level reuse,
--     e.g. TeaCache) has no module output there: it counts in skip_rate but not
--     in the similarity columns, and its next computed step is compared with
--     the last step it computed.
--   * Rows where a norm in a ratio is 0 are left out of that column's mean.
--   * Every similarity and norm is accumulated in double precision.
--   * run_id: `lazydit run` numbers the runs of an experiment 1..n in the order
--     of the expanded config, so shard databases and their merge agree;
--     `sample --record` takes the next free id.
PRAGMA user_version = 1;

-- Key/value facts about the database itself: schema_version, experiment (the
-- experiment name every run of this database belongs to), config_sha256 (of the
-- experiment config in canonical JSON; absent for `sample --record` databases),
-- created_at.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per sampling run.
CREATE TABLE IF NOT EXISTS runs (
    run_id          INTEGER PRIMARY KEY,
    experiment      TEXT NOT NULL,      -- experiment name (config "name"), or the --experiment of `sample --record`
    name            TEXT NOT NULL,      -- the run's unique name inside the experiment (stable across resumes and shards)
    model_sha256    TEXT NOT NULL,      -- hex SHA-256 of the DiT weights file
    policy          TEXT NOT NULL,      -- policy name: ddim, lazydit, l2c, fora, teacache, smoothcache, random, oracle
    policy_json     TEXT NOT NULL,      -- the policy's resolved config (canonical JSON, every option with its value)
    steps           INTEGER NOT NULL,   -- sampling steps K
    respacing       TEXT NOT NULL,      -- respacing string ("20", "ddim20", "a,b,c")
    sampler         TEXT NOT NULL,      -- ddim or ddpm
    eta             REAL NOT NULL,
    cfg_scale       REAL NOT NULL,
    seed            INTEGER NOT NULL,   -- run seed (per-sample noise seeds derive from it)
    n_samples       INTEGER NOT NULL,
    batch           INTEGER NOT NULL,   -- samples per chunk (model rows are 2 x batch under CFG)
    git_rev         TEXT,               -- `git describe --always --dirty` of the harness, if known
    threads         INTEGER,            -- element-wise threads (LAZYDIT_THREADS) and BLAS threads, see blas_core
    blas_core       TEXT,               -- OpenBLAS core name and thread count, e.g. "Zen, 2 threads"
    host            TEXT,
    started_at      TEXT NOT NULL,      -- UTC, ISO 8601
    finished_at     TEXT,
    status          TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    wall_s          REAL,               -- sampling wall time in seconds (metrics excluded)
    macs_all        REAL,               -- executed MACs of the whole run, all matmuls (DiT paper convention)
    macs_linear     REAL,               -- executed MACs, linear and conv layers only (LazyDiT's TMACs convention)
    lazy_ratio      REAL,               -- reused / all (model row, step, block, module) slots
    lazy_ratio_attn REAL,
    lazy_ratio_mlp  REAL,
    config_json     TEXT,               -- the run's full resolved settings (runner provenance), including the bound estimates used
    error           TEXT,               -- why a run failed (status 'failed'); NULL otherwise
    UNIQUE (experiment, name)
);

-- One row per (run, step, layer, module).
CREATE TABLE IF NOT EXISTS module_steps (
    run_id      INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,   -- execution order, 0 = first
    timestep    INTEGER NOT NULL,   -- original DDPM timestep
    layer       INTEGER NOT NULL,
    module      TEXT NOT NULL CHECK (module IN ('attn', 'mlp')),
    skip_rate   REAL NOT NULL,      -- fraction of model rows that reused the cache
    gate_mean   REAL,               -- mean decision score over rows that have one (LazyDiT: sigmoid of the gate); NULL if none
    cos_mean    REAL,               -- cosine similarity to the previous step's output, mean over model rows; NULL at step 0
    cos_min     REAL,               -- minimum over model rows; NULL at step 0
    cos_p05     REAL,               -- 5th percentile over model rows (nearest rank); NULL at step 0
    rel_l2      REAL,               -- mean over rows of |Y_t - Y_{t-1}|_F / |Y_{t-1}|_F; NULL at step 0
    z_dist      REAL,               -- mean over rows of |Z_t - Z_{t-1}|_F (modulated input); NULL at step 0
    z_rel_dist  REAL,               -- mean over rows of |Z_t - Z_{t-1}|_F / |Z_{t-1}|_F; NULL at step 0
    lipschitz   REAL,               -- mean over rows of |Y_t - Y_{t-1}|_F / |Z_t - Z_{t-1}|_F (rows with dZ = 0 left out); NULL at step 0
    bound_alpha REAL,               -- alpha = C^2 R2^2 min(N, D) / 2 of the similarity lower bound (see docs/theory.md); NULL at step 0
    bound_value REAL,               -- 1 - alpha: the bound on cos of every row, to compare with cos_min (vacuous when <= -1); NULL at step 0
    bound_r     REAL,               -- R used: max(1, the module's weight spectral norms (weight_norms), max over rows of |Z_t|_F and |Z_{t-1}|_F)
    bound_c     REAL,               -- C used: 5 R^4 N D (attn) or R (mlp), N = tokens, D = hidden
    bound_r2    REAL,               -- R2 used: max over rows of |Z_t - Z_{t-1}|_F
    PRIMARY KEY (run_id, step, layer, module)
);

-- The weight terms of the bound's R: spectral norms (largest singular value,
-- power iteration in double) of the matrices the theory bounds, per layer.
-- weight: 'wqk' = Wq^T Wk (D x D, the simplified attention's W; no 1/sqrt(d)),
-- 'wv' = Wv, 'proj' = the output projection (recorded; the theory has none,
-- so it is not part of R), 'fc1', 'fc2', 'fc2fc1' = fc2 fc1 (the linear MLP's
-- effective weight). R of attn uses wqk and wv, R of mlp fc1, fc2 and fc2fc1.
CREATE TABLE IF NOT EXISTS weight_norms (
    run_id        INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    layer         INTEGER NOT NULL,
    module        TEXT NOT NULL CHECK (module IN ('attn', 'mlp')),
    weight        TEXT NOT NULL,
    spectral_norm REAL NOT NULL,
    iterations    INTEGER NOT NULL,   -- power iterations until the estimate settled
    PRIMARY KEY (run_id, layer, module, weight)
);

-- Metrics of a run (FID-proxy and friends), with a 95% interval where computed.
CREATE TABLE IF NOT EXISTS metrics (
    run_id  INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    name    TEXT NOT NULL,          -- fid, sfid, is, precision, recall, kid, class_consistency, psnr, ssim, ...
    value   REAL NOT NULL,
    ci_low  REAL,
    ci_high REAL,
    n       INTEGER NOT NULL,       -- samples the metric was computed on
    PRIMARY KEY (run_id, name)
);

-- Per model row records, only on request (`--record-rows`, "record_rows": true):
-- one row per (run, sample, cfg half, step, layer, module). skipped = 1 when the
-- row used a cached output: reused by the policy's module decision or review, or
-- the whole block stack was bypassed (stack-level reuse; then the module did not
-- run at all and the similarity columns are NULL). Similarity columns as in
-- module_steps, for this row alone; NULL at the row's first step.
CREATE TABLE IF NOT EXISTS module_rows (
    run_id     INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    sample     INTEGER NOT NULL,     -- sample index in the run
    null_half  INTEGER NOT NULL,     -- 1 = the CFG null-label row of the sample
    step       INTEGER NOT NULL,
    layer      INTEGER NOT NULL,
    module     TEXT NOT NULL CHECK (module IN ('attn', 'mlp')),
    skipped    INTEGER NOT NULL,
    score      REAL,                 -- the policy's decision score for the row, NULL if none
    cos        REAL,
    rel_l2     REAL,
    z_dist     REAL,
    z_rel_dist REAL,
    lipschitz  REAL,
    PRIMARY KEY (run_id, sample, null_half, step, layer, module)
);

-- Per sample metrics, only on request.
CREATE TABLE IF NOT EXISTS sample_metrics (
    run_id  INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    sample  INTEGER NOT NULL,
    name    TEXT NOT NULL,          -- psnr, ssim, predicted_label, ...
    value   REAL NOT NULL,
    PRIMARY KEY (run_id, sample, name)
);

-- The Gaussian fit of the reference features that the FID-proxy of runs with
-- stored sample_features was computed against (the classifier's penultimate
-- features of the reference split; analysis/refstats.h), so that the FID of
-- any resample of a run's samples can be recomputed from the database alone.
-- Written in the transaction of the first run that stores features.
CREATE TABLE IF NOT EXISTS feature_references (
    reference  TEXT PRIMARY KEY,    -- '<classifier sha256 hex>_<reference key hex>' (both 64 hex digits)
    dim        INTEGER NOT NULL,    -- D, the feature width
    count      REAL NOT NULL,       -- reference images the fit came from
    mu         BLOB NOT NULL,       -- float64 little-endian (D)
    sigma      BLOB NOT NULL        -- float64 little-endian (D, D) row-major, unbiased covariance
);

-- Per-sample FID-proxy features of a run, only on request ("sample_features":
-- true): one row per run, the classifier's penultimate features of every
-- sample in the scored form (clamped to [-1, 1] and rounded to 8 bits unless
-- the experiment sets "quantize": false), exactly the vectors the run's fid
-- was computed from. Sample i is the run's sample i: every run of an
-- experiment starts sample i from the same noise and label, so two runs'
-- features are paired row by row (the report's paired bootstrap).
CREATE TABLE IF NOT EXISTS sample_features (
    run_id     INTEGER PRIMARY KEY REFERENCES runs(run_id) ON DELETE CASCADE,
    reference  TEXT NOT NULL REFERENCES feature_references(reference),
    n          INTEGER NOT NULL,    -- samples (rows)
    dim        INTEGER NOT NULL,    -- D
    features   BLOB NOT NULL        -- float32 little-endian (n, D) row-major
);
