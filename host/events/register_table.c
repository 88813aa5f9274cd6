/* register_table.c: maro.RegisterTable, the Lua binding of the matcher.
 *
 *   local rt = maro.RegisterTable(peers [, {max_buffered = n}])
 *   rt:register_event_handler(event, handler)   -> the event's number (1, 2, ...)
 *   rt:push(msg)                                 -> how many events kept it
 *   rt:get()                                     -> { {handler, messages}, ... }
 *   rt:clear(); rt:set_peers([peers]); rt:stats(); rt:close()
 *   rt:replace({ {event, handler}, ... })        -> what was kept, added, removed (reloads)
 *   rt:events()                                  -> the events as strings, in order
 *
 * The messages live in the userdata's first user value, a table from slot
 * id to message (events.h hands out slot ids), so that a message kept by
 * several events is referenced once and nothing goes to the registry per
 * message. Every entry point checks its arguments first and raises a
 * luaL_argerror that names the argument, what it must be and what it was
 * (events_args.c); a refused call changes nothing. docs/events.md is the
 * user's guide.
 */
#include "events/register_table.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "message/message.h"

/* User values of the userdata. */
#define UV_STORE 1    /* slot id -> message */
#define UV_HANDLERS 2 /* event number -> handler */
#define UV_PEERS 3    /* the peers source */
#define UV_COUNT 3

/* Stack index of the store during push and get: release() needs it. */
#define STORE_IDX 3

#define LABEL_LIMIT 200

typedef struct rt {
    events_table *t; /* NULL once closed */
    events_peers_source peers;
} rt;

/* The methods carry the RegisterTable and Message metatables as upvalues:
 * comparing metatables is cheaper than luaL_checkudata's registry lookup by
 * name, which matters on push. Errors still come from luaL_checkudata. */
#define UP_RT_META lua_upvalueindex(1)
#define UP_MSG_META lua_upvalueindex(2)

static int has_meta(lua_State *L, int idx, int meta) {
    if (!lua_getmetatable(L, idx)) return 0;
    int ok = lua_rawequal(L, -1, meta);
    lua_pop(L, 1);
    return ok;
}

static rt *check_rt(lua_State *L) {
    rt *r = has_meta(L, 1, UP_RT_META) ? lua_touserdata(L, 1)
                                        : luaL_checkudata(L, 1, REGISTER_TABLE_TYPE);
    if (!r->t) luaL_error(L, "RegisterTable is closed");
    return r;
}

static void release_slot(void *ctx, uint32_t slot) {
    lua_State *L = ctx;
    lua_pushnil(L);
    lua_rawseti(L, STORE_IDX, (lua_Integer)slot);
}

/* ---- peers ---------------------------------------------------------------- */

/* Re-reads the peers source (events_peers_refresh) when percentages need
 * it. Leaves the stack as it found it. */
static void refresh_peers(lua_State *L, rt *r) {
    if (events_table_percent_units(r->t) == 0) return;
    lua_getiuservalue(L, 1, UV_PEERS);
    events_peers_refresh(L, &r->peers, -1, r->t);
    lua_pop(L, 1);
}

/* Takes the peers source at idx, given as argument arg, as the table's. */
static void set_source(lua_State *L, rt *r, int ud, int idx, int arg) {
    int kind = events_peers_kind(L, idx, arg);
    lua_pushvalue(L, idx);
    lua_setiuservalue(L, ud, UV_PEERS);
    r->peers = (events_peers_source){.kind = kind};
}

/* ---- methods -------------------------------------------------------------- */

static int is_callable(lua_State *L, int idx) {
    if (lua_isfunction(L, idx)) return 1;
    int ok = luaL_getmetafield(L, idx, "__call") != LUA_TNIL;
    if (ok) lua_pop(L, 1);
    return ok;
}

#define HANDLER_EXPECTED "a function or a value with __call"

