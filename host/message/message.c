#include "message/message.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "base/ids.h"
#include "wire/payload.h"

struct message {
    wire_header h;       /* slices point into data[]; h.group is unused */
    const char *encoded; /* the payload frame not decoded yet, or NULL */
    size_t encoded_len;
    blob *bytes;         /* the blob behind encoded, when it is not in data[] */
    /* tag, source, destination, session_id and message_id, each
     * NUL-terminated, then a small encoded payload: one allocation. */
    char data[];
};

/* User values: the payload once it is a Lua value, and the holder of a
 * large encoded payload. Messages have no finalizer: a finalizer on every
 * message tripled the cost of receiving small ones and let the incremental
 * collector fall behind. Only the holder of a large payload has one. */
#define PAYLOAD_SLOT 1
#define BYTES_SLOT 2
#define BYTES_TYPE "maro.PayloadBytes"

/* The metatable is also kept under this address in the registry: looking it
 * up by name costs a strcmp in every lua_getfield, once per message. */
static const char message_mt_key;

/* The constructors' field names, as upvalues: no C string lookups per call. */
enum { F_TAG = 1, F_SOURCE, F_DESTINATION, F_PAYLOAD, F_SESSION_ID, F_MESSAGE_ID,
       F_SESSION_TYPE, F_SESSION_STAGE, F_COUNT = F_SESSION_STAGE };
/* Upvalues: the metamethods hold the metatable as their first; the
 * constructors hold the field names, their addresses and the metatable. */
#define UP_META lua_upvalueindex(1)
#define UP_CTOR_NAMES lua_upvalueindex(F_COUNT + 1)
#define UP_CTOR_META lua_upvalueindex(F_COUNT + 2)
static const char *const field_names[] = {NULL, "tag", "source", "destination", "payload",
                                          "session_id", "message_id", "session_type",
                                          "session_stage"};

/* Received payloads up to this size are copied into the message. */
#define INLINE_PAYLOAD_MAX 1024
/* Payloads at least this big are announced to the garbage collector: it
 * sees a small holder, not the bytes, and would let them pile up. */
#define GC_HINT_BYTES (64 * 1024)

static int bytes_gc(lua_State *L) {
    blob **b = luaL_checkudata(L, 1, BYTES_TYPE);
    blob_unref(*b);
    *b = NULL;
    return 0;
}

/* A new message with h's fields and room for extra bytes after them; meta
 * is where the caller holds the metatable, or 0 to look it up. */
static message *push_new(lua_State *L, const wire_header *h, size_t extra, int meta) {
    char sid[IDS_UUID_LEN + 1], mid[IDS_UUID_LEN + 1];
    wire_slice session_id = h->session_id, message_id = h->message_id;
    if (!session_id.ptr) {
        ids_new_uuid(sid);
        session_id = (wire_slice){sid, IDS_UUID_LEN};
    }
    if (!message_id.ptr) {
        ids_new_uuid(mid);
        message_id = (wire_slice){mid, IDS_UUID_LEN};
    }
    wire_slice parts[5] = {h->tag, h->source, h->destination, session_id, message_id};
    size_t total = 0;
    for (int i = 0; i < 5; i++) total += parts[i].len + 1;

    message *m = lua_newuserdatauv(L, sizeof *m + total + extra, 2);
    memset(m, 0, sizeof *m);
    if (meta) lua_pushvalue(L, meta);
    else lua_rawgetp(L, LUA_REGISTRYINDEX, &message_mt_key);
    lua_setmetatable(L, -2);
    wire_slice *dst[5] = {&m->h.tag, &m->h.source, &m->h.destination, &m->h.session_id,
                          &m->h.message_id};
    char *p = m->data;
    for (int i = 0; i < 5; i++) {
        memcpy(p, parts[i].ptr, parts[i].len);
        p[parts[i].len] = '\0';
        *dst[i] = (wire_slice){p, parts[i].len};
        p += parts[i].len + 1;
    }
    m->h.session_type = h->session_type;
    m->h.session_stage = h->session_stage;
    return m;
}

message *message_push(lua_State *L, const wire_header *h) { return push_new(L, h, 0, 0); }

message *message_push_received(lua_State *L, const wire_header *h, blob *payload, int meta) {
    size_t size = blob_size(payload);
    if (size <= INLINE_PAYLOAD_MAX) {
        message *m = push_new(L, h, size, meta);
        char *bytes = (char *)m->h.message_id.ptr + m->h.message_id.len + 1;
        memcpy(bytes, blob_data(payload), size);
        m->encoded = bytes;
        m->encoded_len = size;
        return m;
    }
    message *m = push_new(L, h, 0, meta);
    blob **holder = lua_newuserdatauv(L, sizeof *holder, 0);
    *holder = blob_ref(payload);
    luaL_setmetatable(L, BYTES_TYPE);
    lua_setiuservalue(L, -2, BYTES_SLOT);
    m->bytes = payload;
    m->encoded = blob_data(payload);
    m->encoded_len = size;
    if (size >= GC_HINT_BYTES && lua_gc(L, LUA_GCISRUNNING))
        lua_gc(L, LUA_GCSTEP, (int)(size >> 10));
    return m;
}

