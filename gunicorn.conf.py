"""gunicorn's settings for NKKB (`make serve`; tests/test_abuse.py serves with them too).

gunicorn names itself in a `Server` header on every response and offers no setting to change
that (benoitc/gunicorn#825): the name it sends is read, when its HTTP module is first imported,
from `gunicorn.SERVER`, and this file is read before that import. A neutral name tells a scanner
nothing about the software behind the proxy.
"""

import gunicorn

gunicorn.SERVER = "nkkb"
