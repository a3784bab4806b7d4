// json_config.h: strict reading of JSON configuration objects (cJSON). A
// config section is described by a field table; every key in the object must
// be in the table (unknown keys are errors, so a typo never silently falls back
// to a default), every value must have the declared type (an integer field
// rejects 1.5, "1" and integers beyond 2^53 that a double cannot hold exactly;
// a number field rejects 1e999, which parses as infinity), numbers must lie in
// [min, max], and required fields must
// be present. Errors are one line: "<where>: <problem>".
#pragma once
#include <cjson/cJSON.h>
#include <stdbool.h>

#include "model/base/check.h"

typedef enum { JC_INT, JC_LONG, JC_DOUBLE, JC_BOOL, JC_STRING, JC_OBJECT, JC_ARRAY } JcType;

typedef struct {
    const char *key;
    JcType type;
    void *value;    // int*, long*, double*, bool*, const char** (points into the cJSON tree), const cJSON** (object, array)
    bool required;
    double min, max;  // inclusive bounds for numbers; ignored when min > max
} JcField;

#define JC_MAX_TEXT (16 << 20)

// The whole file as a NUL-terminated string (caller frees). The file must be a
// regular file (model/io/file_rules.h) of at most JC_MAX_TEXT bytes of valid
// UTF-8 without NUL bytes, so every string a config holds can be stored as is
// (e.g. in checkpoint metadata) later in the run.
char *jc_read_text(const char *path, LzError *err);
// Parses text (from jc_read_text); `path` names it in the message.
cJSON *jc_parse_text(const char *text, const char *path, LzError *err);
// Parses a whole file into a cJSON tree (caller frees with cJSON_Delete).
cJSON *jc_load_file(const char *path, LzError *err);
// Reads `obj` (must be an object) against `fields`. `where` names the section
// in messages, e.g. "experiments/models/fmnist_dit.json: train".
int jc_read_object(const cJSON *obj, const char *where, const JcField *fields, int nfields, LzError *err);
