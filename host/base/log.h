/* log.h: one line per event on stderr, filtered by level. */
#ifndef MARO_LOG_H
#define MARO_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The level starts from MARO_LOG_LEVEL (default "info"); marohost's
 * --log-level and maro.log.set_level change it later. */
int log_level(void);
void log_set_level(int level);
int log_parse_level(const char *name); /* -1 when the name is unknown */
const char *log_level_name(int level);
/* The name shown in every line; by default MARO_COMPONENT_NAME, else "marohost". */
void log_set_name(const char *name);

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)

/* A limiter that lets a repeated warning through at most once per interval,
 * and tells how many were held back since the last one that passed. */
typedef struct log_limiter {
    double next;      /* maro clock time from which the next line may pass */
    unsigned long held;
} log_limiter;

/* True when the caller may log now; *held is set to the suppressed count. */
int log_limiter_pass(log_limiter *lim, double interval, unsigned long *held);

#endif
