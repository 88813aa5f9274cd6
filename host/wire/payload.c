#include "wire/payload.h"

#include <ctype.h>
#include <lauxlib.h>
#include <msgpack/pack.h>
#include <stdio.h>
#include <string.h>

#include "wire/mp_read.h"
#include "wire/utf8.h"

/* Where in the payload a value sits, for error messages. */
typedef struct path_step {
    enum { STEP_INDEX, STEP_KEY } kind;
    long long index;
    const char *key;
    size_t keylen;
} path_step;

/* Writes one step (".name", "[3]" or "[\"odd key\"]") and returns its length. */
static size_t format_step(char *out, size_t outlen, const path_step *s) {
    if (s->kind == STEP_INDEX) return (size_t)snprintf(out, outlen, "[%lld]", s->index);
    int ident = s->keylen > 0 && s->keylen <= 40 &&
                (isalpha((unsigned char)s->key[0]) || s->key[0] == '_');
    for (size_t j = 0; ident && j < s->keylen; j++)
        ident = isalnum((unsigned char)s->key[j]) || s->key[j] == '_';
    if (ident) return (size_t)snprintf(out, outlen, ".%.*s", (int)s->keylen, s->key);
    /* Quote printable bytes, escape the rest, and keep it short. */
    char q[64];
    size_t k = 0;
    for (size_t j = 0; j < s->keylen && k < sizeof q - 5; j++) {
        unsigned char c = (unsigned char)s->key[j];
        if (isprint(c) && c != '"' && c != '\\') q[k++] = (char)c;
        else k += (size_t)snprintf(q + k, sizeof q - k, "\\%u", c);
    }
    q[k] = '\0';
    return (size_t)snprintf(out, outlen, "[\"%s%s\"]", q, k >= sizeof q - 5 ? "..." : "");
}

/* A path too long for out keeps its first and last steps around "...", so
 * that both where the payload starts and where the error is stay readable. */
static void format_path(char *out, size_t outlen, const path_step *steps, int n) {
    char step[96];
    size_t total = strlen("payload");
    for (int i = 0; i < n; i++) total += format_step(step, sizeof step, &steps[i]);
    size_t used = (size_t)snprintf(out, outlen, "payload");
    int head = n, tail = n; /* steps [0, head) and [tail, n) are written */
    if (total >= outlen && outlen > used + 4) {
        size_t budget = (outlen - used - 4) / 2, len = 0;
        for (head = 0; head < n; head++) {
            size_t l = format_step(step, sizeof step, &steps[head]);
            if (len + l > budget) break;
            len += l;
        }
        len = 0;
        for (tail = n; tail > head; tail--) {
            size_t l = format_step(step, sizeof step, &steps[tail - 1]);
            if (len + l > budget) break;
            len += l;
        }
    }
    for (int i = 0; i < head && used < outlen; i++)
        used += format_step(out + used, outlen - used, &steps[i]);
    if (tail > head && used < outlen) used += (size_t)snprintf(out + used, outlen - used, "...");
    for (int i = tail; i < n && used < outlen; i++)
        used += format_step(out + used, outlen - used, &steps[i]);
}

/* ---- encoding ---------------------------------------------------------- */

typedef struct encoder {
    lua_State *L;
    msgpack_packer pk;
    buf *out;
    int depth;
    const void *open[WIRE_MAX_DEPTH + 1]; /* the tables being encoded, outermost first */
    path_step path[WIRE_MAX_DEPTH + 1];
    char *err;
    size_t errlen;
} encoder;

static int write_buf(void *data, const char *p, size_t n) { return buf_append(data, p, n); }

static int enc_fail(encoder *e, int steps, const char *fmt, const char *arg) {
    char where[256], what[300];
    format_path(where, sizeof where, e->path, steps);
    snprintf(what, sizeof what, fmt, arg);
    snprintf(e->err, e->errlen, "%s: %s", where, what);
    return -1;
}

/* Strings of 32 bytes or more have headers of the same size as str and as
 * bin (str8/bin8, str16/bin16, str32/bin32), so the body can be copied and
 * checked in one pass and the type byte written afterwards. */
static void enc_long_string(encoder *e, const char *s, size_t len) {
    size_t head = len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
    buf *out = e->out;
    if (out->cap - out->len < head + len && buf_grow(out, head + len) != 0) return;
    unsigned char *h = (unsigned char *)out->data + out->len;
    int text = utf8_copy_valid((char *)h + head, s, len);
    static const unsigned char types[2][3] = {{0xc4, 0xc5, 0xc6}, {0xd9, 0xda, 0xdb}};
    h[0] = types[text][head == 2 ? 0 : head == 3 ? 1 : 2];
    for (size_t i = head - 1; i >= 1; i--) h[i] = (unsigned char)(len >> (8 * (head - 1 - i)));
    out->len += head + len;
}

