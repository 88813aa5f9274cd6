#include "stop_signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "base/interrupt.h"

static volatile sig_atomic_t caught, quiet;
static int pipe_fds[2] = {-1, -1};
static lua_State *volatile main_state;

static void raise_interrupt(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    if (!quiet)
        luaL_error(L, "interrupted by %s", caught == SIGINT ? "SIGINT" : "SIGTERM");
}

static void on_signal(int signo) {
    int saved = errno;
    if (caught) _exit(128 + signo); /* a second signal while stopping: stop now */
    caught = signo;
    if (pipe_fds[1] >= 0) {
        ssize_t n = write(pipe_fds[1], "s", 1);
        (void)n;
    }
    /* As lua.c does: the hook runs at the script's next instruction. */
    if (main_state && !quiet)
        lua_sethook(main_state, raise_interrupt, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
    errno = saved;
}

static void install(int signo) {
    struct sigaction old, sa;
    sigaction(signo, NULL, &old);
    if (old.sa_handler == SIG_IGN) return; /* started with it ignored: keep that */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(signo, &sa, NULL);
}

void stop_signals_install(lua_State *L) {
    if (pipe_fds[0] < 0 && pipe(pipe_fds) == 0)
        for (int i = 0; i < 2; i++) {
            fcntl(pipe_fds[i], F_SETFL, fcntl(pipe_fds[i], F_GETFL) | O_NONBLOCK);
            fcntl(pipe_fds[i], F_SETFD, FD_CLOEXEC);
        }
    main_state = L;
    interrupt_install(pipe_fds[0], &caught);
    install(SIGINT);
    install(SIGTERM);
}

int stop_signals_caught(void) { return caught; }

void stop_signals_quiet(void) {
    quiet = 1;
    main_state = NULL;
}
