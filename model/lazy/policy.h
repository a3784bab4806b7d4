// policy.h: the lazy-policy interface. A policy decides, per sampling step,
// per block and module (attention or MLP) and per model row, whether the row
// reuses the module's cached output of the last step it computed instead of
// running the module; or, at the stack level, whether a row bypasses every
// block and reuses a cached residual (TeaCache, FORA-style whole-step reuse).
//
// Adding a policy is one new file, model/lazy/policy_<name>.c, that defines a
// `const PolicyClass policy_<name>` and one line in the registry of policy.c;
// the sampler and the CLI need no change. What a policy writes:
//   * an option table (PolicyOption): the same table parses CLI options
//     (`--threshold 0.5`) and JSON objects (`{"threshold": 0.5}`), validates
//     types and ranges, and prints --help;
//   * a state (allocated by the framework, state_size bytes, zeroed) and init/free;
//   * hooks, each optional: step_begin, stack_decide, decide, review, step_end.
//
// Who owns what (model/lazy/lazy_runtime.h does the bookkeeping):
//   * the cache: per block and module, the pre-gate output of the last step
//     that computed it, per model row; owned by the runtime (and so by the
//     sampler), never by the policy. The runtime fills skipped rows from it and
//     refreshes it from computed rows;
//   * the rules every policy gets for free: the first sampling step of a
//     chunk always computes (the cache is empty); modules the --modules option
//     excludes always compute; a row with no valid cache entry computes;
//   * the adaLN gate of the CURRENT step multiplies the reused output (the
//     forward applies the gate after fill, so reuse needs nothing special);
//   * the accounting: every (model row, step, block, module) slot counted as
//     computed or reused, and the executed MACs (model/lazy/lazy_account.h).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "model/base/check.h"
#include "model/dit.h"

// Which modules a policy may make lazy (`--modules attn|mlp|both`).
typedef enum { LAZY_MOD_ATTN = 1, LAZY_MOD_MLP = 2, LAZY_MOD_BOTH = 3 } LazyModules;
// "attn", "mlp", "both" (NULL = both) -> *out; -1 for anything else.
int lazy_modules_parse(const char *text, LazyModules *out);
const char *lazy_modules_name(LazyModules m);

typedef enum { POPT_DOUBLE, POPT_INT, POPT_STRING } PolicyOptType;

// One option of a policy: `--name VALUE` on the command line, `"name": VALUE`
// in JSON. The value is stored at `offset` in the policy's config struct
// (double, int, or const char * owned by the Policy).
typedef struct {
    const char *name;     // without dashes: "threshold"
    PolicyOptType type;
    size_t offset;        // offsetof(MyConfig, field)
    const char *def;      // default as text ("0.5"), NULL = required, "" = optional (a string
                          // stays NULL, a double NaN: init resolves it, e.g. from a file)
    double min, max;      // inclusive range for numbers (ignored when min > max)
    const char *help;     // one line
} PolicyOption;

// What a policy may know about the run when it is created.
typedef struct {
    const DitConfig *cfg;
    int num_steps;           // K
    const long *timesteps;   // (K) original timestep of each step in execution order (index 0 = first step)
    const char *respacing;   // the respacing string of the run ("20", "ddim20", ...)
    int max_rows;            // most model rows of one forward (2 x batch under CFG)
    const uint8_t *model_sha256;  // (32) SHA-256 of the weights file, or NULL if unknown
    uint64_t seed;           // the run seed (for policies with randomness of their own)
} PolicyEnv;

typedef struct Policy Policy;

