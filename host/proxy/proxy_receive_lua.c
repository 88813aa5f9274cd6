/* proxy_receive_lua.c: the receiving methods of maro.Proxy: receive,
 * receive_once, receive_values, receive_by_id, and the wait for session
 * ids that send, scatter and broadcast share. */
#include <string.h>

#include "base/clock.h"
#include "base/repeated.h"
#include "proxy/proxy_lua_impl.h"
#include "wire/payload.h"

void proxy_lua_push_message(lua_State *L, rx_item *it, int meta) {
    message_push_received(L, &it->h, it->payload, it->payload_len, it->owner, meta);
    rx_item_free(it);
}

/* ---- one message at a time ---------------------------------------------- */

/* What a receive gives for a message: pushes it, returns how many values. */
typedef int (*push_fn)(lua_State *L, const proxy_arrival *m, int meta);

static int push_as_message(lua_State *L, const proxy_arrival *m, int meta) {
    message_push_received(L, m->h, m->payload, m->payload_len, m->owner, meta);
    return 1;
}

/* Upvalues of values_step: the last tag and source it pushed, and what
 * their bytes are (base/repeated.h). */
#define UP_LAST_TAG lua_upvalueindex(3)
#define UP_LAST_SOURCE lua_upvalueindex(4)
#define UP_LAST_BYTES lua_upvalueindex(5) /* repeated[2]: the tag's, the source's */

/* tag, payload, source, session_id: what a loop usually reads, without a
 * Message; called by values_step only. */
static int push_as_values(lua_State *L, const proxy_arrival *m, int meta) {
    char err[512];
    (void)meta;
    repeated *last = lua_touserdata(L, UP_LAST_BYTES);
    repeated_push(L, &last[0], m->h->tag.ptr, m->h->tag.len, UP_LAST_TAG);
    if (payload_decode(L, m->payload, m->payload_len, err, sizeof err) != 0)
        return luaL_error(L, "proxy:receive_values: %s", err); /* checked on arrival */
    repeated_push(L, &last[1], m->h->source.ptr, m->h->source.len, UP_LAST_SOURCE);
    lua_pushlstring(L, m->h->session_id.ptr, m->h->session_id.len);
    return 4;
}

typedef struct first {
    lua_State *L;
    push_fn push;
    int meta, pushed;
} first;

static int take_first(void *ctx, const proxy_arrival *m) {
    first *f = ctx;
    if (f->pushed) return 0;
    f->pushed = f->push(f->L, m, f->meta);
    return 1;
}

static int got_first(void *ctx) { return ((first *)ctx)->pushed != 0; }

/* Pushes the oldest message within timeout seconds (< 0: forever) as push
 * does, taken from the buffer or as it arrives; returns how many values it
 * pushed (0: none came). */
static int next_message(lua_State *L, proxy *p, double timeout, const char *method, push_fn push,
                        int meta) {
    rx_item *it = proxy_take_buffered(p, NULL, NULL);
    if (it) {
        proxy_arrival m = {&it->h, it->payload, it->payload_len, it->owner};
        int n = push(L, &m, meta);
        rx_item_free(it);
        return n;
    }
    first f = {L, push, meta, 0};
    proxy_wait_spec w = {.deadline = timeout == 0  ? PROXY_NO_WAIT
                                     : timeout < 0 ? -1
                                                   : clock_now() + timeout,
                         .take = take_first, .done = got_first, .ctx = &f, .watched = 1};
    if (proxy_wait(p, &w) == PROXY_INTERRUPTED && !f.pushed) proxy_lua_interrupted(L, method);
    return f.pushed;
}

static double check_timeout(lua_State *L, int idx, const char *method) {
    double deadline = proxy_lua_deadline(L, idx, method);
    return deadline < 0 ? -1 : lua_tonumber(L, idx);
}

static int l_receive_once(lua_State *L) {
    proxy *p = proxy_lua_open(L, "receive_once");
    double timeout = check_timeout(L, 2, "receive_once");
    if (!next_message(L, p, timeout, "receive_once", push_as_message, UP_MSG_META))
        lua_pushnil(L);
    return 1;
}

