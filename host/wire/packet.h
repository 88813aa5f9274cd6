/* packet.h: the one frame every transmission starts with (docs/protocol.md,
 * "Packets"). A packet names its group and sender, numbers its messages for
 * acknowledgement, may acknowledge what its sender received, and holds any
 * number of messages whose header fields repeat the previous message's
 * where they can. A payload is inline, or is the next extra frame of the
 * transmission (large payloads, sent without a copy). */
#ifndef MARO_PACKET_H
#define MARO_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wire/header.h"
#include "wire/uuid.h"

#define WIRE_PACKET_MAGIC 0xc1 /* a byte MessagePack never uses */
#define WIRE_PACKET_MAX_MESSAGES 65535
#define WIRE_INCARNATION_LEN 8

typedef struct wire_packet_head {
    wire_slice group, sender;
    uint8_t incarnation[WIRE_INCARNATION_LEN]; /* the sending proxy's, random per run */
    uint64_t seq;                              /* the packet's number; 0 when it holds no message */
    int has_ack;
    uint8_t ack_incarnation[WIRE_INCARNATION_LEN]; /* the receiver's run being answered */
    uint64_t ack_seq; /* everything up to this number arrived */
} wire_packet_head;

/* ---- writing ---------------------------------------------------------- */

typedef struct wire_packet_writer {
    buf *out;
    size_t start, count_at;
    unsigned count;
    /* The previous message's names (offsets into out), for repeats. */
    size_t tag_at, tag_len, source_at, source_len, dest_at, dest_len;
    int have_tag, have_dest;
    /* The previous id in UUID form, for deltas. */
    wire_uuid id;
    int have_id;
} wire_packet_writer;

/* Starts a packet at the end of out. 0, or -1 when out of memory. */
int wire_packet_begin(wire_packet_writer *w, buf *out, const wire_packet_head *head);
/* Appends one message. With payload_frame set the payload travels as the
 * next extra frame (the caller sends it) and payload is not written.
 * 0, or -1 when out of memory (the packet is then unusable). */
int wire_packet_add(wire_packet_writer *w, const wire_header *h, const char *payload,
                    size_t payload_len, int payload_frame);
/* Writes the message count into the packet. */
void wire_packet_finish(wire_packet_writer *w);

/* ---- reading ---------------------------------------------------------- */

typedef struct wire_packet_reader {
    const unsigned char *start, *p, *end;
    wire_packet_head head;
    unsigned count, index;
    int frames, next_frame; /* extra frames of the transmission, the next one to hand out */
    wire_slice tag, source, dest;
    wire_uuid id;
    int have_id;
    char session_id[WIRE_UUID_LEN]; /* the current message's, when it travels as a UUID */
    uint8_t formatted_prefix[WIRE_UUID_PREFIX_LEN]; /* session_id holds an id with this prefix... */
    int formatted;                  /* ...when set */
} wire_packet_reader;

enum { WIRE_PACKET_END = 0, WIRE_PACKET_MESSAGE = 1, WIRE_PACKET_BROKEN = -1,
       WIRE_PACKET_BAD_MESSAGE = -2 };

/* Reads the head of a packet that came with `frames` extra frames.
 * 0, or -1 with err when the frame is no packet of this version. */
int wire_packet_open(wire_packet_reader *r, const char *data, size_t len, int frames, char *err,
                     size_t errlen);

/* The next message: WIRE_PACKET_MESSAGE with h (slices into the packet and
 * into r) and either *payload (inline) or *frame (the index of its extra
 * frame, else -1); WIRE_PACKET_END after the last one (having checked that
 * nothing is left over); WIRE_PACKET_BAD_MESSAGE with err when this message
 * breaks a rule but the next one can still be read (drop it alone);
 * WIRE_PACKET_BROKEN with err when the rest cannot be read. h->group is the
 * packet's. */
int wire_packet_next(wire_packet_reader *r, wire_header *h, wire_slice *payload, int *frame,
                     char *err, size_t errlen);

#endif
