/* events_parse.c: the event language (docs/events.md) -> events_expr trees.
 *
 *   unit        "source:tag:amount"   source: name prefix or "*"; tag: exact or "*";
 *                                     amount: N >= 1, or P% with 1 <= P <= 100
 *   combination {e1, e2, ..., OP}     OP: "AND" "&&" "OR" "||"; ei: unit or combination
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/register_table.h"

/* ---- units, in plain C ------------------------------------------------- */

static int is_digits(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* Parses the amount part; 0 on success. */
static int parse_amount(const char *a, size_t n, events_expr *e, char *err, size_t errlen) {
    const char *hint = "the amount must be a positive integer or a percentage 1%..100%";
    int pct = n > 0 && a[n - 1] == '%';
    size_t digits = pct ? n - 1 : n;
    if (n == 0) {
        snprintf(err, errlen, "the amount is empty (%s)", hint);
        return -1;
    }
    if (!is_digits(a, digits)) {
        snprintf(err, errlen, "%s, got \"%.*s\"", hint, (int)n, a);
        return -1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < digits; i++) {
        v = v * 10 + (uint64_t)(a[i] - '0');
        if (v > EVENTS_MAX_AMOUNT) break;
    }
    if (pct && (v < 1 || v > 100)) {
        snprintf(err, errlen, "a percentage must be 1%%..100%%, got \"%.*s\"", (int)n, a);
        return -1;
    }
    if (v < 1) {
        snprintf(err, errlen, "%s, got \"%.*s\"", hint, (int)n, a);
        return -1;
    }
    if (v > EVENTS_MAX_AMOUNT) {
        snprintf(err, errlen, "the amount \"%.*s\" is larger than %u", (int)n, a,
                 EVENTS_MAX_AMOUNT);
        return -1;
    }
    e->percent = pct;
    e->amount = (uint32_t)v;
    return 0;
}

/* "*" alone is the wildcard; a "*" inside a name is refused rather than
 * silently taken literally (a source is a prefix already). */
static int parse_name(const char *what, const char *s, size_t n, int *any, char *err,
                      size_t errlen) {
    if (n == 0) {
        snprintf(err, errlen, "the %s is empty (write \"*\" for any %s)", what, what);
        return -1;
    }
    if (n > WIRE_MAX_NAME) {
        snprintf(err, errlen, "the %s is %zu bytes long; names have at most %d", what, n,
                 WIRE_MAX_NAME);
        return -1;
    }
    *any = n == 1 && s[0] == '*';
    if (!*any && memchr(s, '*', n)) {
        snprintf(err, errlen,
                 "the %s \"%.*s\" contains \"*\": \"*\" stands alone for any %s%s", what,
                 (int)n, s, what,
                 what[0] == 's' ? " (a source already matches every name it prefixes)" : "");
        return -1;
    }
    return 0;
}

events_expr *events_parse_unit(const char *s, size_t len, char *err, size_t errlen) {
    const char *c1 = memchr(s, ':', len);
    const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - s)) : NULL;
    const char *c3 = c2 ? memchr(c2 + 1, ':', len - (size_t)(c2 + 1 - s)) : NULL;
    if (!c2 || c3) {
        size_t parts = 1;
        for (size_t i = 0; i < len; i++) parts += s[i] == ':';
        snprintf(err, errlen,
                 "a unit event has three parts \"source:tag:amount\" separated by ':', got %zu",
                 parts);
        return NULL;
    }
    events_expr *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->op = EVENTS_UNIT;
    e->text = malloc(len + 1);
    if (!e->text) {
        free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(e->text, s, len);
    e->text[len] = '\0';
    size_t src_len = (size_t)(c1 - s), tag_len = (size_t)(c2 - c1 - 1);
    if (parse_name("source", s, src_len, &e->source_any, err, errlen) != 0 ||
        parse_name("tag", c1 + 1, tag_len, &e->tag_any, err, errlen) != 0 ||
        parse_amount(c2 + 1, len - (size_t)(c2 + 1 - s), e, err, errlen) != 0) {
        events_expr_free(e);
        return NULL;
    }
    e->source = e->text;
    e->source_len = e->source_any ? 0 : src_len;
    e->tag = e->text + src_len + 1;
    e->tag_len = tag_len;
    return e;
}

int events_parse_op(const char *s, size_t len) {
    if ((len == 3 && memcmp(s, "AND", 3) == 0) || (len == 2 && memcmp(s, "&&", 2) == 0))
        return EVENTS_AND;
    if ((len == 2 && memcmp(s, "OR", 2) == 0) || (len == 2 && memcmp(s, "||", 2) == 0))
        return EVENTS_OR;
    return -1;
}

events_expr *events_expr_combine(int op, events_expr **kids, size_t n) {
    events_expr *e = calloc(1, sizeof *e);
    events_expr **copy = n ? malloc(n * sizeof *copy) : NULL;
    if (!e || (n && !copy)) {
        free(e);
        free(copy);
        for (size_t i = 0; i < n; i++) events_expr_free(kids[i]);
        return NULL;
    }
    if (n) memcpy(copy, kids, n * sizeof *copy);
    e->op = op;
    e->kids = copy;
    e->nkids = n;
    return e;
}

