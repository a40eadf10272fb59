/* bench_bulk — one thread allocates n blocks of one size, frees half in
 * allocation order and half in reverse, and repeats (issue 15's bulk
 * pattern; glibc's bench-malloc-simple has this shape).
 *
 *   bench_bulk OPS [MIN MAX [COUNT]]
 *   bench_bulk --smoke
 *
 * Cells: the sizes MIN, 2 MIN, 4 MIN ... up to MAX (default 16..4096, nine
 * sizes) times n in {25, 100, 400, 1600} (or only n = COUNT, 1..1600, when
 * COUNT is given and not 0), run one after the other, sizes outer. In a cell, each round mallocs n blocks of the cell's size and marks
 * each (bench_mark), then checks and frees blocks 0 .. n/2-1 in allocation
 * order and blocks n-1 down to n/2 in reverse; a cell runs OPS / (2n)
 * rounds (at least one), so every cell makes about OPS mallocs and frees
 * whatever its n. Every block freed is allocated again by the next round:
 * nothing stays live between rounds, and the blocks never fit a cache of
 * fewer than n entries.
 *
 * ops counts every malloc and free; the whole sequence is timed. check is
 * the number of rounds, the same under every allocator.
 */
#include "bench_common.h"

static const char usage[] = "bench_bulk OPS [MIN MAX [COUNT]] | --smoke";

static const size_t counts[] = {25, 100, 400, 1600};
#define NCOUNTS (sizeof counts / sizeof counts[0])
#define MAXCOUNT 1600

static void check_free(void *p, size_t size)
{
    if (bench_marked_size(p, size, size) != size)
        bench_fail("block %p (%zu bytes) corrupted while live", p, size);
    free(p);
}

/* One round out of line and not cloned, so that its code is the same
 * whatever the cell (and callgrind shows it under one name). */
__attribute__((noinline, noclone)) static void round_trip(void **a, size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        void *p = malloc(size);
        BENCH_CHECK_ALLOC(p, size);
        bench_mark(p, size);
        a[i] = p;
    }
    size_t half = n / 2;
    for (size_t i = 0; i < half; i++)
        check_free(a[i], size);
    for (size_t i = n; i-- > half;)
        check_free(a[i], size);
}

int main(int argc, char **argv)
{
    bench_set_name("bulk");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 2 && argc != 4 && argc != 5)
        bench_usage(usage);
    uint64_t ops_per_cell = smoke ? 20000 : bench_arg(argc, argv, 1, 0, 1, UINT64_MAX / 64, usage);
    size_t min = (size_t)bench_arg(argc, argv, 2, 16, 8, (size_t)1 << 30, usage);
    size_t max = (size_t)bench_arg(argc, argv, 3, 4096, min, (size_t)1 << 30, usage);
    size_t only = (size_t)bench_arg(argc, argv, 4, 0, 0, MAXCOUNT, usage);
    size_t ncounts = only ? 1 : NCOUNTS;

    void **a = malloc(MAXCOUNT * sizeof *a);
    BENCH_CHECK_ALLOC(a, MAXCOUNT * sizeof *a);
    uint64_t ops = 0, rounds = 0;
    unsigned nsizes = 0;

    double t0 = bench_now();
    for (size_t size = min; size <= max; size *= 2) {
        for (size_t c = 0; c < ncounts; c++) {
            size_t n = only ? only : counts[c];
            uint64_t r = ops_per_cell / (2 * n);
            if (r == 0)
                r = 1;
            for (uint64_t k = 0; k < r; k++)
                round_trip(a, n, size);
            ops += 2 * n * r;
            rounds += r;
        }
        nsizes++;
    }
    double secs = bench_now() - t0;

    free(a);
    bench_report(ops, secs, -1,
                 "ops_per_cell=%" PRIu64 " min=%zu max=%zu sizes=%u counts=%s"
                 " check=%" PRIu64,
                 ops_per_cell, min, max, nsizes, only ? argv[4] : "25,100,400,1600", rounds);
    return 0;
}
