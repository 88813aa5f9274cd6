/* hup.c: SIGHUP as a request ("reload"), never as the default "terminate".
 *
 * The handler only counts and writes a byte to a self-pipe: readers compare
 * the count with the one they saw last, so several watchers in one process
 * each see every SIGHUP, and a poll loop can wake on the pipe. A handler
 * (not signalfd) because signalfd needs SIGHUP blocked in every thread, and
 * ZeroMQ's I/O threads are started before us with it unblocked. Like the
 * stop signals of marohost (runner/stop_signals.c) it is installed without
 * SA_RESTART, so a wait that it interrupts returns and the caller looks at
 * its flags; zmq_poll's EINTR is taken as "nothing yet" there. */
#include "watch/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t hups;
static int users;
static int pipe_fds[2] = {-1, -1};
static struct sigaction old_hup;

static void on_hup(int signo) {
    (void)signo;
    int saved = errno;
    hups++;
    if (pipe_fds[1] >= 0) {
        ssize_t n = write(pipe_fds[1], "h", 1);
        (void)n; /* a full pipe already wakes the reader */
    }
    errno = saved;
}

int hup_acquire(void) {
    if (users++ > 0) return 0;
    if (pipe_fds[0] < 0 && pipe(pipe_fds) == 0) {
        for (int i = 0; i < 2; i++) {
            fcntl(pipe_fds[i], F_SETFL, fcntl(pipe_fds[i], F_GETFL) | O_NONBLOCK);
            fcntl(pipe_fds[i], F_SETFD, FD_CLOEXEC);
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hup;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGHUP, &sa, &old_hup) != 0) {
        users--;
        return -1;
    }
    return 0;
}

void hup_release(void) {
    if (users == 0 || --users > 0) return;
    sigaction(SIGHUP, &old_hup, NULL);
}

unsigned long hup_count(void) { return (unsigned long)hups; }

int hup_fd(void) { return pipe_fds[0]; }

void hup_drain(void) {
    char junk[64];
    if (pipe_fds[0] >= 0)
        while (read(pipe_fds[0], junk, sizeof junk) > 0) {
        }
}
