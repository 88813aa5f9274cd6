/* proxy_send_lua.c: the sending methods of maro.Proxy: isend, send,
 * iscatter, scatter, ibroadcast, broadcast, reply, forward and isend_to.
 * They check their arguments, make the header and the payload, and hand
 * them to proxy_send / proxy_broadcast (send.c). */
#include <string.h>

#include "base/interrupt.h"
#include "proxy/proxy_lua_impl.h"
#include "wire/uuid.h"

/* A fresh session id in UUID form, its string written into buf when the
 * session table or the returned list of ids needs it (buf NULL: nothing on
 * this side reads it; wire/header.h). */
static void fresh_session(wire_header *h, char buf[WIRE_UUID_LEN]) {
    wire_uuid_next(&h->session_uuid);
    h->uuids |= WIRE_SESSION_UUID;
    h->session_id = buf ? wire_id_string((wire_slice){NULL, 0}, &h->session_uuid, 1, buf)
                        : (wire_slice){NULL, 0};
}

/* A fresh message id, in UUID form alone: nothing on this side reads it. */
static void fresh_message(wire_header *h) {
    wire_uuid_next(&h->message_uuid);
    h->uuids |= WIRE_MESSAGE_UUID;
    h->message_id = (wire_slice){NULL, 0};
}

static int check_session_type(lua_State *L, int idx, const char *method) {
    if (lua_isnoneornil(L, idx)) return SESSION_TASK;
    size_t n;
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &n) : NULL;
    int t = s ? wire_session_type_parse(s, n) : -1;
    if (t < 0)
        proxy_lua_raise(L, "proxy:%s: session_type must be \"task\" or \"notification\", got %s",
                        method, s ? lua_pushfstring(L, "\"%s\"", s) : luaL_typename(L, idx));
    return t;
}

/* A tag, destination or type for a header: a non-empty string of at most
 * 1024 bytes, or peers would drop the message. */
static wire_slice check_name(lua_State *L, int idx, const char *method, const char *what) {
    wire_slice s = {NULL, 0};
    if (lua_type(L, idx) == LUA_TSTRING) s.ptr = lua_tolstring(L, idx, &s.len);
    if (!s.ptr || s.len == 0 || s.len > WIRE_MAX_NAME)
        proxy_lua_raise(L, "proxy:%s: the %s must be a string of 1 to %d bytes, got %s", method,
                        what, WIRE_MAX_NAME,
                        s.ptr ? lua_pushfstring(L, "%d bytes", (int)s.len) : luaL_typename(L, idx));
    return s;
}

/* Encodes the Lua value at idx as a payload blob, in the proxy's scratch
 * (a small payload allocates nothing); raises naming what. */
static blob *encode_payload(lua_State *L, int idx, const char *method, const char *what) {
    lproxy *lp = lua_touserdata(L, 1); /* checked by proxy_lua_open */
    char err[ERRLEN];
    blob *b = message_encode_value(L, idx, &lp->payload, err, sizeof err);
    if (!b) proxy_lua_raise(L, "proxy:%s: %s%s", method, what, err);
    return b;
}

/* Sends, consuming payload; raises on failure (or on a signal meanwhile). */
static void send_or_raise(lua_State *L, proxy *p, wire_header *h, blob *payload, int flags,
                          const char *method, const char *where) {
    char err[ERRLEN];
    int rc = proxy_send(p, h, payload, flags, err, sizeof err);
    blob_unref(payload);
    if (rc == 0) return;
    if (interrupt_pending()) proxy_lua_interrupted(L, method);
    proxy_lua_raise(L, "proxy:%s: %s%s", method, where, err);
}

/* A list of the id `times` times (a broadcast: once per peer reached). */
static void push_ids(lua_State *L, wire_slice id, int times) {
    lua_createtable(L, times, 0);
    lua_pushlstring(L, id.ptr, id.len);
    for (int i = 1; i <= times; i++) {
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, i);
    }
    lua_pop(L, 1);
}

/* A request starts a session this proxy follows; a reply does not. A plain
 * message is followed only when the call waits for its reply (send): a
 * stream of isends would otherwise fill the session table with entries
 * nobody asks about, and following them costs a third of a send. */