/* Forgets the encoded payload: the Lua value in PAYLOAD_SLOT is the payload now. */
static void drop_encoded(lua_State *L, int idx, message *m) {
    m->encoded = NULL;
    m->encoded_len = 0;
    if (m->bytes) {
        m->bytes = NULL;
        lua_pushnil(L);
        lua_setiuservalue(L, idx, BYTES_SLOT); /* the holder lets go when collected */
    }
}

message *message_test(lua_State *L, int idx) {
    void *p = lua_touserdata(L, idx);
    if (!p || !lua_getmetatable(L, idx)) return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &message_mt_key);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? p : NULL;
}

message *message_check(lua_State *L, int idx) {
    message *m = message_test(L, idx);
    if (!m) luaL_typeerror(L, idx, MESSAGE_TYPE);
    return m;
}

message *message_check_with(lua_State *L, int idx, int meta) {
    void *p = lua_touserdata(L, idx);
    if (p && lua_getmetatable(L, idx)) {
        int same = lua_rawequal(L, -1, meta);
        lua_pop(L, 1);
        if (same) return p;
    }
    return message_check(L, idx); /* raises the usual error */
}

const wire_header *message_header(const message *m) { return &m->h; }

static void push_payload(lua_State *L, int idx, message *m) {
    if (m->encoded) {
        char err[512];
        if (payload_decode(L, m->encoded, m->encoded_len, err, sizeof err) != 0)
            luaL_error(L, "%s", err); /* only for bytes that skipped the check at receive */
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, idx, PAYLOAD_SLOT);
        drop_encoded(L, idx, m); /* decoded once; the table may now change, so re-encode */
        return;
    }
    lua_getiuservalue(L, idx, PAYLOAD_SLOT);
}

void message_push_payload(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    push_payload(L, idx, message_check(L, idx));
}

/* Payloads up to this size are copied into the caller's spare blob;
 * a bigger one takes the buffer itself rather than be copied. */
#define SCRATCH_COPY_MAX 4096

int message_encode(lua_State *L, int idx, wire_slice group, buf *header, message_scratch *scratch,
                   blob **payload, char *err, size_t errlen) {
    idx = lua_absindex(L, idx);
    message *m = lua_touserdata(L, idx);
    wire_header h = m->h;
    h.group = group;
    /* Checked here because a peer refuses a longer one (wire_header_decode). */
    if (group.len > WIRE_MAX_NAME) {
        snprintf(err, errlen, "group name is %zu bytes long; at most %d are allowed", group.len,
                 WIRE_MAX_NAME);
        return -1;
    }
    if (wire_header_encode(&h, header) != 0) {
        snprintf(err, errlen, "out of memory while encoding a header");
        return -1;
    }
    if (m->encoded) {
        /* Sent on as it came, not re-encoded. */
        *payload = m->bytes ? blob_ref(m->bytes) : blob_copy(m->encoded, m->encoded_len);
        if (!*payload) {
            snprintf(err, errlen, "out of memory while copying a payload");
            return -1;
        }
        return 0;
    }
    buf own, *pb = scratch ? &scratch->bytes : &own;
    if (!scratch) buf_init(&own);
    pb->len = 0;
    pb->failed = 0;
    lua_getiuservalue(L, idx, PAYLOAD_SLOT);
    int rc = payload_encode(L, -1, pb, err, errlen);
    lua_pop(L, 1);
    if (rc != 0) {
        if (!scratch) buf_free(&own);
        return -1;
    }
    if (scratch && pb->len <= SCRATCH_COPY_MAX) {
        *payload = blob_refill(&scratch->spare, pb->data, pb->len);
    } else {
        *payload = blob_take(pb->data, pb->len);
        buf_init(pb);
    }
    if (!*payload) {
        snprintf(err, errlen, "out of memory while encoding a payload");
        return -1;
    }
    return 0;
}

message *message_push_decoded(lua_State *L, const char *header, size_t header_len,
                              blob *payload, char *err, size_t errlen) {
    wire_header h;
    if (wire_header_decode(header, header_len, &h, err, errlen)) return NULL;
    if (payload_decode(NULL, blob_data(payload), blob_size(payload), err, errlen) != 0)
        return NULL;
    return message_push_received(L, &h, payload, 0);
}

/* ---- the Lua side ------------------------------------------------------ */

static void push_slice(lua_State *L, wire_slice s) { lua_pushlstring(L, s.ptr, s.len); }

