/* proxy_lua.c: the maro.Proxy userdata. Methods encode and decode messages
 * and turn the proxy core's results into Lua values; everything that waits
 * happens in proxy.c. */
#include "proxy/proxy_lua.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/ids.h"
#include "message/message.h"
#include "proxy/hub_lua.h"
#include "proxy/proxy.h"
#include "proxy/signals.h"
#include "transport/transport.h"
#include "wire/payload.h"

typedef struct lproxy {
    proxy *p; /* NULL once closed */
    char *name, *group, *type; /* still readable after close; freed by __gc */
    buf scratch;               /* header frames of isend/send, reused */
    message_scratch payload;   /* their payloads */
} lproxy;

#define ERRLEN 1024

static void leave_on_signal(void *ctx) {
    lproxy *lp = ctx;
    proxy *p = lp->p;
    lp->p = NULL;
    proxy_close(p);
}

/* Every proxy has a metatable of its own, whose __index is a table of its
 * own holding the methods and name, group_name and component_type: reading
 * those (proxy:isend, proxy.name: once each per message a script builds and
 * sends) is a table lookup in the VM, not a call. What changes (peers,
 * dropped, ...) comes from l_fields, the __index of that table. A proxy is
 * recognised by a mark in its metatable. */
static const char proxy_mark, proxy_self_key, proxy_methods_key, proxy_fields_key;

/* The methods hold the Message metatable as upvalue 1. */
#define UP_MSG_META lua_upvalueindex(1)

static lproxy *test_proxy(lua_State *L, int idx) {
    lproxy *lp = lua_touserdata(L, idx);
    if (!lp || !lua_getmetatable(L, idx)) return NULL;
    int ok = lua_rawgetp(L, -1, &proxy_mark) == LUA_TBOOLEAN;
    lua_pop(L, 2);
    return ok ? lp : NULL;
}

static lproxy *check_proxy(lua_State *L, int idx) {
    lproxy *lp = test_proxy(L, idx);
    if (!lp) luaL_typeerror(L, idx, PROXY_TYPE);
    return lp;
}

static proxy *check_open(lua_State *L, const char *method) {
    lproxy *lp = check_proxy(L, 1);
    if (!lp->p) luaL_error(L, "proxy:%s: the proxy is closed", method);
    return lp->p;
}

struct proxy *proxy_lua_check(lua_State *L, int idx) {
    lproxy *lp = check_proxy(L, idx);
    if (!lp->p) luaL_argerror(L, idx, "the proxy is closed");
    return lp->p;
}

/* A timeout in seconds -> a clock_now() deadline; nil waits forever (-1). */
static double check_deadline(lua_State *L, int idx, const char *method) {
    if (lua_isnoneornil(L, idx)) return -1;
    if (!lua_isnumber(L, idx))
        luaL_error(L, "proxy:%s: the timeout must be a number of seconds or nil, got %s", method,
                   luaL_typename(L, idx));
    double t = lua_tonumber(L, idx);
    if (!(t >= 0)) luaL_error(L, "proxy:%s: the timeout must not be negative", method);
    return clock_now() + t;
}

static int check_session_type(lua_State *L, int idx, const char *method) {
    if (lua_isnoneornil(L, idx)) return SESSION_TASK;
    size_t n;
    const char *s = luaL_checklstring(L, idx, &n);
    int t = wire_session_type_parse(s, n);
    if (t < 0)
        luaL_error(L, "proxy:%s: session_type must be \"task\" or \"notification\", got \"%s\"",
                   method, s);
    return t;
}

/* A tag, destination or type for a header: non-empty and not too long,
 * or peers would drop the message. */
static const char *check_name(lua_State *L, int idx, const char *method, const char *what) {
    size_t len;
    const char *s = luaL_checklstring(L, idx, &len);
    if (len == 0 || len > WIRE_MAX_NAME)
        luaL_error(L, "proxy:%s: the %s must be 1 to %d bytes long, got %d", method, what,
                   WIRE_MAX_NAME, (int)len);
    return s;
}

/* meta: where the caller holds the Message metatable. */
static void push_message(lua_State *L, proxy *p, rx_item *it, int meta) {
    message_push_received(L, &it->h, it->payload, meta);
    proxy_release(p, it);
}

static void push_ids(lua_State *L, wire_slice id, int times) {
    lua_createtable(L, times, 0);
    for (int i = 1; i <= times; i++) {
        lua_pushlstring(L, id.ptr, id.len);
        lua_rawseti(L, -2, i);
    }
}

static wire_slice group_slice(proxy *p) {
    return (wire_slice){proxy_group(p), strlen(proxy_group(p))};
}

