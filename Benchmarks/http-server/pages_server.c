// pages_server: the search API's pages from memory, on 127.0.0.1, for Benchmarks/run-http-bench.sh.
//
//     cc -O2 -pthread -o pages_server pages_server.c
//     pages_server DIR [--pages N] [--gzip on|off] [--port-file FILE] [--idle SECONDS] [--max-seconds SECONDS]
//
// DIR is what Benchmarks/python/prepare_pages.py wrote: index.tsv and the page bodies, plain and gzip'd. Every
// body is read into memory once at start-up; a request costs a parse of its head and one writev. One thread per
// connection (the benchmark clients open one, kept alive), so the server does next to nothing per page and is
// never what limits a client. It serves:
//
//   GET /2/tweets/search/recent?...   v2: no next_token -> the newest page (or the empty page when since_id is at
//                                     or above its newest id); next_token of page k -> page k-1; the oldest page
//                                     has no next_token.
//   GET /1.1/search/tweets.json?...   v1.1: no max_id -> the newest page; max_id M -> the newest page whose ids
//                                     are all <= M, or the empty page (no next_results) below the oldest.
//   GET /stats                        {"requests":..,"connections":..,"bytes":..}: what was served so far.
//
// A search request without an Authorization header gets a 401. Every reply carries x-rate-limit-limit,
// -remaining (counting down per 15-minute window) and -reset. With `Accept-Encoding: gzip` (and --gzip on, the
// default) the body is the gzip'd one with `Content-Encoding: gzip`. HTTP/1.1 keep-alive unless the client
// sends `Connection: close`. --pages N serves only the oldest N pages (a shorter walk). The server stops by
// itself when no request came for --idle seconds (default 120) or after --max-seconds (default 3600), and on
// SIGTERM/SIGINT; it then prints what it served to stderr.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAGES 10000
#define HEAD_MAX 16384
#define RATE_LIMIT 100000
#define RATE_WINDOW 900

typedef struct {
    unsigned long long oldest, newest;
    char token[128];  // this page's next_token (v2), "" for none
    char *body, *gzip;
    size_t body_len, gzip_len;
} page_t;

typedef struct {
    page_t pages[MAX_PAGES];
    int count;  // pages served: the oldest `count` of the corpus
    int listed;  // pages in the index
    page_t empty;
} api_t;

static api_t v2, v11;
static int use_gzip = 1;
static atomic_llong requests, connections, bytes_out, last_activity;
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static long long window_start, window_used;

static long long now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static char *slurp(const char *dir, const char *name, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) die(path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(n > 0 ? n : 1);
    if (!data || fread(data, 1, n, f) != (size_t)n) die(path);
    fclose(f);
    *len = (size_t)n;
    return data;
}

