/* fuzz_wire_decode.c: a libFuzzer target for the wire decoders.
 *
 * An input is two frames: a 2-byte little-endian packet length, the packet
 * frame, and an extra frame (the rest), which a message of the packet may
 * name as its payload. Each frame is copied into a buffer of its exact
 * size, so that AddressSanitizer sees any read past its end.
 *
 * Properties checked on every input:
 *  - reading the packet ends (at its end, or at a message it cannot
 *    delimit); every message it gives satisfies the header invariants, lies
 *    inside the frames, and written into a packet again reads back the same;
 *  - payload_decode check-only (L == NULL) and full decode agree, with the
 *    same error message on failure;
 *  - a decoded payload is what msgpack-c's unpacker reads from the same bytes
 *    (msgpack-c accepts more, e.g. ext types, so only one direction holds);
 *  - a decoded payload re-encodes and decodes again to an equal value;
 *  - the message layer accepts the packet's first message exactly when it and
 *    its payload are accepted, and its lazily decoded payload equals the
 *    direct decode of the extra frame;
 *  - utf8_valid and utf8_copy_valid agree with a plain reading of the
 *    UTF-8 table of RFC 3629, on both frames;
 *  - a packet of two copies of an accepted message reads back as two equal
 *    messages, the second written with repeated names and an id delta.
 */
#include <lauxlib.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/blob.h"
#include "base/buf.h"
#include "message/message.h"
#include "module/core.h"
#include "wire/header.h"
#include "wire/packet.h"
#include "wire/payload.h"
#include "wire/utf8.h"

/* assert() vanishes under NDEBUG; a finding must always abort. */
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                             \
        }                                                                        \
    } while (0)

typedef struct fuzz_case {
    const char *header;
    size_t header_len;
    const char *payload;
    size_t payload_len;
} fuzz_case;

/* ---- comparing values ---------------------------------------------------- */

static int same_float(double a, double b) {
    if (a != a || b != b) return a != a && b != b;
    return memcmp(&a, &b, sizeof a) == 0; /* tells -0.0 from 0.0 */
}

static size_t count_entries(lua_State *L, int t) {
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        n++;
        lua_pop(L, 1);
    }
    return n;
}

static int same_value(lua_State *L, int a, int b);

/* Every key of table a is in b with the same value. */
static int table_within(lua_State *L, int a, int b) {
    lua_pushnil(L);
    while (lua_next(L, a)) {
        lua_pushvalue(L, -2);
        lua_rawget(L, b);
        int ok = same_value(L, lua_gettop(L) - 1, lua_gettop(L));
        lua_pop(L, 2);
        if (!ok) {
            lua_pop(L, 1);
            return 0;
        }
    }
    return 1;
}

static int same_value(lua_State *L, int a, int b) {
    a = lua_absindex(L, a);
    b = lua_absindex(L, b);
    CHECK(lua_checkstack(L, 8));
    int t = lua_type(L, a);
    if (t != lua_type(L, b)) return 0;
    switch (t) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, a) != lua_isinteger(L, b)) return 0;
        if (lua_isinteger(L, a)) return lua_tointeger(L, a) == lua_tointeger(L, b);
        return same_float(lua_tonumber(L, a), lua_tonumber(L, b));
    /* Keys are integers and strings, so equal counts and one direction
     * suffice (both directions would be exponential in the depth). */
    case LUA_TTABLE: return count_entries(L, a) == count_entries(L, b) && table_within(L, a, b);
    default: return lua_rawequal(L, a, b);
    }
}

/* ---- msgpack-c as a second opinion --------------------------------------- */

static void check_object(lua_State *L, int idx, const msgpack_object *o);

/* Pushes a map key as the Lua value our decoder makes of it. */
static void push_key(lua_State *L, const msgpack_object *k) {
    switch (k->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        CHECK(k->via.u64 <= INT64_MAX);
        lua_pushinteger(L, (lua_Integer)k->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: lua_pushinteger(L, k->via.i64); break;
    case MSGPACK_OBJECT_STR: lua_pushlstring(L, k->via.str.ptr, k->via.str.size); break;
    case MSGPACK_OBJECT_BIN: lua_pushlstring(L, k->via.bin.ptr, k->via.bin.size); break;
    default: CHECK(!"a map key our decoder accepted is no integer or string");
    }
}

static void check_map(lua_State *L, int t, const msgpack_object_map *m) {
    /* A repeated key keeps its last value: walk backwards, first sight counts. */
    lua_newtable(L);
    int seen = lua_gettop(L);
    size_t live = 0;
    for (uint32_t i = m->size; i-- > 0;) {
        push_key(L, &m->ptr[i].key);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, seen) != LUA_TNIL) {
            lua_pop(L, 2);
            continue;
        }
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushboolean(L, 1);
        lua_rawset(L, seen);
        lua_rawget(L, t);
        check_object(L, lua_gettop(L), &m->ptr[i].val);
        if (m->ptr[i].val.type != MSGPACK_OBJECT_NIL) live++;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    CHECK(count_entries(L, t) == live);
}