static int rt_register(lua_State *L) {
    rt *r = check_rt(L);
    events_no_more_args(L, 4, "register_event_handler", "2 arguments (event, handler)");
    if (lua_isnone(L, 2))
        events_bad_value(L, 2, 2, "event", "a string \"source:tag:amount\" or a combination table");
    lua_settop(L, 3);
    events_expr *x = events_parse_lua(L, 2);
    if (!x) return luaL_error(L, "%s", lua_tostring(L, -1));
    if (!is_callable(L, 3)) {
        events_expr_free(x);
        return events_bad_value(L, 3, 3, "the handler", HANDLER_EXPECTED);
    }
    buf label;
    buf_init(&label);
    events_render(L, 2, &label, LABEL_LIMIT);
    buf_append(&label, "", 1); /* NUL */
    size_t before = events_table_percent_units(r->t);
    long idx = events_table_add(r->t, x, label.failed ? "?" : label.data);
    buf_free(&label);
    if (idx < 0) return luaL_error(L, "register_event_handler: out of memory");
    lua_getiuservalue(L, 1, UV_HANDLERS);
    lua_pushvalue(L, 3);
    lua_rawseti(L, -2, (lua_Integer)idx + 1);
    lua_pop(L, 1);
    if (events_table_percent_units(r->t) > before && !r->peers.loaded) refresh_peers(L, r);
    lua_pushinteger(L, (lua_Integer)idx + 1);
    return 1;
}

static int rt_push(lua_State *L) {
    rt *r = check_rt(L);
    if (lua_gettop(L) > 2) events_no_more_args(L, 3, "push", "1 argument (a message)");
    const message *m = message_check(L, 2);
    const wire_header *h = message_header(m);
    lua_settop(L, 2);
    lua_getiuservalue(L, 1, UV_STORE); /* STORE_IDX */
    uint32_t slot;
    long n = events_table_push(r->t, h->source, h->tag, &slot, release_slot, L);
    if (n < 0) return luaL_error(L, "RegisterTable:push: out of memory");
    if (slot) {
        lua_pushvalue(L, 2);
        lua_rawseti(L, STORE_IDX, (lua_Integer)slot);
    }
    lua_pushinteger(L, n);
    return 1;
}

typedef struct fire_ctx {
    lua_State *L;
    lua_Integer n;
} fire_ctx;

/* Stack during get: 1 rt, 2 result, 3 store, 4 handlers. */
static void fire_one(void *ctx, uint32_t event, const uint32_t *slots, size_t n) {
    fire_ctx *c = ctx;
    lua_State *L = c->L;
    lua_createtable(L, 2, 0);
    lua_rawgeti(L, 4, (lua_Integer)event + 1);
    lua_rawseti(L, -2, 1);
    lua_createtable(L, (int)n, 0);
    lua_Integer k = 0;
    for (size_t i = 0; i < n; i++) {
        if (lua_rawgeti(L, STORE_IDX, (lua_Integer)slots[i]) == LUA_TNIL) lua_pop(L, 1);
        else lua_rawseti(L, -2, ++k);
    }
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, 2, ++c->n);
}

static void release_in_get(void *ctx, uint32_t slot) { release_slot(((fire_ctx *)ctx)->L, slot); }

static int rt_get(lua_State *L) {
    rt *r = check_rt(L);
    if (lua_gettop(L) > 1) events_no_more_args(L, 2, "get", "no arguments");
    lua_settop(L, 1);
    refresh_peers(L, r);
    size_t ready = events_table_ready(r->t);
    lua_createtable(L, ready < 1u << 20 ? (int)ready : 1 << 20, 0);
    lua_getiuservalue(L, 1, UV_STORE);
    lua_getiuservalue(L, 1, UV_HANDLERS);
    fire_ctx c = {L, 0};
    if (events_table_fire(r->t, fire_one, release_in_get, &c) < 0)
        return luaL_error(L, "RegisterTable:get: out of memory");
    lua_settop(L, 2);
    return 1;
}

static int rt_clear(lua_State *L) {
    rt *r = check_rt(L);
    events_no_more_args(L, 2, "clear", "no arguments");
    events_table_clear(r->t);
    lua_newtable(L);
    lua_setiuservalue(L, 1, UV_STORE);
    return 0;
}

