/* Black-box: a program that lowers its address-space limit (RLIMIT_AS:
 * `ulimit -v`, sandboxes, test harnesses) while it runs goes on allocating
 * up to the limit, as it does under glibc, in every profile.
 *
 *   - After the first malloc the process's VmSize stays small (<= 64 MiB):
 *     hakmem reserves no large stretch of address space up front.
 *   - With the limit lowered to 1 GiB at run time, 800 MiB can still be
 *     allocated in blocks of every size class, large and huge, and 8 threads
 *     created that allocate too.
 *   - With the limit lowered to 200 MiB, threads are still created; past the
 *     limit malloc returns NULL with ENOMEM, never crashes, and memory freed
 *     can be allocated again.
 *
 * Each case runs in a re-executed child per profile (HAKMEM_PROFILE is read
 * once, at start). */
#include "test_common.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define CHILD_VAR "TEST_RLIMIT_CASE"   /* (not HAKMEM_*: hakmem would warn of an unknown variable) */

static const char *const profiles[] = {"SPEED", "BALANCED", "LEAN", "DEBUG", "SECURE"};

static size_t vm_size(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kib) == 1) break;
    fclose(f);
    return kib * KiB;
}

static int lower_limit(size_t bytes) {
    struct rlimit r;
    if (getrlimit(RLIMIT_AS, &r) != 0) return -1;
    r.rlim_cur = bytes;
    return setrlimit(RLIMIT_AS, &r);
}

#define CHILD_CHECK(cond, ...)                                            \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);               \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, "\n");                                        \
            _exit(1);                                                     \
        }                                                                 \
    } while (0)

static void *thread_work(void *arg) {
    size_t n = (size_t)(uintptr_t)arg;
    void *v[64];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 64; i++) {
            v[i] = malloc(n + (size_t)i * 24);
            if (!v[i]) return (void *)1;
            memset(v[i], i, n);
        }
        for (int i = 0; i < 64; i++) free(v[i]);
    }
    return NULL;
}

static int run_threads(int n) {
    pthread_t t[16];
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, thread_work, (void *)(uintptr_t)(16 + 40 * i)) != 0) return -1;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        void *r;
        if (pthread_join(t[i], &r) != 0 || r) bad++;
    }
    return bad;
}

/* ---- the children ---- */

static void child_vmsize(void) {
    void *p = malloc(16);
    CHILD_CHECK(p && hak_owns(p), "malloc(16)");
    size_t vm = vm_size();
    CHILD_CHECK(vm > 0 && vm <= 64 * MiB, "VmSize after the first malloc %zu KiB, above 64 MiB", vm / KiB);
    free(p);
}

/* A request in every small class (8, 16..128 by 16, then four per power
 * of two to 32 KiB): 16 bytes under the class's size, so that DEBUG's
 * trailer and SECURE's redzone keep it in the class. */
static size_t class_sizes(size_t *out) {
    size_t n = 0;
    out[n++] = 8;
    out[n++] = 16;
    for (size_t s = 32; s <= 128; s += 16) out[n++] = s - 16;
    for (size_t p = 128; p < 32 * KiB; p *= 2)
        for (size_t k = 5; k <= 8; k++) out[n++] = p / 4 * k - 16;
    return n;
}

typedef struct { void **v; size_t n, cap; } held_t;

static void hold(held_t *h, void *p) {
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 4096;
        h->v = realloc(h->v, h->cap * sizeof *h->v);
        CHILD_CHECK(h->v, "realloc of the list");
    }
    h->v[h->n++] = p;
}

static void release(held_t *h) {
    for (size_t i = 0; i < h->n; i++) free(h->v[i]);
    h->n = 0;
}

