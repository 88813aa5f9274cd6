/* session.h: the sessions a proxy started and still waits on, with the
 * stage seen so far. A session is forgotten when its last final reply
 * arrives; the table holds at most a fixed number, and drops the oldest
 * (sessions nobody answers, such as notifications) to stay within it. */
#ifndef MARO_SESSION_H
#define MARO_SESSION_H

#include <stddef.h>

#include "wire/header.h"

typedef struct session_table session_table;

session_table *session_table_new(size_t max_sessions); /* NULL when out of memory */
void session_table_free(session_table *t);

/* Records a session this proxy started (type SESSION_TASK or
 * SESSION_NOTIFICATION) that waits for `replies` final replies (several
 * after a broadcast). Starting a known session adds to its count.
 * Returns 0, or -1 when out of memory. */
int session_start(session_table *t, wire_slice id, int type, int replies);

enum { SESSION_DELIVER = 0, SESSION_SWALLOW = 1 };

/* Updates the table for an arriving message. SESSION_SWALLOW: an ack of a
 * task we started, which only moves the stage and is never delivered. */
int session_on_arrival(session_table *t, const wire_header *h);

/* The stage seen for a session we wait on, or STAGE_NONE when unknown. */
int session_stage(session_table *t, wire_slice id);

size_t session_count(const session_table *t);
/* How many unfinished sessions were dropped to stay within the bound. */
unsigned long session_evicted(const session_table *t);

#endif
