#include "proxy/inbox.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "proxy/membership.h"
#include "proxy/traffic.h"
#include "wire/packet.h"
#include "wire/payload.h"

/* An acknowledgement rides on the next packet to its sender; when none goes
 * that way, it is sent alone after ACK_DELAY (or ACK_AFTER_PACKETS packets),
 * so that request and reply cost no extra packet, and a broadcast's 32
 * replies no 32 extra ones. */
#define ACK_AFTER_PACKETS 64
#define ACK_DELAY 0.01
#define RESOLVE_EVERY 2.0    /* seconds between lookups of a sender that is not a peer */

static void drop(proxy *p, const char *why) {
    p->dropped++;
    unsigned long held;
    if (log_limiter_pass(&p->drop_lim, 5.0, &held))
        log_warn("dropped a message received by '%s' (%lu dropped so far, %lu lines held "
                 "back): %s", p->name, p->dropped, held, why);
}

static int same(wire_slice s, const char *z) {
    size_t n = strlen(z);
    return s.len == n && memcmp(s.ptr, z, n) == 0;
}

static int same_slice(wire_slice a, wire_slice b) {
    return a.len == b.len && (a.ptr == b.ptr || memcmp(a.ptr, b.ptr, a.len) == 0);
}

#define SHOWN(s) (int)((s).len > 64 ? 64 : (s).len), (s).ptr /* a name in a log line */

int inbox_full(proxy *p) {
    if (p->buf.count < p->cfg.max_buffered_messages && p->buf.bytes < p->cfg.max_buffered_bytes)
        return 0;
    unsigned long held;
    if (log_limiter_pass(&p->full_lim, 5.0, &held))
        log_warn("'%s' holds %zu received messages (%zu bytes) that no receive took yet (the "
                 "bound: max_buffered_messages %zu, max_buffered_bytes %zu); it reads no more "
                 "from the network until a receive takes some, so senders wait", p->name,
                 p->buf.count, p->buf.bytes, p->cfg.max_buffered_messages,
                 p->cfg.max_buffered_bytes);
    return 1;
}

/* One message of a packet, checked: handed to take or buffered. */
/* The session key of a reply's source: looked up only for replies to
 * sessions this proxy follows. */
static uint32_t key_of(void *ctx, wire_slice name) {
    proxy *p = ctx;
    /* A message's source is its packet's sender (accept_message checks). */
    peer *pe = p->rx_sender ? peer_table_find_sender(&p->peers, p->rx_sender)
                            : peer_table_find(&p->peers, name.ptr, name.len);
    return pe ? pe->key : 0;
}

static void accept_message(proxy *p, const wire_header *h, wire_slice payload, blob *owner,
                           int (*take)(void *, const proxy_arrival *), void *ctx) {
    char err[300];
    if (!same(h->destination, p->name) && !same(h->destination, p->type)) {
        snprintf(err, sizeof err, "it is addressed to '%.*s', not to this member ('%s', of "
                 "type '%s')", SHOWN(h->destination), p->name, p->type);
        drop(p, err);
        return;
    }
    /* A member speaks for itself: forward() makes the forwarder the source. */
    wire_slice sender = p->reader.head.sender;
    if (!same_slice(h->source, sender)) {
        snprintf(err, sizeof err, "its source is '%.*s', but '%.*s' sent it", SHOWN(h->source),
                 SHOWN(sender));
        drop(p, err);
        return;
    }
    if (payload_decode(NULL, payload.ptr, payload.len, err, sizeof err) != 0) {
        drop(p, err);
        return;
    }
    if (session_on_arrival(p->sessions, h, key_of, p) == SESSION_SWALLOW) return;
    p->received++;
    traffic_note(p, 1, h, payload.len);
    proxy_arrival m = {h, payload.ptr, payload.len, owner};
    if (take && take(ctx, &m)) return; /* handed out as it came: nothing copied */
    rx_item *it = rx_item_new(h, payload.ptr, payload.len, owner);
    if (!it) {
        drop(p, "out of memory while keeping a message");
        return;
    }
    rxbuf_push(&p->buf, it);
}

/* A sender's acknowledgement of our packets, and the note that we owe it one. */
static sender *follow_sender(proxy *p, const wire_packet_head *head, double now) {
    sender *s = head->seq == 0 ? NULL /* an acknowledgement alone */
                               : senders_get(&p->senders, head->incarnation, head->sender.ptr,
                                             head->sender.len, now);
    if (head->has_ack && memcmp(head->ack_incarnation, p->incarnation, WIRE_INCARNATION_LEN) == 0) {
        peer *pe = s ? peer_table_find_sender(&p->peers, s)
                     : peer_table_find(&p->peers, head->sender.ptr, head->sender.len);
        if (pe) transport_acked(p->tr, pe->tp, head->ack_seq);
    }
    return s;
}

/* Opens a transmission: checks its packet head and notes its sender.
 * 0, or -1 when it was dropped whole. */
static int open_transmission(proxy *p, transport_rx *rx, wire_packet_reader *r) {
    char err[300];
    p->rx_sender = NULL;
    if (wire_packet_open(r, blob_data(rx->packet), blob_size(rx->packet), rx->n_frames, err,
                         sizeof err) != 0) {
        drop(p, err);
        return -1;
    }
    if (!same(r->head.group, p->group)) {
        snprintf(err, sizeof err, "its packet names group '%.*s', not '%s'", SHOWN(r->head.group),
                 p->group);
        drop(p, err);
        return -1;
    }
    /* In a closed group the connection proves who sent a packet. */
    if (p->closed && !same(r->head.sender, rx->peer)) {
        snprintf(err, sizeof err, "its packet says it is from '%.*s', but it came over the "
                 "connection of '%.64s'", SHOWN(r->head.sender), rx->peer);
        drop(p, err);
        return -1;
    }
    double now = clock_now();
    sender *s = p->rx_sender = follow_sender(p, &r->head, now);
    if (s) {
        if (r->head.seq <= s->last_seq) { /* a copy sent again after a reconnection */
            p->dropped++;
            p->duplicates++;
            log_debug("dropped packet %llu from '%s': a copy of one received already",
                      (unsigned long long)r->head.seq, s->name);
            s->unacked++; /* it should hear that we have it */
            return -1;
        }
        s->last_seq = r->head.seq;
        s->unacked++;
    }
    return 0;
}

