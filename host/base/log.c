#include "base/log.h"
#include "base/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *level_names[] = {"error", "warn", "info", "debug"};
static int current_level = -1; /* -1: not read from the environment yet */
static char log_name[64]; /* empty until set or first used */

int log_parse_level(const char *name) {
    if (!name) return -1;
    for (int i = 0; i <= LOG_DEBUG; i++)
        if (strcasecmp(name, level_names[i]) == 0) return i;
    if (strcasecmp(name, "warning") == 0) return LOG_WARN;
    return -1;
}

const char *log_level_name(int level) {
    return (level >= 0 && level <= LOG_DEBUG) ? level_names[level] : "?";
}

int log_level(void) {
    if (current_level < 0) {
        const char *env = getenv("MARO_LOG_LEVEL");
        int lvl = log_parse_level(env);
        current_level = LOG_INFO;
        if (env && *env && lvl < 0)
            log_warn("MARO_LOG_LEVEL=%s is not one of error, warn, info, debug; using info", env);
        else if (lvl >= 0)
            current_level = lvl;
    }
    return current_level;
}

void log_set_level(int level) {
    if (level >= LOG_ERROR && level <= LOG_DEBUG) current_level = level;
}

void log_set_name(const char *name) {
    snprintf(log_name, sizeof log_name, "%s", name && *name ? name : "marohost");
}

void log_write(int level, const char *fmt, ...) {
    if (level > log_level()) return;
    /* A component started by marohost launch is named by its instance. */
    if (!log_name[0]) log_set_name(getenv("MARO_COMPONENT_NAME"));
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, log_name, (int)getpid(),
                     log_level_name(level));
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof line) {
        int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
        n = (m < 0) ? n : n + m;
    }
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line - 1) n = sizeof line - 2; /* cut, but keep one line */
    /* One line stays one line even when a message carries newlines. */
    for (int i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
}

int log_limiter_pass(log_limiter *lim, double interval, unsigned long *held) {
    double now = clock_now();
    if (now < lim->next) {
        lim->held++;
        return 0;
    }
    *held = lim->held;
    lim->held = 0;
    lim->next = now + interval;
    return 1;
}
