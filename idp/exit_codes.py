"""Exit codes shared by every ``idp`` subcommand (documented in the README)."""

OK = 0
FAILED_GATE = 1  # e.g. eval pass rate below --min-pass
BAD_INPUT = 2  # invalid arguments or request (typer also uses 2 for usage errors)
CLUSTER_UNREACHABLE = 3  # the cluster source could not be read at all
