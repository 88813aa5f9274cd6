#include "base/clock.h"

#include <time.h>

double clock_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* Microsecond resolution, as documented for maro.now(). */
    return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000) / 1e6;
}