static void push_name_or_nil(lua_State *L, const char *name) {
    if (name) lua_pushstring(L, name);
    else lua_pushnil(L);
}

static int message_index(lua_State *L) {
    message *m = message_check_with(L, 1, UP_META);
    size_t len;
    const char *k = lua_tolstring(L, 2, &len);
    if (!k) return 0;
#define IS(name) (len == sizeof(name) - 1 && memcmp(k, name, len) == 0)
    if (IS("payload")) push_payload(L, 1, m);
    else if (IS("tag")) push_slice(L, m->h.tag);
    else if (IS("source")) push_slice(L, m->h.source);
    else if (IS("destination")) push_slice(L, m->h.destination);
    else if (IS("session_id")) push_slice(L, m->h.session_id);
    else if (IS("message_id")) push_slice(L, m->h.message_id);
    else if (IS("session_type")) push_name_or_nil(L, wire_session_type_name(m->h.session_type));
    else if (IS("session_stage")) push_name_or_nil(L, wire_session_stage_name(m->h.session_stage));
    else lua_pushnil(L);
#undef IS
    return 1;
}

static int message_newindex(lua_State *L) {
    message *m = message_check_with(L, 1, UP_META);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "payload") == 0) {
        lua_settop(L, 3);
        lua_setiuservalue(L, 1, PAYLOAD_SLOT);
        drop_encoded(L, 1, m);
        return 0;
    }
    static const char *const fields[] = {"tag", "source", "destination", "session_id",
                                         "message_id", "session_type", "session_stage", NULL};
    for (int i = 0; fields[i]; i++)
        if (strcmp(k, fields[i]) == 0)
            return luaL_error(L, "message field '%s' is read-only; build a new message, or give "
                                 "it to proxy:reply or proxy:forward", k);
    return luaL_error(L, "messages have no field '%s' (fields: tag, source, destination, "
                         "payload, session_id, message_id, session_type, session_stage)", k);
}

static int message_tostring(lua_State *L) {
    message *m = message_check_with(L, 1, UP_META);
    const char *type = wire_session_type_name(m->h.session_type);
    if (type)
        lua_pushfstring(L, "SessionMessage(tag=%s, source=%s, destination=%s, session_id=%s, %s)",
                        m->h.tag.ptr, m->h.source.ptr, m->h.destination.ptr,
                        m->h.session_id.ptr, wire_session_stage_name(m->h.session_stage));
    else
        lua_pushfstring(L, "Message(tag=%s, source=%s, destination=%s, session_id=%s)",
                        m->h.tag.ptr, m->h.source.ptr, m->h.destination.ptr,
                        m->h.session_id.ptr);
    return 1;
}

/* Checks the value on top as the string field f; it stays alive in the table. */
static wire_slice field_string(lua_State *L, const char *ctor, int f) {
    wire_slice s = {NULL, 0};
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "%s: field '%s' must be a non-empty string, got %s", ctor, field_names[f],
                   luaL_typename(L, -1));
    s.ptr = lua_tolstring(L, -1, &s.len);
    if (s.len == 0)
        luaL_error(L, "%s: field '%s' must be a non-empty string, got \"\"", ctor, field_names[f]);
    if (s.len > WIRE_MAX_NAME)
        luaL_error(L, "%s: field '%s' is %d bytes long; at most %d are allowed", ctor,
                   field_names[f], (int)s.len, WIRE_MAX_NAME);
    return s;
}