static void enc_string(encoder *e, const char *s, size_t len) {
    /* Text goes as str, so that peers in other languages get strings; any
     * other byte string goes as bin, so that nothing is mangled. */
    if (len >= 32) {
        enc_long_string(e, s, len);
        return;
    }
    if (utf8_valid(s, len)) {
        msgpack_pack_str(&e->pk, len);
        msgpack_pack_str_body(&e->pk, s, len);
    } else {
        msgpack_pack_bin(&e->pk, len);
        msgpack_pack_bin_body(&e->pk, s, len);
    }
}

static int enc_value(encoder *e, int idx);

static int enc_key(encoder *e, int idx) {
    lua_State *L = e->L;
    path_step *step = &e->path[e->depth - 1];
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (len > UINT32_MAX) return enc_fail(e, e->depth - 1, "%s", "a key longer than 4 GiB");
        enc_string(e, s, len);
        *step = (path_step){.kind = STEP_KEY, .key = s, .keylen = len};
        return 0;
    }
    if (lua_isinteger(L, idx)) {
        lua_Integer k = lua_tointeger(L, idx);
        msgpack_pack_int64(&e->pk, k);
        *step = (path_step){.kind = STEP_INDEX, .index = k};
        return 0;
    }
    if (lua_type(L, idx) == LUA_TNUMBER) {
        char num[64];
        snprintf(num, sizeof num, "%.17g", lua_tonumber(L, idx));
        return enc_fail(e, e->depth - 1,
                        "key %s is a float; only integer and string keys can be sent", num);
    }
    return enc_fail(e, e->depth - 1, "a %s key cannot be sent; only integer and string keys can",
                    luaL_typename(L, idx));
}

static int enc_table(encoder *e, int idx) {
    lua_State *L = e->L;
    const void *self = lua_topointer(L, idx);
    for (int i = 0; i < e->depth; i++) {
        if (e->open[i] == self) {
            char back[256];
            format_path(back, sizeof back, e->path, i);
            return enc_fail(e, e->depth, "cyclic table (the same table as %s)", back);
        }
    }
    if (e->depth >= WIRE_MAX_DEPTH)
        return enc_fail(e, e->depth, "tables nested deeper than %s levels cannot be sent", "100");
    if (!lua_checkstack(L, 4))
        return enc_fail(e, e->depth, "%s", "out of Lua stack space");
    e->open[e->depth++] = self;

    /* A table is a sequence when its keys are exactly 1..n. */
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    lua_Integer count = 0;
    int sequence = n > 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        if (sequence) {
            lua_Integer k;
            sequence = lua_isinteger(L, -2) && (k = lua_tointeger(L, -2)) >= 1 && k <= n;
        }
        lua_pop(L, 1);
    }
    if (count > (lua_Integer)UINT32_MAX) return enc_fail(e, e->depth - 1, "%s", "table too large");
    int rc = 0;
    if (sequence && count == n) {
        msgpack_pack_array(&e->pk, (size_t)n);
        for (lua_Integer i = 1; i <= n && rc == 0; i++) {
            lua_rawgeti(L, idx, i);
            e->path[e->depth - 1] = (path_step){.kind = STEP_INDEX, .index = i};
            rc = enc_value(e, lua_gettop(L));
            lua_pop(L, 1);
        }
    } else {
        msgpack_pack_map(&e->pk, (size_t)count);
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            rc = enc_key(e, lua_gettop(L) - 1);
            if (rc == 0) rc = enc_value(e, lua_gettop(L));
            lua_pop(L, 1);
            if (rc != 0) {
                lua_pop(L, 1); /* the key: the traversal stops here */
                break;
            }
        }
    }
    e->depth--;
    return rc;
}

static int enc_value(encoder *e, int idx) {
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: msgpack_pack_nil(&e->pk); return 0;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx)) msgpack_pack_true(&e->pk);
        else msgpack_pack_false(&e->pk);
        return 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) msgpack_pack_int64(&e->pk, lua_tointeger(L, idx));
        else msgpack_pack_double(&e->pk, lua_tonumber(L, idx));
        return 0;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (len > UINT32_MAX) return enc_fail(e, e->depth, "%s", "string longer than 4 GiB");
        enc_string(e, s, len);
        return 0;
    }
    case LUA_TTABLE: return enc_table(e, idx);
    default:
        return enc_fail(e, e->depth,
                        "a %s cannot be sent (only nil, booleans, numbers, strings and tables)",
                        luaL_typename(L, idx));
    }
}

