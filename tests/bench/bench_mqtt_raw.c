/* The raw limit for the uplink benchmark: a libmosquitto QoS 1 publisher that sends MESSAGES
 * messages of BYTES bytes each with WINDOW in flight, driven by the same external-loop calls
 * as the agent, and waits for every PUBACK. Prints "messages seconds".
 * usage: bench_mqtt_raw PORT MESSAGES BYTES WINDOW */
#include <mosquitto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long acked, sent, inflight;
static int connected;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
on_connect(struct mosquitto *m, void *obj, int rc)
{
	(void)m;
	(void)obj;
	connected = rc == 0;
}

static void
on_publish(struct mosquitto *m, void *obj, int mid)
{
	(void)m;
	(void)obj;
	(void)mid;
	acked++;
	inflight--;
}

int
main(int argc, char **argv)
{
	struct mosquitto *m;
	long messages, bytes, window;
	char *payload;
	double t0 = 0;
	int port;

	if (argc != 5) {
		fprintf(stderr, "usage: bench_mqtt_raw PORT MESSAGES BYTES WINDOW\n");
		return 2;
	}
	port = (int)strtol(argv[1], NULL, 10);
	messages = strtol(argv[2], NULL, 10);
	bytes = strtol(argv[3], NULL, 10);
	window = strtol(argv[4], NULL, 10);
	payload = calloc(1, (size_t)bytes);
	mosquitto_lib_init();
	m = mosquitto_new("bench-raw", true, NULL);
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, (int)window + 2);
	mosquitto_connect_callback_set(m, on_connect);
	mosquitto_publish_callback_set(m, on_publish);
	if (mosquitto_connect(m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "cannot connect\n");
		return 1;
	}
	while (acked < messages) {
		struct pollfd p = {.fd = mosquitto_socket(m), .events = POLLIN};

		while (connected && sent < messages && inflight < window) {
			if (t0 == 0)
				t0 = now();
			if (mosquitto_publish(m, NULL, "bench/raw", (int)bytes, payload, 1,
					      false) != MOSQ_ERR_SUCCESS)
				return 1;
			sent++;
			inflight++;
		}
		if (mosquitto_want_write(m))
			p.events |= POLLOUT;
		if (poll(&p, 1, 1000) < 0)
			return 1;
		if ((p.revents & POLLIN) && mosquitto_loop_read(m, 64) != MOSQ_ERR_SUCCESS)
			return 1;
		if ((p.revents & POLLOUT) && mosquitto_loop_write(m, 64) != MOSQ_ERR_SUCCESS)
			return 1;
		mosquitto_loop_misc(m);
	}
	printf("%ld %.3f\n", messages, now() - t0);
	mosquitto_disconnect(m);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	free(payload);
	return 0;
}