static int starts_session(const wire_header *h, int waits) {
    if (h->session_type == SESSION_NONE) return waits && h->session_stage == STAGE_NONE;
    return h->session_stage == wire_request_stage(h->session_type);
}

/* ---- isend, send ----------------------------------------------------------- */

/* Sends the message at idx; pushes {session_id} (alive as long as the message). */
static void send_message_at(lua_State *L, proxy *p, int idx, const char *method, int waits) {
    lproxy *lp = lua_touserdata(L, 1); /* checked by proxy_lua_open */
    message *m = message_check(L, idx);
    wire_header h;
    blob *payload;
    char err[ERRLEN];
    (void)m;
    if (message_encode(L, idx, &h, &lp->payload, &payload, err, sizeof err) != 0)
        proxy_lua_raise(L, "proxy:%s: %s", method, err);
    int flags = PROXY_SEND_MINIMAL | (starts_session(&h, waits) ? PROXY_SEND_SESSION : 0);
    send_or_raise(L, p, &h, payload, flags, method, "");
    push_ids(L, h.session_id, 1);
}

static int l_isend(lua_State *L) {
    proxy *p = proxy_lua_open(L, "isend");
    send_message_at(L, p, 2, "isend", 0);
    return 1;
}

static int l_send(lua_State *L) {
    proxy *p = proxy_lua_open(L, "send");
    double deadline = proxy_lua_deadline(L, 3, "send");
    send_message_at(L, p, 2, "send", 1);
    return proxy_lua_wait_for_ids(L, p, -1, deadline, "send");
}

/* isend_to(destination, tag, payload): a plain message, nothing returned. */
static int l_isend_to(lua_State *L) {
    proxy *p = proxy_lua_open(L, "isend_to");
    wire_header h = {.tag = check_name(L, 3, "isend_to", "tag"),
                     .source = {proxy_name(p), strlen(proxy_name(p))},
                     .destination = check_name(L, 2, "isend_to", "destination")};
    fresh_session(&h, NULL); /* followed by nobody: its string is never read */
    fresh_message(&h);
    lua_settop(L, 4);
    send_or_raise(L, p, &h, encode_payload(L, 4, "isend_to", ""), PROXY_SEND_MINIMAL,
                  "isend_to", "");
    return 0;
}

/* ---- iscatter, scatter ----------------------------------------------------- */

/* The list must be a sequence of {destination, payload} pairs, and nothing else. */
static lua_Integer check_pairs(lua_State *L, int list, const char *method) {
    if (!lua_istable(L, list))
        proxy_lua_raise(L, "proxy:%s: the list must be a sequence of {destination, payload} "
                        "pairs, got %s", method, luaL_typename(L, list));
    lua_Integer n = (lua_Integer)lua_rawlen(L, list), keys = 0;
    lua_pushnil(L);
    while (lua_next(L, list)) {
        lua_Integer i = lua_isinteger(L, -2) ? lua_tointeger(L, -2) : 0;
        if (i < 1 || i > n)
            proxy_lua_raise(L, "proxy:%s: the list must be a sequence of {destination, payload} "
                            "pairs; it has the key %s", method, luaL_tolstring(L, -2, NULL));
        if (!lua_istable(L, -1))
            proxy_lua_raise(L, "proxy:%s: list[%d] must be a {destination, payload} pair, got "
                            "%s", method, (int)i, luaL_typename(L, -1));
        keys++;
        lua_pop(L, 1);
    }
    if (keys != n)
        proxy_lua_raise(L, "proxy:%s: the list must be a sequence of {destination, payload} "
                        "pairs without holes", method);
    return n;
}

