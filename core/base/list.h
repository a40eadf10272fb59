/* list.h — the intrusive doubly linked list: spans with free blocks (a
 * heap's avail lists), a heap's superslabs, the pool of empty superslabs, the
 * cache of freed huge mappings.  A node is embedded in its object; the list
 * knows its first and last node. */
#ifndef HAKMEM_LIST_H
#define HAKMEM_LIST_H

#include "base/base.h"

typedef struct hak_link {
    struct hak_link *next, *prev;
} hak_link_t;

typedef struct hak_list {
    hak_link_t *first, *last;
} hak_list_t;

/* The object of type `type` whose member `member` is link (NULL for NULL). */
#define HAK_LIST_OBJ(link, type, member) ((link) ? HAK_CONTAINER(link, type, member) : (type *)NULL)

HAK_INLINE bool hak_list_empty(const hak_list_t *l) { return l->first == NULL; }

HAK_INLINE void hak_list_push(hak_list_t *l, hak_link_t *n) {
    n->prev = NULL;
    n->next = l->first;
    if (l->first) l->first->prev = n; else l->last = n;
    l->first = n;
}

HAK_INLINE void hak_list_remove(hak_list_t *l, hak_link_t *n) {
    if (n->prev) n->prev->next = n->next; else l->first = n->next;
    if (n->next) n->next->prev = n->prev; else l->last = n->prev;
    n->next = n->prev = NULL;
}

#endif
