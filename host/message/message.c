#include "message/message.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "base/ids.h"
#include "wire/payload.h"

struct message {
    wire_header h;  /* slices point into strings; h.group is unused */
    blob *payload;  /* encoded payload not decoded yet, or NULL */
    /* Then tag, source, destination, session_id and message_id, each
     * NUL-terminated, in the same block: one allocation per message. */
    char strings[];
};

/* The payload value, once known, lives in the userdata's first user value. */
#define PAYLOAD_SLOT 1

static int message_gc(lua_State *L) {
    message *m = luaL_checkudata(L, 1, MESSAGE_TYPE);
    blob_unref(m->payload);
    m->payload = NULL;
    return 0;
}

message *message_push(lua_State *L, const wire_header *h) {
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

    message *m = lua_newuserdatauv(L, sizeof *m + total, 1);
    memset(m, 0, sizeof *m);
    luaL_setmetatable(L, MESSAGE_TYPE);
    wire_slice *dst[5] = {&m->h.tag, &m->h.source, &m->h.destination, &m->h.session_id,
                          &m->h.message_id};
    char *p = m->strings;
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

void message_set_payload_blob(message *m, blob *b) {
    blob_unref(m->payload);
    m->payload = b;
}

message *message_check(lua_State *L, int idx) { return luaL_checkudata(L, idx, MESSAGE_TYPE); }
message *message_test(lua_State *L, int idx) { return luaL_testudata(L, idx, MESSAGE_TYPE); }
const wire_header *message_header(const message *m) { return &m->h; }

void message_push_payload(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    message *m = message_check(L, idx);
    if (m->payload) {
        char err[512];
        if (payload_decode(L, blob_data(m->payload), blob_size(m->payload), err, sizeof err) != 0)
            luaL_error(L, "%s", err); /* only for bytes that skipped the check at receive */
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, idx, PAYLOAD_SLOT);
        blob_unref(m->payload); /* decoded once; the table may now change, so re-encode */
        m->payload = NULL;
        return;
    }
    lua_getiuservalue(L, idx, PAYLOAD_SLOT);
}

int message_encode(lua_State *L, int idx, wire_slice group, buf *header, blob **payload,
                   char *err, size_t errlen) {
    idx = lua_absindex(L, idx);
    message *m = message_check(L, idx);
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
    if (m->payload) {
        *payload = blob_ref(m->payload);
        return 0;
    }
    buf pb;
    buf_init(&pb);
    lua_getiuservalue(L, idx, PAYLOAD_SLOT);
    int rc = payload_encode(L, -1, &pb, err, errlen);
    lua_pop(L, 1);
    if (rc != 0) {
        buf_free(&pb);
        return -1;
    }
    *payload = blob_take(pb.data, pb.len);
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
    message *m = message_push(L, &h);
    m->payload = blob_ref(payload);
    /* The payload's bytes live outside the Lua heap, where the collector does
     * not count them: a script that drops large messages unread would pile
     * them up. Count large ones as if Lua had allocated them. */
    if (blob_size(payload) >= 64 * 1024 && lua_gc(L, LUA_GCISRUNNING))
        lua_gc(L, LUA_GCSTEP, (int)(blob_size(payload) >> 10));
    return m;
}

/* ---- the Lua side ------------------------------------------------------ */

static void push_slice(lua_State *L, wire_slice s) { lua_pushlstring(L, s.ptr, s.len); }

static void push_name_or_nil(lua_State *L, const char *name) {
    if (name) lua_pushstring(L, name);
    else lua_pushnil(L);
}

static int message_index(lua_State *L) {
    message *m = message_check(L, 1);
    size_t len;
    const char *k = lua_tolstring(L, 2, &len);
    if (!k) return 0;
#define IS(name) (len == sizeof(name) - 1 && memcmp(k, name, len) == 0)
    if (IS("payload")) message_push_payload(L, 1);
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
    message *m = message_check(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "payload") == 0) {
        lua_settop(L, 3);
        lua_setiuservalue(L, 1, PAYLOAD_SLOT);
        blob_unref(m->payload);
        m->payload = NULL;
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

/* Reads a name field of the constructor table; absent is allowed when optional. */
static wire_slice field_string(lua_State *L, const char *ctor, const char *name, int optional) {
    wire_slice s = {NULL, 0};
    int t = lua_getfield(L, 1, name);
    if (t == LUA_TNIL && optional) {
        lua_pop(L, 1);
        return s;
    }
    if (t != LUA_TSTRING)
        luaL_error(L, "%s: field '%s' must be a non-empty string, got %s", ctor, name,
                   t == LUA_TNIL ? "nothing" : luaL_typename(L, -1));
    s.ptr = lua_tolstring(L, -1, &s.len);
    if (s.len == 0) luaL_error(L, "%s: field '%s' must be a non-empty string, got \"\"", ctor, name);
    if (s.len > WIRE_MAX_NAME)
        luaL_error(L, "%s: field '%s' is %d bytes long; at most %d are allowed", ctor, name,
                   (int)s.len, WIRE_MAX_NAME);
    lua_pop(L, 1); /* the string stays alive in the table */
    return s;
}

static int new_message(lua_State *L, const char *ctor, int default_type) {
    if (!lua_istable(L, 1))
        return luaL_error(L, "%s expects a table of fields, e.g. %s{tag=..., source=..., "
                             "destination=..., payload=...}", ctor, ctor);
    lua_settop(L, 1);
    static const char *const known[] = {"tag", "source", "destination", "payload", "session_id",
                                        "message_id", "session_type", "session_stage", NULL};
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        int ok = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int i = 0; known[i] && !ok; i++) ok = strcmp(lua_tostring(L, -1), known[i]) == 0;
        if (!ok)
            return luaL_error(L, "%s: unknown field '%s' (fields: tag, source, destination, "
                                 "payload, session_id, message_id, session_type, session_stage)",
                              ctor, luaL_tolstring(L, -1, NULL));
    }
    wire_header h;
    memset(&h, 0, sizeof h);
    h.tag = field_string(L, ctor, "tag", 0);
    h.source = field_string(L, ctor, "source", 0);
    h.destination = field_string(L, ctor, "destination", 0);
    h.session_id = field_string(L, ctor, "session_id", 1);
    h.message_id = field_string(L, ctor, "message_id", 1);
    wire_slice type = field_string(L, ctor, "session_type", 1);
    wire_slice stage = field_string(L, ctor, "session_stage", 1);
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
    lua_getfield(L, 1, "payload");
    message_push(L, &h);
    lua_insert(L, -2);
    lua_setiuservalue(L, -2, PAYLOAD_SLOT);
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
    if (message_encode(L, 1, group, &header, &payload, err, sizeof err) != 0) {
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
                                        {"__gc", message_gc},
                                        {NULL, NULL}};
        luaL_setfuncs(L, meta, 0);
    }
    lua_pop(L, 1);
    static const luaL_Reg funcs[] = {{"Message", l_message},
                                     {"SessionMessage", l_session_message},
                                     {"is_message", l_is_message},
                                     {"wire_encode", l_wire_encode},
                                     {"wire_decode", l_wire_decode},
                                     {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
