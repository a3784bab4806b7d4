#include "model/io/json_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/io/file_rules.h"

char *jc_read_text(const char *path, LzError *err) {
    struct stat st;
    FILE *f = lz_fopen_input(path, &st, err);
    if (!f) return NULL;
    // The size comes from fstat (a regular file), checked before the allocation.
    if (st.st_size > JC_MAX_TEXT) {
        fclose(f);
        lz_fail(err, "%s: config is %lld bytes, more than the %d-byte limit", path, (long long)st.st_size, JC_MAX_TEXT);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *text = lz_malloc(n + 1, "config text");
    size_t got = fread(text, 1, n, f);
    int bad = ferror(f) || fgetc(f) != EOF;  // the file changed under us
    fclose(f);
    text[got] = 0;
    const char *problem = bad || got != n ? "changed while being read"
                          : memchr(text, 0, n) ? "contains a NUL byte"
                          : !lz_utf8_valid((const unsigned char *)text, n) ? "is not valid UTF-8"
                                                                           : NULL;
    if (problem) {
        free(text);
        lz_fail(err, "%s: config %s", path, problem);
        return NULL;
    }
    return text;
}

cJSON *jc_parse_text(const char *text, const char *path, LzError *err) {
    size_t got = strlen(text);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        long off = end ? (long)(end - text) : -1;
        int line = 1;
        for (long i = 0; i < off && i < (long)got; i++) line += text[i] == '\n';
        lz_fail(err, "%s: invalid JSON near line %d (byte %ld)", path, line, off);
    }
    return root;
}

cJSON *jc_load_file(const char *path, LzError *err) {
    char *text = jc_read_text(path, err);
    if (!text) return NULL;
    cJSON *root = jc_parse_text(text, path, err);
    free(text);
    return root;
}

static const char *type_name(JcType t) {
    switch (t) {
    case JC_INT:
    case JC_LONG: return "an integer";
    case JC_DOUBLE: return "a number";
    case JC_BOOL: return "true or false";
    case JC_STRING: return "a string";
    case JC_OBJECT: return "an object";
    case JC_ARRAY: return "an array";
    }
    return "?";
}

int jc_read_object(const cJSON *obj, const char *where, const JcField *fields, int nfields, LzError *err) {
    if (!cJSON_IsObject(obj)) return lz_fail(err, "%s: expected an object", where);
    for (const cJSON *it = obj->child; it; it = it->next) {
        int known = 0;
        for (int i = 0; i < nfields && !known; i++) known = !strcmp(fields[i].key, it->string);
        if (!known) {
            char list[256] = "";
            for (int i = 0; i < nfields; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", fields[i].key);
            return lz_fail(err, "%s: unknown key \"%s\" (known: %s)", where, it->string, list);
        }
        // duplicate keys: cJSON keeps both; the later one would be ignored, so refuse
        for (const cJSON *o = it->next; o; o = o->next)
            if (!strcmp(o->string, it->string)) return lz_fail(err, "%s: key \"%s\" given twice", where, it->string);
    }
    for (int i = 0; i < nfields; i++) {
        const JcField *f = &fields[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->key);
        if (!v) {
            if (f->required) return lz_fail(err, "%s: missing required key \"%s\"", where, f->key);
            continue;
        }
        int ok = 1;
        double d = v->valuedouble;
        switch (f->type) {
        case JC_INT:
        case JC_LONG:
            // Below 2^53 every integer is exact in the double cJSON parsed; at or
            // above it, "9007199254740993" would silently become ...992.
            ok = cJSON_IsNumber(v) && d == floor(d) && fabs(d) < 9007199254740992.0;
            break;
        case JC_DOUBLE: ok = cJSON_IsNumber(v) && isfinite(d); break;  // 1e999 parses as inf
        case JC_BOOL: ok = cJSON_IsBool(v); break;
        case JC_STRING: ok = cJSON_IsString(v); break;
        case JC_OBJECT: ok = cJSON_IsObject(v); break;
        case JC_ARRAY: ok = cJSON_IsArray(v); break;
        }
        if (!ok)
            return lz_fail(err, "%s: \"%s\" must be %s%s", where, f->key, type_name(f->type),
                           f->type == JC_INT || f->type == JC_LONG ? " below 2^53" : f->type == JC_DOUBLE ? " (finite)" : "");
        if ((f->type == JC_INT || f->type == JC_LONG || f->type == JC_DOUBLE) && f->min <= f->max &&
            (d < f->min || d > f->max))
            return lz_fail(err, "%s: \"%s\" = %g outside [%g, %g]", where, f->key, d, f->min, f->max);
        if (f->type == JC_INT && (d < -2147483648.0 || d > 2147483647.0))
            return lz_fail(err, "%s: \"%s\" = %g does not fit an int", where, f->key, d);
        switch (f->type) {
        case JC_INT: *(int *)f->value = (int)d; break;
        case JC_LONG: *(long *)f->value = (long)d; break;
        case JC_DOUBLE: *(double *)f->value = d; break;
        case JC_BOOL: *(bool *)f->value = cJSON_IsTrue(v); break;
        case JC_STRING: *(const char **)f->value = v->valuestring; break;
        case JC_OBJECT:
        case JC_ARRAY: *(const cJSON **)f->value = v; break;
        }
    }
    return 0;
}
