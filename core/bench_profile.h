/* bench_profile.h — the presets HAKMEM_PROFILE selects.
 *
 * P(ID, NAME, ALIAS, SUMMARY): a profile; ALIAS is an older name accepted too.
 * S(PROFILE_ID, VAR_ID, VALUE): the profile's value for a registry variable.
 * Variables a profile does not name keep the registry default; an explicit
 * HAKMEM_* variable in the environment overrides the profile.
 */
#ifndef HAKMEM_BENCH_PROFILE_H
#define HAKMEM_BENCH_PROFILE_H

#define HAK_PROFILES(P)                                                        \
    P(SPEED, "SPEED", "MIXED_TINYV3_C7_SAFE", "fastest; the default")          \
    P(BALANCED, "BALANCED", "MIXED_TINYV3_C7_BALANCED",                        \
      "mem-lean without decommit: near SPEED's speed, less memory held")       \
    P(LEAN, "LEAN", "", "smallest footprint: retained pages given back")       \
    P(DEBUG, "DEBUG", "", "catch program bugs: junk fill, canaries, abort")    \
    P(SECURE, "SECURE", "", "harden against heap exploits")

#define HAK_PRESETS(S)

#endif
