#include "base/interrupt.h"

#include <stddef.h>

static int source_fd = -1;
static volatile sig_atomic_t *source_flag;

void interrupt_install(int fd, volatile sig_atomic_t *flag) {
    source_fd = fd;
    source_flag = flag;
}

int interrupt_fd(void) { return source_fd; }
int interrupt_pending(void) { return source_flag ? *source_flag : 0; }
