/* inbox.h: where a received message goes. A transmission is decoded as a
 * packet; the packet is checked (group, sender, a copy sent again), every
 * message of it is checked (destination, payload) and followed in the
 * session table, then offered to the waiting call or kept in the receive
 * buffer. Packets are acknowledged to their senders, alone or carried by
 * the packets going their way. */
#ifndef MARO_INBOX_H
#define MARO_INBOX_H

#include "proxy/proxy_impl.h"

/* Reads what has arrived while the buffer is below its bounds and the wait
 * w is not done; each message goes to w->take (when it takes it) or the
 * buffer. What it did not read of a transmission stays for the next pump:
 * a receive that takes one message at a time takes each as it comes, never
 * copied into the buffer. Returns 1 when a bound stopped it. */
int inbox_pump(proxy *p, const proxy_wait_spec *w);
/* Hands the acknowledgements owed to the transport, to ride on the next
 * packet to each sender, and sends alone those that waited long enough
 * (every one when all is set: the proxy is leaving). now: clock_now(). */
void inbox_acknowledge(proxy *p, double now, int all);
/* When inbox_acknowledge next has something to send alone. */
double inbox_ack_due(const proxy *p, double now);
/* The receive buffer is at a bound. */
int inbox_full(proxy *p);

#endif
