#include "wire/header.h"

#include <stdio.h>
#include <string.h>

#include "wire/mp_read.h"

static const char *type_names[] = {NULL, "task", "notification"};
static const char *stage_names[] = {NULL, "task_request", "task_receive", "task_complete",
                                    "notification_request", "notification_receive"};
static const char *field_names[WIRE_HEADER_FIELDS] = {
    "version", "group", "tag", "source", "destination",
    "session_id", "message_id", "session_type", "session_stage"};

const char *wire_session_type_name(int t) {
    return (t > SESSION_NONE && t <= SESSION_NOTIFICATION) ? type_names[t] : NULL;
}

const char *wire_session_stage_name(int s) {
    return (s > STAGE_NONE && s <= STAGE_NOTIFICATION_RECEIVE) ? stage_names[s] : NULL;
}

static int parse_name(const char *const *names, int n, const char *s, size_t len) {
    for (int i = 1; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) return i;
    return -1;
}

int wire_session_type_parse(const char *s, size_t len) { return parse_name(type_names, 3, s, len); }
int wire_session_stage_parse(const char *s, size_t len) { return parse_name(stage_names, 6, s, len); }

int wire_stage_belongs(int type, int stage) {
    if (type == SESSION_TASK) return stage >= STAGE_TASK_REQUEST && stage <= STAGE_TASK_COMPLETE;
    if (type == SESSION_NOTIFICATION)
        return stage == STAGE_NOTIFICATION_REQUEST || stage == STAGE_NOTIFICATION_RECEIVE;
    return stage == STAGE_NONE;
}

int wire_request_stage(int type) {
    if (type == SESSION_TASK) return STAGE_TASK_REQUEST;
    if (type == SESSION_NOTIFICATION) return STAGE_NOTIFICATION_REQUEST;
    return STAGE_NONE;
}

/* The header is written by hand, not with msgpack-c's packer: it is a
 * fixed shape (an array of 9, a small integer, strings or nil), written for
 * every message sent, and one reservation plus direct stores cost a fraction
 * of a callback per element. The forms are the shortest MessagePack allows. */
static size_t str_size(size_t len) { return len + (len < 32 ? 1 : len < 256 ? 2 : 3); }

static char *put_str(char *o, const char *p, size_t len) {
    if (len < 32) {
        *o++ = (char)(0xa0 | len);
    } else if (len < 256) {
        *o++ = (char)0xd9;
        *o++ = (char)len;
    } else { /* fields are at most WIRE_MAX_NAME bytes: str 16 is enough */
        *o++ = (char)0xda;
        *o++ = (char)(len >> 8);
        *o++ = (char)len;
    }
    memcpy(o, p, len);
    return o + len;
}

int wire_header_encode(const wire_header *h, buf *out) {
    const wire_slice s[6] = {h->group, h->tag, h->source, h->destination, h->session_id,
                             h->message_id};
    const char *names[2] = {wire_session_type_name(h->session_type),
                            wire_session_stage_name(h->session_stage)};
    size_t lens[2] = {names[0] ? strlen(names[0]) : 0, names[1] ? strlen(names[1]) : 0};
    size_t need = 2; /* fixarray, positive fixint version */
    for (int i = 0; i < 6; i++) {
        if (s[i].len > 0xffff) return -1; /* callers keep fields within WIRE_MAX_NAME */
        need += str_size(s[i].len);
    }
    for (int i = 0; i < 2; i++) need += names[i] ? str_size(lens[i]) : 1;
    if (out->cap - out->len < need && buf_grow(out, need) != 0) return -1;
    char *o = out->data + out->len;
    *o++ = (char)(0x90 | WIRE_HEADER_FIELDS);
    *o++ = (char)WIRE_VERSION;
    for (int i = 0; i < 6; i++) o = put_str(o, s[i].ptr, s[i].len);
    for (int i = 0; i < 2; i++) {
        if (names[i]) o = put_str(o, names[i], lens[i]);
        else *o++ = (char)0xc0;
    }
    out->len = (size_t)(o - out->data);
    return 0;
}

