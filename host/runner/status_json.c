/* The JSON of `marohost status`: one document on one line. Strings from
 * Redis may hold any byte: quotes, backslashes and control characters are
 * escaped, well-formed UTF-8 passes as it is, and every other byte becomes
 * \u00XX (the byte read as Latin-1), so that the document is always valid
 * UTF-8 and no byte is lost. */
#include <inttypes.h>
#include <string.h>

#include "status_impl.h"

static void put_string(FILE *out, const char *s) {
    size_t left = strlen(s);
    fputc('"', out);
    while (left) {
        unsigned char c = (unsigned char)*s;
        size_t n = c >= 0x80 ? status_utf8_seq(s, left) : 1;
        if (n > 1) fwrite(s, 1, n, out);
        else if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c == '\n') fputs("\\n", out);
        else if (c == '\t') fputs("\\t", out);
        else if (c < 0x20 || c >= 0x80) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
        n = n ? n : 1;
        s += n;
        left -= n;
    }
    fputc('"', out);
}

static void put_count(FILE *out, const char *key, uint64_t n) {
    fprintf(out, ",\"%s\":%" PRIu64, key, n);
}

static void put_member(FILE *out, const status_view *v, const registration *r) {
    fputs("{\"name\":", out);
    put_string(out, r->name);
    fputs(",\"type\":", out);
    put_string(out, r->type);
    fputs(",\"address\":", out);
    put_string(out, r->address);
    fputs(",\"incarnation\":", out);
    put_string(out, r->incarnation);
    long long up = status_up_ms(v, r);
    /* No start time (a registration written by hand): null, not a guess. */
    if (up < 0) fprintf(out, ",\"started_ms\":null,\"up_seconds\":null");
    else fprintf(out, ",\"started_ms\":%lld,\"up_seconds\":%lld", r->started_ms, up / 1000);
    put_count(out, "sent", r->stats.sent);
    put_count(out, "received", r->stats.received);
    put_count(out, "buffered", r->stats.buffered);
    put_count(out, "dropped", r->stats.dropped);
    fprintf(out, ",\"verified\":%s}", v->key_fp ? "true" : "false");
}

void status_print_json(FILE *out, const status_view *v) {
    fputs("{\"group\":", out);
    put_string(out, v->group);
    fprintf(out, ",\"closed\":%s,\"members\":[", v->closed ? "true" : "false");
    for (size_t i = 0; i < v->n; i++) {
        if (i) fputc(',', out);
        put_member(out, v, &v->members[i]);
    }
    fputs("]}\n", out);
}
