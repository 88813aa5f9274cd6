#include "proxy/redis_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c) {
    return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

/* Copies [p, end) into out, undoing %XX escapes; -1 when it does not fit or
 * an escape is broken. */
static int unescape(const char *p, const char *end, char *out, size_t outlen) {
    size_t k = 0;
    while (p < end) {
        int c = (unsigned char)*p++;
        if (c == '%') {
            if (end - p < 2 || hexval(p[0]) < 0 || hexval(p[1]) < 0) return -1;
            c = hexval(p[0]) * 16 + hexval(p[1]);
            p += 2;
        }
        if (k + 1 >= outlen) return -1;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    return 0;
}

/* "host", "host:port", "[v6]", "[v6]:port" in [p, end). */
static int host_port(const char *p, const char *end, redis_url *u) {
    const char *colon;
    if (p < end && *p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close || close == p + 1 || (size_t)(close - p - 1) >= sizeof u->host) return -1;
        memcpy(u->host, p + 1, (size_t)(close - p - 1));
        u->host[close - p - 1] = '\0';
        colon = close + 1 < end ? close + 1 : NULL;
        if (colon && *colon != ':') return -1;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        const char *hend = colon ? colon : end;
        if (hend == p || (size_t)(hend - p) >= sizeof u->host) return -1;
        memcpy(u->host, p, (size_t)(hend - p));
        u->host[hend - p] = '\0';
    }
    u->port = 6379;
    if (colon) {
        char num[8];
        size_t n = (size_t)(end - colon - 1);
        if (n == 0 || n > 5) return -1;
        memcpy(num, colon + 1, n);
        num[n] = '\0';
        if (strspn(num, "0123456789") != n) return -1;
        u->port = atoi(num);
        if (u->port < 1 || u->port > 65535) return -1;
    }
    return 0;
}

int redis_url_parse(const char *text, redis_url *u, char *err, size_t errlen) {
    memset(u, 0, sizeof *u);
    const char *p = text, *end = text + strlen(text);
    int ok;
    if (strncmp(p, "redis://", 8) == 0) {
        p += 8;
        const char *at = memchr(p, '@', (size_t)(end - p));
        ok = 1;
        if (at) {
            const char *colon = memchr(p, ':', (size_t)(at - p));
            if (!colon) ok = 0; /* "user@host": a user needs a password */
            else ok = unescape(p, colon, u->user, sizeof u->user) == 0 &&
                      unescape(colon + 1, at, u->password, sizeof u->password) == 0 &&
                      u->password[0] != '\0';
            p = at + 1;
        }
        const char *slash = memchr(p, '/', (size_t)(end - p));
        if (ok && slash) {
            size_t n = (size_t)(end - slash - 1);
            if (n) {
                char num[12];
                ok = n < sizeof num;
                if (ok) {
                    memcpy(num, slash + 1, n);
                    num[n] = '\0';
                    ok = strspn(num, "0123456789") == n && atol(num) <= 1000000;
                    u->db = atoi(num);
                }
            }
        }
        ok = ok && host_port(p, slash ? slash : end, u) == 0;
    } else {
        ok = host_port(p, end, u) == 0;
    }
    if (!ok) {
        char masked[300];
        redis_url_mask(text, masked, sizeof masked);
        snprintf(err, errlen, "must be \"host:port\", {host, port} or "
                 "\"redis://[[user]:password@]host[:port][/db]\", got \"%s\"", masked);
        memset(u->password, 0, sizeof u->password);
        return -1;
    }
    return 0;
}

void redis_url_mask(const char *text, char *out, size_t outlen) {
    const char *scheme = strstr(text, "://");
    const char *rest = scheme ? scheme + 3 : text;
    const char *at = strrchr(rest, '@');
    if (!at) {
        snprintf(out, outlen, "%s", text);
        return;
    }
    const char *colon = memchr(rest, ':', (size_t)(at - rest));
    int user = colon ? (int)(colon - rest) : (int)(at - rest);
    snprintf(out, outlen, "%.*s%.*s:***%s", (int)(rest - text), text, user, rest, at);
}
