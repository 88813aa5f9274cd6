/* header.h: the header frame, everything a peer needs to route and match a
 * message without touching its payload (docs/protocol.md, "Header frame"). */
#ifndef MARO_HEADER_H
#define MARO_HEADER_H

#include <stddef.h>

#include "base/buf.h"

#define WIRE_VERSION 1
#define WIRE_HEADER_FIELDS 9
#define WIRE_MAX_NAME 1024      /* group, tag, source, destination, ids: bytes */
#define WIRE_MAX_HEADER 8192    /* a header frame larger than this is refused */

enum session_type { SESSION_NONE = 0, SESSION_TASK, SESSION_NOTIFICATION };
enum session_stage {
    STAGE_NONE = 0,
    STAGE_TASK_REQUEST,
    STAGE_TASK_RECEIVE,
    STAGE_TASK_COMPLETE,
    STAGE_NOTIFICATION_REQUEST,
    STAGE_NOTIFICATION_RECEIVE
};

typedef struct wire_slice {
    const char *ptr;
    size_t len;
} wire_slice;

typedef struct wire_header {
    wire_slice group, tag, source, destination, session_id, message_id;
    int session_type, session_stage;
} wire_header;

/* Appends the header frame to out. Returns 0, or -1 when out of memory. */
int wire_header_encode(const wire_header *h, buf *out);

/* Parses a header frame; the slices of h point into data. Returns NULL, or a
 * message naming the field and byte offset that is wrong (written to err). */
const char *wire_header_decode(const char *data, size_t len, wire_header *h, char *err,
                               size_t errlen);

const char *wire_session_type_name(int type);   /* NULL for SESSION_NONE */
const char *wire_session_stage_name(int stage); /* NULL for STAGE_NONE */
int wire_session_type_parse(const char *s, size_t len);  /* -1 when unknown */
int wire_session_stage_parse(const char *s, size_t len); /* -1 when unknown */
int wire_stage_belongs(int type, int stage);             /* 1 when stage is one of type's */
int wire_request_stage(int type);                        /* the first stage of a type */

#endif
