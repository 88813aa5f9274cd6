/* The table of `marohost status`: one row a member, columns aligned. Names
 * come from Redis and may hold any byte: a control character or a byte
 * that is not UTF-8 is shown as '?', so that no text can move the cursor
 * or garble the terminal. */
#include <inttypes.h>
#include <string.h>

#include "status_impl.h"

enum { COL_NAME, COL_TYPE, COL_ADDRESS, COL_UP, COL_SENT, COL_RECEIVED, COL_BUFFERED,
       COL_DROPPED, COL_VERIFIED, N_COLS };

static const char *const HEADER[N_COLS] = {"NAME", "TYPE", "ADDRESS", "UP", "SENT", "RECEIVED",
                                           "BUFFERED", "DROPPED", "VERIFIED"};

void status_format_up(long long ms, char *out, size_t outlen) {
    long long s = ms / 1000;
    if (ms < 0) snprintf(out, outlen, "-");
    else if (s < 60) snprintf(out, outlen, "%llds", s);
    else if (s < 3600) snprintf(out, outlen, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400) snprintf(out, outlen, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else snprintf(out, outlen, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

/* Writes s as the terminal should see it (out NULL: only counts); returns
 * the columns it takes. */
static size_t put_text(FILE *out, const char *s) {
    size_t cols = 0, left = strlen(s);
    while (left) {
        unsigned char c = (unsigned char)*s;
        size_t n = c >= 0x80 ? status_utf8_seq(s, left) : 1;
        int shown = n > 1 || (c >= 0x20 && c < 0x7f); /* else a control or stray byte */
        if (!n) n = 1;
        if (out) {
            if (shown) fwrite(s, 1, n, out);
            else fputc('?', out);
        }
        cols++;
        s += n;
        left -= n;
    }
    return cols;
}

/* The text of a cell; numbers go into num. */
static const char *cell(const status_view *v, const registration *r, int col, char *num,
                        size_t numlen) {
    uint64_t count;
    switch (col) {
    case COL_NAME: return r->name;
    case COL_TYPE: return r->type;
    case COL_ADDRESS: return r->address;
    case COL_UP: status_format_up(status_up_ms(v, r), num, numlen); return num;
    case COL_VERIFIED: return v->key_fp ? "yes" : "no";
    case COL_SENT: count = r->stats.sent; break;
    case COL_RECEIVED: count = r->stats.received; break;
    case COL_BUFFERED: count = r->stats.buffered; break;
    default: count = r->stats.dropped; break;
    }
    snprintf(num, numlen, "%" PRIu64, count);
    return num;
}

/* The line that says why what is shown is, or is not, verified; or none. */
static void put_note(FILE *out, const status_view *v) {
    const char *why;
    if (!v->key_fp && v->closed)
        why = "' is closed: these registrations are not verified; --group-key (or "
              "MARO_GROUP_KEY_FILE) verifies them\n";
    else if (v->key_fp && !v->closed && v->has_types) /* members, none of them signed */
        why = "' is open: its registrations are not signed, and with a group key only signed "
              "ones are shown\n";
    else if (v->key_fp && v->closed && strcmp(v->closed_fp, v->key_fp) != 0)
        why = "' is closed with another group key: only registrations signed with this key "
              "are shown\n";
    else
        return;
    fputs("group '", out);
    put_text(out, v->group);
    fputs(why, out);
}

void status_print_table(FILE *out, const status_view *v) {
    put_note(out, v);
    if (v->n == 0) {
        fputs("group '", out);
        put_text(out, v->group);
        fputs("' has no live members\n", out);
        return;
    }
    /* The VERIFIED column is there only when the group is closed. */
    int n_cols = v->closed ? N_COLS : N_COLS - 1;
    size_t width[N_COLS];
    char num[32];
    for (int c = 0; c < n_cols; c++) {
        width[c] = strlen(HEADER[c]);
        for (size_t i = 0; i < v->n; i++) {
            size_t w = put_text(NULL, cell(v, &v->members[i], c, num, sizeof num));
            if (w > width[c]) width[c] = w;
        }
    }
    for (size_t i = 0; i <= v->n; i++) { /* row 0: the header */
        for (int c = 0; c < n_cols; c++) {
            const char *text = i ? cell(v, &v->members[i - 1], c, num, sizeof num) : HEADER[c];
            size_t w = put_text(NULL, text);
            int right = c >= COL_UP && c <= COL_DROPPED; /* numbers, and the up time */
            if (c) fputs("  ", out);
            if (right) fprintf(out, "%*s", (int)(width[c] - w), "");
            put_text(out, text);
            if (!right && c < n_cols - 1) fprintf(out, "%*s", (int)(width[c] - w), "");
        }
        fputc('\n', out);
    }
}
