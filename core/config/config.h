/* config.h — the config snapshot: every HAKMEM_* variable is read once, at
 * init, from the registry (env_registry.h) and the profile presets
 * (bench_profile.h), without allocating.  No other file reads the
 * environment.  Boxes copy what they need into plain globals (their gates). */
#ifndef HAKMEM_CONFIG_H
#define HAKMEM_CONFIG_H

#include "base/base.h"
#include "config/bench_profile.h"
#include "config/env_registry.h"

typedef enum {
#define HAK_VAR_ENUM(ID, ...) HAK_VAR_##ID,
    HAK_ENV_REGISTRY(HAK_VAR_ENUM)
#undef HAK_VAR_ENUM
    HAK_VAR_COUNT
} hak_var_id_t;

typedef enum {
#define HAK_PROFILE_ENUM(ID, ...) HAK_PROFILE_##ID,
    HAK_PROFILES(HAK_PROFILE_ENUM)
#undef HAK_PROFILE_ENUM
    HAK_PROFILE_COUNT
} hak_profile_id_t;

typedef enum { HAK_T_BOOL, HAK_T_INT, HAK_T_SIZE, HAK_T_ENUM, HAK_T_STRING } hak_var_type_t;
typedef enum { HAK_ORIGIN_DEFAULT, HAK_ORIGIN_PROFILE, HAK_ORIGIN_ENV } hak_origin_t;

typedef struct hak_var_def {
    const char *name;       /* full name, HAKMEM_... */
    hak_var_type_t type;
    const char *def;        /* registry default, as text */
    long long min, max;
    const char *choices;    /* ENUM: '|'-separated */
    const char *box;
    const char *help;
} hak_var_def_t;

typedef struct hak_profile_def {
    const char *name, *alias, *summary;
} hak_profile_def_t;

typedef struct hak_config {
    long long value[HAK_VAR_COUNT];  /* ENUM: index into choices; PROFILE: hak_profile_id_t */
    const char *text[HAK_VAR_COUNT]; /* STRING: the environment's text (or the default) */
    uint8_t origin[HAK_VAR_COUNT];
} hak_config_t;

extern HAK_HIDDEN const hak_var_def_t hak_vars[HAK_VAR_COUNT];
extern HAK_HIDDEN const hak_profile_def_t hak_profiles[HAK_PROFILE_COUNT];
extern HAK_HIDDEN hak_config_t hak_config;

#define HAK_CFG(ID) (hak_config.value[HAK_VAR_##ID])

/* Build the snapshot from envp (a NULL-terminated "NAME=value" array, or
 * NULL for none), warning about unknown names and invalid values. */
HAK_HIDDEN void hak_config_load(char *const *envp);
/* One line per variable: name, effective value, origin. */
HAK_HIDDEN void hak_config_write(int fd);
/* docs/ENV.md, generated from the registry and the profiles. */
HAK_HIDDEN void hak_config_doc_write(int fd);
/* The text of variable id's current value (enum name, number...). */
HAK_HIDDEN void hak_config_value_text(hak_var_id_t id, char *buf, size_t len);

#endif
