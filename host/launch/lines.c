#include "launch/lines.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int use_color(FILE *out) {
    const char *no = getenv("NO_COLOR");
    if (no && *no) return 0;
    return isatty(fileno(out));
}

int lines_init(struct lines *ls, FILE *out, const char *prefix, int color) {
    memset(ls, 0, sizeof *ls);
    ls->out = out;
    size_t n = strlen(prefix) + 16;
    ls->prefix = malloc(n);
    ls->buf = malloc(LINES_MAX);
    if (!ls->prefix || !ls->buf) {
        lines_free(ls);
        return -1;
    }
    if (color > 0 && use_color(out))
        snprintf(ls->prefix, n, "\033[%dm%s\033[0m ", color, prefix);
    else
        snprintf(ls->prefix, n, "%s ", prefix);
    return 0;
}

/* One fwrite per line keeps lines of different children from interleaving
 * within a line: every write goes through this process. */
static void put_line(struct lines *ls, const char *text, size_t n) {
    fputs(ls->prefix, ls->out);
    fwrite(text, 1, n, ls->out);
    fputc('\n', ls->out);
    static const char tb[] = "stack traceback:";
    if (n == 0 || text[0] == '\t' || (n == sizeof tb - 1 && memcmp(text, tb, n) == 0)) return;
    if (n >= LINES_LAST_MAX) n = LINES_LAST_MAX - 1;
    memcpy(ls->last, text, n);
    ls->last[n] = '\0';
}

void lines_feed(struct lines *ls, const char *data, size_t n) {
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (ls->len + take >= LINES_MAX) take = LINES_MAX - ls->len;
        memcpy(ls->buf + ls->len, data, take);
        ls->len += take;
        data += take;
        n -= take;
        if (nl && data == nl) { /* the line is complete */
            data++;
            n--;
            put_line(ls, ls->buf, ls->len);
            ls->len = 0;
        } else if (ls->len == LINES_MAX) {
            put_line(ls, ls->buf, ls->len);
            ls->len = 0;
        }
    }
    fflush(ls->out);
}

void lines_flush(struct lines *ls) {
    if (ls->len == 0) return;
    put_line(ls, ls->buf, ls->len);
    ls->len = 0;
    fflush(ls->out);
}

void lines_free(struct lines *ls) {
    free(ls->prefix);
    free(ls->buf);
    ls->prefix = ls->buf = NULL;
    ls->len = 0;
}