static int rt_set_peers(lua_State *L) {
    rt *r = check_rt(L);
    events_no_more_args(L, 3, "set_peers", "at most 1 argument (peers)");
    if (lua_gettop(L) >= 2) set_source(L, r, 1, 2, 2);
    r->peers.loaded = 0;
    lua_settop(L, 1);
    refresh_peers(L, r);
    return 0;
}

static int rt_stats(lua_State *L) {
    rt *r = check_rt(L);
    events_no_more_args(L, 2, "stats", "no arguments");
    events_stats s;
    events_table_stats(r->t, &s);
    lua_createtable(L, 0, 9);
#define FIELD(name)                             \
    lua_pushinteger(L, (lua_Integer)s.name); \
    lua_setfield(L, -2, #name)
    FIELD(events);
    FIELD(units);
    FIELD(messages);
    FIELD(buffered);
    FIELD(peers);
    FIELD(pushed);
    FIELD(ignored);
    FIELD(fired);
    FIELD(dropped);
#undef FIELD
    return 1;
}

/* ---- replace: a new set of events, keeping what waits ----------------------- */

#define STAGING_TYPE "maro.RegisterTable.staging"

/* The table being built by replace, freed by the GC if an error ends replace early. */
static int staging_gc(lua_State *L) {
    events_table **n = luaL_checkudata(L, 1, STAGING_TYPE);
    events_table_free(*n);
    *n = NULL;
    return 0;
}

/* Stack during replace: 1 rt, 2 list, 3 old store. */
static int key_of(void *ctx, uint32_t slot, wire_slice *source, wire_slice *tag) {
    lua_State *L = ctx;
    int type = lua_rawgeti(L, 3, (lua_Integer)slot);
    const message *m = type == LUA_TUSERDATA ? lua_touserdata(L, -1) : NULL;
    lua_pop(L, 1); /* the store keeps it alive */
    if (!m) return -1;
    const wire_header *h = message_header(m);
    *source = h->source;
    *tag = h->tag;
    return 0;
}

/* Pushes the labels of t's events, as a list: with from, those that continue
 * an old event (want 1) or are new (want 0); else those whose continued[]
 * equals want. */
static void push_labels(lua_State *L, const events_table *t, const long *from,
                        const unsigned char *continued, int want) {
    lua_newtable(L);
    lua_Integer k = 0;
    for (size_t i = 0; events_table_label(t, i); i++) {
        int is = from ? (from[i] >= 0) == want : continued[i] == want;
        if (!is) continue;
        lua_pushstring(L, events_table_label(t, i));
        lua_rawseti(L, -2, ++k);
    }
}

/* rt:replace({ {event, handler}, ... }) -> {kept=, added=, removed=, rematched=, released=}
 * All or nothing: a bad entry raises and leaves the table as it was. */
static int rt_replace(lua_State *L) {
    rt *r = check_rt(L);
    events_no_more_args(L, 3, "replace", "1 argument (a list of {event, handler} pairs)");
    lua_Integer count = (lua_Integer)events_check_list(L, 2, 2, "the list",
                                                       "a list of {event, handler} pairs");
    lua_settop(L, 2);
    lua_getiuservalue(L, 1, UV_STORE); /* 3 */
    events_table **n = lua_newuserdatauv(L, sizeof *n, 0); /* 4 */
    *n = NULL;
    if (luaL_newmetatable(L, STAGING_TYPE)) {
        lua_pushcfunction(L, staging_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, 4);
    if (!(*n = events_table_new(0))) return luaL_error(L, "RegisterTable:replace: out of memory");
    lua_createtable(L, (int)count, 0); /* 5: handlers */
    for (lua_Integer i = 1; i <= count; i++) {
        char entry[48];
        snprintf(entry, sizeof entry, "entry %lld", (long long)i);
        lua_rawgeti(L, 2, i); /* 6 */
        if (events_check_list(L, 6, 2, entry, "a {event, handler} pair") > 2)
            events_argerror(L, 2, "%s must be a {event, handler} pair, got a list of %d", entry,
                            (int)lua_rawlen(L, 6));
        lua_rawgeti(L, 6, 1); /* 7 event */
        lua_rawgeti(L, 6, 2); /* 8 handler */
        if (!is_callable(L, 8)) {
            events_push_given(L, 8);
            return events_argerror(L, 2, "%s: the handler must be %s, got %s", entry,
                                   HANDLER_EXPECTED, lua_tostring(L, -1));
        }
        buf label;
        buf_init(&label);
        events_render(L, 7, &label, LABEL_LIMIT);
        buf_append(&label, "", 1);
        events_expr *x = events_parse_lua(L, 7);
        if (!x) {
            buf_free(&label);
            return luaL_error(L, "%s", lua_tostring(L, -1));
        }
        long idx = events_table_add(*n, x, label.failed ? "?" : label.data);
        buf_free(&label);
        if (idx < 0) return luaL_error(L, "RegisterTable:replace: out of memory");
        lua_rawseti(L, 5, (lua_Integer)idx + 1);
        lua_settop(L, 5);
    }

    events_stats old;
    events_table_stats(r->t, &old);
    size_t slots = events_table_slot_end(r->t);
    size_t nnew = (size_t)count;
    /* Scratch the GC frees: from[], map[], continued[]. */
    char *scratch = lua_newuserdatauv(L, nnew * sizeof(long) + slots * sizeof(uint32_t) +
                                             old.events + 1, 0); /* 6 */
    events_inherit inh = {.from = (long *)(void *)scratch,
                          .map = (uint32_t *)(void *)(scratch + nnew * sizeof(long)),
                          .continued = (unsigned char *)scratch + nnew * sizeof(long) +
                                       slots * sizeof(uint32_t)};
    if (events_table_inherit(*n, r->t, key_of, L, &inh) != 0)
        return luaL_error(L, "RegisterTable:replace: out of memory");

    lua_createtable(L, 0, 0); /* 7: the new store */
    for (size_t s = 1; s < slots; s++) {
        if (!inh.map[s]) continue;
        lua_rawgeti(L, 3, (lua_Integer)s);
        lua_rawseti(L, 7, (lua_Integer)inh.map[s]);
    }
    lua_createtable(L, 0, 5); /* 8: the summary */
    push_labels(L, *n, inh.from, NULL, 1);
    lua_setfield(L, 8, "kept");
    push_labels(L, *n, inh.from, NULL, 0);
    lua_setfield(L, 8, "added");
    push_labels(L, r->t, NULL, inh.continued, 0);
    lua_setfield(L, 8, "removed");
    lua_pushinteger(L, (lua_Integer)inh.rematched);
    lua_setfield(L, 8, "rematched");
    lua_pushinteger(L, (lua_Integer)inh.released);
    lua_setfield(L, 8, "released");

    /* commit: nothing below raises before the swap is whole */
    events_table *done = r->t;
    r->t = *n;
    *n = NULL;
    events_table_free(done);
    lua_pushvalue(L, 7);
    lua_setiuservalue(L, 1, UV_STORE);
    lua_pushvalue(L, 5);
    lua_setiuservalue(L, 1, UV_HANDLERS);
    lua_settop(L, 8);
    if (events_table_percent_units(r->t) > 0 && !r->peers.loaded) {
        lua_insert(L, 2); /* refresh_peers wants the table at 1 and leaves the rest */
        refresh_peers(L, r);
        lua_settop(L, 2);
    }
    return 1;
}

/* rt:events() -> the events as registered, in order, as strings. */
static int rt_events(lua_State *L) {
    rt *r = check_rt(L);
    events_no_more_args(L, 2, "events", "no arguments");
    lua_newtable(L);
    for (size_t i = 0; events_table_label(r->t, i); i++) {
        lua_pushstring(L, events_table_label(r->t, i));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* __gc, __close and close(): idempotent. */
static int rt_close(lua_State *L) {
    rt *r = luaL_checkudata(L, 1, REGISTER_TABLE_TYPE);
    if (r->t) {
        events_table_free(r->t);
        r->t = NULL;
        for (int i = 1; i <= UV_COUNT; i++) {
            lua_pushnil(L);
            lua_setiuservalue(L, 1, i);
        }
    }
    return 0;
}

static int rt_tostring(lua_State *L) {
    rt *r = luaL_checkudata(L, 1, REGISTER_TABLE_TYPE);
    if (!r->t) {
        lua_pushliteral(L, "RegisterTable(closed)");
        return 1;
    }
    events_stats s;
    events_table_stats(r->t, &s);
    lua_pushfstring(L, "RegisterTable(%d events, %d messages buffered)", (int)s.events,
                    (int)s.messages);
    return 1;
}

/* The options table at 2 (nil: the defaults): sets *max_buffered. */
static void read_options(lua_State *L, size_t *max_buffered) {
    static const char *range = "an integer 1..1000000000";
    if (lua_isnil(L, 2)) return;
    if (!lua_istable(L, 2)) events_bad_value(L, 2, 2, "options", "a table {max_buffered = n} or nil");
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "max_buffered") == 0)
            continue;
        if (lua_type(L, -1) == LUA_TSTRING)
            events_argerror(L, 2, "unknown option '%s' (options: max_buffered)", lua_tostring(L, -1));
        events_push_given(L, -1);
        events_argerror(L, 2, "unknown option: the key %s (options: max_buffered)",
                        lua_tostring(L, -1));
    }
    lua_getfield(L, 2, "max_buffered");
    if (!lua_isnil(L, -1)) {
        int ok = 0;
        /* lua_tointegerx takes a float only when it is integral (so not nan
         * or inf) and in range; a string is refused, not converted. */
        lua_Integer v = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &ok) : 0;
        if (!ok || v < 1 || v > (lua_Integer)EVENTS_MAX_AMOUNT)
            events_bad_value(L, 2, -1, "options.max_buffered", range);
        *max_buffered = (size_t)v;
    }
    lua_pop(L, 1);
}

