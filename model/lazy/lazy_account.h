// lazy_account.h: exact compute accounting of a sampling run. Every
// (model row, step, block, module) slot is counted as computed or reused;
// executed multiply-accumulates are summed per model-row forward in both
// conventions of `lazydit info` (model/dit_config.h: all matmuls, and linear
// plus convolution layers only), CFG doubling included (the null-label rows
// are model rows like any other), decision overhead included (a LazyDiT gate
// is a Linear(D, 1) over T tokens: T*D MACs per decision).
//
// Definitions:
//   lazy ratio          reused slots / all slots, attention and MLP together
//   lazy ratio attn/mlp the same over one module type
//   equal-budget K      num_steps x (1 - lazy ratio): the DDIM step count with
//                       the same module work
// A row that bypasses the whole block stack (stack reuse) counts as reused
// in each of its 2L slots of that step. A module an `oracle`-style policy computed and then replaced by the
// cache counts as reused (it is what the sample used) but its MACs as
// executed: `reused_executed` says how many such slots there were.
#pragma once
#include "model/dit_config.h"

typedef struct {
    int K, L;
    DitConfig cfg;
    long *slots;           // (K, L, 2) model-row slots seen
    long *reused;          // (K, L, 2) of those, rows that used the cached output
    long *reused_executed; // (K, L, 2) of those, rows whose module ran anyway (review reuse)
    double *score_sum;     // (K, L, 2) sum of decision scores (rows with a score)
    long *score_n;         // (K, L, 2)
    long forward_rows;     // model rows summed over forwards
    long stack_rows;       // model rows that entered the block stack
    long stack_decisions;  // rows for which a stack decision was computed (block 0 adaLN + LN + modulate)
    double overhead_macs;  // decision overhead (gates, routers) in MACs; counted in both conventions
    void *mem_;
} LazyAccount;

void lazy_account_init(LazyAccount *a, const DitConfig *cfg, int num_steps);
void lazy_account_free(LazyAccount *a);
void lazy_account_reset(LazyAccount *a);
// Adds b into a (same K and L): sums of shards or chunks.
void lazy_account_add(LazyAccount *a, const LazyAccount *b);
static inline long lazy_account_index(const LazyAccount *a, int step, int layer, int module) {
    (void)a;
    return ((long)step * a->L + layer) * 2 + module;
}

typedef struct {
    double macs_all;        // executed MACs, all matmuls (DiT paper convention)
    double macs_linear;     // executed MACs, linear and conv layers only (LazyDiT's TMACs)
    double full_macs_all;   // what the same forwards cost with every module computed
    double full_macs_linear;
    double overhead_macs;   // of macs_*: decision overhead (gates and routers; the block-0 adaLN of stack decisions)
    long forward_rows;      // model rows summed over forwards (CFG doubling included)
    double lazy_ratio, lazy_ratio_attn, lazy_ratio_mlp;  // NaN for a run with no slots
    long slots, reused, reused_attn, reused_mlp, slots_attn, slots_mlp, reused_executed;
    double equal_budget_steps;  // K x (1 - lazy_ratio)
} LazySummary;

LazySummary lazy_account_summary(const LazyAccount *a);
// MACs of one model row's parts (per image), in the two conventions.
typedef struct {
    double always_linear;   // patch embedding, timestep MLP, final adaLN and linear
    double adaln_linear;    // one block's adaLN modulation
    double attn_linear, attn_matmul;  // one attention module: qkv + proj; q k^T and att v
    double mlp_linear;      // one MLP module: fc1 + fc2
} LazyMacParts;
LazyMacParts lazy_mac_parts(const DitConfig *c);
