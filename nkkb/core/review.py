"""The literature review NKKB is curated from, split into its numbered sections.

Provenance checks need two things from it: the text of a section (to find an NCT number or a
quote there) and the reference numbers that section cites.
"""

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

HEADING = re.compile(r"^ ?(?P<number>\d(?:\.\d)?) (?P<title>[A-Z][^\n]{0,80})$", re.MULTILINE)
CITATION = re.compile(r"\((?P<numbers>\d+(?:\s*[–-]\s*\d+)?(?:\s*,\s*\d+(?:\s*[–-]\s*\d+)?)*)\)")
RANGE_DASH = re.compile(r"\s*[–-]\s*")
WHITESPACE = re.compile(r"\s+")


def normalise_whitespace(text: str) -> str:
    return WHITESPACE.sub(" ", text).strip()


def cited_numbers(text: str) -> set[int]:
    """Reference numbers cited in `text`, with ranges such as (158–161) expanded."""
    numbers = set()
    for citation in CITATION.finditer(text):
        for part in citation["numbers"].split(","):
            first, *last = RANGE_DASH.split(part.strip())
            numbers.update(range(int(first), int(last[0] if last else first) + 1))
    return numbers


@dataclass(frozen=True)
class Review:
    text: str

    @classmethod
    def from_path(cls, path: Path) -> "Review":
        return cls(path.read_text(encoding="utf-8"))

    @cached_property
    def sections(self) -> dict[str, str]:
        """Section number -> its text, subsections included (section "5" holds 5.1 and 5.2)."""
        headings = list(HEADING.finditer(self.text))
        sections = {}
        for index, heading in enumerate(headings):
            number = heading["number"]
            end = len(self.text)
            for later in headings[index + 1 :]:
                if not later["number"].startswith(number + "."):
                    end = later.start()
                    break
            sections[number] = self.text[heading.end() : end]
        return sections

    def section_text(self, number: str) -> str:
        return normalise_whitespace(self.sections[number])

    def citations(self, number: str) -> set[int]:
        return cited_numbers(self.sections[number])
