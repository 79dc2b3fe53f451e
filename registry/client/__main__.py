import sys

from registry.client.cli import main

sys.exit(main())
