/* redis_url.h: where a group's Redis is and how to log in to it, from the
 * forms redis_address and MARO_REDIS accept: "host:port", "[v6]:port",
 * "host" (port 6379) and "redis://[[user]:password@]host[:port][/db]". */
#ifndef MARO_REDIS_URL_H
#define MARO_REDIS_URL_H

#include <stddef.h>

typedef struct redis_url {
    char host[256];
    int port;
    char user[256], password[512]; /* empty: none */
    int db;
} redis_url;

/* 0, or -1 with err saying what is wrong (the text is never quoted with
 * its password in it). */
int redis_url_parse(const char *text, redis_url *out, char *err, size_t errlen);
/* text with its password replaced by ***, for messages. */
void redis_url_mask(const char *text, char *out, size_t outlen);

#endif
