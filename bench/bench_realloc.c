/* bench_realloc — growing buffers with realloc, the way C programs build
 * arrays and strings: in-place growth and cheap moves are what count.
 *
 *   bench_realloc ROUNDS MAXELEMS SEED
 *   bench_realloc --smoke
 *
 * Each round runs three phases:
 *   double : one array of uint64_t grown by doubling from 1 to MAXELEMS;
 *   by one : four arrays grown one element per realloc, interleaved (so they
 *            get in each other's way), each to MAXELEMS/4 elements;
 *   string : a string built by appending 1..64-byte pieces, each append a
 *            realloc to the exact new length, to 8*MAXELEMS bytes.
 * Every element is written once when it is added and all are checked before
 * the buffer is freed, so a realloc that loses data fails the run. ops counts
 * malloc/realloc/free calls.
 */
#include "bench_common.h"

static const char usage[] = "bench_realloc ROUNDS MAXELEMS SEED | --smoke";

#define NARRAYS 4

static uint64_t elem(uint64_t seed, uint64_t array, uint64_t i)
{
    return (seed + array) * 0x9E3779B97F4A7C15ull ^ i;
}

static void *xrealloc(void *p, size_t size, uint64_t *ops)
{
    void *q = realloc(p, size);
    BENCH_CHECK_ALLOC(q, size);
    ++*ops;
    return q;
}

static void check_array(const uint64_t *a, uint64_t n, uint64_t seed, uint64_t array)
{
    for (uint64_t i = 0; i < n; i++)
        if (a[i] != elem(seed, array, i))
            bench_fail("array %" PRIu64 " element %" PRIu64 " lost by realloc", array, i);
}

static void grow_doubling(uint64_t maxelems, uint64_t seed, uint64_t *ops)
{
    uint64_t n = 1;
    uint64_t *a = xrealloc(NULL, sizeof *a, ops);
    a[0] = elem(seed, 0, 0);
    while (n < maxelems) {
        uint64_t m = 2 * n < maxelems ? 2 * n : maxelems;
        a = xrealloc(a, m * sizeof *a, ops);
        for (uint64_t i = n; i < m; i++)
            a[i] = elem(seed, 0, i);
        n = m;
    }
    check_array(a, n, seed, 0);
    free(a);
    ++*ops;
}

static void grow_by_one(uint64_t maxelems, uint64_t seed, uint64_t *ops)
{
    uint64_t *a[NARRAYS] = {NULL};
    uint64_t n = maxelems / NARRAYS ? maxelems / NARRAYS : 1;
    for (uint64_t i = 0; i < n; i++)
        for (unsigned k = 0; k < NARRAYS; k++) {
            a[k] = xrealloc(a[k], (i + 1) * sizeof *a[k], ops);
            a[k][i] = elem(seed, 1 + k, i);
        }
    for (unsigned k = 0; k < NARRAYS; k++) {
        check_array(a[k], n, seed, 1 + k);
        free(a[k]);
        ++*ops;
    }
}

static uint64_t build_string(uint64_t maxelems, uint64_t seed, uint64_t *ops)
{
    uint64_t target = 8 * maxelems, len = 0, rng = seed;
    char *s = xrealloc(NULL, 1, ops);
    s[0] = '\0';
    while (len < target) {
        size_t piece = (size_t)bench_range(&rng, 1, 64);
        s = xrealloc(s, len + piece + 1, ops);
        for (size_t i = 0; i < piece; i++)
            s[len + i] = (char)('a' + (len + i) % 26);
        len += piece;
        s[len] = '\0';
    }
    for (uint64_t i = 0; i < len; i++)
        if (s[i] != (char)('a' + i % 26))
            bench_fail("string byte %" PRIu64 " lost by realloc", i);
    free(s);
    ++*ops;
    return len;
}

int main(int argc, char **argv)
{
    bench_set_name("realloc");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 4)
        bench_usage(usage);
    uint64_t rounds = smoke ? 3 : bench_arg(argc, argv, 1, 0, 1, 1u << 30, usage);
    uint64_t maxelems = smoke ? 20000 : bench_arg(argc, argv, 2, 0, 1, 1ull << 32, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 3, 0, 0, UINT64_MAX, usage);

    uint64_t ops = 0, chars = 0;
    double t0 = bench_now();
    for (uint64_t r = 0; r < rounds; r++) {
        grow_doubling(maxelems, seed + r, &ops);
        grow_by_one(maxelems, seed + r, &ops);
        chars += build_string(maxelems, seed + r, &ops);
    }
    double secs = bench_now() - t0;
    bench_report(ops, secs, -1,
                 "rounds=%" PRIu64 " maxelems=%" PRIu64 " seed=%" PRIu64 " check=%" PRIu64,
                 rounds, maxelems, seed, chars);
    return 0;
}