static wire_slice name_slice(proxy *p) { return (wire_slice){proxy_name(p), strlen(proxy_name(p))}; }

/* The peer of a destination name; with minimal set, first waits until
 * minimal_peers live peers of its type are connected. NULL with err. */
static proxy_peer *find_dest(proxy *p, const char *dest, int minimal, char *err) {
    proxy_peer *pp = proxy_find_peer(p, dest, err, ERRLEN);
    if (!pp || !minimal || !proxy_wants_minimal(p)) return pp;
    char type[WIRE_MAX_NAME + 1];
    snprintf(type, sizeof type, "%s", proxy_peer_type(pp));
    if (proxy_await_minimal(p, type, err, ERRLEN) != 0) return NULL;
    /* The wait refreshed the peer table: look again. */
    return proxy_find_peer(p, dest, err, ERRLEN);
}

/* Sends encoded frames to a destination by name (after the minimal_peers
 * wait when minimal is set). Consumes header and payload; returns 0, or -1
 * with err. */
static int send_to(proxy *p, const char *dest, int minimal, buf *header, blob *payload,
                   char *err) {
    int rc = -1;
    proxy_peer *pp = find_dest(p, dest, minimal, err);
    if (pp) rc = proxy_send(p, pp, header->data, header->len, payload, err, ERRLEN);
    buf_free(header);
    blob_unref(payload);
    return rc;
}

/* As send_to, with the header in the proxy's scratch buffer (kept). */
static int send_scratch(proxy *p, const char *dest, const buf *header, blob *payload, char *err) {
    int rc = -1;
    proxy_peer *pp = find_dest(p, dest, 1, err);
    if (pp) rc = proxy_send(p, pp, header->data, header->len, payload, err, ERRLEN);
    blob_unref(payload);
    return rc;
}

/* Encodes the Lua value at idx as a payload blob; NULL with err. */
static blob *encode_payload(lua_State *L, int idx, char *err) {
    buf pb;
    buf_init(&pb);
    if (payload_encode(L, idx, &pb, err, ERRLEN) != 0) {
        buf_free(&pb);
        return NULL;
    }
    blob *b = blob_take(pb.data, pb.len);
    if (!b) snprintf(err, ERRLEN, "out of memory");
    return b;
}

/* ---- waiting for session ids --------------------------------------------- */

typedef struct id_match {
    lua_State *L;
    int counts; /* stack index of {session_id = replies still wanted} */
    lua_Integer remaining;
} id_match;

static int match_ids(void *ctx, const wire_header *h) {
    id_match *mc = ctx;
    lua_State *L = mc->L;
    lua_pushlstring(L, h->session_id.ptr, h->session_id.len);
    lua_pushvalue(L, -1);
    lua_rawget(L, mc->counts);
    lua_Integer c = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (c <= 0) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushinteger(L, c - 1);
    lua_rawset(L, mc->counts);
    mc->remaining--;
    return 1;
}

/* Pushes replies, pending for the ids in the list at idx. */
static int wait_for_ids(lua_State *L, proxy *p, int ids, double deadline, const char *method) {
    ids = lua_absindex(L, ids);
    luaL_checktype(L, ids, LUA_TTABLE);
    lua_Integer n = luaL_len(L, ids);
    lua_newtable(L);
    id_match mc = {L, lua_gettop(L), 0};
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_geti(L, ids, i) != LUA_TSTRING)
            luaL_error(L, "proxy:%s: ids[%d] must be a session id (a string), got %s", method,
                       (int)i, luaL_typename(L, -1));
        lua_pushvalue(L, -1);
        lua_rawget(L, mc.counts);
        lua_Integer c = lua_tointeger(L, -1);
        lua_pop(L, 1);
        lua_pushinteger(L, c + 1);
        lua_rawset(L, mc.counts);
        mc.remaining++;
    }
    lua_newtable(L);
    int replies = lua_gettop(L);
    lua_Integer got = 0;
    rx_item *it;
    while (mc.remaining > 0 && (it = proxy_take_buffered(p, match_ids, &mc))) {
        push_message(L, p, it, UP_MSG_META);
        lua_rawseti(L, replies, ++got);
    }
    int status = PROXY_GOT;
    while (mc.remaining > 0 && (it = proxy_wait_next(p, deadline, match_ids, &mc, &status))) {
        push_message(L, p, it, UP_MSG_META);
        lua_rawseti(L, replies, ++got);
    }
    lua_newtable(L);
    lua_Integer k = 0;
    for (lua_Integer i = 1; i <= n && mc.remaining > 0; i++) {
        lua_geti(L, ids, i);
        lua_pushvalue(L, -1);
        lua_rawget(L, mc.counts);
        lua_Integer c = lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (c <= 0) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -1);
        lua_pushinteger(L, c - 1);
        lua_rawset(L, mc.counts);
        lua_rawseti(L, -2, ++k);
    }
    lua_remove(L, mc.counts);
    return 2;
}

