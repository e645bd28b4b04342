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
    """Each worker reads the list pages' facet indexes before it takes a request: on a large
    database the first count of a facet in a process reads all its rows (BENCHMARKS.md, "Issue
    17, sixth round"), and without this its first visitor waited for every facet of the page.
    A database that cannot be read now leaves them to the first request, as before.

    What the worker holds then (Django, the app, the indexes) it keeps for its life, so it is
    moved out of the garbage collector's reach: each full collection walked it all, holding up
    the request it fell in (BENCHMARKS.md, "Issue 17, eighth round")."""
    from django.db import DatabaseError, connections

    from nkkb.core.facets import read_facet_indexes

    try:
        read_facet_indexes(after_each=worker.notify)
    except DatabaseError as error:
        worker.log.warning("Facet indexes not read at start: %s", error)
    finally:
        connections.close_all()
    gc.collect()
    gc.freeze()