typedef struct {
    const char *name;      // "lazydit"
    const char *summary;   // one line for --help and reports
    const PolicyOption *options;
    int n_options;
    // 1 = the policy reuses the whole block stack (stack_decide): --modules
    // cannot select attention or MLP and anything but "both" is refused.
    int stack_level;
    size_t config_size;    // bytes of the option struct
    size_t state_size;     // bytes of the state struct (zeroed before init)
    // Validates the config against the run (files, shapes, steps) and prepares
    // the state; may resolve optional options in p->config (policy_init then
    // rebuilds the provenance JSON). Errors: one line into err, return -1.
    int (*init)(Policy *p, const PolicyEnv *env, LzError *err);
    void (*free)(Policy *p);  // releases what init allocated inside the state

    // Hooks, each may be NULL. `st` is the step of the forward that follows
    // (step_begin) or that just ended (step_end).
    void (*step_begin)(Policy *p, const DitStep *st);
    // Stack level, before block 0: set skip[b] = 1 for rows that bypass every
    // block. v->x (block-0 input) and v->z0 (block 0's modulated attention
    // input) are valid for every row. The runtime then writes those rows'
    // stack output from the cached residual. Rows without a valid residual
    // (first step) are forced to compute whatever the policy says.
    void (*stack_decide)(Policy *p, const DitStackView *v, unsigned char *skip);
    // Module level, after Z is ready: set skip[b] = 1 for rows that reuse the
    // cache; may write score[b] (e.g. the gate's sigmoid) for the record. Only
    // called for modules the policy is enabled on, and never at a row's first
    // step.
    void (*decide)(Policy *p, const DitModuleView *v, unsigned char *skip, float *score);
    // Module level, after the kept rows were computed: `prev` (B, T, D) holds
    // each row's cached output (valid rows only: has_prev[b]). A policy that
    // decides on the computed output (oracle) sets reuse[b] = 1 to use prev
    // instead; the row is then counted as reused but its MACs as executed,
    // and its skip flag is set for the hooks chained after the runtime. May
    // write score[b] (e.g. the similarity it decided on) for the record.
    void (*review)(Policy *p, const DitModuleView *v, const float *prev, const unsigned char *has_prev,
                   unsigned char *reuse, float *score);
    void (*step_end)(Policy *p, const DitStep *st);
} PolicyClass;

struct Policy {
    const PolicyClass *cls;
    LazyModules modules;   // the common --modules option
    void *config;          // config_size bytes, filled from the option table
    void *state;           // state_size bytes
    double decision_macs;  // MACs of one module decision of one row (a LazyDiT gate: T*D); set by init
    char *json;            // the resolved config as canonical JSON (for provenance)
    char note[200];        // set by init when the run deserves a remark ("no calibration: identity polynomial"); "" if none
    char **strings;        // owned copies of string options
    int n_strings;
};

// The registry: every policy by name, in a fixed order.
int policy_count(void);
const PolicyClass *policy_class_at(int i);
const PolicyClass *policy_find(const char *name);

// One `name value` option pair as text (from argv) or JSON.
typedef struct {
    const char *name;
    const char *value;
} PolicyArg;

// Creates a policy from text options (CLI). `modules` is one of "attn",
// "mlp", "both" (NULL = both). Unknown options, options of another policy,
// malformed or out-of-range numbers and missing required options are errors
// that name the option: "policy lazydit: --threshold: 1.5 is outside [0, 1]".
int policy_create(Policy *p, const char *name, const char *modules, const PolicyArg *args, int nargs, LzError *err);
// The same from a JSON object {"name": "lazydit", "modules": "both", "gates": "g.safetensors", ...};
// `where` prefixes messages ("experiments/x.json: runs[2].policy").
int policy_create_json(Policy *p, const void *cjson_object, const char *where, LzError *err);
// Runs the class's init with the run's environment.
int policy_init(Policy *p, const PolicyEnv *env, LzError *err);
void policy_free(Policy *p);
// The policy's config (name, modules and every option with its resolved value)
// as one line of canonical JSON, e.g. {"name":"fora","modules":"both","interval":2}.
const char *policy_json(const Policy *p);
static inline int policy_on_module(const Policy *p, DitModule m) {
    return (p->modules & (m == DIT_ATTN ? LAZY_MOD_ATTN : LAZY_MOD_MLP)) != 0;
}
// Config field access for policy files: POLICY_CONFIG(p, FooConfig)->threshold.
#define POLICY_CONFIG(p, type) ((const type *)(p)->config)
#define POLICY_STATE(p, type) ((type *)(p)->state)
// Prints every policy and its options (for --help).
void policy_print_help(void *file);
