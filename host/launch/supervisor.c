#define _GNU_SOURCE
#include "launch/supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch/lines.h"

struct child {
    pid_t pid;
    int fd[2]; /* stdout, stderr read ends; -1 once closed */
    struct lines lines[2];
};

struct supervisor {
    int sfd; /* signalfd; -1 once closed */
    sigset_t old_mask;
    struct sigaction old_pipe, old_int, old_term;
    struct child *kids;
    int nkids, capkids;
    struct sup_event *events;
    int nevents, capevents;
    struct pollfd *pfds;
    int cappfds;
};

/* The signal mask is per process (we have one thread): two supervisors would
 * fight over it. */
static int supervisor_active;

supervisor *supervisor_open(char *err, size_t errlen) {
    if (supervisor_active) {
        snprintf(err, errlen, "a launcher is already running in this process");
        return NULL;
    }
    supervisor *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "not enough memory");
        return NULL;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, &s->old_mask) < 0 ||
        (s->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        snprintf(err, errlen, "cannot watch signals: %s", strerror(errno));
        sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
        free(s);
        return NULL;
    }
    /* A reader of our output that goes away must not kill the launcher
     * before it has stopped its children. */
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &s->old_pipe);
    /* An ignored signal is dropped even while blocked; a shell starts
     * background jobs with SIGINT ignored, and `kill -INT` must still stop
     * the job. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGINT, &dfl, &s->old_int);
    sigaction(SIGTERM, &dfl, &s->old_term);
    supervisor_active = 1;
    return s;
}

static int grow(void **p, int *cap, int need, size_t size) {
    if (need <= *cap) return 0;
    int n = *cap ? *cap * 2 : 8;
    while (n < need) n *= 2;
    void *q = realloc(*p, (size_t)n * size);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

static void push_event(supervisor *s, struct sup_event ev) {
    if (grow((void **)&s->events, &s->capevents, s->nevents + 1, sizeof ev) < 0) {
        fprintf(stderr, "marohost launch: not enough memory to record an event\n");
        return;
    }
    s->events[s->nevents++] = ev;
}

pid_t supervisor_spawn(supervisor *s, struct spawn_opts *opts, const char *prefix, int color,
                       char *err, size_t errlen) {
    if (s->sfd < 0) {
        snprintf(err, errlen, "the launcher is closed");
        return -1;
    }
    if (grow((void **)&s->kids, &s->capkids, s->nkids + 1, sizeof(struct child)) < 0) {
        snprintf(err, errlen, "not enough memory");
        return -1;
    }
    struct child *c = &s->kids[s->nkids];
    memset(c, 0, sizeof *c);
    if (lines_init(&c->lines[0], stdout, prefix, color) < 0 ||
        lines_init(&c->lines[1], stderr, prefix, color) < 0) {
        lines_free(&c->lines[0]);
        lines_free(&c->lines[1]);
        snprintf(err, errlen, "not enough memory");
        return -1;
    }
    opts->mask = &s->old_mask;
    /* Our own buffered output must not be duplicated into the child. */
    fflush(stdout);
    fflush(stderr);
    c->pid = spawn_process(opts, &c->fd[0], &c->fd[1], err, errlen);
    if (c->pid < 0) {
        lines_free(&c->lines[0]);
        lines_free(&c->lines[1]);
        return -1;
    }
    s->nkids++;
    return c->pid;
}

/* Reads what is there now, up to a bound per call so one chatty child cannot
 * starve the others; closes the stream at end of file. */
