// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for bootwaved's configuration (server/config.c, INI read
 * by libinih): the bytes are the file, handed to config_load() through a
 * memfd. A refusal must say why; an accepted configuration must hold its
 * promises (absolute paths, page_size <= max_page_size, the listen address
 * split) and round-trip through the printer of `bootwaved -n`: what it
 * prints loads again and prints the same. Build with clang
 * -fsanitize=fuzzer, or replay a corpus with replay.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A file holding buf[len], as a /proc path in path[size]; its fd, or -1. */
static int file_of(const void *buf, size_t len, char *path, size_t size)
{
	int fd = memfd_create("fuzz-config", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (len && write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	snprintf(path, size, "/proc/self/fd/%d", fd);
	return fd;
}

/* The configuration as `bootwaved -n` prints it; malloc'd, NULL on no memory. */
static char *printed(const struct config *c, size_t *ret_len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, ret_len);

	if (!f)
		return NULL;
	config_print(c, f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* True if s is NUL-terminated within its size bytes. */
#define TERMINATED(s) (memchr((s), '\0', sizeof(s)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c, again;
	char path[64], err[512];
	char *text, *text2;
	size_t len, len2;
	int fd, r;

	if ((fd = file_of(data, size, path, sizeof(path))) < 0)
		return 0;
	err[0] = '\0';
	r = config_load(path, &c, err, sizeof(err));
	close(fd);
	if (r < 0) {
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort(); /* every refusal says why */
		return 0;
	}
	if (c.state_dir[0] != '/' || c.store_path[0] != '/' || c.image_dir[0] != '/' || c.key_file[0] != '/' ||
	    c.ext_dir[0] != '/' || c.page_size > c.max_page_size || c.listen_port < 0 || c.listen_port > 65535 ||
	    !c.listen_host[0] || !TERMINATED(c.listen) || !TERMINATED(c.listen_host) || !TERMINATED(c.dhcp_range) ||
	    !TERMINATED(c.kernel_cmdline) || !TERMINATED(c.boot_interface) || !TERMINATED(c.log_level))
		abort();
	if (c.boot_interface[0] && strcmp(c.dhcp_mode, "server") == 0 && !c.dhcp_range[0])
		abort();

	/* parse(print(c)) prints as c: nothing lost or changed by the printer. */
	if (!(text = printed(&c, &len)))
		return 0;
	if ((fd = file_of(text, len, path, sizeof(path))) < 0) {
		free(text);
		return 0;
	}
	r = config_load(path, &again, err, sizeof(err));
	close(fd);
	if (r < 0) {
		fprintf(stderr, "fuzz_config: the printed configuration is refused: %s\n%s", err, text);
		abort();
	}
	if (!(text2 = printed(&again, &len2))) {
		free(text);
		return 0;
	}
	if (len != len2 || memcmp(text, text2, len) != 0) {
		fprintf(stderr, "fuzz_config: printed twice differently:\n%s\n----\n%s", text, text2);
		abort();
	}
	free(text2);
	free(text);
	return 0;
}
