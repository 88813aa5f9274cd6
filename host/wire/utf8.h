/* utf8.h: UTF-8 validation, to choose between MessagePack str and bin. */
#ifndef MARO_UTF8_H
#define MARO_UTF8_H

#include <stddef.h>

int utf8_valid(const char *s, size_t len); /* 1 when s is well-formed UTF-8 */

#endif
