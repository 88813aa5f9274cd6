/* packet.c: writing and reading packets, byte for byte as docs/protocol.md
 * specifies them. The reader trusts nothing: every length is checked
 * against the bytes left before it is used, and a message that breaks a
 * rule but can still be delimited is reported alone, so that one bad
 * message does not take the rest of its packet along. */
#include "wire/packet.h"

#include <stdio.h>
#include <string.h>

#include "wire/varint.h"

enum {
    F_TAG = 0x01,
    F_SOURCE = 0x02,
    F_DEST = 0x04,
    F_ERROR = 0x08,
    F_PAYLOAD_FRAME = 0x10,
    F_RESERVED = 0xe0
};
enum { ID_STRING = 0, ID_NEXT = 1, ID_UUID = 2 };
enum { HEAD_ACK = 0x01, HEAD_RESERVED = 0xfe };
#define HEAD_FIXED 5 /* magic, version, flags, count (u16) */

/* ---- writing ----------------------------------------------------------- */

static char *put_bytes(char *o, const char *p, size_t len) {
    o = varint_put(o, len);
    memcpy(o, p, len);
    return o + len;
}

int wire_packet_begin(wire_packet_writer *w, buf *out, const wire_packet_head *head) {
    size_t need = HEAD_FIXED + VARINT_MAX + WIRE_INCARNATION_LEN + 2 * VARINT_MAX +
                  head->group.len + head->sender.len + WIRE_INCARNATION_LEN + VARINT_MAX;
    if (out->cap - out->len < need && buf_grow(out, need) != 0) return -1;
    memset(w, 0, sizeof *w);
    w->out = out;
    w->start = out->len;
    char *o = out->data + out->len;
    *o++ = (char)WIRE_PACKET_MAGIC;
    *o++ = (char)WIRE_VERSION;
    *o++ = (char)(head->has_ack ? HEAD_ACK : 0);
    w->count_at = (size_t)(o - out->data);
    *o++ = 0;
    *o++ = 0;
    o = varint_put(o, head->seq);
    memcpy(o, head->incarnation, WIRE_INCARNATION_LEN);
    o += WIRE_INCARNATION_LEN;
    o = put_bytes(o, head->group.ptr, head->group.len);
    w->source_len = head->sender.len; /* a message's source repeats the sender by default */
    o = varint_put(o, head->sender.len);
    w->source_at = (size_t)(o - out->data);
    memcpy(o, head->sender.ptr, head->sender.len);
    o += head->sender.len;
    if (head->has_ack) {
        memcpy(o, head->ack_incarnation, WIRE_INCARNATION_LEN);
        o += WIRE_INCARNATION_LEN;
        o = varint_put(o, head->ack_seq);
    }
    out->len = (size_t)(o - out->data);
    return 0;
}

static int same(const buf *out, size_t at, size_t len, wire_slice s) {
    return len == s.len && memcmp(out->data + at, s.ptr, len) == 0;
}

/* A name that repeats the previous message's costs nothing but a flag bit. */
static char *put_name(wire_packet_writer *w, char *o, wire_slice s, size_t *at, size_t *len) {
    o = varint_put(o, s.len);
    *at = (size_t)(o - w->out->data);
    *len = s.len;
    memcpy(o, s.ptr, s.len);
    return o + s.len;
}

static char *put_id(wire_packet_writer *w, char *o, wire_slice s, const wire_uuid *known) {
    wire_uuid u;
    if (known) u = *known;
    else if (!wire_uuid_parse(s.ptr, s.len, &u)) {
        *o++ = ID_STRING;
        return put_bytes(o, s.ptr, s.len);
    }
    if (w->have_id && memcmp(u.prefix, w->id.prefix, sizeof u.prefix) == 0) {
        *o++ = ID_NEXT;
        o = varint_put(o, zigzag((int64_t)(u.counter - w->id.counter)));
    } else {
        *o++ = ID_UUID;
        memcpy(o, u.prefix, sizeof u.prefix);
        o = varint_put(o + sizeof u.prefix, u.counter);
    }
    w->id = u;
    w->have_id = 1;
    return o;
}

