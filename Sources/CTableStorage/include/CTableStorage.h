#ifndef C_TABLE_STORAGE_H
#define C_TABLE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

/// Whether `th_crc32_fold` can run on this processor (x86-64 with PCLMULQDQ and SSE4.1).
int th_crc32_fold_available(void);

/// Advances a CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) over `length` bytes by carry-less
/// multiplication, 64 bytes at a time.
///
/// `state` is the running register, already inverted (0xFFFFFFFF before the first byte); the result is the
/// register after the bytes, not yet inverted. `length` must be at least 64 and a multiple of 16. Call only
/// when `th_crc32_fold_available()` is true.
uint32_t th_crc32_fold(uint32_t state, const uint8_t *bytes, size_t length);

#endif
