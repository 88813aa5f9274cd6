#include "lua_alloc.h"

#include <stdlib.h>
#include <string.h>

/* Blocks up to POOL_MAX bytes come from free lists, one per multiple of
 * POOL_STEP; bigger ones from malloc. Freed small blocks go back to their
 * list and are never returned to the system: the pool stays at the peak of
 * small objects alive at once, which for a worker is a few MiB. Lua passes
 * the old size of every block it frees or resizes, so blocks carry no header. */
#define POOL_STEP 16
#define POOL_MAX 512
#define POOL_CLASSES (POOL_MAX / POOL_STEP)
#define CHUNK_BYTES (64 * 1024)

typedef struct free_block {
    struct free_block *next;
} free_block;

typedef struct chunk {
    struct chunk *next;
    max_align_t align[]; /* the blocks */
} chunk;

struct lua_pool {
    free_block *free[POOL_CLASSES];
    chunk *chunks;
    char *carve, *carve_end; /* the unused rest of the newest chunk */
};

static size_t class_of(size_t size) { return (size - 1) / POOL_STEP; }

lua_pool *lua_pool_new(void) { return calloc(1, sizeof(lua_pool)); }

void lua_pool_free(lua_pool *p) {
    if (!p) return;
    while (p->chunks) {
        chunk *c = p->chunks;
        p->chunks = c->next;
        free(c);
    }
    free(p);
}

static void *pool_get(lua_pool *p, size_t size) {
    size_t k = class_of(size);
    free_block *b = p->free[k];
    if (b) {
        p->free[k] = b->next;
        return b;
    }
    size_t bytes = (k + 1) * POOL_STEP;
    if ((size_t)(p->carve_end - p->carve) < bytes) {
        chunk *c = malloc(sizeof(chunk) + CHUNK_BYTES);
        if (!c) return NULL;
        c->next = p->chunks;
        p->chunks = c;
        p->carve = (char *)c->align;
        p->carve_end = p->carve + CHUNK_BYTES;
    }
    void *out = p->carve;
    p->carve += bytes;
    return out;
}

static void pool_put(lua_pool *p, void *ptr, size_t size) {
    free_block *b = ptr;
    size_t k = class_of(size);
    b->next = p->free[k];
    p->free[k] = b;
}

#if defined(__SANITIZE_ADDRESS__)
#define POOL_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_OFF 1
#endif
#endif

void *lua_pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    lua_pool *p = ud;
#ifdef POOL_OFF
    /* Under AddressSanitizer every block comes from malloc, so that a use
     * after free of a Lua object (a message's bytes) is still caught. */
    (void)p;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
#endif
    if (!ptr) osize = 0; /* then osize tells the kind of object, not a size */
    if (nsize == 0) {
        if (ptr) {
            if (osize <= POOL_MAX) pool_put(p, ptr, osize);
            else free(ptr);
        }
        return NULL;
    }
    int was_small = ptr && osize <= POOL_MAX;
    if (nsize <= POOL_MAX) {
        if (was_small && class_of(osize) == class_of(nsize)) return ptr;
        void *n = pool_get(p, nsize);
        if (!n) return NULL; /* Lua keeps the old block */
        if (ptr) {
            memcpy(n, ptr, osize < nsize ? osize : nsize);
            if (was_small) pool_put(p, ptr, osize);
            else free(ptr);
        }
        return n;
    }
    if (!ptr || !was_small) return realloc(ptr, nsize);
    void *n = malloc(nsize);
    if (!n) return NULL;
    memcpy(n, ptr, osize);
    pool_put(p, ptr, osize);
    return n;
}
