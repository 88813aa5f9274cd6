/* supervisor.h: the launcher's children, their output, and the signals that
 * concern them, in one poll loop. One supervisor per process at a time: it
 * owns the process's handling of SIGINT, SIGTERM and SIGCHLD. */
#ifndef MARO_LAUNCH_SUPERVISOR_H
#define MARO_LAUNCH_SUPERVISOR_H

#include <stddef.h>
#include <sys/types.h>

#include "launch/lines.h"
#include "launch/spawn.h"

typedef struct supervisor supervisor;

enum sup_event_kind { SUP_EXIT, SUP_SIGNAL };

struct sup_event {
    enum sup_event_kind kind;
    pid_t pid;  /* SUP_EXIT: the child */
    int code;   /* SUP_EXIT: exit status, or -1 when killed by a signal */
    int signal; /* SUP_EXIT: the signal that killed it (0: none); SUP_SIGNAL: the one we got */
    char last_err[LINES_LAST_MAX]; /* SUP_EXIT: its last stderr line worth quoting, or "" */
};

/* Blocks SIGINT, SIGTERM and SIGCHLD (they arrive through a signalfd) and
 * ignores SIGPIPE. NULL with a message in err on failure. */
supervisor *supervisor_open(char *err, size_t errlen);

/* Starts a child whose output lines are written behind prefix, stdout to our
 * stdout and stderr to our stderr (see lines.h for color). opts->mask is set
 * here. Returns the pid, or -1 with a message in err. */
pid_t supervisor_spawn(supervisor *s, struct spawn_opts *opts, const char *prefix, int color,
                       char *err, size_t errlen);

/* Copies output and collects exits and signals until there is at least one
 * event or timeout seconds have passed (negative: no limit). An exit is
 * reported after the child's output has been written, a partial last line
 * included. Returns the number of events (see supervisor_event), or -1. */
int supervisor_wait(supervisor *s, double timeout);
const struct sup_event *supervisor_event(const supervisor *s, int i);

/* Sends sig to a running child; -1 when pid is not one. */
int supervisor_kill(supervisor *s, pid_t pid, int sig);
int supervisor_running(const supervisor *s);

/* Kills (SIGKILL) and reaps every child left, closes everything and gives the
 * process its signal handling back. Idempotent. */
void supervisor_close(supervisor *s);
void supervisor_free(supervisor *s);

#endif
