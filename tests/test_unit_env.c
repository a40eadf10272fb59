/* Unit: the registry and config snapshot — defaults per profile, explicit
 * overrides, the seed's profile names, size suffixes, and that bad input is
 * reported (one line naming the variable and what it accepts) and loses
 * nothing; the committed docs/ENV.md is what the registry generates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"
#include "hakmem.h"

extern char **environ;

/* Load envp with stderr captured into buf. */
static void load_capturing(char *const *envp, char *buf, size_t cap) {
    int fd = memfd_create("stderr", 0);
    assert_true(fd >= 0);
    int saved = dup(2);
    dup2(fd, 2);
    hak_config_load(envp);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, buf, cap - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
}

static void load(char *const *envp) {
    char buf[4096];
    load_capturing(envp, buf, sizeof buf);
    assert_string_equal(buf, "");   /* valid input is silent */
}

static int restore(void **state) {
    (void)state;
    hak_config_load(environ);
    return 0;
}

static void defaults_without_environment(void **state) {
    (void)state;
    char *envp[] = {NULL};
    load(envp);
    assert_int_equal(HAK_CFG(PROFILE), HAK_PROFILE_SPEED);
    assert_int_equal(HAK_CFG(STATS), 0);
    assert_int_equal(HAK_CFG(SS_MEM_LEAN), 0);
    assert_int_equal(HAK_CFG(SS_MEM_LEAN_TARGET_MB), 10);
    for (int i = 0; i < HAK_VAR_COUNT; i++) assert_int_equal(hak_config.origin[i], HAK_ORIGIN_DEFAULT);
}

static void balanced_profile_and_its_seed_alias(void **state) {
    (void)state;
    const char *names[] = {"HAKMEM_PROFILE=BALANCED", "HAKMEM_PROFILE=MIXED_TINYV3_C7_BALANCED",
                           "HAKMEM_PROFILE=balanced"};
    for (int i = 0; i < 3; i++) {
        char *envp[] = {(char *)names[i], NULL};
        load(envp);
        assert_int_equal(HAK_CFG(PROFILE), HAK_PROFILE_BALANCED);
        assert_int_equal(HAK_CFG(SS_MEM_LEAN), 1);
        assert_int_equal(hak_config.origin[HAK_VAR_SS_MEM_LEAN], HAK_ORIGIN_PROFILE);
        assert_int_equal(HAK_CFG(SS_MEM_LEAN_DECOMMIT), 0);   /* OFF */
        assert_int_equal(HAK_CFG(SS_MEM_LEAN_TARGET_MB), 10);
    }
    char *envp[] = {"HAKMEM_PROFILE=MIXED_TINYV3_C7_SAFE", NULL};
    load(envp);
    assert_int_equal(HAK_CFG(PROFILE), HAK_PROFILE_SPEED);
}

static void each_profile_sets_its_presets(void **state) {
    (void)state;
    char *lean[] = {"HAKMEM_PROFILE=LEAN", NULL};
    load(lean);
    assert_int_equal(HAK_CFG(SS_MEM_LEAN), 1);
    assert_int_equal(HAK_CFG(SS_MEM_LEAN_DECOMMIT), 1);   /* DONTNEED */
    char *debug[] = {"HAKMEM_PROFILE=DEBUG", NULL};
    load(debug);
    assert_int_equal(HAK_CFG(DEBUG), 1);
    assert_int_equal(HAK_CFG(ON_ERROR), 1);   /* abort */
    char *secure[] = {"HAKMEM_PROFILE=SECURE", NULL};
    load(secure);
    assert_int_equal(HAK_CFG(SECURE), 1);
    assert_int_equal(HAK_CFG(DEBUG), 0);
}

static void explicit_variable_beats_profile(void **state) {
    (void)state;
    char *envp[] = {"HAKMEM_SS_MEM_LEAN_DECOMMIT=free", "HAKMEM_PROFILE=LEAN", "HAKMEM_STATS=json", NULL};
    load(envp);
    assert_int_equal(HAK_CFG(SS_MEM_LEAN_DECOMMIT), 2);
    assert_int_equal(hak_config.origin[HAK_VAR_SS_MEM_LEAN_DECOMMIT], HAK_ORIGIN_ENV);
    assert_int_equal(HAK_CFG(SS_MEM_LEAN), 1);
    assert_int_equal(hak_config.origin[HAK_VAR_SS_MEM_LEAN], HAK_ORIGIN_PROFILE);
    assert_int_equal(HAK_CFG(STATS), 2);
}

static void booleans_integers_and_size_suffixes(void **state) {
    (void)state;
    char *envp[] = {"HAKMEM_VERBOSE=on", "HAKMEM_THP=false", "HAKMEM_SS_MEM_LEAN_TARGET_MB=32",
                    "HAKMEM_TCACHE_MAX=512K", NULL};
    load(envp);
    assert_int_equal(HAK_CFG(VERBOSE), 1);
    assert_int_equal(HAK_CFG(THP), 0);
    assert_int_equal(HAK_CFG(SS_MEM_LEAN_TARGET_MB), 32);
    assert_int_equal(HAK_CFG(TCACHE_MAX), 512 * 1024);
    char *m[] = {"HAKMEM_TCACHE_MAX=3m", NULL};
    load(m);
    assert_int_equal(HAK_CFG(TCACHE_MAX), 3 << 20);
    char *g[] = {"HAKMEM_TCACHE_MAX=1GiB", NULL};
    load(g);
    assert_int_equal(HAK_CFG(TCACHE_MAX), 1 << 30);
    char *plain[] = {"HAKMEM_TCACHE_MAX=65536", NULL};
    load(plain);
    assert_int_equal(HAK_CFG(TCACHE_MAX), 65536);
}