int wire_packet_add(wire_packet_writer *w, const wire_header *h, const char *payload,
                    size_t payload_len, int payload_frame) {
    buf *out = w->out;
    size_t need = 2 + 5 * VARINT_MAX + h->tag.len + h->source.len + h->destination.len +
                  2 * (1 + 8 + VARINT_MAX) + h->session_id.len + h->message_id.len +
                  h->error.len + (payload_frame ? 0 : payload_len);
    if (out->cap - out->len < need && buf_grow(out, need) != 0) return -1;
    char *o = out->data + out->len, *flags = o;
    int f = 0;
    o += 2;
    flags[1] = (char)h->session_stage;
    if (!w->have_tag || !same(out, w->tag_at, w->tag_len, h->tag)) {
        f |= F_TAG;
        o = put_name(w, o, h->tag, &w->tag_at, &w->tag_len);
        w->have_tag = 1;
    }
    if (!same(out, w->source_at, w->source_len, h->source)) {
        f |= F_SOURCE;
        o = put_name(w, o, h->source, &w->source_at, &w->source_len);
    }
    if (!w->have_dest || !same(out, w->dest_at, w->dest_len, h->destination)) {
        f |= F_DEST;
        o = put_name(w, o, h->destination, &w->dest_at, &w->dest_len);
        w->have_dest = 1;
    }
    o = put_id(w, o, h->session_id, h->uuids & WIRE_SESSION_UUID ? &h->session_uuid : NULL);
    o = put_id(w, o, h->message_id, h->uuids & WIRE_MESSAGE_UUID ? &h->message_uuid : NULL);
    if (h->error.ptr) {
        f |= F_ERROR;
        o = put_bytes(o, h->error.ptr, h->error.len);
    }
    if (payload_frame) f |= F_PAYLOAD_FRAME;
    else o = put_bytes(o, payload, payload_len);
    flags[0] = (char)f;
    out->len = (size_t)(o - out->data);
    w->count++;
    return 0;
}

void wire_packet_finish(wire_packet_writer *w) {
    unsigned char *c = (unsigned char *)w->out->data + w->count_at;
    c[0] = (unsigned char)(w->count >> 8);
    c[1] = (unsigned char)w->count;
}

/* ---- reading ----------------------------------------------------------- */

static size_t offset(const wire_packet_reader *r) { return (size_t)(r->p - r->start); }

/* A length-prefixed byte string of at most max bytes: 0, -1 when it runs
 * past the packet (BROKEN), -2 when it is longer than max (delimited). */
static int get_bytes(wire_packet_reader *r, wire_slice *s, size_t max) {
    uint64_t len;
    if (varint_get(&r->p, r->end, &len) != 0 || len > (uint64_t)(r->end - r->p)) return -1;
    s->ptr = (const char *)r->p;
    s->len = (size_t)len;
    r->p += len;
    return len > max ? -2 : 0;
}

