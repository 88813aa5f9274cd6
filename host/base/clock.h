/* clock.h: the monotonic clock that timeouts and maro.now() use. */
#ifndef MARO_CLOCK_H
#define MARO_CLOCK_H

double clock_now(void); /* seconds, monotonic, microsecond resolution */

#endif
