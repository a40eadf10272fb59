/* bench_random_mixed — the Mixed workload, single thread (hakmem's headline).
 *
 *   bench_random_mixed ITERS WS SEED [MIN MAX]
 *   bench_random_mixed --smoke
 *
 * WS slots; ITERS ops of mixed_run() (see mixed_workload.h). An untimed
 * prefault pass of ITERS/10 ops with a different seed runs first and is
 * drained, so the timed part starts from an allocator that has already seen
 * the size mix. The timed part is ITERS ops plus the final drain.
 *
 * ops counts every malloc and free of the timed part; total_ops adds the
 * prefault pass and its drain, which bench_instr.sh needs because callgrind
 * counts instructions for the whole process.
 */
#include "mixed_workload.h"

static const char usage[] = "bench_random_mixed ITERS WS SEED [MIN MAX] | --smoke";

int main(int argc, char **argv)
{
    bench_set_name("random_mixed");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 4 && argc != 6)
        bench_usage(usage);
    uint64_t iters = smoke ? 200000 : bench_arg(argc, argv, 1, 0, 1, UINT64_MAX / 2, usage);
    uint32_t ws = smoke ? 400 : (uint32_t)bench_arg(argc, argv, 2, 0, 1, 1u << 28, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 3, 0, 0, UINT64_MAX, usage);
    size_t min = (size_t)bench_arg(argc, argv, 4, 16, 1, (size_t)1 << 40, usage);
    size_t max = (size_t)bench_arg(argc, argv, 5, 16 + 0x3FF, min, (size_t)1 << 40, usage);

    void **slots = calloc(ws, sizeof *slots);
    BENCH_CHECK_ALLOC(slots, ws * sizeof *slots);

    mixed_count warm = {0, 0}, timed = {0, 0};
    uint32_t rng = mixed_prefault_seed(seed);
    mixed_run(slots, ws, iters / 10, &rng, min, max, &warm);
    mixed_drain(slots, ws, &warm);

    rng = bench_seed32(seed);
    double t0 = bench_now();
    mixed_run(slots, ws, iters, &rng, min, max, &timed);
    mixed_drain(slots, ws, &timed);
    double secs = bench_now() - t0;

    free(slots);
    bench_report(timed.ops, secs, -1,
                 "iters=%" PRIu64 " ws=%u seed=%" PRIu64 " min=%zu max=%zu"
                 " total_ops=%" PRIu64 " check=%" PRIu64,
                 iters, ws, seed, min, max, warm.ops + timed.ops, timed.mallocs);
    return 0;
}