/* ---- methods ------------------------------------------------------------- */

/* Sends the message at msg_idx, following its session when it starts one;
 * returns its session id (alive as long as the message). */
static wire_slice start_and_send(lua_State *L, proxy *p, int msg_idx, const char *method) {
    message *m = message_check_with(L, msg_idx, UP_MSG_META);
    const wire_header *h = message_header(m);
    lproxy *lp = lua_touserdata(L, 1); /* checked by check_open */
    char err[ERRLEN];
    blob *payload = NULL;
    proxy_tick(p);
    lp->scratch.len = 0;
    if (message_encode(L, msg_idx, group_slice(p), &lp->scratch, &lp->payload, &payload,
                       err, sizeof err) != 0)
        luaL_error(L, "proxy:%s: %s", method, err);
    if (h->session_type != SESSION_NONE && h->session_stage == wire_request_stage(h->session_type))
        proxy_session_start(p, h->session_id, h->session_type, 1);
    if (send_scratch(p, h->destination.ptr, &lp->scratch, payload, err) != 0)
        luaL_error(L, "proxy:%s: %s", method, err);
    return h->session_id;
}

static int l_isend(lua_State *L) {
    proxy *p = check_open(L, "isend");
    push_ids(L, start_and_send(L, p, 2, "isend"), 1);
    return 1;
}

static int l_send(lua_State *L) {
    proxy *p = check_open(L, "send");
    double deadline = check_deadline(L, 3, "send");
    push_ids(L, start_and_send(L, p, 2, "send"), 1);
    return wait_for_ids(L, p, -1, deadline, "send");
}

static int l_iscatter(lua_State *L) {
    proxy *p = check_open(L, "iscatter");
    const char *tag = check_name(L, 2, "iscatter", "tag");
    int type = check_session_type(L, 3, "iscatter");
    luaL_checktype(L, 4, LUA_TTABLE);
    proxy_tick(p);
    lua_Integer n = luaL_len(L, 4);
    lua_createtable(L, (int)n, 0);
    int result = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        char err[ERRLEN], sid[IDS_UUID_LEN + 1], mid[IDS_UUID_LEN + 1];
        if (lua_geti(L, 4, i) != LUA_TTABLE)
            return luaL_error(L, "proxy:iscatter: list[%d] must be a {destination, payload} "
                                 "pair, got %s", (int)i, luaL_typename(L, -1));
        int entry = lua_gettop(L);
        size_t dlen;
        lua_geti(L, entry, 1);
        const char *dest = lua_tolstring(L, -1, &dlen);
        if (lua_type(L, -1) != LUA_TSTRING || dlen == 0 || dlen > WIRE_MAX_NAME)
            return luaL_error(L, "proxy:iscatter: list[%d][1] must be a destination name",
                              (int)i);
        lua_geti(L, entry, 2);
        ids_new_uuid(sid);
        ids_new_uuid(mid);
        wire_header h = {group_slice(p), {tag, strlen(tag)}, name_slice(p), {dest, dlen},
                         {sid, IDS_UUID_LEN}, {mid, IDS_UUID_LEN}, type,
                         wire_request_stage(type)};
        blob *payload = encode_payload(L, -1, err);
        if (!payload) return luaL_error(L, "proxy:iscatter: list[%d][2]: %s", (int)i, err);
        buf header;
        buf_init(&header);
        wire_header_encode(&h, &header);
        proxy_session_start(p, h.session_id, type, 1);
        if (send_to(p, dest, 1, &header, payload, err) != 0)
            return luaL_error(L, "proxy:iscatter: list[%d]: %s", (int)i, err);
        lua_settop(L, result);
        lua_pushlstring(L, sid, IDS_UUID_LEN);
        lua_rawseti(L, result, i);
    }
    return 1;
}

static int l_scatter(lua_State *L) {
    proxy *p = check_open(L, "scatter");
    double deadline = check_deadline(L, 5, "scatter");
    lua_settop(L, 4);
    l_iscatter(L);
    return wait_for_ids(L, p, -1, deadline, "scatter");
}

