/* config.c — parsing the environment against the registry, and the
 * configuration's printouts (HAKMEM_VERBOSE, docs/ENV.md). */
#include "config/config.h"

#include <string.h>

#include "base/diag.h"

const hak_var_def_t hak_vars[HAK_VAR_COUNT] = {
#define HAK_VAR_DEF(ID, TYPE, DEF, MIN, MAX, CHOICES, BOX, HELP) \
    [HAK_VAR_##ID] = {"HAKMEM_" #ID, HAK_T_##TYPE, DEF, MIN, MAX, CHOICES, #BOX, HELP},
    HAK_ENV_REGISTRY(HAK_VAR_DEF)
#undef HAK_VAR_DEF
};

const hak_profile_def_t hak_profiles[HAK_PROFILE_COUNT] = {
#define HAK_PROFILE_DEF(ID, NAME, ALIAS, SUMMARY) [HAK_PROFILE_##ID] = {NAME, ALIAS, SUMMARY},
    HAK_PROFILES(HAK_PROFILE_DEF)
#undef HAK_PROFILE_DEF
};

typedef struct { hak_profile_id_t profile; hak_var_id_t var; const char *value; } hak_preset_t;
static const hak_preset_t presets[] = {
#define HAK_PRESET_DEF(PROFILE, VAR, VALUE) {HAK_PROFILE_##PROFILE, HAK_VAR_##VAR, VALUE},
    HAK_PRESETS(HAK_PRESET_DEF)
#undef HAK_PRESET_DEF
    {HAK_PROFILE_COUNT, HAK_VAR_COUNT, NULL}
};

HAK_HIDDEN hak_config_t hak_config;

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

/* Case-insensitive compare of s against the n bytes at t. */
static bool eq_n(const char *s, const char *t, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!s[i] || lower((unsigned char)s[i]) != lower((unsigned char)t[i])) return false;
    return s[n] == '\0';
}

static bool parse_uint(const char **sp, unsigned long long *out) {
    const char *s = *sp;
    unsigned long long v = 0;
    if (*s < '0' || *s > '9') return false;
    while (*s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (v > (~0ull - d) / 10) return false;
        v = v * 10 + d;
        s++;
    }
    *sp = s;
    *out = v;
    return true;
}

static bool parse_profile(const char *s, long long *out) {
    for (int i = 0; i < HAK_PROFILE_COUNT; i++) {
        const hak_profile_def_t *p = &hak_profiles[i];
        if (eq_n(s, p->name, strlen(p->name)) || (p->alias[0] && eq_n(s, p->alias, strlen(p->alias)))) {
            *out = i;
            return true;
        }
    }
    return false;
}

/* Parse text for variable id; false if it is not a valid value. */
static bool parse_value(hak_var_id_t id, const char *s, long long *out) {
    const hak_var_def_t *d = &hak_vars[id];
    if (id == HAK_VAR_PROFILE) return parse_profile(s, out);
    switch (d->type) {
    case HAK_T_BOOL: {
        static const char *const yes[] = {"1", "on", "yes", "true"}, *const no[] = {"0", "off", "no", "false"};
        for (int i = 0; i < 4; i++) {
            if (eq_n(s, yes[i], strlen(yes[i]))) { *out = 1; return true; }
            if (eq_n(s, no[i], strlen(no[i]))) { *out = 0; return true; }
        }
        return false;
    }
    case HAK_T_INT: case HAK_T_SIZE: {
        unsigned long long v;
        const char *p = s;
        if (!parse_uint(&p, &v)) return false;
        if (d->type == HAK_T_SIZE && *p) {
            unsigned shift = 0;
            switch (lower((unsigned char)*p)) {
            case 'k': shift = 10; break;
            case 'm': shift = 20; break;
            case 'g': shift = 30; break;
            default: return false;
            }
            p++;
            if (eq_n(p, "ib", 2) || eq_n(p, "b", 1)) p += strlen(p);
            if (v > (~0ull >> shift)) return false;
            v <<= shift;
        }
        if (*p) return false;
        if (v > (unsigned long long)d->max || (long long)v < d->min) return false;
        *out = (long long)v;
        return true;
    }
    case HAK_T_STRING:
        *out = 0;
        return true;
    case HAK_T_ENUM: {
        const char *c = d->choices;
        for (long long i = 0; *c; i++) {
            const char *end = strchr(c, '|');
            size_t n = end ? (size_t)(end - c) : strlen(c);
            if (eq_n(s, c, n)) { *out = i; return true; }
            c += n + (end ? 1 : 0);
        }
        return false;
    }
    }
    return false;
}

