/* boxes.h — compile switches of every box.  -DHAKMEM_BOX_<NAME>=0 (make
 * BOX_<NAME>=0) compiles a box out: its gate becomes the constant 0 and its
 * code disappears.  make BOXES=none sets HAKMEM_BOXES_NONE, turning every
 * box off unless one is switched back on explicitly. */
#ifndef HAKMEM_BOXES_H
#define HAKMEM_BOXES_H

#ifdef HAKMEM_BOXES_NONE
#define HAK_BOX_DEFAULT 0
#else
#define HAK_BOX_DEFAULT 1
#endif

#ifndef HAKMEM_BOX_STATS
#define HAKMEM_BOX_STATS HAK_BOX_DEFAULT
#endif
#ifndef HAKMEM_BOX_THP
#define HAKMEM_BOX_THP HAK_BOX_DEFAULT
#endif
#ifndef HAKMEM_BOX_PREWARM
#define HAKMEM_BOX_PREWARM HAK_BOX_DEFAULT
#endif
#ifndef HAKMEM_BOX_DEBUG
#define HAKMEM_BOX_DEBUG HAK_BOX_DEFAULT
#endif
#ifndef HAKMEM_BOX_SECURE
#define HAKMEM_BOX_SECURE HAK_BOX_DEFAULT
#endif
#ifndef HAKMEM_BOX_FLUSH_CHECK
#define HAKMEM_BOX_FLUSH_CHECK HAK_BOX_DEFAULT
#endif
#ifndef HAKMEM_BOX_VERBOSE
#define HAKMEM_BOX_VERBOSE HAK_BOX_DEFAULT
#endif

#endif
