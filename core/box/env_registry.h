/* env_registry.h — the one list of every HAKMEM_* variable.
 *
 * X(ID, TYPE, DEFAULT, MIN, MAX, CHOICES, BOX, HELP)
 *   ID       variable name without the HAKMEM_ prefix
 *   TYPE     BOOL (0/1, on/off, yes/no, true/false), INT (MIN..MAX),
 *            SIZE (bytes, K/M/G suffixes, MIN..MAX), ENUM (CHOICES, '|'-separated)
 *   DEFAULT  the value when neither the profile nor the environment sets it
 *   BOX      the box the variable belongs to (docs/ENV.md groups by it)
 * Profiles override defaults (core/bench_profile.h); the environment wins
 * over both.  Nothing else in the code knows a variable's name or default.
 */
#ifndef HAKMEM_ENV_REGISTRY_H
#define HAKMEM_ENV_REGISTRY_H

#define HAK_ENV_REGISTRY(X)                                                              \
    X(PROFILE, ENUM, "SPEED", 0, 0, "", config,                                          \
      "preset of defaults: SPEED, BALANCED, LEAN, DEBUG, SECURE (see docs/PROFILES.md)") \
    X(VERBOSE, BOOL, "0", 0, 1, "", verbose,                                             \
      "print the effective configuration at init, and one line per rare event")          \
    X(STATS, ENUM, "0", 0, 0, "0|1|json", stats,                                         \
      "report counters at exit: 0 off, 1 readable text, json one JSON line")

#endif
