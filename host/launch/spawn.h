/* spawn.h: starts one child process with its stdout and stderr on pipes. */
#ifndef MARO_LAUNCH_SPAWN_H
#define MARO_LAUNCH_SPAWN_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

struct spawn_opts {
    const char *path;     /* the executable */
    char *const *argv;    /* NULL-terminated */
    char *const *envp;    /* the child's whole environment, NULL-terminated */
    int own_group;        /* start a process group, so a terminal's Ctrl-C does not reach it */
    int death_signal;     /* sent to the child if we die first (0: none) */
    const sigset_t *mask; /* the signal mask the child starts with */
};

/* Returns the child's pid with the read ends of its stdout and stderr in
 * *out_fd and *err_fd (non-blocking, close-on-exec); stdin is /dev/null.
 * Returns -1 with a message in err when the child could not be started,
 * including when the program could not be executed. */
pid_t spawn_process(const struct spawn_opts *o, int *out_fd, int *err_fd, char *err,
                    size_t errlen);

#endif
