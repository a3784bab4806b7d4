// cli_policy.h: the options of every registered lazy policy as command-line
// options of a subcommand. The registry's option tables (model/lazy/policy.h)
// become ArgSpecs appended to the command's own, so --help lists every
// policy's options and a new policy needs no CLI change; values are parsed and
// validated by the policy itself (policy_create), which also names the policy
// an option belongs to when it is given to another one.
#pragma once
#include "cli/args.h"
#include "model/lazy/policy.h"

typedef struct {
    ArgSpec *specs;      // (nbase + n) the command's specs, then one per distinct policy option name
    int nbase, n;
    const char **values; // (n) parsed text of each policy option
    char **strings;      // owned names and help lines
    int nstrings;
    PolicyArg *args;     // (n) scratch for cli_policy_args
} CliPolicyOptions;

// Builds base specs + policy option specs. Policy option names must not
// collide with the command's options (checked: an internal invariant).
void cli_policy_options_init(CliPolicyOptions *o, const ArgSpec *base, int nbase);
// The policy options given on the command line, as (name, value) pairs for
// policy_create; returns their count.
int cli_policy_args(CliPolicyOptions *o, const PolicyArg **args);
void cli_policy_options_free(CliPolicyOptions *o);
