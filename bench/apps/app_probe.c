/* app_probe.c — preloaded after the allocator by scripts/bench_app.sh: proof
 * that the preload took, in every process of an application run (gcc's cc1
 * and as included, since LD_PRELOAD is inherited).
 *
 * Its constructor finds the object that the global symbol `malloc` binds to
 * (the binding every call from the program and its libraries gets): the
 * first object in the global search order — the link map, which for the
 * objects loaded at start is the program, then the LD_PRELOAD libraries,
 * then the needed libraries breadth first — that defines `malloc` itself.
 * (Not dlsym(RTLD_DEFAULT): a non-PIE program that takes malloc's address,
 * as Debian's python3 does, gets its own PLT stub back as the canonical
 * address.) The program itself is not considered: a program that defines
 * its own malloc is not one LD_PRELOAD can measure. It appends one line to
 * the file named by BENCH_PROBE_LOG:
 *
 *     PID<TAB>COMM<TAB>/path/of/the/object/defining/malloc
 *
 * One write(2) with O_APPEND per process, so concurrent processes do not
 * interleave. No environment variable set: nothing is written. It defines no
 * allocation function and allocates nothing itself.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char found[4096];

/* dl_iterate_phdr visits the link map in order; stop at the first shared
 * object whose own `malloc` (dlsym on its handle also searches its
 * dependencies, so the definition's object is checked) is defined in it. */
static int visit(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    const char *name = info->dlpi_name;
    if (!name || !*name || !strncmp(name, "linux-vdso", 10))
        return 0;                               /* the program, the vDSO */
    void *h = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        return 0;
    Dl_info di;
    void *sym = dlsym(h, "malloc");
    int hit = sym && dladdr(sym, &di) && di.dli_fname && !strcmp(di.dli_fname, name);
    dlclose(h);
    if (!hit)
        return 0;
    snprintf(found, sizeof found, "%s", name);
    return 1;
}

__attribute__((constructor)) static void app_probe(void)
{
    const char *log = getenv("BENCH_PROBE_LOG");
    if (!log || !*log)
        return;
    const char *obj = "?";
    if (dl_iterate_phdr(visit, NULL))
        obj = found;
    char comm[64] = "?";
    int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, comm, sizeof comm - 1);
        close(fd);
        if (n > 0) {
            comm[n] = '\0';
            comm[strcspn(comm, "\n")] = '\0';
        }
    }
    char line[4608];
    int len = snprintf(line, sizeof line, "%ld\t%s\t%s\n", (long)getpid(), comm, obj);
    if (len <= 0 || (size_t)len >= sizeof line)
        return;
    fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t w = write(fd, line, (size_t)len);
    (void)w;
    close(fd);
}