void events_expr_free(events_expr *e) {
    if (!e) return;
    for (size_t i = 0; i < e->nkids; i++) events_expr_free(e->kids[i]);
    free(e->kids);
    free(e->text);
    free(e);
}

/* ---- rendering, for error messages and warnings -------------------------- */

static void render_string(const char *s, size_t n, buf *out) {
    buf_append(out, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            buf_append(out, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            int k = snprintf(esc, sizeof esc, "\\%d", c);
            buf_append(out, esc, (size_t)k);
        } else {
            buf_append(out, &s[i], 1);
        }
    }
    buf_append(out, "\"", 1);
}

static void render(lua_State *L, int idx, buf *out, size_t limit, int depth) {
    if (out->len > limit) return;
    int t = lua_type(L, idx);
    if (t == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        render_string(s, n < limit ? n : limit, out);
    } else if (t == LUA_TNUMBER || t == LUA_TBOOLEAN || t == LUA_TNIL) {
        const char *s = t == LUA_TNIL ? "nil" : t == LUA_TBOOLEAN
                                                    ? (lua_toboolean(L, idx) ? "true" : "false")
                                                    : NULL;
        if (s) {
            buf_append(out, s, strlen(s));
        } else {
            char num[64];
            int k = lua_isinteger(L, idx)
                        ? snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx))
                        : snprintf(num, sizeof num, "%.14g", (double)lua_tonumber(L, idx));
            buf_append(out, num, (size_t)k);
        }
    } else if (t == LUA_TTABLE && depth < EVENTS_MAX_DEPTH && lua_checkstack(L, 2)) {
        idx = lua_absindex(L, idx);
        lua_Unsigned n = lua_rawlen(L, idx);
        buf_append(out, "{", 1);
        for (lua_Unsigned i = 1; i <= n && out->len <= limit; i++) {
            if (i > 1) buf_append(out, ", ", 2);
            lua_rawgeti(L, idx, (lua_Integer)i);
            render(L, -1, out, limit, depth + 1);
            lua_pop(L, 1);
        }
        buf_append(out, "}", 1);
    } else {
        const char *name = t == LUA_TTABLE ? "{...}" : lua_typename(L, t);
        buf_append(out, "<", t == LUA_TTABLE ? 0 : 1);
        buf_append(out, name, strlen(name));
        buf_append(out, ">", t == LUA_TTABLE ? 0 : 1);
    }
    if (out->len > limit) {
        out->len = limit;
        buf_append(out, "...", 3);
    }
}

void events_render(lua_State *L, int idx, buf *out, size_t limit) {
    render(L, idx, out, limit, 0);
}

/* ---- events as Lua values ------------------------------------------------ */

#define RENDER_LIMIT 300

/* Pushes "bad event <whole event>: <reason>" and returns NULL. */
static events_expr *syntax_error(lua_State *L, int event_idx, const char *reason) {
    buf b;
    buf_init(&b);
    buf_append(&b, "bad event ", 10);
    render(L, event_idx, &b, RENDER_LIMIT, 0);
    buf_append(&b, ": ", 2);
    buf_append(&b, reason, strlen(reason));
    if (b.failed) lua_pushstring(L, reason);
    else lua_pushlstring(L, b.data, b.len);
    buf_free(&b);
    return NULL;
}

static const char *quote(lua_State *L, int idx, char *tmp, size_t tmplen) {
    buf b;
    buf_init(&b);
    render(L, idx, &b, 120, 0);
    snprintf(tmp, tmplen, "%.*s", b.failed ? 0 : (int)b.len, b.failed ? "" : b.data);
    buf_free(&b);
    return tmp;
}

static events_expr *parse_value(lua_State *L, int event_idx, int idx, int depth);