int payload_encode(lua_State *L, int idx, buf *out, char *err, size_t errlen) {
    encoder e;
    e.L = L;
    e.out = out;
    e.depth = 0;
    e.err = err;
    e.errlen = errlen;
    msgpack_packer_init(&e.pk, out, write_buf);
    int top = lua_gettop(L);
    int rc = enc_value(&e, lua_absindex(L, idx));
    lua_settop(L, top);
    if (rc == 0 && out->failed) {
        snprintf(err, errlen, "payload: out of memory while encoding");
        return -1;
    }
    return rc;
}

/* ---- decoding ---------------------------------------------------------- */

typedef struct decoder {
    lua_State *L; /* NULL: check only */
    mp_reader r;
    int depth;
    path_step path[WIRE_MAX_DEPTH + 1];
    char *err;
    size_t errlen;
} decoder;

/* at: the byte where the bad item starts, or where reading stopped. */
static int dec_fail_at(decoder *d, const char *what, size_t at) {
    char where[256];
    format_path(where, sizeof where, d->path, d->depth);
    snprintf(d->err, d->errlen, "%s: %s at byte %zu", where, what, at);
    return -1;
}

static int dec_fail(decoder *d, const char *what) { return dec_fail_at(d, what, mp_offset(&d->r)); }

static int dec_value(decoder *d);

/* at: where the container's header starts. */
static int dec_container(decoder *d, const mp_item *it, size_t at) {
    lua_State *L = d->L;
    if (d->depth >= WIRE_MAX_DEPTH) return dec_fail_at(d, "tables nested deeper than 100 levels", at);
    if (L && !lua_checkstack(L, 4)) return dec_fail(d, "out of Lua stack space");
    uint32_t n = it->v.count;
    path_step *step = &d->path[d->depth++];
    if (it->kind == MP_ARRAY) {
        if (L) lua_createtable(L, (int)(n > INT32_MAX ? INT32_MAX : n), 0);
        for (uint32_t i = 1; i <= n; i++) {
            *step = (path_step){.kind = STEP_INDEX, .index = i};
            if (dec_value(d) != 0) goto fail;
            if (L) lua_rawseti(L, -2, i);
        }
    } else {
        if (L) lua_createtable(L, 0, (int)(n > INT32_MAX ? INT32_MAX : n));
        for (uint32_t i = 0; i < n; i++) {
            mp_item key;
            size_t key_at = mp_offset(&d->r);
            const char *why = mp_read(&d->r, &key);
            if (why) {
                d->depth--;
                dec_fail(d, why);
                goto fail_quiet;
            }
            if (key.kind == MP_INT) {
                *step = (path_step){.kind = STEP_INDEX, .index = key.v.integer};
                if (L) lua_pushinteger(L, key.v.integer);
            } else if (key.kind == MP_STR || key.kind == MP_BIN) {
                *step = (path_step){.kind = STEP_KEY, .key = key.v.str.ptr, .keylen = key.v.str.len};
                if (L) lua_pushlstring(L, key.v.str.ptr, key.v.str.len);
            } else {
                d->depth--;
                dec_fail_at(d, "a map key that is neither an integer nor a string", key_at);
                goto fail_quiet;
            }
            if (dec_value(d) != 0) {
                if (L) lua_pop(L, 1);
                goto fail;
            }
            if (L) lua_rawset(L, -3); /* a repeated key: the last value wins */
        }
    }
    d->depth--;
    return 0;
fail:
    d->depth--;
fail_quiet:
    if (L) lua_pop(L, 1);
    return -1;
}

static int dec_value(decoder *d) {
    lua_State *L = d->L;
    mp_item it;
    size_t at = mp_offset(&d->r);
    const char *why = mp_read(&d->r, &it);
    if (why) return dec_fail(d, why);
    switch (it.kind) {
    case MP_NIL: if (L) lua_pushnil(L); return 0;
    case MP_BOOL: if (L) lua_pushboolean(L, it.v.boolean); return 0;
    case MP_INT: if (L) lua_pushinteger(L, it.v.integer); return 0;
    case MP_FLOAT: if (L) lua_pushnumber(L, it.v.number); return 0;
    case MP_STR:
    case MP_BIN: if (L) lua_pushlstring(L, it.v.str.ptr, it.v.str.len); return 0;
    case MP_ARRAY:
    case MP_MAP: return dec_container(d, &it, at);
    }
    return dec_fail(d, "unknown item");
}

int payload_decode(lua_State *L, const char *data, size_t len, char *err, size_t errlen) {
    decoder d;
    d.L = L;
    d.depth = 0;
    d.err = err;
    d.errlen = errlen;
    mp_reader_init(&d.r, data, len);
    if (L && !lua_checkstack(L, 4)) return dec_fail(&d, "out of Lua stack space");
    if (dec_value(&d) != 0) return -1;
    if (mp_left(&d.r)) {
        if (L) lua_pop(L, 1);
        return dec_fail(&d, "trailing bytes after the payload");
    }
    return 0;
}
