/* utf8.h: UTF-8 validation, to choose between MessagePack str and bin. */
#ifndef MARO_UTF8_H
#define MARO_UTF8_H

#include <stddef.h>

int utf8_valid(const char *s, size_t len); /* 1 when s is well-formed UTF-8 */
/* Copies len bytes of src to dst and returns utf8_valid(src, len); ASCII
 * text is read only once. */
int utf8_copy_valid(char *dst, const char *src, size_t len);

#endif
