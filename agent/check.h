/* `whagent check` beyond the configuration file itself: what the agent will need when it runs,
 * tested as the user the service runs as. */
#ifndef WHAGENT_CHECK_H
#define WHAGENT_CHECK_H

struct conf;

/* The user the systemd unit runs the agent as (packaging/whagent.service). */
#define CHECK_SERVICE_USER "whagent"

/* Tests c: the files it names exist and are readable and its folders writable by as_user
 * (when run as root; as the current user otherwise, or when as_user does not exist, which is
 * said), placeholders, the broker host resolving, the client certificate, the journal's
 * site. Writes one line per problem to stderr ("whagent check: error: ..." or "...
 * warning: ..."). Returns the number of errors (warnings do not count). */
int check_run(const struct conf *c, const char *as_user);

#endif