/* at: the byte where the bad item starts, or where reading stopped. */
static const char *fail(char *err, size_t errlen, size_t at, int field, const char *what) {
    if (field < 0)
        snprintf(err, errlen, "header: %s at byte %zu", what, at);
    else
        snprintf(err, errlen, "header field %d (%s): %s at byte %zu", field + 1,
                 field_names[field], what, at);
    return err;
}

/* Reads the next item, noting where it starts in *at. On a malformed item
 * *at is where the reader stopped, which is the offending byte. */
static const char *next(mp_reader *r, mp_item *it, size_t *at) {
    *at = mp_offset(r);
    const char *why = mp_read(r, it);
    if (why) *at = mp_offset(r);
    return why;
}

const char *wire_header_decode(const char *data, size_t len, wire_header *h, char *err,
                               size_t errlen) {
    mp_reader r;
    mp_item it;
    const char *why;
    size_t at = 0;
    mp_reader_init(&r, data, len);
    if (len > WIRE_MAX_HEADER) return fail(err, errlen, 0, -1, "frame longer than 8192 bytes");
    if ((why = next(&r, &it, &at))) return fail(err, errlen, at, -1, why);
    if (it.kind != MP_ARRAY) return fail(err, errlen, at, -1, "not a MessagePack array");
    /* The version comes first so that a newer peer gets the clearest error. */
    if (it.v.count < 1) return fail(err, errlen, at, -1, "empty array");
    uint32_t count = it.v.count;
    if ((why = next(&r, &it, &at))) return fail(err, errlen, at, 0, why);
    if (it.kind != MP_INT) return fail(err, errlen, at, 0, "not an integer");
    if (it.v.integer != WIRE_VERSION) {
        char what[96];
        snprintf(what, sizeof what, "unsupported wire version %lld (this peer speaks %d)",
                 (long long)it.v.integer, WIRE_VERSION);
        return fail(err, errlen, at, 0, what);
    }
    if (count != WIRE_HEADER_FIELDS) {
        char what[64];
        snprintf(what, sizeof what, "array of %u fields, expected %d", count, WIRE_HEADER_FIELDS);
        return fail(err, errlen, 0, -1, what);
    }
    wire_slice *slices[] = {&h->group, &h->tag, &h->source, &h->destination,
                            &h->session_id, &h->message_id};
    for (int f = 1; f <= 6; f++) {
        if ((why = next(&r, &it, &at))) return fail(err, errlen, at, f, why);
        if (it.kind != MP_STR) return fail(err, errlen, at, f, "not a string");
        if (it.v.str.len > WIRE_MAX_NAME) return fail(err, errlen, at, f, "longer than 1024 bytes");
        /* Only the group may be empty: a message without a name cannot be routed. */
        if (it.v.str.len == 0 && f != 1) return fail(err, errlen, at, f, "empty");
        slices[f - 1]->ptr = it.v.str.ptr;
        slices[f - 1]->len = it.v.str.len;
    }
    int *codes[] = {&h->session_type, &h->session_stage};
    for (int f = 7; f <= 8; f++) {
        if ((why = next(&r, &it, &at))) return fail(err, errlen, at, f, why);
        if (it.kind == MP_NIL) {
            *codes[f - 7] = 0;
            continue;
        }
        if (it.kind != MP_STR) return fail(err, errlen, at, f, "neither nil nor a string");
        int code = f == 7 ? wire_session_type_parse(it.v.str.ptr, it.v.str.len)
                          : wire_session_stage_parse(it.v.str.ptr, it.v.str.len);
        if (code < 0) return fail(err, errlen, at, f, "unknown name");
        *codes[f - 7] = code;
    }
    if (!wire_stage_belongs(h->session_type, h->session_stage))
        return fail(err, errlen, at, 8, "stage does not belong to the session type");
    if (mp_left(&r)) return fail(err, errlen, mp_offset(&r), -1, "trailing bytes after the header");
    return NULL;
}