int wire_packet_open(wire_packet_reader *r, const char *data, size_t len, int frames, char *err,
                     size_t errlen) {
    memset(r, 0, sizeof *r);
    r->start = r->p = (const unsigned char *)data;
    r->end = r->p + len;
    r->frames = frames;
    const unsigned char *d = r->p;
    const char *why = NULL;
    if (len < 1 || d[0] != WIRE_PACKET_MAGIC) {
        /* A version 1 message starts with a MessagePack array: say so. */
        if (len >= 2 && (d[0] == 0x99 || ((d[0] == 0xdd || d[0] == 0xdc || (d[0] & 0xf0) == 0x90)
                                          && frames == 0)))
            why = "a wire version 1 message (this peer speaks version 2; upgrade the sender)";
        else
            why = "not a packet (its first byte is not 0xc1)";
    } else if (len < HEAD_FIXED) {
        why = "truncated packet head";
    } else if (d[1] != WIRE_VERSION) {
        snprintf(err, errlen, "unsupported wire version %u (this peer speaks %d)", d[1],
                 WIRE_VERSION);
        return -1;
    } else if (d[2] & HEAD_RESERVED) {
        why = "reserved head flags are set";
    }
    if (why) {
        snprintf(err, errlen, "a frame of %zu bytes: %s", len, why);
        return -1;
    }
    wire_packet_head *h = &r->head;
    h->has_ack = d[2] & HEAD_ACK;
    r->count = (unsigned)d[3] << 8 | d[4];
    r->p += HEAD_FIXED;
    if (varint_get(&r->p, r->end, &h->seq) != 0) why = "unreadable sequence number";
    else if ((size_t)(r->end - r->p) < WIRE_INCARNATION_LEN) why = "truncated packet head";
    if (!why) {
        memcpy(h->incarnation, r->p, WIRE_INCARNATION_LEN);
        r->p += WIRE_INCARNATION_LEN;
        int g = get_bytes(r, &h->group, WIRE_MAX_NAME), s = g ? 0 : get_bytes(r, &h->sender,
                                                                             WIRE_MAX_NAME);
        if (g || s) why = "unreadable group or sender name";
        else if (h->sender.len == 0) why = "empty sender name";
    }
    if (!why && h->has_ack) {
        if ((size_t)(r->end - r->p) < WIRE_INCARNATION_LEN) {
            why = "truncated acknowledgement";
        } else {
            memcpy(h->ack_incarnation, r->p, WIRE_INCARNATION_LEN);
            r->p += WIRE_INCARNATION_LEN;
            if (varint_get(&r->p, r->end, &h->ack_seq) != 0) why = "truncated acknowledgement";
        }
    }
    if (why) {
        snprintf(err, errlen, "a packet of %zu bytes: %s at byte %zu", len, why, offset(r));
        return -1;
    }
    r->source = h->sender;
    return 0;
}

static int broken(wire_packet_reader *r, const char *what, char *err, size_t errlen) {
    snprintf(err, errlen, "message %u of %u in a packet from '%.*s': %s at byte %zu; the rest "
             "of the packet is dropped", r->index + 1, r->count, (int)(r->head.sender.len > 64 ?
             64 : r->head.sender.len), r->head.sender.ptr, what, offset(r));
    r->index = r->count;
    r->p = r->end;
    return WIRE_PACKET_BROKEN;
}

/* Reads an id into h's slice: a string, or a UUID, whose string is written
 * (into the reader) only when want_string: the message id's is made where
 * it is read (wire_id_string). */
static int get_id(wire_packet_reader *r, int want_string, wire_slice *s, wire_uuid *uuid,
                  int *is_uuid, const char **bad) {
    *is_uuid = 0;
    if (r->p >= r->end) return -1;
    unsigned kind = *r->p++;
    if (kind == ID_STRING) {
        int rc = get_bytes(r, s, WIRE_MAX_NAME);
        if (rc == -2 || (rc == 0 && s->len == 0)) *bad = "an empty or too long id";
        return rc == -1 ? -1 : 0;
    }
    wire_uuid u;
    if (kind == ID_NEXT) {
        uint64_t delta;
        if (varint_get(&r->p, r->end, &delta) != 0) return -1;
        if (!r->have_id) {
            *bad = "an id relative to no previous id";
            u = r->id;
        } else {
            u = r->id;
            u.counter = (u.counter + (uint64_t)unzigzag(delta)) & WIRE_UUID_COUNTER_MAX;
        }
    } else if (kind == ID_UUID) {
        if ((size_t)(r->end - r->p) < sizeof u.prefix) return -1;
        memcpy(u.prefix, r->p, sizeof u.prefix);
        r->p += sizeof u.prefix;
        if (varint_get(&r->p, r->end, &u.counter) != 0) return -1;
        if (u.counter > WIRE_UUID_COUNTER_MAX) *bad = "a UUID id that is not version 4";
    } else {
        return -1; /* an unknown kind cannot be delimited */
    }
    /* Also for an id relative to a bad one: a bad message's id is remembered,
     * and what follows it must not inherit it as valid. */
    if (!*bad && (u.prefix[6] >> 4) != 4) *bad = "a UUID id that is not version 4";
    r->id = u;
    r->have_id = 1;
    if (want_string) {
        if (r->formatted && memcmp(r->formatted_prefix, u.prefix, sizeof u.prefix) == 0) {
            wire_uuid_format_counter(&u, r->session_id);
        } else {
            wire_uuid_format(&u, r->session_id);
            memcpy(r->formatted_prefix, u.prefix, sizeof u.prefix);
            r->formatted = 1;
        }
        *s = (wire_slice){r->session_id, WIRE_UUID_LEN};
    }
    *uuid = u;
    *is_uuid = 1;
    return 0;
}