static void invalid_values_warn_and_keep_the_default(void **state) {
    (void)state;
    char buf[4096];
    char *envp[] = {"HAKMEM_STATS=2", "HAKMEM_SS_MEM_LEAN_TARGET_MB=-5", "HAKMEM_TCACHE_MAX=12Q",
                    "HAKMEM_VERBOSE=maybe", NULL};
    load_capturing(envp, buf, sizeof buf);
    assert_int_equal(HAK_CFG(STATS), 0);
    assert_int_equal(HAK_CFG(SS_MEM_LEAN_TARGET_MB), 10);
    assert_int_equal(HAK_CFG(VERBOSE), 0);
    assert_non_null(strstr(buf, "hakmem: invalid value '2' for HAKMEM_STATS (accepts one of 0, 1, json); keeping 0\n"));
    assert_non_null(strstr(buf, "for HAKMEM_SS_MEM_LEAN_TARGET_MB (accepts an integer from 0 to"));
    assert_non_null(strstr(buf, "for HAKMEM_TCACHE_MAX (accepts a size"));
    assert_non_null(strstr(buf, "'maybe' for HAKMEM_VERBOSE"));
    /* one line per problem */
    int lines = 0;
    for (char *c = buf; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 4);
}

static void unknown_names_get_the_closest_known_one(void **state) {
    (void)state;
    char buf[4096];
    char *envp[] = {"HAKMEM_VERBSE=1", "HAKMEM_SS_MEM_LEEN=1", "PATH=/bin", NULL};
    load_capturing(envp, buf, sizeof buf);
    assert_non_null(strstr(buf, "hakmem: unknown variable HAKMEM_VERBSE ignored; did you mean HAKMEM_VERBOSE?"));
    assert_non_null(strstr(buf, "unknown variable HAKMEM_SS_MEM_LEEN ignored; did you mean HAKMEM_SS_MEM_LEAN?"));
    assert_int_equal(HAK_CFG(VERBOSE), 0);
}

static void unknown_profile_warns_and_stays_speed(void **state) {
    (void)state;
    char buf[4096];
    char *envp[] = {"HAKMEM_PROFILE=TURBO", NULL};
    load_capturing(envp, buf, sizeof buf);
    assert_int_equal(HAK_CFG(PROFILE), HAK_PROFILE_SPEED);
    assert_non_null(strstr(buf, "invalid value 'TURBO' for HAKMEM_PROFILE (accepts SPEED, BALANCED, LEAN, DEBUG, SECURE"));
}

static void verbose_lists_every_variable_with_origin(void **state) {
    (void)state;
    char *envp[] = {"HAKMEM_PROFILE=BALANCED", "HAKMEM_STATS=1", NULL};
    load(envp);
    int fd = memfd_create("cfg", 0);
    hak_config_write(fd);
    char buf[8192];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    for (int i = 0; i < HAK_VAR_COUNT; i++) assert_non_null(strstr(buf, hak_vars[i].name));
    assert_non_null(strstr(buf, "hakmem: config HAKMEM_STATS=1 (environment)\n"));
    assert_non_null(strstr(buf, "hakmem: config HAKMEM_SS_MEM_LEAN=1 (profile)\n"));
    assert_non_null(strstr(buf, "hakmem: config HAKMEM_THP=0 (default)\n"));
}

static void committed_env_doc_matches_the_registry(void **state) {
    (void)state;
    int fd = memfd_create("doc", 0);
    hak_config_doc_write(fd);
    off_t len = lseek(fd, 0, SEEK_END);
    char *gen = calloc(1, (size_t)len + 1);
    assert_int_equal(pread(fd, gen, (size_t)len, 0), len);
    close(fd);
    FILE *f = fopen("docs/ENV.md", "r");
    assert_non_null(f);   /* tests run from the repository root */
    char *doc = calloc(1, (size_t)len + 2);
    size_t got = fread(doc, 1, (size_t)len + 1, f);
    fclose(f);
    if (got != (size_t)len || memcmp(gen, doc, (size_t)len) != 0)
        fail_msg("docs/ENV.md is stale: run 'make docs' and commit it");
    free(gen);
    free(doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(defaults_without_environment, restore),
        cmocka_unit_test_teardown(balanced_profile_and_its_seed_alias, restore),
        cmocka_unit_test_teardown(each_profile_sets_its_presets, restore),
        cmocka_unit_test_teardown(explicit_variable_beats_profile, restore),
        cmocka_unit_test_teardown(booleans_integers_and_size_suffixes, restore),
        cmocka_unit_test_teardown(invalid_values_warn_and_keep_the_default, restore),
        cmocka_unit_test_teardown(unknown_names_get_the_closest_known_one, restore),
        cmocka_unit_test_teardown(unknown_profile_warns_and_stays_speed, restore),
        cmocka_unit_test_teardown(verbose_lists_every_variable_with_origin, restore),
        cmocka_unit_test(committed_env_doc_matches_the_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
