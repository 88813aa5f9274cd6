#include "message/message.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "base/given.h"
#include "base/repeated.h"
#include "wire/payload.h"
#include "wire/uuid.h"

/* Every message starts with this mark, and only messages do: a full
 * userdata of at least a message's size that starts with it is one.
 * Comparing metatables took three calls into Lua, and every field read and
 * every send checks its message. */
#define MESSAGE_MARK UINT64_C(0x6d61726f2e6d7367) /* "maro.msg" */

struct message {
    uint64_t mark;
    wire_header h;       /* slices point into data[]; h.group is unused */
    const char *encoded; /* the payload frame not decoded yet, or NULL */
    size_t encoded_len;
    blob *bytes;         /* the blob behind encoded, when it is not in data[] */
    /* tag, source, destination, session_id, message_id and the error text,
     * each NUL-terminated, then a small encoded payload: one allocation. */
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
       F_SESSION_TYPE, F_SESSION_STAGE, F_ERROR, F_COUNT = F_ERROR };
/* Upvalues: __index holds the field names, then the last tag, source and
 * destination it pushed (base/repeated.h); the constructors hold the field
 * names and the metatable. The names are a userdata, a field_table, whose
 * user value keeps the strings alive. */
typedef struct field_table {
    const void *names[F_COUNT + 1]; /* the strings' addresses; [0] is NULL */
    repeated last[F_DESTINATION - F_TAG + 1]; /* of __index: what UP_LAST holds */
} field_table;
#define UP_NAMES lua_upvalueindex(1) /* of __index */
#define UP_LAST(f) lua_upvalueindex(2 + (f) - F_TAG) /* of __index: F_TAG..F_DESTINATION */
#define UP_CTOR_NAMES lua_upvalueindex(1)
#define UP_CTOR_META lua_upvalueindex(2)
static const char *const field_names[] = {NULL, "tag", "source", "destination", "payload",
                                          "session_id", "message_id", "session_type",
                                          "session_stage", "error"};

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
    char sid[WIRE_UUID_LEN];
    wire_slice session_id = h->session_id, message_id = h->message_id;
    wire_uuid su = h->session_uuid, mu = h->message_uuid;
    unsigned char uuids = h->uuids;
    if (!session_id.ptr && !(uuids & WIRE_SESSION_UUID)) {
        wire_uuid_next(&su);
        uuids |= WIRE_SESSION_UUID;
    } else if (!(uuids & WIRE_SESSION_UUID) && wire_uuid_parse(session_id.ptr, session_id.len, &su)) {
        uuids |= WIRE_SESSION_UUID;
    }
    /* A message holds its session id's string: sessions, replies and the
     * lists of ids that sends return all use it. */
    session_id = wire_id_string(session_id, &su, uuids & WIRE_SESSION_UUID, sid);
    /* A message id in UUID form stays without its string until it is read:
     * scripts seldom read it, and writing it cost 175 instructions. */
    if (!message_id.ptr && !(uuids & WIRE_MESSAGE_UUID)) {
        wire_uuid_next(&mu);
        uuids |= WIRE_MESSAGE_UUID;
    } else if (!(uuids & WIRE_MESSAGE_UUID) && wire_uuid_parse(message_id.ptr, message_id.len, &mu)) {
        uuids |= WIRE_MESSAGE_UUID;
    }
    wire_slice parts[6] = {h->tag, h->source, h->destination, session_id, message_id, h->error};
    size_t total = 0;
    for (int i = 0; i < 6; i++) total += parts[i].len + 1;

    message *m = lua_newuserdatauv(L, sizeof *m + total + extra, 2);
    memset(m, 0, sizeof *m);
    m->mark = MESSAGE_MARK;
    if (meta) lua_pushvalue(L, meta);
    else lua_rawgetp(L, LUA_REGISTRYINDEX, &message_mt_key);
    lua_setmetatable(L, -2);
    wire_slice *dst[6] = {&m->h.tag, &m->h.source, &m->h.destination, &m->h.session_id,
                          &m->h.message_id, &m->h.error};
    char *p = m->data;
    for (int i = 0; i < 6; i++) {
        if (!parts[i].ptr) { /* no error text, or a message id kept as a UUID: NULL */
            *p++ = '\0';
            continue;
        }
        memcpy(p, parts[i].ptr, parts[i].len);
        p[parts[i].len] = '\0';
        *dst[i] = (wire_slice){p, parts[i].len};
        p += parts[i].len + 1;
    }
    m->h.session_type = h->session_type;
    m->h.session_stage = h->session_stage;
    m->h.uuids = uuids;
    m->h.session_uuid = su;
    m->h.message_uuid = mu;
    return m;
}

