import sys

from chassis.certs import main

sys.exit(main())