static void check_object(lua_State *L, int idx, const msgpack_object *o) {
    CHECK(lua_checkstack(L, 8));
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: CHECK(lua_isnil(L, idx)); break;
    case MSGPACK_OBJECT_BOOLEAN:
        CHECK(lua_isboolean(L, idx) && lua_toboolean(L, idx) == o->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        CHECK(o->via.u64 <= INT64_MAX);
        CHECK(lua_isinteger(L, idx) && lua_tointeger(L, idx) == (lua_Integer)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        CHECK(lua_isinteger(L, idx) && lua_tointeger(L, idx) == o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        CHECK(lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx));
        CHECK(same_float(lua_tonumber(L, idx), o->via.f64));
        break;
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN: {
        size_t len;
        const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : NULL;
        const char *ptr = o->type == MSGPACK_OBJECT_STR ? o->via.str.ptr : o->via.bin.ptr;
        uint32_t size = o->type == MSGPACK_OBJECT_STR ? o->via.str.size : o->via.bin.size;
        /* msgpack-c gives an empty string a NULL pointer. */
        CHECK(s && len == size && (len == 0 || memcmp(s, ptr, len) == 0));
        break;
    }
    case MSGPACK_OBJECT_ARRAY: {
        CHECK(lua_istable(L, idx));
        size_t live = 0;
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i + 1);
            check_object(L, lua_gettop(L), &o->via.array.ptr[i]);
            lua_pop(L, 1);
            if (o->via.array.ptr[i].type != MSGPACK_OBJECT_NIL) live++;
        }
        CHECK(count_entries(L, idx) == live);
        break;
    }
    case MSGPACK_OBJECT_MAP:
        CHECK(lua_istable(L, idx));
        check_map(L, lua_absindex(L, idx), &o->via.map);
        break;
    default: CHECK(!"our decoder accepted an ext type");
    }
}

static void check_with_msgpack_c(lua_State *L, int idx, const char *p, size_t len) {
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    msgpack_unpack_return rc = msgpack_unpack_next(&up, p, len, &off);
    /* msgpack-c refuses nesting deeper than MSGPACK_EMBED_STACK_SIZE (32). */
    if (rc != MSGPACK_UNPACK_NOMEM_ERROR) {
        CHECK(rc == MSGPACK_UNPACK_SUCCESS);
        CHECK(off == len);
        check_object(L, idx, &up.data);
    }
    msgpack_unpacked_destroy(&up);
}

/* ---- UTF-8, against RFC 3629's table ------------------------------------ */

static int utf8_reference(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte */
        if (c <= 0x7f) n = 0;
        else if (c >= 0xc2 && c <= 0xdf) n = 1;
        else if (c == 0xe0) n = 2, lo = 0xa0;
        else if (c >= 0xe1 && c <= 0xec) n = 2;
        else if (c == 0xed) n = 2, hi = 0x9f;
        else if (c >= 0xee && c <= 0xef) n = 2;
        else if (c == 0xf0) n = 3, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3) n = 3;
        else if (c == 0xf4) n = 3, hi = 0x8f;
        else return 0;
        if (len - i - 1 < n) return 0;
        for (size_t k = 1; k <= n; k++) {
            unsigned b = s[i + k];
            if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) return 0;
        }
        i += n + 1;
    }
    return 1;
}

static void check_utf8(const char *s, size_t len) {
    int valid = utf8_reference((const unsigned char *)s, len);
    CHECK(utf8_valid(s, len) == valid);
    char *copy = malloc(len ? len : 1);
    CHECK(copy);
    CHECK(utf8_copy_valid(copy, s, len) == valid);
    CHECK(len == 0 || memcmp(copy, s, len) == 0);
    free(copy);
}

/* ---- the frames ---------------------------------------------------------- */

