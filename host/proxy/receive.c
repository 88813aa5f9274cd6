/* receive.c: handing received messages out. What a call wants is taken
 * from the buffer first (older), then from what the one wait brings. */
#include "proxy/loop.h"

rx_item *proxy_take_buffered(proxy *p, proxy_match_fn match, void *ctx) {
    for (rx_item *it = p->buf.head; it; it = it->next) {
        if (match && !match(ctx, &it->h)) continue;
        rxbuf_unlink(&p->buf, it);
        return it;
    }
    return NULL;
}

int proxy_wait(proxy *p, const proxy_wait_spec *w) { return loop_run(p, w, NULL); }

int proxy_session_stage(proxy *p, wire_slice id) { return session_stage(p->sessions, id); }

int proxy_session_possible(proxy *p, wire_slice id) { return session_possible(p->sessions, id); }

unsigned long proxy_departures(proxy *p) { return session_departures(p->sessions); }