static void load(const char *dir, int limit) {
    char path[4096], line[8192];
    snprintf(path, sizeof path, "%s/index.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) die(path);
    while (fgets(line, sizeof line, f)) {
        char *fields[8] = {0};
        int n = 0;
        for (char *save = NULL, *p = strtok_r(line, "\t\n", &save); p && n < 8; p = strtok_r(NULL, "\t\n", &save))
            fields[n++] = p;
        if (n < 7) continue;
        api_t *api = strcmp(fields[0], "v2") == 0 ? &v2 : &v11;
        page_t *page;
        if (strcmp(fields[1], "empty") == 0) {
            page = &api->empty;
        } else {
            int number = atoi(fields[1]);
            if (number >= MAX_PAGES || number != api->listed++) {
                fprintf(stderr, "pages_server: index.tsv pages out of order\n");
                exit(2);
            }
            if (limit > 0 && number >= limit) continue;
            page = &api->pages[api->count++];
        }
        page->oldest = strtoull(fields[2], NULL, 10);
        page->newest = strtoull(fields[3], NULL, 10);
        snprintf(page->token, sizeof page->token, "%s", strcmp(fields[4], "-") == 0 ? "" : fields[4]);
        page->body = slurp(dir, fields[5], &page->body_len);
        page->gzip = slurp(dir, fields[6], &page->gzip_len);
    }
    fclose(f);
    if (v2.count == 0 || v11.count == 0 || !v2.empty.body || !v11.empty.body) {
        fprintf(stderr, "pages_server: %s has no pages\n", path);
        exit(2);
    }
    // The oldest page served ends the v2 walk, whatever the corpus said.
    v2.pages[0].token[0] = 0;
}

// The value of `name` in the query string `query` (up to the end or '#'), copied into `out`; 0 when absent.
static int query_value(const char *query, const char *name, char *out, size_t size) {
    size_t name_len = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
            size_t value_len = len - name_len - 1;
            if (value_len >= size) value_len = size - 1;
            memcpy(out, p + name_len + 1, value_len);
            out[value_len] = 0;
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static const page_t *select_v2(const char *query, int *status) {
    char token[256], since[32];
    unsigned long long since_id = query_value(query, "since_id", since, sizeof since) ? strtoull(since, NULL, 10) : 0;
    if (query_value(query, "next_token", token, sizeof token)) {
        for (int k = 1; k < v2.count; k++)
            if (strcmp(v2.pages[k].token, token) == 0) return &v2.pages[k - 1];
        *status = 400;
        return NULL;
    }
    const page_t *top = &v2.pages[v2.count - 1];
    return since_id >= top->newest ? &v2.empty : top;
}

static const page_t *select_v11(const char *query) {
    char max[32], since[32];
    unsigned long long since_id = query_value(query, "since_id", since, sizeof since) ? strtoull(since, NULL, 10) : 0;
    const page_t *page = &v11.pages[v11.count - 1];
    if (query_value(query, "max_id", max, sizeof max)) {
        unsigned long long max_id = strtoull(max, NULL, 10);
        page = &v11.empty;
        for (int k = v11.count - 1; k >= 0; k--)
            if (v11.pages[k].newest <= max_id) {
                page = &v11.pages[k];
                break;
            }
    }
    return page != &v11.empty && since_id >= page->newest ? &v11.empty : page;
}

static int send_all(int fd, struct iovec *iov, int count) {
    while (count > 0) {
        ssize_t n = writev(fd, iov, count);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        atomic_fetch_add(&bytes_out, n);
        while (count > 0 && (size_t)n >= iov->iov_len) {
            n -= iov->iov_len;
            iov++;
            count--;
        }
        if (count > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= n;
        }
    }
    return 0;
}

static int respond(int fd, int status, const char *body, size_t body_len, int gzipped, int keep_alive) {
    long long reset, remaining;
    pthread_mutex_lock(&rate_lock);
    long long wall = (long long)time(NULL);
    if (wall >= window_start + RATE_WINDOW) {
        window_start = wall;
        window_used = 0;
    }
    window_used++;
    remaining = RATE_LIMIT - window_used;
    reset = window_start + RATE_WINDOW;
    pthread_mutex_unlock(&rate_lock);
    const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : status == 401 ? "Unauthorized"
                                                                                               : "Not Found";
    char head[1024];
    int head_len = snprintf(head, sizeof head,
                            "HTTP/1.1 %d %s\r\n"
                            "content-type: application/json; charset=utf-8\r\n"
                            "content-length: %zu\r\n"
                            "%s"
                            "x-rate-limit-limit: %d\r\n"
                            "x-rate-limit-remaining: %lld\r\n"
                            "x-rate-limit-reset: %lld\r\n"
                            "%s"
                            "\r\n",
                            status, reason, body_len, gzipped ? "content-encoding: gzip\r\nvary: Accept-Encoding\r\n" : "",
                            RATE_LIMIT, remaining > 0 ? remaining : 0, reset,
                            keep_alive ? "connection: keep-alive\r\n" : "connection: close\r\n");
    struct iovec iov[2] = {{head, (size_t)head_len}, {(void *)body, body_len}};
    return send_all(fd, iov, body_len ? 2 : 1);
}

// Whether the header block `headers` has field `name` whose value contains `token` (case-insensitive).
static int header_has(const char *headers, const char *name, const char *token) {
    size_t name_len = strlen(name);
    for (const char *line = headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end) break;
        if ((size_t)(end - line) > name_len && strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
            if (!token) return 1;
            char value[1024];
            size_t len = end - line - name_len - 1;
            if (len >= sizeof value) len = sizeof value - 1;
            memcpy(value, line + name_len + 1, len);
            value[len] = 0;
            if (strcasestr(value, token)) return 1;
        }
        line = end + 2;
    }
    return 0;
}

static void *serve(void *arg) {
    int fd = (int)(long)arg;
    char *buffer = malloc(HEAD_MAX + 1);
    size_t filled = 0;
    for (;;) {
        char *end;
        buffer[filled] = 0;
        while (!(end = strstr(buffer, "\r\n\r\n"))) {
            if (filled >= HEAD_MAX) goto done;
            ssize_t n = read(fd, buffer + filled, HEAD_MAX - filled);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) goto done;
            filled += n;
            buffer[filled] = 0;
        }
        atomic_store(&last_activity, now_seconds());
        atomic_fetch_add(&requests, 1);
        size_t head_len = end + 4 - buffer;
        end[2] = 0;  // the head ends after the last header's CRLF
        char *line_end = strstr(buffer, "\r\n");
        char *headers = line_end + 2;
        *line_end = 0;
        char method[16] = "", target[8192] = "";
        sscanf(buffer, "%15s %8191s", method, target);
        int keep_alive = !header_has(headers, "Connection", "close");
        int gzip = use_gzip && header_has(headers, "Accept-Encoding", "gzip");
        char *query = strchr(target, '?');
        if (query) *query++ = 0;
        int status = 200, result;
        const page_t *page = NULL;
        if (strcmp(target, "/stats") == 0) {
            char body[256];
            int len = snprintf(body, sizeof body, "{\"requests\":%lld,\"connections\":%lld,\"bytes\":%lld}",
                               (long long)atomic_load(&requests), (long long)atomic_load(&connections),
                               (long long)atomic_load(&bytes_out));
            result = respond(fd, 200, body, len, 0, keep_alive);
        } else {
            int is_v2 = strcmp(target, "/2/tweets/search/recent") == 0;
            int is_v11 = strcmp(target, "/1.1/search/tweets.json") == 0;
            if ((!is_v2 && !is_v11) || strcmp(method, "GET") != 0) {
                status = 404;
            } else if (!header_has(headers, "Authorization", NULL)) {
                status = 401;
            } else {
                page = is_v2 ? select_v2(query, &status) : select_v11(query);
            }
            if (page) {
                result = gzip ? respond(fd, 200, page->gzip, page->gzip_len, 1, keep_alive)
                              : respond(fd, 200, page->body, page->body_len, 0, keep_alive);
            } else {
                static const char not_found[] = "{\"errors\":[{\"message\":\"Sorry, that page does not exist\",\"code\":34}]}";
                static const char unauthorized[] =
                    "{\"title\":\"Unauthorized\",\"type\":\"about:blank\",\"status\":401,\"detail\":\"Unauthorized\"}";
                static const char bad_token[] =
                    "{\"errors\":[{\"parameters\":{\"next_token\":[\"?\"]},\"message\":\"Invalid next_token\"}],"
                    "\"title\":\"Invalid Request\",\"detail\":\"One or more parameters to your request was invalid.\","
                    "\"type\":\"https://api.twitter.com/2/problems/invalid-request\"}";
                const char *body = status == 401 ? unauthorized : status == 400 ? bad_token : not_found;
                result = respond(fd, status, body, strlen(body), 0, keep_alive);
            }
        }
        if (result != 0 || !keep_alive) goto done;
        memmove(buffer, buffer + head_len, filled - head_len);  // a pipelined next request, if any
        filled -= head_len;
    }
done:
    free(buffer);
    close(fd);
    return NULL;
}

