/* The command line: argv → subcommand (run, check, status, quarantine, version). */
#ifndef WHAGENT_CLI_H
#define WHAGENT_CLI_H

/* Runs the subcommand argv names; returns the process exit status. */
int cli_main(int argc, char **argv);

#endif
