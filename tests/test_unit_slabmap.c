/* Unit: the slab map (slabmap.h) sends each free() of a class block to its
 * class's cache and everything else (large and huge blocks, pointers that
 * are not ours, slabs whose span has gone) to the front's head, i.e. the
 * slow path; and when the OS refuses a window's table, every free of that
 * window takes the slow path and the program still runs correctly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"
#include "heap/heap.h"
#include "backend/slabmap.h"
#include "backend/superslab.h"
#include "front/size_class.h"

#define NOMAP_VAR "TEST_SLABMAP_CHILD"   /* (not HAKMEM_*: hakmem would warn of an unknown variable) */

static hak_front_t *front(void) {
    hak_heap_t *h = hak_heap_get();
    assert_non_null(h);
    return &h->front;
}
/* The map's own entry (a front reads zeros everywhere when every free is
 * checked, SECURE's default). */
static unsigned off_of(const void *p) { return (unsigned)hak_slabmap_lookup((uintptr_t)p); }
/* What free's fast path reads: the front's copy, unless frees are checked. */
static unsigned front_off_of(const void *p) { return (unsigned)hak_slabmap_get(front()->slabmap, (uintptr_t)p); }

static void class_blocks_name_their_cache(void **state) {
    (void)state;
    char *first = malloc(16);
    assert_non_null(hak_slabmap_table((uintptr_t)first >> HAK_SLABMAP_WINDOW_SHIFT));   /* its window has a table */
    assert_int_equal(front_off_of(first), hak_heaps_hooks.free_checked ? 0 : off_of(first));
    free(first);
    static const size_t sizes[] = {1, 8, 16, 24, 100, 256, 1000, 1024, 2048, 2049, 5000, 16384, 32768 - 64};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *p = malloc(n);
        assert_non_null(p);
        /* the span's own class (DEBUG's guard adds to n, so not n's class) */
        hak_span_t *sp = hak_span_of(hak_superslab_of(p), p);
        assert_int_equal(sp->kind, HAK_SLAB_SMALL);
        unsigned fc = sp->cls;
        assert_true(fc < HAK_NCLASSES);
        unsigned want = hak_front_off(fc);
        assert_int_equal(off_of(p), want);
        assert_int_equal(off_of(p + n - 1), want);
        free(p);
    }
}

static void everything_else_lands_on_the_head(void **state) {
    (void)state;
    static const size_t sizes[] = {40000, 300 * 1024, (1 << 20) + 1, 8 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = malloc(sizes[i]);
        assert_non_null(p);
        assert_int_equal(off_of(p), 0);
        assert_int_equal(off_of(p + sizes[i] / 2), 0);
        assert_int_equal(off_of(p + sizes[i] - 1), 0);
        free(p);
    }
    int local;
    static int in_data;
    assert_int_equal(off_of(&local), 0);
    assert_int_equal(off_of(&in_data), 0);
    assert_int_equal(off_of(NULL), 0);
    assert_int_equal(off_of((void *)(uintptr_t)&class_blocks_name_their_cache), 0);
    /* the head is a cache that is empty and full at once */
    hak_cache_t *head = &front()->head;
    assert_true(head->top == head->base);
    assert_true(head->top >= head->end);
}

/* A span that goes back to its superslab (or the superslab to the pool or
 * the OS) takes its entries with it: a stale pointer into it is sent to the
 * slow path, which reports it instead of caching it. */
static void entries_clear_when_the_span_goes(void **state) {
    (void)state;
    enum { N = 4000, SIZE = 200 };
    char **v = calloc(N, sizeof *v);
    assert_non_null(v);
    for (int i = 0; i < N; i++) assert_non_null(v[i] = malloc(SIZE));
    char *probe = v[N / 2];
    unsigned want = hak_front_off(hak_span_of(hak_superslab_of(probe), probe)->cls);
    assert_int_equal(off_of(probe), want);
    for (int i = 0; i < N; i++) free(v[i]);
    free(v);
    malloc_trim(0);
    /* Every span of the class is empty after the trim; the probe's is gone
     * unless a new block was carved from it since (none was: nothing of
     * SIZE was allocated after the frees). */
    assert_int_equal(off_of(probe), 0);
}