static void report_and_exit(int code) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    fprintf(stderr, "pages_server: %lld requests, %lld connections, %.1f MB sent, %.2f s CPU\n",
            (long long)atomic_load(&requests), (long long)atomic_load(&connections), atomic_load(&bytes_out) / 1e6,
            usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6);
    _exit(code);
}

static void on_signal(int signal) {
    (void)signal;
    report_and_exit(0);
}

static int idle_limit = 120, max_seconds = 3600;

static void *watchdog(void *arg) {
    long long started = *(long long *)arg;
    for (;;) {
        sleep(1);
        long long now = now_seconds();
        if (now - atomic_load(&last_activity) >= idle_limit || now - started >= max_seconds) report_and_exit(0);
    }
    return NULL;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *port_file = NULL;
    int limit = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pages") == 0 && i + 1 < argc) limit = atoi(argv[++i]);
        else if (strcmp(argv[i], "--gzip") == 0 && i + 1 < argc) use_gzip = strcmp(argv[++i], "off") != 0;
        else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) port_file = argv[++i];
        else if (strcmp(argv[i], "--idle") == 0 && i + 1 < argc) idle_limit = atoi(argv[++i]);
        else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc) max_seconds = atoi(argv[++i]);
        else if (!dir) dir = argv[i];
        else {
            fprintf(stderr, "usage: %s DIR [--pages N] [--gzip on|off] [--port-file FILE] [--idle S] [--max-seconds S]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!dir) dir = "/tmp/http-bench-pages";
    load(dir, limit);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0) die("socket");
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0) die("bind");
    if (listen(listener, 128) != 0) die("listen");
    socklen_t address_len = sizeof address;
    getsockname(listener, (struct sockaddr *)&address, &address_len);
    int port = ntohs(address.sin_port);
    if (port_file) {
        char temporary[4096];
        snprintf(temporary, sizeof temporary, "%s.tmp", port_file);
        FILE *f = fopen(temporary, "w");
        if (!f) die(temporary);
        fprintf(f, "%d\n", port);
        fclose(f);
        if (rename(temporary, port_file) != 0) die(port_file);
    }
    printf("pages_server: http://127.0.0.1:%d (%d v2 pages, %d v1.1 pages, gzip %s)\n", port, v2.count, v11.count,
           use_gzip ? "on" : "off");
    fflush(stdout);
    static long long started;
    started = now_seconds();
    atomic_store(&last_activity, started);
    pthread_t thread;
    if (pthread_create(&thread, NULL, watchdog, &started) != 0) die("pthread_create");
    pthread_detach(thread);
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            die("accept");
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        atomic_fetch_add(&connections, 1);
        atomic_store(&last_activity, now_seconds());
        if (pthread_create(&thread, NULL, serve, (void *)(long)fd) != 0) die("pthread_create");
        pthread_detach(thread);
    }
}
