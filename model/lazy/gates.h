// gates.h: the files of the learned lazy policies.
//
// LazyDiT gate file (policy `lazydit`): safetensors with two float32 tensors
//   attn  (S, L, D)   gate weights w[attn][s][l] of step s, block l
//   mlp   (S, L, D)   gate weights w[mlp][s][l]
// for S sampling steps in EXECUTION order (index 0 = the first step, at the
// largest timestep), L blocks and hidden size D. The score of model row b at
// step s, block l, module m is sigmoid(sum_{t,d} Z[b,t,d] * w[m][s][l][d]) with
// Z (B, T, D) the module's modulated input; the row reuses the module's cached
// output when the score is above the threshold (strictly: zero weights give
// 0.5 and compute at the default threshold 0.5).
//
// Learning-to-Cache router file (policy `l2c`): the same layout with
//   attn  (S, L)      router logits theta[attn][s][l]
//   mlp   (S, L)      router logits theta[mlp][s][l]
// and reuse when sigmoid(theta) > threshold (see policy_l2c.c for which steps
// consult the router).
//
// `__metadata__` (all values are strings, as safetensors requires):
//   format          "lazydit-gates" or "l2c-router" (optional when reading; if
//                   present it must match the kind)
//   steps           S, the sampling step count the file was trained for
//   respacing       the respacing string of those steps ("20", "ddim20", ...)
//   model_sha256    SHA-256 (hex) of the DiT weights file it was trained on
//   rho_attn, rho_mlp  laziness weights of the training loss (for a router:
//                   L2C's lambda, the same for both modules)
//   threshold       the inference threshold in [0, 1]
//   staleness       (optional, default 0) the most consecutive steps a row may
//                   reuse one module's cached output; 0 = unlimited, the
//                   published rule (policy_lazydit.c)
//   calibration     how the ratio was reached: "none" (trained, threshold as
//                   given), "threshold" (bisection on the threshold),
//                   "rho+threshold" (search over rho, then threshold)
//   target_ratio, realised_ratio   the requested and the measured lazy ratio
//                   ("nan" when not calibrated)
//   calibration_samples, calibration_seed, calibration_cfg   how it was measured
//   modules         (optional, default "both") the module family the threshold
//                   was calibrated for, and the slots realised_ratio counts:
//                   "attn" (reused attention slots / attention slots), "mlp",
//                   or "both" (all slots). `calibrate-gates --modules attn`
//                   calibrates with the policy restricted to attention. Using
//                   the file with another --modules is allowed (the policy
//                   notes it): the threshold is then applied to a set of
//                   modules it was not calibrated for.
//   training        the training options as one line of JSON (provenance)
// Unknown metadata keys are kept out of the struct but allowed when reading.
#pragma once
#include <stdint.h>

#include "model/base/check.h"
#include "model/base/sha256.h"
#include "model/dit_config.h"
#include "model/lazy/policy.h"

typedef enum { GATES_LAZYDIT = 0, GATES_L2C = 1 } GateKind;

typedef struct {
    GateKind kind;
    int S, L, D;               // steps, blocks, weights per slot (hidden size; 1 for a router)
    float *w;                  // (2, S, L, D): [0] = attn, [1] = mlp; one allocation
    char respacing[64];
    char model_sha256[SHA256_HEX_LEN];  // lower-case hex
    double rho_attn, rho_mlp;
    double threshold;
    int staleness;             // 0 = unlimited
    char calibration[32];
    double target_ratio, realised_ratio;  // NaN when not calibrated
    long calibration_samples;  // 0 when not calibrated
    long calibration_seed;
    double calibration_cfg;    // NaN when not calibrated
    LazyModules modules;       // the family the threshold was calibrated for (both when not calibrated)
    char *training;            // JSON text or NULL (owned)
} GateFile;

static inline const char *gates_kind_name(GateKind k) { return k == GATES_L2C ? "router" : "gates"; }

// Allocates zero weights for (S, L, D) and sets the metadata to defaults
// (threshold 0.5, calibration "none", ratios NaN, modules both).
void gates_alloc(GateFile *g, GateKind kind, int S, int L, int D);
void gates_free(GateFile *g);
// Weights of one (module, step, layer) slot: D floats.
static inline float *gates_at(const GateFile *g, int module, int step, int layer) {
    return g->w + (((long)module * g->S + step) * g->L + layer) * g->D;
}
void gates_set_training(GateFile *g, const char *json);

// Reads and validates a file of the given kind: exactly the tensors attn and
// mlp, F32, equal shapes of the kind's rank, finite values, and the required
// metadata (steps = S, respacing, a 64-digit model_sha256, finite rho >= 0,
// threshold in [0, 1]). Errors are one line naming the file.
int gates_read(GateFile *g, const char *path, GateKind kind, LzError *err);
// Writes the file atomically (tensors sorted, metadata as above).
int gates_write(const GateFile *g, const char *path, LzError *err);
// Checks that the file fits a run: its step count, respacing, depth, hidden
// size (gates only) and model SHA-256 (skipped when sha is NULL). The error
// names the file and the mismatch, e.g. "g.safetensors: gates were trained
// for 20 sampling steps, this run has 10".
// The remark a policy makes (Policy.note) when a calibrated file's threshold
// is used for another module family than it was calibrated for ("" if not):
// allowed, but its realised ratio will differ from the recorded one.
void gates_note_modules(const GateFile *g, const char *path, LazyModules used, char *note, size_t cap);
int gates_check_run(const GateFile *g, const char *path, int steps, const char *respacing, const DitConfig *cfg,
                    const uint8_t *sha, LzError *err);
