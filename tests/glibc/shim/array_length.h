/* hakmem's stand-in for glibc's internal <array_length.h> (tests/glibc/shim). */
#ifndef SHIM_ARRAY_LENGTH_H
#define SHIM_ARRAY_LENGTH_H

/* Number of elements of an array (not a pointer). */
#define array_length(a) (sizeof(a) / sizeof((a)[0]))
/* One past the last element. */
#define array_end(a) (&(a)[array_length(a)])

#endif
