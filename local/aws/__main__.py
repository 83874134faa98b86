"""``python -m local.aws test|sweep``: see local/aws/cli.py."""

import sys

from local.aws.cli import main

sys.exit(main())
