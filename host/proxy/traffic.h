/* traffic.h: with the log level at debug, one line per message a proxy
 * sends or receives (tag, source, destination, session id, payload bytes),
 * at most 20 lines a second each way; the next line that passes says how
 * many were held back. Costs one comparison per message otherwise. */
#ifndef MARO_TRAFFIC_H
#define MARO_TRAFFIC_H

#include <stddef.h>

#include "base/log.h"
#include "proxy/proxy_impl.h"

void traffic_log(proxy *p, int received, const wire_header *h, size_t payload_len);
/* At close: how many lines were held back since the last that passed. */
void traffic_close(proxy *p);

static inline void traffic_note(proxy *p, int received, const wire_header *h,
                                size_t payload_len) {
    if (log_level() >= LOG_DEBUG) traffic_log(p, received, h, payload_len);
}

#endif
