/* zmq_probe.c: a bare receiving socket for tests that play an impostor: it
 * listens where a forged registration sends a group's members, and counts
 * what reaches it. As a CURVE server without a ZAP handler it accepts any
 * client, the way an attacker's socket would. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "transport/transport.h"

struct zmq_probe {
    void *ctx, *pull;
    char address[300];
    char public_key[TRANSPORT_KEY_Z85 + 1];
};

zmq_probe *zmq_probe_open(const char *host, int curve, char *err, size_t errlen) {
    zmq_probe *pr = calloc(1, sizeof *pr);
    char secret[TRANSPORT_KEY_Z85 + 1], bind[300];
    size_t len = sizeof pr->address;
    int on = 1, linger = 0;
    if (!pr || !(pr->ctx = zmq_ctx_new()) || !(pr->pull = zmq_socket(pr->ctx, ZMQ_PULL))) {
        snprintf(err, errlen, "cannot create a ZeroMQ socket");
        zmq_probe_close(pr);
        return NULL;
    }
    zmq_setsockopt(pr->pull, ZMQ_LINGER, &linger, sizeof linger);
    if (curve && (zmq_curve_keypair(pr->public_key, secret) != 0 ||
                  zmq_setsockopt(pr->pull, ZMQ_CURVE_SERVER, &on, sizeof on) != 0 ||
                  zmq_setsockopt(pr->pull, ZMQ_CURVE_SECRETKEY, secret, sizeof secret) != 0)) {
        snprintf(err, errlen, "cannot make a CURVE server: %s", zmq_strerror(errno));
        zmq_probe_close(pr);
        return NULL;
    }
    snprintf(bind, sizeof bind, "tcp://%s:*", host);
    if (zmq_bind(pr->pull, bind) != 0 ||
        zmq_getsockopt(pr->pull, ZMQ_LAST_ENDPOINT, pr->address, &len) != 0) {
        snprintf(err, errlen, "cannot bind %s: %s", bind, zmq_strerror(errno));
        zmq_probe_close(pr);
        return NULL;
    }
    return pr;
}

const char *zmq_probe_address(const zmq_probe *pr) { return pr->address; }
const char *zmq_probe_public_key(const zmq_probe *pr) { return pr->public_key; }

int zmq_probe_receive(zmq_probe *pr, double timeout, char *out, size_t outlen, size_t *len) {
    zmq_pollitem_t item = {pr->pull, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, (long)(timeout * 1000.0)) <= 0) return 0;
    int n = zmq_recv(pr->pull, out, outlen, ZMQ_DONTWAIT);
    if (n < 0) return 0;
    *len = (size_t)n < outlen ? (size_t)n : outlen;
    return 1;
}

void zmq_probe_close(zmq_probe *pr) {
    if (!pr) return;
    if (pr->pull) zmq_close(pr->pull);
    if (pr->ctx) zmq_ctx_term(pr->ctx);
    free(pr);
}