/* A window's table is out of core dumps (a dump piped to systemd-coredump
 * or apport would otherwise stream 16 MiB of zeros): its mapping is flagged
 * "dd" (VM_DONTDUMP). */
static void the_map_is_not_dumped(void **state) {
    (void)state;
    char *p = malloc(16);
    assert_non_null(p);
    uintptr_t table = (uintptr_t)hak_slabmap_table((uintptr_t)p >> HAK_SLABMAP_WINDOW_SHIFT);
    assert_true(table != 0);
    free(p);
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512];
    bool inside = false, seen = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {   /* a mapping's first line */
            inside = table >= lo && table < hi;
            continue;
        }
        if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            assert_non_null(strstr(line, " dd"));
            seen = true;
        }
    }
    fclose(f);
    assert_true(seen);
}

/* A window without a table: re-executed with the slab map told to refuse
 * every table (its test hook, before the first malloc), as the OS would
 * under a tight RLIMIT_AS. */
static void no_map_child(void **state) {
    (void)state;
    if (!getenv(NOMAP_VAR)) skip();
    hak_front_t *f = front();
    for (size_t w = 0; w < HAK_SLABMAP_WINDOWS; w++) {
        assert_null(hak_slabmap_table(w));
        assert_true(f->slabmap[w] == HAK_SLABMAP_BIASED(hak_slabmap_zero, w));
    }
    enum { SLOTS = 2000, OPS = 400000 };
    unsigned char **slot = calloc(SLOTS, sizeof *slot);
    size_t *len = calloc(SLOTS, sizeof *len);
    assert_true(slot && len);
    uint32_t x = 12345;
    for (int op = 0; op < OPS; op++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        unsigned i = x % SLOTS;
        if (slot[i]) {
            for (size_t k = 0; k < len[i]; k += 97) assert_int_equal(slot[i][k], (unsigned char)(i + k));
            assert_int_equal(off_of(slot[i]), 0);   /* so the free below takes the slow path */
            free(slot[i]);
            slot[i] = NULL;
        } else {
            len[i] = 1 + (x >> 8) % ((x & 7) == 0 ? 200000 : 3000);
            assert_non_null(slot[i] = malloc(len[i]));
            for (size_t k = 0; k < len[i]; k += 97) slot[i][k] = (unsigned char)(i + k);
        }
    }
    for (unsigned i = 0; i < SLOTS; i++) free(slot[i]);
    free(slot);
    free(len);
    assert_int_equal(malloc_trim(0), 1);
}

static void without_a_map_every_free_is_slow_and_right(void **state) {
    (void)state;
    if (getenv(NOMAP_VAR)) skip();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv(NOMAP_VAR, "1", 1);
        execl("/proc/self/exe", "test_unit_slabmap", "no_map_child", (char *)NULL);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* The child refuses the tables before anything allocates: before the
 * libraries' own initialisers too (libstdc++'s, in a sanitizer build,
 * allocates), so from .preinit_array, which runs first. */
static void refuse_early(int argc, char **argv, char **envp) {
    (void)argc;
    (void)argv;
    for (char **e = envp; e && *e; e++)
        if (!strncmp(*e, NOMAP_VAR "=", sizeof NOMAP_VAR)) hak_slabmap_refuse_tables(true);
}
__attribute__((section(".preinit_array"), used)) static void (*const refuse_hook)(int, char **, char **) = refuse_early;

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(class_blocks_name_their_cache),
        cmocka_unit_test(everything_else_lands_on_the_head),
        cmocka_unit_test(entries_clear_when_the_span_goes),
        cmocka_unit_test(the_map_is_not_dumped),
        cmocka_unit_test(without_a_map_every_free_is_slow_and_right),
        cmocka_unit_test(no_map_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
