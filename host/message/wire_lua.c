#include "message/wire_lua.h"

#include <lauxlib.h>
#include <string.h>

#include "base/given.h"
#include "message/message.h"
#include "wire/packet.h"
#include "wire/payload.h"

/* maro.wire.encode(msg [, group]) -> packet, payload: the frames of a
 * transmission holding this message alone, its payload in the second. */
static int l_wire_encode(lua_State *L) {
    message_check(L, 1);
    wire_slice group;
    group.ptr = luaL_optlstring(L, 2, "", &group.len); /* before anything is held */
    if (group.len > WIRE_MAX_NAME)
        return luaL_argerror(L, 2, lua_pushfstring(L, "the group: a name of at most 1024 "
                                                      "bytes, got %d bytes", (int)group.len));
    wire_header h;
    blob *payload = NULL;
    char err[512];
    if (message_encode(L, 1, &h, NULL, &payload, err, sizeof err) != 0)
        return luaL_error(L, "maro.wire.encode: %s", err);
    h.group = group;
    wire_packet_head head;
    memset(&head, 0, sizeof head);
    head.group = h.group;
    head.sender = h.source;
    buf out;
    buf_init(&out);
    wire_packet_writer w;
    if (wire_packet_begin(&w, &out, &head) != 0 || wire_packet_add(&w, &h, NULL, 0, 1) != 0) {
        buf_free(&out);
        blob_unref(payload);
        return luaL_error(L, "maro.wire.encode: out of memory");
    }
    wire_packet_finish(&w);
    /* Push both before raising anything, so nothing leaks on a memory error. */
    lua_pushlstring(L, out.data, out.len);
    buf_free(&out);
    lua_pushlstring(L, blob_data(payload), blob_size(payload));
    blob_unref(payload);
    return 2;
}

/* maro.wire.decode(packet [, payload]) -> msg: the first message of a
 * packet, its payload inline or in the second frame. */
static int l_wire_decode(lua_State *L) {
    size_t plen, flen = 0;
    const char *packet = luaL_checklstring(L, 1, &plen);
    const char *frame = luaL_optlstring(L, 2, NULL, &flen);
    char err[512];
    wire_packet_reader r;
    wire_header h;
    wire_slice payload;
    int at;
    if (wire_packet_open(&r, packet, plen, frame ? 1 : 0, err, sizeof err) != 0)
        return given_raise(L, "maro.wire.decode: the packet (argument 1): %s", err);
    int rc = wire_packet_next(&r, &h, &payload, &at, err, sizeof err);
    if (rc == WIRE_PACKET_END)
        return given_raise(L, "maro.wire.decode: the packet (argument 1) holds no message");
    if (rc != WIRE_PACKET_MESSAGE)
        return given_raise(L, "maro.wire.decode: the packet (argument 1): %s", err);
    if (at >= 0) payload = (wire_slice){frame, flen};
    if (payload_decode(NULL, payload.ptr, payload.len, err, sizeof err) != 0)
        return given_raise(L, "maro.wire.decode: the payload (argument %d): %s", at >= 0 ? 2 : 1,
                           err);
    /* A copy, not a borrow: the bytes may outlive the Lua strings. */
    blob *b = blob_copy(payload.ptr, payload.len);
    if (!b) return luaL_error(L, "maro.wire.decode: out of memory");
    message_push_received(L, &h, blob_data(b), blob_size(b), b, 0);
    blob_unref(b);
    return 1;
}

void wire_lua_register(lua_State *L) {
    static const luaL_Reg funcs[] = {{"wire_encode", l_wire_encode},
                                     {"wire_decode", l_wire_decode},
                                     {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
