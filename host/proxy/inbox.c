#include "proxy/inbox.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "proxy/membership.h"
#include "wire/packet.h"
#include "wire/payload.h"

#define ACK_AFTER_PACKETS 32 /* a stream is acknowledged at least this often... */
#define ACK_DELAY 0.002      /* ...and a lone packet within this (when the proxy is in use) */
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
static void accept_message(proxy *p, const wire_header *h, wire_slice payload, blob *owner,
                           int (*take)(void *, rx_item *), void *ctx) {
    char err[300];
    if (!same(h->destination, p->name) && !same(h->destination, p->type)) {
        snprintf(err, sizeof err, "it is addressed to '%.*s', not to this member ('%s', of "
                 "type '%s')", (int)(h->destination.len > 64 ? 64 : h->destination.len),
                 h->destination.ptr, p->name, p->type);
        drop(p, err);
        return;
    }
    if (payload_decode(NULL, payload.ptr, payload.len, err, sizeof err) != 0) {
        drop(p, err);
        return;
    }
    peer *from = peer_table_find(&p->peers, h->source.ptr, h->source.len);
    if (session_on_arrival(p->sessions, h, from ? from->key : 0) == SESSION_SWALLOW) return;
    rx_item *it = rx_item_new(h, payload.ptr, payload.len, owner);
    if (!it) {
        drop(p, "out of memory while keeping a message");
        return;
    }
    p->received++;
    if (!take || !take(ctx, it)) rxbuf_push(&p->buf, it);
}

/* A sender's acknowledgement of our packets, and the note that we owe it one. */
static sender *follow_sender(proxy *p, const wire_packet_head *head, double now) {
    if (head->has_ack && memcmp(head->ack_incarnation, p->incarnation, WIRE_INCARNATION_LEN) == 0) {
        peer *pe = peer_table_find(&p->peers, head->sender.ptr, head->sender.len);
        if (pe) transport_acked(p->tr, pe->tp, head->ack_seq);
    }
    if (head->seq == 0) return NULL; /* an acknowledgement alone */
    return senders_get(&p->senders, head->incarnation, head->sender.ptr, head->sender.len, now);
}

/* Opens a transmission: checks its packet head and notes its sender.
 * 0, or -1 when it was dropped whole. */
static int open_transmission(proxy *p, transport_rx *rx, wire_packet_reader *r) {
    char err[300];
    if (wire_packet_open(r, blob_data(rx->packet), blob_size(rx->packet), rx->n_frames, err,
                         sizeof err) != 0) {
        drop(p, err);
        return -1;
    }
    if (!same(r->head.group, p->group)) {
        snprintf(err, sizeof err, "its packet names group '%.*s', not '%s'",
                 (int)(r->head.group.len > 64 ? 64 : r->head.group.len), r->head.group.ptr,
                 p->group);
        drop(p, err);
        return -1;
    }
    double now = clock_now();
    sender *s = follow_sender(p, &r->head, now);
    if (s) {
        if (r->head.seq <= s->last_seq) { /* a copy sent again after a reconnection */
            p->dropped++;
            p->duplicates++;
            log_debug("dropped packet %llu from '%s': a copy of one received already",
                      (unsigned long long)r->head.seq, s->name);
            if (!s->unacked++) s->pending_since = now; /* it should hear that we have it */
            return -1;
        }
        s->last_seq = r->head.seq;
        if (!s->unacked++) s->pending_since = now;
    }
    return 0;
}

/* Takes messages out of the open transmission while the buffer has room;
 * 1 when the transmission is done. */
static int read_messages(proxy *p, int (*take)(void *, rx_item *), void *ctx) {
    transport_rx *rx = &p->rx;
    wire_header h;
    wire_slice payload;
    int frame;
    char err[300];
    for (;;) {
        if (take == NULL && inbox_full(p)) return 0;
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

int inbox_pump(proxy *p, int (*take)(void *ctx, rx_item *it), void *ctx) {
    for (;;) {
        /* A transmission may hold many messages: it is read as far as the
         * bounds allow, and the rest waits for the next pump. */
        if (p->rx_open) {
            if (!read_messages(p, take, ctx)) return 1;
            transport_rx_free(&p->rx);
            p->rx_open = 0;
        }
        if (inbox_full(p)) return 1;
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
    }
}

void inbox_acknowledge(proxy *p, int all) {
    double now = clock_now();
    for (size_t i = 0; i < p->senders.n; i++) {
        sender *s = p->senders.all[i];
        if (!s->unacked) continue;
        if (!all && s->unacked < ACK_AFTER_PACKETS && now - s->pending_since < ACK_DELAY) continue;
        peer *pe = peer_table_find(&p->peers, s->name, strlen(s->name));
        if (!pe && now >= s->resolve_at) {
            /* A sender that is no peer yet: look it up once in a while, since
             * it is owed an acknowledgement (and, likely, a reply). */
            char err[300];
            s->resolve_at = now + RESOLVE_EVERY;
            pe = membership_find(p, s->name, 0.05, err, sizeof err);
            if (!pe) log_debug("cannot acknowledge what '%s' sent: %s", s->name, err);
        }
        if (!pe || pe->state != PEER_LIVE) continue;
        transport_set_ack(p->tr, pe->tp, s->incarnation, s->last_seq);
        s->acked_seq = s->last_seq;
        s->unacked = 0;
        if (!all) transport_flush(p->tr, pe->tp); /* a wait flushes them all itself */
    }
}
