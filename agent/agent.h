/* `whagent run`: the daemon. Loads the configuration, opens the journal, starts the inputs
 * and runs the loop until SIGTERM/SIGINT; SIGHUP re-reads the configuration. */
#ifndef WHAGENT_AGENT_H
#define WHAGENT_AGENT_H

struct agent_opts {
	const char *conf_path;
	int until_idle; /* exit once the spool folder has nothing left to take */
};

/* Returns the process exit status. */
int agent_run(const struct agent_opts *o);

#endif
