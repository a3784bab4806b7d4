// lazy_runtime.h: what runs a Policy inside a sampling run. It owns the
// module cache and the stack-residual cache, enforces the rules every policy
// gets (first step computes, excluded modules compute, rows without a valid
// cache entry compute), fills reused rows, refreshes the cache from computed
// rows, and counts every slot (model/lazy/lazy_account.h). Its DitHooks are
// the first set of the forward's hook chain, so hooks chained after it (a
// recorder) see the policy's decisions and the outputs that were used.
//
// The sampler creates one per run (model/sampler.h); a chunk starts with an
// empty cache, so per-sample results do not depend on the chunk size. Only
// modules the policy acts on (--modules) are cached. A stack policy's
// stack_decide sees every step, the first included; the runtime keeps rows
// without a residual in the stack. A row whose computed output a review hook
// replaced by its cache gets skip[b] = 1 for the hook sets after the runtime.
//
// Cost: a cached module's view y points at its cache block from decide on
// (when no later hook set decides and the policy has no review), so reused
// rows are read in place and computed rows refresh the cache as the forward
// writes them; the hook set declares ignores_z when the policy's class does,
// so the forward computes Z only for the rows that run (model/dit.h).
#pragma once
#include "model/lazy/lazy_account.h"
#include "model/lazy/policy.h"

typedef struct {
    Policy *policy;        // borrowed; NULL = compute everything (plain DDIM)
    DitConfig cfg;
    int L, T, D, max_rows, K;
    int use_modules;       // the policy has module hooks: the module cache exists
    int use_stack;         // the policy has a stack hook: the residual cache exists
    // One allocation (mem_) behind:
    float *cache;          // (L, 2, max_rows, T, D) pre-gate output of the last computed step, per model row
    unsigned char *valid;  // (L, 2, max_rows) 1 = cache entry holds a computed output of this chunk
    float *resid;          // (max_rows, T, D) stack residual (out - x) of the row's last computed step
    unsigned char *resid_valid;  // (max_rows)
    unsigned char *flags;  // (max_rows) scratch: the policy's skip / reuse proposals
    float *scores;         // (max_rows) scratch: the policy's scores
    float *prev;           // (max_rows, T, D) scratch: cached outputs of a view's rows (review)
    unsigned char *has_prev;  // (max_rows)
    void *mem_;
    LazyAccount acc;
    DitHooks hooks;        // ctx = this runtime; decide/fill/stack hooks as the policy needs
} LazyRuntime;

// Allocates the caches for forwards of up to max_rows model rows and K steps.
void lazy_runtime_init(LazyRuntime *r, Policy *policy, const DitConfig *cfg, int max_rows, int num_steps);
void lazy_runtime_free(LazyRuntime *r);
// Chains `next` (may be NULL) after the runtime's hooks and returns the chain head.
const DitHooks *lazy_runtime_hooks(LazyRuntime *r, const DitHooks *next);
// Around each forward of a sampling run: step_begin clears the caches at step
// 0 (a new chunk), counts the forward's rows and calls the policy's hook;
// step_end calls the policy's hook.
void lazy_runtime_step_begin(LazyRuntime *r, const DitStep *st);
void lazy_runtime_step_end(LazyRuntime *r, const DitStep *st);
