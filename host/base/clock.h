/* clock.h: the monotonic clock that timeouts and maro.now() use, and the
 * condition variables that threads wait on with timeouts on that clock. */
#ifndef MARO_CLOCK_H
#define MARO_CLOCK_H

#include <pthread.h>
#include <time.h>

double clock_now(void); /* seconds, monotonic, microsecond resolution */
/* Milliseconds since 1970 by the wall clock: for times people read (a
 * member's start), never for timeouts. */
long long clock_wall_ms(void);

/* A condition variable whose timed waits take clock_now() times: a wall
 * clock set back by an hour must not hold a waiting thread for an hour. */
void clock_cond_init(pthread_cond_t *c);
/* t, a clock_now() time, as pthread_cond_timedwait wants it. */
struct timespec clock_timespec(double t);

#endif
