/* override.h — whether hakmem defines the standard malloc names.
 * HAKMEM_OVERRIDE=0 (make OVERRIDE=0) builds a library that exports only
 * the prefixed hak_* API, for running beside another allocator (TSan). */
#ifndef HAKMEM_OVERRIDE_H
#define HAKMEM_OVERRIDE_H
#ifndef HAKMEM_OVERRIDE
#define HAKMEM_OVERRIDE 1
#endif
#endif
