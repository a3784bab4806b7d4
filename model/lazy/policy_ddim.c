// policy_ddim.c: no laziness. Every module of every step is computed; the
// equal-budget baseline is this policy at fewer steps.
#include "model/lazy/policy.h"

const PolicyClass policy_ddim = {
    .name = "ddim",
    .summary = "compute every module (the baseline; its budget is set by --steps)",
};
