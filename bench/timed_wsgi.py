"""NKKB's WSGI application with what each request cost its worker in response headers, which
gunicorn's request log records (bench/write_mix.py): the CPU time of the request's thread and the
time the garbage collector ran in it, both in microseconds. A request whose wall time far exceeds
its CPU waited: for the database, or for a CPU the machine gave to another process."""

import gc
import time

from nkkb.wsgi import application as nkkb_application

CPU_HEADER = "X-Bench-Cpu-Us"
COLLECTION_HEADER = "X-Bench-Gc-Us"

_collection = {"started": 0.0, "total": 0.0}


def _time_collection(phase, info):
    if phase == "start":
        _collection["started"] = time.perf_counter()
    else:
        _collection["total"] += time.perf_counter() - _collection["started"]


gc.callbacks.append(_time_collection)


def application(environ, start_response):
    cpu_before, collection_before = time.thread_time(), _collection["total"]

    def start_timed_response(status, headers, exc_info=None):
        microseconds = {
            CPU_HEADER: time.thread_time() - cpu_before,
            COLLECTION_HEADER: _collection["total"] - collection_before,
        }
        headers = [*headers, *((name, str(round(s * 1e6))) for name, s in microseconds.items())]
        return start_response(status, headers, exc_info)

    return nkkb_application(environ, start_timed_response)
