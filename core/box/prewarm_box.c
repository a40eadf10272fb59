/* prewarm_box.c — see prewarm_box.h. */
#include "box/prewarm_box.h"

#include "config/config.h"
#include "heap/heap.h"

/* Refilling the most common small classes maps the first superslab and
 * carves the first spans; the blocks stay in the cache for the thread. */
static void prewarm_heap(hak_heap_t *h) {
    static const unsigned classes[] = {1, 2, 3, 4};   /* 16..64 bytes */
    for (unsigned i = 0; i < sizeof classes / sizeof classes[0]; i++) hak_heap_refill(h, classes[i]);
}

void hak_prewarm_configure(void) {
    bool on = HAK_CFG(PREWARM) && !HAK_CFG(SS_MEM_LEAN);
    hak_heaps_hooks.created = on ? prewarm_heap : NULL;
}
