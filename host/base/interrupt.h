/* interrupt.h: how the program that runs scripts tells the library that a
 * signal asked it to stop. The library never installs signal handlers
 * itself (what SIGINT does is the program's decision: marohost turns it
 * into an error raised in the script, as lua does); it only ends its waits
 * when told, so that the error can be raised. Without a program that
 * installs a source (a plain lua5.4 loading maro.core), nothing changes. */
#ifndef MARO_INTERRUPT_H
#define MARO_INTERRUPT_H

#include <signal.h>

/* fd: readable once a signal came (polled next to the sockets); flag: the
 * signal number, set by the program's handler. */
void interrupt_install(int fd, volatile sig_atomic_t *flag);
int interrupt_fd(void);      /* -1 when none is installed */
int interrupt_pending(void); /* the signal number, or 0 */

#endif
