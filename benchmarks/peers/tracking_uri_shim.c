/* LD_PRELOAD shim for the server read-path benchmark (server_read.py): OpsML 3's
 * OpsmlTestServer hard-codes its database (it calls setenv("OPSML_TRACKING_URI",
 * "sqlite://<dir>/opsml.db") just before starting its Rust server in the same process).
 * With BENCH_OPSML3_DATABASE set, this replaces that one SQLite value by the given URL
 * (e.g. postgres://...), so the same unmodified test server runs on PostgreSQL. Every
 * other setenv passes through unchanged.
 *
 *   cc -shared -fPIC -O2 -o tracking_uri_shim.so tracking_uri_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef int (*setenv_fn)(const char *, const char *, int);

int setenv(const char *name, const char *value, int overwrite) {
    static setenv_fn real = NULL;
    if (real == NULL) {
        real = (setenv_fn)dlsym(RTLD_NEXT, "setenv");
    }
    if (name != NULL && value != NULL && strcmp(name, "OPSML_TRACKING_URI") == 0 &&
        strncmp(value, "sqlite:", 7) == 0) {
        const char *wanted = getenv("BENCH_OPSML3_DATABASE");
        if (wanted != NULL && wanted[0] != '\0') {
            value = wanted;
        }
    }
    return real(name, value, overwrite);
}
