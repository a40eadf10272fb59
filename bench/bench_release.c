/* bench_release.c — does memory go back to the OS?  Allocates about TOTAL
 * MiB (default 600) in mixed small (16–256 B) and large (64–260 KiB) blocks,
 * frees everything in scattered order while still allocating a little, waits
 * one second (allocating a little), then calls malloc_trim(0).  Prints RSS at
 * start, at peak, one second after the frees, and after the trim, in KiB.
 *
 *   bench_release [TOTAL_MIB] [--smoke]
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint32_t rng = 2463534242u;
static uint32_t next(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }

/* A little ongoing allocation: a ring of small blocks replaced one at a time. */
static void *ring[64];
static void churn(int n) {
    for (int i = 0; i < n; i++) {
        uint32_t r = next(), k = r % 64;
        free(ring[k]);
        ring[k] = malloc(16 + r % 240);
        if (ring[k]) memset(ring[k], 1, 16);
    }
}

int main(int argc, char **argv) {
    size_t total_mib = 600;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0) total_mib = 8;
        else total_mib = (size_t)strtoul(argv[i], NULL, 10);
    }
    churn(64);
    long start = rss_kib();
    size_t cap = 1 << 20, n = 0, bytes = 0, target = total_mib << 20;
    void **v = malloc(cap * sizeof *v);
    if (!v) return 1;
    while (bytes < target) {
        if (n == cap) { cap *= 2; v = realloc(v, cap * sizeof *v); if (!v) return 1; }
        uint32_t r = next();
        size_t size = (r & 7) == 0 ? (64u << 10) + r % (196u << 10) : 16 + r % 241;
        char *p = malloc(size);
        if (!p) { fprintf(stderr, "allocation failed\n"); return 1; }
        memset(p, (int)(r & 0xff), size);
        v[n++] = p;
        bytes += size;
    }
    long peak = rss_kib();
    /* scattered order: a random permutation */
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = next() % (i + 1);
        void *t = v[i]; v[i] = v[j]; v[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
        if ((i & 1023) == 0) churn(4);
    }
    free(v);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        churn(16);
        struct timespec ms = {0, 10 * 1000 * 1000};
        nanosleep(&ms, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 1000000000L);
    long after = rss_kib();
    int trimmed = malloc_trim(0);
    long final = rss_kib();
    printf("bench=release total_mib=%zu blocks=%zu start_rss_kib=%ld peak_rss_kib=%ld after_1s_rss_kib=%ld "
           "after_trim_rss_kib=%ld above_start_1s_kib=%ld above_start_trim_kib=%ld trim_returned=%d\n",
           total_mib, n, start, peak, after, final, after - start, final - start, trimmed);
    for (int i = 0; i < 64; i++) free(ring[i]);
    return 0;
}
