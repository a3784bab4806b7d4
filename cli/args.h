// args.h: declarative option parsing for subcommands. Every subcommand lists
// its options once; the same table drives parsing, validation and --help, so
// help text cannot drift from behaviour. Unknown options, missing values,
// malformed numbers and missing required options are errors, never ignored.
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef enum { ARG_FLAG, ARG_INT, ARG_LONG, ARG_DOUBLE, ARG_STRING } ArgType;

typedef struct {
    const char *name;  // "--weights"
    ArgType type;
    void *value;       // bool*, int*, long*, double* or const char**
    bool required;
    const char *help;  // one line; mention units and defaults
    bool seen;         // filled by args_parse
} ArgSpec;

typedef struct {
    const char *command;  // "forward"
    const char *usage;    // one-line synopsis after the command name
    const char *about;    // a paragraph printed by --help
    ArgSpec *specs;
    int nspecs;
    // Positional arguments (after options are removed), e.g. `info W.safetensors`.
    int min_positional, max_positional;
    const char *positional[8];
    int npositional;
} ArgParser;

// Parses argv[1..argc) (argv[0] is the subcommand name). Prints help and exits 0
// on --help/-h; a usage error exits 2 through cli_usage (cli/cli_common.h). Integers are
// read whole ("12x", " 1", "+1" and values that do not fit the type are errors,
// never wrapped or clamped); doubles must be finite. Commands check ranges.
void args_parse(ArgParser *p, int argc, char **argv);
// The same without printing or exiting: 0 parsed, 1 help was asked for, -1 a
// usage error described in msg (cap bytes). args_parse is built on it.
int args_parse_status(ArgParser *p, int argc, char **argv, char *msg, size_t cap);
bool args_seen(const ArgParser *p, const char *name);
void args_print_help(const ArgParser *p);