static int l_ibroadcast(lua_State *L) {
    proxy *p = check_open(L, "ibroadcast");
    const char *ctype = check_name(L, 2, "ibroadcast", "component type");
    const char *tag = check_name(L, 3, "ibroadcast", "tag");
    int type = check_session_type(L, 4, "ibroadcast");
    lua_settop(L, 5);
    proxy_tick(p);
    char err[ERRLEN], sid[IDS_UUID_LEN + 1], mid[IDS_UUID_LEN + 1];
    if (proxy_await_minimal(p, ctype, err, sizeof err) != 0)
        return luaL_error(L, "proxy:ibroadcast: %s", err);
    size_t n = 0, total = proxy_peer_count(p);
    proxy_peer **to = malloc((total ? total : 1) * sizeof *to);
    if (!to) return luaL_error(L, "proxy:ibroadcast: out of memory");
    for (size_t i = 0; i < total; i++)
        if (strcmp(proxy_peer_type(proxy_peer_at(p, i)), ctype) == 0) to[n++] = proxy_peer_at(p, i);
    if (n == 0) {
        free(to);
        return luaL_error(L, "proxy:ibroadcast: no connected peers of type '%s' in group '%s'",
                          ctype, proxy_group(p));
    }
    ids_new_uuid(sid);
    ids_new_uuid(mid);
    /* One header for all: the destination is the type; replies name their real source. */
    wire_header h = {group_slice(p), {tag, strlen(tag)}, name_slice(p), {ctype, strlen(ctype)},
                     {sid, IDS_UUID_LEN}, {mid, IDS_UUID_LEN}, type, wire_request_stage(type)};
    blob *payload = encode_payload(L, 5, err);
    if (!payload) {
        free(to);
        return luaL_error(L, "proxy:ibroadcast: %s", err);
    }
    buf header;
    buf_init(&header);
    wire_header_encode(&h, &header);
    proxy_session_start(p, h.session_id, type, (int)n);
    int reached = 0, rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = proxy_send(p, to[i], header.data, header.len, payload, err, sizeof err);
        reached += rc == 0;
    }
    free(to);
    buf_free(&header);
    blob_unref(payload);
    if (rc != 0) return luaL_error(L, "proxy:ibroadcast: %s (after reaching %d peers)", err, reached);
    push_ids(L, h.session_id, reached);
    return 1;
}

static int l_broadcast(lua_State *L) {
    proxy *p = check_open(L, "broadcast");
    double deadline = check_deadline(L, 6, "broadcast");
    lua_settop(L, 5);
    l_ibroadcast(L);
    return wait_for_ids(L, p, -1, deadline, "broadcast");
}

/* One message within timeout seconds (< 0: forever). The clock is read
 * only when nothing is waiting already. */
static int receive_one(lua_State *L, proxy *p, double timeout, int meta) {
    rx_item *it = proxy_take_buffered(p, NULL, NULL);
    int status;
    if (!it) it = proxy_wait_next(p, PROXY_NO_WAIT, NULL, NULL, &status);
    if (!it && timeout != 0)
        it = proxy_wait_next(p, timeout < 0 ? -1 : clock_now() + timeout, NULL, NULL, &status);
    if (!it) return 0;
    push_message(L, p, it, meta);
    return 1;
}

static double check_timeout(lua_State *L, int idx, const char *method) {
    double deadline = check_deadline(L, idx, method);
    return deadline < 0 ? -1 : lua_tonumber(L, idx);
}

static int l_receive_once(lua_State *L) {
    proxy *p = check_open(L, "receive_once");
    if (!receive_one(L, p, check_timeout(L, 2, "receive_once"), UP_MSG_META)) lua_pushnil(L);
    return 1;
}

static int receive_step(lua_State *L) {
    lproxy *lp = lua_touserdata(L, lua_upvalueindex(1));
    if (!lp->p) return 0; /* closed inside the loop: the loop ends */
    double timeout = lua_isnil(L, lua_upvalueindex(2)) ? -1 : lua_tonumber(L, lua_upvalueindex(2));
    if (!receive_one(L, lp->p, timeout, lua_upvalueindex(3))) lua_pushnil(L);
    return 1;
}

static int l_receive(lua_State *L) {
    check_open(L, "receive");
    check_deadline(L, 2, "receive");
    lua_settop(L, 2);
    lua_pushvalue(L, UP_MSG_META);
    lua_pushcclosure(L, receive_step, 3); /* the proxy, the timeout, the Message metatable */
    return 1;
}

static int l_receive_by_id(lua_State *L) {
    proxy *p = check_open(L, "receive_by_id");
    double deadline = check_deadline(L, 3, "receive_by_id");
    if (lua_type(L, 2) == LUA_TSTRING) { /* one id alone is fine too */
        lua_createtable(L, 1, 0);
        lua_pushvalue(L, 2);
        lua_rawseti(L, -2, 1);
        lua_replace(L, 2);
    }
    luaL_checktype(L, 2, LUA_TTABLE);
    return wait_for_ids(L, p, 2, deadline, "receive_by_id");
}

