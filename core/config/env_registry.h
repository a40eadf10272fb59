/* env_registry.h — the one list of every HAKMEM_* variable.
 *
 * X(ID, TYPE, DEFAULT, MIN, MAX, CHOICES, BOX, HELP)
 *   ID       variable name without the HAKMEM_ prefix
 *   TYPE     BOOL (0/1, on/off, yes/no, true/false), INT (MIN..MAX),
 *            SIZE (bytes, K/M/G suffixes, MIN..MAX), ENUM (CHOICES, '|'-separated),
 *            STRING (free text, not interpreted by the library)
 *   DEFAULT  the value when neither the profile nor the environment sets it
 *   BOX      the box the variable belongs to (docs/ENV.md groups by it)
 * Profiles override defaults (core/config/bench_profile.h); the environment wins
 * over both.  Nothing else in the library knows a variable's name or default.
 * docs/ENV.md is generated from this table (make docs).
 */
#ifndef HAKMEM_ENV_REGISTRY_H
#define HAKMEM_ENV_REGISTRY_H

#define HAK_ENV_REGISTRY(X)                                                                        \
    X(PROFILE, ENUM, "SPEED", 0, 0, "", config,                                                    \
      "preset of defaults: SPEED, BALANCED, LEAN, DEBUG or SECURE (docs/PROFILES.md)")             \
    X(VERBOSE, BOOL, "0", 0, 1, "", verbose,                                                       \
      "print the effective configuration at init, and one line per rare event")                   \
    X(STATS, ENUM, "0", 0, 0, "0|1|json", stats,                                                   \
      "report counters at exit: 0 off, 1 readable text, json one JSON line")                      \
    X(STATS_FILE, STRING, "", 0, 0, "", stats,                                                     \
      "with HAKMEM_STATS: append the exit report to this file instead of stderr (%p: the pid)")   \
    X(PREWARM, BOOL, "0", 0, 1, "", prewarm,                                                       \
      "map a thread's first superslab when the thread starts, before it asks")                    \
    X(THP, BOOL, "0", 0, 1, "", thp,                                                               \
      "ask for transparent huge pages (madvise MADV_HUGEPAGE) on superslabs and huge blocks")                     \
    X(SS_MEM_LEAN, BOOL, "0", 0, 1, "", release,                                                   \
      "mem-lean mode: no prewarming, retained memory capped at SS_MEM_LEAN_TARGET_MB")            \
    X(SS_MEM_LEAN_TARGET_MB, INT, "10", 0, 1048576, "", release,                                  \
      "mem-lean: most MiB of empty memory kept mapped for reuse")                                \
    X(SS_MEM_LEAN_DECOMMIT, ENUM, "OFF", 0, 0, "OFF|DONTNEED|FREE", release,                       \
      "mem-lean: how retained pages are given back: OFF keep, DONTNEED at once, FREE lazily")    \
    X(PURGE_DELAY_MS, INT, "1000", 0, 3600000, "", release,                                        \
      "how long an empty slab or superslab waits before it is decommitted or unmapped")          \
    X(RETAIN_MB, INT, "64", 0, 1048576, "", release,                                               \
      "outside mem-lean: most MiB of empty superslabs kept mapped, and of free slabs kept committed, for speed; freed huge blocks: 4x this") \
    X(IDLE_CACHES, BOOL, "1", 0, 1, "", release,                                                   \
      "take back the cached blocks of threads idle in a system call (probes /proc/self/task/TID/syscall); 0: never") \
    X(TCACHE_MAX, SIZE, "3M", 65536, 1073741824, "", front,                                       \
      "most bytes of free blocks one thread's caches may hold (caps scaled down to fit)")         \
    X(DEBUG, BOOL, "0", 0, 1, "", debug,                                                           \
      "junk-fill new and freed memory, canary after each block, checks at free and realloc")     \
    X(FLUSH_CHECK, BOOL, "0", 0, 1, "", flush_check,                                              \
      "check every block that leaves a thread cache (interior pointers, double frees not in a row); SPEED and LEAN: off") \
    X(SECURE, BOOL, "0", 0, 1, "", secure,                                                         \
      "encoded free lists, randomised carving, redzones after blocks, double and invalid free detection") \
    X(ON_ERROR, ENUM, "report", 0, 0, "report|abort", debug,                                       \
      "on a detected heap error: report one line and go on, or report and abort")                \
    X(LIB, STRING, "", 0, 0, "", launcher,                                                         \
      "the hakmem launcher's library path (not read by the library itself)")

#endif
