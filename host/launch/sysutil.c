#define _GNU_SOURCE
#include "launch/sysutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

int sysutil_free_port(char *err, size_t errlen) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open a socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        snprintf(err, errlen, "cannot find a free port on 127.0.0.1: %s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

int sysutil_redis_ping(const char *host, int port, const char *user, const char *password,
                       double timeout, char *err, size_t errlen) {
    struct timeval tv = {(time_t)timeout, (suseconds_t)((timeout - (time_t)timeout) * 1e6)};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "%s", c ? c->errstr : "not enough memory");
        if (c) redisFree(c);
        return 0;
    }
    redisSetTimeout(c, tv);
    redisReply *r;
    if (password) {
        r = user ? redisCommand(c, "AUTH %s %s", user, password)
                 : redisCommand(c, "AUTH %s", password);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        /* Redis's own error text, which never repeats the password. */
        if (!ok)
            snprintf(err, errlen, "AUTH failed: %s",
                     r ? (r->str ? r->str : "unexpected reply") : c->errstr);
        if (r) freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return 0;
        }
    }
    r = redisCommand(c, "PING");
    int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (!ok) snprintf(err, errlen, "%s", r ? (r->str ? r->str : "unexpected reply") : c->errstr);
    if (r) freeReplyObject(r);
    redisFree(c);
    return ok;
}

int sysutil_mkdtemp(const char *prefix, char *out, size_t outlen, char *err, size_t errlen) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    int n = snprintf(out, outlen, "%s/%s-XXXXXX", tmp, prefix);
    if (n < 0 || (size_t)n >= outlen) {
        snprintf(err, errlen, "TMPDIR is too long");
        return -1;
    }
    if (!mkdtemp(out)) {
        snprintf(err, errlen, "cannot create a directory in %s: %s", tmp, strerror(errno));
        return -1;
    }
    return 0;
}

int sysutil_rmdir(const char *dir, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    if (rmdir(dir) < 0) {
        snprintf(err, errlen, "cannot remove %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int sysutil_write_private(const char *path, const char *text, size_t len, char *err,
                          size_t errlen) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        text += n;
        len -= (size_t)n;
    }
    if (close(fd) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

int sysutil_self_exe(char *out, size_t outlen, char *err, size_t errlen) {
    ssize_t n = readlink("/proc/self/exe", out, outlen - 1);
    if (n < 0 || (size_t)n >= outlen - 1) {
        snprintf(err, errlen, "cannot find the running program in /proc/self/exe: %s",
                 n < 0 ? strerror(errno) : "path too long");
        return -1;
    }
    out[n] = '\0';
    return 0;
}

const char *sysutil_signal_name(int sig) {
    return sigabbrev_np(sig);
}

int sysutil_signal_number(const char *name) {
    if (strncasecmp(name, "SIG", 3) == 0) name += 3;
    char *end;
    long n = strtol(name, &end, 10);
    if (*name && *end == '\0') return (n > 0 && n < NSIG) ? (int)n : -1;
    for (int s = 1; s < NSIG; s++) {
        const char *abbr = sigabbrev_np(s);
        if (abbr && strcasecmp(abbr, name) == 0) return s;
    }
    return -1;
}