/* Reads {tag=, payload=, ack=} into the reply's tag; leaves the payload
 * (or nil when kept) on top of the stack. */
static void read_reply_options(lua_State *L, int idx, const char *method, wire_slice *tag,
                               int *ack) {
    if (ack) *ack = 0;
    if (lua_isnoneornil(L, idx)) {
        lua_pushnil(L);
        return;
    }
    luaL_checktype(L, idx, LUA_TTABLE);
    if (lua_getfield(L, idx, "tag") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0 ||
            lua_rawlen(L, -1) > WIRE_MAX_NAME)
            luaL_error(L, "proxy:%s: option 'tag' must be a string of 1 to %d bytes", method,
                       WIRE_MAX_NAME);
        tag->ptr = lua_tolstring(L, -1, &tag->len); /* stays alive in the options table */
    }
    lua_pop(L, 1);
    if (ack) {
        lua_getfield(L, idx, "ack");
        *ack = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lua_getfield(L, idx, "payload");
}

/* Sends message msg_idx again with header h: payload replaced when the
 * value on top is not nil, else kept (shared, not re-encoded). */
static void send_derived(lua_State *L, proxy *p, int msg_idx, wire_header *h,
                         const char *method) {
    char err[ERRLEN];
    blob *payload = NULL;
    buf header;
    buf_init(&header);
    if (!lua_isnil(L, -1)) {
        payload = encode_payload(L, -1, err);
    } else if (message_encode(L, msg_idx, group_slice(p), &header, NULL, &payload, err,
                              sizeof err)) {
        payload = NULL;
    }
    header.len = 0;
    if (!payload) {
        buf_free(&header);
        luaL_error(L, "proxy:%s: %s", method, err);
    }
    h->group = group_slice(p);
    wire_header_encode(h, &header);
    if (send_to(p, h->destination.ptr, 0, &header, payload, err) != 0)
        luaL_error(L, "proxy:%s: %s", method, err);
}

static int l_reply(lua_State *L) {
    proxy *p = check_open(L, "reply");
    wire_header h = *message_header(message_check_with(L, 2, UP_MSG_META));
    int ack;
    char mid[IDS_UUID_LEN + 1];
    read_reply_options(L, 3, "reply", &h.tag, &ack);
    if (ack && h.session_type != SESSION_TASK)
        return luaL_error(L, "proxy:reply: ack = true is for task sessions; this message's "
                             "session is %s", h.session_type ? wire_session_type_name(h.session_type)
                                                             : "plain (no session type)");
    ids_new_uuid(mid);
    h.destination = h.source;
    h.source = name_slice(p);
    h.message_id = (wire_slice){mid, IDS_UUID_LEN};
    if (h.session_type == SESSION_TASK) h.session_stage = ack ? STAGE_TASK_RECEIVE : STAGE_TASK_COMPLETE;
    else if (h.session_type == SESSION_NOTIFICATION) h.session_stage = STAGE_NOTIFICATION_RECEIVE;
    proxy_tick(p);
    send_derived(L, p, 2, &h, "reply");
    push_ids(L, h.session_id, 1);
    return 1;
}

static int l_forward(lua_State *L) {
    proxy *p = check_open(L, "forward");
    wire_header h = *message_header(message_check_with(L, 2, UP_MSG_META));
    const char *dest = check_name(L, 3, "forward", "destination");
    size_t dlen = strlen(dest);
    char mid[IDS_UUID_LEN + 1];
    read_reply_options(L, 4, "forward", &h.tag, NULL);
    ids_new_uuid(mid);
    h.destination = (wire_slice){dest, dlen};
    h.source = name_slice(p);
    h.message_id = (wire_slice){mid, IDS_UUID_LEN};
    proxy_tick(p);
    send_derived(L, p, 2, &h, "forward");
    push_ids(L, h.session_id, 1);
    return 1;
}

static int l_session_stage(lua_State *L) {
    proxy *p = check_open(L, "session_stage");
    wire_slice id;
    id.ptr = luaL_checklstring(L, 2, &id.len);
    const char *name = wire_session_stage_name(proxy_session_stage(p, id));
    if (name) lua_pushstring(L, name);
    else lua_pushnil(L);
    return 1;
}

/* watch_fd(fd, ...): these descriptors join the proxy's wait; when one is
 * readable a receive returns as if its timeout ran out (docs/proxy.md,
 * "Waking a receive"). true, or false when PROXY_MAX_WATCHED_FDS would be
 * exceeded (then none of them is added). */