message *message_push(lua_State *L, const wire_header *h) { return push_new(L, h, 0, 0); }

message *message_push_received(lua_State *L, const wire_header *h, const char *payload,
                               size_t size, blob *owner, int meta) {
    if (size <= INLINE_PAYLOAD_MAX || !owner) {
        message *m = push_new(L, h, size, meta);
        /* The last `size` bytes of the userdata are the room asked for. */
        char *bytes = (char *)m + lua_rawlen(L, -1) - size;
        memcpy(bytes, payload, size);
        m->encoded = bytes;
        m->encoded_len = size;
        return m;
    }
    message *m = push_new(L, h, 0, meta);
    blob **holder = lua_newuserdatauv(L, sizeof *holder, 0);
    *holder = blob_ref(owner);
    luaL_setmetatable(L, BYTES_TYPE);
    lua_setiuservalue(L, -2, BYTES_SLOT);
    m->bytes = owner;
    m->encoded = payload;
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
    if (lua_type(L, idx) != LUA_TUSERDATA || lua_rawlen(L, idx) < sizeof(message)) return NULL;
    message *m = lua_touserdata(L, idx);
    return m->mark == MESSAGE_MARK ? m : NULL;
}

message *message_check(lua_State *L, int idx) {
    message *m = message_test(L, idx);
    if (!m) luaL_typeerror(L, idx, MESSAGE_TYPE);
    return m;
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

int message_encode(lua_State *L, int idx, wire_header *h, message_scratch *scratch,
                   blob **payload, char *err, size_t errlen) {
    idx = lua_absindex(L, idx);
    message *m = lua_touserdata(L, idx);
    *h = m->h;
    if (m->encoded) {
        /* Sent on as it came, not re-encoded. */
        *payload = m->bytes && m->encoded == blob_data(m->bytes) &&
                           m->encoded_len == blob_size(m->bytes)
                       ? blob_ref(m->bytes)
                       : blob_copy(m->encoded, m->encoded_len);
        if (!*payload) {
            snprintf(err, errlen, "out of memory while copying a payload");
            return -1;
        }
        return 0;
    }
    lua_getiuservalue(L, idx, PAYLOAD_SLOT);
    *payload = message_encode_value(L, -1, scratch, err, errlen);
    lua_pop(L, 1);
    return *payload ? 0 : -1;
}

blob *message_encode_value(lua_State *L, int idx, message_scratch *scratch, char *err,
                           size_t errlen) {
    buf own, *pb = scratch ? &scratch->bytes : &own;
    if (!scratch) buf_init(&own);
    pb->len = 0;
    pb->failed = 0;
    if (payload_encode(L, idx, pb, err, errlen) != 0) {
        if (!scratch) buf_free(&own);
        return NULL;
    }
    blob *b;
    if (scratch && pb->len <= SCRATCH_COPY_MAX) {
        b = blob_refill(&scratch->spare, pb->data, pb->len);
    } else {
        b = blob_take(pb->data, pb->len);
        buf_init(pb);
    }
    if (!b) snprintf(err, errlen, "out of memory while encoding a payload");
    return b;
}

/* ---- the Lua side ------------------------------------------------------ */

static void push_slice(lua_State *L, wire_slice s) { lua_pushlstring(L, s.ptr, s.len); }

static void push_name_or_nil(lua_State *L, const char *name) {
    if (name) lua_pushstring(L, name);
    else lua_pushnil(L);
}

/* Field names are short strings, which Lua interns: a key is a field
 * exactly when it is the same object as the field's name (see new_message). */
static int message_index(lua_State *L) {
    message *m = message_check(L, 1);
    const void *k = lua_topointer(L, 2);
    field_table *t = lua_touserdata(L, UP_NAMES);
    int f = 1;
    while (f <= F_COUNT && t->names[f] != k) f++;
    switch (f) {
    case F_PAYLOAD: push_payload(L, 1, m); break;
    case F_TAG:
    case F_SOURCE:
    case F_DESTINATION: {
        wire_slice s = f == F_TAG ? m->h.tag : f == F_SOURCE ? m->h.source : m->h.destination;
        repeated_push(L, &t->last[f - F_TAG], s.ptr, s.len, UP_LAST(f));
        break;
    }
    case F_SESSION_ID: push_slice(L, m->h.session_id); break;
    case F_MESSAGE_ID: {
        char buf[WIRE_UUID_LEN];
        push_slice(L, wire_id_string(m->h.message_id, &m->h.message_uuid,
                                     m->h.uuids & WIRE_MESSAGE_UUID, buf));
        break;
    }
    case F_SESSION_TYPE: push_name_or_nil(L, wire_session_type_name(m->h.session_type)); break;
    case F_SESSION_STAGE: push_name_or_nil(L, wire_session_stage_name(m->h.session_stage)); break;
    case F_ERROR:
        if (m->h.error.ptr) push_slice(L, m->h.error);
        else lua_pushnil(L);
        break;
    default: lua_pushnil(L);
    }
    return 1;
}

static int message_newindex(lua_State *L) {
    message *m = message_check(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "payload") == 0) {
        lua_settop(L, 3);
        lua_setiuservalue(L, 1, PAYLOAD_SLOT);
        drop_encoded(L, 1, m);
        return 0;
    }
    static const char *const fields[] = {"tag", "source", "destination", "session_id",
                                         "message_id", "session_type", "session_stage",
                                         "error", NULL};
    for (int i = 0; fields[i]; i++)
        if (strcmp(k, fields[i]) == 0)
            return luaL_error(L, "message field '%s' is read-only; build a new message, or give "
                                 "it to proxy:reply or proxy:forward", k);
    return luaL_error(L, "messages have no field '%s' (fields: tag, source, destination, "
                         "payload, session_id, message_id, session_type, session_stage, "
                         "error)", k);
}