static void drain(struct child *c, int i) {
    char buf[16384];
    for (int rounds = 0; c->fd[i] >= 0 && rounds < 64; rounds++) {
        ssize_t n = read(c->fd[i], buf, sizeof buf);
        if (n > 0) {
            lines_feed(&c->lines[i], buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        lines_flush(&c->lines[i]); /* end of file, or an error we cannot fix */
        close(c->fd[i]);
        c->fd[i] = -1;
    }
}

static void release(struct child *c) {
    for (int i = 0; i < 2; i++) {
        if (c->fd[i] >= 0) {
            drain(c, i);
            lines_flush(&c->lines[i]);
            if (c->fd[i] >= 0) close(c->fd[i]);
            c->fd[i] = -1;
        }
        lines_free(&c->lines[i]);
    }
}


/* Only our own children, by pid: a waitpid(-1) would steal the exits of
 * processes that Lua code started with io.popen or os.execute. */
static void reap(supervisor *s) {
    for (int i = 0; i < s->nkids;) {
        int st;
        pid_t r = waitpid(s->kids[i].pid, &st, WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            i++;
            continue;
        }
        struct sup_event ev = {SUP_EXIT, s->kids[i].pid, -1, 0, ""};
        if (r > 0 && WIFEXITED(st)) ev.code = WEXITSTATUS(st);
        else if (r > 0 && WIFSIGNALED(st)) ev.signal = WTERMSIG(st);
        else if (r > 0) { /* stopped or continued: not an exit */
            i++;
            continue;
        }
        release(&s->kids[i]); /* its output first, then the event */
        memcpy(ev.last_err, s->kids[i].lines[1].last, sizeof ev.last_err);
        s->kids[i] = s->kids[--s->nkids];
        push_event(s, ev);
    }
}

static void read_signals(supervisor *s) {
    struct signalfd_siginfo si;
    while (read(s->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
            push_event(s, (struct sup_event){SUP_SIGNAL, 0, 0, (int)si.ssi_signo, ""});
    }
}

int supervisor_wait(supervisor *s, double timeout) {
    s->nevents = 0;
    if (s->sfd < 0) return -1;
    /* Signals before exits: a Ctrl-C at the terminal reaches the instances
     * too, and their exits must be seen as part of stopping, not as failures. */
    read_signals(s);
    reap(s);
    int ms = timeout < 0 ? -1 : (int)(timeout * 1000.0 + 0.999);
    if (s->nevents > 0) ms = 0;
    if (grow((void **)&s->pfds, &s->cappfds, 1 + 2 * s->nkids, sizeof(struct pollfd)) < 0)
        return -1;
    int n = 0;
    s->pfds[n++] = (struct pollfd){s->sfd, POLLIN, 0};
    for (int i = 0; i < s->nkids; i++)
        for (int j = 0; j < 2; j++)
            if (s->kids[i].fd[j] >= 0) s->pfds[n++] = (struct pollfd){s->kids[i].fd[j], POLLIN, 0};
    int r = poll(s->pfds, (nfds_t)n, ms);
    if (r < 0 && errno != EINTR) return -1;
    if (r > 0) {
        if (s->pfds[0].revents) read_signals(s);
        for (int k = 1; k < n; k++) {
            if (!s->pfds[k].revents) continue;
            for (int i = 0; i < s->nkids; i++)
                for (int j = 0; j < 2; j++)
                    if (s->kids[i].fd[j] == s->pfds[k].fd) drain(&s->kids[i], j);
        }
    }
    reap(s);
    return s->nevents;
}

const struct sup_event *supervisor_event(const supervisor *s, int i) {
    return (i >= 0 && i < s->nevents) ? &s->events[i] : NULL;
}

int supervisor_kill(supervisor *s, pid_t pid, int sig) {
    for (int i = 0; i < s->nkids; i++)
        if (s->kids[i].pid == pid) return kill(pid, sig);
    errno = ESRCH;
    return -1;
}

int supervisor_running(const supervisor *s) {
    return s->nkids;
}

void supervisor_close(supervisor *s) {
    if (!s || s->sfd < 0) return;
    for (int i = 0; i < s->nkids; i++) kill(s->kids[i].pid, SIGKILL);
    for (int i = 0; i < s->nkids; i++) {
        while (waitpid(s->kids[i].pid, NULL, 0) < 0 && errno == EINTR) {
        }
        release(&s->kids[i]);
    }
    s->nkids = 0;
    close(s->sfd);
    s->sfd = -1;
    /* Signals that came while blocked are dropped, not delivered on unblock:
     * they were meant for the launcher, which has handled its children.
     * Ignoring a pending signal discards it. */
    sigset_t pending;
    sigpending(&pending);
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    int sigs[] = {SIGINT, SIGTERM, SIGCHLD};
    for (int i = 0; i < 3; i++) {
        if (!sigismember(&pending, sigs[i])) continue;
        sigaction(sigs[i], &ign, &old);
        sigaction(sigs[i], &old, NULL);
    }
    sigaction(SIGINT, &s->old_int, NULL);
    sigaction(SIGTERM, &s->old_term, NULL);
    sigaction(SIGPIPE, &s->old_pipe, NULL);
    sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
    supervisor_active = 0;
}

void supervisor_free(supervisor *s) {
    if (!s) return;
    supervisor_close(s);
    free(s->kids);
    free(s->events);
    free(s->pfds);
    free(s);
}
