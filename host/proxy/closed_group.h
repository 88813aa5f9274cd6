/* closed_group.h: what a group key adds to a proxy (docs/security.md): the
 * secrets derived from the key file, a transport that lets in only the
 * keys discovery finds in members' signed registrations, and, for a group
 * without a key, a warning when it listens beyond loopback. */
#ifndef MARO_CLOSED_GROUP_H
#define MARO_CLOSED_GROUP_H

#include <stddef.h>

#include "proxy/proxy_impl.h"

/* Reads c->group_key_file, if given: p becomes closed. 0, or -1 with err
 * naming the option. */
int closed_group_load(proxy *p, const proxy_config *c, char *err, size_t errlen);
/* In a closed group, makes tc authorize connecting keys through
 * p->authorizer. */
void closed_group_secure(proxy *p, transport_config *tc);
/* Warns once when an open group binds an address beyond loopback. */
void closed_group_warn_if_open(const proxy *p, const char *bind_host);

#endif