static int l_watch_fd(lua_State *L) {
    proxy *p = check_open(L, "watch_fd");
    int n = lua_gettop(L) - 1;
    for (int i = 2; i <= n + 1; i++)
        if (luaL_checkinteger(L, i) < 0) return luaL_argerror(L, i, "not a file descriptor");
    for (int i = 2; i <= n + 1; i++)
        if (proxy_watch_fd(p, (int)lua_tointeger(L, i)) != 0) {
            for (int j = 2; j < i; j++) proxy_unwatch_fd(p, (int)lua_tointeger(L, j));
            lua_pushboolean(L, 0);
            return 1;
        }
    lua_pushboolean(L, 1);
    return 1;
}

/* unwatch_fd(fd, ...): the reverse; nothing on a closed proxy. */
static int l_unwatch_fd(lua_State *L) {
    lproxy *lp = check_proxy(L, 1);
    int top = lua_gettop(L);
    for (int i = 2; i <= top; i++) {
        lua_Integer fd = luaL_checkinteger(L, i);
        if (lp->p) proxy_unwatch_fd(lp->p, (int)fd);
    }
    return 0;
}

static int l_close(lua_State *L) {
    lproxy *lp = check_proxy(L, 1);
    if (!lp->p) return 0;
    proxy *p = lp->p;
    lp->p = NULL;
    signals_unwatch(lp);
    proxy_close(p);
    return 0;
}

static int l_gc(lua_State *L) {
    l_close(L);
    lproxy *lp = check_proxy(L, 1);
    free(lp->name);
    free(lp->group);
    free(lp->type);
    lp->name = lp->group = lp->type = NULL;
    buf_free(&lp->scratch);
    buf_free(&lp->payload.bytes);
    blob_unref(lp->payload.spare);
    lp->payload.spare = NULL;
    return 0;
}

static void push_peers(lua_State *L, proxy *p) {
    lua_newtable(L);
    size_t n = proxy_peer_count(p);
    for (size_t i = 0; i < n; i++) {
        proxy_peer *pp = proxy_peer_at(p, i);
        if (lua_getfield(L, -1, proxy_peer_type(pp)) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, proxy_peer_type(pp));
        }
        lua_pushstring(L, proxy_peer_name(pp));
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
        lua_pop(L, 1);
    }
    /* Sorted, so that the order does not depend on joining order. */
    lua_getglobal(L, "table");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "sort");
        lua_remove(L, -2);
        lua_pushnil(L);
        while (lua_next(L, -3)) {
            lua_pushvalue(L, -3);
            lua_insert(L, -2);
            lua_call(L, 1, 0);
        }
    }
    lua_pop(L, 1);
}

/* The fields that change, read through the proxy's own table (argument 1),
 * which holds the proxy under proxy_self_key. */
static int l_fields(lua_State *L) {
    static const char *const names[] = {"address", "peers", "dropped", "buffered",
                                        "peers_version", NULL};
    lua_rawgetp(L, 1, &proxy_self_key);
    lproxy *lp = test_proxy(L, -1);
    const char *k = lua_tostring(L, 2);
    if (!lp || !k) return 0;
    if (strcmp(k, "closed") == 0) {
        lua_pushboolean(L, lp->p == NULL);
        return 1;
    }
    int f = 0;
    while (names[f] && strcmp(k, names[f]) != 0) f++;
    if (!names[f]) return 0;
    if (!lp->p) return luaL_error(L, "proxy.%s: the proxy is closed", k);
    switch (f) {
    case 0: lua_pushstring(L, proxy_address(lp->p)); break;
    case 1:
        proxy_tick(lp->p);
        push_peers(L, lp->p);
        break;
    case 2: lua_pushinteger(L, (lua_Integer)proxy_dropped(lp->p)); break;
    case 3: lua_pushinteger(L, (lua_Integer)proxy_buffered(lp->p)); break;
    default:
        proxy_tick(lp->p);
        lua_pushinteger(L, (lua_Integer)proxy_peers_version(lp->p));
    }
    return 1;
}

/* Copies the entries of the table on top into the table at dst, and pops it. */
static void move_entries(lua_State *L, int dst) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, dst);
    }
    lua_pop(L, 1);
}

