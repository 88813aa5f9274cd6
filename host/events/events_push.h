/* events_push.h: which unit of each event takes a message (events_push.c,
 * which also implements events_table_push). */
#ifndef MARO_EVENTS_PUSH_H
#define MARO_EVENTS_PUSH_H

#include "events/events_table.h"

/* Puts in t->claimed the unit of every event that wants a message from
 * source with tag, one per event: the first one met going from the longest
 * source prefix down, the exact tag before "*" at each length. Returns how
 * many. Counts as a push (t->push_seq moves on); never allocates. */
size_t events_match(events_table *t, wire_slice source, wire_slice tag);

#endif
