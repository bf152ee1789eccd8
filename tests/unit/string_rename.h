/* Host tests: give lib/string.c's functions lib_ names so glibc's stay usable. */
#pragma once

#define memcpy	lib_memcpy
#define memmove lib_memmove
#define memset	lib_memset
#define memcmp	lib_memcmp
#define memchr	lib_memchr
#define strlen	lib_strlen
#define strnlen lib_strnlen
#define strcmp	lib_strcmp
#define strncmp lib_strncmp
#define strchr	lib_strchr
#define strrchr lib_strrchr
#define strlcpy lib_strlcpy