/* Parses the combination table at idx. */
static events_expr *parse_table(lua_State *L, int event_idx, int idx, int depth) {
    char reason[512], q[160];
    static const char *ops = "\"AND\", \"OR\", \"&&\" or \"||\"";
    if (depth > EVENTS_MAX_DEPTH) {
        snprintf(reason, sizeof reason, "combinations nest deeper than %d levels",
                 EVENTS_MAX_DEPTH);
        return syntax_error(L, event_idx, reason);
    }
    if (!lua_checkstack(L, 4)) return syntax_error(L, event_idx, "nested too deeply");
    lua_Unsigned n = lua_rawlen(L, idx);
    /* A combination is a plain list: other keys are most likely a mistake. */
    lua_Unsigned keys = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
            (lua_Unsigned)lua_tointeger(L, -1) > n) {
            snprintf(reason, sizeof reason,
                     "a combination is a list {event, ..., operator}; it has the key %s",
                     quote(L, -1, q, sizeof q));
            lua_pop(L, 1);
            return syntax_error(L, event_idx, reason);
        }
        keys++;
    }
    if (n == 0) return syntax_error(L, event_idx, "an empty combination");
    if (keys != n)
        return syntax_error(L, event_idx, "a combination is a list without holes (nil)");

    lua_rawgeti(L, idx, (lua_Integer)n);
    int op = -1;
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        op = events_parse_op(s, len);
        if (op < 0 && !memchr(s, ':', len)) {
            snprintf(reason, sizeof reason, "unknown operator %s (expected %s)",
                     quote(L, -1, q, sizeof q), ops);
            lua_pop(L, 1);
            return syntax_error(L, event_idx, reason);
        }
    }
    if (op < 0) {
        lua_pop(L, 1);
        for (lua_Unsigned i = 1; i < n; i++) { /* an operator written elsewhere? */
            lua_rawgeti(L, idx, (lua_Integer)i);
            size_t len;
            const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
            if (s && events_parse_op(s, len) >= 0) {
                snprintf(reason, sizeof reason,
                         "misplaced operator \"%s\" at element %llu%s%s: the operator comes last",
                         s, (unsigned long long)i, idx == event_idx ? "" : " of ",
                         idx == event_idx ? "" : quote(L, idx, q, sizeof q));
                lua_pop(L, 1);
                return syntax_error(L, event_idx, reason);
            }
            lua_pop(L, 1);
        }
        lua_rawgeti(L, idx, (lua_Integer)n);
        snprintf(reason, sizeof reason,
                 "the operator is missing: the last element must be %s, got %s", ops,
                 quote(L, -1, q, sizeof q));
        lua_pop(L, 1);
        return syntax_error(L, event_idx, reason);
    }
    lua_pop(L, 1);
    if (n == 1) {
        snprintf(reason, sizeof reason, "an empty combination: %s combines no events",
                 quote(L, idx, q, sizeof q));
        return syntax_error(L, event_idx, reason);
    }

    size_t nk = (size_t)n - 1;
    events_expr **kids = calloc(nk, sizeof *kids);
    if (!kids) return syntax_error(L, event_idx, "out of memory");
    for (size_t i = 0; i < nk; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        int t = lua_type(L, -1);
        const char *s = NULL;
        size_t len = 0;
        if (t == LUA_TSTRING) s = lua_tolstring(L, -1, &len);
        if (s && events_parse_op(s, len) >= 0) {
            snprintf(reason, sizeof reason,
                     "misplaced operator \"%s\" at element %zu%s%s: the operator comes last", s,
                     i + 1, idx == event_idx ? "" : " of ",
                     idx == event_idx ? "" : quote(L, idx, q, sizeof q));
            kids[i] = syntax_error(L, event_idx, reason);
        } else if (t == LUA_TSTRING || t == LUA_TTABLE) {
            kids[i] = parse_value(L, event_idx, lua_gettop(L), depth + 1);
        } else {
            snprintf(reason, sizeof reason,
                     "element %zu%s%s is a %s; expected a unit event \"source:tag:amount\" or "
                     "a nested combination table",
                     i + 1, idx == event_idx ? "" : " of ",
                     idx == event_idx ? "" : quote(L, idx, q, sizeof q), lua_typename(L, t));
            kids[i] = syntax_error(L, event_idx, reason);
        }
        if (!kids[i]) { /* the message is on top, above the element */
            lua_remove(L, -2);
            for (size_t j = 0; j < i; j++) events_expr_free(kids[j]);
            free(kids);
            return NULL;
        }
        lua_pop(L, 1);
    }
    events_expr *e = events_expr_combine(op, kids, nk);
    free(kids);
    return e ? e : syntax_error(L, event_idx, "out of memory");
}

static events_expr *parse_value(lua_State *L, int event_idx, int idx, int depth) {
    int t = lua_type(L, idx);
    if (t == LUA_TTABLE) return parse_table(L, event_idx, idx, depth);
    if (t != LUA_TSTRING) {
        char reason[160];
        snprintf(reason, sizeof reason,
                 "an event is a string \"source:tag:amount\" or a combination table, got a %s",
                 lua_typename(L, t));
        return syntax_error(L, event_idx, reason);
    }
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    char err[320], reason[512], q[160];
    events_expr *e = events_parse_unit(s, len, err, sizeof err);
    if (e) return e;
    if (idx == event_idx) return syntax_error(L, event_idx, err);
    snprintf(reason, sizeof reason, "unit %s: %s", quote(L, idx, q, sizeof q), err);
    return syntax_error(L, event_idx, reason);
}

events_expr *events_parse_lua(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    return parse_value(L, idx, idx, 1);
}

int events_expr_equal(const events_expr *a, const events_expr *b) {
    if (a->op != b->op) return 0;
    if (a->op == EVENTS_UNIT) return strcmp(a->text, b->text) == 0;
    if (a->nkids != b->nkids) return 0;
    for (size_t i = 0; i < a->nkids; i++)
        if (!events_expr_equal(a->kids[i], b->kids[i])) return 0;
    return 1;
}
