/* inbox.h: where a received message goes. A transmission is decoded as a
 * packet; the packet is checked (group, sender, a copy sent again), every
 * message of it is checked (destination, payload) and followed in the
 * session table, then offered to the waiting call or kept in the receive
 * buffer. Packets are acknowledged to their senders, alone or carried by
 * the packets going their way. */
#ifndef MARO_INBOX_H
#define MARO_INBOX_H

#include "proxy/proxy_impl.h"

/* Reads what has arrived while the buffer is below its bounds; each message
 * goes to take (when given and it takes it) or the buffer. Returns 1 when
 * a bound stopped it. */
int inbox_pump(proxy *p, int (*take)(void *ctx, rx_item *it), void *ctx);
/* Acknowledges what is due (every pending one when all is set: the proxy is
 * about to wait). */
void inbox_acknowledge(proxy *p, int all);
/* The receive buffer is at a bound. */
int inbox_full(proxy *p);

#endif