int wire_packet_next(wire_packet_reader *r, wire_header *h, wire_slice *payload, int *frame,
                     char *err, size_t errlen) {
    if (r->index >= r->count) {
        if (r->p != r->end) return broken(r, "trailing bytes after the last message", err, errlen);
        if (r->next_frame != r->frames) {
            snprintf(err, errlen, "a packet from '%.*s' came with %d extra frames and used %d",
                     (int)(r->head.sender.len > 64 ? 64 : r->head.sender.len),
                     r->head.sender.ptr, r->frames, r->next_frame);
            r->next_frame = r->frames;
            return WIRE_PACKET_BROKEN;
        }
        return WIRE_PACKET_END;
    }
    const char *bad = NULL;
    if (r->end - r->p < 2) return broken(r, "truncated message", err, errlen);
    unsigned f = r->p[0], stage = r->p[1];
    r->p += 2;
    if (f & F_RESERVED) return broken(r, "reserved message flags are set", err, errlen);
    if (stage > STAGE_LAST) bad = "an unknown session stage";
    memset(h, 0, sizeof *h);
    h->group = r->head.group;
    h->session_stage = stage > STAGE_LAST ? STAGE_NONE : (int)stage;
    h->session_type = wire_stage_type(h->session_stage);
    struct {
        int flag;
        wire_slice *prev;
        int required;
    } names[3] = {{F_TAG, &r->tag, 1}, {F_SOURCE, &r->source, 0}, {F_DEST, &r->dest, 1}};
    for (int i = 0; i < 3; i++) {
        if (f & names[i].flag) {
            if (get_bytes(r, names[i].prev, (size_t)-1) != 0)
                return broken(r, "a name longer than the bytes left", err, errlen);
        } else if (names[i].required && !names[i].prev->ptr) {
            bad = "a name that repeats a previous message's, but there is none";
            continue;
        }
        /* A repeated name may be a bad message's: checked again. */
        if (names[i].prev->len == 0 || names[i].prev->len > WIRE_MAX_NAME)
            bad = "an empty or too long name";
    }
    h->tag = r->tag;
    h->source = r->source;
    h->destination = r->dest;
    int sid_uuid, mid_uuid;
    if (get_id(r, 1, &h->session_id, &h->session_uuid, &sid_uuid, &bad) != 0 ||
        get_id(r, 0, &h->message_id, &h->message_uuid, &mid_uuid, &bad) != 0)
        return broken(r, "an unreadable id", err, errlen);
    h->uuids = (unsigned char)((sid_uuid ? WIRE_SESSION_UUID : 0) | (mid_uuid ? WIRE_MESSAGE_UUID : 0));
    if (f & F_ERROR) {
        int rc = get_bytes(r, &h->error, WIRE_MAX_ERROR);
        if (rc == -1) return broken(r, "an error text longer than the bytes left", err, errlen);
        if (rc == -2) bad = "an error text longer than 4096 bytes";
    }
    *frame = -1;
    payload->ptr = NULL;
    payload->len = 0;
    if (f & F_PAYLOAD_FRAME) {
        if (r->next_frame >= r->frames)
            return broken(r, "a payload in an extra frame that did not come", err, errlen);
        *frame = r->next_frame++;
    } else if (get_bytes(r, payload, (size_t)-1) != 0) {
        return broken(r, "a payload longer than the bytes left", err, errlen);
    }
    r->index++;
    if (bad) {
        snprintf(err, errlen, "message %u of %u in a packet from '%.*s' has %s", r->index,
                 r->count, (int)(r->head.sender.len > 64 ? 64 : r->head.sender.len),
                 r->head.sender.ptr, bad);
        return WIRE_PACKET_BAD_MESSAGE;
    }
    return WIRE_PACKET_MESSAGE;
}
