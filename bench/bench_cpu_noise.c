/* bench_cpu_noise — the machine's own throughput noise, with no allocator
 * in it: one thread runs a fixed arithmetic loop (no memory traffic, no
 * system calls but the clock) in epochs and reports how much work each
 * epoch did per wall-clock second and per CPU-second of the thread.
 *
 *   bench_cpu_noise [EPOCHS [EPOCH_S]]     default 12 epochs of 5 s
 *
 * Prints "epoch,iters_per_s,iters_per_cpu_s" per epoch, then one summary
 * line with the coefficient of variation of both.  The soak's throughput CV
 * (scripts/analyze_soak.py) cannot be judged below this floor: a soak is
 * several threads with memory traffic, noisier than this loop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* (the benchmarks link with no libm) */
static double root(double v)
{
    double r = v > 1 ? v : 1;
    for (int i = 0; i < 200; i++)
        r = (r + v / r) / 2;
    return r;
}

static double cv_pct(const double *v, int n)
{
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++)
        mean += v[i] / n;
    for (int i = 0; i < n; i++)
        var += (v[i] - mean) * (v[i] - mean) / n;
    return mean > 0 ? root(var) / mean * 100 : 0;
}

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 12;
    double epoch_s = argc > 2 ? atof(argv[2]) : 5;
    if (epochs < 2 || epochs > 100000 || !(epoch_s > 0)) {
        fprintf(stderr, "usage: bench_cpu_noise [EPOCHS>=2 [EPOCH_S>0]]\n");
        return 2;
    }
    double *wall = calloc((size_t)epochs, sizeof *wall), *cpu = calloc((size_t)epochs, sizeof *cpu);
    if (!wall || !cpu)
        return 1;
    volatile uint64_t x = 1;
    printf("epoch,iters_per_s,iters_per_cpu_s\n");
    for (int e = 0; e < epochs; e++) {
        double w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_THREAD_CPUTIME_ID), w;
        uint64_t n = 0;
        do {
            for (int i = 0; i < 100000; i++)
                x = x * 6364136223846793005ull + 1442695040888963407ull;
            n++;
        } while ((w = seconds(CLOCK_MONOTONIC) - w0) < epoch_s);
        double c = seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
        wall[e] = (double)n / w;
        cpu[e] = c > 0 ? (double)n / c : 0;
        printf("%d,%.0f,%.0f\n", e + 1, wall[e], cpu[e]);
        fflush(stdout);
    }
    printf("bench=cpu_noise epochs=%d epoch_s=%g cv_wall_pct=%.2f cv_cpu_pct=%.2f\n", epochs, epoch_s,
           cv_pct(wall, epochs), cv_pct(cpu, epochs));
    free(wall);
    free(cpu);
    return 0;
}
