/* stop_signals.h: what SIGINT and SIGTERM do to a script run by marohost,
 * as lua does with Ctrl-C: they raise an error in the script ("interrupted
 * by SIGINT"), whether it computes or waits in a proxy; the script ends,
 * its proxies leave their groups as the state closes, and marohost exits
 * with 128 + the signal number. A second signal ends the process at once.
 * A signal ignored when marohost started (nohup) stays ignored. */
#ifndef MARO_STOP_SIGNALS_H
#define MARO_STOP_SIGNALS_H

#include <lua.h>

/* Installs the handlers for the script running in L. L NULL: a command that
 * runs no script (marohost status) polls interrupt_fd() and
 * stop_signals_caught() instead of getting an error. */
void stop_signals_install(lua_State *L);
/* The signal that asked to stop, or 0. */
int stop_signals_caught(void);
/* Stops raising errors (the script has ended; the state is closing). */
void stop_signals_quiet(void);

#endif
