/* route.c: the address to advertise by default. A UDP socket "connected"
 * towards Redis sends nothing, but makes the kernel pick the route and the
 * local address on it: the address the other members, who reach the same
 * Redis, can most likely reach us at. Unlike gethostbyname(gethostname()),
 * this is never 127.0.1.1 unless Redis itself is on loopback. */
#include "discovery/discovery.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int discovery_route_address(const char *host, int port, char *out, size_t outlen, char *err,
                            size_t errlen) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve the Redis host '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    int result = -1;
    char why[128] = "no usable address";
    for (struct addrinfo *ai = res; ai && result != 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_DGRAM, 0);
        if (fd < 0) continue;
        struct sockaddr_storage local;
        socklen_t len = sizeof local;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            getsockname(fd, (struct sockaddr *)&local, &len) == 0) {
            const void *a = local.ss_family == AF_INET
                                ? (const void *)&((struct sockaddr_in *)&local)->sin_addr
                                : (const void *)&((struct sockaddr_in6 *)&local)->sin6_addr;
            if (inet_ntop(local.ss_family, a, out, (socklen_t)outlen)) result = 0;
        } else {
            snprintf(why, sizeof why, "%s", strerror(errno));
        }
        close(fd);
    }
    freeaddrinfo(res);
    if (result != 0)
        snprintf(err, errlen, "cannot find a route to Redis at %s:%d (%s); set "
                 "advertised_address / MARO_ADVERTISED_ADDRESS", host, port, why);
    return result;
}