static int same_slice(wire_slice a, wire_slice b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static int inside(wire_slice s, const char *start, size_t len) {
    return s.ptr >= start && s.ptr + s.len <= start + len;
}

static void check_fields(const fuzz_case *c, const wire_packet_reader *r, const wire_header *h,
                         wire_slice payload, int frame) {
    wire_slice names[] = {h->tag, h->source, h->destination, h->session_id, h->message_id};
    for (int i = 0; i < 5; i++) {
        /* A message id in UUID form has no string (wire/header.h). */
        if (i == 4 && !names[i].ptr) {
            CHECK(h->uuids & WIRE_MESSAGE_UUID);
            continue;
        }
        CHECK(names[i].len > 0 && names[i].len <= WIRE_MAX_NAME);
        CHECK(inside(names[i], c->header, c->header_len) ||
              inside(names[i], r->session_id, sizeof r->session_id));
    }
    CHECK(h->group.len <= WIRE_MAX_NAME && inside(h->group, c->header, c->header_len));
    CHECK(!h->error.ptr || (h->error.len <= WIRE_MAX_ERROR &&
                            inside(h->error, c->header, c->header_len)));
    CHECK(wire_stage_belongs(h->session_type, h->session_stage));
    if (frame < 0) CHECK(inside(payload, c->header, c->header_len));
    else CHECK(frame == 0);
}

/* The same id, as strings (an id in UUID form may have none). */
static int same_id(wire_slice a, const wire_uuid *au, int a_uuid, wire_slice b,
                   const wire_uuid *bu, int b_uuid) {
    char abuf[WIRE_UUID_LEN], bbuf[WIRE_UUID_LEN];
    return same_slice(wire_id_string(a, au, a_uuid, abuf), wire_id_string(b, bu, b_uuid, bbuf));
}

static int same_header(const wire_header *a, const wire_header *b) {
    return same_slice(a->tag, b->tag) && same_slice(a->source, b->source) &&
           same_slice(a->destination, b->destination) &&
           same_id(a->session_id, &a->session_uuid, a->uuids & WIRE_SESSION_UUID, b->session_id,
                   &b->session_uuid, b->uuids & WIRE_SESSION_UUID) &&
           same_id(a->message_id, &a->message_uuid, a->uuids & WIRE_MESSAGE_UUID, b->message_id,
                   &b->message_uuid, b->uuids & WIRE_MESSAGE_UUID) &&
           same_slice(a->group, b->group) &&
           (a->error.ptr != NULL) == (b->error.ptr != NULL) && same_slice(a->error, b->error) &&
           a->session_stage == b->session_stage && a->session_type == b->session_type;
}

/* A packet holding h twice (inline payload p), read back. */
static void check_rewrite(const wire_header *h, wire_slice p) {
    char err[512];
    buf b;
    buf_init(&b);
    wire_packet_head head;
    memset(&head, 0, sizeof head);
    head.group = h->group;
    head.sender = (wire_slice){"fuzz", 4};
    head.seq = 7;
    wire_packet_writer w;
    CHECK(wire_packet_begin(&w, &b, &head) == 0);
    CHECK(wire_packet_add(&w, h, p.ptr, p.len, 0) == 0);
    CHECK(wire_packet_add(&w, h, p.ptr, p.len, 0) == 0);
    wire_packet_finish(&w);
    wire_packet_reader r;
    CHECK(wire_packet_open(&r, b.data, b.len, 0, err, sizeof err) == 0);
    CHECK(r.head.seq == 7 && r.count == 2);
    for (int i = 0; i < 2; i++) {
        wire_header h2;
        wire_slice p2;
        int frame;
        CHECK(wire_packet_next(&r, &h2, &p2, &frame, err, sizeof err) == WIRE_PACKET_MESSAGE);
        CHECK(frame < 0 && same_slice(p, p2) && same_header(h, &h2));
    }
    wire_header h3;
    wire_slice p3;
    int f3;
    CHECK(wire_packet_next(&r, &h3, &p3, &f3, err, sizeof err) == WIRE_PACKET_END);
    buf_free(&b);
}

/* Reads every message of the packet. Returns 1 with the first one in
 * *first (its payload in *fp) when it was read whole. */
static int check_packet(const fuzz_case *c, wire_header *first, wire_slice *fp) {
    char err[512];
    wire_packet_reader r;
    if (wire_packet_open(&r, c->header, c->header_len, 1, err, sizeof err) != 0) {
        CHECK(err[0] != '\0');
        return 0;
    }
    int first_ok = 0;
    for (unsigned i = 0; i <= r.count + 1; i++) {
        wire_header h;
        wire_slice p;
        int frame;
        int rc = wire_packet_next(&r, &h, &p, &frame, err, sizeof err);
        if (rc == WIRE_PACKET_END || rc == WIRE_PACKET_BROKEN) {
            CHECK(rc == WIRE_PACKET_END || err[0] != '\0');
            return first_ok;
        }
        CHECK(i < r.count);
        if (rc == WIRE_PACKET_BAD_MESSAGE) continue;
        CHECK(rc == WIRE_PACKET_MESSAGE);
        check_fields(c, &r, &h, p, frame);
        if (frame >= 0) p = (wire_slice){c->payload, c->payload_len};
        check_rewrite(&h, p);
        if (i == 0) {
            /* a session id in UUID form is written in the reader: keep it */
            static char sid[WIRE_UUID_LEN];
            memcpy(sid, r.session_id, sizeof sid);
            *first = h;
            if (h.session_id.ptr == r.session_id) first->session_id.ptr = sid;
            *fp = p;
            first_ok = 1;
        }
    }
    CHECK(0); /* more messages than the packet claims */
    return 0;
}

/* Runs under lua_pcall, so that a Lua memory error is no crash. The value
 * stack holds: 1 the case. */
static int run_case(lua_State *L) {
    const fuzz_case *c = lua_touserdata(L, 1);
    char err[512], err_full[512];

    wire_header h;
    wire_slice fp;
    int header_ok = check_packet(c, &h, &fp);

    int check = payload_decode(NULL, c->payload, c->payload_len, err, sizeof err);
    int full = payload_decode(L, c->payload, c->payload_len, err_full, sizeof err_full);
    CHECK(check == full);
    if (check != 0) {
        CHECK(strcmp(err, err_full) == 0);
        CHECK(strncmp(err, "payload", 7) == 0 && strstr(err, " at byte "));
        CHECK(lua_gettop(L) == 1);
    } else {
        CHECK(lua_gettop(L) == 2);
        check_with_msgpack_c(L, 2, c->payload, c->payload_len);
        buf b;
        buf_init(&b);
        CHECK(payload_encode(L, 2, &b, err, sizeof err) == 0);
        /* Own the bytes in Lua before decoding, so that no C memory is lost
         * if decoding raises a memory error. */
        lua_pushlstring(L, b.data, b.len);
        buf_free(&b);
        size_t len;
        const char *again = lua_tolstring(L, 3, &len);
        CHECK(payload_decode(NULL, again, len, err, sizeof err) == 0);
        CHECK(payload_decode(L, again, len, err, sizeof err) == 0);
        CHECK(same_value(L, 2, 4));
        lua_settop(L, 2);
    }

    /* The message layer, given the first message and the extra frame as its
     * payload (as maro.wire.decode does). */
    int takes_frame = header_ok && fp.ptr == c->payload;
    if (header_ok && takes_frame && check == 0) {
        blob *pb = blob_copy(c->payload, c->payload_len);
        CHECK(pb);
        message_push_received(L, &h, blob_data(pb), blob_size(pb), pb, 0);
        blob_unref(pb);
        int mi = lua_gettop(L);
        wire_header h2;
        blob *enc = NULL;
        /* Untouched, the payload goes out as the very bytes that came in. */
        CHECK(message_encode(L, mi, &h2, NULL, &enc, err, sizeof err) == 0);
        CHECK(blob_size(enc) == c->payload_len &&
              memcmp(blob_data(enc), c->payload, c->payload_len) == 0);
        h2.group = h.group;
        CHECK(same_header(&h, &h2));
        blob_unref(enc);
        message_push_payload(L, mi);
        CHECK(same_value(L, 2, -1));
    }
    lua_settop(L, 0);
    return 0;
}

static lua_State *fuzz_state;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_state = luaL_newstate();
    CHECK(fuzz_state);
    luaL_requiref(fuzz_state, "maro.core", luaopen_maro_core, 0);
    lua_settop(fuzz_state, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t header_len = (size_t)data[0] | (size_t)data[1] << 8;
    if (header_len > size - 2) header_len = size - 2;
    size_t payload_len = size - 2 - header_len;
    /* malloc(0) may return NULL; keep one byte so the pointers stay valid. */
    char *header = malloc(header_len ? header_len : 1);
    char *payload = malloc(payload_len ? payload_len : 1);
    CHECK(header && payload);
    memcpy(header, data + 2, header_len);
    memcpy(payload, data + 2 + header_len, payload_len);

    check_utf8(header, header_len);
    check_utf8(payload, payload_len);

    fuzz_case c = {header, header_len, payload, payload_len};
    lua_State *L = fuzz_state;
    lua_pushcfunction(L, run_case);
    lua_pushlightuserdata(L, &c);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        /* Only running out of memory may raise; anything else is a finding. */
        const char *msg = lua_tostring(L, -1);
        CHECK(msg && strstr(msg, "not enough memory"));
    }
    lua_settop(L, 0);
    free(header);
    free(payload);
    return 0;
}