/* Takes messages out of the open transmission while the buffer has room;
 * 1 when the transmission is done. */
static int read_messages(proxy *p, const proxy_wait_spec *w) {
    int (*take)(void *, const proxy_arrival *) = w ? w->take : NULL;
    void *ctx = w ? w->ctx : NULL;
    transport_rx *rx = &p->rx;
    wire_header h;
    wire_slice payload;
    int frame;
    char err[300];
    for (;;) {
        if (take == NULL && inbox_full(p)) return 0;
        if (w && w->done && w->done(ctx)) return 0; /* the rest waits for the next pump */
        int rc = wire_packet_next(&p->reader, &h, &payload, &frame, err, sizeof err);
        if (rc == WIRE_PACKET_END) return 1;
        if (rc == WIRE_PACKET_BROKEN) {
            drop(p, err);
            return 1;
        }
        if (rc == WIRE_PACKET_BAD_MESSAGE) {
            drop(p, err);
            continue;
        }
        blob *owner = rx->packet;
        if (frame >= 0) {
            owner = rx->frames[frame];
            payload = (wire_slice){blob_data(owner), blob_size(owner)};
        }
        accept_message(p, &h, payload, owner, take, ctx);
        if (take && inbox_full(p)) return 0;
    }
}

int inbox_pump(proxy *p, const proxy_wait_spec *w) {
    for (;;) {
        /* A transmission may hold many messages: it is read as far as the
         * bounds and the wait allow, and the rest waits for the next pump. */
        if (p->rx_open) {
            if (!read_messages(p, w)) return inbox_full(p);
            transport_rx_free(&p->rx);
            p->rx_open = 0;
        }
        if (inbox_full(p) || (w && w->done && w->done(w->ctx))) return inbox_full(p);
        char err[256];
        int rc = transport_try_recv(p->tr, &p->rx, err, sizeof err);
        if (rc == 0) return 0;
        if (rc < 0) {
            drop(p, err);
            continue;
        }
        if (open_transmission(p, &p->rx, &p->reader) != 0) {
            transport_rx_free(&p->rx);
            continue;
        }
        p->rx_open = 1;
        p->rx_opened++;
    }
}

/* The peer a sender is, looked up once in a while when it is none yet: it
 * is owed an acknowledgement (and, likely, a reply). */
static peer *sender_peer(proxy *p, sender *s, double now) {
    peer *pe = peer_table_find_sender(&p->peers, s);
    if (!pe && now >= s->resolve_at) {
        char err[300];
        s->resolve_at = now + RESOLVE_EVERY;
        pe = membership_find(p, (wire_slice){s->name, strlen(s->name)}, 0.05, err, sizeof err);
        if (!pe) log_debug("cannot acknowledge what '%s' sent: %s", s->name, err);
    }
    return pe && pe->state == PEER_LIVE ? pe : NULL;
}

/* An acknowledgement held back (flush_at) that must now go alone. */
static int flush_due(const sender *s, double now, int all) {
    return all || now >= s->flush_at || s->since_flush >= ACK_AFTER_PACKETS;
}

void inbox_acknowledge(proxy *p, double now, int all) {
    for (size_t i = 0; i < p->senders.n; i++) {
        sender *s = p->senders.all[i];
        /* A receive loop turns once a message, and packets hold many: the
         * peer is looked up only when there is something to do. */
        if (!s->unacked && (!s->flush_at || !flush_due(s, now, all))) continue;
        peer *pe = sender_peer(p, s, now);
        if (!pe) continue;
        if (s->unacked) {
            /* The next packet its way carries it. It waits for that packet
             * ACK_DELAY (or ACK_AFTER_PACKETS) from when the one before went
             * out: traffic both ways never needs a packet of its own. */
            int waiting = transport_set_ack(p->tr, pe->tp, s->incarnation, s->last_seq);
            if (!waiting) s->since_flush = 0;
            if (!waiting || !s->flush_at) s->flush_at = now + ACK_DELAY;
            s->acked_seq = s->last_seq;
            s->since_flush += s->unacked;
            s->unacked = 0;
        }
        if (flush_due(s, now, all)) {
            transport_flush(p->tr, pe->tp); /* alone, unless a packet carried it meanwhile */
            s->flush_at = 0;
            s->since_flush = 0;
        }
    }
}

/* Only what can be sent is due: an acknowledgement owed to a member that is
 * down waits for a membership change, which wakes the loop anyway, and one
 * owed to a member not known yet waits for its next lookup. The peer table
 * is only asked about what looks due. */
double inbox_ack_due(const proxy *p, double now) {
    double due = 1e300;
    for (size_t i = 0; i < p->senders.n; i++) {
        sender *s = p->senders.all[i];
        if (!s->unacked && !s->flush_at) continue;
        double at = s->unacked ? 0 : s->flush_at;
        if (at <= now) {
            const peer *pe = peer_table_find_sender(&p->peers, s);
            at = !pe ? s->resolve_at : pe->state != PEER_LIVE ? 1e300 : at;
        }
        if (at < due) due = at;
    }
    return due;
}
