#include "discovery/registration.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/header.h"

int registration_format(const registration *r, const group_secrets *secrets, buf *out,
                        size_t *identity_len) {
    char line[2200];
    size_t start = out->len;
    int n = snprintf(line, sizeof line, "maro %d\ntype %s\naddress %s\nincarnation %s\n",
                     WIRE_VERSION, r->type, r->address, r->incarnation);
    if (n < 0 || (size_t)n >= sizeof line || buf_append(out, line, (size_t)n) != 0) return -1;
    *identity_len = out->len - start;
    if (secrets) {
        n = snprintf(line, sizeof line, "curve %s\n", r->curve);
        if (n < 0 || buf_append(out, line, (size_t)n) != 0) return -1;
    }
    n = snprintf(line, sizeof line,
                 "started %lld\nstats sent=%" PRIu64 " received=%" PRIu64 " buffered=%" PRIu64
                 " dropped=%" PRIu64 "\n",
                 r->started_ms, r->stats.sent, r->stats.received, r->stats.buffered,
                 r->stats.dropped);
    if (n < 0 || buf_append(out, line, (size_t)n) != 0) return -1;
    if (!secrets) return 0;
    char mac[65];
    group_key_sign(secrets, out->data + start, out->len - start, mac);
    n = snprintf(line, sizeof line, "mac %s\n", mac);
    return n < 0 || buf_append(out, line, (size_t)n) != 0 ? -1 : 0;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* The value of "key value" on a line, or NULL. */
static int field(const char *text, size_t len, const char *key, const char **v, size_t *vlen) {
    size_t klen = strlen(key);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        if ((size_t)(eol - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == ' ') {
            *v = p + klen + 1;
            *vlen = (size_t)(eol - *v);
            return 1;
        }
        p = eol + 1;
    }
    return 0;
}

/* Where the line "key ..." starts, or NULL. */
static const char *line_start(const char *text, size_t len, const char *key) {
    size_t klen = strlen(key);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        if ((size_t)(eol - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == ' ') return p;
        p = eol + 1;
    }
    return NULL;
}

/* What read_fields does with the "curve" line: a signed registration must
 * have one; an open member's reader leaves it out, as it talks in the clear. */
enum { CURVE_SKIP, CURVE_IF_THERE, CURVE_NEEDED };

/* The lines after the signature check. */
static int read_fields(const char *name, const char *text, size_t len, int curve,
                       registration *out, char *err, size_t errlen) {
    const char *v;
    size_t vlen;
    if (!field(text, len, "maro", &v, &vlen)) {
        snprintf(err, errlen, "'%s' is registered in a format this version does not read (an "
                 "older marohost?)", name);
        return -1;
    }
    if (vlen != 1 || v[0] != '0' + WIRE_VERSION) {
        snprintf(err, errlen, "'%s' speaks wire version %.*s (this member speaks %d)", name,
                 (int)(vlen > 8 ? 8 : vlen), v, WIRE_VERSION);
        return -1;
    }
    const char *t, *a, *i, *c, *s = NULL;
    size_t tl, al, il, cl, sl = 0;
    if (!field(text, len, "type", &t, &tl) || !field(text, len, "address", &a, &al) ||
        !field(text, len, "incarnation", &i, &il) || il != REGISTRATION_INCARNATION_HEX ||
        tl == 0 || al == 0) {
        snprintf(err, errlen, "'%s' has a registration without its type, address or "
                 "incarnation", name);
        return -1;
    }
    int has_curve = curve != CURVE_SKIP && field(text, len, "curve", &c, &cl) &&
                    cl == REGISTRATION_CURVE_Z85;
    if (curve == CURVE_NEEDED && !has_curve) {
        snprintf(err, errlen, "'%s' has a signed registration without its CURVE key", name);
        return -1;
    }
    out->name = strdup(name);
    out->type = dup_n(t, tl);
    out->address = dup_n(a, al);
    memcpy(out->incarnation, i, il);
    if (has_curve) memcpy(out->curve, c, cl);
    if (field(text, len, "started", &s, &sl)) out->started_ms = strtoll(s, NULL, 10);
    if (field(text, len, "stats", &s, &sl)) {
        char *st = dup_n(s, sl);
        if (st) {
            sscanf(st, "sent=%" SCNu64 " received=%" SCNu64 " buffered=%" SCNu64
                   " dropped=%" SCNu64, &out->stats.sent, &out->stats.received,
                   &out->stats.buffered, &out->stats.dropped);
            free(st);
        }
    }
    if (!out->name || !out->type || !out->address) {
        registration_free(out);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int registration_parse(const char *name, const char *text, size_t len,
                       const group_secrets *secrets, registration *out, char *err,
                       size_t errlen) {
    memset(out, 0, sizeof *out);
    const char *mac = line_start(text, len, "mac");
    if (secrets) {
        const char *hex = mac ? mac + 4 : NULL, *eol = NULL;
        if (hex) eol = memchr(hex, '\n', (size_t)(text + len - hex));
        size_t hexlen = hex ? (size_t)((eol ? eol : text + len) - hex) : 0;
        if (!mac || !group_key_verify(secrets, text, (size_t)(mac - text), hex, hexlen)) {
            snprintf(err, errlen, "'%s' is registered without this group's key (a registration "
                     "that is not signed with it is ignored)", name);
            return -1;
        }
    } else if (mac) {
        snprintf(err, errlen, "'%s' is a member of a closed group (its registration is signed "
                 "with a group key this member does not hold)", name);
        return -1;
    }
    return read_fields(name, text, len, secrets ? CURVE_NEEDED : CURVE_SKIP, out, err, errlen);
}

int registration_parse_unverified(const char *name, const char *text, size_t len,
                                  registration *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    return read_fields(name, text, len, CURVE_IF_THERE, out, err, errlen);
}

int registration_copy(registration *dst, const registration *src) {
    *dst = *src;
    dst->name = strdup(src->name);
    dst->type = strdup(src->type);
    dst->address = strdup(src->address);
    if (dst->name && dst->type && dst->address) return 0;
    registration_free(dst);
    return -1;
}

void registration_free(registration *r) {
    if (!r) return;
    free(r->name);
    free(r->type);
    free(r->address);
    r->name = r->type = r->address = NULL;
}

void registrations_free(registration *r, size_t n) {
    if (!r) return;
    for (size_t i = 0; i < n; i++) registration_free(&r[i]);
    free(r);
}
