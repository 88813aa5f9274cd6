/* sysutil.h: small system services the launcher needs around its children. */
#ifndef MARO_LAUNCH_SYSUTIL_H
#define MARO_LAUNCH_SYSUTIL_H

#include <stddef.h>

/* A TCP port on 127.0.0.1 that nothing listens on right now (another
 * process may still take it before we do: callers retry). -1 on error. */
int sysutil_free_port(char *err, size_t errlen);

/* 1 when a Redis server at host:port answers PING within timeout seconds,
 * 0 when not, with the reason in err. With a password (user may be NULL) the
 * connection authenticates first; err never contains the password. */
int sysutil_redis_ping(const char *host, int port, const char *user, const char *password,
                       double timeout, char *err, size_t errlen);

/* A new private directory under $TMPDIR (or /tmp), written into out. */
int sysutil_mkdtemp(const char *prefix, char *out, size_t outlen, char *err, size_t errlen);

/* Removes dir and the plain files in it (no recursion: a private Redis
 * leaves at most a few files there). */
int sysutil_rmdir(const char *dir, char *err, size_t errlen);

/* Writes text into a new file at path that only its owner can read and write
 * (mode 0600); an existing file is never overwritten. */
int sysutil_write_private(const char *path, const char *text, size_t len, char *err,
                          size_t errlen);

/* The absolute path of the running executable. */
int sysutil_self_exe(char *out, size_t outlen, char *err, size_t errlen);

/* "KILL" for SIGKILL; NULL when unknown. */
const char *sysutil_signal_name(int sig);
int sysutil_signal_number(const char *name); /* "TERM", "SIGTERM" or "15"; -1 when unknown */

#endif
