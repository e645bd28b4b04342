"""The ClinicalTrials.gov API v2 client: `GET /studies` pages, paced and retried.

One client serves the sync (`filter.ids` batches) and discovery (`query.intr` / `query.term`).
Every request waits its turn at the rate limiter (the API asks for about 50 requests a minute
per client); a 429, a 5xx, a timeout, a dropped connection or a body cut short is tried again
after an exponentially growing, jittered wait, or after the server's Retry-After where it gives
one. Every knob is an argument, so that tests run against a local server in milliseconds.
"""

import email.utils
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import tenacity
from django.conf import settings
from pyrate_limiter import Limiter, Rate

# The modules parse_study reads, and only the pieces it reads of the long ones: a study trimmed
# so is a tenth of its full size (no descriptions, eligibility, outcomes or results).
STUDY_FIELDS = (
    "IdentificationModule",
    "StatusModule",
    "DesignModule",
    "SponsorCollaboratorsModule",
    "ConditionsModule",
    "ArmsInterventionsModule",
    "LocationCountry",
    "ReferencePMID",
    "HasResults",
)
MAX_PAGE_SIZE = 1000  # the API's own limit
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class CtgovError(Exception):
    """The API refused a request, or kept failing after every retry."""


class _Retryable(Exception):
    """A failure worth another try; `retry_after` is the wait the server asked for, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Page:
    """One page of `GET /studies`: its studies and the token of the next page (None: last)."""

    studies: list
    next_page_token: str | None


def _retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class CtgovClient:
    """Reads pages of ClinicalTrials.gov API v2 studies.

    `requests_per_minute` spaces requests evenly (never a burst); `max_attempts` bounds the
    tries of one request; waits between tries grow from `backoff_initial` seconds, doubling, up
    to `backoff_max`, plus up to `jitter` seconds at random, unless the server's Retry-After
    (capped at `retry_after_max`) says otherwise. `waits` records each wait, for the curious.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        requests_per_minute: float = 50,
        max_attempts: int = 6,
        backoff_initial: float = 2.0,
        backoff_max: float = 120.0,
        jitter: float = 1.0,
        retry_after_max: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ):
        self.http = httpx.Client(
            base_url=base_url or settings.NKKB_CTGOV_API_URL,
            timeout=httpx.Timeout(timeout),
            headers={"Accept": "application/json", "User-Agent": "NKKB registry sync"},
            transport=transport,
        )
        # pyrate-limiter (well kept, in-process, no server) with a rate of one request per
        # interval is a leaky bucket that spaces requests evenly, as the API's fair use asks; a
        # rate of 50 per minute would let 50 requests out at once.
        interval_ms = max(1, round(60_000 / requests_per_minute))
        self.limiter = Limiter(Rate(1, interval_ms), buffer_ms=min(50, interval_ms))
        self.retry_after_max = retry_after_max
        self.waits: list[float] = []
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=backoff_initial, max=backoff_max, jitter=jitter
        )
        self._retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Retryable),
            sleep=sleep,
            reraise=True,
        )

    def close(self):
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, _Retryable) and error.retry_after is not None:
            wait = min(error.retry_after, self.retry_after_max)
        else:
            wait = self._backoff(retry_state)
        self.waits.append(wait)
        return wait

    def page(self, params: dict[str, str], *, page_token: str | None = None) -> Page:
        """One page of `GET /studies` with `params` (filter.ids, query.intr, pageSize...)."""
        params = {"format": "json", "fields": ",".join(STUDY_FIELDS), **params}
        if page_token:
            params["pageToken"] = page_token
        try:
            return self._retrying(self._get_page, params)
        except _Retryable as error:
            raise CtgovError(f"ClinicalTrials.gov kept failing: {error}") from error

    def pages(self, params: dict[str, str], *, page_token: str | None = None) -> Iterator[Page]:
        """Each page from `page_token` (None: the first) on, following nextPageToken."""
        while True:
            page = self.page(params, page_token=page_token)
            yield page
            if page.next_page_token is None:
                return
            page_token = page.next_page_token

    def _get_page(self, params: dict[str, str]) -> Page:
        self.limiter.try_acquire("ctgov")
        try:
            response = self.http.get("/studies", params=params)
        except httpx.TimeoutException as error:
            raise _Retryable(f"no answer in time ({type(error).__name__})") from error
        except httpx.TransportError as error:
            # A connection refused or dropped, or a body shorter than its Content-Length.
            raise _Retryable(f"the connection failed ({error})") from error
        if response.status_code in RETRIED_STATUSES:
            raise _Retryable(
                f"HTTP {response.status_code}",
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code != 200:
            raise CtgovError(
                f"ClinicalTrials.gov refused the request (HTTP {response.status_code}): "
                f"{response.text[:500]}"
            )
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            # A body cut short in transit, sent without a Content-Length to tell.
            raise _Retryable(f"the answer is not complete JSON ({error})") from error
        if not isinstance(data, dict) or not isinstance(data.get("studies"), list):
            raise CtgovError("ClinicalTrials.gov answered with something other than a page.")
        token = data.get("nextPageToken")
        return Page(studies=data["studies"], next_page_token=token if token else None)