static int receive_step(lua_State *L) {
    lproxy *lp = lua_touserdata(L, lua_upvalueindex(1));
    if (!lp->p) return 0; /* closed inside the loop: the loop ends */
    double timeout = lua_isnil(L, lua_upvalueindex(2)) ? -1 : lua_tonumber(L, lua_upvalueindex(2));
    return next_message(L, lp->p, timeout, "receive", push_as_message, lua_upvalueindex(3));
}

static int l_receive(lua_State *L) {
    proxy_lua_open(L, "receive");
    check_timeout(L, 2, "receive");
    lua_settop(L, 2);
    lua_pushvalue(L, UP_MSG_META);
    lua_pushcclosure(L, receive_step, 3); /* the proxy, the timeout, the Message metatable */
    return 1;
}

/* for tag, payload, source, session_id in proxy:receive_values(timeout):
 * the fields a loop usually reads, without making a Message. */
static int values_step(lua_State *L) {
    lproxy *lp = lua_touserdata(L, lua_upvalueindex(1));
    if (!lp->p) return 0;
    double timeout = lua_isnil(L, lua_upvalueindex(2)) ? -1 : lua_tonumber(L, lua_upvalueindex(2));
    return next_message(L, lp->p, timeout, "receive_values", push_as_values, 0);
}

static int l_receive_values(lua_State *L) {
    proxy_lua_open(L, "receive_values");
    check_timeout(L, 2, "receive_values");
    lua_settop(L, 4); /* the last tag and source received, nil for now */
    memset(lua_newuserdatauv(L, 2 * sizeof(repeated), 0), 0, 2 * sizeof(repeated));
    lua_pushcclosure(L, values_step, 5);
    return 1;
}

/* ---- waiting for session ids --------------------------------------------- */

typedef struct id_wait {
    lua_State *L;
    proxy *p;
    int counts;  /* stack index of {session_id = replies still wanted} */
    int lost;    /* {session_id = replies that will not come} */
    int replies; /* the list of replies so far */
    int last_id; /* the last session id matched, as a string (base/repeated.h) */
    lua_Integer remaining, got;
    unsigned long departures;
    int meta;
    repeated last_id_bytes; /* what last_id holds */
} id_wait;

/* The session id on top is the key; count_of leaves it there, set_count
 * pops it. Keys are strings already made where possible: making a 36-byte
 * string again hashes every byte, and a broadcast to 32 peers did that 150
 * times. */
static lua_Integer count_of(lua_State *L, int t) {
    lua_pushvalue(L, -1);
    lua_rawget(L, t);
    lua_Integer c = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return c;
}

static void set_count(lua_State *L, int t, lua_Integer c) {
    lua_pushinteger(L, c);
    lua_rawset(L, t);
}

static int match_ids(void *ctx, const wire_header *h) {
    id_wait *w = ctx;
    lua_State *L = w->L;
    repeated_push(L, &w->last_id_bytes, h->session_id.ptr, h->session_id.len, w->last_id);
    lua_Integer c = count_of(L, w->counts);
    if (c <= 0) {
        lua_pop(L, 1);
        return 0;
    }
    set_count(L, w->counts, c - 1);
    w->remaining--;
    return 1;
}

static int take_ids(void *ctx, const proxy_arrival *m) {
    id_wait *w = ctx;
    if (!match_ids(w, m->h)) return 0;
    push_as_message(w->L, m, w->meta);
    lua_rawseti(w->L, w->replies, ++w->got);
    return 1;
}

/* A peer that owed replies left for good: those replies will not come. */
static void give_up_departed(id_wait *w) {
    unsigned long d = proxy_departures(w->p);
    if (d == w->departures) return;
    w->departures = d;
    lua_State *L = w->L;
    lua_pushnil(L);
    while (lua_next(L, w->counts)) {
        lua_Integer c = lua_tointeger(L, -1);
        size_t len;
        const char *id = lua_tolstring(L, -2, &len);
        int possible = c > 0 ? proxy_session_possible(w->p, (wire_slice){id, len}) : -1;
        if (possible >= 0 && possible < c) {
            lua_pushvalue(L, -2);
            lua_pushinteger(L, possible);
            lua_rawset(L, w->counts); /* an existing key: the traversal may go on */
            lua_pushvalue(L, -2);
            set_count(L, w->lost, count_of(L, w->lost) + c - possible);
            w->remaining -= c - possible;
        }
        lua_pop(L, 1);
    }
}