static int l_iscatter(lua_State *L) {
    proxy *p = proxy_lua_open(L, "iscatter");
    wire_slice tag = check_name(L, 2, "iscatter", "tag");
    int type = check_session_type(L, 3, "iscatter");
    lua_Integer n = check_pairs(L, 4, "iscatter");
    lua_createtable(L, (int)n, 0);
    int result = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        char where[48];
        snprintf(where, sizeof where, "list[%d]: ", (int)i);
        lua_rawgeti(L, 4, i);
        int pair = lua_gettop(L);
        lua_rawgeti(L, pair, 1);
        size_t dlen;
        const char *dest = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &dlen) : NULL;
        if (!dest || dlen == 0 || dlen > WIRE_MAX_NAME)
            return proxy_lua_raise(L, "proxy:iscatter: list[%d][1] must be a destination name, "
                                   "got %s", (int)i, luaL_typename(L, -1));
        lua_rawgeti(L, pair, 2);
        char sid[WIRE_UUID_LEN];
        wire_header h = {.tag = tag, .source = {proxy_name(p), strlen(proxy_name(p))},
                         .destination = {dest, dlen}, .session_type = type,
                         .session_stage = wire_request_stage(type)};
        fresh_session(&h, sid);
        fresh_message(&h);
        blob *payload = encode_payload(L, -1, "iscatter", where);
        send_or_raise(L, p, &h, payload, PROXY_SEND_MINIMAL | PROXY_SEND_SESSION, "iscatter",
                      where);
        lua_settop(L, result);
        lua_pushlstring(L, sid, WIRE_UUID_LEN);
        lua_rawseti(L, result, i);
    }
    return 1;
}

static int l_scatter(lua_State *L) {
    proxy *p = proxy_lua_open(L, "scatter");
    double deadline = proxy_lua_deadline(L, 5, "scatter");
    lua_settop(L, 4);
    l_iscatter(L);
    return proxy_lua_wait_for_ids(L, p, -1, deadline, "scatter");
}

/* ---- ibroadcast, broadcast ------------------------------------------------- */

static int l_ibroadcast(lua_State *L) {
    proxy *p = proxy_lua_open(L, "ibroadcast");
    wire_slice ctype = check_name(L, 2, "ibroadcast", "component type");
    wire_slice tag = check_name(L, 3, "ibroadcast", "tag");
    int type = check_session_type(L, 4, "ibroadcast");
    lua_settop(L, 5);
    char sid[WIRE_UUID_LEN];
    /* One header for all: the destination is the type; replies name their real source. */
    wire_header h = {.tag = tag, .source = {proxy_name(p), strlen(proxy_name(p))},
                     .destination = ctype, .session_type = type,
                     .session_stage = wire_request_stage(type)};
    fresh_session(&h, sid);
    fresh_message(&h);
    blob *payload = encode_payload(L, 5, "ibroadcast", "");
    char err[ERRLEN];
    int reached;
    int rc = proxy_broadcast(p, ctype.ptr, &h, payload, &reached, err, sizeof err);
    blob_unref(payload);
    if (rc != 0) {
        if (interrupt_pending()) return proxy_lua_interrupted(L, "ibroadcast");
        if (reached) return proxy_lua_raise(L, "proxy:ibroadcast: %s (after reaching %d peer%s)",
                                            err, reached, reached == 1 ? "" : "s");
        return proxy_lua_raise(L, "proxy:ibroadcast: %s", err);
    }
    push_ids(L, h.session_id, reached);
    return 1;
}

static int l_broadcast(lua_State *L) {
    proxy *p = proxy_lua_open(L, "broadcast");
    double deadline = proxy_lua_deadline(L, 6, "broadcast");
    lua_settop(L, 5);
    l_ibroadcast(L);
    return proxy_lua_wait_for_ids(L, p, -1, deadline, "broadcast");
}

/* ---- reply, forward ---------------------------------------------------------- */

/* Reads {tag=, payload=, ack=, error=} (the keys allowed by `keys`) into h;
 * leaves the payload (nil when kept) on top of the stack. */
