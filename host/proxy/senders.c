#include "proxy/senders.h"

#include <stdlib.h>
#include <string.h>

void senders_init(senders *s) {
    memset(s, 0, sizeof *s);
    strmap_init(&s->by_incarnation);
}

static void free_sender(sender *x) {
    free(x->name);
    free(x);
}

void senders_free(senders *s) {
    for (size_t i = 0; i < s->n; i++) free_sender(s->all[i]);
    free(s->all);
    strmap_free(&s->by_incarnation);
    senders_init(s);
}

static void forget_oldest(senders *s) {
    size_t old = 0;
    for (size_t i = 1; i < s->n; i++)
        if (s->all[i]->seen < s->all[old]->seen) old = i;
    sender *x = s->all[old];
    strmap_remove(&s->by_incarnation, (const char *)x->incarnation, WIRE_INCARNATION_LEN);
    s->all[old] = s->all[--s->n];
    free_sender(x);
}

sender *senders_get(senders *s, const uint8_t *incarnation, const char *name, size_t name_len,
                    double now) {
    sender *x = strmap_get(&s->by_incarnation, (const char *)incarnation, WIRE_INCARNATION_LEN);
    if (x && x->name && strlen(x->name) == name_len && memcmp(x->name, name, name_len) == 0) {
        x->seen = now;
        return x;
    }
    if (x) { /* the same run under another name: a stranger's doing; start afresh */
        strmap_remove(&s->by_incarnation, (const char *)incarnation, WIRE_INCARNATION_LEN);
        for (size_t i = 0; i < s->n; i++)
            if (s->all[i] == x) {
                s->all[i] = s->all[--s->n];
                break;
            }
        free_sender(x);
    }
    if (s->n >= SENDERS_MAX) forget_oldest(s);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        sender **a = realloc(s->all, cap * sizeof *a);
        if (!a) return NULL;
        s->all = a;
        s->cap = cap;
    }
    x = calloc(1, sizeof *x);
    if (!x || !(x->name = malloc(name_len + 1))) {
        free(x);
        return NULL;
    }
    memcpy(x->name, name, name_len);
    x->name[name_len] = '\0';
    memcpy(x->incarnation, incarnation, WIRE_INCARNATION_LEN);
    x->seen = now;
    if (strmap_put(&s->by_incarnation, (const char *)incarnation, WIRE_INCARNATION_LEN, x) != 0) {
        free_sender(x);
        return NULL;
    }
    s->all[s->n++] = x;
    return x;
}

void senders_owe_nothing(senders *s, const char *name) {
    for (size_t i = 0; i < s->n; i++) {
        sender *x = s->all[i];
        if (strcmp(x->name, name) != 0) continue;
        x->unacked = 0;
        x->since_flush = 0;
        x->flush_at = 0;
    }
}
