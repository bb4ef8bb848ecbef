"""idp-agent: process-level pieces (settings, the console command, the bundled demo snapshot)."""