static void child_1g(void) {
    held_t h = {0};
    hold(&h, malloc(100));   /* the program ran before it lowered the limit */
    hold(&h, malloc(5000));
    CHILD_CHECK(lower_limit((size_t)1 << 30) == 0, "setrlimit");
    size_t sizes[64], ns = class_sizes(sizes), total = 0;
    /* 400 MiB in every small class, round robin */
    for (size_t i = 0; total < 400 * MiB; i++) {
        size_t s = sizes[i % ns];
        void *p = malloc(s);
        CHILD_CHECK(p, "malloc(%zu) failed after %zu MiB under a 1 GiB limit (VmSize %zu MiB)", s, total / MiB, vm_size() / MiB);
        memset(p, 0x5a, s < 64 ? s : 64);
        hold(&h, p);
        total += s;
    }
    /* 200 MiB of large blocks, 64 KiB to 1 MiB */
    for (size_t i = 0; total < 600 * MiB; i++) {
        size_t s = (1 + i % 16) * 64 * KiB - 64;
        void *p = malloc(s);
        CHILD_CHECK(p, "malloc(%zu) failed after %zu MiB under a 1 GiB limit (VmSize %zu MiB)", s, total / MiB, vm_size() / MiB);
        memset(p, 0x5a, 64);
        hold(&h, p);
        total += s;
    }
    /* 200 MiB of huge blocks */
    for (size_t i = 0; total < 800 * MiB; i++) {
        size_t s = (i % 2 ? 2 * MiB : 8 * MiB) - 64 * KiB;
        void *p = malloc(s);
        CHILD_CHECK(p, "malloc(%zu) failed after %zu MiB under a 1 GiB limit (VmSize %zu MiB)", s, total / MiB, vm_size() / MiB);
        memset(p, 0x5a, 64);
        hold(&h, p);
        total += s;
    }
    CHILD_CHECK(run_threads(8) == 0, "8 threads under a 1 GiB limit with 800 MiB allocated (VmSize %zu MiB)", vm_size() / MiB);
    release(&h);
    free(h.v);
}

static void child_200m(void) {
    void *first = malloc(100);
    CHILD_CHECK(first, "malloc");
    held_t h = {malloc(MiB * sizeof(void *)), 0, MiB};   /* room for every block, before the limit */
    CHILD_CHECK(h.v, "malloc of the list");
    CHILD_CHECK(lower_limit(200 * MiB) == 0, "setrlimit");
    CHILD_CHECK(run_threads(8) == 0, "8 threads under a 200 MiB limit (VmSize %zu MiB)", vm_size() / MiB);
    static const size_t sizes[] = {240, 3000, 100 * KiB, 3 * MiB};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t total = 0;
        void *p;
        for (;;) {
            errno = 0;
            if (!(p = malloc(sizes[k]))) break;
            memset(p, 1, 64);
            CHILD_CHECK(h.n < h.cap, "malloc(%zu) never failed under a 200 MiB limit", sizes[k]);
            h.v[h.n++] = p;
            total += sizes[k];
        }
        CHILD_CHECK(errno == ENOMEM, "malloc(%zu) past the limit: NULL with errno %d, not ENOMEM", sizes[k], errno);
        CHILD_CHECK(total >= 60 * MiB, "malloc(%zu) failed after only %zu MiB under a 200 MiB limit (VmSize %zu MiB)",
                    sizes[k], total / MiB, vm_size() / MiB);
        release(&h);
        malloc_trim(0);
        p = malloc(sizes[k]);
        CHILD_CHECK(p, "malloc(%zu) after the memory came back", sizes[k]);
        free(p);
    }
    free(h.v);
    free(first);
}

/* ---- the parent ---- */

static void run_child(const char *name) {
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            setenv(CHILD_VAR, name, 1);
            setenv("HAKMEM_PROFILE", profiles[i], 1);
            execl("/proc/self/exe", "test_rlimit", (char *)NULL);
            _exit(127);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("%s under HAKMEM_PROFILE=%s: %s %d", name, profiles[i],
                     WIFSIGNALED(st) ? "killed by signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
}

static void vmsize_small_after_the_first_malloc(void **state) { (void)state; run_child("vmsize"); }
static void limit_lowered_to_1g(void **state) { (void)state; run_child("1g"); }
static void limit_lowered_to_200m(void **state) { (void)state; run_child("200m"); }

int main(void) {
    const char *c = getenv(CHILD_VAR);
    if (c) {
        if (!strcmp(c, "vmsize")) child_vmsize();
        else if (!strcmp(c, "1g")) child_1g();
        else if (!strcmp(c, "200m")) child_200m();
        else return 2;
        return 0;
    }
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 0;   /* the sanitizers' shadow memory needs more address space than the limits */
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vmsize_small_after_the_first_malloc),
        cmocka_unit_test(limit_lowered_to_1g),
        cmocka_unit_test(limit_lowered_to_200m),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
