#include "wire/header.h"

#include <msgpack/pack.h>
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

static int write_buf(void *data, const char *p, size_t n) { return buf_append(data, p, n); }

static void pack_slice(msgpack_packer *pk, wire_slice s) {
    msgpack_pack_str(pk, s.len);
    msgpack_pack_str_body(pk, s.ptr, s.len);
}

static void pack_name_or_nil(msgpack_packer *pk, const char *name) {
    if (name) pack_slice(pk, (wire_slice){name, strlen(name)});
    else msgpack_pack_nil(pk);
}

int wire_header_encode(const wire_header *h, buf *out) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, write_buf);
    msgpack_pack_array(&pk, WIRE_HEADER_FIELDS);
    msgpack_pack_int(&pk, WIRE_VERSION);
    pack_slice(&pk, h->group);
    pack_slice(&pk, h->tag);
    pack_slice(&pk, h->source);
    pack_slice(&pk, h->destination);
    pack_slice(&pk, h->session_id);
    pack_slice(&pk, h->message_id);
    pack_name_or_nil(&pk, wire_session_type_name(h->session_type));
    pack_name_or_nil(&pk, wire_session_stage_name(h->session_stage));
    return out->failed ? -1 : 0;
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
