#include "base/strmap.h"

#include "base/hash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strmap_entry {
    strmap_entry *next;
    void *value;
    size_t len;
    char key[];
};

#define hash hash_bytes

void strmap_init(strmap *m) { *m = (strmap){NULL, 0, 0}; }

void strmap_free(strmap *m) {
    for (size_t i = 0; i < m->nbuckets; i++)
        for (strmap_entry *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(m->buckets);
    strmap_init(m);
}

static strmap_entry **slot(const strmap *m, const char *key, size_t len) {
    strmap_entry **s = &m->buckets[hash(key, len) & (m->nbuckets - 1)];
    while (*s && !((*s)->len == len && memcmp((*s)->key, key, len) == 0)) s = &(*s)->next;
    return s;
}

void *strmap_get(const strmap *m, const char *key, size_t len) {
    if (!m->count) return NULL;
    strmap_entry *e = *slot(m, key, len);
    return e ? e->value : NULL;
}

static int grow(strmap *m) {
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    strmap_entry **b = calloc(n, sizeof *b);
    if (!b) return -1;
    for (size_t i = 0; i < m->nbuckets; i++)
        for (strmap_entry *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            strmap_entry **s = &b[hash(e->key, e->len) & (n - 1)];
            e->next = *s;
            *s = e;
        }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return 0;
}

int strmap_put(strmap *m, const char *key, size_t len, void *value) {
    if (m->count >= m->nbuckets && grow(m) != 0 && !m->nbuckets) return -1;
    strmap_entry **s = slot(m, key, len);
    if (*s) {
        (*s)->value = value;
        return 0;
    }
    strmap_entry *e = malloc(sizeof *e + len);
    if (!e) return -1;
    e->next = NULL;
    e->value = value;
    e->len = len;
    memcpy(e->key, key, len);
    *s = e;
    m->count++;
    return 0;
}

void *strmap_remove(strmap *m, const char *key, size_t len) {
    if (!m->count) return NULL;
    strmap_entry **s = slot(m, key, len), *e = *s;
    if (!e) return NULL;
    void *v = e->value;
    *s = e->next;
    free(e);
    m->count--;
    return v;
}
