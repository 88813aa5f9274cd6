/* payload.h: the payload frame, a Lua value as one MessagePack item
 * (docs/protocol.md, "Payload frame"). */
#ifndef MARO_PAYLOAD_H
#define MARO_PAYLOAD_H

#include <lua.h>
#include <stddef.h>

#include "base/buf.h"

#define WIRE_MAX_DEPTH 100 /* tables nested deeper than this are refused both ways */

/* Encodes the value at idx (without metatables) and appends it to out.
 * Returns 0, or -1 with err naming the path of what cannot be sent,
 * e.g. "payload.jobs[3].fn: a function cannot be sent ...". */
int payload_encode(lua_State *L, int idx, buf *out, char *err, size_t errlen);

/* Decodes a payload frame and pushes the value. With L == NULL it only checks
 * the frame, accepting exactly what decoding would. Returns 0, or -1 with err
 * naming the path and byte offset; on failure nothing is pushed. */
int payload_decode(lua_State *L, const char *data, size_t len, char *err, size_t errlen);

#endif
