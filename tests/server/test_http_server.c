/*
 * One unmodified Debian program under the library: python3's http.server,
 * preloaded with ACCEPT4SHIM_MODE=emulate and a JSON trace, answering real
 * requests on a loopback port the kernel chose. CPython accepts with
 * accept4(fd, ..., SOCK_CLOEXEC), so every connection goes through the
 * library's emulation; the trace must say so, one record per request.
 */
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define PYTHON "/usr/bin/python3"
#define REQUESTS 6
#define PAYLOAD_SIZE 50000

static char dir[64];
static char trace[PATH_MAX];
static unsigned char payload[PAYLOAD_SIZE];
static pid_t server = -1;
static int server_out = -1;
static int port;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_file(const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	T_CHECK(fd >= 0);
	T_CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

/* Starts the server; learns the port from its "Serving HTTP on ... port N"
 * line, so nothing races for a port chosen in advance. */
static void start_server(void)
{
	int out[2];
	T_CHECK(pipe2(out, O_CLOEXEC) == 0);
	char preload[PATH_MAX + 16], log[PATH_MAX + 32];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", t_library_path());
	snprintf(log, sizeof(log), "ACCEPT4SHIM_LOG=%s", trace);
	const char *const env[] = { preload, "ACCEPT4SHIM_MODE=emulate", log,
				    "ACCEPT4SHIM_LOG_FORMAT=json", "PYTHONUNBUFFERED=1",
				    "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", NULL };
	/* Port 0: the kernel picks a free one, the server prints it. */
	const char *const argv[] = { PYTHON, "-m", "http.server", "--bind", "127.0.0.1", "0",
				     NULL };
	fflush(NULL);
	server = fork();
	T_CHECK(server >= 0);
	if (server == 0) {
		dup2(out[1], 1);
		dup2(out[1], 2);
		if (chdir(dir) != 0)
			_exit(126);
		/* python turns SIGINT into KeyboardInterrupt only if it was
		 * not ignored when it started. */
		signal(SIGINT, SIG_DFL);
		/* execve's prototype predates const; it does not write. */
		char *const *a, *const *e;
		const char *const *ca = argv, *const *ce = env;
		memcpy(&a, &ca, sizeof(a));
		memcpy(&e, &ce, sizeof(e));
		execve(PYTHON, a, e);
		_exit(127);
	}
	close(out[1]);
	server_out = out[0];

	char text[4096] = "";
	size_t len = 0;
	long long deadline = now_ms() + 20000;
	while (!strstr(text, ") ...") && now_ms() < deadline) {
		struct pollfd p = { .fd = server_out, .events = POLLIN };
		if (poll(&p, 1, 200) <= 0)
			continue;
		ssize_t n = read(server_out, text + len, sizeof(text) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		text[len] = '\0';
	}
	const char *p = strstr(text, " port ");
	ck_assert_msg(p != NULL, "the server did not start:\n%s", text);
	port = atoi(p + 6);
	ck_assert_msg(port > 0 && port < 65536, "no port in: %s", text);
}

/* SIGINT, as a person at the terminal would; it must exit by itself. */
static int stop_server(void)
{
	if (server < 0)
		return -1;
	kill(server, SIGINT);
	int status = -1;
	long long deadline = now_ms() + 10000;
	pid_t r;
	while ((r = waitpid(server, &status, WNOHANG)) == 0 && now_ms() < deadline)
		usleep(20000);
	if (r == 0) {
		kill(server, SIGKILL);
		waitpid(server, &status, 0);
		status = -1;
	}
	server = -1;
	close(server_out);
	return status;
}

/* GET path over a fresh connection; the whole response in *resp. */
static size_t get(const char *path, char *resp, size_t size)
{
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_CHECK(c >= 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	T_CHECK(connect(c, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	T_CHECK(write(c, req, (size_t)n) == n);
	size_t len = 0;
	long long deadline = now_ms() + 10000;
	for (;;) {
		struct pollfd p = { .fd = c, .events = POLLIN };
		int left = (int)(deadline - now_ms());
		ck_assert_msg(left > 0 && poll(&p, 1, left) == 1, "no response to GET %s", path);
		ssize_t r = read(c, resp + len, size - len);
		T_CHECK(r >= 0);
		if (r == 0)
			break;
		len += (size_t)r;
		ck_assert_msg(len < size, "response too large");
	}
	close(c);
	return len;
}

static const char *body_of(const char *resp, size_t len)
{
	const char *end = memmem(resp, len, "\r\n\r\n", 4);
	ck_assert_msg(end != NULL, "no header end");
	return end + 4;
}

static char *read_trace(void)
{
	static char text[1 << 16];
	int fd = open(trace, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "no trace at %s", trace);
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	text[n] = '\0';
	return text;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/a4s-http-XXXXXX");
	ck_assert(mkdtemp(dir) != NULL);
	snprintf(trace, sizeof(trace), "%s/trace.json", dir);
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (unsigned char)(i * 7 + i / 251);
	write_file("payload.bin", payload, sizeof(payload));
	write_file("hello.txt", "hello, accept4shim\n", 19);
}

static void teardown(void)
{
	stop_server();
	char path[PATH_MAX];
	const char *names[] = { "payload.bin", "hello.txt", "trace.json" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

START_TEST(python_http_server_under_emulation_serves_every_request_and_traces_each_accept)
{
	static char resp[PAYLOAD_SIZE + 4096];
	start_server();

	for (int i = 0; i < REQUESTS; i++) {
		const char *path = i % 2 ? "/hello.txt" : "/payload.bin";
		size_t len = get(path, resp, sizeof(resp));
		ck_assert_msg(len > 12 && memcmp(resp, "HTTP/1.0 200 ", 13) == 0,
			      "GET %s: %.40s", path, resp);
		const char *body = body_of(resp, len);
		size_t blen = len - (size_t)(body - resp);
		if (i % 2) {
			ck_assert_uint_eq(blen, 19);
			ck_assert(memcmp(body, "hello, accept4shim\n", 19) == 0);
		} else {
			ck_assert_uint_eq(blen, sizeof(payload));
			ck_assert_msg(memcmp(body, payload, sizeof(payload)) == 0,
				      "GET %s: the bytes differ", path);
		}
	}

	int status = stop_server();
	ck_assert_msg(status >= 0 && WIFEXITED(status), "the server did not stop on SIGINT");
	ck_assert_int_eq(WEXITSTATUS(status), 0);

	/* One record per request: accept4 asked for SOCK_CLOEXEC, the library
	 * set it (emulated), the peer is a loopback client. */
	char local[64];
	snprintf(local, sizeof(local), "\"local\":\"127.0.0.1:%d\"", port);
	char *text = read_trace();
	int records = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		ck_assert_msg(line[0] == '{' && line[strlen(line) - 1] == '}', "not JSON: %s", line);
		ck_assert_msg(strstr(line, "\"call\":\"accept4\""), "not accept4: %s", line);
		ck_assert_msg(strstr(line, "\"flags\":\"SOCK_CLOEXEC\""), "flags: %s", line);
		ck_assert_msg(strstr(line, "\"how\":\"emulated\""), "not emulated: %s", line);
		ck_assert_msg(strstr(line, "\"errno\":null"), "failed: %s", line);
		ck_assert_msg(strstr(line, local), "local address: %s", line);
		ck_assert_msg(strstr(line, "\"peer\":\"127.0.0.1:"), "peer: %s", line);
		records++;
	}
	ck_assert_int_eq(records, REQUESTS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("server");
	TCase *tc = tcase_create("http.server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, python_http_server_under_emulation_serves_every_request_and_traces_each_accept);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