static int new_message(lua_State *L, const char *ctor, int default_type) {
    if (!lua_istable(L, 1))
        return luaL_error(L, "%s expects a table of fields, e.g. %s{tag=..., source=..., "
                             "destination=..., payload=...}", ctor, ctor);
    lua_settop(L, 1);
    lua_pushnil(L); /* 2: the payload */
    /* One pass over the table. Field names are short strings, which Lua
     * interns: a key is a field exactly when it is the same object as the
     * field's name, kept as an upvalue, so comparing addresses suffices.
     * lua_topointer gives NULL for numbers and booleans, and tables and
     * functions live at other addresses; only a light userdata made in C
     * with such an address could pass for a field, and it would still be
     * checked as a string. */
    const void *const *names = lua_touserdata(L, UP_CTOR_NAMES);
    wire_slice field[F_COUNT + 1];
    memset(field, 0, sizeof field);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const void *key = lua_topointer(L, -2);
        int f = 1;
        while (f <= F_COUNT && names[f] != key) f++;
        if (f > F_COUNT)
            return luaL_error(L, "%s: unknown field '%s' (fields: tag, source, destination, "
                                 "payload, session_id, message_id, session_type, "
                                 "session_stage)", ctor, luaL_tolstring(L, -2, NULL));
        if (f == F_PAYLOAD) lua_copy(L, -1, 2);
        else field[f] = field_string(L, ctor, f);
        lua_pop(L, 1);
    }
    for (int f = F_TAG; f <= F_DESTINATION; f++)
        if (!field[f].ptr)
            return luaL_error(L, "%s: field '%s' must be a non-empty string, got nothing", ctor,
                              field_names[f]);
    wire_header h;
    memset(&h, 0, sizeof h);
    h.tag = field[F_TAG];
    h.source = field[F_SOURCE];
    h.destination = field[F_DESTINATION];
    h.session_id = field[F_SESSION_ID];
    h.message_id = field[F_MESSAGE_ID];
    wire_slice type = field[F_SESSION_TYPE], stage = field[F_SESSION_STAGE];
    h.session_type = default_type;
    if (type.ptr && (h.session_type = wire_session_type_parse(type.ptr, type.len)) < 0)
        return luaL_error(L, "%s: field 'session_type' must be \"task\" or \"notification\", got "
                             "\"%s\"", ctor, type.ptr);
    h.session_stage = wire_request_stage(h.session_type);
    if (stage.ptr) {
        int s = wire_session_stage_parse(stage.ptr, stage.len);
        if (s < 0 || !wire_stage_belongs(h.session_type, s))
            return luaL_error(L, "%s: field 'session_stage' \"%s\" is not a stage of a %s session",
                              ctor, stage.ptr,
                              h.session_type ? wire_session_type_name(h.session_type)
                                             : "plain (give session_type too)");
        h.session_stage = s;
    }
    push_new(L, &h, 0, UP_CTOR_META);
    lua_insert(L, 2);
    lua_setiuservalue(L, 2, PAYLOAD_SLOT);
    return 1;
}

static int l_message(lua_State *L) { return new_message(L, "maro.Message", SESSION_NONE); }
static int l_session_message(lua_State *L) {
    return new_message(L, "maro.SessionMessage", SESSION_TASK);
}

static int l_is_message(lua_State *L) {
    lua_pushboolean(L, message_test(L, 1) != NULL);
    return 1;
}

/* maro.wire.encode(msg [, group]) -> header, payload */
static int l_wire_encode(lua_State *L) {
    message_check(L, 1);
    wire_slice group = {"", 0};
    group.ptr = luaL_optlstring(L, 2, "", &group.len);
    buf header;
    blob *payload = NULL;
    char err[512];
    buf_init(&header);
    if (message_encode(L, 1, group, &header, NULL, &payload, err, sizeof err) != 0) {
        buf_free(&header);
        return luaL_error(L, "maro.wire.encode: %s", err);
    }
    /* Push both before raising anything, so nothing leaks on a memory error. */
    lua_pushlstring(L, header.data, header.len);
    buf_free(&header);
    lua_pushlstring(L, blob_data(payload), blob_size(payload));
    blob_unref(payload);
    return 2;
}

/* maro.wire.decode(header, payload) -> msg */
static int l_wire_decode(lua_State *L) {
    size_t hlen, plen;
    const char *header = luaL_checklstring(L, 1, &hlen);
    const char *payload = luaL_checklstring(L, 2, &plen);
    char err[512];
    /* A copy, not a borrow: the bytes may outlive the Lua string in a send. */
    blob *b = blob_copy(payload, plen);
    if (!b) return luaL_error(L, "maro.wire.decode: out of memory");
    message *m = message_push_decoded(L, header, hlen, b, err, sizeof err);
    blob_unref(b);
    if (!m) return luaL_error(L, "maro.wire.decode: %s", err);
    return 1;
}

void message_register(lua_State *L) {
    if (luaL_newmetatable(L, MESSAGE_TYPE)) {
        static const luaL_Reg meta[] = {{"__index", message_index},
                                        {"__newindex", message_newindex},
                                        {"__tostring", message_tostring},
                                        {NULL, NULL}};
        lua_pushvalue(L, -1);
        luaL_setfuncs(L, meta, 1);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &message_mt_key);
    if (luaL_newmetatable(L, BYTES_TYPE)) {
        lua_pushcfunction(L, bytes_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    static const luaL_Reg funcs[] = {{"Message", l_message},
                                     {"SessionMessage", l_session_message},
                                     {"is_message", l_is_message},
                                     {"wire_encode", l_wire_encode},
                                     {"wire_decode", l_wire_decode},
                                     {NULL, NULL}};
    /* Upvalues: the field names, which keep those strings alive, their
     * addresses (read once here rather than in every constructor call), and
     * the metatable. */
    const void **names = lua_newuserdatauv(L, (F_COUNT + 1) * sizeof *names, 0);
    names[0] = NULL;
    for (int f = 1; f <= F_COUNT; f++) {
        lua_pushstring(L, field_names[f]);
        names[f] = lua_topointer(L, -1);
        lua_insert(L, -2); /* the address table stays last */
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &message_mt_key);
    luaL_setfuncs(L, funcs, F_COUNT + 2);
}