/* What a variable accepts, for warnings and docs. */
static void describe_accepts(hak_var_id_t id, hak_line_t *l) {
    const hak_var_def_t *d = &hak_vars[id];
    if (id == HAK_VAR_PROFILE) {
        for (int i = 0; i < HAK_PROFILE_COUNT; i++) {
            if (i) hak_line_str(l, ", ");
            hak_line_str(l, hak_profiles[i].name);
        }
        return;
    }
    switch (d->type) {
    case HAK_T_BOOL: hak_line_str(l, "0 or 1 (also on/off, yes/no, true/false)"); break;
    case HAK_T_INT:
        hak_line_str(l, "an integer from "); hak_line_i64(l, d->min);
        hak_line_str(l, " to "); hak_line_i64(l, d->max); break;
    case HAK_T_SIZE:
        hak_line_str(l, "a size in bytes with optional K/M/G suffix, "); hak_line_i64(l, d->min);
        hak_line_str(l, " to "); hak_line_i64(l, d->max); break;
    case HAK_T_ENUM:
        hak_line_str(l, "one of ");
        for (const char *c = d->choices; *c; c++) {
            if (*c == '|') hak_line_str(l, ", ");
            else { char one[2] = {*c, 0}; hak_line_str(l, one); }
        }
        break;
    case HAK_T_STRING: hak_line_str(l, "any text"); break;
    }
}

void hak_config_value_text(hak_var_id_t id, char *buf, size_t len) {
    hak_line_t l = {.len = 0};
    long long v = hak_config.value[id];
    const hak_var_def_t *d = &hak_vars[id];
    if (id == HAK_VAR_PROFILE) hak_line_str(&l, hak_profiles[v].name);
    else if (d->type == HAK_T_STRING) hak_line_str(&l, hak_config.text[id] ? hak_config.text[id] : "");
    else if (d->type == HAK_T_ENUM) {
        const char *c = d->choices;
        for (long long i = 0; i < v && c; i++) { c = strchr(c, '|'); if (c) c++; }
        const char *end = c ? strchr(c, '|') : NULL;
        size_t n = c ? (end ? (size_t)(end - c) : strlen(c)) : 0;
        for (size_t i = 0; i < n && l.len < sizeof(l.buf) - 1; i++) l.buf[l.len++] = c[i];
    } else hak_line_i64(&l, v);
    size_t n = l.len < len - 1 ? l.len : len - 1;
    memcpy(buf, l.buf, n);
    buf[n] = '\0';
}