/* Gives the joined proxy on top its own metatable and field table. */
static void set_own_metatable(lua_State *L, lproxy *lp) {
    int ud = lua_gettop(L);
    lua_newtable(L); /* the fields and methods */
    int t = lua_gettop(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &proxy_methods_key);
    move_entries(L, t);
    lua_pushstring(L, lp->name);
    lua_setfield(L, t, "name");
    lua_pushstring(L, lp->group);
    lua_setfield(L, t, "group_name");
    lua_pushstring(L, lp->type);
    lua_setfield(L, t, "component_type");
    lua_pushvalue(L, ud);
    lua_rawsetp(L, t, &proxy_self_key);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &proxy_fields_key);
    lua_setmetatable(L, t);
    lua_newtable(L); /* the metatable: the shared one's entries, and __index */
    int mt = lua_gettop(L);
    luaL_getmetatable(L, PROXY_TYPE);
    move_entries(L, mt);
    lua_pushvalue(L, t);
    lua_setfield(L, mt, "__index");
    lua_setmetatable(L, ud);
    lua_settop(L, ud);
}

static int l_tostring(lua_State *L) {
    lproxy *lp = check_proxy(L, 1);
    if (lp->name)
        lua_pushfstring(L, "Proxy(%s, %s, group %s%s)", lp->name, lp->type, lp->group,
                        lp->p ? "" : ", closed");
    else
        lua_pushliteral(L, "Proxy(closed)");
    return 1;
}

/* ---- the constructor ----------------------------------------------------- */

static const char *opt_string(lua_State *L, const char *name) {
    lua_getfield(L, 1, name);
    const char *s = lua_tostring(L, -1); /* alive in the options table */
    lua_pop(L, 1);
    return s;
}

static void opt_number(lua_State *L, const char *name, double *out) {
    if (lua_getfield(L, 1, name) != LUA_TNIL) {
        if (!lua_isnumber(L, -1))
            luaL_error(L, "maro.Proxy: option '%s' must be a number", name);
        *out = lua_tonumber(L, -1);
        if (*out < 0) luaL_error(L, "maro.Proxy: option '%s' must not be negative", name);
    }
    lua_pop(L, 1);
}

static void opt_int(lua_State *L, const char *name, int *out) {
    double d = *out;
    opt_number(L, name, &d);
    *out = (int)d;
}

static void opt_size(lua_State *L, const char *name, size_t *out) {
    double d = (double)*out;
    opt_number(L, name, &d);
    *out = d < 1 ? 1 : (size_t)d;
}

/* A list of {type, count} (checked in Lua), as an array that the GC frees;
 * it and its strings stay on the stack until the constructor returns. */
static proxy_expected *opt_type_counts(lua_State *L, const char *name, size_t *count) {
    lua_getfield(L, 1, name);
    int list = lua_gettop(L);
    size_t n = lua_istable(L, list) ? lua_rawlen(L, list) : 0;
    proxy_expected *e = lua_newuserdatauv(L, (n ? n : 1) * sizeof *e, 0);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, list, (lua_Integer)i + 1);
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        e[i].type = lua_tostring(L, -2);
        e[i].count = (int)lua_tointeger(L, -1);
        lua_pop(L, 3);
    }
    *count = n;
    return e;
}

static int opt_bool(lua_State *L, const char *name) {
    lua_getfield(L, 1, name);
    int b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return b;
}

/* enable_rejoin and its companions (docs/proxy.md, "Rejoining"). */
static void opt_rejoin(lua_State *L, proxy_config *c) {
    c->enable_rejoin = opt_bool(L, "enable_rejoin");
    c->enable_cache = opt_bool(L, "enable_message_cache_for_rejoin");
    opt_number(L, "peers_catch_lifetime", &c->peers_catch_lifetime);
    opt_size(L, "max_length_for_message_cache", &c->max_cache);
    opt_number(L, "timeout_for_minimal_peer_number", &c->minimal_timeout);
    opt_int(L, "minimal_peers_any", &c->minimal_any);
    c->minimal = opt_type_counts(L, "minimal_peers", &c->n_minimal);
}

