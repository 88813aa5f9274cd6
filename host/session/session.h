/* session.h: the sessions a proxy started and still waits on: the stage
 * seen so far, how many final replies are still to come, and which peers
 * owe them (so that a wait ends when a peer that owes a reply is gone for
 * good). A session is forgotten when its last final reply arrives; the
 * table holds at most a fixed number, and drops the oldest (sessions
 * nobody answers, such as notifications) to stay within it. */
#ifndef MARO_SESSION_H
#define MARO_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "wire/header.h"

typedef struct session_table session_table;

#define SESSION_NOT_SENT UINT64_MAX /* a request kept for a peer that is down */

session_table *session_table_new(size_t max_sessions); /* NULL when out of memory */
void session_table_free(session_table *t);

/* Records a session this proxy started (any type: plain messages too) that
 * waits for `replies` final replies (several after a broadcast). Starting a
 * known session adds to its count. 1 when the session is new, 0 when it
 * was known, -1 when out of memory. */
int session_start(session_table *t, wire_slice id, int type, int replies);
/* Takes back `replies` a send that failed will not get. A session that
 * send started itself (`is_new`: session_start returned 1) and that now
 * waits for nothing is forgotten: nothing of it left. */
void session_unstart(session_table *t, wire_slice id, int replies, int is_new);
/* The request of a session went to peer `key` in packet `seq`. 0, or -1. */
int session_owe(session_table *t, wire_slice id, uint32_t key, uint64_t seq);

enum { SESSION_DELIVER = 0, SESSION_SWALLOW = 1 };

/* Updates the table for an arriving message; key_of(ctx, h->source) gives
 * the number of its sender (0 when unknown), asked only for a final reply to
 * a session in the table. SESSION_SWALLOW: an ack of a task we started,
 * which only moves the stage and is never delivered. */
int session_on_arrival(session_table *t, const wire_header *h,
                       uint32_t (*key_of)(void *ctx, wire_slice name), void *ctx);

/* The stage seen for a session we wait on, or STAGE_NONE when unknown. */
int session_stage(session_table *t, wire_slice id);

/* Peer `key` will not answer the requests it got in packets up to `upto`
 * (UINT64_MAX: any): its replies are given up. Returns how many. */
size_t session_peer_gone(session_table *t, uint32_t key, uint64_t upto);
/* How many replies a session can still get, or -1 when it is not followed. */
int session_possible(session_table *t, wire_slice id);
/* Grows whenever session_peer_gone gave replies up. */
unsigned long session_departures(const session_table *t);

size_t session_count(const session_table *t);
/* How many unfinished sessions were dropped to stay within the bound. */
unsigned long session_evicted(const session_table *t);

#endif
