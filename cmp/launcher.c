/*
 * freightyard-cmp, native launcher: what argocd-cmp-server starts for every render.
 *
 * Python needs ~15 ms just to start, which is most of what a warm render costs beyond kustomize
 * itself. This launcher does the one thing the hot path needs: hand `generate` to the sidecar's warm
 * render server over its private Unix socket (the protocol of cmp/protocol.py, version "native:1")
 * and relay the answer. Whenever it cannot (no server, a stale one, an untrusted socket directory,
 * any other command), it becomes the Python launcher (FREIGHTYARD_CMP_FALLBACK, else the path it was
 * built with), which renders in-process and starts the server. It never renders anything itself.
 *
 *   cc -O2 -Wall -Wextra -o freightyard-cmp -DFALLBACK='"/usr/local/bin/freightyard-cmp-py"' launcher.c
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef FALLBACK
#define FALLBACK "freightyard-cmp-py"
#endif
#define VERSION "native:1"
#define MAX_FRAME (256u * 1024u * 1024u)

extern char **environ;

static int write_all(int fd, const char *data, size_t size) {
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, char *data, size_t size) {
    while (size > 0) {
        ssize_t n = read(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

/* One frame: a 4-byte big-endian length and that many bytes (NUL-terminated copy in *out). */
static int read_frame(int fd, char **out, size_t *size) {
    unsigned char head[4];
    if (read_all(fd, (char *)head, 4) != 0) return -1;
    uint32_t length = ((uint32_t)head[0] << 24) | ((uint32_t)head[1] << 16) | ((uint32_t)head[2] << 8) | head[3];
    if (length > MAX_FRAME) return -1;
    char *data = malloc((size_t)length + 1);
    if (data == NULL) return -1;
    if (read_all(fd, data, length) != 0) {
        free(data);
        return -1;
    }
    data[length] = '\0';
    *out = data;
    *size = length;
    return 0;
}

/* Only a socket in a directory we own and nobody else may enter is trusted (as cmp/client.py). */
static int private_directory(const char *socket_path) {
    char directory[sizeof(((struct sockaddr_un *)0)->sun_path)];
    size_t length = strlen(socket_path);
    if (length >= sizeof(directory)) return 0;
    memcpy(directory, socket_path, length + 1);
    char *slash = strrchr(directory, '/');
    if (slash == NULL) return 0;
    *slash = '\0';
    struct stat info;
    if (stat(directory[0] ? directory : "/", &info) != 0) return 0;
    return info.st_uid == getuid() && (info.st_mode & 077) == 0;
}

static void socket_path(char *path, size_t size) {
    const char *explicit_path = getenv("FREIGHTYARD_CMP_SOCKET");
    if (explicit_path != NULL && explicit_path[0] != '\0') {
        snprintf(path, size, "%s", explicit_path);
        return;
    }
    const char *base = getenv("TMPDIR");
    snprintf(path, size, "%s/freightyard-cmp-%u/render.sock", base && base[0] ? base : "/tmp", (unsigned)getuid());
}

/* The request: VERSION, cwd, then every KEY=VALUE of the environment, NUL-separated, in one frame. */
static char *request(size_t *size) {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == NULL) return NULL;
    size_t total = 4 + strlen(VERSION) + 1 + strlen(cwd);
    for (char **entry = environ; *entry != NULL; entry++) total += 1 + strlen(*entry);
    if (total - 4 > MAX_FRAME) return NULL;
    char *data = malloc(total);
    if (data == NULL) return NULL;
    size_t length = total - 4, at = 4;
    data[0] = (char)(length >> 24);
    data[1] = (char)(length >> 16);
    data[2] = (char)(length >> 8);
    data[3] = (char)length;
    at += (size_t)sprintf(data + at, "%s", VERSION);
    data[at++] = '\0';
    memcpy(data + at, cwd, strlen(cwd));
    at += strlen(cwd);
    for (char **entry = environ; *entry != NULL; entry++) {
        data[at++] = '\0';
        memcpy(data + at, *entry, strlen(*entry));
        at += strlen(*entry);
    }
    *size = total;
    return data;
}

/* The exit code when the server answered, -1 when the caller must fall back. */
static int served(void) {
    const char *mode = getenv("FREIGHTYARD_CMP_SERVER");
    if (mode != NULL && strcmp(mode, "off") == 0) return -1;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    socket_path(address.sun_path, sizeof(address.sun_path));
    if (!private_directory(address.sun_path)) return -1;
    const char *limit = getenv("FREIGHTYARD_TIMEOUT");
    double seconds = (limit != NULL && atof(limit) > 0 ? atof(limit) : 45.0) + 10.0;
    struct timeval timeout = {.tv_sec = (time_t)seconds, .tv_usec = 0};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    size_t size = 0;
    char *body = NULL, *header = NULL, *out = NULL;
    size_t header_size = 0, out_size = 0;
    int code = -1;
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) goto done;
    body = request(&size);
    if (body == NULL || write_all(fd, body, size) != 0) goto done;
    if (read_frame(fd, &header, &header_size) != 0 || read_frame(fd, &out, &out_size) != 0) goto done;
    char *err = memchr(header, '\0', header_size);
    if (err == NULL) goto done;
    *err++ = '\0';
    if (header[0] == '\0' || strspn(header, "0123456789") != strlen(header)) goto done; /* "stale" or damage */
    code = atoi(header);
    if (err[0] != '\0') write_all(2, err, strlen(err));
    if (code == 0 && out_size > 0) {
        if (write_all(1, out, out_size) != 0) code = 1;
        else if (out[out_size - 1] != '\n' && write_all(1, "\n", 1) != 0) code = 1;
    }
done:
    close(fd);
    free(body);
    free(header);
    free(out);
    return code;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "generate") == 0) {
        int code = served();
        if (code >= 0) return code;
    }
    const char *fallback = getenv("FREIGHTYARD_CMP_FALLBACK");
    if (fallback == NULL || fallback[0] == '\0') fallback = FALLBACK;
    argv[0] = (char *)fallback;
    execvp(fallback, argv);
    fprintf(stderr, "freightyard-cmp: cannot run %s: %s\n", fallback, strerror(errno));
    return 127;
}
