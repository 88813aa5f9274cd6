/* header.h: what a peer needs to route and match a message without
 * touching its payload (docs/protocol.md, "Messages"): names, ids, the
 * session's type and stage, and an error text for failed requests. */
#ifndef MARO_HEADER_H
#define MARO_HEADER_H

#include <stddef.h>

#include "wire/uuid.h"

#define WIRE_VERSION 2
#define WIRE_MAX_NAME 1024  /* group, tag, source, destination, ids: bytes */
#define WIRE_MAX_ERROR 4096 /* an error text: bytes */

/* The stage codes are the ones on the wire (docs/protocol.md); a stage
 * implies its session type. */
enum session_type { SESSION_NONE = 0, SESSION_TASK, SESSION_NOTIFICATION };
enum session_stage {
    STAGE_NONE = 0,
    STAGE_TASK_REQUEST,
    STAGE_TASK_RECEIVE,
    STAGE_TASK_COMPLETE,
    STAGE_NOTIFICATION_REQUEST,
    STAGE_NOTIFICATION_RECEIVE,
    STAGE_LAST = STAGE_NOTIFICATION_RECEIVE
};

typedef struct wire_slice {
    const char *ptr;
    size_t len;
} wire_slice;

enum { WIRE_SESSION_UUID = 1, WIRE_MESSAGE_UUID = 2 };

typedef struct wire_header {
    wire_slice group, tag, source, destination, session_id, message_id;
    wire_slice error; /* ptr NULL: no error */
    int session_type, session_stage;
    /* The ids in UUID form too, when they are UUIDs (the bits say which):
     * a packet is written from these without parsing the strings again.
     * An id in UUID form may have no string (ptr NULL): a received message
     * id, and the ids of isend_to, which few ever read. wire_id_string
     * makes it where it is read. */
    unsigned char uuids;
    wire_uuid session_uuid, message_uuid;
} wire_header;

/* The string of an id: s itself, or u written into buf when s has none and
 * the id is a UUID (is_uuid). */
wire_slice wire_id_string(wire_slice s, const wire_uuid *u, int is_uuid,
                          char buf[WIRE_UUID_LEN]);

const char *wire_session_type_name(int type);   /* NULL for SESSION_NONE */
const char *wire_session_stage_name(int stage); /* NULL for STAGE_NONE */
int wire_session_type_parse(const char *s, size_t len);  /* -1 when unknown */
int wire_session_stage_parse(const char *s, size_t len); /* -1 when unknown */
int wire_stage_belongs(int type, int stage);             /* 1 when stage is one of type's */
int wire_request_stage(int type);                        /* the first stage of a type */
int wire_stage_type(int stage);                          /* the type a stage belongs to */

#endif
