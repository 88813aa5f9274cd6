/* events_peerset.c: a sorted set of peer names (events_peerset.h). */
#include "events/events_peerset.h"

#include <stdlib.h>
#include <string.h>

static int slice_cmp(const void *a, const void *b) {
    const wire_slice *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

void events_peerset_free(events_peerset *p) {
    free(p->names);
    free(p->bytes);
    *p = (events_peerset){0};
}

int events_peerset_set(events_peerset *p, const wire_slice *names, size_t n) {
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += names[i].len;
    wire_slice *list = malloc((n ? n : 1) * sizeof *list);
    char *store = malloc(bytes ? bytes : 1);
    if (!list || !store) {
        free(list);
        free(store);
        return -1;
    }
    char *at = store;
    for (size_t i = 0; i < n; i++) {
        memcpy(at, names[i].ptr, names[i].len);
        list[i] = (wire_slice){at, names[i].len};
        at += names[i].len;
    }
    qsort(list, n, sizeof *list, slice_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || slice_cmp(&list[m - 1], &list[i]) != 0) list[m++] = list[i];
    int same = m == p->n;
    for (size_t i = 0; same && i < m; i++) same = slice_cmp(&list[i], &p->names[i]) == 0;
    if (same) {
        free(list);
        free(store);
        return 0;
    }
    free(p->names);
    free(p->bytes);
    p->names = list;
    p->bytes = store;
    p->n = m;
    return 1;
}

size_t events_peerset_count_prefix(const events_peerset *p, const char *prefix, size_t len) {
    wire_slice key = {prefix, len};
    size_t lo = 0, hi = p->n;
    while (lo < hi) { /* first name >= prefix */
        size_t mid = lo + (hi - lo) / 2;
        if (slice_cmp(&p->names[mid], &key) < 0) lo = mid + 1;
        else hi = mid;
    }
    size_t first = lo;
    hi = p->n;
    while (lo < hi) { /* first name after the run that starts with prefix */
        size_t mid = lo + (hi - lo) / 2;
        if (p->names[mid].len >= len && memcmp(p->names[mid].ptr, prefix, len) == 0) lo = mid + 1;
        else hi = mid;
    }
    return lo - first;
}
