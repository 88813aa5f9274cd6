/* message.h: the Message userdata that scripts hold. A message is its header
 * fields (copied into one block) and a payload that is either a Lua value or
 * encoded bytes not decoded yet; msg.payload decodes them once, on first use. */
#ifndef MARO_MESSAGE_H
#define MARO_MESSAGE_H

#include <lua.h>

#include "base/blob.h"
#include "base/buf.h"
#include "wire/header.h"

#define MESSAGE_TYPE "maro.Message"

typedef struct message message;

/* Pushes a new message with h's fields (h->group is ignored). A session_id or
 * message_id slice with a NULL ptr gets a fresh UUID. The payload is nil. */
message *message_push(lua_State *L, const wire_header *h);

/* Pushes a message with h's fields whose payload is received bytes, already
 * checked; they are decoded on first access. Small payloads are copied into
 * the message; a large one stays where it is, in owner (a reference is
 * taken). meta: where the caller holds the Message metatable (an upvalue),
 * or 0 to look it up. */
message *message_push_received(lua_State *L, const wire_header *h, const char *payload,
                               size_t len, blob *owner, int meta);

message *message_check(lua_State *L, int idx); /* raises a type error otherwise */
message *message_test(lua_State *L, int idx);  /* NULL when idx is no message */
const wire_header *message_header(const message *m);

/* Pushes the payload, decoding it on first use. */
void message_push_payload(lua_State *L, int idx);

/* What a sender keeps between messages so that encoding a small payload
 * allocates nothing: the bytes being encoded, and the blob last sent. */
typedef struct message_scratch {
    buf bytes;
    blob *spare;
} message_scratch;

/* Encodes the message at idx (checked by the caller): *h gets its header
 * fields (slices into the message: valid while it lives) and *payload a
 * blob of its payload, MessagePack (shared, not copied, when the payload
 * was never decoded). scratch may be NULL. 0, or -1 with err filled. */
int message_encode(lua_State *L, int idx, wire_header *h, message_scratch *scratch,
                   blob **payload, char *err, size_t errlen);
/* The Lua value at idx as a payload blob (MessagePack), encoded in scratch
 * (NULL: a buffer of its own); NULL with err filled when it cannot be sent. */
blob *message_encode_value(lua_State *L, int idx, message_scratch *scratch, char *err,
                           size_t errlen);

/* Adds Message, SessionMessage, wire_encode and wire_decode to the table on top. */
void message_register(lua_State *L);

#endif
