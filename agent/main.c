/* whagent: warehouse edge agent. Everything but main() lives in the whagent_core library. */
#include "cli.h"

int
main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