static void read_options(lua_State *L, int idx, const char *method, const char *const *keys,
                         wire_header *h, int *ack) {
    if (ack) *ack = 0;
    if (lua_isnoneornil(L, idx)) {
        lua_pushnil(L);
        return;
    }
    if (!lua_istable(L, idx))
        proxy_lua_raise(L, "proxy:%s: the options must be a table, got %s", method,
                        luaL_typename(L, idx));
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int known = 0;
        for (int i = 0; k && keys[i] && !known; i++) known = strcmp(k, keys[i]) == 0;
        if (!known)
            proxy_lua_raise(L, "proxy:%s: unknown option %s (the options are %s)", method,
                            k ? lua_pushfstring(L, "'%s'", k) : luaL_tolstring(L, -2, NULL),
                            ack ? "tag, payload, ack and error" : "tag and payload");
        lua_pop(L, 1);
    }
    if (lua_getfield(L, idx, "tag") != LUA_TNIL) h->tag = check_name(L, -1, method, "tag");
    lua_pop(L, 1); /* the string stays alive in the options table */
    if (ack) {
        if (lua_getfield(L, idx, "ack") != LUA_TNIL && !lua_isboolean(L, -1))
            proxy_lua_raise(L, "proxy:%s: option 'ack' must be true or false, got %s", method,
                            luaL_typename(L, -1));
        *ack = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, idx, "error") != LUA_TNIL) {
            size_t len = 0;
            const char *e = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
            if (!e || len == 0 || len > WIRE_MAX_ERROR)
                proxy_lua_raise(L, "proxy:%s: option 'error' must be a string of 1 to %d "
                                "bytes, got %s", method, WIRE_MAX_ERROR, given_push(L, -1));
            h->error = (wire_slice){e, len};
        }
        lua_pop(L, 1);
    }
    lua_getfield(L, idx, "payload");
}

/* Sends the message at msg_idx again with header h: its payload replaced
 * when the value on top is not nil, else kept (shared, not re-encoded). */
static void send_derived(lua_State *L, proxy *p, int msg_idx, wire_header *h,
                         const char *method) {
    blob *payload = NULL;
    if (!lua_isnil(L, -1)) {
        payload = encode_payload(L, -1, method, "option 'payload': ");
    } else {
        wire_header original;
        char err[ERRLEN];
        if (message_encode(L, msg_idx, &original, NULL, &payload, err, sizeof err) != 0)
            proxy_lua_raise(L, "proxy:%s: %s", method, err);
    }
    send_or_raise(L, p, h, payload, 0, method, "");
}

static int l_reply(lua_State *L) {
    static const char *const keys[] = {"tag", "payload", "ack", "error", NULL};
    proxy *p = proxy_lua_open(L, "reply");
    wire_header h = *message_header(message_check(L, 2));
    int ack;
    h.error = (wire_slice){NULL, 0};
    read_options(L, 3, "reply", keys, &h, &ack);
    if (ack && h.session_type != SESSION_TASK)
        return proxy_lua_raise(L, "proxy:reply: ack = true is for task sessions; this message's "
                               "session is %s", h.session_type
                                                    ? wire_session_type_name(h.session_type)
                                                    : "plain (no session type)");
    h.destination = h.source;
    h.source = (wire_slice){proxy_name(p), strlen(proxy_name(p))};
    fresh_message(&h);
    if (h.session_type == SESSION_TASK)
        h.session_stage = ack ? STAGE_TASK_RECEIVE : STAGE_TASK_COMPLETE;
    else if (h.session_type == SESSION_NOTIFICATION)
        h.session_stage = STAGE_NOTIFICATION_RECEIVE;
    send_derived(L, p, 2, &h, "reply");
    push_ids(L, h.session_id, 1);
    return 1;
}

static int l_forward(lua_State *L) {
    static const char *const keys[] = {"tag", "payload", NULL};
    proxy *p = proxy_lua_open(L, "forward");
    wire_header h = *message_header(message_check(L, 2));
    h.destination = check_name(L, 3, "forward", "destination");
    read_options(L, 4, "forward", keys, &h, NULL);
    h.source = (wire_slice){proxy_name(p), strlen(proxy_name(p))};
    fresh_message(&h);
    send_derived(L, p, 2, &h, "forward");
    push_ids(L, h.session_id, 1);
    return 1;
}

const luaL_Reg proxy_send_methods[] = {
    {"isend", l_isend},         {"send", l_send},           {"iscatter", l_iscatter},
    {"scatter", l_scatter},     {"ibroadcast", l_ibroadcast}, {"broadcast", l_broadcast},
    {"reply", l_reply},         {"forward", l_forward},     {"isend_to", l_isend_to},
    {NULL, NULL}};
