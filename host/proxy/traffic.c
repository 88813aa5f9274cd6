#include "proxy/traffic.h"

#include <stdio.h>

#include "wire/uuid.h"

#define LINE_INTERVAL 0.05 /* seconds between lines, each way */

static int shown(wire_slice s) { return (int)(s.len > 64 ? 64 : s.len); }

void traffic_close(proxy *p) {
    if (p->sent_lim.held || p->recv_lim.held)
        log_debug("'%s' leaves: %lu more messages sent and %lu received were not logged (at "
                  "most one line each way per %g s)", p->name, p->sent_lim.held,
                  p->recv_lim.held, LINE_INTERVAL);
}

void traffic_log(proxy *p, int received, const wire_header *h, size_t payload_len) {
    unsigned long held;
    if (!log_limiter_pass(received ? &p->recv_lim : &p->sent_lim, LINE_INTERVAL, &held)) return;
    char sid[WIRE_UUID_LEN + 1];
    wire_slice session = h->session_id;
    if (h->uuids & WIRE_SESSION_UUID) {
        wire_uuid_format(&h->session_uuid, sid);
        sid[WIRE_UUID_LEN] = '\0';
        session = (wire_slice){sid, WIRE_UUID_LEN};
    }
    char more[64] = "";
    if (held) snprintf(more, sizeof more, "; %lu more %s held back", held,
                       received ? "received" : "sent");
    log_debug("'%s' %s '%.*s' from '%.*s' to '%.*s' (session %.*s, %zu payload bytes%s)",
              p->name, received ? "received" : "sent", shown(h->tag), h->tag.ptr,
              shown(h->source), h->source.ptr, shown(h->destination), h->destination.ptr,
              shown(session), session.ptr ? session.ptr : "", payload_len, more);
}