/* maro.RegisterTable(peers [, options]) */
static int rt_new(lua_State *L) {
    events_no_more_args(L, 3, "RegisterTable", "at most 2 arguments (peers, options)");
    lua_settop(L, 2);
    size_t max_buffered = EVENTS_DEFAULT_MAX_BUFFERED;
    read_options(L, &max_buffered);
    events_peers_kind(L, 1, 1); /* raises before anything is made */
    rt *r = lua_newuserdatauv(L, sizeof *r, UV_COUNT);
    memset(r, 0, sizeof *r);
    luaL_setmetatable(L, REGISTER_TABLE_TYPE);
    int ud = lua_gettop(L);
    lua_newtable(L);
    lua_setiuservalue(L, ud, UV_STORE);
    lua_newtable(L);
    lua_setiuservalue(L, ud, UV_HANDLERS);
    set_source(L, r, ud, 1, 1);
    r->t = events_table_new(max_buffered);
    if (!r->t) return luaL_error(L, "RegisterTable: out of memory");
    return 1;
}

void events_register(lua_State *L) {
    if (luaL_newmetatable(L, REGISTER_TABLE_TYPE)) {
        static const luaL_Reg meta[] = {{"__gc", rt_close},
                                        {"__close", rt_close},
                                        {"__tostring", rt_tostring},
                                        {NULL, NULL}};
        static const luaL_Reg methods[] = {{"register_event_handler", rt_register},
                                           {"push", rt_push},
                                           {"get", rt_get},
                                           {"clear", rt_clear},
                                           {"set_peers", rt_set_peers},
                                           {"stats", rt_stats},
                                           {"replace", rt_replace},
                                           {"events", rt_events},
                                           {"close", rt_close},
                                           {NULL, NULL}};
        luaL_setfuncs(L, meta, 0);
        luaL_newlibtable(L, methods);
        lua_pushvalue(L, -2);
        luaL_getmetatable(L, MESSAGE_TYPE); /* message_register ran before */
        luaL_setfuncs(L, methods, 2);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, rt_new);
    lua_setfield(L, -2, "RegisterTable");
}
