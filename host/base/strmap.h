/* strmap.h: a hash map from byte strings (names, ids) to pointers, for
 * tables that are looked up on every message: peers by name, senders by
 * incarnation. Keys are copied; values belong to the caller. */
#ifndef MARO_STRMAP_H
#define MARO_STRMAP_H

#include <stddef.h>

typedef struct strmap_entry strmap_entry;

typedef struct strmap {
    strmap_entry **buckets;
    size_t nbuckets, count;
} strmap;

void strmap_init(strmap *m);
void strmap_free(strmap *m); /* the values are the caller's */
void *strmap_get(const strmap *m, const char *key, size_t len);
/* Sets key to value (replacing). 0, or -1 when out of memory. */
int strmap_put(strmap *m, const char *key, size_t len, void *value);
/* Removes key; returns its value, or NULL. */
void *strmap_remove(strmap *m, const char *key, size_t len);

#endif
