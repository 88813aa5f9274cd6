/* lines.h: cuts a child's output stream into lines and writes each line to
 * one of our streams behind the child's name. */
#ifndef MARO_LAUNCH_LINES_H
#define MARO_LAUNCH_LINES_H

#include <stddef.h>
#include <stdio.h>

/* A line longer than this is written in pieces, so a child that never ends
 * its line cannot make us hold unbounded memory. */
#define LINES_MAX (64 * 1024)

/* The last line worth quoting when a child fails, cut to this many bytes. */
#define LINES_LAST_MAX 512

struct lines {
    FILE *out;
    char *prefix; /* "worker.3 | ", coloured when out is a terminal */
    char *buf;    /* the partial line seen so far */
    size_t len;
    /* The last line written that is not part of a Lua traceback ("stack
     * traceback:" and the tab-indented lines under it): for an instance that
     * died of an error, its message. */
    char last[LINES_LAST_MAX];
};

/* color is an ANSI foreground code (31..37, 91..96) or 0 for none; it is used
 * only when out is a terminal and NO_COLOR is unset. Returns -1 on no memory. */
int lines_init(struct lines *ls, FILE *out, const char *prefix, int color);
void lines_feed(struct lines *ls, const char *data, size_t n);
/* Writes a partial last line (ending it), e.g. when the stream is closed. */
void lines_flush(struct lines *ls);
void lines_free(struct lines *ls);

#endif
