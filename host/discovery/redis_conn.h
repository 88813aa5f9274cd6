/* redis_conn.h: one connection to Redis as a member needs it: connected
 * within a timeout, authenticated (AUTH password, or AUTH user password
 * for an ACL user), with its database selected, and with replies bounded
 * by a timeout so that a hung server cannot hang the caller. Error texts
 * never contain the password. */
#ifndef MARO_REDIS_CONN_H
#define MARO_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>

typedef struct redis_target {
    const char *host;
    int port;
    const char *user, *password; /* NULL: no AUTH */
    int db;
} redis_target;

/* NULL with err when the server cannot be reached, refuses the password or
 * the database. timeout: seconds for connecting and for every reply. */
redisContext *redis_conn_open(const redis_target *t, double timeout, char *err, size_t errlen);

/* Runs a command (lens: the arguments' lengths, or NULL for C strings).
 * NULL with err on an error reply (the connection stays) or a broken
 * connection (*c is freed and set to NULL). */
redisReply *redis_conn_command(redisContext **c, const redis_target *t, int argc,
                               const char **argv, const size_t *lens, char *err,
                               size_t errlen);

/* The text for an error reply of the server at t: "Redis at host:port
 * answered: ...", or where the password goes when it wants one. */
void redis_conn_error(const redis_target *t, const char *reply, char *err, size_t errlen);

#endif
