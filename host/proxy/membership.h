/* membership.h: brings the peer table in line with discovery. A member
 * that appears is connected; one that comes back at another address or as
 * another run is reconnected (what it never acknowledged is sent again
 * with the rejoin cache, else counted as lost); one that is missing from
 * the registry is dropped only after it has been missing longer than its
 * expiry, or at once when it said goodbye, so that a Redis restarted empty
 * never makes live members drop each other. */
#ifndef MARO_MEMBERSHIP_H
#define MARO_MEMBERSHIP_H

#include "proxy/proxy_impl.h"

/* Applies what discovery learned and what time alone decides (expiries).
 * Cheap when nothing changed: call it before every use of the table. */
void membership_sync(proxy *p);
/* The same, with the time already read (the loop reads it once a turn). */
void membership_sync_at(proxy *p, double now);
/* When membership_sync has work to do even if nothing is announced. */
double membership_due(const proxy *p);
/* Follows a type from now on. 0, or -1 when out of memory. */
int membership_follow(proxy *p, const char *type);
/* The peer of that name: from the table, else looked up (waiting at most
 * timeout seconds for the registry), connected and its type followed.
 * NULL with err naming the name and the group. */
peer *membership_find(proxy *p, wire_slice name, double timeout, char *err, size_t errlen);
/* How many messages peers were sent or kept that are not known to have
 * arrived (at close). */
uint64_t membership_undelivered(proxy *p);

#endif
