/* status_impl.h: the parts of `marohost status` (status.h), one job a file:
 * the command line (status_args.c), reading the group (status_read.c), the
 * table (status_table.c), JSON (status_json.c), and the run (status.c). */
#ifndef MARO_STATUS_IMPL_H
#define MARO_STATUS_IMPL_H

#include <stddef.h>
#include <stdio.h>

#include "discovery/redis_conn.h"
#include "discovery/registration.h"
#include "discovery/registry.h"
#include "keys/group_key.h"
#include "proxy/redis_url.h"
#include "wire/utf8.h"

enum { STATUS_OK = 0, STATUS_FAILED = 1, STATUS_USAGE = 2 };

typedef struct status_options {
    const char *group;
    redis_url redis;      /* holds the password: wiped by status_options_wipe */
    const char *key_file; /* NULL: no group key */
    int watch, json, help;
} status_options;

/* 0, or STATUS_USAGE after printing what is wrong. The environment fills
 * what the command line leaves out (an empty variable counts as unset). */
int status_parse_args(const char *progname, int argc, char **argv, status_options *o);
void status_usage(const char *progname, FILE *out);
void status_options_wipe(status_options *o);

/* What one look at the group found. */
typedef struct status_view {
    const char *group;
    int closed;               /* maro:G:closed exists: members hold a group key */
    char closed_fp[65];       /* the fingerprint of that key, as Redis holds it */
    const char *key_fp;       /* the --group-key's fingerprint; NULL: nothing verified */
    int has_types;            /* some type has live entries, shown or not */
    registration *members;    /* sorted by type, then name */
    size_t n;
    long long now_ms;         /* the wall clock when the group was read */
} status_view;

/* Where the group is read from: a connection made again after it broke. */
typedef struct status_source {
    const char *group;
    redis_url url;
    redis_target target; /* points into url */
    redisContext *c;     /* NULL until connected, and after a broken connection */
    group_secrets secrets;
    int has_key;
    registry_keys keys;
} status_source;

/* Loads the key file (if any). 0, or -1 with err. */
int status_source_open(status_source *s, const status_options *o, char *err, size_t errlen);
void status_source_close(status_source *s);
/* Reads the group's live members. 0, or -1 with err (never a password). */
int status_read(status_source *s, status_view *v, char *err, size_t errlen);
void status_view_free(status_view *v);

/* Milliseconds as "42s", "3m12s", "2h05m", "4d03h". */
void status_format_up(long long ms, char *out, size_t outlen);
/* Up time in ms (never negative), or -1 when the registration has no start. */
long long status_up_ms(const status_view *v, const registration *r);
void status_print_table(FILE *out, const status_view *v);
void status_print_json(FILE *out, const status_view *v);

/* The length of the well-formed UTF-8 sequence of two bytes or more at p,
 * or 0: a byte that is ASCII or begins no such sequence. */
static inline size_t status_utf8_seq(const char *p, size_t left) {
    unsigned char c = (unsigned char)*p;
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
             : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    return n && n <= left && utf8_valid(p, n) ? n : 0;
}

#endif
