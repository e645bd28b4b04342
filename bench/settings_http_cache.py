"""NKKB's settings with HTTP caching on (nkkb.caching), for benchmarking it until it is default."""

from nkkb.settings import *  # noqa: F403
from nkkb.settings import MIDDLEWARE

MIDDLEWARE = [*MIDDLEWARE, "nkkb.caching.ConditionalGetMiddleware"]
