#include "wire/header.h"

#include <string.h>

static const char *type_names[] = {NULL, "task", "notification"};
static const char *stage_names[] = {NULL, "task_request", "task_receive", "task_complete",
                                    "notification_request", "notification_receive"};

const char *wire_session_type_name(int t) {
    return (t > SESSION_NONE && t <= SESSION_NOTIFICATION) ? type_names[t] : NULL;
}

const char *wire_session_stage_name(int s) {
    return (s > STAGE_NONE && s <= STAGE_LAST) ? stage_names[s] : NULL;
}

static int parse_name(const char *const *names, int n, const char *s, size_t len) {
    for (int i = 1; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) return i;
    return -1;
}

int wire_session_type_parse(const char *s, size_t len) { return parse_name(type_names, 3, s, len); }
int wire_session_stage_parse(const char *s, size_t len) { return parse_name(stage_names, 6, s, len); }

int wire_stage_type(int stage) {
    if (stage >= STAGE_TASK_REQUEST && stage <= STAGE_TASK_COMPLETE) return SESSION_TASK;
    if (stage == STAGE_NOTIFICATION_REQUEST || stage == STAGE_NOTIFICATION_RECEIVE)
        return SESSION_NOTIFICATION;
    return SESSION_NONE;
}

int wire_stage_belongs(int type, int stage) { return wire_stage_type(stage) == type; }

int wire_request_stage(int type) {
    if (type == SESSION_TASK) return STAGE_TASK_REQUEST;
    if (type == SESSION_NOTIFICATION) return STAGE_NOTIFICATION_REQUEST;
    return STAGE_NONE;
}

wire_slice wire_id_string(wire_slice s, const wire_uuid *u, int is_uuid,
                          char buf[WIRE_UUID_LEN]) {
    if (s.ptr || !is_uuid) return s;
    wire_uuid_format(u, buf);
    return (wire_slice){buf, WIRE_UUID_LEN};
}
