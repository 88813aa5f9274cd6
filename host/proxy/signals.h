/* signals.h: SIGINT and SIGTERM make every open proxy leave its group, then
 * the process exits with status 128 + the signal number. The handler only
 * records the signal, writes to a self-pipe (so a zmq_poll wakes up) and
 * sets a Lua hook (so a script busy computing stops at its next call); the
 * leaving happens outside the handler. */
#ifndef MARO_SIGNALS_H
#define MARO_SIGNALS_H

#include <lua.h>

/* Installs the handlers with the first watcher. leave(ctx) runs on a
 * signal, and at exit() for watchers still there (a script that calls
 * os.exit without closing its proxies still leaves its group). */
int signals_watch(lua_State *L, void (*leave)(void *ctx), void *ctx);
/* Removes a watcher; the last one restores the previous handlers. */
void signals_unwatch(void *ctx);
/* The read end of the self-pipe for poll, or -1. */
int signals_fd(void);
/* Empties the self-pipe after poll saw it readable. */
void signals_drain(void);
/* The signal waiting to be acted on, or 0. */
int signals_pending(void);
/* When a signal came: runs every leave callback and exits. Otherwise returns. */
void signals_act(void);

#endif
