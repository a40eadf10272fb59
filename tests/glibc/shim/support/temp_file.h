/* hakmem's stand-in for glibc's <support/temp_file.h> (tests/glibc/shim). */
#ifndef SHIM_SUPPORT_TEMP_FILE_H
#define SHIM_SUPPORT_TEMP_FILE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Create a new file in $TMPDIR (default /tmp) whose name starts with BASE;
 * return a read-write descriptor, or -1.  If FILENAME is not NULL, *FILENAME
 * gets the name (malloc'd: the caller frees it) and the file is removed when
 * the process that created it exits; otherwise it is removed at once. */
int create_temp_file(const char *base, char **filename);

#ifdef __cplusplus
}
#endif
#endif