/* Levenshtein distance between two short names, for "did you mean". */
static unsigned edit_distance(const char *a, size_t na, const char *b) {
    unsigned row[64];
    size_t nb = strlen(b);
    if (na > 63) na = 63;
    if (nb > 63) nb = 63;
    for (size_t j = 0; j <= nb; j++) row[j] = (unsigned)j;
    for (size_t i = 1; i <= na; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= nb; j++) {
            unsigned up = row[j];
            unsigned cost = lower((unsigned char)a[i - 1]) != lower((unsigned char)b[j - 1]);
            unsigned best = diag + cost;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

static void warn_unknown(const char *name, size_t n) {
    hak_line_t l = {.len = 0};
    unsigned best = ~0u;
    int bi = 0;
    for (int i = 0; i < HAK_VAR_COUNT; i++) {
        unsigned dist = edit_distance(name, n, hak_vars[i].name);
        if (dist < best) { best = dist; bi = i; }
    }
    hak_line_str(&l, "hakmem: unknown variable ");
    for (size_t i = 0; i < n && l.len < 200; i++) l.buf[l.len++] = name[i];
    hak_line_str(&l, " ignored; did you mean ");
    hak_line_str(&l, hak_vars[bi].name);
    hak_line_str(&l, "? (hakmem --env lists them all)\n");
    hak_line_write(&l, 2);
}

static void warn_invalid(hak_var_id_t id, const char *value) {
    hak_line_t l = {.len = 0};
    char cur[64];
    hak_config_value_text(id, cur, sizeof cur);
    hak_line_str(&l, "hakmem: invalid value '");
    hak_line_str(&l, value);
    hak_line_str(&l, "' for ");
    hak_line_str(&l, hak_vars[id].name);
    hak_line_str(&l, " (accepts ");
    describe_accepts(id, &l);
    hak_line_str(&l, "); keeping ");
    hak_line_str(&l, cur);
    hak_line_str(&l, "\n");
    hak_line_write(&l, 2);
}

/* Find "HAKMEM_PROFILE=" and friends in envp. */
static const char *env_lookup(char *const *envp, const char *name) {
    size_t n = strlen(name);
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

void hak_config_load(char *const *envp) {
    /* 1. registry defaults */
    for (int i = 0; i < HAK_VAR_COUNT; i++) {
        long long v = 0;
        parse_value((hak_var_id_t)i, hak_vars[i].def, &v);
        hak_config.value[i] = v;
        hak_config.text[i] = hak_vars[i].def;
        hak_config.origin[i] = HAK_ORIGIN_DEFAULT;
    }
    /* 2. the profile's presets */
    const char *prof = env_lookup(envp, hak_vars[HAK_VAR_PROFILE].name);
    if (prof) {
        long long p;
        if (parse_value(HAK_VAR_PROFILE, prof, &p)) {
            hak_config.value[HAK_VAR_PROFILE] = p;
            hak_config.origin[HAK_VAR_PROFILE] = HAK_ORIGIN_ENV;
        } else warn_invalid(HAK_VAR_PROFILE, prof);
    }
    for (const hak_preset_t *s = presets; s->value; s++) {
        if ((long long)s->profile != hak_config.value[HAK_VAR_PROFILE]) continue;
        long long v;
        if (parse_value(s->var, s->value, &v)) {
            hak_config.value[s->var] = v;
            hak_config.origin[s->var] = HAK_ORIGIN_PROFILE;
        }
    }
    /* 3. explicit variables win */
    for (char *const *e = envp; e && *e; e++) {
        const char *s = *e;
        if (strncmp(s, "HAKMEM_", 7) != 0) continue;
        const char *eq = strchr(s, '=');
        size_t n = eq ? (size_t)(eq - s) : strlen(s);
        int id = -1;
        for (int i = 0; i < HAK_VAR_COUNT; i++)
            if (strlen(hak_vars[i].name) == n && strncmp(hak_vars[i].name, s, n) == 0) { id = i; break; }
        if (id < 0) { warn_unknown(s, n); continue; }
        if (id == HAK_VAR_PROFILE || !eq) continue;
        long long v;
        if (parse_value((hak_var_id_t)id, eq + 1, &v)) {
            hak_config.value[id] = v;
            hak_config.text[id] = eq + 1;
            hak_config.origin[id] = HAK_ORIGIN_ENV;
        } else warn_invalid((hak_var_id_t)id, eq + 1);
    }
}

void hak_config_write(int fd) {
    static const char *const origin_text[] = {"default", "profile", "environment"};
    for (int i = 0; i < HAK_VAR_COUNT; i++) {
        hak_line_t l = {.len = 0};
        char val[64];
        hak_config_value_text((hak_var_id_t)i, val, sizeof val);
        hak_line_str(&l, "hakmem: config ");
        hak_line_str(&l, hak_vars[i].name);
        hak_line_str(&l, "=");
        hak_line_str(&l, val);
        hak_line_str(&l, " (");
        hak_line_str(&l, origin_text[hak_config.origin[i]]);
        hak_line_str(&l, ")\n");
        hak_line_write(&l, fd);
    }
}

/* ---- docs/ENV.md ---- */

/* Text may be longer than one line buffer: write it in chunks. */
static void doc_text(int fd, const char *s) {
    while (*s) {
        hak_line_t l = {.len = 0};
        size_t n = strlen(s);
        if (n > sizeof(l.buf) - 2) n = sizeof(l.buf) - 2;
        memcpy(l.buf, s, n);
        l.len = n;
        hak_line_write(&l, fd);
        s += n;
    }
}

void hak_config_doc_write(int fd) {
    doc_text(fd,
             "# HAKMEM_* variables\n\n"
             "Generated by `make docs` from `core/config/env_registry.h` and `core/config/bench_profile.h`;\n"
             "a test fails when this file differs from what they generate. Every variable is read\n"
             "once, at start-up. An explicit variable overrides the profile's value, which\n"
             "overrides the default. Booleans accept 0/1, on/off, yes/no, true/false; sizes\n"
             "accept K, M and G suffixes; enum values are case-insensitive. An unknown\n"
             "`HAKMEM_*` name or an invalid value gets a one-line warning and changes nothing.\n\n"
             "## Variables\n\n"
             "| variable | box | accepts | default (SPEED) |");
    for (int p = 1; p < HAK_PROFILE_COUNT; p++) {
        doc_text(fd, " ");
        doc_text(fd, hak_profiles[p].name);
        doc_text(fd, " |");
    }
    doc_text(fd, " meaning |\n|---|---|---|---|");
    for (int p = 1; p < HAK_PROFILE_COUNT; p++) doc_text(fd, "---|");
    doc_text(fd, "---|\n");
    for (int i = 0; i < HAK_VAR_COUNT; i++) {
        hak_line_t l = {.len = 0};
        hak_line_str(&l, "| `");
        hak_line_str(&l, hak_vars[i].name);
        hak_line_str(&l, "` | ");
        hak_line_str(&l, hak_vars[i].box);
        hak_line_str(&l, " | ");
        describe_accepts((hak_var_id_t)i, &l);
        hak_line_str(&l, " | ");
        hak_line_str(&l, hak_vars[i].def[0] ? hak_vars[i].def : "(empty)");
        hak_line_str(&l, " |");
        hak_line_write(&l, fd);
        for (int p = 1; p < HAK_PROFILE_COUNT; p++) {
            const char *v = "";
            for (const hak_preset_t *s = presets; s->value; s++)
                if ((int)s->profile == p && (int)s->var == i) v = s->value;
            if (i == HAK_VAR_PROFILE) v = hak_profiles[p].name;
            doc_text(fd, " ");
            doc_text(fd, v[0] ? v : "·");
            doc_text(fd, " |");
        }
        doc_text(fd, " ");
        doc_text(fd, hak_vars[i].help);
        doc_text(fd, " |\n");
    }
    doc_text(fd, "\n\"·\" means the profile keeps the default.\n\n## Profiles\n\n| profile | also accepted as | for |\n|---|---|---|\n");
    for (int p = 0; p < HAK_PROFILE_COUNT; p++) {
        doc_text(fd, "| `");
        doc_text(fd, hak_profiles[p].name);
        doc_text(fd, "` | ");
        doc_text(fd, hak_profiles[p].alias[0] ? hak_profiles[p].alias : "—");
        doc_text(fd, " | ");
        doc_text(fd, hak_profiles[p].summary);
        doc_text(fd, " |\n");
    }
}
