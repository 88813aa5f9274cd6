#include "proxy/peer_table.h"

#include <stdlib.h>
#include <string.h>

void peer_table_init(peer_table *t) {
    memset(t, 0, sizeof *t);
    strmap_init(&t->by_name);
}

static void free_peer(peer *p) {
    while (p->kept_head) peer_drop_kept(p);
    free(p->name);
    free(p->type);
    free(p->address);
    free(p);
}

void peer_table_free(peer_table *t) {
    for (size_t i = 0; i < t->n; i++) free_peer(t->all[i]);
    free(t->all);
    strmap_free(&t->by_name);
    peer_table_init(t);
}

peer *peer_table_find(const peer_table *t, const char *name, size_t len) {
    return strmap_get(&t->by_name, name, len);
}

peer *peer_table_add(peer_table *t, const registration *r) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        peer **a = realloc(t->all, cap * sizeof *a);
        if (!a) return NULL;
        t->all = a;
        t->cap = cap;
    }
    peer *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->name = strdup(r->name);
    p->type = strdup(r->type);
    p->address = strdup(r->address);
    memcpy(p->incarnation, r->incarnation, sizeof p->incarnation);
    memcpy(p->curve, r->curve, sizeof p->curve);
    p->state = PEER_LIVE;
    p->key = ++t->next_key;
    if (!p->name || !p->type || !p->address ||
        strmap_put(&t->by_name, p->name, strlen(p->name), p) != 0) {
        free_peer(p);
        return NULL;
    }
    t->all[t->n++] = p;
    t->version++;
    return p;
}

void peer_table_remove(peer_table *t, peer *p) {
    strmap_remove(&t->by_name, p->name, strlen(p->name));
    for (size_t i = 0; i < t->n; i++)
        if (t->all[i] == p) {
            t->all[i] = t->all[--t->n];
            break;
        }
    free_peer(p);
    t->version++;
}

int peer_table_update(peer_table *t, peer *p, const registration *r) {
    char *address = strdup(r->address), *type = strdup(r->type);
    if (!address || !type) {
        free(address);
        free(type);
        return -1;
    }
    free(p->address);
    free(p->type);
    p->address = address;
    p->type = type;
    memcpy(p->incarnation, r->incarnation, sizeof p->incarnation);
    memcpy(p->curve, r->curve, sizeof p->curve);
    t->version++;
    return 0;
}

peer *peer_table_find_key(const peer_table *t, uint32_t key) {
    for (size_t i = 0; i < t->n; i++)
        if (t->all[i]->key == key) return t->all[i];
    return NULL;
}

peer *peer_table_find_sender(const peer_table *t, sender *s) {
    if (s->peer_version != t->version) {
        s->peer = peer_table_find(t, s->name, strlen(s->name));
        s->peer_version = t->version;
    }
    return s->peer;
}

size_t peer_table_live_of_type(const peer_table *t, const char *type) {
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->all[i]->state == PEER_LIVE && strcmp(t->all[i]->type, type) == 0;
    return n;
}

int peer_keep(peer *p, const wire_header *h, blob *payload) {
    wire_slice s[7] = {h->group, h->tag, h->source, h->destination, h->session_id,
                       h->message_id, h->error};
    size_t total = 0;
    for (int i = 0; i < 7; i++) total += s[i].len;
    kept_msg *k = malloc(sizeof *k + total);
    if (!k) return -1;
    k->next = NULL;
    k->h = *h;
    wire_slice *d[7] = {&k->h.group, &k->h.tag, &k->h.source, &k->h.destination,
                        &k->h.session_id, &k->h.message_id, &k->h.error};
    char *o = k->data;
    for (int i = 0; i < 7; i++) {
        if (!s[i].ptr) continue; /* no error text */
        memcpy(o, s[i].ptr, s[i].len);
        *d[i] = (wire_slice){o, s[i].len};
        o += s[i].len;
    }
    k->payload = blob_ref(payload);
    if (p->kept_tail) p->kept_tail->next = k;
    else p->kept_head = k;
    p->kept_tail = k;
    p->n_kept++;
    return 0;
}

void peer_drop_kept(peer *p) {
    kept_msg *k = p->kept_head;
    if (!k) return;
    p->kept_head = k->next;
    if (!p->kept_head) p->kept_tail = NULL;
    p->n_kept--;
    blob_unref(k->payload);
    free(k);
}
