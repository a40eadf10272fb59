/* prewarm_box.c — see prewarm_box.h. */
#include "box/prewarm_box.h"

#include "box/env_box.h"
#include "front/size_class.h"
#include "heap.h"

HAK_HIDDEN int hak_prewarm_gate;

void hak_prewarm_configure(void) {
    hak_prewarm_gate = HAKMEM_BOX_PREWARM ? (int)(HAK_CFG(PREWARM) && !HAK_CFG(SS_MEM_LEAN)) : 0;
}

void hak_prewarm_heap(hak_heap_t *h) {
    /* Refilling the most common small classes maps the first superslab and
     * carves the first spans; the blocks stay in the cache for the thread. */
    static const unsigned classes[] = {1, 2, 3, 4};   /* 16..64 bytes */
    for (unsigned i = 0; i < sizeof classes / sizeof classes[0]; i++) hak_heap_refill(h, classes[i]);
}
