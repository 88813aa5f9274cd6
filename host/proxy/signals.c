#include "proxy/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

#define SIGNALS_MAX_WATCHERS 64

typedef struct watcher {
    void (*leave)(void *ctx);
    void *ctx;
} watcher;

static watcher watchers[SIGNALS_MAX_WATCHERS];
static int nwatchers;
static int pipe_fds[2] = {-1, -1};
static struct sigaction old_int, old_term;
static volatile sig_atomic_t pending, leaving;
static lua_State *volatile hook_state;

static void hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    signals_act();
}

static void on_signal(int signo) {
    int saved = errno;
    if (leaving) _exit(128 + signo); /* a second signal while leaving: stop now */
    if (!pending) pending = signo;
    if (pipe_fds[1] >= 0) {
        ssize_t n = write(pipe_fds[1], "s", 1);
        (void)n;
    }
    if (hook_state)
        lua_sethook(hook_state, hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
    errno = saved;
}

static void install(int signo, struct sigaction *old) {
    struct sigaction sa;
    sigaction(signo, NULL, old);
    if (old->sa_handler == SIG_IGN) return; /* started with it ignored (nohup): keep that */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(signo, &sa, NULL);
}

static void leave_all(void) {
    while (nwatchers > 0) {
        watcher w = watchers[--nwatchers];
        w.leave(w.ctx);
    }
}

int signals_watch(lua_State *L, void (*leave)(void *ctx), void *ctx) {
    static int at_exit;
    if (nwatchers >= SIGNALS_MAX_WATCHERS) return -1;
    watchers[nwatchers++] = (watcher){leave, ctx};
    if (nwatchers > 1) return 0;
    if (!at_exit) at_exit = atexit(leave_all) == 0;
    if (pipe_fds[0] < 0 && pipe(pipe_fds) == 0) {
        for (int i = 0; i < 2; i++) {
            fcntl(pipe_fds[i], F_SETFL, fcntl(pipe_fds[i], F_GETFL) | O_NONBLOCK);
            fcntl(pipe_fds[i], F_SETFD, FD_CLOEXEC);
        }
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    hook_state = lua_tothread(L, -1);
    lua_pop(L, 1);
    install(SIGINT, &old_int);
    install(SIGTERM, &old_term);
    return 0;
}

void signals_unwatch(void *ctx) {
    for (int i = 0; i < nwatchers; i++) {
        if (watchers[i].ctx != ctx) continue;
        watchers[i] = watchers[--nwatchers];
        break;
    }
    if (nwatchers > 0 || leaving) return;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    hook_state = NULL;
}

int signals_fd(void) { return pipe_fds[0]; }

void signals_drain(void) {
    char junk[64];
    if (pipe_fds[0] >= 0)
        while (read(pipe_fds[0], junk, sizeof junk) > 0) {
        }
}

int signals_pending(void) { return pending; }

void signals_act(void) {
    int signo = pending;
    if (!signo || leaving) return;
    leaving = 1;
    log_info("%s: leaving the group and exiting", signo == SIGINT ? "SIGINT" : "SIGTERM");
    leave_all();
    fflush(NULL);
    exit(128 + signo);
}
