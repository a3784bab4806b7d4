-- schema.sql: the SQLite schema of lazydit result databases (schema version 1).
-- The recorder (analysis/recorder.c) creates it; `lazydit run`, `lazydit merge`
-- and `lazydit report` read it. Column names are a public interface: other tools
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
--   * Every similarity and norm is accumulated in double precision.
PRAGMA user_version = 1;

-- Key/value facts about the database itself: schema_version, experiment (the
-- experiment name every run of this database belongs to), config_sha256 (of the
-- experiment config), created_at.
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
    config_json     TEXT,               -- the run's full resolved settings (runner provenance)
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
    bound_alpha REAL,               -- alpha = C^2 R2^2 min(N, D) / 2 of the similarity lower bound (see docs/theory.md)
    bound_value REAL,               -- 1 - alpha: the bound on cos (vacuous when <= -1)
    PRIMARY KEY (run_id, step, layer, module)
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

-- Per model row records, only on request (--record-rows): one row per
-- (run, sample, cfg half, step, layer, module).
CREATE TABLE IF NOT EXISTS module_rows (
    run_id    INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    sample    INTEGER NOT NULL,     -- sample index in the run
    null_half INTEGER NOT NULL,     -- 1 = the CFG null-label row of the sample
    step      INTEGER NOT NULL,
    layer     INTEGER NOT NULL,
    module    TEXT NOT NULL CHECK (module IN ('attn', 'mlp')),
    skipped   INTEGER NOT NULL,
    score     REAL,
    cos       REAL,
    rel_l2    REAL,
    z_dist    REAL,
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
