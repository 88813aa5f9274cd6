#define _GNU_SOURCE
#include "launch/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void close_pair(int p[2]) {
    if (p[0] >= 0) close(p[0]);
    if (p[1] >= 0) close(p[1]);
    p[0] = p[1] = -1;
}

/* Between fork and exec only async-signal-safe calls: the parent may hold
 * locks (stdio, malloc) that the child would never see released. A failure
 * is reported to the parent as an errno on the close-on-exec status pipe. */
static void child(const struct spawn_opts *o, pid_t parent, int out[2], int errp[2],
                  int status_fd) {
    int e = 0;
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0 ||
        dup2(errp[1], STDERR_FILENO) < 0)
        goto fail;
    /* An ignored signal stays ignored across exec: give the child defaults. */
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    if (o->own_group && setpgid(0, 0) < 0) goto fail;
    if (o->death_signal) {
        if (prctl(PR_SET_PDEATHSIG, o->death_signal) < 0) goto fail;
        if (getppid() != parent) _exit(127); /* we died before prctl took effect */
    }
    if (o->mask) sigprocmask(SIG_SETMASK, o->mask, NULL);
    execve(o->path, o->argv, o->envp);
fail:
    e = errno;
    if (write(status_fd, &e, sizeof e) < 0) { /* nothing more we can do */
    }
    _exit(127);
}

pid_t spawn_process(const struct spawn_opts *o, int *out_fd, int *err_fd, char *err,
                    size_t errlen) {
    int out[2] = {-1, -1}, errp[2] = {-1, -1}, status[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
        pipe2(status, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot create pipes: %s", strerror(errno));
        goto fail;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        close(status[0]);
        child(o, parent, out, errp, status[1]);
    }
    close(out[1]);
    close(errp[1]);
    close(status[1]);
    out[1] = errp[1] = status[1] = -1;
    /* The status pipe closes on a successful exec; anything read is an errno. */
    int e = 0;
    ssize_t n;
    do {
        n = read(status[0], &e, sizeof e);
    } while (n < 0 && errno == EINTR);
    close(status[0]);
    status[0] = -1;
    if (n == (ssize_t)sizeof e) {
        snprintf(err, errlen, "cannot run %s: %s", o->path, strerror(e));
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        goto fail;
    }
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    fcntl(errp[0], F_SETFL, fcntl(errp[0], F_GETFL) | O_NONBLOCK);
    *out_fd = out[0];
    *err_fd = errp[0];
    return pid;
fail:
    close_pair(out);
    close_pair(errp);
    close_pair(status);
    return -1;
}
