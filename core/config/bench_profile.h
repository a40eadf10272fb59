/* bench_profile.h — the presets HAKMEM_PROFILE selects.
 *
 * P(ID, NAME, ALIAS, SUMMARY): a profile; ALIAS is the seed's name for it,
 * accepted too.
 * S(PROFILE_ID, VAR_ID, VALUE): the profile's value for a registry variable.
 * Variables a profile does not name keep the registry default; an explicit
 * HAKMEM_* variable in the environment overrides the profile.
 */
#ifndef HAKMEM_BENCH_PROFILE_H
#define HAKMEM_BENCH_PROFILE_H

#define HAK_PROFILES(P)                                                                  \
    P(SPEED, "SPEED", "MIXED_TINYV3_C7_SAFE", "fastest; the default")                    \
    P(BALANCED, "BALANCED", "MIXED_TINYV3_C7_BALANCED",                                  \
      "mem-lean without decommit: SPEED's speed, less memory held")                      \
    P(LEAN, "LEAN", "", "smallest footprint: empty memory given back at once")           \
    P(DEBUG, "DEBUG", "", "catch program bugs: junk fill, canaries, abort on error")     \
    P(SECURE, "SECURE", "", "harden against heap exploits, abort on error")

#define HAK_PRESETS(S)                            \
    S(BALANCED, SS_MEM_LEAN, "1")                 \
    S(BALANCED, SS_MEM_LEAN_DECOMMIT, "OFF")      \
    S(BALANCED, SS_MEM_LEAN_TARGET_MB, "10")      \
    S(BALANCED, FLUSH_CHECK, "1")                 \
    S(LEAN, SS_MEM_LEAN, "1")                     \
    S(LEAN, SS_MEM_LEAN_DECOMMIT, "DONTNEED")     \
    S(LEAN, SS_MEM_LEAN_TARGET_MB, "10")          \
    S(LEAN, PURGE_DELAY_MS, "0")                  \
    S(LEAN, TCACHE_MAX, "512K")                   \
    S(DEBUG, DEBUG, "1")                          \
    S(DEBUG, FLUSH_CHECK, "1")                    \
    S(DEBUG, ON_ERROR, "abort")                   \
    S(SECURE, SECURE, "1")                        \
    S(SECURE, FLUSH_CHECK, "1")                   \
    S(SECURE, ON_ERROR, "abort")

#endif
