/* watch.c: one file followed through an inotify watch on its directory. */
#include "watch/watch.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/log.h"

/* IN_CLOSE_WRITE: written in place (the whole write is done at close).
 * IN_MOVED_TO: renamed into place, how most editors save. IN_CREATE is left
 * out on purpose: a file that was just created is usually still empty, and
 * its IN_CLOSE_WRITE follows. The directory itself going away ends the
 * watch (IN_IGNORED), which is logged once. */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

struct watch {
    int fd, wd;
    char *name; /* the file's name within its directory */
    char *path; /* as given, for messages */
    int gone;   /* the directory's watch ended */
};

watch *watch_open(const char *path, char *err, size_t errlen) {
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (!*name) {
        snprintf(err, errlen, "cannot watch '%s': not a file name", path);
        return NULL;
    }
    char dir[PATH_MAX];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir) {
        snprintf(err, errlen, "cannot watch '%s': the path is too long", path);
        return NULL;
    } else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);

    watch *w = calloc(1, sizeof *w);
    if (!w || !(w->name = strdup(name)) || !(w->path = strdup(path))) {
        if (w) free(w->name);
        free(w);
        snprintf(err, errlen, "cannot watch '%s': out of memory", path);
        return NULL;
    }
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        snprintf(err, errlen, "cannot watch '%s': inotify_init1: %s", path, strerror(errno));
        watch_close(w);
        return NULL;
    }
    w->wd = inotify_add_watch(w->fd, dir, WATCH_MASK | IN_ONLYDIR);
    if (w->wd < 0) {
        snprintf(err, errlen, "cannot watch the directory '%s' of '%s': %s", dir, path,
                 strerror(errno));
        watch_close(w);
        return NULL;
    }
    return w;
}

void watch_close(watch *w) {
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    free(w->name);
    free(w->path);
    free(w);
}

int watch_fd(const watch *w) { return w->fd; }

int watch_changed(watch *w) {
    /* Aligned as inotify(7) asks; one read returns whole events only. */
    char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int changed = 0;
    for (;;) {
        ssize_t n = read(w->fd, events, sizeof events);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return changed; /* EAGAIN: nothing more queued */
        }
        for (char *p = events; p < events + n;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            p += sizeof *e + e->len;
            if (e->mask & IN_Q_OVERFLOW) changed = 1; /* events were lost: assume the worst */
            if ((e->mask & IN_IGNORED) && !w->gone) {
                w->gone = 1;
                log_warn("watch: the directory of '%s' was removed or moved: changes to it "
                         "are no longer seen",
                         w->path);
            }
            if (e->len && (e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) &&
                strcmp(e->name, w->name) == 0)
                changed = 1;
        }
    }
}