static int l_new(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    proxy_config c;
    proxy_config_defaults(&c);
    c.group = opt_string(L, "group_name");
    c.type = opt_string(L, "component_type");
    c.name = opt_string(L, "component_name");
    if (opt_string(L, "redis_host")) c.redis_host = opt_string(L, "redis_host");
    double port = c.redis_port;
    opt_number(L, "redis_port", &port);
    c.redis_port = (int)port;
    if (lua_getfield(L, 1, "hub") != LUA_TNIL && !(c.hub = hub_lua_test(L, -1)))
        return luaL_error(L, "maro.Proxy: option 'hub' must be a hub from maro.testing");
    lua_pop(L, 1);
    c.advertised_host = opt_string(L, "advertised_address");
    c.bind_host = opt_string(L, "bind_address");
    opt_int(L, "max_redis_connect_retries", &c.max_redis_connect_retries);
    opt_number(L, "initial_redis_connect_retry_interval", &c.initial_redis_connect_retry_interval);
    opt_int(L, "max_peer_discovery_retries", &c.max_peer_discovery_retries);
    opt_number(L, "initial_peer_discovery_retry_interval",
               &c.initial_peer_discovery_retry_interval);
    opt_number(L, "max_peer_discovery_retry_interval", &c.max_peer_discovery_retry_interval);
    opt_number(L, "heartbeat_interval", &c.heartbeat_interval);
    opt_number(L, "heartbeat_expiry", &c.heartbeat_expiry);
    opt_number(L, "peer_refresh_interval", &c.peer_refresh_interval);
    opt_size(L, "max_buffered_messages", &c.max_buffered_messages);
    opt_size(L, "max_sessions", &c.max_sessions);
    opt_number(L, "linger", &c.linger);
    double st = c.send_timeout;
    if (lua_getfield(L, 1, "send_timeout") == LUA_TBOOLEAN && !lua_toboolean(L, -1)) st = -1;
    lua_pop(L, 1);
    if (st >= 0) opt_number(L, "send_timeout", &st);
    c.send_timeout = st;
    opt_int(L, "send_hwm", &c.send_hwm);
    opt_int(L, "recv_hwm", &c.recv_hwm);
    double mms = (double)c.max_message_size;
    opt_number(L, "max_message_size", &mms);
    c.max_message_size = (long long)mms;

    c.expected = opt_type_counts(L, "expected_peers", &c.n_expected);
    opt_rejoin(L, &c);
    c.take_over_name = opt_bool(L, "take_over_name");

    lproxy *lp = lua_newuserdatauv(L, sizeof *lp, 0);
    memset(lp, 0, sizeof *lp);
    buf_init(&lp->scratch);
    buf_init(&lp->payload.bytes);
    luaL_setmetatable(L, PROXY_TYPE);
    signals_watch(L, leave_on_signal, lp);
    char err[ERRLEN];
    int stopped;
    proxy *p = proxy_open(&c, &stopped, err, sizeof err);
    if (!p) {
        if (stopped) signals_act();
        signals_unwatch(lp);
        return luaL_error(L, "maro.Proxy: %s", err);
    }
    lp->name = strdup(proxy_name(p));
    lp->group = strdup(proxy_group(p));
    lp->type = strdup(proxy_type(p));
    lp->p = p;
    if (!lp->name || !lp->group || !lp->type) return luaL_error(L, "maro.Proxy: out of memory");
    set_own_metatable(L, lp);
    return 1;
}

/* debug_raw_send(address, {frame, ...}): for tests that play a stranger
 * sending arbitrary frames to a proxy's receiving address. */
static int l_debug_raw_send(lua_State *L) {
    const char *address = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = (int)luaL_len(L, 2);
    if (n < 1 || n > 16) return luaL_argerror(L, 2, "between 1 and 16 frames");
    const char *frames[16];
    size_t sizes[16];
    for (int i = 0; i < n; i++) {
        lua_geti(L, 2, i + 1);
        frames[i] = luaL_checklstring(L, -1, &sizes[i]); /* alive in the table */
        lua_pop(L, 1);
    }
    char err[ERRLEN];
    if (zmqdrv_debug_send(address, frames, sizes, n, err, sizeof err) != 0)
        return luaL_error(L, "debug_raw_send: %s", err);
    return 0;
}

void proxy_register(lua_State *L) {
    if (luaL_newmetatable(L, PROXY_TYPE)) {
        /* What every proxy's own metatable starts from (set_own_metatable);
         * a proxy still joining has this one. */
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushboolean(L, 1);
        lua_rawsetp(L, -2, &proxy_mark);
        static const luaL_Reg methods[] = {
            {"isend", l_isend},           {"send", l_send},
            {"iscatter", l_iscatter},     {"scatter", l_scatter},
            {"ibroadcast", l_ibroadcast}, {"broadcast", l_broadcast},
            {"receive", l_receive},       {"receive_once", l_receive_once},
            {"receive_by_id", l_receive_by_id}, {"reply", l_reply},
            {"forward", l_forward},       {"session_stage", l_session_stage},
            {"close", l_close},           {"watch_fd", l_watch_fd},
            {"unwatch_fd", l_unwatch_fd}, {NULL, NULL}};
        luaL_newlibtable(L, methods);
        luaL_getmetatable(L, MESSAGE_TYPE); /* message_register ran before */
        luaL_setfuncs(L, methods, 1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &proxy_methods_key);
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, l_fields);
        lua_setfield(L, -2, "__index");
        lua_rawsetp(L, LUA_REGISTRYINDEX, &proxy_fields_key);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "Proxy");
    lua_pushcfunction(L, l_debug_raw_send);
    lua_setfield(L, -2, "debug_raw_send");
    hub_register(L);
}