static int ids_done(void *ctx) {
    id_wait *w = ctx;
    give_up_departed(w);
    return w->remaining <= 0;
}

int proxy_lua_wait_for_ids(lua_State *L, proxy *p, int ids, double deadline, const char *method) {
    ids = lua_absindex(L, ids);
    if (!lua_istable(L, ids))
        return proxy_lua_raise(L, "proxy:%s: the session ids must be a list of strings, got %s",
                               method, luaL_typename(L, ids));
    lua_Integer n = (lua_Integer)lua_rawlen(L, ids);
    lua_newtable(L);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushnil(L);
    int top = lua_gettop(L);
    id_wait w = {L, p, top - 3, top - 2, top - 1, top, 0, 0, (unsigned long)-1,
                 UP_MSG_META, {NULL, 0}};
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, ids, i) != LUA_TSTRING)
            return proxy_lua_raise(L, "proxy:%s: ids[%d] must be a session id (a string), got %s",
                                   method, (int)i, luaL_typename(L, -1));
        set_count(L, w.counts, count_of(L, w.counts) + 1);
        w.remaining++;
    }
    rx_item *it;
    while (w.remaining > 0 && (it = proxy_take_buffered(p, match_ids, &w))) {
        proxy_lua_push_message(L, it, UP_MSG_META);
        lua_rawseti(L, w.replies, ++w.got);
    }
    give_up_departed(&w);
    if (w.remaining > 0) {
        proxy_wait_spec spec = {.deadline = deadline, .take = take_ids, .done = ids_done,
                                .ctx = &w, .watched = 1};
        if (proxy_wait(p, &spec) == PROXY_INTERRUPTED) return proxy_lua_interrupted(L, method);
    }
    /* pending: every id still wanted or given up, as often as listed */
    lua_newtable(L);
    lua_Integer k = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, ids, i);
        int t = count_of(L, w.counts) > 0 ? w.counts : count_of(L, w.lost) > 0 ? w.lost : 0;
        if (t) {
            lua_pushvalue(L, -1);
            set_count(L, t, count_of(L, t) - 1);
            lua_rawseti(L, -2, ++k);
        } else {
            lua_pop(L, 1);
        }
    }
    /* the replies and the pending ids stay */
    lua_remove(L, w.last_id);
    lua_remove(L, w.counts);
    lua_remove(L, w.counts); /* the lost table moved down */
    return 2;
}

static int l_receive_by_id(lua_State *L) {
    proxy *p = proxy_lua_open(L, "receive_by_id");
    double deadline = proxy_lua_deadline(L, 3, "receive_by_id");
    if (lua_type(L, 2) == LUA_TSTRING) { /* one id alone is fine too */
        lua_createtable(L, 1, 0);
        lua_pushvalue(L, 2);
        lua_rawseti(L, -2, 1);
        lua_replace(L, 2);
    }
    return proxy_lua_wait_for_ids(L, p, 2, deadline, "receive_by_id");
}

static int l_session_stage(lua_State *L) {
    proxy *p = proxy_lua_open(L, "session_stage");
    wire_slice id;
    if (lua_type(L, 2) != LUA_TSTRING)
        return proxy_lua_raise(L, "proxy:session_stage: the session id must be a string, got %s",
                               luaL_typename(L, 2));
    id.ptr = lua_tolstring(L, 2, &id.len);
    const char *name = wire_session_stage_name(proxy_session_stage(p, id));
    if (name) lua_pushstring(L, name);
    else lua_pushnil(L);
    return 1;
}

const luaL_Reg proxy_receive_methods[] = {{"receive", l_receive},
                                          {"receive_once", l_receive_once},
                                          {"receive_values", l_receive_values},
                                          {"receive_by_id", l_receive_by_id},
                                          {"session_stage", l_session_stage},
                                          {NULL, NULL}};
