"""gunicorn's settings for NKKB (`make serve`; tests/test_abuse.py serves with them too).

gunicorn names itself in a `Server` header on every response and offers no setting to change
that (benoitc/gunicorn#825): the name it sends is read, when its HTTP module is first imported,
from `gunicorn.SERVER`, and this file is read before that import. A neutral name tells a scanner
nothing about the software behind the proxy.
"""

import gc

import gunicorn

gunicorn.SERVER = "nkkb"


def post_worker_init(worker):
    """Each worker reads the list pages' facet indexes and renders each list's first page before
    it takes a request: on a large database the first count of a facet in a process reads all its
    rows (BENCHMARKS.md, "Issue 17, sixth round"), and a process's first page pays for what is
    done once per process ("thirteenth round"); without this a visitor waited for both. A warm-up
    that fails (a database that cannot be read now, a page that fails) leaves the rest to the
    first requests, as before, and is logged: it never stops a worker from serving.

    What the worker holds then (Django, the app, the indexes) it keeps for its life, so it is
    moved out of the garbage collector's reach: each full collection walked it all, holding up
    the request it fell in (BENCHMARKS.md, "Issue 17, eighth round")."""
    from django.db import connections

    from nkkb.core.facets import read_facet_indexes
    from nkkb.core.views import render_list_pages

    try:
        read_facet_indexes(after_each=worker.notify)
        render_list_pages(after_each=worker.notify)
    except Exception:
        worker.log.warning("Worker not warmed up before its first request", exc_info=True)
    finally:
        connections.close_all()
    gc.collect()
    gc.freeze()
