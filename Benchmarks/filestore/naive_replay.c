/* The naive replay the file store's open is compared with: read the log in 4 MiB windows, find each
 * "twitterId": in a put line, parse the integer, and append (id, offset) to an array (the index).
 * Build: cc -O2 -o naive_replay naive_replay.c.  Run: naive_replay STORE/store.jsonl */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: naive_replay LOG\n"); return 2; }
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror("open"); return 1; }
    const size_t window = 4 << 20;
    char *buffer = malloc(window + 1);
    size_t capacity = 1 << 20, count = 0;
    int64_t *ids = malloc(capacity * sizeof *ids);
    int64_t *offsets = malloc(capacity * sizeof *offsets);
    const char *key = "\"twitterId\":";
    size_t keyLength = strlen(key);
    off_t base = 0;
    size_t carry = 0;
    for (;;) {
        ssize_t got = pread(fd, buffer + carry, window - carry, base + (off_t)carry);
        if (got < 0) { perror("pread"); return 1; }
        size_t length = carry + (size_t)got;
        if (length == 0) break;
        buffer[length] = 0;
        size_t lastLine = 0;
        for (size_t i = 0; i < length; i++) {
            if (buffer[i] != '\n') continue;
            buffer[i] = 0;
            char *found = strstr(buffer + lastLine, key);
            if (found) {
                if (count == capacity) {
                    capacity *= 2;
                    ids = realloc(ids, capacity * sizeof *ids);
                    offsets = realloc(offsets, capacity * sizeof *offsets);
                }
                ids[count] = strtoll(found + keyLength, NULL, 10);
                offsets[count] = base + (off_t)lastLine;
                count++;
            }
            lastLine = i + 1;
        }
        if (got == 0) break;
        carry = length - lastLine;
        memmove(buffer, buffer + lastLine, carry);
        base += (off_t)lastLine;
    }
    printf("%zu rows, last id %lld\n", count, count ? (long long)ids[count - 1] : 0LL);
    return 0;
}
