/* watch.h: noticing that a file was saved, and SIGHUP.
 *
 * A watch follows one file by watching its directory with inotify, because
 * editors save by writing a temporary file and renaming it over the old one:
 * a watch on the file itself would follow the old inode. Everything is
 * non-blocking: watch_changed only looks at what the kernel queued, so a
 * loop can call it between receives, or poll watch_fd next to its sockets.
 *
 *   watch.c  the inotify watch
 *   hup.c    SIGHUP as a counter and a self-pipe
 *   watch_lua.c  maro.core.Watcher
 */
#ifndef MARO_WATCH_H
#define MARO_WATCH_H

#include <stddef.h>

typedef struct watch watch;

/* Watches path's directory for path's name being written and closed, or
 * renamed or moved into place. NULL with a reason in err. */
watch *watch_open(const char *path, char *err, size_t errlen);
void watch_close(watch *w);
/* The inotify descriptor: readable when something may have changed. */
int watch_fd(const watch *w);
/* 1 when the file was saved since the last call, else 0. Never blocks. */
int watch_changed(watch *w);

/* ---- hup.c ----------------------------------------------------------------- */

/* Installs the SIGHUP handler (with the first user; 0, or -1 with errno). */
int hup_acquire(void);
/* The last user puts the previous disposition back. */
void hup_release(void);
/* SIGHUPs received since the process started (only counted while installed). */
unsigned long hup_count(void);
/* The read end of a pipe that becomes readable on SIGHUP, or -1. */
int hup_fd(void);
/* Empties that pipe after a poll saw it readable. */
void hup_drain(void);

#endif