static int message_tostring(lua_State *L) {
    message *m = message_check(L, 1);
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
    int max = f == F_ERROR ? WIRE_MAX_ERROR : WIRE_MAX_NAME;
    if (s.len > (size_t)max)
        luaL_error(L, "%s: field '%s' is %d bytes long; at most %d are allowed", ctor,
                   field_names[f], (int)s.len, max);
    return s;
}

static int new_message(lua_State *L, const char *ctor, int default_type) {
    if (!lua_istable(L, 1))
        return given_raise(L, "%s expects a table of fields, e.g. %s{tag=..., source=..., "
                              "destination=..., payload=...}, got %s", ctor, ctor,
                           given_push(L, 1));
    lua_settop(L, 1);
    lua_pushnil(L); /* 2: the payload */
    /* One pass over the table. Field names are short strings, which Lua
     * interns: a key is a field exactly when it is the same object as the
     * field's name, kept as an upvalue, so comparing addresses suffices.
     * lua_topointer gives NULL for numbers and booleans, and tables and
     * functions live at other addresses; only a light userdata made in C
     * with such an address could pass for a field, and it would still be
     * checked as a string. */
    const void *const *names = ((field_table *)lua_touserdata(L, UP_CTOR_NAMES))->names;
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
                                 "session_stage, error)", ctor, luaL_tolstring(L, -2, NULL));
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
    h.error = field[F_ERROR];
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

/* Pushes the field names: a field_table, which holds the strings themselves
 * in its user value. */
static void push_names(lua_State *L) {
    field_table *t = lua_newuserdatauv(L, sizeof *t, 1);
    memset(t, 0, sizeof *t);
    const void **names = t->names;
    lua_createtable(L, F_COUNT, 0);
    for (int f = 1; f <= F_COUNT; f++) {
        lua_pushstring(L, field_names[f]);
        names[f] = lua_topointer(L, -1);
        lua_rawseti(L, -2, f);
    }
    lua_setiuservalue(L, -2, 1);
}

void message_register(lua_State *L) {
    if (luaL_newmetatable(L, MESSAGE_TYPE)) {
        static const luaL_Reg meta[] = {{"__newindex", message_newindex},
                                        {"__tostring", message_tostring},
                                        {NULL, NULL}};
        luaL_setfuncs(L, meta, 0);
        push_names(L);
        lua_settop(L, lua_gettop(L) + 3); /* nothing pushed yet */
        lua_pushcclosure(L, message_index, 4);
        lua_setfield(L, -2, "__index");
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
                                     {NULL, NULL}};
    push_names(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &message_mt_key);
    luaL_setfuncs(L, funcs, 2);
}
